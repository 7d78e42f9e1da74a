//! Who was sent which campaign, and what each send led to: one pass over
//! the engine's email and order columns, customer by customer, into one
//! compact row per (campaign, recipient). Every metric is a count over
//! these rows, so a segment's figures cost one pass over its campaigns'
//! recipients.
//!
//! How the data is read (the Performance screen's "data notes" count each
//! case):
//! - a send is an `email_sent` event naming a known campaign; a second
//!   `email_sent` of the same campaign to the same customer is a duplicate
//!   and ignored;
//! - an open, click, unsubscribe or bounce counts for the send of its
//!   campaign to that customer; one naming no known campaign, or a campaign
//!   the customer was not sent, is left out;
//! - a click without an open (images blocked) implies an open;
//! - an open or click the data marks as a machine's (the event property
//!   `machine`: Apple Mail Privacy Protection's prefetch, a security
//!   scanner) counts as an open, but not as a human one, and never as a
//!   click that can convert;
//! - an order is attributed to the latest human click (or, by setting, the
//!   latest open) before it, within the attribution window, last touch
//!   only; a send's conversion counts once the window after its send has
//!   closed as of the evaluation time.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::engine::data::EventColumns;
use crate::model::{Campaign, event_names};
use crate::progress::Progress;

/// The event a bounce is recorded as.
pub use crate::model::event_names::EMAIL_BOUNCE;
/// The event property that marks an open or click as a machine's.
pub const MACHINE: &str = "machine";
const DAY: i64 = 86_400;

/// What starts a conversion's attribution window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    #[default]
    Click,
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribution {
    pub trigger: Trigger,
    pub window_days: i64,
}

impl Default for Attribution {
    fn default() -> Self {
        Attribution {
            trigger: Trigger::Click,
            window_days: 5,
        }
    }
}

/// What happened to one send, as bits.
pub mod flag {
    pub const OPENED: u8 = 1;
    pub const HUMAN_OPENED: u8 = 2;
    pub const CLICKED: u8 = 4;
    pub const UNSUBSCRIBED: u8 = 8;
    pub const BOUNCED: u8 = 16;
    pub const CONVERTED: u8 = 32;
    /// The attribution window after the send has closed.
    pub const CLOSED: u8 = 64;
}

/// One campaign's sends: recipients (engine rows, ascending) and what
/// each send led to.
#[derive(Clone, Debug, Default)]
pub struct CampaignSends {
    pub campaign: Campaign,
    pub sent_at: i64,
    pub rows: Vec<u32>,
    pub flags: Vec<u8>,
    /// Attributed revenue by position in `rows` (sends with none left
    /// out).
    pub revenue: Vec<(u32, f64)>,
    /// How many sends led to each combination of flags (filled when the
    /// sends are read; see [`CampaignSends::flag_tally`]).
    pub tally: Vec<u64>,
}

impl CampaignSends {
    /// How many sends led to each flag byte: 256 counts.
    pub fn flag_tally(&self) -> std::borrow::Cow<'_, [u64]> {
        if self.tally.len() == 256 {
            return std::borrow::Cow::Borrowed(&self.tally);
        }
        let mut t = vec![0u64; 256];
        for &f in &self.flags {
            t[f as usize] += 1;
        }
        std::borrow::Cow::Owned(t)
    }
}

/// How the data was read: cases the metrics leave out or reinterpret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNotes {
    pub campaigns_without_sends: usize,
    pub events_of_unknown_campaigns: usize,
    pub events_without_a_send: usize,
    pub duplicate_sends: usize,
    pub clicks_without_opens: usize,
    pub machine_opens: usize,
    pub machine_clicks: usize,
    pub orders_before_any_email: usize,
    pub attributed_orders: usize,
}

impl DataNotes {
    /// One line for the screen and the CLI.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!(
                    "{} {what}",
                    crate::model::group_thousands(n as i64)
                ));
            }
        };
        add(self.attributed_orders, "orders attributed");
        add(
            self.campaigns_without_sends,
            "campaigns without sends (no rates)",
        );
        add(
            self.events_of_unknown_campaigns,
            "events of unknown campaigns (left out)",
        );
        add(
            self.events_without_a_send,
            "opens/clicks without a send (left out)",
        );
        add(self.duplicate_sends, "duplicate sends (counted once)");
        add(
            self.clicks_without_opens,
            "clicks without an open (counted as opened)",
        );
        add(
            self.machine_opens,
            "machine opens (open rate shown with and without)",
        );
        add(
            self.machine_clicks,
            "machine clicks (never a click or conversion)",
        );
        add(
            self.orders_before_any_email,
            "orders before any email (not attributed)",
        );
        if parts.is_empty() {
            "no data notes".into()
        } else {
            parts.join(" · ")
        }
    }
}

