//! The segment list: colour, name, live count badge, unsaved marker, search;
//! new, duplicate, rename, delete (confirmed), priority up / down.

use super::{PALETTE, SegMsg};
use crate::model::SegmentRecord;
use crate::store::Store;
use crate::ui::app::{Msg, PrismApp};
use crate::ui::data_screen::format_count;

/// `#rrggbb` as a colour (grey if malformed).
pub fn parse_color(hex: &str) -> egui::Color32 {
    let h = hex.trim_start_matches('#');
    let byte = |i: usize| h.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok());
    match (byte(0), byte(2), byte(4)) {
        (Some(r), Some(g), Some(b)) if h.len() == 6 => egui::Color32::from_rgb(r, g, b),
        _ => egui::Color32::GRAY,
    }
}

fn color_hex(c: egui::Color32) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b())
}

/// Runs a change to the saved list on a worker and reloads it.
fn list_job(
    app: &mut PrismApp,
    label: &str,
    select: Option<i64>,
    change: impl FnOnce(&mut Store) -> Result<Option<i64>, String> + Send + 'static,
) {
    let Some(ws) = app.workspace.as_ref().map(|w| w.path.clone()) else {
        return;
    };
    app.jobs.spawn("segment-list", label.to_string(), move |_| {
        let result = Store::open(&ws)
            .map_err(|e| e.to_string())
            .and_then(|mut store| {
                let picked = change(&mut store)?;
                let list = store.segments().map_err(|e| e.to_string())?;
                Ok((list, picked))
            });
        match result {
            Ok((list, picked)) => Msg::Segments(SegMsg::ListChanged {
                result: Ok(list),
                select: picked.or(select),
            }),
            Err(e) => Msg::Segments(SegMsg::ListChanged {
                result: Err(e),
                select: None,
            }),
        }
    });
}

