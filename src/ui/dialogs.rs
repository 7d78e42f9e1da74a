//! Modal dialogs.

/// Shows the first waiting error, if any, until the user dismisses it.
pub fn error_dialog_ui(ctx: &egui::Context, errors: &mut Vec<String>) {
    let Some(message) = errors.first().cloned() else {
        return;
    };
    let modal = egui::Modal::new(egui::Id::unique("error_dialog")).show(ctx, |ui| {
        ui.set_max_width(520.0);
        ui.heading("Something went wrong");
        ui.add_space(6.0);
        ui.label(&message);
        if errors.len() > 1 {
            ui.weak(format!("{} more after this one", errors.len() - 1));
        }
        ui.add_space(8.0);
        ui.button("OK").clicked()
    });
    if modal.inner || modal.should_close() {
        errors.remove(0);
    }
}
