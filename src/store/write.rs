//! Writing: bulk loads in one transaction, and the custom-field registry.

use std::collections::HashSet;

use rusqlite::types::Value;
use rusqlite::{Transaction, params};
use rustc_hash::FxHashMap;

use super::{Result, Store, StoreError, schema};
use crate::model::time::{format_date, now_utc};
use crate::model::{
    BUILTIN_CUSTOMER_FIELDS, Campaign, Customer, Event, FieldDef, FieldType, FieldValue, Product,
    Template, is_identifier,
};

/// A bulk load: many rows written in one transaction. Nothing is visible to
/// other readers until [`BulkLoad::commit`]; dropping it without committing
/// (an error, a cancel) leaves the workspace exactly as it was.
pub struct BulkLoad<'a> {
    pub(super) tx: Transaction<'a>,
    pub(super) path: String,
    pub(super) custom: Vec<FieldDef>,
    insert_customer_sql: String,
    /// Events this load inserted, per name, for `event_stats`.
    pub(super) written: FxHashMap<String, NameStats>,
    /// Names whose events changed in place: counted again at commit.
    pub(super) recount: HashSet<String>,
    /// The customer-events index is known to be there.
    pub(super) events_indexed: bool,
}

/// How many events of a name, and their oldest and newest time.
#[derive(Clone, Copy, Debug)]
pub(super) struct NameStats {
    events: i64,
    first: i64,
    last: i64,
}

/// Counts an inserted event for `event_stats`.
pub(super) fn note_event(written: &mut FxHashMap<String, NameStats>, name: &str, time: i64) {
    match written.get_mut(name) {
        Some(s) => {
            s.events += 1;
            s.first = s.first.min(time);
            s.last = s.last.max(time);
        }
        None => {
            written.insert(
                name.to_string(),
                NameStats {
                    events: 1,
                    first: time,
                    last: time,
                },
            );
        }
    }
}

impl Store {
    /// Starts a bulk load. With `fast`, the lookup indexes of tables that are
    /// empty now are dropped, to be built when a query first needs them
    /// ([`schema::ON_DEMAND_INDEXES`]), and foreign keys are not checked.
    pub fn bulk_load(&mut self, fast: bool) -> Result<BulkLoad<'_>> {
        let custom = self.custom_fields()?;
        let path = self.path.display().to_string();
        // A bigger page cache keeps a large load from re-reading pages.
        let _ = self.conn.pragma_update(None, "cache_size", -131_072);
        if fast {
            // Loads check customer ids themselves (they come from this very
            // transaction), so SQLite need not look each one up again.
            // Turned back on by `Store::end_bulk_load`.
            let _ = self.conn.pragma_update(None, "foreign_keys", "OFF");
        }
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        })?;
        if fast {
            let sqlite = |e| StoreError::Sqlite {
                path: path.clone(),
                source: e,
            };
            for index in schema::ON_DEMAND_INDEXES {
                // Names come from the schema, not from a user.
                let empty: bool = tx
                    .query_row(
                        &format!("SELECT NOT EXISTS (SELECT 1 FROM {})", index.table),
                        [],
                        |r| r.get(0),
                    )
                    .map_err(sqlite)?;
                if empty {
                    tx.execute_batch(&format!("DROP INDEX IF EXISTS {}", index.name))
                        .map_err(sqlite)?;
                }
            }
        }
        let insert_customer_sql = customer_insert_sql(&custom);
        Ok(BulkLoad {
            tx,
            path,
            custom,
            insert_customer_sql,
            written: FxHashMap::default(),
            recount: HashSet::new(),
            events_indexed: false,
        })
    }

    /// Restores the checks a fast bulk load turned off.
    pub fn end_bulk_load(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| self.err(e))
    }

    /// The custom customer fields, in the order they were added.
    pub fn custom_fields(&self) -> Result<Vec<FieldDef>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, field_type, label FROM custom_fields ORDER BY rowid")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, ty, label) = row.map_err(|e| self.err(e))?;
            let field_type = FieldType::parse(&ty).ok_or_else(|| {
                StoreError::Invalid(format!("custom field {name} has unknown type {ty}"))
            })?;
            out.push(FieldDef {
                name,
                field_type,
                label,
                custom: true,
            });
        }
        Ok(out)
    }

    /// Every customer field, built-in first, then custom.
    pub fn customer_fields(&self) -> Result<Vec<FieldDef>> {
        let mut fields: Vec<FieldDef> = BUILTIN_CUSTOMER_FIELDS
            .iter()
            .map(|(name, t, label)| FieldDef {
                name: name.to_string(),
                field_type: *t,
                label: label.to_string(),
                custom: false,
            })
            .collect();
        fields.extend(self.custom_fields()?);
        Ok(fields)
    }

    /// Adds a custom customer field (a new column). Adding a field that exists
    /// with the same type is a no-op; with another type it is an error.
    pub fn add_custom_field(&self, name: &str, field_type: FieldType, label: &str) -> Result<()> {
        add_custom_field(&self.conn, name, field_type, label).map_err(|e| match e {
            AddFieldError::Invalid(m) => StoreError::Invalid(m),
            AddFieldError::Sqlite(e) => self.err(e),
        })
    }
}

