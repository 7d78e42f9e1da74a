//! The Segments screen's jobs: live evaluation of the draft, counts of the
//! saved segments, saving; and the handler that applies their answers.

use std::sync::Arc;

use super::{SegMsg, SegmentsScreen, TYPING_DEBOUNCE};
use crate::app::jobs::JobKey;
use crate::app::segments::{DraftError, evaluate_draft, saved_counts};
use crate::engine::parse_rule;
use crate::ui::ctx::{Msg, ScreenCtx};

impl SegmentsScreen {
    /// Starts evaluating the current draft if an edit is due.
    pub(super) fn maybe_evaluate(&mut self, ctx: &mut ScreenCtx<'_>, egui_ctx: &egui::Context) {
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
        let sends = ctx.sends.cloned();
        ctx.jobs.spawn(JobKey::SegmentEval, "Counting", move |ctx| {
            let result = evaluate_draft(&engine, &schema, &name, &rule, as_of, ctx)
                .map(|mut r| {
                    r.live = sends
                        .map(|s| crate::app::performance::live_metrics(&s, &r.evaluation.members));
                    r
                })
                .map(Arc::new);
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
                    // The saved rule is the one just counted.
                    if let (Some(c), Some((_, e))) = (version.member_count, &s.eval.result)
                        && e.evaluation.count() == c as usize
                    {
                        s.counts.insert(record.id, Ok((&e.evaluation).into()));
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
            SegMsg::Discover(m) => super::discover::DiscoverState::handle(s, m, ctx),
            SegMsg::Sql(m) => super::sql::SqlState::handle(s, m, ctx),
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
}
