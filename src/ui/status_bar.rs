//! The status bar: background work with progress and cancel, and where the
//! workspace lives.

use std::time::Duration;

use super::app::PrismApp;

/// Jobs quicker than this never show up, so the bar does not flicker.
const SHOW_AFTER: Duration = Duration::from_millis(150);

pub fn status_bar_ui(ui: &mut egui::Ui, app: &mut PrismApp) {
    ui.horizontal(|ui| {
        let statuses: Vec<_> = app
            .jobs
            .statuses()
            .into_iter()
            .filter(|s| s.elapsed >= SHOW_AFTER)
            .collect();
        if statuses.is_empty() {
            ui.weak("Ready");
        }
        for s in statuses {
            ui.spinner();
            ui.label(&s.label);
            if s.fraction > 0.0 {
                ui.add(
                    egui::ProgressBar::new(s.fraction)
                        .desired_width(140.0)
                        .show_percentage(),
                );
            }
            if !s.message.is_empty() {
                ui.weak(&s.message);
            }
            if s.cancelling {
                ui.weak("cancelling…");
            } else if ui.small_button("Cancel").clicked() {
                app.jobs.cancel(s.id);
            }
            ui.separator();
        }
        if !app.jobs.is_idle() {
            // Keep the elapsed-time filter and spinners moving.
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(w) = &app.workspace {
                ui.weak(w.path.display().to_string());
            }
        });
    });
}
