//! How often and how long to retry a failed call: jittered exponential backoff, bounded in attempts
//! and in total time.

use std::time::Duration;

/// Retry limits. Only errors for which [`super::WechatError::is_retryable`] holds are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
    /// Upper bound of the whole call, attempts and backoffs together. An attempt's timeout is cut to
    /// what is left of it, and no retry starts once it is spent.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// A single attempt.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff ceiling before attempt `attempt + 1` (`attempt` ≥ 1 is the attempt that failed).
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }

    /// The backoff to sleep before attempt `attempt + 1`: uniformly random in the upper half of the
    /// ceiling, so that workers that failed together do not retry together.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling.mul_f64(rand::random_range(0.5..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_in_the_upper_half() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_elapsed: Duration::from_secs(10),
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(400));
        assert_eq!(p.ceiling(4), Duration::from_millis(500));
        assert_eq!(p.ceiling(60), Duration::from_millis(500));
        for attempt in 1..8 {
            let b = p.backoff(attempt);
            assert!(b >= p.ceiling(attempt) / 2 && b <= p.ceiling(attempt));
        }
    }
}
