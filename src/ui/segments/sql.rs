//! SQL tab: the rule as SQL in a chosen dialect, ready to copy.

use super::SegmentsScreen;
use crate::engine::sql::Dialect;
use crate::ui::ctx::ScreenCtx;

pub fn sql_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, _ctx: &mut ScreenCtx<'_>) {
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("sql_dialect")
            .selected_text(s.sql_dialect.name())
            .show_ui(ui, |ui| {
                for d in Dialect::ALL {
                    ui.selectable_value(&mut s.sql_dialect, d, d.name());
                }
            })
            .response
            .accessible_name("SQL dialect");
        let sql = match &s.eval.result {
            Some((k, r)) if Some(*k) == s.current => Some(r.sql(s.sql_dialect).to_string()),
            _ => None,
        };
        if let Some(sql) = &sql
            && ui.button("Copy").on_hover_text("Copy the SQL").clicked()
        {
            ui.ctx().copy_text(sql.clone());
        }
    });
    ui.separator();
    match &s.eval.result {
        Some((k, r)) if Some(*k) == s.current => {
            let text = r.sql(s.sql_dialect).to_string();
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
        _ => {
            ui.weak("The SQL appears once the rule is valid.");
        }
    }
}
