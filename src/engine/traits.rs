//! Computed traits: RFM (recency, frequency, monetary, their 1–5 scores and
//! the usual segment labels) and an engagement score, as of a given time.
//!
//! Definitions (the SQL compiler writes the same ones):
//! - Buyers are customers with at least one purchase (the workspace's
//!   purchase event, `order` unless it names another) before `as_of`.
//! - Recency = whole days since the last order, `(as_of − last) / 86400`.
//! - Frequency = number of orders; monetary = sum of their values.
//! - A score is `ceil(5·k / n)` over the `n` buyers, where `k` counts buyers
//!   at most as good (recency: at least as many days; frequency, monetary:
//!   at most as much). Ties share a score. Non-buyers have no scores.
//! - The RFM segment comes from the recency and frequency scores (the
//!   classic grid); non-buyers are "No orders".
//! - Engagement = min(100, 5·opens + 10·clicks in the last 90 days
//!   + 2·page views + 3·product views in the last 30 days).

use std::sync::Arc;

use super::eval::{Engine, KbnSum};
use super::resolve::RFM_SEGMENTS;
use super::rule::TraitKind;
use crate::model::time::DAY;

/// Engagement inputs: (event, window days, points).
pub const ENGAGEMENT: [(&str, i64, i64); 4] = [
    ("email_open", 90, 5),
    ("email_click", 90, 10),
    ("page_view", 30, 2),
    ("product_view", 30, 3),
];

pub struct Traits {
    /// NaN for non-buyers.
    pub recency: Arc<Vec<f64>>,
    pub frequency: Arc<Vec<f64>>,
    pub monetary: Arc<Vec<f64>>,
    /// NaN for non-buyers.
    pub r: Arc<Vec<f64>>,
    pub f: Arc<Vec<f64>>,
    pub m: Arc<Vec<f64>>,
    /// Index into [`RFM_SEGMENTS`].
    pub segment: Arc<Vec<u8>>,
    pub engagement: Arc<Vec<f64>>,
}

/// The RFM segment of a recency and a frequency score (1–5 each).
pub fn rfm_segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (5, 4..=5) => "Champions",
        (3..=4, 4..=5) => "Loyal",
        (4..=5, 2..=3) => "Potential loyalists",
        (5, 1) => "New customers",
        (4, 1) => "Promising",
        (3, 3) => "Need attention",
        (3, _) => "About to sleep",
        (1..=2, 5) => "Can't lose them",
        (1..=2, 3..=4) => "At risk",
        (2, _) => "Hibernating",
        (1, _) => "Lost",
        _ => "No orders",
    }
}

/// `ceil(5k / n)` in integers.
fn score(k: usize, n: usize) -> f64 {
    (5 * k).div_ceil(n) as f64
}

