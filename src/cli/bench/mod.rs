//! `prism bench …`: measurements printed as `name = value unit`, one a line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Subcommand;

mod engine;
mod import;
mod perf;
mod render;
mod warehouse;

use super::CliError;
use crate::app::workspace::{data_dir, ensure_sample_workspace, sample_workspace_path};
use crate::progress::NoProgress;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Time from launching the app to the first frame showing the workspace
    /// (needs a display; run under xvfb-run on a server).
    Startup {
        /// The workspace to open; the built-in sample by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// How many launches to time.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Import CSVs of customers and events into a fresh workspace: rows per
    /// second and peak memory, and sqlite3's `.import` of the same events.
    Import {
        /// Where the CSVs are written (once) and the workspace built.
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Keep the workspace afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// The Segments screen driven headless: edit-to-count latency and
    /// frame times while counts compute.
    Ui {
        /// The workspace; the generated 1M-customer one by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// The segment to edit; the first one by default.
        #[arg(long)]
        segment: Option<String>,
        /// Edits, half clicked and half typed: 100 of each for a p95.
        #[arg(long, default_value_t = 200)]
        edits: usize,
    },
    /// The Preview screen driven headless: member switch to image on
    /// screen per starter template, keystroke to four columns re-rendered,
    /// frame times while previews render; and the HTML engine alone.
    Preview {
        /// The workspace; a generated one (see --customers) by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// Customers in the generated workspace.
        #[arg(long, default_value_t = 100_000)]
        customers: u64,
        /// Member switches per starter template.
        #[arg(long, default_value_t = 60)]
        switches: usize,
        /// Keystrokes in the editor.
        #[arg(long, default_value_t = 40)]
        keystrokes: usize,
    },
    /// Engine build time and memory, cold and one-leaf-edit evaluation
    /// latency of rules, and the same rules' SQL in SQLite.
    Engine {
        /// The workspace; a generated one (see --customers) by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// Rule files to measure; five representative rules by default.
        #[arg(long = "rule")]
        rules: Vec<PathBuf>,
        /// Customers in the generated workspace.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Evaluations per measurement (cold, and edits): enough for a p95.
        #[arg(long, default_value_t = 100)]
        runs: usize,
        /// Runs of each rule's SQL in SQLite.
        #[arg(long, default_value_t = 1)]
        sqlite_runs: usize,
        /// Only open the workspace as the app does and count its saved
        /// segments (what `bench engine` runs in a fresh process).
        #[arg(long)]
        open_only: bool,
    },
    /// Segment performance: sends read, every metric of 20 segments, the
    /// builder's live metrics after an edit, segment size over 24 months.
    Perf {
        /// The workspace; the generated 1M-customer one by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// Builder edits to time.
        #[arg(long, default_value_t = 40)]
        edits: usize,
    },
    /// Discovery: clustering everyone (k chosen by silhouette on a
    /// sample), a rule for each cluster counted against it, and training
    /// the purchase propensity model (not saved).
    Discover {
        /// The workspace; the generated 1M-customer one by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
    },
    /// Each saved segment counted by the in-app engine (cold), PostgreSQL
    /// and Spark SQL (local mode) on the same data; counts must agree.
    Warehouse {
        /// The workspace; the generated 1M-customer one by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// A PostgreSQL connection string (password from PRISM_PG_PASSWORD);
        /// the workspace is loaded into schema `prism_bench`, then dropped.
        #[arg(long)]
        postgres: Option<String>,
        /// Spark SQL through python3's pyspark, local mode on two threads.
        #[arg(long)]
        spark: bool,
        /// Counts per segment and engine (the median is printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Where the CSV export goes.
        #[arg(long, default_value = "bench-data/warehouse")]
        dir: PathBuf,
    },
    /// Every customer's email: renders per second per core for each starter
    /// template (context included), linting and exporting everyone.
    Render {
        /// The workspace; a generated one (see --customers) by default.
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// Customers in the generated workspace.
        #[arg(long, default_value_t = 100_000)]
        customers: u64,
        /// Customers rendered per template for the per-core figure.
        #[arg(long, default_value_t = 20_000)]
        per_template: usize,
    },
}

pub fn run(what: BenchCommand) -> Result<(), CliError> {
    match what {
        BenchCommand::Startup { workspace, runs } => startup(workspace, runs),
        BenchCommand::Import {
            dir,
            customers,
            events,
            keep,
        } => import::run(dir, customers, events, keep),
        BenchCommand::Ui { .. } | BenchCommand::Preview { .. } => Err(CliError::new(
            1,
            "`bench ui` and `bench preview` are run by the app entry",
        )),
        BenchCommand::Engine {
            workspace,
            rules,
            customers,
            runs,
            sqlite_runs,
            open_only,
        } => match (open_only, workspace) {
            (true, w) => engine::open_only(&given_or_bench_workspace(w, customers)?),
            (false, w) => engine::run(w, rules, customers, runs, sqlite_runs),
        },
        BenchCommand::Perf {
            workspace,
            customers,
            edits,
        } => perf::run(workspace, customers, edits),
        BenchCommand::Render {
            workspace,
            customers,
            per_template,
        } => render::run(workspace, customers, per_template),
        BenchCommand::Discover {
            workspace,
            customers,
        } => discover(&given_or_bench_workspace(workspace, customers)?),
        BenchCommand::Warehouse {
            workspace,
            customers,
            postgres,
            spark,
            runs,
            dir,
        } => warehouse::run(
            &given_or_bench_workspace(workspace, customers)?,
            postgres,
            spark,
            runs,
            dir,
        ),
    }
}

/// `bench discover`: the time to cluster everyone on the four default
/// features (traits computed first, timed apart), and each cluster's rule.
fn discover(workspace: &std::path::Path) -> Result<(), CliError> {
    use crate::discover::{self, Feature};
    let store = crate::store::Store::open_read_only(workspace)?;
    let engine = super::segments::load_engine(&store)?;
    let as_of = crate::model::time::now_utc();
    println!("customers = {}", engine.len());
    println!(
        "threads = {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let t = Instant::now();
    engine.traits(as_of);
    println!("traits_time = {:.2} s", t.elapsed().as_secs_f64());
    let features = Feature::BUILT_IN[..4].to_vec();
    let t = Instant::now();
    let c = discover::clusters(&engine, &features, as_of, None, 1, &NoProgress)
        .map_err(|e| CliError::new(1, e))?;
    println!("clustering_time = {:.2} s", t.elapsed().as_secs_f64());
    println!("k = {}", c.k);
    for (i, cl) in c.clusters.iter().enumerate() {
        let t = Instant::now();
        let r = discover::tree::cluster_rule(&engine, &store, &c, i, &NoProgress)
            .map_err(|e| CliError::new(1, e))?;
        println!(
            "cluster_{}_rule_time = {:.2} s  # {} customers, {}: precision {:.3}, recall {:.3}",
            i + 1,
            t.elapsed().as_secs_f64(),
            cl.size,
            r.text,
            r.precision,
            r.recall
        );
    }
    // Propensity: features at two times, the fit, the validation (not
    // saved: the benchmark leaves the workspace as it was).
    let schema = crate::engine::schema_of(&store)?;
    let t = Instant::now();
    let (_, training) =
        crate::discover::propensity::train(&engine, &schema, engine.data.data_version, &NoProgress)
            .map_err(|e| CliError::new(1, e))?;
    println!(
        "propensity_training_time = {:.2} s",
        t.elapsed().as_secs_f64()
    );
    println!("propensity_auc = {:.3}", training.auc);
    println!("propensity_train_customers = {}", training.train_customers);
    println!("propensity_valid_customers = {}", training.valid_customers);
    Ok(())
}

/// A memory figure of this process from `/proc/self/status`, in bytes
/// (Linux): `VmRSS` now, `VmHWM` its peak so far.
fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident memory of this process now, in bytes (Linux).
pub(crate) fn current_rss() -> Option<u64> {
    proc_status_bytes("VmRSS")
}

/// Peak resident memory of this process so far, in bytes (Linux).
pub(crate) fn peak_rss() -> Option<u64> {
    proc_status_bytes("VmHWM")
}

/// A generated benchmark workspace, made once and kept under `bench-data/`.
pub fn bench_workspace(customers: u64) -> Result<PathBuf, CliError> {
    let dir = PathBuf::from("bench-data");
    std::fs::create_dir_all(&dir).map_err(|e| CliError::new(1, format!("bench-data: {e}")))?;
    let path = dir.join(format!("sample-{customers}.prism"));
    if !path.exists() {
        eprintln!(
            "generating {} ({customers} customers), once",
            path.display()
        );
        let opts = crate::sample::SampleOptions {
            as_of: crate::model::time::parse_instant("2026-11-01").unwrap_or(0),
            ..crate::sample::SampleOptions::new(customers)
        };
        let started = Instant::now();
        crate::sample::generate_workspace(&opts, &path, false, &super::TermProgress::new())
            .map_err(|e| CliError::new(1, e.to_string()))?;
        eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(path)
}

/// The workspace given, or the generated one of `customers` customers.
pub fn given_or_bench_workspace(
    workspace: Option<PathBuf>,
    customers: u64,
) -> Result<PathBuf, CliError> {
    match workspace {
        Some(p) => Ok(p),
        None => bench_workspace(customers),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// p50 and p95 of a list of samples.
pub(crate) fn p50_p95(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    (percentile(samples, 50.0), percentile(samples, 95.0))
}

fn startup(workspace: Option<PathBuf>, runs: usize) -> Result<(), CliError> {
    let path = match workspace {
        Some(p) => p,
        None => {
            let p = sample_workspace_path(&data_dir());
            ensure_sample_workspace(&p, &NoProgress)
                .map_err(|e| CliError::new(1, e.to_string()))?;
            p
        }
    };
    let exe = std::env::current_exe().map_err(|e| CliError::new(1, e.to_string()))?;
    // Per launch: first frame, workspace shown, first exact count shown,
    // every saved segment's count shown (ms from the launch).
    let names = [
        "first_frame",
        "workspace_shown",
        "first_count_shown",
        "saved_counts_shown",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .arg("open")
            .arg(&path)
            .args(["--screen", "segments"])
            .arg("--exit-after-shown")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| CliError::new(1, format!("could not start the app: {e}")))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut got = [false; 4];
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            for (k, name) in names.iter().enumerate() {
                if line.starts_with(&format!("{name} = ")) && !got[k] {
                    got[k] = true;
                    times[k].push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        let status = child.wait().map_err(|e| CliError::new(1, e.to_string()))?;
        if !got.iter().all(|&g| g) || !status.success() {
            return Err(CliError::new(
                1,
                "the app did not show the workspace and its counts (is there a display? try xvfb-run)",
            ));
        }
    }
    println!("runs = {}", times[0].len());
    println!("workspace = {}", path.display());
    // A handful of launches gives a median and a maximum, not a p95.
    for (name, t) in names.iter().zip(&mut times) {
        let (p50, _) = p50_p95(t);
        let max = t.iter().copied().fold(0.0, f64::max);
        println!("start_to_{name}_p50 = {p50:.0} ms");
        println!("start_to_{name}_max = {max:.0} ms");
    }
    Ok(())
}
