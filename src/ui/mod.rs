//! The egui front end. The only module that knows about egui and eframe.
//!
//! One file per panel or screen; functions that draw into a `Ui` are named
//! `*_ui`; every shortcut-bearing action is a [`commands::UiCommand`].

pub mod app;
pub mod audit_view;
pub mod bench;
pub mod commands;
pub mod ctx;
pub mod data_screen;
mod dialogs;
pub mod erase_view;
pub mod import_wizard;
pub mod performance;
pub mod pii_view;
pub mod preview;
pub mod preview_bench;
pub mod quality_view;
pub mod segments;
mod status_bar;
mod top_bar;

pub use app::{AppOptions, PrismApp, Settings};

/// A job's answer as a view shows it: a spinner while it is coming, the
/// error in red, else the value.
pub fn loaded_ui<T: Clone>(ui: &mut egui::Ui, answer: &Option<Result<T, String>>) -> Option<T> {
    match answer {
        None => {
            ui.spinner();
            None
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            None
        }
        Some(Ok(v)) => Some(v.clone()),
    }
}

/// Opens the app window and runs it until it closes.
pub fn run_app(options: AppOptions) -> Result<(), String> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Prism")
            .with_app_id("prism")
            .with_inner_size([1560.0, 940.0])
            .with_min_inner_size([900.0, 560.0]),
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        "Prism",
        native,
        Box::new(move |cc| {
            let settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, app::SETTINGS_KEY))
                .unwrap_or_default();
            Ok(Box::new(PrismApp::new(options, settings)))
        }),
    )
    .map_err(|e| e.to_string())
}
