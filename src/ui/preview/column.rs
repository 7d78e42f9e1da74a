//! One column of the Preview screen: the segment and its count, the member
//! picker, the inbox row, the email (rendered, plain text, HTML source,
//! data) and the QA lint for the member and the segment.

use super::{Column, Mode, Tab};
use crate::app::preview::Preview;
use crate::email::export::Format;
use crate::email::{Finding, Severity};
use crate::ui::ctx::ScreenCtx;
use crate::ui::data_screen::format_count;

/// What the user asked of a column this frame.
pub enum Action {
    None,
    Remove,
    Segment(Option<i64>),
    OpenInBrowser,
    Export(Format),
    ExportSegment,
}

pub fn column_ui(
    ui: &mut egui::Ui,
    c: &mut Column,
    index: usize,
    p: &Preview,
    mode: Mode,
    removable: bool,
    ctx: &mut ScreenCtx<'_>,
) -> Action {
    let mut action = Action::None;
    let _ = ctx;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        header_ui(ui, c, index, p, mode, removable, &mut action);
        picker_ui(ui, c, p);
        ui.separator();
        match &c.shown {
            Some(shown) => inbox_ui(ui, &shown.view),
            None if c.members.is_empty() => {
                ui.weak("No members as of the evaluation time: nothing to show.");
            }
            None if c.error.is_none() => {
                ui.horizontal_wrapped(|ui| {
                    ui.spinner();
                    ui.label("Rendering…");
                });
            }
            None => {}
        }
        if let Some(e) = &c.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.horizontal_wrapped(|ui| {
            for tab in Tab::ALL {
                ui.selectable_value(&mut c.tab, tab, tab.label());
            }
        });
        ui.horizontal_wrapped(|ui| {
            let ready = c.shown.is_some();
            if ui
                .add_enabled(ready, egui::Button::new("Open in browser"))
                .on_hover_text("Open the rendered HTML in your browser")
                .clicked()
            {
                action = Action::OpenInBrowser;
            }
            ui.add_enabled_ui(ready, |ui| {
                ui.menu_button("Export", |ui| {
                    if ui.button("This email as HTML…").clicked() {
                        action = Action::Export(Format::Html);
                    }
                    if ui.button("This email as .eml…").clicked() {
                        action = Action::Export(Format::Eml);
                    }
                    if ui.button("This email as plain text…").clicked() {
                        action = Action::Export(Format::Text);
                    }
                    if ui.button("Every member's email (.eml folder)…").clicked() {
                        action = Action::ExportSegment;
                    }
                });
            });
        });
        let lint_height = 190.0;
        let body_height = (ui.available_height() - lint_height).max(200.0);
        ui.allocate_ui(egui::vec2(ui.available_width(), body_height), |ui| {
            body_ui(ui, c);
        });
        lint_ui(ui, c);
    });
    action
}

