//! The command line as scripts use it: pipes, logs and standard output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

fn prism() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prism"))
}

fn sample_workspace(dir: &std::path::Path) -> std::path::PathBuf {
    let ws = dir.join("shop.prism");
    let out = prism()
        .args([
            "sample",
            "--customers",
            "3000",
            "--as-of",
            "2026-11-01",
            "--out",
        ])
        .arg(&ws)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Progress goes to a terminal only: a pipe gets no control sequences.
    assert!(
        !out.stderr.contains(&0x1b),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    ws
}

#[test]
fn a_closed_pipe_ends_the_command_quietly_and_dash_means_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_workspace(dir.path());
    // `prism members … --out - | head -1`
    let mut child = prism()
        .current_dir(dir.path())
        .arg("members")
        .arg(&ws)
        .args(["--segment", "Lapsed", "--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        // Dropping the reader closes the pipe with most of the CSV unread.
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(first.starts_with("id,external_id,email"), "{first}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_ne!(status.code(), Some(101), "{err}");
    // No file named `-`.
    assert!(!dir.path().join("-").exists());

    // The whole CSV on standard output, the summary on stderr.
    let out = prism()
        .current_dir(dir.path())
        .arg("members")
        .arg(&ws)
        .args(["--segment", "Lapsed", "--out", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows = csv.lines().count() - 1;
    let err = String::from_utf8(out.stderr).unwrap();
    let mut summary = err.lines();
    assert_eq!(summary.next(), Some(format!("members = {rows}").as_str()));
    assert!(
        summary
            .next()
            .is_some_and(|l| l.starts_with("unreachable_left_out = ")),
        "{err}"
    );
    assert!(!dir.path().join("-").exists());
}

#[test]
fn import_progress_is_for_terminals_and_rejects_can_go_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("w.prism");
    let f = dir.path().join("c.csv");
    std::fs::write(
        &f,
        "customer_id,email,signup_date\nA1,a@x.com,2026-01-01\nA2,b@x.com,2030-01-01\n",
    )
    .unwrap();
    let out = prism()
        .arg("import")
        .arg(&ws)
        .arg(&f)
        .args(["--rejects", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "row,line,column,value,reason\n2,3,signup_date,2030-01-01,the date is in the future\n"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("inserted       1"), "{stderr}");
}

#[test]
fn segments_are_renamed_duplicated_moved_recoloured_and_deleted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_workspace(dir.path());
    let run = |args: &[&str]| {
        let out = prism()
            .arg("segment")
            .arg(args[0])
            .arg(&ws)
            .args(&args[1..])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let rule = dir.path().join("lapsed_vips.json");
    std::fs::write(
        &rule,
        r#"{"version": 1, "root": {"type": "group", "match": "all", "children": [
            {"type": "segment", "segment": "VIP"},
            {"type": "segment", "segment": "Lapsed"}]}}"#,
    )
    .unwrap();
    let (code, _, err) = run(&[
        "save",
        "--name",
        "Lapsed VIPs",
        "--rule",
        rule.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");

    // Rename: the rule that refers to it follows, in the same transaction.
    let (code, out, err) = run(&["rename", "--name", "VIP", "--to", "Top customers"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("\"Lapsed VIPs\" now refers to \"Top customers\""),
        "{out}"
    );
    let store = prism::store::Store::open_read_only(&ws).unwrap();
    let lv = store.segment_by_name("Lapsed VIPs").unwrap().unwrap();
    assert!(
        lv.rule.contains("Top customers") && !lv.rule.contains("\"VIP\""),
        "{}",
        lv.rule
    );
    drop(store);
    // A name that is taken is refused, and nothing changes.
    let (code, _, err) = run(&["rename", "--name", "Top customers", "--to", "Lapsed"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("already exists"), "{err}");

    let (code, out, _) = run(&["duplicate", "--name", "Lapsed"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"Lapsed (copy)\""), "{out}");
    let (code, out, _) = run(&["move", "--name", "Lapsed (copy)", "--up"]);
    assert_eq!(code, Some(0));
    let order: Vec<&str> = out.lines().map(|l| l[5..].trim()).collect();
    let copy = order.iter().position(|n| *n == "Lapsed (copy)").unwrap();
    assert_eq!(order[copy + 1], "Lapsed VIPs", "{out}");
    let (code, _, err) = run(&["color", "--name", "Lapsed", "#12ab34"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["color", "--name", "Lapsed", "teal"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("#rrggbb"), "{err}");

    // Delete checks references; --force overrides.
    let (code, _, err) = run(&["delete", "--name", "Lapsed"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("used by Lapsed VIPs"), "{err}");
    let (code, _, _) = run(&["delete", "--name", "Lapsed", "--force"]);
    assert_eq!(code, Some(0));
    let store = prism::store::Store::open_read_only(&ws).unwrap();
    assert!(store.segment_by_name("Lapsed").unwrap().is_none());
    // The copy has its first version, noted as a duplicate.
    let copy = store.segment_by_name("Lapsed (copy)").unwrap().unwrap();
    let versions = store.segment_versions(copy.id).unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].note, "duplicated");
}
