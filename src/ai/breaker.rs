//! A circuit breaker per model: after `THRESHOLD` failures in a row the model is skipped for
//! `OPEN_FOR`, so a dead provider does not cost every request its time limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const THRESHOLD: u32 = 5;
const OPEN_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

#[derive(Default)]
pub struct Breakers {
    models: Mutex<HashMap<String, State>>,
}

impl Breakers {
    /// Whether `model` is being skipped now.
    pub fn is_open(&self, model: &str) -> bool {
        let Ok(map) = self.models.lock() else {
            return false;
        };
        map.get(model)
            .and_then(|b| b.open_until)
            .is_some_and(|t| Instant::now() < t)
    }

    /// Counts one call's outcome.
    pub fn record(&self, model: &str, ok: bool) {
        let Ok(mut map) = self.models.lock() else {
            return;
        };
        let b = map.entry(model.to_owned()).or_default();
        if ok {
            *b = State::default();
        } else {
            b.consecutive_failures += 1;
            if b.consecutive_failures >= THRESHOLD {
                b.open_until = Some(Instant::now() + OPEN_FOR);
                b.consecutive_failures = 0;
                tracing::warn!(model, "circuit breaker open for {:?}", OPEN_FOR);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_skipped_after_repeated_failures_and_a_success_resets_the_count() {
        let b = Breakers::default();
        for _ in 0..THRESHOLD - 1 {
            b.record("m", false);
        }
        b.record("m", true);
        b.record("m", false);
        assert!(!b.is_open("m"), "a success in between resets the count");
        for _ in 0..THRESHOLD - 1 {
            b.record("m", false);
        }
        assert!(b.is_open("m"));
        assert!(!b.is_open("other"));
    }
}
