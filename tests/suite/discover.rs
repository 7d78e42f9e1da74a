//! Discovery on real workspace files: clustering recovers groups planted
//! in a synthetic workspace, and each cluster's rule is counted exactly
//! (its members equal SQLite's for the same rule).

use std::path::{Path, PathBuf};

use prism::discover::{self, Feature, kmeans::adjusted_rand_index, tree::cluster_rule};
use prism::engine::sql::{Dialect, compile};
use prism::engine::{Engine, parse_rule, resolve, schema_of};
use prism::model::rng::Rng;
use prism::model::{Customer, Event};
use prism::progress::NoProgress;
use prism::store::Store;

const DAY: i64 = 86_400;

/// Three planted groups of 400, as of 2026-11-01:
/// 0: champions (an order every ~10 days lately, 80–200 each, Electronics);
/// 1: lapsed small buyers (1–2 orders of 10–30, a year or more ago, Books);
/// 2: never ordered (they browse).
fn planted(dir: &Path) -> (PathBuf, Vec<u8>, i64) {
    let as_of = crate::common::ts("2026-11-01");
    let path = dir.join("planted.prism");
    let mut store = Store::create(&path).unwrap();
    let mut rng = Rng::new(11);
    let mut truth = Vec::new();
    {
        let mut load = store.bulk_load(false).unwrap();
        for i in 0..1_200 {
            let group = (i % 3) as u8;
            truth.push(group);
            let id = load
                .insert_customer(&Customer {
                    external_id: format!("P{i:05}"),
                    email: Some(format!("p{i}@example.org")),
                    email_consent: true,
                    signup_at: Some(as_of - 800 * DAY),
                    ..Default::default()
                })
                .unwrap();
            let order = |t: i64, v: f64| Event {
                customer_id: id,
                name: "order".into(),
                time: t,
                value: Some(v),
                category: Some(if group == 0 { "Electronics" } else { "Books" }.into()),
                ..Default::default()
            };
            match group {
                0 => {
                    for k in 0..rng.range(8, 14) {
                        let t = as_of - (k * 10 + rng.range(1, 5)) * DAY;
                        load.insert_event(&order(t, rng.range_f64(80.0, 200.0)))
                            .unwrap();
                    }
                }
                1 => {
                    for _ in 0..rng.range(1, 3) {
                        let t = as_of - rng.range(380, 700) * DAY;
                        load.insert_event(&order(t, rng.range_f64(10.0, 30.0)))
                            .unwrap();
                    }
                }
                _ => {
                    load.insert_event(&Event {
                        customer_id: id,
                        name: "page_view".into(),
                        time: as_of - rng.range(1, 60) * DAY,
                        ..Default::default()
                    })
                    .unwrap();
                }
            }
        }
        load.commit().unwrap();
    }
    (path, truth, as_of)
}

