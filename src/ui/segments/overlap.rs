//! Overlap tab: a heat map of pairwise overlaps between the saved segments
//! (with the current edits), and each segment's exclusive count when every
//! customer goes to the first segment by priority.

use super::SegMsg;
use super::SegmentsScreen;
use crate::app::jobs::JobKey;
use crate::app::segments::{OverlapReport, overlap};
use crate::ui::ctx::{Msg, ScreenCtx};
use crate::ui::data_screen::format_count;

#[derive(Default)]
pub struct OverlapState {
    pub result: Option<Result<OverlapReport, String>>,
    requested: bool,
}

impl OverlapState {
    pub fn invalidate(&mut self) {
        self.requested = false;
    }
}

fn request(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let (Some(engine), Some(schema)) = (ctx.engine.cloned(), s.schema.clone()) else {
        return;
    };
    let current = s.draft();
    let mut list: Vec<(String, String, crate::engine::Rule)> = Vec::new();
    for r in &s.saved {
        let rule = match current {
            Some(d) if d.id == r.id => Some(d.history.rule.clone()),
            _ => s.rules.get(&r.id).cloned(),
        };
        if let Some(rule) = rule {
            list.push((r.name.clone(), r.color.clone(), rule));
        }
    }
    if let Some(d) = current.filter(|d| d.id == 0) {
        list.push((d.name.clone(), d.color.clone(), d.history.rule.clone()));
    }
    let as_of = s.as_of();
    s.overlap.requested = true;
    ctx.jobs
        .spawn(JobKey::SegmentOverlap, "Comparing segments", move |ctx| {
            Msg::Segments(SegMsg::Overlap(
                overlap(&engine, &schema, &list, as_of, ctx).map_err(|e| e.to_string()),
            ))
        });
}

pub fn overlap_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    if !s.overlap.requested {
        request(s, ctx);
    }
    let Some(result) = &s.overlap.result else {
        ui.spinner();
        return;
    };
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
    };
    let current = s.draft().map(|d| d.name.clone());
    ui.weak("Customers in both the row's and the column's segment.");
    egui::ScrollArea::both().show(ui, |ui| {
        egui::Grid::new("overlap_grid")
            .spacing([2.0, 2.0])
            .show(ui, |ui| {
                ui.label("");
                for (j, _) in r.names.iter().enumerate() {
                    ui.strong(format!("{}", j + 1)).on_hover_text(&r.names[j]);
                }
                ui.end_row();
                for (i, name) in r.names.iter().enumerate() {
                    let text = format!("{}. {name}", i + 1);
                    if current.as_deref() == Some(name.as_str()) {
                        ui.strong(text);
                    } else {
                        ui.label(text);
                    }
                    for j in 0..r.names.len() {
                        let both = r.matrix[i][j];
                        let smaller = r.sizes[i].min(r.sizes[j]).max(1);
                        let heat = both as f32 / smaller as f32;
                        let fill = egui::Color32::from_rgba_unmultiplied(
                            78,
                            121,
                            167,
                            (30.0 + 200.0 * heat) as u8,
                        );
                        let (rect, resp) =
                            ui.allocate_exact_size(egui::vec2(58.0, 22.0), egui::Sense::hover());
                        ui.painter().rect_filled(rect, 2.0, fill);
                        ui.painter().text(
                            rect.center(),
                            egui::Align2::CENTER_CENTER,
                            format_count(both as i64),
                            egui::FontId::proportional(12.0),
                            ui.visuals().strong_text_color(),
                        );
                        resp.on_hover_text(format!(
                            "{} and {}: {} customers ({:.0}% of the smaller)",
                            r.names[i],
                            r.names[j],
                            format_count(both as i64),
                            heat * 100.0
                        ));
                    }
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
        ui.strong("Exclusive assignment by priority");
        ui.weak("Each customer counted once, in the first segment they are in.");
        egui::Grid::new("exclusive_grid")
            .striped(true)
            .show(ui, |ui| {
                ui.strong("Segment");
                ui.strong("Members");
                ui.strong("Exclusive");
                ui.end_row();
                for (i, name) in r.names.iter().enumerate() {
                    ui.label(format!("{}. {name}", i + 1));
                    ui.label(format_count(r.sizes[i] as i64));
                    ui.label(format_count(r.exclusive[i] as i64));
                    ui.end_row();
                }
            });
    });
}
