//! The workspace store: one SQLite file per workspace, behind a typed API.
//!
//! Every SQL statement Prism runs against its own schema lives in this
//! module. Opening a file checks it before anything is written: a file that is
//! not SQLite, a SQLite database that is not a Prism workspace, or a workspace
//! from a newer Prism is refused and left byte-for-byte as it was.

pub mod audit;
mod browse;
mod erase;
mod import;
pub mod pii;
mod query;
mod read;
pub mod schema;
mod segments;
mod templates;
mod write;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

pub use audit::AuditEntry;
pub use browse::{Cell, ColumnInfo, TablePage};
pub use erase::Erasure;
pub use import::{CustomerKeys, NewEvent, Write};
pub use query::SqlValue;
pub use read::{CellRef, PersonEvidence, RawEvent};
pub use write::BulkLoad;

use crate::model::time::now_utc;

/// What went wrong opening or using a workspace. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: no such file")]
    NotFound { path: String },
    #[error("{path}: already exists; choose another name or delete it first")]
    AlreadyExists { path: String },
    #[error("{path}: not a SQLite database ({detail}); Prism workspaces are SQLite files")]
    NotSqlite { path: String, detail: String },
    #[error("{path}: a SQLite database, but not a Prism workspace ({detail})")]
    NotWorkspace { path: String, detail: String },
    #[error(
        "{path}: written by a newer Prism (workspace schema version {found}; this Prism reads up to {supported}); update Prism to open it"
    )]
    TooNew {
        path: String,
        found: i32,
        supported: i32,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// True for the errors that mean "this file is not something Prism can
    /// open", as opposed to a failure while working on a good workspace.
    pub fn is_bad_file(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound { .. }
                | StoreError::NotSqlite { .. }
                | StoreError::NotWorkspace { .. }
                | StoreError::TooNew { .. }
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Row count of one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStat {
    pub name: String,
    pub rows: i64,
}

/// A summary of a workspace, as `prism info` prints it.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkspaceInfo {
    pub path: PathBuf,
    pub name: String,
    pub schema_version: i32,
    pub file_size: u64,
    pub tables: Vec<TableStat>,
    /// Oldest and newest event time (Unix seconds).
    pub event_range: Option<(i64, i64)>,
    pub data_version: i64,
    /// The event that is a purchase (see [`Store::purchase_event`]).
    pub purchase_event: String,
    /// Every event name the workspace has.
    pub event_names: Vec<String>,
}

impl fmt::Display for WorkspaceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::model::time::format_ts;
        writeln!(f, "workspace      {}", self.name)?;
        writeln!(f, "file           {}", self.path.display())?;
        writeln!(f, "size           {:.1} MB", self.file_size as f64 / 1e6)?;
        writeln!(f, "schema version {}", self.schema_version)?;
        match self.event_range {
            Some((a, b)) => writeln!(f, "events from    {} to {} UTC", format_ts(a), format_ts(b))?,
            None => writeln!(f, "events from    (no events)")?,
        }
        writeln!(f, "purchase event {}", self.purchase_event)?;
        writeln!(f, "tables:")?;
        for t in &self.tables {
            writeln!(f, "  {:<18} {:>12} rows", t.name, t.rows)?;
        }
        Ok(())
    }
}

