//! `prism bench perf`: segment performance on a large workspace. What it
//! times:
//!
//! - `sends_read`: reading every campaign's sends and attributing orders
//!   (once per workspace and evaluation time);
//! - `report_20_segments_{current,as_of_send}_*`: every metric of 20
//!   segments (the seed segments and variants of them) against the rest of
//!   the audience, with intervals and the adjustment; the segments
//!   evaluated once (today's members) or as of every campaign's send;
//! - `live_metrics_after_edit`: an edit in the builder (a threshold
//!   changed, so the engine evaluates anew) to the draft's live metrics;
//! - `size_over_24_months`: one segment evaluated as of 24 month ends.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{given_or_bench_workspace, p50_p95, peak_rss};
use crate::analytics::{
    Attribution, Membership, SegmentRule, Selection, report_from, segment_members, size_over_time,
};
use crate::app::performance::{live_metrics, load_sends, report, saved_rules};
use crate::cli::CliError;
use crate::cli::segments::load_engine;
use crate::engine::rule::Rule;
use crate::engine::{resolve, schema_of};
use crate::progress::NoProgress;
use crate::store::Store;

pub fn run(workspace: Option<PathBuf>, customers: u64, edits: usize) -> Result<(), CliError> {
    let path = given_or_bench_workspace(workspace, customers)?;
    let store = Store::open_read_only(&path)?;
    let started = Instant::now();
    let engine = load_engine(&store)?;
    println!("engine_load = {:.2} s", started.elapsed().as_secs_f64());
    let as_of = store
        .info()?
        .event_range
        .map(|(_, last)| last + 1)
        .unwrap_or_else(crate::model::time::now_utc);
    let started = Instant::now();
    let sends = load_sends(&store, &engine, Attribution::default(), as_of, &NoProgress)?;
    let n_sends: usize = sends.campaigns.iter().map(|c| c.rows.len()).sum();
    println!("sends_read = {:.2} s", started.elapsed().as_secs_f64());
    println!("sends = {n_sends}");
    println!("campaigns = {}", sends.campaigns.len());
    println!("sends_heap = {:.0} MB", sends.heap_size() as f64 / 1e6);

    // 20 segments: the seed segments, then variants of order recency and
    // frequency.
    let schema = schema_of(&store).map_err(|e| CliError::new(1, e.to_string()))?;
    let resolve_json = |root: serde_json::Value| -> Result<_, CliError> {
        let root = serde_json::from_value(root).map_err(|e| CliError::new(1, e.to_string()))?;
        resolve(&Rule::new(root), &schema).map_err(|e| CliError::new(1, e.to_string()))
    };
    let mut rules = saved_rules(&schema, &store.segments()?);
    let mut k = 0;
    while rules.len() < 20 {
        k += 1;
        let root = json!({"type": "event", "event": "order", "aggregate": "count",
            "op": "at_least", "value": 1 + k % 4, "window": {"kind": "last_days", "days": 15 * k}});
        let node = resolve_json(root)?;
        rules.push(SegmentRule {
            id: 10_000 + k,
            name: format!("ordered {}+ in {} days", 1 + k % 4, 15 * k),
            node: Arc::new(node),
        });
    }
    let all = Selection::default();
    let started = Instant::now();
    let r = report(
        &engine,
        &sends,
        &rules,
        &all,
        Membership::Current,
        &NoProgress,
    )?;
    println!(
        "report_20_segments_current_all_campaigns = {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!("report_recipients = {}", r.all.recipients);
    let quarter = Selection {
        from: Some(as_of - 91 * crate::model::time::DAY),
        ..Selection::default()
    };
    let started = Instant::now();
    let q = report(
        &engine,
        &sends,
        &rules,
        &quarter,
        Membership::AsOfSend,
        &NoProgress,
    )?;
    println!(
        "report_20_segments_as_of_send_last_13_weeks = {:.2} s ({} campaigns)",
        started.elapsed().as_secs_f64(),
        q.campaigns
    );
    // The same report in its two parts: who was a member of each segment
    // at each send, then the metrics, intervals and adjustment.
    let started = Instant::now();
    let members = segment_members(
        &engine,
        &sends,
        &rules,
        &all,
        Membership::AsOfSend,
        &NoProgress,
    )
    .map_err(|e| CliError::new(1, e.to_string()))?;
    let t_members = started.elapsed().as_secs_f64();
    let a = report_from(&sends, &rules, &members, &all, Membership::AsOfSend);
    let total = started.elapsed().as_secs_f64();
    println!(
        "report_20_segments_as_of_send_all_campaigns = {total:.2} s ({} campaigns)",
        a.campaigns
    );
    println!("  of_which_membership_at_each_send = {t_members:.2} s");
    println!(
        "  of_which_metrics_and_intervals = {:.2} s",
        total - t_members
    );

    // Edits in the builder: a threshold changed each time (a new rule for
    // the engine, never a cached answer), then the live metrics.
    let mut eval_ms = Vec::new();
    let mut live_ms = Vec::new();
    for e in 0..edits.max(1) {
        let root = json!({"type": "group", "match": "all", "children": [
            {"type": "event", "event": "order", "aggregate": "count", "op": "at_least",
             "value": 1 + e % 3, "window": {"kind": "last_days", "days": 30 + e}},
            {"type": "event", "event": "email_open", "op": "at_least", "value": 1,
             "window": {"kind": "last_days", "days": 60}}]});
        let node = resolve_json(root)?;
        let t0 = Instant::now();
        let members = engine
            .set_of(&node, as_of, &NoProgress)
            .map_err(|e| CliError::new(1, e.to_string()))?;
        let t1 = Instant::now();
        let live = live_metrics(&sends, &members);
        std::hint::black_box(live.recipients);
        eval_ms.push((t1 - t0).as_secs_f64() * 1000.0);
        live_ms.push(t1.elapsed().as_secs_f64() * 1000.0);
    }
    let total: Vec<f64> = eval_ms.iter().zip(&live_ms).map(|(a, b)| a + b).collect();
    let (p50, p95) = p50_p95(&mut total.clone());
    println!("edits = {}", total.len());
    println!("live_metrics_after_edit_p50 = {p50:.1} ms");
    println!("live_metrics_after_edit_p95 = {p95:.1} ms");
    let (p50, p95) = p50_p95(&mut live_ms);
    println!("live_metrics_alone_p50 = {p50:.1} ms");
    println!("live_metrics_alone_p95 = {p95:.1} ms");

    let started = Instant::now();
    let sizes = size_over_time(&engine, &rules[0].node, as_of, 24, &NoProgress)
        .map_err(|e| CliError::new(1, e.to_string()))?;
    println!(
        "size_over_24_months = {:.2} s ({})",
        started.elapsed().as_secs_f64(),
        rules[0].name
    );
    std::hint::black_box(sizes);
    if let Some(rss) = peak_rss() {
        println!("peak_rss = {:.0} MB", rss as f64 / 1e6);
    }
    Ok(())
}
