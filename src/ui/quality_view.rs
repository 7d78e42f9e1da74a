//! The data-quality view in the Data screen: sources with their last import
//! and newest event (stale ones flagged, threshold adjustable), missing
//! values per field, invalid and duplicate emails.

use super::ctx::{Msg, ScreenCtx};
use super::data_screen::DataMsg;
use super::data_screen::format_count;
use crate::app::jobs::JobKey;
use crate::ingest::quality::{QualityReport, quality};
use crate::model::time::{format_ts, now_utc};
use crate::store::Store;

pub struct QualityView {
    pub stale_days: i64,
    pub result: Option<Result<QualityReport, String>>,
    requested: bool,
}

impl Default for QualityView {
    fn default() -> Self {
        QualityView {
            stale_days: 7,
            result: None,
            requested: false,
        }
    }
}

impl QualityView {
    pub fn invalidate(&mut self) {
        self.requested = false;
    }
}

fn request(q: &mut QualityView, ctx: &mut ScreenCtx<'_>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    let days = q.stale_days;
    q.requested = true;
    ctx.jobs
        .spawn(JobKey::Quality, "Checking data quality", move |_| {
            let r = Store::open_read_only(&ws)
                .and_then(|s| quality(&s, days, now_utc()))
                .map_err(|e| e.to_string());
            Msg::Data(DataMsg::Quality(r))
        });
}

impl QualityView {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        quality_view_ui(ui, self, ctx);
    }
}

fn quality_view_ui(ui: &mut egui::Ui, q: &mut QualityView, ctx: &mut ScreenCtx<'_>) {
    if !q.requested {
        request(q, ctx);
    }
    ui.horizontal(|ui| {
        ui.heading("Data quality");
        ui.label("· stale after");
        let mut days = q.stale_days;
        if ui
            .add(
                egui::DragValue::new(&mut days)
                    .range(1..=3650)
                    .suffix(" days"),
            )
            .on_hover_text("Sources with nothing newer than this are flagged")
            .changed()
        {
            q.stale_days = days;
            q.invalidate();
        }
    });
    ui.separator();
    let Some(q) = super::loaded_ui(ui, &q.result) else {
        return;
    };
    let stale_color = ui.visuals().warn_fg_color;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.strong("Sources");
            if q.sources.is_empty() {
                ui.weak("Nothing imported into this workspace yet.");
            } else {
                egui::Grid::new("quality_sources")
                    .striped(true)
                    .show(ui, |ui| {
                        for h in [
                            "File",
                            "Kind",
                            "Last import",
                            "Newest event",
                            "Rows",
                            "Rejected",
                            "",
                        ] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for s in &q.sources {
                            ui.label(&s.file);
                            ui.label(&s.kind);
                            ui.label(format_ts(s.last_import));
                            ui.label(s.newest_event.map(format_ts).unwrap_or_else(|| "–".into()));
                            ui.label(format_count(s.rows));
                            ui.label(format_count(s.rejected));
                            if s.stale {
                                ui.colored_label(stale_color, "stale");
                            } else {
                                ui.label("");
                            }
                            ui.end_row();
                        }
                    });
            }
            ui.add_space(8.0);
            ui.strong("Newest event of each kind");
            egui::Grid::new("quality_events")
                .striped(true)
                .show(ui, |ui| {
                    for (name, t, stale) in &q.events {
                        ui.label(name);
                        ui.label(format_ts(*t));
                        if *stale {
                            ui.colored_label(stale_color, "stale");
                        } else {
                            ui.label("");
                        }
                        ui.end_row();
                    }
                });
            ui.add_space(8.0);
            ui.strong(format!(
                "Missing values ({} customers)",
                format_count(q.customers)
            ));
            egui::Grid::new("quality_missing")
                .striped(true)
                .show(ui, |ui| {
                    for (_, label, n) in &q.missing {
                        ui.label(label);
                        ui.label(format_count(*n));
                        let share = if q.customers > 0 {
                            *n as f64 / q.customers as f64
                        } else {
                            0.0
                        };
                        ui.add(
                            egui::ProgressBar::new(share as f32)
                                .desired_width(120.0)
                                .show_percentage(),
                        );
                        ui.end_row();
                    }
                });
            ui.add_space(8.0);
            ui.label(format!(
                "Invalid emails: {}",
                format_count(q.invalid_emails)
            ));
            ui.label(format!(
                "Emails shared by more than one customer: {} ({} customers)",
                format_count(q.duplicate_emails.0),
                format_count(q.duplicate_emails.1)
            ));
            ui.label(format!(
                "Likely duplicates found by the last customer import: {}",
                format_count(q.likely_duplicates as i64)
            ));
        });
}
