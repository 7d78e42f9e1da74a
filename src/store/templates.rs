//! Email templates, their versions, and the content map (segment →
//! template variants).

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, StoreError};
use crate::model::time::now_utc;
use crate::model::{MapEntry, Template, TemplateVersion};

const TEMPLATE_COLUMNS: &str =
    "id, name, from_name, from_address, subject, preheader, body, text_body, updated_at";

fn template_from_row(r: &Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        id: r.get(0)?,
        name: r.get(1)?,
        from_name: r.get(2)?,
        from_address: r.get(3)?,
        subject: r.get(4)?,
        preheader: r.get(5)?,
        body: r.get(6)?,
        text_body: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub(super) fn insert_template(conn: &rusqlite::Connection, t: &Template) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO templates(name, from_name, from_address, subject, preheader, body, text_body, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            t.name,
            t.from_name,
            t.from_address,
            t.subject,
            t.preheader,
            t.body,
            t.text_body,
            t.updated_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

impl Store {
    /// All templates, by id.
    pub fn templates(&self) -> Result<Vec<Template>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {TEMPLATE_COLUMNS} FROM templates ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], template_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn template(&self, id: i64) -> Result<Option<Template>> {
        self.conn
            .query_row(
                &format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = ?1"),
                [id],
                template_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn template_by_name(&self, name: &str) -> Result<Option<Template>> {
        self.conn
            .query_row(
                &format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE name = ?1"),
                [name],
                template_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Inserts the template if `t.id == 0`, updates it otherwise, and saves
    /// what was written as the template's next version. Returns the id and
    /// the version number.
    pub fn save_template(&self, t: &Template, note: &str) -> Result<(i64, i64)> {
        if t.name.trim().is_empty() {
            return Err(StoreError::Invalid("a template needs a name".into()));
        }
        if let Some(other) = self.template_by_name(&t.name)?
            && other.id != t.id
        {
            return Err(StoreError::Invalid(format!(
                "a template named {:?} already exists",
                t.name
            )));
        }
        let now = now_utc();
        let saved = Template {
            updated_at: now,
            ..t.clone()
        };
        let id = if t.id == 0 {
            insert_template(&self.conn, &saved).map_err(|e| self.err(e))?
        } else {
            let n = self
                .conn
                .execute(
                    "UPDATE templates SET name = ?2, from_name = ?3, from_address = ?4, subject = ?5,
                            preheader = ?6, body = ?7, text_body = ?8, updated_at = ?9 WHERE id = ?1",
                    params![
                        t.id,
                        t.name,
                        t.from_name,
                        t.from_address,
                        t.subject,
                        t.preheader,
                        t.body,
                        t.text_body,
                        now
                    ],
                )
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(StoreError::Invalid(format!("no template with id {}", t.id)));
            }
            t.id
        };
        let version: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(max(version), 0) + 1 FROM template_versions WHERE template_id = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "INSERT INTO template_versions(template_id, version, subject, preheader, body, text_body,
                                               from_name, from_address, saved_at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    version,
                    t.subject,
                    t.preheader,
                    t.body,
                    t.text_body,
                    t.from_name,
                    t.from_address,
                    now,
                    note
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok((id, version))
    }

    /// Versions of a template, newest first.
    pub fn template_versions(&self, template_id: i64) -> Result<Vec<TemplateVersion>> {
        let Some(current) = self.template(template_id)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, version, subject, preheader, body, text_body, from_name, from_address, saved_at, note
                 FROM template_versions WHERE template_id = ?1 ORDER BY version DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([template_id], |r| {
                Ok(TemplateVersion {
                    id: r.get(0)?,
                    template_id,
                    version: r.get(1)?,
                    template: Template {
                        id: template_id,
                        name: current.name.clone(),
                        subject: r.get(2)?,
                        preheader: r.get(3)?,
                        body: r.get(4)?,
                        text_body: r.get(5)?,
                        from_name: r.get(6)?,
                        from_address: r.get(7)?,
                        updated_at: r.get(8)?,
                    },
                    saved_at: r.get(8)?,
                    note: r.get(9)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Deletes a template (its versions and map entries go with it).
    pub fn delete_template(&self, id: i64) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM templates WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// The whole content map, by segment priority then variant.
    pub fn content_map(&self) -> Result<Vec<MapEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.segment_id, m.variant, m.template_id, m.weight
                 FROM content_map m JOIN segments s ON s.id = m.segment_id
                 ORDER BY s.priority, s.id, m.variant",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(MapEntry {
                    segment_id: r.get(0)?,
                    variant: r.get(1)?,
                    template_id: r.get(2)?,
                    weight: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Replaces the variants of one segment (none: the segment is unmapped).
    /// Run it inside [`Store::transaction`] to make it one change.
    pub fn set_segment_content(&self, segment_id: i64, variants: &[MapEntry]) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM content_map WHERE segment_id = ?1",
                [segment_id],
            )
            .map_err(|e| self.err(e))?;
        for v in variants {
            if v.weight == 0 {
                return Err(StoreError::Invalid(format!(
                    "variant {:?} needs a weight above 0",
                    v.variant
                )));
            }
            self.conn
                .execute(
                    "INSERT INTO content_map(segment_id, variant, template_id, weight) VALUES (?1, ?2, ?3, ?4)",
                    params![segment_id, v.variant, v.template_id, v.weight],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}
