//! `prism bench render`: how fast every customer's email is made.

use std::path::PathBuf;
use std::time::Instant;

use super::given_or_bench_workspace;
use crate::cli::CliError;
use crate::cli::segments::load_engine;
use crate::email::export::{self, Format, Unit};
use crate::email::render::html_to_text;
use crate::email::starter::starter_templates;
use crate::email::{Mail, Renderer, lint};
use crate::model::time::{now_utc, parse_instant};
use crate::progress::NoProgress;
use crate::store::Store;

/// The instant the generated workspace is evaluated at (its own `as_of`);
/// a workspace given by path is evaluated now.
const AS_OF: &str = "2026-11-01";

pub fn run(
    workspace: Option<PathBuf>,
    customers: u64,
    per_template: usize,
) -> Result<(), CliError> {
    let as_of = match workspace {
        Some(_) => now_utc(),
        None => parse_instant(AS_OF).unwrap_or(0),
    };
    let path = given_or_bench_workspace(workspace, customers)?;
    let store = Store::open(&path)?;
    let engine = std::sync::Arc::new(load_engine(&store)?);
    let mail = Mail::load(&store, engine, as_of)?;
    let n = mail.engine.data.len();
    println!("customers = {n}");
    // The starters as shipped (not the workspace's copies, which a user may
    // have edited), with the workspace's partials.
    let renderers: Vec<Renderer> = starter_templates(0)
        .iter()
        .map(|t| mail.renderer(t))
        .collect::<Result<_, _>>()?;
    let slug = |r: &Renderer| export::slug(&r.template.name).replace('-', "_");
    // Compiling a template with its partials (what every keystroke in the
    // Preview's editor costs before anything renders).
    for r in &renderers {
        let runs = 20;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(mail.renderer(&r.template)?);
        }
        println!(
            "compile_ms_{} = {:.2} ms",
            slug(r),
            started.elapsed().as_secs_f64() * 1000.0 / runs as f64
        );
    }

    // One thread: build the context and render HTML, subject, preheader and
    // the plain-text part, customer after customer (rows spread over the
    // whole workspace so every kind of customer is in).
    let count = per_template.clamp(1, n.max(1));
    let step = (n / count).max(1);
    let rows: Vec<usize> = (0..n).step_by(step).take(count).collect();
    // Where a render's time goes: the context alone, and the plain text
    // derived from one rendered email.
    let started = Instant::now();
    let mut keys = 0usize;
    for &row in &rows {
        keys += mail.builder.build(row).as_object().map_or(0, |m| m.len());
    }
    println!(
        "context_builds_per_second_per_core = {:.0} /s",
        rows.len() as f64 / started.elapsed().as_secs_f64()
    );
    println!("context_keys = {}", keys / rows.len());
    let sample_html = renderers[0].render(mail.builder.build(rows[0]))?.html;
    let started = Instant::now();
    let times = 2_000;
    for _ in 0..times {
        std::hint::black_box(html_to_text(std::hint::black_box(&sample_html)));
    }
    println!(
        "html_to_text_per_second_per_core = {:.0} /s",
        times as f64 / started.elapsed().as_secs_f64()
    );
    for r in &renderers {
        let slug = slug(r);
        let started = Instant::now();
        let mut bytes = 0usize;
        for &row in &rows {
            let out = r.render_with_text(mail.builder.build_for(row, r.needs))?;
            bytes += out.html.len() + out.text.as_ref().map_or(0, String::len);
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "renders_per_second_per_core_{slug} = {:.0} /s",
            rows.len() as f64 / secs
        );
        println!(
            "bytes_per_email_{slug} = {:.0} B",
            bytes as f64 / rows.len() as f64
        );
    }

    // Lint one template over every customer (two threads, as `prism lint`).
    let all: Vec<usize> = (0..n).collect();
    let newsletter = renderers
        .iter()
        .find(|r| slug(r) == "newsletter")
        .unwrap_or(&renderers[0]);
    let started = Instant::now();
    let report = lint::lint(newsletter, &mail.builder, &all, &mail.shape, &NoProgress);
    println!("lint_all_{n} = {:.2} s", started.elapsed().as_secs_f64());
    println!("lint_findings = {}", report.findings.len());

    // Export every customer's newsletter as .eml files (two threads,
    // written to a temporary folder and published atomically).
    let out = std::env::temp_dir().join(format!("prism-bench-eml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let units: Vec<Unit> = all
        .iter()
        .map(|&row| Unit {
            renderer: 0,
            row,
            segment: "all".into(),
            variant: String::new(),
        })
        .collect();
    let started = Instant::now();
    let stats = export::export(
        &mail.builder,
        std::slice::from_ref(newsletter),
        &units,
        &out,
        Format::Eml,
        false,
        &NoProgress,
    )?;
    println!(
        "export_eml_all_{n} = {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!("export_eml_files = {}", stats.files);
    let _ = std::fs::remove_dir_all(&out);
    println!("export_eml_size = {:.0} MB", stats.bytes as f64 / 1e6);
    Ok(())
}
