//! Imports of files Prism did not write: a real public transaction log (the
//! CDNOW CD shop), a CRM export with mistyped emails, look-alike customers
//! with planted near-duplicates, and exports shaped like Shopify's and
//! Mailchimp's. Counts and sums are checked against figures computed by
//! `tests/fixtures/make_fixtures.py`, independently of Prism.

use std::path::{Path, PathBuf};

use prism::engine::{Engine, parse_rule, resolve, schema_of};
use prism::ingest::{ImportOptions, Kind, auto_map, import_file, preview};
use prism::model::FieldValue;
use prism::progress::NoProgress;
use prism::store::Store;
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

fn events_options() -> ImportOptions {
    ImportOptions {
        create_missing_customers: true,
        ..ImportOptions::default()
    }
}

/// Members of a rule (its root node as JSON) in the workspace, as of a time.
fn count(ws: &Path, root: Value, as_of: &str) -> (usize, usize) {
    let store = Store::open_read_only(ws).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let schema = schema_of(&store).unwrap();
    let rule = parse_rule(&json!({"version": 1, "root": root}).to_string()).unwrap();
    let node = resolve(&rule, &schema).unwrap();
    let ev = engine
        .evaluate(&node, crate::common::ts(as_of), &NoProgress)
        .unwrap();
    (ev.members.count(), ev.reachable)
}

fn repeat_buyers() -> Value {
    json!({"type": "event", "event": "order", "aggregate": "count", "op": "at_least",
           "value": 2, "window": {"kind": "ever"}})
}