impl Traits {
    pub fn compute(engine: &Engine, as_of: i64) -> Traits {
        let data = &engine.data;
        let n = data.len();
        let mut recency = vec![f64::NAN; n];
        let mut frequency = vec![0.0; n];
        let mut monetary = vec![0.0; n];
        if let Some(orders) = data.events.get(&data.purchase_event) {
            for i in 0..n {
                let w = orders.window(i, i64::MIN, as_of);
                if w.is_empty() {
                    continue;
                }
                let last = orders.time(w.end - 1);
                recency[i] = ((as_of - last) / DAY) as f64;
                frequency[i] = w.len() as f64;
                let mut s = KbnSum::default();
                let mut any = false;
                for j in w {
                    let v = orders.value(j);
                    if !v.is_nan() {
                        s.add(v);
                        any = true;
                    }
                }
                monetary[i] = if any { s.total() } else { 0.0 };
            }
        }
        let buyers: Vec<usize> = (0..n).filter(|&i| !recency[i].is_nan()).collect();
        let nb = buyers.len();
        let mut r = vec![f64::NAN; n];
        let mut f = vec![f64::NAN; n];
        let mut m = vec![f64::NAN; n];
        if nb > 0 {
            let sorted = |vals: &[f64]| {
                let mut v: Vec<f64> = buyers.iter().map(|&i| vals[i]).collect();
                v.sort_by(|a, b| a.total_cmp(b));
                v
            };
            let rs = sorted(&recency);
            let fs = sorted(&frequency);
            let ms = sorted(&monetary);
            for &i in &buyers {
                // Recency: k = buyers with at least as many days since ordering.
                let k = nb - rs.partition_point(|&x| x < recency[i]);
                r[i] = score(k, nb);
                f[i] = score(fs.partition_point(|&x| x <= frequency[i]), nb);
                m[i] = score(ms.partition_point(|&x| x <= monetary[i]), nb);
            }
        }
        let segment: Vec<u8> = (0..n)
            .map(|i| {
                let name = if r[i].is_nan() {
                    "No orders"
                } else {
                    rfm_segment(r[i] as u8, f[i] as u8)
                };
                RFM_SEGMENTS
                    .iter()
                    .position(|s| *s == name)
                    .unwrap_or(RFM_SEGMENTS.len() - 1) as u8
            })
            .collect();
        let mut engagement = vec![0.0; n];
        for (event, days, points) in ENGAGEMENT {
            if let Some(cols) = data.events.get(event) {
                for (i, e) in engagement.iter_mut().enumerate() {
                    *e += (points * cols.window(i, as_of - days * DAY, as_of).len() as i64) as f64;
                }
            }
        }
        for e in &mut engagement {
            *e = e.min(100.0);
        }
        Traits {
            recency: Arc::new(recency),
            frequency: Arc::new(frequency),
            monetary: Arc::new(monetary),
            r: Arc::new(r),
            f: Arc::new(f),
            m: Arc::new(m),
            segment: Arc::new(segment),
            engagement: Arc::new(engagement),
        }
    }

    /// The numeric trait column for `kind`.
    pub fn numeric(&self, kind: TraitKind) -> Arc<Vec<f64>> {
        match kind {
            TraitKind::RfmRecencyDays => self.recency.clone(),
            TraitKind::RfmFrequency => self.frequency.clone(),
            TraitKind::RfmMonetary => self.monetary.clone(),
            TraitKind::RfmRScore => self.r.clone(),
            TraitKind::RfmFScore => self.f.clone(),
            TraitKind::RfmMScore => self.m.clone(),
            _ => self.engagement.clone(),
        }
    }

    /// For each RFM segment index, whether `test` accepts its name.
    pub fn segment_table(test: impl Fn(&str) -> bool) -> Vec<bool> {
        RFM_SEGMENTS.iter().map(|s| test(s)).collect()
    }

    /// Display value of a trait for customer `i`.
    pub fn display(&self, kind: TraitKind, i: usize) -> Option<String> {
        if kind == TraitKind::RfmSegment {
            return Some(RFM_SEGMENTS[self.segment[i] as usize].to_string());
        }
        let v = self.numeric(kind)[i];
        (!v.is_nan()).then(|| super::resolve::fmt_num(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_names_every_score_pair() {
        assert_eq!(rfm_segment(5, 5), "Champions");
        assert_eq!(rfm_segment(4, 4), "Loyal");
        assert_eq!(rfm_segment(1, 5), "Can't lose them");
        assert_eq!(rfm_segment(2, 3), "At risk");
        assert_eq!(rfm_segment(2, 1), "Hibernating");
        assert_eq!(rfm_segment(1, 1), "Lost");
        assert_eq!(rfm_segment(5, 1), "New customers");
        for r in 1..=5 {
            for f in 1..=5 {
                assert_ne!(rfm_segment(r, f), "No orders");
            }
        }
        assert_eq!(score(1, 10), 1.0);
        assert_eq!(score(10, 10), 5.0);
        assert_eq!(score(3, 10), 2.0);
    }
}
