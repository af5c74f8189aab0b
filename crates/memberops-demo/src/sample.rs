//! The few distributions the simulation needs, written out so that the output depends on
//! nothing but the ChaCha stream (no float-formatting or library-version surprises).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

pub type DemoRng = ChaCha8Rng;

/// Uniform in (0, 1]: safe to take the logarithm of.
fn open01(rng: &mut DemoRng) -> f64 {
    1.0 - rng.random::<f64>()
}

/// `true` with probability `p` (clamped to 0..=1).
pub fn chance(rng: &mut DemoRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform in `lo..hi` (returns `lo` when the range is empty).
pub fn uniform(rng: &mut DemoRng, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        lo
    } else {
        lo + (hi - lo) * rng.random::<f64>()
    }
}

/// Integer uniform in `lo..=hi` (returns `lo` when the range is empty).
pub fn int(rng: &mut DemoRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// Exponential with the given mean.
pub fn exponential(rng: &mut DemoRng, mean: f64) -> f64 {
    -mean * open01(rng).ln()
}

/// Standard normal (Box–Muller).
pub fn normal(rng: &mut DemoRng) -> f64 {
    let u1 = open01(rng);
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and log-scale spread.
pub fn lognormal(rng: &mut DemoRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Pareto with scale `xm` and shape `alpha`: most values near `xm`, a heavy tail above.
pub fn pareto(rng: &mut DemoRng, xm: f64, alpha: f64) -> f64 {
    xm * open01(rng).powf(-1.0 / alpha)
}

/// An index into `weights`, drawn in proportion to them (0 for an empty slice).
pub fn weighted_index(rng: &mut DemoRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// Picks one item of a non-empty table by weight.
pub fn weighted<'a, T>(rng: &mut DemoRng, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.random::<f64>() * total;
    for item in items {
        let w = weight(item);
        if x < w {
            return item;
        }
        x -= w;
    }
    &items[items.len() - 1]
}

/// Picks one item of a non-empty table uniformly.
pub fn one_of<'a, T>(rng: &mut DemoRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}
