//! Segment performance on a hand-made workspace whose every figure is
//! worked out by hand below: sends, opens (one a machine's), clicks without
//! opens, a bounce, an unsubscribe, duplicate and stray events, orders
//! inside and outside the attribution window (at its exact edge), a window
//! not yet closed, a customer in two segments, and membership as of each
//! send against today's. The CLI's CSV is the report the screen exports.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use prism::analytics::stats::wilson;
use prism::analytics::{
    Attribution, Counts, Membership, Metric, Report, Selection, Sends, Verdict, report, to_csv,
};
use prism::app::performance::{live_metrics, saved_rules};
use prism::engine::{Engine, schema_of};
use prism::model::{Campaign, Customer, Event, FieldType, FieldValue, SegmentRecord};
use prism::progress::NoProgress;
use prism::store::Store;
use serde_json::json;

use crate::common::ts;

const AS_OF: &str = "2026-11-01";

fn person(ext: &str, tier: &str) -> Customer {
    let mut custom = std::collections::BTreeMap::new();
    custom.insert("tier".into(), FieldValue::Text(tier.into()));
    Customer {
        external_id: ext.into(),
        email: Some(format!("{}@shop.test", ext.to_lowercase())),
        first_name: Some(ext.into()),
        email_consent: true,
        signup_at: Some(ts("2026-01-01")),
        custom,
        ..Customer::default()
    }
}

fn e(name: &str, time: &str, campaign: Option<&str>, value: Option<f64>) -> Event {
    Event {
        name: name.into(),
        time: ts(time),
        campaign: campaign.map(Into::into),
        value,
        ..Event::default()
    }
}

fn machine(mut ev: Event) -> Event {
    ev.properties = json!({"machine": true}).as_object().cloned();
    ev
}

