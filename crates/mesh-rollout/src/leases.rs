//! Controller replicas sharing the rollouts through leases: the declarations hash into a fixed
//! number of shards, each shard is a lease, and each replica holds about its share of them.
//!
//! - Every replica announces itself with a member lease and counts the live ones, so each aims at
//!   `ceil(shards / replicas)`; a replica above that gives the surplus up (its rollouts stop
//!   where they are first), one below takes free or expired shards.
//! - A replica renews what it holds every third of the lease's time to live, and stops the
//!   rollouts of a shard it could not renew for two thirds of it: it has stopped before any other
//!   replica may take the shard over.
//! - A shard's rollouts always run under the same runner name, whoever holds the lease, so the
//!   replica that takes a shard over resumes its rollouts from the stored state.
//! - A replica that stops cleanly deletes its member lease ([`LeaseStore::remove`]); a live
//!   replica deletes the member leases nobody renewed for [`MEMBER_GC_TTLS`] times their time to
//!   live ([`LeaseStore::remove_expired`]), so killed replicas' members do not pile up.
//!
//! The store is Kubernetes Leases (coordination.k8s.io) or Consul sessions and KV locks; the
//! CLI plugs them in, and [`MemoryLeases`] serves tests.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::future::BoxFuture;
use mesh::{Error, Result};
use tokio::time::Instant;

use crate::controller::shard_of;

/// Where leases live. A lease is held by one holder at a time, for a time to live that each
/// [`hold`](LeaseStore::hold) renews.
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes `lease` for `holder`, or renews it when `holder` has it, for `ttl`. `Ok(true)` when
    /// `holder` holds it afterwards; `Ok(false)` when another holder does (renewed within its
    /// time to live, as this store sees it).
    fn hold<'a>(&'a self, lease: &'a str, holder: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>>;

    /// Gives `lease` up when `holder` holds it; otherwise does nothing.
    fn release<'a>(&'a self, lease: &'a str, holder: &'a str) -> BoxFuture<'a, Result<()>>;

    /// The holders of the live (held and unexpired) leases whose names start with `prefix`.
    fn holders<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>>>;

    /// Deletes `lease` when `holder` holds it; otherwise does nothing. A replica that stops
    /// cleanly deletes its member lease this way.
    fn remove<'a>(&'a self, lease: &'a str, holder: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Deletes the leases whose names start with `prefix` that nobody renewed for `ttls` times
    /// their time to live (as this store has seen them, since
    /// [`holders`](LeaseStore::holders) last listed them), and returns their names. A lease
    /// renewed in the meantime is kept.
    fn remove_expired<'a>(&'a self, prefix: &'a str, ttls: u32) -> BoxFuture<'a, Result<Vec<String>>>;
}

/// Leases in memory, on tokio's clock (so tests can pause it): for tests and examples.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// use std::time::Duration;
/// use mesh_rollout::{LeaseStore, MemoryLeases};
/// let leases = MemoryLeases::default();
/// let ttl = Duration::from_secs(15);
/// assert!(leases.hold("shard-0", "a", ttl).await?);
/// assert!(!leases.hold("shard-0", "b", ttl).await?, "held by a");
/// tokio::time::sleep(ttl).await;
/// assert!(leases.hold("shard-0", "b", ttl).await?, "a did not renew it in time");
/// # Ok::<(), mesh::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryLeases {
    held: Mutex<HashMap<String, Held>>,
}

/// A lease in memory: its holder, when it expires, and its time to live.
#[derive(Debug)]
struct Held {
    holder: String,
    until: Instant,
    ttl: Duration,
}

