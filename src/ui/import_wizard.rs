//! The import wizard in the Data screen: drop a file or pick one → preview
//! → mapping (detected, editable) → kind and key → validation report →
//! import, with progress (rows/s, time left) and cancel.

use std::path::PathBuf;

use super::ctx::{Msg, Request, ScreenCtx};
use super::data_screen::{DataMsg, format_count};
use crate::app::jobs::JobKey;
use crate::ingest::mapping::{ColumnMap, CustomerKey, Kind, Mapping, Target, auto_map};
use crate::ingest::values::DateFormat;
use crate::ingest::{ImportOptions, ImportReport, Preview, import_file, preview};
use crate::model::FieldType;
use crate::model::mask::{Masker, PiiKind, StandIn, default_kind};

pub enum ImportMsg {
    Picked(Option<PathBuf>),
    Previewed(PathBuf, Result<Preview, String>),
    Finished {
        dry_run: bool,
        result: Box<Result<ImportReport, String>>,
    },
    RejectsSaved(Result<String, String>),
}

#[derive(Default)]
pub struct ImportWizard {
    pub open: bool,
    pub path: Option<PathBuf>,
    pub preview: Option<Result<Preview, String>>,
    pub mapping: Option<Mapping>,
    pub date_format: Option<DateFormat>,
    pub create_missing: bool,
    /// Drop event rows identical to an earlier row (kept by default).
    pub drop_identical: bool,
    /// An import (or a dry run, `true`) is under way.
    pub running: Option<bool>,
    pub report: Option<Result<ImportReport, String>>,
    pub saved_rejects: Option<String>,
}

fn msg(m: ImportMsg) -> Msg {
    Msg::Data(DataMsg::Import(m))
}

impl ImportWizard {
    /// Starts the wizard on a file (picked or dropped).
    pub fn start(&mut self, path: PathBuf, ctx: &mut ScreenCtx<'_>) {
        *self = ImportWizard {
            open: true,
            path: Some(path.clone()),
            ..ImportWizard::default()
        };
        let p = path.clone();
        ctx.jobs
            .spawn(JobKey::ImportPreview, "Reading the file", move |_| {
                msg(ImportMsg::Previewed(
                    p.clone(),
                    preview(&p, &ImportOptions::default(), 50).map_err(|e| e.to_string()),
                ))
            });
    }

    pub fn pick(ctx: &mut ScreenCtx<'_>) {
        ctx.jobs
            .spawn(JobKey::FileDialog, "Waiting for a file", |_| {
                let path = rfd::FileDialog::new()
                    .add_filter(
                        "Data files",
                        &["csv", "tsv", "txt", "jsonl", "ndjson", "parquet", "xlsx"],
                    )
                    .pick_file();
                msg(ImportMsg::Picked(path))
            });
    }

    /// Applies a job's answer.
    pub fn handle(&mut self, m: ImportMsg, ctx: &mut ScreenCtx<'_>) {
        match m {
            ImportMsg::Picked(Some(path)) => self.start(path, ctx),
            ImportMsg::Picked(None) => {}
            ImportMsg::Previewed(path, result) => {
                if self.path.as_ref() != Some(&path) {
                    return;
                }
                self.mapping = result.as_ref().ok().map(|p| p.mapping.clone());
                self.preview = Some(result);
            }
            ImportMsg::Finished { dry_run, result } => {
                self.running = None;
                let result = *result;
                let imported =
                    !dry_run && result.as_ref().is_ok_and(|r| r.already_imported.is_none());
                self.report = Some(result);
                if imported && let Some(ws) = ctx.workspace_path() {
                    // New rows: reread the tables and rebuild the engine.
                    ctx.requests.push(Request::OpenWorkspace(ws));
                }
            }
            ImportMsg::RejectsSaved(r) => match r {
                Ok(p) => self.saved_rejects = Some(p),
                Err(e) => ctx.error(e),
            },
        }
    }
}

