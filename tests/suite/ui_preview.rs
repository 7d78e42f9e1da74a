//! The Preview screen under egui_kittest, on a generated sample workspace:
//! two segments side by side with their subject lines, stepping to the
//! next member, one template for every column, typing in the template
//! editor, the mobile width, and a template that fails in one column only.

use std::path::Path;
use std::time::Duration;

use crate::ui_common;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use prism::app::Screen;
use prism::progress::NoProgress;
use prism::ui::PrismApp;
use prism::ui::preview::Mode;

fn harness(workspace: &Path, data_dir: &Path) -> Harness<'static, PrismApp> {
    let app = ui_common::app(data_dir, Some(workspace), Some(Screen::Preview), None);
    ui_common::harness(app, 1600.0, 1000.0)
}

fn run_until(h: &mut Harness<'_, PrismApp>, what: &str, done: impl Fn(&PrismApp) -> bool) {
    ui_common::run_until(h, what, Duration::from_secs(180), done);
}

/// Every column shows a rendered email for what it asks, and no job runs.
fn settled(a: &PrismApp) -> bool {
    let p = &a.preview;
    p.preview.is_some()
        && !p.columns.is_empty()
        && p.editor.edited_at.is_none()
        && p.columns.iter().all(|c| {
            !c.running
                && (c.error.is_some()
                    || c.shown
                        .as_ref()
                        .is_some_and(|s| Some(&s.request) == c.requested.as_ref()))
        })
}

fn subjects(a: &PrismApp) -> Vec<String> {
    a.preview
        .columns
        .iter()
        .map(|c| {
            c.shown
                .as_ref()
                .map(|s| s.view.rendered.subject.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn sample(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("shop.prism");
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions::new(1_500),
        &path,
        false,
        &NoProgress,
    )
    .unwrap();
    path
}

#[test]
fn two_segments_side_by_side_step_type_and_narrow() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let mut h = harness(&path, dir.path());
    run_until(&mut h, "the first previews", settled);

    // Two mapped segments, each with its subject line on screen.
    let s = subjects(h.state());
    assert_eq!(s.len(), 2);
    for subject in &s {
        assert!(!subject.is_empty());
        h.get_by_label(subject.as_str());
    }
    assert_eq!(h.state().preview.mode, Some(Mode::Mapped));

    // One template for every column: the newsletter greets by first name.
    h.get_by_label("Show").click();
    h.run_ok();
    h.get_by_label("Template: Newsletter").click();
    h.run_ok();
    run_until(&mut h, "the newsletter in both columns", |a| {
        settled(a)
            && a.preview.columns.iter().all(|c| {
                c.shown
                    .as_ref()
                    .is_some_and(|s| s.view.template == "Newsletter")
            })
    });

    // Next member, until the subject changes (two members may share a
    // first name).
    let first = subjects(h.state())[0].clone();
    let mut changed = false;
    for _ in 0..10 {
        let next: Vec<_> = h.get_all_by_label("Next ⏵").collect();
        next[0].click();
        h.run_ok();
        run_until(&mut h, "the next member", settled);
        if subjects(h.state())[0] != first {
            changed = true;
            break;
        }
    }
    assert!(changed, "ten members in a row had the subject {first:?}");
    let c = &h.state().preview.columns[0];
    assert!(c.position > 0);
    let shown = c.shown.as_ref().unwrap();
    assert_eq!(Some(shown.view.row), c.row());
    // The image is real layout at desktop width, not blank.
    let painted = shown.view.painted.as_ref().unwrap();
    assert_eq!(painted.css_width, 700);
    assert!(painted.css_height > 400);

    // Edit the template: a new subject shows in every column.
    h.get_by_label("Edit template").click();
    h.run_ok();
    run_until(&mut h, "the editor", |a| {
        a.preview.editor.template_id.is_some()
    });
    let text = h.state().preview.editor.text.clone();
    assert!(text.contains("subject: "));
    let edited = text.replacen("subject: ", "subject: Fresh picks for ", 1);
    h.get_by_label("Template source").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_ok();
    h.get_by_label("Template source").type_text(&edited);
    h.run_ok();
    run_until(&mut h, "the edited subject in every column", |a| {
        settled(a)
            && a.preview.editor.draft.is_some()
            && subjects(a)
                .iter()
                .all(|s| s.starts_with("Fresh picks for "))
    });
    for subject in subjects(h.state()) {
        h.get_by_label(subject.as_str());
    }

    // Mobile width narrows the image.
    h.get_by_label("Mobile").click();
    h.run_ok();
    run_until(&mut h, "the mobile previews", |a| {
        settled(a)
            && a.preview.columns.iter().all(|c| {
                c.shown.as_ref().is_some_and(|s| {
                    s.view
                        .painted
                        .as_ref()
                        .is_ok_and(|p| p.css_width == 375 && p.image.width < 700)
                })
            })
    });
}

#[test]
fn a_broken_edit_shows_its_error_and_other_columns_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let mut h = harness(&path, dir.path());
    run_until(&mut h, "the first previews", settled);
    // The two columns show different templates (VIP offer, and the
    // newsletter or VIP offer of an A/B test).
    let first_template = h.state().preview.columns[0]
        .shown
        .as_ref()
        .unwrap()
        .view
        .template
        .clone();
    h.get_by_label("Edit template").click();
    h.run_ok();
    run_until(&mut h, "the editor", |a| {
        a.preview.editor.template_id.is_some()
    });
    let text = h.state().preview.editor.text.clone();
    let broken = format!("{text}\n{{{{#if first_name}}oops\n");
    h.get_by_label("Template source").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_ok();
    h.get_by_label("Template source").type_text(&broken);
    h.run_ok();
    run_until(&mut h, "the error", |a| {
        settled(a) && a.preview.editor.draft.is_some() && a.preview.columns[0].error.is_some()
    });
    let a = h.state();
    let error = a.preview.columns[0].error.clone().unwrap();
    assert!(error.contains(&first_template), "{error}");
    assert!(error.contains(":"), "{error}");
    // The editor marks the line.
    assert!(
        a.preview
            .editor
            .marks
            .iter()
            .any(|m| m.severity == prism::email::Severity::Error && m.line > 0),
        "{:?}",
        a.preview.editor.marks
    );
    // A column showing another template still shows its email.
    for c in &a.preview.columns[1..] {
        if c.shown
            .as_ref()
            .is_some_and(|s| s.view.template != first_template)
        {
            assert!(c.error.is_none());
        }
    }
}
