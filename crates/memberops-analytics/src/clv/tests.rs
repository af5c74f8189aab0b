//! Known values: the CDNOW sample of Fader, Hardie and Lee (2,357 customers, times in
//! weeks, `cdnow_summary.csv` as shipped with `lifetimes`), whose BG/NBD parameters the
//! paper reports (r = 0.243, α = 4.414, a = 0.793, b = 2.426) and whose Gamma-Gamma
//! parameters Hardie's note 025 reports (p = 6.25, q = 3.74, v = 15.44). The per-customer
//! figures were computed by `lifetimes` 0.11.3 on the same data; the paper gives 1.226
//! expected purchases in 39 weeks for customer 1 (x = 2, t_x = 30.43, T = 38.86).

use chrono::NaiveDate;

use super::*;

fn cdnow() -> Vec<Summary> {
    include_str!("cdnow_summary.csv")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<f64> = l
                .split(',')
                .map(|v| v.trim().parse().unwrap_or(f64::NAN))
                .collect();
            Summary {
                frequency: f[1] as u32,
                recency: f[2],
                t: f[3],
                monetary: f[4],
            }
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn model() -> Model {
    Model::fit(&cdnow()).expect("CDNOW fits")
}

#[test]
fn bg_nbd_reproduces_the_papers_cdnow_parameters() {
    let data = cdnow();
    assert_eq!(data.len(), 2357);
    let bg = model().bg_nbd;
    // lifetimes: r 0.24259293, alpha 4.41353227, a 0.79288597, b 2.42575238.
    for (got, want) in [
        (bg.r, 0.242_592_93),
        (bg.alpha, 4.413_532_27),
        (bg.a, 0.792_885_97),
        (bg.b, 2.425_752_38),
    ] {
        assert!(rel(got, want) < 1e-4, "{bg:?}");
    }
    // The paper's rounding.
    assert_eq!(
        [bg.r, bg.alpha, bg.a, bg.b].map(|v| (v * 1000.0).round() / 1000.0),
        [0.243, 4.414, 0.793, 2.426]
    );
    // The fit is a maximum: the paper's log-likelihood is −9582.4 over the 2,357
    // customers; moving any parameter lowers it.
    let rows: Vec<(u32, f64, f64)> = data.iter().map(|s| (s.frequency, s.recency, s.t)).collect();
    let ll = bg.mean_log_likelihood(&rows);
    assert_eq!((ll * 2357.0 * 10.0).round() / 10.0, -9582.4, "{ll}");
    for k in 0..4 {
        let mut p = [bg.r, bg.alpha, bg.a, bg.b];
        p[k] *= 1.01;
        let moved = BgNbd {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        };
        assert!(moved.mean_log_likelihood(&rows) < ll);
    }
}

#[test]
fn bg_nbd_predictions_match_lifetimes_on_cdnow() {
    let bg = model().bg_nbd;
    // (x, t_x, T) → P(alive), E[purchases in 39 weeks] from lifetimes.
    let cases = [
        (2, 30.43, 38.86, 0.726_609_14, 1.225_910_424_174_406_8),
        (0, 0.0, 38.86, 1.0, 0.194_780_857_939_478_36),
        (26, 35.14, 35.86, 0.955_644_76, 18.514_063_539_991_707),
        (1, 1.71, 38.86, 0.212_227_39, 0.203_250_624_256_188),
    ];
    for (x, tx, t, alive, e39) in cases {
        assert!(rel(bg.p_alive(x, tx, t), alive) < 1e-4, "P(alive) {x}");
        let e = bg.expected_purchases(39.0, x, tx, t).expect("finite");
        assert!(rel(e, e39) < 1e-4, "E39 {x}: {e}");
    }
    // The paper's figure for customer 1.
    let e = bg
        .expected_purchases(39.0, 2, 30.43, 38.86)
        .expect("finite");
    assert_eq!((e * 1000.0).round() / 1000.0, 1.226);
    assert_eq!(bg.expected_purchases(0.0, 2, 30.43, 38.86), Ok(0.0));
}

#[test]
fn expected_purchases_stay_finite_for_heavy_buyers_and_long_horizons() {
    let bg = model().bg_nbd;
    // The direct ₂F₁(r+x, b+x; …) overflows here; the transformed sum does not.
    let e = bg
        .expected_purchases(520.0, 2000, 38.86, 38.86)
        .expect("finite");
    assert!(e > 100.0 && e.is_finite(), "{e}");
    // More future time, more expected purchases.
    let mut last = 0.0;
    for t in [1.0, 10.0, 52.0, 104.0, 520.0] {
        let e = bg.expected_purchases(t, 3, 20.0, 38.86).expect("finite");
        assert!(e > last);
        last = e;
    }
}

#[test]
fn gamma_gamma_reproduces_note_025_on_cdnow() {
    let gg = model().gamma_gamma;
    // lifetimes: p 6.24880250, q 3.74458846, v 15.44774806.
    for (got, want) in [
        (gg.p, 6.248_802_50),
        (gg.q, 3.744_588_46),
        (gg.v, 15.447_748_06),
    ] {
        assert!(rel(got, want) < 1e-4, "{gg:?}");
    }
    // lifetimes' conditional_expected_average_profit.
    for (x, m, want) in [
        (2, 22.35, 24.658_616_19),
        (0, 0.0, 35.171_002_15),
        (5, 40.0, 39.610_057_15),
    ] {
        let got = gg.expected_average_value(x, m).expect("q > 1");
        assert!(rel(got, want) < 1e-4, "{x}: {got}");
    }
}

#[test]
fn clv_is_lifetimes_customer_lifetime_value() {
    let m = model();
    // lifetimes: customer_lifetime_value(bgf, …, time=12, discount_rate=0.01, freq="W")
    // for the first five CDNOW customers (weekly data: 4.345 weeks a month).
    let data = cdnow();
    let want = [36.278_496, 4.637_466, 8.344_093, 8.344_093, 8.344_093];
    for (s, want) in data.iter().zip(want) {
        let aov = m
            .gamma_gamma
            .expected_average_value(s.frequency, s.monetary)
            .expect("q > 1");
        let clv = aov * m.discounted_orders(s, 12, 4.345, 0.01).expect("finite");
        assert!(rel(clv, want) < 1e-4, "{s:?}: {clv}");
    }
}

#[test]
fn predict_all_equals_predict_one_by_one() {
    let m = model();
    let data = cdnow();
    let all = m.predict_all(&data[..300]).expect("predicts");
    for (s, p) in data[..300].iter().zip(&all) {
        assert_eq!(m.predict(s).expect("predicts"), *p);
    }
    // A single-day buyer is alive for the model, with the population's order value.
    let once = all
        .iter()
        .zip(&data)
        .find(|(_, s)| s.frequency == 0)
        .map(|(p, _)| p);
    let once = once.expect("CDNOW has one-time buyers");
    assert_eq!(once.p_alive, 1.0);
    assert!(rel(once.expected_aov, 35.171_002_15) < 1e-4);
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

#[test]
fn summaries_follow_the_lifetimes_definitions() {
    let as_of = day("2026-03-31");
    // Two orders on the first day, two on 03-05 (one day), one on 03-11, one after as-of.
    let orders = [
        (day("2026-03-05"), 3000),
        (day("2026-03-01"), 1000),
        (day("2026-03-01"), 500),
        (day("2026-03-05"), 1000),
        (day("2026-03-11"), 2000),
        (day("2026-04-02"), 9999),
    ];
    let s = summarize(&orders, as_of).expect("a buyer");
    assert_eq!(s.frequency, 2, "distinct order days after the first");
    assert_eq!(s.recency, 10.0, "03-01 to 03-11");
    assert_eq!(s.t, 30.0, "03-01 to as-of");
    assert_eq!(
        s.monetary, 3000.0,
        "mean of 4000 and 2000: repeat days only"
    );
    // One day only: no repeat, monetary 0.
    let s = summarize(&orders[1..3], as_of).expect("a buyer");
    assert_eq!(
        (s.frequency, s.recency, s.t, s.monetary),
        (0, 0.0, 30.0, 0.0)
    );
    // Nothing by as-of: not a customer yet.
    assert_eq!(summarize(&orders[5..], as_of), None);
    assert_eq!(summarize(&[], as_of), None);
}

#[test]
fn too_little_data_is_an_error_not_a_model() {
    let once = Summary {
        frequency: 0,
        recency: 0.0,
        t: 10.0,
        monetary: 0.0,
    };
    assert!(matches!(
        Model::fit(&[once, once]),
        Err(ClvError::NotEnoughData(_))
    ));
    assert!(matches!(Model::fit(&[]), Err(ClvError::NotEnoughData(_))));
}

#[test]
fn a_simulated_base_fits_near_its_parameters() {
    use super::simulate::{SimParams, simulate};
    let start = day("2025-06-30");
    let as_of = start + chrono::Days::new(365);
    let data: Vec<Summary> = simulate(1500, 365, SimParams::default(), 42)
        .iter()
        .filter_map(|o| {
            let days: Vec<(NaiveDate, i64)> = o
                .iter()
                .map(|&(d, v)| (start + chrono::Days::new(u64::from(d)), v))
                .collect();
            summarize(&days, as_of)
        })
        .collect();
    assert_eq!(data.len(), 1500);
    let m = Model::fit(&data).expect("fits");
    // Sampling noise on 1,500 members is large; the fit lands near the truth.
    assert!(
        (0.4..1.6).contains(&m.bg_nbd.r) && (20.0..150.0).contains(&m.bg_nbd.alpha),
        "{m:?}"
    );
    assert!((1.0..10.0).contains(&m.gamma_gamma.q), "{m:?}");
}
