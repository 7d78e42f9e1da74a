//! The Performance screen's charts (egui_plot): grouped bars per metric
//! across segments with 95 % error bars; a metric's weekly or monthly
//! trend per segment; each segment's size as of every month end over two
//! years. Hover shows the exact values.

use egui_plot::{Bar, BarChart, HoverPosition, Legend, Line, Plot, PlotPoints};

use super::{Chart, PerformanceScreen};
use crate::analytics::{Metric, Period, stats};
use crate::app::performance::ScreenData;
use crate::model::time::{format_date, ts_to_date};

/// Colours of the charted segments, in order.
const PALETTE: [egui::Color32; 8] = [
    egui::Color32::from_rgb(66, 133, 244),
    egui::Color32::from_rgb(219, 68, 55),
    egui::Color32::from_rgb(15, 157, 88),
    egui::Color32::from_rgb(244, 160, 0),
    egui::Color32::from_rgb(171, 71, 188),
    egui::Color32::from_rgb(0, 172, 193),
    egui::Color32::from_rgb(255, 112, 67),
    egui::Color32::from_rgb(121, 134, 203),
];

/// The rates the grouped bars compare.
fn bar_metrics(d: &ScreenData) -> Vec<Metric> {
    [
        Metric::OpenRate,
        Metric::HumanOpenRate,
        Metric::ClickRate,
        Metric::ClickToOpen,
        Metric::ConversionRate,
        Metric::UnsubscribeRate,
    ]
    .into_iter()
    .filter(|m| *m != Metric::HumanOpenRate || d.report.has_machine_marks)
    .collect()
}

fn day_label(x: f64) -> String {
    format_date(ts_to_date((x * 86_400.0) as i64))
}

