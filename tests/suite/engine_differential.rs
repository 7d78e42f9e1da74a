//! The engine against SQLite: random rule trees over a realistic workspace
//! with edge cases; the engine's members, and its count at every node, must
//! equal what SQLite returns for the compiled SQL. Explain must agree with
//! membership.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;

use prism::engine::resolve::{RKind, RNode, ops_for};
use prism::engine::sql::{Dialect, compile};
use prism::engine::{Engine, Schema, parse_rule, resolve, schema_of};
use prism::model::FieldType;
use prism::model::time::DAY;
use prism::progress::NoProgress;
use prism::store::{Cell, Store};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value as Json, json};

/// Values to draw from, taken from the data so equality tests hit.
#[derive(Debug)]
struct Pools {
    fields: Vec<(String, FieldType)>,
    /// Text values per text field.
    text: Vec<(String, Vec<String>)>,
    numbers: Vec<f64>,
    dates: Vec<String>,
    events: Vec<String>,
    categories: Vec<String>,
    products: Vec<String>,
    campaigns: Vec<String>,
    segments: Vec<String>,
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    engine: Engine,
    schema: Schema,
    as_ofs: Vec<i64>,
    pools: Arc<Pools>,
}

fn distinct_texts(store: &Store, table: &str, column: &str, limit: usize) -> Vec<String> {
    let page = store.table_page(table, 0, 100_000).unwrap();
    let idx = page.columns.iter().position(|c| c.name == column).unwrap();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for row in page.rows {
        if let Cell::Text(s) = &row[idx]
            && seen.insert(s.clone())
        {
            out.push(s.clone());
        }
        if out.len() >= limit {
            break;
        }
    }
    out
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = common::sample_with_edges(dir.path(), 400);
    let store = Store::open(&path).unwrap();
    // The first open builds the engine and writes its snapshot; the
    // rules run against a reopened workspace, read back from it.
    Engine::load(&store, &NoProgress).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    assert_eq!(engine.origin(), &prism::engine::Origin::Snapshot);
    let schema = schema_of(&store).unwrap();
    let fields: Vec<(String, FieldType)> = schema
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.field_type))
        .collect();
    let mut text = Vec::new();
    for (name, t) in &fields {
        if *t == FieldType::Text {
            let mut vals = distinct_texts(&store, "customers", name, 12);
            // Substrings and other cases, for contains / starts / ends.
            let extra: Vec<String> = vals
                .iter()
                .take(4)
                .flat_map(|v| {
                    let chars: Vec<char> = v.chars().collect();
                    let n = chars.len();
                    vec![
                        chars[..n.min(2)].iter().collect::<String>(),
                        chars[n.saturating_sub(3)..].iter().collect::<String>(),
                        v.to_uppercase(),
                    ]
                })
                .filter(|s| !s.is_empty())
                .collect();
            vals.extend(extra);
            vals.push("x".into());
            text.push((name.clone(), vals));
        }
    }
    let as_of = common::ts(common::AS_OF);
    let mut as_ofs = vec![as_of, as_of - 45 * DAY, as_of - 86_400, as_of + 3600];
    // Instants exactly on an event (window edges).
    store
        .for_each_event(|e| {
            if as_ofs.len() < 7 && e.time % 7 == 0 {
                as_ofs.push(e.time);
            }
            true
        })
        .unwrap();
    let pools = Pools {
        fields,
        text,
        numbers: vec![
            -10.0, 0.0, 1.0, 2.0, 3.0, 5.0, 6.66, 12.5, 19.99, 50.0, 99.5, 100.0, 250.0, 500.0,
            1000.0, 2000.0,
        ],
        dates: vec![
            "1960-01-01".into(),
            "1975-06-15".into(),
            "1990-01-01".into(),
            "2025-01-01".into(),
            "2026-06-30".into(),
            "2026-10-02".into(),
            "2026-10-31".into(),
            "2026-11-01".into(),
        ],
        events: schema.event_names.clone(),
        categories: {
            let mut v = distinct_texts(&store, "events", "category", 6);
            v.push("shoes".into());
            v
        },
        products: distinct_texts(&store, "products", "sku", 5),
        campaigns: distinct_texts(&store, "campaigns", "id", 5),
        segments: store
            .segments()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect(),
    };
    World {
        _dir: dir,
        store,
        engine,
        schema,
        as_ofs,
        pools: Arc::new(pools),
    }
}

