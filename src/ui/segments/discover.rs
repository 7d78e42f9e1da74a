//! Discover tab: which groups are in the data. Features to cluster on,
//! k by silhouette (a chart; the user may choose k), each cluster in plain
//! words with its size, a scatter of two features coloured by cluster
//! (sampled), and "Create segment from cluster": a readable rule with its
//! precision and recall, opened in the builder as a draft.

use std::sync::Arc;

use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints, Points};

use super::SegMsg;
use super::SegmentsScreen;
use super::list::parse_color;
use crate::app::jobs::JobKey;
use crate::app::segments::ops::PALETTE;
use crate::discover::propensity::{MODEL_NAME, Training};
use crate::discover::tree::ClusterRule;
use crate::discover::{self, Clusters, Feature};
use crate::engine::rule::ScoreModel;
use crate::ui::ctx::{Msg, ScreenCtx};
use crate::ui::data_screen::format_count;

pub enum DiscoverMsg {
    Found(Result<Arc<Clusters>, String>),
    /// The propensity model trained (by the user, or after an import),
    /// with its scoring model; or why not.
    Trained(Result<(Training, ScoreModel), String>),
    /// The last training's figures, read from the workspace.
    Figures(Option<Training>),
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
    /// The propensity model's last training, once read or trained.
    pub propensity: Option<Result<Training, String>>,
    pub training: bool,
    figures_requested: bool,
    /// The workspace's own features (fields, categories) were added.
    offered: bool,
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
            propensity: None,
            training: false,
            figures_requested: false,
            offered: false,
        }
    }
}

