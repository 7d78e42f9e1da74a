//! Discover tab: which groups are in the data. Features to cluster on,
//! k by silhouette (a chart; the user may choose k), each cluster in plain
//! words with its size, a scatter of two features coloured by cluster
//! (sampled), and "Create segment from cluster": a readable rule with its
//! precision and recall, opened in the builder as a draft.

use std::sync::Arc;

use egui_plot::{Bar, BarChart, Legend, Plot, PlotPoints, Points};

use super::SegMsg;
use super::SegmentsScreen;
use super::list::parse_color;
use crate::app::jobs::JobKey;
use crate::app::segments::ops::PALETTE;
use crate::discover::tree::ClusterRule;
use crate::discover::{self, Clusters, Feature};
use crate::ui::ctx::{Msg, ScreenCtx};
use crate::ui::data_screen::format_count;

pub enum DiscoverMsg {
    Found(Result<Arc<Clusters>, String>),
    /// A cluster's rule (cluster index), ready to open as a draft.
    Rule(usize, Result<ClusterRule, String>),
}

pub struct DiscoverState {
    /// Features offered (built-in, then numeric fields) and which are on.
    pub features: Vec<(Feature, bool)>,
    /// The user's k; `None`: the best silhouette.
    pub k: Option<usize>,
    pub result: Option<Result<Arc<Clusters>, String>>,
    pub running: bool,
    job: Option<crate::app::jobs::JobId>,
    /// Scatter axes: indexes into the result's features.
    pub x: usize,
    pub y: usize,
    /// The last rule made from a cluster, for its figures.
    pub rule: Option<(usize, Result<ClusterRule, String>)>,
}

impl Default for DiscoverState {
    fn default() -> Self {
        DiscoverState {
            features: Feature::BUILT_IN
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone(), i < 4))
                .collect(),
            k: None,
            result: None,
            running: false,
            job: None,
            x: 0,
            y: 1,
            rule: None,
        }
    }
}

impl DiscoverState {
    pub fn handle(s: &mut SegmentsScreen, m: DiscoverMsg) {
        match m {
            DiscoverMsg::Found(r) => {
                s.discover.running = false;
                s.discover.rule = None;
                s.discover.result = Some(r);
            }
            DiscoverMsg::Rule(k, r) => {
                if let Ok(rule) = &r
                    && let Ok(parsed) = serde_json::from_value(rule.rule.clone())
                {
                    s.new_segment_with(&format!("Cluster {}", k + 1), parsed);
                }
                s.discover.rule = Some((k, r));
            }
        }
    }
}

fn find(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(engine) = ctx.engine.cloned() else {
        return;
    };
    let features: Vec<Feature> = s
        .discover
        .features
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| f.clone())
        .collect();
    let (k, as_of) = (s.discover.k, s.as_of());
    s.discover.running = true;
    s.discover.job = Some(
        ctx.jobs
            .spawn(JobKey::Discover, "Finding clusters", move |job| {
                Msg::Segments(SegMsg::Discover(DiscoverMsg::Found(
                    discover::clusters(&engine, &features, as_of, k, 1, job).map(Arc::new),
                )))
            }),
    );
}

fn make_rule(c: Arc<Clusters>, k: usize, ctx: &mut ScreenCtx<'_>) {
    let (Some(engine), Some(ws)) = (ctx.engine.cloned(), ctx.workspace_path()) else {
        return;
    };
    ctx.jobs.spawn(
        JobKey::Discover,
        "Writing a rule for the cluster",
        move |job| {
            let r = crate::store::Store::open_read_only(&ws)
                .map_err(|e| e.to_string())
                .and_then(|store| discover::tree::cluster_rule(&engine, &store, &c, k, job));
            Msg::Segments(SegMsg::Discover(DiscoverMsg::Rule(k, r)))
        },
    );
}

fn color(k: usize) -> egui::Color32 {
    parse_color(PALETTE[k % PALETTE.len()])
}

