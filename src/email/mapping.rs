//! The content map: each segment → one template, or A/B variants with
//! their split. A customer in several mapped segments gets the message of
//! the highest-priority one; the variant is a hash of customer and
//! segment, so it is stable across runs and machines.

use crate::engine::Bitset;
use crate::model::{MapEntry, SegmentRecord, Template};

use super::EmailError;

/// One mapped segment and its variants.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub segment_id: i64,
    pub segment: String,
    /// (variant name, template id, weight), by variant name.
    pub variants: Vec<(String, i64, u32)>,
}

/// The mapped segments in priority order.
pub fn routes(map: &[MapEntry], segments: &[SegmentRecord]) -> Vec<Route> {
    let mut segs: Vec<&SegmentRecord> = segments.iter().collect();
    segs.sort_by_key(|s| (s.priority, s.id));
    segs.into_iter()
        .filter_map(|s| {
            let mut variants: Vec<(String, i64, u32)> = map
                .iter()
                .filter(|e| e.segment_id == s.id)
                .map(|e| (e.variant.clone(), e.template_id, e.weight))
                .collect();
            variants.sort();
            (!variants.is_empty()).then(|| Route {
                segment_id: s.id,
                segment: s.name.clone(),
                variants,
            })
        })
        .collect()
}

/// Checks one segment's variants before they are stored.
pub fn validate(entries: &[MapEntry], templates: &[Template]) -> Result<(), EmailError> {
    let mut names: Vec<&str> = Vec::new();
    for e in entries {
        let v = e.variant.trim();
        if v.is_empty() || v.len() > 40 || v.contains(['\n', '\r', ',']) {
            return Err(EmailError::Invalid(format!(
                "variant name {:?}: use a short name such as A or B",
                e.variant
            )));
        }
        if names.contains(&v) {
            return Err(EmailError::Invalid(format!("variant {v:?} appears twice")));
        }
        names.push(v);
        if e.weight > 10_000 {
            return Err(EmailError::Invalid(format!(
                "variant {v:?}: weight {} is more than 10000",
                e.weight
            )));
        }
        if !templates.iter().any(|t| t.id == e.template_id) {
            return Err(EmailError::Invalid(format!(
                "variant {v:?}: no template with id {}",
                e.template_id
            )));
        }
    }
    if !entries.is_empty() && entries.iter().all(|e| e.weight == 0) {
        return Err(EmailError::Invalid(
            "every variant has weight 0: give at least one a share".into(),
        ));
    }
    Ok(())
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: a fixed function, so assignments never move.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The variant (index into `weights`) a customer gets in a segment.
pub fn variant_for(customer_id: i64, segment_id: i64, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 || weights.len() < 2 {
        return 0;
    }
    let h = mix(mix(customer_id as u64) ^ (segment_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut x = h % total;
    for (k, &w) in weights.iter().enumerate() {
        if x < u64::from(w) {
            return k;
        }
        x -= u64::from(w);
    }
    weights.len() - 1
}

/// Who gets what: one entry per customer in any mapped segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Engine row.
    pub row: usize,
    /// Index into the routes.
    pub route: usize,
    /// Index into the route's variants.
    pub variant: usize,
}

/// Assigns every member of a mapped segment (`sets[k]` is route `k`'s
/// member set) to its highest-priority route and a variant. `ids` are
/// the engine rows' customer ids.
pub fn assign(routes: &[Route], sets: &[&Bitset], ids: &[i64]) -> Vec<Assignment> {
    let mut taken = vec![false; ids.len()];
    let mut out = Vec::new();
    for (k, (route, set)) in routes.iter().zip(sets).enumerate() {
        let weights: Vec<u32> = route.variants.iter().map(|v| v.2).collect();
        for row in set.iter() {
            if row >= taken.len() || taken[row] {
                continue;
            }
            taken[row] = true;
            out.push(Assignment {
                row,
                route: k,
                variant: variant_for(ids[row], route.segment_id, &weights),
            });
        }
    }
    out.sort_by_key(|a| (a.route, a.row));
    out
}
