//! `prism bench import`: CSVs of customers and events imported into a fresh
//! workspace; rows per second and peak memory; and, side by side, the same
//! events file loaded by the sqlite3 shell (into a file, with the
//! workspace's indexes: none on events after a first load) and by DuckDB
//! (into a persistent table), where installed; and the customer-events
//! index the first load left out, built as a query would build it.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::peak_rss;
use crate::cli::{CliError, TermProgress};
use crate::ingest::{ImportOptions, Kind, import_file};
use crate::model::rng::Rng;
use crate::model::time::{DAY, parse_instant};
use crate::sample::{SampleOptions, write_csv};

/// Resets this process's peak RSS (Linux: `echo 5 > /proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Notes when the import has read and written every row and reaches its
/// "finishing" step (likely duplicates, the import's record, the commit).
struct Phases {
    finishing: std::sync::Mutex<Option<Instant>>,
}

impl crate::progress::Progress for Phases {
    fn report(&self, _fraction: f32, message: &str) {
        if message == "finishing"
            && let Ok(mut t) = self.finishing.lock()
        {
            t.get_or_insert_with(Instant::now);
        }
    }
    fn is_cancelled(&self) -> bool {
        false
    }
}

impl Phases {
    fn new() -> Phases {
        Phases {
            finishing: std::sync::Mutex::new(None),
        }
    }

    /// The import of `what`, begun at `start` and `secs` long, split where
    /// its "finishing" step began.
    fn print(&self, what: &str, start: Instant, secs: f64) {
        if let Some(at) = self.finishing.lock().ok().and_then(|t| *t) {
            let load = at.duration_since(start).as_secs_f64();
            println!("{what}_read_validate_insert = {load:.2} s");
            println!(
                "{what}_finish = {:.2} s  # likely duplicates, the import's record, the commit",
                secs - load
            );
        }
    }
}

