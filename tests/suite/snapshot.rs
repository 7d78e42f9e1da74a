//! The engine snapshot beside a workspace: used only when it was built
//! from the workspace as it is, rebuilt after every change to the data,
//! never trusted when damaged, and never a different count.

use crate::common;

use std::path::Path;

use prism::app::performance::saved_rules;
use prism::engine::data::EngineData;
use prism::engine::snapshot::path_for;
use prism::engine::{Bitset, Engine, Origin, schema_of};
use prism::ingest::{ImportOptions, import_file};
use prism::progress::NoProgress;
use prism::store::Store;

/// Every saved segment's members as of the data's end.
fn members(engine: &Engine, path: &Path) -> Vec<Bitset> {
    let store = Store::open_read_only(path).unwrap();
    let schema = schema_of(&store).unwrap();
    let as_of = store.info().unwrap().event_range.unwrap().1 + 1;
    saved_rules(&schema, &store.segments().unwrap())
        .iter()
        .map(|r| (*engine.set_of(&r.node, as_of, &NoProgress).unwrap()).clone())
        .collect()
}

/// The members from an engine built straight from the tables.
fn reference(path: &Path) -> Vec<Bitset> {
    let store = Store::open_read_only(path).unwrap();
    let engine = Engine::new(EngineData::load(&store, &NoProgress).unwrap(), path);
    members(&engine, path)
}

fn open(path: &Path) -> Engine {
    Engine::load(&Store::open_read_only(path).unwrap(), &NoProgress).unwrap()
}

fn built(e: &Engine) -> String {
    match e.origin() {
        Origin::Built { why, saved } => {
            assert!(saved, "the snapshot is written after a build");
            why.clone()
        }
        Origin::Snapshot => panic!("expected a build, the snapshot was used"),
    }
}

#[test]
fn a_reopened_workspace_reads_its_snapshot_and_counts_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let edges = common::sample_with_edges(dir.path(), 300);
    let other = dir.path().join("other.prism");
    let opts = prism::sample::SampleOptions {
        customers: 500,
        seed: 99,
        as_of: common::ts("2026-06-15"),
        name: "Other".into(),
    };
    prism::sample::generate_workspace(&opts, &other, false, &NoProgress).unwrap();
    for path in [edges, other] {
        let want = reference(&path);
        assert!(
            want.iter().any(|s| s.count() > 0),
            "some segment has members"
        );
        let first = open(&path);
        assert_eq!(built(&first), "no snapshot");
        assert_eq!(members(&first, &path), want);
        assert!(path_for(&path).exists());
        let again = open(&path);
        assert_eq!(again.origin(), &Origin::Snapshot);
        assert_eq!(members(&again, &path), want, "{}", path.display());
        assert_eq!(again.data.ids, first.data.ids);
    }
}

#[test]
fn an_import_makes_the_snapshot_stale_and_a_segment_save_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::sample_with_edges(dir.path(), 200);
    let before = open(&path);
    let orders = before.data.events["order"].len();
    let who = before.field_display("external_id", 0).unwrap();

    // Saving a segment leaves the data as it was: the snapshot stays.
    {
        let store = Store::open(&path).unwrap();
        let mut seg = store.segments().unwrap()[0].clone();
        seg.id = 0;
        seg.name = "Copy of the first".into();
        store.save_segment(&seg).unwrap();
    }
    assert_eq!(open(&path).origin(), &Origin::Snapshot);

    // One more order imported: the next open rebuilds and sees it.
    let csv = dir.path().join("one_order.csv");
    std::fs::write(
        &csv,
        format!("customer_id,event,timestamp,amount\n{who},order,2026-10-20T10:00:00Z,12.5\n"),
    )
    .unwrap();
    let r = import_file(&path, &csv, &ImportOptions::default(), &NoProgress).unwrap();
    assert_eq!(r.inserted, 1, "{r:?}");
    let after = open(&path);
    assert!(built(&after).contains("changed"), "{:?}", after.origin());
    assert_eq!(after.data.events["order"].len(), orders + 1);
    let again = open(&path);
    assert_eq!(again.origin(), &Origin::Snapshot);
    assert_eq!(again.data.events["order"].len(), orders + 1);
    assert_eq!(members(&again, &path), reference(&path));
}

