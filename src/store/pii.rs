//! Which customer fields are personal (PII), and what each holds: built-in
//! fields by a fixed list, custom fields by their name or, on import, by
//! their values; a person can mark or unmark any field. Demo mode masks
//! exactly these.

use rusqlite::{OptionalExtension, params};

use super::write::BulkLoad;
use super::{Result, Store, StoreError};
use crate::model::mask::{Masker, PiiKind, default_kind};
use crate::model::{FieldDef, FieldType};

/// Who decided whether a field is personal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PiiSource {
    /// The built-in list or the field's name.
    Default,
    /// An import, from the field's values.
    Detected,
    /// A person, in the Data screen or with `prism pii`.
    User,
}

/// A customer field and whether it is personal.
#[derive(Clone, Debug, PartialEq)]
pub struct PiiField {
    pub field: FieldDef,
    /// What it holds, when personal; `None`: not personal.
    pub kind: Option<PiiKind>,
    pub source: PiiSource,
}

fn stored(
    conn: &rusqlite::Connection,
    name: &str,
) -> rusqlite::Result<Option<(bool, String, String)>> {
    conn.query_row(
        "SELECT pii, kind, set_by FROM pii_fields WHERE name = ?1",
        [name],
        |r| Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

impl Store {
    /// Every customer field, with whether it is personal.
    pub fn pii_fields(&self) -> Result<Vec<PiiField>> {
        // A workspace from before the table, opened read-only, has no
        // decisions yet: every field is what its name says.
        let has_table: bool = self
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'pii_fields'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for field in self.customer_fields()? {
            let row = if has_table {
                stored(&self.conn, &field.name).map_err(|e| self.err(e))?
            } else {
                None
            };
            let (kind, source) = match row {
                Some((pii, kind, by)) => (
                    pii.then(|| PiiKind::parse(&kind).unwrap_or(PiiKind::Text)),
                    if by == "user" {
                        PiiSource::User
                    } else {
                        PiiSource::Detected
                    },
                ),
                None => (
                    default_kind(&field.name, field.field_type),
                    PiiSource::Default,
                ),
            };
            out.push(PiiField {
                field,
                kind,
                source,
            });
        }
        Ok(out)
    }

    /// What demo mode masks in this workspace.
    pub fn masker(&self) -> Result<Masker> {
        Ok(Masker::new(
            self.pii_fields()?
                .into_iter()
                .filter_map(|f| f.kind.map(|k| (f.field.name, k))),
        ))
    }

    /// Marks field `name` as personal (holding `kind`; by default what its
    /// name or type says) or not (`None`).
    pub fn set_pii(&self, name: &str, pii: bool, kind: Option<PiiKind>) -> Result<Option<PiiKind>> {
        let fields = self.customer_fields()?;
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            return Err(StoreError::Invalid(format!(
                "no customer field {name:?} (fields: {})",
                names.join(", ")
            )));
        };
        let kind = pii.then(|| {
            kind.or_else(|| default_kind(name, field.field_type))
                .unwrap_or(match field.field_type {
                    FieldType::Date => PiiKind::Date,
                    _ => PiiKind::Text,
                })
        });
        self.conn
            .execute(
                "INSERT INTO pii_fields(name, pii, kind, set_by) VALUES (?1, ?2, ?3, 'user')
                 ON CONFLICT(name) DO UPDATE SET pii = ?2, kind = ?3, set_by = 'user'",
                params![name, pii as i64, kind.map_or("", PiiKind::as_str)],
            )
            .map_err(|e| self.err(e))?;
        Ok(kind)
    }
}

impl BulkLoad<'_> {
    /// Decides, once, whether the custom text field `name` an import
    /// filled is personal: by its name, else by a sample of its values.
    /// A field already decided (by a person or an earlier import) is left
    /// as it is. Returns the kind when it was marked personal now.
    pub fn detect_pii(&self, name: &str) -> Result<Option<PiiKind>> {
        let Some(field) = self.custom.iter().find(|f| f.name == name) else {
            return Ok(None);
        };
        if field.field_type != FieldType::Text
            || stored(&self.tx, name).map_err(|e| self.err(e))?.is_some()
        {
            return Ok(None);
        }
        let kind = match PiiKind::from_name(name) {
            Some(k) => Some(k),
            None => {
                // The name is a checked identifier (a custom column).
                let mut stmt = self
                    .tx
                    .prepare(&format!(
                        "SELECT {name} FROM customers WHERE {name} IS NOT NULL AND {name} != '' LIMIT 1000"
                    ))
                    .map_err(|e| self.err(e))?;
                let values: Vec<String> = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(|e| self.err(e))?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(|e| self.err(e))?;
                PiiKind::from_values(values.iter().map(String::as_str))
            }
        };
        self.tx
            .execute(
                "INSERT INTO pii_fields(name, pii, kind, set_by) VALUES (?1, ?2, ?3, 'detected')",
                params![
                    name,
                    kind.is_some() as i64,
                    kind.map_or("", PiiKind::as_str)
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(kind)
    }
}
