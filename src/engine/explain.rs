//! "Why is this customer in (or not in) the segment?": every leaf with the
//! customer's actual value, what it needs, and whether it passes; every
//! group with its result.

use serde::Serialize;

use super::eval::{Engine, EvalError};
use super::parse::NodePath;
use super::resolve::{DateTest, RKind, RNode, ValueTest, fmt_num};
use super::rule::{Combine, TraitKind};
use crate::model::time::ts_to_date;
use crate::progress::Progress;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplainNode {
    pub path: NodePath,
    /// What the node tests, in words.
    pub label: String,
    /// The customer's value ("orders in the last 30 days = 1").
    pub actual: Option<String>,
    /// What passing needs ("> 3").
    pub needs: Option<String>,
    /// Whether the customer meets the node, before its NOT.
    pub met: bool,
    pub not: bool,
    /// The node's result: `met`, flipped by NOT.
    pub pass: bool,
    pub children: Vec<ExplainNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub customer_id: i64,
    pub member: bool,
    pub root: ExplainNode,
}

impl Explanation {
    /// An indented text rendering, one node a line.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "customer {} is {}in the segment\n",
            self.customer_id,
            if self.member { "" } else { "NOT " }
        );
        fn walk(n: &ExplainNode, depth: usize, out: &mut String) {
            let mark = if n.pass { "PASS" } else { "FAIL" };
            let not = if n.not { "NOT " } else { "" };
            let mut line = format!("{}{mark}  {not}{}", "  ".repeat(depth), n.label);
            if let Some(a) = &n.actual {
                line.push_str(&format!(": {a}"));
            }
            if let Some(nd) = &n.needs {
                line.push_str(&format!(", needs {nd}"));
            }
            out.push_str(&line);
            out.push('\n');
            for c in &n.children {
                walk(c, depth + 1, out);
            }
        }
        walk(&self.root, 0, &mut out);
        out
    }
}

/// Describes a value test: "is \"de\"", "> 3", "within the last 30 days".
pub fn describe_test(test: &ValueTest) -> String {
    match test {
        ValueTest::IsSet => "is set".into(),
        ValueTest::IsEmpty => "is empty".into(),
        ValueTest::TextEq(s) => format!("is {s:?}"),
        ValueTest::TextNe(s) => format!("is not {s:?}"),
        ValueTest::Contains(s) => format!("contains {s:?}"),
        ValueTest::StartsWith(s) => format!("starts with {s:?}"),
        ValueTest::EndsWith(s) => format!("ends with {s:?}"),
        ValueTest::TextIn(v) => format!("one of {}", v.join(", ")),
        ValueTest::Regex(p, _) => format!("matches /{p}/"),
        ValueTest::Num(t) => t.describe(),
        ValueTest::NumIn(v) => format!(
            "one of {}",
            v.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ")
        ),
        ValueTest::Date(d) => match d {
            DateTest::Before(t) => format!("before {}", ts_to_date(*t)),
            DateTest::After(t) => format!("after {}", ts_to_date(*t)),
            DateTest::On(t) => format!("on {}", ts_to_date(*t)),
            DateTest::Between(a, b) => {
                format!("between {} and {}", ts_to_date(*a), ts_to_date(*b))
            }
            DateTest::WithinLastDays(n) => format!("within the last {n} days"),
            DateTest::MoreThanDaysAgo(n) => format!("more than {n} days ago"),
        },
        ValueTest::Bool(true) => "is true".into(),
        ValueTest::Bool(false) => "is false".into(),
    }
}

/// What a node tests, with what it needs: "order events in the last 30
/// days: number of times > 3".
pub fn node_label(node: &RNode) -> String {
    let text = match &node.kind {
        RKind::Group { combine, .. } => match combine {
            Combine::All => "all of".to_string(),
            Combine::Any => "any of".to_string(),
        },
        RKind::Profile { field, test } => format!("{} {}", field.label, describe_test(test)),
        RKind::Event {
            event,
            filters,
            aggregate,
            window,
            test,
        } => {
            let mut s = format!("{event} events {}", window.describe());
            for f in filters {
                s.push_str(&format!(
                    " where {} {}",
                    f.property.name(),
                    describe_test(&f.test)
                ));
            }
            format!("{s}: {} {}", aggregate.label(), test.describe())
        }
        RKind::Segment { name, .. } => format!("member of {name:?}"),
        RKind::Trait {
            kind, score, test, ..
        } => match score {
            Some((name, _)) => format!("score {name} {}", describe_test(test)),
            None => format!("{} {}", kind.label(), describe_test(test)),
        },
    };
    if node.not {
        format!("NOT {text}")
    } else {
        text
    }
}

