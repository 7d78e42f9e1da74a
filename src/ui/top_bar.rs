//! The top bar: workspace menu and name, the four screens, the theme switch.

use super::app::PrismApp;
use super::commands::UiCommand;
use crate::app::Screen;

pub fn top_bar_ui(ui: &mut egui::Ui, app: &PrismApp, commands: &mut Vec<UiCommand>) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.strong("Prism");
        ui.separator();
        ui.menu_button("Workspace", |ui| {
            for c in [
                UiCommand::NewWorkspace,
                UiCommand::OpenWorkspace,
                UiCommand::SaveWorkspaceAs,
                UiCommand::OpenSampleWorkspace,
            ] {
                if c.menu_item(ui) {
                    commands.push(c);
                }
            }
        });
        let name = app
            .workspace
            .as_ref()
            .map(|w| w.name.clone())
            .unwrap_or_else(|| "Opening…".into());
        let label = ui.label(egui::RichText::new(name).strong());
        if let Some(w) = &app.workspace {
            label.on_hover_text(w.path.display().to_string());
        }
        ui.separator();
        for s in Screen::ALL {
            let cmd = UiCommand::ShowScreen(s);
            let mut r = ui.selectable_label(app.screen == s, s.label());
            if let Some(sc) = cmd.shortcut() {
                r = r.on_hover_text(ui.ctx().format_shortcut(&sc));
            }
            if r.clicked() {
                commands.push(cmd);
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let demo_hint = match UiCommand::ToggleDemo.shortcut() {
                Some(sc) => format!(
                    "Names, emails, phones, addresses and free text shown as stand-ins, the same for each customer; counts do not change ({})",
                    ui.ctx().format_shortcut(&sc)
                ),
                None => UiCommand::ToggleDemo.label().into(),
            };
            if ui
                .selectable_label(app.demo, "🎭 Demo mode")
                .on_hover_text(demo_hint)
                .clicked()
            {
                commands.push(UiCommand::ToggleDemo);
            }
            let dark = ui.ctx().theme() == egui::Theme::Dark;
            let text = if dark { "☀ Light" } else { "🌙 Dark" };
            if ui
                .button(text)
                .on_hover_text(UiCommand::ToggleTheme.label())
                .clicked()
            {
                commands.push(UiCommand::ToggleTheme);
            }
        });
    });
}
