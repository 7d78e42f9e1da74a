//! Propensity to order in the next 30 days: a logistic regression
//! (`linfa-logistic`) over yes/no conditions Prism's rules can state
//! (recency, frequency and spend bands, engagement, recent orders, opens,
//! clicks, visits, carts). Trained on the customers as they were 60 days
//! before the data's end with who ordered in the 30 days after, and
//! validated out of time on the customers 30 days before the end with
//! who ordered in the last 30 days: AUC and a calibration table.
//!
//! The model is kept as a scoring model named `propensity_order_30d`:
//! each condition's weight in points (100 × its log-odds), the intercept
//! as points for everyone. A rule tests it like any score
//! (`score propensity_order_30d at least -150`), the engine and SQL alike,
//! at any evaluation time; probability = 1 / (1 + e^(−points / 100)).

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::engine::rule::ScoreModel;
use crate::engine::{Bitset, Engine, Schema, parse_rule, resolve};
use crate::model::event_names as ev;
use crate::model::rng::Rng;
use crate::progress::Progress;

/// The scoring model's name, which rules use.
pub const MODEL_NAME: &str = "propensity_order_30d";
/// The `workspace_meta` key of the last training's figures.
pub const META_KEY: &str = "model:propensity_order_30d";
const DAY: i64 = 86_400;
const HORIZON: i64 = 30 * DAY;
/// Customers the regression is fitted on (dense rows of 0/1): plenty for
/// a few dozen weights, and the fit (L-BFGS) takes time in proportion.
const TRAIN_SAMPLE: usize = 60_000;

/// A yes/no feature: words and the rule condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Indicator {
    pub label: String,
    pub condition: Json,
}

fn tr(name: &str, op: &str, v: f64) -> Json {
    json!({"type": "trait", "trait": name, "op": op, "value": v})
}

fn recent(event: &str, days: i64) -> Json {
    json!({"type": "event", "event": event, "op": "at_least", "value": 1,
           "window": {"kind": "last_days", "days": days}})
}

/// The conditions the model weighs, for the events this workspace has.
/// Bands are cumulative (recency under 7 days is also under 30), so each
/// weight says what one more step adds.
pub fn indicators(schema: &Schema) -> Vec<Indicator> {
    let mut out = Vec::new();
    let mut add = |label: String, condition: Json| out.push(Indicator { label, condition });
    for d in [7, 14, 30, 60, 90, 180, 365] {
        add(
            format!("last order under {d} days ago"),
            tr("rfm_recency_days", "less_than", d as f64),
        );
    }
    for n in [2, 3, 5, 10] {
        add(
            format!("{n}+ orders"),
            tr("rfm_frequency", "at_least", n as f64),
        );
    }
    for m in [100, 250, 500, 1000] {
        add(
            format!("spent {m}+"),
            tr("rfm_monetary", "at_least", m as f64),
        );
    }
    for e in [10, 25, 50, 75] {
        add(
            format!("engagement {e}+"),
            tr("engagement_score", "at_least", e as f64),
        );
    }
    let purchase = schema.purchase_event().to_string();
    let has = |name: &str| schema.event_names.iter().any(|n| n == name);
    let recent_events = [
        (purchase.as_str(), 30, "ordered in the last 30 days"),
        (ev::EMAIL_OPEN, 14, "opened an email in the last 14 days"),
        (ev::EMAIL_CLICK, 30, "clicked an email in the last 30 days"),
        (ev::PAGE_VIEW, 7, "visited in the last 7 days"),
        (ev::PRODUCT_VIEW, 7, "viewed a product in the last 7 days"),
        (ev::ADD_TO_CART, 14, "added to cart in the last 14 days"),
        (ev::UNSUBSCRIBE, 3650, "ever unsubscribed"),
    ];
    for (name, days, label) in recent_events {
        if has(name) {
            add(label.to_string(), recent(name, days));
        }
    }
    add(
        "signed up in the last 30 days".into(),
        json!({"type": "profile", "field": "signup_at", "op": "within_last_days", "value": 30}),
    );
    out
}

/// One bin of the calibration table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Mean predicted probability of the bin.
    pub predicted: f64,
    /// Share of the bin who ordered.
    pub observed: f64,
    pub customers: usize,
}

/// What a training found; kept in the workspace beside the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// The data's end: the newest purchase.
    pub end: i64,
    pub trained_at: i64,
    /// The workspace's data version the model was trained on.
    pub data_version: i64,
    pub train_customers: usize,
    pub valid_customers: usize,
    /// Who ordered within 30 days, in training and in validation.
    pub train_rate: f64,
    pub valid_rate: f64,
    /// Out-of-time AUC of the points users get (rounded weights).
    pub auc: f64,
    /// Deciles of predicted probability against who ordered (validation).
    pub calibration: Vec<CalibrationBin>,
    /// (condition, points), strongest first; the intercept is "everyone".
    pub weights: Vec<(String, i64)>,
    /// Points for probabilities: (probability, points at least).
    pub thresholds: Vec<(f64, i64)>,
}