impl Engine {
    /// Explains customer `id`'s membership of the rule `root` as of `as_of`.
    pub fn explain(
        &self,
        root: &RNode,
        id: i64,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<Option<Explanation>, EvalError> {
        let Some(i) = self.data.index_of(id) else {
            return Ok(None);
        };
        self.prepare(root)?;
        let node = self.explain_node(root, i, as_of, progress)?;
        Ok(Some(Explanation {
            customer_id: id,
            member: node.pass,
            root: node,
        }))
    }

    fn explain_node(
        &self,
        node: &RNode,
        i: usize,
        as_of: i64,
        progress: &dyn Progress,
    ) -> Result<ExplainNode, EvalError> {
        let (label, actual, needs, met, children) = match &node.kind {
            RKind::Group { combine, children } => {
                let kids = children
                    .iter()
                    .map(|c| self.explain_node(c, i, as_of, progress))
                    .collect::<Result<Vec<_>, _>>()?;
                let met = match combine {
                    Combine::All => kids.iter().all(|k| k.pass),
                    Combine::Any => kids.iter().any(|k| k.pass),
                };
                let label = match combine {
                    Combine::All => "all of",
                    Combine::Any => "any of",
                };
                (label.to_string(), None, None, met, kids)
            }
            RKind::Profile { field, test } => {
                let actual = self
                    .field_display(&field.name, i)
                    .unwrap_or_else(|| "(empty)".into());
                let met = self.leaf_check(node, i, as_of, progress)?;
                (
                    field.label.clone(),
                    Some(actual),
                    Some(describe_test(test)),
                    met,
                    Vec::new(),
                )
            }
            RKind::Event {
                event,
                filters,
                aggregate,
                window,
                test,
            } => {
                let ev = self.event_eval(event, filters, *aggregate, window, *test, as_of)?;
                let value = ev.value(i);
                let mut label = format!("{event} events {}", window.describe());
                for f in filters {
                    label.push_str(&format!(
                        " where {} {}",
                        f.property.name(),
                        describe_test(&f.test)
                    ));
                }
                let actual = format!(
                    "{} = {}",
                    aggregate.label(),
                    value.map(fmt_num).unwrap_or_else(|| "none".into())
                );
                (
                    label,
                    Some(actual),
                    Some(test.describe()),
                    test.check(value),
                    Vec::new(),
                )
            }
            RKind::Segment { name, rule } => {
                let met = self.set_of(rule, as_of, progress)?.get(i);
                (
                    format!("member of {name:?}"),
                    Some(if met { "member" } else { "not a member" }.into()),
                    None,
                    met,
                    Vec::new(),
                )
            }
            RKind::Trait {
                kind, score, test, ..
            } => {
                let actual = match score {
                    Some((name, rules)) => {
                        let mut total = 0i64;
                        for (points, cond) in rules {
                            if self.set_of(cond, as_of, progress)?.get(i) {
                                total += points;
                            }
                        }
                        Some(format!("{name} = {total}"))
                    }
                    None => Some(
                        self.traits(as_of)
                            .display(*kind, i)
                            .unwrap_or_else(|| "none (no orders)".into()),
                    ),
                };
                let label = if *kind == TraitKind::Score {
                    "score".to_string()
                } else {
                    kind.label().to_string()
                };
                let met = self.leaf_check(node, i, as_of, progress)?;
                (label, actual, Some(describe_test(test)), met, Vec::new())
            }
        };
        Ok(ExplainNode {
            path: node.path.clone(),
            label,
            actual,
            needs,
            met,
            not: node.not,
            pass: met != node.not,
            children,
        })
    }

    /// A customer's key facts for display: id, external id, email, name.
    pub fn customer_summary(&self, i: usize) -> String {
        let get = |f: &str| self.field_display(f, i).unwrap_or_default();
        format!(
            "{} {} <{}> ({})",
            get("first_name"),
            get("last_name"),
            get("email"),
            get("external_id")
        )
    }
}
