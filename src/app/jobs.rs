//! Background jobs: each runs on its own worker thread, reports progress,
//! can be cancelled, and hands its result back through a channel.
//!
//! Every job has a *key* ([`JobKey`]: what it computes). Spawning a job
//! bumps its key's generation and cancels older jobs with the same key; when
//! an older job still finishes, its result is stale and dropped, so the UI
//! never shows an answer to a question it no longer asks. This is the one
//! way results go stale: opening another workspace supersedes every running
//! job ([`Jobs::supersede_all`]).

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::progress::Progress;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// What a job computes. At most one current job per key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JobKey {
    Workspace,
    Engine,
    FileDialog,
    ImportPreview,
    Import,
    Quality,
    PurchaseEvent,
    /// Erasing a customer (rewrites the workspace file).
    Erase,
    /// Reading or exporting the audit log.
    Audit,
    /// Recording a demo-mode switch in the audit log.
    DemoRecord,
    /// Reading or changing which fields are personal.
    Pii,
    /// Reading what demo mode masks.
    Masker,
    /// One page of a table in the Data screen.
    TablePage {
        table: String,
        page: u64,
    },
    SegmentEval,
    SegmentCounts,
    SegmentSave,
    /// A change to the saved list: rename, duplicate, delete, move, colour.
    SegmentList,
    SegmentMembers,
    SegmentExport,
    SegmentExplain,
    SegmentOverlap,
    /// Clustering, or a rule for a cluster (Discover).
    Discover,
    /// Training the propensity model (Discover, or after an import).
    Propensity,
    /// Reading the propensity model's last figures.
    PropensityFigures,
    SegmentVersions,
    SegmentCompare,
    /// The SQL tab: a .sql file written, the workspace's database read or
    /// asked for a count.
    SqlExport,
    WarehouseSource,
    WarehouseCount,
    WarehouseExplain,
    /// The Preview screen: the workspace's email side, one render per
    /// column, one segment lint per column, the editor's check, a save, a
    /// file written.
    PreviewLoad,
    PreviewColumn(usize),
    PreviewLint(usize),
    PreviewCheck,
    PreviewSave,
    PreviewWrite,
    /// Every campaign's sends, read for the performance figures.
    Sends,
    PerformanceReport,
    PerformanceTrend,
    PerformanceSize,
    PerformanceExport,
}

type Waker = Arc<dyn Fn() + Send + Sync>;

struct JobState {
    cancel: AtomicBool,
    progress: Mutex<(f32, String)>,
    waker: Option<Waker>,
}

/// Handed to a job: report progress, check for cancellation.
pub struct JobCtx {
    state: Arc<JobState>,
}

impl Progress for JobCtx {
    fn report(&self, fraction: f32, message: &str) {
        let mut p = self
            .state
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        p.0 = fraction.clamp(0.0, 1.0);
        p.1.clear();
        p.1.push_str(message);
        drop(p);
        if let Some(w) = &self.state.waker {
            w();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.state.cancel.load(Ordering::Relaxed)
    }
}

/// What the status bar shows of a running job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStatus {
    pub id: JobId,
    pub label: String,
    pub fraction: f32,
    pub message: String,
    pub cancelling: bool,
    pub elapsed: Duration,
}

struct Running<K> {
    id: JobId,
    key: K,
    label: String,
    started: Instant,
    state: Arc<JobState>,
}

struct Finished<M, K> {
    id: JobId,
    key: K,
    generation: u64,
    output: Result<M, String>,
}

/// The job runner. `M` is the message type a job's result is delivered as;
/// `K` the key type.
pub struct Jobs<M, K = JobKey> {
    next_id: u64,
    tx: mpsc::Sender<Finished<M, K>>,
    rx: mpsc::Receiver<Finished<M, K>>,
    running: Vec<Running<K>>,
    /// The current generation of each key that has a job running (entries
    /// go when their last job finishes, so the map stays small).
    generations: HashMap<K, u64>,
    waker: Option<Waker>,
    failures: Vec<String>,
}