/// The probability of `points`.
pub fn probability(points: f64) -> f64 {
    1.0 / (1.0 + (-points / 100.0).exp())
}

/// The points a probability needs.
pub fn points_for(p: f64) -> i64 {
    (100.0 * (p / (1.0 - p)).ln()).round() as i64
}

/// The area under the ROC curve: the chance a customer who ordered scores
/// above one who did not (ties count half).
pub fn auc(scores: &[f64], positive: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if positive[k] {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// The newest purchase in the workspace.
pub fn data_end(engine: &Engine) -> Option<i64> {
    let orders = engine.data.events.get(&engine.data.purchase_event)?;
    (0..engine.len())
        .filter_map(|i| {
            let r = orders.range(i);
            (r.start < r.end).then(|| orders.time(r.end - 1))
        })
        .max()
}

/// Who ordered in `[from, from + 30 days)`.
fn ordered_within(engine: &Engine, from: i64) -> Vec<bool> {
    let Some(orders) = engine.data.events.get(&engine.data.purchase_event) else {
        return vec![false; engine.len()];
    };
    (0..engine.len())
        .map(|i| !orders.window(i, from, from + HORIZON).is_empty())
        .collect()
}

/// Customers who existed at `t` (signed up before it, or no signup date).
fn existed(engine: &Engine, t: i64) -> Vec<bool> {
    use crate::engine::data::{Column, NO_TIME};
    match engine.data.column("signup_at") {
        Some((_, Column::Time(v))) => v.iter().map(|&s| s == NO_TIME || s < t).collect(),
        _ => vec![true; engine.len()],
    }
}

/// Trains the model on `engine` (whose workspace has `schema`).
pub fn train(
    engine: &Engine,
    schema: &Schema,
    data_version: i64,
    progress: &dyn Progress,
) -> Result<(ScoreModel, Training), String> {
    let end = data_end(engine).ok_or("no orders to learn from")?;
    let t_train = end - 2 * HORIZON;
    let t_valid = end - HORIZON;
    let inds = indicators(schema);
    let mut sets: [Vec<Bitset>; 2] = [Vec::new(), Vec::new()];
    for (j, ind) in inds.iter().enumerate() {
        if progress.is_cancelled() {
            return Err("cancelled".into());
        }
        progress.report(
            0.05 + 0.5 * j as f32 / inds.len() as f32,
            &format!("features: {}", ind.label),
        );
        let rule = json!({"version": 1, "root": ind.condition});
        let node = parse_rule(&rule.to_string())
            .and_then(|r| resolve(&r, schema))
            .map_err(|e| format!("{}: {e}", ind.label))?;
        for (k, t) in [t_train, t_valid].into_iter().enumerate() {
            let e = engine
                .evaluate(&node, t, progress)
                .map_err(|e| e.to_string())?;
            sets[k].push((*e.members).clone());
        }
    }
    progress.report(0.6, "fitting");
    let y_train = ordered_within(engine, t_train);
    let y_valid = ordered_within(engine, t_valid);
    let in_train: Vec<usize> = existed(engine, t_train)
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| e.then_some(i))
        .collect();
    let in_valid: Vec<usize> = existed(engine, t_valid)
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| e.then_some(i))
        .collect();
    let mut rng = Rng::new(30);
    let keep = (TRAIN_SAMPLE as f64 / in_train.len().max(1) as f64).min(1.0);
    let rows: Vec<usize> = in_train
        .iter()
        .copied()
        .filter(|_| rng.chance(keep))
        .collect();
    let d = inds.len();
    let x = ndarray::Array2::from_shape_fn((rows.len(), d), |(r, j)| {
        if sets[0][j].get(rows[r]) { 1.0 } else { 0.0 }
    });
    let y = ndarray::Array1::from_iter(rows.iter().map(|&i| y_train[i]));
    let positives = y.iter().filter(|&&p| p).count();
    if positives < 10 || positives + 10 > rows.len() {
        return Err(format!(
            "{positives} of {} customers ordered within 30 days: too few of one kind to learn from",
            rows.len()
        ));
    }
    let data = Dataset::new(x, y);
    let fitted = LogisticRegression::default()
        .alpha(1e-3)
        .max_iterations(200)
        .fit(&data)
        .map_err(|e| format!("the regression did not fit: {e}"))?;
    // linfa's positive class is the larger one: turn it towards ordering.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let intercept = sign * fitted.intercept();
    let coefs: Vec<f64> = fitted.params().iter().map(|b| sign * b).collect();
    let pts = |b: f64| (100.0 * b).round() as i64;
    progress.report(0.85, "validating");
    // The points users get, on everyone in validation.
    let scores: Vec<f64> = in_valid
        .iter()
        .map(|&i| {
            (pts(intercept)
                + (0..d)
                    .filter(|&j| sets[1][j].get(i))
                    .map(|j| pts(coefs[j]))
                    .sum::<i64>()) as f64
        })
        .collect();
    let outcome: Vec<bool> = in_valid.iter().map(|&i| y_valid[i]).collect();
    let auc = auc(&scores, &outcome);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let calibration = order
        .chunks(order.len().div_ceil(10).max(1))
        .map(|bin| CalibrationBin {
            predicted: bin.iter().map(|&k| probability(scores[k])).sum::<f64>() / bin.len() as f64,
            observed: bin.iter().filter(|&&k| outcome[k]).count() as f64 / bin.len() as f64,
            customers: bin.len(),
        })
        .collect();
    let mut rules = vec![
        json!({"points": pts(intercept), "condition": {"type": "group", "match": "all", "children": []}}),
    ];
    let mut weights = vec![("everyone (intercept)".to_string(), pts(intercept))];
    for (ind, &b) in inds.iter().zip(&coefs) {
        if pts(b) != 0 {
            rules.push(json!({"points": pts(b), "condition": ind.condition}));
            weights.push((ind.label.clone(), pts(b)));
        }
    }
    weights[1..].sort_by_key(|(_, p)| std::cmp::Reverse(p.abs()));
    let model: ScoreModel =
        serde_json::from_value(json!({"version": 1, "rules": rules})).map_err(|e| e.to_string())?;
    let rate = |ys: &[bool], rows: &[usize]| {
        rows.iter().filter(|&&i| ys[i]).count() as f64 / rows.len().max(1) as f64
    };
    let training = Training {
        end,
        trained_at: crate::model::time::now_utc(),
        data_version,
        train_customers: rows.len(),
        valid_customers: in_valid.len(),
        train_rate: rate(&y_train, &rows),
        valid_rate: rate(&y_valid, &in_valid),
        auc,
        calibration,
        weights,
        thresholds: [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]
            .iter()
            .map(|&p| (p, points_for(p)))
            .collect(),
    };
    Ok((model, training))
}

