//! The Segments screen: the segment list (left), the rule builder with live
//! counts (centre), and Members / Explain / Overlap / SQL / History (right).
//!
//! Every computation runs as a job; the screen keeps the last answer and
//! shows it dimmed while a newer one is computed.

pub mod condition;
pub mod explain;
pub mod history;
pub mod list;
pub mod members;
pub mod overlap;
pub mod picker;
pub mod sql;
pub mod tree;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::jobs::JobKey;
use crate::app::segments::{
    DraftError, DraftResult, Loaded, OverlapReport, VersionDiff, evaluate_draft, saved_counts,
};
use crate::engine::describe::describe;
use crate::engine::edit::RuleHistory;
use crate::engine::explain::Explanation;
use crate::engine::parse_rule;
use crate::engine::rule::Rule;
use crate::engine::{RuleError, Schema};
use crate::model::time::{DAY, date_to_ts, now_utc};
use crate::model::{SegmentRecord, SegmentVersion};

use super::commands::UiCommand;
use super::ctx::{Msg, Request, ScreenCtx};
use super::data_screen::format_count;
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
}

impl RightTab {
    pub const ALL: [RightTab; 5] = [
        RightTab::Members,
        RightTab::Explain,
        RightTab::Overlap,
        RightTab::Sql,
        RightTab::History,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RightTab::Members => "Members",
            RightTab::Explain => "Explain",
            RightTab::Overlap => "Overlap",
            RightTab::Sql => "SQL",
            RightTab::History => "History",
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
    Counts(Vec<(i64, Result<usize, String>)>),
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
    pub counts: HashMap<i64, Result<usize, String>>,
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
    pub sql_dialect: crate::engine::sql::Dialect,
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
        self.next_temp -= 1;
        let key = self.next_temp;
        let n = self.saved.len() + self.drafts.values().filter(|d| d.id == 0).count() + 1;
        let mut name = format!("New segment {n}");
        let mut k = n;
        while self.saved.iter().any(|s| s.name == name)
            || self.drafts.values().any(|d| d.name == name)
        {
            k += 1;
            name = format!("New segment {k}");
        }
        let mut rule = Rule::everyone();
        crate::engine::edit::add_child(
            &mut rule.root,
            &[],
            crate::engine::edit::default_condition(),
        );
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

    /// Like [`SegmentsScreen::edited`], but counts at once (clicks, not typing).
    pub fn edited_now(&mut self) {
        self.edited();
        self.eval.pending_since = Some(Instant::now() - TYPING_DEBOUNCE);
    }
}

impl SegmentsScreen {
    /// Starts evaluating the current draft if an edit is due.
    fn maybe_evaluate(&mut self, ctx: &mut ScreenCtx<'_>, egui_ctx: &egui::Context) {
        let Some(since) = self.eval.pending_since else {
            return;
        };
        let wait = TYPING_DEBOUNCE.saturating_sub(since.elapsed());
        if !wait.is_zero() {
            egui_ctx.request_repaint_after(wait);
            return;
        }
        let (Some(engine), Some(schema)) = (ctx.engine.cloned(), self.schema.clone()) else {
            return;
        };
        let Some((key, name, rule)) = self
            .draft()
            .map(|d| (d.key, d.name.clone(), d.history.rule.clone()))
        else {
            return;
        };
        self.eval.pending_since = None;
        self.eval.running = true;
        let as_of = self.as_of();
        ctx.jobs.spawn(JobKey::SegmentEval, "Counting", move |ctx| {
            let result = evaluate_draft(&engine, &schema, &name, &rule, as_of, ctx).map(Arc::new);
            Msg::Segments(SegMsg::Evaluated { key, result })
        });
    }

    /// Recounts every saved segment for the list's badges.
    pub fn refresh_counts(&mut self, ctx: &mut ScreenCtx<'_>) {
        let (Some(engine), Some(schema)) = (ctx.engine.cloned(), self.schema.clone()) else {
            return;
        };
        let segments = self.saved.clone();
        let as_of = self.as_of();
        ctx.jobs
            .spawn(JobKey::SegmentCounts, "Counting segments", move |ctx| {
                let counts = saved_counts(&engine, &schema, &segments, as_of, ctx)
                    .into_iter()
                    .map(|(id, c)| (id, c.map_err(|e| e.to_string())))
                    .collect();
                Msg::Segments(SegMsg::Counts(counts))
            });
    }

