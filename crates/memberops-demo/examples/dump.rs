//! Prints demo events as JSON lines and the generation speed on stderr:
//! `cargo run --release -p memberops-demo --example dump -- 2000 42 2026-03-15 > demo.jsonl`
//! (a fourth argument `--no-output` times generation alone).

use std::io::{BufWriter, Write};
use std::time::Instant;

use chrono::NaiveDate;
use memberops_demo::{DemoConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let members = args.get(1).map_or(Ok(2000), |s| s.parse())?;
    let seed = args.get(2).map_or(Ok(42), |s| s.parse())?;
    let today = match args.get(3) {
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")?,
        None => chrono::Utc::now().date_naive(),
    };
    let cfg = DemoConfig {
        members,
        seed,
        today,
    };
    let write = args.get(4).is_none_or(|a| a != "--no-output");
    let started = Instant::now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut events = 0usize;
    for member in generate(&cfg) {
        events += member.len();
        if write {
            for e in member {
                serde_json::to_writer(&mut out, &e)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{members} members, {events} events in {secs:.3}s ({:.0} events/s)",
        events as f64 / secs
    );
    Ok(())
}
