//! From a cluster to a rule: a shallow decision tree (depth ≤ 3, Gini) that
//! separates the cluster from everyone else on the features' raw values;
//! the purest leaf that says "in the cluster" becomes an ALL of at most
//! three threshold conditions. The engine then counts the rule exactly, so
//! its precision and recall against the cluster are measured, not
//! estimated.

use serde_json::{Value as Json, json};

use super::{Clusters, Feature, values};
use crate::engine::{Engine, parse_rule, resolve, schema_of};
use crate::model::rng::Rng;
use crate::progress::Progress;
use crate::store::Store;

/// Rows the tree is grown on.
const TREE_SAMPLE: usize = 40_000;
/// Thresholds tried per feature and node.
const CUTS: usize = 24;

/// One step of a path: feature index, below (`<`) or at least, threshold.
type Step = (usize, bool, f64);

/// A rule for a cluster, and how well it matches it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterRule {
    /// Rule JSON (`{"version": 1, "root": …}`), ready for the builder.
    pub rule: Json,
    /// The conditions in words.
    pub text: String,
    /// Of the rule's members, the share in the cluster.
    pub precision: f64,
    /// Of the cluster, the share the rule finds.
    pub recall: f64,
    pub members: usize,
}

fn gini(pos: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let p = pos as f64 / n as f64;
    2.0 * p * (1.0 - p)
}

/// Round a threshold so a rule reads well: whole numbers for counts and
/// days, at most two decimals otherwise.
fn readable(t: f64, integral: bool) -> f64 {
    if integral {
        t.ceil()
    } else {
        (t * 100.0).round() / 100.0
    }
}

struct Grower<'a> {
    x: &'a [Vec<f64>],
    y: &'a [bool],
    integral: &'a [bool],
    min_leaf: usize,
    /// Leaves that say "in the cluster": path, positives, size.
    leaves: Vec<(Vec<Step>, usize, usize)>,
}

impl Grower<'_> {
    fn grow(&mut self, rows: Vec<usize>, path: Vec<Step>, depth: usize) {
        let pos = rows.iter().filter(|&&r| self.y[r]).count();
        let n = rows.len();
        if depth == 3 || pos == 0 || pos == n || n < 2 * self.min_leaf {
            if pos * 2 > n {
                self.leaves.push((path, pos, n));
            }
            return;
        }
        let mut best: Option<(f64, usize, f64)> = None;
        for (f, col) in self.x.iter().enumerate() {
            // A customer without a value (no order yet) meets neither
            // side of a threshold: split on it only where all have one.
            let mut vals: Vec<f64> = rows.iter().map(|&r| col[r]).collect();
            if vals.is_empty() || vals.iter().any(|v| !v.is_finite()) {
                continue;
            }
            vals.sort_by(f64::total_cmp);
            for c in 1..CUTS {
                let t = readable(vals[vals.len() * c / CUTS], self.integral[f]);
                let (mut ln, mut lp, mut rn, mut rp) = (0, 0, 0, 0);
                for &r in &rows {
                    let v = col[r];
                    if v < t {
                        ln += 1;
                        lp += self.y[r] as usize;
                    } else if v >= t {
                        rn += 1;
                        rp += self.y[r] as usize;
                    }
                }
                if ln < self.min_leaf || rn < self.min_leaf {
                    continue;
                }
                let impurity = (ln as f64 * gini(lp, ln) + rn as f64 * gini(rp, rn)) / n as f64;
                if best.is_none_or(|b| impurity < b.0 - 1e-12) {
                    best = Some((impurity, f, t));
                }
            }
        }
        let Some((impurity, f, t)) = best else {
            if pos * 2 > n {
                self.leaves.push((path, pos, n));
            }
            return;
        };
        if impurity >= gini(pos, n) - 1e-9 {
            if pos * 2 > n {
                self.leaves.push((path, pos, n));
            }
            return;
        }
        let col = &self.x[f];
        let left: Vec<usize> = rows.iter().copied().filter(|&r| col[r] < t).collect();
        let right: Vec<usize> = rows.iter().copied().filter(|&r| col[r] >= t).collect();
        let mut lp = path.clone();
        lp.push((f, true, t));
        let mut rp = path;
        rp.push((f, false, t));
        self.grow(left, lp, depth + 1);
        self.grow(right, rp, depth + 1);
    }
}

