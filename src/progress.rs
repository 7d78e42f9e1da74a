//! How long-running core work reports progress and learns it was cancelled.
//!
//! Core code takes a `&dyn Progress`; background jobs, the CLI and tests each
//! provide their own. Keeping this in the core means the core never depends
//! on the job system above it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// A sink for progress reports and a source of cancellation.
pub trait Progress: Sync {
    /// `fraction` in 0..=1; `message` says what is being done.
    fn report(&self, fraction: f32, message: &str);
    /// True once the user asked to stop.
    fn is_cancelled(&self) -> bool;

    /// `Err(Cancelled)` once the user asked to stop, for use with `?`.
    fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The work was cancelled by the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Progress that goes nowhere and is never cancelled.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _fraction: f32, _message: &str) {}
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Progress that can be cancelled by flipping a flag (tests, CLI Ctrl-C).
#[derive(Default)]
pub struct CancelFlag(pub AtomicBool);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Progress for CancelFlag {
    fn report(&self, _fraction: f32, _message: &str) {}
    fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