const REGEXES: &[&str] = &[
    "^[a-m]",
    "\\d{3}",
    "(?i)^ann$",
    "o'b",
    "é",
    "@example\\.com$",
    "^$",
];

fn pick<T: Clone + std::fmt::Debug + 'static>(v: &[T]) -> BoxedStrategy<T> {
    prop::sample::select(v.to_vec()).boxed()
}

fn number(p: &Arc<Pools>) -> BoxedStrategy<f64> {
    prop_oneof![pick(&p.numbers), (0i32..10).prop_map(f64::from)].boxed()
}

fn num_op_value(p: &Arc<Pools>) -> BoxedStrategy<(String, Json)> {
    let p = p.clone();
    prop_oneof![
        (
            pick(
                &[
                    "equals",
                    "not_equals",
                    "less_than",
                    "at_most",
                    "greater_than",
                    "at_least",
                    "at_least",
                    "less_than"
                ]
                .map(String::from)
            ),
            number(&p)
        )
            .prop_map(|(op, x)| (op, json!(x))),
        (number(&p), number(&p))
            .prop_map(|(a, b)| ("between".to_string(), json!([a.min(b), a.max(b)]))),
    ]
    .boxed()
}

fn text_op_value(values: Vec<String>) -> BoxedStrategy<(String, Json)> {
    let v = values.clone();
    prop_oneof![
        (
            pick(
                &[
                    "equals",
                    "not_equals",
                    "contains",
                    "starts_with",
                    "ends_with"
                ]
                .map(String::from)
            ),
            pick(&v)
        )
            .prop_map(|(op, s)| (op, json!(s))),
        prop::sample::subsequence(values.clone(), 1..=3.min(values.len()))
            .prop_map(|s| ("in_list".to_string(), json!(s))),
        pick(&REGEXES.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .prop_map(|r| ("matches".to_string(), json!(r))),
        pick(&["is_set", "is_empty"].map(String::from)).prop_map(|op| (op, Json::Null)),
    ]
    .boxed()
}

fn date_op_value(p: &Arc<Pools>) -> BoxedStrategy<(String, Json)> {
    let d = p.dates.clone();
    prop_oneof![
        (pick(&["before", "after", "on"].map(String::from)), pick(&d))
            .prop_map(|(op, s)| (op, json!(s))),
        (pick(&d), pick(&d)).prop_map(|(a, b)| {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            ("between".to_string(), json!([a, b]))
        }),
        (
            pick(&["within_last_days", "more_than_days_ago"].map(String::from)),
            pick(&[0i64, 1, 7, 30, 90, 365, 3650])
        )
            .prop_map(|(op, n)| (op, json!(n))),
        pick(&["is_set", "is_empty"].map(String::from)).prop_map(|op| (op, Json::Null)),
    ]
    .boxed()
}

fn profile(p: &Arc<Pools>) -> BoxedStrategy<Json> {
    let p2 = p.clone();
    (pick(&p.fields), any::<bool>())
        .prop_flat_map(move |((name, ty), not)| {
            let ov = match ty {
                FieldType::Text => {
                    let vals = p2
                        .text
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| vec!["x".into()]);
                    text_op_value(vals)
                }
                FieldType::Number => prop_oneof![
                    num_op_value(&p2),
                    prop::collection::vec(number(&p2), 1..3)
                        .prop_map(|v| ("in_list".to_string(), json!(v))),
                    pick(&["is_set", "is_empty"].map(String::from)).prop_map(|op| (op, Json::Null)),
                ]
                .boxed(),
                FieldType::Date | FieldType::Timestamp => date_op_value(&p2),
                FieldType::Bool => pick(
                    &ops_for(FieldType::Bool)
                        .iter()
                        .map(|o| o.key().to_string())
                        .collect::<Vec<_>>(),
                )
                .prop_map(|op| (op, Json::Null))
                .boxed(),
            };
            (Just(name), Just(not), ov)
        })
        .prop_map(|(field, not, (op, value))| {
            let mut o = json!({"type": "profile", "field": field, "op": op, "not": not});
            if !value.is_null() {
                o["value"] = value;
            }
            o
        })
        .boxed()
}

