//! SQL tab: the rule as SQL in a chosen dialect, ready to copy.

use crate::engine::sql::Dialect;
use crate::ui::app::PrismApp;

pub fn sql_tab_ui(ui: &mut egui::Ui, app: &mut PrismApp) {
    let s = &mut app.segments;
    ui.horizontal(|ui| {
        let current = Dialect::ALL[s.sql_dialect.min(Dialect::ALL.len() - 1)];
        egui::ComboBox::from_id_salt("sql_dialect")
            .selected_text(current.name())
            .show_ui(ui, |ui| {
                for (i, d) in Dialect::ALL.iter().enumerate() {
                    ui.selectable_value(&mut s.sql_dialect, i, d.name());
                }
            })
            .response
            .accessible_name("SQL dialect");
        let sql = match &s.eval.result {
            Some((k, r)) if Some(*k) == s.current => r.sql.get(s.sql_dialect).cloned(),
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
            let text = r.sql.get(s.sql_dialect).cloned().unwrap_or_default();
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
