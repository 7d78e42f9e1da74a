//! The audit log in the Data screen: imports, exports and erasures with
//! their time, user and counts (never the data), newest first; CSV export.

use super::ctx::{Msg, ScreenCtx};
use super::data_screen::DataMsg;
use crate::app::jobs::JobKey;
use crate::model::time::format_ts;
use crate::store::{AuditEntry, Store};

#[derive(Default)]
pub struct AuditView {
    pub entries: Option<Result<Vec<AuditEntry>, String>>,
    /// Where the CSV went, or why not.
    pub exported: Option<Result<String, String>>,
    requested: bool,
}

impl AuditView {
    /// Reads the log again next time it is shown.
    pub fn invalidate(&mut self) {
        self.requested = false;
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        audit_view_ui(ui, self, ctx);
    }
}

fn request(v: &mut AuditView, ctx: &mut ScreenCtx<'_>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    v.requested = true;
    v.entries = None;
    ctx.jobs
        .spawn(JobKey::Audit, "Reading the audit log", move |_| {
            let r = Store::open_read_only(&ws)
                .and_then(|s| s.audit_log())
                .map_err(|e| e.to_string());
            Msg::Data(DataMsg::Audit(r))
        });
}

fn export(entries: Vec<AuditEntry>, ctx: &mut ScreenCtx<'_>) {
    ctx.jobs
        .spawn(JobKey::Audit, "Exporting the audit log", move |_| {
            let Some(path) = rfd::FileDialog::new()
                .add_filter("CSV", &["csv"])
                .set_file_name("audit-log.csv")
                .save_file()
            else {
                return Msg::Data(DataMsg::AuditExported(Err("Export cancelled".into())));
            };
            let r = std::fs::write(&path, crate::store::audit::audit_csv(&entries))
                .map(|_| path.display().to_string())
                .map_err(|e| format!("{}: {e}", path.display()));
            Msg::Data(DataMsg::AuditExported(r))
        });
}

fn audit_view_ui(ui: &mut egui::Ui, v: &mut AuditView, ctx: &mut ScreenCtx<'_>) {
    if !v.requested {
        request(v, ctx);
    }
    let entries = match &v.entries {
        None => {
            ui.heading("Audit log");
            ui.spinner();
            return;
        }
        Some(Err(e)) => {
            ui.heading("Audit log");
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        Some(Ok(e)) => e.clone(),
    };
    ui.horizontal(|ui| {
        ui.heading("Audit log");
        ui.weak(format!("· {} entries", entries.len()));
        if ui
            .add_enabled(!entries.is_empty(), egui::Button::new("Export CSV…"))
            .clicked()
        {
            export(entries.clone(), ctx);
        }
    });
    ui.weak("What was done to the customers' data, when and by whom; never the data itself.");
    match &v.exported {
        Some(Ok(path)) => {
            ui.label(format!("Written to {path}"));
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
    ui.separator();
    if entries.is_empty() {
        ui.weak("Nothing recorded yet.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("audit_log")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for h in ["Time", "User", "Action", "What"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for e in entries.iter().rev() {
                        ui.label(format_ts(e.at));
                        ui.label(if e.user.is_empty() { "—" } else { &e.user });
                        ui.label(&e.action);
                        ui.label(detail_text(&e.detail));
                        ui.end_row();
                    }
                });
        });
}

/// The order details read best in: what, then how many, then where.
const DETAIL_ORDER: &[&str] = &[
    "what",
    "reason",
    "unreachable_included",
    "by",
    "file",
    "kind",
    "customers",
    "events",
    "rows",
    "emails",
    "inserted",
    "updated",
    "rejected",
    "reports_redacted",
    "format",
    "to",
];

/// `{"rows":3,"file":"crm.csv"}` → `file crm.csv · rows 3`.
fn detail_text(detail: &str) -> String {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(detail) else {
        return detail.to_string();
    };
    let rank = |k: &str| {
        DETAIL_ORDER
            .iter()
            .position(|o| *o == k)
            .unwrap_or(usize::MAX)
    };
    let mut items: Vec<(&String, &serde_json::Value)> = m.iter().collect();
    items.sort_by_key(|(k, _)| rank(k));
    items
        .into_iter()
        .map(|(k, v)| {
            let k = k.replace('_', " ");
            match v {
                serde_json::Value::String(s) => format!("{k} {s}"),
                other => format!("{k} {other}"),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn details_read_as_words() {
        assert_eq!(
            super::detail_text(r#"{"to":"a.csv","rows":3,"what":"members","reports_redacted":0}"#),
            "what members · rows 3 · reports redacted 0 · to a.csv"
        );
        assert_eq!(super::detail_text("not json"), "not json");
    }
}
