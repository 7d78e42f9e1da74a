//! Workspaces for tests: a tiny hand-made shop whose members can be worked
//! out by hand, and a realistic sample with edge cases mixed in.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use prism::model::time::parse_instant;
use prism::model::{Customer, Event, FieldType, FieldValue};
use prism::store::Store;

pub const AS_OF: &str = "2026-11-01";

pub fn ts(s: &str) -> i64 {
    parse_instant(s).unwrap_or_else(|| panic!("bad time {s}"))
}

#[allow(clippy::too_many_arguments)]
fn customer(
    ext: &str,
    first: &str,
    email: Option<&str>,
    country: Option<&str>,
    birth: Option<&str>,
    signup: &str,
    consent: bool,
    tier: Option<&str>,
    points: Option<f64>,
) -> Customer {
    let mut custom = BTreeMap::new();
    custom.insert(
        "tier".into(),
        tier.map(|t| FieldValue::Text(t.into()))
            .unwrap_or(FieldValue::Null),
    );
    custom.insert(
        "points".into(),
        points.map(FieldValue::Number).unwrap_or(FieldValue::Null),
    );
    Customer {
        id: 0,
        external_id: ext.into(),
        email: email.map(Into::into),
        first_name: Some(first.into()),
        last_name: Some("Test".into()),
        birth_date: birth.map(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").unwrap()),
        gender: None,
        city: None,
        country: country.map(Into::into),
        signup_at: Some(ts(signup)),
        email_consent: consent,
        custom,
    }
}

fn ev(name: &str, time: &str, value: Option<f64>, category: Option<&str>) -> Event {
    Event {
        name: name.into(),
        time: ts(time),
        value,
        category: category.map(Into::into),
        ..Event::default()
    }
}

/// Six customers, as of 2026-11-01:
/// - C1 Ada (DE, ada@x.com): 5 orders in late October worth 515.50, 4 opens.
/// - C2 Bob (US): two orders on 2026-08-01 worth 2,600.
/// - C3 Cy (GB, no email): one order in 2025, 5 opens in the last 30 days.
/// - C4 Dee (DE, dee@x.com): no orders; 3 page views, an add to cart.
/// - C5 Eve (FR): one order of 600 with 3 items on 2026-10-31; unsubscribed.
/// - C6 Fay: nothing at all.
pub fn tiny_workspace(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.prism");
    let mut store = Store::create(&path).unwrap();
    store
        .add_custom_field("tier", FieldType::Text, "Tier")
        .unwrap();
    store
        .add_custom_field("points", FieldType::Number, "Points")
        .unwrap();
    let people = vec![
        (
            customer(
                "C1",
                "Ada",
                Some("ada@x.com"),
                Some("DE"),
                Some("1990-05-01"),
                "2026-10-20 10:00",
                true,
                Some("gold"),
                Some(120.0),
            ),
            vec![
                ev("order", "2026-10-25 12:00", Some(120.0), Some("Shoes")),
                ev("order", "2026-10-28 09:00", Some(80.5), Some("Apparel")),
                ev("order", "2026-10-30 18:00", Some(300.0), Some("Shoes")),
                ev("order", "2026-10-31 08:00", Some(10.0), Some("Books")),
                ev("order", "2026-10-31 23:00", Some(5.0), Some("Books")),
                ev("email_open", "2026-10-05 09:00", None, None),
                ev("email_open", "2026-10-12 09:00", None, None),
                ev("email_open", "2026-10-19 09:00", None, None),
                ev("email_open", "2026-10-26 09:00", None, None),
            ],
        ),
        (
            customer(
                "C2",
                "Bob",
                Some("bob@y.com"),
                Some("US"),
                Some("1985-01-15"),
                "2025-01-01 00:00",
                false,
                Some("silver"),
                Some(50.0),
            ),
            vec![
                ev(
                    "order",
                    "2026-08-01 10:00",
                    Some(2500.0),
                    Some("Electronics"),
                ),
                ev(
                    "order",
                    "2026-08-01 11:00",
                    Some(100.0),
                    Some("Electronics"),
                ),
            ],
        ),
        (
            customer(
                "C3",
                "Cy",
                None,
                Some("GB"),
                None,
                "2024-06-01 00:00",
                true,
                None,
                None,
            ),
            vec![
                ev("order", "2025-06-01 10:00", Some(50.0), Some("Home")),
                ev("email_open", "2026-10-03 09:00", None, None),
                ev("email_open", "2026-10-10 09:00", None, None),
                ev("email_open", "2026-10-17 09:00", None, None),
                ev("email_open", "2026-10-24 09:00", None, None),
                ev("email_open", "2026-10-31 09:00", None, None),
            ],
        ),
        (
            customer(
                "C4",
                "Dee",
                Some("dee@x.com"),
                Some("de"),
                Some("2000-12-31"),
                "2026-03-01 00:00",
                true,
                Some("bronze"),
                Some(0.0),
            ),
            vec![
                ev("page_view", "2026-10-10 10:00", None, None),
                ev("page_view", "2026-10-20 10:00", None, None),
                ev("page_view", "2026-10-30 10:00", None, None),
                ev("add_to_cart", "2026-10-29 10:00", Some(40.0), Some("Toys")),
            ],
        ),
        (
            customer(
                "C5",
                "Eve",
                Some("eve@z.org"),
                Some("FR"),
                Some("1970-07-07"),
                "2023-01-01 00:00",
                false,
                Some("gold"),
                Some(900.0),
            ),
            vec![
                Event {
                    properties: serde_json::json!({"items": 3, "order_id": "O-5"})
                        .as_object()
                        .cloned(),
                    ..ev("order", "2026-10-31 12:00", Some(600.0), Some("Home"))
                },
                ev("unsubscribe", "2026-10-31 13:00", None, None),
            ],
        ),
        (
            customer(
                "C6",
                "Fay",
                Some("fay@x.com"),
                None,
                None,
                "2026-09-01 00:00",
                true,
                None,
                None,
            ),
            vec![],
        ),
    ];
    {
        let mut load = store.bulk_load(false).unwrap();
        for (c, events) in people {
            let id = load.insert_customer(&c).unwrap();
            for mut e in events {
                e.customer_id = id;
                load.insert_event(&e).unwrap();
            }
        }
        load.commit().unwrap();
    }
    path
}

/// A realistic sample (`n` customers, data up to 2026-11-01) with edge cases
/// added: empty fields, events without values, ties in time, negative and
/// fractional values, mixed-case and non-ASCII text, string and number
/// properties.
pub fn sample_with_edges(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("edges.prism");
    let opts = prism::sample::SampleOptions {
        customers: n,
        seed: 7,
        as_of: ts(AS_OF),
        name: "Edges".into(),
    };
    prism::sample::generate_workspace(&opts, &path, false, &prism::progress::NoProgress).unwrap();
    let mut store = Store::open(&path).unwrap();
    let mut load = store.bulk_load(false).unwrap();
    let names = ["Zoë", "ÉMILE", "o'brien", "Ann", "ann", ""];
    for k in 0..30 {
        let mut custom = BTreeMap::new();
        custom.insert(
            "loyalty_tier".to_string(),
            if k % 3 == 0 {
                FieldValue::Null
            } else {
                FieldValue::Text(["Gold", "gold", "SILVER"][k % 3].into())
            },
        );
        custom.insert(
            "loyalty_points".to_string(),
            if k % 4 == 0 {
                FieldValue::Null
            } else {
                FieldValue::Number(k as f64 * 12.5 - 60.0)
            },
        );
        let c = Customer {
            id: 0,
            external_id: format!("E{k:03}"),
            email: (k % 5 != 0).then(|| format!("Edge.{k}@Example.COM")),
            first_name: (k % 6 != 5).then(|| names[k % 6].to_string()),
            last_name: None,
            birth_date: (k % 2 == 0).then(|| {
                NaiveDate::from_ymd_opt(1960 + k as i32, 1 + (k % 12) as u32, 1 + k as u32 % 28)
                    .unwrap()
            }),
            gender: None,
            city: (k % 3 == 1).then(|| "Zürich".to_string()),
            country: (k % 7 != 0).then(|| ["de", "DE", "Us"][k % 3].to_string()),
            signup_at: (k % 4 != 3).then(|| ts(AS_OF) - (k as i64) * 5 * 86_400),
            email_consent: k % 2 == 1,
            custom,
        };
        let id = load.insert_customer(&c).unwrap();
        let base = ts(AS_OF);
        for j in 0..(k % 5) as i64 {
            // Ties: two events at the same instant; one exactly at as_of.
            let t = if j == 0 {
                base - 86_400
            } else {
                base - j * 7 * 86_400
            };
            for (name, value) in [
                (
                    "order",
                    Some(if j == 2 {
                        -10.0
                    } else {
                        19.99 * (k as f64 + 1.0) / 3.0
                    }),
                ),
                ("order", None),
                ("page_view", None),
            ] {
                load.insert_event(&Event {
                    customer_id: id,
                    name: name.into(),
                    time: t,
                    value,
                    category: (k % 2 == 0).then(|| "Shoes".to_string()),
                    product: Some(format!("SKU-E-{j}")),
                    properties: serde_json::json!({"items": j, "note": if k % 2 == 0 { "Gift" } else { "gift wrap" }})
                        .as_object()
                        .cloned(),
                    ..Event::default()
                })
                .unwrap();
            }
        }
        if k == 29 {
            // More events than fit the engine's short-list path.
            for j in 0..45i64 {
                load.insert_event(&Event {
                    customer_id: id,
                    name: "order".into(),
                    time: ts(AS_OF) - j * 3 * 86_400 - 7,
                    value: Some(5.0 + j as f64),
                    category: Some(if j % 2 == 0 { "Shoes" } else { "Books" }.into()),
                    ..Event::default()
                })
                .unwrap();
            }
        }
        if k % 10 == 0 {
            load.insert_event(&Event {
                customer_id: id,
                name: "order".into(),
                time: base,
                value: Some(1.0),
                properties: serde_json::json!({"items": "two"}).as_object().cloned(),
                ..Event::default()
            })
            .unwrap();
        }
    }
    load.commit().unwrap();
    path
}

/// The value of every `event` in a workspace, summed in whole cents (so
/// sums compare exactly with those the fixture scripts computed).
pub fn event_value_cents(store: &Store, event: &str) -> i64 {
    let mut cents = 0i64;
    store
        .for_each_event(|ev| {
            if ev.name == event {
                cents += (ev.value.unwrap_or(0.0) * 100.0).round() as i64;
            }
            true
        })
        .unwrap();
    cents
}

/// Imports `csv_text` as customers into `ws` (created if missing), through
/// a file written beside it; the import's report.
pub fn import_customers(ws: &Path, csv_text: &str) -> prism::ingest::ImportReport {
    let csv = ws.with_extension("customers.csv");
    std::fs::write(&csv, csv_text).unwrap();
    let opts = prism::ingest::ImportOptions {
        kind: Some(prism::ingest::Kind::Customers),
        ..Default::default()
    };
    prism::ingest::import_file(ws, &csv, &opts, &prism::progress::NoProgress).unwrap()
}

/// `(name, events, first, last)` of every event name, counted from the
/// events table itself by a connection of its own.
pub fn counted_from_events(path: &Path) -> Vec<(String, i64, i64, i64)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT name, count(*), min(time), max(time) FROM events GROUP BY name ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The same figures as the store keeps them in `event_stats`.
pub fn kept_stats(store: &Store) -> Vec<(String, i64, i64, i64)> {
    store
        .event_name_stats()
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.events, s.first, s.last))
        .collect()
}
