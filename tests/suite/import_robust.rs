//! Files written by other tools (openpyxl, pyarrow, a Mailchimp- and a
//! Shopify-shaped export, JSON Lines), and damaged ones: truncated,
//! bit-flipped, a column's type changed, a zip bomb, and byte-level mutation
//! fuzzing of every reader and of rule JSON. Nothing may panic, and a
//! refused file leaves the workspace as it was.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use prism::engine::{parse_rule, resolve, schema_of};
use prism::ingest::{ImportOptions, Kind, import_file, preview};
use prism::model::FieldValue;
use prism::progress::NoProgress;
use prism::store::Store;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("foreign_expected.json")).unwrap())
        .unwrap()
}

fn create_missing() -> ImportOptions {
    ImportOptions {
        create_missing_customers: true,
        ..ImportOptions::default()
    }
}

/// A workspace holding the CRM fixture's customers, to refuse files into.
fn crm_workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("w.prism");
    import_file(
        &ws,
        &fixture("crm_contacts.csv"),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    ws
}

/// What must not change when an import is refused.
fn state(ws: &Path) -> (i64, i64, i64, usize) {
    let s = Store::open_read_only(ws).unwrap();
    (
        s.data_version().unwrap(),
        s.customer_count().unwrap(),
        s.event_count().unwrap(),
        s.imports().unwrap().len(),
    )
}

#[test]
fn a_shopify_export_saved_by_openpyxl_maps_and_sums() {
    let e = &expected()["shopify"];
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("w.prism");
    let f = fixture("shopify_customers.xlsx");
    let p = preview(&f, &ImportOptions::default(), 200).unwrap();
    let get = |col: &str| {
        p.mapping
            .columns
            .iter()
            .find(|c| c.column == col)
            .unwrap()
            .target
            .describe()
    };
    assert_eq!(get("Customer ID"), "external_id");
    assert_eq!(get("Accepts Email Marketing"), "email_consent");
    assert_eq!(get("Default Address City"), "city");
    assert_eq!(get("Default Address Country Code"), "country");
    assert_eq!(get("Default Address Zip"), "postal_code (custom text)");
    assert_eq!(get("Default Address Province Code"), "region (custom text)");
    assert_eq!(get("Phone"), "phone (custom text)");
    let r = import_file(&ws, &f, &ImportOptions::default(), &NoProgress).unwrap();
    assert_eq!(
        (r.inserted, r.rejected),
        (e["rows"].as_u64().unwrap(), 0),
        "{}",
        r.to_text()
    );
    let store = Store::open_read_only(&ws).unwrap();
    let (mut spent, mut consenting) = (0i64, 0u64);
    store
        .for_each_customer(|c| {
            if let Some(FieldValue::Number(x)) = c.custom.get("total_spent") {
                spent += (x * 100.0).round() as i64;
            }
            consenting += u64::from(c.email_consent);
            true
        })
        .unwrap();
    assert_eq!(spent, e["spent_cents"].as_i64().unwrap());
    assert_eq!(consenting, e["consenting"].as_u64().unwrap());
}

