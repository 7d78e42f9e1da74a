//! Opening workspaces and the built-in sample workspace.

use std::path::{Path, PathBuf};

use crate::progress::Progress;
use crate::sample::{SampleError, SampleOptions, generate_workspace};
use crate::store::{Store, StoreError, WorkspaceInfo};

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
