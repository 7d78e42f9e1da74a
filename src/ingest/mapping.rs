//! Where each column of a file goes: auto-detected from header names and
//! content, editable, and checked before anything is written.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::values::{DateFormat, detect_date_format, normalize_email, parse_bool, parse_number};
use crate::model::{BUILTIN_CUSTOMER_FIELDS, FieldType, is_identifier};

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Customers,
    Events,
    Products,
    Campaigns,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Customers,
        Kind::Events,
        Kind::Products,
        Kind::Campaigns,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Kind::Customers => "customers",
            Kind::Events => "events",
            Kind::Products => "products",
            Kind::Campaigns => "campaigns",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.key() == s.to_ascii_lowercase())
    }

    /// The fields a column of this kind of file can go to.
    pub fn fields(self) -> &'static [TargetField] {
        match self {
            Kind::Customers => CUSTOMER_FIELDS,
            Kind::Events => EVENT_FIELDS,
            Kind::Products => PRODUCT_FIELDS,
            Kind::Campaigns => CAMPAIGN_FIELDS,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// How a field's values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Email,
    Number,
    Date,
    Timestamp,
    Bool,
}

/// A field of the workspace an import column can fill.
#[derive(Debug)]
pub struct TargetField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: ValueKind,
    /// Header names that mean this field (normalized: lowercase, `_`).
    pub synonyms: &'static [&'static str],
}

const fn f(
    name: &'static str,
    label: &'static str,
    kind: ValueKind,
    synonyms: &'static [&'static str],
) -> TargetField {
    TargetField {
        name,
        label,
        kind,
        synonyms,
    }
}

const CUSTOMER_ID_SYNONYMS: &[&str] = &[
    "customer_id",
    "customerid",
    "cust_id",
    "customer_no",
    "customer_number",
    "client_id",
    "contact_id",
    "user_id",
    "userid",
    "member_id",
    "id",
    "customer",
];

pub const CUSTOMER_FIELDS: &[TargetField] = &[
    f(
        "external_id",
        "Customer ID",
        ValueKind::Text,
        CUSTOMER_ID_SYNONYMS,
    ),
    f(
        "email",
        "Email",
        ValueKind::Email,
        &[
            "email",
            "e_mail",
            "email_address",
            "mail",
            "emailaddress",
            "e_mail_address",
            "customer_email",
            "contact_email",
            "email_id",
        ],
    ),
    f(
        "first_name",
        "First name",
        ValueKind::Text,
        &[
            "first_name",
            "firstname",
            "first",
            "given_name",
            "fname",
            "forename",
            "vorname",
            "prenom",
            "billing_first_name",
        ],
    ),
    f(
        "last_name",
        "Last name",
        ValueKind::Text,
        &[
            "last_name",
            "lastname",
            "last",
            "surname",
            "family_name",
            "lname",
            "nachname",
            "nom",
            "billing_last_name",
        ],
    ),
    f(
        "birth_date",
        "Birth date",
        ValueKind::Date,
        &[
            "birth_date",
            "birthdate",
            "dob",
            "date_of_birth",
            "birthday",
        ],
    ),
    f("gender", "Gender", ValueKind::Text, &["gender", "sex"]),
    f(
        "city",
        "City",
        ValueKind::Text,
        &[
            "city",
            "town",
            "default_address_city",
            "billing_city",
            "mailing_city",
            "ort",
            "ville",
        ],
    ),
    f(
        "country",
        "Country",
        ValueKind::Text,
        &[
            "country",
            "country_code",
            "countrycode",
            "country_name",
            "default_address_country_code",
            "default_address_country",
            "billing_country",
            "mailing_country",
            "land",
            "pays",
            "cc",
        ],
    ),
    f(
        "signup_at",
        "Signed up",
        ValueKind::Timestamp,
        &[
            "signup_at",
            "signup_date",
            "sign_up_date",
            "signed_up",
            "created_at",
            "created",
            "registered",
            "registered_at",
            "registration_date",
            "joined",
            "join_date",
            "date_joined",
            "joined_at",
            "joined_on",
            "customer_since",
            "member_since",
            "created_date",
            "creation_date",
            "date_created",
            "account_created",
            "signup_time",
            "optin_time",
        ],
    ),
    f(
        "email_consent",
        "Email consent",
        ValueKind::Bool,
        &[
            "email_consent",
            "email_opt_in",
            "opt_in",
            "optin",
            "consent",
            "subscribed",
            "marketing_consent",
            "accepts_marketing",
            "newsletter",
            "accepts_email_marketing",
            "email_marketing",
            "email_marketing_consent",
            "email_subscribed",
            "subscribed_to_email",
            "marketing_opt_in",
            "opted_in",
            "email_opt_in_status",
            "newsletter_opt_in",
            "has_opted_in",
        ],
    ),
];

