//! The workspace store on real SQLite files in temporary folders.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use prism::ingest::ImportReport;
use prism::model::{Campaign, Customer, Event, FieldType, FieldValue, Product, Template};
use prism::store::schema::{APPLICATION_ID, CURRENT_VERSION};
use prism::store::{Store, StoreError};
use sha2::{Digest, Sha256};

fn digest(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

fn sidecars_absent(path: &Path) -> bool {
    ["-wal", "-shm", "-journal"].iter().all(|s| {
        let mut p = path.as_os_str().to_owned();
        p.push(s);
        !Path::new(&p).exists()
    })
}

#[test]
fn a_new_workspace_is_migrated_to_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.prism");
    let store = Store::create(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    assert!(store.integrity_ok().unwrap());
    let stats = store.table_stats().unwrap();
    assert!(stats.iter().any(|t| t.name == "customers" && t.rows == 0));
    assert!(stats.iter().any(|t| t.name == "events" && t.rows == 0));
    assert_eq!(store.name().unwrap(), "w");
    drop(store);

    // Reopening finds the same workspace and does not migrate again.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    assert_eq!(store.event_range().unwrap(), None);
    drop(store);

    // Creating over an existing file is refused.
    assert!(matches!(
        Store::create(&path),
        Err(StoreError::AlreadyExists { .. })
    ));
}

fn sample_customer(external_id: &str) -> Customer {
    let mut custom = BTreeMap::new();
    custom.insert("tier".to_string(), FieldValue::Text("gold".into()));
    custom.insert("points".to_string(), FieldValue::Number(120.5));
    custom.insert("vip".to_string(), FieldValue::Bool(true));
    Customer {
        id: 0,
        external_id: external_id.into(),
        email: Some(format!("{}@example.com", external_id.to_lowercase())),
        first_name: Some("Ada".into()),
        last_name: Some("O'Neil".into()),
        birth_date: NaiveDate::from_ymd_opt(1990, 2, 28),
        gender: Some("female".into()),
        city: Some("Berlin".into()),
        country: Some("DE".into()),
        signup_at: Some(1_700_000_000),
        email_consent: true,
        custom,
    }
}

#[test]
fn every_table_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.prism");
    let mut store = Store::create(&path).unwrap();
    store
        .add_custom_field("tier", FieldType::Text, "Tier")
        .unwrap();
    store
        .add_custom_field("points", FieldType::Number, "Points")
        .unwrap();
    store
        .add_custom_field("vip", FieldType::Bool, "VIP")
        .unwrap();
    // Re-adding with the same type is fine, another type is not, and
    // built-in or malformed names are refused.
    store
        .add_custom_field("tier", FieldType::Text, "Tier")
        .unwrap();
    assert!(
        store
            .add_custom_field("tier", FieldType::Number, "x")
            .is_err()
    );
    assert!(
        store
            .add_custom_field("email", FieldType::Text, "x")
            .is_err()
    );
    assert!(
        store
            .add_custom_field("x; DROP TABLE customers", FieldType::Text, "x")
            .is_err()
    );

    let template = Template {
        id: 0,
        name: "Newsletter".into(),
        subject: "Hi {{first_name}}".into(),
        preheader: "p".into(),
        body: "<p>b</p>".into(),
        updated_at: 5,
        ..Template::default()
    };
    let product = Product {
        sku: "SKU-1".into(),
        name: "Mug".into(),
        category: Some("Kitchen".into()),
        price: Some(9.99),
    };
    let campaign = Campaign {
        id: "CMP-1".into(),
        name: "Launch".into(),
        subject: Some("Hello".into()),
        sent_at: Some(1_700_000_100),
        template_id: None,
    };
    let mut event = Event {
        id: 0,
        customer_id: 0,
        name: "order".into(),
        time: 1_700_000_200,
        value: Some(42.5),
        product: Some("SKU-1".into()),
        category: Some("Kitchen".into()),
        campaign: Some("CMP-1".into()),
        properties: serde_json::json!({"order_id": "O1", "items": 2})
            .as_object()
            .cloned(),
    };
    let (a_id, b_id);
    {
        let mut load = store.bulk_load(true).unwrap();
        let tid = load.insert_template(&template).unwrap();
        load.insert_product(&product).unwrap();
        load.insert_campaign(&Campaign {
            template_id: Some(tid),
            ..campaign.clone()
        })
        .unwrap();
        a_id = load.insert_customer(&sample_customer("C1")).unwrap();
        let mut bare = Customer {
            external_id: "C2".into(),
            ..Customer::default()
        };
        bare.email_consent = false;
        b_id = load.insert_customer(&bare).unwrap();
        event.customer_id = a_id;
        load.insert_event(&event).unwrap();
        load.commit().unwrap();
    }
    drop(store);

    let store = Store::open(&path).unwrap();
    let a = store.customer(a_id).unwrap().unwrap();
    assert_eq!(
        a,
        Customer {
            id: a_id,
            ..sample_customer("C1")
        }
    );
    let b = store.customer_by_external_id("C2").unwrap().unwrap();
    assert_eq!(b.id, b_id);
    assert_eq!(b.email, None);
    assert_eq!(b.custom.get("tier"), Some(&FieldValue::Null));
    let events = store.customer_events(a_id).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0],
        Event {
            id: events[0].id,
            ..event.clone()
        }
    );
    assert_eq!(store.products().unwrap(), vec![product]);
    let campaigns = store.campaigns().unwrap();
    assert_eq!(campaigns[0].name, "Launch");
    assert!(campaigns[0].template_id.is_some());
    let templates = store.templates().unwrap();
    assert_eq!(templates[0].subject, template.subject);
    assert_eq!(store.event_range().unwrap(), Some((event.time, event.time)));
    assert_eq!(store.event_names().unwrap(), vec!["order".to_string()]);
    assert_eq!(store.data_version().unwrap(), 1);
    let fields = store.customer_fields().unwrap();
    assert!(fields.iter().any(|f| f.name == "points" && f.custom));

    // Segments and versions.
    let rule = r#"{"version":1,"root":{"all":[]}}"#;
    let id = store
        .save_segment(&prism::model::SegmentRecord {
            name: "VIP".into(),
            color: "#aa3366".into(),
            rule: rule.into(),
            ..Default::default()
        })
        .unwrap();
    let seg = store.segment(id).unwrap().unwrap();
    assert_eq!(seg.rule, rule);
    assert_eq!(seg.priority, 1);
    let v = store
        .add_segment_version(id, rule, Some(12), None, "first")
        .unwrap();
    assert_eq!(v.version, 1);
    let v2 = store
        .add_segment_version(id, rule, Some(13), None, "")
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        store.segment_versions(id).unwrap()[0].member_count,
        Some(13)
    );
    // Names are unique; rules must be JSON.
    assert!(
        store
            .save_segment(&prism::model::SegmentRecord {
                name: "VIP".into(),
                rule: rule.into(),
                ..Default::default()
            })
            .is_err()
    );
    assert!(
        store
            .save_segment(&prism::model::SegmentRecord {
                name: "Other".into(),
                rule: "{not json".into(),
                ..Default::default()
            })
            .is_err()
    );
    assert!(store.delete_segment(id).unwrap());
    assert!(store.segment_versions(id).unwrap().is_empty());

    // Imports audit log.
    let rec = prism::model::ImportRecord {
        started_at: 1,
        file_name: "customers.csv".into(),
        file_hash: "abc".into(),
        kind: "customers".into(),
        status: "ok".into(),
        rows_read: 2,
        inserted: 2,
        report: "{}".into(),
        ..Default::default()
    };
    let rid = store.record_import(&rec).unwrap();
    assert_eq!(
        store.imports().unwrap(),
        vec![prism::model::ImportRecord { id: rid, ..rec }]
    );

    // Browsing pages of a table.
    let page = store.table_page("customers", 1, 10).unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.first_row, 1);
    assert!(
        page.columns
            .iter()
            .any(|c| c.name == "signup_at" && c.is_timestamp)
    );
    assert!(store.table_page("sqlite_master", 0, 10).is_err());
}