fn window() -> BoxedStrategy<Json> {
    prop_oneof![
        Just(json!({"kind": "ever"})),
        pick(&[1i64, 7, 30, 60, 90, 400]).prop_map(|d| json!({"kind": "last_days", "days": d})),
        pick(&[1i64, 24, 48]).prop_map(|h| json!({"kind": "last_hours", "hours": h})),
        Just(json!({"kind": "this_month"})),
        pick(&[0i64, 30, 365]).prop_map(|d| json!({"kind": "more_than_days_ago", "days": d})),
        Just(json!({"kind": "between", "from": "2026-09-01", "to": "2026-10-15"})),
    ]
    .boxed()
}

fn filter(p: &Arc<Pools>) -> BoxedStrategy<Json> {
    let mk = |prop: &str, (op, value): (String, Json)| {
        let mut o = json!({"property": prop, "op": op});
        if !value.is_null() {
            o["value"] = value;
        }
        o
    };
    let cat = text_op_value(p.categories.clone());
    let prod = text_op_value(p.products.clone());
    let camp = text_op_value(p.campaigns.clone());
    let note = text_op_value(vec![
        "gift".into(),
        "Gift".into(),
        "wrap".into(),
        "two".into(),
    ]);
    prop_oneof![
        cat.prop_map(move |ov| mk("category", ov)),
        prod.prop_map(move |ov| mk("product", ov)),
        camp.prop_map(move |ov| mk("campaign", ov)),
        num_op_value(p).prop_map(move |ov| mk("value", ov)),
        num_op_value(p).prop_map(move |ov| mk("props.items", ov)),
        note.prop_map(move |ov| mk("props.note", ov)),
        text_op_value(vec!["two".into(), "3".into()]).prop_map(move |ov| mk("props.items", ov)),
    ]
    .boxed()
}

/// A comparison fitting the aggregate's scale, so that conditions split
/// customers instead of taking all or none.
fn aggregate_compare(p: &Arc<Pools>, aggregate: &str) -> BoxedStrategy<(String, Json)> {
    let values: Vec<f64> = match aggregate {
        "count" | "distinct_days" => vec![0.0, 1.0, 2.0, 3.0, 5.0],
        "days_since_last" => vec![0.5, 1.0, 7.0, 30.0, 90.0, 365.0],
        _ => p.numbers.clone(),
    };
    let ops = [
        "equals",
        "not_equals",
        "less_than",
        "at_most",
        "greater_than",
        "at_least",
    ]
    .map(String::from);
    prop_oneof![
        4 => (pick(&ops), pick(&values)).prop_map(|(op, x)| (op, json!(x))),
        1 => (pick(&values), pick(&values)).prop_map(|(a, b)| ("between".to_string(), json!([a.min(b), a.max(b)]))),
    ]
    .boxed()
}

