//! The resolved tree: a rule checked against a workspace, with typed tests
//! that the engine evaluates and the SQL compiler writes.

use super::parse::NodePath;
use super::rule::*;
use crate::model::FieldDef;
use crate::model::time::{DAY, date_to_ts};

#[derive(Clone, Debug)]
pub struct RNode {
    pub path: NodePath,
    pub not: bool,
    /// Identifies the node's content (and what it refers to) for caching.
    pub key: u64,
    pub kind: RKind,
}

#[derive(Clone, Debug)]
pub enum RKind {
    Group {
        combine: Combine,
        children: Vec<RNode>,
    },
    Profile {
        field: FieldDef,
        test: ValueTest,
    },
    Event {
        event: String,
        filters: Vec<RFilter>,
        aggregate: Aggregate,
        window: RWindow,
        test: NumTest,
    },
    Segment {
        name: String,
        rule: Box<RNode>,
    },
    Trait {
        kind: TraitKind,
        /// For `TraitKind::Score`: the model's name and its rules.
        score: Option<(String, Vec<(i64, RNode)>)>,
        test: ValueTest,
        /// The purchase event RFM traits are computed from.
        purchase_event: String,
    },
}

impl RNode {
    pub fn is_leaf(&self) -> bool {
        !matches!(self.kind, RKind::Group { .. })
    }

    /// Calls `f` on this node and every node below it, in pre-order (not
    /// descending into referenced segments or score models).
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a RNode)) {
        f(self);
        if let RKind::Group { children, .. } = &self.kind {
            for c in children {
                c.walk(f);
            }
        }
    }
}

/// How numbers compare.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumTest {
    Eq(f64),
    /// True also when there is no value.
    Ne(f64),
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
    /// Both ends included.
    Between(f64, f64),
}

impl NumTest {
    /// `None` is "no value" (an average of no events, an empty field).
    #[inline]
    pub fn check(&self, v: Option<f64>) -> bool {
        match (self, v) {
            (NumTest::Ne(_), None) => true,
            (_, None) => false,
            (NumTest::Eq(x), Some(v)) => v == *x,
            (NumTest::Ne(x), Some(v)) => v != *x,
            (NumTest::Lt(x), Some(v)) => v < *x,
            (NumTest::Le(x), Some(v)) => v <= *x,
            (NumTest::Gt(x), Some(v)) => v > *x,
            (NumTest::Ge(x), Some(v)) => v >= *x,
            (NumTest::Between(a, b), Some(v)) => *a <= v && v <= *b,
        }
    }

    /// "> 3", "between 2 and 5".
    pub fn describe(&self) -> String {
        let n = fmt_num;
        match self {
            NumTest::Eq(x) => format!("= {}", n(*x)),
            NumTest::Ne(x) => format!("≠ {}", n(*x)),
            NumTest::Lt(x) => format!("< {}", n(*x)),
            NumTest::Le(x) => format!("≤ {}", n(*x)),
            NumTest::Gt(x) => format!("> {}", n(*x)),
            NumTest::Ge(x) => format!("≥ {}", n(*x)),
            NumTest::Between(a, b) => format!("between {} and {}", n(*a), n(*b)),
        }
    }
}

pub use crate::model::text::fmt_num;

/// Date and time tests; turned into a `[lo, hi)` range of Unix seconds once
/// the evaluation time is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DateTest {
    /// Before the day (midnight UTC of it).
    Before(i64),
    /// After the day: from the next midnight on.
    After(i64),
    /// During the day.
    On(i64),
    /// From the first day through the last, both included.
    Between(i64, i64),
    WithinLastDays(i64),
    MoreThanDaysAgo(i64),
}

impl DateTest {
    /// The matching instants as `[lo, hi)`, relative to `as_of`.
    pub fn range(&self, as_of: i64) -> (i64, i64) {
        match *self {
            DateTest::Before(d) => (i64::MIN, d),
            DateTest::After(d) => (d + DAY, i64::MAX),
            DateTest::On(d) => (d, d + DAY),
            DateTest::Between(a, b) => (a, b + DAY),
            DateTest::WithinLastDays(n) => (as_of - n * DAY, as_of),
            DateTest::MoreThanDaysAgo(n) => (i64::MIN, as_of - n * DAY),
        }
    }
}

