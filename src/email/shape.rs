//! The documented shape of the render context (see `docs/CONTEXT.md`):
//! what lint checks variable names against, and what tests check built
//! contexts against.

use serde_json::Value as Json;

use crate::model::{FieldDef, FieldType};

/// A value's shape. Every scalar may also be `null` (no value).
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Text,
    Number,
    Bool,
    /// RFC 3339 UTC (`2026-11-30T09:00:00Z`).
    Time,
    /// `YYYY-MM-DD`.
    Date,
    Object(Vec<(String, Shape)>),
    /// Either `null` or the object.
    Nullable(Box<Shape>),
    List(Box<Shape>),
    /// A map from names to a shape (scores by model name).
    Map(Box<Shape>),
}

fn obj(fields: &[(&str, Shape)]) -> Shape {
    Shape::Object(
        fields
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect(),
    )
}

/// A product, as `cart`, `recommended_products` and `last_order.product`
/// hold it.
pub fn product() -> Shape {
    obj(&[
        ("sku", Shape::Text),
        ("name", Shape::Text),
        ("category", Shape::Text),
        ("price", Shape::Number),
        ("url", Shape::Text),
        ("image_url", Shape::Text),
    ])
}

fn field_shape(t: FieldType) -> Shape {
    match t {
        FieldType::Text => Shape::Text,
        FieldType::Number => Shape::Number,
        FieldType::Bool => Shape::Bool,
        FieldType::Date => Shape::Date,
        FieldType::Timestamp => Shape::Time,
    }
}

/// The context's shape for a workspace whose customer fields are `fields`.
pub fn context_shape(fields: &[FieldDef]) -> Shape {
    let mut top: Vec<(String, Shape)> = vec![("id".into(), Shape::Number)];
    let mut custom = Vec::new();
    for f in fields {
        if f.custom {
            custom.push((f.name.clone(), field_shape(f.field_type)));
        } else {
            top.push((f.name.clone(), field_shape(f.field_type)));
        }
    }
    top.push(("full_name".into(), Shape::Text));
    for (n, s) in &custom {
        if !super::context::RESERVED_KEYS.contains(&n.as_str()) {
            top.push((n.clone(), s.clone()));
        }
    }
    top.push(("custom".into(), Shape::Object(custom)));
    let cart_item = match product() {
        Shape::Object(mut f) => {
            f.push(("added_at".into(), Shape::Time));
            Shape::Object(f)
        }
        s => s,
    };
    let rest = [
        (
            "traits",
            obj(&[
                ("recency_days", Shape::Number),
                ("frequency", Shape::Number),
                ("monetary", Shape::Number),
                ("r", Shape::Number),
                ("f", Shape::Number),
                ("m", Shape::Number),
                ("rfm_segment", Shape::Text),
                ("engagement", Shape::Number),
                ("scores", Shape::Map(Box::new(Shape::Number))),
            ]),
        ),
        ("segments", Shape::List(Box::new(Shape::Text))),
        ("segment", Shape::Text),
        (
            "orders",
            obj(&[
                ("count", Shape::Number),
                ("total", Shape::Number),
                ("average", Shape::Number),
                ("first_at", Shape::Time),
                ("last_at", Shape::Time),
            ]),
        ),
        (
            "last_order",
            Shape::Nullable(Box::new(obj(&[
                ("at", Shape::Time),
                ("value", Shape::Number),
                ("product", Shape::Nullable(Box::new(product()))),
            ]))),
        ),
        ("cart", Shape::List(Box::new(cart_item))),
        ("cart_total", Shape::Number),
        ("recommended_products", Shape::List(Box::new(product()))),
        (
            "campaign",
            Shape::Nullable(Box::new(obj(&[
                ("id", Shape::Text),
                ("name", Shape::Text),
                ("subject", Shape::Text),
                ("sent_at", Shape::Time),
            ]))),
        ),
        (
            "shop",
            obj(&[
                ("name", Shape::Text),
                ("url", Shape::Text),
                ("currency", Shape::Text),
                ("address", Shape::Text),
            ]),
        ),
        ("unsubscribe_url", Shape::Text),
        ("preferences_url", Shape::Text),
        ("cart_url", Shape::Text),
        ("as_of", Shape::Time),
    ];
    top.extend(rest.into_iter().map(|(n, s)| (n.to_string(), s)));
    Shape::Object(top)
}

impl Shape {
    /// The shape of field `name` of this object shape.
    pub fn field(&self, name: &str) -> Option<&Shape> {
        match self {
            Shape::Object(f) => f.iter().find(|(n, _)| n == name).map(|(_, s)| s),
            Shape::Nullable(s) => s.field(name),
            Shape::Map(s) => Some(s),
            _ => None,
        }
    }

    /// The shape of one item of this list shape.
    pub fn item(&self) -> Option<&Shape> {
        match self {
            Shape::List(s) => Some(s),
            Shape::Nullable(s) => s.item(),
            Shape::Map(s) => Some(s),
            _ => None,
        }
    }

    /// Where `value` departs from this shape (a path and what was
    /// expected), or `None` when it conforms. Missing object keys are
    /// departures too: the context always has every documented key.
    pub fn check(&self, value: &Json, path: &str) -> Option<String> {
        let bad = |what: &str| Some(format!("{path}: expected {what}, found {value}"));
        match (self, value) {
            (Shape::Nullable(_), Json::Null) => None,
            (Shape::Nullable(s), v) => s.check(v, path),
            (Shape::Object(_) | Shape::List(_) | Shape::Map(_), Json::Null) => bad("a value"),
            (_, Json::Null) => None,
            (Shape::Text, Json::String(_))
            | (Shape::Number, Json::Number(_))
            | (Shape::Bool, Json::Bool(_)) => None,
            (Shape::Time, Json::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .is_err()
                .then(|| format!("{path}: {s:?} is not RFC 3339")),
            (Shape::Date, Json::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .is_err()
                .then(|| format!("{path}: {s:?} is not YYYY-MM-DD")),
            (Shape::Object(fields), Json::Object(m)) => {
                for (n, s) in fields {
                    match m.get(n) {
                        None => return Some(format!("{path}.{n}: missing")),
                        Some(v) => {
                            if let Some(e) = s.check(v, &format!("{path}.{n}")) {
                                return Some(e);
                            }
                        }
                    }
                }
                m.keys()
                    .find(|k| !fields.iter().any(|(n, _)| n == *k))
                    .map(|k| format!("{path}.{k}: not in the documented shape"))
            }
            (Shape::List(s), Json::Array(a)) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| s.check(v, &format!("{path}[{i}]"))),
            (Shape::Map(s), Json::Object(m)) => m
                .iter()
                .find_map(|(k, v)| s.check(v, &format!("{path}.{k}"))),
            (Shape::Text, _) => bad("text"),
            (Shape::Number, _) => bad("a number"),
            (Shape::Bool, _) => bad("true or false"),
            (Shape::Time | Shape::Date, _) => bad("a date"),
            (Shape::Object(_) | Shape::Map(_), _) => bad("an object"),
            (Shape::List(_), _) => bad("a list"),
        }
    }
}
