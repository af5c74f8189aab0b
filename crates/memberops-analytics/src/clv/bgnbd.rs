//! The BG/NBD model (Fader, Hardie and Lee 2005, "Counting your customers the easy way"):
//! while alive a customer buys as a Poisson process of rate λ ~ Gamma(r, α), and after each
//! purchase drops out with probability p ~ Beta(a, b). Fitted by maximum likelihood over
//! (frequency, recency, T) with the likelihood of section 7 of the paper, written as
//! `lifetimes`' `BetaGeoFitter` writes it (mean log-likelihood per customer, optional L2
//! penalty on the parameters, default 0).

use std::collections::HashMap;

use super::ClvError;
use super::optimize::bfgs;
use super::special::{digamma, hyp2f1, ln_gamma};

/// Fitted BG/NBD parameters; `alpha` is in the time unit of the data (days here).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Customers with the same history, counted once with their number.
struct Pattern {
    x: u32,
    tx: f64,
    t: f64,
    weight: f64,
}

/// The patterns of one frequency, `patterns[start..end]`.
struct Group {
    x: f64,
    start: usize,
    end: usize,
}

struct Data {
    patterns: Vec<Pattern>,
    groups: Vec<Group>,
    total_weight: f64,
}

impl Data {
    /// Groups (frequency, recency, T) into distinct histories, sorted by frequency; times
    /// multiplied by `scale`.
    fn new(rows: &[(u32, f64, f64)], scale: f64) -> Data {
        let mut counts: HashMap<(u32, u64, u64), f64> = HashMap::new();
        for &(x, tx, t) in rows {
            *counts.entry((x, tx.to_bits(), t.to_bits())).or_insert(0.0) += 1.0;
        }
        let mut patterns: Vec<Pattern> = counts
            .into_iter()
            .map(|((x, tx, t), weight)| Pattern {
                x,
                tx: f64::from_bits(tx) * scale,
                t: f64::from_bits(t) * scale,
                weight,
            })
            .collect();
        patterns.sort_by(|p, q| {
            p.x.cmp(&q.x)
                .then(p.t.total_cmp(&q.t))
                .then(p.tx.total_cmp(&q.tx))
        });
        let mut groups: Vec<Group> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if g.x == f64::from(p.x) => g.end = i + 1,
                _ => groups.push(Group {
                    x: f64::from(p.x),
                    start: i,
                    end: i + 1,
                }),
            }
        }
        let total_weight = patterns.iter().map(|p| p.weight).sum();
        Data {
            patterns,
            groups,
            total_weight,
        }
    }

    /// Mean negative log-likelihood and its gradient in log-parameters.
    fn objective(&self, log_params: &[f64], penalizer: f64) -> (f64, Vec<f64>) {
        let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| log_params[i].exp());
        let (mut ll, mut gr, mut gal, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
        let (dg_r, dg_b, dg_ab) = (digamma(r), digamma(b), digamma(a + b));
        for g in &self.groups {
            let x = g.x;
            let rx = r + x;
            // Terms shared by every customer of this frequency.
            let a1 = ln_gamma(rx) - lg_r + r * ln_alpha;
            let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
            let d_rx = digamma(rx);
            let d_bx = digamma(b + x);
            let d_abx = digamma(a + b + x);
            let bx1 = b + x.max(1.0) - 1.0;
            let ln_bx1 = bx1.ln();
            let (mut s_w, mut s_ll, mut s_r, mut s_al, mut s_w4) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in &self.patterns[g.start..g.end] {
                let ln_at = (alpha + p.t).ln();
                let a3 = -rx * ln_at;
                let (lse, w3, w4, ln_atx) = if g.x > 0.0 {
                    let ln_atx = (alpha + p.tx).ln();
                    let a4 = ln_a - ln_bx1 - rx * ln_atx;
                    let m = a3.max(a4);
                    let e3 = (a3 - m).exp();
                    let e4 = (a4 - m).exp();
                    let sum = e3 + e4;
                    (m + sum.ln(), e3 / sum, e4 / sum, ln_atx)
                } else {
                    (a3, 1.0, 0.0, 0.0)
                };
                let w = p.weight;
                s_w += w;
                s_ll += w * lse;
                // ∂/∂r and ∂/∂α of the log-sum-exp term.
                s_r += w * (-w3 * ln_at - w4 * ln_atx);
                s_al += w * (-rx * (w3 / (alpha + p.t) + w4 / (alpha + p.tx)));
                s_w4 += w * w4;
            }
            ll += s_w * (a1 + a2) + s_ll;
            gr += s_w * (d_rx - dg_r + ln_alpha) + s_r;
            gal += s_w * r / alpha + s_al;
            ga += s_w * (dg_ab - d_abx) + s_w4 / a;
            gb += s_w * (dg_ab + d_bx - dg_b - d_abx) - s_w4 / bx1;
        }
        let n = self.total_weight;
        let params = [r, alpha, a, b];
        let penalty: f64 = penalizer * params.iter().map(|v| v * v).sum::<f64>();
        let value = -ll / n + penalty;
        // Chain rule to log-parameters: ∂/∂ln θ = θ ∂/∂θ.
        let grad = [gr, gal, ga, gb]
            .iter()
            .zip(params)
            .map(|(g, p)| -g / n * p + 2.0 * penalizer * p * p)
            .collect();
        (value, grad)
    }
}

