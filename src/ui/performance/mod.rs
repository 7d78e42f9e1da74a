//! The Performance screen: how each segment responds to email. A sortable
//! table of segments × metrics, each rate with its 95 % interval and its
//! difference against the rest of the audience, flagged only after
//! adjustment for many comparisons; charts (grouped bars with error bars,
//! weekly or monthly trends, segment size over 24 months); the choice of
//! segments, campaigns, date range, membership and attribution; CSV export
//! (what `prism perf --format csv` prints).
//!
//! This file holds the screen's state, jobs and layout; `table.rs` the
//! table, `charts.rs` the charts.

mod charts;
mod table;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::analytics::{Attribution, Membership, Metric, Period, Selection, Trigger};
use crate::app::jobs::JobKey;
use crate::app::performance::{ScreenData, screen_data};
use crate::model::time::DAY;

use super::ctx::{Msg, ScreenCtx};
use super::data_screen::format_count;

/// Segments the charts draw at most.
pub const MAX_CHARTED: usize = 8;

/// Which campaigns, by send date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Range {
    #[default]
    All,
    Days(i64),
}

impl Range {
    pub const ALL: [Range; 4] = [
        Range::All,
        Range::Days(30),
        Range::Days(90),
        Range::Days(365),
    ];

    pub fn label(self) -> String {
        match self {
            Range::All => "All campaigns".into(),
            Range::Days(365) => "Last 12 months".into(),
            Range::Days(d) => format!("Last {d} days"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Chart {
    #[default]
    Compare,
    Trend,
    Size,
}

/// What a report answers; an answer to another question is dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportKey {
    pub sends: (i64, Attribution),
    pub only: Vec<i64>,
    pub selection: Selection,
    pub membership: Membership,
}

/// Each segment's size (by id) as of each month end: (time, members).
pub type Sizes = Vec<(i64, Vec<(i64, usize)>)>;
/// What the sizes were measured for: segment ids and the evaluation time.
pub type SizesKey = (Vec<i64>, i64);

pub enum PerfMsg {
    Report {
        key: ReportKey,
        result: Result<(Vec<crate::analytics::SegmentRule>, Arc<ScreenData>), String>,
    },
    Sizes {
        key: SizesKey,
        result: Result<Sizes, String>,
    },
    Exported(Result<String, String>),
}

#[derive(Default)]
pub struct PerformanceScreen {
    pub data: Option<(ReportKey, Arc<ScreenData>)>,
    /// The rules of the segments measured (for the size chart).
    rules: Vec<crate::analytics::SegmentRule>,
    pub requested: Option<ReportKey>,
    pub error: Option<String>,
    /// Segments left out of the table (ids); all are shown by default.
    pub hidden: BTreeSet<i64>,
    pub range: Range,
    /// One campaign (by id), or all in the range.
    pub campaign: Option<String>,
    pub membership: Membership,
    /// The column the table is sorted by (`None`: priority) and whether
    /// descending.
    pub sort: (Option<Metric>, bool),
    pub chart: Chart,
    pub chart_metric: Option<Metric>,
    pub period: Period,
    pub sizes: Option<(SizesKey, Sizes)>,
    sizes_requested: Option<SizesKey>,
    pub notice: Option<String>,
    /// Reports applied so far (tests wait on it).
    pub shown: u64,
}

impl PerformanceScreen {
    pub fn unload(&mut self) {
        *self = PerformanceScreen {
            range: self.range,
            membership: self.membership,
            chart: self.chart,
            period: self.period,
            ..PerformanceScreen::default()
        };
    }

    /// The sends were read again (another time or attribution).
    pub fn sends_changed(&mut self) {
        self.requested = None;
    }

    fn selection(&self, as_of: i64) -> Selection {
        Selection {
            campaigns: self.campaign.iter().cloned().collect(),
            from: match self.range {
                Range::All => None,
                Range::Days(d) => Some(as_of - d * DAY),
            },
            to: None,
        }
    }

    /// Starts the report when what it answers changed.
    fn maybe_request(&mut self, ctx: &mut ScreenCtx<'_>) {
        let (Some(engine), Some(sends), Some(path)) = (
            ctx.engine.cloned(),
            ctx.sends.cloned(),
            ctx.workspace_path(),
        ) else {
            return;
        };
        let key = ReportKey {
            sends: (sends.as_of, sends.attribution),
            only: Vec::new(),
            selection: self.selection(sends.as_of),
            membership: self.membership,
        };
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        self.requested = Some(key.clone());
        self.error = None;
        ctx.jobs.spawn(
            JobKey::PerformanceReport,
            "Measuring segments",
            move |job| {
                let result = screen_data(
                    &path,
                    &engine,
                    &sends,
                    &key.only,
                    &key.selection,
                    key.membership,
                    job,
                )
                .map(|(rules, d)| (rules, Arc::new(d)))
                .map_err(|e| e.to_string());
                Msg::Performance(PerfMsg::Report { key, result })
            },
        );
    }

    /// The segments the charts draw: shown ones, at most [`MAX_CHARTED`].
    pub fn charted(&self) -> Vec<usize> {
        let Some((_, d)) = &self.data else {
            return Vec::new();
        };
        d.report
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| !self.hidden.contains(&s.id))
            .map(|(k, _)| k)
            .take(MAX_CHARTED)
            .collect()
    }

    fn maybe_request_sizes(&mut self, ctx: &mut ScreenCtx<'_>) {
        if self.chart != Chart::Size {
            return;
        }
        let Some(engine) = ctx.engine.cloned() else {
            return;
        };
        let Some((_, d)) = &self.data else { return };
        let ids: Vec<i64> = self
            .charted()
            .into_iter()
            .map(|k| d.report.segments[k].id)
            .collect();
        let key = (ids, d.report.as_of);
        if self.sizes_requested.as_ref() == Some(&key) {
            return;
        }
        self.sizes_requested = Some(key.clone());
        let rules: Vec<_> = self
            .rules
            .iter()
            .filter(|r| key.0.contains(&r.id))
            .cloned()
            .collect();
        ctx.jobs.spawn(
            JobKey::PerformanceSize,
            "Segment sizes over 24 months",
            move |job| {
                let result = rules
                    .iter()
                    .map(|r| {
                        crate::analytics::size_over_time(&engine, &r.node, key.1, 24, job)
                            .map(|v| (r.id, v))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string());
                Msg::Performance(PerfMsg::Sizes { key, result })
            },
        );
    }

    pub fn handle(&mut self, msg: PerfMsg, ctx: &mut ScreenCtx<'_>) {
        match msg {
            PerfMsg::Report { key, result } => {
                if self.requested.as_ref() != Some(&key) {
                    return;
                }
                self.shown += 1;
                match result {
                    Ok((rules, d)) => {
                        self.rules = rules;
                        self.data = Some((key, d));
                        self.sizes_requested = None;
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            PerfMsg::Sizes { key, result } => {
                if self.sizes_requested.as_ref() != Some(&key) {
                    return;
                }
                match result {
                    Ok(v) => self.sizes = Some((key, v)),
                    Err(e) => ctx.error(format!("Could not measure the sizes: {e}")),
                }
            }
            PerfMsg::Exported(r) => match r {
                Ok(path) => self.notice = Some(format!("Exported to {path}")),
                Err(e) => ctx.error(e),
            },
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx<'_>) {
        self.maybe_request(ctx);
        self.maybe_request_sizes(ctx);
        controls_ui(ui, self, ctx);
        ui.separator();
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let Some((key, d)) = self.data.clone() else {
            ui.add_space(24.0);
            ui.vertical_centered(|ui| {
                ui.spinner();
                ui.label(if ctx.sends.is_none() {
                    "Reading the email sends…"
                } else {
                    "Measuring each segment…"
                });
            });
            return;
        };
        let stale = self.requested.as_ref() != Some(&key);
        summary_ui(ui, &d, stale);
        let avail = ui.available_height();
        egui::ScrollArea::vertical()
            .id_salt("perf_table")
            .max_height((avail * 0.45).max(160.0))
            .auto_shrink([false, true])
            .show(ui, |ui| table::table_ui(ui, self, &d, stale));
        ui.separator();
        charts::charts_ui(ui, self, &d);
    }
}

fn controls_ui(ui: &mut egui::Ui, s: &mut PerformanceScreen, ctx: &mut ScreenCtx<'_>) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Campaigns");
        egui::ComboBox::from_id_salt("perf_range")
            .selected_text(s.range.label())
            .show_ui(ui, |ui| {
                for r in Range::ALL {
                    ui.selectable_value(&mut s.range, r, r.label());
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Campaign");
        let names: Vec<(String, String)> = ctx
            .sends
            .map(|x| {
                x.campaigns
                    .iter()
                    .rev()
                    .map(|c| (c.campaign.id.clone(), c.campaign.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let current = s
            .campaign
            .as_ref()
            .and_then(|id| names.iter().find(|(i, _)| i == id))
            .map_or_else(|| "All in the range".to_string(), |(_, n)| n.clone());
        egui::ComboBox::from_id_salt("perf_campaign")
            .selected_text(current)
            .width(220.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.campaign, None, "All in the range");
                for (id, name) in names.iter().take(400) {
                    ui.selectable_value(&mut s.campaign, Some(id.clone()), name);
                }
            })
            .response
            .labelled_by(label.id);
        ui.separator();
        ui.selectable_value(&mut s.membership, Membership::AsOfSend, "Members at send")
            .on_hover_text("Judge each segment on who it held when each email went out");
        ui.selectable_value(&mut s.membership, Membership::Current, "Current members")
            .on_hover_text("Judge each segment on who it holds now, for every campaign");
        ui.separator();
        let mut a = ctx.sends.map_or(Attribution::default(), |x| x.attribution);
        let before = a;
        ui.label("Conversion: an order within");
        ui.add(
            egui::DragValue::new(&mut a.window_days)
                .range(1..=30)
                .suffix(" days"),
        );
        ui.label("after a");
        ui.selectable_value(&mut a.trigger, Trigger::Click, "click");
        ui.selectable_value(&mut a.trigger, Trigger::Open, "open");
        if a != before {
            ctx.requests.push(crate::ui::ctx::Request::Attribution(a));
        }
        ui.separator();
        let can_export = s.data.is_some();
        if ui
            .add_enabled(can_export, egui::Button::new("Export CSV…"))
            .on_hover_text("The table as CSV: what `prism perf --format csv` prints")
            .clicked()
            && let Some((_, d)) = &s.data
        {
            let csv = crate::analytics::to_csv(&d.report);
            ctx.jobs
                .spawn(JobKey::PerformanceExport, "Exporting", move |_| {
                    let result = match rfd::FileDialog::new()
                        .set_file_name("segment-performance.csv")
                        .add_filter("CSV", &["csv"])
                        .save_file()
                    {
                        None => Err("Export cancelled".into()),
                        Some(p) => std::fs::write(&p, csv)
                            .map(|_| p.display().to_string())
                            .map_err(|e| format!("{}: {e}", p.display())),
                    };
                    Msg::Performance(PerfMsg::Exported(result))
                });
        }
        if let Some(n) = &s.notice {
            ui.weak(n);
        }
    });
}

fn summary_ui(ui: &mut egui::Ui, d: &ScreenData, stale: bool) {
    let r = &d.report;
    ui.horizontal_wrapped(|ui| {
        let text = format!(
            "{} campaigns · {} sends · members {} · ⏶⏷ differ from the rest of the audience after adjusting for {} comparisons (Benjamini–Hochberg, q < {}) · greyed: fewer than {} recipients",
            r.campaigns,
            format_count(r.all.recipients as i64),
            match r.membership {
                Membership::AsOfSend => "as of each send",
                Membership::Current => "as of now",
            },
            r.segments
                .iter()
                .filter(|s| !s.too_small)
                .map(|s| s.metrics.iter().filter(|m| m.p.is_some()).count())
                .sum::<usize>(),
            crate::analytics::FALSE_DISCOVERY_RATE,
            crate::analytics::MIN_RECIPIENTS,
        );
        if stale {
            ui.spinner();
        }
        ui.weak(text);
    });
    ui.weak(format!("Data notes: {}", r.notes.line()));
}