/// A test on one value of a field or trait.
#[derive(Clone, Debug)]
pub enum ValueTest {
    IsSet,
    IsEmpty,
    /// Text tests compare ASCII-case-insensitively; the string is lowercased.
    TextEq(String),
    TextNe(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    TextIn(Vec<String>),
    Regex(String, regex::Regex),
    Num(NumTest),
    NumIn(Vec<f64>),
    Date(DateTest),
    Bool(bool),
}

impl ValueTest {
    /// Whether a text value passes (None = no value).
    pub fn check_text(&self, v: Option<&str>) -> bool {
        match (self, v) {
            (ValueTest::IsSet, v) => v.is_some(),
            (ValueTest::IsEmpty, v) => v.is_none(),
            (ValueTest::TextNe(_), None) => true,
            (_, None) => false,
            (ValueTest::Regex(_, re), Some(v)) => re.is_match(v),
            (t, Some(v)) => {
                let v = v.to_ascii_lowercase();
                match t {
                    ValueTest::TextEq(x) => v == *x,
                    ValueTest::TextNe(x) => v != *x,
                    ValueTest::Contains(x) => v.contains(x.as_str()),
                    ValueTest::StartsWith(x) => v.starts_with(x.as_str()),
                    ValueTest::EndsWith(x) => v.ends_with(x.as_str()),
                    ValueTest::TextIn(xs) => xs.contains(&v),
                    _ => false,
                }
            }
        }
    }

    #[inline]
    pub fn check_num(&self, v: Option<f64>) -> bool {
        match self {
            ValueTest::IsSet => v.is_some(),
            ValueTest::IsEmpty => v.is_none(),
            ValueTest::Num(t) => t.check(v),
            ValueTest::NumIn(xs) => v.is_some_and(|v| xs.contains(&v)),
            ValueTest::Bool(b) => v.is_some_and(|v| (v != 0.0) == *b),
            _ => false,
        }
    }

    /// `ts` in Unix seconds (dates at their midnight).
    #[inline]
    pub fn check_time(&self, ts: Option<i64>, as_of: i64) -> bool {
        match self {
            ValueTest::IsSet => ts.is_some(),
            ValueTest::IsEmpty => ts.is_none(),
            ValueTest::Date(d) => {
                let (lo, hi) = d.range(as_of);
                ts.is_some_and(|t| lo <= t && t < hi)
            }
            _ => false,
        }
    }
}

/// The window as `[lo, hi)` Unix seconds, given the evaluation time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RWindow {
    Ever,
    LastDays(i64),
    LastHours(i64),
    ThisMonth,
    Between(i64, i64),
    MoreThanDaysAgo(i64),
}

impl RWindow {
    pub fn range(&self, as_of: i64) -> (i64, i64) {
        let (lo, hi) = match *self {
            RWindow::Ever => (i64::MIN, as_of),
            RWindow::LastDays(n) => (as_of - n * DAY, as_of),
            RWindow::LastHours(n) => (as_of - n * 3600, as_of),
            RWindow::ThisMonth => {
                use chrono::Datelike;
                let d = crate::model::time::ts_to_date(as_of);
                let first = d.with_day(1).unwrap_or(d);
                (date_to_ts(first), as_of)
            }
            RWindow::Between(a, b) => (a, b + DAY),
            RWindow::MoreThanDaysAgo(n) => (i64::MIN, as_of - n * DAY),
        };
        // Nothing after the evaluation time is ever seen.
        (lo, hi.min(as_of))
    }

    pub fn describe(&self) -> String {
        match self {
            RWindow::Ever => "ever".into(),
            RWindow::LastDays(n) => format!("in the last {n} days"),
            RWindow::LastHours(n) => format!("in the last {n} hours"),
            RWindow::ThisMonth => "this month".into(),
            RWindow::Between(a, b) => format!(
                "between {} and {}",
                crate::model::time::ts_to_date(*a),
                crate::model::time::ts_to_date(*b)
            ),
            RWindow::MoreThanDaysAgo(n) => format!("more than {n} days ago"),
        }
    }
}

/// Which event column a filter reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventProperty {
    Category,
    Product,
    Campaign,
    Value,
    /// An extra property by key (`[A-Za-z0-9_]+`).
    Extra(String),
}

impl EventProperty {
    pub fn name(&self) -> String {
        match self {
            EventProperty::Category => "category".into(),
            EventProperty::Product => "product".into(),
            EventProperty::Campaign => "campaign".into(),
            EventProperty::Value => "value".into(),
            EventProperty::Extra(k) => format!("props.{k}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RFilter {
    pub property: EventProperty,
    pub test: ValueTest,
}
