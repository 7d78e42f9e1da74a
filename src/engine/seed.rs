//! The segments the sample workspace comes with: the ones the articles
//! Prism was born from describe marketers building by hand.

use serde_json::json;

use super::resolve::{parse_rule, parse_score_model};
use super::rule::{Rule, ScoreModel};
use crate::model::SegmentRecord;
use crate::store::{Store, StoreError};

/// (name, colour, description, rule JSON)
pub fn seed_segments() -> Vec<(&'static str, &'static str, &'static str, serde_json::Value)> {
    let orders = |op: &str, n: serde_json::Value, window: serde_json::Value| json!({"type": "event", "event": "order", "aggregate": "count", "op": op, "value": n, "window": window});
    let last = |days: i64| json!({"kind": "last_days", "days": days});
    vec![
        (
            "VIP",
            "#b8860b",
            "More than 5 orders in the last 30 days and more than 500 spent in them",
            json!({"type": "group", "match": "all", "children": [
                orders("greater_than", json!(5), last(30)),
                {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 500, "window": last(30)}
            ]}),
        ),
        (
            "Frequent buyers",
            "#2e8b57",
            "More than 3 orders in the last 90 days",
            json!({"type": "group", "match": "all", "children": [
                orders("greater_than", json!(3), last(90))
            ]}),
        ),
        (
            "Lapsed",
            "#a0522d",
            "Ordered before, but not in the last 60 days",
            json!({"type": "group", "match": "all", "children": [
                orders("at_least", json!(1), json!({"kind": "ever"})),
                orders("equals", json!(0), last(60))
            ]}),
        ),
        (
            "Engaged browsers",
            "#4169e1",
            "Opened more than 3 emails in the last 30 days, no order in the last 30 days",
            json!({"type": "group", "match": "all", "children": [
                {"type": "event", "event": "email_open", "aggregate": "count", "op": "greater_than", "value": 3, "window": last(30)},
                orders("equals", json!(0), last(30))
            ]}),
        ),
        (
            "High-value infrequent",
            "#8b008b",
            "Lifetime spend over 2,000 on fewer than 3 distinct purchase days",
            json!({"type": "group", "match": "all", "children": [
                {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 2000, "window": {"kind": "ever"}},
                {"type": "event", "event": "order", "aggregate": "distinct_days", "op": "less_than", "value": 3, "window": {"kind": "ever"}}
            ]}),
        ),
        (
            "Recent high-value buyers",
            "#c71585",
            "An order worth 250 or more in the last 30 days",
            json!({"type": "group", "match": "all", "children": [
                {"type": "event", "event": "order", "aggregate": "count", "op": "at_least", "value": 1,
                 "filters": [{"property": "value", "op": "at_least", "value": 250}], "window": last(30)}
            ]}),
        ),
        (
            "New subscribers",
            "#20b2aa",
            "Signed up in the last 30 days and can be emailed",
            json!({"type": "group", "match": "all", "children": [
                {"type": "profile", "field": "signup_at", "op": "within_last_days", "value": 30},
                {"type": "profile", "field": "email_consent", "op": "is_true"}
            ]}),
        ),
    ]
}

/// The sample's scoring model: points for signs of buying intent.
pub fn seed_score() -> (&'static str, serde_json::Value) {
    let last = |days: i64| json!({"kind": "last_days", "days": days});
    (
        "buyer_intent",
        json!({"version": 1, "rules": [
            {"points": 10, "condition": {"type": "event", "event": "order", "op": "at_least", "value": 1, "window": last(30)}},
            {"points": 5, "condition": {"type": "event", "event": "page_view", "op": "at_least", "value": 3, "window": last(30)}},
            {"points": 5, "condition": {"type": "event", "event": "add_to_cart", "op": "at_least", "value": 1, "window": last(7)}},
            {"points": 3, "condition": {"type": "event", "event": "email_open", "op": "at_least", "value": 1, "window": last(14)}}
        ]}),
    )
}

/// Saves the seed segments and scoring model into `store`.
pub fn install(store: &Store) -> Result<(), StoreError> {
    for (name, color, description, root) in seed_segments() {
        let rule = Rule::new(
            serde_json::from_value(root)
                .map_err(|e| StoreError::Invalid(format!("seed segment {name}: {e}")))?,
        );
        // The seed rules are part of the product: they must parse.
        parse_rule(&rule.to_json()).map_err(|e| StoreError::Invalid(e.to_string()))?;
        store.save_segment(&SegmentRecord {
            name: name.to_string(),
            description: description.to_string(),
            color: color.to_string(),
            rule: rule.to_json(),
            ..SegmentRecord::default()
        })?;
    }
    let (name, def) = seed_score();
    let model: ScoreModel =
        parse_score_model(&def.to_string()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    store.save_score(name, &serde_json::to_string(&model).unwrap_or_default())?;
    Ok(())
}
