//! What screens share, and how they talk to the app: the job messages
//! (`Msg`, one variant per screen), the requests a screen makes of the app
//! (`Request`), and `ScreenCtx`, the borrowed view a screen draws and
//! handles its messages through. Screens import this module, never
//! `app.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::commands::UiCommand;
use super::data_screen::DataMsg;
use super::performance::PerfMsg;
use super::preview::PreviewMsg;
use super::segments::SegMsg;
use crate::app::jobs::Jobs;
use crate::app::segments::Loaded;
use crate::app::{AppError, Screen};
use crate::engine::Engine;
use crate::model::mask::Masker;
use crate::store::WorkspaceInfo;

/// What survives a restart (stored by eframe).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub last_workspace: Option<PathBuf>,
    pub screen: Screen,
    pub dark: Option<bool>,
}

pub const SETTINGS_KEY: &str = "prism.settings";

/// Results of background jobs, delivered to the UI thread.
pub enum Msg {
    WorkspaceOpened {
        result: Result<WorkspaceInfo, String>,
        /// The workspace to fall back to if this one failed to open.
        fallback: Option<PathBuf>,
    },
    FilePicked {
        purpose: FilePurpose,
        path: Option<PathBuf>,
    },
    /// The workspace is in memory and ready for segment work.
    EngineReady(Result<Loaded, AppError>),
    Data(DataMsg),
    Segments(SegMsg),
    Preview(PreviewMsg),
    Performance(PerfMsg),
    /// An entry written to the audit log (a demo-mode switch), or why not.
    Audited(Result<(), String>),
    /// What demo mode masks, read again.
    MaskerReady(Result<Arc<Masker>, String>),
    /// Every campaign's sends, read as of a time with an attribution.
    SendsReady {
        key: (i64, crate::analytics::Attribution),
        result: Result<Arc<crate::analytics::Sends>, String>,
    },
}

/// What a screen asks of the app, handled after it has drawn or handled a
/// message.
pub enum Request {
    /// Reopen (or open) a workspace: after an import, or a change that
    /// derived data depends on.
    OpenWorkspace(PathBuf),
    /// Run a command as if its shortcut was pressed.
    Command(UiCommand),
    /// Show an error in the error dialog.
    Error(String),
    /// Read the sends again with another attribution (window, trigger).
    Attribution(crate::analytics::Attribution),
    /// Which fields are personal changed: read what demo mode masks again.
    PrivacyChanged,
}

/// What a screen may use of the app while it draws or handles a message.
pub struct ScreenCtx<'a> {
    pub workspace: Option<&'a WorkspaceInfo>,
    /// The open workspace in memory, once loaded.
    pub engine: Option<&'a Arc<Engine>>,
    pub jobs: &'a mut Jobs<Msg>,
    pub settings: &'a Settings,
    pub requests: &'a mut Vec<Request>,
    /// The time segments are evaluated as of (the Segments screen's
    /// choice): counts, members and emails all use it.
    pub as_of: i64,
    /// Every campaign's sends as of `as_of`, once read.
    pub sends: Option<&'a Arc<crate::analytics::Sends>>,
    /// Demo mode is on: show nothing personal.
    pub demo: bool,
    /// What to mask, once known (demo mode only).
    pub mask: Option<&'a Arc<Masker>>,
}

impl ScreenCtx<'_> {
    /// Demo mode is on but what to mask is not known yet: show no
    /// customer data.
    pub fn demo_waiting(&self) -> bool {
        self.demo && self.mask.is_none()
    }

    pub fn error(&mut self, message: impl Into<String>) {
        self.requests.push(Request::Error(message.into()));
    }

    /// The open workspace's file.
    pub fn workspace_path(&self) -> Option<PathBuf> {
        self.workspace.map(|w| w.path.clone())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePurpose {
    Open,
    New,
    SaveAs,
}