fn event(p: &Arc<Pools>) -> BoxedStrategy<Json> {
    let p2 = p.clone();
    (
        pick(&p.events),
        prop_oneof![
            4 => Just("count".to_string()),
            3 => pick(&["sum", "average", "min", "max", "distinct_days", "days_since_last"].map(String::from)),
        ],
        window(),
        prop::collection::vec(filter(p), 0..3),
        prop::bool::weighted(0.2),
    )
        .prop_flat_map(move |(event, aggregate, window, filters, not)| {
            let cmp = aggregate_compare(&p2, &aggregate);
            (Just(event), Just(aggregate), cmp, Just(window), Just(filters), Just(not))
        })
        .prop_map(|(event, aggregate, (op, value), window, filters, not)| {
            json!({"type": "event", "event": event, "aggregate": aggregate, "op": op, "value": value,
                   "window": window, "filters": filters, "not": not})
        })
        .boxed()
}

fn trait_(p: &Arc<Pools>) -> BoxedStrategy<Json> {
    let segs: Vec<String> = prism::engine::resolve::RFM_SEGMENTS
        .iter()
        .map(|s| s.to_string())
        .collect();
    prop_oneof![
        (
            pick(
                &[
                    "rfm_recency_days",
                    "rfm_frequency",
                    "rfm_monetary",
                    "rfm_r_score",
                    "rfm_f_score",
                    "rfm_m_score",
                    "engagement_score"
                ]
                .map(String::from)
            ),
            num_op_value(p),
            any::<bool>()
        )
            .prop_map(|(t, (op, value), not)| json!({"type": "trait", "trait": t, "op": op, "value": value, "not": not})),
        (
            pick(&["equals", "not_equals"].map(String::from)),
            pick(&segs),
            any::<bool>()
        )
            .prop_map(|(op, s, not)| json!({"type": "trait", "trait": "rfm_segment", "op": op, "value": s, "not": not})),
        (num_op_value(p), any::<bool>()).prop_map(|((op, value), not)| {
            json!({"type": "trait", "trait": "score", "score": "buyer_intent", "op": op, "value": value, "not": not})
        }),
    ]
    .boxed()
}

fn segment(p: &Arc<Pools>) -> BoxedStrategy<Json> {
    (pick(&p.segments), any::<bool>())
        .prop_map(|(s, not)| json!({"type": "segment", "segment": s, "not": not}))
        .boxed()
}

fn rule_strategy(p: Arc<Pools>) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        3 => profile(&p),
        4 => event(&p),
        1 => trait_(&p),
        1 => segment(&p),
    ];
    let group = |children: BoxedStrategy<Vec<Json>>| {
        (
            pick(&["all", "any"].map(String::from)),
            prop::bool::weighted(0.2),
            children,
        )
            .prop_map(|(m, not, children)| json!({"type": "group", "match": m, "not": not, "children": children}))
    };
    let tree = leaf.prop_recursive(3, 24, 4, move |inner| {
        group(prop::collection::vec(inner, 0..5).boxed())
    });
    // The root is a group, as the rule builder makes it.
    group(prop::collection::vec(tree, 1..5).boxed()).boxed()
}

fn nodes(n: &RNode) -> Vec<&RNode> {
    let mut out = Vec::new();
    n.walk(&mut |x| out.push(x));
    out
}

