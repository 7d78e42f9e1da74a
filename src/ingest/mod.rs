//! Imports: customer data from CSV / TSV, JSON Lines, Parquet and Excel into
//! the workspace, validated, cleaned and deduplicated, in one transaction.
//!
//! A file is read on one thread (parsed, validated, converted to typed
//! rows) and written on another, in batches. Every rejected row is reported
//! with its row number, column and reason. An error, a cancel or a crash
//! leaves the workspace exactly as it was; importing the same file again
//! changes nothing.

pub mod duplicates;
pub mod mapping;
pub mod quality;
mod report;
pub mod source;
pub mod values;
mod write;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use mapping::{
    ColumnMap, CustomerKey, Kind, Mapping, Target, auto_map, guess_kind, mapping_warnings,
};
pub use report::{ImportReport, LikelyDuplicate, Reject};
pub use source::{Format, Sniffed};
use source::{Row, Value};
use values::{DateFormat, normalize_email, parse_bool, parse_instant_lenient, parse_number};

use crate::model::time::now_utc;
use crate::model::{Campaign, Customer, FieldType, FieldValue, Product};
use crate::progress::Progress;
use crate::store::{NewEvent, Store, StoreError};

/// Text values longer than this are refused.
pub const MAX_TEXT: usize = 1 << 20;

/// Rows per batch between the reading and the writing thread.
const BATCH: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: row {row} (line {line}): {message}")]
    Row {
        file: String,
        row: u64,
        line: u64,
        message: String,
    },
    #[error("{file}: {message}")]
    Mapping { file: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cancelled; the workspace is as it was")]
    Cancelled,
    /// A row visitor has seen enough (the preview's first rows); readers
    /// stop and pass it up. Never returned by [`import_file`].
    #[error("stopped reading")]
    Stopped,
}

/// How to import a file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportOptions {
    pub kind: Option<Kind>,
    /// The mapping to use; auto-detected when `None`.
    pub mapping: Option<Mapping>,
    /// `column=field` overrides on top of the detected mapping (CLI `--map`).
    pub overrides: Vec<String>,
    /// One event name for every row of an events file.
    pub event_name: Option<String>,
    /// Read every date column in this format.
    pub date_format: Option<DateFormat>,
    /// Create a stub customer for events of customers the workspace lacks
    /// (otherwise such rows are rejected).
    pub create_missing_customers: bool,
    pub delimiter: Option<u8>,
    /// Validate and report, then roll back.
    pub dry_run: bool,
    /// Without an event id column, two identical rows are two events (the
    /// same purchase twice on one day); this drops the later copies.
    pub drop_identical_rows: bool,
}

/// What the wizard shows before importing.
#[derive(Clone, Debug)]
pub struct Preview {
    pub sniffed: Sniffed,
    /// The first rows, cells as text.
    pub rows: Vec<Vec<Option<String>>>,
    pub kind: Kind,
    pub mapping: Mapping,
    /// What the user should check in the mapping (see [`mapping_warnings`]).
    pub warnings: Vec<String>,
}

fn cell_text(v: &Value<'_>) -> Option<String> {
    v.text().map(|c| c.into_owned())
}

/// Reads the head of a file and proposes a mapping.
pub fn preview(
    path: &Path,
    options: &ImportOptions,
    max_rows: usize,
) -> Result<Preview, ImportError> {
    let sniffed = source::sniff(path, options.delimiter)?;
    let mut rows = Vec::new();
    let r = source::read_rows(path, &sniffed, &mut |_| true, &mut |row: &Row<'_>| {
        if row.problem.is_none() {
            rows.push(row.cells.iter().map(cell_text).collect());
        }
        if rows.len() >= max_rows {
            Err(ImportError::Stopped)
        } else {
            Ok(())
        }
    });
    match r {
        Ok(_) | Err(ImportError::Stopped) => {}
        Err(e) => return Err(e),
    }
    let kind = options.kind.unwrap_or_else(|| guess_kind(&sniffed.headers));
    let mut mapping = auto_map(kind, &sniffed.headers, &rows, options.event_name.clone());
    if kind == Kind::Events && mapping.column_of("event").is_none() && mapping.event_name.is_none()
    {
        mapping.event_name = default_event_name(path, &mapping);
    }
    if let Some(f) = options.date_format {
        for c in &mut mapping.columns {
            if c.date_format.is_some() {
                c.date_format = Some(f);
            }
        }
    }
    mapping::apply_overrides(&mut mapping, &options.overrides).map_err(|m| {
        ImportError::Mapping {
            file: path.display().to_string(),
            message: m,
        }
    })?;
    let warnings = mapping_warnings(&mapping);
    Ok(Preview {
        sniffed,
        rows,
        kind,
        mapping,
        warnings,
    })
}

