//! When to try a request again: exponential backoff with jitter, bounded in attempts and time.

use std::{
    hash::{BuildHasher, RandomState},
    time::Duration,
};

/// How the engine retries requests that failed transiently: 429 (honouring `Retry-After`), 5xx,
/// timeouts and dropped connections.
///
/// Waits grow exponentially from `initial_backoff` up to `max_backoff`, each drawn at random
/// between half and all of that bound, so that many clients do not retry in step. The engine
/// gives up after `max_attempts` attempts, or earlier when the next wait would end past
/// `max_elapsed`; a `Retry-After` longer than what is left of `max_elapsed` also ends the
/// retries. Waits use tokio's clock, so tests can run with `tokio::time::pause()`.
///
/// ```
/// use std::time::Duration;
/// use mesh_kube::RetryPolicy;
/// let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
/// assert!(policy.backoff(0) <= Duration::from_millis(200));
/// assert!(policy.backoff(0) >= Duration::from_millis(100));
/// assert!(policy.backoff(30) <= policy.max_backoff);
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The bound of the first wait.
    pub initial_backoff: Duration,
    /// The largest wait between two attempts (not applied to `Retry-After`).
    pub max_backoff: Duration,
    /// The time after which no new attempt starts.
    pub max_elapsed: Duration,
    /// How long one request may take before it counts as timed out.
    pub request_timeout: Duration,
    /// The largest answer body kept, in bytes ([`mesh_core::body_cap::DEFAULT_MAX_BODY`] by
    /// default); a larger one fails with [`crate::KubeError::TooLarge`] and is not retried.
    pub max_body: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            max_body: mesh_core::body_cap::DEFAULT_MAX_BODY,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0 for the first retry), with jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let bound = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_backoff);
        // Equal jitter: between half and all of the bound.
        bound.mul_f64(0.5 + 0.5 * unit_random())
    }
}

/// A number in `[0, 1)` from the standard library's per-process random hasher keys.
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for retry in 0..10 {
            let bound = p.initial_backoff.saturating_mul(1 << retry).min(p.max_backoff);
            let d = p.backoff(retry);
            assert!(d >= bound / 2 && d <= bound, "retry {retry}: {d:?} vs {bound:?}");
        }
        assert!(p.backoff(u32::MAX) <= p.max_backoff);
    }
}
