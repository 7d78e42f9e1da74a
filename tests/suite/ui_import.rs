//! The import wizard under egui_kittest: drop a CSV on the window, check the
//! detected mapping, validate, import, and see the rows in the Data screen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::ui_common;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use prism::app::Screen;
use prism::ingest::Target;
use prism::store::Store;
use prism::ui::PrismApp;

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// The app on `ws`, showing `screen`, optionally with the import wizard on
/// a file, in a window `height` points tall.
fn harness(
    dir: &Path,
    ws: &Path,
    screen: Screen,
    import: Option<PathBuf>,
    height: f32,
) -> Harness<'static, PrismApp> {
    let app = ui_common::app(dir, Some(ws), Some(screen), import);
    ui_common::harness(app, 1500.0, height)
}

fn run_until(h: &mut Harness<'_, PrismApp>, what: &str, done: impl Fn(&PrismApp) -> bool) {
    ui_common::run_until(h, what, Duration::from_secs(60), done);
}

#[test]
fn drop_map_validate_import_and_see_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("new.prism");
    drop(Store::create(&ws).unwrap());
    let csv = dir.path().join("crm-export.csv");
    std::fs::write(
        &csv,
        "Customer ID,E-mail,First Name,Signup Date,VIP\n\
         Q0001,ann@example.com,Ann,2025-01-02,yes\n\
         Q0002,bob@example.com,Bob,2025-02-03,no\n\
         Q0003,not-an-email,Cy,2025-03-04,no\n",
    )
    .unwrap();
    let mut h = harness(dir.path(), &ws, Screen::Data, None, 1000.0);
    run_until(&mut h, "the workspace", |a| {
        a.workspace.is_some() && a.engine.is_some()
    });

    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(csv.clone())));
    h.step();
    run_until(&mut h, "the preview", |a| a.data.import.mapping.is_some());
    h.get_by_label("Import crm-export.csv");
    // Detected without edits: id, email, name, signup date, a custom yes/no.
    let m = h.state().data.import.mapping.clone().unwrap();
    let to: Vec<String> = m.columns.iter().map(|c| c.target.describe()).collect();
    assert_eq!(
        to,
        [
            "external_id",
            "email",
            "first_name",
            "signup_at",
            "vip (custom bool)"
        ]
    );
    assert!(matches!(&m.columns[4].target, Target::Custom { .. }));

    // Validate: a report, nothing written.
    h.get_by_label("Validate").click();
    run_until(&mut h, "the validation", |a| {
        a.data.import.running.is_none() && a.data.import.report.is_some()
    });
    h.get_by_label("Validation report (nothing written yet)");
    assert_eq!(
        Store::open_read_only(&ws)
            .unwrap()
            .customer_count()
            .unwrap(),
        0
    );
    h.get_by_label_contains("no @ in the email");

    // Import.
    h.get_by_label("Import").click();
    run_until(&mut h, "the import", |a| {
        a.data.import.running.is_none()
            && a.data
                .import
                .report
                .as_ref()
                .is_some_and(|r| r.as_ref().is_ok_and(|r| !r.dry_run))
    });
    h.get_by_label("Import report");
    let report = h.state().data.import.report.clone().unwrap().unwrap();
    // The customer with a bad email is imported, without it.
    assert_eq!((report.inserted, report.rejected, report.warned), (3, 0, 1));
    h.get_by_label("Imported with a warning (1)");
    run_until(&mut h, "the reloaded workspace", |a| {
        a.workspace.as_ref().is_some_and(|w| {
            w.tables
                .iter()
                .any(|t| t.name == "customers" && t.rows == 3)
        }) && a.engine.is_some()
    });

    // Back to the table: the rows are there.
    h.get_by_label("Close").click();
    h.run_ok();
    h.get_by_label("customers").click();
    run_until(&mut h, "the rows", |a| a.data.is_loaded());
    h.get_by_label("Q0001");
    h.get_by_label("Q0002");
    h.get_by_label("customers · 3 rows");

    // The data-quality view knows the import.
    h.get_by_label("Data quality").click();
    run_until(&mut h, "the quality view", |a| {
        a.data.quality.result.is_some()
    });
    h.get_by_label_contains("crm-export.csv");
}

#[test]
fn opening_with_a_file_to_import_starts_the_wizard_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("demo.prism");
    drop(Store::create(&ws).unwrap());
    let csv = dir.path().join("newsletter.csv");
    std::fs::write(&csv, "email,first_name\nann@example.com,Ann\n").unwrap();
    let mut h = harness(dir.path(), &ws, Screen::Segments, Some(csv), 1000.0);
    run_until(&mut h, "the preview", |a| a.data.import.mapping.is_some());
    assert_eq!(h.state().screen, Screen::Data);
    h.get_by_label("Import newsletter.csv");
    h.get_by_label("Validate");
}