/// Whether an events file without an event column holds purchases: its
/// name says so, or (when its name names no other event) it has an order
/// id or an amount. Purchases are the event `order`, which RFM and every
/// order trait read.
pub fn looks_like_purchases(path: &Path, mapping: &Mapping) -> bool {
    const PURCHASE: &[&str] = &[
        "order",
        "orders",
        "purchase",
        "purchases",
        "transaction",
        "transactions",
        "sale",
        "sales",
        "invoice",
        "invoices",
        "receipt",
        "receipts",
        "checkout",
        "checkouts",
        "bestellung",
        "bestellungen",
        "commande",
        "commandes",
        "pedidos",
        "revenue",
    ];
    const OTHER: &[&str] = &[
        "view",
        "views",
        "click",
        "clicks",
        "open",
        "opens",
        "visit",
        "visits",
        "session",
        "sessions",
        "page",
        "pageviews",
        "email",
        "emails",
        "web",
        "cart",
        "carts",
        "browse",
        "search",
        "searches",
        "signup",
        "signups",
        "login",
        "logins",
        "refund",
        "refunds",
        "return",
        "returns",
        "unsubscribe",
        "unsubscribes",
        "bounce",
        "bounces",
    ];
    let stem = path
        .file_stem()
        .map(|s| mapping::normalize_header(&s.to_string_lossy()))
        .unwrap_or_default();
    let words: Vec<&str> = stem.split('_').collect();
    if words.iter().any(|w| PURCHASE.contains(w)) {
        return true;
    }
    if words.iter().any(|w| OTHER.contains(w)) {
        return false;
    }
    let order_id = mapping.column_of("event_id").is_some_and(|i| {
        let h = mapping::normalize_header(&mapping.columns[i].column);
        ["order", "transaction", "invoice", "receipt"]
            .iter()
            .any(|w| h.contains(w))
    });
    order_id || mapping.column_of("value").is_some()
}

/// The one event name for every row of an events file without an event
/// column: `order` for purchases, else a name from the file's name.
pub fn default_event_name(path: &Path, mapping: &Mapping) -> Option<String> {
    if looks_like_purchases(path, mapping) {
        Some(crate::model::event_names::ORDER.to_string())
    } else {
        event_name_from_file(path)
    }
}

/// An event name from a file name: `orders.csv` → `order`.
pub fn event_name_from_file(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy().to_string();
    let mut name = mapping::normalize_header(&stem);
    if name.starts_with("col_") {
        return None;
    }
    // Dates and numbers in export names: `orders_2026_11` → `orders`.
    while name.ends_with(|c: char| c.is_ascii_digit() || c == '_') {
        name.pop();
    }
    if name.is_empty() {
        return None;
    }
    if name.len() > 3 && name.ends_with('s') && !name.ends_with("ss") {
        name.pop();
    }
    Some(name)
}

/// A row ready to be written. Rows travel by value in batches of
/// [`BATCH`]; boxing the larger variants would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    Customer {
        row: u64,
        line: u64,
        customer: Customer,
        consent: Option<bool>,
        /// Imported, with this problem to report (an invalid email).
        warning: Option<Reject>,
        /// The row for the likely-duplicates check, built here on the
        /// reading thread.
        person: Option<duplicates::Person>,
    },
    Event {
        row: u64,
        line: u64,
        key: String,
        event: NewEvent,
        source_key: Option<String>,
        /// What identical rows share (see [`write::event_hash`]), computed
        /// here on the reading thread.
        hash: u64,
    },
    Product(Product),
    Campaign(Campaign),
    Rejected(Reject),
}

/// Turns rows of a file into typed rows, by the mapping.
struct Converter {
    mapping: Mapping,
    /// Column index per field name.
    field_col: BTreeMap<&'static str, usize>,
    /// (column, custom name, type, date format)
    custom: Vec<(usize, String, FieldType, Option<DateFormat>)>,
    width: usize,
    future_limit: i64,
    date_override: Option<DateFormat>,
}