/// Campaigns: CMP-1 (Oct 1), CMP-2 (Oct 20), CMP-3 (Oct 25, no sends),
/// CMP-4 (Oct 30: its window is still open on Nov 1). Segments: "Recent
/// buyers" (an order in the last 10 days) and "Gold" (tier gold: A, B).
fn workspace(dir: &Path) -> PathBuf {
    let path = dir.join("perf.prism");
    let mut store = Store::create(&path).unwrap();
    store
        .add_custom_field("tier", FieldType::Text, "Tier")
        .unwrap();
    let sent = "email_sent";
    let people: Vec<(Customer, Vec<Event>)> = vec![
        (
            person("A", "gold"),
            vec![
                e(sent, "2026-10-01 09:00", Some("CMP-1"), None),
                // A duplicate send: counted once.
                e(sent, "2026-10-01 09:00", Some("CMP-1"), None),
                e("email_open", "2026-10-01 10:00", Some("CMP-1"), None),
                e("email_click", "2026-10-01 10:05", Some("CMP-1"), None),
                e("order", "2026-10-03 12:00", None, Some(100.0)),
                e(sent, "2026-10-20 09:00", Some("CMP-2"), None),
                e(sent, "2026-10-30 09:00", Some("CMP-4"), None),
                e("email_click", "2026-10-30 10:00", Some("CMP-4"), None),
                // CMP-4's window has not closed: not a conversion yet.
                e("order", "2026-10-31 09:00", None, Some(70.0)),
            ],
        ),
        (
            person("B", "gold"),
            vec![
                e(sent, "2026-10-01 09:00", Some("CMP-1"), None),
                machine(e("email_open", "2026-10-01 09:01", Some("CMP-1"), None)),
                // No human click before it: not attributed.
                e("order", "2026-10-15 12:00", None, Some(20.0)),
                e(sent, "2026-10-20 09:00", Some("CMP-2"), None),
                e("email_open", "2026-10-20 09:30", Some("CMP-2"), None),
                e("email_click", "2026-10-20 10:00", Some("CMP-2"), None),
                e("order", "2026-10-24 12:00", None, Some(50.0)),
            ],
        ),
        (
            person("C", "silver"),
            vec![
                // Before any email: not attributed.
                e("order", "2026-09-25 12:00", None, Some(10.0)),
                e(sent, "2026-10-01 09:00", Some("CMP-1"), None),
                // A click without an open (images blocked).
                e("email_click", "2026-10-01 11:00", Some("CMP-1"), None),
                // Six days after the click: outside the window.
                e("order", "2026-10-07 12:00", None, Some(40.0)),
            ],
        ),
        (
            person("D", "silver"),
            vec![
                e(sent, "2026-10-01 09:00", Some("CMP-1"), None),
                e("email_bounce", "2026-10-01 09:01", Some("CMP-1"), None),
            ],
        ),
        (
            person("E", "silver"),
            vec![
                e(sent, "2026-10-01 09:00", Some("CMP-1"), None),
                e("email_open", "2026-10-02 08:00", Some("CMP-1"), None),
                e("unsubscribe", "2026-10-02 08:05", Some("CMP-1"), None),
            ],
        ),
        (
            person("F", "silver"),
            vec![
                // An open of a campaign the workspace does not know.
                e("email_open", "2026-10-05 08:00", Some("CMP-X"), None),
                e(sent, "2026-10-20 09:00", Some("CMP-2"), None),
                e("email_open", "2026-10-20 11:00", Some("CMP-2"), None),
            ],
        ),
        (
            person("G", "silver"),
            vec![
                e(sent, "2026-10-20 09:00", Some("CMP-2"), None),
                e("email_click", "2026-10-20 12:00", Some("CMP-2"), None),
                // Exactly five days after the click: outside [click, click + 5d).
                e("order", "2026-10-25 12:00", None, Some(25.0)),
            ],
        ),
        (
            person("H", "silver"),
            vec![
                e(sent, "2026-10-20 09:00", Some("CMP-2"), None),
                e("email_click", "2026-10-20 12:00", Some("CMP-2"), None),
                // One second inside the window.
                e("order", "2026-10-25 11:59:59", None, Some(30.0)),
            ],
        ),
    ];
    {
        let mut load = store.bulk_load(false).unwrap();
        for (day, id) in [
            ("2026-10-01", "CMP-1"),
            ("2026-10-20", "CMP-2"),
            ("2026-10-25", "CMP-3"),
            ("2026-10-30", "CMP-4"),
        ] {
            load.insert_campaign(&Campaign {
                id: id.into(),
                name: format!("Campaign {id}"),
                sent_at: Some(ts(&format!("{day} 09:00"))),
                ..Campaign::default()
            })
            .unwrap();
        }
        for (c, events) in people {
            let id = load.insert_customer(&c).unwrap();
            for mut ev in events {
                ev.customer_id = id;
                load.insert_event(&ev).unwrap();
            }
        }
        load.commit().unwrap();
    }
    let rule = |root: serde_json::Value| json!({"version": 1, "root": root}).to_string();
    store
        .save_segment(&SegmentRecord {
            name: "Recent buyers".into(),
            priority: 1,
            rule: rule(
                json!({"type": "event", "event": "order", "aggregate": "count",
                "op": "at_least", "value": 1, "window": {"kind": "last_days", "days": 10}}),
            ),
            ..SegmentRecord::default()
        })
        .unwrap();
    store
        .save_segment(&SegmentRecord {
            name: "Gold".into(),
            priority: 2,
            rule: rule(
                json!({"type": "profile", "field": "tier", "op": "equals", "value": "gold"}),
            ),
            ..SegmentRecord::default()
        })
        .unwrap();
    path
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    engine: Engine,
    sends: Sends,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = workspace(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let sends = Sends::build(
        &engine,
        &store.campaigns().unwrap(),
        Attribution::default(),
        ts(AS_OF),
        &NoProgress,
    )
    .unwrap();
    Fixture {
        _dir: dir,
        path,
        engine,
        sends,
    }
}

fn run(f: &Fixture, membership: Membership) -> Report {
    let store = Store::open_read_only(&f.path).unwrap();
    let rules = saved_rules(&schema_of(&store).unwrap(), &store.segments().unwrap());
    report(
        &f.engine,
        &f.sends,
        &rules,
        &Selection::default(),
        membership,
        &NoProgress,
    )
    .unwrap()
}

/// Counts without the revenue list, for comparing with hand-made ones.
#[allow(clippy::too_many_arguments)]
fn counts(
    recipients: u64,
    delivered: u64,
    opened: u64,
    human_opened: u64,
    clicked: u64,
    unsubscribed: u64,
    closed: u64,
    converted: u64,
    revenue_total: f64,
) -> Counts {
    Counts {
        recipients,
        delivered,
        opened,
        human_opened,
        clicked,
        unsubscribed,
        bounced: recipients - delivered,
        closed,
        converted,
        revenue_total,
        ..Counts::default()
    }
}

fn without_list(c: &Counts) -> Counts {
    Counts {
        revenue: Default::default(),
        ..c.clone()
    }
}

#[test]
fn every_metric_matches_the_hand_count() {
    let f = fixture();
    let n = &f.sends.notes;
    assert_eq!(n.duplicate_sends, 1);
    assert_eq!(n.campaigns_without_sends, 1);
    assert_eq!(n.events_of_unknown_campaigns, 1);
    assert_eq!(n.clicks_without_opens, 4, "C, G, H, and A's CMP-4");
    assert_eq!(n.machine_opens, 1);
    assert_eq!(n.orders_before_any_email, 1);
    assert_eq!(n.attributed_orders, 3, "A's 100, B's 50, H's 30");
    assert!(f.sends.has_bounces && f.sends.has_machine_marks);

    let r = run(&f, Membership::AsOfSend);
    assert_eq!(r.campaigns, 4);
    // Everyone: 11 sends (5 + 5 + 0 + 1), D bounced; A's CMP-4 send is
    // not closed; conversions A (CMP-1), B and H (CMP-2).
    assert_eq!(
        without_list(&r.all),
        counts(11, 10, 9, 8, 6, 1, 9, 3, 180.0)
    );
    // Recent buyers as of each send: C on CMP-1 (ordered Sep 25), B on
    // CMP-2 (ordered Oct 15), nobody on CMP-4.
    let rb = &r.segments[0];
    assert_eq!(rb.name, "Recent buyers");
    assert_eq!(
        without_list(&rb.counts),
        counts(2, 2, 2, 2, 2, 0, 2, 1, 50.0)
    );
    assert_eq!(
        without_list(&rb.rest),
        counts(9, 8, 7, 6, 4, 1, 7, 2, 130.0)
    );
    assert!(rb.too_small, "2 recipients are fewer than 50");
    let open = rb.metric(Metric::OpenRate).unwrap();
    assert_eq!(open.value, wilson(2, 2));
    assert_eq!(open.rest, wilson(7, 8));
    assert_eq!(open.verdict, Verdict::TooSmall);
    let human = rb.metric(Metric::HumanOpenRate).unwrap();
    assert_eq!(human.rest, wilson(6, 8));
    let conv = rb.metric(Metric::ConversionRate).unwrap();
    assert_eq!(conv.value, wilson(1, 2));
    assert_eq!(conv.rest, wilson(2, 7));
    let rpr = rb.metric(Metric::RevenuePerRecipient).unwrap();
    assert!((rpr.value.unwrap().value - 25.0).abs() < 1e-9);
    assert!((rpr.rest.unwrap().value - 130.0 / 7.0).abs() < 1e-9);
    let bounce = rb.metric(Metric::BounceRate).unwrap();
    assert_eq!(bounce.rest, wilson(1, 9));
    // Gold (A and B) on every campaign; B is in both segments.
    let gold = &r.segments[1];
    assert_eq!(
        without_list(&gold.counts),
        counts(5, 5, 4, 3, 3, 0, 4, 2, 150.0)
    );
    assert_eq!(
        gold.metric(Metric::ClickToOpen).unwrap().value,
        wilson(3, 4)
    );
    assert_eq!(
        gold.metric(Metric::HumanClickToOpen).unwrap().value,
        wilson(3, 3)
    );

    // Today's members: the buyers of the last 10 days before Nov 1 are
    // A, B, G and H, for every campaign.
    let now = run(&f, Membership::Current);
    let rb = &now.segments[0];
    assert_eq!(
        without_list(&rb.counts),
        counts(7, 7, 6, 5, 5, 0, 6, 3, 180.0)
    );
    assert_eq!(without_list(&rb.rest), counts(4, 3, 3, 3, 1, 1, 3, 0, 0.0));
    // No conversion in the rest: its conversion rate is 0, not NaN.
    let conv = rb.metric(Metric::ConversionRate).unwrap();
    assert_eq!(conv.rest.unwrap().value, 0.0);
    assert!(conv.lift.is_none(), "no ratio to a zero rate");

    // Only CMP-2, and only from Oct 10: the selection narrows everything.
    let store = Store::open_read_only(&f.path).unwrap();
    let rules = saved_rules(&schema_of(&store).unwrap(), &store.segments().unwrap());
    let only = report(
        &f.engine,
        &f.sends,
        &rules,
        &Selection {
            campaigns: vec!["CMP-2".into()],
            ..Selection::default()
        },
        Membership::AsOfSend,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(only.campaigns, 1);
    assert_eq!(
        without_list(&only.all),
        counts(5, 5, 4, 4, 3, 0, 5, 2, 80.0)
    );

    // The builder's live metrics: current members over the last 90 days.
    let set = f
        .engine
        .set_of(&rules[1].node, ts(AS_OF), &NoProgress)
        .unwrap();
    let live = live_metrics(&f.sends, &set);
    assert_eq!(live.recipients, 5);
    assert_eq!(
        live.metrics
            .iter()
            .find(|m| m.metric == Metric::OpenRate)
            .unwrap()
            .value,
        wilson(4, 5)
    );
}

#[test]
fn opens_as_the_trigger_move_the_window() {
    let f = fixture();
    let store = Store::open_read_only(&f.path).unwrap();
    let sends = Sends::build(
        &f.engine,
        &store.campaigns().unwrap(),
        Attribution {
            trigger: prism::analytics::Trigger::Open,
            window_days: 5,
        },
        ts(AS_OF),
        &NoProgress,
    )
    .unwrap();
    // With opens: B's CMP-1 machine open counts as a touch (an open is an
    // open), so B's Oct 15 order is still outside its window (Oct 1 + 5d);
    // the same three orders convert.
    assert_eq!(sends.notes.attributed_orders, 3);
    let r = report(
        &f.engine,
        &sends,
        &[],
        &Selection::default(),
        Membership::AsOfSend,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(r.all.converted, 3);
    assert!(r.segments.is_empty());
}

#[test]
fn the_cli_prints_the_report_the_screen_exports() {
    let f = fixture();
    let r = run(&f, Membership::AsOfSend);
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args([
            "perf",
            f.path.to_str().unwrap(),
            "--format",
            "csv",
            "--as-of",
            AS_OF,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), to_csv(&r));
    // The table ends with the data notes.
    let table = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["perf", f.path.to_str().unwrap(), "--as-of", AS_OF])
        .output()
        .unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("Recent buyers"), "{text}");
    assert!(text.contains("1 duplicate sends (counted once)"), "{text}");
    assert!(!text.contains("NaN"), "{text}");
    // Bad input: a clear message and exit code 2.
    for args in [
        vec!["--segment", "Nope"],
        vec!["--campaign", "CMP-9"],
        vec!["--from", "yesterday-ish"],
        vec!["--format", "xml"],
        vec!["--trigger", "view"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_prism"))
            .arg("perf")
            .arg(&f.path)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn sample_workspace_has_differences_worth_showing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.prism");
    let as_of = ts(AS_OF);
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions {
            as_of,
            ..prism::sample::SampleOptions::new(4_000)
        },
        &path,
        false,
        &NoProgress,
    )
    .unwrap();
    let store = Store::open_read_only(&path).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let sends = Sends::build(
        &engine,
        &store.campaigns().unwrap(),
        Attribution::default(),
        as_of,
        &NoProgress,
    )
    .unwrap();
    assert!(sends.has_machine_marks && sends.has_bounces);
    let rules = saved_rules(&schema_of(&store).unwrap(), &store.segments().unwrap());
    let r = report(
        &engine,
        &sends,
        &rules,
        &Selection::default(),
        Membership::Current,
        &NoProgress,
    )
    .unwrap();
    // Machine opens lift the open rate above the human one.
    let all = prism::analytics::metrics(&r.all, &Counts::default(), true, 1);
    let rate = |m: Metric| {
        all.iter()
            .find(|v| v.metric == m)
            .unwrap()
            .value
            .unwrap()
            .value
    };
    assert!(rate(Metric::OpenRate) > rate(Metric::HumanOpenRate) + 0.02);
    // The lapsed open less than everyone else, clearly.
    let lapsed = r.segments.iter().find(|s| s.name == "Lapsed").unwrap();
    assert_eq!(
        lapsed.metric(Metric::HumanOpenRate).unwrap().verdict,
        Verdict::Lower,
        "{:?}",
        lapsed.metric(Metric::HumanOpenRate)
    );
    // Every figure is a number or absent, never NaN.
    let csv = to_csv(&r);
    assert!(
        !csv.split([',', '\n'])
            .any(|f| ["NaN", "inf", "-inf"].contains(&f)),
        "{csv}"
    );
    let _ = Arc::new(r);
}