#[test]
fn a_failed_bulk_load_leaves_the_workspace_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.prism");
    let mut store = Store::create(&path).unwrap();
    {
        let mut load = store.bulk_load(true).unwrap();
        load.insert_customer(&sample_customer("C1")).unwrap();
        load.commit().unwrap();
    }
    {
        let mut load = store.bulk_load(true).unwrap();
        load.insert_customer(&sample_customer("C2")).unwrap();
        // The same key again violates UNIQUE: the load fails and is dropped.
        assert!(load.insert_customer(&sample_customer("C2")).is_err());
    }
    assert_eq!(store.customer_count().unwrap(), 1);
    assert_eq!(store.data_version().unwrap(), 1);
    // The events indexes dropped for the failed load are still there.
    let page = store.table_page("events", 0, 1).unwrap();
    assert!(page.rows.is_empty());
    assert!(store.integrity_ok().unwrap());
}

fn assert_refused_untouched(path: &Path, check: impl Fn(&StoreError) -> bool) {
    let before = digest(path);
    let had_sidecars = !sidecars_absent(path);
    let err = Store::open(path).unwrap_err();
    assert!(check(&err), "unexpected error: {err}");
    assert!(err.is_bad_file());
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "the message names the file: {err}"
    );
    assert_eq!(digest(path), before, "the file was modified");
    if !had_sidecars {
        assert!(sidecars_absent(path), "sidecar files were left behind");
    }
    // Read-only opening refuses the same way.
    assert!(Store::open_read_only(path).is_err());
    assert_eq!(digest(path), before);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.prism");
    std::fs::write(&text, "customer_id,email\nC1,a@example.com\n".repeat(20)).unwrap();
    assert_refused_untouched(&text, |e| matches!(e, StoreError::NotSqlite { .. }));

    let short = dir.path().join("short.prism");
    std::fs::write(&short, b"SQLite format 3\0").unwrap();
    assert_refused_untouched(&short, |e| matches!(e, StoreError::NotSqlite { .. }));

    let empty = dir.path().join("empty.prism");
    std::fs::write(&empty, b"").unwrap();
    assert_refused_untouched(&empty, |e| matches!(e, StoreError::NotWorkspace { .. }));

    // A SQLite header followed by garbage.
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8192u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let garbage = dir.path().join("garbage.prism");
    std::fs::write(&garbage, &bytes).unwrap();
    assert_refused_untouched(&garbage, |e| matches!(e, StoreError::NotSqlite { .. }));

    let missing = dir.path().join("missing.prism");
    assert!(matches!(
        Store::open(&missing),
        Err(StoreError::NotFound { .. })
    ));
    assert!(!missing.exists());
}