/// How many checked rules selected some but not all customers, and how many
/// nodes they had: a guard that the random rules are worth checking.
static INTERESTING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static SPLIT_NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn check(w: &World, root: &Json, as_of: i64) -> Result<(), TestCaseError> {
    let text = json!({"version": 1, "root": root}).to_string();
    let rule = parse_rule(&text).map_err(|e| TestCaseError::fail(format!("parse: {e}\n{text}")))?;
    let node = resolve(&rule, &w.schema)
        .map_err(|e| TestCaseError::fail(format!("resolve: {e}\n{text}")))?;
    // Checked customer by customer, as the Performance screen judges
    // segments at each send, with nothing cached: two of every three
    // customers as of `as_of`, and every other one a month earlier.
    w.engine.clear_cache();
    let some: Vec<u32> = (0..w.engine.len() as u32).filter(|i| i % 3 != 1).collect();
    let earlier = as_of - 30 * DAY;
    let others: Vec<u32> = (0..w.engine.len() as u32).filter(|i| i % 2 == 0).collect();
    let at_sends = w
        .engine
        .members_at_sends(&[&node], &[(as_of, &some), (earlier, &others)], &NoProgress)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let before = w
        .engine
        .set_of(&node, earlier, &NoProgress)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (k, &i) in others.iter().enumerate() {
        prop_assert_eq!(
            at_sends[1][0].get(k),
            before.get(i as usize),
            "members_at_sends differs on customer {} for {} as of {}",
            w.engine.id_of(i as usize),
            text,
            earlier
        );
    }
    let ev = w
        .engine
        .evaluate(&node, as_of, &NoProgress)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let engine_ids: Vec<i64> = ev.members.iter().map(|i| w.engine.id_of(i)).collect();
    let (sql, params) = compile(&node, as_of, Dialect::Sqlite).parameterized();
    let sql_ids = w
        .store
        .query_customer_ids(&sql, &params)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{sql}")))?;
    prop_assert_eq!(
        &engine_ids,
        &sql_ids,
        "members differ for {} as of {}\n{}",
        text,
        as_of,
        sql
    );
    for (k, &i) in some.iter().enumerate() {
        prop_assert_eq!(
            at_sends[0][0].get(k),
            ev.members.get(i as usize),
            "members_at_sends disagrees on customer {} for {} as of {}",
            w.engine.id_of(i as usize),
            text,
            as_of
        );
    }
    use std::sync::atomic::Ordering::Relaxed;
    if !engine_ids.is_empty() && engine_ids.len() < w.engine.len() {
        INTERESTING.fetch_add(1, Relaxed);
    }
    let split = ev
        .nodes
        .iter()
        .filter(|n| n.count > 0 && n.count < w.engine.len())
        .count();
    NODES.fetch_add(ev.nodes.len(), Relaxed);
    SPLIT_NODES.fetch_add(split, Relaxed);
    // The count at every node.
    for (n, count) in nodes(&node).into_iter().zip(&ev.nodes) {
        if matches!(n.kind, RKind::Group { .. }) && n.path == "root" {
            continue;
        }
        let (sql, params) = compile(n, as_of, Dialect::Sqlite).parameterized();
        let ids = w
            .store
            .query_customer_ids(&sql, &params)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            ids.len(),
            count.count,
            "count at {} differs in {}",
            n.path,
            text
        );
    }
    // Explain agrees on a few members and non-members.
    let mut probe: Vec<usize> = ev.members.iter().take(3).collect();
    probe.extend((0..w.engine.len()).filter(|i| !ev.members.get(*i)).take(3));
    for i in probe {
        let id = w.engine.id_of(i);
        let ex = w
            .engine
            .explain(&node, id, as_of, &NoProgress)
            .unwrap()
            .unwrap();
        prop_assert_eq!(
            ex.member,
            ev.members.get(i),
            "explain disagrees on {} for {}",
            id,
            text
        );
    }
    Ok(())
}

fn run(cases: u32) {
    let w = world();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        rule_strategy(w.pools.clone()),
        prop::sample::select(w.as_ofs.clone()),
    );
    runner
        .run(&strategy, |(root, as_of)| check(&w, &root, as_of))
        .unwrap();
    use std::sync::atomic::Ordering::Relaxed;
    let interesting = INTERESTING.load(Relaxed);
    let nodes = NODES.load(Relaxed);
    let split = SPLIT_NODES.load(Relaxed);
    eprintln!(
        "{interesting} of {cases} rules and {split} of {nodes} nodes selected some but not all customers"
    );
    assert!(
        interesting * 10 > cases as usize,
        "too few informative rules: {interesting}"
    );
    assert!(
        split * 3 > nodes,
        "too few informative nodes: {split} of {nodes}"
    );
}

#[test]
fn engine_and_sqlite_agree_on_random_rules() {
    run(500);
}

