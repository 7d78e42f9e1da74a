//! The Performance screen's table: one row per segment, a column per
//! metric; click a header to sort. A value is coloured only when the
//! adjusted comparison with the rest of the audience says so; hover shows
//! the interval, the rest's value, the difference and lift with their
//! intervals, and the p- and q-values.

use super::PerformanceScreen;
use crate::analytics::{Metric, MetricValue, SegmentReport, Verdict, percent, shown};
use crate::app::performance::ScreenData;
use crate::ui::data_screen::format_count;

/// The table's metric columns for this report.
pub fn columns(d: &ScreenData) -> Vec<Metric> {
    Metric::ALL
        .iter()
        .copied()
        .filter(|m| match m {
            Metric::HumanOpenRate | Metric::HumanClickToOpen => d.report.has_machine_marks,
            Metric::BounceRate => d.report.has_bounces,
            _ => true,
        })
        .collect()
}

fn short(m: Metric) -> &'static str {
    match m {
        Metric::OpenRate => "Open",
        Metric::HumanOpenRate => "Open (human)",
        Metric::ClickRate => "Click",
        Metric::ClickToOpen => "CTOR",
        Metric::HumanClickToOpen => "CTOR (human)",
        Metric::ConversionRate => "Conversion",
        Metric::RevenuePerRecipient => "Revenue / recipient",
        Metric::UnsubscribeRate => "Unsubscribe",
        Metric::BounceRate => "Bounce",
    }
}

/// Where a higher value is worse (unsubscribes, bounces).
fn lower_is_better(m: Metric) -> bool {
    matches!(m, Metric::UnsubscribeRate | Metric::BounceRate)
}

fn est(m: Metric, x: f64) -> String {
    if m.is_rate() {
        percent(Some(x))
    } else {
        format!("{x:.2}")
    }
}

/// The hover text of one cell: everything behind the value.
pub fn details(v: &MetricValue) -> String {
    let m = v.metric;
    let mut out = format!("{}\n", m.label());
    if let Some(e) = v.value {
        out.push_str(&format!(
            "{} (95 % interval {} to {})\n",
            est(m, e.value),
            est(m, e.low),
            est(m, e.high)
        ));
    }
    if let Some(r) = v.rest {
        out.push_str(&format!("the rest of the audience: {}\n", est(m, r.value)));
    }
    if let Some(d) = v.difference {
        let f = |x: f64| {
            if m.is_rate() {
                format!("{:+.2} pts", x * 100.0)
            } else {
                format!("{x:+.2}")
            }
        };
        out.push_str(&format!(
            "difference {} ({} to {})\n",
            f(d.value),
            f(d.low),
            f(d.high)
        ));
    }
    if let Some(l) = v.lift {
        out.push_str(&format!(
            "relative lift {:+.1} % ({:+.1} % to {:+.1} %)\n",
            l.value * 100.0,
            l.low * 100.0,
            l.high * 100.0
        ));
    }
    if let (Some(p), Some(q)) = (v.p, v.q) {
        out.push_str(&format!("p = {p:.4}, adjusted q = {q:.4}\n"));
    }
    out.push_str(crate::analytics::verdict_word(v.verdict));
    out
}

fn sort_value(s: &SegmentReport, m: Option<Metric>) -> f64 {
    match m {
        None => 0.0,
        Some(m) => s
            .metric(m)
            .and_then(|v| v.value)
            .map_or(f64::NEG_INFINITY, |e| e.value),
    }
}

pub fn table_ui(ui: &mut egui::Ui, s: &mut PerformanceScreen, d: &ScreenData, stale: bool) {
    let cols = columns(d);
    let mut order: Vec<usize> = (0..d.report.segments.len()).collect();
    let (by, desc) = s.sort;
    if by.is_some() {
        order.sort_by(|&a, &b| {
            let (x, y) = (
                sort_value(&d.report.segments[a], by),
                sort_value(&d.report.segments[b], by),
            );
            if desc {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        });
    }
    egui::Grid::new("perf_grid")
        .striped(true)
        .spacing(egui::vec2(14.0, 4.0))
        .show(ui, |ui| {
            ui.strong("Chart");
            if ui.button("Segment").clicked() {
                s.sort = (None, false);
            }
            ui.strong("Recipients");
            for &m in &cols {
                let arrow = match s.sort {
                    (Some(x), true) if x == m => " ⏷",
                    (Some(x), false) if x == m => " ⏶",
                    _ => "",
                };
                if ui
                    .button(format!("{}{arrow}", short(m)))
                    .on_hover_text(format!("Sort by {}", m.label().to_lowercase()))
                    .clicked()
                {
                    s.sort = match s.sort {
                        (Some(x), true) if x == m => (Some(m), false),
                        _ => (Some(m), true),
                    };
                }
            }
            ui.end_row();
            for k in order {
                let seg = &d.report.segments[k];
                let mut on = !s.hidden.contains(&seg.id);
                if ui
                    .checkbox(&mut on, "")
                    .on_hover_text("Draw this segment in the charts")
                    .changed()
                {
                    if on {
                        s.hidden.remove(&seg.id);
                    } else {
                        s.hidden.insert(seg.id);
                    }
                }
                let weak = seg.too_small || stale;
                let name = egui::RichText::new(&seg.name);
                ui.label(if weak { name.weak() } else { name.strong() })
                    .on_hover_text(if seg.too_small {
                        "Fewer than 50 recipients: shown, not ranked"
                    } else {
                        "Figures against the rest of the audience"
                    });
                ui.label(format_count(seg.counts.recipients as i64));
                for &m in &cols {
                    match seg.metric(m) {
                        Some(v) => cell_ui(ui, v, weak),
                        None => {
                            ui.weak("—");
                        }
                    }
                }
                ui.end_row();
            }
            ui.label("");
            ui.weak("All recipients");
            ui.weak(format_count(d.report.all.recipients as i64));
            let all = crate::analytics::metrics(
                &d.report.all,
                &Default::default(),
                d.report.has_bounces,
                crate::analytics::SEED,
            );
            for &m in &cols {
                match all.iter().find(|v| v.metric == m) {
                    Some(v) => {
                        ui.weak(shown(v));
                    }
                    None => {
                        ui.weak("—");
                    }
                }
            }
            ui.end_row();
        });
}

fn cell_ui(ui: &mut egui::Ui, v: &MetricValue, weak: bool) {
    let good = egui::Color32::from_rgb(50, 150, 80);
    let bad = ui.visuals().warn_fg_color;
    let (mark, color) = match v.verdict {
        Verdict::Higher if lower_is_better(v.metric) => (" ⏶", bad),
        Verdict::Higher => (" ⏶", good),
        Verdict::Lower if lower_is_better(v.metric) => (" ⏷", good),
        Verdict::Lower => (" ⏷", bad),
        _ => ("", ui.visuals().text_color()),
    };
    let text = format!("{}{mark}", shown(v));
    let rich = egui::RichText::new(text);
    let rich = if weak { rich.weak() } else { rich.color(color) };
    ui.label(rich).on_hover_text(details(v));
}
