//! Pages of any browsable table, for the Data screen's table browser.

use rusqlite::types::ValueRef;

use super::{Result, Store, StoreError, schema};

/// One cell of a browsed table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A column of a browsed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// Holds Unix seconds, to be shown as a date and time.
    pub is_timestamp: bool,
}

/// Rows `first_row .. first_row + rows.len()` of a table, in rowid order.
#[derive(Clone, Debug, PartialEq)]
pub struct TablePage {
    pub table: String,
    pub columns: Vec<ColumnInfo>,
    pub first_row: u64,
    pub rows: Vec<Vec<Cell>>,
}

/// Columns that hold Unix seconds.
const TIMESTAMP_COLUMNS: &[&str] = &[
    "time",
    "signup_at",
    "sent_at",
    "updated_at",
    "created_at",
    "saved_at",
    "as_of",
    "started_at",
    "finished_at",
];

impl Store {
    fn check_browsable(&self, table: &str) -> Result<()> {
        if schema::BROWSABLE_TABLES.contains(&table) {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!("no table named {table:?}")))
        }
    }

    /// The columns of a browsable table, in table order.
    pub fn table_columns(&self, table: &str) -> Result<Vec<ColumnInfo>> {
        self.check_browsable(table)?;
        let custom_timestamps: Vec<String> = if table == "customers" {
            self.custom_fields()?
                .into_iter()
                .filter(|f| f.field_type == crate::model::FieldType::Timestamp)
                .map(|f| f.name)
                .collect()
        } else {
            Vec::new()
        };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .map_err(|e| self.err(e))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(names
            .into_iter()
            .map(|name| ColumnInfo {
                is_timestamp: TIMESTAMP_COLUMNS.contains(&name.as_str())
                    || custom_timestamps.contains(&name),
                name,
            })
            .collect())
    }

    /// Reads `limit` rows of `table` starting at row `offset` (0-based, rowid
    /// order). Dense rowids (no deletions) are addressed directly, so deep
    /// pages of a large table cost the same as the first.
    pub fn table_page(&self, table: &str, offset: u64, limit: u64) -> Result<TablePage> {
        let columns = self.table_columns(table)?;
        let (min, max, count): (Option<i64>, Option<i64>, i64) = self
            .conn
            .query_row(
                &format!("SELECT min(rowid), max(rowid), count(*) FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        let dense = matches!((min, max), (Some(lo), Some(hi)) if hi - lo + 1 == count);
        let cols = columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if dense {
            format!("SELECT {cols} FROM {table} WHERE rowid >= ?1 ORDER BY rowid LIMIT ?2")
        } else {
            format!("SELECT {cols} FROM {table} ORDER BY rowid LIMIT ?2 OFFSET ?1")
        };
        let start = if dense {
            min.unwrap_or(0) + offset as i64
        } else {
            offset as i64
        };
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(rusqlite::params![start, limit as i64])
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let mut cells = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                let v = row.get_ref(i).map_err(|e| self.err(e))?;
                cells.push(match v {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Int(n),
                    ValueRef::Real(x) => Cell::Real(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Text(format!("<{} bytes>", b.len())),
                });
            }
            out.push(cells);
        }
        Ok(TablePage {
            table: table.to_string(),
            columns,
            first_row: offset,
            rows: out,
        })
    }
}
