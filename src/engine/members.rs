//! Members of a set: sorted and paged, a seeded random sample, overlaps
//! between segments and exclusive assignment by priority.

use std::cmp::Ordering;

use super::bitset::Bitset;
use super::data::{Column, NO_TIME};
use super::eval::Engine;
use crate::model::rng::Rng;

/// How to order members.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SortBy {
    /// A customer field, or `id`.
    pub field: String,
    pub descending: bool,
}

impl Engine {
    /// Members' indexes ordered by `sort` (ties by id); by id if `None` or
    /// the field is unknown. Values that are missing sort last.
    pub fn sorted_members(&self, set: &Bitset, sort: Option<&SortBy>) -> Vec<u32> {
        let mut idx: Vec<u32> = set.iter().map(|i| i as u32).collect();
        let Some(sort) = sort else { return idx };
        let Some((_, col)) = self.data.column(&sort.field) else {
            if sort.field == "id" && sort.descending {
                idx.reverse();
            }
            return idx;
        };
        let dir = |o: Ordering| if sort.descending { o.reverse() } else { o };
        match col {
            Column::Text { codes, dict } => {
                // Rank the dictionary once, then sort by rank.
                let mut order: Vec<u32> = (1..=dict.len() as u32).collect();
                order.sort_by(|a, b| {
                    let (a, b) = (dict.get(*a).unwrap_or(""), dict.get(*b).unwrap_or(""));
                    a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b))
                });
                let mut rank = vec![0u32; dict.len() + 1];
                for (r, code) in order.iter().enumerate() {
                    rank[*code as usize] = r as u32;
                }
                idx.sort_by(|&a, &b| {
                    let (ca, cb) = (codes[a as usize], codes[b as usize]);
                    match (ca, cb) {
                        (0, 0) => a.cmp(&b),
                        (0, _) => Ordering::Greater,
                        (_, 0) => Ordering::Less,
                        _ => dir(rank[ca as usize].cmp(&rank[cb as usize])).then(a.cmp(&b)),
                    }
                });
            }
            Column::Num(v) => idx.sort_by(|&a, &b| {
                let (x, y) = (v[a as usize], v[b as usize]);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => a.cmp(&b),
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => dir(x.total_cmp(&y)).then(a.cmp(&b)),
                }
            }),
            Column::Time(v) => idx.sort_by(|&a, &b| {
                let (x, y) = (v[a as usize], v[b as usize]);
                match (x == NO_TIME, y == NO_TIME) {
                    (true, true) => a.cmp(&b),
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => dir(x.cmp(&y)).then(a.cmp(&b)),
                }
            }),
            Column::Bool(v) => idx.sort_by(|&a, &b| {
                let (x, y) = (v[a as usize], v[b as usize]);
                match (x == 2, y == 2) {
                    (true, true) => a.cmp(&b),
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => dir(x.cmp(&y)).then(a.cmp(&b)),
                }
            }),
        }
        idx
    }

    /// `n` members drawn at random with `seed` (the same seed, the same
    /// sample), in id order.
    pub fn sample_members(&self, set: &Bitset, n: usize, seed: u64) -> Vec<usize> {
        let mut all: Vec<usize> = set.iter().collect();
        let n = n.min(all.len());
        let mut rng = Rng::new(seed);
        for k in 0..n {
            let j = k + rng.index(all.len() - k);
            all.swap(k, j);
        }
        all.truncate(n);
        all.sort_unstable();
        all
    }

    /// Workspace customer id of index `i`.
    pub fn id_of(&self, i: usize) -> i64 {
        self.data.ids[i]
    }
}

/// Pairwise overlaps: `m[a][b]` = customers in both `a` and `b`.
pub fn overlap_matrix(sets: &[&Bitset]) -> Vec<Vec<usize>> {
    sets.iter()
        .map(|a| sets.iter().map(|b| a.count_and(b)).collect())
        .collect()
}

/// Each customer counted in the first set (by priority order) they are in:
/// the exclusive count of each set.
pub fn exclusive_counts(sets_by_priority: &[&Bitset]) -> Vec<usize> {
    let Some(first) = sets_by_priority.first() else {
        return Vec::new();
    };
    let mut taken = Bitset::empty(first.len());
    sets_by_priority
        .iter()
        .map(|s| {
            let mut mine = (*s).clone();
            mine.and_not_with(&taken);
            taken.or_with(s);
            mine.count()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_exclusive_counts() {
        let a = Bitset::from_fn(10, |i| i < 6);
        let b = Bitset::from_fn(10, |i| i >= 4);
        let m = overlap_matrix(&[&a, &b]);
        assert_eq!(m, vec![vec![6, 2], vec![2, 6]]);
        assert_eq!(exclusive_counts(&[&a, &b]), vec![6, 4]);
        assert_eq!(exclusive_counts(&[&b, &a]), vec![6, 4]);
    }
}