/// Merges steps on the same feature and side into the tightest one.
fn simplify(path: &[Step]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for &(f, below, t) in path {
        match out.iter_mut().find(|s| s.0 == f && s.1 == below) {
            Some(s) => s.2 = if below { s.2.min(t) } else { s.2.max(t) },
            None => out.push((f, below, t)),
        }
    }
    out
}

fn words(f: &Feature, below: bool, t: f64) -> String {
    let n = crate::model::text::fmt_num(t);
    match (f, below) {
        (Feature::Tenure, true) => format!("signed up within the last {n} days"),
        (Feature::Tenure, false) => format!("signed up more than {n} days ago"),
        (Feature::Category(c), true) => format!("orders in {c} below {n}"),
        (Feature::Category(c), false) => format!("orders in {c} at least {n}"),
        (f, true) => format!("{} below {n}", f.label().to_lowercase()),
        (f, false) => format!("{} at least {n}", f.label().to_lowercase()),
    }
}

/// A readable rule for cluster `cluster` (0-based) of `c`, counted by the
/// engine against the cluster.
pub fn cluster_rule(
    engine: &Engine,
    store: &Store,
    c: &Clusters,
    cluster: usize,
    progress: &dyn Progress,
) -> Result<ClusterRule, String> {
    if cluster >= c.clusters.len() {
        return Err(format!(
            "no cluster {} (there are {})",
            cluster + 1,
            c.clusters.len()
        ));
    }
    let n = engine.len();
    progress.report(0.1, "growing a tree");
    let x: Vec<Vec<f64>> = c
        .features
        .iter()
        .map(|f| values(engine, f, c.as_of))
        .collect();
    let integral: Vec<bool> = x
        .iter()
        .map(|col| {
            col.iter()
                .filter(|v| v.is_finite())
                .all(|v| v.fract() == 0.0)
        })
        .collect();
    let y: Vec<bool> = c.labels.iter().map(|&l| l as usize == cluster).collect();
    // A sample with every member of small clusters and enough of the rest.
    let mut rng = Rng::new(c.seed ^ 0x7265_6531);
    let positives = y.iter().filter(|&&p| p).count();
    let keep_pos = (TREE_SAMPLE as f64 / 2.0 / positives.max(1) as f64).min(1.0);
    let keep_neg = (TREE_SAMPLE as f64 / 2.0 / (n - positives).max(1) as f64).min(1.0);
    let rows: Vec<usize> = (0..n)
        .filter(|&i| rng.chance(if y[i] { keep_pos } else { keep_neg }))
        .collect();
    let mut g = Grower {
        x: &x,
        y: &y,
        integral: &integral,
        min_leaf: (rows.len() / 100).max(5),
        leaves: Vec::new(),
    };
    g.grow(rows, Vec::new(), 0);
    // The leaf that finds most of the cluster while staying mostly in it
    // (weights undo the sampling).
    let best = g
        .leaves
        .iter()
        .map(|(path, pos, size)| {
            let tp = *pos as f64 / keep_pos;
            let fp = (*size - *pos) as f64 / keep_neg;
            let precision = tp / (tp + fp).max(1.0);
            let recall = tp / positives.max(1) as f64;
            let f1 = 2.0 * precision * recall / (precision + recall).max(1e-12);
            (f1, simplify(path))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, p)| p)
        .ok_or("no rule of three conditions separates this cluster")?;
    let children: Vec<Json> = best
        .iter()
        .map(|&(f, below, t)| c.features[f].condition(below, t, &engine.data.purchase_event))
        .collect();
    let text = best
        .iter()
        .map(|&(f, below, t)| words(&c.features[f], below, t))
        .collect::<Vec<_>>()
        .join(" and ");
    let rule =
        json!({"version": 1, "root": {"type": "group", "match": "all", "children": children}});
    progress.report(0.7, "counting the rule");
    let schema = schema_of(store).map_err(|e| e.to_string())?;
    let node = parse_rule(&rule.to_string())
        .and_then(|r| resolve(&r, &schema))
        .map_err(|e| e.to_string())?;
    let ev = engine
        .evaluate(&node, c.as_of, progress)
        .map_err(|e| e.to_string())?;
    let members = ev.members.count();
    let hits = ev.members.iter().filter(|&i| y[i]).count();
    Ok(ClusterRule {
        rule,
        text,
        precision: hits as f64 / members.max(1) as f64,
        recall: hits as f64 / positives.max(1) as f64,
        members,
    })
}