pub fn segment_list_ui(ui: &mut egui::Ui, app: &mut PrismApp) {
    ui.horizontal(|ui| {
        ui.heading("Segments");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("New")
                .on_hover_text(super::super::commands::UiCommand::NewSegment.tooltip(ui.ctx()))
                .clicked()
            {
                app.segments.new_segment();
            }
        });
    });
    ui.add(
        egui::TextEdit::singleline(&mut app.segments.search)
            .hint_text("Search segments")
            .desired_width(f32::INFINITY),
    )
    .accessible_name("Search segments");
    ui.add_space(4.0);

    let search = app.segments.search.to_lowercase();
    let current = app.segments.current;
    // Unsaved new segments first, then saved ones in priority order.
    let mut rows: Vec<(i64, String, String, bool, Option<usize>)> = Vec::new();
    for d in app.segments.drafts.values().filter(|d| d.id == 0) {
        rows.push((d.key, d.name.clone(), d.color.clone(), true, None));
    }
    for r in &app.segments.saved {
        let draft = app.segments.drafts.get(&r.id);
        let dirty = draft.is_some_and(|d| d.is_dirty());
        let count = match (current == Some(r.id), &app.segments.eval.result) {
            (true, Some((k, e))) if *k == r.id => Some(e.evaluation.count()),
            _ => app
                .segments
                .counts
                .get(&r.id)
                .and_then(|c| c.as_ref().ok().copied()),
        };
        rows.push((r.id, r.name.clone(), r.color.clone(), dirty, count));
    }
    let saved_ids: Vec<i64> = app.segments.saved.iter().map(|r| r.id).collect();
    let mut open = None;
    let mut action: Option<(i64, &'static str)> = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (key, name, color, dirty, count) in rows {
                if !search.is_empty() && !name.to_lowercase().contains(&search) {
                    continue;
                }
                let selected = current == Some(key);
                ui.push_id(("segment_row", key), |ui| {
                    ui.horizontal(|ui| {
                        let (rect, _) =
                            ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                        ui.painter()
                            .circle_filled(rect.center(), 5.0, parse_color(&color));
                        if let Some((k, text)) = &mut app.segments.renaming
                            && *k == key
                        {
                            let r = ui
                                .add(
                                    egui::TextEdit::singleline(text)
                                        .hint_text("Segment name")
                                        .desired_width(140.0),
                                )
                                .accessible_name("Segment name");
                            r.request_focus();
                            if r.lost_focus() {
                                action = Some((key, "rename"));
                            }
                            return;
                        }
                        let label = if dirty {
                            format!("{name} •")
                        } else {
                            name.clone()
                        };
                        let r = ui.selectable_label(selected, label);
                        if r.clicked() {
                            open = Some(key);
                        }
                        if r.double_clicked() && key > 0 {
                            action = Some((key, "start-rename"));
                        }
                        r.context_menu(|ui| {
                            for (what, label) in [
                                ("start-rename", "Rename"),
                                ("duplicate", "Duplicate"),
                                ("up", "Move up (higher priority)"),
                                ("down", "Move down"),
                                ("delete", "Delete…"),
                            ] {
                                if ui.button(label).clicked() {
                                    action = Some((key, what));
                                    ui.close();
                                }
                            }
                        });
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            let badge = match count {
                                Some(c) => format_count(c as i64),
                                None => "…".into(),
                            };
                            ui.label(egui::RichText::new(badge).small().strong());
                        });
                    });
                });
            }
        });
    if let Some(k) = open {
        app.segments.open(k);
    }

    // Actions on the selected segment, as buttons too.
    if let Some(key) = app.segments.current {
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            let saved = key > 0;
            if ui.add_enabled(saved, egui::Button::new("Rename")).clicked() {
                action = Some((key, "start-rename"));
            }
            if ui
                .add_enabled(saved, egui::Button::new("Duplicate"))
                .clicked()
            {
                action = Some((key, "duplicate"));
            }
            let pos = saved_ids.iter().position(|i| *i == key);
            if ui
                .add_enabled(pos.is_some_and(|p| p > 0), egui::Button::new("Up"))
                .on_hover_text("Higher priority")
                .clicked()
            {
                action = Some((key, "up"));
            }
            if ui
                .add_enabled(
                    pos.is_some_and(|p| p + 1 < saved_ids.len()),
                    egui::Button::new("Down"),
                )
                .on_hover_text("Lower priority")
                .clicked()
            {
                action = Some((key, "down"));
            }
            if ui.button("Delete").clicked() {
                action = Some((key, "delete"));
            }
        });
        if let Some(d) = app.segments.draft_mut() {
            let before = d.color.clone();
            let mut c = parse_color(&d.color);
            ui.horizontal(|ui| {
                ui.label("Colour");
                for p in PALETTE {
                    let pc = parse_color(p);
                    let (rect, r) =
                        ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::click());
                    ui.painter().circle_filled(rect.center(), 6.0, pc);
                    if pc == c {
                        ui.painter().circle_stroke(
                            rect.center(),
                            7.0,
                            egui::Stroke::new(1.5, ui.visuals().strong_text_color()),
                        );
                    }
                    if r.on_hover_text(p).clicked() {
                        c = pc;
                    }
                }
            });
            d.color = color_hex(c);
            if d.color != before && d.id > 0 {
                let rec = SegmentRecord {
                    color: d.color.clone(),
                    ..app
                        .segments
                        .saved
                        .iter()
                        .find(|s| s.id == key)
                        .cloned()
                        .unwrap_or_default()
                };
                list_job(app, "Saving colour", Some(key), move |store| {
                    store.save_segment(&rec).map_err(|e| e.to_string())?;
                    Ok(None)
                });
            }
        }
    }

    if let Some((key, what)) = action {
        run_action(app, key, what, &saved_ids);
    }
}

/// The segment's name as the user last typed it (its draft), else as saved.
fn segment_name(app: &PrismApp, key: i64) -> String {
    app.segments
        .drafts
        .get(&key)
        .map(|d| d.name.clone())
        .or_else(|| {
            app.segments
                .saved
                .iter()
                .find(|s| s.id == key)
                .map(|s| s.name.clone())
        })
        .unwrap_or_default()
}

