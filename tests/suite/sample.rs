//! The sample generator: deterministic, realistic, consistent.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use prism::model::time::{DAY, parse_instant};
use prism::progress::{CancelFlag, NoProgress};
use prism::sample::{SampleError, SampleOptions, generate_workspace, write_csv};
use prism::store::Store;

fn opts(customers: u64, seed: u64) -> SampleOptions {
    SampleOptions {
        customers,
        seed,
        as_of: parse_instant("2026-11-01").unwrap(),
        name: "Test sample".into(),
    }
}

/// Every row of every table, as text.
fn dump(path: &Path) -> Vec<String> {
    let store = Store::open_read_only(path).unwrap();
    let mut out = Vec::new();
    for t in store.table_stats().unwrap() {
        if t.name == "custom_fields" {
            continue; // holds the wall-clock time the field was added
        }
        let page = store.table_page(&t.name, 0, 10_000_000).unwrap();
        // Saved segments and scores carry the wall-clock time they were
        // saved; the generated data is everything else.
        let saved_at: Vec<bool> = page
            .columns
            .iter()
            .map(|c| {
                matches!(t.name.as_str(), "segments" | "segment_versions" | "scores")
                    && matches!(c.name.as_str(), "created_at" | "updated_at" | "saved_at")
            })
            .collect();
        for row in page.rows {
            let kept: Vec<_> = row
                .iter()
                .zip(&saved_at)
                .filter(|(_, wall_clock)| !**wall_clock)
                .map(|(cell, _)| cell)
                .collect();
            out.push(format!("{}: {kept:?}", t.name));
        }
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.prism");
    let b = dir.path().join("b.prism");
    let c = dir.path().join("c.prism");
    let sa = generate_workspace(&opts(300, 7), &a, false, &NoProgress).unwrap();
    let sb = generate_workspace(&opts(300, 7), &b, false, &NoProgress).unwrap();
    generate_workspace(&opts(300, 8), &c, false, &NoProgress).unwrap();
    assert_eq!(sa, sb);
    let (da, db, dc) = (dump(&a), dump(&b), dump(&c));
    assert!(da.len() > 1000);
    assert_eq!(da, db);
    assert_ne!(da, dc);
    assert_ne!(sa.events, 0);
    // The file is never overwritten without being asked to.
    assert!(matches!(
        generate_workspace(&opts(10, 7), &a, false, &NoProgress),
        Err(SampleError::Exists(_))
    ));
    assert_eq!(dump(&a), da);
}

#[test]
fn a_cancelled_generation_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.prism");
    let flag = CancelFlag::default();
    flag.cancel();
    let r = generate_workspace(&opts(5_000, 1), &out, false, &flag);
    assert!(matches!(r, Err(SampleError::Cancelled)));
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_sample_looks_like_a_real_shop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.prism");
    let o = opts(2_000, 42);
    let stats = generate_workspace(&o, &path, false, &NoProgress).unwrap();
    let store = Store::open(&path).unwrap();
    assert!(store.integrity_ok().unwrap());
    assert_eq!(store.customer_count().unwrap(), 2_000);
    assert_eq!(store.event_count().unwrap() as u64, stats.events);

    // Lifecycle mix.
    let share = |name: &str| stats.by_lifecycle[name] as f64 / 2_000.0;
    assert!((0.18..0.28).contains(&share("lapsed")), "{stats:?}");
    assert!((0.20..0.30).contains(&share("browser")), "{stats:?}");
    assert!((0.06..0.14).contains(&share("new")), "{stats:?}");
    // Opt-outs: never consented (~15%) plus unsubscribes.
    let opted_out = stats.opted_out as f64 / 2_000.0;
    assert!((0.12..0.35).contains(&opted_out), "{opted_out}");
    // Roughly 20 events per customer, of every kind.
    let per_customer = stats.events as f64 / 2_000.0;
    assert!((8.0..40.0).contains(&per_customer), "{per_customer}");
    for name in [
        "order",
        "email_sent",
        "email_open",
        "email_click",
        "unsubscribe",
        "page_view",
        "product_view",
        "add_to_cart",
    ] {
        assert!(
            stats.events_by_name.get(name).copied().unwrap_or(0) > 0,
            "no {name} events"
        );
    }
    // More sends than opens, more opens than clicks.
    let n = |k: &str| stats.events_by_name[k];
    assert!(n("email_sent") > n("email_open") && n("email_open") > n("email_click"));

    // Every event belongs to an existing customer and lies in the history window.
    let mut ids = HashSet::new();
    let mut unsubscribed = HashSet::new();
    let mut consent = HashMap::new();
    store
        .for_each_customer(|c| {
            ids.insert(c.id);
            consent.insert(c.id, c.email_consent);
            assert!(c.email.as_deref().is_some_and(|e| e.contains('@')));
            true
        })
        .unwrap();
    let mut spend: HashMap<i64, f64> = HashMap::new();
    let lo = o.as_of - 730 * DAY;
    store
        .for_each_event(|e| {
            assert!(ids.contains(&e.customer_id), "orphan event {e:?}");
            assert!(e.time >= lo && e.time < o.as_of, "event out of range {e:?}");
            if e.name == "order" {
                let v = e.value.expect("orders have a value");
                assert!(v > 0.0);
                *spend.entry(e.customer_id).or_default() += v;
            }
            if e.name == "unsubscribe" {
                unsubscribed.insert(e.customer_id);
            }
            true
        })
        .unwrap();
    // Whoever unsubscribed has no consent any more.
    for id in &unsubscribed {
        assert!(!consent[id], "customer {id} unsubscribed");
    }
    // Pareto: the top fifth of buyers bring well over half the revenue.
    let mut totals: Vec<f64> = spend.values().copied().collect();
    totals.sort_by(|a, b| b.total_cmp(a));
    let top: f64 = totals[..totals.len() / 5].iter().sum();
    let all: f64 = totals.iter().sum();
    assert!(top / all > 0.5, "top 20% share {}", top / all);
    // Browsers never buy, so plenty of customers have no order at all.
    assert!(spend.len() < 1_800);

    let info = store.info().unwrap();
    let (first, last) = info.event_range.unwrap();
    assert!(last - first > 600 * DAY);
    assert!(store.products().unwrap().len() > 100);
    assert!(store.campaigns().unwrap().len() > 150);
    assert_eq!(store.custom_fields().unwrap().len(), 3);
}