pub(crate) enum AddFieldError {
    Invalid(String),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for AddFieldError {
    fn from(e: rusqlite::Error) -> Self {
        AddFieldError::Sqlite(e)
    }
}

pub(crate) fn add_custom_field(
    conn: &rusqlite::Connection,
    name: &str,
    field_type: FieldType,
    label: &str,
) -> std::result::Result<(), AddFieldError> {
    if !is_identifier(name) {
        return Err(AddFieldError::Invalid(format!(
            "custom field name {name:?} must be lower_snake_case (letters, digits, _)"
        )));
    }
    if BUILTIN_CUSTOMER_FIELDS.iter().any(|f| f.0 == name) || name == "id" {
        return Err(AddFieldError::Invalid(format!(
            "custom field name {name:?} is taken by a built-in field"
        )));
    }
    let existing: Option<String> = conn
        .query_row(
            "SELECT field_type FROM custom_fields WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .ok();
    if let Some(t) = existing {
        return if t == field_type.as_str() {
            Ok(())
        } else {
            Err(AddFieldError::Invalid(format!(
                "custom field {name} already exists as {t}, not {field_type}"
            )))
        };
    }
    // The name is a checked identifier, so it is safe in DDL.
    conn.execute_batch(&format!(
        "ALTER TABLE customers ADD COLUMN {name} {}",
        field_type.sql_type()
    ))?;
    conn.execute(
        "INSERT INTO custom_fields(name, field_type, label, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, field_type.as_str(), label, now_utc()],
    )?;
    Ok(())
}

impl BulkLoad<'_> {
    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        }
    }

    /// Adds a custom field inside this load; later customer inserts carry it.
    pub fn add_custom_field(
        &mut self,
        name: &str,
        field_type: FieldType,
        label: &str,
    ) -> Result<()> {
        add_custom_field(&self.tx, name, field_type, label).map_err(|e| match e {
            AddFieldError::Invalid(m) => StoreError::Invalid(m),
            AddFieldError::Sqlite(e) => self.err(e),
        })?;
        if !self.custom.iter().any(|f| f.name == name) {
            self.custom.push(FieldDef {
                name: name.to_string(),
                field_type,
                label: label.to_string(),
                custom: true,
            });
            self.insert_customer_sql = customer_insert_sql(&self.custom);
        }
        Ok(())
    }

    /// Inserts a customer and returns its workspace id (`c.id` is ignored).
    pub fn insert_customer(&mut self, c: &Customer) -> Result<i64> {
        let birth = c.birth_date.map(format_date);
        let mut stmt = self
            .tx
            .prepare_cached(&self.insert_customer_sql)
            .map_err(|e| self.err(e))?;
        let r = (|| {
            stmt.raw_bind_parameter(1, c.external_id.as_str())?;
            stmt.raw_bind_parameter(2, c.email.as_deref())?;
            stmt.raw_bind_parameter(3, c.first_name.as_deref())?;
            stmt.raw_bind_parameter(4, c.last_name.as_deref())?;
            stmt.raw_bind_parameter(5, birth.as_deref())?;
            stmt.raw_bind_parameter(6, c.gender.as_deref())?;
            stmt.raw_bind_parameter(7, c.city.as_deref())?;
            stmt.raw_bind_parameter(8, c.country.as_deref())?;
            stmt.raw_bind_parameter(9, c.signup_at)?;
            stmt.raw_bind_parameter(10, c.email_consent as i64)?;
            for (k, f) in self.custom.iter().enumerate() {
                let v = c.custom.get(&f.name).unwrap_or(&FieldValue::Null);
                let i = 11 + k;
                match (v, f.field_type) {
                    (FieldValue::Null, _) => stmt.raw_bind_parameter(i, rusqlite::types::Null)?,
                    (FieldValue::Bool(b), _) => stmt.raw_bind_parameter(i, *b as i64)?,
                    (FieldValue::Number(n), FieldType::Timestamp) => {
                        stmt.raw_bind_parameter(i, *n as i64)?
                    }
                    (FieldValue::Number(n), _) => stmt.raw_bind_parameter(i, *n)?,
                    (FieldValue::Text(s), _) => stmt.raw_bind_parameter(i, s.as_str())?,
                }
            }
            stmt.raw_execute()
        })();
        r.map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Builds `index` inside this load if the workspace lacks it.
    pub(super) fn ensure_index(&self, index: &schema::OnDemandIndex) -> Result<bool> {
        ensure_index(&self.tx, index).map_err(|e| self.err(e))
    }

    /// Adds what this load wrote to `event_stats`.
    fn write_event_stats(&self) -> rusqlite::Result<()> {
        let mut add = self.tx.prepare(
            "INSERT INTO event_stats(name, events, first, last) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET events = events + excluded.events,
                 first = min(first, excluded.first), last = max(last, excluded.last)",
        )?;
        for (name, s) in &self.written {
            if !self.recount.contains(name) {
                add.execute(params![name, s.events, s.first, s.last])?;
            }
        }
        let names: Vec<&str> = self.recount.iter().map(String::as_str).collect();
        recount_event_stats(&self.tx, &names)
    }

    pub fn insert_event(&mut self, e: &Event) -> Result<()> {
        let props = e
            .properties
            .as_ref()
            .map(|m| serde_json::Value::Object(m.clone()).to_string());
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO events(customer_id, name, time, value, product, category, campaign, properties)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(|err| self.err(err))?;
        stmt.execute(params![
            e.customer_id,
            e.name,
            e.time,
            e.value,
            e.product,
            e.category,
            e.campaign,
            props
        ])
        .map_err(|err| self.err(err))?;
        note_event(&mut self.written, &e.name, e.time);
        Ok(())
    }

    pub fn insert_product(&mut self, p: &Product) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO products(sku, name, category, price) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.err(e))?;
        stmt.execute(params![p.sku, p.name, p.category, p.price])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn insert_campaign(&mut self, c: &Campaign) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO campaigns(id, name, subject, sent_at, template_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(|e| self.err(e))?;
        stmt.execute(params![c.id, c.name, c.subject, c.sent_at, c.template_id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn insert_template(&mut self, t: &Template) -> Result<i64> {
        super::templates::insert_template(&self.tx, t).map_err(|e| self.err(e))
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO workspace_meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Brings `event_stats` up to date, bumps the data version and commits.
    pub fn commit(self) -> Result<()> {
        self.write_event_stats().map_err(|e| self.err(e))?;
        Store::bump_data_version(&self.tx).map_err(|e| self.err(e))?;
        let path = self.path.clone();
        self.tx
            .commit()
            .map_err(|e| StoreError::Sqlite { path, source: e })
    }
}

/// The page cache while an index is built. The index sorter sorts runs of
/// about a page cache's worth of keys on each thread and merges them: 16 MB
/// runs built the 10M-event index in 6.5 s where 64 MB took 7.7 s and 1 GB
/// (one run, one thread) 18.6 s, and they keep the peak memory low.
const SORTER_CACHE_KIB: i64 = -16_384;

/// Builds `index` if the database lacks it, sorting on two threads, and
/// puts the page cache back as it was. True when it was built.
pub(super) fn ensure_index(
    conn: &rusqlite::Connection,
    index: &schema::OnDemandIndex,
) -> rusqlite::Result<bool> {
    let present: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
        [index.name],
        |r| r.get(0),
    )?;
    if present {
        return Ok(false);
    }
    let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
    let threads: i64 = conn.pragma_query_value(None, "threads", |r| r.get(0))?;
    conn.pragma_update(None, "cache_size", SORTER_CACHE_KIB)?;
    conn.pragma_update(None, "threads", 2)?;
    let built = conn.execute_batch(index.create);
    conn.pragma_update(None, "cache_size", cache)?;
    conn.pragma_update(None, "threads", threads)?;
    built.map(|()| true)
}

/// Counts the events of `names` again from the table, in one pass, into
/// `event_stats` (for events changed or deleted in place).
pub(super) fn recount_event_stats(
    tx: &rusqlite::Connection,
    names: &[&str],
) -> rusqlite::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; names.len()].join(", ");
    tx.execute(
        &format!("DELETE FROM event_stats WHERE name IN ({marks})"),
        rusqlite::params_from_iter(names),
    )?;
    tx.execute(
        &format!(
            "INSERT INTO event_stats(name, events, first, last)
             SELECT name, count(*), min(time), max(time) FROM events
             WHERE name IN ({marks}) GROUP BY name"
        ),
        rusqlite::params_from_iter(names),
    )?;
    Ok(())
}

/// `INSERT INTO customers (…every column…) VALUES (?1, …)`.
fn customer_insert_sql(custom: &[FieldDef]) -> String {
    let mut cols: Vec<&str> = BUILTIN_CUSTOMER_FIELDS.iter().map(|f| f.0).collect();
    cols.extend(custom.iter().map(|f| f.name.as_str()));
    let marks = (1..=cols.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO customers ({}) VALUES ({marks})",
        cols.join(", ")
    )
}

pub(super) fn opt_text(s: &Option<String>) -> Value {
    match s {
        Some(s) => Value::Text(s.clone()),
        None => Value::Null,
    }
}

/// Converts a field value to what its column stores.
pub(crate) fn field_value_to_sql(v: &FieldValue, t: FieldType) -> Value {
    match (v, t) {
        (FieldValue::Null, _) => Value::Null,
        (FieldValue::Bool(b), _) => Value::Integer(*b as i64),
        (FieldValue::Number(n), FieldType::Timestamp) => Value::Integer(*n as i64),
        (FieldValue::Number(n), _) => Value::Real(*n),
        (FieldValue::Text(s), _) => Value::Text(s.clone()),
    }
}
