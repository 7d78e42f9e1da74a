//! The Segments screen's layout and its centre: the segment's name and
//! totals, the as-of date, the sentence and the rule tree.

use super::{RightTab, SegmentsScreen, explain, history, list, members, overlap, sql, tree};
use crate::engine::describe::describe;
use crate::model::time::now_utc;
use crate::ui::commands::UiCommand;
use crate::ui::ctx::{Request, ScreenCtx};
use crate::ui::data_screen::format_count;

impl SegmentsScreen {
    /// The Segments screen: list, builder, tabs.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        if ctx.engine.is_none() || self.schema.is_none() {
            ui.add_space(24.0);
            ui.vertical_centered(|ui| {
                ui.spinner();
                ui.label("Loading the workspace into memory…");
            });
            return;
        }
        self.maybe_evaluate(ctx, &ui.ctx().clone());
        egui::Panel::left("segment_list")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| list::segment_list_ui(ui, self, ctx));
        egui::Panel::right("segment_tabs")
            .resizable(true)
            .default_size(460.0)
            .show(ui, |ui| tabs_ui(ui, self, ctx));
        egui::CentralPanel::default().show(ui, |ui| builder_ui(ui, self, ctx));
        list::delete_confirmation_ui(&ui.ctx().clone(), self, ctx);
    }
}

fn tabs_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    ui.horizontal(|ui| {
        for t in RightTab::ALL {
            if ui.selectable_label(s.tab == t, t.label()).clicked() {
                s.tab = t;
            }
        }
    });
    ui.separator();
    match s.tab {
        RightTab::Members => members::members_tab_ui(ui, s, ctx),
        RightTab::Explain => explain::explain_tab_ui(ui, s, ctx),
        RightTab::Overlap => overlap::overlap_tab_ui(ui, s, ctx),
        RightTab::Sql => sql::sql_tab_ui(ui, s, ctx),
        RightTab::History => history::history_tab_ui(ui, s, ctx),
        RightTab::Discover => super::discover::discover_tab_ui(ui, s, ctx),
    }
}

/// The centre: name, totals, as-of date, the sentence, the rule tree.
fn builder_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(d) = s.draft() else {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            ui.label("No segment yet.");
            if ui.button("New segment").clicked() {
                s.new_segment();
            }
        });
        return;
    };
    let name = d.name.clone();
    let color = d.color.clone();
    let dirty = d.is_dirty();
    let summary = describe(&d.history.rule);
    let (can_undo, can_redo) = (d.history.can_undo(), d.history.can_redo());
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter()
            .circle_filled(rect.center(), 6.0, list::parse_color(&color));
        ui.heading(&name);
        if dirty {
            ui.weak("• unsaved");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let egui_ctx = ui.ctx().clone();
            if ui
                .add_enabled(dirty, egui::Button::new("Save"))
                .on_hover_text(UiCommand::SaveSegment.tooltip(&egui_ctx))
                .clicked()
            {
                commands.push(UiCommand::SaveSegment);
            }
            if ui
                .add_enabled(can_redo, egui::Button::new("Redo"))
                .on_hover_text(UiCommand::Redo.tooltip(&egui_ctx))
                .clicked()
            {
                commands.push(UiCommand::Redo);
            }
            if ui
                .add_enabled(can_undo, egui::Button::new("Undo"))
                .on_hover_text(UiCommand::Undo.tooltip(&egui_ctx))
                .clicked()
            {
                commands.push(UiCommand::Undo);
            }
            as_of_ui(ui, s, ctx);
        });
    });
    totals_ui(ui, s);
    ui.label(egui::RichText::new(summary).italics());
    if let Some(f) = &s.eval.failure {
        ui.colored_label(ui.visuals().error_fg_color, f);
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| tree::rule_tree_ui(ui, s));
    ctx.requests
        .extend(commands.into_iter().map(Request::Command));
}

fn as_of_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let mut changed = false;
    match &mut s.as_of_date {
        Some(date) => {
            let before = *date;
            ui.add(
                egui_extras::DatePickerButton::new(date)
                    .id_salt("as_of_date")
                    .calendar_week(false),
            )
            .on_hover_text("Evaluate as of the end of this day");
            if *date != before {
                changed = true;
            }
            if ui
                .button("Now")
                .on_hover_text("Evaluate as of now")
                .clicked()
            {
                s.as_of_date = None;
                s.live_as_of = now_utc();
                changed = true;
            }
        }
        None => {
            if ui
                .button("As of now")
                .on_hover_text("Evaluate as of a past date")
                .clicked()
            {
                use chrono::Datelike;
                let today = crate::model::time::ts_to_date(now_utc());
                s.as_of_date = jiff::civil::Date::new(
                    today.year() as i16,
                    today.month() as i8,
                    today.day() as i8,
                )
                .ok();
                changed = true;
            }
        }
    }
    if changed {
        s.edited_now();
        s.refresh_counts(ctx);
    }
}