#[test]
#[ignore = "long: 10,000 random rules (cargo test -- --ignored)"]
fn engine_and_sqlite_agree_on_ten_thousand_random_rules() {
    run(10_000);
}

/// Whether a missing engine fails the real-engine test (CI sets
/// `PRISM_REQUIRE_ENGINES=1`) or is reported and passed over.
fn engines_required() -> bool {
    std::env::var("PRISM_REQUIRE_ENGINES").is_ok_and(|v| v == "1")
}

fn missing_engine(what: &str, why: &str) {
    assert!(
        !engines_required(),
        "{what} is required here (PRISM_REQUIRE_ENGINES=1) but {why}"
    );
    eprintln!("NOT CHECKED: {what}: {why}");
}

/// A rule to run everywhere: its name, tree, time and the engine's members.
struct Case {
    name: String,
    text: String,
    node: RNode,
    as_of: i64,
    members: Vec<i64>,
}

/// Every saved segment of the sample (the seed segments), then `random`
/// rules from the differential generator that select some customers but
/// not all (a rule selecting none or everyone tells little), each with the
/// engine's members.
fn cases_for_engines(w: &World, random: usize) -> Vec<Case> {
    use proptest::strategy::{Strategy, ValueTree};
    let mut out = Vec::new();
    let as_of = common::ts(common::AS_OF);
    let case = |name: String, text: String, as_of: i64| {
        let rule = parse_rule(&text).unwrap();
        let node = resolve(&rule, &w.schema).unwrap();
        let ev = w.engine.evaluate(&node, as_of, &NoProgress).unwrap();
        let members = ev.members.iter().map(|i| w.engine.id_of(i)).collect();
        Case {
            name,
            text,
            node,
            as_of,
            members,
        }
    };
    for s in w.store.segments().unwrap() {
        out.push(case(format!("segment {}", s.name), s.rule.clone(), as_of));
    }
    let mut runner = TestRunner::deterministic();
    let strategy = (
        rule_strategy(w.pools.clone()),
        prop::sample::select(w.as_ofs.clone()),
    );
    let (mut kept, mut tried) = (0, 0);
    while kept < random {
        tried += 1;
        assert!(
            tried < 50 * random,
            "too few informative rules: {kept} of {tried}"
        );
        let (root, at) = strategy.new_tree(&mut runner).unwrap().current();
        let text = json!({"version": 1, "root": root}).to_string();
        let c = case(format!("random {kept}"), text, at);
        if !c.members.is_empty() && c.members.len() < w.engine.len() {
            out.push(c);
            kept += 1;
        }
    }
    out
}

/// Compares an engine's answers with the in-app engine's; a failure lists
/// the first differences with their rule and SQL.
fn compare(engine: &str, cases: &[Case], got: &[Result<Vec<i64>, String>], sql: &[String]) {
    let everyone = cases.iter().map(|c| c.members.len()).max().unwrap_or(0);
    let mut bad = Vec::new();
    for ((c, g), q) in cases.iter().zip(got).zip(sql) {
        let ok = matches!(g, Ok(ids) if *ids == c.members);
        if !ok {
            let what = match g {
                Ok(ids) => format!(
                    "{} members, the engine {} (first differing ids: {:?})",
                    ids.len(),
                    c.members.len(),
                    ids.iter()
                        .filter(|i| !c.members.contains(i))
                        .chain(c.members.iter().filter(|i| !ids.contains(i)))
                        .take(5)
                        .collect::<Vec<_>>()
                ),
                Err(e) => format!("error: {e}"),
            };
            bad.push(format!(
                "{}: {} as of {}: {what}\nrule: {}\nsql:\n{q}",
                engine, c.name, c.as_of, c.text
            ));
        }
    }
    eprintln!(
        "{engine}: {} of {} rules agree (the largest selects {everyone} customers)",
        cases.len() - bad.len(),
        cases.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {} rules differ on {engine}:\n\n{}",
        bad.len(),
        cases.len(),
        bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n\n")
    );
}

