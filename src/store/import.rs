//! What imports need beyond plain inserts: key lookups, updates that say
//! whether anything changed, keyed events, upserts of the catalog, and the
//! audit log, all inside the import's one transaction.

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, ToSql, params};

use super::read::{import_from_row, insert_import};
use super::write::{BulkLoad, field_value_to_sql, note_event, opt_text};
use super::{Result, StoreError, schema};
use crate::model::time::format_date;
use crate::model::{Campaign, Customer, FieldValue, ImportRecord, Product};

/// The workspace's customers by their keys.
#[derive(Debug, Default)]
pub struct CustomerKeys {
    pub by_external: FxHashMap<String, i64>,
    pub by_email: FxHashMap<String, i64>,
}

/// An event to import; `properties` is JSON text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewEvent {
    pub customer_id: i64,
    pub name: String,
    pub time: i64,
    pub value: Option<f64>,
    pub product: Option<String>,
    pub category: Option<String>,
    pub campaign: Option<String>,
    pub properties: Option<String>,
}

/// Rows per statement in [`BulkLoad::insert_events`].
const EVENTS_PER_INSERT: usize = 32;

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Inserted,
    Updated,
    Unchanged,
}

impl BulkLoad<'_> {
    pub fn customer_keys(&self) -> Result<CustomerKeys> {
        let mut keys = CustomerKeys::default();
        let mut stmt = self
            .tx
            .prepare("SELECT id, external_id, email FROM customers")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = r.get(0).map_err(|e| self.err(e))?;
            let ext: String = r.get(1).map_err(|e| self.err(e))?;
            let email: Option<String> = r.get(2).map_err(|e| self.err(e))?;
            keys.by_external.insert(ext, id);
            if let Some(e) = email {
                keys.by_email.entry(e).or_insert(id);
            }
        }
        Ok(keys)
    }

    /// The custom fields this load knows.
    pub fn custom_field_names(&self) -> Vec<String> {
        self.custom.iter().map(|f| f.name.clone()).collect()
    }

    /// Writes the non-empty values of `c` (its custom values that are not
    /// null, and `consent` if given) over customer `id`; `Ok(true)` if
    /// anything changed.
    pub fn update_customer(
        &mut self,
        id: i64,
        c: &Customer,
        consent: Option<bool>,
    ) -> Result<bool> {
        let mut cols: Vec<(&str, Value)> = Vec::new();
        let mut push = |name: &'static str, v: Value| {
            if !matches!(v, Value::Null) {
                cols.push((name, v));
            }
        };
        push("email", opt_text(&c.email));
        push("first_name", opt_text(&c.first_name));
        push("last_name", opt_text(&c.last_name));
        push(
            "birth_date",
            c.birth_date
                .map(|d| Value::Text(format_date(d)))
                .unwrap_or(Value::Null),
        );
        push("gender", opt_text(&c.gender));
        push("city", opt_text(&c.city));
        push("country", opt_text(&c.country));
        push(
            "signup_at",
            c.signup_at.map(Value::Integer).unwrap_or(Value::Null),
        );
        let mut custom_cols: Vec<(String, Value)> = Vec::new();
        for f in &self.custom {
            if let Some(v) = c.custom.get(&f.name)
                && *v != FieldValue::Null
            {
                custom_cols.push((f.name.clone(), field_value_to_sql(v, f.field_type)));
            }
        }
        let mut names: Vec<String> = cols.iter().map(|(n, _)| n.to_string()).collect();
        names.extend(custom_cols.iter().map(|(n, _)| n.clone()));
        let mut values: Vec<Value> = cols.into_iter().map(|(_, v)| v).collect();
        values.extend(custom_cols.into_iter().map(|(_, v)| v));
        if let Some(b) = consent {
            names.push("email_consent".into());
            values.push(Value::Integer(b as i64));
        }
        if names.is_empty() {
            return Ok(false);
        }
        // Only rows that differ are touched, so the change count says
        // whether anything changed. Column names come from the schema.
        let set = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n} = ?{}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let differs = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n} IS NOT ?{}", i + 2))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!("UPDATE customers SET {set} WHERE id = ?1 AND ({differs})");
        let mut all = vec![Value::Integer(id)];
        all.extend(values);
        let mut stmt = self.tx.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let n = stmt
            .execute(rusqlite::params_from_iter(all))
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Inserts events in one go: [`EVENTS_PER_INSERT`] rows per statement
    /// (one cursor and one append search per group instead of per row),
    /// the rest one by one.
    pub fn insert_events<E: std::borrow::Borrow<NewEvent>>(&mut self, rows: &[E]) -> Result<()> {
        const COLUMNS: &str = "INSERT INTO events(customer_id, name, time, value, product, category, campaign, properties) VALUES ";
        // Whole groups, then the rest one statement each.
        let (groups, rest) = rows.split_at(rows.len() - rows.len() % EVENTS_PER_INSERT);
        for (part, n) in [(groups, EVENTS_PER_INSERT), (rest, 1)] {
            if part.is_empty() {
                continue;
            }
            let sql = format!(
                "{COLUMNS}{}",
                vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ")
            );
            let mut stmt = self.tx.prepare_cached(&sql).map_err(|err| self.err(err))?;
            for group in part.chunks_exact(n) {
                let r = (|| {
                    for (k, e) in group.iter().enumerate() {
                        let e = e.borrow();
                        let at = k * 8;
                        stmt.raw_bind_parameter(at + 1, e.customer_id)?;
                        stmt.raw_bind_parameter(at + 2, e.name.as_str())?;
                        stmt.raw_bind_parameter(at + 3, e.time)?;
                        stmt.raw_bind_parameter(at + 4, e.value)?;
                        stmt.raw_bind_parameter(at + 5, e.product.as_deref())?;
                        stmt.raw_bind_parameter(at + 6, e.category.as_deref())?;
                        stmt.raw_bind_parameter(at + 7, e.campaign.as_deref())?;
                        stmt.raw_bind_parameter(at + 8, e.properties.as_deref())?;
                    }
                    stmt.raw_execute()
                })();
                r.map_err(|err| StoreError::Sqlite {
                    path: self.path.clone(),
                    source: err,
                })?;
            }
        }
        for e in rows {
            let e = e.borrow();
            note_event(&mut self.written, &e.name, e.time);
        }
        Ok(())
    }

    /// Writes an event that has a source key: inserted, or the event with
    /// the same name and key updated.
    pub fn write_keyed_event(&mut self, e: &NewEvent, key: &str) -> Result<Write> {
        let inserted = {
            let mut stmt = self
                .tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO events(customer_id, name, time, value, product, category, campaign, properties, source_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
                e.properties,
                key
            ])
            .map_err(|err| self.err(err))?
        };
        if inserted > 0 {
            note_event(&mut self.written, &e.name, e.time);
            return Ok(Write::Inserted);
        }
        let mut stmt = self
            .tx
            .prepare_cached(
                "UPDATE events SET customer_id = ?1, time = ?3, value = ?4, product = ?5, category = ?6,
                        campaign = ?7, properties = ?8
                 WHERE name = ?2 AND source_key = ?9
                   AND (customer_id IS NOT ?1 OR time IS NOT ?3 OR value IS NOT ?4 OR product IS NOT ?5
                        OR category IS NOT ?6 OR campaign IS NOT ?7 OR properties IS NOT ?8)",
            )
            .map_err(|err| self.err(err))?;
        let n = stmt
            .execute(params![
                e.customer_id,
                e.name,
                e.time,
                e.value,
                e.product,
                e.category,
                e.campaign,
                e.properties,
                key
            ])
            .map_err(|err| self.err(err))?;
        Ok(if n > 0 {
            // Its time may have moved the name's first or last event.
            if !self.recount.contains(&e.name) {
                self.recount.insert(e.name.clone());
            }
            Write::Updated
        } else {
            Write::Unchanged
        })
    }

    /// How many events identical to `e` the workspace has. The first call
    /// in a workspace whose first load left out the customer-events index
    /// builds it (inside this load).
    pub fn event_copies(&mut self, e: &NewEvent) -> Result<u64> {
        if !self.events_indexed {
            self.ensure_index(&schema::EVENTS_BY_CUSTOMER)?;
            self.events_indexed = true;
        }
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT count(*) FROM events WHERE customer_id = ?1 AND name = ?2 AND time = ?3
                   AND value IS ?4 AND product IS ?5 AND category IS ?6 AND campaign IS ?7
                   AND properties IS ?8",
            )
            .map_err(|err| self.err(err))?;
        stmt.query_row(
            params![
                e.customer_id,
                e.name,
                e.time,
                e.value,
                e.product,
                e.category,
                e.campaign,
                e.properties
            ],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(|err| self.err(err))
    }

    /// Event names the workspace has any events of.
    pub fn event_names_present(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .tx
            .prepare("SELECT name FROM event_stats WHERE events > 0")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<HashSet<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn upsert_product(&mut self, p: &Product) -> Result<Write> {
        self.upsert(
            "INSERT OR IGNORE INTO products(sku, name, category, price) VALUES (?1, ?2, ?3, ?4)",
            "UPDATE products SET name = ?2, category = coalesce(?3, category), price = coalesce(?4, price)
             WHERE sku = ?1 AND (name IS NOT ?2 OR (?3 IS NOT NULL AND category IS NOT ?3)
                                 OR (?4 IS NOT NULL AND price IS NOT ?4))",
            params![p.sku, p.name, p.category, p.price],
        )
    }

    pub fn upsert_campaign(&mut self, c: &Campaign) -> Result<Write> {
        self.upsert(
            "INSERT OR IGNORE INTO campaigns(id, name, subject, sent_at) VALUES (?1, ?2, ?3, ?4)",
            "UPDATE campaigns SET name = ?2, subject = coalesce(?3, subject), sent_at = coalesce(?4, sent_at)
             WHERE id = ?1 AND (name IS NOT ?2 OR (?3 IS NOT NULL AND subject IS NOT ?3)
                                OR (?4 IS NOT NULL AND sent_at IS NOT ?4))",
            params![c.id, c.name, c.subject, c.sent_at],
        )
    }

    /// Inserts a row, or else updates it where a value differs.
    fn upsert(&mut self, insert: &str, update: &str, values: &[&dyn ToSql]) -> Result<Write> {
        if self.tx.execute(insert, values).map_err(|e| self.err(e))? > 0 {
            return Ok(Write::Inserted);
        }
        Ok(
            if self.tx.execute(update, values).map_err(|e| self.err(e))? > 0 {
                Write::Updated
            } else {
                Write::Unchanged
            },
        )
    }

    /// The last successful import of a file with this hash, as this kind.
    pub fn import_by_hash(&self, hash: &str, kind: &str) -> Result<Option<ImportRecord>> {
        self.tx
            .query_row(
                "SELECT id, started_at, finished_at, file_name, file_hash, file_size, kind, status,
                        rows_read, inserted, updated, merged, rejected, report
                 FROM imports WHERE file_hash = ?1 AND kind = ?2 AND status = 'ok'
                 ORDER BY id DESC LIMIT 1",
                params![hash, kind],
                import_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records the import in the imports table and the audit log.
    pub fn record_import(&mut self, r: &ImportRecord) -> Result<i64> {
        let id = insert_import(&self.tx, r).map_err(|e| self.err(e))?;
        let detail = serde_json::json!({
            "file": r.file_name, "kind": r.kind, "rows": r.rows_read,
            "inserted": r.inserted, "updated": r.updated, "rejected": r.rejected,
        });
        super::audit::record(&self.tx, "import", &detail).map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Gives up: nothing of this load is kept.
    pub fn rollback(self) -> Result<()> {
        if self.tx.is_autocommit() {
            // An interrupted statement already rolled the load back.
            return Ok(());
        }
        let path = self.path.clone();
        self.tx
            .rollback()
            .map_err(|e| super::StoreError::Sqlite { path, source: e })
    }

    /// Stops the statement this load is running, from another thread
    /// (Cancel during a long one: the first check against the workspace's
    /// events builds their index). The statement fails, and the load with
    /// it.
    pub fn interrupt_handle(&self) -> rusqlite::InterruptHandle {
        self.tx.get_interrupt_handle()
    }
}