fn run(w: &mut ImportWizard, ctx: &mut ScreenCtx<'_>, dry_run: bool) {
    let (Some(ws), Some(path), Some(mapping)) =
        (ctx.workspace_path(), w.path.clone(), w.mapping.clone())
    else {
        return;
    };
    let options = ImportOptions {
        kind: Some(mapping.kind),
        event_name: mapping.event_name.clone(),
        mapping: Some(mapping),
        date_format: w.date_format,
        create_missing_customers: w.create_missing,
        drop_identical_rows: w.drop_identical,
        dry_run,
        ..ImportOptions::default()
    };
    w.running = Some(dry_run);
    w.report = None;
    w.saved_rejects = None;
    let label = if dry_run {
        "Checking the file"
    } else {
        "Importing"
    };
    ctx.jobs.spawn(JobKey::Import, label, move |ctx| {
        let result = import_file(&ws, &path, &options, ctx).map_err(|e| e.to_string());
        msg(ImportMsg::Finished {
            dry_run,
            result: Box::new(result),
        })
    });
}

fn save_rejects(ctx: &mut ScreenCtx<'_>, csv: String) {
    ctx.jobs
        .spawn(JobKey::FileDialog, "Saving rejected rows", move |_| {
            let Some(path) = rfd::FileDialog::new()
                .add_filter("CSV", &["csv"])
                .set_file_name("rejected-rows.csv")
                .save_file()
            else {
                return msg(ImportMsg::RejectsSaved(Err("Not saved".into())));
            };
            let r = std::fs::write(&path, csv)
                .map(|_| path.display().to_string())
                .map_err(|e| format!("{}: {e}", path.display()));
            msg(ImportMsg::RejectsSaved(r))
        });
}

/// Target choices for a column of `kind`: (label, target).
fn choices(kind: Kind, column: &str) -> Vec<(String, Target)> {
    let mut out = vec![("Skip".to_string(), Target::Skip)];
    for f in kind.fields() {
        out.push((
            f.label.to_string(),
            Target::Field {
                name: f.name.to_string(),
            },
        ));
    }
    if matches!(kind, Kind::Customers | Kind::Events) {
        let what = if kind == Kind::Customers {
            "Custom field"
        } else {
            "Event property"
        };
        for t in FieldType::ALL {
            out.push((
                format!("{what} ({t})"),
                Target::Custom {
                    name: crate::ingest::mapping::normalize_header(column),
                    field_type: t,
                },
            ));
        }
    }
    out
}

fn target_label(kind: Kind, t: &Target) -> String {
    match t {
        Target::Skip => "Skip".into(),
        Target::Field { name } => kind
            .fields()
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.label.to_string())
            .unwrap_or_else(|| name.clone()),
        Target::Custom { name, field_type } => {
            let what = if kind == Kind::Customers {
                "custom"
            } else {
                "property"
            };
            format!("{name} ({what} {field_type})")
        }
    }
}

impl ImportWizard {
    /// The wizard, in the Data screen's centre.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        import_wizard_ui(ui, self, ctx);
    }
}

fn import_wizard_ui(ui: &mut egui::Ui, w: &mut ImportWizard, ctx: &mut ScreenCtx<'_>) {
    let file_name = w
        .path
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut close = false;
    ui.horizontal(|ui| {
        ui.heading(format!("Import {file_name}"));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Close").clicked() {
                close = true;
            }
        });
    });
    if close {
        *w = ImportWizard::default();
        return;
    }
    ui.separator();
    let preview = match &w.preview {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the file…");
            });
            return;
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        Some(Ok(p)) => p.clone(),
    };
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.label(format!(
                "{} · {} · {} columns",
                preview.sniffed.format.describe(),
                human_size(preview.sniffed.size),
                preview.sniffed.headers.len()
            ));
            if preview.sniffed.encoding == crate::ingest::source::Encoding::Latin1 {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    "Not UTF-8: read as Latin-1 (ISO-8859-1).",
                );
            }
            settings_ui(ui, w, &preview);
            ui.add_space(6.0);
            let demo = ctx.demo.then(|| demo_kinds(w, &preview));
            mapping_ui(ui, w, &preview, demo.as_deref());
            ui.add_space(6.0);
            sample_ui(ui, &preview, demo.as_deref());
            ui.add_space(6.0);
            actions_ui(ui, w, ctx);
            report_ui(ui, w, ctx);
        });
}

fn human_size(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} KB", n as f64 / 1e3)
    }
}

