//! A seeded simulation of a member base under the models' own assumptions, for the
//! validation test against `lifetimes` and the benchmark: each member buys as a Poisson
//! process of rate λ ~ Gamma(r, α) per day, drops out after each purchase with probability
//! p ~ Beta(a, b), and spends Gamma(p_gg, ν) per order with ν ~ Gamma(q, v).

/// Parameters of a simulated base (rates per day, values in minor units).
#[derive(Debug, Clone, Copy)]
pub struct SimParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl Default for SimParams {
    /// A shop where the typical member orders every few months and one order is about
    /// 100 major units.
    fn default() -> Self {
        SimParams {
            r: 0.8,
            alpha: 60.0,
            a: 0.8,
            b: 3.0,
            p: 6.0,
            q: 4.0,
            v: 5_000.0,
        }
    }
}

/// SplitMix64: small, seeded, good enough for simulation.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Gamma(shape, rate) by Marsaglia and Tsang (shape < 1 boosted by U^(1/shape)).
    fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0, rate) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }

    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        let y = self.gamma(b, 1.0);
        x / (x + y)
    }
}

/// `n` members, each first buying on a day uniform in `0..horizon_days` (day 0 is the
/// start; the as-of date is day `horizon_days`): per member the orders up to the as-of day
/// as (day, value in minor units ≥ 1), the first one included, in day order.
pub fn simulate(n: usize, horizon_days: u32, params: SimParams, seed: u64) -> Vec<Vec<(u32, i64)>> {
    let mut rng = Rng(seed);
    let end = f64::from(horizon_days);
    (0..n)
        .map(|_| {
            let lambda = rng.gamma(params.r, params.alpha);
            let drop = rng.beta(params.a, params.b);
            let nu = rng.gamma(params.q, params.v);
            let value = |rng: &mut Rng| (rng.gamma(params.p, nu).round() as i64).max(1);
            let first = (rng.uniform() * end).floor().min(end - 1.0);
            let mut orders = vec![(first as u32, value(&mut rng))];
            let mut t = first;
            loop {
                if rng.uniform() < drop {
                    break;
                }
                t += -rng.uniform().ln() / lambda;
                if t >= end {
                    break;
                }
                orders.push((t as u32, value(&mut rng)));
            }
            orders
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulation_is_seeded_and_follows_its_parameters() {
        let a = simulate(2000, 365, SimParams::default(), 7);
        assert_eq!(a, simulate(2000, 365, SimParams::default(), 7));
        assert_ne!(a, simulate(2000, 365, SimParams::default(), 8));
        assert!(
            a.iter()
                .all(|o| !o.is_empty() && o.windows(2).all(|w| w[0].0 <= w[1].0))
        );
        assert!(a.iter().flatten().all(|&(d, v)| d < 365 && v >= 1));
        // Mean order value ≈ p v / (q − 1) = 10,000 minor units.
        let (sum, cnt) = a
            .iter()
            .flatten()
            .fold((0.0, 0.0), |(s, c), &(_, v)| (s + v as f64, c + 1.0));
        let mean = sum / cnt;
        assert!((7_000.0..13_000.0).contains(&mean), "{mean}");
    }
}