#[test]
fn clustering_recovers_planted_groups_and_each_rule_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (path, truth, as_of) = planted(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let features = [Feature::Recency, Feature::Frequency, Feature::Monetary];
    let c = discover::clusters(&engine, &features, as_of, None, 1, &NoProgress).unwrap();
    assert_eq!(c.k, 3, "{}", discover::clusters_text(&c));
    assert!(!c.chosen_by_user);
    let ari = adjusted_rand_index(&c.labels, &truth);
    assert!(ari > 0.95, "adjusted Rand index {ari}");
    // Deterministic with a seed.
    let again = discover::clusters(&engine, &features, as_of, None, 1, &NoProgress).unwrap();
    assert!(again.labels == c.labels && again.silhouettes == c.silhouettes);
    // The words follow the centres.
    let text = discover::clusters_text(&c);
    assert!(text.contains("recent"), "{text}");
    assert!(text.contains("never ordered"), "{text}");
    // The user may choose k.
    let four = discover::clusters(&engine, &features, as_of, Some(4), 1, &NoProgress).unwrap();
    assert_eq!((four.k, four.chosen_by_user), (4, true));
    assert_eq!(four.clusters.iter().map(|x| x.size).sum::<usize>(), 1_200);
    // Each cluster becomes a rule of at most three conditions that finds
    // it, and SQLite finds the same members.
    let schema = schema_of(&store).unwrap();
    for k in 0..c.k {
        let r = cluster_rule(&engine, &store, &c, k, &NoProgress).unwrap();
        let conditions = r.rule["root"]["children"].as_array().unwrap().len();
        assert!((1..=3).contains(&conditions), "{}", r.rule);
        assert!(
            r.precision > 0.95 && r.recall > 0.95,
            "cluster {k}: {} {:?}",
            r.text,
            (r.precision, r.recall)
        );
        let node = resolve(&parse_rule(&r.rule.to_string()).unwrap(), &schema).unwrap();
        let ev = engine.evaluate(&node, as_of, &NoProgress).unwrap();
        let mut engine_ids: Vec<i64> = ev.members.iter().map(|i| engine.id_of(i)).collect();
        let (sql, params) = compile(&node, as_of, Dialect::Sqlite).parameterized();
        let mut sql_ids = store.query_customer_ids(&sql, &params).unwrap();
        engine_ids.sort_unstable();
        sql_ids.sort_unstable();
        assert_eq!(engine_ids, sql_ids, "{}", r.text);
        assert_eq!(r.members, engine_ids.len());
    }
    // The category mix: clusters on orders per category say what they buy,
    // and their rules filter on the category.
    let mix = [
        Feature::parse("category:electronics", &engine).unwrap(),
        Feature::parse("category:Books", &engine).unwrap(),
    ];
    let m = discover::clusters(&engine, &mix, as_of, Some(3), 1, &NoProgress).unwrap();
    assert!(adjusted_rand_index(&m.labels, &truth) > 0.95);
    let text = discover::clusters_text(&m);
    assert!(
        text.contains("buys Electronics") && text.contains("mostly Electronics"),
        "{text}"
    );
    assert!(text.contains("mostly Books"), "{text}");
    let books = m
        .clusters
        .iter()
        .position(|x| x.description.contains("mostly Books"))
        .unwrap();
    let r = cluster_rule(&engine, &store, &m, books, &NoProgress).unwrap();
    assert!(r.rule.to_string().contains("\"category\""), "{}", r.rule);
    assert!(
        r.precision > 0.95 && r.recall > 0.95,
        "{} {:?}",
        r.text,
        (r.precision, r.recall)
    );
    let node = resolve(&parse_rule(&r.rule.to_string()).unwrap(), &schema).unwrap();
    let (sql, params) = compile(&node, as_of, Dialect::Sqlite).parameterized();
    assert_eq!(
        store.query_customer_ids(&sql, &params).unwrap().len(),
        r.members
    );
    assert!(
        Feature::parse("category:Garden", &engine)
            .unwrap_err()
            .contains("no orders in a category")
    );
    // Bad input: a clear message.
    assert!(
        cluster_rule(&engine, &store, &c, 9, &NoProgress)
            .unwrap_err()
            .contains("no cluster 10")
    );
    let err = Feature::parse("shoe_size", &engine).unwrap_err();
    assert!(err.contains("no feature \"shoe_size\""), "{err}");
    assert!(discover::clusters(&engine, &features, as_of, Some(1), 1, &NoProgress).is_err());
}

#[test]
fn discover_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _) = planted(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["discover", "clusters"])
        .arg(&path)
        .args([
            "--as-of",
            "2026-11-01",
            "--features",
            "recency,frequency,monetary",
            "--rule-for",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("k = 3 (best silhouette)"), "{text}");
    assert!(text.contains("silhouette_k2 = "), "{text}");
    assert!(text.contains("precision = "), "{text}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["discover", "clusters"])
        .arg(&path)
        .args(["--features", "recency,shoe_size"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no feature \"shoe_size\""));
}

#[test]
fn the_discover_tab_finds_clusters_and_opens_one_as_a_draft() {
    use crate::ui_common;
    use egui_kittest::kittest::Queryable;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _) = planted(dir.path());
    let app = ui_common::app(
        dir.path(),
        Some(&path),
        Some(prism::app::Screen::Segments),
        None,
    );
    let mut h = ui_common::harness(app, 1600.0, 1000.0);
    let wait = |h: &mut egui_kittest::Harness<'_, prism::ui::PrismApp>,
                what: &str,
                f: &dyn Fn(&prism::ui::PrismApp) -> bool| {
        ui_common::run_until(h, what, Duration::from_secs(120), f)
    };
    wait(&mut h, "the engine", &|a| {
        a.engine.is_some() && a.jobs.is_idle()
    });
    h.get_by_label("Discover").click();
    h.run_ok();
    // Only the three order features.
    h.get_by_label("Engagement (0–100)").click();
    h.run_ok();
    h.get_by_label("Find clusters").click();
    wait(&mut h, "the clusters", &|a| {
        a.segments.discover.result.is_some() && a.jobs.is_idle()
    });
    let c = h.state().segments.discover.result.clone().unwrap().unwrap();
    assert_eq!(c.k, 3);
    h.get_by_label_contains("never ordered");
    h.get_by_label("Cluster 3");
    let buttons: Vec<_> = h.get_all_by_label("Create segment").collect();
    assert_eq!(buttons.len(), 3);
    buttons[0].click();
    wait(&mut h, "the rule", &|a| {
        a.segments.discover.rule.is_some() && a.jobs.is_idle()
    });
    let draft = h.state().segments.draft().unwrap();
    assert_eq!(draft.name, "Cluster 1");
    assert_eq!(draft.id, 0, "a draft, not saved");
    h.get_by_label_contains("precision");
    // The draft counts like any rule.
    wait(&mut h, "its count", &|a| {
        a.jobs.is_idle()
            && a.segments
                .eval
                .result
                .as_ref()
                .is_some_and(|(k, _)| Some(*k) == a.segments.current)
    });
    let count = h
        .state()
        .segments
        .eval
        .result
        .clone()
        .unwrap()
        .1
        .evaluation
        .count();
    let (_, Ok(rule)) = h.state().segments.discover.rule.clone().unwrap() else {
        panic!("no rule")
    };
    assert_eq!(count, rule.members);
}

