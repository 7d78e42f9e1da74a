//! All integration tests, as one test binary: one link instead of one per
//! file keeps the build fast and small. Each module is one area of Prism.

mod common;

mod analytics;
mod architecture;
mod cli;
mod discover;
mod email;
mod engine;
mod engine_differential;
mod import;
mod import_fidelity;
mod import_robust;
mod paint;
mod privacy;
mod sample;
mod snapshot;
mod store;
mod ui_common;
mod ui_import;
mod ui_performance;
mod ui_preview;
mod ui_privacy;
mod ui_segments;
mod ui_shell;
mod warehouse;