impl MemoryLeases {
    /// The names of the leases stored (held, expired or not), in no order: what a store would
    /// still list.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.with(|held| held.keys().cloned().collect())
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Held>) -> T) -> T {
        f(&mut self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl LeaseStore for MemoryLeases {
    fn hold<'a>(&'a self, lease: &'a str, holder: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let now = Instant::now();
        let taken = self.with(|held| match held.get(lease) {
            Some(h) if h.holder != holder && h.until > now => false,
            _ => {
                let h = Held {
                    holder: holder.to_owned(),
                    until: now + ttl,
                    ttl,
                };
                held.insert(lease.to_owned(), h);
                true
            }
        });
        Box::pin(std::future::ready(Ok(taken)))
    }

    fn release<'a>(&'a self, lease: &'a str, holder: &'a str) -> BoxFuture<'a, Result<()>> {
        self.with(|held| {
            if held.get(lease).is_some_and(|h| h.holder == holder) {
                held.remove(lease);
            }
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove<'a>(&'a self, lease: &'a str, holder: &'a str) -> BoxFuture<'a, Result<()>> {
        // A released lease is gone from memory already: both are a removal here.
        self.release(lease, holder)
    }

    fn remove_expired<'a>(&'a self, prefix: &'a str, ttls: u32) -> BoxFuture<'a, Result<Vec<String>>> {
        let now = Instant::now();
        let removed = self.with(|held| {
            let old: Vec<String> = held
                .iter()
                .filter(|(name, h)| {
                    let renewed = h.until.checked_sub(h.ttl).unwrap_or(h.until);
                    name.starts_with(prefix) && now.duration_since(renewed) >= h.ttl * ttls
                })
                .map(|(name, _)| name.clone())
                .collect();
            for name in &old {
                held.remove(name);
            }
            old
        });
        Box::pin(std::future::ready(Ok(removed)))
    }

    fn holders<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        let now = Instant::now();
        let live = self.with(|held| {
            held.iter()
                .filter(|(name, h)| name.starts_with(prefix) && h.until > now)
                .map(|(_, h)| h.holder.clone())
                .collect()
        });
        Box::pin(std::future::ready(Ok(live)))
    }
}

/// What one round of [`ShardLeases::tick`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShardChanges {
    /// Shards this replica holds now and did not before: start their rollouts.
    pub gained: Vec<u32>,
    /// Shards it could not renew in time or found taken: stop their rollouts.
    pub lost: Vec<u32>,
    /// Shards above its share: stop their rollouts, then [`ShardLeases::release`] them.
    pub surplus: Vec<u32>,
    /// Why the store could not be reached to announce this replica, if it could not; held
    /// shards stay held until their renewal is overdue (two thirds of the time to live).
    pub unreachable: Option<String>,
}

/// The shards one controller replica holds, as leases in a [`LeaseStore`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// use std::{sync::Arc, time::Duration};
/// use mesh_rollout::{MemoryLeases, ShardLeases};
/// let store = Arc::new(MemoryLeases::default());
/// let ttl = Duration::from_secs(15);
/// let mut a = ShardLeases::new(store.clone(), "rollouts", "replica-a", 4, ttl)?;
/// assert_eq!(a.tick().await.gained, [0, 1, 2, 3], "alone, it takes every shard");
/// let mut b = ShardLeases::new(store.clone(), "rollouts", "replica-b", 4, ttl)?;
/// assert!(b.tick().await.gained.is_empty(), "all taken");
/// let surplus = a.tick().await.surplus;
/// assert_eq!(surplus.len(), 2, "two replicas: two shards each");
/// a.release(&surplus).await;
/// assert_eq!(b.tick().await.gained.len(), 2);
/// # Ok::<(), mesh::Error>(())
/// # }).unwrap();
/// ```
pub struct ShardLeases {
    store: Arc<dyn LeaseStore>,
    group: String,
    replica: String,
    shards: u32,
    ttl: Duration,
    /// Each held shard, and when its lease was last renewed.
    owned: BTreeMap<u32, Instant>,
}

