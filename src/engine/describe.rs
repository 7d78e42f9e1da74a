//! A rule in one line of plain English, for the top of the rule builder and
//! for segment lists. Works on rules that do not resolve yet.

use super::rule::*;

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("\"{s}\""),
        serde_json::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_text).collect();
            if items.len() == 2 {
                format!("{} and {}", parts[0], parts[1])
            } else {
                parts.join(", ")
            }
        }
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn op_value(op: Op, v: &serde_json::Value) -> String {
    let value = value_text(v);
    match op {
        Op::WithinLastDays => format!("within the last {value} days"),
        Op::MoreThanDaysAgo => format!("more than {value} days ago"),
        _ if value.is_empty() => op.phrase().to_string(),
        _ => format!("{} {value}", op.phrase()),
    }
}

fn window_text(w: &Window) -> String {
    match w {
        Window::Ever => "ever".into(),
        Window::LastDays { days } => format!("in the last {days} days"),
        Window::LastHours { hours } => format!("in the last {hours} hours"),
        Window::ThisMonth => "this month".into(),
        Window::Between { from, to } => format!("between {from} and {to}"),
        Window::MoreThanDaysAgo { days } => format!("more than {days} days ago"),
    }
}

fn compare_text(op: Op, v: &serde_json::Value) -> String {
    let value = value_text(v);
    match op {
        Op::Equals => format!("exactly {value}"),
        Op::NotEquals => format!("other than {value}"),
        Op::LessThan => format!("fewer than {value}"),
        Op::AtMost => format!("at most {value}"),
        Op::GreaterThan => format!("more than {value}"),
        Op::AtLeast => format!("at least {value}"),
        Op::Between => format!("between {value}"),
        _ => op_value(op, v),
    }
}

/// "have more than 3 order events in the last 30 days" (or the negation).
fn condition(node: &Node) -> String {
    let (positive, negative) = match node {
        Node::Group(_) => unreachable!("groups are described by group()"),
        Node::Profile(c) => {
            let body = format!("{} {}", c.field, op_value(c.op, &c.value));
            (format!("have {body}"), format!("do not have {body}"))
        }
        Node::Event(c) => {
            let mut body = match c.aggregate {
                Aggregate::Count => format!(
                    "{} {} events {}",
                    compare_text(c.op, &c.value),
                    c.event,
                    window_text(&c.window)
                ),
                Aggregate::DaysSinceLast => format!(
                    "their last {} event {} days ago",
                    c.event,
                    compare_text(c.op, &c.value)
                ),
                a => format!(
                    "a {} of {} events {} of {}",
                    a.label().trim_start_matches("number of "),
                    c.event,
                    window_text(&c.window),
                    compare_text(c.op, &c.value)
                ),
            };
            for f in &c.filters {
                body.push_str(&format!(
                    " where {} {}",
                    f.property,
                    op_value(f.op, &f.value)
                ));
            }
            (format!("have {body}"), format!("do not have {body}"))
        }
        Node::Segment(c) => (
            format!("are in \"{}\"", c.segment),
            format!("are not in \"{}\"", c.segment),
        ),
        Node::Trait(c) => {
            let what = match (&c.kind, &c.score) {
                (TraitKind::Score, Some(s)) => format!("score {s}"),
                (k, _) => k.label().to_lowercase(),
            };
            let body = format!("{what} {}", op_value(c.op, &c.value));
            (format!("have {body}"), format!("do not have {body}"))
        }
    };
    if node.not() { negative } else { positive }
}

fn group(g: &Group, top: bool) -> String {
    let parts: Vec<String> = g
        .children
        .iter()
        .map(|c| match c {
            Node::Group(inner) => group(inner, false),
            other => condition(other),
        })
        .collect();
    if parts.is_empty() {
        return match (g.combine, g.not) {
            (Combine::All, false) | (Combine::Any, true) => "are any customer".into(),
            _ => "are no customer".into(),
        };
    }
    let joiner = match g.combine {
        Combine::All => " and ",
        Combine::Any => " or ",
    };
    let body = parts.join(joiner);
    match (g.not, g.combine) {
        (true, Combine::All) => format!("do not meet all of ({})", parts.join("; ")),
        (true, Combine::Any) => format!("meet none of ({})", parts.join("; ")),
        _ if top || parts.len() == 1 => body,
        _ => format!("({body})"),
    }
}

/// "Customers who have more than 3 order events in the last 30 days and …".
pub fn describe(rule: &Rule) -> String {
    let body = match &rule.root {
        Node::Group(g) => group(g, true),
        other => condition(other),
    };
    format!("Customers who {body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_sentence() {
        let rule: Rule = serde_json::from_value(serde_json::json!({
            "version": 1,
            "root": {"type": "group", "match": "all", "children": [
                {"type": "group", "match": "any", "children": [
                    {"type": "event", "event": "order", "op": "greater_than", "value": 3,
                     "window": {"kind": "last_days", "days": 30}},
                    {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 500}
                ]},
                {"type": "profile", "field": "email_consent", "op": "is_false", "not": true}
            ]}
        }))
        .unwrap();
        assert_eq!(
            describe(&rule),
            "Customers who (have more than 3 order events in the last 30 days or have a total value of order events ever of more than 500) and do not have email_consent is false"
        );
        assert_eq!(
            describe(&Rule::everyone()),
            "Customers who are any customer"
        );
    }
}
