//! The segment rule model, as users and the CLI write it in JSON.
//!
//! ```json
//! {"version": 1,
//!  "root": {"type": "group", "match": "all", "children": [
//!    {"type": "event", "event": "order", "aggregate": "count",
//!     "op": "greater_than", "value": 3, "window": {"kind": "last_days", "days": 30}},
//!    {"type": "profile", "field": "country", "op": "equals", "value": "DE", "not": true}]}}
//! ```
//!
//! Values stay JSON here; [`super::resolve`] checks them against the
//! workspace's fields and turns the rule into a typed, validated tree.

use serde::{Deserialize, Serialize};

/// The rule format version this build reads and writes.
pub const RULE_FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub version: u32,
    pub root: Node,
}

impl Rule {
    /// An empty "all of" rule: every customer.
    pub fn everyone() -> Rule {
        Rule {
            version: RULE_FORMAT_VERSION,
            root: Node::Group(Group {
                not: false,
                combine: Combine::All,
                children: Vec::new(),
            }),
        }
    }

    pub fn new(root: Node) -> Rule {
        Rule {
            version: RULE_FORMAT_VERSION,
            root,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("rules always serialize")
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("rules always serialize")
    }

    /// Whether a segment condition anywhere in the rule refers to `name`.
    pub fn refers_to(&self, name: &str) -> bool {
        fn walk(n: &Node, name: &str) -> bool {
            match n {
                Node::Segment(s) => s.segment == name,
                Node::Group(g) => g.children.iter().any(|c| walk(c, name)),
                _ => false,
            }
        }
        walk(&self.root, name)
    }

    /// Points every reference to segment `old` at `new`; true if any did.
    pub fn rename_segment(&mut self, old: &str, new: &str) -> bool {
        fn walk(n: &mut Node, old: &str, new: &str) -> bool {
            match n {
                Node::Segment(s) if s.segment == old => {
                    s.segment = new.to_string();
                    true
                }
                Node::Group(g) => g
                    .children
                    .iter_mut()
                    .fold(false, |any, c| walk(c, old, new) | any),
                _ => false,
            }
        }
        walk(&mut self.root, old, new)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    Group(Group),
    Profile(ProfileCondition),
    Event(EventCondition),
    Segment(SegmentCondition),
    Trait(TraitCondition),
}

impl Node {
    pub fn not(&self) -> bool {
        match self {
            Node::Group(g) => g.not,
            Node::Profile(c) => c.not,
            Node::Event(c) => c.not,
            Node::Segment(c) => c.not,
            Node::Trait(c) => c.not,
        }
    }

    pub fn set_not(&mut self, not: bool) {
        match self {
            Node::Group(g) => g.not = not,
            Node::Profile(c) => c.not = not,
            Node::Event(c) => c.not = not,
            Node::Segment(c) => c.not = not,
            Node::Trait(c) => c.not = not,
        }
    }

    /// The child nodes of a group; empty for conditions.
    pub fn children(&self) -> &[Node] {
        match self {
            Node::Group(g) => &g.children,
            _ => &[],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// AND: customers who meet every child.
    All,
    /// OR: customers who meet at least one child.
    Any,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    #[serde(default, skip_serializing_if = "is_false")]
    pub not: bool,
    #[serde(rename = "match")]
    pub combine: Combine,
    #[serde(default)]
    pub children: Vec<Node>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Comparison operators. Which ones fit depends on the field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    #[serde(alias = "=", alias = "eq")]
    Equals,
    #[serde(alias = "!=", alias = "≠", alias = "ne")]
    NotEquals,
    Contains,
    StartsWith,
    EndsWith,
    InList,
    #[serde(alias = "matches_regex", alias = "regex")]
    Matches,
    IsSet,
    IsEmpty,
    #[serde(alias = "<", alias = "lt")]
    LessThan,
    #[serde(alias = "<=", alias = "≤", alias = "le")]
    AtMost,
    #[serde(alias = ">", alias = "gt")]
    GreaterThan,
    #[serde(alias = ">=", alias = "≥", alias = "ge")]
    AtLeast,
    Between,
    Before,
    After,
    On,
    WithinLastDays,
    MoreThanDaysAgo,
    IsTrue,
    IsFalse,
}

impl Op {
    pub const ALL: [Op; 21] = [
        Op::Equals,
        Op::NotEquals,
        Op::Contains,
        Op::StartsWith,
        Op::EndsWith,
        Op::InList,
        Op::Matches,
        Op::IsSet,
        Op::IsEmpty,
        Op::LessThan,
        Op::AtMost,
        Op::GreaterThan,
        Op::AtLeast,
        Op::Between,
        Op::Before,
        Op::After,
        Op::On,
        Op::WithinLastDays,
        Op::MoreThanDaysAgo,
        Op::IsTrue,
        Op::IsFalse,
    ];

    /// The JSON spelling.
    pub fn key(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::InList => "in_list",
            Op::Matches => "matches",
            Op::IsSet => "is_set",
            Op::IsEmpty => "is_empty",
            Op::LessThan => "less_than",
            Op::AtMost => "at_most",
            Op::GreaterThan => "greater_than",
            Op::AtLeast => "at_least",
            Op::Between => "between",
            Op::Before => "before",
            Op::After => "after",
            Op::On => "on",
            Op::WithinLastDays => "within_last_days",
            Op::MoreThanDaysAgo => "more_than_days_ago",
            Op::IsTrue => "is_true",
            Op::IsFalse => "is_false",
        }
    }

    /// How the operator reads in a sentence ("is at least").
    pub fn phrase(self) -> &'static str {
        match self {
            Op::Equals => "is",
            Op::NotEquals => "is not",
            Op::Contains => "contains",
            Op::StartsWith => "starts with",
            Op::EndsWith => "ends with",
            Op::InList => "is one of",
            Op::Matches => "matches",
            Op::IsSet => "is set",
            Op::IsEmpty => "is empty",
            Op::LessThan => "is less than",
            Op::AtMost => "is at most",
            Op::GreaterThan => "is more than",
            Op::AtLeast => "is at least",
            Op::Between => "is between",
            Op::Before => "is before",
            Op::After => "is after",
            Op::On => "is on",
            Op::WithinLastDays => "is within the last",
            Op::MoreThanDaysAgo => "is more than",
            Op::IsTrue => "is true",
            Op::IsFalse => "is false",
        }
    }

    /// Operators that take no value.
    pub fn takes_value(self) -> bool {
        !matches!(self, Op::IsSet | Op::IsEmpty | Op::IsTrue | Op::IsFalse)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileCondition {
    #[serde(default, skip_serializing_if = "is_false")]
    pub not: bool,
    pub field: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub value: serde_json::Value,
}

/// What is measured over the matching events of a customer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    #[default]
    Count,
    Sum,
    #[serde(alias = "avg")]
    Average,
    Min,
    Max,
    DistinctDays,
    DaysSinceLast,
}

impl Aggregate {
    pub const ALL: [Aggregate; 7] = [
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Average,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::DistinctDays,
        Aggregate::DaysSinceLast,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Average => "average",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::DistinctDays => "distinct_days",
            Aggregate::DaysSinceLast => "days_since_last",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Aggregate::Count => "number of times",
            Aggregate::Sum => "total value",
            Aggregate::Average => "average value",
            Aggregate::Min => "smallest value",
            Aggregate::Max => "largest value",
            Aggregate::DistinctDays => "number of distinct days",
            Aggregate::DaysSinceLast => "days since the last one",
        }
    }
}

/// The time window events are counted in, relative to the evaluation time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Window {
    /// Every event before the evaluation time.
    #[default]
    Ever,
    /// The last `days` days.
    LastDays { days: i64 },
    /// The last `hours` hours.
    LastHours { hours: i64 },
    /// From the first day of the evaluation time's month.
    ThisMonth,
    /// Between two dates (`YYYY-MM-DD`), both days included.
    Between { from: String, to: String },
    /// Longer ago than `days` days.
    MoreThanDaysAgo { days: i64 },
}

/// A filter on the properties of the events counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyFilter {
    /// `category`, `product`, `campaign`, `value`, or `props.<key>` for an
    /// extra property.
    pub property: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub value: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCondition {
    #[serde(default, skip_serializing_if = "is_false")]
    pub not: bool,
    pub event: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<PropertyFilter>,
    #[serde(default)]
    pub aggregate: Aggregate,
    pub op: Op,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub value: serde_json::Value,
    #[serde(default)]
    pub window: Window,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentCondition {
    #[serde(default, skip_serializing_if = "is_false")]
    pub not: bool,
    /// The saved segment's name.
    pub segment: String,
}

/// Computed traits a condition can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraitKind {
    /// Days since the last order.
    RfmRecencyDays,
    /// Number of orders.
    RfmFrequency,
    /// Total order value.
    RfmMonetary,
    /// 1–5, 5 = most recent buyers.
    RfmRScore,
    /// 1–5, 5 = most frequent buyers.
    RfmFScore,
    /// 1–5, 5 = biggest spenders.
    RfmMScore,
    /// Champions, Loyal, At risk, Hibernating, Lost, …
    RfmSegment,
    /// 0–100 from recent email and site activity.
    EngagementScore,
    /// A scoring model the user defined (`score` names it).
    Score,
}

impl TraitKind {
    pub const ALL: [TraitKind; 9] = [
        TraitKind::RfmRecencyDays,
        TraitKind::RfmFrequency,
        TraitKind::RfmMonetary,
        TraitKind::RfmRScore,
        TraitKind::RfmFScore,
        TraitKind::RfmMScore,
        TraitKind::RfmSegment,
        TraitKind::EngagementScore,
        TraitKind::Score,
    ];

