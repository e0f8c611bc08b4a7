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

/// Beijing time (UTC+8), in which WeChat counts its daily and monthly quotas: the audit quota, the
/// withdrawals of an audit.
const BEIJING: time::UtcOffset = match time::UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// The Beijing calendar date of `at`. Instants outside the calendar's range (never a real clock's)
/// are clamped to its ends.
fn beijing_date(at: EpochSeconds) -> time::Date {
    let clamped = at.clamp(
        time::PrimitiveDateTime::MIN.assume_utc().unix_timestamp(),
        time::PrimitiveDateTime::MAX.assume_utc().unix_timestamp(),
    );
    time::OffsetDateTime::from_unix_timestamp(clamped)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(BEIJING)
        .date()
}

/// The Beijing-time month of `at` as `YYYYMM`.
pub fn beijing_month(at: EpochSeconds) -> u32 {
    let date = beijing_date(at);
    u32::try_from(date.year()).unwrap_or(0) * 100 + u32::from(u8::from(date.month()))
}

/// The Beijing-time day of `at` as `YYYYMMDD`.
pub fn beijing_day(at: EpochSeconds) -> u32 {
    beijing_month(at) * 100 + u32::from(beijing_date(at).day())
}

/// The first second of the Beijing-time month of `at`.
pub fn beijing_month_start(at: EpochSeconds) -> EpochSeconds {
    let date = beijing_date(at);
    date.replace_day(1)
        .unwrap_or(date)
        .midnight()
        .assume_offset(BEIJING)
        .unix_timestamp()
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

    #[test]
    fn beijing_days_and_months_turn_at_midnight_utc_plus_8() {
        // 2026-11-30 16:00 UTC is 2026-12-01 00:00 in Beijing.
        let december = 1_796_054_400;
        assert_eq!(beijing_month(december - 1), 202611);
        assert_eq!(beijing_day(december - 1), 20261130);
        assert_eq!(beijing_month(december), 202612);
        assert_eq!(beijing_day(december), 20261201);
        assert_eq!(beijing_month(0), 197001);
        // 2024-02-29 12:00 UTC, a leap day.
        assert_eq!(beijing_day(1_709_208_000), 20240229);
        assert_eq!(beijing_month_start(december + 86_400 * 20), december);
        assert_eq!(beijing_month_start(december), december);
        assert_eq!(beijing_month_start(december - 1), 1_793_462_400);
    }
}
