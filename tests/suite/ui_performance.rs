//! The Performance screen and the builder's live metrics under
//! egui_kittest, on a generated sample workspace: the table shows each
//! segment with the report's figures, members at send and current members
//! give their own reports, sorting and the charts respond, and the
//! Segments screen shows the draft's email metrics beside its count.

use std::path::Path;
use std::time::Duration;

use crate::ui_common;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use prism::analytics::{Membership, Metric, shown};
use prism::app::Screen;
use prism::progress::NoProgress;
use prism::ui::PrismApp;
use prism::ui::performance::Chart;

fn harness(workspace: &Path, data_dir: &Path, screen: Screen) -> Harness<'static, PrismApp> {
    let app = ui_common::app(data_dir, Some(workspace), Some(screen), None);
    ui_common::harness(app, 1600.0, 1000.0)
}

fn run_until(h: &mut Harness<'_, PrismApp>, what: &str, done: impl Fn(&PrismApp) -> bool) {
    ui_common::run_until(h, what, Duration::from_secs(180), done);
}

fn sample(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("shop.prism");
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions::new(2_000),
        &path,
        false,
        &NoProgress,
    )
    .unwrap();
    path
}

/// The report on screen answers the question the controls ask.
fn report_for(a: &PrismApp, membership: Membership) -> bool {
    let p = &a.performance;
    p.data
        .as_ref()
        .is_some_and(|(k, _)| p.requested.as_ref() == Some(k) && k.membership == membership)
}

#[test]
fn the_table_shows_each_segment_and_follows_the_controls() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let mut h = harness(&path, dir.path(), Screen::Performance);
    run_until(&mut h, "the report", |a| {
        report_for(a, Membership::AsOfSend)
    });
    let d = h.state().performance.data.clone().unwrap().1;
    assert_eq!(d.report.segments.len(), 7);
    // Each segment's name and its open rate, as the report has them.
    for seg in &d.report.segments {
        assert!(h.query_all_by_label(seg.name.as_str()).next().is_some());
        let open = seg.metric(Metric::OpenRate).unwrap();
        let text = shown(open);
        assert!(
            h.query_all_by_label_contains(&text).next().is_some(),
            "{}: {text} not on screen",
            seg.name
        );
    }
    assert!(d.report.has_machine_marks, "the sample marks machine opens");
    h.get_by_label("Open (human)");

    // Current members: another report.
    h.get_by_label("Current members").click();
    h.run_ok();
    run_until(&mut h, "the current-members report", |a| {
        report_for(a, Membership::Current)
    });
    let now = h.state().performance.data.clone().unwrap().1;
    assert_eq!(now.report.membership, Membership::Current);

    // Sorting by click rate, highest first.
    h.get_by_label("Click").click();
    h.run_ok();
    assert_eq!(h.state().performance.sort, (Some(Metric::ClickRate), true));

    // The charts.
    h.get_by_label("Trend").click();
    h.run_ok();
    assert_eq!(h.state().performance.chart, Chart::Trend);
    h.get_by_label("Size over time").click();
    h.run_ok();
    run_until(&mut h, "the sizes", |a| a.performance.sizes.is_some());
    let sizes = &h.state().performance.sizes.as_ref().unwrap().1;
    assert!(sizes.iter().all(|(_, v)| v.len() == 24));
}

#[test]
fn the_builder_shows_the_drafts_email_metrics_beside_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let mut h = harness(&path, dir.path(), Screen::Segments);
    run_until(&mut h, "the live metrics", |a| {
        a.segments
            .eval
            .result
            .as_ref()
            .is_some_and(|(_, r)| r.live.is_some())
            && a.jobs.is_idle()
    });
    let live = h
        .state()
        .segments
        .eval
        .result
        .as_ref()
        .unwrap()
        .1
        .live
        .clone()
        .unwrap();
    assert!(live.campaigns > 0);
    if live.recipients > 0 {
        let open = live
            .metrics
            .iter()
            .find(|m| m.metric == Metric::HumanOpenRate)
            .unwrap();
        let text = format!("open {}", shown(open));
        assert!(
            h.query_all_by_label_contains(&text).next().is_some(),
            "{text} not on screen"
        );
    }
}