impl std::fmt::Debug for ShardLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardLeases")
            .field("group", &self.group)
            .field("replica", &self.replica)
            .field("shards", &self.shards)
            .field("ttl", &self.ttl)
            .field("owned", &self.owned.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The most shards a group may have.
pub const MAX_SHARDS: u32 = 1024;

/// A member lease nobody renewed for this many times its time to live is deleted by the live
/// replicas: a replica that was killed leaves no member behind for long, and one that is only
/// slow (it renews late, but within this) is never deleted while it may still renew.
pub const MEMBER_GC_TTLS: u32 = 10;

/// The name of shard `index`'s lease in the group `group`: `<group>-shard-<index>`.
#[must_use]
pub fn shard_lease(group: &str, index: u32) -> String {
    format!("{group}-shard-{index}")
}

impl ShardLeases {
    /// Replica `replica` of the controllers named `group`, sharing `shards` shards; each lease
    /// lives `ttl` unless renewed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a group or replica name that is not a short DNS label, 0 or more than [`MAX_SHARDS`]
    /// shards, or a time to live under 3 seconds.
    pub fn new(
        store: Arc<dyn LeaseStore>,
        group: &str,
        replica: &str,
        shards: u32,
        ttl: Duration,
    ) -> Result<Self> {
        for (field, value) in [("lease group", group), ("replica", replica)] {
            if !is_dns_label(value) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{value:?}: 1 to 40 lowercase letters, digits and '-', starting and ending with a letter or digit (it names Kubernetes Leases and Consul keys)"
                    ),
                ));
            }
        }
        if shards == 0 || shards > MAX_SHARDS {
            return Err(Error::invalid(
                "shards",
                format!("{shards}: between 1 and {MAX_SHARDS}"),
            ));
        }
        if ttl < Duration::from_secs(3) {
            return Err(Error::invalid(
                "lease time to live",
                format!("{ttl:?}: at least 3 s, so that renewals every third of it are not a storm"),
            ));
        }
        Ok(Self {
            store,
            group: group.to_owned(),
            replica: replica.to_owned(),
            shards,
            ttl,
            owned: BTreeMap::new(),
        })
    }

    /// The name of shard `index`'s lease: `<group>-shard-<index>`.
    #[must_use]
    pub fn shard_lease(&self, index: u32) -> String {
        shard_lease(&self.group, index)
    }

    /// The lease group's name.
    #[must_use]
    pub fn group(&self) -> &str {
        &self.group
    }

    fn member_prefix(&self) -> String {
        format!("{}-member-", self.group)
    }

    fn member_lease(&self) -> String {
        format!("{}{}", self.member_prefix(), self.replica)
    }

    /// How often to [`tick`](Self::tick): a third of the time to live.
    #[must_use]
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// This replica's name.
    #[must_use]
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// How many shards the declarations hash into.
    #[must_use]
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// The shard `name` hashes into.
    #[must_use]
    pub fn shard_of(&self, name: &str) -> u32 {
        shard_of(name, self.shards)
    }

    /// Whether this replica holds the shard of `name`.
    #[must_use]
    pub fn owns(&self, name: &str) -> bool {
        self.owned.contains_key(&self.shard_of(name))
    }

    /// The shards held now.
    #[must_use]
    pub fn held(&self) -> Vec<u32> {
        self.owned.keys().copied().collect()
    }

    /// One round: announce this replica, count the live ones, renew the held shards, and take
    /// free ones up to this replica's share (or name the surplus above it).
    ///
    /// When the store cannot be reached, [`ShardChanges::unreachable`] says why; the held shards
    /// stay held until their renewal is overdue (two thirds of the time to live), and are then
    /// reported lost.
    pub async fn tick(&mut self) -> ShardChanges {
        let mut changes = ShardChanges::default();
        let now = Instant::now();
        let announced = self.announce().await;
        // Renew before anything else: a renewal that fails for too long means another replica
        // may take the shard soon, so its rollouts stop now.
        let held: Vec<u32> = self.owned.keys().copied().collect();
        for shard in held {
            match self
                .store
                .hold(&self.shard_lease(shard), &self.replica, self.ttl)
                .await
            {
                Ok(true) => {
                    self.owned.insert(shard, now);
                }
                Ok(false) => {
                    self.owned.remove(&shard);
                    changes.lost.push(shard);
                }
                Err(e) => {
                    let last = self.owned[&shard];
                    if now.duration_since(last) >= self.ttl * 2 / 3 {
                        tracing::warn!(shard, error = %e, "lease renewal overdue: stopping the shard's rollouts");
                        self.owned.remove(&shard);
                        changes.lost.push(shard);
                    }
                }
            }
        }
        let replicas = match announced {
            Ok(n) => n,
            Err(e) => {
                changes.unreachable = Some(e.to_string());
                return changes;
            }
        };
        let share = self.shards.div_ceil(replicas.max(1));
        let mut count = u32::try_from(self.owned.len()).unwrap_or(u32::MAX);
        if count > share {
            changes.surplus = self
                .owned
                .keys()
                .rev()
                .take((count - share) as usize)
                .copied()
                .collect();
            changes.surplus.sort_unstable();
            return changes;
        }
        // Start where this replica's name points, so that replicas starting together try
        // different shards first.
        let start = shard_of(&self.replica, self.shards);
        for offset in 0..self.shards {
            if count >= share {
                break;
            }
            let shard = (start + offset) % self.shards;
            if self.owned.contains_key(&shard) || changes.lost.contains(&shard) {
                continue;
            }
            if let Ok(true) = self
                .store
                .hold(&self.shard_lease(shard), &self.replica, self.ttl)
                .await
            {
                self.owned.insert(shard, now);
                changes.gained.push(shard);
                count += 1;
            }
        }
        changes.gained.sort_unstable();
        changes
    }

    /// Renews this replica's member lease, counts the live members, and deletes the members
    /// nobody renewed for [`MEMBER_GC_TTLS`] times their time to live.
    async fn announce(&self) -> Result<u32> {
        self.store
            .hold(&self.member_lease(), &self.replica, self.ttl)
            .await?;
        let prefix = self.member_prefix();
        let members = self.store.holders(&prefix).await?;
        match self.store.remove_expired(&prefix, MEMBER_GC_TTLS).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(
                    ?removed,
                    "deleted the member leases of replicas gone for {MEMBER_GC_TTLS} lease times"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "deleting long-expired member leases failed; tried again next round")
            }
        }
        Ok(u32::try_from(members.len()).unwrap_or(u32::MAX).max(1))
    }

    /// Gives `shards` up (after their rollouts stopped), so another replica can take them at once.
    /// Best effort: a release that fails expires with the lease's time to live.
    pub async fn release(&mut self, shards: &[u32]) {
        for &shard in shards {
            self.owned.remove(&shard);
            if let Err(e) = self.store.release(&self.shard_lease(shard), &self.replica).await {
                tracing::warn!(shard, error = %e, "releasing a shard lease failed; it expires on its own");
            }
        }
    }

    /// Gives every shard up and deletes the member lease: a replica that stops cleanly hands
    /// its rollouts over at once instead of after the time to live, and leaves no member behind.
    pub async fn release_all(&mut self) {
        let held = self.held();
        self.release(&held).await;
        if let Err(e) = self.store.remove(&self.member_lease(), &self.replica).await {
            tracing::warn!(error = %e, "deleting the member lease failed; it expires on its own");
        }
    }
}

