//! Checking a rule against a workspace: fields, events, operators, values,
//! regexes, segment references. The result is the typed tree of
//! [`super::tree`], which both the engine and the SQL compiler work from;
//! every error names the path of its node (`root.children[2].children[0]`).
//! Reading the JSON is [`super::parse`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use chrono::NaiveDate;
use serde_json::Value as Json;

use super::rule::*;
use crate::model::time::date_to_ts;
use crate::model::{FieldDef, FieldType};

pub use super::parse::{
    NodePath, RuleError, RuleErrorKind, node_from_json, parse_rule, parse_score_model,
    rule_from_json,
};
pub(super) use super::parse::{cycle_err, err};
pub use super::tree::*;

/// What a rule can refer to in a workspace.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub fields: Vec<FieldDef>,
    pub event_names: Vec<String>,
    /// Saved segments by name.
    pub segments: HashMap<String, Rule>,
    /// Scoring models by name.
    pub scores: HashMap<String, ScoreModel>,
    /// The event that is a purchase (RFM reads it); empty means `order`.
    pub purchase_event: String,
}

impl Schema {
    /// The purchase event, `order` when the schema names none.
    pub fn purchase_event(&self) -> &str {
        if self.purchase_event.is_empty() {
            crate::model::event_names::ORDER
        } else {
            &self.purchase_event
        }
    }
}

/// Event properties a filter can test, besides `props.<key>`.
pub const EVENT_PROPERTIES: [&str; 4] = ["category", "product", "campaign", "value"];

/// Names of the RFM segments, from best to worst.
pub const RFM_SEGMENTS: [&str; 12] = [
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
    "No orders",
];

// ---------------------------------------------------------------------------
// Resolution.

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Checks `rule` against `schema` and returns its typed tree.
pub fn resolve(rule: &Rule, schema: &Schema) -> Result<RNode, RuleError> {
    let mut r = Resolver {
        schema,
        stack: Vec::new(),
    };
    r.node(&rule.root, "root")
}

/// Resolves a scoring model (for checks when it is saved).
pub fn resolve_score(
    name: &str,
    model: &ScoreModel,
    schema: &Schema,
) -> Result<Vec<(i64, RNode)>, RuleError> {
    let mut r = Resolver {
        schema,
        stack: Vec::new(),
    };
    r.score_rules(name, model, &format!("score {name:?}"))
}

struct Resolver<'a> {
    schema: &'a Schema,
    /// Segment and score names being resolved, to find cycles.
    stack: Vec<String>,
}

