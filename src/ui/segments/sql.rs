//! SQL tab: the rule as SQL in a chosen dialect, ready to copy or export;
//! and, when the workspace has a PostgreSQL source, the rule counted there
//! (every node, in the background).

use super::{SegMsg, SegmentsScreen};
use crate::app::jobs::JobKey;
use crate::engine::sql::Dialect;
use crate::ui::ctx::{Msg, ScreenCtx};
use crate::ui::data_screen::format_count;

#[derive(Default)]
pub struct SqlState {
    pub dialect: Dialect,
    /// Where the last export went.
    pub exported: Option<String>,
    /// The workspace's source, once read: `None` is the local engine only.
    pub source: Option<Result<Option<String>, String>>,
    /// The last count on the source.
    pub remote: Option<Result<RemoteCount, String>>,
    /// The connection string being typed (no password).
    pub url: String,
    /// Why the last connection string was not kept.
    pub setting: Option<String>,
    /// Who to explain on the source, and the answer: their id there and
    /// each node's verdict.
    pub who: String,
    pub explained: Option<Result<(i64, crate::warehouse::postgres::Verdicts), String>>,
}

/// The rule counted by the workspace's database, and by the local engine.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteCount {
    pub count: crate::app::segments::SourceCount,
    /// The local engine's count for the same rule and time.
    pub local: usize,
}

#[derive(Debug)]
pub enum SqlMsg {
    Exported(Result<String, String>),
    Source(Result<Option<String>, String>),
    Counted(Result<RemoteCount, String>),
    /// A source set (checked first) or cleared: its description, or none.
    SourceSet(Result<Option<String>, String>),
    Explained(Result<(i64, crate::warehouse::postgres::Verdicts), String>),
}

impl SqlState {
    pub fn handle(s: &mut SegmentsScreen, m: SqlMsg, ctx: &mut ScreenCtx<'_>) {
        match m {
            SqlMsg::Exported(Ok(path)) => s.sql.exported = Some(path),
            SqlMsg::Exported(Err(e)) => ctx.error(e),
            SqlMsg::Source(r) => s.sql.source = Some(r),
            SqlMsg::Counted(r) => s.sql.remote = Some(r),
            SqlMsg::SourceSet(Ok(d)) => {
                s.sql.source = Some(Ok(d));
                s.sql.remote = None;
                s.sql.setting = None;
            }
            SqlMsg::SourceSet(Err(e)) => s.sql.setting = Some(e),
            SqlMsg::Explained(r) => s.sql.explained = Some(r),
        }
    }
}

fn read_source(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    s.sql.source = Some(Ok(None));
    ctx.jobs.spawn(
        JobKey::WarehouseSource,
        "Reading the workspace's source",
        move |_| {
            let r = crate::store::Store::open_read_only(&ws)
                .map_err(|e| e.to_string())
                .and_then(|store| {
                    crate::warehouse::postgres::Source::of_workspace(&store)
                        .map(|o| o.map(|src| src.describe()))
                        .map_err(|e| e.to_string())
                });
            Msg::Segments(SegMsg::Sql(SqlMsg::Source(r)))
        },
    );
}

fn export(s: &SegmentsScreen, ctx: &mut ScreenCtx<'_>, sql: String) {
    let name = s.draft().map_or("segment".to_string(), |d| d.name.clone());
    let file_name = format!(
        "{}.{}.sql",
        name.replace(['/', '\\', ':'], "-"),
        s.sql.dialect.key()
    );
    ctx.jobs
        .spawn(JobKey::SqlExport, "Exporting SQL", move |_| {
            let Some(path) = rfd::FileDialog::new()
                .add_filter("SQL", &["sql"])
                .set_file_name(&file_name)
                .save_file()
            else {
                return Msg::Segments(SegMsg::Sql(SqlMsg::Exported(
                    Err("Export cancelled".into()),
                )));
            };
            let r = crate::app::segments::write_text(&path, &sql).map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Sql(SqlMsg::Exported(r)))
        });
}

fn count_on_source(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let (Some(ws), Some((k, r))) = (ctx.workspace_path(), s.eval.result.clone()) else {
        return;
    };
    if Some(k) != s.current {
        return;
    }
    s.sql.remote = None;
    let (node, as_of, local) = (r.node.clone(), r.evaluation.as_of, r.evaluation.count());
    ctx.jobs.spawn(
        JobKey::WarehouseCount,
        "Counting on PostgreSQL",
        move |progress| {
            let r = crate::app::segments::count_on_source(&ws, &node, as_of, true, progress)
                .map(|count| RemoteCount { count, local })
                .map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Sql(SqlMsg::Counted(r)))
        },
    );
}

