//! Opening workspaces and the built-in sample workspace.

use std::path::{Path, PathBuf};

use crate::progress::Progress;
use crate::sample::{SampleError, SampleOptions, generate_workspace};
use crate::store::{Erasure, Store, StoreError, WorkspaceInfo};

/// Customers in the built-in sample workspace the app opens on first run.
pub const SAMPLE_CUSTOMERS: u64 = 5_000;

/// File name of the built-in sample workspace inside the data folder.
pub const SAMPLE_FILE: &str = "Sample workspace.prism";

/// Where Prism keeps its own files: `$PRISM_DATA_DIR`, else
/// `$XDG_DATA_HOME/prism`, else `~/.local/share/prism`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PRISM_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("prism");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/share/prism");
    }
    std::env::temp_dir().join("prism")
}

pub fn sample_workspace_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SAMPLE_FILE)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not build the sample workspace: {0}")]
    Sample(#[from] SampleError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Makes sure the built-in sample workspace exists at `path`, generating it
/// (data up to today) if it does not.
pub fn ensure_sample_workspace(path: &Path, progress: &dyn Progress) -> Result<(), OpenError> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| OpenError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
    }
    generate_workspace(&SampleOptions::new(SAMPLE_CUSTOMERS), path, false, progress)?;
    Ok(())
}

/// Opens a workspace (migrating it if needed) and summarises it.
pub fn open_workspace(path: &Path) -> Result<WorkspaceInfo, OpenError> {
    let store = Store::open(path)?;
    Ok(store.info()?)
}

/// Creates a new, empty workspace at `path`; never replaces an existing file.
pub fn create_workspace(path: &Path) -> Result<WorkspaceInfo, OpenError> {
    if path.exists() {
        return Err(StoreError::AlreadyExists {
            path: path.display().to_string(),
        }
        .into());
    }
    let store = Store::create(path)?;
    Ok(store.info()?)
}

/// "Save As": a consistent copy of the workspace at `src` written to `dest`.
pub fn save_workspace_as(src: &Path, dest: &Path) -> Result<WorkspaceInfo, OpenError> {
    let store = Store::open(src)?;
    store.save_copy(dest)?;
    drop(store);
    let copy = Store::open(dest)?;
    let name = dest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Workspace".into());
    copy.set_meta("name", &name)?;
    Ok(copy.info()?)
}

/// Erases a customer (by id, or every customer with an email) and every
/// copy Prism keeps of them: the rows, their mentions in import reports
/// (see `Store::erase_customer`), and the engine's snapshot beside the
/// workspace, which holds names and emails and is rebuilt on the next open.
pub fn erase_customer(path: &Path, who: &str) -> Result<Erasure, OpenError> {
    let mut store = Store::open(path)?;
    let erased = store.erase_customer(who).map_err(|e| match e {
        StoreError::Sqlite { path, source }
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
        {
            StoreError::Invalid(format!(
                "{path}: the workspace is being written (an import?); erase when it has finished"
            ))
        }
        other => other,
    })?;
    drop(store);
    crate::engine::snapshot::remove(path).map_err(|e| OpenError::Io {
        path: crate::engine::snapshot::path_for(path)
            .display()
            .to_string(),
        source: e,
    })?;
    Ok(erased)
}

/// One line on what an erasure did.
pub fn erasure_text(e: &Erasure) -> String {
    let people = if e.customers == 1 {
        "1 customer".to_string()
    } else {
        format!("{} customers", e.customers)
    };
    let mut s = format!(
        "Erased {people} and {} events; {} import reports redacted.",
        crate::model::group_thousands(e.events),
        e.reports
    );
    if !e.log_cleared {
        s.push_str(
            " Another program still reads the workspace: its old pages are overwritten when it closes.",
        );
    }
    s
}
