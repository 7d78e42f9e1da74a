//! The import report: counts, every rejected row with its place and reason,
//! merges, likely duplicates, and warnings.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::mapping::Mapping;
use super::source::{Encoding, Sniffed};
use crate::model::ImportRecord;
use crate::model::text::csv_field;

/// Rejected rows kept in the report (the count is always exact).
pub const MAX_REJECTS: usize = 100_000;
/// Merge notes and likely duplicates kept in the report.
pub const MAX_NOTES: usize = 1_000;

/// A row that was not imported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reject {
    /// 1 = the first data row.
    pub row: u64,
    pub line: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

/// Two customers that are probably one person: kept apart, for review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LikelyDuplicate {
    pub name: String,
    pub a: String,
    pub b: String,
    /// The evidence, for and against.
    pub why: String,
    /// Higher is likelier (see `ingest::duplicates`).
    #[serde(default)]
    pub score: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub file: String,
    pub format: String,
    pub kind: String,
    pub key: String,
    /// Column → where it went.
    pub mapping: Vec<(String, String)>,
    pub rows_read: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Rows folded into another row or customer (same key, same email, or
    /// an exact duplicate event).
    pub merged: u64,
    /// Rows identical to what the workspace already had.
    pub unchanged: u64,
    pub rejected: u64,
    /// Customers created for events of unknown customers.
    pub stub_customers: u64,
    pub rejects: Vec<Reject>,
    /// Rows imported with a problem worth knowing (an invalid email kept
    /// out of the email field); the count is exact.
    pub warned: u64,
    pub row_warnings: Vec<Reject>,
    /// Event rows identical to an earlier row of the file (no event id
    /// column): kept unless `drop_identical_rows`; the count is exact.
    pub identical_rows: u64,
    /// `(row, earlier row)` for the first of them.
    pub identical: Vec<(u64, u64)>,
    /// Whether the identical rows were dropped (counted in `merged`).
    pub identical_dropped: bool,
    pub merges: Vec<String>,
    pub likely_duplicates: Vec<LikelyDuplicate>,
    pub likely_duplicate_count: u64,
    pub created_fields: Vec<String>,
    /// Custom fields this import found personal (demo mode masks them):
    /// `mobile (phone)`. Reports from before it have none.
    #[serde(default)]
    pub pii_marked: Vec<String>,
    pub warnings: Vec<String>,
    /// Oldest and newest event time imported.
    pub event_range: Option<(i64, i64)>,
    pub file_hash: String,
    /// Set when the same file was imported before: nothing changed.
    pub already_imported: Option<String>,
    pub dry_run: bool,
    pub elapsed_secs: f64,
}

impl ImportReport {
    pub fn new(file: &str, sniffed: &Sniffed, mapping: &Mapping, dry_run: bool) -> ImportReport {
        let mut warnings = Vec::new();
        if let Some(name) = &mapping.event_name
            && mapping.column_of("event").is_none()
        {
            warnings.push(format!(
                "the file has no event column: every row is recorded as event {name:?} (change it under \"Every row is the event\", or with --event)"
            ));
        }
        warnings.extend(super::mapping::mapping_warnings(mapping));
        if sniffed.encoding == Encoding::Latin1 {
            warnings.push("the file is not UTF-8; it was read as Latin-1 (ISO-8859-1)".into());
        }
        ImportReport {
            file: file.to_string(),
            format: sniffed.format.describe(),
            kind: mapping.kind.key().to_string(),
            key: format!("{:?}", mapping.key).to_lowercase(),
            mapping: mapping.describe(),
            warnings,
            dry_run,
            ..ImportReport::default()
        }
    }

    pub fn reject(&mut self, r: Reject) {
        self.rejected += 1;
        if self.rejects.len() < MAX_REJECTS {
            self.rejects.push(r);
        }
    }

    pub fn warn_row(&mut self, r: Reject) {
        self.warned += 1;
        if self.row_warnings.len() < MAX_NOTES {
            self.row_warnings.push(r);
        }
    }

    pub fn identical_row(&mut self, row: u64, earlier: u64) {
        self.identical_rows += 1;
        if self.identical.len() < MAX_NOTES {
            self.identical.push((row, earlier));
        }
    }

    pub fn merge_note(&mut self, note: String) {
        if self.merges.len() < MAX_NOTES {
            self.merges.push(note);
        }
    }

    pub(crate) fn reset_counts(&mut self) {
        self.inserted = 0;
        self.updated = 0;
        self.merged = 0;
        self.unchanged = 0;
        self.rejected = 0;
        self.stub_customers = 0;
        self.rejects.clear();
        self.warned = 0;
        self.row_warnings.clear();
        self.identical_rows = 0;
        self.identical.clear();
        self.merges.clear();
        self.likely_duplicates.clear();
        self.likely_duplicate_count = 0;
        self.created_fields.clear();
        self.pii_marked.clear();
    }

    /// One line on rows identical to an earlier row, kept or dropped.
    pub fn identical_summary(&self) -> String {
        if self.identical_dropped {
            format!(
                "identical rows {} dropped (identical to an earlier row; --drop-identical-rows)",
                self.identical_rows
            )
        } else {
            format!(
                "identical rows {} kept: the file has no event id, so two identical rows are two events (the same purchase twice on one day); to drop them, tick \"Drop rows identical to an earlier row\" (--drop-identical-rows)",
                self.identical_rows
            )
        }
    }

