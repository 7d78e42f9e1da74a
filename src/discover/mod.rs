//! Discovery: which groups are actually in the data. Customers are
//! clustered with k-means on standardized features (RFM, engagement,
//! tenure, numeric custom fields), k chosen by the silhouette score over
//! k = 2..8 on a sample; each cluster is described in plain words from its
//! centre, and turned into a readable rule of a few threshold conditions
//! (a shallow decision tree) whose precision and recall against the
//! cluster are measured exactly by the engine.
//!
//! Headless and deterministic with a seed; the CLI (`prism discover
//! clusters`) and the Segments screen's Discover tab call the same
//! functions.

pub mod kmeans;
pub mod propensity;
pub mod tree;

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use crate::engine::Engine;
use crate::engine::data::Column;
use crate::engine::data::NO_TIME;
use crate::model::FieldType;
use crate::model::rng::Rng;
use crate::progress::{Cancelled, Progress};

/// Points silhouette scores are computed on (it is quadratic).
pub const SILHOUETTE_SAMPLE: usize = 2_000;
/// Points k-means is fitted on while k is chosen.
pub const CHOOSE_SAMPLE: usize = 50_000;
/// Points a scatter plot shows at most.
pub const SCATTER_POINTS: usize = 4_000;

/// A feature clustering can use.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    Recency,
    Frequency,
    Monetary,
    Engagement,
    Tenure,
    /// A numeric customer field.
    Field(String),
    /// Orders in a product category (the category mix).
    Category(String),
}

impl Feature {
    /// The features every workspace has, in the order they are offered.
    pub const BUILT_IN: [Feature; 5] = [
        Feature::Recency,
        Feature::Frequency,
        Feature::Monetary,
        Feature::Engagement,
        Feature::Tenure,
    ];

    pub fn key(&self) -> String {
        match self {
            Feature::Recency => "recency".into(),
            Feature::Frequency => "frequency".into(),
            Feature::Monetary => "monetary".into(),
            Feature::Engagement => "engagement".into(),
            Feature::Tenure => "tenure".into(),
            Feature::Field(f) => f.clone(),
            Feature::Category(c) => format!("category:{c}"),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Feature::Recency => "Days since last order".into(),
            Feature::Frequency => "Orders".into(),
            Feature::Monetary => "Total spent".into(),
            Feature::Engagement => "Engagement (0–100)".into(),
            Feature::Tenure => "Days since signup".into(),
            Feature::Field(f) => f.clone(),
            Feature::Category(c) => format!("Orders in {c}"),
        }
    }

    /// Words for a centre well above (`true`) or below the average.
    fn words(&self, high: bool) -> String {
        match (self, high) {
            (Feature::Recency, true) => "lapsed".into(),
            (Feature::Recency, false) => "recent".into(),
            (Feature::Frequency, true) => "frequent".into(),
            (Feature::Frequency, false) => "infrequent".into(),
            (Feature::Monetary, true) => "high spend".into(),
            (Feature::Monetary, false) => "low spend".into(),
            (Feature::Engagement, true) => "engaged".into(),
            (Feature::Engagement, false) => "unengaged".into(),
            (Feature::Tenure, true) => "long-standing".into(),
            (Feature::Tenure, false) => "new".into(),
            (Feature::Field(f), true) => format!("high {f}"),
            (Feature::Field(f), false) => format!("low {f}"),
            (Feature::Category(c), true) => format!("buys {c}"),
            (Feature::Category(c), false) => format!("little {c}"),
        }
    }

