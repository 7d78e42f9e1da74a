//! Discovery as the app and the CLI run it: training the purchase
//! propensity model and keeping it in the workspace (the scoring model
//! rules use, and the figures of its last training).

use std::path::Path;

use crate::discover::propensity::{self, META_KEY, MODEL_NAME, Training};
use crate::engine::{Engine, schema_of};
use crate::progress::Progress;
use crate::store::Store;

use super::AppError;

/// Trains the propensity model on `engine` (loaded from `workspace`) and
/// saves it: the scoring model `propensity_order_30d` and its figures.
pub fn train_propensity(
    workspace: &Path,
    engine: &Engine,
    progress: &dyn Progress,
) -> Result<Training, AppError> {
    let schema = {
        let store = Store::open_read_only(workspace)?;
        schema_of(&store)?
    };
    let (model, training) = propensity::train(engine, &schema, engine.data.data_version, progress)
        .map_err(|e| match e.as_str() {
            "cancelled" => AppError::Cancelled,
            _ => AppError::Invalid(e),
        })?;
    let mut store = Store::open(workspace)?;
    let definition = serde_json::to_string(&model).unwrap_or_default();
    let figures = serde_json::to_string(&training).unwrap_or_default();
    store.transaction(|s| -> Result<(), crate::store::StoreError> {
        s.save_score(MODEL_NAME, &definition)?;
        s.set_meta(META_KEY, &figures)
    })?;
    Ok(training)
}

/// The figures of the model's last training, if it was trained.
pub fn propensity_figures(store: &Store) -> Result<Option<Training>, AppError> {
    Ok(store
        .meta(META_KEY)?
        .and_then(|j| serde_json::from_str::<Training>(&j).ok()))
}

/// Whether the model exists and was trained on older data than the
/// workspace holds now (an import since): it should be trained again.
pub fn propensity_stale(store: &Store, data_version: i64) -> Result<bool, AppError> {
    Ok(store.score(MODEL_NAME)?.is_some()
        && propensity_figures(store)?.is_some_and(|t| t.data_version != data_version))
}