/// The draft's key email metrics beside its count: open rate, click rate
/// and revenue per recipient over the last 90 days' campaigns, each with
/// its difference against the rest of their recipients.
fn live_metrics_ui(ui: &mut egui::Ui, live: &crate::app::performance::LiveMetrics, stale: bool) {
    use crate::analytics::{Metric, percent};
    ui.horizontal_wrapped(|ui| {
        if live.recipients == 0 {
            ui.weak(format!(
                "No email to these members in the last {} days.",
                crate::app::performance::LIVE_DAYS
            ));
            return;
        }
        ui.weak(format!(
            "Last {} days · {} sends ·",
            crate::app::performance::LIVE_DAYS,
            format_count(live.recipients as i64)
        ));
        for metric in [
            Metric::HumanOpenRate,
            Metric::ClickRate,
            Metric::RevenuePerRecipient,
        ] {
            let Some(m) = live.metrics.iter().find(|m| m.metric == metric) else {
                continue;
            };
            let name = match metric {
                Metric::HumanOpenRate => "open",
                Metric::ClickRate => "click",
                _ => "revenue / recipient",
            };
            let value = crate::analytics::shown(m);
            let diff = m.difference.map(|d| {
                let clear = d.low > 0.0 || d.high < 0.0;
                let text = if metric.is_rate() {
                    format!("{:+.1} pts", d.value * 100.0)
                } else {
                    format!("{:+.2}", d.value)
                };
                (text, clear, d.value > 0.0)
            });
            let mut text = format!("{name} {value}");
            if let Some((d, _, _)) = &diff {
                text.push_str(&format!(" ({d} vs rest)"));
            }
            let color = match diff {
                _ if stale || live.recipients < crate::analytics::MIN_RECIPIENTS => {
                    ui.visuals().weak_text_color()
                }
                Some((_, true, true)) => egui::Color32::from_rgb(60, 160, 90),
                Some((_, true, false)) => ui.visuals().warn_fg_color,
                _ => ui.visuals().text_color(),
            };
            ui.colored_label(color, text).on_hover_text(format!(
                "95 % interval {} to {}; the rest: {}",
                m.value.map_or("—".into(), |e| if metric.is_rate() {
                    percent(Some(e.low))
                } else {
                    format!("{:.2}", e.low)
                }),
                m.value.map_or("—".into(), |e| if metric.is_rate() {
                    percent(Some(e.high))
                } else {
                    format!("{:.2}", e.high)
                }),
                m.rest.map_or("—".into(), |e| if metric.is_rate() {
                    percent(Some(e.value))
                } else {
                    format!("{:.2}", e.value)
                }),
            ));
        }
    });
}

fn totals_ui(ui: &mut egui::Ui, s: &SegmentsScreen) {
    if let Some((k, r)) = &s.eval.result
        && Some(*k) == s.current
        && let Some(live) = &r.live
    {
        let stale = s.eval.stale || s.eval.running;
        totals_count_ui(ui, s);
        live_metrics_ui(ui, live, stale);
        return;
    }
    totals_count_ui(ui, s);
}

fn totals_count_ui(ui: &mut egui::Ui, s: &SegmentsScreen) {
    ui.horizontal(|ui| {
        let current = s.current;
        match &s.eval.result {
            Some((k, r)) if Some(*k) == current => {
                let e = &r.evaluation;
                let text = format!(
                    "{} members of {} · {} reachable by email",
                    format_count(e.count() as i64),
                    format_count(e.total as i64),
                    format_count(e.reachable as i64)
                );
                let rich = egui::RichText::new(text).strong();
                if s.eval.stale || s.eval.running {
                    ui.label(rich.weak());
                    ui.spinner();
                } else {
                    ui.label(rich);
                }
                ui.weak(format!(
                    "as of {} UTC · {:.0} ms",
                    crate::model::time::format_ts(e.as_of),
                    e.elapsed.as_secs_f64() * 1000.0
                ));
            }
            _ => {
                if s.eval.error.is_some() {
                    ui.weak("Fix the highlighted condition to count.");
                } else {
                    ui.spinner();
                    ui.weak("Counting…");
                }
            }
        }
    });
}