/// The sample workspace loaded into PostgreSQL, DuckDB and Spark (local
/// mode): every seed segment and 200 random rules return exactly the
/// in-app engine's members there. The engines are real: CI installs and
/// starts them (`.ci/run`); a machine without them says so on stderr.
#[test]
fn warehouse_engines_return_the_engines_members() {
    use prism::engine::sql::Dialect;
    use prism::warehouse::{export_schema, postgres};
    let w = world();
    let cases = cases_for_engines(&w, 200);
    let dir = tempfile::tempdir().unwrap();

    // PostgreSQL, through the same client a connected source uses.
    match std::env::var("PRISM_TEST_POSTGRES") {
        Err(_) => missing_engine(
            "PostgreSQL",
            "PRISM_TEST_POSTGRES (a connection string) is not set",
        ),
        Ok(url) => {
            let out = dir.path().join("postgres");
            export_schema(&w.store, Dialect::Postgres, &out, &NoProgress).unwrap();
            let source = postgres::Source::new(&url, Default::default()).unwrap();
            let mut client = source.connect().unwrap();
            let schema = format!("prism_test_{}", std::process::id());
            postgres::load_export(&mut client, &out, &schema).unwrap();
            let fields: Vec<&str> = w.schema.fields.iter().map(|f| f.name.as_str()).collect();
            source.check_tables(&mut client, &fields).unwrap();
            let mut sql = Vec::new();
            let got: Vec<Result<Vec<i64>, String>> = cases
                .iter()
                .map(|c| {
                    let (q, params) = compile(&c.node, c.as_of, Dialect::Postgres).parameterized();
                    let r = postgres::run_ids(&mut client, &q, &params).map_err(|e| e.to_string());
                    sql.push(q);
                    r
                })
                .collect();
            client
                .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .unwrap();
            compare("PostgreSQL", &cases, &got, &sql);
        }
    }

    // DuckDB and Spark SQL, through their Python packages.
    for (dialect, engine) in [(Dialect::DuckDb, "duckdb"), (Dialect::Spark, "spark")] {
        let out = dir.path().join(engine);
        export_schema(&w.store, dialect, &out, &NoProgress).unwrap();
        let sql: Vec<String> = cases
            .iter()
            .map(|c| compile(&c.node, c.as_of, dialect).inline())
            .collect();
        let queries: Vec<Json> = cases
            .iter()
            .zip(&sql)
            .map(|(c, q)| json!({"name": c.name, "sql": q}))
            .collect();
        let qpath = dir.path().join(format!("{engine}-queries.json"));
        let rpath = dir.path().join(format!("{engine}-results.json"));
        std::fs::write(&qpath, serde_json::to_string(&queries).unwrap()).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/engines/run_queries.py");
        let python = std::env::var("PRISM_PYTHON").unwrap_or_else(|_| "python3".into());
        let status = std::process::Command::new(&python)
            .arg(script)
            .args([
                engine.as_ref(),
                out.as_os_str(),
                qpath.as_os_str(),
                rpath.as_os_str(),
            ])
            .status();
        match status {
            Err(e) => {
                missing_engine(engine, &format!("{python} cannot run: {e}"));
                continue;
            }
            Ok(s) if s.code() == Some(3) => {
                missing_engine(engine, "its Python package is not installed");
                continue;
            }
            Ok(s) => assert!(s.success(), "{engine}: run_queries.py failed: {s}"),
        }
        let results: Json =
            serde_json::from_str(&std::fs::read_to_string(&rpath).unwrap()).unwrap();
        let got: Vec<Result<Vec<i64>, String>> = cases
            .iter()
            .map(|c| match &results["results"][&c.name] {
                Json::Array(ids) => Ok(ids.iter().map(|v| v.as_i64().unwrap()).collect()),
                other => Err(other["error"].as_str().unwrap_or("no answer").to_string()),
            })
            .collect();
        compare(dialect.name(), &cases, &got, &sql);
    }
}
