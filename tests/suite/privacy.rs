//! Privacy on real workspace files: erasing a customer leaves no trace of
//! them in any file Prism keeps, changes nothing when the customer is
//! unknown, and is recorded in the audit log without their data.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::common::{counted_from_events, import_customers, kept_stats};
use prism::app::workspace::erase_customer;
use prism::engine::Engine;
use prism::engine::snapshot::path_for;
use prism::progress::NoProgress;
use prism::store::Store;
use sha2::{Digest, Sha256};

/// Every file beside the workspace that belongs to it (the database, its
/// log, the engine snapshot).
fn files_of(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut out: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn holds(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn workspace(dir: &Path) -> PathBuf {
    let path = dir.join("shop.prism");
    let opts = prism::sample::SampleOptions {
        customers: 400,
        seed: 5,
        as_of: crate::common::ts("2026-06-15"),
        name: "Shop".into(),
    };
    prism::sample::generate_workspace(&opts, &path, false, &NoProgress).unwrap();
    path
}

#[test]
fn an_erased_customer_leaves_no_trace_in_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = workspace(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let mut victim = None;
    store
        .for_each_customer(|c| {
            let found = c.email.is_some() && !store.customer_events(c.id).unwrap().is_empty();
            if found {
                victim = Some(c);
            }
            !found
        })
        .unwrap();
    let victim = victim.unwrap();
    let email = victim.email.clone().unwrap();
    let their_events = store.customer_events(victim.id).unwrap().len() as i64;
    let customers_before = store.customer_count().unwrap();
    drop(store);
    // An import that names them in its report: another id with their email
    // is merged into them, and the note says so.
    let r = import_customers(
        &path,
        &format!("customer_id,email,city\nX-NEW-1,{email},Bergen\n"),
    );
    assert_eq!(r.merged, 1, "{}", r.to_text());
    // The engine's snapshot holds their email too.
    drop(Engine::load(&Store::open_read_only(&path).unwrap(), &NoProgress).unwrap());
    assert!(path_for(&path).exists());
    let before: Vec<PathBuf> = files_of(&path)
        .into_iter()
        .filter(|f| holds(f, &email))
        .collect();
    assert!(before.contains(&path_for(&path)), "{before:?}");
    assert!(
        before.iter().any(|f| f != &path_for(&path)),
        "the database holds the email: {before:?}"
    );

    let erased = erase_customer(&path, &victim.external_id).unwrap();
    assert_eq!(erased.customers, 1);
    assert_eq!(erased.events, their_events);
    assert_eq!(erased.reports, 1);
    assert!(erased.log_cleared);
    for f in files_of(&path) {
        assert!(!holds(&f, &email), "{} still holds {email}", f.display());
    }
    let store = Store::open_read_only(&path).unwrap();
    assert_eq!(store.customer_count().unwrap(), customers_before - 1);
    assert!(store.customer_events(victim.id).unwrap().is_empty());
    assert_eq!(kept_stats(&store), counted_from_events(&path));
    // The audit log says it happened, and nothing of whom.
    let last = store.audit_log().unwrap().pop().unwrap();
    assert_eq!(last.action, "erasure");
    assert!(last.detail.contains("\"customers\":1"), "{}", last.detail);
    assert!(!last.detail.contains(&email) && !last.detail.contains(&victim.external_id));
    assert!(!last.user.is_empty());
    // The engine builds again, without them.
    let engine = Engine::load(&store, &NoProgress).unwrap();
    assert!(matches!(
        engine.origin(),
        prism::engine::Origin::Built { .. }
    ));
}

fn digest(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

#[test]
fn erasing_an_unknown_customer_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = workspace(dir.path());
    drop(Engine::load(&Store::open_read_only(&path).unwrap(), &NoProgress).unwrap());
    let before = (digest(&path), digest(&path_for(&path)));
    for who in ["nobody@example.com", "NO-SUCH-ID", "   "] {
        let e = erase_customer(&path, who).unwrap_err().to_string();
        assert!(
            e.contains("nothing was erased") || e.contains("give the customer"),
            "{e}"
        );
    }
    assert_eq!(before, (digest(&path), digest(&path_for(&path))));
    // The command line says the same, with exit code 1.
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args([
            "erase",
            path.to_str().unwrap(),
            "--customer",
            "nobody@example.com",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no customer has the id or email \"nobody@example.com\""),
        "{err}"
    );
    assert_eq!(before.0, digest(&path));
}

#[test]
fn an_email_erases_everyone_who_has_it_and_the_audit_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.prism");
    // Two customers, one mailbox (not merged: they have their own ids and
    // the file is keyed by id).
    import_customers(
        &path,
        "customer_id,email,first_name,last_name\nA1,Pat@Example.com,Pat,Lee\nA2,bo@example.com,Bo,Ek\n",
    );
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO customers(external_id, email) VALUES ('A3', 'pat@example.com')",
            [],
        )
        .unwrap();
    }
    let erased = erase_customer(&path, " PAT@example.com ").unwrap();
    assert_eq!(erased.customers, 2);
    let store = Store::open_read_only(&path).unwrap();
    assert_eq!(store.customer_count().unwrap(), 1);
    let out = Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["audit", path.to_str().unwrap(), "--csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time,user,action,detail");
    assert!(lines[1].contains("\"import\""), "{text}");
    assert!(
        lines[2].contains("\"erasure\"") && lines[2].contains("\"\"by\"\":\"\"email\"\""),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("pat@example.com"), "{text}");
}