fn header_ui(
    ui: &mut egui::Ui,
    c: &mut Column,
    index: usize,
    p: &Preview,
    mode: Mode,
    removable: bool,
    action: &mut Action,
) {
    ui.horizontal_wrapped(|ui| {
        let name = |id: Option<i64>| {
            id.and_then(|id| p.mail.segments.iter().find(|s| s.id == id))
                .map_or_else(|| "All customers".to_string(), |s| s.name.clone())
        };
        let mapped: Vec<i64> = p.mail.routes().iter().map(|r| r.segment_id).collect();
        let label = ui.weak("Segment");
        egui::ComboBox::from_id_salt(("segment", index))
            .selected_text(name(c.segment))
            .width(170.0)
            .show_ui(ui, |ui| {
                if mode != Mode::Mapped
                    && ui
                        .selectable_label(c.segment.is_none(), "All customers")
                        .clicked()
                {
                    *action = Action::Segment(None);
                }
                for s in &p.mail.segments {
                    let usable = mode != Mode::Mapped || mapped.contains(&s.id);
                    let label = if usable {
                        s.name.clone()
                    } else {
                        format!("{} (no mapped template)", s.name)
                    };
                    if ui
                        .add_enabled(
                            usable,
                            egui::Button::selectable(c.segment == Some(s.id), label),
                        )
                        .clicked()
                    {
                        *action = Action::Segment(Some(s.id));
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("The segment whose email this column shows");
        ui.label(
            egui::RichText::new(crate::app::privacy::reachable_text(
                c.reachable_members,
                c.all_members,
            ))
            .strong(),
        )
        .on_hover_text(
            "Members of the segment who can be emailed (consent, an address, not unsubscribed, not hard-bounced), as of the evaluation time",
        );
        if mode == Mode::Mapped {
            let variants = p.variants(c.segment);
            if variants.len() > 1 {
                let shown = c
                    .variant
                    .clone()
                    .map_or_else(|| "Assigned variant".into(), |v| format!("Variant {v}"));
                let label = ui.weak("Variant");
                egui::ComboBox::from_id_salt(("variant", index))
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut c.variant, None, "Assigned variant")
                            .on_hover_text(
                                "The variant each member is assigned (stable per customer)",
                            );
                        for v in variants {
                            ui.selectable_value(
                                &mut c.variant,
                                Some(v.clone()),
                                format!("Variant {v}"),
                            );
                        }
                    })
                    .response
                    .labelled_by(label.id);
            }
        }
        if removable
            && ui
                .small_button("×")
                .on_hover_text("Remove this column")
                .clicked()
        {
            *action = Action::Remove;
        }
        if c.running {
            ui.spinner();
        }
    });
}

fn picker_ui(ui: &mut egui::Ui, c: &mut Column, p: &Preview) {
    let n = c.members.len();
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(c.position > 0, egui::Button::new("⏴ Previous"))
            .clicked()
        {
            c.position -= 1;
        }
        if ui
            .add_enabled(c.position + 1 < n, egui::Button::new("Next ⏵"))
            .clicked()
        {
            c.position += 1;
        }
        if ui
            .add_enabled(n > 1, egui::Button::new("Random"))
            .on_hover_text("A member drawn at random")
            .clicked()
        {
            c.draws += 1;
            if let Some(row) = Preview::random_member(&c.members, c.draws) {
                c.show_row(row);
            }
        }
        ui.menu_button("Jump to", |ui| {
            if c.edges.is_empty() {
                ui.weak("Checking the segment…");
            }
            for e in c.edges.clone() {
                if ui.button(&e.label).clicked() {
                    c.show_row(e.row);
                    ui.close();
                }
            }
        })
        .response
        .on_hover_text("A member for each edge case: fallbacks, empty lists, each {{#if}} branch");
        if n > 0 {
            let id = c
                .row()
                .and_then(|r| p.mail.engine.data.ids.get(r))
                .copied()
                .unwrap_or_default();
            ui.weak(format!(
                "member {} of {} · id {id}",
                format_count(c.position as i64 + 1),
                format_count(n as i64)
            ));
        } else {
            ui.weak("no members");
        }
    });
    ui.horizontal_wrapped(|ui| {
        let response = ui.add(
            egui::TextEdit::singleline(&mut c.search)
                .hint_text("Find a member by id or email")
                .desired_width(180.0),
        );
        let response = response.labelled_by(ui.label("Find member").id);
        if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            match p.find_member(&c.members, &c.search) {
                Ok(row) => {
                    c.show_row(row);
                    c.search_error = None;
                }
                Err(e) => c.search_error = Some(e),
            }
        }
        if let Some(e) = &c.search_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
    });
}

fn inbox_ui(ui: &mut egui::Ui, v: &crate::app::preview::ColumnView) {
    let r = &v.rendered;
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(&r.from_name).strong());
        ui.weak(format!("<{}>", r.from_address));
    });
    ui.label(egui::RichText::new(&r.subject).strong().size(15.0));
    if !r.preheader.is_empty() {
        ui.weak(&r.preheader);
    }
    ui.horizontal_wrapped(|ui| {
        ui.weak(&v.template);
        if let Some(variant) = &v.variant {
            ui.weak(format!("· variant {variant}"));
        }
        if let Some(other) = &v.receives_instead {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("· in the mapped send, this member gets {other}'s email (higher priority)"),
            );
        }
    });
}

