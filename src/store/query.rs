//! Running generated segment SQL, and the scoring models' table.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::model::time::now_utc;

/// A value bound to a generated query.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Int(i64),
    Real(f64),
    Text(String),
}

impl SqlValue {
    /// As a literal: numbers as written, text in single quotes with quotes doubled.
    pub fn literal(&self) -> String {
        match self {
            SqlValue::Int(n) => n.to_string(),
            SqlValue::Real(x) => {
                let s = format!("{x}");
                if s.contains(['.', 'e', 'E']) || s.contains("inf") || s.contains("NaN") {
                    s
                } else {
                    format!("{s}.0")
                }
            }
            SqlValue::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

/// A saved scoring model.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRecord {
    pub id: i64,
    pub name: String,
    pub definition: String,
    pub updated_at: i64,
}

impl Store {
    /// Runs a generated segment query (one `id` column) with bound values and
    /// returns the ids. Only a single read-only statement is accepted. Its
    /// correlated subqueries read a customer's events through the
    /// customer-events index, so a workspace opened for writing that lacks
    /// it (a first load leaves it out) gets it first, once.
    pub fn query_customer_ids(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<i64>> {
        if !self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            self.ensure_index(&super::schema::EVENTS_BY_CUSTOMER)?;
        }
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        if !stmt.readonly() {
            return Err(StoreError::Invalid("a segment query must only read".into()));
        }
        let values: Vec<Value> = params
            .iter()
            .map(|p| match p {
                SqlValue::Int(n) => Value::Integer(*n),
                SqlValue::Real(x) => Value::Real(*x),
                SqlValue::Text(s) => Value::Text(s.clone()),
            })
            .collect();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn scores(&self) -> Result<Vec<ScoreRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, definition, updated_at FROM scores ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ScoreRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    definition: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Saves a scoring model by name (insert or replace its definition).
    pub fn save_score(&self, name: &str, definition: &str) -> Result<i64> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("a score needs a name".into()));
        }
        if serde_json::from_str::<serde_json::Value>(definition).is_err() {
            return Err(StoreError::Invalid(format!(
                "score {name:?}: its definition is not valid JSON"
            )));
        }
        self.conn
            .execute(
                "INSERT INTO scores(name, definition, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET definition = excluded.definition,
                                                 updated_at = excluded.updated_at",
                params![name, definition, now_utc()],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row("SELECT id FROM scores WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    pub fn delete_score(&self, name: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM scores WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    pub fn score(&self, name: &str) -> Result<Option<ScoreRecord>> {
        self.conn
            .query_row(
                "SELECT id, name, definition, updated_at FROM scores WHERE name = ?1",
                [name],
                |r| {
                    Ok(ScoreRecord {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        definition: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