#[test]
fn csv_exports_carry_realistic_dirt() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write_csv(&opts(1_500, 42), dir.path(), &NoProgress).unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let customers = read("customers.csv");
    let lines: Vec<&str> = customers.lines().collect();
    assert!(lines[0].starts_with("customer_id,email,"));
    // Every customer once, plus duplicates.
    assert!(lines.len() > 1_500 + 1, "{}", lines.len());
    assert!(
        lines.iter().any(|l| l.starts_with('W')),
        "case-variant duplicates"
    );
    let invalid = lines
        .iter()
        .skip(1)
        .filter(|l| {
            let email = l.split(',').nth(1).unwrap_or("").trim();
            !email.contains('@')
                || email.ends_with('@')
                || email.contains(' ')
                || email.contains("@@")
        })
        .count();
    assert!(invalid > 0, "some invalid emails");
    assert!(lines.iter().any(|l| l.contains(",,")), "missing values");
    assert!(customers.contains('/'), "US-style birth dates");
    let orders = read("orders.csv");
    assert!(orders.contains('$'), "amounts with currency symbols");
    let events: usize = ["orders.csv", "email_events.csv", "web_events.csv"]
        .iter()
        .map(|f| read(f).lines().count() - 1)
        .sum();
    assert_eq!(events as u64, stats.events);
    assert!(read("products.csv").lines().count() > 100);
    assert!(read("campaigns.csv").lines().count() > 150);
}
