//! The CLV benchmark's Rust side (bench/clv/run.sh): simulates a seeded member base, writes
//! its summaries (frequency, recency, T, monetary in major units) for `lifetimes`, then times
//! the BG/NBD + Gamma-Gamma fit and the scoring of every member (P(alive), expected orders
//! in 90 days, expected order value, 12-month CLV). Prints one JSON line.
//!
//! `cargo run --release -p memberops-analytics --example clv_bench -- MEMBERS OUT.csv`

use std::io::Write;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use memberops_analytics::clv::simulate::{SimParams, simulate};
use memberops_analytics::clv::{Model, summarize};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let out = args.next().unwrap_or_else(|| "clv_summaries.csv".into());
    let horizon = 730;
    let t0 = Instant::now();
    let base = simulate(n, horizon, SimParams::default(), 2026);
    let start = NaiveDate::from_ymd_opt(2024, 7, 1).ok_or("date")?;
    let as_of = start + Days::new(u64::from(horizon));
    let summaries: Vec<_> = base
        .iter()
        .filter_map(|orders| {
            let days: Vec<(NaiveDate, i64)> = orders
                .iter()
                .map(|&(d, v)| (start + Days::new(u64::from(d)), v))
                .collect();
            summarize(&days, as_of)
        })
        .collect();
    let simulate_s = t0.elapsed().as_secs_f64();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out)?);
    writeln!(w, "frequency,recency,T,monetary_value")?;
    for s in &summaries {
        writeln!(
            w,
            "{},{},{},{}",
            s.frequency,
            s.recency,
            s.t,
            s.monetary / 100.0
        )?;
    }
    w.flush()?;
    let t = Instant::now();
    let model = Model::fit(&summaries)?;
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = model.predict_all(&summaries)?;
    let score_s = t.elapsed().as_secs_f64();
    let clv_sum: f64 = p.iter().map(|x| x.clv_12m).sum::<f64>() / 100.0;
    println!(
        "{}",
        serde_json::json!({
            "members": summaries.len(),
            "simulate_s": simulate_s,
            "fit_s": fit_s,
            "score_s": score_s,
            "total_s": fit_s + score_s,
            "params": {"r": model.bg_nbd.r, "alpha": model.bg_nbd.alpha, "a": model.bg_nbd.a,
                       "b": model.bg_nbd.b, "p": model.gamma_gamma.p, "q": model.gamma_gamma.q,
                       "v": model.gamma_gamma.v / 100.0},
            "clv_sum": clv_sum,
        })
    );
    Ok(())
}
