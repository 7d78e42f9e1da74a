//! Saved segments and their versions.

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, StoreError};
use crate::model::time::now_utc;
use crate::model::{SegmentRecord, SegmentVersion};

const SEGMENT_COLUMNS: &str =
    "id, name, description, color, priority, rule, created_at, updated_at";

fn segment_from_row(r: &Row<'_>) -> rusqlite::Result<SegmentRecord> {
    Ok(SegmentRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        color: r.get(3)?,
        priority: r.get(4)?,
        rule: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<SegmentVersion> {
    Ok(SegmentVersion {
        id: r.get(0)?,
        segment_id: r.get(1)?,
        version: r.get(2)?,
        rule: r.get(3)?,
        saved_at: r.get(4)?,
        member_count: r.get(5)?,
        as_of: r.get(6)?,
        note: r.get(7)?,
    })
}

impl Store {
    /// Saved segments in priority order.
    pub fn segments(&self) -> Result<Vec<SegmentRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segments ORDER BY priority, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], segment_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn segment(&self, id: i64) -> Result<Option<SegmentRecord>> {
        self.conn
            .query_row(
                &format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE id = ?1"),
                [id],
                segment_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn segment_by_name(&self, name: &str) -> Result<Option<SegmentRecord>> {
        self.conn
            .query_row(
                &format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE name = ?1"),
                [name],
                segment_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Inserts the segment if `seg.id == 0` (at the lowest priority), updates
    /// it otherwise. Returns its id.
    pub fn save_segment(&self, seg: &SegmentRecord) -> Result<i64> {
        if seg.name.trim().is_empty() {
            return Err(StoreError::Invalid("a segment needs a name".into()));
        }
        if serde_json::from_str::<serde_json::Value>(&seg.rule).is_err() {
            return Err(StoreError::Invalid(format!(
                "segment {:?}: its rule is not valid JSON",
                seg.name
            )));
        }
        if let Some(other) = self.segment_by_name(&seg.name)?
            && other.id != seg.id
        {
            return Err(StoreError::Invalid(format!(
                "a segment named {:?} already exists",
                seg.name
            )));
        }
        let now = now_utc();
        if seg.id == 0 {
            let priority: i64 = self
                .conn
                .query_row(
                    "SELECT coalesce(max(priority), 0) + 1 FROM segments",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            self.conn
                .execute(
                    "INSERT INTO segments(name, description, color, priority, rule, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![seg.name, seg.description, seg.color, priority, seg.rule, now],
                )
                .map_err(|e| self.err(e))?;
            Ok(self.conn.last_insert_rowid())
        } else {
            let n = self
                .conn
                .execute(
                    "UPDATE segments SET name = ?2, description = ?3, color = ?4, priority = ?5,
                            rule = ?6, updated_at = ?7 WHERE id = ?1",
                    params![
                        seg.id,
                        seg.name,
                        seg.description,
                        seg.color,
                        seg.priority,
                        seg.rule,
                        now
                    ],
                )
                .map_err(|e| self.err(e))?;
            if n == 0 {
                return Err(StoreError::Invalid(format!(
                    "no segment with id {}",
                    seg.id
                )));
            }
            Ok(seg.id)
        }
    }

    pub fn delete_segment(&self, id: i64) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM segments WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Sets the priority order: `ids[0]` gets priority 1, and so on (run it
    /// inside [`Store::transaction`] to make it one change).
    pub fn reorder_segments(&self, ids: &[i64]) -> Result<()> {
        for (i, id) in ids.iter().enumerate() {
            self.conn
                .execute(
                    "UPDATE segments SET priority = ?2 WHERE id = ?1",
                    params![id, i as i64 + 1],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Saves the segment's current rule as its next version.
    pub fn add_segment_version(
        &self,
        segment_id: i64,
        rule: &str,
        member_count: Option<i64>,
        as_of: Option<i64>,
        note: &str,
    ) -> Result<SegmentVersion> {
        let version: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(max(version), 0) + 1 FROM segment_versions WHERE segment_id = ?1",
                [segment_id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let saved_at = now_utc();
        self.conn
            .execute(
                "INSERT INTO segment_versions(segment_id, version, rule, saved_at, member_count, as_of, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![segment_id, version, rule, saved_at, member_count, as_of, note],
            )
            .map_err(|e| self.err(e))?;
        Ok(SegmentVersion {
            id: self.conn.last_insert_rowid(),
            segment_id,
            version,
            rule: rule.to_string(),
            saved_at,
            member_count,
            as_of,
            note: note.to_string(),
        })
    }

    /// Versions of a segment, newest first.
    pub fn segment_versions(&self, segment_id: i64) -> Result<Vec<SegmentVersion>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, segment_id, version, rule, saved_at, member_count, as_of, note
                 FROM segment_versions WHERE segment_id = ?1 ORDER BY version DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([segment_id], version_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}
