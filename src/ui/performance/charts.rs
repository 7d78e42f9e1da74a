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
    let lines = charted.iter().map(|&k| {
        let seg = &d.report.segments[k];
        let pts = series.get(k).map(|points| {
            points
                .iter()
                .filter(|p| p.counts.recipients >= crate::analytics::MIN_RECIPIENTS)
                .filter_map(|p| trend_value(metric, &p.counts).map(|v| [day_of(p.start), v]))
                .collect()
        });
        (seg.name.clone(), pts)
    });
    dated_lines_ui(
        ui,
        "perf_trend",
        height,
        metric.label(),
        move |y| format!("{y:.2}{unit}"),
        lines,
    );
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
    let lines = charted.iter().map(|&k| {
        let seg = &d.report.segments[k];
        let pts = sizes
            .iter()
            .find(|(id, _)| *id == seg.id)
            .map(|(_, points)| points.iter().map(|&(t, n)| [day_of(t), n as f64]).collect());
        (seg.name.clone(), pts)
    });
    dated_lines_ui(
        ui,
        "perf_size",
        height,
        "members",
        |y| format!("{y:.0} members"),
        lines,
    );
}

/// Unix seconds as the charts' x: days since 1970.
fn day_of(t: i64) -> f64 {
    t as f64 / 86_400.0
}

/// A line per segment over days (`None`: the segment has no line, and
/// keeps its colour); hovering shows the line, the day and `value` of y.
fn dated_lines_ui(
    ui: &mut egui::Ui,
    id: &str,
    height: f32,
    y_label: &str,
    value: impl Fn(f64) -> String + 'static,
    lines: impl Iterator<Item = (String, Option<Vec<[f64; 2]>>)>,
) {
    Plot::new(id)
        .height(height)
        .legend(Legend::default())
        .allow_scroll(false)
        .y_axis_label(y_label)
        .x_axis_formatter(|mark, _| day_label(mark.value))
        .label_formatter(move |hover| match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\n{}: {}",
                day_label(position.x),
                value(position.y)
            )),
            HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |plot| {
            for (j, (name, pts)) in lines.enumerate() {
                let Some(pts) = pts else { continue };
                plot.line(
                    Line::new(name, PlotPoints::new(pts))
                        .color(PALETTE[j % PALETTE.len()])
                        .width(2.0),
                );
            }
        });
}