pub const EVENT_FIELDS: &[TargetField] = &[
    f(
        "customer",
        "Customer (id or email)",
        ValueKind::Text,
        CUSTOMER_ID_SYNONYMS,
    ),
    f(
        "event",
        "Event name",
        ValueKind::Text,
        &[
            "event",
            "event_name",
            "event_type",
            "type",
            "action",
            "activity",
        ],
    ),
    f(
        "time",
        "Time",
        ValueKind::Timestamp,
        &[
            "time",
            "timestamp",
            "event_time",
            "occurred_at",
            "date",
            "datetime",
            "order_date",
            "created_at",
            "event_date",
            "ts",
            "purchase_date",
            "transaction_date",
            "order_time",
            "ordered_at",
            "paid_at",
            "processed_at",
            "sent_at",
            "datum",
        ],
    ),
    f(
        "value",
        "Value",
        ValueKind::Number,
        &[
            "value",
            "amount",
            "revenue",
            "total",
            "order_total",
            "order_value",
            "price",
            "cart_value",
            "sum",
            "total_price",
            "dollar_value",
            "sales",
            "spend",
            "betrag",
            "umsatz",
            "montant",
            "subtotal",
        ],
    ),
    f(
        "product",
        "Product",
        ValueKind::Text,
        &[
            "product",
            "product_id",
            "sku",
            "product_sku",
            "item_id",
            "item",
        ],
    ),
    f(
        "category",
        "Category",
        ValueKind::Text,
        &["category", "product_category", "category_name"],
    ),
    f(
        "campaign",
        "Campaign",
        ValueKind::Text,
        &["campaign", "campaign_id", "utm_campaign"],
    ),
    f(
        "event_id",
        "Event id (e.g. order id)",
        ValueKind::Text,
        &[
            "event_id",
            "order_id",
            "orderid",
            "transaction_id",
            "order_number",
            "order_no",
            "invoice_id",
            "invoice_no",
            "invoice_number",
            "receipt_id",
        ],
    ),
];

pub const PRODUCT_FIELDS: &[TargetField] = &[
    f(
        "sku",
        "SKU",
        ValueKind::Text,
        &["sku", "product_id", "id", "item_id", "product_sku"],
    ),
    f(
        "name",
        "Name",
        ValueKind::Text,
        &["name", "product_name", "title"],
    ),
    f(
        "category",
        "Category",
        ValueKind::Text,
        &["category", "product_category"],
    ),
    f(
        "price",
        "Price",
        ValueKind::Number,
        &["price", "unit_price", "amount"],
    ),
];

pub const CAMPAIGN_FIELDS: &[TargetField] = &[
    f(
        "campaign_id",
        "Campaign ID",
        ValueKind::Text,
        &["campaign_id", "id", "campaign"],
    ),
    f(
        "name",
        "Name",
        ValueKind::Text,
        &["name", "campaign_name", "title"],
    ),
    f(
        "subject",
        "Subject",
        ValueKind::Text,
        &["subject", "subject_line"],
    ),
    f(
        "sent_at",
        "Sent",
        ValueKind::Timestamp,
        &["sent_at", "send_date", "sent", "date", "send_time"],
    ),
];

/// Where one column goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    Skip,
    /// A field of the kind (see [`Kind::fields`]).
    Field {
        name: String,
    },
    /// A custom customer field, or an event property.
    Custom {
        name: String,
        field_type: FieldType,
    },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Skip => "(skipped)".into(),
            Target::Field { name } => name.clone(),
            Target::Custom { name, field_type } => format!("{name} (custom {field_type})"),
        }
    }
}

