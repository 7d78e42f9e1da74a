//! Architecture invariants that a compiler cannot check for us.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file with `//` comments removed (doc comments may name
/// the UI layer; code may not use it).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn mentions_gui(code: &str) -> Option<String> {
    let words = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    words
        .filter(|w| w.starts_with("egui") || *w == "eframe" || *w == "rfd" || *w == "winit")
        .map(str::to_string)
        .next()
}

#[test]
fn only_the_ui_layer_and_the_app_entry_use_egui_or_eframe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10);
    let mut offenders = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        if rel.starts_with("ui") || rel == Path::new("main.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        if let Some(word) = mentions_gui(&code) {
            offenders.push(format!("src/{} uses {word}", rel.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "GUI code outside src/ui: {offenders:?}"
    );
}

#[test]
fn the_check_itself_catches_a_violation() {
    assert_eq!(
        mentions_gui("fn f(ui: &mut egui::Ui) {}"),
        Some("egui".to_string())
    );
    assert_eq!(
        mentions_gui(&code_of("// egui is only in src/ui\nfn f() {}")),
        None
    );
    assert_eq!(mentions_gui("use eframe::App;"), Some("eframe".to_string()));
}

#[test]
fn sql_stays_in_the_store() {
    // Statements Prism runs against its own schema live in src/store only.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut offenders = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        // The segment SQL compiler writes SQL for users and the oracle test;
        // the import benchmark hands SQL to other programs (the sqlite3
        // shell, DuckDB) for their own scratch databases; the warehouse
        // module speaks to other databases (PostgreSQL) and writes their DDL.
        if rel.starts_with("store")
            || rel.starts_with("warehouse")
            || rel == Path::new("engine/sql.rs")
            || rel == Path::new("cli/bench/import.rs")
        {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        for kw in [
            "SELECT ",
            "INSERT INTO",
            "UPDATE ",
            "DELETE FROM",
            "CREATE TABLE",
        ] {
            if code.contains(&format!("\"{kw}")) {
                offenders.push(format!("src/{} has {kw:?}", rel.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "SQL outside the store: {offenders:?}");
}

fn code_under(dir: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .iter()
        .map(|f| code_of(&std::fs::read_to_string(f).unwrap()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything the GUI does to saved segments, the CLI does too, through the
/// same function of `app::segments::ops`; neither writes segments itself.
#[test]
fn every_segment_operation_is_one_service_the_ui_and_the_cli_both_call() {
    use clap::CommandFactory;
    let cli = prism::cli::Cli::command();
    let segment = cli.find_subcommand("segment").expect("prism segment");
    let ui = code_under("ui");
    let cli_code = code_under("cli");
    for (op, subcommand) in prism::app::segments::ops::OPERATIONS {
        assert!(
            segment.find_subcommand(subcommand).is_some(),
            "no `prism segment {subcommand}` for {op}"
        );
        let call = format!("ops::{op}(");
        assert!(ui.contains(&call), "the UI does not call {call}");
        assert!(cli_code.contains(&call), "the CLI does not call {call}");
    }
    for writer in [
        "save_segment(",
        "add_segment_version(",
        "delete_segment(",
        "reorder_segments(",
    ] {
        assert!(
            !ui.contains(writer),
            "the UI calls the store's {writer} itself"
        );
        assert!(
            !cli_code.contains(writer),
            "the CLI calls the store's {writer} itself"
        );
    }
}

/// Screens reach the app only through `ui/ctx.rs` (their `ScreenCtx`), so
/// `ui/app.rs` and the screens do not import each other.
#[test]
fn screens_never_import_the_app() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let chrome = [
        "app.rs",
        "ctx.rs",
        "mod.rs",
        "bench.rs",
        "preview_bench.rs",
        "top_bar.rs",
        "status_bar.rs",
        "dialogs.rs",
        "commands.rs",
    ];
    let mut offenders = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if chrome.contains(&rel.as_str()) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).unwrap());
        if code.contains("ui::app::") || code.contains("super::app::") || code.contains("PrismApp")
        {
            offenders.push(rel);
        }
    }
    assert!(
        offenders.is_empty(),
        "screens that reach into ui/app.rs: {offenders:?}"
    );
}
