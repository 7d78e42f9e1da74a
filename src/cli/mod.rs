//! The command line: argument definitions and the headless commands.
//!
//! `prism` and `prism open` start the GUI (the app entry handles those);
//! everything else runs here, on the same services the GUI uses.

pub mod bench;
mod email;
mod perf;
mod segments;
mod snapshot;
mod warehouse;

pub use segments::RuleSource;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::Screen;
use crate::model::time::{now_utc, parse_instant, start_of_day};
use crate::progress::Progress;
use crate::sample::{SampleOptions, generate_workspace, write_csv};
use crate::store::{Store, StoreError};

#[derive(Parser, Debug)]
#[command(
    name = "prism",
    version,
    about = "Prism: design customer segments and preview the emails they receive"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Demo mode: names, emails, phones, addresses and free text shown
    /// and written as stable stand-ins (counts do not change).
    #[arg(long, global = true)]
    pub demo: bool,
}

/// Demo mode for this command (`--demo`): every engine it loads masks.
static DEMO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns demo mode on for the commands this process runs.
pub fn set_demo(on: bool) {
    DEMO.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn demo() -> bool {
    DEMO.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the app on a workspace.
    Open {
        /// The workspace file (.prism).
        file: PathBuf,
        /// The screen to show first.
        #[arg(long, value_enum)]
        screen: Option<ScreenArg>,
        /// Start the import wizard on this file (demos, scripted screenshots).
        #[arg(long, value_name = "DATA_FILE")]
        import: Option<PathBuf>,
        /// Print startup timings once the workspace is on screen, then quit
        /// (used by `prism bench startup`).
        #[arg(long, hide = true)]
        exit_after_shown: bool,
    },
    /// Generate a realistic sample workspace, or the same data as CSV exports.
    Sample {
        /// Number of customers.
        #[arg(long, default_value_t = 2_000)]
        customers: u64,
        /// Random seed: the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where to write: a workspace file, or a folder with --csv.
        #[arg(long)]
        out: PathBuf,
        /// Write raw CSV exports (with realistic dirt) instead of a workspace.
        #[arg(long)]
        csv: bool,
        /// The day the data ends (YYYY-MM-DD); today by default.
        #[arg(long)]
        as_of: Option<String>,
        /// Replace an existing workspace file.
        #[arg(long)]
        force: bool,
    },
    /// Show a workspace's tables, row counts, schema version and event dates.
    Info {
        /// The workspace file.
        file: PathBuf,
    },
    /// Import customers, events, products or campaigns from CSV / TSV, JSON
    /// Lines, Parquet or Excel (creates the workspace if it does not exist).
    Import(ImportArgs),
    /// Show, or set, which event is a purchase (what RFM and the order
    /// traits read; `order` unless set).
    PurchaseEvent {
        workspace: PathBuf,
        /// The event name to make the purchase event.
        name: Option<String>,
    },
    /// Data quality: sources and their freshness, missing values, invalid
    /// and duplicate emails.
    Quality {
        workspace: PathBuf,
        /// Sources with nothing newer than this many days are stale.
        #[arg(long, default_value_t = 7)]
        stale_days: i64,
    },
    /// Erase a customer (the right to erasure): the profile, every event,
    /// every mention in import reports and the engine's cached copy; the
    /// file keeps no trace of them. The audit log records that it happened.
    Erase {
        workspace: PathBuf,
        /// The customer's id, or their email (every customer with it).
        #[arg(long)]
        customer: String,
    },
    /// Which customer fields are personal (what demo mode masks); mark
    /// or unmark one.
    Pii {
        workspace: PathBuf,
        /// Mark this field personal.
        #[arg(long, value_name = "FIELD", conflicts_with = "unmark")]
        mark: Option<String>,
        /// What the marked field holds: email, first_name, last_name,
        /// full_name, phone, street, city, postal_code, date, text, secret.
        #[arg(long, requires = "mark")]
        kind: Option<String>,
        /// Mark this field not personal.
        #[arg(long, value_name = "FIELD")]
        unmark: Option<String>,
    },
    /// The audit log: imports, exports, erasures, consent overrides and
    /// demo-mode switches, with time, user and counts.
    Audit {
        workspace: PathBuf,
        /// As CSV (time,user,action,detail).
        #[arg(long)]
        csv: bool,
    },
    /// Count a segment's members exactly (`--tree`: the count at every node).
    Count {
        workspace: PathBuf,
        #[command(flatten)]
        source: RuleSource,
        /// Evaluate as of this date or time (UTC); now by default.
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        tree: bool,
        /// Count on the workspace's database (`prism source set`), as SQL.
        #[arg(long)]
        on_source: bool,
    },
    /// Write a segment's members to a CSV file.
    Members {
        workspace: PathBuf,
        #[command(flatten)]
        source: RuleSource,
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        out: PathBuf,
        /// Sort by this customer field.
        #[arg(long)]
        sort: Option<String>,
        #[arg(long)]
        desc: bool,
        /// A random sample of this many members instead of all.
        #[arg(long)]
        sample: Option<usize>,
        /// Seed of the random sample.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Include customers who cannot be emailed (no consent, no
        /// address, unsubscribed, hard-bounced), for this reason; the
        /// audit log records it.
        #[arg(long, value_name = "REASON")]
        include_unreachable: Option<String>,
        /// Find them on the workspace's database (`prism source set`): the
        /// CSV holds their ids there.
        #[arg(long)]
        on_source: bool,
    },
    /// Why a customer is (or is not) in a segment, condition by condition.
    Explain {
        workspace: PathBuf,
        #[command(flatten)]
        source: RuleSource,
        #[arg(long)]
        as_of: Option<String>,
        /// Workspace id, customer id or email.
        #[arg(long)]
        customer: String,
        /// Ask the workspace's database, node by node.
        #[arg(long)]
        on_source: bool,
    },
    /// Print a segment as SQL to run in your warehouse: sqlite,
    /// postgres, duckdb, spark (Databricks), bigquery or snowflake.
    Sql {
        workspace: PathBuf,
        #[command(flatten)]
        source: RuleSource,
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long, default_value = "sqlite")]
        dialect: String,
        /// Your table and column names (JSON: {"customers": {"table": …,
        /// "columns": {"id": …}}, "events": {…}}).
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
    /// Write the workspace for a warehouse: schema.sql (the tables),
    /// customers.csv and events.csv, and load.sql (what loads them).
    ExportSchema {
        workspace: PathBuf,
        #[arg(long)]
        dialect: String,
        /// The folder to write into (created).
        #[arg(long)]
        out: PathBuf,
    },
    /// Where segments can run besides the local engine: a PostgreSQL
    /// database.
    Source {
        #[command(subcommand)]
        command: warehouse::SourceCommand,
    },
    /// Which groups are in the data: clusters with their silhouette
    /// scores, descriptions and, for one of them, a rule that finds it.
    Discover {
        #[command(subcommand)]
        command: DiscoverCommand,
    },
    /// Save, list or delete saved segments.
    Segment {
        #[command(subcommand)]
        command: segments::SegmentCommand,
    },
    /// Save, list or delete scoring models (points per condition).
    Score {
        #[command(subcommand)]
        command: segments::ScoreCommand,
    },
    /// Add, list, show, export or delete email templates.
    Template {
        #[command(subcommand)]
        command: email::TemplateCommand,
    },
    /// Show the content map (segment → template and A/B variants), or set
    /// one segment's template.
    Map(email::MapArgs),
    /// Print a customer's render context (the JSON templates see).
    Context {
        workspace: PathBuf,
        /// Workspace id, customer id or email.
        #[arg(long)]
        customer: String,
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Render emails for a segment or a customer into a folder (HTML,
    /// .eml, text) or one CSV of subject lines.
    Render(email::RenderArgs),
    /// QA a template over one customer, a segment, or the whole content
    /// map; prints `file:line:column: severity: message` and exits 1 on
    /// errors.
    Lint(email::LintArgs),
    /// How each segment responds to email: rates with 95 % intervals and
    /// lift against the rest of the audience (table, CSV or JSON).
    Perf(perf::PerfArgs),
    /// Paint one email as the Preview screen shows it, to a PNG file (a
    /// template for a customer or a segment's first member, or an HTML
    /// file).
    Snapshot(snapshot::SnapshotArgs),
    /// Measure Prism's speed; prints one `name = value unit` per line.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScreenArg {
    Data,
    Segments,
    Preview,
    Performance,
}

impl From<ScreenArg> for Screen {
    fn from(s: ScreenArg) -> Screen {
        match s {
            ScreenArg::Data => Screen::Data,
            ScreenArg::Segments => Screen::Segments,
            ScreenArg::Preview => Screen::Preview,
            ScreenArg::Performance => Screen::Performance,
        }
    }
}

/// A failed command: its message and exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code,
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        // A file that is not a workspace is bad input: exit code 2.
        let code = if e.is_bad_file() { 2 } else { 1 };
        CliError::new(code, e.to_string())
    }
}

