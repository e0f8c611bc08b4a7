//! Time, injected so that expiry rules are testable.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Seconds since the Unix epoch.
pub type EpochSeconds = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> EpochSeconds;

    /// Milliseconds since the Unix epoch. By default the whole seconds of [`Clock::now`].
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// How long is left until `deadline_ms`, in milliseconds since the Unix epoch as Lambda gives an
/// invocation's deadline, by `clock`. `None` when there is no deadline (0, as some local runners
/// send) or it has passed. The one way the functions read their deadline.
pub fn time_until(deadline_ms: u64, clock: &dyn Clock) -> Option<Duration> {
    if deadline_ms == 0 {
        return None;
    }
    let left = i64::try_from(deadline_ms)
        .ok()?
        .checked_sub(clock.now_millis())?;
    u64::try_from(left)
        .ok()
        .filter(|left| *left > 0)
        .map(Duration::from_millis)
}

/// A scheduled invocation's deadline (`deadline_ms`, as [`time_until`] reads it) as an
/// [`std::time::Instant`]. A missing (0) or already past deadline is no real one: local runners send
/// such (`cargo lambda watch` sends the same fixed value, 600,000 ms after the epoch, with every
/// invocation); `when_unknown` from now is assumed instead, and logged.
pub fn deadline_or(
    deadline_ms: u64,
    clock: &dyn Clock,
    when_unknown: Duration,
) -> std::time::Instant {
    match time_until(deadline_ms, clock) {
        Some(left) => std::time::Instant::now() + left,
        None => {
            tracing::warn!(
                deadline_ms,
                assumed_secs = when_unknown.as_secs(),
                "the invocation carries no usable deadline (a local runner?); assuming one"
            );
            std::time::Instant::now() + when_unknown
        }
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> EpochSeconds {
        self.now_millis().div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(now: EpochSeconds) -> Self {
        Self(Arc::new(AtomicI64::new(now)))
    }

    pub fn set(&self, now: EpochSeconds) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> EpochSeconds {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let c = ManualClock::at(1_000);
        let d = c.clone();
        c.advance(5);
        assert_eq!(d.now(), 1_005);
        d.set(7);
        assert_eq!(c.now(), 7);
    }

    #[test]
    fn the_time_until_a_deadline_is_read_through_the_clock() {
        let clock = ManualClock::at(1_000);
        assert_eq!(
            time_until(1_003_500, &clock),
            Some(Duration::from_millis(3_500))
        );
        // No deadline, one that has passed, and one due this very millisecond.
        assert_eq!(time_until(0, &clock), None);
        assert_eq!(time_until(999_000, &clock), None);
        assert_eq!(time_until(1_000_000, &clock), None);
        clock.advance(3);
        assert_eq!(
            time_until(1_003_500, &clock),
            Some(Duration::from_millis(500))
        );
    }
}