/// The text `prism discover propensity` prints.
pub fn training_text(t: &Training) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let day = |x: i64| crate::model::time::format_date(crate::model::time::ts_to_date(x));
    let _ = writeln!(
        s,
        "model = {MODEL_NAME} (score; probability = 1 / (1 + e^(-points/100)))"
    );
    let _ = writeln!(s, "data_end = {}", day(t.end));
    let _ = writeln!(
        s,
        "trained_on = {} customers as of {}, ordered within 30 days: {:.1}%",
        t.train_customers,
        day(t.end - 2 * HORIZON),
        t.train_rate * 100.0
    );
    let _ = writeln!(
        s,
        "validated_on = {} customers as of {}, ordered within 30 days: {:.1}%",
        t.valid_customers,
        day(t.end - HORIZON),
        t.valid_rate * 100.0
    );
    let _ = writeln!(s, "auc = {:.3}", t.auc);
    for (k, b) in t.calibration.iter().enumerate() {
        let _ = writeln!(
            s,
            "calibration_decile_{} = predicted {:.1}% observed {:.1}% ({} customers)",
            k + 1,
            b.predicted * 100.0,
            b.observed * 100.0,
            b.customers
        );
    }
    for (label, p) in &t.weights {
        let _ = writeln!(s, "points {p:+} = {label}");
    }
    for (p, pts) in &t.thresholds {
        let _ = writeln!(s, "probability_{:.0}pct = points at least {pts}", p * 100.0);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_and_ties_half() {
        let got = auc(&[1.0, 2.0, 3.0, 4.0], &[false, true, false, true]);
        assert!((got - 0.75).abs() < 1e-12, "{got}");
        assert_eq!(auc(&[1.0, 1.0], &[true, false]), 0.5);
        assert_eq!(auc(&[0.0, 5.0], &[false, true]), 1.0);
    }

    #[test]
    fn points_and_probability_are_inverse() {
        for p in [0.05, 0.2, 0.5, 0.9] {
            assert!((probability(points_for(p) as f64) - p).abs() < 0.005);
        }
        assert_eq!(points_for(0.5), 0);
    }
}