#[test]
fn parquet_from_pyarrow_mailchimp_and_json_lines_import_with_their_sums() {
    let e = expected();
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("w.prism");
    let r = import_file(
        &ws,
        &fixture("cdnow_orders.parquet"),
        &create_missing(),
        &NoProgress,
    )
    .unwrap();
    let rows = e["cdnow_parquet"]["rows"].as_u64().unwrap();
    assert_eq!((r.rows_read, r.inserted), (rows, rows), "{}", r.to_text());
    assert_eq!(r.identical_rows, 255);
    let store = Store::open_read_only(&ws).unwrap();
    let cents = crate::common::event_value_cents(&store, "order");
    assert_eq!(cents, e["cdnow_parquet"]["value_cents"].as_i64().unwrap());
    drop(store);

    // The value column's type changed to text: numbers in it still read,
    // and the cells that are not numbers are rejected by row and column.
    let ws2 = dir.path().join("w2.prism");
    let r = import_file(
        &ws2,
        &fixture("cdnow_orders_text_value.parquet"),
        &create_missing(),
        &NoProgress,
    )
    .unwrap();
    let bad = e["cdnow_parquet"]["text_value_not_numbers"]
        .as_u64()
        .unwrap();
    assert_eq!(r.rejected, bad, "{}", r.to_text());
    assert_eq!(r.inserted, 5000 - bad);
    assert!(
        r.rejects
            .iter()
            .all(|x| x.column.as_deref() == Some("dollar_value") && x.reason == "not a number")
    );

    let r = import_file(
        &ws,
        &fixture("mailchimp_subscribed.csv"),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.inserted, e["mailchimp"]["rows"].as_u64().unwrap());
    assert_eq!(r.key, "email");
    let store = Store::open_read_only(&ws).unwrap();
    let c = store
        .customer_by_external_id("reader7@news.example")
        .unwrap()
        .unwrap();
    assert_eq!(c.country.as_deref(), Some("GB"));
    assert!(c.signup_at.is_some());
    assert!(matches!(c.custom.get("phone"), Some(FieldValue::Text(t)) if t.starts_with("+44")));
    drop(store);

    let r = import_file(
        &ws,
        &fixture("web_events.jsonl"),
        &create_missing(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.inserted, e["jsonl"]["rows"].as_u64().unwrap());
    let store = Store::open_read_only(&ws).unwrap();
    let cents = crate::common::event_value_cents(&store, "add_to_cart");
    assert_eq!(cents, e["jsonl"]["cart_value_cents"].as_i64().unwrap());
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_inflated() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crm_workspace(dir.path());
    let before = state(&ws);
    let t = Instant::now();
    let err = import_file(
        &ws,
        &fixture("zip_bomb.xlsx"),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("zip_bomb.xlsx") && err.contains("zip bomb"),
        "{err}"
    );
    eprintln!("zip bomb refused in {:?}", t.elapsed());
    assert_eq!(state(&ws), before);
}

/// A tiny deterministic generator for the mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `data`: bits flipped, bytes overwritten with
/// interesting values, a run deleted or duplicated, or the tail cut.
fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        if d.is_empty() {
            break;
        }
        let at = rng.below(d.len());
        match rng.below(6) {
            0 => d[at] ^= 1 << rng.below(8),
            1 => d[at] = [0, 0xFF, b'"', b',', b'\n', b'{', 0x7F, b'9'][rng.below(8)],
            2 => {
                let end = (at + 1 + rng.below(64)).min(d.len());
                d.drain(at..end);
            }
            3 => {
                let end = (at + 1 + rng.below(64)).min(d.len());
                let run = d[at..end].to_vec();
                d.splice(at..at, run);
            }
            4 => d.truncate(at),
            _ => {
                let v = (rng.next() as u32).to_le_bytes();
                for (k, b) in v.iter().enumerate() {
                    if let Some(x) = d.get_mut(at + k) {
                        *x = *b;
                    }
                }
            }
        }
    }
    d
}

fn head_lines(path: &Path, n: usize) -> Vec<u8> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .take(n)
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Imports `cases` mutations of each reader's fixture into one workspace;
/// nothing may panic, and every refusal leaves the workspace as it was.
/// Returns (executions, seconds).
fn fuzz_readers(cases: usize) -> (usize, f64) {
    let dir = tempfile::tempdir().unwrap();
    let ws = crm_workspace(dir.path());
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("contacts.csv", head_lines(&fixture("crm_contacts.csv"), 40)),
        ("orders.csv", head_lines(&fixture("crm_orders.csv"), 40)),
        ("events.jsonl", head_lines(&fixture("web_events.jsonl"), 40)),
        (
            "orders.parquet",
            std::fs::read(fixture("cdnow_orders_text_value.parquet")).unwrap(),
        ),
        (
            "customers.xlsx",
            std::fs::read(fixture("shopify_customers.xlsx")).unwrap(),
        ),
    ];
    let started = Instant::now();
    let mut runs = 0;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for (name, seed) in &seeds {
        for case in 0..cases {
            let data = mutate(&mut rng, seed);
            let file = dir.path().join(name);
            std::fs::write(&file, &data).unwrap();
            let before = state(&ws);
            let options = ImportOptions {
                kind: name.contains("orders").then_some(Kind::Events),
                ..create_missing()
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let _ = preview(&file, &options, 50);
                import_file(&ws, &file, &options, &NoProgress)
            }));
            runs += 1;
            match outcome {
                Err(_) => {
                    let keep = std::env::temp_dir().join(format!("prism-fuzz-{case}-{name}"));
                    std::fs::write(&keep, &data).unwrap();
                    panic!(
                        "{name} case {case}: a panic; the input is in {}",
                        keep.display()
                    );
                }
                Ok(Err(e)) => {
                    assert!(!e.to_string().is_empty());
                    assert_eq!(state(&ws), before, "{name} case {case}: {e}");
                }
                Ok(Ok(_)) => {}
            }
        }
    }
    (runs, started.elapsed().as_secs_f64())
}