/// How customers are identified: by id, or by email.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKey {
    Id,
    Email,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnMap {
    pub column: String,
    pub target: Target,
    /// The date format of a date or time column.
    #[serde(skip)]
    pub date_format: Option<DateFormat>,
}

/// The whole mapping of a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub kind: Kind,
    pub columns: Vec<ColumnMap>,
    pub key: CustomerKey,
    /// For events without an event column: the one name for every row.
    pub event_name: Option<String>,
}

impl Mapping {
    /// The column index mapped to `field`, if any.
    pub fn column_of(&self, field: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| matches!(&c.target, Target::Field { name } if name == field))
    }

    /// One line per column: `email → email`.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.columns
            .iter()
            .map(|c| (c.column.clone(), c.target.describe()))
            .collect()
    }

    /// Checks the mapping is complete and unambiguous.
    pub fn check(&self) -> Result<(), String> {
        let fields = self.kind.fields();
        for (i, c) in self.columns.iter().enumerate() {
            match &c.target {
                Target::Field { name } => {
                    if !fields.iter().any(|f| f.name == name) {
                        return Err(format!(
                            "column {:?} is mapped to {name:?}, which is not a field of {} (fields: {})",
                            c.column,
                            self.kind,
                            fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    if let Some(other) = self.columns[..i].iter().find(|o| o.target == c.target) {
                        return Err(format!(
                            "columns {:?} and {:?} are both mapped to {name}; map one of them elsewhere",
                            other.column, c.column
                        ));
                    }
                }
                Target::Custom { name, .. } => {
                    if self.kind == Kind::Products || self.kind == Kind::Campaigns {
                        return Err(format!(
                            "column {:?}: {} have no custom fields; skip it",
                            c.column, self.kind
                        ));
                    }
                    if !is_identifier(name) {
                        return Err(format!(
                            "column {:?}: custom field name {name:?} must be lower_snake_case",
                            c.column
                        ));
                    }
                    if self.kind == Kind::Customers
                        && (BUILTIN_CUSTOMER_FIELDS.iter().any(|f| f.0 == name) || name == "id")
                    {
                        return Err(format!(
                            "column {:?}: {name:?} is a built-in field; map the column to it instead",
                            c.column
                        ));
                    }
                    if let Some(other) = self.columns[..i]
                        .iter()
                        .find(|o| matches!(&o.target, Target::Custom { name: n, .. } if n == name))
                    {
                        return Err(format!(
                            "columns {:?} and {:?} are both mapped to {name}",
                            other.column, c.column
                        ));
                    }
                }
                Target::Skip => {}
            }
        }
        let need = |field: &str, what: &str| -> Result<(), String> {
            if self.column_of(field).is_none() {
                Err(format!("no column is mapped to {what}"))
            } else {
                Ok(())
            }
        };
        match self.kind {
            Kind::Customers => match self.key {
                CustomerKey::Id => need("external_id", "the customer id (the key)")?,
                CustomerKey::Email => need("email", "the email (the key)")?,
            },
            Kind::Events => {
                need("customer", "the customer (the key)")?;
                need("time", "the time of the event")?;
                if self.column_of("event").is_none()
                    && self
                        .event_name
                        .as_deref()
                        .is_none_or(|n| n.trim().is_empty())
                {
                    return Err(
                        "no column is mapped to the event name, and no name is given for every row (--event NAME)".into(),
                    );
                }
            }
            Kind::Products => {
                need("sku", "the SKU (the key)")?;
                need("name", "the product name")?;
            }
            Kind::Campaigns => {
                need("campaign_id", "the campaign id (the key)")?;
                need("name", "the campaign name")?;
            }
        }
        Ok(())
    }
}

/// A header as a field-ish name: lowercase, `_` for anything else.
pub fn normalize_header(h: &str) -> String {
    let mut out = String::new();
    let mut last_us = false;
    for ch in h.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
            last_us = false;
        } else if !last_us && !out.is_empty() {
            out.push('_');
            last_us = true;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() || out.as_bytes()[0].is_ascii_digit() {
        out.insert_str(0, "col_");
    }
    out.truncate(64);
    out
}

/// Guesses what a file holds from its headers.
pub fn guess_kind(headers: &[String]) -> Kind {
    let norm: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
    let has = |names: &[&str]| norm.iter().any(|h| names.contains(&h.as_str()));
    let score = |fields: &[TargetField]| {
        fields
            .iter()
            .filter(|f| norm.iter().any(|h| f.synonyms.contains(&h.as_str())))
            .count()
    };
    if has(&["subject", "subject_line"]) {
        return Kind::Campaigns;
    }
    if has(&["sku", "product_name"]) && !has(&["customer_id", "customer"]) {
        return Kind::Products;
    }
    let events = score(EVENT_FIELDS)
        + 2 * usize::from(has(&[
            "event",
            "event_name",
            "event_type",
            "order_id",
            "order_date",
            "timestamp",
        ]));
    let customers =
        score(CUSTOMER_FIELDS) + 2 * usize::from(has(&["email", "first_name", "firstname"]));
    if events > customers {
        Kind::Events
    } else {
        Kind::Customers
    }
}

/// Custom customer fields many exports have under many names, given one
/// name each so that every source lands in the same column.
const CANONICAL_CUSTOM: &[(&str, &[&str])] = &[
    (
        "phone",
        &[
            "phone",
            "mobile",
            "phone_number",
            "mobile_phone",
            "mobile_number",
            "cell",
            "cell_phone",
            "telephone",
            "tel",
            "telefon",
            "handy",
            "default_address_phone",
            "billing_phone",
            "sms_phone",
        ],
    ),
    (
        "postal_code",
        &[
            "zip",
            "zip_code",
            "zipcode",
            "postal_code",
            "postalcode",
            "postcode",
            "post_code",
            "plz",
            "code_postal",
            "default_address_zip",
            "billing_zip",
            "mailing_zip",
        ],
    ),
    (
        "region",
        &[
            "state",
            "province",
            "region",
            "state_code",
            "province_code",
            "county",
            "bundesland",
            "default_address_province_code",
            "default_address_province",
            "billing_province",
            "mailing_state",
        ],
    ),
];

/// Words that name an amount of money.
const MONEY_WORDS: &[&str] = &[
    "value", "amount", "total", "revenue", "sales", "price", "spend", "spent", "betrag", "umsatz",
    "montant", "importe", "prix", "preis", "gmv", "subtotal", "paid", "payment", "dollar",
    "dollars", "usd", "eur", "euro", "euros", "gbp",
];

/// Words that name a count, an id or a part of an amount, not the amount.
const NOT_MONEY_WORDS: &[&str] = &[
    "count", "qty", "quantity", "number", "num", "no", "id", "items", "units", "rate", "pct",
    "percent", "tax", "shipping", "discount", "refund", "refunded", "score", "points",
];

fn is_count_header(norm: &str) -> bool {
    norm.split('_').any(|w| NOT_MONEY_WORDS.contains(&w))
}

/// A header that names the money of a row: `dollar_value`, `Total ($)`,
/// `Umsatz`, `order_amount_eur`.
pub fn is_money_header(norm: &str, raw: &str) -> bool {
    !is_count_header(norm)
        && (norm.split('_').any(|w| MONEY_WORDS.contains(&w)) || raw.contains(['$', '€', '£', '¥']))
}

/// Numbers with currency symbols, or with cents, in nine of ten cells.
fn looks_like_money(values: &[&str]) -> bool {
    let money = |v: &str| {
        let v = v.trim();
        parse_number(v).is_some()
            && (v.contains(['$', '€', '£', '¥'])
                || v.rsplit_once(['.', ',']).is_some_and(|(whole, cents)| {
                    cents.len() == 2
                        && cents.bytes().all(|b| b.is_ascii_digit())
                        && !whole.is_empty()
                }))
    };
    fits(values, money)
}

/// Whether a header, by its words, means `field` (the second pass, after
/// exact synonyms): a synonym at its end, or money words for the value.
fn header_means(field: &TargetField, norm: &str, raw: &str) -> bool {
    if field.name == "value" {
        return is_money_header(norm, raw);
    }
    field.synonyms.iter().filter(|s| s.len() >= 4).any(|s| {
        norm.len() > s.len()
            && norm.ends_with(*s)
            && norm.as_bytes()[norm.len() - s.len() - 1] == b'_'
    })
}

/// Whether at least half the sample values can be read as `kind` (empty
/// samples are): a header names a field only if its content could be it
/// (Mailchimp's `Birthday` is `03/12`, with no year: not a birth date).
fn plausible(kind: ValueKind, values: &[&str]) -> bool {
    let non_empty: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    match kind {
        ValueKind::Date | ValueKind::Timestamp => {
            non_empty.is_empty()
                || detect_date_format(non_empty.iter().copied()).is_some()
                || non_empty
                    .iter()
                    .filter(|v| super::values::parse_instant_lenient(v, None).is_some())
                    .count()
                    * 2
                    >= non_empty.len()
        }
        _ => reads_as(kind)
            .is_none_or(|test| non_empty.iter().filter(|v| test(v)).count() * 2 >= non_empty.len()),
    }
}

/// Whether sample values can be read as `kind` (empty samples fit).
fn content_fits(kind: ValueKind, values: &[&str]) -> bool {
    if values.iter().all(|v| v.trim().is_empty()) {
        return true;
    }
    match kind {
        ValueKind::Date | ValueKind::Timestamp => {
            detect_date_format(values.iter().copied()).is_some()
        }
        _ => reads_as(kind).is_none_or(|test| fits(values, test)),
    }
}

/// How one value is tested for a kind that is not a date (`None`: text,
/// which anything is).
fn reads_as(kind: ValueKind) -> Option<fn(&str) -> bool> {
    match kind {
        ValueKind::Email => Some(|v| normalize_email(v).is_ok()),
        ValueKind::Number => Some(|v| parse_number(v).is_some()),
        ValueKind::Bool => Some(|v| parse_bool(v).is_some()),
        ValueKind::Text | ValueKind::Date | ValueKind::Timestamp => None,
    }
}

/// What a user should know about a mapping before importing: an orders
/// file without a value column whose numbers went elsewhere.
pub fn mapping_warnings(mapping: &Mapping) -> Vec<String> {
    let mut out = Vec::new();
    let is_orders = mapping.column_of("event").is_none()
        && mapping.event_name.as_deref() == Some(crate::model::event_names::ORDER);
    if mapping.kind == Kind::Events && is_orders && mapping.column_of("value").is_none() {
        let numeric: Vec<&str> = mapping
            .columns
            .iter()
            .filter(|c| {
                matches!(
                    c.target,
                    Target::Custom {
                        field_type: FieldType::Number,
                        ..
                    }
                )
            })
            .map(|c| c.column.as_str())
            .collect();
        if let Some(first) = numeric.first() {
            let shown: Vec<String> = numeric.iter().map(|c| format!("{c:?}")).collect();
            out.push(format!(
                "these orders have no value column, so total, average and largest value conditions and RFM's monetary score will see nothing; numbers are in {}: if {first:?} is the order's amount, map it to the value (--map '{first}=value')",
                shown.join(", ")
            ));
        }
    }
    out
}

fn fits<F: Fn(&str) -> bool>(values: &[&str], test: F) -> bool {
    let non_empty: Vec<&&str> = values.iter().filter(|v| !v.trim().is_empty()).collect();
    !non_empty.is_empty()
        && non_empty.iter().filter(|v| test(v)).count() * 10 >= non_empty.len() * 9
}

/// The type of a custom column, from its values.
pub fn detect_type(values: &[&str]) -> (FieldType, Option<DateFormat>) {
    if fits(values, |v| parse_bool(v).is_some()) {
        return (FieldType::Bool, None);
    }
    if fits(values, |v| parse_number(v).is_some()) {
        return (FieldType::Number, None);
    }
    if let Some(fmt) = detect_date_format(values.iter().copied()) {
        let has_time = values.iter().any(|v| v.trim().len() > 10);
        let ty = if has_time || fmt == DateFormat::Epoch {
            FieldType::Timestamp
        } else {
            FieldType::Date
        };
        return (ty, Some(fmt));
    }
    (FieldType::Text, None)
}

/// Auto-detects the mapping from the header names and sample rows (cells
/// as text, one `Vec` per row).
pub fn auto_map(
    kind: Kind,
    headers: &[String],
    sample: &[Vec<Option<String>>],
    event_name: Option<String>,
) -> Mapping {
    let fields = kind.fields();
    let column_values = |i: usize| -> Vec<&str> {
        sample
            .iter()
            .filter_map(|r| r.get(i).and_then(|v| v.as_deref()))
            .collect()
    };
    let mut columns: Vec<ColumnMap> = Vec::new();
    let mut taken: Vec<&str> = Vec::new();
    // Names first: each field goes to the first column whose header means it.
    let norm: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
    let mut by_name: Vec<Option<&'static str>> = vec![None; headers.len()];
    for field in fields {
        for syn in field.synonyms {
            if let Some(i) = norm
                .iter()
                .position(|h| h == syn)
                .filter(|i| by_name[*i].is_none())
                .filter(|i| plausible(field.kind, &column_values(*i)))
                && !taken.contains(&field.name)
            {
                by_name[i] = Some(field.name);
                taken.push(field.name);
                break;
            }
        }
    }
    // Then the words of a header: `Default Address City` is the city,
    // `dollar_value` or `Total ($)` the value, `Customer Email` the email.
    for (i, h) in norm.iter().enumerate() {
        if by_name[i].is_some() {
            continue;
        }
        let values = column_values(i);
        if let Some(field) = fields.iter().find(|field| {
            !taken.contains(&field.name)
                && header_means(field, h, &headers[i])
                && content_fits(field.kind, &values)
        }) {
            by_name[i] = Some(field.name);
            taken.push(field.name);
        }
    }
    // Last, the content: numbers with currency symbols or cents are the
    // amount of an events file that has none by name.
    if kind == Kind::Events
        && !taken.contains(&"value")
        && let Some(i) = (0..headers.len()).find(|&i| {
            by_name[i].is_none()
                && !is_count_header(&norm[i])
                && looks_like_money(&column_values(i))
        })
    {
        by_name[i] = Some("value");
        taken.push("value");
    }
    // Well-known custom fields get one name each, from the column whose
    // header is the likeliest synonym (`Phone` before `Default Address Phone`).
    let mut canonical: Vec<Option<&'static str>> = vec![None; headers.len()];
    if kind == Kind::Customers {
        for (name, syns) in CANONICAL_CUSTOM {
            if let Some(i) = syns.iter().find_map(|syn| {
                (0..headers.len()).find(|&i| by_name[i].is_none() && norm[i] == *syn)
            }) {
                canonical[i] = Some(name);
            }
        }
    }
    let mut custom_names: Vec<String> = canonical.iter().flatten().map(|n| n.to_string()).collect();
    for (i, h) in headers.iter().enumerate() {
        let values = column_values(i);
        let target = match by_name[i] {
            Some(name) => Target::Field {
                name: name.to_string(),
            },
            None => {
                // Content: an unnamed column of emails is the email.
                let email_free = !taken.contains(&"email") && kind == Kind::Customers;
                if email_free && fits(&values, |v| normalize_email(v).is_ok()) {
                    taken.push("email");
                    Target::Field {
                        name: "email".into(),
                    }
                } else if kind == Kind::Products || kind == Kind::Campaigns {
                    Target::Skip
                } else if let Some(name) = canonical[i] {
                    // Phones and postal codes stay text: `02134` is not 2134.
                    Target::Custom {
                        name: name.to_string(),
                        field_type: FieldType::Text,
                    }
                } else {
                    let (ty, _) = detect_type(&values);
                    let base = normalize_header(h);
                    let clashes = |n: &str| {
                        custom_names.iter().any(|c| c == n)
                            || (kind == Kind::Customers
                                && (BUILTIN_CUSTOMER_FIELDS.iter().any(|f| f.0 == n) || n == "id"))
                    };
                    let mut name = base.clone();
                    let mut k = 2;
                    while clashes(&name) {
                        name = format!("{base}_{k}");
                        k += 1;
                    }
                    custom_names.push(name.clone());
                    Target::Custom {
                        name,
                        field_type: ty,
                    }
                }
            }
        };
        let date_format = match &target {
            Target::Field { name } => fields
                .iter()
                .find(|f| f.name == name)
                .filter(|f| matches!(f.kind, ValueKind::Date | ValueKind::Timestamp))
                .and_then(|_| detect_date_format(values.iter().copied())),
            Target::Custom {
                field_type: FieldType::Date | FieldType::Timestamp,
                ..
            } => detect_date_format(values.iter().copied()),
            _ => None,
        };
        columns.push(ColumnMap {
            column: h.clone(),
            target,
            date_format,
        });
    }
    // Customers are keyed by id when there is one, else by email; events by
    // whatever the customer column holds.
    let key = match kind {
        Kind::Events => {
            let customer_col = columns
                .iter()
                .position(|c| matches!(&c.target, Target::Field { name } if name == "customer"));
            match customer_col {
                Some(i) if fits(&column_values(i), |v| normalize_email(v).is_ok()) => {
                    CustomerKey::Email
                }
                _ => CustomerKey::Id,
            }
        }
        _ if !taken.contains(&"external_id") && taken.contains(&"email") => CustomerKey::Email,
        _ => CustomerKey::Id,
    };
    Mapping {
        kind,
        columns,
        key,
        event_name,
    }
}

/// Applies `column=field` overrides (`field` may be `skip`, a field of the
/// kind, or `custom:name[:type]`).
pub fn apply_overrides(mapping: &mut Mapping, overrides: &[String]) -> Result<(), String> {
    for o in overrides {
        let Some((col, to)) = o.split_once('=') else {
            return Err(format!("--map {o:?}: write column=field"));
        };
        let Some(c) = mapping
            .columns
            .iter_mut()
            .find(|c| c.column.eq_ignore_ascii_case(col.trim()))
        else {
            return Err(format!(
                "--map {o:?}: the file has no column {:?}",
                col.trim()
            ));
        };
        let to = to.trim();
        c.target = if to == "skip" {
            Target::Skip
        } else if let Some(rest) = to.strip_prefix("custom:") {
            let (name, ty) = match rest.split_once(':') {
                Some((n, t)) => (
                    n,
                    FieldType::parse(t)
                        .ok_or_else(|| format!("--map {o:?}: unknown type {t:?}"))?,
                ),
                None => (rest, FieldType::Text),
            };
            Target::Custom {
                name: name.to_string(),
                field_type: ty,
            }
        } else {
            Target::Field {
                name: to.to_string(),
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_normalize_and_kinds_are_guessed() {
        assert_eq!(normalize_header(" E-Mail Address "), "e_mail_address");
        assert_eq!(normalize_header("2nd phone"), "col_2nd_phone");
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            guess_kind(&h(&["customer_id", "email", "first_name"])),
            Kind::Customers
        );
        assert_eq!(
            guess_kind(&h(&["order_id", "customer_id", "order_date", "amount"])),
            Kind::Events
        );
        assert_eq!(guess_kind(&h(&["sku", "name", "price"])), Kind::Products);
        assert_eq!(
            guess_kind(&h(&["campaign_id", "name", "subject"])),
            Kind::Campaigns
        );
    }

    #[test]
    fn two_columns_on_one_field_is_an_error() {
        let mut m = Mapping {
            kind: Kind::Customers,
            columns: vec![
                ColumnMap {
                    column: "a".into(),
                    target: Target::Field {
                        name: "email".into(),
                    },
                    date_format: None,
                },
                ColumnMap {
                    column: "b".into(),
                    target: Target::Field {
                        name: "email".into(),
                    },
                    date_format: None,
                },
            ],
            key: CustomerKey::Email,
            event_name: None,
        };
        assert!(m.check().unwrap_err().contains("both mapped to email"));
        m.columns[1].target = Target::Skip;
        assert!(m.check().is_ok());
        m.key = CustomerKey::Id;
        assert!(m.check().unwrap_err().contains("customer id"));
    }
}