    pub fn key(self) -> &'static str {
        match self {
            TraitKind::RfmRecencyDays => "rfm_recency_days",
            TraitKind::RfmFrequency => "rfm_frequency",
            TraitKind::RfmMonetary => "rfm_monetary",
            TraitKind::RfmRScore => "rfm_r_score",
            TraitKind::RfmFScore => "rfm_f_score",
            TraitKind::RfmMScore => "rfm_m_score",
            TraitKind::RfmSegment => "rfm_segment",
            TraitKind::EngagementScore => "engagement_score",
            TraitKind::Score => "score",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TraitKind::RfmRecencyDays => "Days since last order",
            TraitKind::RfmFrequency => "Number of orders",
            TraitKind::RfmMonetary => "Lifetime spend",
            TraitKind::RfmRScore => "Recency score (1–5)",
            TraitKind::RfmFScore => "Frequency score (1–5)",
            TraitKind::RfmMScore => "Monetary score (1–5)",
            TraitKind::RfmSegment => "RFM segment",
            TraitKind::EngagementScore => "Engagement score (0–100)",
            TraitKind::Score => "Score",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraitCondition {
    #[serde(default, skip_serializing_if = "is_false")]
    pub not: bool,
    #[serde(rename = "trait")]
    pub kind: TraitKind,
    /// For `score`: which scoring model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    pub op: Op,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub value: serde_json::Value,
}

/// A user-defined scoring model: points for each condition a customer meets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreModel {
    pub version: u32,
    pub rules: Vec<ScoreRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRule {
    pub points: i64,
    pub condition: Node,
}