/// Every send of every campaign, as of one time.
pub struct Sends {
    pub campaigns: Vec<CampaignSends>,
    pub attribution: Attribution,
    pub as_of: i64,
    pub notes: DataNotes,
    /// Whether any bounce is recorded (else there is no bounce rate).
    pub has_bounces: bool,
    /// Whether the data marks machine opens or clicks.
    pub has_machine_marks: bool,
}

/// One send being read, for the customer at hand.
struct Open {
    campaign: usize,
    pos: usize,
    sent_at: i64,
    first_open: i64,
    first_click: i64,
}

impl Sends {
    /// Reads the sends of `campaigns` (those with a send time) from the
    /// engine, as of `as_of`.
    pub fn build(
        engine: &Engine,
        campaigns: &[Campaign],
        attribution: Attribution,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<Sends, crate::engine::EvalError> {
        let data = &engine.data;
        let mut list: Vec<CampaignSends> = campaigns
            .iter()
            .filter_map(|c| {
                c.sent_at.filter(|&t| t <= as_of).map(|t| CampaignSends {
                    campaign: c.clone(),
                    sent_at: t,
                    ..CampaignSends::default()
                })
            })
            .collect();
        list.sort_by(|a, b| (a.sent_at, &a.campaign.id).cmp(&(b.sent_at, &b.campaign.id)));
        let by_code: HashMap<u32, usize> = list
            .iter()
            .enumerate()
            .filter_map(|(k, c)| data.strings.lookup(&c.campaign.id).map(|code| (code, k)))
            .collect();
        let ev = |name: &str| data.events.get(name).cloned();
        let sent = ev(event_names::EMAIL_SENT);
        let opens = ev(event_names::EMAIL_OPEN);
        let clicks = ev(event_names::EMAIL_CLICK);
        let unsubs = ev(event_names::UNSUBSCRIBE);
        let bounces = ev(EMAIL_BOUNCE);
        let orders = ev(&data.purchase_event);
        let mut machine = engine
            .flag_properties(
                &[event_names::EMAIL_OPEN, event_names::EMAIL_CLICK],
                MACHINE,
            )?
            .into_iter();
        let machine_open = machine.next().flatten();
        let machine_click = machine.next().flatten();
        let window = attribution.window_days.max(0) * DAY;
        let mut notes = DataNotes::default();
        let mut has_machine_marks = false;
        let n = data.len();
        let mut mine: Vec<Open> = Vec::new();
        for i in 0..n {
            if i % 65_536 == 0 {
                if progress.is_cancelled() {
                    return Err(crate::engine::EvalError::Cancelled);
                }
                progress.report(i as f32 / n.max(1) as f32, "reading sends");
            }
            mine.clear();
            if let Some(s) = &sent {
                for k in s.range(i) {
                    let Some(&c) = by_code.get(&s.campaign.get(k)) else {
                        notes.events_of_unknown_campaigns += 1;
                        continue;
                    };
                    if mine.iter().any(|o| o.campaign == c) {
                        notes.duplicate_sends += 1;
                        continue;
                    }
                    let cs = &mut list[c];
                    cs.rows.push(i as u32);
                    let mut f = 0u8;
                    if cs.sent_at + window <= as_of {
                        f |= flag::CLOSED;
                    }
                    cs.flags.push(f);
                    mine.push(Open {
                        campaign: c,
                        pos: cs.rows.len() - 1,
                        sent_at: s.time(k),
                        first_open: i64::MAX,
                        first_click: i64::MAX,
                    });
                }
            }
            let mark = |cols: &Option<std::sync::Arc<EventColumns>>,
                        machine: Option<&Vec<bool>>,
                        what: u8,
                        notes: &mut DataNotes,
                        list: &mut Vec<CampaignSends>,
                        mine: &mut Vec<Open>| {
                let Some(e) = cols else { return };
                for k in e.range(i) {
                    if e.time(k) > as_of {
                        break;
                    }
                    let Some(&c) = by_code.get(&e.campaign.get(k)) else {
                        notes.events_of_unknown_campaigns += 1;
                        continue;
                    };
                    let Some(o) = mine.iter_mut().find(|o| o.campaign == c) else {
                        notes.events_without_a_send += 1;
                        continue;
                    };
                    let by_machine = machine.is_some_and(|m| m.get(k).copied().unwrap_or(false));
                    let f = &mut list[c].flags[o.pos];
                    match what {
                        flag::OPENED => {
                            *f |= flag::OPENED;
                            if by_machine {
                                notes.machine_opens += 1;
                            } else {
                                *f |= flag::HUMAN_OPENED;
                            }
                            o.first_open = o.first_open.min(e.time(k));
                        }
                        flag::CLICKED => {
                            if by_machine {
                                notes.machine_clicks += 1;
                                *f |= flag::OPENED;
                                continue;
                            }
                            if *f & flag::HUMAN_OPENED == 0 {
                                notes.clicks_without_opens += 1;
                            }
                            *f |= flag::CLICKED | flag::OPENED | flag::HUMAN_OPENED;
                            o.first_click = o.first_click.min(e.time(k));
                            o.first_open = o.first_open.min(e.time(k));
                        }
                        other => *f |= other,
                    }
                }
            };
            if mine.is_empty() {
                // No send to this customer: count what cannot be read.
                for e in [&opens, &clicks].into_iter().flatten() {
                    notes.events_without_a_send += e.range(i).len();
                }
                continue;
            }
            mark(
                &opens,
                machine_open.as_ref(),
                flag::OPENED,
                &mut notes,
                &mut list,
                &mut mine,
            );
            mark(
                &clicks,
                machine_click.as_ref(),
                flag::CLICKED,
                &mut notes,
                &mut list,
                &mut mine,
            );
            mark(
                &unsubs,
                None,
                flag::UNSUBSCRIBED,
                &mut notes,
                &mut list,
                &mut mine,
            );
            mark(
                &bounces,
                None,
                flag::BOUNCED,
                &mut notes,
                &mut list,
                &mut mine,
            );
            // Orders: last touch within the window, before `as_of`.
            if let Some(o) = &orders {
                let first_send = mine.iter().map(|m| m.sent_at).min().unwrap_or(i64::MAX);
                for k in o.range(i) {
                    let t = o.time(k);
                    if t >= as_of {
                        break;
                    }
                    if t < first_send {
                        notes.orders_before_any_email += 1;
                        continue;
                    }
                    let touch = mine
                        .iter()
                        .map(|m| {
                            let at = match attribution.trigger {
                                Trigger::Click => m.first_click,
                                Trigger::Open => m.first_open,
                            };
                            (at, m)
                        })
                        .filter(|(at, _)| *at <= t && t < at.saturating_add(window))
                        .max_by_key(|(at, _)| *at);
                    if let Some((_, m)) = touch {
                        let cs = &mut list[m.campaign];
                        if cs.flags[m.pos] & flag::CLOSED == 0 {
                            continue;
                        }
                        cs.flags[m.pos] |= flag::CONVERTED;
                        let v = if o.value(k).is_nan() { 0.0 } else { o.value(k) };
                        match cs.revenue.last_mut() {
                            Some((p, sum)) if *p as usize == m.pos => *sum += v,
                            _ => cs.revenue.push((m.pos as u32, v)),
                        }
                        notes.attributed_orders += 1;
                    }
                }
            }
        }
        // Revenue entries were pushed customer by customer: sorted by
        // position already within a campaign.
        for cs in &mut list {
            cs.revenue.sort_by_key(|(p, _)| *p);
            let mut merged: Vec<(u32, f64)> = Vec::with_capacity(cs.revenue.len());
            for (p, v) in cs.revenue.drain(..) {
                match merged.last_mut() {
                    Some((q, s)) if *q == p => *s += v,
                    _ => merged.push((p, v)),
                }
            }
            cs.revenue = merged;
            cs.tally = cs.flag_tally().into_owned();
        }
        notes.campaigns_without_sends = list.iter().filter(|c| c.rows.is_empty()).count();
        if notes.machine_opens + notes.machine_clicks > 0 {
            has_machine_marks = true;
        }
        let has_bounces = bounces.as_ref().is_some_and(|b| !b.is_empty());
        progress.report(1.0, "sends read");
        Ok(Sends {
            campaigns: list,
            attribution,
            as_of,
            notes,
            has_bounces,
            has_machine_marks,
        })
    }

    /// Sends held in memory (an estimate of the table's size).
    pub fn heap_size(&self) -> usize {
        self.campaigns
            .iter()
            .map(|c| c.rows.capacity() * 5 + c.revenue.capacity() * 16)
            .sum()
    }
}
