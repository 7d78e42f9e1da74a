//! The Segments screen under egui_kittest, on a generated sample workspace:
//! build a rule by clicking and typing, check the counts on screen against
//! the engine, undo / redo, save versions and compare them, explain a
//! customer.

use std::path::Path;
use std::time::Duration;

use crate::ui_common;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use prism::app::Screen;
use prism::app::segments::resolve_as;
use prism::engine::rule::Rule;
use prism::engine::{parse_rule, schema_of};
use prism::progress::NoProgress;
use prism::store::Store;
use prism::ui::PrismApp;
use prism::ui::data_screen::format_count;
use serde_json::json;

fn harness(workspace: &Path, data_dir: &Path) -> Harness<'static, PrismApp> {
    let app = ui_common::app(data_dir, Some(workspace), Some(Screen::Segments), None);
    ui_common::harness(app, 1600.0, 1000.0)
}

fn run_until(h: &mut Harness<'_, PrismApp>, what: &str, done: impl Fn(&PrismApp) -> bool) {
    ui_common::run_until(h, what, Duration::from_secs(120), done);
}

/// Waits until every job is done and the counts match the rule on screen.
fn settle(h: &mut Harness<'_, PrismApp>) {
    run_until(h, "the counts", |a| {
        a.jobs.is_idle()
            && a.segments.eval.pending_since.is_none()
            && !a.segments.eval.running
            && (a.segments.eval.error.is_some() || !a.segments.eval.stale)
    });
}

fn current_rule(h: &Harness<'_, PrismApp>) -> Rule {
    h.state().segments.draft().unwrap().history.rule.clone()
}

/// Clicks the `n`th widget labelled `label` (in tree order).
fn click_nth(h: &mut Harness<'_, PrismApp>, label: &str, n: usize) {
    let nodes: Vec<_> = h.get_all_by_label(label).collect();
    assert!(
        nodes.len() > n,
        "only {} widgets labelled {label:?}",
        nodes.len()
    );
    nodes[n].click();
    h.run_ok();
}

/// Clicks the `n`th button labelled `label`.
fn click_nth_button(h: &mut Harness<'_, PrismApp>, label: &str, n: usize) {
    let nodes: Vec<_> = h
        .get_all_by_role_and_label(egui::accesskit::Role::Button, label)
        .collect();
    assert!(
        nodes.len() > n,
        "only {} buttons labelled {label:?}",
        nodes.len()
    );
    nodes[n].click();
    h.run_ok();
}

fn type_into_nth(h: &mut Harness<'_, PrismApp>, label: &str, n: usize, text: &str) {
    {
        let nodes: Vec<_> = h.get_all_by_label(label).collect();
        assert!(
            nodes.len() > n,
            "only {} fields labelled {label:?}",
            nodes.len()
        );
        nodes[n].focus();
    }
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_ok();
    {
        let nodes: Vec<_> = h.get_all_by_label(label).collect();
        nodes[n].type_text(text);
    }
    h.run_ok();
}

fn pick_field(h: &mut Harness<'_, PrismApp>, picker: &str, n: usize, search: &str, item: &str) {
    click_nth(h, picker, n);
    h.get_by_label("Search fields").type_text(search);
    h.run_ok();
    h.get_by_label(item).click();
    h.run_ok();
}