#[test]
fn mutated_files_of_every_format_never_panic_and_refusals_change_nothing() {
    let (runs, secs) = fuzz_readers(100);
    eprintln!("reader fuzzing: {runs} executions in {secs:.1} s");
}

#[test]
#[ignore = "long: PRISM_FUZZ_CASES mutations per reader (cargo test -- --ignored)"]
fn mutated_files_long_run() {
    let cases = std::env::var("PRISM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let (runs, secs) = fuzz_readers(cases);
    eprintln!("reader fuzzing: {runs} executions in {secs:.1} s");
}

fn fuzz_rules(cases: usize) -> (usize, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::common::tiny_workspace(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let schema = schema_of(&store).unwrap();
    let all: Value = serde_json::from_str(include_str!("../data/rule_cases.json")).unwrap();
    let seeds: Vec<String> = all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!({"version": 1, "root": c["rule"]}).to_string())
        .collect();
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0;
    for case in 0..cases {
        let seed = &seeds[case % seeds.len()];
        let data = mutate(&mut rng, seed.as_bytes());
        let text = String::from_utf8_lossy(&data).into_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(rule) = parse_rule(&text) {
                let _ = resolve(&rule, &schema);
            }
        }));
        runs += 1;
        assert!(outcome.is_ok(), "rule JSON case {case} panicked: {text}");
    }
    (runs, started.elapsed().as_secs_f64())
}

#[test]
fn mutated_rule_json_never_panics() {
    let (runs, secs) = fuzz_rules(20_000);
    eprintln!("rule JSON fuzzing: {runs} executions in {secs:.1} s");
}

#[test]
#[ignore = "long: 200,000 rule mutations (cargo test -- --ignored)"]
fn mutated_rule_json_long_run() {
    let (runs, secs) = fuzz_rules(200_000);
    eprintln!("rule JSON fuzzing: {runs} executions in {secs:.1} s");
}

#[test]
fn truncated_and_bit_flipped_workbooks_and_parquet_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crm_workspace(dir.path());
    for name in ["shopify_customers.xlsx", "cdnow_orders_text_value.parquet"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let ext = name.rsplit('.').next().unwrap();
        let cut = dir.path().join(format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let before = state(&ws);
        let err = import_file(&ws, &cut, &create_missing(), &NoProgress).unwrap_err();
        assert!(err.to_string().contains(&format!("cut.{ext}")), "{err}");
        assert_eq!(state(&ws), before);
        // Flip one bit in the middle of the data, at several places.
        for k in 1..8 {
            let mut flipped = bytes.clone();
            let at = bytes.len() * k / 8;
            flipped[at] ^= 0x10;
            let f = dir.path().join(format!("flipped.{ext}"));
            std::fs::write(&f, &flipped).unwrap();
            let before = state(&ws);
            match import_file(&ws, &f, &create_missing(), &NoProgress) {
                Ok(_) => {}
                Err(e) => {
                    assert!(e.to_string().contains(&format!("flipped.{ext}")), "{e}");
                    assert_eq!(state(&ws), before);
                }
            }
        }
    }
}
