//! Demo mode under egui_kittest: with the switch on, no real customer's
//! name, email or city appears anywhere in the UI tree, on any screen;
//! counts stay as they were; the switch is audited.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::ui_common;
use egui_kittest::Harness;
use egui_kittest::kittest::{By, NodeT, Queryable};
use prism::app::Screen;
use prism::progress::NoProgress;
use prism::store::Store;
use prism::ui::{AppOptions, PrismApp, Settings};

fn run_until(h: &mut Harness<'_, PrismApp>, what: &str, done: impl Fn(&PrismApp) -> bool) {
    ui_common::run_until(h, what, Duration::from_secs(180), done);
}

/// Every text in the UI tree: labels and values.
fn texts(h: &Harness<'_, PrismApp>) -> Vec<String> {
    h.query_all(By::new().include_labels().predicate(|_| true))
        .flat_map(|n| {
            let node = n.accesskit_node();
            [node.label(), node.value(), node.description()]
        })
        .flatten()
        .collect()
}

/// The real values of `words` that appear on screen, as whole words.
fn leaks(h: &Harness<'_, PrismApp>, words: &HashSet<String>, phrases: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for t in texts(h) {
        for w in t.split(|c: char| !(c.is_alphanumeric() || "@._+-'".contains(c))) {
            let w = w.trim_matches(|c: char| ".'-_".contains(c));
            if words.contains(w) {
                found.push(format!("{w:?} in {t:?}"));
            }
        }
        for p in phrases {
            if t.contains(p.as_str()) {
                found.push(format!("{p:?} in {t:?}"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The count the Segments screen shows for the rule being edited.
fn shown_count(h: &Harness<'_, PrismApp>) -> usize {
    let (_, r) = h.state().segments.eval.result.clone().unwrap();
    r.evaluation.count()
}

#[test]
fn demo_mode_shows_no_real_customer_on_any_screen() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("shop.prism");
    prism::sample::generate_workspace(
        &prism::sample::SampleOptions::new(600),
        &ws,
        false,
        &NoProgress,
    )
    .unwrap();
    // Every real name and email, and every city (some are two words).
    let mut words = HashSet::new();
    let mut cities = HashSet::new();
    let store = Store::open_read_only(&ws).unwrap();
    store
        .for_each_customer(|c| {
            words.extend(c.first_name.clone());
            words.extend(c.last_name.clone());
            words.extend(c.email.clone());
            cities.extend(c.city.clone());
            true
        })
        .unwrap();
    drop(store);
    let cities: Vec<String> = cities.into_iter().collect();
    assert!(words.len() > 100);

    let app = ui_common::app(dir.path(), Some(&ws), Some(Screen::Data), None);
    let mut h = ui_common::harness(app, 1600.0, 1000.0);
    run_until(&mut h, "the workspace", |a| {
        a.data.is_loaded() && a.engine.is_some() && a.masker.is_some()
    });
    // Without demo mode, the customers table shows real people: the
    // check below can fail.
    assert!(!leaks(&h, &words, &cities).is_empty());

    h.get_by_label("🎭 Demo mode").click();
    h.run_ok();
    assert!(h.state().demo);
    let check = |h: &mut Harness<'_, PrismApp>, screen: &str| {
        h.run_ok();
        let found = leaks(h, &words, &cities);
        assert!(
            found.is_empty(),
            "{screen} shows real customers: {found:#?}"
        );
    };
    check(&mut h, "the customers table");
    // Stand-ins are shown instead, for the same rows.
    assert!(texts(&h).iter().any(|t| t.ends_with("@example.com")));

    h.get_by_label("Segments").click();
    run_until(&mut h, "the members", |a| {
        a.jobs.is_idle() && a.segments.members.order.is_some()
    });
    check(&mut h, "the members tab");
    let count_in_demo = shown_count(&h);

    h.get_by_label("Explain").click();
    h.run_ok();
    let field: Vec<_> = h.get_all_by_label("Customer ID or email").collect();
    field[0].focus();
    h.run_ok();
    h.get_all_by_label("Customer ID or email")
        .next()
        .unwrap()
        .type_text("C0000003");
    h.run_ok();
    let buttons: Vec<_> = h.get_all_by_label("Explain").collect();
    buttons[1].click();
    run_until(&mut h, "the explanation", |a| {
        a.segments.explain.result.is_some() && a.jobs.is_idle()
    });
    check(&mut h, "an explanation");

    h.get_by_label("Preview").click();
    run_until(&mut h, "the previews", |a| {
        let p = &a.preview;
        p.preview.is_some()
            && !p.columns.is_empty()
            && p.columns.iter().all(|c| {
                !c.running
                    && (c.error.is_some()
                        || c.shown
                            .as_ref()
                            .is_some_and(|s| Some(&s.request) == c.requested.as_ref()))
            })
    });
    check(&mut h, "the preview columns");
    for c in &mut h.state_mut().preview.columns {
        c.tab = prism::ui::preview::Tab::Data;
    }
    check(&mut h, "the members' data in the preview");
    let shown = h.state().preview.columns[0].shown.as_ref().unwrap();
    assert!(
        shown.view.context.contains("@example.com"),
        "{}",
        shown.view.context
    );

    h.get_by_label("Performance").click();
    run_until(&mut h, "the performance screen", |a| a.jobs.is_idle());
    check(&mut h, "the performance screen");

    h.get_by_label("Data").click();
    h.run_ok();
    h.get_by_label("Personal fields").click();
    run_until(&mut h, "the personal fields", |a| {
        a.data.pii.fields.is_some() && a.jobs.is_idle()
    });
    check(&mut h, "the personal fields");
    h.get_by_label("Email");

    // Counts do not change with the switch.
    h.get_by_label("🎭 Demo mode").click();
    h.run_ok();
    assert!(!h.state().demo);
    h.get_by_label("Segments").click();
    run_until(&mut h, "the members", |a| {
        a.jobs.is_idle() && a.segments.eval.result.is_some()
    });
    let count = shown_count(&h);
    assert_eq!(count, count_in_demo);

    // Both switches are in the audit log.
    let deadline = Instant::now() + Duration::from_secs(60);
    let switches = loop {
        let log: Vec<String> = Store::open_read_only(&ws)
            .unwrap()
            .audit_log()
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "demo_mode")
            .map(|e| e.detail)
            .collect();
        if log.len() == 2 || Instant::now() > deadline {
            break log;
        }
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(switches, [r#"{"what":"on"}"#, r#"{"what":"off"}"#]);
}

#[test]
fn demo_mode_masks_a_file_being_imported() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crm_contacts.csv");
    // The file's emails and phone numbers, read with a plain CSV reader.
    let mut reader = csv::Reader::from_path(&fixture).unwrap();
    let mut words = HashSet::new();
    for r in reader.records() {
        let r = r.unwrap();
        words.insert(r[3].to_string());
        words.insert(r[4].to_string().replace(' ', ""));
        for part in r[4].split(' ') {
            if part.len() > 4 {
                words.insert(part.to_string());
            }
        }
    }
    let ws = dir.path().join("crm.prism");
    let app = PrismApp::new(
        AppOptions {
            workspace: Some(ws.clone()),
            screen: Some(Screen::Data),
            data_dir: dir.path().to_path_buf(),
            exit_after_shown: false,
            import: Some(fixture.clone()),
            demo: true,
            started: Instant::now(),
        },
        Settings::default(),
    );
    let _ = Store::create(&ws).unwrap();
    let mut h = ui_common::harness(app, 1600.0, 1000.0);
    run_until(&mut h, "the file's preview", |a| {
        a.data.import.preview.is_some() && a.jobs.is_idle()
    });
    h.get_by_label_contains("First 10 rows").click();
    h.run_ok();
    h.run_ok();
    let found = leaks(&h, &words, &[]);
    assert!(found.is_empty(), "the import wizard shows: {found:#?}");
    // The rows are there, as stand-ins.
    assert!(texts(&h).iter().any(|t| t.ends_with("@example.com")));
}
