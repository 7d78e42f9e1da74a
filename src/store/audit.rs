//! The audit log: what was done to the customers' data, when and by whom,
//! never the data itself. Imports write their entry inside their own
//! transaction; erasures inside theirs.

use rusqlite::params;

use super::{Result, Store};
use crate::model::time::now_utc;

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub at: i64,
    /// The operating-system user (empty for imports from before the log).
    pub user: String,
    /// `import`, `erasure`, …
    pub action: String,
    /// What and how many, as JSON (never a customer's data).
    pub detail: String,
}

/// The operating-system user running Prism: from the environment, else
/// the account of this process's user id.
pub fn os_user() -> String {
    if let Some(u) = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    {
        return u;
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        });
        return name.unwrap_or_else(|| format!("uid {uid}"));
    }
    #[allow(unreachable_code)]
    "unknown".into()
}

/// Adds an entry (inside the caller's transaction).
pub(crate) fn record(
    conn: &rusqlite::Connection,
    action: &str,
    detail: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit_log(at, user, action, detail) VALUES (?1, ?2, ?3, ?4)",
        params![now_utc(), os_user(), action, detail.to_string()],
    )?;
    Ok(())
}

impl Store {
    /// Adds an entry to the audit log of the workspace at `path` (an
    /// export, say, which writes nothing else there).
    pub fn audit(path: &std::path::Path, action: &str, detail: &serde_json::Value) -> Result<()> {
        let store = Store::open(path)?;
        record(&store.conn, action, detail).map_err(|e| store.err(e))
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, user, action, detail FROM audit_log ORDER BY at, id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    user: r.get(1)?,
                    action: r.get(2)?,
                    detail: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}

/// The audit log as CSV: `time,user,action,detail`.
pub fn audit_csv(entries: &[AuditEntry]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("time,user,action,detail\n");
    for e in entries {
        out.push_str(&format!(
            "{},{},{},{}\n",
            crate::model::time::format_ts(e.at),
            quote(&e.user),
            quote(&e.action),
            quote(&e.detail)
        ));
    }
    out
}