/// A sample workspace of `customers` with data up to 2026-11-01, its
/// engine, and the propensity model trained on it.
fn trained_sample(
    dir: &Path,
    customers: u64,
    seed: u64,
) -> (PathBuf, Engine, prism::discover::propensity::Training) {
    let path = dir.join("shop.prism");
    let opts = prism::sample::SampleOptions {
        customers,
        seed,
        as_of: crate::common::ts("2026-11-01"),
        name: "Shop".into(),
    };
    prism::sample::generate_workspace(&opts, &path, false, &NoProgress).unwrap();
    let engine = Engine::load(&Store::open_read_only(&path).unwrap(), &NoProgress).unwrap();
    let t = prism::app::discover::train_propensity(&path, &engine, &NoProgress).unwrap();
    (path, engine, t)
}

#[test]
fn propensity_is_validated_out_of_time_and_usable_in_rules() {
    use prism::discover::propensity::{MODEL_NAME, points_for};
    let dir = tempfile::tempdir().unwrap();
    let (path, engine, t) = trained_sample(dir.path(), 3_000, 9);
    let as_of = crate::common::ts("2026-11-01");
    // The simulation makes recent, frequent, engaged customers buy again:
    // the model must rank well above chance on the 30 days it never saw.
    assert!(t.auc > 0.7, "AUC {}", t.auc);
    assert_eq!(t.calibration.len(), 10);
    assert_eq!(
        t.calibration.iter().map(|b| b.customers).sum::<usize>(),
        t.valid_customers
    );
    // The top decile orders far more often than the bottom one.
    assert!(t.calibration[9].observed > 3.0 * t.calibration[0].observed.max(0.01));
    assert!(t.end <= as_of && t.end > as_of - 3 * 86_400);
    // Kept in the workspace: a score rules can test, and its figures.
    // (Opened for writing: SQLite's side below builds the events index.)
    let store = Store::open(&path).unwrap();
    assert!(store.score(MODEL_NAME).unwrap().is_some());
    let figures = prism::app::discover::propensity_figures(&store)
        .unwrap()
        .unwrap();
    assert_eq!(figures.auc, t.auc);
    assert!(!prism::app::discover::propensity_stale(&store, engine.data.data_version).unwrap());
    // A rule on it: the engine's members are SQLite's.
    let schema = schema_of(&store).unwrap();
    let rule = serde_json::json!({"version": 1, "root": {"type": "trait", "trait": "score",
        "score": MODEL_NAME, "op": "at_least", "value": points_for(0.2)}});
    let node = resolve(&parse_rule(&rule.to_string()).unwrap(), &schema).unwrap();
    let ev = engine.evaluate(&node, as_of, &NoProgress).unwrap();
    assert!(
        ev.count() > 0 && ev.count() < engine.len(),
        "{}",
        ev.count()
    );
    let mut engine_ids: Vec<i64> = ev.members.iter().map(|i| engine.id_of(i)).collect();
    let (sql, params) = compile(&node, as_of, Dialect::Sqlite).parameterized();
    let mut sql_ids = store.query_customer_ids(&sql, &params).unwrap();
    engine_ids.sort_unstable();
    sql_ids.sort_unstable();
    assert_eq!(engine_ids, sql_ids);
    drop(store);
    // An import moves the data on: the model is stale until trained again.
    crate::common::import_customers(&path, "customer_id,email\nNEW-1,new1@example.org\n");
    let store = Store::open_read_only(&path).unwrap();
    assert!(prism::app::discover::propensity_stale(&store, store.data_version().unwrap()).unwrap());
}

#[test]
fn the_app_trains_a_stale_propensity_model_again_after_an_import() {
    use crate::ui_common;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let (path, _, first) = trained_sample(dir.path(), 1_500, 4);
    crate::common::import_customers(&path, "customer_id,email\nNEW-1,new1@example.org\n");
    let now = Store::open_read_only(&path)
        .unwrap()
        .data_version()
        .unwrap();
    assert_ne!(first.data_version, now);
    let app = ui_common::app(
        dir.path(),
        Some(&path),
        Some(prism::app::Screen::Segments),
        None,
    );
    let mut h = ui_common::harness(app, 1600.0, 1000.0);
    ui_common::run_until(
        &mut h,
        "the model trained again",
        Duration::from_secs(120),
        |a| {
            a.jobs.is_idle()
                && a.segments
                    .discover
                    .propensity
                    .as_ref()
                    .is_some_and(|t| t.as_ref().is_ok_and(|t| t.data_version == now))
        },
    );
    let store = Store::open_read_only(&path).unwrap();
    let figures = prism::app::discover::propensity_figures(&store)
        .unwrap()
        .unwrap();
    assert_eq!(figures.data_version, now);
}
