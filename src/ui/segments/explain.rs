//! Explain tab: pick a customer (id, customer id or email, or click one in
//! Members) and see every condition with the customer's actual value, what
//! it needs, pass or fail, and each group's result.

use super::SegMsg;
use super::SegmentsScreen;
use crate::app::jobs::JobKey;
use crate::engine::explain::ExplainNode;
use crate::engine::explain::Explanation;
use crate::ui::ctx::{Msg, ScreenCtx};

#[derive(Default)]
pub struct ExplainState {
    pub query: String,
    pub result: Option<Result<Option<Explanation>, String>>,
}

/// Explains the customer in the query box against the current rule.
pub fn run_explain(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(engine) = ctx.engine.cloned() else {
        return;
    };
    let Some((key, r)) = s.eval.result.clone() else {
        s.explain.result = Some(Err("Fix the rule first: it does not count yet.".into()));
        return;
    };
    if Some(key) != s.current {
        return;
    }
    let who = s.explain.query.trim().to_string();
    let as_of = r.evaluation.as_of;
    ctx.jobs
        .spawn(JobKey::SegmentExplain, "Explaining", move |ctx| {
            let result = match engine.find_customer(&who) {
                None => Err(format!(
                    "No customer {who:?} (try a customer id or an email)"
                )),
                Some(id) => engine
                    .explain(&r.node, id, as_of, ctx)
                    .map_err(|e| e.to_string()),
            };
            Msg::Segments(SegMsg::Explained(result))
        });
}

pub fn explain_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let mut go = false;
    ui.horizontal(|ui| {
        let r = ui
            .add(
                egui::TextEdit::singleline(&mut s.explain.query)
                    .hint_text("Customer ID or email")
                    .desired_width(220.0),
            )
            .accessible_name("Customer ID or email");
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            go = true;
        }
        if ui.button("Explain").clicked() {
            go = true;
        }
    });
    if go {
        run_explain(s, ctx);
    }
    ui.separator();
    match &s.explain.result {
        None => {
            ui.weak("Why is a customer in this segment, or not? Pick one.");
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        Some(Ok(None)) => {
            ui.weak("No such customer.");
        }
        Some(Ok(Some(ex))) => {
            let verdict = if ex.member {
                "is in the segment"
            } else {
                "is not in the segment"
            };
            let engine = ctx.engine.cloned();
            let who = engine
                .as_ref()
                .and_then(|e| {
                    e.data
                        .index_of(ex.customer_id)
                        .map(|i| e.customer_summary(i))
                })
                .unwrap_or_else(|| ex.customer_id.to_string());
            ui.strong(format!("{who} {verdict}"));
            egui::ScrollArea::vertical().show(ui, |ui| node_ui(ui, &ex.root, 0));
        }
    }
}

fn node_ui(ui: &mut egui::Ui, n: &ExplainNode, depth: usize) {
    ui.horizontal_wrapped(|ui| {
        ui.add_space(depth as f32 * 16.0);
        let (text, color) = if n.pass {
            ("PASS", egui::Color32::from_rgb(60, 160, 80))
        } else {
            ("FAIL", egui::Color32::from_rgb(210, 70, 60))
        };
        ui.label(egui::RichText::new(text).strong().monospace().color(color));
        if n.not {
            ui.weak("NOT");
        }
        ui.label(&n.label);
        if let Some(a) = &n.actual {
            ui.label(egui::RichText::new(a).strong());
        }
        if let Some(needs) = &n.needs {
            ui.weak(format!("needs {needs}"));
        }
    });
    for c in &n.children {
        node_ui(ui, c, depth + 1);
    }
}
