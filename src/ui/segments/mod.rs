//! The Segments screen: the segment list (left), the rule builder with live
//! counts (centre), and Members / Explain / Overlap / SQL / History (right).
//!
//! Every computation runs as a job; the screen keeps the last answer and
//! shows it dimmed while a newer one is computed. This file holds the
//! screen's state; `jobs.rs` its jobs and their answers; `builder.rs` its
//! layout and centre.

mod builder;
pub mod condition;
pub mod discover;
pub mod explain;
pub mod history;
mod jobs;
pub mod list;
pub mod members;
pub mod overlap;
pub mod picker;
pub mod sql;
pub mod tree;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::segments::{DraftError, DraftResult, Loaded, OverlapReport, VersionDiff};
use crate::engine::edit::RuleHistory;
use crate::engine::explain::Explanation;
use crate::engine::parse_rule;
use crate::engine::rule::Rule;
use crate::engine::{RuleError, Schema};
use crate::model::time::{DAY, date_to_ts, now_utc};
use crate::model::{SegmentRecord, SegmentVersion};

use super::ctx::ScreenCtx;
pub use crate::app::segments::ops::PALETTE;

/// Typing waits this long for the next key before counting.
pub const TYPING_DEBOUNCE: Duration = Duration::from_millis(100);

/// A segment being edited. Saved segments are keyed by id; new ones by a
/// negative key until their first save.
pub struct Draft {
    pub key: i64,
    pub id: i64,
    pub name: String,
    pub color: String,
    pub description: String,
    pub priority: i64,
    pub history: RuleHistory,
    /// The rule as last saved, parsed once (`None`: never saved).
    pub saved_rule: Option<Rule>,
}

impl Draft {
    fn from_record(r: &SegmentRecord) -> Draft {
        let rule = parse_rule(&r.rule).unwrap_or_else(|_| Rule::everyone());
        Draft {
            key: r.id,
            id: r.id,
            name: r.name.clone(),
            color: r.color.clone(),
            description: r.description.clone(),
            priority: r.priority,
            saved_rule: Some(rule.clone()),
            history: RuleHistory::new(rule),
        }
    }

    /// Unsaved changes to the rule (or never saved).
    pub fn is_dirty(&self) -> bool {
        self.saved_rule.as_ref() != Some(&self.history.rule)
    }