impl Converter {
    fn new(
        mapping: &Mapping,
        width: usize,
        date_override: Option<DateFormat>,
        now: i64,
    ) -> Converter {
        let mut field_col = BTreeMap::new();
        let mut custom = Vec::new();
        for (i, c) in mapping.columns.iter().enumerate() {
            match &c.target {
                Target::Field { name } => {
                    if let Some(f) = mapping.kind.fields().iter().find(|f| f.name == name) {
                        field_col.insert(f.name, i);
                    }
                }
                Target::Custom { name, field_type } => {
                    custom.push((i, name.clone(), *field_type, c.date_format))
                }
                Target::Skip => {}
            }
        }
        Converter {
            mapping: mapping.clone(),
            field_col,
            custom,
            width,
            future_limit: now + 86_400,
            date_override,
        }
    }

    fn reject(
        row: &Row<'_>,
        column: Option<&str>,
        value: Option<&str>,
        reason: impl Into<String>,
    ) -> Reject {
        Reject {
            row: row.number,
            line: row.line,
            column: column.map(str::to_string),
            value: value.map(|v| v.chars().take(200).collect()),
            reason: reason.into(),
        }
    }

    fn rejected(
        row: &Row<'_>,
        column: Option<&str>,
        value: Option<&str>,
        reason: impl Into<String>,
    ) -> Parsed {
        Parsed::Rejected(Self::reject(row, column, value, reason))
    }

    fn date_format(&self, col: usize) -> Option<DateFormat> {
        self.date_override
            .or_else(|| self.mapping.columns.get(col).and_then(|c| c.date_format))
    }

    fn convert(&self, row: &Row<'_>) -> Parsed {
        if let Some(p) = &row.problem {
            return Self::rejected(row, None, None, p.clone());
        }
        if row.cells.len() != self.width {
            let what = if row.cells.len() < self.width {
                "fewer"
            } else {
                "more"
            };
            return Self::rejected(
                row,
                None,
                None,
                format!(
                    "has {} fields, {what} than the header's {} (a stray delimiter or quote, or a cut-off line?)",
                    row.cells.len(),
                    self.width
                ),
            );
        }
        // Text longer than the limit, anywhere.
        for (i, c) in row.cells.iter().enumerate() {
            if let Value::Text(t) = c
                && t.len() > MAX_TEXT
            {
                return Self::rejected(
                    row,
                    Some(&self.mapping.columns[i].column),
                    None,
                    format!("the value is {} bytes long; the limit is 1 MB", t.len()),
                );
            }
        }
        match self.mapping.kind {
            Kind::Customers => self.customer(row),
            Kind::Events => self.event(row),
            Kind::Products => self.product(row),
            Kind::Campaigns => self.campaign(row),
        }
    }

    fn text(&self, row: &Row<'_>, field: &str) -> Option<String> {
        let i = *self.field_col.get(field)?;
        row.cells.get(i).and_then(cell_text)
    }

    fn col_name(&self, field: &str) -> Option<&str> {
        self.field_col
            .get(field)
            .map(|&i| self.mapping.columns[i].column.as_str())
    }