impl Resolver<'_> {
    fn node(&mut self, node: &Node, path: &str) -> Result<RNode, RuleError> {
        let json = serde_json::to_string(node).unwrap_or_default();
        let mut out = match node {
            Node::Group(g) => {
                let mut children = Vec::with_capacity(g.children.len());
                for (i, c) in g.children.iter().enumerate() {
                    children.push(self.node(c, &format!("{path}.children[{i}]"))?);
                }
                let child_keys: Vec<String> = children
                    .iter()
                    .map(|c| format!("{}:{}", c.key, c.not))
                    .collect();
                let combine = if g.combine == Combine::All {
                    "all"
                } else {
                    "any"
                };
                let mut parts = vec!["group", combine];
                parts.extend(child_keys.iter().map(String::as_str));
                RNode {
                    path: NodePath::from(path.to_string()),
                    not: false,
                    key: hash_of(&parts),
                    kind: RKind::Group {
                        combine: g.combine,
                        children,
                    },
                }
            }
            Node::Profile(c) => {
                let field = self
                    .schema
                    .fields
                    .iter()
                    .find(|f| f.name == c.field)
                    .ok_or_else(|| RuleError {
                        kind: RuleErrorKind::Invalid,
                        path: NodePath::from(path.to_string()),
                        message: format!(
                            "unknown field {:?} (fields: {})",
                            c.field,
                            self.schema
                                .fields
                                .iter()
                                .map(|f| f.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })?
                    .clone();
                let test = value_test(field.field_type, c.op, &c.value, path, &field.name)?;
                RNode {
                    path: NodePath::from(path.to_string()),
                    not: false,
                    key: hash_of(&["profile", &json_without_not(node, &json)]),
                    kind: RKind::Profile { field, test },
                }
            }
            Node::Event(c) => self.event(c, path, node, &json)?,
            Node::Segment(c) => {
                if self.stack.contains(&c.segment) {
                    let mut cycle = self.stack.clone();
                    cycle.push(c.segment.clone());
                    return cycle_err(path, format!("segment cycle: {}", cycle.join(" -> ")));
                }
                let Some(rule) = self.schema.segments.get(&c.segment) else {
                    return err(path, format!("unknown segment {:?}", c.segment));
                };
                self.stack.push(c.segment.clone());
                let inner = self.node(&rule.root, &format!("segment {:?}.root", c.segment));
                self.stack.pop();
                // The user sees the problem at the condition that refers to
                // the segment, with where in that segment it lies.
                let inner = inner.map_err(|e| {
                    if !self.stack.is_empty() || e.path == path {
                        e
                    } else if e.kind == RuleErrorKind::Cycle {
                        RuleError {
                            kind: e.kind,
                            path: NodePath::from(path.to_string()),
                            message: e.message,
                        }
                    } else {
                        RuleError {
                            kind: RuleErrorKind::Invalid,
                            path: NodePath::from(path.to_string()),
                            message: format!("in {}: {}", e.path, e.message),
                        }
                    }
                })?;
                RNode {
                    path: NodePath::from(path.to_string()),
                    not: false,
                    key: hash_of(&[
                        "segment",
                        &c.segment,
                        &format!("{}:{}", inner.key, inner.not),
                    ]),
                    kind: RKind::Segment {
                        name: c.segment.clone(),
                        rule: Box::new(inner),
                    },
                }
            }
            Node::Trait(c) => self.trait_cond(c, path, node, &json)?,
        };
        out.not = node.not();
        Ok(out)
    }

    fn event(
        &mut self,
        c: &EventCondition,
        path: &str,
        node: &Node,
        json: &str,
    ) -> Result<RNode, RuleError> {
        if !self.schema.event_names.contains(&c.event) {
            return err(
                path,
                format!(
                    "unknown event {:?} (events in this workspace: {})",
                    c.event,
                    self.schema.event_names.join(", ")
                ),
            );
        }
        let mut filters = Vec::new();
        for (i, f) in c.filters.iter().enumerate() {
            let fpath = format!("{path}.filters[{i}]");
            let property = match f.property.as_str() {
                "category" => EventProperty::Category,
                "product" => EventProperty::Product,
                "campaign" => EventProperty::Campaign,
                "value" => EventProperty::Value,
                other => match other.strip_prefix("props.") {
                    Some(k)
                        if !k.is_empty()
                            && k.len() <= 64
                            && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') =>
                    {
                        EventProperty::Extra(k.to_string())
                    }
                    _ => {
                        return err(
                            &fpath,
                            format!(
                                "unknown event property {other:?} (use category, product, campaign, value or props.<key>)"
                            ),
                        );
                    }
                },
            };
            let ty = match property {
                EventProperty::Value => FieldType::Number,
                EventProperty::Extra(_) if is_numeric_op(f.op) => FieldType::Number,
                _ => FieldType::Text,
            };
            let test = value_test(ty, f.op, &f.value, &fpath, &property.name())?;
            filters.push(RFilter { property, test });
        }
        let window = match &c.window {
            Window::Ever => RWindow::Ever,
            Window::LastDays { days } => RWindow::LastDays(positive(*days, path, "window.days")?),
            Window::LastHours { hours } => {
                RWindow::LastHours(positive(*hours, path, "window.hours")?)
            }
            Window::ThisMonth => RWindow::ThisMonth,
            Window::MoreThanDaysAgo { days } => {
                RWindow::MoreThanDaysAgo(non_negative(*days, path, "window.days")?)
            }
            Window::Between { from, to } => {
                let a = parse_date(&Json::String(from.clone()), &format!("{path}.window.from"))?;
                let b = parse_date(&Json::String(to.clone()), &format!("{path}.window.to"))?;
                if a > b {
                    return err(
                        &format!("{path}.window"),
                        format!("the window starts ({from}) after it ends ({to})"),
                    );
                }
                RWindow::Between(a, b)
            }
        };
        let test = match value_test(FieldType::Number, c.op, &c.value, path, c.aggregate.label())? {
            ValueTest::Num(t) => t,
            _ => {
                return err(
                    path,
                    format!(
                        "operator {:?} does not fit an event condition (use equals, not_equals, less_than, at_most, greater_than, at_least or between)",
                        c.op.key()
                    ),
                );
            }
        };
        Ok(RNode {
            path: NodePath::from(path.to_string()),
            not: false,
            key: hash_of(&["event", &json_without_not(node, json)]),
            kind: RKind::Event {
                event: c.event.clone(),
                filters,
                aggregate: c.aggregate,
                window,
                test,
            },
        })
    }

    fn trait_cond(
        &mut self,
        c: &TraitCondition,
        path: &str,
        node: &Node,
        json: &str,
    ) -> Result<RNode, RuleError> {
        let mut key_parts = vec!["trait".to_string(), json_without_not(node, json)];
        let score = if c.kind == TraitKind::Score {
            let Some(name) = &c.score else {
                return err(
                    path,
                    "a score condition needs \"score\": the scoring model's name",
                );
            };
            let Some(model) = self.schema.scores.get(name) else {
                return err(path, format!("unknown scoring model {name:?}"));
            };
            if self.stack.contains(name) {
                let mut cycle = self.stack.clone();
                cycle.push(name.clone());
                return cycle_err(path, format!("score cycle: {}", cycle.join(" -> ")));
            }
            self.stack.push(name.clone());
            let rules = self.score_rules(name, model, &format!("score {name:?}"));
            self.stack.pop();
            let rules = rules?;
            for (p, r) in &rules {
                key_parts.push(format!("{p}:{}:{}", r.key, r.not));
            }
            Some((name.clone(), rules))
        } else {
            if c.score.is_some() {
                return err(path, "\"score\" only goes with \"trait\": \"score\"");
            }
            None
        };
        let ty = if c.kind == TraitKind::RfmSegment {
            FieldType::Text
        } else {
            FieldType::Number
        };
        let test = value_test(ty, c.op, &c.value, path, c.kind.key())?;
        if c.kind == TraitKind::RfmSegment {
            let names: Vec<String> = match &test {
                ValueTest::TextEq(s) | ValueTest::TextNe(s) => vec![s.clone()],
                ValueTest::TextIn(v) => v.clone(),
                _ => Vec::new(),
            };
            for n in names {
                if !RFM_SEGMENTS.iter().any(|s| s.to_ascii_lowercase() == n) {
                    return err(
                        &format!("{path}.value"),
                        format!(
                            "{n:?} is not an RFM segment (one of: {})",
                            RFM_SEGMENTS.join(", ")
                        ),
                    );
                }
            }
        }
        let parts: Vec<&str> = key_parts.iter().map(String::as_str).collect();
        Ok(RNode {
            path: NodePath::from(path.to_string()),
            not: false,
            key: hash_of(&parts),
            kind: RKind::Trait {
                kind: c.kind,
                score,
                test,
                purchase_event: self.schema.purchase_event().to_string(),
            },
        })
    }

    fn score_rules(
        &mut self,
        _name: &str,
        model: &ScoreModel,
        path: &str,
    ) -> Result<Vec<(i64, RNode)>, RuleError> {
        let mut out = Vec::new();
        for (i, r) in model.rules.iter().enumerate() {
            let n = self.node(&r.condition, &format!("{path}.rules[{i}].condition"))?;
            out.push((r.points, n));
        }
        Ok(out)
    }
}

/// The node's JSON without its `not` flag: the key of what it selects
/// before negation (negation is applied on top of the cached set).
fn json_without_not(node: &Node, json: &str) -> String {
    if node.not() {
        let mut n = node.clone();
        n.set_not(false);
        serde_json::to_string(&n).unwrap_or_default()
    } else {
        json.to_string()
    }
}

fn is_numeric_op(op: Op) -> bool {
    matches!(
        op,
        Op::LessThan | Op::AtMost | Op::GreaterThan | Op::AtLeast | Op::Between
    )
}

fn positive(n: i64, path: &str, what: &str) -> Result<i64, RuleError> {
    if (1..=36_500).contains(&n) {
        Ok(n)
    } else {
        err(
            &format!("{path}.{what}"),
            format!("must be between 1 and 36500, not {n}"),
        )
    }
}

fn non_negative(n: i64, path: &str, what: &str) -> Result<i64, RuleError> {
    if (0..=36_500).contains(&n) {
        Ok(n)
    } else {
        err(
            &format!("{path}.{what}"),
            format!("must be between 0 and 36500, not {n}"),
        )
    }
}

/// The operators that fit a type, in the order pickers show them.
pub fn ops_for(ty: FieldType) -> &'static [Op] {
    match ty {
        FieldType::Text => &[
            Op::Equals,
            Op::NotEquals,
            Op::Contains,
            Op::StartsWith,
            Op::EndsWith,
            Op::InList,
            Op::Matches,
            Op::IsSet,
            Op::IsEmpty,
        ],
        FieldType::Number => &[
            Op::Equals,
            Op::NotEquals,
            Op::LessThan,
            Op::AtMost,
            Op::GreaterThan,
            Op::AtLeast,
            Op::Between,
            Op::InList,
            Op::IsSet,
            Op::IsEmpty,
        ],
        FieldType::Date | FieldType::Timestamp => &[
            Op::Before,
            Op::After,
            Op::On,
            Op::Between,
            Op::WithinLastDays,
            Op::MoreThanDaysAgo,
            Op::IsSet,
            Op::IsEmpty,
        ],
        FieldType::Bool => &[Op::IsTrue, Op::IsFalse, Op::IsSet, Op::IsEmpty],
    }
}