impl<M: Send + 'static, K: Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + 'static> Default
    for Jobs<M, K>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Send + 'static, K: Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + 'static>
    Jobs<M, K>
{
    pub fn new() -> Jobs<M, K> {
        let (tx, rx) = mpsc::channel();
        Jobs {
            next_id: 1,
            tx,
            rx,
            running: Vec::new(),
            generations: HashMap::new(),
            waker: None,
            failures: Vec::new(),
        }
    }

    /// `waker` is called from worker threads when a job reports progress or
    /// finishes (the UI passes "request a repaint").
    pub fn set_waker(&mut self, waker: impl Fn() + Send + Sync + 'static) {
        self.waker = Some(Arc::new(waker));
    }

    /// Starts `work` on a worker thread. Older jobs with the same `key` are
    /// cancelled and their results will be dropped.
    pub fn spawn(
        &mut self,
        key: K,
        label: impl Into<String>,
        work: impl FnOnce(&JobCtx) -> M + Send + 'static,
    ) -> JobId {
        let id = JobId(self.next_id);
        self.next_id += 1;
        let generation = {
            let g = self.generations.entry(key.clone()).or_insert(0);
            *g += 1;
            *g
        };
        for r in self.running.iter().filter(|r| r.key == key) {
            r.state.cancel.store(true, Ordering::Relaxed);
        }
        let state = Arc::new(JobState {
            cancel: AtomicBool::new(false),
            progress: Mutex::new((0.0, String::new())),
            waker: self.waker.clone(),
        });
        let name = format!("job-{key:?}");
        self.running.push(Running {
            id,
            key: key.clone(),
            label: label.into(),
            started: Instant::now(),
            state: state.clone(),
        });
        let tx = self.tx.clone();
        let job_key = key.clone();
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let ctx = JobCtx {
                state: state.clone(),
            };
            let output = catch_unwind(AssertUnwindSafe(|| work(&ctx))).map_err(|p| {
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown error".into())
            });
            let _ = tx.send(Finished {
                id,
                key: job_key,
                generation,
                output,
            });
            if let Some(w) = &state.waker {
                w();
            }
        });
        if let Err(e) = spawned {
            self.running.retain(|r| r.id != id);
            self.forget_if_idle(&key);
            self.failures
                .push(format!("could not start a worker thread: {e}"));
        }
        id
    }

    /// Collects finished jobs and returns the results that are still current.
    pub fn poll(&mut self) -> Vec<M> {
        let mut out = Vec::new();
        while let Ok(f) = self.rx.try_recv() {
            self.running.retain(|r| r.id != f.id);
            let current = self.generations.get(&f.key).copied() == Some(f.generation);
            self.forget_if_idle(&f.key);
            match f.output {
                Ok(m) if current => out.push(m),
                Ok(_) => {}
                Err(panic) => self
                    .failures
                    .push(format!("a background task failed: {panic}")),
            }
        }
        out
    }

    /// Drops a key's generation once no job with it runs: a later job with
    /// the key starts afresh, and no older one can still deliver.
    fn forget_if_idle(&mut self, key: &K) {
        if !self.running.iter().any(|r| &r.key == key) {
            self.generations.remove(key);
        }
    }

    /// Makes every running job stale (cancelled, its result dropped): the
    /// questions they answer were about a workspace that is no longer open.
    pub fn supersede_all(&mut self) {
        for r in &self.running {
            r.state.cancel.store(true, Ordering::Relaxed);
            if let Some(g) = self.generations.get_mut(&r.key) {
                *g += 1;
            }
        }
    }

    /// How many keys have a generation (for the test that it stays small).
    pub fn tracked_keys(&self) -> usize {
        self.generations.len()
    }

    /// Errors of jobs that crashed, taken once.
    pub fn take_failures(&mut self) -> Vec<String> {
        std::mem::take(&mut self.failures)
    }

    /// Asks a job to stop. It finishes at its next cancellation check.
    pub fn cancel(&self, id: JobId) {
        for r in self.running.iter().filter(|r| r.id == id) {
            r.state.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub fn cancel_all(&self) {
        for r in &self.running {
            r.state.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Makes any running job with this key stale, without starting a new one.
    pub fn forget(&mut self, key: &K) {
        if let Some(g) = self.generations.get_mut(key) {
            *g += 1;
        }
        for r in self.running.iter().filter(|r| &r.key == key) {
            r.state.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// True while a current job with this key runs.
    pub fn is_running(&self, key: &K) -> bool {
        self.running
            .iter()
            .any(|r| &r.key == key && !r.state.cancel.load(Ordering::Relaxed))
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    pub fn statuses(&self) -> Vec<JobStatus> {
        self.running
            .iter()
            .map(|r| {
                // A job that panicked mid-report poisons its lock; its last
                // progress is still worth showing.
                let (fraction, message) = r
                    .state
                    .progress
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                JobStatus {
                    id: r.id,
                    label: r.label.clone(),
                    fraction,
                    message,
                    cancelling: r.state.cancel.load(Ordering::Relaxed),
                    elapsed: r.started.elapsed(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for<M: Send + 'static>(jobs: &mut Jobs<M, &'static str>) -> Vec<M> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut out = Vec::new();
        while !jobs.is_idle() && Instant::now() < deadline {
            out.extend(jobs.poll());
            std::thread::sleep(Duration::from_millis(2));
        }
        out.extend(jobs.poll());
        out
    }

    #[test]
    fn results_arrive_and_stale_ones_are_dropped() {
        let mut jobs: Jobs<u32, &'static str> = Jobs::new();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        jobs.spawn("count", "old", move |_| {
            go_rx.recv().ok();
            1
        });
        jobs.spawn("count", "new", |_| 2);
        go_tx.send(()).unwrap();
        assert_eq!(wait_for(&mut jobs), vec![2]);
        // Finished keys are forgotten: browsing many pages leaves nothing.
        for page in 0..50 {
            jobs.spawn(["a", "b", "c", "d", "e"][page % 5], "page", move |_| {
                page as u32
            });
        }
        assert_eq!(wait_for(&mut jobs).len(), 5);
        assert_eq!(jobs.tracked_keys(), 0);
    }

    #[test]
    fn superseded_jobs_never_deliver() {
        let mut jobs: Jobs<u32, &'static str> = Jobs::new();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        jobs.spawn("page", "old workspace", move |_| {
            go_rx.recv().ok();
            1
        });
        jobs.supersede_all();
        jobs.spawn("engine", "new workspace", |_| 2);
        go_tx.send(()).unwrap();
        assert_eq!(wait_for(&mut jobs), vec![2]);
    }

    #[test]
    fn cancel_reaches_the_job_and_panics_become_failures() {
        let mut jobs: Jobs<&'static str, &'static str> = Jobs::new();
        let id = jobs.spawn("long", "long", |ctx| {
            while !ctx.is_cancelled() {
                ctx.report(0.5, "working");
                std::thread::sleep(Duration::from_millis(1));
            }
            "stopped"
        });
        std::thread::sleep(Duration::from_millis(20));
        let st = jobs.statuses();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].message, "working");
        jobs.cancel(id);
        assert_eq!(wait_for(&mut jobs), vec!["stopped"]);

        jobs.spawn("boom", "boom", |_| panic!("bad thing"));
        assert!(wait_for(&mut jobs).is_empty());
        let f = jobs.take_failures();
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("bad thing"), "{f:?}");
    }
}