    /// Parses a key (`recency`, …, or a numeric field's name).
    pub fn parse(key: &str, engine: &Engine) -> Result<Feature, String> {
        let k = key.trim();
        if let Some(f) = Feature::BUILT_IN.iter().find(|f| f.key() == k) {
            return Ok(f.clone());
        }
        if let Some(c) = k.strip_prefix("category:") {
            let known = top_categories_by_orders(engine, usize::MAX);
            return match known.iter().find(|x| x.eq_ignore_ascii_case(c)) {
                Some(x) => Ok(Feature::Category(x.clone())),
                None => Err(format!(
                    "no orders in a category {c:?} (categories: {})",
                    known
                        .iter()
                        .take(12)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
        }
        match engine.data.column(k) {
            Some((def, Column::Num(_))) if def.field_type == FieldType::Number => {
                Ok(Feature::Field(k.to_string()))
            }
            Some(_) => Err(format!("{k:?} is not a number field")),
            None => {
                let mut known: Vec<String> = Feature::BUILT_IN.iter().map(Feature::key).collect();
                known.extend(numeric_fields(engine));
                known.push("category:NAME".into());
                Err(format!("no feature {k:?} (features: {})", known.join(", ")))
            }
        }
    }

    /// The rule condition "this feature is below `t`" (`below`) or "at or
    /// above `t`", as rule JSON (`purchase`: the purchase event's name).
    pub fn condition(&self, below: bool, t: f64, purchase: &str) -> Json {
        let op = if below { "less_than" } else { "at_least" };
        match self {
            Feature::Recency => {
                json!({"type": "trait", "trait": "rfm_recency_days", "op": op, "value": t})
            }
            Feature::Frequency => {
                json!({"type": "trait", "trait": "rfm_frequency", "op": op, "value": t})
            }
            Feature::Monetary => {
                json!({"type": "trait", "trait": "rfm_monetary", "op": op, "value": t})
            }
            Feature::Engagement => {
                json!({"type": "trait", "trait": "engagement_score", "op": op, "value": t})
            }
            // Tenure below t days: signed up within the last t days.
            Feature::Tenure => {
                let op = if below {
                    "within_last_days"
                } else {
                    "more_than_days_ago"
                };
                json!({"type": "profile", "field": "signup_at", "op": op, "value": t})
            }
            Feature::Field(f) => json!({"type": "profile", "field": f, "op": op, "value": t}),
            Feature::Category(c) => {
                json!({"type": "event", "event": purchase, "op": op, "value": t,
                "filters": [{"property": "category", "op": "equals", "value": c}],
                "window": {"kind": "ever"}})
            }
        }
    }
}

/// The product categories with the most orders, most first (at most `n`):
/// the category-mix features offered.
pub fn top_categories_by_orders(engine: &Engine, n: usize) -> Vec<String> {
    let data = &engine.data;
    let Some(orders) = data.events.get(&data.purchase_event) else {
        return Vec::new();
    };
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for j in 0..orders.len() {
        let c = orders.category.get(j);
        if c != 0 {
            *counts.entry(c).or_default() += 1;
        }
    }
    let mut v: Vec<(u32, usize)> = counts.into_iter().collect();
    v.sort_by_key(|&(c, k)| (std::cmp::Reverse(k), c));
    v.into_iter()
        .take(n)
        .filter_map(|(c, _)| data.strings.get(c).map(str::to_string))
        .collect()
}

/// The workspace's numeric customer fields (features beyond the built-in).
pub fn numeric_fields(engine: &Engine) -> Vec<String> {
    engine
        .data
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Number)
        .map(|f| f.name.clone())
        .collect()
}

/// A feature's raw values per customer (NaN: none, e.g. no order yet).
pub fn values(engine: &Engine, f: &Feature, as_of: i64) -> Vec<f64> {
    let t = || engine.traits(as_of);
    match f {
        Feature::Recency => t().recency.to_vec(),
        Feature::Frequency => t().frequency.to_vec(),
        Feature::Monetary => t().monetary.to_vec(),
        Feature::Engagement => t().engagement.to_vec(),
        Feature::Tenure => match engine.data.column("signup_at") {
            // Whole days, as `more_than_days_ago` counts them.
            Some((_, Column::Time(v))) => v
                .iter()
                .map(|&s| {
                    if s == NO_TIME || s > as_of {
                        f64::NAN
                    } else {
                        ((as_of - s) / 86_400) as f64
                    }
                })
                .collect(),
            _ => vec![f64::NAN; engine.len()],
        },
        Feature::Field(name) => match engine.data.column(name) {
            Some((_, Column::Num(v))) => v.clone(),
            _ => vec![f64::NAN; engine.len()],
        },
        Feature::Category(name) => {
            let data = &engine.data;
            let (Some(orders), Some(code)) = (
                data.events.get(&data.purchase_event),
                data.strings.lookup(name),
            ) else {
                return vec![0.0; engine.len()];
            };
            (0..engine.len())
                .map(|i| {
                    orders
                        .window(i, i64::MIN, as_of)
                        .filter(|&j| orders.category.get(j) == code)
                        .count() as f64
                })
                .collect()
        }
    }
}

/// One feature ready for distance: skewed counts and money on a log
/// scale, missing values imputed (no order yet: the longest recency seen;
/// anything else: the median), then standardized.
fn standardized(f: &Feature, raw: &[f64]) -> (Vec<f64>, f64, f64) {
    let log = matches!(
        f,
        Feature::Frequency | Feature::Monetary | Feature::Category(_)
    );
    let mut present: Vec<f64> = raw.iter().copied().filter(|v| v.is_finite()).collect();
    present.sort_by(f64::total_cmp);
    let fill = match f {
        Feature::Recency => present.last().copied().unwrap_or(0.0) * 1.25,
        _ => present.get(present.len() / 2).copied().unwrap_or(0.0),
    };
    let x: Vec<f64> = raw
        .iter()
        .map(|&v| {
            let v = if v.is_finite() { v } else { fill };
            if log { v.max(0.0).ln_1p() } else { v }
        })
        .collect();
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let sd = if sd > 0.0 { sd } else { 1.0 };
    (x.iter().map(|v| (v - mean) / sd).collect(), mean, sd)
}

/// One cluster: its size, centre and words.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterInfo {
    pub size: usize,
    /// The centre in standard deviations from the average, per feature.
    pub centre_z: Vec<f64>,
    /// The median raw value of each feature among members.
    pub medians: Vec<f64>,
    /// "recent, frequent, high spend, mostly Electronics".
    pub description: String,
}

/// What clustering found.
#[derive(Clone, Debug, PartialEq)]
pub struct Clusters {
    pub features: Vec<Feature>,
    pub as_of: i64,
    pub seed: u64,
    /// The silhouette score of each k tried (on a sample).
    pub silhouettes: Vec<(usize, f64)>,
    /// The k used: the best silhouette, unless the user chose one.
    pub k: usize,
    pub chosen_by_user: bool,
    pub clusters: Vec<ClusterInfo>,
    /// Each customer's cluster (engine rows).
    pub labels: Vec<u8>,
    /// A sample for plots: engine rows.
    pub sample: Vec<usize>,
    /// The sample's raw value of each feature (`[feature][sample index]`),
    /// read with the rest so a plot never reads the engine.
    pub sample_values: Vec<Vec<f64>>,
}

/// Clusters the customers on `features` as of `as_of`. `k`: the user's
/// choice, or `None` for the best silhouette over 2..=8.
pub fn clusters(
    engine: &Engine,
    features: &[Feature],
    as_of: i64,
    k: Option<usize>,
    seed: u64,
    progress: &dyn Progress,
) -> Result<Clusters, String> {
    let n = engine.len();
    if features.is_empty() {
        return Err("choose at least one feature".into());
    }
    if n < 10 {
        return Err(format!("{n} customers are too few to cluster"));
    }
    if let Some(k) = k
        && !(2..=20).contains(&k)
    {
        return Err(format!("k = {k}: choose between 2 and 20 clusters"));
    }
    let cancelled = |_: Cancelled| "cancelled".to_string();
    progress.report(0.02, "reading features");
    let d = features.len();
    let raw: Vec<Vec<f64>> = features.iter().map(|f| values(engine, f, as_of)).collect();
    let mut points = vec![0.0; n * d];
    for (j, (f, r)) in features.iter().zip(&raw).enumerate() {
        let (z, _, _) = standardized(f, r);
        for (i, v) in z.into_iter().enumerate() {
            points[i * d + j] = v;
        }
    }
    // A fixed random sample: k is chosen on it, plots show it.
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.index(i + 1));
    }
    let rows_of = |m: usize| -> Vec<usize> {
        let mut r = order[..m.min(n)].to_vec();
        r.sort_unstable();
        r
    };
    let pick = |rows: &[usize]| -> Vec<f64> {
        rows.iter()
            .flat_map(|&i| points[i * d..(i + 1) * d].iter().copied())
            .collect()
    };
    let choose_rows = rows_of(CHOOSE_SAMPLE);
    let choose_points = pick(&choose_rows);
    let sil_rows = rows_of(SILHOUETTE_SAMPLE);
    let sil_points = pick(&sil_rows);
    let mut silhouettes = Vec::new();
    for (t, kk) in (2..=8usize).enumerate() {
        progress.report(0.05 + 0.6 * t as f32 / 7.0, &format!("trying k = {kk}"));
        let fit = kmeans::fit(&choose_points, d, kk, seed, progress).map_err(cancelled)?;
        let labels: Vec<u8> = sil_rows
            .iter()
            .map(|&i| nearest_label(&points[i * d..(i + 1) * d], &fit.centroids, d))
            .collect();
        silhouettes.push((kk, kmeans::silhouette(&sil_points, d, &labels)));
    }
    let best = silhouettes
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(2, |s| s.0);
    let k = k.unwrap_or(best);
    progress.report(0.7, &format!("clustering everyone into {k}"));
    let fit = kmeans::fit(&points, d, k, seed, progress).map_err(cancelled)?;
    // Clusters largest first, so labels read the same on every run.
    let mut sizes = vec![0usize; fit.k];
    for &l in &fit.labels {
        sizes[l as usize] += 1;
    }
    let mut rank: Vec<usize> = (0..fit.k).collect();
    rank.sort_by_key(|&c| (std::cmp::Reverse(sizes[c]), c));
    let mut relabel = vec![0u8; fit.k];
    for (new, &old) in rank.iter().enumerate() {
        relabel[old] = new as u8;
    }
    let labels: Vec<u8> = fit.labels.iter().map(|&l| relabel[l as usize]).collect();
    progress.report(0.9, "describing the clusters");
    let categories = top_categories(engine, &labels, fit.k, as_of);
    // Who has not ordered yet, per cluster.
    let traits = engine.traits(as_of);
    let mut never = vec![0usize; fit.k];
    for (i, &l) in labels.iter().enumerate() {
        if traits.frequency[i] == 0.0 {
            never[l as usize] += 1;
        }
    }
    let clusters = rank
        .iter()
        .enumerate()
        .map(|(new, &old)| {
            let centre_z = fit.centroids[old * d..(old + 1) * d].to_vec();
            let medians = raw
                .iter()
                .map(|r| {
                    median(
                        labels
                            .iter()
                            .zip(r)
                            .filter(|(l, _)| **l as usize == new)
                            .map(|(_, v)| *v),
                    )
                })
                .collect();
            let mostly_never = never[new] * 10 >= sizes[old] * 8;
            let description = describe(
                features,
                &centre_z,
                categories.get(new).cloned().flatten(),
                mostly_never,
            );
            ClusterInfo {
                size: sizes[old],
                centre_z,
                medians,
                description,
            }
        })
        .collect();
    let sample = rows_of(SCATTER_POINTS);
    let sample_values = raw
        .iter()
        .map(|r| sample.iter().map(|&i| r[i]).collect())
        .collect();
    Ok(Clusters {
        features: features.to_vec(),
        as_of,
        seed,
        silhouettes,
        k: fit.k,
        chosen_by_user: k != best,
        clusters,
        labels,
        sample,
        sample_values,
    })
}