pub fn charts_ui(ui: &mut egui::Ui, s: &mut PerformanceScreen, d: &ScreenData) {
    ui.horizontal_wrapped(|ui| {
        ui.selectable_value(&mut s.chart, Chart::Compare, "Compare segments");
        ui.selectable_value(&mut s.chart, Chart::Trend, "Trend");
        ui.selectable_value(&mut s.chart, Chart::Size, "Size over time");
        ui.separator();
        if s.chart == Chart::Trend {
            let metric = s.chart_metric.unwrap_or(Metric::OpenRate);
            let label = ui.label("Metric");
            egui::ComboBox::from_id_salt("trend_metric")
                .selected_text(metric.label())
                .show_ui(ui, |ui| {
                    for m in Metric::ALL {
                        if ui.selectable_label(metric == m, m.label()).clicked() {
                            s.chart_metric = Some(m);
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            ui.selectable_value(&mut s.period, Period::Week, "Weekly");
            ui.selectable_value(&mut s.period, Period::Month, "Monthly");
        }
    });
    let charted = s.charted();
    if charted.is_empty() {
        ui.weak("Tick a segment in the table to chart it.");
        return;
    }
    let height = ui.available_height().max(200.0);
    match s.chart {
        Chart::Compare => compare_ui(ui, d, &charted, height),
        Chart::Trend => trend_ui(
            ui,
            d,
            &charted,
            s.chart_metric.unwrap_or(Metric::OpenRate),
            s.period,
            height,
        ),
        Chart::Size => size_ui(ui, s, d, &charted, height),
    }
}

fn compare_ui(ui: &mut egui::Ui, d: &ScreenData, charted: &[usize], height: f32) {
    let metrics = bar_metrics(d);
    let n = charted.len() as f64;
    let width = 0.8 / n;
    let names: Vec<&str> = metrics.iter().map(|m| m.label()).collect();
    Plot::new("perf_compare")
        .height(height)
        .legend(Legend::default())
        .allow_scroll(false)
        .y_axis_label("%")
        .x_axis_formatter(move |mark, _| {
            let k = mark.value.round();
            if (mark.value - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < names.len() {
                names[k as usize].to_string()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            for (j, &k) in charted.iter().enumerate() {
                let seg = &d.report.segments[k];
                let color = PALETTE[j % PALETTE.len()];
                let offset = (j as f64 - (n - 1.0) / 2.0) * width;
                let mut bars = Vec::new();
                for (g, &m) in metrics.iter().enumerate() {
                    let Some(e) = seg.metric(m).and_then(|v| v.value) else {
                        continue;
                    };
                    let x = g as f64 + offset;
                    bars.push(
                        Bar::new(x, e.value * 100.0)
                            .width(width * 0.9)
                            .fill(color.gamma_multiply(if seg.too_small { 0.35 } else { 0.8 }))
                            .name(format!(
                                "{}: {} {:.1} % (95 %: {:.1}–{:.1})",
                                seg.name,
                                m.label(),
                                e.value * 100.0,
                                e.low * 100.0,
                                e.high * 100.0
                            )),
                    );
                    // The error bar.
                    plot.line(
                        Line::new(
                            "95 % interval",
                            PlotPoints::new(vec![[x, e.low * 100.0], [x, e.high * 100.0]]),
                        )
                        .color(egui::Color32::from_gray(90))
                        .width(1.5),
                    );
                }
                plot.bar_chart(BarChart::new(seg.name.clone(), bars).color(color));
            }
        });
}

fn trend_value(m: Metric, c: &crate::analytics::Counts) -> Option<f64> {
    match m.fraction(c) {
        Some((k, n)) => stats::wilson(k, n).map(|e| e.value * 100.0),
        None => c.revenue.mean(),
    }
}

fn trend_ui(
    ui: &mut egui::Ui,
    d: &ScreenData,
    charted: &[usize],
    metric: Metric,
    period: Period,
    height: f32,
) {
    let series = match period {
        Period::Week => &d.weekly,
        Period::Month => &d.monthly,
    };
    let unit = if metric.is_rate() { "%" } else { "" };
    Plot::new("perf_trend")
        .height(height)
        .legend(Legend::default())
        .allow_scroll(false)
        .y_axis_label(metric.label())
        .x_axis_formatter(|mark, _| day_label(mark.value))
        .label_formatter(move |hover| match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\n{}: {:.2}{unit}",
                day_label(position.x),
                position.y
            )),
            HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |plot| {
            for (j, &k) in charted.iter().enumerate() {
                let seg = &d.report.segments[k];
                let Some(points) = series.get(k) else {
                    continue;
                };
                let pts: Vec<[f64; 2]> = points
                    .iter()
                    .filter(|p| p.counts.recipients >= crate::analytics::MIN_RECIPIENTS)
                    .filter_map(|p| {
                        trend_value(metric, &p.counts).map(|v| [p.start as f64 / 86_400.0, v])
                    })
                    .collect();
                plot.line(
                    Line::new(seg.name.clone(), PlotPoints::new(pts))
                        .color(PALETTE[j % PALETTE.len()])
                        .width(2.0),
                );
            }
        });
}

fn size_ui(
    ui: &mut egui::Ui,
    s: &PerformanceScreen,
    d: &ScreenData,
    charted: &[usize],
    height: f32,
) {
    let Some((_, sizes)) = &s.sizes else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak("Evaluating each segment as of every month end…");
        });
        return;
    };
    Plot::new("perf_size")
        .height(height)
        .legend(Legend::default())
        .allow_scroll(false)
        .y_axis_label("members")
        .x_axis_formatter(|mark, _| day_label(mark.value))
        .label_formatter(|hover| match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\n{}: {:.0} members",
                day_label(position.x),
                position.y
            )),
            HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |plot| {
            for (j, &k) in charted.iter().enumerate() {
                let seg = &d.report.segments[k];
                let Some((_, points)) = sizes.iter().find(|(id, _)| *id == seg.id) else {
                    continue;
                };
                let pts: Vec<[f64; 2]> = points
                    .iter()
                    .map(|&(t, n)| [t as f64 / 86_400.0, n as f64])
                    .collect();
                plot.line(
                    Line::new(seg.name.clone(), PlotPoints::new(pts))
                        .color(PALETTE[j % PALETTE.len()])
                        .width(2.0),
                );
            }
        });
}
