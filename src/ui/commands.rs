//! Every user action that has a menu entry or a keyboard shortcut, in one enum.

use egui::{Key, KeyboardShortcut, Modifiers};

use crate::app::Screen;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UiCommand {
    NewWorkspace,
    OpenWorkspace,
    SaveWorkspaceAs,
    OpenSampleWorkspace,
    ToggleTheme,
    ShowScreen(Screen),
    CancelJobs,
}

impl UiCommand {
    pub const ALL: [UiCommand; 10] = [
        UiCommand::NewWorkspace,
        UiCommand::OpenWorkspace,
        UiCommand::SaveWorkspaceAs,
        UiCommand::OpenSampleWorkspace,
        UiCommand::ToggleTheme,
        UiCommand::ShowScreen(Screen::Data),
        UiCommand::ShowScreen(Screen::Segments),
        UiCommand::ShowScreen(Screen::Preview),
        UiCommand::ShowScreen(Screen::Performance),
        UiCommand::CancelJobs,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UiCommand::NewWorkspace => "New workspace…",
            UiCommand::OpenWorkspace => "Open workspace…",
            UiCommand::SaveWorkspaceAs => "Save workspace as…",
            UiCommand::OpenSampleWorkspace => "Open the sample workspace",
            UiCommand::ToggleTheme => "Switch light / dark theme",
            UiCommand::ShowScreen(s) => s.label(),
            UiCommand::CancelJobs => "Cancel background work",
        }
    }

    pub fn shortcut(self) -> Option<KeyboardShortcut> {
        let cmd = Modifiers::COMMAND;
        let cmd_shift = Modifiers::COMMAND.plus(Modifiers::SHIFT);
        let k = |m, key| Some(KeyboardShortcut::new(m, key));
        match self {
            UiCommand::NewWorkspace => k(cmd, Key::N),
            UiCommand::OpenWorkspace => k(cmd, Key::O),
            UiCommand::SaveWorkspaceAs => k(cmd_shift, Key::S),
            UiCommand::OpenSampleWorkspace => None,
            UiCommand::ToggleTheme => k(cmd_shift, Key::T),
            UiCommand::ShowScreen(Screen::Data) => k(cmd, Key::Num1),
            UiCommand::ShowScreen(Screen::Segments) => k(cmd, Key::Num2),
            UiCommand::ShowScreen(Screen::Preview) => k(cmd, Key::Num3),
            UiCommand::ShowScreen(Screen::Performance) => k(cmd, Key::Num4),
            UiCommand::CancelJobs => k(Modifiers::NONE, Key::Escape),
        }
    }

    /// The commands whose shortcut was pressed this frame (consumed).
    pub fn pressed(ctx: &egui::Context) -> Vec<UiCommand> {
        // egui matches Shift and Alt only when a shortcut names them, so
        // Ctrl+S would also fire on Ctrl+Shift+S: try the longer ones first.
        let mut commands: Vec<(UiCommand, KeyboardShortcut)> = UiCommand::ALL
            .into_iter()
            .filter_map(|c| Some((c, c.shortcut()?)))
            .collect();
        commands.sort_by_key(|(_, s)| {
            std::cmp::Reverse(s.modifiers.shift as u8 + s.modifiers.alt as u8)
        });
        ctx.input_mut(|i| {
            commands
                .into_iter()
                .filter(|(_, s)| i.consume_shortcut(s))
                .map(|(c, _)| c)
                .collect()
        })
    }

    /// A menu button for this command, with its shortcut shown.
    pub fn menu_item(self, ui: &mut egui::Ui) -> bool {
        let mut button = egui::Button::new(self.label());
        if let Some(s) = self.shortcut() {
            button = button.shortcut_text(ui.ctx().format_shortcut(&s));
        }
        ui.add(button).clicked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in UiCommand::ALL {
            if let Some(s) = c.shortcut() {
                assert!(
                    seen.insert((s.modifiers, s.logical_key)),
                    "{c:?} reuses a shortcut"
                );
            }
        }
    }
}
