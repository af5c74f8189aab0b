//! Step timings of the event path, logged at debug level (`RUST_LOG=memberops_app=debug`):
//! the ingest benchmark's breakdown of where a batch goes comes from these lines.

use std::time::Instant;

/// Milliseconds since `start`, as each step of `what` ends.
pub(crate) struct Laps {
    what: &'static str,
    start: Instant,
}

impl Laps {
    pub fn start(what: &'static str) -> Self {
        Laps {
            what,
            start: Instant::now(),
        }
    }

    pub fn lap(&self, step: &str) {
        tracing::debug!(
            what = self.what,
            step,
            elapsed_ms = self.start.elapsed().as_secs_f64() * 1e3,
            "lap"
        );
    }
}
