//! Consent and demo mode as the app applies them: who an export, a render
//! or a Preview picker may include, the overrides a person makes (always
//! with a reason, always in the audit log), and demo-mode switches.

use std::path::Path;

use crate::engine::{Bitset, Engine};
use crate::store::Store;

use super::AppError;

/// Who an export or a render may include.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    /// Only customers who can be emailed (the default).
    #[default]
    Reachable,
    /// Everyone, unreachable customers too, for a stated reason.
    Everyone { reason: String },
}

impl Audience {
    /// `--include-unreachable REASON`: `None` keeps the default; a reason
    /// must say something.
    pub fn from_reason(reason: Option<&str>) -> Result<Audience, AppError> {
        match reason.map(str::trim) {
            None => Ok(Audience::Reachable),
            Some("") => Err(AppError::Invalid(
                "including unreachable customers needs a reason (who asked, and why)".into(),
            )),
            Some(r) => Ok(Audience::Everyone { reason: r.into() }),
        }
    }

    pub fn includes_unreachable(&self) -> bool {
        matches!(self, Audience::Everyone { .. })
    }
}

/// A member set as `audience` allows it as of `as_of`, and how many
/// unreachable members it left out (or, with an override, let in).
pub fn members_for(
    engine: &Engine,
    members: &Bitset,
    as_of: i64,
    audience: &Audience,
) -> (Bitset, usize) {
    let reach = engine.reachable(as_of);
    let unreachable = members.count() - members.count_and(&reach);
    let mut set = members.clone();
    if !audience.includes_unreachable() {
        set.and_with(&reach);
    }
    (set, unreachable)
}

/// Records an override in the audit log of `workspace`: what it was for
/// (`members export`, `email export`, `preview`), why, and how many
/// unreachable customers it let in. The default records nothing.
pub fn record_override(
    workspace: &Path,
    audience: &Audience,
    what: &str,
    unreachable: usize,
) -> Result<(), AppError> {
    if let Audience::Everyone { reason } = audience {
        let detail = serde_json::json!({
            "what": what, "reason": reason, "unreachable_included": unreachable,
        });
        Store::audit(workspace, "consent_override", &detail)?;
    }
    Ok(())
}

/// "reachable 1,234 of 2,000".
pub fn reachable_text(reachable: usize, of: usize) -> String {
    format!(
        "reachable {} of {}",
        crate::model::group_thousands(reachable as i64),
        crate::model::group_thousands(of as i64)
    )
}

/// Records a demo-mode switch in the audit log of `workspace`.
pub fn record_demo(workspace: &Path, on: bool) -> Result<(), AppError> {
    let detail = serde_json::json!({ "what": if on { "on" } else { "off" } });
    Store::audit(workspace, "demo_mode", &detail)?;
    Ok(())
}
