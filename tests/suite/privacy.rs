//! Privacy on real workspace files: erasing a customer leaves no trace of
//! them in any file Prism keeps, changes nothing when the customer is
//! unknown, and is recorded in the audit log without their data.

use std::path::{Path, PathBuf};
use std::process::Command;

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
