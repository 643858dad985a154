//! Rollouts declared in Consul KV, watched with blocking queries: each entry under a prefix holds
//! a rollout spec (YAML or JSON). As `mesh_kube::declarations` does with a ConfigMap watch, the
//! stream reports what was declared, changed or removed, and reads nothing while nothing changes:
//! one request waits at the agent ([`ConsulClient::kv_list_blocking`]) until the prefix's index
//! moves, or for [`WatchOptions::wait`].
//!
//! Consul's rules for blocking queries (its API docs, "Blocking Queries", "Implementation
//! Details") are kept ([`next_index`]):
//! - an index that goes backwards (a snapshot restored, the key with the highest index deleted
//!   and its tombstone reaped) resets the watch to index 0: the next query answers at once with
//!   every entry, which is compared with what was seen, so nothing is missed or repeated;
//! - an index is never below 1 after an answer, so that every later query blocks;
//! - the loop is rate limited by a token bucket (a burst of [`WatchOptions::burst`], one more
//!   query per [`WatchOptions::refill`]): quick in the happy case, and no faster than one query
//!   per refill while the entries churn;
//! - errors back off exponentially up to [`WatchOptions::max_backoff`], keeping the index.
//!
//! An answer is no proof of a change: an entry is declared again only when its `ModifyIndex`
//! moved.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

use crate::{
    ConsulBackend,
    client::{ConsulClient, KvList},
};

/// A change to the declarations, as the watch saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationEvent {
    /// Declared or changed: the entry's key and its value (`None` when it is not UTF-8).
    Applied {
        /// The KV key.
        name: String,
        /// The spec's text.
        text: Option<String>,
    },
    /// The entry is gone.
    Deleted {
        /// The KV key.
        name: String,
    },
    /// A query failed; the watch retries with backoff on its own.
    Failed {
        /// What went wrong (no token in it: the client scrubs its errors).
        error: String,
    },
}

/// How a watch queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// How long one query waits at the agent for a change (Consul's default, 5 minutes; at
    /// most 10).
    pub wait: Duration,
    /// Queries that may follow each other without waiting.
    pub burst: u32,
    /// One more query per this much time, once the burst is spent.
    pub refill: Duration,
    /// The longest wait after failed queries (the first is one second, then doubling).
    pub max_backoff: Duration,
}

impl Default for WatchOptions {
    /// A 5-minute wait; a burst of 2 and one query per 2 s (the rate the controller polled at
    /// before, now reached only while the entries churn); up to 30 s between failed queries.
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(300),
            burst: 2,
            refill: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The index the next blocking query waits on, after a query that waited on `previous` was
/// answered with `returned`: 0 (start over) when the index went backwards, otherwise the
/// answer's index, and never below 1.
///
/// ```
/// use mesh_consul::declarations::next_index;
/// assert_eq!(next_index(0, 42), 42); // the first answer
/// assert_eq!(next_index(42, 42), 42); // the wait ran out: wait again
/// assert_eq!(next_index(42, 17), 0); // backwards: read everything again
/// assert_eq!(next_index(0, 0), 1); // never 0, which would not block
/// ```
#[must_use]
pub fn next_index(previous: u64, returned: u64) -> u64 {
    if returned < previous { 0 } else { returned.max(1) }
}

/// Watches the entries under `prefix` on `backend`'s agent.
pub fn watch_declarations(
    backend: Arc<ConsulBackend>,
    prefix: &str,
    options: WatchOptions,
) -> impl Stream<Item = DeclarationEvent> + Send + 'static {
    let watch = Watch {
        backend,
        prefix: prefix.to_owned(),
        options,
        index: 0,
        seen: BTreeMap::new(),
        bucket: Bucket::full(options.burst, options.refill),
        failures: 0,
    };
    futures_util::stream::unfold(watch, |mut watch| async move {
        let events = watch.step().await;
        Some((futures_util::stream::iter(events), watch))
    })
    .flatten()
}

/// A watch between two queries.
struct Watch {
    backend: Arc<ConsulBackend>,
    prefix: String,
    options: WatchOptions,
    /// The index the next query waits on.
    index: u64,
    /// Each entry's `ModifyIndex`, as last read.
    seen: BTreeMap<String, u64>,
    bucket: Bucket,
    /// Failed queries in a row.
    failures: u32,
}

impl Watch {
    fn client(&self) -> &ConsulClient {
        self.backend.client()
    }

    /// One query, and what changed.
    async fn step(&mut self) -> Vec<DeclarationEvent> {
        self.bucket.take().await;
        let answer = self
            .client()
            .kv_list_blocking(&self.prefix, self.index, self.options.wait)
            .await;
        match answer {
            Ok(list) => {
                self.failures = 0;
                self.index = next_index(self.index, list.index);
                self.changes(list)
            }
            Err(e) => {
                self.failures += 1;
                let backoff = Duration::from_secs(1)
                    .saturating_mul(2u32.saturating_pow(self.failures - 1))
                    .min(self.options.max_backoff);
                tracing::debug!(error = %e, ?backoff, "watching the declarations");
                tokio::time::sleep(backoff).await;
                vec![DeclarationEvent::Failed { error: e.to_string() }]
            }
        }
    }

    /// Entries new or changed since the last answer (their `ModifyIndex` moved), then those gone.
    fn changes(&mut self, list: KvList) -> Vec<DeclarationEvent> {
        let mut now = BTreeMap::new();
        let mut events = Vec::new();
        for pair in list.pairs {
            if self.seen.get(&pair.key) != Some(&pair.modify_index) {
                events.push(DeclarationEvent::Applied {
                    name: pair.key.clone(),
                    text: String::from_utf8(pair.value).ok(),
                });
            }
            now.insert(pair.key, pair.modify_index);
        }
        events.extend(
            self.seen
                .keys()
                .filter(|k| !now.contains_key(*k))
                .map(|name| DeclarationEvent::Deleted { name: name.clone() }),
        );
        self.seen = now;
        events
    }
}

/// A token bucket: `burst` queries at once, then one per `refill`.
struct Bucket {
    burst: u32,
    refill: Duration,
    tokens: u32,
    /// When the last token was added (or the bucket was full).
    since: Instant,
}

impl Bucket {
    fn full(burst: u32, refill: Duration) -> Self {
        let burst = burst.max(1);
        Self {
            burst,
            refill,
            tokens: burst,
            since: Instant::now(),
        }
    }

    /// Takes a token, waiting for one when none is left.
    async fn take(&mut self) {
        if self.refill.is_zero() {
            return;
        }
        let now = Instant::now();
        while self.tokens < self.burst && now >= self.since + self.refill {
            self.tokens += 1;
            self.since += self.refill;
        }
        if self.tokens == self.burst {
            self.since = now;
        }
        if self.tokens == 0 {
            tokio::time::sleep_until(self.since + self.refill).await;
            self.since += self.refill;
            return;
        }
        self.tokens -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_lets_a_burst_through_then_one_per_refill() {
        let start = Instant::now();
        let mut bucket = Bucket::full(2, Duration::from_secs(2));
        let mut at = Vec::new();
        for _ in 0..5 {
            bucket.take().await;
            at.push(start.elapsed().as_secs());
        }
        assert_eq!(at, [0, 0, 2, 4, 6]);
        // Idle long enough, the burst is back.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle = start.elapsed().as_secs();
        for _ in 0..3 {
            bucket.take().await;
        }
        assert_eq!(start.elapsed().as_secs(), idle + 2);
    }
}