/// An events CSV with exactly `n` rows over customers `C0000001…`.
fn write_events(path: &Path, n: u64, customers: u64) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::new(1, format!("{}: {e}", path.display()));
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
    writeln!(w, "customer_id,event,timestamp,value,product_sku,category").map_err(io)?;
    let names = [
        "page_view",
        "product_view",
        "add_to_cart",
        "email_open",
        "order",
    ];
    let cats = ["Apparel", "Shoes", "Home", "Books", "Toys"];
    let end = parse_instant("2026-11-01").unwrap_or(0);
    let mut rng = Rng::new(7);
    for _ in 0..n {
        let c = rng.range(1, customers as i64 + 1);
        let name = names[rng.index(names.len())];
        let t = end - rng.range(0, 700 * DAY);
        let ts = crate::model::time::format_ts(t);
        if name == "order" || name == "add_to_cart" {
            let v = rng.range(500, 50_000) as f64 / 100.0;
            let cat = cats[rng.index(cats.len())];
            writeln!(
                w,
                "C{c:07},{name},{ts},{v:.2},SKU-{},{cat}",
                rng.range(1, 300)
            )
            .map_err(io)?;
        } else {
            writeln!(w, "C{c:07},{name},{ts},,,").map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

pub fn run(dir: PathBuf, customers: u64, events: u64, keep: bool) -> Result<(), CliError> {
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::new(1, format!("{}: {e}", dir.display())))?;
    let customers_csv = dir.join(format!("customers-{customers}.csv"));
    let events_csv = dir.join(format!("events-{events}.csv"));
    if !customers_csv.exists() {
        eprintln!("writing {}", customers_csv.display());
        let opts = SampleOptions {
            as_of: parse_instant("2026-11-01").unwrap_or(0),
            ..SampleOptions::new(customers)
        };
        let tmp = dir.join("sample-csv");
        write_csv(&opts, &tmp, &TermProgress::new())
            .map_err(|e| CliError::new(1, e.to_string()))?;
        std::fs::rename(tmp.join("customers.csv"), &customers_csv)
            .map_err(|e| CliError::new(1, e.to_string()))?;
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if !events_csv.exists() {
        eprintln!("writing {}", events_csv.display());
        write_events(&events_csv, events, customers)?;
    }
    let ws = dir.join("import-bench.prism");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = ws.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }

    reset_peak();
    let t = Instant::now();
    let phases = Phases::new();
    let r = import_file(
        &ws,
        &customers_csv,
        &ImportOptions {
            kind: Some(Kind::Customers),
            ..Default::default()
        },
        &phases,
    )
    .map_err(|e| CliError::new(1, e.to_string()))?;
    let secs = t.elapsed().as_secs_f64();
    println!("customers_rows = {}", r.rows_read);
    println!("customers_import = {secs:.2} s");
    phases.print("customers", t, secs);
    println!(
        "customers_rows_per_second = {:.0} rows/s",
        r.rows_read as f64 / secs
    );
    println!(
        "customers_peak_rss = {:.0} MB",
        peak_rss().unwrap_or(0) as f64 / 1e6
    );

    reset_peak();
    let t = Instant::now();
    let phases = Phases::new();
    let r = import_file(
        &ws,
        &events_csv,
        &ImportOptions {
            kind: Some(Kind::Events),
            ..Default::default()
        },
        &phases,
    )
    .map_err(|e| CliError::new(1, e.to_string()))?;
    let secs = t.elapsed().as_secs_f64();
    println!("events_rows = {}", r.rows_read);
    println!("events_inserted = {}", r.inserted);
    println!("events_import = {secs:.2} s");
    phases.print("events", t, secs);
    println!(
        "events_rows_per_second = {:.0} rows/s",
        r.rows_read as f64 / secs
    );
    println!(
        "events_peak_rss = {:.0} MB",
        peak_rss().unwrap_or(0) as f64 / 1e6
    );

    // What the first load left out: the customer-events index, built the
    // first time SQL runs on the workspace or an import checks for events
    // it already has.
    let t = Instant::now();
    let built = crate::store::Store::open(&ws)
        .and_then(|s| s.ensure_index(&crate::store::schema::EVENTS_BY_CUSTOMER))
        .map_err(|e| CliError::new(1, e.to_string()))?;
    if built {
        println!(
            "events_index_on_demand = {:.2} s  # once, when SQL on the workspace or an overlapping import first needs it",
            t.elapsed().as_secs_f64()
        );
    }

    anchors(&dir, &events_csv, secs);
    if !keep {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = ws.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
    Ok(())
}

/// Runs `cmd`, timed; `None` (with the reason printed as `name = …`) when
/// it is not installed or fails.
fn timed(name: &str, cmd: &mut Command) -> Option<f64> {
    let t = Instant::now();
    match cmd.output() {
        Ok(o) if o.status.success() => Some(t.elapsed().as_secs_f64()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let first = err.lines().last().unwrap_or("").trim();
            println!("{name} = skipped (failed: {first})");
            None
        }
        Err(e) => {
            println!("{name} = skipped (not installed: {e})");
            None
        }
    }
}

/// The same events CSV loaded by other tools, each into a file on disk,
/// beside Prism's `prism_secs` for it. Neither checks customers, parses
/// times or dedupes as the import does: they bound what loading the bytes
/// costs.
fn anchors(dir: &Path, events_csv: &Path, prism_secs: f64) {
    let remove = |p: &Path| {
        for suffix in ["", ".wal", "-wal", "-shm", "-journal"] {
            let mut s = p.as_os_str().to_owned();
            s.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
    };
    // sqlite3: one thread, every column as text, and no index: a first
    // load leaves the workspace's events without one.
    let db = dir.join("anchor-sqlite3.db");
    remove(&db);
    let sqlite = timed(
        "sqlite3_import",
        Command::new("sqlite3")
            .arg(&db)
            .arg(format!(".import --csv {} events", events_csv.display())),
    );
    remove(&db);
    if let Some(s) = sqlite {
        println!(
            "sqlite3_import = {s:.2} s (sqlite3 shell, 1 thread, text columns, no index, as the workspace's events after a first load)"
        );
        println!(
            "prism_vs_sqlite3 = {:.2} x (their time over Prism's; above 1, Prism is faster)",
            s / prism_secs
        );
    }
    // DuckDB: read_csv into a persistent table, on every core; the
    // command-line program, else the Python package.
    let ddb = dir.join("anchor-duckdb.db");
    remove(&ddb);
    let sql = format!(
        "CREATE TABLE events AS SELECT * FROM read_csv('{}')",
        events_csv.display().to_string().replace('\'', "''")
    );
    let cli = Command::new("duckdb")
        .arg("-c")
        .arg("SELECT 1")
        .output()
        .is_ok_and(|o| o.status.success());
    let duck = if cli {
        timed(
            "duckdb_read_csv",
            Command::new("duckdb").arg(&ddb).arg("-c").arg(&sql),
        )
    } else {
        let script = format!(
            "import duckdb; c = duckdb.connect({:?}); c.execute({:?}); c.close()",
            ddb.display().to_string(),
            sql
        );
        timed(
            "duckdb_read_csv",
            Command::new("python3").arg("-c").arg(script),
        )
    };
    remove(&ddb);
    if let Some(s) = duck {
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        println!(
            "duckdb_read_csv = {s:.2} s (DuckDB {}, {threads} threads, no indexes)",
            if cli {
                "command line"
            } else {
                "Python package"
            }
        );
        println!(
            "prism_vs_duckdb = {:.2} x (their time over Prism's; above 1, Prism is faster)",
            s / prism_secs
        );
    }
}
