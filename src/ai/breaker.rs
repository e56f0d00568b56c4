//! Circuit breakers: a model that keeps failing on the provider's side is skipped for
//! `OPEN_FOR`, so a dead provider does not cost every request its time limit.
//!
//! Failures are counted per model *and per tenant* (the client whose request failed). After
//! `THRESHOLD` failures in a row a tenant's own breaker opens: that tenant skips the model. The
//! model's shared breaker opens for everyone only when the failures in a row come from at least
//! `MIN_TENANTS` different tenants, so one client whose requests make a provider fail (a request
//! it is the only one to send) cannot switch a model off for the others; any success resets the
//! shared count. Only provider-side failures are counted at all (see `router`): a request the
//! provider refuses is not a failure of the model.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const THRESHOLD: u32 = 5;
pub const MIN_TENANTS: usize = 2;
const OPEN_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Count {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

impl Count {
    fn is_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|t| now < t)
    }
}

#[derive(Default)]
struct Model {
    shared: Count,
    /// The tenants behind the shared count's failures.
    failing: HashSet<String>,
    tenants: HashMap<String, Count>,
}

#[derive(Default)]
pub struct Breakers {
    models: Mutex<HashMap<String, Model>>,
}

impl Breakers {
    /// Whether `model` is being skipped for everyone now.
    pub fn is_open(&self, model: &str) -> bool {
        let Ok(map) = self.models.lock() else {
            return false;
        };
        map.get(model)
            .is_some_and(|m| m.shared.is_open(Instant::now()))
    }

    /// Whether `model` is being skipped for `tenant` now (for everyone, or for it alone).
    pub fn is_open_for(&self, model: &str, tenant: &str) -> bool {
        let Ok(map) = self.models.lock() else {
            return false;
        };
        let now = Instant::now();
        map.get(model).is_some_and(|m| {
            m.shared.is_open(now) || m.tenants.get(tenant).is_some_and(|c| c.is_open(now))
        })
    }

    /// Counts one call's outcome for `tenant`.
    pub fn record(&self, model: &str, tenant: &str, ok: bool) {
        let Ok(mut map) = self.models.lock() else {
            return;
        };
        let m = map.entry(model.to_owned()).or_default();
        if ok {
            m.shared = Count::default();
            m.failing.clear();
            m.tenants.remove(tenant);
            return;
        }
        let now = Instant::now();
        let own = m.tenants.entry(tenant.to_owned()).or_default();
        own.consecutive_failures += 1;
        if own.consecutive_failures >= THRESHOLD {
            own.open_until = Some(now + OPEN_FOR);
            own.consecutive_failures = 0;
            tracing::warn!(
                model,
                "circuit breaker open for one client for {OPEN_FOR:?}"
            );
        }
        m.shared.consecutive_failures += 1;
        m.failing.insert(tenant.to_owned());
        if m.shared.consecutive_failures >= THRESHOLD && m.failing.len() >= MIN_TENANTS {
            m.shared.open_until = Some(now + OPEN_FOR);
            m.shared.consecutive_failures = 0;
            m.failing.clear();
            tracing::warn!(model, "circuit breaker open for everyone for {OPEN_FOR:?}");
        }
        // Bound the map: tenants whose breakers are closed and counts are zero carry nothing.
        if m.tenants.len() > 10_000 {
            m.tenants
                .retain(|_, c| c.is_open(now) || c.consecutive_failures > 0);
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
            b.record("m", "a", false);
        }
        b.record("m", "a", true);
        b.record("m", "a", false);
        assert!(
            !b.is_open_for("m", "a"),
            "a success in between resets the count"
        );
        for _ in 0..THRESHOLD - 1 {
            b.record("m", "a", false);
        }
        assert!(b.is_open_for("m", "a"));
        assert!(!b.is_open_for("other", "a"));
    }

    #[test]
    fn one_tenants_failures_open_the_breaker_for_it_alone() {
        let b = Breakers::default();
        for _ in 0..THRESHOLD * 3 {
            b.record("m", "noisy", false);
        }
        assert!(b.is_open_for("m", "noisy"));
        assert!(
            !b.is_open_for("m", "quiet"),
            "another client still gets the model"
        );
        assert!(!b.is_open("m"), "the model is not down for everyone");
    }

    #[test]
    fn failures_from_several_tenants_open_the_breaker_for_everyone() {
        let b = Breakers::default();
        for i in 0..THRESHOLD {
            b.record("m", if i % 2 == 0 { "a" } else { "b" }, false);
        }
        assert!(b.is_open("m"));
        assert!(
            b.is_open_for("m", "c"),
            "a client that never failed skips it too"
        );
    }

    #[test]
    fn a_success_from_anyone_resets_the_shared_count() {
        let b = Breakers::default();
        for i in 0..THRESHOLD - 1 {
            b.record("m", if i % 2 == 0 { "a" } else { "b" }, false);
        }
        b.record("m", "c", true);
        b.record("m", "a", false);
        assert!(!b.is_open("m"));
    }
}