/// An open workspace.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// How many events of one name there are, and the oldest and newest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNameStats {
    pub name: String,
    pub events: i64,
    pub first: i64,
    pub last: i64,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Store {
    /// Creates a new, empty workspace at `path`. Refuses to overwrite a file.
    pub fn create(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        if path.exists() {
            return Err(StoreError::AlreadyExists {
                path: path.display().to_string(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_err(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        store.migrate()?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Workspace".into());
        store.set_meta("name", &name)?;
        store.set_meta("created_at", &now_utc().to_string())?;
        store.set_meta("data_version", "0")?;
        Ok(store)
    }

    /// Opens an existing workspace, migrating it to the current schema.
    /// Files that are not Prism workspaces are refused untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let version = Self::inspect(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_err(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        if version < schema::CURRENT_VERSION {
            store.migrate()?;
        }
        Ok(store)
    }

    /// Opens an existing workspace for reading only: nothing is written, not
    /// even a migration (`prism info`, read-only workers).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        Self::inspect(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_err(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sqlite_err(path, e))?;
        register_functions(&conn).map_err(|e| sqlite_err(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens `path` if it exists, creates a new workspace there if not.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        if path.exists() {
            Store::open(path)
        } else {
            Store::create(path)
        }
    }

    /// Checks that `path` is a Prism workspace this build can open, without
    /// writing to it. Returns its schema version.
    pub fn inspect(path: &Path) -> Result<i32> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::NotFound {
                    path: shown.clone(),
                }
            } else {
                StoreError::Io {
                    path: shown.clone(),
                    source: e,
                }
            }
        })?;
        if meta.is_dir() {
            return Err(StoreError::NotSqlite {
                path: shown,
                detail: "it is a folder".into(),
            });
        }
        if meta.len() == 0 {
            return Err(StoreError::NotWorkspace {
                path: shown,
                detail: "the file is empty".into(),
            });
        }
        let mut header = [0u8; 100];
        let mut file = File::open(path).map_err(|e| StoreError::Io {
            path: shown.clone(),
            source: e,
        })?;
        let n = read_up_to(&mut file, &mut header).map_err(|e| StoreError::Io {
            path: shown.clone(),
            source: e,
        })?;
        drop(file);
        if n < 100 || &header[..16] != SQLITE_MAGIC {
            return Err(StoreError::NotSqlite {
                path: shown,
                detail: "the file does not start with the SQLite header".into(),
            });
        }
        // Ask SQLite itself (it sees a write-ahead log the header may not).
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::NotSqlite {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        let probe = (|| -> rusqlite::Result<(i32, i32, Vec<String>)> {
            let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
            let version: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            let mut stmt = conn.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 6",
            )?;
            let tables = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok((app_id, version, tables))
        })();
        let (app_id, version, tables) = probe.map_err(|e| StoreError::NotSqlite {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        drop(conn);
        if app_id != schema::APPLICATION_ID {
            let detail = if tables.is_empty() {
                "it has no tables".to_string()
            } else {
                format!("it holds tables {}", tables.join(", "))
            };
            return Err(StoreError::NotWorkspace {
                path: shown,
                detail,
            });
        }
        if version > schema::CURRENT_VERSION {
            return Err(StoreError::TooNew {
                path: shown,
                found: version,
                supported: schema::CURRENT_VERSION,
            });
        }
        Ok(version)
    }

    fn configure(&mut self) -> Result<()> {
        let path = self.path.clone();
        let c = &self.conn;
        c.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sqlite_err(&path, e))?;
        c.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| sqlite_err(&path, e))?;
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sqlite_err(&path, e))?;
        c.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| sqlite_err(&path, e))?;
        c.set_prepared_statement_cache_capacity(64);
        register_functions(c).map_err(|e| sqlite_err(&path, e))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let err = |e| sqlite_err(&path, e);
        let tx = self.conn.transaction().map_err(err)?;
        let version: i32 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i32 + 1)
                .map_err(err)?;
        }
        tx.pragma_update(None, "application_id", schema::APPLICATION_ID)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        sqlite_err(&self.path, e)
    }

    /// Builds a lookup index a first load left out
    /// ([`schema::ON_DEMAND_INDEXES`]) if the workspace lacks it. True when
    /// it was built now.
    pub fn ensure_index(&self, index: &schema::OnDemandIndex) -> Result<bool> {
        write::ensure_index(&self.conn, index).map_err(|e| self.err(e))
    }

    pub fn schema_version(&self) -> Result<i32> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM workspace_meta WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO workspace_meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM workspace_meta WHERE key = ?1", [key])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Runs `f` as one transaction: everything it writes commits together,
    /// or (on an error) nothing does.
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        match f(self) {
            Ok(v) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(self.err(e).into())
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The workspace's display name.
    pub fn name(&self) -> Result<String> {
        Ok(self.meta("name")?.unwrap_or_else(|| "Workspace".into()))
    }

    /// The event that is a purchase: what RFM and the order traits read.
    /// `order` unless the workspace says otherwise.
    pub fn purchase_event(&self) -> Result<String> {
        Ok(self
            .meta("purchase_event")?
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| crate::model::event_names::ORDER.to_string()))
    }

    /// Makes `name` the purchase event; derived data is rebuilt, since the
    /// traits change with it.
    pub fn set_purchase_event(&mut self, name: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid(format!(
                "{}: the purchase event needs a name",
                self.path.display()
            )));
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|e| sqlite_err(&self.path, e))?;
        tx.execute(
            "INSERT INTO workspace_meta(key, value) VALUES ('purchase_event', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [name],
        )
        .and_then(|_| Store::bump_data_version(&tx))
        .and_then(|_| tx.commit())
        .map_err(|e| sqlite_err(&self.path, e))
    }

    /// A counter bumped by every change to customers or events; caches of
    /// derived data (the segment engine) key on it.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .meta("data_version")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub(crate) fn bump_data_version(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO workspace_meta(key, value) VALUES ('data_version', '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            [],
        )?;
        Ok(())
    }

    /// Row counts of the tables a user can browse.
    pub fn table_stats(&self) -> Result<Vec<TableStat>> {
        schema::BROWSABLE_TABLES
            .iter()
            .map(|t| {
                let rows: i64 = self
                    .conn
                    .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                    .map_err(|e| self.err(e))?;
                Ok(TableStat {
                    name: t.to_string(),
                    rows,
                })
            })
            .collect()
    }

    /// Oldest and newest event time, if there are events.
    pub fn event_range(&self) -> Result<Option<(i64, i64)>> {
        let stats = self.event_name_stats()?;
        let lo = stats.iter().map(|s| s.first).min();
        let hi = stats.iter().map(|s| s.last).max();
        Ok(lo.zip(hi))
    }

    /// The distinct event names in the workspace, sorted.
    pub fn event_names(&self) -> Result<Vec<String>> {
        Ok(self
            .event_name_stats()?
            .into_iter()
            .map(|s| s.name)
            .collect())
    }

    /// Each event name with how many events it has and their time range,
    /// sorted by name: read from `event_stats`, which every writer keeps
    /// (a workspace opened read-only before its migration to schema 5
    /// counts them from its (name, time) index instead).
    pub fn event_name_stats(&self) -> Result<Vec<EventNameStats>> {
        let kept: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_stats')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let sql = if kept {
            "SELECT name, events, first, last FROM event_stats WHERE events > 0 ORDER BY name"
        } else {
            "SELECT name, count(*), min(time), max(time) FROM events GROUP BY name ORDER BY name"
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EventNameStats {
                    name: r.get(0)?,
                    events: r.get(1)?,
                    first: r.get(2)?,
                    last: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn info(&self) -> Result<WorkspaceInfo> {
        let file_size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(wal_path(&self.path))
                .map(|m| m.len())
                .unwrap_or(0);
        Ok(WorkspaceInfo {
            path: self.path.clone(),
            name: self.name()?,
            schema_version: self.schema_version()?,
            file_size,
            tables: self.table_stats()?,
            event_range: self.event_range()?,
            data_version: self.data_version()?,
            purchase_event: self.purchase_event()?,
            event_names: self.event_names()?,
        })
    }

    /// Runs SQLite's own consistency check; `Ok(true)` when it says "ok".
    pub fn integrity_ok(&self) -> Result<bool> {
        let v: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(v == "ok")
    }

    /// Writes a consistent copy of the workspace to `dest` (which must not
    /// exist): "Save As".
    pub fn save_copy(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(StoreError::AlreadyExists {
                path: dest.display().to_string(),
            });
        }
        self.conn
            .execute("VACUUM INTO ?1", [dest.to_string_lossy()])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Checkpoints the write-ahead log into the main file.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.err(e))
    }
}

/// `x REGEXP pattern`, with the same regex engine the segment engine uses,
/// so compiled segment SQL runs in SQLite as it is.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re: std::sync::Arc<regex::Regex> = ctx.get_or_create_aux(0, |v| {
                let pattern = v
                    .as_str()
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
                regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })?;
            Ok(match ctx.get_raw(1) {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                    .map(|s| re.is_match(s))
                    .unwrap_or(false),
                _ => false,
            })
        },
    )
}

fn sqlite_err(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.display().to_string(),
        source: e,
    }
}

fn wal_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
