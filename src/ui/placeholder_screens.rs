//! Screens whose features have not landed yet say what they will hold.

use super::ctx::ScreenCtx;

/// The Performance screen (to come: how each segment responds).
#[derive(Default)]
pub struct PerformanceScreen;

impl PerformanceScreen {
    pub fn ui(&mut self, ui: &mut egui::Ui, _ctx: &mut ScreenCtx<'_>) {
        performance_screen_ui(ui);
    }
}

fn placeholder_ui(ui: &mut egui::Ui, title: &str, lines: &[&str]) {
    ui.add_space(24.0);
    ui.vertical_centered(|ui| {
        ui.heading(title);
        ui.add_space(8.0);
        for line in lines {
            ui.label(*line);
        }
    });
}

fn performance_screen_ui(ui: &mut egui::Ui) {
    placeholder_ui(
        ui,
        "Performance",
        &[
            "Per segment: recipients, open, click and conversion rates, revenue",
            "per recipient and unsubscribes, with lift against all customers.",
        ],
    );
}
