//! `prism bench warehouse`: each saved segment counted by the in-app
//! engine, by PostgreSQL and by Spark SQL (local mode), on the same data,
//! as of the same time; the counts must agree.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::super::CliError;
use super::super::segments::load_engine;
use crate::engine::sql::{Dialect, compile};
use crate::engine::{parse_rule, resolve, schema_of};
use crate::progress::NoProgress;
use crate::store::Store;
use crate::warehouse::postgres::{Source, load_export};
use crate::warehouse::{export_schema, write_sql_files};

/// A segment's name as a figure's key: `Frequent buyers` → `frequent_buyers`.
fn slug(name: &str) -> String {
    crate::email::export::slug(name).replace('-', "_")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    super::percentile(&v, 50.0)
}

pub fn run(
    workspace: &Path,
    postgres: Option<String>,
    spark: bool,
    runs: usize,
    dir: PathBuf,
) -> Result<(), CliError> {
    let runs = runs.max(1);
    let store = Store::open_read_only(workspace)?;
    let engine = load_engine(&store)?;
    let schema = schema_of(&store)?;
    let as_of = store.event_range()?.map_or(0, |(_, last)| last + 1);
    println!("customers = {}", engine.len());
    println!("events = {}", store.event_count()?);
    println!("as_of = {}", crate::model::time::format_ts(as_of));
    println!(
        "engine_threads = {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut segments = Vec::new();
    for s in store.segments()? {
        let rule = parse_rule(&s.rule).map_err(|e| CliError::new(1, format!("{}: {e}", s.name)))?;
        let node =
            resolve(&rule, &schema).map_err(|e| CliError::new(1, format!("{}: {e}", s.name)))?;
        segments.push((slug(&s.name), node));
    }
    // The in-app engine, cold (its leaf cache cleared before each run).
    let mut counts = Vec::new();
    for (name, node) in &segments {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..runs {
            engine.clear_cache();
            let t = Instant::now();
            count = engine
                .evaluate(node, as_of, &NoProgress)
                .map_err(|e| CliError::new(1, e.to_string()))?
                .count();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "engine_count_{name} = {:.1} ms  # {count} members, cold",
            median(times)
        );
        counts.push(count as u64);
    }
    if postgres.is_none() && !spark {
        println!("# give --postgres URL and/or --spark to measure the warehouse engines");
        return Ok(());
    }
    // One export: the CSV files are the same for every engine.
    let t = Instant::now();
    let exported = export_schema(&store, Dialect::Postgres, &dir, &NoProgress)?;
    println!(
        "export_time = {:.1} s  # CSV of every customer and event",
        t.elapsed().as_secs_f64()
    );
    if let Some(url) = postgres {
        let source = Source::new(&url, Default::default())?;
        let mut client = source.connect()?;
        println!(
            "pg_threads = {}  # 1 + max_parallel_workers_per_gather; index on events(customer_id, name, time)",
            1 + crate::warehouse::postgres::parallel_workers(&mut client)?
                .parse::<u32>()
                .unwrap_or(0)
        );
        let t = Instant::now();
        load_export(&mut client, &exported.dir, "prism_bench")?;
        println!(
            "pg_load_time = {:.1} s  # COPY, an index on events(customer_id, name, time), ANALYZE",
            t.elapsed().as_secs_f64()
        );
        for ((name, node), expected) in segments.iter().zip(&counts) {
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..runs {
                let t = Instant::now();
                n = source.count(&mut client, node, as_of)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            println!(
                "pg_count_{name} = {:.1} ms  # {n} members{}",
                median(times),
                if n == *expected {
                    ""
                } else {
                    ", DIFFERENT from the engine"
                }
            );
        }
        client
            .batch_execute("DROP SCHEMA prism_bench CASCADE")
            .map_err(|e| CliError::new(3, e.to_string()))?;
    }
    if spark {
        write_sql_files(&store, Dialect::Spark, &exported.dir)?;
        let mut queries = Vec::new();
        for (name, node) in &segments {
            let sql = compile(node, as_of, Dialect::Spark).inline();
            for r in 0..runs {
                queries.push(serde_json::json!({
                    "name": format!("{name}#{r}"),
                    "sql": crate::warehouse::count_query(&sql),
                }));
            }
        }
        let qpath = exported.dir.join("spark-queries.json");
        let rpath = exported.dir.join("spark-results.json");
        std::fs::write(&qpath, serde_json::to_string(&queries).unwrap_or_default())
            .map_err(|e| CliError::new(1, format!("{}: {e}", qpath.display())))?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/run_queries.py");
        let status = std::process::Command::new("python3")
            .arg(&script)
            .arg("spark")
            .arg(&exported.dir)
            .arg(&qpath)
            .arg(&rpath)
            .env("PRISM_SPARK_MEMORY", "12g")
            .status()
            .map_err(|e| CliError::new(1, format!("python3: {e}")))?;
        if !status.success() {
            return Err(CliError::new(
                1,
                format!("Spark: {} failed: {status}", script.display()),
            ));
        }
        let text = std::fs::read_to_string(&rpath)
            .map_err(|e| CliError::new(1, format!("{}: {e}", rpath.display())))?;
        let results: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CliError::new(1, e.to_string()))?;
        println!(
            "spark_load_time = {:.1} s  # session start, CSV read and cached in memory",
            results["load_seconds"].as_f64().unwrap_or(f64::NAN)
        );
        println!("spark_threads = 2  # local[2]");
        for ((name, _), expected) in segments.iter().zip(&counts) {
            let times: Vec<f64> = (0..runs)
                .map(|r| {
                    results["seconds"][format!("{name}#{r}")]
                        .as_f64()
                        .unwrap_or(f64::NAN)
                        * 1e3
                })
                .collect();
            let answer = &results["results"][format!("{name}#0")];
            let n = answer[0].as_u64();
            println!(
                "spark_count_{name} = {:.1} ms  # {} members{}",
                median(times),
                n.map_or_else(|| answer.to_string(), |n| n.to_string()),
                if n == Some(*expected) {
                    ""
                } else {
                    ", DIFFERENT from the engine"
                }
            );
        }
    }
    Ok(())
}