    /// The first `limit` identical rows, `row 7 = row 3, …`, and how many
    /// more there are.
    pub fn identical_list(&self, limit: usize) -> String {
        let rows: Vec<String> = self
            .identical
            .iter()
            .take(limit)
            .map(|(r, e)| format!("row {r} = row {e}"))
            .collect();
        let shown = rows.len() as u64;
        let more = if self.identical_rows > shown {
            format!(", … and {} more", self.identical_rows - shown)
        } else {
            String::new()
        };
        format!("{}{more}", rows.join(", "))
    }

    pub fn rows_per_sec(&self) -> f64 {
        self.rows_read as f64 / self.elapsed_secs.max(1e-9)
    }

    /// The rejected rows as CSV: row, line, column, value, reason.
    pub fn rejects_csv(&self) -> String {
        let mut out = String::from("row,line,column,value,reason\n");
        for r in &self.rejects {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                r.row,
                r.line,
                csv_field(r.column.as_deref().unwrap_or("")),
                csv_field(r.value.as_deref().unwrap_or("")),
                csv_field(&r.reason)
            );
        }
        out
    }

    /// A summary for the audit log: counts and the first rejects.
    pub fn audit_record(
        &self,
        started_at: i64,
        finished_at: i64,
        size: i64,
        kind: &str,
    ) -> ImportRecord {
        let mut short = self.clone();
        short.rejects.truncate(1000);
        ImportRecord {
            id: 0,
            started_at,
            finished_at: Some(finished_at),
            file_name: self.file.clone(),
            file_hash: self.file_hash.clone(),
            file_size: size,
            kind: kind.to_string(),
            status: "ok".into(),
            rows_read: self.rows_read as i64,
            inserted: self.inserted as i64,
            updated: self.updated as i64,
            merged: self.merged as i64,
            rejected: self.rejected as i64,
            report: serde_json::to_string(&short).unwrap_or_else(|_| "{}".into()),
        }
    }

    /// The report as text, as the CLI prints it.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "file      {}", self.file);
        let _ = writeln!(s, "format    {}", self.format);
        let _ = writeln!(
            s,
            "kind      {} (customers keyed by {})",
            self.kind, self.key
        );
        let _ = writeln!(s, "mapping:");
        for (col, to) in &self.mapping {
            let _ = writeln!(s, "  {col:<24} -> {to}");
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        if let Some(when) = &self.already_imported {
            let _ = writeln!(
                s,
                "this file was already imported on {when} UTC; nothing changed"
            );
            return s;
        }
        if self.dry_run {
            let _ = writeln!(s, "dry run: nothing was written");
        }
        let _ = writeln!(s, "rows read      {}", self.rows_read);
        let _ = writeln!(s, "inserted       {}", self.inserted);
        let _ = writeln!(s, "updated        {}", self.updated);
        let _ = writeln!(s, "merged         {}", self.merged);
        let _ = writeln!(s, "unchanged      {}", self.unchanged);
        let _ = writeln!(s, "rejected       {}", self.rejected);
        if self.stub_customers > 0 {
            let _ = writeln!(
                s,
                "new customers  {} (created for events of unknown customers)",
                self.stub_customers
            );
        }
        for f in &self.created_fields {
            let _ = writeln!(s, "new field      {f}");
        }
        for f in &self.pii_marked {
            let _ = writeln!(s, "personal       {f} (masked in demo mode)");
        }
        let _ = writeln!(
            s,
            "time           {:.2} s ({:.0} rows/s)",
            self.elapsed_secs,
            self.rows_per_sec()
        );
        if !self.rejects.is_empty() {
            let _ = writeln!(s, "rejected rows:");
            rows_text(&mut s, &self.rejects, self.rejected);
        }
        if self.warned > 0 {
            let _ = writeln!(s, "imported with a warning ({}):", self.warned);
            rows_text(&mut s, &self.row_warnings, self.warned);
        }
        if self.identical_rows > 0 {
            let _ = writeln!(s, "{}", self.identical_summary());
            let _ = writeln!(s, "  {}", self.identical_list(20));
        }
        if !self.merges.is_empty() {
            let _ = writeln!(s, "merged rows:");
            for m in self.merges.iter().take(20) {
                let _ = writeln!(s, "  {m}");
            }
            if self.merged > 20 {
                let _ = writeln!(s, "  … and {} more", self.merged.saturating_sub(20));
            }
        }
        if self.likely_duplicate_count > 0 {
            let _ = writeln!(
                s,
                "likely duplicates, not merged ({}), for review:",
                self.likely_duplicate_count
            );
            for d in self.likely_duplicates.iter().take(20) {
                let _ = writeln!(
                    s,
                    "  {:.1}  {}: {} / {} ({})",
                    d.score, d.name, d.a, d.b, d.why
                );
            }
        }
        s
    }
}

/// Rows with their place and reason, the first 50, then how many more.
fn rows_text(s: &mut String, rows: &[Reject], total: u64) {
    for r in rows.iter().take(50) {
        let col = r
            .column
            .as_deref()
            .map(|c| format!(", column {c:?}"))
            .unwrap_or_default();
        let val = r
            .value
            .as_deref()
            .map(|v| format!(" ({v:?})"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  row {} (line {}){col}: {}{val}",
            r.row, r.line, r.reason
        );
    }
    if total > 50 {
        let _ = writeln!(s, "  … and {} more", total - 50);
    }
}