/// 1 to 40 of `[a-z0-9-]`, not starting or ending with `-`: room for `-member-` or `-shard-N`
/// inside Kubernetes' 253 characters, and a plain Consul key segment.
fn is_dns_label(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_name_a_lease_are_refused() {
        let store: Arc<dyn LeaseStore> = Arc::new(MemoryLeases::default());
        let ttl = Duration::from_secs(15);
        for (group, replica) in [
            ("", "a"),
            ("g", ""),
            ("G", "a"),
            ("g", "a/b"),
            ("g", "-a"),
            ("g", &"a".repeat(41)),
        ] {
            let err = ShardLeases::new(Arc::clone(&store), group, replica, 4, ttl).unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{group:?} {replica:?}");
        }
        assert!(ShardLeases::new(Arc::clone(&store), "g", "a", 0, ttl).is_err());
        assert!(ShardLeases::new(Arc::clone(&store), "g", "a", MAX_SHARDS + 1, ttl).is_err());
        assert!(ShardLeases::new(Arc::clone(&store), "g", "a", 4, Duration::from_secs(2)).is_err());
        assert!(ShardLeases::new(store, "meshctl-rollouts", "host-1234", 4, ttl).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn members_nobody_renews_are_deleted_after_ten_lease_times_and_stopped_ones_at_once() {
        let store = Arc::new(MemoryLeases::default());
        let ttl = Duration::from_secs(15);
        let replica = |name: &str| ShardLeases::new(store.clone(), "g", name, 2, ttl).unwrap();
        let (mut a, mut killed, mut stopped) = (replica("a"), replica("killed"), replica("stopped"));
        for r in [&mut a, &mut killed, &mut stopped] {
            r.tick().await;
        }
        stopped.release_all().await;
        let members = || {
            let mut names: Vec<String> = store
                .names()
                .into_iter()
                .filter(|n| n.starts_with("g-member-"))
                .collect();
            names.sort();
            names
        };
        assert_eq!(members(), ["g-member-a", "g-member-killed"]);
        for _ in 1..3 * MEMBER_GC_TTLS {
            tokio::time::sleep(a.renew_every()).await;
            a.tick().await;
        }
        assert_eq!(
            members(),
            ["g-member-a", "g-member-killed"],
            "not yet ten lease times"
        );
        tokio::time::sleep(a.renew_every()).await;
        a.tick().await;
        assert_eq!(members(), ["g-member-a"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_replica_that_cannot_renew_stops_before_another_may_take_over() {
        /// Answers every call with an error once `down` is set.
        #[derive(Default)]
        struct Flaky {
            inner: MemoryLeases,
            down: std::sync::atomic::AtomicBool,
        }
        impl Flaky {
            fn up(&self) -> Result<()> {
                if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                    Err(Error::not_configured("lease store", "down in this test"))
                } else {
                    Ok(())
                }
            }
        }
        impl LeaseStore for Flaky {
            fn hold<'a>(
                &'a self,
                lease: &'a str,
                holder: &'a str,
                ttl: Duration,
            ) -> BoxFuture<'a, Result<bool>> {
                Box::pin(async move {
                    self.up()?;
                    self.inner.hold(lease, holder, ttl).await
                })
            }
            fn release<'a>(&'a self, lease: &'a str, holder: &'a str) -> BoxFuture<'a, Result<()>> {
                Box::pin(async move {
                    self.up()?;
                    self.inner.release(lease, holder).await
                })
            }
            fn holders<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
                Box::pin(async move {
                    self.up()?;
                    self.inner.holders(prefix).await
                })
            }
            fn remove<'a>(&'a self, lease: &'a str, holder: &'a str) -> BoxFuture<'a, Result<()>> {
                Box::pin(async move {
                    self.up()?;
                    self.inner.remove(lease, holder).await
                })
            }
            fn remove_expired<'a>(
                &'a self,
                prefix: &'a str,
                ttls: u32,
            ) -> BoxFuture<'a, Result<Vec<String>>> {
                Box::pin(async move {
                    self.up()?;
                    self.inner.remove_expired(prefix, ttls).await
                })
            }
        }
        let store = Arc::new(Flaky::default());
        let ttl = Duration::from_secs(15);
        let mut a = ShardLeases::new(store.clone(), "g", "a", 2, ttl).unwrap();
        assert_eq!(a.tick().await.gained, [0, 1]);
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        // One failed round within two thirds of the time to live: still held.
        tokio::time::sleep(a.renew_every()).await;
        assert!(a.tick().await.unreachable.is_some());
        assert_eq!(a.held(), [0, 1]);
        // Overdue: lost, while the leases are still valid for another third.
        tokio::time::sleep(a.renew_every()).await;
        let _ = a.tick().await;
        assert!(a.held().is_empty(), "stopped before the lease expires");
        store.down.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut b = ShardLeases::new(store.clone(), "g", "b", 2, ttl).unwrap();
        assert!(b.tick().await.gained.is_empty(), "not yet expired for others");
        tokio::time::sleep(a.renew_every()).await;
        assert_eq!(b.tick().await.gained, [0, 1], "expired: taken over");
    }
}
