//! The segment engine on a tiny hand-made workspace: data-driven cases
//! (rule → members → SQL), counts at every node, the leaf cache, explain,
//! members, overlap, and every kind of bad rule.

use crate::common;

use std::collections::BTreeSet;

use prism::engine::explain::Explanation;
use prism::engine::members::{SortBy, exclusive_counts, overlap_matrix};
use prism::engine::rule::{Node, Rule};
use prism::engine::sql::{Dialect, compile};
use prism::engine::{Engine, parse_rule, resolve, schema_of};
use prism::model::SegmentRecord;
use prism::progress::{CancelFlag, NoProgress};
use prism::store::Store;
use serde_json::{Value, json};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    engine: Engine,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = common::tiny_workspace(dir.path());
    let store = Store::open(&path).unwrap();
    let cases: Value = serde_json::from_str(include_str!("../data/rule_cases.json")).unwrap();
    for (name, root) in cases["segments"].as_object().unwrap() {
        store
            .save_segment(&SegmentRecord {
                name: name.clone(),
                color: "#336699".into(),
                rule: json!({"version": 1, "root": root}).to_string(),
                ..Default::default()
            })
            .unwrap();
    }
    for (name, definition) in cases["scores"].as_object().unwrap() {
        store.save_score(name, &definition.to_string()).unwrap();
    }
    let engine = Engine::load(&store, &NoProgress).unwrap();
    Fixture {
        _dir: dir,
        store,
        engine,
    }
}

fn rule(root: Value) -> Rule {
    parse_rule(&json!({"version": 1, "root": root}).to_string()).unwrap()
}

fn external_ids(f: &Fixture, ids: impl IntoIterator<Item = i64>) -> BTreeSet<String> {
    ids.into_iter()
        .map(|id| f.store.customer(id).unwrap().unwrap().external_id)
        .collect()
}