/// Runs `prism` with `args` in a network namespace of its own, with no
/// interface but a loopback that is down: any connection fails.
fn offline(args: &[&str]) -> std::process::Output {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(env!("CARGO_BIN_EXE_prism"))
        .args(args)
        .env("PRISM_PROGRESS", "quiet")
        .output()
        .unwrap()
}

/// Whether this machine lets an unprivileged process have a network
/// namespace of its own.
fn namespaces_work() -> bool {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The sockets a process holds, from its file descriptors.
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// The day the generated data ends after.
const AS_OF: &str = "2026-06-16";

#[test]
fn import_count_render_paint_and_export_work_with_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &str| d.join(p).to_string_lossy().into_owned();
    let steps: Vec<Vec<String>> = vec![
        vec![
            "sample",
            "--customers",
            "300",
            "--as-of",
            "2026-06-15",
            "--out",
            &s("w.prism"),
        ],
        vec![
            "sample",
            "--csv",
            "--customers",
            "50",
            "--seed",
            "7",
            "--as-of",
            "2026-06-15",
            "--out",
            &s("csv"),
        ],
        vec![
            "import",
            &s("new.prism"),
            &s("csv/customers.csv"),
            "--kind",
            "customers",
        ],
        vec![
            "import",
            &s("new.prism"),
            &s("csv/orders.csv"),
            "--kind",
            "events",
        ],
        vec!["count", &s("w.prism"), "--segment", "VIP", "--as-of", AS_OF],
        vec![
            "render",
            &s("w.prism"),
            "--segment",
            "VIP",
            "--template",
            "VIP offer",
            "--limit",
            "3",
            "--as-of",
            AS_OF,
            "--out",
            &s("emails"),
        ],
        vec![
            "snapshot",
            &s("w.prism"),
            "--segment",
            "VIP",
            "--template",
            "VIP offer",
            "--as-of",
            AS_OF,
            "--out",
            &s("vip.png"),
        ],
        vec![
            "members",
            &s("w.prism"),
            "--segment",
            "VIP",
            "--as-of",
            AS_OF,
            "--out",
            &s("vip.csv"),
        ],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    if namespaces_work() {
        for step in &steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            let out = offline(&args);
            assert!(
                out.status.success(),
                "prism {} failed offline: {}",
                step.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        // No namespaces here: every step runs while its sockets are
        // watched, and none is ever opened.
        eprintln!("no network namespaces on this machine: watching sockets instead");
        for step in &steps {
            let mut child = Command::new(env!("CARGO_BIN_EXE_prism"))
                .args(step)
                .env("PRISM_PROGRESS", "quiet")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut most = 0;
            loop {
                most = most.max(sockets_of(child.id()));
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "prism {} failed", step.join(" "));
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            assert_eq!(most, 0, "prism {} opened a socket", step.join(" "));
        }
    }
    // Each step did its work.
    let store = Store::open_read_only(d.join("new.prism")).unwrap();
    assert!(store.customer_count().unwrap() >= 50);
    assert!(store.event_count().unwrap() > 0);
    assert!(std::fs::read_dir(d.join("emails")).unwrap().count() >= 1);
    assert!(
        std::fs::read(d.join("vip.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    assert!(
        std::fs::read_to_string(d.join("vip.csv"))
            .unwrap()
            .lines()
            .count()
            > 1
    );
    // Both exports are in the audit log: what, how many, where to.
    let rendered = std::fs::read_dir(d.join("emails")).unwrap().count();
    let exports: Vec<String> = Store::open_read_only(d.join("w.prism"))
        .unwrap()
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "export")
        .map(|e| e.detail)
        .collect();
    assert_eq!(exports.len(), 2, "{exports:?}");
    assert!(
        exports[0].contains("\"what\":\"emails\"")
            && exports[0].contains(&format!("\"emails\":{rendered}")),
        "{exports:?}"
    );
    assert!(
        exports[1].contains("\"what\":\"members\"") && exports[1].contains("vip.csv"),
        "{exports:?}"
    );
}

#[test]
fn an_erasure_waits_for_an_import_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let path = workspace(dir.path());
    // Another writer (an import) holds the workspace; the customer to
    // erase exists only once it commits.
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO customers(external_id, email) VALUES ('LATE-1', 'late@example.com');",
        )
        .unwrap();
    let commit = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(400));
        writer.execute_batch("COMMIT").unwrap();
    });
    // Interleaved, it would not find them; it waits, then erases them.
    let erased = erase_customer(&path, "LATE-1").unwrap();
    commit.join().unwrap();
    assert_eq!(erased.customers, 1);
    let store = Store::open_read_only(&path).unwrap();
    assert!(store.customer_by_external_id("LATE-1").unwrap().is_none());
}