#[test]
fn a_sqlite_database_that_is_not_a_workspace_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT);
             INSERT INTO accounts(owner) VALUES ('someone');",
        )
        .unwrap();
    }
    assert_refused_untouched(
        &path,
        |e| matches!(e, StoreError::NotWorkspace { detail, .. } if detail.contains("accounts")),
    );
}

#[test]
fn a_workspace_from_a_newer_prism_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.prism");
    drop(Store::create(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app_id, APPLICATION_ID);
    }
    assert_refused_untouched(
        &path,
        |e| matches!(e, StoreError::TooNew { found, .. } if *found == CURRENT_VERSION + 1),
    );
}

#[test]
fn save_as_writes_a_consistent_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.prism");
    let mut store = Store::create(&path).unwrap();
    {
        let mut load = store.bulk_load(false).unwrap();
        load.insert_customer(&sample_customer("C1")).unwrap();
        load.commit().unwrap();
    }
    drop(store);
    let copy = dir.path().join("b.prism");
    let info = prism::app::workspace::save_workspace_as(&path, &copy).unwrap();
    assert_eq!(info.name, "b");
    assert_eq!(
        info.tables
            .iter()
            .find(|t| t.name == "customers")
            .unwrap()
            .rows,
        1
    );
    // Saving over an existing file is refused.
    assert!(prism::app::workspace::save_workspace_as(&path, &copy).is_err());
}

use crate::common::{counted_from_events, kept_stats};

