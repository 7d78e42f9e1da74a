//! Prism: a local segment designer and email preview studio.
//!
//! The library holds everything headless: the domain model, the SQLite
//! workspace store, the sample generator, background jobs and the CLI. The
//! GUI front end lives in [`ui`], the only module that knows the GUI
//! toolkit (see ARCHITECTURE.md).

pub mod analytics;
pub mod app;
pub mod cli;
pub mod discover;
pub mod email;
pub mod engine;
pub mod ingest;
pub mod model;
pub mod paint;
pub mod progress;
pub mod sample;
pub mod store;
pub mod ui;
pub mod warehouse;
