//! Who can be emailed: consent, an address, no unsubscribe and no hard
//! bounce. Member exports, renders and the Preview's pickers leave the
//! rest out unless a person overrides it (with a reason, audited).

use std::sync::Arc;

use crate::model::event_names as ev;

use super::data::{Column, EngineData};
use super::{Bitset, Engine};

/// Why a customer cannot be emailed, as of some time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// No email consent on the profile.
    NoConsent,
    /// No (valid) email address.
    NoEmail,
    /// An unsubscribe event at this time.
    Unsubscribed(i64),
    /// A hard bounce at this time.
    Bounced(i64),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let day = |t: i64| {
            crate::model::time::ts_to_date(t)
                .format("%Y-%m-%d")
                .to_string()
        };
        match self {
            Unreachable::NoConsent => write!(f, "no email consent"),
            Unreachable::NoEmail => write!(f, "no email address"),
            Unreachable::Unsubscribed(t) => write!(f, "unsubscribed on {}", day(*t)),
            Unreachable::Bounced(t) => write!(f, "hard bounce on {}", day(*t)),
        }
    }
}

/// Customers with consent and an address (events not looked at).
fn consented(data: &EngineData) -> Bitset {
    let email = match data.column("email") {
        Some((_, Column::Text { codes, .. })) => Some(codes),
        _ => None,
    };
    match data.column("email_consent") {
        Some((_, Column::Bool(v))) => Bitset::from_fn(data.len(), |i| {
            v[i] == 1 && email.is_none_or(|codes| codes[i] != 0)
        }),
        _ => Bitset::empty(data.len()),
    }
}

/// The first event of `name` at or before `as_of` of customer `i`.
fn first_event(data: &EngineData, name: &str, i: usize, as_of: i64) -> Option<i64> {
    let cols = data.events.get(name)?;
    let r = cols.range(i);
    (r.start < r.end)
        .then(|| cols.time(r.start))
        .filter(|&t| t <= as_of)
}

/// Everyone who can be emailed as of `as_of`.
pub fn reachable_set(data: &EngineData, as_of: i64) -> Bitset {
    let mut set = consented(data);
    for name in [ev::UNSUBSCRIBE, ev::EMAIL_BOUNCE] {
        let Some(cols) = data.events.get(name) else {
            continue;
        };
        for i in 0..data.len() {
            let r = cols.range(i);
            if r.start < r.end && cols.time(r.start) <= as_of {
                set.set(i, false);
            }
        }
    }
    set
}

/// Why customer `i` cannot be emailed as of `as_of`; `None`: they can.
pub fn why_unreachable(data: &EngineData, i: usize, as_of: i64) -> Option<Unreachable> {
    if let Some(t) = first_event(data, ev::UNSUBSCRIBE, i, as_of) {
        return Some(Unreachable::Unsubscribed(t));
    }
    if let Some(t) = first_event(data, ev::EMAIL_BOUNCE, i, as_of) {
        return Some(Unreachable::Bounced(t));
    }
    let consent = match data.column("email_consent") {
        Some((_, Column::Bool(v))) => v[i] == 1,
        _ => false,
    };
    if !consent {
        return Some(Unreachable::NoConsent);
    }
    match data.column("email") {
        Some((_, Column::Text { codes, .. })) if codes[i] == 0 => Some(Unreachable::NoEmail),
        _ => None,
    }
}

impl Engine {
    /// Everyone who can be emailed as of `as_of` (cached per time).
    pub fn reachable(&self, as_of: i64) -> Arc<Bitset> {
        let mut cached = super::eval::locked(&self.reach);
        if let Some((t, set)) = cached.as_ref()
            && *t == as_of
        {
            return set.clone();
        }
        let set = Arc::new(reachable_set(&self.data, as_of));
        *cached = Some((as_of, set.clone()));
        set
    }

    /// Why customer `i` cannot be emailed as of `as_of`.
    pub fn why_unreachable(&self, i: usize, as_of: i64) -> Option<Unreachable> {
        why_unreachable(&self.data, i, as_of)
    }
}
