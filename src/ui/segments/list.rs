//! The segment list: colour, name, live count badge, unsaved marker, search;
//! new, duplicate, rename, delete (confirmed), priority up / down. Every
//! change is an operation of `app::segments::ops`, run as a job.

use super::{SegMsg, SegmentsScreen};
use crate::app::AppError;
use crate::app::jobs::JobKey;
use crate::app::segments::Counted;
use crate::app::segments::ops::{self, Move, PALETTE};
use crate::store::Store;
use crate::ui::ctx::{Msg, ScreenCtx};
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

/// What the user asked of a segment in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListAction {
    StartRename,
    /// The name field lost focus: apply the typed name.
    Rename,
    Duplicate,
    Move(Move),
    Delete,
}

/// Runs a segment operation on a worker and reloads the list; `select`
/// is the segment to show afterwards (the operation may name another).
fn list_job(
    ctx: &mut ScreenCtx<'_>,
    label: &str,
    select: Option<i64>,
    change: impl FnOnce(&mut Store) -> Result<Option<i64>, AppError> + Send + 'static,
) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    ctx.jobs
        .spawn(JobKey::SegmentList, label.to_string(), move |_| {
            let result = Store::open(&ws)
                .map_err(AppError::from)
                .and_then(|mut store| {
                    let picked = change(&mut store)?;
                    Ok((store.segments()?, picked))
                });
            Msg::Segments(match result {
                Ok((list, picked)) => SegMsg::ListChanged {
                    result: Ok(list),
                    select: picked.or(select),
                },
                Err(e) => SegMsg::ListChanged {
                    result: Err(e.to_string()),
                    select: None,
                },
            })
        });
}

pub fn segment_list_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    ui.horizontal(|ui| {
        ui.heading("Segments");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("New")
                .on_hover_text(super::super::commands::UiCommand::NewSegment.tooltip(ui.ctx()))
                .clicked()
            {
                s.new_segment();
            }
        });
    });
    ui.add(
        egui::TextEdit::singleline(&mut s.search)
            .hint_text("Search segments")
            .desired_width(f32::INFINITY),
    )
    .accessible_name("Search segments");
    ui.add_space(4.0);

    let search = s.search.to_lowercase();
    let current = s.current;
    // Unsaved new segments first, then saved ones in priority order.
    let mut rows: Vec<(i64, String, String, bool, Option<Counted>)> = Vec::new();
    for d in s.drafts.values().filter(|d| d.id == 0) {
        rows.push((d.key, d.name.clone(), d.color.clone(), true, None));
    }
    for r in &s.saved {
        let draft = s.drafts.get(&r.id);
        let dirty = draft.is_some_and(|d| d.is_dirty());
        let count = match (current == Some(r.id), &s.eval.result) {
            (true, Some((k, e))) if *k == r.id => Some(Counted::from(&e.evaluation)),
            _ => s.counts.get(&r.id).and_then(|c| c.as_ref().ok().copied()),
        };
        rows.push((r.id, r.name.clone(), r.color.clone(), dirty, count));
    }
    let saved_ids: Vec<i64> = s.saved.iter().map(|r| r.id).collect();
    let mut open = None;
    let mut action: Option<(i64, ListAction)> = None;
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
                        if let Some((k, text)) = &mut s.renaming
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
                                action = Some((key, ListAction::Rename));
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
                            action = Some((key, ListAction::StartRename));
                        }
                        r.context_menu(|ui| {
                            for (what, label) in [
                                (ListAction::StartRename, "Rename"),
                                (ListAction::Duplicate, "Duplicate"),
                                (ListAction::Move(Move::Up), "Move up (higher priority)"),
                                (ListAction::Move(Move::Down), "Move down"),
                                (ListAction::Delete, "Delete…"),
                            ] {
                                if ui.button(label).clicked() {
                                    action = Some((key, what));
                                    ui.close();
                                }
                            }
                        });
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            match count {
                                Some(c) => {
                                    ui.label(
                                        egui::RichText::new(format!(
                                            "{}  ✉ {}",
                                            format_count(c.count as i64),
                                            format_count(c.reachable as i64)
                                        ))
                                        .small()
                                        .strong(),
                                    )
                                    .on_hover_text(format!(
                                        "{} members; {}",
                                        format_count(c.count as i64),
                                        crate::app::privacy::reachable_text(c.reachable, c.count)
                                    ));
                                }
                                None => {
                                    ui.label(egui::RichText::new("…").small().strong());
                                }
                            }
                        });
                    });
                });
            }
        });
    if let Some(k) = open {
        s.open(k);
    }

    // Actions on the selected segment, as buttons too.
    if let Some(key) = s.current {
        ui.separator();
        if let Some(what) = selected_actions_ui(ui, key, &saved_ids) {
            action = Some((key, what));
        }
        colour_ui(ui, s, ctx, key);
    }

    if let Some((key, what)) = action {
        run_action(s, ctx, key, what);
    }
}

