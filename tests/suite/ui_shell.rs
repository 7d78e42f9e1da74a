//! The app shell under egui_kittest: no window, no GPU, real workspace files.

use std::path::Path;
use std::time::Duration;

use crate::ui_common;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use prism::app::Screen;
use prism::app::workspace::{SAMPLE_FILE, sample_workspace_path};
use prism::ui::PrismApp;

fn app(data_dir: &Path, workspace: Option<&Path>) -> PrismApp {
    ui_common::app(data_dir, workspace, None, None)
}

fn harness(app: PrismApp) -> Harness<'static, PrismApp> {
    ui_common::harness(app, 1400.0, 900.0)
}

fn run_until(h: &mut Harness<'_, PrismApp>, what: &str, done: impl Fn(&PrismApp) -> bool) {
    ui_common::run_until(h, what, Duration::from_secs(120), done);
}

#[test]
fn first_run_opens_the_sample_and_every_screen_is_reachable() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut h = harness(app(data_dir.path(), None));
    run_until(&mut h, "the sample workspace", |a| {
        a.workspace.is_some() && a.data.is_loaded()
    });
    assert!(data_dir.path().join(SAMPLE_FILE).exists());
    let ws = h.state().workspace.clone().unwrap();
    assert_eq!(ws.path, sample_workspace_path(data_dir.path()));
    assert_eq!(ws.name, "Sample workspace");
    // The Data screen lists the tables and shows the customers' first rows.
    h.get_by_label("customers");
    h.get_by_label("C0000001");

    for (label, screen) in [
        ("Segments", Screen::Segments),
        ("Preview", Screen::Preview),
        ("Performance", Screen::Performance),
        ("Data", Screen::Data),
    ] {
        h.get_by_label(label).click();
        h.run_ok();
        assert_eq!(h.state().screen, screen, "after clicking {label}");
    }
    assert_eq!(h.state().settings.screen, Screen::Data);
    assert_eq!(h.state().settings.last_workspace, Some(ws.path.clone()));
}

#[test]
fn browsing_a_table_shows_its_rows() {
    let data_dir = tempfile::tempdir().unwrap();
    let path = data_dir.path().join("shop.prism");
    let opts = prism::sample::SampleOptions {
        name: "Shop".into(),
        ..prism::sample::SampleOptions::new(400)
    };
    prism::sample::generate_workspace(&opts, &path, false, &prism::progress::NoProgress).unwrap();
    let mut h = harness(app(data_dir.path(), Some(&path)));
    run_until(&mut h, "the workspace", |a| {
        a.workspace.is_some() && a.data.is_loaded()
    });
    assert_eq!(h.state().workspace.as_ref().unwrap().name, "Shop");

    h.get_by_label("products").click();
    h.run_ok();
    assert_eq!(h.state().data.selected_table.as_deref(), Some("products"));
    run_until(&mut h, "products rows", |a| a.data.is_loaded());
    h.get_by_label("SKU-APP-001");

    h.get_by_label("events").click();
    h.run_ok();
    run_until(&mut h, "events rows", |a| a.data.is_loaded());
    // Event rows show their time as a date, not as raw seconds.
    let is_time = |s: &str| s.len() == 19 && s.starts_with("20") && s.as_bytes()[10] == b' ';
    assert!(
        h.query_all_by(
            |n| n.value().is_some_and(|v| is_time(&v)) || n.label().is_some_and(|l| is_time(&l))
        )
        .next()
        .is_some()
    );
}

#[test]
fn a_bad_workspace_file_shows_a_message_and_falls_back() {
    let data_dir = tempfile::tempdir().unwrap();
    let bad = data_dir.path().join("notes.prism");
    std::fs::write(&bad, "just some text, not a workspace").unwrap();
    let before = std::fs::read(&bad).unwrap();
    let mut a = app(data_dir.path(), None);
    a.settings.last_workspace = Some(bad.clone());
    let mut h = harness(a);
    run_until(&mut h, "the fallback workspace", |a| a.workspace.is_some());
    assert_eq!(
        h.state().workspace.as_ref().unwrap().path,
        sample_workspace_path(data_dir.path())
    );
    assert_eq!(h.state().errors.len(), 1);
    assert!(h.state().errors[0].contains("not a SQLite database"));
    h.get_by_label("Something went wrong");
    h.get_by_label("OK").click();
    h.run_ok();
    assert!(h.state().errors.is_empty());
    assert_eq!(std::fs::read(&bad).unwrap(), before);
}