    fn time(&self, row: &Row<'_>, field: &str) -> Result<Option<i64>, Reject> {
        let Some(&i) = self.field_col.get(field) else {
            return Ok(None);
        };
        match row.cells.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(n))
                if self.date_format(i) == Some(DateFormat::Epoch) || *n > 100_000_000 =>
            {
                Ok(Some(if *n > 10_000_000_000 { n / 1000 } else { *n }))
            }
            Some(v) => {
                let Some(t) = v.text() else { return Ok(None) };
                match parse_instant_lenient(&t, self.date_format(i)) {
                    Some(ts) if ts > self.future_limit => Err(Self::reject(
                        row,
                        self.col_name(field),
                        Some(&t),
                        "the date is in the future",
                    )),
                    Some(ts) => Ok(Some(ts)),
                    None => Err(Self::reject(
                        row,
                        self.col_name(field),
                        Some(&t),
                        format!(
                            "not a date{}",
                            self.date_format(i)
                                .map(|f| format!(" (expected {})", f.key()))
                                .unwrap_or_default()
                        ),
                    )),
                }
            }
        }
    }

    fn number(&self, row: &Row<'_>, field: &str) -> Result<Option<f64>, Reject> {
        let Some(&i) = self.field_col.get(field) else {
            return Ok(None);
        };
        match row.cells.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(n)) => Ok(Some(*n as f64)),
            Some(Value::Float(x)) if x.is_finite() => Ok(Some(*x)),
            Some(v) => {
                let Some(t) = v.text() else { return Ok(None) };
                parse_number(&t).map(Some).ok_or_else(|| {
                    Self::reject(row, self.col_name(field), Some(&t), "not a number")
                })
            }
        }
    }

    /// Custom columns as field values (customers) or properties (events).
    fn customs(&self, row: &Row<'_>) -> Result<Vec<(String, FieldValue)>, Reject> {
        let mut out = Vec::with_capacity(self.custom.len());
        for (i, name, ty, fmt) in &self.custom {
            let cell = row.cells.get(*i).copied().unwrap_or(Value::Null);
            let Some(t) = cell.text() else {
                out.push((name.clone(), FieldValue::Null));
                continue;
            };
            let col = self.mapping.columns[*i].column.as_str();
            let v =
                match ty {
                    FieldType::Text => FieldValue::Text(t.into_owned()),
                    FieldType::Number => match cell {
                        Value::Int(n) => FieldValue::Number(n as f64),
                        Value::Float(x) => FieldValue::Number(x),
                        _ => FieldValue::Number(parse_number(&t).ok_or_else(|| {
                            Self::reject(row, Some(col), Some(&t), "not a number")
                        })?),
                    },
                    FieldType::Bool => match cell {
                        Value::Bool(b) => FieldValue::Bool(b),
                        _ => FieldValue::Bool(parse_bool(&t).ok_or_else(|| {
                            Self::reject(row, Some(col), Some(&t), "not yes / no")
                        })?),
                    },
                    FieldType::Date => {
                        let ts = parse_instant_lenient(&t, self.date_override.or(*fmt))
                            .ok_or_else(|| Self::reject(row, Some(col), Some(&t), "not a date"))?;
                        FieldValue::Text(crate::model::time::ts_to_date(ts).to_string())
                    }
                    FieldType::Timestamp => {
                        let ts = parse_instant_lenient(&t, self.date_override.or(*fmt))
                            .ok_or_else(|| Self::reject(row, Some(col), Some(&t), "not a date"))?;
                        FieldValue::Number(ts as f64)
                    }
                };
            out.push((name.clone(), v));
        }
        Ok(out)
    }

    fn customer(&self, row: &Row<'_>) -> Parsed {
        let ext = self.text(row, "external_id");
        // An invalid email is a problem of the email, not of the customer:
        // the customer is imported without one (unreachable by email) and
        // the row is listed as a warning with the raw text. Only an email
        // that is the key rejects the row.
        let mut warning = None;
        let email = match self.text(row, "email") {
            None => None,
            Some(raw) => match normalize_email(&raw) {
                Ok(e) => Some(e),
                Err(reason) if self.mapping.key == CustomerKey::Email => {
                    return Self::rejected(row, self.col_name("email"), Some(&raw), reason);
                }
                Err(reason) => {
                    warning = Some(Self::reject(
                        row,
                        self.col_name("email"),
                        Some(&raw),
                        format!("{reason}; imported without an email (unreachable by email)"),
                    ));
                    None
                }
            },
        };
        match self.mapping.key {
            CustomerKey::Id if ext.is_none() => {
                return Self::rejected(
                    row,
                    self.col_name("external_id"),
                    None,
                    "the customer id is empty",
                );
            }
            CustomerKey::Email if email.is_none() => {
                return Self::rejected(
                    row,
                    self.col_name("email"),
                    None,
                    "the email (the key) is empty",
                );
            }
            _ => {}
        }
        let birth = match self.time(row, "birth_date") {
            Ok(t) => t.map(crate::model::time::ts_to_date),
            Err(r) => return Parsed::Rejected(r),
        };
        let signup = match self.time(row, "signup_at") {
            Ok(t) => t,
            Err(r) => return Parsed::Rejected(r),
        };
        let consent = match self.text(row, "email_consent") {
            None => None,
            Some(t) => match parse_bool(&t) {
                Some(b) => Some(b),
                None => {
                    return Self::rejected(
                        row,
                        self.col_name("email_consent"),
                        Some(&t),
                        "not yes / no",
                    );
                }
            },
        };
        let customs = match self.customs(row) {
            Ok(c) => c,
            Err(r) => return Parsed::Rejected(r),
        };
        let customer = Customer {
            id: 0,
            external_id: ext.or_else(|| email.clone()).unwrap_or_default(),
            email,
            first_name: self.text(row, "first_name"),
            last_name: self.text(row, "last_name"),
            birth_date: birth,
            gender: self.text(row, "gender").map(|g| g.to_lowercase()),
            city: self.text(row, "city"),
            country: self.text(row, "country"),
            signup_at: signup,
            email_consent: consent.unwrap_or(false),
            custom: customs.into_iter().collect(),
        };
        Parsed::Customer {
            row: row.number,
            line: row.line,
            person: duplicates::Person::imported(&customer),
            customer,
            consent,
            warning,
        }
    }

    fn event(&self, row: &Row<'_>) -> Parsed {
        let Some(key) = self.text(row, "customer") else {
            return Self::rejected(
                row,
                self.col_name("customer"),
                None,
                "the customer is empty",
            );
        };
        let key = match self.mapping.key {
            CustomerKey::Email => match normalize_email(&key) {
                Ok(e) => e,
                Err(reason) => {
                    return Self::rejected(row, self.col_name("customer"), Some(&key), reason);
                }
            },
            CustomerKey::Id => key,
        };
        let name = match self.text(row, "event") {
            Some(n) => n,
            None => match &self.mapping.event_name {
                Some(n) if !self.field_col.contains_key("event") => n.trim().to_string(),
                _ => {
                    return Self::rejected(
                        row,
                        self.col_name("event"),
                        None,
                        "the event name is empty",
                    );
                }
            },
        };
        let time = match self.time(row, "time") {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Self::rejected(row, self.col_name("time"), None, "the time is empty");
            }
            Err(r) => return Parsed::Rejected(r),
        };
        let value = match self.number(row, "value") {
            Ok(v) => v,
            Err(r) => return Parsed::Rejected(r),
        };
        let properties = match self.customs(row) {
            Ok(c) if c.iter().any(|(_, v)| *v != FieldValue::Null) => {
                let map: serde_json::Map<String, serde_json::Value> = c
                    .into_iter()
                    .filter(|(_, v)| *v != FieldValue::Null)
                    .map(|(k, v)| {
                        let j = match v {
                            FieldValue::Text(s) => serde_json::Value::String(s),
                            FieldValue::Number(x) => serde_json::json!(x),
                            FieldValue::Bool(b) => serde_json::Value::Bool(b),
                            FieldValue::Null => serde_json::Value::Null,
                        };
                        (k, j)
                    })
                    .collect();
                Some(serde_json::Value::Object(map).to_string())
            }
            Ok(_) => None,
            Err(r) => return Parsed::Rejected(r),
        };
        let event = NewEvent {
            customer_id: 0,
            name,
            time,
            value,
            product: self.text(row, "product"),
            category: self.text(row, "category"),
            campaign: self.text(row, "campaign"),
            properties,
        };
        Parsed::Event {
            row: row.number,
            line: row.line,
            hash: write::event_hash(&key, &event),
            key,
            event,
            source_key: self.text(row, "event_id"),
        }
    }

    fn product(&self, row: &Row<'_>) -> Parsed {
        let Some(sku) = self.text(row, "sku") else {
            return Self::rejected(row, self.col_name("sku"), None, "the SKU is empty");
        };
        let Some(name) = self.text(row, "name") else {
            return Self::rejected(row, self.col_name("name"), None, "the name is empty");
        };
        let price = match self.number(row, "price") {
            Ok(p) => p,
            Err(r) => return Parsed::Rejected(r),
        };
        Parsed::Product(Product {
            sku,
            name,
            category: self.text(row, "category"),
            price,
        })
    }

    fn campaign(&self, row: &Row<'_>) -> Parsed {
        let Some(id) = self.text(row, "campaign_id") else {
            return Self::rejected(
                row,
                self.col_name("campaign_id"),
                None,
                "the campaign id is empty",
            );
        };
        let Some(name) = self.text(row, "name") else {
            return Self::rejected(row, self.col_name("name"), None, "the name is empty");
        };
        let sent_at = match self.time(row, "sent_at") {
            Ok(t) => t,
            Err(r) => return Parsed::Rejected(r),
        };
        Parsed::Campaign(Campaign {
            id,
            name,
            subject: self.text(row, "subject"),
            sent_at,
            template_id: None,
        })
    }
}