    pub fn record(&self) -> SegmentRecord {
        SegmentRecord {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            color: self.color.clone(),
            priority: self.priority,
            rule: self.history.rule.to_json(),
            ..SegmentRecord::default()
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RightTab {
    #[default]
    Members,
    Explain,
    Overlap,
    Sql,
    History,
    Discover,
}

impl RightTab {
    pub const ALL: [RightTab; 6] = [
        RightTab::Members,
        RightTab::Explain,
        RightTab::Overlap,
        RightTab::Sql,
        RightTab::History,
        RightTab::Discover,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RightTab::Members => "Members",
            RightTab::Explain => "Explain",
            RightTab::Overlap => "Overlap",
            RightTab::Sql => "SQL",
            RightTab::History => "History",
            RightTab::Discover => "Discover",
        }
    }
}

/// The live evaluation of the current draft. Answers to older edits never
/// arrive: the job runner drops them.
#[derive(Default)]
pub struct EvalState {
    /// An edit is waiting for the debounce to pass.
    pub pending_since: Option<Instant>,
    pub running: bool,
    /// The last successful evaluation and the draft key it belongs to.
    pub result: Option<(i64, Arc<DraftResult>)>,
    /// The rule changed since `result` was computed: show it dimmed.
    pub stale: bool,
    /// Why the rule cannot be evaluated yet.
    pub error: Option<RuleError>,
    pub failure: Option<String>,
    /// When the newest edit was made, to measure edit-to-count latency.
    pub edited_at: Option<Instant>,
    /// The latency of the last edit that reached the screen.
    pub last_latency: Option<Duration>,
    /// Edits that reached the screen, for measurements.
    pub shown: u64,
}

pub enum SegMsg {
    Evaluated {
        key: i64,
        result: Result<Arc<DraftResult>, DraftError>,
    },
    Counts(Vec<(i64, Result<crate::app::segments::Counted, String>)>),
    Saved {
        key: i64,
        result: Result<(SegmentRecord, SegmentVersion), String>,
    },
    /// The list changed on disk (rename, delete, reorder, duplicate).
    ListChanged {
        result: Result<Vec<SegmentRecord>, String>,
        select: Option<i64>,
    },
    Members(members::MembersMsg),
    Explained(Result<Option<Explanation>, String>),
    Overlap(Result<OverlapReport, String>),
    Versions {
        segment_id: i64,
        result: Result<Vec<SegmentVersion>, String>,
    },
    Compared(Result<VersionDiff, String>),
    Exported(Result<String, String>),
    Discover(discover::DiscoverMsg),
    Sql(sql::SqlMsg),
}

#[derive(Default)]
pub struct SegmentsScreen {
    /// What rules can refer to in the open workspace (once loaded).
    pub schema: Option<Arc<Schema>>,
    /// Saved segments in priority order.
    pub saved: Vec<SegmentRecord>,
    /// Their rules, parsed once when the list is loaded or changes (by id;
    /// a rule that does not parse is missing).
    pub rules: HashMap<i64, Rule>,
    pub counts: HashMap<i64, Result<crate::app::segments::Counted, String>>,
    pub drafts: BTreeMap<i64, Draft>,
    pub current: Option<i64>,
    next_temp: i64,
    pub search: String,
    /// Evaluate as of the end of this day; `None`: now.
    pub as_of_date: Option<jiff::civil::Date>,
    /// "Now", fixed when the workspace loaded so cached leaves stay valid.
    pub live_as_of: i64,
    pub eval: EvalState,
    pub tab: RightTab,
    pub members: members::MembersState,
    pub explain: explain::ExplainState,
    pub overlap: overlap::OverlapState,
    pub discover: discover::DiscoverState,
    pub sql: sql::SqlState,
    pub history: history::HistoryState,
    pub confirm_delete: Option<i64>,
    pub renaming: Option<(i64, String)>,
}

impl SegmentsScreen {
    /// Called when a workspace's engine is ready: its segments, counted.
    pub fn loaded(&mut self, loaded: Loaded, ctx: &mut ScreenCtx<'_>) {
        *self = SegmentsScreen {
            schema: Some(loaded.schema),
            live_as_of: now_utc(),
            ..SegmentsScreen::default()
        };
        self.set_saved(loaded.segments);
        if let Some(first) = self.saved.first() {
            let d = Draft::from_record(first);
            self.current = Some(d.key);
            self.drafts.insert(d.key, d);
        }
        self.edited_now();
        self.refresh_counts(ctx);
    }

    /// The saved list, with each rule parsed once.
    fn set_saved(&mut self, list: Vec<SegmentRecord>) {
        self.rules = list
            .iter()
            .filter_map(|r| parse_rule(&r.rule).ok().map(|rule| (r.id, rule)))
            .collect();
        self.saved = list;
    }

    /// The names of the saved segments whose rules refer to `name`.
    pub fn referrers(&self, name: &str) -> Vec<String> {
        self.saved
            .iter()
            .filter(|r| r.name != name)
            .filter(|r| {
                self.rules
                    .get(&r.id)
                    .is_some_and(|rule| rule.refers_to(name))
            })
            .map(|r| r.name.clone())
            .collect()
    }

    /// Another workspace is opening: nothing here belongs to it.
    pub fn unload(&mut self) {
        *self = SegmentsScreen::default();
    }

    pub fn as_of(&self) -> i64 {
        match self.as_of_date {
            Some(d) => {
                let date = chrono::NaiveDate::from_ymd_opt(
                    i32::from(d.year()),
                    d.month() as u32,
                    d.day() as u32,
                )
                .unwrap_or_default();
                date_to_ts(date) + DAY
            }
            None => self.live_as_of,
        }
    }

    pub fn draft(&self) -> Option<&Draft> {
        self.current.and_then(|k| self.drafts.get(&k))
    }

    pub fn draft_mut(&mut self) -> Option<&mut Draft> {
        self.current.and_then(|k| self.drafts.get_mut(&k))
    }

    /// Opens a saved segment (keeping unsaved edits of others).
    pub fn open(&mut self, id: i64) {
        if !self.drafts.contains_key(&id)
            && let Some(r) = self.saved.iter().find(|s| s.id == id)
        {
            self.drafts.insert(id, Draft::from_record(r));
        }
        if self.current != Some(id) {
            self.current = Some(id);
            self.eval.result = None;
            self.eval.error = None;
            self.edited();
            self.eval.pending_since = Some(Instant::now() - TYPING_DEBOUNCE);
            self.history = history::HistoryState::default();
            self.explain.result = None;
        }
    }

    /// Starts a new, unsaved segment.
    pub fn new_segment(&mut self) {
        let mut rule = Rule::everyone();
        crate::engine::edit::add_child(
            &mut rule.root,
            &[],
            crate::engine::edit::default_condition(),
        );
        self.new_segment_with("", rule);
    }

    /// A new draft with `rule`, named `base` (or "New segment N"), opened.
    pub fn new_segment_with(&mut self, base: &str, rule: Rule) {
        self.next_temp -= 1;
        let key = self.next_temp;
        let n = self.saved.len() + self.drafts.values().filter(|d| d.id == 0).count() + 1;
        let base = if base.is_empty() { "New segment" } else { base };
        let taken = |name: &str| {
            self.saved.iter().any(|s| s.name == name)
                || self.drafts.values().any(|d| d.name == name)
        };
        let mut name = if base == "New segment" {
            format!("{base} {n}")
        } else {
            base.to_string()
        };
        let mut k = n;
        while taken(&name) {
            k += 1;
            name = format!("{base} {k}");
        }
        self.drafts.insert(
            key,
            Draft {
                key,
                id: 0,
                name,
                color: PALETTE[n % PALETTE.len()].to_string(),
                description: String::new(),
                priority: 0,
                history: RuleHistory::new(rule),
                saved_rule: None,
            },
        );
        self.open(key);
    }

    /// The rule changed: count again after the debounce.
    pub fn edited(&mut self) {
        self.eval.stale = true;
        self.eval.edited_at = Some(Instant::now());
        self.eval.pending_since = Some(Instant::now());
        self.members.invalidate();
        self.overlap.invalidate();
    }

    /// The workspace's sends were read (again): count the draft anew so its
    /// live email metrics follow.
    /// Demo mode changed: an explanation shown quotes fields as they
    /// were; ask again.
    pub fn demo_changed(&mut self) {
        self.explain.result = None;
    }

    pub fn sends_changed(&mut self) {
        if self.current.is_some() {
            self.eval.pending_since = Some(Instant::now() - TYPING_DEBOUNCE);
        }
    }

    /// Like [`SegmentsScreen::edited`], but counts at once (clicks, not typing).
    pub fn edited_now(&mut self) {
        self.edited();
        self.eval.pending_since = Some(Instant::now() - TYPING_DEBOUNCE);
    }
}

impl SegmentsScreen {
    pub fn undo(&mut self) {
        if let Some(d) = self.draft_mut()
            && d.history.undo()
        {
            self.edited_now();
        }
    }

    pub fn redo(&mut self) {
        if let Some(d) = self.draft_mut()
            && d.history.redo()
        {
            self.edited_now();
        }
    }
}