pub fn sql_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    if s.sql.source.is_none() {
        read_source(s, ctx);
    }
    let sql = match &s.eval.result {
        Some((k, r)) if Some(*k) == s.current => Some(r.sql(s.sql.dialect).to_string()),
        _ => None,
    };
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("sql_dialect")
            .selected_text(s.sql.dialect.name())
            .show_ui(ui, |ui| {
                for d in Dialect::ALL {
                    ui.selectable_value(&mut s.sql.dialect, d, d.name());
                }
            })
            .response
            .accessible_name("SQL dialect");
        if let Some(sql) = &sql {
            if ui.button("Copy").on_hover_text("Copy the SQL").clicked() {
                ui.ctx().copy_text(sql.clone());
            }
            if ui
                .button("Export SQL…")
                .on_hover_text("Save the SQL to a .sql file")
                .clicked()
            {
                export(s, ctx, format!("{sql};\n"));
            }
        }
    });
    if let Some(path) = &s.sql.exported {
        ui.weak(format!("Saved to {path}"));
    }
    source_ui(ui, s, ctx, sql.is_some());
    ui.separator();
    match sql {
        Some(text) => {
            egui::ScrollArea::both().show(ui, |ui| {
                ui.add(
                    egui::TextEdit::multiline(&mut text.as_str())
                        .code_editor()
                        .interactive(true)
                        .desired_width(f32::INFINITY),
                )
                .accessible_name("Segment SQL");
            });
        }
        None => {
            ui.weak("The SQL appears once the rule is valid.");
        }
    }
}

/// Explains `s.sql.who` on the source, node by node, in the background.
fn explain_on_source(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let (Some(ws), Some((k, r))) = (ctx.workspace_path(), s.eval.result.clone()) else {
        return;
    };
    if Some(k) != s.current {
        return;
    }
    s.sql.explained = None;
    let (node, as_of, who) = (
        r.node.clone(),
        r.evaluation.as_of,
        s.sql.who.trim().to_string(),
    );
    ctx.jobs.spawn(
        JobKey::WarehouseExplain,
        "Explaining on PostgreSQL",
        move |progress| {
            let r = crate::app::segments::explain_on_source(&ws, &node, as_of, &who, progress)
                .map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Sql(SqlMsg::Explained(r)))
        },
    );
}

/// Exports the members the source finds (who can be emailed) as ids.
fn export_source_members(s: &SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let (Some(ws), Some((_, r))) = (ctx.workspace_path(), s.eval.result.clone()) else {
        return;
    };
    let name = s.draft().map_or("segment".to_string(), |d| d.name.clone());
    let file_name = format!("{}.postgres-ids.csv", name.replace(['/', '\\', ':'], "-"));
    let (node, as_of) = (r.node.clone(), r.evaluation.as_of);
    ctx.jobs.spawn(
        JobKey::SqlExport,
        "Exporting members from PostgreSQL",
        move |_| {
            let Some(path) = rfd::FileDialog::new()
                .add_filter("CSV", &["csv"])
                .set_file_name(&file_name)
                .save_file()
            else {
                return Msg::Segments(SegMsg::Sql(SqlMsg::Exported(
                    Err("Export cancelled".into()),
                )));
            };
            let r = crate::app::segments::members_on_source(
                &ws,
                &node,
                as_of,
                &crate::app::privacy::Audience::Reachable,
                &path.display().to_string(),
            )
            .and_then(|m| {
                crate::app::segments::write_text(&path, &m.csv()).map(|p| {
                    format!(
                        "{p}: {} members, {} who cannot be emailed left out",
                        m.ids.len(),
                        m.unreachable
                    )
                })
            })
            .map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Sql(SqlMsg::Exported(r)))
        },
    );
}

/// Sets (connects and checks first) or clears the workspace's source.
fn set_source(ctx: &mut ScreenCtx<'_>, url: Option<String>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    ctx.jobs.spawn(
        JobKey::WarehouseSource,
        "Connecting to PostgreSQL",
        move |_| {
            let r = crate::app::segments::set_source(&ws, url.as_deref(), None)
                .map_err(|e| e.to_string());
            Msg::Segments(SegMsg::Sql(SqlMsg::SourceSet(r)))
        },
    );
}