fn settings_ui(ui: &mut egui::Ui, w: &mut ImportWizard, preview: &Preview) {
    let Some(mapping) = w.mapping.as_mut() else {
        return;
    };
    egui::Grid::new("import_settings")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("The file holds");
            let before = mapping.kind;
            egui::ComboBox::from_id_salt("import_kind")
                .selected_text(mapping.kind.key())
                .show_ui(ui, |ui| {
                    for k in Kind::ALL {
                        ui.selectable_value(&mut mapping.kind, k, k.key());
                    }
                })
                .response
                .accessible_name("Kind of data");
            if mapping.kind != before {
                // Map again for the new kind, from the same sample.
                let kind = mapping.kind;
                let mut m = auto_map(kind, &preview.sniffed.headers, &preview.rows, None);
                if kind == Kind::Events
                    && m.column_of("event").is_none()
                    && let Some(path) = w.path.as_deref()
                {
                    m.event_name = crate::ingest::default_event_name(path, &m);
                }
                *mapping = m;
            }
            ui.end_row();
            if matches!(mapping.kind, Kind::Customers | Kind::Events) {
                ui.label("Customers are found by");
                egui::ComboBox::from_id_salt("import_key")
                    .selected_text(match mapping.key {
                        CustomerKey::Id => "customer id",
                        CustomerKey::Email => "email",
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut mapping.key, CustomerKey::Id, "customer id");
                        ui.selectable_value(&mut mapping.key, CustomerKey::Email, "email");
                    })
                    .response
                    .accessible_name("Customer key");
                ui.end_row();
            }
            if mapping.kind == Kind::Events && mapping.column_of("event").is_none() {
                ui.label("Every row is the event");
                let mut name = mapping.event_name.clone().unwrap_or_default();
                if ui
                    .add(egui::TextEdit::singleline(&mut name).hint_text("Event name"))
                    .accessible_name("Event name")
                    .changed()
                {
                    mapping.event_name = Some(name);
                }
                ui.end_row();
            }
            ui.label("Dates");
            let current = w
                .date_format
                .map(|f| f.key().to_string())
                .unwrap_or_else(|| "detected per column".into());
            egui::ComboBox::from_id_salt("import_dates")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut w.date_format, None, "detected per column");
                    for f in DateFormat::ALL {
                        ui.selectable_value(&mut w.date_format, Some(f), f.key());
                    }
                })
                .response
                .accessible_name("Date format");
            ui.end_row();
            if mapping.kind == Kind::Events {
                ui.label("");
                ui.checkbox(
                    &mut w.create_missing,
                    "Create customers for events of unknown customers",
                );
                ui.end_row();
                if mapping.column_of("event_id").is_none() {
                    ui.label("");
                    ui.checkbox(
                        &mut w.drop_identical,
                        "Drop rows identical to an earlier row",
                    )
                    .on_hover_text(
                        "Without an event id column, two identical rows are kept as two events \
                         (the same purchase twice on one day). Validate shows how many there are.",
                    );
                    ui.end_row();
                }
            }
        });
}

/// In demo mode, what each column of the file holds when it is personal
/// (by where it goes, its name or its values): its cells are shown as
/// stand-ins.
fn demo_kinds(w: &ImportWizard, preview: &Preview) -> Vec<Option<PiiKind>> {
    preview
        .sniffed
        .headers
        .iter()
        .enumerate()
        .map(|(i, header)| {
            let target = w
                .mapping
                .as_ref()
                .and_then(|m| m.columns.get(i))
                .and_then(|c| match &c.target {
                    crate::ingest::mapping::Target::Field { name } => {
                        default_kind(name, crate::model::FieldType::Text)
                    }
                    _ => None,
                });
            target.or_else(|| PiiKind::from_name(header)).or_else(|| {
                PiiKind::from_values(
                    preview
                        .rows
                        .iter()
                        .filter_map(|r| r.get(i).and_then(|v| v.as_deref())),
                )
            })
        })
        .collect()
}

/// A file's cell as shown: a stand-in (one made-up person per row) in
/// demo mode when its column is personal; addresses replaced in the rest.
fn cell_shown(
    demo: Option<&[Option<PiiKind>]>,
    row: usize,
    col: usize,
    header: &str,
    v: &str,
) -> String {
    match demo {
        None => v.to_string(),
        Some(kinds) => match kinds.get(col).copied().flatten() {
            Some(kind) if !v.is_empty() => {
                StandIn::of(&format!("file row {row}")).value(kind, header, v)
            }
            _ => Masker::default().text(v),
        },
    }
}

