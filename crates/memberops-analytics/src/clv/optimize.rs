//! Unconstrained minimisation by BFGS with a backtracking (Armijo) line search.
//!
//! The models are fitted on log-parameters, so every real vector is a valid point and no
//! bounds are needed. BFGS is what `lifetimes` uses (SciPy's `minimize` with a gradient and
//! no bounds), here with the analytic gradients of the log-likelihoods. Written out rather
//! than taken from a crate: it is sixty lines, and the optimisation crates that have it
//! (`argmin`) bring a framework of traits and dependencies for this one loop.

use super::ClvError;

/// Stop when every gradient component is below this (the objective is a mean
/// log-likelihood per member, so this is an absolute scale).
const GTOL: f64 = 1e-9;
const MAX_ITER: usize = 2_000;

/// What a minimisation found.
#[derive(Debug, Clone)]
pub struct Minimum {
    pub x: Vec<f64>,
}

/// Minimises `f` (value and gradient) from `x0`.
pub fn bfgs<F>(mut f: F, x0: &[f64]) -> Result<Minimum, ClvError>
where
    F: FnMut(&[f64]) -> (f64, Vec<f64>),
{
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(ClvError::Numerical(
            "the log-likelihood is not finite at the starting point".into(),
        ));
    }
    // Inverse Hessian approximation, starting from the identity.
    let mut h = identity(n);
    let mut stalled = 0;
    for _ in 0..MAX_ITER {
        if g.iter().all(|v| v.abs() < GTOL) {
            return Ok(Minimum { x });
        }
        let mut d: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>())
            .collect();
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            h = identity(n);
            d = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        let mut step = 1.0;
        let mut next = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + step * b).collect();
            let (fx_n, g_n) = f(&xn);
            if fx_n.is_finite()
                && g_n.iter().all(|v| v.is_finite())
                && fx_n <= fx + 1e-4 * step * slope
            {
                next = Some((xn, fx_n, g_n));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fx_n, g_n)) = next else {
            // No decrease along the direction: the point is a minimum to machine
            // precision when the gradient is already tiny, else try steepest descent once.
            if g.iter().all(|v| v.abs() < 1e-6) || stalled > 0 {
                return Ok(Minimum { x });
            }
            stalled += 1;
            h = identity(n);
            continue;
        };
        stalled = 0;
        // At the minimum to double precision: the value stopped moving and the gradient is
        // at the level of rounding.
        if fx - fx_n <= 1e-15 * fx.abs().max(1.0) && g_n.iter().all(|v| v.abs() < 1e-6) {
            return Ok(Minimum { x: xn });
        }
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_n.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy > 1e-300 {
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ.
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| h[i][j] * y[j]).sum())
                .collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i][j] +=
                        rho * ((1.0 + rho * yhy) * s[i] * s[j] - hy[i] * s[j] - s[i] * hy[j]);
                }
            }
        }
        x = xn;
        fx = fx_n;
        g = g_n;
    }
    Err(ClvError::Numerical(format!(
        "the fit did not converge in {MAX_ITER} iterations"
    )))
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_the_rosenbrock_valley() {
        let m = bfgs(
            |x| {
                let (a, b) = (x[0], x[1]);
                let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
                let g = vec![
                    -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                    200.0 * (b - a * a),
                ];
                (v, g)
            },
            &[-1.2, 1.0],
        )
        .expect("converges");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn a_function_not_finite_at_the_start_is_an_error() {
        assert!(bfgs(|_| (f64::NAN, vec![0.0]), &[0.0]).is_err());
    }
}
