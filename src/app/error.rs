//! The errors of the app services: typed, so that the CLI keeps its exit
//! codes and the UI can tell a rule problem from a failed disk.

use crate::engine::{EngineError, EvalError, RuleError, data::LoadError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("rule error at {0}")]
    Rule(#[from] RuleError),
    #[error("no segment named {0:?}")]
    NoSegment(String),
    #[error("{name:?} is used by {}; delete those first, or force it", users.join(", "))]
    InUse { name: String, users: Vec<String> },
    /// The user's input cannot be used (a malformed colour, an empty name).
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A warehouse export or the workspace's database (unreachable,
    /// refused, a table missing, too slow).
    #[error(transparent)]
    Warehouse(#[from] crate::warehouse::WarehouseError),
    #[error("cancelled")]
    Cancelled,
}

impl From<EvalError> for AppError {
    fn from(e: EvalError) -> AppError {
        match e {
            EvalError::Cancelled => AppError::Cancelled,
            other => AppError::Engine(EngineError::Eval(other)),
        }
    }
}

impl From<LoadError> for AppError {
    fn from(e: LoadError) -> AppError {
        AppError::Engine(EngineError::Load(e))
    }
}

impl AppError {
    /// Bad input (a rule, a name, a file), as opposed to a failure while
    /// working: the CLI exits with 2 for these.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AppError::Store(e) => e.is_bad_file() || matches!(e, StoreError::Invalid(_)),
            AppError::Engine(EngineError::Rule(_) | EngineError::NotFound(_)) => true,
            AppError::Rule(_)
            | AppError::NoSegment(_)
            | AppError::InUse { .. }
            | AppError::Invalid(_) => true,
            AppError::Warehouse(e) => matches!(e, crate::warehouse::WarehouseError::Invalid(_)),
            _ => false,
        }
    }
}