fn nearest_label(p: &[f64], centroids: &[f64], d: usize) -> u8 {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centroids.chunks_exact(d).enumerate() {
        let e: f64 = p.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
        if e < best.1 {
            best = (c, e);
        }
    }
    best.0 as u8
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per cluster, the category most of its orders are in, when one is (at
/// least 40% of the cluster's orders up to `as_of`).
fn top_categories(engine: &Engine, labels: &[u8], k: usize, as_of: i64) -> Vec<Option<String>> {
    let data = &engine.data;
    let Some(orders) = data.events.get(&data.purchase_event) else {
        return vec![None; k];
    };
    let mut counts: Vec<HashMap<u32, usize>> = vec![HashMap::new(); k];
    let mut totals = vec![0usize; k];
    for (i, &l) in labels.iter().enumerate() {
        for j in orders.window(i, i64::MIN, as_of) {
            let code = orders.category.get(j);
            if code != 0 {
                *counts[l as usize].entry(code).or_default() += 1;
                totals[l as usize] += 1;
            }
        }
    }
    counts
        .iter()
        .zip(&totals)
        .map(|(c, &total)| {
            let (code, n) = c
                .iter()
                .max_by_key(|(code, n)| (**n, std::cmp::Reverse(**code)))?;
            (total > 0 && *n * 10 >= total * 4)
                .then(|| data.strings.get(*code).map(str::to_string))
                .flatten()
        })
        .collect()
}

/// Plain words for a cluster's centre: features half a standard deviation
/// or more from the average, strongest first, and the category most of
/// its orders are in. A cluster most of whom never ordered says so
/// instead of what its (imputed) order figures would say.
pub fn describe(
    features: &[Feature],
    centre_z: &[f64],
    category: Option<String>,
    never_ordered: bool,
) -> String {
    let orders =
        |f: &Feature| matches!(f, Feature::Recency | Feature::Frequency | Feature::Monetary);
    let mut marked: Vec<(f64, String)> = features
        .iter()
        .zip(centre_z)
        .filter(|(f, z)| z.abs() >= 0.5 && !(never_ordered && orders(f)))
        .map(|(f, z)| (z.abs(), f.words(*z > 0.0)))
        .collect();
    marked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut words: Vec<String> = marked.into_iter().map(|(_, w)| w).collect();
    if never_ordered {
        words.insert(0, "never ordered".into());
    }
    if let Some(c) = category {
        words.push(format!("mostly {c}"));
    }
    if words.is_empty() {
        "close to the average".into()
    } else {
        words.join(", ")
    }
}

/// The scatter plot's points: `(x, y, cluster)` of the sample, raw values
/// of two features (customers without a value left out). Reads only what
/// the clustering kept, so a frame can afford it.
pub fn scatter(c: &Clusters, x: usize, y: usize) -> Vec<(f64, f64, u8)> {
    let (Some(vx), Some(vy)) = (c.sample_values.get(x), c.sample_values.get(y)) else {
        return Vec::new();
    };
    c.sample
        .iter()
        .zip(vx.iter().zip(vy))
        .filter(|(_, (a, b))| a.is_finite() && b.is_finite())
        .map(|(&i, (&a, &b))| (a, b, c.labels[i]))
        .collect()
}

/// The text `prism discover clusters` prints.
pub fn clusters_text(c: &Clusters) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let keys: Vec<String> = c.features.iter().map(Feature::key).collect();
    let _ = writeln!(s, "features = {}", keys.join(","));
    for (k, score) in &c.silhouettes {
        let _ = writeln!(s, "silhouette_k{k} = {score:.3}");
    }
    let _ = writeln!(
        s,
        "k = {}{}",
        c.k,
        if c.chosen_by_user {
            " (chosen)"
        } else {
            " (best silhouette)"
        }
    );
    for (i, cl) in c.clusters.iter().enumerate() {
        let medians: Vec<String> = c
            .features
            .iter()
            .zip(&cl.medians)
            .map(|(f, m)| format!("{}={}", f.key(), crate::model::text::fmt_num(*m)))
            .collect();
        let _ = writeln!(
            s,
            "cluster {} = {} customers · {} · median {}",
            i + 1,
            cl.size,
            cl.description,
            medians.join(" ")
        );
    }
    s
}