fn mapping_ui(
    ui: &mut egui::Ui,
    w: &mut ImportWizard,
    preview: &Preview,
    demo: Option<&[Option<PiiKind>]>,
) {
    let Some(mapping) = w.mapping.as_mut() else {
        return;
    };
    ui.strong("Columns");
    let kind = mapping.kind;
    egui::Grid::new("import_mapping")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            ui.strong("Column");
            ui.strong("Sample");
            ui.strong("Goes to");
            ui.end_row();
            for (i, c) in mapping.columns.iter_mut().enumerate() {
                ui.label(&c.column);
                let sample: Vec<String> = preview
                    .rows
                    .iter()
                    .enumerate()
                    .filter_map(|(k, r)| {
                        let v = r.get(i).cloned().flatten()?;
                        Some(cell_shown(demo, k, i, &c.column, &v))
                    })
                    .take(3)
                    .collect();
                let s = sample.join(", ");
                ui.weak(if s.chars().count() > 40 {
                    format!("{}…", s.chars().take(40).collect::<String>())
                } else {
                    s
                });
                let ColumnMap { column, target, .. } = c;
                egui::ComboBox::from_id_salt(("import_target", i))
                    .selected_text(target_label(kind, target))
                    .width(200.0)
                    .show_ui(ui, |ui| {
                        for (label, t) in choices(kind, column) {
                            let selected = *target == t;
                            if ui.selectable_label(selected, label).clicked() {
                                *target = t;
                            }
                        }
                    })
                    .response
                    .accessible_name(format!("Target of {column}"));
                ui.end_row();
            }
        });
    if let Err(e) = mapping.check() {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    for w in crate::ingest::mapping_warnings(mapping) {
        ui.colored_label(ui.visuals().warn_fg_color, w);
    }
}

fn sample_ui(ui: &mut egui::Ui, preview: &Preview, demo: Option<&[Option<PiiKind>]>) {
    egui::CollapsingHeader::new(format!("First {} rows", preview.rows.len().min(10)))
        .default_open(false)
        .show(ui, |ui| {
            egui::ScrollArea::horizontal().show(ui, |ui| {
                egui::Grid::new("import_sample")
                    .striped(true)
                    .show(ui, |ui| {
                        for h in &preview.sniffed.headers {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for (k, r) in preview.rows.iter().take(10).enumerate() {
                            for (i, v) in r.iter().enumerate() {
                                let header =
                                    preview.sniffed.headers.get(i).map_or("", String::as_str);
                                ui.label(cell_shown(
                                    demo,
                                    k,
                                    i,
                                    header,
                                    v.as_deref().unwrap_or_default(),
                                ));
                            }
                            ui.end_row();
                        }
                    });
            });
        });
}

fn actions_ui(ui: &mut egui::Ui, w: &mut ImportWizard, ctx: &mut ScreenCtx<'_>) {
    let valid = w.mapping.as_ref().is_some_and(|m| m.check().is_ok());
    let running = w.running;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(valid && running.is_none(), egui::Button::new("Validate"))
            .on_hover_text("Check every row and report, without writing")
            .clicked()
        {
            run(w, ctx, true);
        }
        if ui
            .add_enabled(valid && running.is_none(), egui::Button::new("Import"))
            .clicked()
        {
            run(w, ctx, false);
        }
        if running.is_some() {
            ui.spinner();
            let status = ctx
                .jobs
                .statuses()
                .into_iter()
                .find(|s| s.label == "Importing" || s.label == "Checking the file");
            if let Some(s) = status {
                ui.add(
                    egui::ProgressBar::new(s.fraction)
                        .desired_width(160.0)
                        .show_percentage(),
                );
                ui.weak(&s.message);
                if ui.button("Cancel").clicked() {
                    ctx.jobs.cancel(s.id);
                }
            }
        }
    });
}