impl BgNbd {
    /// Maximum-likelihood fit over (frequency, recency, T), with `lifetimes`' defaults:
    /// times scaled so the largest T is 1 while fitting, every log-parameter starting at 0.1.
    pub fn fit(rows: &[(u32, f64, f64)], penalizer: f64) -> Result<BgNbd, ClvError> {
        let max_t = rows.iter().map(|r| r.2).fold(0.0, f64::max);
        if rows.is_empty() || max_t <= 0.0 {
            return Err(ClvError::NotEnoughData(
                "BG/NBD needs customers observed for more than a day".into(),
            ));
        }
        if !rows.iter().any(|r| r.0 > 0) {
            return Err(ClvError::NotEnoughData(
                "BG/NBD needs at least one customer with a repeat purchase day".into(),
            ));
        }
        let scale = 1.0 / max_t;
        let data = Data::new(rows, scale);
        let m = bfgs(|lp| data.objective(lp, penalizer), &[0.1; 4])?;
        let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| m.x[i].exp());
        Ok(BgNbd {
            r,
            alpha: alpha / scale,
            a,
            b,
        })
    }

    /// The mean log-likelihood of the data under these parameters (what the fit maximises).
    pub fn mean_log_likelihood(&self, rows: &[(u32, f64, f64)]) -> f64 {
        let data = Data::new(rows, 1.0);
        let lp = [self.r, self.alpha, self.a, self.b].map(f64::ln);
        -data.objective(&lp, 0.0).0
    }

    /// P(alive | x, t_x, T): 1 for a customer without a repeat purchase (the model cannot
    /// drop out before a repeat purchase).
    pub fn p_alive(&self, x: u32, tx: f64, t: f64) -> f64 {
        if x == 0 {
            return 1.0;
        }
        let xf = f64::from(x);
        let log_div = (self.r + xf) * ((self.alpha + t) / (self.alpha + tx)).ln()
            + (self.a / (self.b + xf - 1.0)).ln();
        // expit(−log_div), stable for either sign.
        if log_div >= 0.0 {
            let e = (-log_div).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + log_div.exp())
        }
    }

    /// E[purchases in (T, T + t] | x, t_x, T], equation (10) of the paper.
    ///
    /// The ₂F₁ factor is summed in its Euler-transformed form,
    /// ₂F₁(r+x, b+x; a+b+x−1; z) (1−z)^(r+x) = (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z),
    /// whose terms stay small for large x where the original overflows.
    pub fn expected_purchases(&self, t: f64, x: u32, tx: f64, big_t: f64) -> Result<f64, ClvError> {
        if t <= 0.0 {
            return Ok(0.0);
        }
        let BgNbd { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let c = a + b + xf - 1.0;
        let z = t / (alpha + big_t + t);
        let ln_f = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)?.ln();
        let ln_term = (a - 1.0) * (1.0 - z).ln() + ln_f;
        let numerator = c / (a - 1.0) * -ln_term.exp_m1();
        let denominator = if x > 0 {
            1.0 + (a / (b + xf - 1.0)).ln().exp()
                * ((r + xf) * ((alpha + big_t) / (alpha + tx)).ln()).exp()
        } else {
            1.0
        };
        let v = numerator / denominator;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(ClvError::Numerical(format!(
                "expected purchases not finite for x={x}, t_x={tx}, T={big_t}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_derivative_of_the_likelihood() {
        let rows = [
            (0, 0.0, 30.0),
            (2, 20.0, 35.0),
            (5, 3.0, 40.0),
            (1, 1.5, 10.0),
            (0, 0.0, 5.0),
        ];
        let data = Data::new(&rows, 1.0 / 40.0);
        for lp in [[0.1; 4], [-1.2, 0.7, -0.3, 0.9]] {
            for pen in [0.0, 0.1] {
                let (_, g) = data.objective(&lp, pen);
                for k in 0..4 {
                    let h = 1e-6;
                    let (mut up, mut down) = (lp, lp);
                    up[k] += h;
                    down[k] -= h;
                    let d = (data.objective(&up, pen).0 - data.objective(&down, pen).0) / (2.0 * h);
                    assert!((g[k] - d).abs() < 1e-6, "k={k} {} vs {d}", g[k]);
                }
            }
        }
    }
}