fn value_test(
    ty: FieldType,
    op: Op,
    value: &Json,
    path: &str,
    what: &str,
) -> Result<ValueTest, RuleError> {
    if !ops_for(ty).contains(&op) {
        return err(
            path,
            format!(
                "operator {:?} does not fit {ty} field {what:?} (use one of: {})",
                op.key(),
                ops_for(ty)
                    .iter()
                    .map(|o| o.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let vpath = format!("{path}.value");
    if !op.takes_value() {
        if !value.is_null() {
            return err(&vpath, format!("{:?} takes no value", op.key()));
        }
        return Ok(match op {
            Op::IsSet => ValueTest::IsSet,
            Op::IsEmpty => ValueTest::IsEmpty,
            Op::IsTrue => ValueTest::Bool(true),
            _ => ValueTest::Bool(false),
        });
    }
    if value.is_null() {
        return err(&vpath, format!("{:?} needs a value", op.key()));
    }
    match ty {
        FieldType::Text => {
            if op == Op::InList {
                let items = list(value, &vpath)?;
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    out.push(text(v, &format!("{vpath}[{i}]"))?.to_ascii_lowercase());
                }
                return Ok(ValueTest::TextIn(out));
            }
            let s = text(value, &vpath)?;
            if s.is_empty() && op != Op::Equals && op != Op::NotEquals {
                return err(&vpath, "must not be empty");
            }
            Ok(match op {
                Op::Equals => ValueTest::TextEq(s.to_ascii_lowercase()),
                Op::NotEquals => ValueTest::TextNe(s.to_ascii_lowercase()),
                Op::Contains => ValueTest::Contains(s.to_ascii_lowercase()),
                Op::StartsWith => ValueTest::StartsWith(s.to_ascii_lowercase()),
                Op::EndsWith => ValueTest::EndsWith(s.to_ascii_lowercase()),
                _ => {
                    if s.len() > 1000 {
                        return err(&vpath, "the pattern is longer than 1000 characters");
                    }
                    let re = regex::RegexBuilder::new(&s)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| RuleError {
                            kind: RuleErrorKind::Invalid,
                            path: NodePath::from(vpath.clone()),
                            message: format!("the pattern does not compile: {e}"),
                        })?;
                    ValueTest::Regex(s, re)
                }
            })
        }
        FieldType::Number => {
            if op == Op::InList {
                let items = list(value, &vpath)?;
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    out.push(number(v, &format!("{vpath}[{i}]"))?);
                }
                return Ok(ValueTest::NumIn(out));
            }
            if op == Op::Between {
                let (a, b) = pair(value, &vpath)?;
                let (a, b) = (number(&a, &vpath)?, number(&b, &vpath)?);
                if a > b {
                    return err(
                        &vpath,
                        format!(
                            "between needs low ≤ high, got {} > {}",
                            fmt_num(a),
                            fmt_num(b)
                        ),
                    );
                }
                return Ok(ValueTest::Num(NumTest::Between(a, b)));
            }
            let x = number(value, &vpath)?;
            Ok(ValueTest::Num(match op {
                Op::Equals => NumTest::Eq(x),
                Op::NotEquals => NumTest::Ne(x),
                Op::LessThan => NumTest::Lt(x),
                Op::AtMost => NumTest::Le(x),
                Op::GreaterThan => NumTest::Gt(x),
                _ => NumTest::Ge(x),
            }))
        }
        FieldType::Date | FieldType::Timestamp => Ok(ValueTest::Date(match op {
            Op::Before => DateTest::Before(parse_date(value, &vpath)?),
            Op::After => DateTest::After(parse_date(value, &vpath)?),
            Op::On => DateTest::On(parse_date(value, &vpath)?),
            Op::Between => {
                let (a, b) = pair(value, &vpath)?;
                let (a, b) = (parse_date(&a, &vpath)?, parse_date(&b, &vpath)?);
                if a > b {
                    return err(
                        &vpath,
                        "between needs the first date on or before the second",
                    );
                }
                DateTest::Between(a, b)
            }
            Op::WithinLastDays => DateTest::WithinLastDays(days(value, &vpath)?),
            _ => DateTest::MoreThanDaysAgo(days(value, &vpath)?),
        })),
        FieldType::Bool => err(&vpath, "takes no value"),
    }
}

fn list(value: &Json, path: &str) -> Result<Vec<Json>, RuleError> {
    match value {
        Json::Array(items) if !items.is_empty() => Ok(items.clone()),
        Json::Array(_) => err(path, "the list is empty"),
        _ => err(path, "expected a list like [\"a\", \"b\"]"),
    }
}

fn pair(value: &Json, path: &str) -> Result<(Json, Json), RuleError> {
    match value {
        Json::Array(items) if items.len() == 2 => Ok((items[0].clone(), items[1].clone())),
        Json::Object(m) if m.contains_key("low") && m.contains_key("high") => {
            Ok((m["low"].clone(), m["high"].clone()))
        }
        _ => err(path, "between needs two values: [low, high]"),
    }
}

fn text(value: &Json, path: &str) -> Result<String, RuleError> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        _ => err(path, format!("expected text, got {value}")),
    }
}

fn number(value: &Json, path: &str) -> Result<f64, RuleError> {
    let x = match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match x {
        Some(x) if x.is_finite() => Ok(x),
        _ => err(path, format!("expected a number, got {value}")),
    }
}

fn days(value: &Json, path: &str) -> Result<i64, RuleError> {
    let n = number(value, path)?;
    if n.fract() != 0.0 || !(0.0..=36_500.0).contains(&n) {
        return err(
            path,
            format!("expected a whole number of days (0–36500), got {value}"),
        );
    }
    Ok(n as i64)
}

/// `YYYY-MM-DD` as the Unix seconds of its midnight UTC.
pub fn parse_date(value: &Json, path: &str) -> Result<i64, RuleError> {
    let Json::String(s) = value else {
        return err(
            path,
            format!("expected a date like \"2026-11-01\", got {value}"),
        );
    };
    match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) if (1900..=2200).contains(&chrono::Datelike::year(&d)) => Ok(date_to_ts(d)),
        _ => err(
            path,
            format!("expected a date like \"2026-11-01\", got {s:?}"),
        ),
    }
}