    /// Applies a job's answer.
    pub fn handle(&mut self, msg: SegMsg, ctx: &mut ScreenCtx<'_>) {
        let s = self;
        match msg {
            SegMsg::Evaluated { key, result } => {
                s.eval.running = false;
                match result {
                    Ok(r) => {
                        s.eval.result = Some((key, r));
                        s.eval.stale = s.eval.pending_since.is_some();
                        s.eval.error = None;
                        s.eval.failure = None;
                        if let Some(t) = s.eval.edited_at.take() {
                            s.eval.last_latency = Some(t.elapsed());
                        }
                        s.eval.shown += 1;
                        s.members.invalidate();
                        s.overlap.invalidate();
                    }
                    Err(DraftError::Rule(e)) => {
                        s.eval.error = Some(e);
                        s.eval.failure = None;
                    }
                    Err(DraftError::Failed(e)) => s.eval.failure = Some(e.to_string()),
                }
            }
            SegMsg::Counts(counts) => {
                s.counts = counts.into_iter().collect();
            }
            SegMsg::Saved { key, result } => match result {
                Ok((record, version)) => {
                    if let Some(mut d) = s.drafts.remove(&key) {
                        d.key = record.id;
                        d.id = record.id;
                        d.priority = record.priority;
                        d.saved_rule = parse_rule(&record.rule).ok();
                        s.drafts.insert(record.id, d);
                    }
                    if s.current == Some(key) {
                        s.current = Some(record.id);
                    }
                    if let Some(c) = version.member_count {
                        s.counts.insert(record.id, Ok(c as usize));
                    }
                    match s.saved.iter_mut().find(|r| r.id == record.id) {
                        Some(r) => *r = record.clone(),
                        None => s.saved.push(record.clone()),
                    }
                    match parse_rule(&record.rule) {
                        Ok(rule) => s.rules.insert(record.id, rule),
                        Err(_) => s.rules.remove(&record.id),
                    };
                    s.history.versions_for = None;
                    s.reload_schema_segments();
                }
                Err(e) => ctx.error(format!("Could not save the segment: {e}")),
            },
            SegMsg::ListChanged { result, select } => match result {
                Ok(list) => {
                    // Drop drafts of segments that are gone.
                    s.drafts
                        .retain(|k, _| *k < 0 || list.iter().any(|r| r.id == *k));
                    for r in &list {
                        if let Some(d) = s.drafts.get_mut(&r.id) {
                            d.name = r.name.clone();
                            d.color = r.color.clone();
                            d.priority = r.priority;
                        }
                    }
                    s.set_saved(list);
                    if let Some(id) = select {
                        s.open(id);
                    } else if s.current.is_some_and(|k| !s.drafts.contains_key(&k)) {
                        s.current = None;
                        if let Some(first) = s.saved.first().map(|r| r.id) {
                            s.open(first);
                        }
                    }
                    s.reload_schema_segments();
                    s.refresh_counts(ctx);
                }
                Err(e) => ctx.error(e),
            },
            SegMsg::Members(m) => s.members.handle(m),
            SegMsg::Explained(r) => s.explain.result = Some(r),
            SegMsg::Overlap(r) => s.overlap.result = Some(r),
            SegMsg::Versions { segment_id, result } => match result {
                Ok(v) => {
                    s.history.versions_for = Some(segment_id);
                    s.history.versions = v;
                }
                Err(e) => ctx.error(e),
            },
            SegMsg::Compared(r) => s.history.diff = Some(r),
            SegMsg::Exported(r) => match r {
                Ok(path) => s.members.exported = Some(path),
                Err(e) => ctx.error(e),
            },
        }
    }

    /// Refreshes the saved segments the schema knows (for segment conditions).
    fn reload_schema_segments(&mut self) {
        if let Some(schema) = self.schema.as_mut() {
            let mut sc = (**schema).clone();
            sc.segments = self
                .saved
                .iter()
                .filter_map(|r| {
                    let rule = self.rules.get(&r.id)?;
                    Some((r.name.clone(), rule.clone()))
                })
                .collect();
            *schema = Arc::new(sc);
        }
    }

    /// Saves the current draft (Ctrl+S): a new version with its count.
    pub fn save_current(&mut self, ctx: &mut ScreenCtx<'_>) {
        let Some(ws) = ctx.workspace_path() else {
            return;
        };
        let Some(d) = self.draft() else {
            return;
        };
        if let Some(e) = &self.eval.error {
            let message = format!("{} cannot be saved until its rule is valid: {e}", d.name);
            ctx.error(message);
            return;
        }
        let record = d.record();
        let key = d.key;
        let (count, as_of) = match &self.eval.result {
            Some((k, r)) if *k == key && !self.eval.stale => {
                (Some(r.evaluation.count() as i64), Some(r.evaluation.as_of))
            }
            _ => (None, None),
        };
        ctx.jobs
            .spawn(JobKey::SegmentSave, "Saving segment", move |_| {
                let result = crate::store::Store::open(&ws)
                    .map_err(crate::app::AppError::from)
                    .and_then(|mut store| {
                        crate::app::segments::ops::save(&mut store, &record, count, as_of, "")
                    })
                    .map_err(|e| e.to_string());
                Msg::Segments(SegMsg::Saved { key, result })
            });
    }

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

