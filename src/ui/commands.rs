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
    /// Demo mode: stand-ins for every personal field, on every screen.
    ToggleDemo,
    ShowScreen(Screen),
    CancelJobs,
    /// Undo the last rule edit.
    Undo,
    /// Redo the last undone rule edit.
    Redo,
    /// Save the segment being edited (a new version).
    SaveSegment,
    NewSegment,
}

impl UiCommand {
    pub const ALL: [UiCommand; 15] = [
        UiCommand::NewWorkspace,
        UiCommand::OpenWorkspace,
        UiCommand::SaveWorkspaceAs,
        UiCommand::OpenSampleWorkspace,
        UiCommand::ToggleTheme,
        UiCommand::ToggleDemo,
        UiCommand::ShowScreen(Screen::Data),
        UiCommand::ShowScreen(Screen::Segments),
        UiCommand::ShowScreen(Screen::Preview),
        UiCommand::ShowScreen(Screen::Performance),
        UiCommand::CancelJobs,
        UiCommand::Undo,
        UiCommand::Redo,
        UiCommand::SaveSegment,
        UiCommand::NewSegment,
    ];

    pub fn label(self) -> &'static str {
        match self {
            UiCommand::NewWorkspace => "New workspace…",
            UiCommand::OpenWorkspace => "Open workspace…",
            UiCommand::SaveWorkspaceAs => "Save workspace as…",
            UiCommand::OpenSampleWorkspace => "Open the sample workspace",
            UiCommand::ToggleTheme => "Switch light / dark theme",
            UiCommand::ToggleDemo => "Demo mode (mask personal data)",
            UiCommand::ShowScreen(s) => s.label(),
            UiCommand::CancelJobs => "Cancel background work",
            UiCommand::Undo => "Undo",
            UiCommand::Redo => "Redo",
            UiCommand::SaveSegment => "Save segment",
            UiCommand::NewSegment => "New segment",
        }
    }

    /// The shortcuts, the first one shown in menus.
    pub fn shortcuts(self) -> Vec<KeyboardShortcut> {
        let cmd = Modifiers::COMMAND;
        let cmd_shift = Modifiers::COMMAND.plus(Modifiers::SHIFT);
        let k = KeyboardShortcut::new;
        match self {
            UiCommand::NewWorkspace => vec![k(cmd, Key::N)],
            UiCommand::OpenWorkspace => vec![k(cmd, Key::O)],
            UiCommand::SaveWorkspaceAs => vec![k(cmd_shift, Key::S)],
            UiCommand::OpenSampleWorkspace => vec![],
            UiCommand::ToggleTheme => vec![k(cmd_shift, Key::T)],
            UiCommand::ToggleDemo => vec![k(cmd_shift, Key::D)],
            UiCommand::ShowScreen(Screen::Data) => vec![k(cmd, Key::Num1)],
            UiCommand::ShowScreen(Screen::Segments) => vec![k(cmd, Key::Num2)],
            UiCommand::ShowScreen(Screen::Preview) => vec![k(cmd, Key::Num3)],
            UiCommand::ShowScreen(Screen::Performance) => vec![k(cmd, Key::Num4)],
            UiCommand::CancelJobs => vec![k(Modifiers::NONE, Key::Escape)],
            UiCommand::Undo => vec![k(cmd, Key::Z)],
            UiCommand::Redo => vec![k(cmd_shift, Key::Z), k(cmd, Key::Y)],
            UiCommand::SaveSegment => vec![k(cmd, Key::S)],
            UiCommand::NewSegment => vec![k(cmd_shift, Key::N)],
        }
    }

    pub fn shortcut(self) -> Option<KeyboardShortcut> {
        self.shortcuts().into_iter().next()
    }

    /// Commands that text fields handle themselves while they have focus.
    fn yields_to_text_fields(self) -> bool {
        matches!(self, UiCommand::Undo | UiCommand::Redo)
    }

    /// The commands whose shortcut was pressed this frame (consumed).
    pub fn pressed(ctx: &egui::Context) -> Vec<UiCommand> {
        let typing = ctx.egui_wants_keyboard_input();
        // egui matches Shift and Alt only when a shortcut names them, so
        // Ctrl+S would also fire on Ctrl+Shift+S: try the longer ones first.
        let mut shortcuts: Vec<(UiCommand, KeyboardShortcut)> = UiCommand::ALL
            .into_iter()
            .filter(|c| !(typing && c.yields_to_text_fields()))
            .flat_map(|c| c.shortcuts().into_iter().map(move |s| (c, s)))
            .collect();
        shortcuts.sort_by_key(|(_, s)| {
            std::cmp::Reverse(s.modifiers.shift as u8 + s.modifiers.alt as u8)
        });
        let mut out: Vec<UiCommand> = Vec::new();
        ctx.input_mut(|i| {
            for (c, s) in shortcuts {
                if i.consume_shortcut(&s) && !out.contains(&c) {
                    out.push(c);
                }
            }
        });
        out
    }

    /// A menu button for this command, with its shortcut shown.
    pub fn menu_item(self, ui: &mut egui::Ui) -> bool {
        let mut button = egui::Button::new(self.label());
        if let Some(s) = self.shortcut() {
            button = button.shortcut_text(ui.ctx().format_shortcut(&s));
        }
        ui.add(button).clicked()
    }

    /// The label with the shortcut, for tooltips: "Undo (Ctrl+Z)".
    pub fn tooltip(self, ctx: &egui::Context) -> String {
        match self.shortcut() {
            Some(s) => format!("{} ({})", self.label(), ctx.format_shortcut(&s)),
            None => self.label().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in UiCommand::ALL {
            for s in c.shortcuts() {
                assert!(
                    seen.insert((s.modifiers, s.logical_key)),
                    "{c:?} reuses a shortcut"
                );
            }
        }
    }
}
