//! Erasing a customer from the Data screen (the right to erasure): the id
//! or email, a confirmation naming who goes, then the erasure on a worker
//! (it rewrites the file) and the workspace read again.

use super::ctx::{Msg, Request, ScreenCtx};
use super::data_screen::DataMsg;
use crate::app::jobs::JobKey;

#[derive(Default)]
pub struct EraseView {
    /// The customer's id or email as typed.
    pub who: String,
    /// Asked to erase `who`: the confirmation is showing.
    armed: bool,
    /// What the last erasure said (or why it failed).
    pub result: Option<Result<String, String>>,
}

impl EraseView {
    /// Applies the worker's answer.
    pub fn finished(&mut self, result: Result<String, String>, ctx: &mut ScreenCtx<'_>) {
        if result.is_ok() {
            self.who.clear();
            // Counts, tables and the engine: read again without them.
            if let Some(ws) = ctx.workspace_path() {
                ctx.requests.push(Request::OpenWorkspace(ws));
            }
        }
        self.result = Some(result);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        erase_view_ui(ui, self, ctx);
    }
}

fn erase_view_ui(ui: &mut egui::Ui, v: &mut EraseView, ctx: &mut ScreenCtx<'_>) {
    ui.heading("Erase a customer");
    ui.label(
        "Removes the customer's profile, every event, their mentions in import reports \
         and Prism's cached copies, for good; the file is rewritten so that it keeps no \
         trace of them. The audit log records that an erasure happened, not whom.",
    );
    ui.add_space(6.0);
    let running = ctx.jobs.is_running(&JobKey::Erase);
    let importing = ctx.jobs.is_running(&JobKey::Import);
    ui.horizontal(|ui| {
        ui.label("Customer");
        let edit = ui
            .add_enabled(
                !running,
                egui::TextEdit::singleline(&mut v.who).hint_text("id, or email"),
            )
            .accessible_name("Customer id or email");
        if edit.changed() {
            v.armed = false;
        }
        let can = !v.who.trim().is_empty() && !running && !importing;
        if ui.add_enabled(can, egui::Button::new("Erase…")).clicked() {
            v.armed = true;
            v.result = None;
        }
    });
    if importing {
        ui.weak("An import is running: erase when it has finished.");
    }
    if v.armed && !running {
        let who = v.who.trim().to_string();
        ui.add_space(4.0);
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Erase {who:?} and everything Prism holds of them? This cannot be undone."),
        );
        ui.horizontal(|ui| {
            if ui.button("Erase for good").clicked() {
                v.armed = false;
                if let Some(ws) = ctx.workspace_path() {
                    ctx.jobs
                        .spawn(JobKey::Erase, "Erasing a customer", move |_| {
                            let r = crate::app::workspace::erase_customer(&ws, &who)
                                .map(|e| crate::app::workspace::erasure_text(&e))
                                .map_err(|e| e.to_string());
                            Msg::Data(DataMsg::Erased(r))
                        });
                }
            }
            if ui.button("Cancel").clicked() {
                v.armed = false;
            }
        });
    }
    if running {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Erasing and rewriting the file…");
        });
    }
    match &v.result {
        Some(Ok(text)) => {
            ui.label(text);
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
}
