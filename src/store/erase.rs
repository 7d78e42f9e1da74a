//! Erasing a customer (the right to erasure): the profile, every event,
//! and every mention in the import reports go in one transaction, with
//! SQLite's secure delete on so that freed space is overwritten with
//! zeros; then VACUUM rewrites the file without the free space earlier
//! writes left, and a checkpoint empties the write-ahead log. The audit
//! log records that an erasure happened, never whom it erased.

use rusqlite::{TransactionBehavior, params, params_from_iter};
use serde_json::Value;

use super::write::recount_event_stats;
use super::{Result, Store, StoreError, audit};

/// What an erasure removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erasure {
    /// Customers erased (one id is one customer; one email may be several).
    pub customers: usize,
    pub events: i64,
    /// Import reports that mentioned them and were redacted.
    pub reports: usize,
    /// The file was rewritten and its write-ahead log emptied (false while
    /// another process still reads the workspace: the erased rows are gone
    /// and zeroed, but old free space goes only at the next erasure or
    /// VACUUM once it has closed).
    pub log_cleared: bool,
}

const ERASED: &str = "[erased]";

impl Store {
    /// Erases the customer whose external id is `who`, or else every
    /// customer whose email is `who`. Unknown: an error, nothing changed.
    /// Waits for (never interleaves with) an import in progress.
    pub fn erase_customer(&mut self, who: &str) -> Result<Erasure> {
        let who = who.trim();
        if who.is_empty() {
            return Err(StoreError::Invalid(
                "give the customer's id or email to erase".into(),
            ));
        }
        self.conn
            .pragma_update(None, "secure_delete", "ON")
            .map_err(|e| self.err(e))?;
        let path = self.path.clone();
        let err = |e| super::sqlite_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Each one found: id, then what names them (external id, email,
        // first and last name).
        type Found = (i64, [Option<String>; 4]);
        let find = |sql: &str, key: &str| -> rusqlite::Result<Vec<Found>> {
            let mut stmt = tx.prepare(sql)?;
            let rows = stmt.query_map([key], |r| {
                Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
            })?;
            rows.collect()
        };
        const SELECT: &str = "SELECT id, external_id, email, first_name, last_name FROM customers";
        let mut found = find(&format!("{SELECT} WHERE external_id = ?1"), who).map_err(err)?;
        let by = if found.is_empty() {
            found =
                find(&format!("{SELECT} WHERE email = ?1"), &who.to_lowercase()).map_err(err)?;
            "email"
        } else {
            "id"
        };
        if found.is_empty() {
            return Err(StoreError::Invalid(format!(
                "no customer has the id or email {who:?}; nothing was erased"
            )));
        }
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        let marks = vec!["?"; ids.len()].join(", ");

        // Per name, the events that go: counts come off `event_stats`; a
        // name that loses its first or last event is counted again.
        let gone: Vec<(String, i64, i64, i64)> = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT name, count(*), min(time), max(time) FROM events
                     WHERE customer_id IN ({marks}) GROUP BY name"
                ))
                .map_err(err)?;
            let rows = stmt
                .query_map(params_from_iter(&ids), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        let events = tx
            .execute(
                &format!("DELETE FROM events WHERE customer_id IN ({marks})"),
                params_from_iter(&ids),
            )
            .map_err(err)? as i64;
        tx.execute(
            &format!("DELETE FROM customers WHERE id IN ({marks})"),
            params_from_iter(&ids),
        )
        .map_err(err)?;
        let mut recount = Vec::new();
        for (name, n, lo, hi) in &gone {
            let kept: Option<(i64, i64, i64)> = tx
                .query_row(
                    "SELECT events, first, last FROM event_stats WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .ok();
            match kept {
                Some((total, first, last)) if *n < total && *lo > first && *hi < last => {
                    tx.execute(
                        "UPDATE event_stats SET events = events - ?2 WHERE name = ?1",
                        params![name, n],
                    )
                    .map_err(err)?;
                }
                _ => recount.push(name.as_str()),
            }
        }
        recount_event_stats(&tx, &recount).map_err(err)?;

        // The import reports name customers in merges, warnings and likely
        // duplicates: every mention of these goes.
        let mut texts: Vec<String> = Vec::new();
        for (_, [external, email, first, last]) in &found {
            texts.extend(external.iter().chain(email).cloned());
            if let (Some(f), Some(l)) = (first, last) {
                texts.push(format!("{f} {l}"));
            }
        }
        texts.retain(|t| !t.trim().is_empty());
        texts.sort();
        texts.dedup();
        let mut reports = 0;
        let mut mentioned: Vec<(i64, String)> = Vec::new();
        {
            let mut stmt = tx
                .prepare("SELECT id, report FROM imports WHERE instr(report, ?1) > 0")
                .map_err(err)?;
            for t in &texts {
                let rows = stmt
                    .query_map([t], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(err)?;
                for row in rows {
                    let row = row.map_err(err)?;
                    if !mentioned.iter().any(|m| m.0 == row.0) {
                        mentioned.push(row);
                    }
                }
            }
        }
        for (id, report) in mentioned {
            let redacted = match serde_json::from_str::<Value>(&report) {
                Ok(mut v) => {
                    scrub(&mut v, &texts);
                    v.to_string()
                }
                // Not JSON (never written so): nothing of it is kept.
                Err(_) => "{}".to_string(),
            };
            if redacted != report {
                tx.execute(
                    "UPDATE imports SET report = ?2 WHERE id = ?1",
                    params![id, redacted],
                )
                .map_err(err)?;
                reports += 1;
            }
        }

        let detail = serde_json::json!({
            "customers": ids.len(), "events": events, "by": by, "reports_redacted": reports,
        });
        audit::record(&tx, "erasure", &detail).map_err(err)?;
        Store::bump_data_version(&tx).map_err(err)?;
        tx.commit().map_err(err)?;
        // Free space inside pages still holds what earlier updates and
        // deletes left behind (an import that updated this customer's row,
        // say): VACUUM writes the file anew without any of it, and the
        // checkpoint empties the log that held the old page images.
        let vacuumed = self.conn.execute_batch("VACUUM").is_ok();
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(Erasure {
            customers: ids.len(),
            events,
            reports,
            log_cleared: vacuumed && busy == 0,
        })
    }
}

/// Replaces every mention of `texts` in the string values of `v`: a value
/// that is one of them, one quoted inside a note (`"C042"`), and, for
/// emails and full names, any occurrence.
fn scrub(v: &mut Value, texts: &[String]) {
    match v {
        Value::String(s) => {
            if texts.iter().any(|t| t == s) {
                *s = ERASED.to_string();
                return;
            }
            for t in texts {
                let quoted = format!("\"{t}\"");
                if s.contains(&quoted) {
                    *s = s.replace(&quoted, &format!("\"{ERASED}\""));
                }
                if (t.contains('@') || t.contains(' ')) && s.contains(t.as_str()) {
                    *s = s.replace(t.as_str(), ERASED);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, texts)),
        Value::Object(map) => map.values_mut().for_each(|i| scrub(i, texts)),
        _ => {}
    }
}