fn report_ui(ui: &mut egui::Ui, w: &mut ImportWizard, ctx: &mut ScreenCtx<'_>) {
    let Some(report) = w.report.clone() else {
        return;
    };
    ui.separator();
    let r = match report {
        Ok(r) => r,
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
    };
    if let Some(when) = &r.already_imported {
        ui.strong(format!(
            "This file was already imported on {when} UTC; nothing changed."
        ));
        return;
    }
    ui.strong(if r.dry_run {
        "Validation report (nothing written yet)"
    } else {
        "Import report"
    });
    for w in &r.warnings {
        ui.colored_label(ui.visuals().warn_fg_color, w);
    }
    egui::Grid::new("import_counts")
        .num_columns(2)
        .show(ui, |ui| {
            for (label, n) in [
                ("rows read", r.rows_read),
                ("inserted", r.inserted),
                ("updated", r.updated),
                ("merged", r.merged),
                ("unchanged", r.unchanged),
                ("rejected", r.rejected),
                ("imported with a warning", r.warned),
                ("identical to an earlier row", r.identical_rows),
            ] {
                ui.label(label);
                ui.strong(format_count(n as i64));
                ui.end_row();
            }
            if r.stub_customers > 0 {
                ui.label("new customers for unknown ones");
                ui.strong(format_count(r.stub_customers as i64));
                ui.end_row();
            }
            ui.label("time");
            ui.label(format!(
                "{:.1} s · {:.0} rows/s",
                r.elapsed_secs,
                r.rows_per_sec()
            ));
            ui.end_row();
        });
    for f in &r.created_fields {
        ui.label(format!("New custom field: {f}"));
    }
    for f in &r.pii_marked {
        ui.label(format!("Personal field: {f} (masked in demo mode)"));
    }
    if !r.rejects.is_empty() {
        ui.horizontal(|ui| {
            ui.strong(format!(
                "Rejected rows ({})",
                format_count(r.rejected as i64)
            ));
            if ui.button("Export rejected rows…").clicked() {
                save_rejects(ctx, r.rejects_csv());
            }
        });
        if let Some(p) = &w.saved_rejects {
            ui.weak(format!("Saved to {p}"));
        }
        rows_ui(ui, "import_rejects", &r.rejects, ctx.demo);
    }
    if !r.row_warnings.is_empty() {
        egui::CollapsingHeader::new(format!(
            "Imported with a warning ({})",
            format_count(r.warned as i64)
        ))
        .default_open(true)
        .show(ui, |ui| {
            rows_ui(ui, "import_warnings", &r.row_warnings, ctx.demo)
        });
    }
    if r.identical_rows > 0 {
        egui::CollapsingHeader::new(format!(
            "Identical to an earlier row ({})",
            format_count(r.identical_rows as i64)
        ))
        .default_open(true)
        .show(ui, |ui| {
            ui.label(r.identical_summary());
            ui.weak(r.identical_list(100));
        });
    }
    if !r.merges.is_empty() {
        egui::CollapsingHeader::new(format!("Merged rows ({})", format_count(r.merged as i64)))
            .show(ui, |ui| {
                for m in r.merges.iter().take(100) {
                    if ctx.demo {
                        ui.label(Masker::default().text(m));
                    } else {
                        ui.label(m);
                    }
                }
            });
    }
    if r.likely_duplicate_count > 0 {
        egui::CollapsingHeader::new(format!(
            "Likely duplicates to review ({}), not merged",
            format_count(r.likely_duplicate_count as i64)
        ))
        .show(ui, |ui| {
            ui.weak("Best first; the score adds the evidence for and against.");
            for d in r.likely_duplicates.iter().take(100) {
                if ctx.demo {
                    // The name and the evidence quote the customers.
                    ui.label(format!("{:.1}  {} and {}", d.score, d.a, d.b));
                } else {
                    ui.label(format!(
                        "{:.1}  {}: {} and {} ({})",
                        d.score, d.name, d.a, d.b, d.why
                    ));
                }
            }
        });
    }
}

/// Rows with their place and reason (rejected, or imported with a warning).
fn rows_ui(ui: &mut egui::Ui, id: &str, rows: &[crate::ingest::Reject], demo: bool) {
    egui::Grid::new(id).striped(true).show(ui, |ui| {
        ui.strong("Row");
        ui.strong("Column");
        ui.strong("Value");
        ui.strong("Reason");
        ui.end_row();
        for x in rows.iter().take(200) {
            ui.label(x.row.to_string());
            ui.label(x.column.clone().unwrap_or_default());
            match (&x.value, demo) {
                (Some(v), true) if !v.is_empty() => ui.weak("(hidden in demo mode)"),
                (v, _) => ui.label(v.clone().unwrap_or_default()),
            };
            if demo {
                ui.label(Masker::default().text(&x.reason));
            } else {
                ui.label(&x.reason);
            }
            ui.end_row();
        }
    });
}