impl DiscoverState {
    pub fn handle(s: &mut SegmentsScreen, m: DiscoverMsg, ctx: &mut ScreenCtx<'_>) {
        match m {
            DiscoverMsg::Found(r) => {
                s.discover.running = false;
                s.discover.rule = None;
                s.discover.result = Some(r);
            }
            DiscoverMsg::Trained(r) => {
                s.discover.training = false;
                match r {
                    Ok((t, model)) => {
                        // Rules testing the score count with the new weights.
                        if let Some(schema) = s.schema.as_mut() {
                            let mut sc = (**schema).clone();
                            sc.scores.insert(MODEL_NAME.to_string(), model);
                            *schema = Arc::new(sc);
                        }
                        s.edited_now();
                        s.refresh_counts(ctx);
                        s.discover.propensity = Some(Ok(t));
                    }
                    Err(e) => s.discover.propensity = Some(Err(e)),
                }
            }
            DiscoverMsg::Figures(t) => {
                if s.discover.propensity.is_none() {
                    s.discover.propensity = t.map(Ok);
                }
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

/// Trains the propensity model in the background and keeps it in the
/// workspace (the user's button; the app does the same after an import).
pub fn train(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let (Some(engine), Some(ws)) = (ctx.engine.cloned(), ctx.workspace_path()) else {
        return;
    };
    s.discover.training = true;
    ctx.jobs.spawn(
        JobKey::Propensity,
        "Training the propensity model",
        move |job| {
            Msg::Segments(SegMsg::Discover(DiscoverMsg::Trained(trained(
                &ws, &engine, job,
            ))))
        },
    );
}

/// Trains and saves; the figures and the scoring model the rules use.
pub fn trained(
    ws: &std::path::Path,
    engine: &crate::engine::Engine,
    job: &dyn crate::progress::Progress,
) -> Result<(Training, ScoreModel), String> {
    let t = crate::app::discover::train_propensity(ws, engine, job).map_err(|e| e.to_string())?;
    let store = crate::store::Store::open_read_only(ws).map_err(|e| e.to_string())?;
    let record = store
        .score(MODEL_NAME)
        .map_err(|e| e.to_string())?
        .ok_or("the model was not saved")?;
    let model =
        crate::engine::resolve::parse_score_model(&record.definition).map_err(|e| e.to_string())?;
    Ok((t, model))
}

fn request_figures(s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    let Some(ws) = ctx.workspace_path() else {
        return;
    };
    s.discover.figures_requested = true;
    ctx.jobs.spawn(
        JobKey::PropensityFigures,
        "Reading the propensity model",
        move |_| {
            let t = crate::store::Store::open_read_only(&ws)
                .ok()
                .and_then(|st| crate::app::discover::propensity_figures(&st).ok().flatten());
            Msg::Segments(SegMsg::Discover(DiscoverMsg::Figures(t)))
        },
    );
}

fn propensity_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    if !s.discover.figures_requested {
        request_figures(s, ctx);
    }
    ui.heading("Propensity to order in the next 30 days");
    ui.label(format!(
        "A logistic regression over conditions your rules can state, trained on customers as they were 60 days before the last order with who ordered in the next 30, and checked on the 30 days after. Rules use it as the score {MODEL_NAME:?}."
    ));
    ui.horizontal(|ui| {
        let label = if s.discover.propensity.as_ref().is_some_and(|p| p.is_ok()) {
            "Train again"
        } else {
            "Train"
        };
        if ui
            .add_enabled(!s.discover.training, egui::Button::new(label))
            .clicked()
        {
            train(s, ctx);
        }
        if s.discover.training {
            ui.spinner();
        }
    });
    let t = match &s.discover.propensity {
        None => return,
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        Some(Ok(t)) => t.clone(),
    };
    ui.label(format!(
        "AUC {:.3} on {} customers as of {} (ordered within 30 days: {:.1}%); trained on {} ({:.1}%)",
        t.auc,
        format_count(t.valid_customers as i64),
        crate::model::time::format_ts(t.end - 30 * 86_400),
        t.valid_rate * 100.0,
        format_count(t.train_customers as i64),
        t.train_rate * 100.0
    ));
    Plot::new("propensity_calibration")
        .height(170.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .x_axis_label("predicted %")
        .y_axis_label("ordered %")
        .show(ui, |plot| {
            let top = t
                .calibration
                .iter()
                .map(|b| b.predicted.max(b.observed))
                .fold(0.0, f64::max)
                * 100.0;
            plot.line(
                Line::new(
                    "Perfect calibration",
                    PlotPoints::new(vec![[0.0, 0.0], [top, top]]),
                )
                .color(egui::Color32::GRAY),
            );
            let pts: Vec<[f64; 2]> = t
                .calibration
                .iter()
                .map(|b| [b.predicted * 100.0, b.observed * 100.0])
                .collect();
            plot.line(
                Line::new("Deciles (validation)", PlotPoints::new(pts.clone())).color(color(0)),
            );
            plot.points(
                Points::new("Decile", PlotPoints::new(pts))
                    .color(color(0))
                    .radius(3.0),
            );
        });
    ui.horizontal_wrapped(|ui| {
        ui.label("New segment of customers likely to order:");
        for (p, points) in t.thresholds.iter().filter(|(p, _)| [0.1, 0.2, 0.3, 0.5].contains(p)) {
            if ui
                .button(format!("≥ {:.0}%", p * 100.0))
                .on_hover_text(format!("score {MODEL_NAME} at least {points}"))
                .clicked()
            {
                let rule = serde_json::json!({"version": 1, "root": {"type": "group", "match": "all", "children": [
                    {"type": "trait", "trait": "score", "score": MODEL_NAME, "op": "at_least", "value": points}
                ]}});
                if let Ok(r) = serde_json::from_value(rule) {
                    s.new_segment_with(&format!("Likely to order ({:.0}%+)", p * 100.0), r);
                }
            }
        }
    });
    egui::CollapsingHeader::new("What the model weighs")
        .id_salt("propensity_weights")
        .show(ui, |ui| {
            egui::Grid::new("propensity_weights_grid")
                .striped(true)
                .show(ui, |ui| {
                    for (label, p) in t.weights.iter().take(16) {
                        ui.label(format!("{p:+}"));
                        ui.label(label);
                        ui.end_row();
                    }
                });
        });
}

fn color(k: usize) -> egui::Color32 {
    parse_color(PALETTE[k % PALETTE.len()])
}

pub fn discover_tab_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
    // Numeric fields and the top categories join the offer once the
    // engine is there.
    if let Some(engine) = ctx.engine
        && !s.discover.offered
    {
        s.discover.offered = true;
        for f in discover::numeric_fields(engine) {
            s.discover.features.push((Feature::Field(f), false));
        }
        for c in discover::top_categories_by_orders(engine, 6) {
            s.discover.features.push((Feature::Category(c), false));
        }
    }
    egui::ScrollArea::vertical()
        .id_salt("discover_scroll")
        .show(ui, |ui| {
            propensity_ui(ui, s, ctx);
            ui.separator();
            ui.heading("Clusters");
            clusters_ui(ui, s, ctx);
        });
}

fn clusters_ui(ui: &mut egui::Ui, s: &mut SegmentsScreen, ctx: &mut ScreenCtx<'_>) {
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
        .x_axis_label("k")
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
        let pts = discover::scatter(&c, x, y);
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