fn index_names(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_schema_4_workspace_reads_alike_before_and_after_its_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::common::tiny_workspace(dir.path());
    let want = counted_from_events(&path);
    assert!(want.len() >= 3, "{want:?}");
    // Take it back to schema 4: no event_stats, no audit log, no personal
    // fields, a (name, time) index.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE event_stats;
             DROP TABLE audit_log;
             DROP TABLE pii_fields;
             INSERT INTO imports(started_at, file_name, file_hash, file_size, kind, status, rows_read)
                 VALUES (1700000000, 'crm.csv', 'abc', 10, 'customers', 'ok', 3),
                        (1700000100, 'bad.csv', 'def', 10, 'customers', 'failed', 0);
             CREATE INDEX events_name_time ON events(name, time);
             PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    // Read-only opens do not migrate, and count from the events.
    let ro = Store::open_read_only(&path).unwrap();
    assert_eq!(ro.schema_version().unwrap(), 4);
    assert_eq!(kept_stats(&ro), want);
    let range = ro.event_range().unwrap().unwrap();
    drop(ro);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    assert_eq!(kept_stats(&store), want);
    assert_eq!(store.event_range().unwrap(), Some(range));
    assert_eq!(
        range,
        (
            want.iter().map(|w| w.2).min().unwrap(),
            want.iter().map(|w| w.3).max().unwrap()
        )
    );
    assert!(!index_names(&path).contains(&"events_name_time".to_string()));
    // Its imports are in the audit log, by an unknown user.
    let log = store.audit_log().unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (log[0].at, log[0].action.as_str(), log[0].user.as_str()),
        (1700000000, "import", "")
    );
    assert!(
        log[0].detail.contains("\"file\":\"crm.csv\""),
        "{}",
        log[0].detail
    );
}

#[test]
fn event_stats_follow_every_load_and_a_failed_load_leaves_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.prism");
    let mut store = Store::create(&path).unwrap();
    let ev = |customer_id: i64, name: &str, time: i64| prism::store::NewEvent {
        customer_id,
        name: name.into(),
        time,
        ..Default::default()
    };
    // A first load: both tables empty, so their lookup indexes are dropped,
    // to be built only once a query needs them.
    {
        let mut load = store.bulk_load(true).unwrap();
        let a = load.insert_customer(&sample_customer("A")).unwrap();
        let b = load.insert_customer(&sample_customer("B")).unwrap();
        load.insert_events(&[ev(a, "open", 100), ev(b, "open", 50), ev(a, "order", 300)])
            .unwrap();
        load.commit().unwrap();
    }
    store.end_bulk_load().unwrap();
    assert_eq!(
        index_names(&path),
        vec!["events_source_key".to_string(), "imports_hash".to_string()]
    );
    assert_eq!(kept_stats(&store), counted_from_events(&path));
    assert_eq!(
        kept_stats(&store),
        vec![("open".into(), 2, 50, 100), ("order".into(), 1, 300, 300)]
    );
    // A later load adds to them; keyed events that move in time are
    // counted again (the oldest order moves after the newest).
    {
        let mut load = store.bulk_load(false).unwrap();
        load.insert_events(&[ev(1, "open", 10), ev(2, "click", 70)])
            .unwrap();
        load.write_keyed_event(&ev(1, "order", 200), "O1").unwrap();
        load.write_keyed_event(&ev(2, "order", 250), "O2").unwrap();
        load.commit().unwrap();
    }
    assert_eq!(kept_stats(&store), counted_from_events(&path));
    {
        let mut load = store.bulk_load(false).unwrap();
        load.write_keyed_event(&ev(1, "order", 400), "O1").unwrap();
        load.commit().unwrap();
    }
    assert_eq!(kept_stats(&store), counted_from_events(&path));
    assert_eq!(
        kept_stats(&store).iter().find(|s| s.0 == "order").unwrap(),
        &("order".to_string(), 3, 250, 400)
    );
    // A load given up on changes nothing.
    let before = kept_stats(&store);
    {
        let mut load = store.bulk_load(false).unwrap();
        load.insert_events(&[ev(1, "open", 1), ev(1, "refund", 5)])
            .unwrap();
        load.rollback().unwrap();
    }
    assert_eq!(kept_stats(&store), before);
    assert_eq!(kept_stats(&store), counted_from_events(&path));
}