#[test]
fn rules_select_the_expected_members_and_compile_to_the_expected_sql() {
    let f = fixture();
    let cases: Value = serde_json::from_str(include_str!("../data/rule_cases.json")).unwrap();
    let schema = schema_of(&f.store).unwrap();
    let default_as_of = common::ts(cases["as_of"].as_str().unwrap());
    let mut failures = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let as_of = case["as_of"]
            .as_str()
            .map(common::ts)
            .unwrap_or(default_as_of);
        let expected: BTreeSet<String> = case["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let r = rule(case["rule"].clone());
        let node = resolve(&r, &schema).unwrap_or_else(|e| panic!("{name}: {e}"));

        let ev = f.engine.evaluate(&node, as_of, &NoProgress).unwrap();
        let engine_members = external_ids(&f, ev.members.iter().map(|i| f.engine.id_of(i)));
        if engine_members != expected {
            failures.push(format!(
                "{name}: engine gave {engine_members:?}, expected {expected:?}"
            ));
        }

        let q = compile(&node, as_of, Dialect::Sqlite);
        let (sql, params) = q.parameterized();
        let sql_members = external_ids(&f, f.store.query_customer_ids(&sql, &params).unwrap());
        if sql_members != expected {
            failures.push(format!(
                "{name}: SQLite gave {sql_members:?}, expected {expected:?}\n{sql}"
            ));
        }
        // The pasteable form runs too, and means the same.
        let inline = q.inline();
        let inline_members = external_ids(&f, f.store.query_customer_ids(&inline, &[]).unwrap());
        if inline_members != expected {
            failures.push(format!(
                "{name}: inline SQL gave {inline_members:?}\n{inline}"
            ));
        }
        if let Some(want) = case["sqlite"].as_str() {
            let got = inline.split_once('\n').unwrap().1;
            if got != want {
                failures.push(format!(
                    "{name}: SQL differs:\n{got}\n--- expected ---\n{want}"
                ));
            }
        }
        // Explain agrees with membership for every customer.
        for i in 0..f.engine.len() {
            let id = f.engine.id_of(i);
            let ex: Explanation = f
                .engine
                .explain(&node, id, as_of, &NoProgress)
                .unwrap()
                .unwrap();
            if ex.member != ev.members.get(i) {
                failures.push(format!("{name}: explain disagrees for customer {id}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // No value ever reached the database as SQL.
    assert_eq!(f.store.customer_count().unwrap(), 6);
}

#[test]
fn every_node_has_its_count_and_share() {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    let r = rule(json!({"type": "group", "match": "all", "children": [
        {"type": "event", "event": "order", "op": "greater_than", "value": 4, "window": {"kind": "last_days", "days": 30}},
        {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than", "value": 500, "window": {"kind": "last_days", "days": 30}}
    ]}));
    let node = resolve(&r, &schema).unwrap();
    let ev = f
        .engine
        .evaluate(&node, common::ts(common::AS_OF), &NoProgress)
        .unwrap();
    let counts: Vec<(&str, usize)> = ev
        .nodes
        .iter()
        .map(|n| (n.path.as_str(), n.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("root", 1),
            ("root.children[0]", 1),
            ("root.children[1]", 2)
        ]
    );
    assert_eq!(ev.total, 6);
    assert_eq!(ev.reachable, 1);
    assert!((ev.nodes[0].share_of_parent - 1.0 / 6.0).abs() < 1e-12);
    assert_eq!(ev.nodes[1].share_of_parent, 1.0);
    assert_eq!(ev.nodes[2].share_of_parent, 0.5);
    assert_eq!(ev.count_at("root.children[1]"), Some(2));
}

#[test]
fn editing_one_leaf_recomputes_only_that_leaf() {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    let as_of = common::ts(common::AS_OF);
    let mut root = json!({"type": "group", "match": "all", "children": [
        {"type": "event", "event": "order", "op": "at_least", "value": 1},
        {"type": "profile", "field": "country", "op": "equals", "value": "de"},
        {"type": "group", "match": "any", "children": [
            {"type": "event", "event": "email_open", "op": "at_least", "value": 1},
            {"type": "profile", "field": "points", "op": "greater_than", "value": 10}
        ]}
    ]});
    let first = f
        .engine
        .evaluate(
            &resolve(&rule(root.clone()), &schema).unwrap(),
            as_of,
            &NoProgress,
        )
        .unwrap();
    assert_eq!(first.leaves_computed, 4);
    let again = f
        .engine
        .evaluate(
            &resolve(&rule(root.clone()), &schema).unwrap(),
            as_of,
            &NoProgress,
        )
        .unwrap();
    assert_eq!(again.leaves_computed, 0);
    assert_eq!(again.members, first.members);
    // Edit one leaf deep in the tree; flip a NOT elsewhere (no recompute).
    root["children"][2]["children"][1]["value"] = json!(100);
    root["children"][1]["not"] = json!(true);
    let edited = f
        .engine
        .evaluate(
            &resolve(&rule(root.clone()), &schema).unwrap(),
            as_of,
            &NoProgress,
        )
        .unwrap();
    assert_eq!(edited.leaves_computed, 1);
    // Another evaluation time is another question.
    let earlier = f
        .engine
        .evaluate(
            &resolve(&rule(root), &schema).unwrap(),
            as_of - 86_400,
            &NoProgress,
        )
        .unwrap();
    assert_eq!(earlier.leaves_computed, 4);
}

#[test]
fn evaluation_can_be_cancelled() {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    let node = resolve(
        &rule(json!({"type": "event", "event": "order", "op": "at_least", "value": 2})),
        &schema,
    )
    .unwrap();
    let flag = CancelFlag::default();
    flag.cancel();
    assert!(matches!(
        f.engine.evaluate(&node, common::ts(common::AS_OF), &flag),
        Err(prism::engine::EvalError::Cancelled)
    ));
}

#[test]
fn explain_shows_actual_values_and_thresholds() {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    let node = resolve(
        &rule(json!({"type": "group", "match": "all", "children": [
            {"type": "event", "event": "order", "op": "greater_than", "value": 3, "window": {"kind": "last_days", "days": 30}},
            {"type": "profile", "field": "country", "op": "equals", "value": "de", "not": true}
        ]})),
        &schema,
    )
    .unwrap();
    let c5 = f.store.customer_by_external_id("C5").unwrap().unwrap();
    let ex = f
        .engine
        .explain(&node, c5.id, common::ts(common::AS_OF), &NoProgress)
        .unwrap()
        .unwrap();
    assert!(!ex.member);
    let orders = &ex.root.children[0];
    assert_eq!(orders.actual.as_deref(), Some("number of times = 1"));
    assert_eq!(orders.needs.as_deref(), Some("> 3"));
    assert!(!orders.pass);
    let country = &ex.root.children[1];
    assert_eq!(country.actual.as_deref(), Some("FR"));
    assert!(country.not && !country.met && country.pass);
    let text = ex.to_text();
    assert!(
        text.contains("  FAIL  order events in the last 30 days: number of times = 1, needs > 3"),
        "{text}"
    );
    // Unknown customers have no explanation.
    assert!(
        f.engine
            .explain(&node, 999_999, 0, &NoProgress)
            .unwrap()
            .is_none()
    );
}

#[test]
fn members_sort_sample_overlap_and_exclusive_assignment() {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    let as_of = common::ts(common::AS_OF);
    let everyone = f
        .engine
        .evaluate(
            &resolve(&Rule::everyone(), &schema).unwrap(),
            as_of,
            &NoProgress,
        )
        .unwrap();
    let by_points = f.engine.sorted_members(
        &everyone.members,
        Some(&SortBy {
            field: "points".into(),
            descending: true,
        }),
    );
    let names: Vec<String> = by_points
        .iter()
        .map(|&i| f.engine.field_display("external_id", i as usize).unwrap())
        .collect();
    // 900, 120, 50, 0, then the two without points in id order.
    assert_eq!(names, ["C5", "C1", "C2", "C4", "C3", "C6"]);
    let s1 = f.engine.sample_members(&everyone.members, 3, 42);
    let s2 = f.engine.sample_members(&everyone.members, 3, 42);
    assert_eq!(s1, s2);
    assert_eq!(s1.len(), 3);
    assert_eq!(f.engine.sample_members(&everyone.members, 10, 1).len(), 6);

    let set = |root: Value| {
        f.engine
            .evaluate(&resolve(&rule(root), &schema).unwrap(), as_of, &NoProgress)
            .unwrap()
            .members
    };
    let buyers = set(json!({"type": "event", "event": "order", "op": "at_least", "value": 1}));
    let germans =
        set(json!({"type": "profile", "field": "country", "op": "equals", "value": "de"}));
    let m = overlap_matrix(&[&buyers, &germans]);
    assert_eq!(m, vec![vec![4, 1], vec![1, 2]]);
    assert_eq!(exclusive_counts(&[&germans, &buyers]), vec![2, 3]);
}

fn error_of(root: Value) -> String {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    resolve(&rule(root), &schema).unwrap_err().to_string()
}

#[test]
fn bad_rules_name_the_offending_node() {
    let cases = [
        (
            json!({"type": "group", "match": "all", "children": [
                {"type": "profile", "field": "country", "op": "equals", "value": "de"},
                {"type": "group", "match": "any", "children": [
                    {"type": "profile", "field": "favourite_colour", "op": "equals", "value": "red"}]}]}),
            "root.children[1].children[0]: unknown field \"favourite_colour\"",
        ),
        (
            json!({"type": "event", "event": "purchase", "op": "at_least", "value": 1}),
            "root: unknown event \"purchase\"",
        ),
        (
            json!({"type": "profile", "field": "points", "op": "contains", "value": "1"}),
            "root: operator \"contains\" does not fit number field \"points\"",
        ),
        (
            json!({"type": "profile", "field": "country", "op": "equals"}),
            "root.value: \"equals\" needs a value",
        ),
        (
            json!({"type": "profile", "field": "points", "op": "greater_than", "value": "lots"}),
            "root.value: expected a number, got \"lots\"",
        ),
        (
            json!({"type": "profile", "field": "email", "op": "matches", "value": "(unclosed"}),
            "root.value: the pattern does not compile",
        ),
        (
            json!({"type": "profile", "field": "points", "op": "between", "value": [10, 5]}),
            "root.value: between needs low ≤ high, got 10 > 5",
        ),
        (
            json!({"type": "profile", "field": "birth_date", "op": "before", "value": "01/02/2020"}),
            "root.value: expected a date like \"2026-11-01\"",
        ),
        (
            json!({"type": "profile", "field": "tier", "op": "in_list", "value": []}),
            "root.value: the list is empty",
        ),
        (
            json!({"type": "event", "event": "order", "op": "at_least", "value": 1,
                   "window": {"kind": "between", "from": "2026-10-10", "to": "2026-10-01"}}),
            "root.window: the window starts (2026-10-10) after it ends (2026-10-01)",
        ),
        (
            json!({"type": "event", "event": "order", "op": "at_least", "value": 1,
                   "filters": [{"property": "colour", "op": "equals", "value": "red"}]}),
            "root.filters[0]: unknown event property \"colour\"",
        ),
        (
            json!({"type": "segment", "segment": "Nope"}),
            "root: unknown segment \"Nope\"",
        ),
        (
            json!({"type": "event", "event": "order", "op": "at_least", "value": 1,
                   "window": {"kind": "last_days", "days": -3}}),
            "root.window.days: must be between 1 and 36500",
        ),
    ];
    for (root, want) in cases {
        let got = error_of(root);
        assert!(got.starts_with(want), "got: {got}\nwanted: {want}");
    }
}

#[test]
fn malformed_json_is_a_clear_error() {
    let cases = [
        ("{\"version\": 1, \"root\": ", "not valid JSON"),
        (
            "{\"version\": 2, \"root\": {\"type\": \"group\", \"match\": \"all\"}}",
            "version",
        ),
        (
            r#"{"version": 1, "root": {"type": "group", "match": "all", "children": [{"type": "profile", "field": "x", "op": "bigger", "value": 1}]}}"#,
            "root.children[0].op: unknown operator \"bigger\"",
        ),
        (
            r#"{"version": 1, "root": {"type": "shape"}}"#,
            "root: unknown node type \"shape\"",
        ),
        (r#"[1, 2, 3]"#, "rule: expected an object"),
        (
            r#"{"version": 1, "root": {"type": "event", "event": "order", "op": "at_least", "value": 1, "colour": 3}}"#,
            "root.colour: unknown field `colour`",
        ),
    ];
    for (text, want) in cases {
        let e = parse_rule(text).unwrap_err();
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}

#[test]
fn segment_cycles_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::tiny_workspace(dir.path());
    let store = Store::open(&path).unwrap();
    let refer = |to: &str| {
        json!({"version": 1, "root": {"type": "group", "match": "all", "children": [
            {"type": "segment", "segment": to}]}})
        .to_string()
    };
    for (name, to) in [("A", "B"), ("B", "C"), ("C", "A")] {
        store
            .save_segment(&SegmentRecord {
                name: name.into(),
                color: "#000000".into(),
                rule: refer(to),
                ..Default::default()
            })
            .unwrap();
    }
    let schema = schema_of(&store).unwrap();
    let r = rule(json!({"type": "segment", "segment": "A"}));
    let e = resolve(&r, &schema).unwrap_err();
    assert!(
        e.to_string().contains("segment cycle: A -> B -> C -> A"),
        "{e}"
    );
    assert_eq!(e.path, "root", "shown at the condition that refers to A");
}

#[test]
fn sql_dialects_differ_where_the_databases_do() {
    let f = fixture();
    let schema = schema_of(&f.store).unwrap();
    let node = resolve(
        &rule(json!({"type": "group", "match": "all", "children": [
            {"type": "profile", "field": "email", "op": "contains", "value": "x.com"},
            {"type": "event", "event": "order", "aggregate": "distinct_days", "op": "at_least", "value": 2},
            {"type": "trait", "trait": "rfm_r_score", "op": "at_least", "value": 4}
        ]})),
        &schema,
    )
    .unwrap();
    let as_of = common::ts(common::AS_OF);
    let sqlite = compile(&node, as_of, Dialect::Sqlite);
    let pg = compile(&node, as_of, Dialect::Postgres);
    let duck = compile(&node, as_of, Dialect::DuckDb);
    assert!(
        sqlite
            .parameterized()
            .0
            .contains("instr(lower(c.\"email\"), ?")
    );
    assert!(
        pg.parameterized()
            .0
            .contains("strpos(lower(c.\"email\"), $")
    );
    assert!(
        duck.inline()
            .contains("count(DISTINCT e.\"time\" // 86400)")
    );
    assert!(pg.inline().contains("WITH rfm_base AS"));
    assert!(
        pg.inline()
            .contains("-- Prism segment, PostgreSQL dialect, as of 2026-11-01 00:00:00 UTC")
    );
    // The SQLite form agrees with the engine (RFM included).
    let ev = f.engine.evaluate(&node, as_of, &NoProgress).unwrap();
    let (sql, params) = sqlite.parameterized();
    let ids = f.store.query_customer_ids(&sql, &params).unwrap();
    let engine_ids: Vec<i64> = ev.members.iter().map(|i| f.engine.id_of(i)).collect();
    assert_eq!(ids, engine_ids);
}

#[test]
fn seed_segments_resolve_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.prism");
    let opts = prism::sample::SampleOptions {
        as_of: common::ts(common::AS_OF),
        ..prism::sample::SampleOptions::new(800)
    };
    prism::sample::generate_workspace(&opts, &path, false, &NoProgress).unwrap();
    let store = Store::open(&path).unwrap();
    let schema = schema_of(&store).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let segments = store.segments().unwrap();
    let names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "VIP",
            "Frequent buyers",
            "Lapsed",
            "Engaged browsers",
            "High-value infrequent",
            "Recent high-value buyers",
            "New subscribers"
        ]
    );
    for s in &segments {
        let r = parse_rule(&s.rule).unwrap();
        let node = resolve(&r, &schema).unwrap();
        let ev = engine.evaluate(&node, opts.as_of, &NoProgress).unwrap();
        let (sql, params) = compile(&node, opts.as_of, Dialect::Sqlite).parameterized();
        let ids = store.query_customer_ids(&sql, &params).unwrap();
        assert_eq!(ids.len(), ev.count(), "{}", s.name);
        if s.name == "Lapsed" {
            assert!(ev.count() > 100, "lapsed: {}", ev.count());
        }
    }
    // The seed scoring model works as a trait.
    let node = resolve(
        &rule(json!({"type": "trait", "trait": "score", "score": "buyer_intent", "op": "at_least", "value": 10})),
        &schema,
    )
    .unwrap();
    let ev = engine.evaluate(&node, opts.as_of, &NoProgress).unwrap();
    let (sql, params) = compile(&node, opts.as_of, Dialect::Sqlite).parameterized();
    assert_eq!(
        store.query_customer_ids(&sql, &params).unwrap().len(),
        ev.count()
    );
    assert!(ev.count() > 0);
}

#[test]
fn the_rule_model_round_trips_through_json() {
    let r = rule(
        json!({"type": "group", "match": "any", "not": true, "children": [
            {"type": "event", "event": "order", "aggregate": "sum", "op": ">=", "value": 10,
             "filters": [{"property": "props.items", "op": "greater_than", "value": 1}],
             "window": {"kind": "this_month"}},
            {"type": "trait", "trait": "rfm_segment", "op": "equals", "value": "Champions"}
        ]}),
    );
    let again = parse_rule(&r.to_json()).unwrap();
    assert_eq!(again, r);
    match &r.root {
        Node::Group(g) => assert!(g.not && g.children.len() == 2),
        _ => panic!(),
    }
}