/// Runs a headless command and turns its outcome into an exit code.
///
/// A closed standard output (`prism count … | head -1`) ends the command
/// quietly, as in every Unix tool. A panic, which would be a bug, becomes
/// one clear line and exit code 2, never a backtrace.
pub fn run(command: Command) -> ExitCode {
    quiet_on_closed_pipe();
    // A panic is kept, not printed: one caught inside a reader becomes a
    // clear error about the file; one that ends the command is printed once.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!("{what}{at}"));
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_command(command))) {
        Ok(code) => code,
        Err(_) => {
            let what = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut l| l.take())
                .unwrap_or_else(|| "unknown".into());
            eprintln!(
                "prism: internal error: {what}; an import or save in progress was rolled back. Please report this."
            );
            ExitCode::from(2)
        }
    }
}

static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Restores the default action of SIGPIPE, so that writing to a closed
/// pipe ends the process silently instead of failing every `println!`.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default is always sound;
    // no handler runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run_command(command: Command) -> ExitCode {
    let result = match command {
        Command::Open { .. } => Err(CliError::new(1, "`open` starts the app")),
        Command::Sample {
            customers,
            seed,
            out,
            csv,
            as_of,
            force,
        } => sample(customers, seed, out, csv, as_of, force),
        Command::Info { file } => info(file),
        Command::Import(args) => import(args),
        Command::PurchaseEvent { workspace, name } => purchase_event(&workspace, name),
        Command::Quality {
            workspace,
            stale_days,
        } => quality(&workspace, stale_days),
        Command::Erase {
            workspace,
            customer,
        } => erase(&workspace, &customer),
        Command::Audit { workspace, csv } => audit(&workspace, csv),
        Command::Pii {
            workspace,
            mark,
            kind,
            unmark,
        } => pii(&workspace, mark, kind, unmark),
        Command::Count {
            workspace,
            source,
            as_of,
            tree,
            on_source: true,
        } => warehouse::count_on_source(&workspace, &source, as_of, tree),
        Command::Count {
            workspace,
            source,
            as_of,
            tree,
            on_source: false,
        } => segments::count(&workspace, &source, as_of, tree),
        Command::Members {
            workspace,
            source,
            as_of,
            out,
            include_unreachable,
            on_source: true,
            ..
        } => warehouse::members_on_source(
            &workspace,
            &source,
            as_of,
            &out,
            include_unreachable.as_deref(),
        ),
        Command::Members {
            workspace,
            source,
            as_of,
            out,
            sort,
            desc,
            sample,
            seed,
            include_unreachable,
            on_source: false,
        } => segments::members(
            &workspace,
            &source,
            as_of,
            &out,
            sort,
            desc,
            sample,
            seed,
            include_unreachable.as_deref(),
        ),
        Command::Explain {
            workspace,
            source,
            as_of,
            customer,
            on_source: false,
        } => segments::explain(&workspace, &source, as_of, &customer),
        Command::Explain {
            workspace,
            source,
            as_of,
            customer,
            on_source: true,
        } => warehouse::explain_on_source(&workspace, &source, as_of, &customer),
        Command::Sql {
            workspace,
            source,
            as_of,
            dialect,
            mapping,
        } => warehouse::sql(&workspace, &source, as_of, &dialect, mapping.as_deref()),
        Command::ExportSchema {
            workspace,
            dialect,
            out,
        } => warehouse::export(&workspace, &dialect, &out),
        Command::Source { command } => warehouse::source(command),
        Command::Segment { command } => segments::segment(command),
        Command::Discover { command } => discover(command),
        Command::Score { command } => segments::score(command),
        Command::Template { command } => email::template(command),
        Command::Map(args) => email::map(args),
        Command::Context {
            workspace,
            customer,
            as_of,
        } => email::context(&workspace, &customer, as_of),
        Command::Render(args) => email::render(args),
        Command::Lint(args) => email::lint_command(args),
        Command::Snapshot(args) => snapshot::snapshot(args),
        Command::Perf(args) => perf::perf(args),
        Command::Bench { what } => bench::run(what),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prism: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

/// How progress is shown on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProgressStyle {
    /// A terminal: one line rewritten in place.
    Terminal,
    /// `PRISM_PROGRESS=lines`: plain lines, for logs and scripts.
    Lines,
    /// A pipe, a file, CI: nothing.
    Quiet,
}

