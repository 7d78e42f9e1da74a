//! The segment engine.
//!
//! - [`rule`]: the rule model users write (JSON, versioned).
//! - [`resolve`]: checks a rule against a workspace into a typed tree; every
//!   error names the path of its node.
//! - [`data`]: the workspace in memory, as columns; events grouped by
//!   customer and sorted by time, per event name.
//! - [`eval`]: exact member sets and the count at every node, with a leaf
//!   cache; [`explain`]: why a customer is in or out; [`members`]: paging,
//!   sampling, overlap, exclusive assignment; [`traits`]: RFM, engagement,
//!   scores; [`among`]: the same rule checked for a few customers only;
//!   [`reach`]: who can be emailed (consent, address, no unsubscribe or
//!   hard bounce).
//! - [`sql`]: the same rule as SQL (SQLite, PostgreSQL, DuckDB); on any rule
//!   the engine's members equal SQLite's result for it.
//! - [`snapshot`]: the engine's columns on disk beside the workspace, so
//!   opening reads them instead of rebuilding them.
//! - [`describe`]: a rule in plain English; [`seed`]: the sample workspace's
//!   segments.

pub mod among;
pub mod bitset;
pub mod data;
pub mod describe;
pub mod edit;
pub mod eval;
pub mod explain;
pub mod members;
pub mod parse;
pub mod reach;
pub mod resolve;
pub mod rule;
pub mod seed;
pub mod snapshot;
pub mod sql;
pub mod traits;
pub mod tree;

use std::collections::HashMap;

pub use bitset::Bitset;
pub use eval::{Engine, EvalError, Evaluation, NodeCount, Origin};
pub use resolve::{RNode, RuleError, RuleErrorKind, Schema, parse_rule, resolve};
pub use rule::Rule;

use crate::store::{Store, StoreError};

/// What the workspace offers rules: fields, event names, saved segments and
/// scoring models. Saved rules that no longer parse are left out (a rule
/// referring to one gets "unknown segment").
pub fn schema_of(store: &Store) -> Result<Schema, StoreError> {
    let mut segments = HashMap::new();
    for s in store.segments()? {
        if let Ok(rule) = parse_rule(&s.rule) {
            segments.insert(s.name, rule);
        }
    }
    let mut scores = HashMap::new();
    for s in store.scores()? {
        if let Ok(model) = resolve::parse_score_model(&s.definition) {
            scores.insert(s.name, model);
        }
    }
    Ok(Schema {
        fields: store.customer_fields()?,
        event_names: store.event_names()?,
        segments,
        scores,
        purchase_event: store.purchase_event()?,
    })
}

/// Anything that can go wrong between a rule and its members.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Load(#[from] data::LoadError),
    #[error("{0}")]
    NotFound(String),
}