fn run_action(app: &mut PrismApp, key: i64, what: &str, saved_ids: &[i64]) {
    match what {
        "start-rename" => {
            let name = segment_name(app, key);
            app.segments.renaming = Some((key, name));
        }
        "rename" => {
            let Some((_, name)) = app.segments.renaming.take() else {
                return;
            };
            let name = name.trim().to_string();
            if name.is_empty() {
                return;
            }
            if key < 0 {
                if let Some(d) = app.segments.drafts.get_mut(&key) {
                    d.name = name;
                }
                return;
            }
            let Some(rec) = app.segments.saved.iter().find(|s| s.id == key).cloned() else {
                return;
            };
            if rec.name == name {
                return;
            }
            let old = rec.name.clone();
            list_job(app, "Renaming segment", Some(key), move |store| {
                store
                    .save_segment(&SegmentRecord {
                        name: name.clone(),
                        ..rec
                    })
                    .map_err(|e| e.to_string())?;
                // Rules that refer to the old name follow the rename.
                for s in store.segments().map_err(|e| e.to_string())? {
                    if s.rule.contains(&format!("\"segment\":\"{old}\""))
                        && let Ok(mut r) = crate::engine::parse_rule(&s.rule)
                    {
                        rename_refs(&mut r.root, &old, &name);
                        store
                            .save_segment(&SegmentRecord {
                                rule: r.to_json(),
                                ..s
                            })
                            .map_err(|e| e.to_string())?;
                    }
                }
                Ok(None)
            });
        }
        "duplicate" => {
            let Some(d) = app.segments.drafts.get(&key) else {
                return;
            };
            let mut copy = d.record();
            copy.id = 0;
            let mut name = format!("{} (copy)", d.name);
            let mut n = 2;
            while app.segments.saved.iter().any(|s| s.name == name) {
                name = format!("{} (copy {n})", d.name);
                n += 1;
            }
            copy.name = name;
            list_job(app, "Duplicating segment", None, move |store| {
                let id = store.save_segment(&copy).map_err(|e| e.to_string())?;
                store
                    .add_segment_version(id, &copy.rule, None, None, "duplicated")
                    .map_err(|e| e.to_string())?;
                Ok(Some(id))
            });
        }
        "up" | "down" => {
            let Some(pos) = saved_ids.iter().position(|i| *i == key) else {
                return;
            };
            let to = if what == "up" {
                pos.checked_sub(1)
            } else {
                Some(pos + 1)
            };
            let Some(to) = to.filter(|t| *t < saved_ids.len()) else {
                return;
            };
            let mut ids = saved_ids.to_vec();
            ids.swap(pos, to);
            list_job(app, "Reordering segments", Some(key), move |store| {
                store.reorder_segments(&ids).map_err(|e| e.to_string())?;
                Ok(None)
            });
        }
        "delete" => app.segments.confirm_delete = Some(key),
        _ => {}
    }
}

fn rename_refs(n: &mut crate::engine::rule::Node, old: &str, new: &str) {
    use crate::engine::rule::Node;
    match n {
        Node::Segment(s) if s.segment == old => s.segment = new.to_string(),
        Node::Group(g) => g.children.iter_mut().for_each(|c| rename_refs(c, old, new)),
        _ => {}
    }
}

/// "Delete segment X?" with Cancel and Delete.
pub fn delete_confirmation_ui(ctx: &egui::Context, app: &mut PrismApp) {
    let Some(key) = app.segments.confirm_delete else {
        return;
    };
    let name = segment_name(app, key);
    let users: Vec<String> = app
        .segments
        .saved
        .iter()
        .filter(|s| s.id != key && s.rule.contains(&format!("\"segment\":\"{name}\"")))
        .map(|s| s.name.clone())
        .collect();
    let mut decision = None;
    egui::Modal::new(egui::Id::unique("delete_segment")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading(format!("Delete segment {name:?}?"));
        ui.label("Its saved versions are deleted too. This cannot be undone.");
        if !users.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{} refer to it and will stop counting.", users.join(", ")),
            );
        }
        ui.horizontal(|ui| {
            if ui.button("Cancel").clicked() {
                decision = Some(false);
            }
            if ui.button("Delete segment").clicked() {
                decision = Some(true);
            }
        });
    });
    match decision {
        Some(true) => {
            app.segments.confirm_delete = None;
            if key < 0 {
                app.segments.drafts.remove(&key);
                app.segments.current = None;
                if let Some(first) = app.segments.saved.first().map(|s| s.id) {
                    app.segments.open(first);
                }
            } else {
                app.segments.drafts.remove(&key);
                list_job(app, "Deleting segment", None, move |store| {
                    store.delete_segment(key).map_err(|e| e.to_string())?;
                    Ok(None)
                });
            }
        }
        Some(false) => app.segments.confirm_delete = None,
        None => {}
    }
}