#[test]
fn identical_rows_are_counted_kept_and_dropped_only_when_ticked() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("shop.prism");
    drop(Store::create(&ws).unwrap());
    let csv = dir.path().join("cd_sales.csv");
    std::fs::write(
        &csv,
        "customer_id,date,cds\nC1,19970101,1\nC1,19970101,1\nC2,19970102,2\n",
    )
    .unwrap();
    let mut h = harness(dir.path(), &ws, Screen::Data, Some(csv), 1200.0);
    run_until(&mut h, "the preview", |a| {
        a.data.import.mapping.is_some() && a.engine.is_some()
    });
    // Purchases, by the file's name; no amount, and the wizard says so.
    let m = h.state().data.import.mapping.clone().unwrap();
    assert_eq!(m.event_name.as_deref(), Some("order"));
    h.get_by_label_contains("these orders have no value column");
    h.get_by_label("Create customers for events of unknown customers")
        .click();
    h.run_ok();
    h.get_by_label("Validate").click();
    run_until(&mut h, "the validation", |a| {
        a.data.import.running.is_none() && a.data.import.report.is_some()
    });
    h.get_by_label("Identical to an earlier row (1)");
    h.get_by_label("row 2 = row 1");
    let r = h.state().data.import.report.clone().unwrap().unwrap();
    assert_eq!((r.inserted, r.identical_rows), (3, 1));
    // Ticked: the later copy is dropped.
    h.get_by_label("Drop rows identical to an earlier row")
        .click();
    h.run_ok();
    assert!(h.state().data.import.drop_identical);
    h.get_by_label("Import").click();
    run_until(&mut h, "the import", |a| {
        a.data.import.running.is_none()
            && a.data
                .import
                .report
                .as_ref()
                .is_some_and(|r| r.as_ref().is_ok_and(|r| !r.dry_run))
    });
    let r = h.state().data.import.report.clone().unwrap().unwrap();
    assert_eq!((r.inserted, r.merged), (2, 1));
    assert_eq!(
        Store::open_read_only(&ws).unwrap().event_count().unwrap(),
        2
    );
}

#[test]
fn erase_a_customer_from_the_data_screen() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crm.prism");
    crate::common::import_customers(
        &ws,
        "customer_id,email,first_name\nQ0001,ann@example.com,Ann\nQ0002,bob@example.com,Bob\n",
    );
    let mut h = harness(dir.path(), &ws, Screen::Data, None, 1000.0);
    run_until(&mut h, "the workspace", |a| {
        a.workspace.is_some() && a.engine.is_some()
    });
    h.get_by_label("customers · 2 rows");
    h.get_by_label("Erase a customer…").click();
    h.run_ok();
    h.get_by_label("Customer id or email").focus();
    h.run_ok();
    h.get_by_label("Customer id or email")
        .type_text("BOB@example.com");
    h.run_ok();
    assert_eq!(h.state().data.erase.who, "BOB@example.com");
    h.get_by_label("Erase…").click();
    h.run_ok();
    // Nothing happens before the confirmation, which names who goes.
    assert_eq!(
        Store::open_read_only(&ws)
            .unwrap()
            .customer_count()
            .unwrap(),
        2
    );
    h.get_by_label_contains("Erase \"BOB@example.com\" and everything Prism holds of them?");
    h.get_by_label("Erase for good").click();
    h.run_ok();
    run_until(&mut h, "the erasure", |a| {
        matches!(a.data.erase.result, Some(Ok(_)))
    });
    h.get_by_label("Erased 1 customer and 0 events; 0 import reports redacted.");
    assert_eq!(
        Store::open_read_only(&ws)
            .unwrap()
            .customer_count()
            .unwrap(),
        1
    );
    // The workspace is read again: the table shows one row.
    h.get_by_label("customers").click();
    run_until(&mut h, "the table", |a| a.data.is_loaded());
    h.get_by_label("customers · 1 row");
    // An unknown customer: the reason, and nothing changed.
    h.get_by_label("Erase a customer…").click();
    h.run_ok();
    h.get_by_label("Customer id or email").focus();
    h.run_ok();
    h.get_by_label("Customer id or email").type_text("nobody");
    h.run_ok();
    h.get_by_label("Erase…").click();
    h.run_ok();
    h.get_by_label("Erase for good").click();
    run_until(&mut h, "the refusal", |a| {
        matches!(a.data.erase.result, Some(Err(_)))
    });
    h.get_by_label_contains("no customer has the id or email \"nobody\"");
    assert_eq!(
        Store::open_read_only(&ws)
            .unwrap()
            .customer_count()
            .unwrap(),
        1
    );
}

#[test]
fn the_audit_log_lists_imports_exports_and_erasures() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crm.prism");
    crate::common::import_customers(
        &ws,
        "customer_id,email\nQ0001,ann@example.com\nQ0002,bob@example.com\n",
    );
    prism::app::workspace::erase_customer(&ws, "bob@example.com").unwrap();
    // An export from the command line is recorded too.
    let rule = dir.path().join("all.json");
    std::fs::write(
        &rule,
        r#"{"version": 1, "root": {"type": "group", "match": "all", "children": [
            {"type": "profile", "field": "email", "op": "is_set"}]}}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .arg("members")
        .arg(&ws)
        .arg("--rule")
        .arg(&rule)
        .args(["--out", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = harness(dir.path(), &ws, Screen::Data, None, 1000.0);
    run_until(&mut h, "the workspace", |a| {
        a.workspace.is_some() && a.engine.is_some()
    });
    h.get_by_label("Audit log").click();
    run_until(&mut h, "the log", |a| {
        matches!(a.data.audit.entries, Some(Ok(_)))
    });
    h.get_by_label("import");
    h.get_by_label("erasure");
    h.get_by_label("export");
    h.get_by_label_contains("to standard output");
    h.get_by_label("· 3 entries");
    // Never whom.
    assert!(h.query_by_label_contains("bob@example.com").is_none());
    assert!(h.query_by_label_contains("Q0002").is_none());
}