#[test]
fn a_damaged_or_outdated_snapshot_is_rebuilt_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::sample_with_edges(dir.path(), 200);
    let want = reference(&path);
    open(&path);
    let cache = path_for(&path);
    let good = std::fs::read(&cache).unwrap();
    assert!(good.len() > 10_000);

    // The payload starts after the magic, format, byte order, and the
    // fingerprint with its length.
    let fp_len = u64::from_ne_bytes(good[16..24].try_into().unwrap()) as usize;
    let payload = 24 + fp_len;
    let schema_at = good
        .windows(17)
        .position(|w| w == b"\"schema_version\":")
        .unwrap()
        + 17;
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    for at in [payload + 64, good.len() / 2, good.len() - 20] {
        let mut bad = good.clone();
        bad[at] ^= 0x55;
        cases.push(("a flipped byte", bad, "damaged"));
    }
    cases.push(("cut in half", good[..good.len() / 2].to_vec(), "damaged"));
    cases.push((
        "cut before its end",
        good[..good.len() - 1].to_vec(),
        "damaged",
    ));
    cases.push(("empty", Vec::new(), "damaged"));
    cases.push((
        "not a snapshot",
        b"SQLite format 3\0 and more".to_vec(),
        "damaged",
    ));
    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    cases.push(("bytes after its end", longer, "damaged"));
    // Written by an older schema: the workspace migrated since.
    let mut migrated = good.clone();
    migrated[schema_at] = if migrated[schema_at] == b'1' {
        b'2'
    } else {
        b'1'
    };
    cases.push(("another schema version", migrated, "changed"));

    for (what, bytes, why) in cases {
        std::fs::write(&cache, &bytes).unwrap();
        let e = open(&path);
        let reason = built(&e);
        assert!(reason.contains(why), "{what}: {reason}");
        assert_eq!(members(&e, &path), want, "{what}");
        // The rebuilt snapshot is whole again.
        assert_eq!(std::fs::read(&cache).unwrap(), good, "{what}");
        assert_eq!(open(&path).origin(), &Origin::Snapshot, "{what}");
    }

    // The workspace replaced by a copy of itself (restored from a backup,
    // say): another file, so the snapshot is not trusted.
    let copy = dir.path().join("copy.prism");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::rename(&copy, &path).unwrap();
    let e = open(&path);
    assert!(built(&e).contains("changed"));
    assert_eq!(members(&e, &path), want);
    assert_eq!(open(&path).origin(), &Origin::Snapshot);

    // A snapshot of another workspace under this name is not this one's.
    let dir2 = tempfile::tempdir().unwrap();
    let other = common::sample_with_edges(dir2.path(), 150);
    open(&other);
    std::fs::copy(path_for(&other), &cache).unwrap();
    let e = open(&path);
    assert!(built(&e).contains("changed"));
    assert_eq!(members(&e, &path), want);
}

#[test]
fn two_opens_writing_at_once_leave_one_whole_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::sample_with_edges(dir.path(), 200);
    let want = reference(&path);
    std::thread::scope(|s| {
        let a = s.spawn(|| open(&path));
        let b = s.spawn(|| open(&path));
        for e in [a.join().unwrap(), b.join().unwrap()] {
            assert_eq!(members(&e, &path), want);
        }
    });
    let again = open(&path);
    assert_eq!(again.origin(), &Origin::Snapshot);
    assert_eq!(members(&again, &path), want);
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every customer's every field and every event, as the engine holds them.
fn same_columns(a: &Engine, b: &Engine) {
    assert_eq!(a.data.ids, b.data.ids);
    assert_eq!(a.data.fields, b.data.fields);
    for f in &a.data.fields {
        for i in 0..a.len() {
            assert_eq!(
                a.field_display(&f.name, i),
                b.field_display(&f.name, i),
                "{} of customer {i}",
                f.name
            );
        }
    }
    let mut names: Vec<&String> = a.data.events.keys().collect();
    names.sort();
    let mut theirs: Vec<&String> = b.data.events.keys().collect();
    theirs.sort();
    assert_eq!(names, theirs);
    let text = |e: &Engine, code: u32| e.data.strings.get(code).map(str::to_string);
    for name in names {
        let (x, y) = (&a.data.events[name], &b.data.events[name]);
        assert_eq!(x.offsets, y.offsets, "{name}");
        for j in 0..x.len() {
            assert_eq!(x.time(j), y.time(j), "{name} {j}");
            assert_eq!(x.value(j).to_bits(), y.value(j).to_bits(), "{name} {j}");
            for (p, q) in [
                (x.product.get(j), y.product.get(j)),
                (x.category.get(j), y.category.get(j)),
                (x.campaign.get(j), y.campaign.get(j)),
            ] {
                assert_eq!(text(a, p), text(b, q), "{name} {j}");
            }
        }
    }
}

#[test]
fn files_from_other_tools_reopen_to_the_same_columns() {
    // A Shopify-shaped workbook saved by openpyxl, the CDNOW log written by
    // pyarrow, a Mailchimp-shaped export and JSON Lines with nested
    // properties: the columns read back from the snapshot are the ones
    // built from the tables, field by field and event by event.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.prism");
    let create = ImportOptions {
        create_missing_customers: true,
        ..ImportOptions::default()
    };
    for (file, options) in [
        ("shopify_customers.xlsx", ImportOptions::default()),
        ("cdnow_orders.parquet", create.clone()),
        ("mailchimp_subscribed.csv", ImportOptions::default()),
        ("web_events.jsonl", create),
    ] {
        let r = import_file(&path, &fixture(file), &options, &NoProgress).unwrap();
        assert!(r.inserted > 0, "{file}: {}", r.to_text());
    }
    let store = Store::open_read_only(&path).unwrap();
    let built = Engine::new(EngineData::load(&store, &NoProgress).unwrap(), &path);
    assert!(built.len() > 20_000 && built.data.events.len() >= 3);
    open(&path);
    let reopened = open(&path);
    assert_eq!(reopened.origin(), &Origin::Snapshot);
    same_columns(&built, &reopened);
}
