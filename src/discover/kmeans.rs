//! K-means (k-means++ seeding, Lloyd's iterations), the silhouette score
//! and the adjusted Rand index: small, exact and deterministic with a seed.
//! Points are rows of a row-major `n × d` array of `f64`.

use crate::model::rng::Rng;
use crate::progress::{Cancelled, Progress};

/// A fitted k-means: centroids (row-major `k × d`) and each point's
/// cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeans {
    pub k: usize,
    pub d: usize,
    pub centroids: Vec<f64>,
    pub labels: Vec<u8>,
    /// Sum of squared distances to the nearest centroid.
    pub inertia: f64,
    pub iterations: usize,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centroid of `p` and its squared distance.
fn nearest(p: &[f64], centroids: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centroids.chunks_exact(d).enumerate() {
        let e = dist2(p, centre);
        if e < best.1 {
            best = (c, e);
        }
    }
    best
}

/// Labels every point with its nearest centroid, on two threads; the
/// inertia.
fn assign(points: &[f64], d: usize, centroids: &[f64], labels: &mut [u8]) -> f64 {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let n = labels.len();
    if threads <= 1 || n < 20_000 {
        let mut inertia = 0.0;
        for (i, l) in labels.iter_mut().enumerate() {
            let (c, e) = nearest(&points[i * d..(i + 1) * d], centroids, d);
            *l = c as u8;
            inertia += e;
        }
        return inertia;
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = labels
            .chunks_mut(chunk)
            .enumerate()
            .map(|(t, part)| {
                s.spawn(move || {
                    let mut inertia = 0.0;
                    for (j, l) in part.iter_mut().enumerate() {
                        let i = t * chunk + j;
                        let (c, e) = nearest(&points[i * d..(i + 1) * d], centroids, d);
                        *l = c as u8;
                        inertia += e;
                    }
                    inertia
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// k-means++ seeding: the first centre at random, each next one drawn
/// with probability proportional to the squared distance to the nearest
/// centre so far (over at most `sample` points).
fn seed_centres(points: &[f64], d: usize, k: usize, rng: &mut Rng) -> Vec<f64> {
    let n = points.len() / d;
    let step = (n / 20_000).max(1);
    let rows: Vec<usize> = (0..n).step_by(step).collect();
    let mut centres = Vec::with_capacity(k * d);
    let first = rows[rng.index(rows.len())];
    centres.extend_from_slice(&points[first * d..(first + 1) * d]);
    let mut best: Vec<f64> = rows
        .iter()
        .map(|&i| dist2(&points[i * d..(i + 1) * d], &centres[..d]))
        .collect();
    while centres.len() < k * d {
        let total: f64 = best.iter().sum();
        let pick = if total > 0.0 {
            let mut r = rng.f64() * total;
            let mut chosen = rows.len() - 1;
            for (j, b) in best.iter().enumerate() {
                if r < *b {
                    chosen = j;
                    break;
                }
                r -= b;
            }
            chosen
        } else {
            rng.index(rows.len())
        };
        let i = rows[pick];
        let start = centres.len();
        centres.extend_from_slice(&points[i * d..(i + 1) * d]);
        for (j, &row) in rows.iter().enumerate() {
            let e = dist2(&points[row * d..(row + 1) * d], &centres[start..start + d]);
            if e < best[j] {
                best[j] = e;
            }
        }
    }
    centres
}

/// Fits k-means with `k` clusters (`k` ≤ 255) to `n × d` points.
pub fn fit(
    points: &[f64],
    d: usize,
    k: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<KMeans, Cancelled> {
    let n = points.len() / d.max(1);
    let k = k.clamp(1, n.clamp(1, 255));
    let mut rng = Rng::new(seed);
    let mut centroids = seed_centres(points, d, k, &mut rng);
    let mut labels = vec![0u8; n];
    let mut inertia = assign(points, d, &centroids, &mut labels);
    let mut iterations = 0;
    for it in 0..100 {
        if progress.is_cancelled() {
            return Err(Cancelled);
        }
        iterations = it + 1;
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            let l = l as usize;
            counts[l] += 1;
            for (s, x) in sums[l * d..(l + 1) * d]
                .iter_mut()
                .zip(&points[i * d..(i + 1) * d])
            {
                *s += x;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                for j in 0..d {
                    centroids[c * d + j] = sums[c * d + j] / counts[c] as f64;
                }
            } else {
                // An empty cluster takes the point farthest from its centre.
                let far = (0..n)
                    .max_by(|&a, &b| {
                        let da = dist2(
                            &points[a * d..(a + 1) * d],
                            &centroids[labels[a] as usize * d..(labels[a] as usize + 1) * d],
                        );
                        let db = dist2(
                            &points[b * d..(b + 1) * d],
                            &centroids[labels[b] as usize * d..(labels[b] as usize + 1) * d],
                        );
                        da.total_cmp(&db)
                    })
                    .unwrap_or(0);
                centroids[c * d..(c + 1) * d].copy_from_slice(&points[far * d..(far + 1) * d]);
            }
        }
        let before = labels.clone();
        let next = assign(points, d, &centroids, &mut labels);
        let changed = before.iter().zip(&labels).filter(|(a, b)| a != b).count();
        inertia = next;
        if changed == 0 || (changed as f64) < n as f64 * 1e-4 {
            break;
        }
    }
    Ok(KMeans {
        k,
        d,
        centroids,
        labels,
        inertia,
        iterations,
    })
}

/// The mean silhouette of `labels` over `n × d` points: for each point,
/// `(b - a) / max(a, b)` with `a` its mean distance to its own cluster and
/// `b` the least mean distance to another; a point alone in its cluster
/// scores 0. Quadratic: give it a sample.
pub fn silhouette(points: &[f64], d: usize, labels: &[u8]) -> f64 {
    let n = labels.len();
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    if n < 2 || k < 2 {
        return 0.0;
    }
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l as usize] += 1;
    }
    let mut total = 0.0;
    let mut sums = vec![0.0; k];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        let p = &points[i * d..(i + 1) * d];
        for j in 0..n {
            if i != j {
                sums[labels[j] as usize] += dist2(p, &points[j * d..(j + 1) * d]).sqrt();
            }
        }
        let own = labels[i] as usize;
        if sizes[own] <= 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

/// The adjusted Rand index of two labelings: 1 = the same partition, about
/// 0 = as alike as chance.
pub fn adjusted_rand_index(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len();
    let ka = a.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let kb = b.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut table = vec![0u64; ka * kb];
    for (x, y) in a.iter().zip(b) {
        table[*x as usize * kb + *y as usize] += 1;
    }
    let c2 = |x: u64| (x * x.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.iter().map(|&x| c2(x)).sum();
    let rows: f64 = (0..ka)
        .map(|i| c2(table[i * kb..(i + 1) * kb].iter().sum()))
        .sum();
    let cols: f64 = (0..kb)
        .map(|j| c2((0..ka).map(|i| table[i * kb + j]).sum()))
        .sum();
    let expected = rows * cols / c2(n as u64).max(1.0);
    let max = (rows + cols) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn silhouette_matches_a_hand_computation() {
        // 1-D points 0, 1 | 5, 7.
        // p0: a = 1, b = (5 + 7) / 2 = 6  → 5/6
        // p1: a = 1, b = (4 + 6) / 2 = 5  → 4/5
        // p5: a = 2, b = (5 + 4) / 2 = 4.5 → 2.5/4.5
        // p7: a = 2, b = (7 + 6) / 2 = 6.5 → 4.5/6.5
        let points = [0.0, 1.0, 5.0, 7.0];
        let want = (5.0 / 6.0 + 4.0 / 5.0 + 2.5 / 4.5 + 4.5 / 6.5) / 4.0;
        let got = silhouette(&points, 1, &[0, 0, 1, 1]);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // A point alone in its cluster scores 0.
        let got = silhouette(&[0.0, 1.0, 9.0], 1, &[0, 0, 1]);
        let want = ((9.0 - 1.0) / 9.0 + (8.0 - 1.0) / 8.0) / 3.0;
        assert!((got - want).abs() < 1e-12);
    }

    #[test]
    fn adjusted_rand_index_of_known_partitions() {
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        // sklearn: adjusted_rand_score([0,0,1,1], [0,0,1,2]) = 0.5714…
        let got = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((got - 4.0 / 7.0).abs() < 1e-12, "{got}");
    }

    #[test]
    fn kmeans_finds_well_separated_blobs_and_is_deterministic() {
        let mut rng = Rng::new(3);
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for (c, (x, y)) in centres.iter().enumerate() {
            for _ in 0..300 {
                points.push(x + rng.normal());
                points.push(y + rng.normal());
                truth.push(c as u8);
            }
        }
        let a = fit(&points, 2, 3, 7, &NoProgress).unwrap();
        let b = fit(&points, 2, 3, 7, &NoProgress).unwrap();
        assert_eq!(a, b);
        assert!(adjusted_rand_index(&a.labels, &truth) > 0.99);
    }
}