/// The tiny workspace, plus a hard bounce for C4 (2026-10-15) and an
/// unsubscribe for C6 (2026-11-20) whose profile still says consent, as
/// an export from a mail tool often does.
fn consent_workspace(dir: &Path) -> PathBuf {
    let path = crate::common::tiny_workspace(dir);
    let mut store = Store::open(&path).unwrap();
    let id = |s: &Store, ext: &str| {
        let e = Engine::load(s, &NoProgress).unwrap();
        e.find_customer(ext).unwrap()
    };
    let (c4, c6) = (id(&store, "C4"), id(&store, "C6"));
    let mut load = store.bulk_load(false).unwrap();
    for (who, name, at) in [
        (c4, "email_bounce", "2026-10-15 08:00"),
        (c6, "unsubscribe", "2026-11-20 08:00"),
    ] {
        load.insert_event(&prism::model::Event {
            customer_id: who,
            name: name.into(),
            time: crate::common::ts(at),
            ..Default::default()
        })
        .unwrap();
    }
    load.commit().unwrap();
    path
}

fn externals(engine: &Engine, rows: impl IntoIterator<Item = usize>) -> Vec<String> {
    rows.into_iter()
        .map(|i| engine.field_display("external_id", i).unwrap())
        .collect()
}

#[test]
fn unreachable_means_no_consent_no_address_unsubscribed_or_bounced() {
    use prism::engine::reach::Unreachable;
    let dir = tempfile::tempdir().unwrap();
    let path = consent_workspace(dir.path());
    let engine = Engine::load(&Store::open_read_only(&path).unwrap(), &NoProgress).unwrap();
    let nov = crate::common::ts("2026-11-01");
    let dec = crate::common::ts("2026-12-01");
    assert_eq!(
        externals(&engine, engine.reachable(nov).iter()),
        ["C1", "C6"]
    );
    // C6's unsubscribe counts from its time on, consent flag or not.
    assert_eq!(externals(&engine, engine.reachable(dec).iter()), ["C1"]);
    let why = |ext: &str, at: i64| {
        let row = engine
            .data
            .index_of(engine.find_customer(ext).unwrap())
            .unwrap();
        engine.why_unreachable(row, at)
    };
    assert_eq!(why("C1", dec), None);
    assert_eq!(why("C2", nov), Some(Unreachable::NoConsent));
    assert_eq!(why("C3", nov), Some(Unreachable::NoEmail));
    assert_eq!(
        why("C4", nov),
        Some(Unreachable::Bounced(crate::common::ts("2026-10-15 08:00")))
    );
    assert_eq!(
        why("C5", nov).unwrap().to_string(),
        "unsubscribed on 2026-10-31"
    );
    assert_eq!(why("C6", nov), None);
    assert!(matches!(why("C6", dec), Some(Unreachable::Unsubscribed(_))));
    // Every count carries it: everyone, 6 members, 2 reachable.
    let schema = prism::engine::schema_of(&Store::open_read_only(&path).unwrap()).unwrap();
    let rule = prism::engine::parse_rule(
        r#"{"version": 1, "root": {"type": "profile", "field": "external_id", "op": "is_set"}}"#,
    )
    .unwrap();
    let node = prism::engine::resolve(&rule, &schema).unwrap();
    let ev = engine.evaluate(&node, nov, &NoProgress).unwrap();
    assert_eq!((ev.count(), ev.reachable), (6, 2));
    // The Preview's pickers offer the reachable only, and say why not.
    let preview = prism::app::preview::Preview::load(&path, Arc::new(engine), nov).unwrap();
    let engine = preview.mail.engine.clone();
    assert_eq!(externals(&engine, preview.members(None)), ["C1", "C6"]);
    assert_eq!(preview.members_with(None, true).len(), 6);
    let err = preview
        .find_member(&preview.members(None), "eve@z.org")
        .unwrap_err();
    assert!(
        err.contains("cannot be emailed (unsubscribed on 2026-10-31)"),
        "{err}"
    );
}

