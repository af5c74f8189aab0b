//! The Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005, "RFM and
//! CLV"; Hardie's note 025): a customer's transaction values are Gamma(p, ν) with
//! ν ~ Gamma(q, v). Fitted by maximum likelihood on the customers with at least one repeat
//! purchase, over (x, m̄) = (frequency, mean repeat-day value), as `lifetimes`'
//! `GammaGammaFitter` does (mean log-likelihood, L2 penalty default 0, log-parameters from
//! 0.1).

use super::ClvError;
use super::optimize::bfgs;
use super::special::{digamma, ln_gamma};

/// Fitted Gamma-Gamma parameters; `v` is in the money unit of the data.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// Repeat customers of one frequency: `(ln m, m)` of each.
struct Group {
    x: f64,
    ln_x: f64,
    members: Vec<(f64, f64)>,
}

fn groups(rows: &[(u32, f64)], scale: f64) -> Vec<Group> {
    let mut rows: Vec<(u32, f64)> = rows.iter().map(|&(x, m)| (x, m * scale)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<Group> = Vec::new();
    for (x, m) in rows {
        let xf = f64::from(x);
        match out.last_mut() {
            Some(g) if g.x == xf => g.members.push((m.ln(), m)),
            _ => out.push(Group {
                x: xf,
                ln_x: xf.ln(),
                members: vec![(m.ln(), m)],
            }),
        }
    }
    out
}

/// Mean negative log-likelihood and its gradient in log-parameters.
fn objective(groups: &[Group], n: f64, log_params: &[f64], penalizer: f64) -> (f64, Vec<f64>) {
    let [p, q, v] = [0, 1, 2].map(|i| log_params[i].exp());
    let (lg_q, dg_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
    let (mut ll, mut gp, mut gq, mut gv) = (0.0, 0.0, 0.0, 0.0);
    for g in groups {
        let px = p * g.x;
        let pxq = px + q;
        let k = ln_gamma(pxq) - ln_gamma(px) - lg_q + q * ln_v + px * g.ln_x;
        let (d_pxq, d_px) = (digamma(pxq), digamma(px));
        let (mut s_ll, mut s_lnm, mut s_lnxmv, mut s_inv) = (0.0, 0.0, 0.0, 0.0);
        for &(ln_m, m) in &g.members {
            let xm_v = g.x * m + v;
            let ln_xmv = xm_v.ln();
            s_ll += (px - 1.0) * ln_m - pxq * ln_xmv;
            s_lnm += ln_m;
            s_lnxmv += ln_xmv;
            s_inv += 1.0 / xm_v;
        }
        let cnt = g.members.len() as f64;
        ll += cnt * k + s_ll;
        gp += g.x * (cnt * (d_pxq - d_px + g.ln_x) + s_lnm - s_lnxmv);
        gq += cnt * (d_pxq - dg_q + ln_v) - s_lnxmv;
        gv += cnt * q / v - pxq * s_inv;
    }
    let params = [p, q, v];
    let penalty: f64 = penalizer * params.iter().map(|x| x * x).sum::<f64>();
    let grad = [gp, gq, gv]
        .iter()
        .zip(params)
        .map(|(g, t)| -g / n * t + 2.0 * penalizer * t * t)
        .collect();
    (-ll / n + penalty, grad)
}

impl GammaGamma {
    /// Maximum-likelihood fit over (frequency, mean repeat-day value) of the customers with
    /// `x > 0` and `m > 0` (others carry no information on spend and are skipped). Values
    /// are divided by their mean while fitting (which leaves p and q unchanged and scales v
    /// back), for the optimiser's sake.
    pub fn fit(rows: &[(u32, f64)], penalizer: f64) -> Result<GammaGamma, ClvError> {
        let rows: Vec<(u32, f64)> = rows
            .iter()
            .copied()
            .filter(|&(x, m)| x > 0 && m > 0.0 && m.is_finite())
            .collect();
        if rows.len() < 2 {
            return Err(ClvError::NotEnoughData(
                "Gamma-Gamma needs at least two customers with a repeat purchase day of positive value"
                    .into(),
            ));
        }
        let n = rows.len() as f64;
        let mean = rows.iter().map(|r| r.1).sum::<f64>() / n;
        let scale = if penalizer == 0.0 { 1.0 / mean } else { 1.0 };
        let gs = groups(&rows, scale);
        let m = bfgs(|lp| objective(&gs, n, lp, penalizer), &[0.1; 3])?;
        let [p, q, v] = [0, 1, 2].map(|i| m.x[i].exp());
        Ok(GammaGamma { p, q, v: v / scale })
    }

    /// The mean log-likelihood of the data under these parameters.
    pub fn mean_log_likelihood(&self, rows: &[(u32, f64)]) -> f64 {
        let gs = groups(rows, 1.0);
        let lp = [self.p, self.q, self.v].map(f64::ln);
        -objective(&gs, rows.len() as f64, &lp, 0.0).0
    }

    /// The population mean spend per transaction, `v p / (q − 1)` (defined for q > 1).
    pub fn population_mean(&self) -> Result<f64, ClvError> {
        if self.q <= 1.0 {
            return Err(ClvError::Numerical(format!(
                "Gamma-Gamma q = {} ≤ 1: the mean spend per transaction is not defined",
                self.q
            )));
        }
        Ok(self.v * self.p / (self.q - 1.0))
    }

    /// E[spend per transaction | x, m̄], equation (5) of note 025: the population mean
    /// and the customer's own mean, weighted by how much the customer has bought. A customer
    /// without a repeat purchase gets the population mean.
    pub fn expected_average_value(&self, x: u32, m: f64) -> Result<f64, ClvError> {
        let pop = self.population_mean()?;
        let px = self.p * f64::from(x);
        let w = px / (px + self.q - 1.0);
        Ok((1.0 - w) * pop + w * m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_derivative_of_the_likelihood() {
        let rows = [(1, 20.0), (2, 35.5), (2, 12.0), (7, 50.0)];
        let gs = groups(&rows, 0.05);
        for lp in [[0.1; 3], [1.2, -0.4, 0.6]] {
            for pen in [0.0, 0.1] {
                let (_, g) = objective(&gs, 4.0, &lp, pen);
                for k in 0..3 {
                    let h = 1e-6;
                    let (mut up, mut down) = (lp, lp);
                    up[k] += h;
                    down[k] -= h;
                    let d = (objective(&gs, 4.0, &up, pen).0 - objective(&gs, 4.0, &down, pen).0)
                        / (2.0 * h);
                    assert!((g[k] - d).abs() < 1e-6, "k={k} {} vs {d}", g[k]);
                }
            }
        }
    }
}
