//! `prism bench engine`.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use super::{given_or_bench_workspace, p50_p95, peak_rss};
use crate::cli::CliError;
use crate::engine::data::EngineData;
use crate::engine::rule::Rule;
use crate::engine::snapshot;
use crate::engine::sql::{Dialect, compile};
use crate::engine::{Engine, EngineError, parse_rule, resolve, schema_of};
use crate::model::time::now_utc;
use crate::progress::NoProgress;
use crate::store::Store;

/// The five representative rules: (name, root).
pub fn default_rules() -> Vec<(String, Value)> {
    let last = |d: i64| json!({"kind": "last_days", "days": d});
    let orders = |op: &str, n: i64, w: Value| json!({"type": "event", "event": "order", "op": op, "value": n, "window": w});
    vec![
        (
            "vip".into(),
            json!({"type": "group", "match": "all", "children": [
                orders("greater_than", 5, last(30)),
                {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 500, "window": last(30)}]}),
        ),
        (
            "lapsed".into(),
            json!({"type": "group", "match": "all", "children": [
                orders("at_least", 1, json!({"kind": "ever"})),
                orders("equals", 0, last(90))]}),
        ),
        (
            "engaged_browsers".into(),
            json!({"type": "group", "match": "all", "children": [
                {"type": "event", "event": "email_open", "op": "greater_than", "value": 3, "window": last(30)},
                orders("equals", 0, last(30))]}),
        ),
        (
            "high_value_infrequent".into(),
            json!({"type": "group", "match": "all", "children": [
                {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 2000},
                {"type": "event", "event": "order", "aggregate": "distinct_days", "op": "less_than", "value": 3}]}),
        ),
        (
            "mixed_3_levels".into(),
            json!({"type": "group", "match": "all", "children": [
                {"type": "group", "match": "any", "children": [
                    {"type": "group", "match": "all", "children": [
                        {"type": "profile", "field": "country", "op": "in_list", "value": ["DE", "US"]},
                        {"type": "profile", "field": "signup_at", "op": "within_last_days", "value": 365, "not": true}]},
                    {"type": "profile", "field": "loyalty_tier", "op": "equals", "value": "gold"}]},
                {"type": "group", "match": "any", "not": true, "children": [
                    {"type": "profile", "field": "email_consent", "op": "is_false"},
                    {"type": "event", "event": "unsubscribe", "op": "at_least", "value": 1}]},
                {"type": "event", "event": "product_view", "op": "at_least", "value": 2, "window": last(30),
                 "filters": [{"property": "category", "op": "in_list", "value": ["Shoes", "Apparel"]}]}]}),
        ),
    ]
}

/// The first leaf (depth first) with a number to change, and its path.
fn numeric_leaf(node: &mut Value, path: String) -> Option<(&mut Value, String)> {
    if node["type"] == "group" {
        let n = node["children"].as_array().map_or(0, Vec::len);
        for k in 0..n {
            let p = format!("{path}.children[{k}]");
            if numeric_leaf(&mut node["children"][k], p.clone()).is_some() {
                return numeric_leaf(&mut node["children"][k], p);
            }
        }
        return None;
    }
    node.get("value")
        .is_some_and(Value::is_number)
        .then_some((node, path))
}

fn fmt_ms(x: f64) -> String {
    format!("{x:.1} ms")
}

/// Opens the workspace as the app does (from its snapshot when it is
/// current) and counts every saved segment: the times, and this process's
/// resident memory afterwards.
pub fn open_only(path: &std::path::Path) -> Result<(), CliError> {
    let started = Instant::now();
    let store = Store::open_read_only(path)?;
    let engine = Engine::load(&store, &NoProgress).map_err(EngineError::from)?;
    let open = started.elapsed().as_secs_f64();
    let schema = schema_of(&store)?;
    let as_of = store
        .info()?
        .event_range
        .map(|(_, hi)| hi + 1)
        .unwrap_or_else(now_utc);
    let saved = crate::app::performance::saved_rules(&schema, &store.segments()?);
    let mut first_count = None;
    for r in &saved {
        engine
            .evaluate(&r.node, as_of, &NoProgress)
            .map_err(|e| CliError::new(1, e.to_string()))?;
        first_count.get_or_insert(started.elapsed().as_secs_f64());
    }
    let all_counts = started.elapsed().as_secs_f64();
    let origin = match engine.origin() {
        crate::engine::Origin::Snapshot => "from its snapshot".to_string(),
        crate::engine::Origin::Built { why, .. } => format!("built from the tables: {why}"),
    };
    println!("engine_open = {open:.2} s ({origin})");
    if let Some(t) = first_count {
        println!("open_to_first_saved_count = {t:.2} s");
    }
    println!(
        "open_to_all_{}_saved_counts = {all_counts:.2} s",
        saved.len()
    );
    println!(
        "engine_memory = {:.0} MB (columns, estimated)",
        engine.data.heap_size() as f64 / 1e6
    );
    if let Some(rss) = super::current_rss() {
        println!(
            "rss_after_open_and_counts = {:.0} MB (whole process)",
            rss as f64 / 1e6
        );
    }
    Ok(())
}

