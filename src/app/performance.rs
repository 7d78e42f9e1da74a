//! What the Performance screen and the builder's live metrics compute,
//! headless (`prism perf` runs the same): the workspace's sends read once,
//! saved segments as rules, and a draft's key metrics.

use std::sync::Arc;

use crate::analytics::{
    self, Attribution, Membership, Report, SegmentRule, Selection, Sends, split_counts,
};
use crate::app::AppError;
use crate::engine::{Bitset, Engine, RNode, Schema, parse_rule, resolve};
use crate::model::SegmentRecord;
use crate::progress::Progress;
use crate::store::Store;

/// Reads every campaign's sends as of `as_of`.
pub fn load_sends(
    store: &Store,
    engine: &Engine,
    attribution: Attribution,
    as_of: i64,
    progress: &dyn Progress,
) -> Result<Sends, AppError> {
    let campaigns = store.campaigns()?;
    Ok(Sends::build(
        engine,
        &campaigns,
        attribution,
        as_of,
        progress,
    )?)
}

/// Saved segments as rules to measure, in priority order; one that no
/// longer resolves is left out (its error is the builder's to show).
pub fn saved_rules(schema: &Schema, segments: &[SegmentRecord]) -> Vec<SegmentRule> {
    let mut segs: Vec<&SegmentRecord> = segments.iter().collect();
    segs.sort_by_key(|s| (s.priority, s.id));
    segs.into_iter()
        .filter_map(|s| {
            let rule = parse_rule(&s.rule).ok()?;
            let node = resolve(&rule, schema).ok()?;
            Some(SegmentRule {
                id: s.id,
                name: s.name.clone(),
                node: Arc::new(node),
            })
        })
        .collect()
}

/// The report over saved segments (all, or those named).
pub fn report(
    engine: &Engine,
    sends: &Sends,
    rules: &[SegmentRule],
    selection: &Selection,
    membership: Membership,
    progress: &dyn Progress,
) -> Result<Report, AppError> {
    Ok(analytics::report(
        engine, sends, rules, selection, membership, progress,
    )?)
}

/// Days of campaigns the builder's live metrics look at.
pub const LIVE_DAYS: i64 = 90;

/// A draft's key metrics while it is being built: its current members over
/// the last [`LIVE_DAYS`] days of campaigns, against the rest of their
/// recipients (cheap enough to follow every edit).
#[derive(Clone, Debug)]
pub struct LiveMetrics {
    pub recipients: u64,
    pub metrics: Vec<analytics::MetricValue>,
    pub campaigns: usize,
}

pub fn live_metrics(sends: &Sends, members: &Arc<Bitset>) -> LiveMetrics {
    let from = sends.as_of - LIVE_DAYS * crate::model::time::DAY;
    let selection = Selection {
        from: Some(from),
        ..Selection::default()
    };
    let sets = analytics::current_by_campaign(sends, members, &selection);
    let (seg, rest) = split_counts(sends, &sets);
    LiveMetrics {
        recipients: seg.recipients,
        metrics: analytics::metrics(&seg, &rest, sends.has_bounces, analytics::SEED),
        campaigns: sends
            .campaigns
            .iter()
            .filter(|c| selection.includes(c))
            .count(),
    }
}

/// A resolved draft or saved rule, for the Performance screen's trend and
/// size charts.
pub fn node_of(rules: &[SegmentRule], id: i64) -> Option<Arc<RNode>> {
    rules.iter().find(|r| r.id == id).map(|r| r.node.clone())
}

/// What the Performance screen shows for a choice of segments and
/// campaigns: the report, and each segment's counts per week and month.
pub struct ScreenData {
    pub report: Report,
    pub weekly: Vec<Vec<analytics::TrendPoint>>,
    pub monthly: Vec<Vec<analytics::TrendPoint>>,
}

/// Loads the saved segments and measures them (one job of the screen).
pub fn screen_data(
    path: &std::path::Path,
    engine: &Engine,
    sends: &Sends,
    only: &[i64],
    selection: &Selection,
    membership: Membership,
    progress: &dyn Progress,
) -> Result<(Vec<SegmentRule>, ScreenData), AppError> {
    let store = Store::open_read_only(path)?;
    let schema = crate::engine::schema_of(&store)?;
    let mut rules = saved_rules(&schema, &store.segments()?);
    if !only.is_empty() {
        rules.retain(|r| only.contains(&r.id));
    }
    let members =
        analytics::segment_members(engine, sends, &rules, selection, membership, progress)?;
    let report = analytics::report_from(sends, &rules, &members, selection, membership);
    let weekly = members
        .iter()
        .map(|m| analytics::trend(sends, m, analytics::Period::Week))
        .collect();
    let monthly = members
        .iter()
        .map(|m| analytics::trend(sends, m, analytics::Period::Month))
        .collect();
    Ok((
        rules,
        ScreenData {
            report,
            weekly,
            monthly,
        },
    ))
}
