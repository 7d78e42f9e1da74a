//! The statistics behind the Performance screen, each the textbook method:
//! Wilson score intervals for rates, Newcombe's hybrid score interval for a
//! difference of rates, the log-ratio (Katz) interval for a ratio, a seeded
//! bootstrap for means of mostly-zero, heavy-tailed values (revenue per
//! recipient), two-sided p-values, and Benjamini–Hochberg adjustment.
//! Every function answers `None` where the data cannot say (an empty
//! group, a zero count under a logarithm): never a NaN.

use crate::model::rng::Rng;

/// The normal quantile of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A value with a 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// The rate `k / n` with its Wilson score interval.
pub fn wilson(k: u64, n: u64) -> Option<Estimate> {
    if n == 0 || k > n {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// The difference of two rates `k1/n1 − k2/n2` with Newcombe's hybrid
/// score interval (his method 10, built from the two Wilson intervals).
pub fn newcombe(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<Estimate> {
    let a = wilson(k1, n1)?;
    let b = wilson(k2, n2)?;
    let d = a.value - b.value;
    Some(Estimate {
        value: d,
        low: d - ((a.value - a.low).powi(2) + (b.high - b.value).powi(2)).sqrt(),
        high: d + ((a.high - a.value).powi(2) + (b.value - b.low).powi(2)).sqrt(),
    })
}

/// Relative lift `(k1/n1) / (k2/n2) − 1` with the log-ratio (Katz)
/// interval; `None` when either count is zero (the logarithm has no
/// interval there).
pub fn relative_lift(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<Estimate> {
    if k1 == 0 || k2 == 0 || n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 {
        return None;
    }
    let (k1, n1, k2, n2) = (k1 as f64, n1 as f64, k2 as f64, n2 as f64);
    let ratio = (k1 / n1) / (k2 / n2);
    let se = (1.0 / k1 - 1.0 / n1 + 1.0 / k2 - 1.0 / n2).max(0.0).sqrt();
    Some(Estimate {
        value: ratio - 1.0,
        low: (ratio.ln() - Z95 * se).exp() - 1.0,
        high: (ratio.ln() + Z95 * se).exp() - 1.0,
    })
}

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function, to about 1e-7 relative error
/// (Numerical Recipes' Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p-value of the difference of two rates (pooled z-test).
pub fn two_proportion_p(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (k1, n1, k2, n2) = (k1 as f64, n1 as f64, k2 as f64, n2 as f64);
    let pooled = (k1 + k2) / (n1 + n2);
    let var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if var <= 0.0 {
        // Both rates 0 or both 1: no evidence of a difference.
        return Some(1.0);
    }
    let z = (k1 / n1 - k2 / n2) / var.sqrt();
    Some((2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0))
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let v = (p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        running = running.min(v);
        q[i] = running;
    }
    q
}

/// Values of `n` recipients, most of them zero: the non-zero ones listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sparse {
    pub n: u64,
    pub nonzero: Vec<f64>,
}

impl Sparse {
    pub fn mean(&self) -> Option<f64> {
        // `+ 0.0`: the sum of nothing is -0.0, which would print as "-0.00".
        (self.n > 0).then(|| (self.nonzero.iter().sum::<f64>() + 0.0) / self.n as f64)
    }

    /// The sample variance of all `n` values.
    fn variance(&self) -> f64 {
        let Some(m) = self.mean() else { return 0.0 };
        if self.n < 2 {
            return 0.0;
        }
        let zeros = (self.n - self.nonzero.len() as u64) as f64;
        let ss: f64 = self.nonzero.iter().map(|v| (v - m) * (v - m)).sum::<f64>() + zeros * m * m;
        ss / (self.n - 1) as f64
    }

    /// One bootstrap replicate of the mean: `n` draws with replacement.
    /// How many land on non-zero values is binomial; it is drawn by
    /// skipping geometrically from hit to hit (exact, and as fast as the
    /// number of hits), then which values they are, uniformly.
    fn replicate(&self, rng: &mut Rng) -> f64 {
        let nz = self.nonzero.len();
        if nz == 0 || self.n == 0 {
            return 0.0;
        }
        let p = nz as f64 / self.n as f64;
        let mut sum = 0.0;
        if p >= 1.0 {
            for _ in 0..self.n {
                sum += self.nonzero[rng.index(nz)];
            }
            return sum / self.n as f64;
        }
        let log_q = (1.0 - p).ln();
        let mut pos: f64 = -1.0;
        loop {
            let u = 1.0 - rng.f64(); // in (0, 1]
            pos += 1.0 + (u.ln() / log_q).floor();
            if pos >= self.n as f64 {
                break;
            }
            sum += self.nonzero[rng.index(nz)];
        }
        sum / self.n as f64
    }
}

/// Recipients above which the mean's interval comes from the normal
/// approximation (the central limit theorem holds there) instead of
/// resampling.
pub const BOOTSTRAP_MAX_N: u64 = 50_000;
/// Bootstrap resamples.
pub const BOOTSTRAP_B: usize = 1_000;

/// Draws of the mean's sampling distribution: bootstrap replicates, or
/// normal draws for large groups.
fn mean_draws(x: &Sparse, rng: &mut Rng, b: usize) -> Option<Vec<f64>> {
    let m = x.mean()?;
    if x.n > BOOTSTRAP_MAX_N {
        let se = (x.variance() / x.n as f64).sqrt();
        return Some(
            (0..b)
                .map(|_| {
                    // Box–Muller.
                    let (u1, u2) = (1.0 - rng.f64(), rng.f64());
                    m + se * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                })
                .collect(),
        );
    }
    Some((0..b).map(|_| x.replicate(rng)).collect())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let k = ((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
    sorted[k]
}

/// The difference of two means (a segment's revenue per recipient against
/// the rest's) with a seeded percentile-bootstrap 95 % interval and a
/// two-sided p-value (twice the share of replicates on the other side of
/// zero).
pub fn bootstrap_mean_diff(a: &Sparse, b: &Sparse, seed: u64) -> Option<(Estimate, f64)> {
    let mut rng = Rng::new(seed);
    let da = mean_draws(a, &mut rng, BOOTSTRAP_B)?;
    let db = mean_draws(b, &mut rng, BOOTSTRAP_B)?;
    let mut diffs: Vec<f64> = da.iter().zip(&db).map(|(x, y)| x - y).collect();
    diffs.sort_by(f64::total_cmp);
    let value = a.mean()? - b.mean()?;
    let below = diffs.iter().filter(|&&d| d <= 0.0).count() as f64;
    let above = diffs.iter().filter(|&&d| d >= 0.0).count() as f64;
    let p = (2.0 * below.min(above) / diffs.len() as f64).min(1.0);
    Some((
        Estimate {
            value,
            low: percentile(&diffs, 0.025),
            high: percentile(&diffs, 0.975),
        },
        p,
    ))
}

/// A mean with a seeded percentile-bootstrap 95 % interval.
pub fn bootstrap_mean(a: &Sparse, seed: u64) -> Option<Estimate> {
    let mut rng = Rng::new(seed);
    let mut d = mean_draws(a, &mut rng, BOOTSTRAP_B)?;
    d.sort_by(f64::total_cmp);
    Some(Estimate {
        value: a.mean()?,
        low: percentile(&d, 0.025),
        high: percentile(&d, 0.975),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Newcombe (1998), "Two-sided confidence intervals for the single
    /// proportion", Statistics in Medicine 17: the score (Wilson) interval
    /// of 81/263 is 0.2553 to 0.3662, of 15/148 0.0624 to 0.1605, of 0/20
    /// 0 to 0.1611, of 1/29 0.0061 to 0.1718.
    #[test]
    fn wilson_matches_newcombe_1998() {
        for (k, n, lo, hi) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let e = wilson(k, n).unwrap();
            assert!(
                close(e.low, lo, 5e-5) && close(e.high, hi, 5e-5),
                "{k}/{n}: {e:?}"
            );
        }
        assert!(wilson(1, 0).is_none());
        assert!(wilson(3, 2).is_none());
    }

    /// Newcombe (1998), "Interval estimation for the difference between
    /// independent proportions", Statistics in Medicine 17, method 10:
    /// 56/70 − 48/80 is 0.0524 to 0.3339; 9/10 − 3/10 is 0.1705 to 0.8090.
    #[test]
    fn newcombe_matches_the_published_examples() {
        for (k1, n1, k2, n2, lo, hi) in [
            (56, 70, 48, 80, 0.0524, 0.3339),
            (9, 10, 3, 10, 0.1705, 0.8090),
        ] {
            let e = newcombe(k1, n1, k2, n2).unwrap();
            assert!(close(e.low, lo, 5e-4) && close(e.high, hi, 5e-4), "{e:?}");
        }
    }

    #[test]
    fn relative_lift_is_the_log_ratio_interval() {
        // 56/70 against 48/80: ratio 4/3, se² = 1/56 − 1/70 + 1/48 − 1/80.
        let e = relative_lift(56, 70, 48, 80).unwrap();
        let se = (1.0f64 / 56.0 - 1.0 / 70.0 + 1.0 / 48.0 - 1.0 / 80.0).sqrt();
        let r = 4.0f64 / 3.0;
        assert!(close(e.value, 1.0 / 3.0, 1e-12));
        assert!(close(e.low, (r.ln() - Z95 * se).exp() - 1.0, 1e-12));
        assert!(
            close(e.low, 0.0766, 1e-4) && close(e.high, 0.6512, 1e-4),
            "{e:?}"
        );
        assert!(relative_lift(0, 10, 3, 10).is_none());
    }

    #[test]
    fn p_values_and_benjamini_hochberg() {
        assert!(close(normal_cdf(1.959_964), 0.975, 1e-6));
        assert!(close(normal_cdf(0.0), 0.5, 1e-7));
        // 56/70 v 48/80: pooled z = 2.6502, p = 0.0080.
        assert!(close(
            two_proportion_p(56, 70, 48, 80).unwrap(),
            0.0080,
            1e-4
        ));
        assert_eq!(two_proportion_p(0, 10, 0, 20), Some(1.0));
        // Benjamini & Hochberg (1995)'s worked logic on five p-values.
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005, 0.5]);
        let want = [0.025, 0.05, 0.05, 0.025, 0.5];
        for (a, b) in q.iter().zip(want) {
            assert!(close(*a, b, 1e-12), "{q:?}");
        }
    }

    #[test]
    fn bootstrap_is_seeded_and_covers_the_mean() {
        // 1,000 recipients, 40 of them spent 50 each.
        let a = Sparse {
            n: 1_000,
            nonzero: vec![50.0; 40],
        };
        let e1 = bootstrap_mean(&a, 7).unwrap();
        let e2 = bootstrap_mean(&a, 7).unwrap();
        assert_eq!(e1, e2);
        assert!(close(e1.value, 2.0, 1e-12));
        // The analytic 95 % interval: 2 ± 1.96 · sd/√n.
        let sd = (a.variance() / 1_000.0).sqrt();
        assert!(close(e1.low, 2.0 - Z95 * sd, 0.15), "{e1:?}");
        assert!(close(e1.high, 2.0 + Z95 * sd, 0.15), "{e1:?}");
        let none = Sparse {
            n: 0,
            nonzero: vec![],
        };
        assert!(bootstrap_mean(&none, 1).is_none());
        let (d, p) = bootstrap_mean_diff(
            &a,
            &Sparse {
                n: 1_000,
                nonzero: vec![],
            },
            3,
        )
        .unwrap();
        assert!(d.low > 0.0 && p < 0.01, "{d:?} {p}");
    }
}