    /// The Segments screen: list, builder, tabs.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        if ctx.engine.is_none() || self.schema.is_none() {
            ui.add_space(24.0);
            ui.vertical_centered(|ui| {
                ui.spinner();
                ui.label("Loading the workspace into memory…");
            });
            return;
        }
        self.maybe_evaluate(ctx, &ui.ctx().clone());
        egui::Panel::left("segment_list")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| list::segment_list_ui(ui, self, ctx));
        egui::Panel::right("segment_tabs")
            .resizable(true)
            .default_size(460.0)
            .show(ui, |ui| tabs_ui(ui, self, ctx));
        egui::CentralPanel::default().show(ui, |ui| builder_ui(ui, self, ctx));
        list::delete_confirmation_ui(&ui.ctx().clone(), self, ctx);
    }
}

fn tabs_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    ui.horizontal(|ui| {
        for t in RightTab::ALL {
            if ui.selectable_label(s.tab == t, t.label()).clicked() {
                s.tab = t;
            }
        }
    });
    ui.separator();
    match s.tab {
        RightTab::Members => members::members_tab_ui(ui, s, ctx),
        RightTab::Explain => explain::explain_tab_ui(ui, s, ctx),
        RightTab::Overlap => overlap::overlap_tab_ui(ui, s, ctx),
        RightTab::Sql => sql::sql_tab_ui(ui, s, ctx),
        RightTab::History => history::history_tab_ui(ui, s, ctx),
    }
}

/// The centre: name, totals, as-of date, the sentence, the rule tree.
fn builder_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(d) = s.draft() else {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.label("No segment yet.");
            if ui.button("New segment").clicked() {
                s.new_segment();
            }
        });
        return;
    };
    let name = d.name.clone();
    let color = d.color.clone();
    let dirty = d.is_dirty();
    let summary = describe(&d.history.rule);
    let (can_undo, can_redo) = (d.history.can_undo(), d.history.can_redo());
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter()
            .circle_filled(rect.center(), 6.0, list::parse_color(&color));
        ui.heading(&name);
        if dirty {
            ui.weak("• unsaved");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let egui_ctx = ui.ctx().clone();
            if ui
                .add_enabled(dirty, egui::Button::new("Save"))
                .on_hover_text(UiCommand::SaveSegment.tooltip(&egui_ctx))
                .clicked()
            {
                commands.push(UiCommand::SaveSegment);
            }
            if ui
                .add_enabled(can_redo, egui::Button::new("Redo"))
                .on_hover_text(UiCommand::Redo.tooltip(&egui_ctx))
                .clicked()
            {
                commands.push(UiCommand::Redo);
            }
            if ui
                .add_enabled(can_undo, egui::Button::new("Undo"))
                .on_hover_text(UiCommand::Undo.tooltip(&egui_ctx))
                .clicked()
            {
                commands.push(UiCommand::Undo);
            }
            as_of_ui(ui, s, ctx);
        });
    });
    totals_ui(ui, s);
    ui.label(egui::RichText::new(summary).italics());
    if let Some(f) = &s.eval.failure {
        ui.colored_label(ui.visuals().error_fg_color, f);
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| tree::rule_tree_ui(ui, s));
    ctx.requests
        .extend(commands.into_iter().map(Request::Command));
}

fn as_of_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let mut changed = false;
    match &mut s.as_of_date {
        Some(date) => {
            let before = *date;
            ui.add(
                egui_extras::DatePickerButton::new(date)
                    .id_salt("as_of_date")
                    .calendar_week(false),
            )
            .on_hover_text("Evaluate as of the end of this day");
            if *date != before {
                changed = true;
            }
            if ui
                .button("Now")
                .on_hover_text("Evaluate as of now")
                .clicked()
            {
                s.as_of_date = None;
                s.live_as_of = now_utc();
                changed = true;
            }
        }
        None => {
            if ui
                .button("As of now")
                .on_hover_text("Evaluate as of a past date")
                .clicked()
            {
                use chrono::Datelike;
                let today = crate::model::time::ts_to_date(now_utc());
                s.as_of_date = jiff::civil::Date::new(
                    today.year() as i16,
                    today.month() as i8,
                    today.day() as i8,
                )
                .ok();
                changed = true;
            }
        }
    }
    if changed {
        s.edited_now();
        s.refresh_counts(ctx);
    }
}

fn totals_ui(ui: &mut egui::Ui, s: &SegmentsScreen) {
    ui.horizontal(|ui| {
        let current = s.current;
        match &s.eval.result {
            Some((k, r)) if Some(*k) == current => {
                let e = &r.evaluation;
                let text = format!(
                    "{} members of {} · {} reachable by email",
                    format_count(e.count() as i64),
                    format_count(e.total as i64),
                    format_count(e.reachable as i64)
                );
                let rich = egui::RichText::new(text).strong();
                if s.eval.stale || s.eval.running {
                    ui.label(rich.weak());
                    ui.spinner();
                } else {
                    ui.label(rich);
                }
                ui.weak(format!(
                    "as of {} UTC · {:.0} ms",
                    crate::model::time::format_ts(e.as_of),
                    e.elapsed.as_secs_f64() * 1000.0
                ));
            }
            _ => {
                if s.eval.error.is_some() {
                    ui.weak("Fix the highlighted condition to count.");
                } else {
                    ui.spinner();
                    ui.weak("Counting…");
                }
            }
        }
    });
}
