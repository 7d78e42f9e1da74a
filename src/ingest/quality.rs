//! The data-quality view: per source, when it was last imported and how
//! new its newest event is (stale ones flagged); missing values per field;
//! invalid and duplicate emails; what the last imports rejected.

use serde::Serialize;

use super::report::ImportReport;
use super::values::normalize_email;
use crate::model::FieldDef;
use crate::store::{CellRef, Store, StoreError};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceQuality {
    pub file: String,
    pub kind: String,
    pub last_import: i64,
    pub rows: i64,
    pub rejected: i64,
    pub newest_event: Option<i64>,
    pub stale: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QualityReport {
    pub stale_days: i64,
    pub customers: i64,
    pub sources: Vec<SourceQuality>,
    /// Newest event of each event name, and whether it is stale.
    pub events: Vec<(String, i64, bool)>,
    /// (field, label, customers without a value)
    pub missing: Vec<(String, String, i64)>,
    pub invalid_emails: i64,
    /// Emails shared by more than one customer, and the customers sharing.
    pub duplicate_emails: (i64, i64),
    pub likely_duplicates: u64,
}

/// Reads the workspace's data quality as of `now`.
pub fn quality(store: &Store, stale_days: i64, now: i64) -> Result<QualityReport, StoreError> {
    let limit = now - stale_days * 86_400;
    let mut sources: Vec<SourceQuality> = Vec::new();
    let mut likely_duplicates = 0;
    for r in store.imports()? {
        if r.status != "ok"
            || sources
                .iter()
                .any(|s| s.file == r.file_name && s.kind == r.kind)
        {
            continue; // newest first: the first seen is the last import
        }
        let report: Option<ImportReport> = serde_json::from_str(&r.report).ok();
        let newest = report
            .as_ref()
            .and_then(|x| x.event_range)
            .map(|(_, hi)| hi);
        if r.kind == "customers" && likely_duplicates == 0 {
            likely_duplicates = report
                .as_ref()
                .map(|x| x.likely_duplicate_count)
                .unwrap_or(0);
        }
        sources.push(SourceQuality {
            file: r.file_name.clone(),
            kind: r.kind.clone(),
            last_import: r.started_at,
            rows: r.rows_read,
            rejected: r.rejected,
            newest_event: newest,
            stale: r.started_at < limit || newest.is_some_and(|t| t < limit),
        });
    }
    let events = store
        .newest_event_by_name()?
        .into_iter()
        .map(|(n, t)| (n, t, t < limit))
        .collect();
    let fields = store.customer_fields()?;
    let labels = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.label.clone())
            .unwrap_or_else(|| name.to_string())
    };
    let missing = store
        .missing_counts()?
        .into_iter()
        .map(|(n, c)| (n.clone(), labels(&n), c))
        .collect();
    let mut invalid_emails = 0;
    let email_field: Vec<FieldDef> = fields
        .iter()
        .filter(|f| f.name == "email")
        .cloned()
        .collect();
    store.scan_customers(&email_field, |_, cells| {
        if let Some(CellRef::Text(e)) = cells.first()
            && normalize_email(e).is_err()
        {
            invalid_emails += 1;
        }
    })?;
    Ok(QualityReport {
        stale_days,
        customers: store.customer_count()?,
        sources,
        events,
        missing,
        invalid_emails,
        duplicate_emails: store.duplicate_emails()?,
        likely_duplicates,
    })
}

impl QualityReport {
    pub fn to_text(&self) -> String {
        use crate::model::time::format_ts;
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "customers              {}", self.customers);
        let _ = writeln!(s, "stale after            {} days", self.stale_days);
        let _ = writeln!(s, "sources:");
        if self.sources.is_empty() {
            let _ = writeln!(s, "  (nothing imported yet)");
        }
        for src in &self.sources {
            let _ = writeln!(
                s,
                "  {:<40} {:<10} last import {}  newest event {}  rows {}  rejected {}{}",
                src.file,
                src.kind,
                format_ts(src.last_import),
                src.newest_event
                    .map(format_ts)
                    .unwrap_or_else(|| "-".into()),
                src.rows,
                src.rejected,
                if src.stale { "  STALE" } else { "" }
            );
        }
        let _ = writeln!(s, "events (newest):");
        for (name, t, stale) in &self.events {
            let _ = writeln!(
                s,
                "  {name:<16} {}{}",
                format_ts(*t),
                if *stale { "  STALE" } else { "" }
            );
        }
        let _ = writeln!(s, "missing values:");
        for (name, _, n) in &self.missing {
            let _ = writeln!(s, "  {name:<20} {n}");
        }
        let _ = writeln!(s, "invalid emails         {}", self.invalid_emails);
        let _ = writeln!(
            s,
            "duplicate emails       {} emails shared by {} customers",
            self.duplicate_emails.0, self.duplicate_emails.1
        );
        let _ = writeln!(
            s,
            "likely duplicates      {} (last customer import)",
            self.likely_duplicates
        );
        s
    }
}