/// The segment's name as the user last typed it (its draft), else as saved.
fn segment_name(s: &SegmentsScreen, key: i64) -> String {
    s.drafts
        .get(&key)
        .map(|d| d.name.clone())
        .or_else(|| s.saved.iter().find(|r| r.id == key).map(|r| r.name.clone()))
        .unwrap_or_default()
}

fn run_action(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>, key: i64, what: ListAction) {
    match what {
        ListAction::StartRename => {
            let name = segment_name(s, key);
            s.renaming = Some((key, name));
        }
        ListAction::Rename => {
            let Some((_, name)) = s.renaming.take() else {
                return;
            };
            let name = name.trim().to_string();
            if name.is_empty() {
                return;
            }
            if key < 0 {
                if let Some(d) = s.drafts.get_mut(&key) {
                    d.name = name;
                }
                return;
            }
            if s.saved.iter().any(|r| r.id == key && r.name == name) {
                return;
            }
            list_job(ctx, "Renaming segment", Some(key), move |store| {
                ops::rename(store, key, &name)?;
                Ok(None)
            });
        }
        ListAction::Duplicate => {
            let Some(d) = s.drafts.get(&key) else {
                return;
            };
            let source = d.record();
            list_job(ctx, "Duplicating segment", None, move |store| {
                Ok(Some(ops::duplicate(store, &source)?.id))
            });
        }
        ListAction::Move(to) => {
            list_job(ctx, "Reordering segments", Some(key), move |store| {
                ops::move_segment(store, key, to)?;
                Ok(None)
            });
        }
        ListAction::Delete => s.confirm_delete = Some(key),
    }
}

/// "Delete segment X?" with Cancel and Delete.
pub fn delete_confirmation_ui(
    egui_ctx: &egui::Context,
    s: &mut SegmentsScreen,
    ctx: &mut ScreenCtx<'_>,
) {
    let Some(key) = s.confirm_delete else {
        return;
    };
    let name = segment_name(s, key);
    let users = s.referrers(&name);
    let mut decision = None;
    egui::Modal::new(egui::Id::unique("delete_segment")).show(egui_ctx, |ui| {
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
            s.confirm_delete = None;
            if key < 0 {
                s.drafts.remove(&key);
                s.current = None;
                if let Some(first) = s.saved.first().map(|s| s.id) {
                    s.open(first);
                }
            } else {
                s.drafts.remove(&key);
                // The dialog named the segments that refer to it.
                list_job(ctx, "Deleting segment", None, move |store| {
                    ops::delete(store, key, true)?;
                    Ok(None)
                });
            }
        }
        Some(false) => s.confirm_delete = None,
        None => {}
    }
}

/// Buttons for the selected segment: rename, duplicate, up, down, delete.
fn selected_actions_ui(ui: &mut egui::Ui, key: i64, saved_ids: &[i64]) -> Option<ListAction> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        let saved = key > 0;
        if ui.add_enabled(saved, egui::Button::new("Rename")).clicked() {
            action = Some(ListAction::StartRename);
        }
        if ui
            .add_enabled(saved, egui::Button::new("Duplicate"))
            .clicked()
        {
            action = Some(ListAction::Duplicate);
        }
        let pos = saved_ids.iter().position(|i| *i == key);
        if ui
            .add_enabled(pos.is_some_and(|p| p > 0), egui::Button::new("Up"))
            .on_hover_text("Higher priority")
            .clicked()
        {
            action = Some(ListAction::Move(Move::Up));
        }
        if ui
            .add_enabled(
                pos.is_some_and(|p| p + 1 < saved_ids.len()),
                egui::Button::new("Down"),
            )
            .on_hover_text("Lower priority")
            .clicked()
        {
            action = Some(ListAction::Move(Move::Down));
        }
        if ui.button("Delete").clicked() {
            action = Some(ListAction::Delete);
        }
    });
    action
}

/// The palette for the selected segment's colour; a saved one is saved at once.
fn colour_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>, key: i64) {
    let Some(d) = s.draft_mut() else {
        return;
    };
    let before = d.color.clone();
    let mut c = parse_color(&d.color);
    ui.horizontal(|ui| {
        ui.label("Colour");
        for p in PALETTE {
            let pc = parse_color(p);
            let (rect, r) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::click());
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
        let color = d.color.clone();
        list_job(ctx, "Saving colour", Some(key), move |store| {
            ops::set_color(store, key, &color)?;
            Ok(None)
        });
    }
}