/// No source yet: a connection string to run segments on PostgreSQL.
fn no_source_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    ui.collapsing("Run on PostgreSQL…", |ui| {
        ui.weak(
            "A connection string without a password (postgresql://user@host:5432/db); \
             the password comes from PRISM_PG_PASSWORD or PGPASSWORD. Prism checks the \
             customers and events tables before keeping it.",
        );
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut s.sql.url)
                    .hint_text("postgresql://user@host:5432/db")
                    .desired_width(320.0),
            )
            .accessible_name("PostgreSQL connection string");
            let busy = ctx.jobs.is_running(&JobKey::WarehouseSource);
            if busy {
                ui.spinner();
            } else if ui
                .add_enabled(!s.sql.url.trim().is_empty(), egui::Button::new("Connect"))
                .clicked()
            {
                s.sql.setting = None;
                set_source(ctx, Some(s.sql.url.trim().to_string()));
            }
        });
        if let Some(e) = &s.sql.setting {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
}

/// The workspace's database: count the rule there, every node.
fn source_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>, valid: bool) {
    let source = match &s.sql.source {
        Some(Ok(Some(d))) => d.clone(),
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        Some(Ok(None)) if !ctx.jobs.is_running(&JobKey::WarehouseSource) => {
            no_source_ui(ui, s, ctx);
            return;
        }
        _ => return,
    };
    ui.horizontal(|ui| {
        ui.label(format!("Source: {source}"));
        if ui
            .small_button("Forget")
            .on_hover_text("Segments run on the local engine only")
            .clicked()
        {
            set_source(ctx, None);
        }
        let busy = ctx.jobs.is_running(&JobKey::WarehouseCount);
        if busy {
            ui.spinner();
            if ui.button("Cancel").clicked() {
                ctx.jobs.forget(&JobKey::WarehouseCount);
            }
        } else if ui
            .add_enabled(valid, egui::Button::new("Count on PostgreSQL"))
            .on_hover_text("Run this rule's SQL on the workspace's database, at every node")
            .clicked()
        {
            count_on_source(s, ctx);
        }
    });
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut s.sql.who)
                .hint_text("Customer id or email there")
                .desired_width(200.0),
        )
        .accessible_name("Customer on PostgreSQL");
        if ui
            .add_enabled(
                valid && !s.sql.who.trim().is_empty(),
                egui::Button::new("Explain on PostgreSQL"),
            )
            .clicked()
        {
            explain_on_source(s, ctx);
        }
        if ui
            .add_enabled(valid, egui::Button::new("Export members from PostgreSQL…"))
            .on_hover_text("Their ids there, who can be emailed, to a CSV file")
            .clicked()
        {
            export_source_members(s, ctx);
        }
    });
    match &s.sql.explained {
        Some(Ok((id, verdicts))) => {
            let member = verdicts.first().is_some_and(|v| v.2);
            ui.label(format!(
                "Customer {id} is {} on PostgreSQL",
                if member { "a member" } else { "not a member" }
            ));
            egui::Grid::new("source_explain")
                .striped(true)
                .show(ui, |ui| {
                    for (depth, label, pass) in verdicts {
                        ui.label(if *pass { "PASS" } else { "FAIL" });
                        ui.label(format!("{}{label}", "    ".repeat(*depth)));
                        ui.end_row();
                    }
                });
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
    match &s.sql.remote {
        Some(Ok(r)) => {
            let root = r.count.nodes.first().map_or(0, |n| n.2);
            let agree = root == r.local as u64;
            ui.label(format!(
                "{} on {} in {:.0} ms · the local engine: {}{}",
                format_count(root as i64),
                r.count.source,
                r.count.millis,
                format_count(r.local as i64),
                if agree {
                    " (the same)"
                } else {
                    " (different data?)"
                }
            ));
            egui::Grid::new("source_counts")
                .striped(true)
                .show(ui, |ui| {
                    for (depth, label, n) in &r.count.nodes {
                        ui.label(format!("{}{label}", "    ".repeat(*depth)));
                        ui.label(format_count(*n as i64));
                        ui.end_row();
                    }
                });
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
}