/// The file's identity, to notice it changing while it is read.
fn fingerprint(path: &Path) -> Option<(u64, Option<std::time::SystemTime>)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()))
}

/// Imports `file` into the workspace at `workspace` (created if missing).
pub fn import_file(
    workspace: &Path,
    file: &Path,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let started_at = now_utc();
    let shown = file.display().to_string();
    let preview = preview(file, options, 200)?;
    let mapping = match &options.mapping {
        Some(m) => m.clone(),
        None => preview.mapping.clone(),
    };
    check_mapping(&mapping, &preview.sniffed, &shown)?;
    let before = fingerprint(file);
    let size = preview.sniffed.size;
    let mut report = ImportReport::new(&shown, &preview.sniffed, &mapping, options.dry_run);

    let mut store = Store::open_or_create(workspace)?;
    let existing_events = if mapping.kind == Kind::Events {
        store.event_count()?
    } else {
        0
    };
    let existing_people = if mapping.kind == Kind::Customers {
        store.duplicate_evidence()?
    } else {
        Vec::new()
    };
    // A first load of customers or events goes faster without their
    // lookup indexes (built when a query first needs them).
    let fast = match mapping.kind {
        Kind::Events => existing_events == 0,
        Kind::Customers => store.customer_count()? == 0,
        _ => false,
    };
    let mut load = store.bulk_load(fast)?;
    let interrupt = load.interrupt_handle();
    let mut writer = write::Writer::new(
        &mut load,
        &mapping,
        options,
        &mut report,
        existing_events > 0,
    )?;

    let converter = Converter::new(
        &mapping,
        preview.sniffed.headers.len(),
        options.date_format,
        now_utc(),
    );
    let read_result = read_and_write(
        file,
        &preview.sniffed,
        &converter,
        &mut writer,
        progress,
        started,
        &interrupt,
    );
    let summary = match read_result {
        Ok(s) => s,
        Err(e) => {
            drop(writer);
            load.rollback()?;
            return Err(e);
        }
    };
    if summary.rows == 0 {
        drop(writer);
        load.rollback()?;
        return Err(ImportError::File {
            file: shown,
            message: "no data rows: the file has a header and nothing else".into(),
        });
    }
    // The file must not have changed (or vanished) while it was read.
    if fingerprint(file) != before {
        drop(writer);
        load.rollback()?;
        return Err(ImportError::File {
            file: shown,
            message: "the file changed or vanished while it was read; nothing was imported".into(),
        });
    }
    progress.report(0.96, "finishing");
    let people = writer.take_people(&existing_people);
    drop(writer);
    report.rows_read = summary.rows;
    report.file_hash = summary.hash.clone();
    if let Some(prev) = load.import_by_hash(&summary.hash, mapping.kind.key())? {
        load.rollback()?;
        report.elapsed_secs = started.elapsed().as_secs_f64();
        report.already_imported = Some(crate::model::time::format_ts(prev.started_at));
        report.reset_counts();
        return Ok(report);
    }
    // On a thread of its own: a panic there fails this import, not the app.
    let found = std::thread::scope(|s| s.spawn(|| people.map(duplicates::find)).join());
    match found {
        Ok(Some((count, list))) => {
            report.likely_duplicate_count = count;
            report.likely_duplicates = list;
        }
        Ok(None) => {}
        Err(_) => {
            load.rollback()?;
            return Err(ImportError::File {
                file: shown,
                message: "the likely-duplicates check failed unexpectedly; nothing was imported"
                    .into(),
            });
        }
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    if options.dry_run {
        load.rollback()?;
        return Ok(report);
    }
    for c in &mapping.columns {
        if let mapping::Target::Custom { name, .. } = &c.target
            && let Some(kind) = load.detect_pii(name)?
        {
            report
                .pii_marked
                .push(format!("{name} ({})", kind.as_str().replace('_', " ")));
        }
    }
    let record = report.audit_record(started_at, now_utc(), size as i64, mapping.kind.key());
    load.record_import(&record)?;
    progress.report(0.99, "saving");
    load.commit()?;
    store.end_bulk_load()?;
    report.elapsed_secs = started.elapsed().as_secs_f64();
    progress.report(1.0, "done");
    Ok(report)
}

/// Checks a mapping before anything is read; a file whose header is one
/// column holding another delimiter is named as the likely cause.
fn check_mapping(mapping: &Mapping, sniffed: &Sniffed, shown: &str) -> Result<(), ImportError> {
    mapping.check().map_err(|mut message| {
        if let [only] = sniffed.headers.as_slice()
            && let Some(d) = [';', '\t', '|', ','].into_iter().find(|d| only.contains(*d))
        {
            let shown_d = if d == '\t' { "\\t".to_string() } else { d.to_string() };
            message.push_str(&format!(
                "; the whole header is one column ({only:?}): the file may separate columns with '{shown_d}' (--delimiter)"
            ));
        }
        ImportError::Mapping {
            file: shown.to_string(),
            message,
        }
    })
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads the file on one thread (converting rows to typed batches) while
/// the writer writes them on this one; progress, cancel, and the first
/// error of either side stop both.
fn read_and_write(
    file: &Path,
    sniffed: &Sniffed,
    converter: &Converter,
    writer: &mut write::Writer<'_, '_, '_>,
    progress: &dyn Progress,
    started: Instant,
    interrupt: &rusqlite::InterruptHandle,
) -> Result<source::ReadSummary, ImportError> {
    let (tx, rx) = mpsc::sync_channel::<Vec<Parsed>>(4);
    // Written batches go back to the reading thread, which made their rows:
    // it drops what is left of them there and reuses the vectors.
    let (back_tx, back_rx) = mpsc::sync_channel::<Vec<Parsed>>(4);
    let size = sniffed.size;
    let shown = file.display().to_string();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let rows_done = std::sync::atomic::AtomicU64::new(0);
    let written = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // Cancel is seen between batches; this stops a long statement too
        // (the first check against the workspace's events builds their
        // index, seconds on a large workspace).
        s.spawn(|| {
            while !written.load(std::sync::atomic::Ordering::Relaxed) {
                if progress.is_cancelled() {
                    interrupt.interrupt();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        let reader = s.spawn(|| {
            let back_rx = back_rx;
            let mut batch = Vec::with_capacity(BATCH);
            let mut send_failed = false;
            let r = source::read_rows(
                file,
                sniffed,
                &mut |bytes| {
                    let rows = rows_done.load(std::sync::atomic::Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    let frac = bytes as f64 / size.max(1) as f64;
                    let eta = if frac > 0.01 { secs / frac - secs } else { 0.0 };
                    progress.report(
                        (frac as f32 * 0.95).min(0.95),
                        &format!(
                            "{rows} rows · {:.0} rows/s · about {:.0} s left",
                            rows as f64 / secs,
                            eta.max(0.0)
                        ),
                    );
                    !progress.is_cancelled() && !cancel.load(std::sync::atomic::Ordering::Relaxed)
                },
                &mut |row: &Row<'_>| {
                    batch.push(converter.convert(row));
                    if batch.len() >= BATCH {
                        let next = match back_rx.try_recv() {
                            Ok(mut spent) => {
                                spent.clear();
                                spent
                            }
                            Err(_) => Vec::with_capacity(BATCH),
                        };
                        let full = std::mem::replace(&mut batch, next);
                        if tx.send(full).is_err() {
                            send_failed = true;
                            return Err(ImportError::Cancelled);
                        }
                    }
                    Ok(())
                },
            );
            if r.is_ok() && !batch.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
            let _ = send_failed;
            r
        });
        // When every row is written, or this thread unwinds, the watcher
        // above ends (the scope waits for it).
        let _written = SetOnDrop(&written);
        let mut write_result = Ok(());
        for mut batch in rx.iter() {
            if write_result.is_err() {
                continue; // drain so the reader can finish
            }
            if progress.is_cancelled() {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                write_result = Err(ImportError::Cancelled);
                continue;
            }
            rows_done.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = writer.write_batch(&mut batch) {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                write_result = Err(if progress.is_cancelled() {
                    ImportError::Cancelled
                } else {
                    e
                });
            }
            // Full, or the reader is done: dropped here instead.
            let _ = back_tx.try_send(batch);
        }
        let read = reader.join().unwrap_or_else(|_| {
            Err(ImportError::File {
                file: shown.clone(),
                message: "reading the file failed unexpectedly".into(),
            })
        });
        write_result.and(read)
    })
}
