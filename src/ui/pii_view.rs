//! Personal fields in the Data screen: which customer fields are PII (what
//! demo mode masks), what each holds, and who decided; a person can mark
//! or unmark any of them.

use super::ctx::{Msg, Request, ScreenCtx};
use super::data_screen::DataMsg;
use crate::app::jobs::JobKey;
use crate::model::mask::PiiKind;
use crate::store::Store;
use crate::store::pii::{PiiField, PiiSource};

#[derive(Default)]
pub struct PiiView {
    pub fields: Option<Result<Vec<PiiField>, String>>,
    requested: bool,
}

impl PiiView {
    /// Reads the fields again next time they are shown.
    pub fn invalidate(&mut self) {
        self.requested = false;
    }

    /// A change was saved (or failed): read again, and have the app pick
    /// up the new masker.
    pub fn saved(&mut self, r: Result<(), String>, ctx: &mut ScreenCtx<'_>) {
        if let Err(e) = r {
            ctx.error(e);
        }
        self.invalidate();
        ctx.requests.push(Request::PrivacyChanged);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        pii_view_ui(ui, self, ctx);
    }
}

fn request(v: &mut PiiView, ctx: &mut ScreenCtx<'_>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    v.requested = true;
    ctx.jobs
        .spawn(JobKey::Pii, "Reading personal fields", move |_| {
            let r = Store::open_read_only(&ws)
                .and_then(|s| s.pii_fields())
                .map_err(|e| e.to_string());
            Msg::Data(DataMsg::Pii(r))
        });
}

fn save(ctx: &mut ScreenCtx<'_>, field: String, kind: Option<PiiKind>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    ctx.jobs
        .spawn(JobKey::Pii, "Saving personal fields", move |_| {
            let r = Store::open(&ws)
                .and_then(|s| s.set_pii(&field, kind.is_some(), kind))
                .map(|_| ())
                .map_err(|e| e.to_string());
            Msg::Data(DataMsg::PiiSaved(r))
        });
}

fn pii_view_ui(ui: &mut egui::Ui, v: &mut PiiView, ctx: &mut ScreenCtx<'_>) {
    if !v.requested {
        request(v, ctx);
    }
    ui.heading("Personal fields");
    ui.label(
        "What demo mode masks: each customer's personal fields are shown as a made-up \
         person's, the same person every time. Built-in fields are decided by a fixed list, \
         custom fields by their name or, on import, their values.",
    );
    ui.add_space(6.0);
    let Some(fields) = super::loaded_ui(ui, &v.fields) else {
        return;
    };
    let mut change: Option<(String, Option<PiiKind>)> = None;
    egui::Grid::new("pii_fields")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            ui.strong("Field");
            ui.strong("Personal");
            ui.strong("Holds");
            ui.strong("Decided by");
            ui.end_row();
            for f in &fields {
                ui.label(&f.field.label).on_hover_text(&f.field.name);
                let mut on = f.kind.is_some();
                if ui
                    .checkbox(&mut on, "")
                    .accessible_name(format!("{} is personal", f.field.label))
                    .on_hover_text(format!("Mask {} in demo mode", f.field.label))
                    .changed()
                {
                    change = Some((f.field.name.clone(), on.then_some(PiiKind::Text)));
                    if on {
                        // What its name says it holds, else free text.
                        change = Some((
                            f.field.name.clone(),
                            Some(
                                crate::model::mask::default_kind(&f.field.name, f.field.field_type)
                                    .unwrap_or(PiiKind::Text),
                            ),
                        ));
                    }
                }
                match f.kind {
                    Some(kind) => {
                        egui::ComboBox::from_id_salt(("pii_kind", &f.field.name))
                            .selected_text(kind.as_str().replace('_', " "))
                            .show_ui(ui, |ui| {
                                for k in PiiKind::ALL {
                                    if ui
                                        .selectable_label(k == kind, k.as_str().replace('_', " "))
                                        .clicked()
                                        && k != kind
                                    {
                                        change = Some((f.field.name.clone(), Some(k)));
                                    }
                                }
                            })
                            .response
                            .accessible_name(format!("What {} holds", f.field.label));
                    }
                    None => {
                        ui.weak("–");
                    }
                }
                ui.weak(match f.source {
                    PiiSource::Default => "its name",
                    PiiSource::Detected => "an import",
                    PiiSource::User => "a person",
                });
                ui.end_row();
            }
        });
    if let Some((field, kind)) = change {
        save(ctx, field, kind);
    }
}