pub fn discover_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    // Numeric fields join the offer once the engine is there.
    if let Some(engine) = ctx.engine {
        for f in discover::numeric_fields(engine) {
            if !s.discover.features.iter().any(|(x, _)| x.key() == f) {
                s.discover.features.push((Feature::Field(f), false));
            }
        }
    }
    ui.label("Which groups are in your data? Customers are clustered on the features you choose (standardized; order counts and money on a log scale).");
    ui.horizontal_wrapped(|ui| {
        for (f, on) in &mut s.discover.features {
            ui.checkbox(on, f.label());
        }
    });
    let chosen = s.discover.features.iter().filter(|(_, on)| *on).count();
    ui.horizontal(|ui| {
        let mut manual = s.discover.k.is_some();
        ui.checkbox(&mut manual, "Choose k")
            .on_hover_text("By default, k is the best silhouette score over 2 to 8");
        if manual {
            let mut k = s.discover.k.unwrap_or(4);
            ui.add(egui::DragValue::new(&mut k).range(2..=8))
                .labelled_by(ui.label("clusters").id);
            s.discover.k = Some(k);
        } else {
            s.discover.k = None;
        }
        let running = s.discover.running;
        if ui
            .add_enabled(chosen > 0 && !running, egui::Button::new("Find clusters"))
            .on_disabled_hover_text("Choose at least one feature")
            .clicked()
        {
            find(s, ctx);
        }
        if running {
            ui.spinner();
            if ui.button("Cancel").clicked() {
                if let Some(id) = s.discover.job {
                    ctx.jobs.cancel(id);
                }
                s.discover.running = false;
            }
        }
    });
    let c = match &s.discover.result {
        None => return,
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        Some(Ok(c)) => c.clone(),
    };
    ui.separator();
    ui.label(format!(
        "k = {} ({}) · seed 1 · as of {}",
        c.k,
        if c.chosen_by_user {
            "chosen"
        } else {
            "best silhouette"
        },
        crate::model::time::format_ts(c.as_of)
    ));
    Plot::new("discover_silhouette")
        .height(110.0)
        .allow_scroll(false)
        .allow_drag(false)
        .y_axis_label("silhouette")
        .show(ui, |plot| {
            let bars: Vec<Bar> = c
                .silhouettes
                .iter()
                .map(|(k, v)| {
                    let b = Bar::new(*k as f64, *v).width(0.6).name(format!("k = {k}"));
                    if *k == c.k {
                        b.fill(color(0))
                    } else {
                        b.fill(egui::Color32::GRAY)
                    }
                })
                .collect();
            plot.bar_chart(BarChart::new("Silhouette by k", bars));
        });
    let mut create = None;
    egui::Grid::new("discover_clusters")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            for (k, cl) in c.clusters.iter().enumerate() {
                ui.colored_label(color(k), format!("Cluster {}", k + 1));
                ui.label(format!(
                    "{} · {}",
                    format_count(cl.size as i64),
                    cl.description
                ));
                if ui
                    .small_button("Create segment")
                    .on_hover_text(
                        "A rule of a few conditions that finds this cluster, opened as a draft",
                    )
                    .clicked()
                {
                    create = Some(k);
                }
                ui.end_row();
            }
        });
    if let Some(k) = create {
        make_rule(c.clone(), k, ctx);
    }
    match &s.discover.rule {
        Some((k, Ok(r))) => {
            ui.label(format!(
                "Cluster {}: {} · precision {:.0}% · recall {:.0}% ({} members), opened as a draft",
                k + 1,
                r.text,
                r.precision * 100.0,
                r.recall * 100.0,
                format_count(r.members as i64)
            ));
        }
        Some((_, Err(e))) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
    if c.features.len() >= 2 {
        let label = |i: usize| c.features.get(i).map_or(String::new(), Feature::label);
        ui.horizontal(|ui| {
            for (axis, which) in [("x", &mut s.discover.x), ("y", &mut s.discover.y)] {
                egui::ComboBox::from_id_salt(("discover_axis", axis))
                    .selected_text(label(*which))
                    .show_ui(ui, |ui| {
                        for (i, f) in c.features.iter().enumerate() {
                            ui.selectable_value(which, i, f.label());
                        }
                    })
                    .response
                    .accessible_name(format!("Scatter {axis} axis"));
            }
        });
        let (x, y) = (s.discover.x, s.discover.y);
        if let Some(engine) = ctx.engine {
            let pts = discover::scatter(engine, &c, x, y);
            Plot::new("discover_scatter")
                .height(260.0)
                .legend(Legend::default())
                .x_axis_label(label(x))
                .y_axis_label(label(y))
                .show(ui, |plot| {
                    for k in 0..c.k {
                        let series: Vec<[f64; 2]> = pts
                            .iter()
                            .filter(|p| p.2 as usize == k)
                            .map(|p| [p.0, p.1])
                            .collect();
                        plot.points(
                            Points::new(format!("Cluster {}", k + 1), PlotPoints::new(series))
                                .color(color(k))
                                .radius(1.5),
                        );
                    }
                });
            ui.weak(format!(
                "{} customers sampled of {}",
                format_count(pts.len() as i64),
                format_count(c.labels.len() as i64)
            ));
        }
    }
}