#[test]
fn exports_leave_the_unreachable_out_unless_a_reason_is_given_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = consent_workspace(dir.path());
    let rule = dir.path().join("everyone.json");
    std::fs::write(
        &rule,
        r#"{"version": 1, "root": {"type": "profile", "field": "external_id", "op": "is_set"}}"#,
    )
    .unwrap();
    let members = |out: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_prism"))
            .arg("members")
            .arg(&path)
            .arg("--rule")
            .arg(&rule)
            .args(["--as-of", "2026-11-01", "--out"])
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let ids_in = |csv: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(csv).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let col = rows
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "external_id")
            .unwrap();
        rows.records()
            .map(|r| r.unwrap()[col].to_string())
            .collect()
    };
    let default = dir.path().join("default.csv");
    let out = members(&default, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("members = 2\n"), "{stdout}");
    assert!(stdout.contains("unreachable_left_out = 4\n"), "{stdout}");
    assert_eq!(ids_in(&default), ["C1", "C6"]);
    // An override without a reason is refused before anything is written.
    let empty = dir.path().join("empty.csv");
    let out = members(&empty, &["--include-unreachable", "  "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a reason"));
    assert!(!empty.exists());
    let overrides = || -> Vec<serde_json::Value> {
        Store::open_read_only(&path)
            .unwrap()
            .audit_log()
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "consent_override")
            .map(|e| {
                assert!(!e.user.is_empty());
                serde_json::from_str(&e.detail).unwrap()
            })
            .collect()
    };
    assert!(overrides().is_empty());
    let all = dir.path().join("all.csv");
    let out = members(
        &all,
        &["--include-unreachable", "legal hold list for counsel"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unreachable_included = 4\n"));
    assert_eq!(ids_in(&all), ["C1", "C2", "C3", "C4", "C5", "C6"]);
    let o = overrides();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0]["what"], "members export");
    assert_eq!(o[0]["reason"], "legal hold list for counsel");
    assert_eq!(o[0]["unreachable_included"], 4);
    // The app's export: the same rule, through the service the UI calls.
    let engine = Engine::load(&Store::open_read_only(&path).unwrap(), &NoProgress).unwrap();
    let everyone = prism::engine::Bitset::full(engine.len());
    let nov = crate::common::ts("2026-11-01");
    let ui_out = dir.path().join("ui.csv");
    let done = prism::app::segments::export_members(
        &engine,
        &everyone,
        None,
        nov,
        &prism::app::privacy::Audience::Reachable,
        &ui_out,
    )
    .unwrap();
    assert_eq!((done.rows, done.unreachable), (2, 4));
    assert_eq!(ids_in(&ui_out), ["C1", "C6"]);
    assert_eq!(overrides().len(), 1, "the default records no override");

    // Renders: the same default, the same override.
    let prism = || Command::new(env!("CARGO_BIN_EXE_prism"));
    let welcome = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/templates/welcome.html");
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(prism().args(["template", "add"]).arg(&path).arg(&welcome));
    ok(prism()
        .args(["segment", "save"])
        .arg(&path)
        .args(["--name", "Everyone", "--rule"])
        .arg(&rule));
    let render = |out: &Path, extra: &[&str]| {
        let mut c = prism();
        c.arg("render")
            .arg(&path)
            .args(["--template", "Welcome", "--as-of", "2026-11-01", "--out"])
            .arg(out)
            .args(extra);
        c
    };
    let printed = ok(&mut render(
        &dir.path().join("r1"),
        &["--segment", "Everyone"],
    ));
    assert!(printed.contains("emails = 2\n"), "{printed}");
    assert!(printed.contains("unreachable_left_out = 4\n"), "{printed}");
    let refused = render(&dir.path().join("r2"), &["--customer", "C5"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("cannot be emailed (unsubscribed on 2026-10-31)"),
        "{err}"
    );
    assert!(!dir.path().join("r2").exists());
    let printed = ok(&mut render(
        &dir.path().join("r3"),
        &[
            "--segment",
            "Everyone",
            "--include-unreachable",
            "print proofs",
        ],
    ));
    assert!(printed.contains("emails = 6\n"), "{printed}");
    let o = overrides();
    assert_eq!(o.len(), 2);
    assert_eq!(o[1]["what"], "email export");
    assert_eq!(o[1]["reason"], "print proofs");
    assert_eq!(o[1]["unreachable_included"], 4);
}

#[test]
fn personal_fields_are_detected_editable_and_masked_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("crm.prism");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let prism = || Command::new(env!("CARGO_BIN_EXE_prism"));
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            c,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // A CRM's export (Python's csv module): Mobile and Zip go to phone and
    // postal_code, which say what they are by name.
    let report = ok(prism()
        .arg("import")
        .arg(&ws)
        .arg(fixtures.join("crm_contacts.csv"))
        .args(["--kind", "customers"]));
    assert!(report.contains("personal       phone (phone)"), "{report}");
    assert!(
        report.contains("personal       postal_code (postal code)"),
        "{report}"
    );
    // A column whose name says nothing, holding notes: found by its values.
    let notes = dir.path().join("notes.csv");
    std::fs::write(
        &notes,
        "Contact ID,About,Tier\n\
         C00328,asked about the winter boots twice,gold\n\
         C00958,prefers calls in the morning please,silver\n\
         C00001,moved house and changed her number,gold\n\
         C00002,complained about late delivery in May,bronze\n",
    )
    .unwrap();
    let report = ok(prism()
        .arg("import")
        .arg(&ws)
        .arg(&notes)
        .args(["--kind", "customers"]));
    assert!(report.contains("personal       about (text)"), "{report}");
    assert!(!report.contains("personal       tier"), "{report}");
    let listed = ok(prism().arg("pii").arg(&ws));
    let line = |name: &str| {
        listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in\n{listed}"))
            .to_string()
    };
    assert!(line("email").contains("personal (email)"), "{listed}");
    assert!(
        line("phone").contains("personal (phone)  detected on import"),
        "{listed}"
    );
    assert!(line("tier").contains("-  detected on import"), "{listed}");
    assert!(line("country").contains("-  by name"), "{listed}");
    // A person decides otherwise.
    let listed = ok(prism()
        .arg("pii")
        .arg(&ws)
        .args(["--unmark", "postal_code"]));
    assert!(
        listed.contains("postal_code              -  set by a person"),
        "{listed}"
    );
    let listed = ok(prism()
        .arg("pii")
        .arg(&ws)
        .args(["--mark", "tier", "--kind", "text"]));
    assert!(
        listed.contains("tier                     personal (text)  set by a person"),
        "{listed}"
    );
    let bad = prism()
        .arg("pii")
        .arg(&ws)
        .args(["--mark", "shoe_size"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no customer field \"shoe_size\""));

    // Members in demo mode: the same rows, nobody real.
    let rule = dir.path().join("everyone.json");
    std::fs::write(
        &rule,
        serde_json::to_string(&prism::engine::rule::Rule::everyone()).unwrap(),
    )
    .unwrap();
    let export = |demo: bool, out: &Path| {
        let mut c = prism();
        if demo {
            c.arg("--demo");
        }
        ok(c.arg("members")
            .arg(&ws)
            .arg("--rule")
            .arg(&rule)
            .args(["--include-unreachable", "demo rehearsal", "--out"])
            .arg(out));
        let mut rows = csv::Reader::from_path(out).unwrap();
        let h = rows.headers().unwrap().clone();
        rows.records()
            .map(|r| {
                let r = r.unwrap();
                h.iter()
                    .zip(r.iter())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<std::collections::HashMap<_, _>>()
            })
            .collect::<Vec<_>>()
    };
    let real = export(false, &dir.path().join("real.csv"));
    let demo = export(true, &dir.path().join("demo.csv"));
    let again = export(true, &dir.path().join("again.csv"));
    assert_eq!(real.len(), demo.len());
    assert_eq!(demo, again, "stand-ins are stable");
    for (r, d) in real.iter().zip(&demo) {
        assert_eq!(r["external_id"], d["external_id"]);
        assert_eq!(r["country"], d["country"], "not personal: unchanged");
        assert_eq!(
            r["postal_code"], d["postal_code"],
            "unmarked by a person: unchanged"
        );
        for f in ["email", "first_name", "last_name", "phone", "about", "tier"] {
            if !r[f].is_empty() {
                assert_ne!(r[f], d[f], "{f} of {}", r["external_id"]);
            }
            assert_eq!(r[f].is_empty(), d[f].is_empty(), "{f}: empty stays empty");
        }
        if !d["email"].is_empty() {
            assert!(d["email"].ends_with("@example.com"), "{}", d["email"]);
        }
    }
    // The email a customer gets in demo mode greets their stand-in.
    let welcome = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/templates/welcome.html");
    ok(prism().args(["template", "add"]).arg(&ws).arg(&welcome));
    let who = demo.iter().find(|d| d["external_id"] == "C00958").unwrap();
    let out = dir.path().join("mail");
    ok(prism()
        .arg("--demo")
        .arg("render")
        .arg(&ws)
        .args(["--template", "Welcome", "--customer", "C00958"])
        .args(["--include-unreachable", "demo rehearsal", "--out"])
        .arg(&out));
    let mut file = out.clone();
    while file.is_dir() {
        file = std::fs::read_dir(&file)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
    }
    let html = std::fs::read_to_string(file).unwrap();
    assert!(
        html.contains(&format!("Hi {},", who["first_name"])),
        "{}",
        who["first_name"]
    );
    let real_who = real.iter().find(|d| d["external_id"] == "C00958").unwrap();
    assert!(!html.contains(&real_who["first_name"]) && !html.contains(&real_who["email"]));
}

#[test]
fn demo_mode_finds_a_customer_by_the_email_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::common::tiny_workspace(dir.path());
    let store = Store::open_read_only(&path).unwrap();
    let engine = Engine::load(&store, &NoProgress).unwrap();
    let c1 = engine.find_customer("C1").unwrap();
    let row = engine.data.index_of(c1).unwrap();
    engine.set_mask(Some(Arc::new(store.masker().unwrap())));
    let shown = engine.field_display("email", row).unwrap();
    assert!(shown.ends_with("@example.com"), "{shown}");
    assert_eq!(engine.find_customer(&shown.to_uppercase()), Some(c1));
    // Off again, a stand-in's address names nobody.
    engine.set_mask(None);
    assert_eq!(engine.find_customer(&shown), None);
}