#[test]
fn build_a_rule_by_clicking_and_typing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.prism");
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions::new(1_500),
        &path,
        false,
        &NoProgress,
    )
    .unwrap();
    let mut h = harness(&path, dir.path());
    run_until(&mut h, "the engine", |a| a.engine.is_some());
    settle(&mut h);
    // The first saved segment is open, with its count.
    assert_eq!(h.state().segments.draft().unwrap().name, "VIP");

    // A new segment starts with one condition; replace it with a group.
    h.get_by_label("New").click();
    h.run_ok();
    settle(&mut h);
    click_nth_button(&mut h, "…", 0);
    click_nth(&mut h, "Delete", 1); // [0] is the list's Delete, [1] the menu's
    click_nth(&mut h, "+ Group", 0);
    settle(&mut h);
    // Inside the group: orders > 3 in the last 30 days.
    click_nth(&mut h, "Operator", 0);
    h.get_by_label("is more than").click();
    h.run_ok();
    type_into_nth(&mut h, "Number", 0, "3");
    settle(&mut h);
    // OR lifetime spend > 500.
    click_nth(&mut h, "+ Condition", 0); // the group's button comes first
    pick_field(&mut h, "Event · order", 1, "Lifetime", "Lifetime spend");
    settle(&mut h);
    // AND NOT unsubscribed (ever).
    click_nth(&mut h, "+ Condition", 1); // the root's
    pick_field(&mut h, "Event · order", 1, "unsub", "unsubscribe");
    click_nth(&mut h, "Time window", 1);
    h.get_by_label("ever").click();
    h.run_ok();
    click_nth(&mut h, "NOT", 4); // root, group, orders, spend, unsubscribe
    settle(&mut h);

    let expected = parse_rule(
        &json!({"version": 1, "root": {"type": "group", "match": "all", "children": [
            {"type": "group", "match": "any", "children": [
                {"type": "event", "event": "order", "aggregate": "count", "op": "greater_than", "value": 3.0,
                 "window": {"kind": "last_days", "days": 30}},
                {"type": "trait", "trait": "rfm_monetary", "op": "greater_than", "value": 500}
            ]},
            {"type": "event", "event": "unsubscribe", "aggregate": "count", "op": "at_least", "value": 1,
             "window": {"kind": "ever"}, "not": true}
        ]}})
        .to_string(),
    )
    .unwrap();
    assert_eq!(current_rule(&h), expected);

    // The counts on screen are the engine's, node by node.
    let store = Store::open_read_only(&path).unwrap();
    let schema = schema_of(&store).unwrap();
    let engine = h.state().engine.clone().unwrap();
    let node = resolve_as(&schema, "New segment 8", &expected).unwrap();
    let as_of = h.state().segments.as_of();
    let truth = engine.evaluate(&node, as_of, &NoProgress).unwrap();
    let shown = h.state().segments.eval.result.clone().unwrap().1;
    assert_eq!(shown.evaluation.nodes, truth.nodes);
    assert!(truth.count() > 0 && truth.count() < truth.total);
    for n in &truth.nodes {
        let text = format_count(n.count as i64);
        assert!(
            // Two nodes may share a count (the sample is of today's date).
            h.query_all_by_label_contains(&format!("{text} · "))
                .next()
                .is_some(),
            "no badge shows {text} for {}",
            n.path
        );
    }
    h.get_by_label_contains(&format!(
        "{} members of",
        format_count(truth.count() as i64)
    ));

    // Undo twice (the NOT, the window), redo once (the window).
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.key_press_modifiers(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
    h.run_ok();
    let mut want = expected.clone();
    if let prism::engine::rule::Node::Group(g) = &mut want.root {
        g.children[1].set_not(false);
    }
    assert_eq!(current_rule(&h), want);
    settle(&mut h);

    // Save (version 1), change, save (version 2), compare.
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    run_until(&mut h, "the first save", |a| {
        a.jobs.is_idle()
            && a.segments
                .draft()
                .is_some_and(|d| d.id > 0 && !d.is_dirty())
    });
    let seg_id = h.state().segments.draft().unwrap().id;
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y); // redo the NOT
    h.run_ok();
    assert_eq!(current_rule(&h), expected);
    settle(&mut h);
    h.get_by_label("Save").click();
    run_until(&mut h, "the second save", |a| {
        a.jobs.is_idle() && a.segments.draft().is_some_and(|d| !d.is_dirty())
    });
    let versions = Store::open_read_only(&path)
        .unwrap()
        .segment_versions(seg_id)
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].member_count, Some(truth.count() as i64));

    h.get_by_label("History").click();
    run_until(&mut h, "the versions", |a| {
        a.segments.history.versions_for == Some(seg_id)
    });
    h.get_by_label("Compare from v1").click();
    h.get_by_label("Compare to v2").click();
    h.get_by_label("Compare").click();
    run_until(&mut h, "the comparison", |a| {
        a.segments.history.diff.is_some()
    });
    let diff = h.state().segments.history.diff.clone().unwrap().unwrap();
    let v1 = resolve_as(&schema, "x", &want).unwrap();
    let before = engine.evaluate(&v1, as_of, &NoProgress).unwrap();
    assert_eq!(diff.before, before.count());
    assert_eq!(diff.after, truth.count());
    // v1 kept the unsubscribed, v2 keeps everyone else: nobody is in both.
    assert_eq!(before.members.count_and(&truth.members), 0);
    assert_eq!(diff.entered, truth.count());
    assert_eq!(diff.left, before.count());
    h.get_by_label(&format!("{} leave", format_count(diff.left as i64)));

    // Explain a known customer.
    h.get_by_label("Explain").click();
    h.run_ok();
    type_into_nth(&mut h, "Customer ID or email", 0, "C0000003");
    click_nth(&mut h, "Explain", 1); // the tab is [0], the button [1]
    run_until(&mut h, "the explanation", |a| {
        a.segments.explain.result.is_some()
    });
    let ex = h
        .state()
        .segments
        .explain
        .result
        .clone()
        .unwrap()
        .unwrap()
        .unwrap();
    let c3 = engine.find_customer("C0000003").unwrap();
    assert_eq!(
        ex.member,
        truth.members.get(engine.data.index_of(c3).unwrap())
    );
    let passes = h.get_all_by_label("PASS").count();
    let fails = h.get_all_by_label("FAIL").count();
    assert_eq!(passes + fails, 5, "one verdict per node");
    assert!(fails > 0 || ex.member);
}

#[test]
fn bad_input_is_shown_at_its_node_and_nothing_is_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.prism");
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions::new(300),
        &path,
        false,
        &NoProgress,
    )
    .unwrap();
    let mut h = harness(&path, dir.path());
    run_until(&mut h, "the engine", |a| a.engine.is_some());
    settle(&mut h);
    h.get_by_label("New").click();
    h.run_ok();
    settle(&mut h);
    let counted = h.state().segments.eval.shown;
    // Letters in a number field.
    type_into_nth(&mut h, "Number", 0, "3x");
    settle(&mut h);
    let e = h.state().segments.eval.error.clone().expect("an error");
    assert_eq!(e.path, "root.children[0].value");
    h.get_by_label_contains("expected a number");
    assert_eq!(
        h.state().segments.eval.shown,
        counted,
        "an invalid rule is not evaluated"
    );
    // Fixing it counts again.
    type_into_nth(&mut h, "Number", 0, "2");
    settle(&mut h);
    assert!(h.state().segments.eval.error.is_none());
    // An invalid regex on a text field.
    pick_field(&mut h, "Event · order", 0, "city", "City");
    click_nth(&mut h, "Operator", 0);
    h.get_by_label("matches").click();
    h.run_ok();
    type_into_nth(&mut h, "Pattern", 0, "(unclosed");
    settle(&mut h);
    let e = h.state().segments.eval.error.clone().expect("an error");
    assert!(e.message.contains("does not compile"), "{e}");
    h.get_by_label_contains("does not compile");
}
