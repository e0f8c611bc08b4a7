//! A deadline for every WeChat call made inside a piece of work, whichever client or helper makes
//! it: [`within`] sets one for a future, and the client cuts each call (attempts, retries and
//! backoffs) to end by the earliest deadline in force, on top of its own retry budget.
//!
//! The token service bounds the calls it makes under a refresh lease by that lease, and the
//! refresher bounds each refresh by what its invocation has left, so that no call outlives the lease
//! that made it the only one, nor the function that waits for its answer. Nested deadlines only
//! shorten: the inner work gets the earlier of the two. The deadline belongs to the task that runs
//! the future; a task spawned inside it does not inherit it.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static CALL_DEADLINE: Instant;
}

/// Runs `work` with every WeChat call in it ending by `deadline` (or by an earlier deadline already
/// in force).
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    CALL_DEADLINE.scope(deadline, work).await
}

/// The deadline in force for the current task, if any.
pub fn current() -> Option<Instant> {
    CALL_DEADLINE.try_with(|d| *d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_inner_deadline_only_shortens_the_outer_one() {
        let now = Instant::now();
        let early = now + Duration::from_secs(1);
        let late = now + Duration::from_secs(5);
        assert_eq!(current(), None);
        within(late, async {
            assert_eq!(current(), Some(late));
            within(early, async { assert_eq!(current(), Some(early)) }).await;
            within(late + Duration::from_secs(5), async {
                assert_eq!(current(), Some(late))
            })
            .await;
        })
        .await;
        within(early, async {
            within(late, async { assert_eq!(current(), Some(early)) }).await
        })
        .await;
        assert_eq!(current(), None);
    }
}