/// An events CSV of `rows` (customer, event, timestamp, value) imported
/// into `ws`; the import's report.
fn import_events(ws: &Path, name: &str, rows: &[(&str, &str, &str, &str)]) -> ImportReport {
    let csv = ws.with_file_name(name);
    let mut text = String::from("customer_id,event,timestamp,value\n");
    for (c, e, t, v) in rows {
        text.push_str(&format!("{c},{e},{t},{v}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let opts = prism::ingest::ImportOptions {
        kind: Some(prism::ingest::Kind::Events),
        ..Default::default()
    };
    prism::ingest::import_file(ws, &csv, &opts, &prism::progress::NoProgress).unwrap()
}

#[test]
fn the_customer_events_index_is_built_the_first_time_a_query_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("w.prism");
    crate::common::import_customers(
        &ws,
        "customer_id,email\nA,a@example.com\nB,b@example.com\nC,c@example.com\n",
    );
    let has = |name: &str| index_names(&ws).contains(&name.to_string());
    // A first load of events leaves the index out.
    let first = [
        ("A", "order", "2026-01-05T10:00:00Z", "20"),
        ("B", "order", "2026-01-06T10:00:00Z", "35"),
        ("A", "order", "2026-01-05T10:00:00Z", "20"),
    ];
    let r = import_events(&ws, "orders.csv", &first);
    assert_eq!(r.inserted, 3);
    assert!(!has("events_customer_name_time"));
    // Events of a name the workspace lacks need no check against it.
    let r = import_events(
        &ws,
        "opens.csv",
        &[("C", "email_open", "2026-01-07T08:00:00Z", "")],
    );
    assert_eq!(r.inserted, 1);
    assert!(!has("events_customer_name_time"));
    // An overlapping export of orders is checked against the workspace:
    // the index is built inside that import, and only what is new is added
    // (the identical pair of A's orders was two orders, and still is).
    let overlap = [
        ("A", "order", "2026-01-05T10:00:00Z", "20"),
        ("A", "order", "2026-01-05T10:00:00Z", "20"),
        ("B", "order", "2026-01-06T10:00:00Z", "35"),
        ("C", "order", "2026-01-08T10:00:00Z", "12.5"),
    ];
    let r = import_events(&ws, "orders-2.csv", &overlap);
    assert_eq!((r.inserted, r.unchanged), (1, 3));
    assert!(has("events_customer_name_time"));
    assert_eq!(
        crate::common::counted_from_events(&ws),
        vec![
            ("email_open".to_string(), 1, 1767772800, 1767772800),
            ("order".to_string(), 4, 1767607200, 1767866400),
        ]
    );
}

#[test]
fn segment_sql_on_a_workspace_without_the_index_builds_it_and_finds_the_same_members() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("w.prism");
    crate::common::import_customers(&ws, "customer_id\nA\nB\nC\n");
    import_events(
        &ws,
        "orders.csv",
        &[
            ("A", "order", "2026-01-05T10:00:00Z", "20"),
            ("B", "order", "2026-01-06T10:00:00Z", "35"),
            ("B", "order", "2026-01-09T10:00:00Z", "5"),
        ],
    );
    let has = |name: &str| index_names(&ws).contains(&name.to_string());
    assert!(!has("events_customer_name_time"));
    let sql = "SELECT c.id FROM customers c WHERE (SELECT count(*) FROM events e
               WHERE e.customer_id = c.id AND e.name = ?1) >= 2 ORDER BY c.id";
    let order = [prism::store::SqlValue::Text("order".into())];
    // Read-only: answered by a scan, nothing written.
    let read_only = Store::open_read_only(&ws).unwrap();
    let scanned = read_only.query_customer_ids(sql, &order).unwrap();
    drop(read_only);
    assert!(!has("events_customer_name_time"));
    // Writable: the index is built first, and the answer is the same.
    let store = Store::open(&ws).unwrap();
    let indexed = store.query_customer_ids(sql, &order).unwrap();
    assert!(has("events_customer_name_time"));
    assert_eq!(scanned, indexed);
    assert_eq!(indexed.len(), 1);
    let b: i64 = rusqlite::Connection::open(&ws)
        .unwrap()
        .query_row(
            "SELECT id FROM customers WHERE external_id = 'B'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, vec![b]);
}
