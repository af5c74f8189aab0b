//! Predicted member value: BG/NBD (P(alive), expected orders) and Gamma-Gamma (expected
//! order value), fitted by maximum likelihood, and the 12-month customer lifetime value.
//!
//! Definitions are those of the literature and of the Python package `lifetimes`, against
//! which the results are checked (docs/predicted-value.md):
//! - an **order day** is a day with at least one order (the domain's orders: not fully
//!   refunded), valued at the day's paid minus refunded amounts;
//! - **frequency** x = order days after the first one; **recency** t_x = days from the first
//!   to the last order day; **T** = days from the first order day to the as-of date;
//!   **monetary** m̄ = mean value of the repeat order days (0 without one);
//! - **CLV** over 12 months, as `GammaGammaFitter.customer_lifetime_value(…, time=12,
//!   discount_rate=0.01, freq="D")`: the sum over months i = 1…12 of the expected orders in
//!   days (30(i−1), 30i] times the expected order value, divided by 1.01^i.

mod bgnbd;
mod gamma_gamma;
mod optimize;
pub mod simulate;
mod special;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use chrono::NaiveDate;

pub use bgnbd::BgNbd;
pub use gamma_gamma::GammaGamma;
pub use special::{digamma, hyp2f1, ln_gamma};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClvError {
    /// Too few customers (or repeat customers) to fit a model.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// A numerical failure (no convergence, a value out of a function's domain).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

impl ClvError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ClvError::NotEnoughData(_) => "not_enough_data",
            ClvError::Numerical(_) => "model_not_fitted",
        }
    }
}

/// Days of the future window of `expected_orders_90d`.
pub const HORIZON_DAYS: f64 = 90.0;
/// Months of the CLV, each of [`DAYS_PER_MONTH`] days (`lifetimes`' `freq="D"` factor).
pub const CLV_MONTHS: u32 = 12;
pub const DAYS_PER_MONTH: f64 = 30.0;
/// Monthly discount rate of the CLV.
pub const MONTHLY_DISCOUNT: f64 = 0.01;

/// One customer's history in the models' terms (times in days, money in minor units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub frequency: u32,
    pub recency: f64,
    pub t: f64,
    pub monetary: f64,
}

/// The summary of one member's order days as of `as_of`: `days` are (local day, net value
/// in minor units) of each order that counts, in any order, several per day allowed; days
/// after `as_of` are left out. `None` without an order day by then.
pub fn summarize(days: &[(NaiveDate, i64)], as_of: NaiveDate) -> Option<Summary> {
    let mut by_day: Vec<(NaiveDate, i64)> = days.iter().copied().filter(|d| d.0 <= as_of).collect();
    by_day.sort_unstable_by_key(|d| d.0);
    by_day.dedup_by(|later, first| {
        if later.0 == first.0 {
            first.1 += later.1;
            true
        } else {
            false
        }
    });
    let first = by_day.first()?.0;
    let last = by_day.last()?.0;
    let repeat = &by_day[1..];
    let monetary = if repeat.is_empty() {
        0.0
    } else {
        repeat.iter().map(|d| d.1 as f64).sum::<f64>() / repeat.len() as f64
    };
    Some(Summary {
        frequency: u32::try_from(repeat.len()).unwrap_or(u32::MAX),
        recency: (last - first).num_days() as f64,
        t: (as_of - first).num_days() as f64,
        monetary,
    })
}

/// Both fitted models.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    pub bg_nbd: BgNbd,
    pub gamma_gamma: GammaGamma,
}

/// What the models predict for one member (money in minor units, unrounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub p_alive: f64,
    pub expected_orders_90d: f64,
    pub expected_aov: f64,
    pub clv_12m: f64,
}

impl Model {
    /// Fits BG/NBD on every customer and Gamma-Gamma on the repeat customers, with no
    /// penalty (`lifetimes`' default `penalizer_coef=0.0`).
    pub fn fit(summaries: &[Summary]) -> Result<Model, ClvError> {
        let bg_rows: Vec<(u32, f64, f64)> = summaries
            .iter()
            .map(|s| (s.frequency, s.recency, s.t))
            .collect();
        let gg_rows: Vec<(u32, f64)> = summaries
            .iter()
            .map(|s| (s.frequency, s.monetary))
            .collect();
        let bg_nbd = BgNbd::fit(&bg_rows, 0.0)?;
        let gamma_gamma = GammaGamma::fit(&gg_rows, 0.0)?;
        gamma_gamma.population_mean()?;
        Ok(Model {
            bg_nbd,
            gamma_gamma,
        })
    }

    /// The expected orders of each of the next `months` months of `per_month` time units,
    /// each divided by (1 + `rate`)^i: the CLV before the order value, as `lifetimes`'
    /// `_customer_lifetime_value` sums it.
    pub fn discounted_orders(
        &self,
        s: &Summary,
        months: u32,
        per_month: f64,
        rate: f64,
    ) -> Result<f64, ClvError> {
        let mut discounted = 0.0;
        let mut before = 0.0;
        for i in 1..=months {
            let upto = self.bg_nbd.expected_purchases(
                f64::from(i) * per_month,
                s.frequency,
                s.recency,
                s.t,
            )?;
            discounted += (upto - before) / (1.0 + rate).powi(i32::try_from(i).unwrap_or(i32::MAX));
            before = upto;
        }
        Ok(discounted)
    }

    /// Expected orders in the next 90 days and the discounted expected orders of the next
    /// 12 months, for one history.
    fn orders_ahead(&self, s: &Summary) -> Result<(f64, f64), ClvError> {
        let e90 = self
            .bg_nbd
            .expected_purchases(HORIZON_DAYS, s.frequency, s.recency, s.t)?;
        let discounted = self.discounted_orders(s, CLV_MONTHS, DAYS_PER_MONTH, MONTHLY_DISCOUNT)?;
        Ok((e90, discounted))
    }

    pub fn predict(&self, s: &Summary) -> Result<Prediction, ClvError> {
        let (e90, discounted) = self.orders_ahead(s)?;
        let aov = self
            .gamma_gamma
            .expected_average_value(s.frequency, s.monetary)?;
        Ok(Prediction {
            p_alive: self.bg_nbd.p_alive(s.frequency, s.recency, s.t),
            expected_orders_90d: e90,
            expected_aov: aov,
            clv_12m: aov * discounted,
        })
    }

    /// [`Model::predict`] for many members; histories that repeat (same x, t_x, T) are
    /// computed once.
    pub fn predict_all(&self, summaries: &[Summary]) -> Result<Vec<Prediction>, ClvError> {
        let mut cache: HashMap<(u32, u64, u64), (f64, f64, f64)> = HashMap::new();
        summaries
            .iter()
            .map(|s| {
                let key = (s.frequency, s.recency.to_bits(), s.t.to_bits());
                let (p_alive, e90, discounted) = match cache.get(&key) {
                    Some(v) => *v,
                    None => {
                        let (e90, d) = self.orders_ahead(s)?;
                        let v = (self.bg_nbd.p_alive(s.frequency, s.recency, s.t), e90, d);
                        cache.insert(key, v);
                        v
                    }
                };
                let aov = self
                    .gamma_gamma
                    .expected_average_value(s.frequency, s.monetary)?;
                Ok(Prediction {
                    p_alive,
                    expected_orders_90d: e90,
                    expected_aov: aov,
                    clv_12m: aov * discounted,
                })
            })
            .collect()
    }
}