#[test]
fn a_real_transaction_log_keeps_identical_rows_and_finds_its_money_and_purchases() {
    let e = &expected()["cdnow"];
    let file = fixture("cdnow_orders.csv");
    // Detected without edits: purchases (the event `order`), the value in
    // `dollar_value`, `YYYYMMDD` dates.
    let p = preview(&file, &ImportOptions::default(), 200).unwrap();
    assert_eq!(p.kind, Kind::Events);
    assert_eq!(p.mapping.event_name.as_deref(), Some("order"));
    let value = p.mapping.column_of("value").unwrap();
    assert_eq!(p.mapping.columns[value].column, "dollar_value");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("cdnow.prism");
    let r = import_file(&ws, &file, &events_options(), &NoProgress).unwrap();
    let rows = e["rows"].as_u64().unwrap();
    assert_eq!(r.rows_read, rows);
    assert_eq!(r.inserted, rows, "{}", r.to_text());
    assert_eq!((r.merged, r.rejected), (0, 0));
    assert_eq!(r.identical_rows, e["identical_rows"].as_u64().unwrap());
    let first: Vec<u64> = r.identical.iter().take(5).map(|(row, _)| *row).collect();
    let want: Vec<u64> = e["first_identical_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(first, want);
    let text = r.to_text();
    assert!(text.contains("identical rows 255 kept"), "{text}");
    assert!(text.contains(&format!("row {} = row", want[0])), "{text}");
    assert_eq!(r.stub_customers, e["customers"].as_u64().unwrap());
    let store = Store::open_read_only(&ws).unwrap();
    assert_eq!(store.event_count().unwrap() as u64, rows);
    assert_eq!(
        crate::common::event_value_cents(&store, "order"),
        e["value_cents"].as_i64().unwrap()
    );
    drop(store);
    // The repeat-buyer segment equals the hand count.
    let (n, _) = count(&ws, repeat_buyers(), "1998-07-01");
    assert_eq!(n as u64, e["repeat_buyers"].as_u64().unwrap());
    // RFM sees the purchases.
    let (buyers, _) = count(
        &ws,
        json!({"type": "trait", "trait": "rfm_frequency", "op": "at_least", "value": 1}),
        "1998-07-01",
    );
    assert_eq!(buyers as u64, e["customers"].as_u64().unwrap());

    // The same file again: a no-op. An overlapping export (its first 2,000
    // rows, identical ones included) adds nothing.
    let again = import_file(&ws, &file, &events_options(), &NoProgress).unwrap();
    assert!(again.already_imported.is_some());
    let head: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .take(2001)
        .map(|l| format!("{l}\n"))
        .collect();
    let part = dir.path().join("cdnow_orders_head.csv");
    std::fs::write(&part, head).unwrap();
    let r = import_file(&ws, &part, &events_options(), &NoProgress).unwrap();
    assert_eq!((r.inserted, r.unchanged), (0, 2000), "{}", r.to_text());
    assert!(r.identical_rows > 0);

    // Dropping identical rows is an explicit choice.
    let ws2 = dir.path().join("dropped.prism");
    let o = ImportOptions {
        drop_identical_rows: true,
        ..events_options()
    };
    let r = import_file(&ws2, &file, &o, &NoProgress).unwrap();
    let identical = e["identical_rows"].as_u64().unwrap();
    assert_eq!((r.inserted, r.merged), (rows - identical, identical));
    assert!(r.to_text().contains("identical rows 255 dropped"));
    let (n, _) = count(&ws2, repeat_buyers(), "1998-07-01");
    assert_eq!(
        n as u64,
        e["repeat_buyers_if_identical_dropped"].as_u64().unwrap()
    );
}

#[test]
fn a_crm_export_keeps_customers_with_mistyped_emails_and_all_their_orders() {
    let e = &expected()["crm"];
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crm.prism");
    let contacts = fixture("crm_contacts.csv");
    let p = preview(&contacts, &ImportOptions::default(), 200).unwrap();
    let to: Vec<String> = p
        .mapping
        .columns
        .iter()
        .map(|c| c.target.describe())
        .collect();
    assert_eq!(
        to,
        [
            "external_id",
            "first_name",
            "last_name",
            "email",
            "phone (custom text)",
            "city",
            "postal_code (custom text)",
            "signup_at",
            "email_consent"
        ]
    );
    let r = import_file(&ws, &contacts, &ImportOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.rows_read, e["rows"].as_u64().unwrap());
    assert_eq!(
        r.inserted,
        e["customers"].as_u64().unwrap(),
        "{}",
        r.to_text()
    );
    assert_eq!(r.merged, e["exact_duplicate_rows"].as_u64().unwrap());
    assert_eq!(r.rejected, 0, "{}", r.to_text());
    // Each mistyped email is a warning (its raw text kept), not a lost
    // customer. (A mistyped row exported twice warns twice.)
    let mistyped: Vec<&str> = e["mistyped_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(r.warned >= e["mistyped_emails"].as_u64().unwrap());
    assert!(r.row_warnings.iter().all(|w| {
        w.column.as_deref() == Some("Email Address")
            && w.value.is_some()
            && w.reason.contains("imported without an email")
    }));
    assert!(r.to_text().contains("imported with a warning"));
    // Twenty-nine rows exported twice are one customer each, and distinct
    // people who share a name are not flooded into the review.
    assert!(
        r.likely_duplicate_count <= 5,
        "{} likely duplicates: {:#?}",
        r.likely_duplicate_count,
        r.likely_duplicates
    );
    let store = Store::open_read_only(&ws).unwrap();
    for id in &mistyped {
        let c = store.customer_by_external_id(id).unwrap().unwrap();
        assert_eq!(c.email, None, "{id}");
    }
    // Zip codes stay text: leading zeros are kept.
    let mut zero_led = 0;
    store
        .for_each_customer(|c| {
            if let Some(FieldValue::Text(z)) = c.custom.get("postal_code") {
                assert_eq!(z.len(), 5, "{z}");
                zero_led += usize::from(z.starts_with('0'));
            }
            true
        })
        .unwrap();
    assert!(zero_led > 0);
    drop(store);

    let orders = fixture("crm_orders.csv");
    let p = preview(&orders, &ImportOptions::default(), 200).unwrap();
    assert_eq!(p.mapping.event_name.as_deref(), Some("order"));
    let v = p.mapping.column_of("value").unwrap();
    assert_eq!(p.mapping.columns[v].column, "Order Total (USD)");
    let r = import_file(&ws, &orders, &ImportOptions::default(), &NoProgress).unwrap();
    assert_eq!(
        (r.inserted, r.rejected),
        (e["orders"].as_u64().unwrap(), 0),
        "{}",
        r.to_text()
    );
    let store = Store::open_read_only(&ws).unwrap();
    assert_eq!(
        crate::common::event_value_cents(&store, "order"),
        e["order_value_cents"].as_i64().unwrap()
    );
    drop(store);
    // The customers with a mistyped email keep their orders, and count as
    // unreachable.
    let id_in = json!({"type": "profile", "field": "external_id", "op": "in_list",
                       "value": mistyped});
    let (n, reachable) = count(
        &ws,
        json!({"type": "group", "match": "all", "children": [id_in.clone(),
              {"type": "event", "event": "order", "op": "at_least", "value": 1,
               "window": {"kind": "ever"}}]}),
        "2026-11-01",
    );
    assert_eq!(n, mistyped.len());
    assert_eq!(reachable, 0);
    let (_, reachable) = count(
        &ws,
        json!({"type": "profile", "field": "external_id", "op": "is_set"}),
        "2026-11-01",
    );
    assert_eq!(
        reachable as u64,
        e["consenting_with_valid_email"].as_u64().unwrap()
    );
    let (spent, _) = count(
        &ws,
        json!({"type": "group", "match": "all", "children": [id_in,
              {"type": "event", "event": "order", "aggregate": "sum", "op": "greater_than",
               "value": 0, "window": {"kind": "ever"}}]}),
        "2026-11-01",
    );
    assert_eq!(spent, mistyped.len());
}

#[test]
fn likely_duplicates_find_planted_near_duplicates_among_lookalikes() {
    let e = &expected()["lookalikes"];
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("people.prism");
    let r = import_file(
        &ws,
        &fixture("lookalikes.csv"),
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.inserted, e["rows"].as_u64().unwrap(), "{}", r.to_text());
    let id = |s: &str| s.split(' ').next().unwrap().to_string();
    let listed: Vec<(String, String)> = r
        .likely_duplicates
        .iter()
        .map(|d| {
            let (a, b) = (id(&d.a), id(&d.b));
            if a < b { (a, b) } else { (b, a) }
        })
        .collect();
    assert_eq!(listed.len() as u64, r.likely_duplicate_count);
    let planted: Vec<(String, String)> = e["planted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (a, b) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
            if a < b {
                (a.to_string(), b.to_string())
            } else {
                (b.to_string(), a.to_string())
            }
        })
        .collect();
    let found = planted.iter().filter(|p| listed.contains(p)).count();
    let true_listed = listed.iter().filter(|p| planted.contains(p)).count();
    let precision = true_listed as f64 / listed.len().max(1) as f64;
    let recall = found as f64 / planted.len() as f64;
    eprintln!(
        "likely duplicates: {} listed, {} planted; precision = {precision:.3}, recall = {recall:.3}",
        listed.len(),
        planted.len()
    );
    let missed: Vec<_> = planted.iter().filter(|p| !listed.contains(p)).collect();
    assert!(recall >= 0.9, "missed {missed:?}");
    assert!(precision >= 0.9, "{:#?}", r.likely_duplicates);
    // Ranked: scores never rise down the list, and each says why.
    assert!(
        r.likely_duplicates
            .windows(2)
            .all(|w| w[0].score >= w[1].score)
    );
    assert!(
        r.likely_duplicates
            .iter()
            .all(|d| d.why.contains("same name"))
    );
}

/// `(kind, header, sample values, where it should go)`.
const HEADERS: &[(Kind, &str, &[&str], &str)] = &[
    (Kind::Customers, "Date Joined", &["2024-01-02"], "signup_at"),
    (
        Kind::Customers,
        "Customer Since",
        &["2024-01-02"],
        "signup_at",
    ),
    (
        Kind::Customers,
        "OPTIN_TIME",
        &["2024-01-02 10:00:00"],
        "signup_at",
    ),
    (
        Kind::Customers,
        "Accepts Email Marketing",
        &["yes"],
        "email_consent",
    ),
    (Kind::Customers, "Email Opt-In", &["no"], "email_consent"),
    (
        Kind::Customers,
        "Marketing Opt In",
        &["true"],
        "email_consent",
    ),
    (Kind::Customers, "E-Mail Address", &["a@x.com"], "email"),
    (Kind::Customers, "Customer Email", &["a@x.com"], "email"),
    (Kind::Customers, "Contact ID", &["C1"], "external_id"),
    (Kind::Customers, "Given Name", &["Ann"], "first_name"),
    (Kind::Customers, "Vorname", &["Anna"], "first_name"),
    (Kind::Customers, "Surname", &["Lee"], "last_name"),
    (Kind::Customers, "Billing Last Name", &["Lee"], "last_name"),
    (Kind::Customers, "DOB", &["1990-05-01"], "birth_date"),
    (Kind::Customers, "Default Address City", &["Oslo"], "city"),
    (Kind::Customers, "Billing City", &["Oslo"], "city"),
    (
        Kind::Customers,
        "Default Address Country Code",
        &["NO"],
        "country",
    ),
    (Kind::Customers, "CC", &["DE"], "country"),
    (Kind::Customers, "Sex", &["f"], "gender"),
    (
        Kind::Customers,
        "Mobile",
        &["+47 912 34 567"],
        "phone (custom text)",
    ),
    (
        Kind::Customers,
        "Phone Number",
        &["555-0100"],
        "phone (custom text)",
    ),
    (
        Kind::Customers,
        "Zip",
        &["02134"],
        "postal_code (custom text)",
    ),
    (
        Kind::Customers,
        "Postcode",
        &["LS1 4AP"],
        "postal_code (custom text)",
    ),
    (
        Kind::Customers,
        "Province Code",
        &["ON"],
        "region (custom text)",
    ),
    (Kind::Events, "dollar_value", &["11.77"], "value"),
    (Kind::Events, "Total ($)", &["12.00"], "value"),
    (Kind::Events, "Betrag", &["12,50"], "value"),
    (Kind::Events, "Umsatz (EUR)", &["12,50"], "value"),
    (Kind::Events, "montant", &["9.99"], "value"),
    (Kind::Events, "Order Total", &["9.99"], "value"),
    (Kind::Events, "ORDER_AMOUNT", &["9.99"], "value"),
    (Kind::Events, "Revenue", &["100"], "value"),
    (Kind::Events, "Sales", &["100"], "value"),
    (Kind::Events, "Total Price", &["19.90"], "value"),
    (Kind::Events, "Spend", &["19.90"], "value"),
    (Kind::Events, "Purchase Date", &["2024-01-02"], "time"),
    (Kind::Events, "Order Number", &["1001"], "event_id"),
    (Kind::Events, "Invoice No", &["INV-1"], "event_id"),
    (Kind::Events, "SKU", &["A-1"], "product"),
    (Kind::Events, "utm_campaign", &["spring"], "campaign"),
];

#[test]
fn header_synonyms_land_on_the_built_in_fields_and_the_value() {
    assert!(HEADERS.len() >= 30);
    let mut wrong = Vec::new();
    for (kind, header, values, want) in HEADERS {
        let headers = vec![header.to_string()];
        let sample: Vec<Vec<Option<String>>> =
            values.iter().map(|v| vec![Some(v.to_string())]).collect();
        let m = auto_map(*kind, &headers, &sample, None);
        let got = m.columns[0].target.describe();
        if got != *want {
            wrong.push(format!("{kind} {header:?}: {got}, not {want}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Counts are not money, whatever their numbers.
    let m = auto_map(
        Kind::Events,
        &["number_of_cds".to_string()],
        &[vec![Some("2".into())]],
        None,
    );
    assert_eq!(
        m.columns[0].target.describe(),
        "number_of_cds (custom number)"
    );
}

#[test]
fn the_money_column_is_found_by_content_and_its_absence_is_warned() {
    let dir = tempfile::tempdir().unwrap();
    // No money word in the header, but currency symbols in every cell.
    let f = dir.path().join("purchases.csv");
    std::fs::write(
        &f,
        "customer_id,date,x\nA1,2026-10-01,$12.50\nA2,2026-10-02,\"$1,204.00\"\n",
    )
    .unwrap();
    let p = preview(&f, &ImportOptions::default(), 200).unwrap();
    assert_eq!(p.mapping.event_name.as_deref(), Some("order"));
    assert_eq!(p.mapping.column_of("value"), Some(2));
    // Orders with only a count: the import goes ahead, and says what spend
    // conditions will miss and which column might be the amount.
    let f = dir.path().join("orders_2026_11.csv");
    std::fs::write(
        &f,
        "customer_id,date,qty\nA1,2026-10-01,2\nA2,2026-10-02,1\n",
    )
    .unwrap();
    let p = preview(&f, &ImportOptions::default(), 200).unwrap();
    assert_eq!(p.mapping.column_of("value"), None);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("no value column") && p.warnings[0].contains("\"qty\""));
    let ws = dir.path().join("w.prism");
    let r = import_file(&ws, &f, &events_options(), &NoProgress).unwrap();
    assert!(
        r.to_text()
            .contains("warning: these orders have no value column")
    );
    // Other events keep the name of their file.
    let f = dir.path().join("page_views.csv");
    std::fs::write(&f, "customer_id,time,url\nA1,2026-10-01,/x\n").unwrap();
    let p = preview(&f, &ImportOptions::default(), 200).unwrap();
    assert_eq!(p.mapping.event_name.as_deref(), Some("page_view"));
    assert!(p.warnings.is_empty());
    // A file named for nothing, with an order id: purchases.
    let f = dir.path().join("export.csv");
    std::fs::write(&f, "order_id,customer_id,date\nO1,A1,2026-10-01\n").unwrap();
    let p = preview(&f, &ImportOptions::default(), 200).unwrap();
    assert_eq!(p.mapping.event_name.as_deref(), Some("order"));
}

#[test]
fn the_workspace_names_its_purchase_event_and_traits_follow_it() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("w.prism");
    let f = dir.path().join("log.csv");
    std::fs::write(
        &f,
        "customer_id,time,amount\nA1,2026-10-01,10\nA1,2026-10-05,20\nA2,2026-10-02,5\n",
    )
    .unwrap();
    let o = ImportOptions {
        event_name: Some("purchase".into()),
        kind: Some(Kind::Events),
        ..events_options()
    };
    import_file(&ws, &f, &o, &NoProgress).unwrap();
    let frequent = json!({"type": "trait", "trait": "rfm_frequency", "op": "at_least", "value": 2});
    assert_eq!(count(&ws, frequent.clone(), "2026-11-01").0, 0);
    let mut store = Store::open(&ws).unwrap();
    assert_eq!(store.purchase_event().unwrap(), "order");
    store.set_purchase_event("purchase").unwrap();
    assert_eq!(store.info().unwrap().purchase_event, "purchase");
    drop(store);
    assert_eq!(count(&ws, frequent.clone(), "2026-11-01").0, 1);
    // The SQL compiler reads the same event, and SQLite agrees.
    let store = Store::open_read_only(&ws).unwrap();
    let schema = schema_of(&store).unwrap();
    let rule = parse_rule(&json!({"version": 1, "root": frequent}).to_string()).unwrap();
    let node = resolve(&rule, &schema).unwrap();
    let q = prism::engine::sql::compile(
        &node,
        crate::common::ts("2026-11-01"),
        prism::engine::sql::Dialect::Sqlite,
    );
    assert!(q.inline().contains("'purchase'"), "{}", q.inline());
}
