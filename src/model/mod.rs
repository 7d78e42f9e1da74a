//! The domain model: plain data types shared by the store, the generator, the
//! engine and the UI. Nothing here does I/O.

pub mod html;
pub mod mask;
pub mod rng;
pub mod text;
pub mod time;

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The type of a customer field, built-in or custom. It decides which rule
/// operators fit the field and how its values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    /// A calendar date, stored as `YYYY-MM-DD` text.
    Date,
    /// An instant, stored as Unix seconds UTC.
    Timestamp,
    Bool,
}

impl FieldType {
    pub const ALL: [FieldType; 5] = [
        FieldType::Text,
        FieldType::Number,
        FieldType::Date,
        FieldType::Timestamp,
        FieldType::Bool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
            FieldType::Bool => "bool",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The SQLite storage class of a column of this type.
    pub fn sql_type(self) -> &'static str {
        match self {
            FieldType::Text | FieldType::Date => "TEXT",
            FieldType::Number => "REAL",
            FieldType::Timestamp | FieldType::Bool => "INTEGER",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of a customer field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

/// A customer field: the built-in columns and the custom ones that imports add.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Column name, `[a-z_][a-z0-9_]*`.
    pub name: String,
    pub field_type: FieldType,
    /// Human label shown in pickers.
    pub label: String,
    pub custom: bool,
}

/// The customer columns every workspace has, in table order.
pub const BUILTIN_CUSTOMER_FIELDS: [(&str, FieldType, &str); 10] = [
    ("external_id", FieldType::Text, "Customer ID"),
    ("email", FieldType::Text, "Email"),
    ("first_name", FieldType::Text, "First name"),
    ("last_name", FieldType::Text, "Last name"),
    ("birth_date", FieldType::Date, "Birth date"),
    ("gender", FieldType::Text, "Gender"),
    ("city", FieldType::Text, "City"),
    ("country", FieldType::Text, "Country"),
    ("signup_at", FieldType::Timestamp, "Signed up"),
    ("email_consent", FieldType::Bool, "Email consent"),
];

/// A customer profile. `id` is the workspace's own key; `external_id` is the
/// customer's id in the systems the data came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    pub external_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub signup_at: Option<i64>,
    pub email_consent: bool,
    /// Values of custom fields by field name.
    pub custom: BTreeMap<String, FieldValue>,
}

/// Well-known event names. Any other name is allowed too.
pub mod event_names {
    pub const ORDER: &str = "order";
    pub const EMAIL_SENT: &str = "email_sent";
    pub const EMAIL_OPEN: &str = "email_open";
    pub const EMAIL_CLICK: &str = "email_click";
    pub const UNSUBSCRIBE: &str = "unsubscribe";
    /// A send that did not reach the inbox (hard bounce).
    pub const EMAIL_BOUNCE: &str = "email_bounce";
    pub const PAGE_VIEW: &str = "page_view";
    pub const PRODUCT_VIEW: &str = "product_view";
    pub const ADD_TO_CART: &str = "add_to_cart";
}

/// One behavioural fact about a customer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    /// Unix seconds UTC.
    pub time: i64,
    /// Order amount, or any numeric measure of the event.
    pub value: Option<f64>,
    pub product: Option<String>,
    pub category: Option<String>,
    pub campaign: Option<String>,
    /// Extra properties as a JSON object.
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub price: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub subject: Option<String>,
    pub sent_at: Option<i64>,
    pub template_id: Option<i64>,
}

/// An email template: sender, and Handlebars subject, preheader, HTML body
/// and (optionally) plain-text body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub from_name: String,
    pub from_address: String,
    pub subject: String,
    pub preheader: String,
    /// The HTML body.
    pub body: String,
    /// The plain-text body; `None` derives it from the rendered HTML.
    pub text_body: Option<String>,
    pub updated_at: i64,
}

/// One saved version of a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub id: i64,
    pub template_id: i64,
    pub version: i64,
    pub template: Template,
    pub saved_at: i64,
    pub note: String,
}

/// One entry of the content map: segment → template, as one of the
/// segment's A/B variants with its share (`weight` out of the variants'
/// total).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    pub segment_id: i64,
    /// "A", "B", …
    pub variant: String,
    pub template_id: i64,
    pub weight: u32,
}

/// A saved segment. The rule is kept as JSON text here; the engine parses it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `#rrggbb`.
    pub color: String,
    /// Lower runs first when customers are assigned to one segment each.
    pub priority: i64,
    pub rule: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One saved version of a segment's rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentVersion {
    pub id: i64,
    pub segment_id: i64,
    pub version: i64,
    pub rule: String,
    pub saved_at: i64,
    pub member_count: Option<i64>,
    pub as_of: Option<i64>,
    pub note: String,
}

/// One line of the import audit log.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub file_name: String,
    pub file_hash: String,
    pub file_size: i64,
    pub kind: String,
    pub status: String,
    pub rows_read: i64,
    pub inserted: i64,
    pub updated: i64,
    pub merged: i64,
    pub rejected: i64,
    /// The full report as JSON.
    pub report: String,
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// True if `name` can be a column name: `[a-z_][a-z0-9_]*`, at most 64 bytes.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_lowercase())
        && chars.all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_lower_snake_case() {
        assert!(is_identifier("loyalty_tier"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("Tier"));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier("x;drop"));
        assert!(!is_identifier(""));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(-4200), "-4,200");
    }

    #[test]
    fn field_types_round_trip_through_names() {
        for t in FieldType::ALL {
            assert_eq!(FieldType::parse(t.as_str()), Some(t));
        }
        assert_eq!(FieldType::parse("blob"), None);
    }
}
