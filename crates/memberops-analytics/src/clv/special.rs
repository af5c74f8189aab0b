//! The special functions the models need, for positive real arguments: `ln Γ`, digamma and
//! the Gauss hypergeometric function ₂F₁ on `0 ≤ z < 1`.
//!
//! `ln Γ` and digamma shift the argument up to at least [`SHIFT`] with the recurrence and
//! then use the asymptotic (Stirling) series, which is accurate to a few ulps there.

use super::ClvError;

/// Below this, arguments are shifted up by the recurrence before the asymptotic series.
const SHIFT: f64 = 15.0;

/// `ln Γ(x)` for `x > 0`.
pub fn ln_gamma(x: f64) -> f64 {
    debug_assert!(x > 0.0);
    let mut x = x;
    let mut shift = 0.0;
    // ln Γ(x) = ln Γ(x + n) − ln(x (x+1) … (x+n−1)); the product is kept below overflow
    // (at most fifteen factors under SHIFT).
    if x < SHIFT {
        let mut prod = 1.0;
        while x < SHIFT {
            prod *= x;
            x += 1.0;
        }
        shift = prod.ln();
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Stirling: (x − ½) ln x − x + ½ ln 2π + Σ B₂ₖ / (2k (2k−1) x^(2k−1)).
    let series = inv
        * (1.0 / 12.0
            - inv2
                * (1.0 / 360.0
                    - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 * (1.0 / 1188.0)))));
    (x - 0.5) * x.ln() - x + 0.918_938_533_204_672_8 + series - shift
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for `x > 0`.
pub fn digamma(x: f64) -> f64 {
    debug_assert!(x > 0.0);
    let mut x = x;
    let mut acc = 0.0;
    while x < SHIFT {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    // ln x − 1/(2x) − Σ B₂ₖ / (2k x^(2k)).
    let series = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    acc + x.ln() - 0.5 / x - series
}

/// Most terms a ₂F₁ series may take before it is declared not to converge.
const MAX_TERMS: usize = 1_000_000;

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) = Σₖ (a)ₖ (b)ₖ / ((c)ₖ k!) zᵏ for
/// `0 ≤ z < 1` and `c > 0`, by its power series.
///
/// The series converges for `|z| < 1`; once `k` is past every sign change of the Pochhammer
/// factors (`k > −a`, `k > −b`) the term ratio tends to `z` from a known side, and the sum
/// stops when a term no longer moves it at double precision and the remaining tail, bounded
/// by a geometric series with the current ratio, is below the same tolerance. An argument
/// outside the domain, a non-finite value or no convergence within [`MAX_TERMS`] terms is
/// an error, never a silent guess.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, ClvError> {
    if !(0.0..1.0).contains(&z) || c <= 0.0 || !a.is_finite() || !b.is_finite() {
        return Err(ClvError::Numerical(format!(
            "2F1({a}, {b}; {c}; {z}) is outside 0 <= z < 1, c > 0"
        )));
    }
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    // Past this index every factor (a+k), (b+k) is positive: the terms keep one sign.
    let settled = (-a).max(-b).max(0.0).ceil() as usize + 1;
    for k in 0..MAX_TERMS {
        let kf = k as f64;
        let ratio = (a + kf) * (b + kf) / ((c + kf) * (kf + 1.0)) * z;
        term *= ratio;
        sum += term;
        if !sum.is_finite() {
            break;
        }
        if term == 0.0 {
            return Ok(sum);
        }
        if k >= settled && ratio < 1.0 {
            // The ratio of later terms tends to z; it is below max(ratio, z) from here on
            // when it decreases, and at most z when it increases towards z.
            let r = ratio.max(z);
            let tail = term.abs() * r / (1.0 - r);
            if tail <= 1e-16 * sum.abs() {
                return Ok(sum);
            }
        }
    }
    Err(ClvError::Numerical(format!(
        "2F1({a}, {b}; {c}; {z}) did not converge"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        // Γ(n) = (n−1)!, Γ(½) = √π.
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!(ln_gamma(2.0).abs() < 1e-14);
        assert!(close(ln_gamma(5.0), 24.0_f64.ln(), 1e-14));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14
        ));
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_5, 1e-14));
        // Γ(0.001) ≈ 999.423772484595.
        assert!(close(ln_gamma(0.001), 999.423_772_484_595_f64.ln(), 1e-13));
    }

    #[test]
    fn digamma_matches_known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler, 1e-13));
        assert!(close(digamma(0.5), -euler - 2.0 * 2.0_f64.ln(), 1e-13));
        // ψ(n+1) = H_n − γ.
        let h10: f64 = (1..=10).map(|k| 1.0 / f64::from(k)).sum();
        assert!(close(digamma(11.0), h10 - euler, 1e-14));
        // The derivative of ln Γ, numerically.
        for x in [0.2, 1.7, 9.5, 33.0] {
            let h = 1e-5;
            let d = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), d, 1e-7), "{x}");
        }
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1−z)/z.
        for z in [0.1_f64, 0.5, 0.9, 0.99] {
            let want = -(1.0 - z).ln() / z;
            assert!(
                close(hyp2f1(1.0, 1.0, 2.0, z).unwrap_or(0.0), want, 1e-12),
                "{z}"
            );
        }
        // ₂F₁(a, b; b; z) = (1−z)^(−a).
        assert!(close(
            hyp2f1(2.5, 3.0, 3.0, 0.6).unwrap_or(0.0),
            0.4_f64.powf(-2.5),
            1e-12
        ));
        // ₂F₁(½, 1; 3/2; z²) = atanh(z)/z.
        let z: f64 = 0.8;
        assert!(close(
            hyp2f1(0.5, 1.0, 1.5, z * z).unwrap_or(0.0),
            z.atanh() / z,
            1e-12
        ));
        // A negative first parameter (the terms change sign once): ₂F₁(−0.5, 1; 1; z) =
        // (1−z)^0.5.
        assert!(close(
            hyp2f1(-0.5, 1.0, 1.0, 0.7).unwrap_or(0.0),
            0.3_f64.sqrt(),
            1e-12
        ));
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0).ok(), Some(1.0));
    }

    #[test]
    fn hyp2f1_refuses_what_it_cannot_sum() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, 2.0, -0.1).is_err());
        assert!(hyp2f1(1.0, 1.0, 0.0, 0.5).is_err());
        assert!(hyp2f1(f64::NAN, 1.0, 2.0, 0.5).is_err());
    }
}
