//! The sample data generator: a realistic, deterministic workspace (or the
//! same data as raw, slightly dirty CSV exports) from a seed.
//!
//! Customers are simulated one at a time, each from its own random stream, so
//! the same seed and `as_of` give the same data whatever the batch sizes.

mod csv_out;
pub mod lists;
pub mod sim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

pub use sim::{Catalog, Lifecycle, SimCustomer, catalog, simulate_customer};

use crate::model::FieldType;
use crate::model::time::{now_utc, start_of_day};
use crate::progress::Progress;
use crate::store::{Store, StoreError};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub customers: u64,
    pub seed: u64,
    /// The instant the data ends at ("today" in the sample); Unix seconds.
    pub as_of: i64,
    /// Workspace display name.
    pub name: String,
}

impl SampleOptions {
    /// `customers` customers, seed 42, data up to the start of today (UTC).
    pub fn new(customers: u64) -> SampleOptions {
        SampleOptions {
            customers,
            seed: 42,
            as_of: start_of_day(now_utc()),
            name: "Sample workspace".into(),
        }
    }
}

/// What was generated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SampleStats {
    pub customers: u64,
    pub events: u64,
    pub products: u64,
    pub campaigns: u64,
    pub by_lifecycle: BTreeMap<String, u64>,
    pub events_by_name: BTreeMap<String, u64>,
    /// Customers without email consent at the end.
    pub opted_out: u64,
}

impl SampleStats {
    fn add(&mut self, c: &SimCustomer) {
        self.customers += 1;
        self.events += c.events.len() as u64;
        *self
            .by_lifecycle
            .entry(c.lifecycle.name().to_string())
            .or_default() += 1;
        for e in &c.events {
            *self.events_by_name.entry(e.name.clone()).or_default() += 1;
        }
        if !c.customer.email_consent {
            self.opted_out += 1;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} already exists; pass --force to replace it")]
    Exists(String),
    #[error("cancelled")]
    Cancelled,
}

/// The custom fields the sample customers carry.
pub const SAMPLE_CUSTOM_FIELDS: &[(&str, FieldType, &str)] = &[
    ("loyalty_tier", FieldType::Text, "Loyalty tier"),
    ("loyalty_points", FieldType::Number, "Loyalty points"),
    ("favorite_category", FieldType::Text, "Favourite category"),
];

const BATCH: u64 = 2_000;

/// Simulates customers `0..n` on a producer thread, handing batches to `sink`
/// in order. Stops when `sink` returns an error.
fn simulate_all<E>(
    opts: &SampleOptions,
    cat: &Catalog,
    mut sink: impl FnMut(Vec<SimCustomer>) -> Result<(), E>,
) -> Result<(), E> {
    let (tx, rx) = mpsc::sync_channel::<Vec<SimCustomer>>(4);
    std::thread::scope(|s| {
        let seed = opts.seed;
        let as_of = opts.as_of;
        let n = opts.customers;
        s.spawn(move || {
            let mut start = 0;
            while start < n {
                let end = (start + BATCH).min(n);
                let batch = (start..end)
                    .map(|i| simulate_customer(seed, as_of, cat, i))
                    .collect();
                if tx.send(batch).is_err() {
                    return; // the consumer stopped
                }
                start = end;
            }
        });
        for batch in rx {
            sink(batch)?;
        }
        Ok(())
    })
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes a sample workspace to `out`. The workspace is built in a temporary
/// file beside it and moved into place only when complete, so a cancel or a
/// crash never leaves a half-written workspace at `out`.
pub fn generate_workspace(
    opts: &SampleOptions,
    out: &Path,
    replace: bool,
    progress: &dyn Progress,
) -> Result<SampleStats, SampleError> {
    if out.exists() && !replace {
        return Err(SampleError::Exists(out.display().to_string()));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SampleError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
    }
    let tmp = sidecar(out, ".partial");
    for p in [tmp.clone(), sidecar(&tmp, "-wal"), sidecar(&tmp, "-shm")] {
        let _ = std::fs::remove_file(p);
    }
    let result = build_into(opts, &tmp, progress);
    match result {
        Ok(stats) => {
            if replace {
                for p in [sidecar(out, "-wal"), sidecar(out, "-shm")] {
                    let _ = std::fs::remove_file(p);
                }
            }
            std::fs::rename(&tmp, out).map_err(|e| SampleError::Io {
                path: out.display().to_string(),
                source: e,
            })?;
            Ok(stats)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn build_into(
    opts: &SampleOptions,
    path: &Path,
    progress: &dyn Progress,
) -> Result<SampleStats, SampleError> {
    let cat = catalog(opts.seed, opts.as_of);
    let mut store = Store::create(path)?;
    store.set_meta("name", &opts.name)?;
    store.set_meta("created_at", &opts.as_of.to_string())?;
    store.set_meta("sample_seed", &opts.seed.to_string())?;
    store.set_meta("sample_as_of", &opts.as_of.to_string())?;
    let mut stats = SampleStats::default();
    {
        let mut load = store.bulk_load(true)?;
        for (name, t, label) in SAMPLE_CUSTOM_FIELDS {
            load.add_custom_field(name, *t, label)?;
        }
        for t in &cat.templates {
            load.insert_template(t)?;
        }
        for p in &cat.products {
            load.insert_product(p)?;
        }
        for c in &cat.campaigns {
            load.insert_campaign(c)?;
        }
        let total = opts.customers.max(1) as f32;
        simulate_all(opts, &cat, |batch| {
            if progress.is_cancelled() {
                return Err(SampleError::Cancelled);
            }
            for mut c in batch {
                let id = load.insert_customer(&c.customer)?;
                for e in &mut c.events {
                    e.customer_id = id;
                    load.insert_event(e)?;
                }
                stats.add(&c);
            }
            progress.report(
                0.9 * stats.customers as f32 / total,
                &format!("{} customers, {} events", stats.customers, stats.events),
            );
            Ok(())
        })?;
        progress.report(0.9, "indexing events");
        load.commit()?;
    }
    store.end_bulk_load()?;
    stats.products = cat.products.len() as u64;
    stats.campaigns = cat.campaigns.len() as u64;
    crate::engine::seed::install(&store)?;
    crate::email::starter::install_sample_content(&store)?;
    store.checkpoint()?;
    drop(store);
    progress.report(1.0, "done");
    Ok(stats)
}

/// Writes the same data as raw CSV exports into `dir`: customers.csv,
/// orders.csv, email_events.csv, web_events.csv, products.csv and
/// campaigns.csv, with the dirt real exports have (case-variant duplicate
/// emails, invalid emails, missing names, mixed date formats, amounts with
/// currency symbols, a few events of unknown customers).
pub fn write_csv(
    opts: &SampleOptions,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<SampleStats, SampleError> {
    std::fs::create_dir_all(dir).map_err(|e| SampleError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    let cat = catalog(opts.seed, opts.as_of);
    let mut w = csv_out::CsvExport::create(dir, opts.seed)?;
    w.catalog(&cat)?;
    let mut stats = SampleStats::default();
    let total = opts.customers.max(1) as f32;
    simulate_all(opts, &cat, |batch| {
        if progress.is_cancelled() {
            return Err(SampleError::Cancelled);
        }
        for c in batch {
            w.customer(&c)?;
            stats.add(&c);
        }
        progress.report(
            stats.customers as f32 / total,
            &format!("{} customers", stats.customers),
        );
        Ok(())
    })?;
    w.finish()?;
    stats.products = cat.products.len() as u64;
    stats.campaigns = cat.campaigns.len() as u64;
    Ok(stats)
}