fn body_ui(ui: &mut egui::Ui, c: &mut Column) {
    let Some(shown) = &mut c.shown else {
        return;
    };
    let stale = c.running;
    match c.tab {
        Tab::Rendered => {
            match &shown.view.painted {
                Ok(painted) => {
                    if c.textures.is_empty() && !shown.tiles.is_empty() {
                        // Uploads the tiles made on the worker (the image
                        // itself was never touched on this thread).
                        // Handed over, not copied: the tiles are needed once.
                        c.textures = std::mem::take(&mut shown.tiles)
                            .into_iter()
                            .enumerate()
                            .map(|(k, tile)| {
                                ui.ctx().load_texture(
                                    format!("preview-{}-{k}", shown.view.customer_id),
                                    tile,
                                    egui::TextureOptions::LINEAR,
                                )
                            })
                            .collect();
                        if let Some(t) = c.requested_at.take() {
                            c.last_latency = Some(t.elapsed());
                        }
                    }
                    let notes: Vec<String> = painted
                        .cut
                        .iter()
                        .cloned()
                        .chain((!painted.blocked.is_empty()).then(|| {
                            format!(
                                "{} remote {} not loaded (shown as boxes with their alt text)",
                                painted.blocked.len(),
                                if painted.blocked.len() == 1 {
                                    "image"
                                } else {
                                    "images"
                                }
                            )
                        }))
                        .collect();
                    for n in notes {
                        ui.weak(n);
                    }
                    let css_w = painted.css_width as f32;
                    let shown_w = ui.available_width().min(css_w);
                    let k = shown_w / painted.image.width as f32;
                    egui::ScrollArea::vertical()
                        .id_salt("email_image")
                        .auto_shrink([false, false])
                        .show(ui, |ui| {
                            ui.spacing_mut().item_spacing.y = 0.0;
                            for (tex, rows) in c.textures.iter().zip(&shown.tile_rows) {
                                let size = egui::vec2(shown_w, *rows as f32 * k);
                                let mut image = egui::Image::new((tex.id(), size));
                                if stale {
                                    image = image.tint(egui::Color32::from_white_alpha(160));
                                }
                                ui.add(image);
                            }
                        });
                }
                Err(e) => {
                    ui.colored_label(
                        ui.visuals().error_fg_color,
                        format!("Could not paint this email: {e}"),
                    );
                }
            }
        }
        Tab::Text => text_ui(
            ui,
            "text",
            shown.view.rendered.text.as_deref().unwrap_or(""),
        ),
        Tab::Source => text_ui(ui, "source", &shown.view.rendered.html),
        Tab::Data => text_ui(ui, "data", &shown.view.context),
    }
}

fn text_ui(ui: &mut egui::Ui, id: &str, text: &str) {
    egui::ScrollArea::both()
        .id_salt(id)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.add(
                egui::Label::new(egui::RichText::new(text).monospace())
                    .wrap_mode(egui::TextWrapMode::Extend)
                    .selectable(true),
            );
        });
}

fn finding_ui(ui: &mut egui::Ui, template: &str, f: &Finding) {
    let color = match f.severity {
        Severity::Error => ui.visuals().error_fg_color,
        Severity::Warning => ui.visuals().warn_fg_color,
        Severity::Info => ui.visuals().weak_text_color(),
    };
    ui.horizontal_wrapped(|ui| {
        ui.colored_label(color, f.severity.to_string());
        ui.label(
            f.display(template)
                .split_once(": ")
                .map_or("", |x| x.0)
                .to_string(),
        );
        ui.label(&f.message);
    });
}

fn lint_ui(ui: &mut egui::Ui, c: &Column) {
    egui::ScrollArea::vertical()
        .id_salt("lint")
        .max_height(180.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            if let Some(shown) = &c.shown {
                let findings = &shown.view.findings;
                egui::CollapsingHeader::new(format!("QA for this member ({})", findings.len()))
                    .id_salt("lint_member")
                    .default_open(findings.iter().any(|f| f.severity != Severity::Info))
                    .show(ui, |ui| {
                        if findings.is_empty() {
                            ui.weak("Nothing to report.");
                        }
                        for f in findings {
                            finding_ui(ui, &shown.view.template, f);
                        }
                    });
            }
            match &c.lint {
                Some((key, report)) if c.lint_requested.as_ref() == Some(key) => {
                    egui::CollapsingHeader::new(format!(
                        "QA for the segment ({}, {} members)",
                        report.findings.len(),
                        format_count(report.members as i64)
                    ))
                    .id_salt("lint_segment")
                    .default_open(true)
                    .show(ui, |ui| {
                        if report.findings.is_empty() {
                            ui.weak("Nothing to report.");
                        }
                        let mut findings: Vec<&Finding> = report.findings.iter().collect();
                        findings.sort_by_key(|f| f.severity);
                        for f in findings {
                            finding_ui(ui, &report.template, f);
                        }
                    });
                }
                _ => {
                    ui.horizontal_wrapped(|ui| {
                        ui.spinner();
                        ui.weak(format!(
                            "Checking the template over {} members…",
                            format_count(c.members.len() as i64)
                        ));
                    });
                }
            }
        });
}
