//! Token buckets shared by every instance: rate limits and sign-in throttling.
//!
//! Each bucket is kept as one Redis key holding its *theoretical arrival time* (the generic cell
//! rate algorithm, GCRA — the algorithm behind `redis-cell` and the `governor` crate): a request
//! is let through when it would not push that time more than `burst` intervals past now. One
//! Lua script checks every bucket a request draws on and takes a token from each only when all
//! have one, with Redis's own clock, so instances agree. When Redis is down each instance keeps
//! the same buckets in memory, so limits still hold per instance.

use super::redis::Cache;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A bucket's size: `per_second` tokens a second, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// Microseconds between two tokens.
    fn interval_us(self) -> u64 {
        (1_000_000.0 / self.per_second.max(1e-6)).round().max(1.0) as u64
    }
}

/// KEYS: the buckets. ARGV: for each bucket, its interval (µs) and burst, then `1` to take a
/// token or `0` only to look. Returns 0 when every bucket had a token (then taken from each), or
/// the microseconds until the emptiest one has.
static TAKE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local take = ARGV[#ARGV] == '1'
local wait = 0
local next = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local cap = interval * tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new = tat + interval
  if new - now > cap then
    local w = new - now - cap
    if w > wait then wait = w end
  end
  next[i] = new
end
if wait > 0 or not take then return wait end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, next[i], 'PX', math.ceil((next[i] - now) / 1000) + 1000)
end
return 0
",
    )
});

/// The buckets, under `namespace` in Redis; kept in memory while Redis is down (theoretical
/// arrival times).
#[derive(Default)]
pub struct Limiter {
    namespace: String,
    local: Mutex<HashMap<String, Instant>>,
    /// Turns in flight on this instance, per client.
    pub turns: TurnSlots,
}

/// The turns each client has in flight on this instance, capped per tier
/// (`tiers.*.max_concurrent_turns`), so one client's burst of slow turns cannot take every
/// model call and local-model slot from the others.
#[derive(Default)]
pub struct TurnSlots {
    per_client: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
}

impl TurnSlots {
    /// A slot for one more turn of `client`, held until the permit is dropped; `Ok(None)` when
    /// `cap` is 0 (no cap); `Err(cap)` when the client already has `cap` turns in flight.
    pub fn try_take(
        &self,
        client: &str,
        cap: u32,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, u32> {
        if cap == 0 {
            return Ok(None);
        }
        let slots = {
            let mut map = self.per_client.lock().map_err(|_| cap)?;
            map.entry(client.to_owned())
                .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(cap as usize)))
                .clone()
        };
        slots.try_acquire_owned().map(Some).map_err(|_| cap)
    }
}

const MAX_LOCAL_BUCKETS: usize = 100_000;

impl Limiter {
    pub fn new(namespace: &str) -> Self {
        Limiter {
            namespace: namespace.to_owned(),
            local: Mutex::default(),
            turns: TurnSlots::default(),
        }
    }

    /// Takes a token from each of `buckets`, or none when one is empty: then how long until it
    /// has one.
    pub async fn take(&self, cache: &Cache, buckets: &[(&str, Rate)]) -> Result<(), Duration> {
        self.draw(cache, buckets, true).await
    }

    /// Whether each of `buckets` has a token now, taking none.
    pub async fn check(&self, cache: &Cache, buckets: &[(&str, Rate)]) -> Result<(), Duration> {
        self.draw(cache, buckets, false).await
    }

    async fn draw(
        &self,
        cache: &Cache,
        buckets: &[(&str, Rate)],
        take: bool,
    ) -> Result<(), Duration> {
        if buckets.is_empty() {
            return Ok(());
        }
        if cache.is_up() {
            let mut call = TAKE.prepare_invoke();
            for (key, _) in buckets {
                call.key(format!("ratelimit:{}{key}", self.namespace));
            }
            for (_, rate) in buckets {
                call.arg(rate.interval_us()).arg(rate.burst.max(1));
            }
            call.arg(if take { "1" } else { "0" });
            if let Some(wait_us) = cache
                .exec(async |c| call.invoke_async::<u64>(c).await)
                .await
            {
                return match wait_us {
                    0 => Ok(()),
                    w => Err(Duration::from_micros(w)),
                };
            }
        }
        self.draw_locally(buckets, take, Instant::now())
    }

    fn draw_locally(
        &self,
        buckets: &[(&str, Rate)],
        take: bool,
        now: Instant,
    ) -> Result<(), Duration> {
        let Ok(mut map) = self.local.lock() else {
            return Ok(());
        };
        let mut wait = Duration::ZERO;
        let mut next = Vec::with_capacity(buckets.len());
        for (key, rate) in buckets {
            let interval = Duration::from_micros(rate.interval_us());
            let cap = interval * rate.burst.max(1);
            let tat = map.get(*key).copied().unwrap_or(now).max(now);
            let new = tat + interval;
            wait = wait.max((new - now).saturating_sub(cap));
            next.push(new);
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if take {
            if map.len() >= MAX_LOCAL_BUCKETS {
                map.retain(|_, tat| *tat > now);
            }
            for ((key, _), new) in buckets.iter().zip(next) {
                map.insert((*key).to_owned(), new);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_burst_through_then_one_token_per_interval() {
        let l = Limiter::default();
        let rate = Rate {
            per_second: 2.0,
            burst: 3,
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.draw_locally(&[("k", rate)], true, t0).is_ok());
        }
        let wait = l
            .draw_locally(&[("k", rate)], true, t0)
            .expect_err("burst used up");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(l
            .draw_locally(&[("k", rate)], true, t0 + Duration::from_millis(500))
            .is_ok());
        assert!(
            l.draw_locally(&[("other", rate)], true, t0).is_ok(),
            "buckets are separate"
        );
    }

    #[test]
    fn no_token_is_taken_unless_every_bucket_has_one_and_looking_takes_none() {
        let l = Limiter::default();
        let one = Rate {
            per_second: 1.0,
            burst: 1,
        };
        let t0 = Instant::now();
        assert!(l.draw_locally(&[("a", one)], true, t0).is_ok());
        // "a" is empty: "b" must keep its token.
        assert!(l.draw_locally(&[("a", one), ("b", one)], true, t0).is_err());
        assert!(l.draw_locally(&[("b", one)], false, t0).is_ok());
        assert!(l.draw_locally(&[("b", one)], true, t0).is_ok());
        assert!(l.draw_locally(&[("b", one)], false, t0).is_err());
    }
}