/// Progress on stderr, at most twice a second, and only where someone can
/// read it: a terminal gets a line rewritten in place; a pipe or a log file
/// gets nothing (no control sequences), unless `PRISM_PROGRESS=lines` asks
/// for plain lines.
pub(crate) struct TermProgress {
    last: std::sync::Mutex<Option<Instant>>,
    style: ProgressStyle,
}

impl TermProgress {
    pub(crate) fn new() -> TermProgress {
        use std::io::IsTerminal;
        let style = if std::env::var("PRISM_PROGRESS").is_ok_and(|v| v == "lines") {
            ProgressStyle::Lines
        } else if std::io::stderr().is_terminal() {
            ProgressStyle::Terminal
        } else {
            ProgressStyle::Quiet
        };
        TermProgress {
            last: std::sync::Mutex::new(None),
            style,
        }
    }
}

impl Progress for TermProgress {
    fn report(&self, fraction: f32, message: &str) {
        if self.style == ProgressStyle::Quiet {
            return;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = match self.style {
            // Every report, so a script sees the first written batch.
            ProgressStyle::Lines => true,
            _ => last.is_none_or(|t| t.elapsed().as_millis() >= 500),
        };
        if due {
            *last = Some(Instant::now());
            let mut err = std::io::stderr().lock();
            let _ = match self.style {
                ProgressStyle::Lines => {
                    writeln!(err, "progress {:.1}% {message}", fraction * 100.0)
                }
                _ => write!(err, "\r{:>5.1}%  {message}\x1b[K", fraction * 100.0),
            };
            let _ = err.flush();
        }
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

impl Drop for TermProgress {
    fn drop(&mut self) {
        let shown = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        if self.style == ProgressStyle::Terminal && shown {
            eprint!("\r\x1b[K");
        }
    }
}

fn parse_as_of(as_of: Option<String>) -> Result<i64, CliError> {
    match as_of {
        None => Ok(start_of_day(now_utc())),
        Some(s) => parse_instant(&s).ok_or_else(|| {
            CliError::new(2, format!("--as-of {s:?}: expected a date like 2026-11-01"))
        }),
    }
}

/// `--as-of` for evaluations: the current instant by default.
pub(crate) fn parse_as_of_or_now(as_of: Option<String>) -> Result<i64, CliError> {
    match as_of {
        None => Ok(now_utc()),
        some => parse_as_of(some),
    }
}

fn sample(
    customers: u64,
    seed: u64,
    out: PathBuf,
    csv: bool,
    as_of: Option<String>,
    force: bool,
) -> Result<(), CliError> {
    let opts = SampleOptions {
        customers,
        seed,
        as_of: parse_as_of(as_of)?,
        ..SampleOptions::new(customers)
    };
    let started = Instant::now();
    let progress = TermProgress::new();
    let stats = if csv {
        write_csv(&opts, &out, &progress)
    } else {
        generate_workspace(&opts, &out, force, &progress)
    }
    .map_err(|e| CliError::new(1, e.to_string()))?;
    drop(progress);
    let secs = started.elapsed().as_secs_f64();
    let size: u64 = if csv {
        std::fs::read_dir(&out)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    } else {
        std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0)
    };
    println!("wrote {}", out.display());
    println!("customers = {}", stats.customers);
    println!("events = {}", stats.events);
    println!("products = {}", stats.products);
    println!("campaigns = {}", stats.campaigns);
    for (name, n) in &stats.events_by_name {
        println!("events_{name} = {n}");
    }
    for (name, n) in &stats.by_lifecycle {
        println!("lifecycle_{name} = {n}");
    }
    println!("opted_out = {}", stats.opted_out);
    println!("wall_time = {secs:.2} s");
    println!("size = {:.1} MB", size as f64 / 1e6);
    println!(
        "events_per_second = {:.0} events/s",
        stats.events as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn info(file: PathBuf) -> Result<(), CliError> {
    let store = Store::open_read_only(&file)?;
    print!("{}", store.info()?);
    Ok(())
}

// `prism import`: the arguments, as the wizard's options are set.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    workspace: PathBuf,
    file: PathBuf,
    #[arg(long, value_parser = ["customers", "events", "products", "campaigns"])]
    kind: Option<String>,
    /// One event name for every row (events files without an event column).
    #[arg(long)]
    event: Option<String>,
    /// `column=field` (or `column=skip`, `column=custom:name[:type]`); repeat.
    #[arg(long = "map")]
    map: Vec<String>,
    /// Date format of every date column: iso, yyyymmdd, mm/dd/yyyy,
    /// dd/mm/yyyy, dd.mm.yyyy, epoch.
    #[arg(long)]
    date_format: Option<String>,
    /// Create customers for events of customers the workspace lacks.
    #[arg(long)]
    create_missing_customers: bool,
    /// Exit with an error if any row is rejected.
    #[arg(long)]
    strict: bool,
    /// Check and report, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The CSV delimiter (detected if not given); `\t` for tabs.
    #[arg(long)]
    delimiter: Option<String>,
    /// Write the rejected rows to this CSV file (`-`: standard output).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Drop rows identical to an earlier row (files without an event id,
    /// where identical rows are otherwise kept as separate events).
    #[arg(long)]
    drop_identical_rows: bool,
}

fn import(a: ImportArgs) -> Result<(), CliError> {
    use crate::ingest::{ImportError, ImportOptions, Kind, import_file, values::DateFormat};
    let date_format = match &a.date_format {
        None => None,
        Some(f) => Some(DateFormat::parse_key(f).ok_or_else(|| {
            CliError::new(
                2,
                format!("--date-format {f:?}: use iso, yyyymmdd, mm/dd/yyyy, dd/mm/yyyy, dd.mm.yyyy or epoch"),
            )
        })?),
    };
    let delimiter = match a.delimiter.as_deref() {
        None => None,
        Some("\\t") | Some("tab") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(CliError::new(
                2,
                format!("--delimiter {d:?}: one character"),
            ));
        }
    };
    let options = ImportOptions {
        kind: a.kind.as_deref().and_then(Kind::parse),
        overrides: a.map,
        event_name: a.event,
        date_format,
        create_missing_customers: a.create_missing_customers,
        delimiter,
        dry_run: a.dry_run,
        drop_identical_rows: a.drop_identical_rows,
        ..ImportOptions::default()
    };
    // A workspace that exists must be a workspace: check before anything.
    if a.workspace.exists() {
        Store::inspect(&a.workspace)?;
    }
    let progress = TermProgress::new();
    let report = import_file(&a.workspace, &a.file, &options, &progress).map_err(|e| match e {
        ImportError::Store(s) => CliError::from(s),
        ImportError::Cancelled => CliError::new(1, e.to_string()),
        other => CliError::new(2, other.to_string()),
    })?;
    drop(progress);
    if a.rejects.as_deref() == Some(std::path::Path::new("-")) {
        // Standard output gets the rejects CSV alone; the report goes to stderr.
        eprint!("{}", report.to_text());
        print!("{}", report.rejects_csv());
        eprintln!("rows_per_second = {:.0} rows/s", report.rows_per_sec());
    } else {
        print!("{}", report.to_text());
        if let Some(path) = &a.rejects {
            std::fs::write(path, report.rejects_csv())
                .map_err(|e| CliError::new(1, format!("{}: {e}", path.display())))?;
            println!("rejected rows written to {}", path.display());
        }
        println!("rows_per_second = {:.0} rows/s", report.rows_per_sec());
    }
    if a.strict && report.rejected > 0 {
        return Err(CliError::new(
            3,
            format!("{} rows were rejected (--strict)", report.rejected),
        ));
    }
    Ok(())
}

fn purchase_event(workspace: &std::path::Path, name: Option<String>) -> Result<(), CliError> {
    Store::inspect(workspace)?;
    let mut store = Store::open(workspace)?;
    if let Some(name) = name {
        let known = store.event_names()?;
        if !known.contains(&name) {
            return Err(CliError::new(
                2,
                format!(
                    "the workspace has no events named {name:?} (it has: {})",
                    known.join(", ")
                ),
            ));
        }
        store.set_purchase_event(&name)?;
    }
    println!("purchase_event = {}", store.purchase_event()?);
    Ok(())
}

fn quality(workspace: &std::path::Path, stale_days: i64) -> Result<(), CliError> {
    let store = Store::open_read_only(workspace)?;
    let q = crate::ingest::quality::quality(&store, stale_days, now_utc())?;
    print!("{}", q.to_text());
    Ok(())
}

fn erase(workspace: &std::path::Path, who: &str) -> Result<(), CliError> {
    let e = crate::app::workspace::erase_customer(workspace, who).map_err(|e| match e {
        crate::app::workspace::OpenError::Store(s) => CliError::from(s),
        other => CliError::new(1, other.to_string()),
    })?;
    println!("{}", crate::app::workspace::erasure_text(&e));
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum DiscoverCommand {
    /// K-means on standardized features; k by silhouette over 2..8.
    Clusters {
        workspace: PathBuf,
        /// Use this many clusters instead of the best silhouette.
        #[arg(long)]
        k: Option<usize>,
        /// Comma-separated: recency, frequency, monetary, engagement,
        /// tenure, or numeric fields (default: the first four).
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        as_of: Option<String>,
        /// Also write a rule for this cluster (1-based), with its
        /// precision and recall against the cluster.
        #[arg(long, value_name = "N")]
        rule_for: Option<usize>,
    },
    /// Train the propensity to order in the next 30 days (logistic
    /// regression, validated out of time) and keep it as the scoring
    /// model `propensity_order_30d` that rules can test.
    Propensity {
        workspace: PathBuf,
        /// Only show the last training's figures.
        #[arg(long)]
        show: bool,
    },
}

fn discover(command: DiscoverCommand) -> Result<(), CliError> {
    use crate::discover::{self, Feature};
    let (workspace, k, features, seed, as_of, rule_for) = match command {
        DiscoverCommand::Propensity { workspace, show } => return propensity(&workspace, show),
        DiscoverCommand::Clusters {
            workspace,
            k,
            features,
            seed,
            as_of,
            rule_for,
        } => (workspace, k, features, seed, as_of, rule_for),
    };
    let as_of = parse_as_of_or_now(as_of)?;
    let store = Store::open_read_only(&workspace)?;
    let engine = segments::load_engine(&store)?;
    let features: Vec<Feature> = match features {
        None => Feature::BUILT_IN[..4].to_vec(),
        Some(keys) => keys
            .iter()
            .map(|k| Feature::parse(k, &engine))
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::new(2, e))?,
    };
    let progress = TermProgress::new();
    let started = std::time::Instant::now();
    let c = discover::clusters(&engine, &features, as_of, k, seed, &progress)
        .map_err(|e| CliError::new(2, e))?;
    print!("{}", discover::clusters_text(&c));
    println!("clustering_time = {:.2} s", started.elapsed().as_secs_f64());
    if let Some(n) = rule_for {
        let r = discover::tree::cluster_rule(&engine, &store, &c, n.wrapping_sub(1), &progress)
            .map_err(|e| CliError::new(2, e))?;
        println!("rule = {}", r.text);
        println!("rule_members = {}", r.members);
        println!("precision = {:.3}", r.precision);
        println!("recall = {:.3}", r.recall);
        println!("rule_json = {}", r.rule);
    }
    Ok(())
}

fn propensity(workspace: &std::path::Path, show: bool) -> Result<(), CliError> {
    use crate::discover::propensity::training_text;
    if show {
        let store = Store::open_read_only(workspace)?;
        return match crate::app::discover::propensity_figures(&store)? {
            Some(t) => {
                print!("{}", training_text(&t));
                Ok(())
            }
            None => Err(CliError::new(
                2,
                "no propensity model yet: run `prism discover propensity` without --show",
            )),
        };
    }
    let engine = {
        let store = Store::open_read_only(workspace)?;
        segments::load_engine(&store)?
    };
    let started = std::time::Instant::now();
    let t = crate::app::discover::train_propensity(workspace, &engine, &TermProgress::new())?;
    print!("{}", training_text(&t));
    println!("training_time = {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn pii(
    workspace: &std::path::Path,
    mark: Option<String>,
    kind: Option<String>,
    unmark: Option<String>,
) -> Result<(), CliError> {
    use crate::model::mask::PiiKind;
    let kind = match kind.as_deref() {
        None => None,
        Some(k) => Some(PiiKind::parse(k).ok_or_else(|| {
            let kinds: Vec<&str> = PiiKind::ALL.iter().map(|k| k.as_str()).collect();
            CliError::new(2, format!("--kind {k:?}: use one of {}", kinds.join(", ")))
        })?),
    };
    if mark.is_some() || unmark.is_some() {
        let store = Store::open(workspace)?;
        let set = match (&mark, &unmark) {
            (Some(f), _) => store.set_pii(f, true, kind),
            (_, Some(f)) => store.set_pii(f, false, None),
            _ => Ok(None),
        };
        set.map_err(|e| match e {
            // An unknown field is the user's input.
            StoreError::Invalid(m) => CliError::new(2, m),
            other => other.into(),
        })?;
    }
    let store = Store::open_read_only(workspace)?;
    for f in store.pii_fields()? {
        let source = match f.source {
            crate::store::pii::PiiSource::Default => "by name",
            crate::store::pii::PiiSource::Detected => "detected on import",
            crate::store::pii::PiiSource::User => "set by a person",
        };
        match f.kind {
            Some(k) => println!("{:<24} personal ({})  {source}", f.field.name, k.as_str()),
            None => println!("{:<24} -  {source}", f.field.name),
        }
    }
    Ok(())
}

fn audit(workspace: &std::path::Path, csv: bool) -> Result<(), CliError> {
    let store = Store::open_read_only(workspace)?;
    let entries = store.audit_log()?;
    if csv {
        print!("{}", crate::store::audit::audit_csv(&entries));
        return Ok(());
    }
    for e in &entries {
        let user = if e.user.is_empty() { "—" } else { &e.user };
        println!(
            "{}  {user}  {}  {}",
            crate::model::time::format_ts(e.at),
            e.action,
            e.detail
        );
    }
    if entries.is_empty() {
        println!("(nothing recorded yet)");
    }
    Ok(())
}
