//! App services: what the GUI and the CLI do with the core, without a window.
//!
//! - [`jobs`]: worker threads with progress, cancel and generations.
//! - [`workspace`]: where workspaces live, the built-in sample, opening one.
//! - [`segments`]: what the rule builder computes, and ([`segments::ops`])
//!   every change to saved segments, one transaction each.
//! - [`templates`]: saving an email template, checked that it renders.
//! - [`preview`]: what the Preview screen computes (and `prism snapshot`).
//! - [`privacy`]: consent (who exports and renders include, overrides
//!   audited) and demo mode.
//! - [`error`]: [`AppError`], the services' typed errors.

pub mod discover;
pub mod error;
pub mod jobs;
pub mod performance;
pub mod preview;
pub mod privacy;
pub mod segments;
pub mod templates;
pub mod workspace;

pub use error::AppError;

/// The four screens of the app. Lives here, not in the UI, so the CLI can
/// name a screen to open on.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Screen {
    #[default]
    Data,
    Segments,
    Preview,
    Performance,
}

impl Screen {
    pub const ALL: [Screen; 4] = [
        Screen::Data,
        Screen::Segments,
        Screen::Preview,
        Screen::Performance,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Screen::Data => "Data",
            Screen::Segments => "Segments",
            Screen::Preview => "Preview",
            Screen::Performance => "Performance",
        }
    }
}