pub fn run(
    workspace: Option<PathBuf>,
    rule_files: Vec<PathBuf>,
    customers: u64,
    runs: usize,
    sqlite_runs: usize,
) -> Result<(), CliError> {
    let path = given_or_bench_workspace(workspace, customers)?;
    let rules: Vec<(String, Value)> = if rule_files.is_empty() {
        default_rules()
    } else {
        rule_files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| CliError::new(2, format!("{}: {e}", f.display())))?;
                let rule = parse_rule(&text)
                    .map_err(|e| CliError::new(2, format!("{}: rule error at {e}", f.display())))?;
                let name = f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "rule".into());
                Ok((name, serde_json::to_value(&rule.root).unwrap_or_default()))
            })
            .collect::<Result<_, CliError>>()?
    };
    // SQLite's side of the comparison reads each customer's events through
    // the index a first load leaves out (the engine does not): built once
    // here, outside every timing, and said.
    let t = Instant::now();
    if Store::open(&path)?.ensure_index(&crate::store::schema::EVENTS_BY_CUSTOMER)? {
        println!(
            "sqlite_events_index_build = {:.2} s  # once, for SQLite's side of the comparison",
            t.elapsed().as_secs_f64()
        );
    }
    let store = Store::open_read_only(&path)?;
    let schema = schema_of(&store)?;
    let info = store.info()?;
    let as_of = info
        .event_range
        .map(|(_, hi)| hi + 1)
        .unwrap_or_else(now_utc);
    let rss_before = peak_rss().unwrap_or(0);
    // Built from the tables (what every open cost before snapshots, and
    // what the first open after an import still costs), then written as
    // the snapshot.
    let fp = snapshot::fingerprint(&store)?;
    let started = Instant::now();
    let data = EngineData::load(&store, &NoProgress).map_err(EngineError::from)?;
    let build = started.elapsed().as_secs_f64();
    let peak_after_build = peak_rss().unwrap_or(0);
    let cache = snapshot::path_for(&path);
    let started = Instant::now();
    snapshot::write(&data, &fp, &cache)
        .map_err(|e| CliError::new(1, format!("{}: {e}", cache.display())))?;
    let write = started.elapsed().as_secs_f64();
    drop(data);
    // An open as the app does it, in a fresh process (so its memory is the
    // engine's alone): snapshot checked and read, the saved segments
    // counted.
    let exe = std::env::current_exe().map_err(|e| CliError::new(1, e.to_string()))?;
    let out = std::process::Command::new(exe)
        .args(["bench", "engine", "--open-only", "--workspace"])
        .arg(&path)
        .output()
        .map_err(|e| CliError::new(1, format!("could not time an open: {e}")))?;
    if !out.status.success() {
        return Err(CliError::new(
            1,
            format!(
                "timing an open failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    let opened = String::from_utf8_lossy(&out.stdout).into_owned();
    let engine = Engine::load(&store, &NoProgress).map_err(EngineError::from)?;
    println!("workspace = {}", path.display());
    println!(
        "customers = {}",
        info.tables
            .iter()
            .find(|t| t.name == "customers")
            .map(|t| t.rows)
            .unwrap_or(0)
    );
    println!(
        "events = {}",
        info.tables
            .iter()
            .find(|t| t.name == "events")
            .map(|t| t.rows)
            .unwrap_or(0)
    );
    println!("engine_build_from_tables = {build:.2} s");
    println!("snapshot_write = {write:.2} s");
    println!(
        "snapshot_size = {:.0} MB",
        std::fs::metadata(&cache).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    print!("{opened}");
    println!(
        "peak_rss_after_build = {:.0} MB",
        peak_after_build as f64 / 1e6
    );
    println!("peak_rss_before_build = {:.0} MB", rss_before as f64 / 1e6);

    let threads = std::thread::available_parallelism().map_or(1, |t| t.get().min(8));
    println!("engine_threads = {threads}");
    for (name, root) in rules {
        let rule = |root: &Value| -> Result<Rule, CliError> {
            parse_rule(&json!({"version": 1, "root": root}).to_string())
                .map_err(|e| CliError::new(2, format!("{name}: {e}")))
        };
        let node = resolve(&rule(&root)?, &schema)
            .map_err(|e| CliError::new(2, format!("{name}: rule error at {e}")))?;
        let mut cold = Vec::new();
        let mut count = 0;
        let mut members_ids: Vec<i64> = Vec::new();
        for _ in 0..runs.max(1) {
            engine.clear_cache();
            let t = Instant::now();
            let ev = engine
                .evaluate(&node, as_of, &NoProgress)
                .map_err(EngineError::from)?;
            cold.push(t.elapsed().as_secs_f64() * 1e3);
            count = ev.count();
            members_ids = ev.members.iter().map(|i| engine.id_of(i)).collect();
        }
        // One-leaf edits: the first numeric leaf's threshold moved to a
        // value never used before, so every edit is a new leaf for the
        // engine to compute (never a cache hit); how many leaves each edit
        // recomputed is printed.
        let mut edits = Vec::new();
        let mut recomputed = Vec::new();
        let mut edited = root.clone();
        let mut edited_path = None;
        let v0 = numeric_leaf(&mut edited, "root".into()).and_then(|(l, _)| l["value"].as_f64());
        for k in 0..runs.max(1) {
            let (Some((leaf, path)), Some(v0)) = (numeric_leaf(&mut edited, "root".into()), v0)
            else {
                break;
            };
            // Whole steps (day counts must stay whole), a new value each time.
            leaf["value"] = json!(v0 + 1.0 + k as f64);
            edited_path = Some(path);
            let n = resolve(&rule(&edited)?, &schema)
                .map_err(|e| CliError::new(2, format!("{name}: rule error at {e}")))?;
            let t = Instant::now();
            let ev = engine
                .evaluate(&n, as_of, &NoProgress)
                .map_err(EngineError::from)?;
            edits.push(t.elapsed().as_secs_f64() * 1e3);
            recomputed.push(ev.leaves_computed);
        }
        let (c50, c95) = p50_p95(&mut cold);
        let (e50, e95) = p50_p95(&mut edits);
        let (sql, params) = compile(&node, as_of, Dialect::Sqlite).parameterized();
        let mut sqlite = Vec::new();
        let mut sql_ids = Vec::new();
        for _ in 0..sqlite_runs.max(1) {
            let t = Instant::now();
            sql_ids = store.query_customer_ids(&sql, &params)?;
            sqlite.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (s50, _) = p50_p95(&mut sqlite);
        println!("{name}_count = {count}");
        println!("{name}_cold_runs = {}", cold.len());
        println!("{name}_cold_p50 = {}", fmt_ms(c50));
        println!("{name}_cold_p95 = {}", fmt_ms(c95));
        match edited_path {
            Some(path) => {
                let lo = recomputed.iter().min().copied().unwrap_or(0);
                let hi = recomputed.iter().max().copied().unwrap_or(0);
                println!("{name}_edits = {} (each moves {path})", edits.len());
                println!("{name}_edit_leaves_recomputed = {lo}–{hi} leaves");
                println!("{name}_edit_p50 = {}", fmt_ms(e50));
                println!("{name}_edit_p95 = {}", fmt_ms(e95));
            }
            None => println!("{name}_edits = 0 (no numeric leaf to edit)"),
        }
        println!(
            "{name}_sqlite = {} (1 thread, the workspace's indexes)",
            fmt_ms(s50)
        );
        println!(
            "{name}_ratio_vs_sqlite = {:.1} x (engine cold p50 on {threads} threads vs SQLite on 1, same file)",
            s50 / c50.max(1e-6)
        );
        let same = members_ids == sql_ids;
        println!(
            "{name}_sqlite_same_members = {}",
            if same { "yes" } else { "NO" }
        );
    }
    println!(
        "peak_rss_end = {:.0} MB",
        peak_rss().unwrap_or(0) as f64 / 1e6
    );
    Ok(())
}
