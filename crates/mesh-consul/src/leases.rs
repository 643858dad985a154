//! Leases for controller replicas on Consul: one session per holder, renewed while it holds
//! anything, and a KV lock per lease under [`LEASE_PREFIX`] (the value names the holder). When a
//! holder stops renewing, Consul ends its session after the TTL and deletes the keys it locked
//! (`Behavior: delete`), so another holder takes them: a killed replica's member key goes with
//! its session, and [`ConsulLeases::remove_expired`] has nothing left to do. A released key is
//! no longer locked, so its session's end does not delete it: a replica that stops cleanly
//! deletes its member key itself ([`ConsulLeases::remove`]).

use std::{collections::HashMap, sync::Arc, time::Duration};

use mesh_core::{Error, MeshKind, Result};
use tokio::{sync::Mutex, time::Instant};

use crate::ConsulBackend;

/// Where the lease keys live.
pub const LEASE_PREFIX: &str = "meshctl/leases/";

/// A holder's session and when it was last renewed.
#[derive(Debug)]
struct Session {
    id: String,
    renewed: Instant,
}

/// Leases as Consul sessions and KV locks.
///
/// ```no_run
/// # async fn demo(backend: std::sync::Arc<mesh_consul::ConsulBackend>) -> mesh_core::Result<()> {
/// use std::time::Duration;
/// use mesh_consul::leases::ConsulLeases;
/// let leases = ConsulLeases::new(backend);
/// if leases.hold("rollouts-shard-0", "replica-a", Duration::from_secs(15)).await? {
///     // This replica runs shard 0's rollouts until it fails to renew.
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConsulLeases {
    backend: Arc<ConsulBackend>,
    sessions: Mutex<HashMap<String, Session>>,
}

fn failed(e: crate::client::Error) -> Error {
    Error::backend(MeshKind::Consul, e)
}

impl ConsulLeases {
    /// Leases on `backend`'s agent.
    #[must_use]
    pub fn new(backend: Arc<ConsulBackend>) -> Self {
        Self {
            backend,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// `holder`'s session, created or renewed when its last renewal is a quarter of `ttl` old.
    async fn session(&self, holder: &str, ttl: Duration) -> Result<String> {
        let client = self.backend.client();
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get_mut(holder) {
            if s.renewed.elapsed() < ttl / 4 {
                return Ok(s.id.clone());
            }
            if client.session_renew(&s.id).await.map_err(failed)? {
                s.renewed = Instant::now();
                return Ok(s.id.clone());
            }
            // Expired: its locks are gone; a new session takes what is free again.
            tracing::warn!(holder, "the Consul session expired; its leases are lost");
        }
        let id = client
            .session_create(&format!("meshctl {holder}"), ttl)
            .await
            .map_err(|e| match e {
                crate::client::Error::Config { what, reason } => Error::invalid(what, reason),
                other => failed(other),
            })?;
        sessions.insert(
            holder.to_owned(),
            Session {
                id: id.clone(),
                renewed: Instant::now(),
            },
        );
        Ok(id)
    }

    /// Takes `name` for `holder`, or keeps it, for `ttl` (10 s to 24 h, Consul's session
    /// bounds): `Ok(true)` when `holder` holds it afterwards.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a TTL outside Consul's bounds; [`Error::Backend`] when the
    /// agent cannot be reached or refuses.
    pub async fn hold(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let session = self.session(holder, ttl).await?;
        self.backend
            .client()
            .kv_acquire(&format!("{LEASE_PREFIX}{name}"), holder.as_bytes(), &session)
            .await
            .map_err(failed)
    }

    /// Gives `name` up when `holder` holds it.
    ///
    /// # Errors
    /// [`Error::Backend`] when the agent cannot be reached or refuses.
    pub async fn release(&self, name: &str, holder: &str) -> Result<()> {
        let session = self.sessions.lock().await.get(holder).map(|s| s.id.clone());
        if let Some(session) = session {
            self.backend
                .client()
                .kv_release(&format!("{LEASE_PREFIX}{name}"), &session)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    /// The holders of the locked leases whose names start with `prefix`, in one request.
    ///
    /// # Errors
    /// [`Error::Backend`] when the agent cannot be reached or refuses.
    pub async fn holders(&self, prefix: &str) -> Result<Vec<String>> {
        let locked = self
            .backend
            .client()
            .kv_locked(&format!("{LEASE_PREFIX}{prefix}"))
            .await
            .map_err(failed)?;
        Ok(locked
            .into_iter()
            .map(|(_, value)| String::from_utf8_lossy(&value).into_owned())
            .collect())
    }

    /// Deletes `name` when `holder`'s session holds it (a read and a check-and-set delete).
    ///
    /// # Errors
    /// [`Error::Backend`] when the agent cannot be reached or refuses.
    pub async fn remove(&self, name: &str, holder: &str) -> Result<()> {
        let session = self.sessions.lock().await.get(holder).map(|s| s.id.clone());
        if let Some(session) = session {
            self.backend
                .client()
                .kv_delete_held(&format!("{LEASE_PREFIX}{name}"), &session)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    /// Nothing to delete, and no request: Consul deletes the keys of a session that ended
    /// (`Behavior: delete`), so a member whose replica stopped renewing goes within the
    /// session's TTL (twice it at most, as Consul counts), and a replica that stops cleanly
    /// [`remove`](Self::remove)s its own.
    /// It is async and fallible only to match the other lease stores; it never fails.
    ///
    /// # Errors
    /// None.
    pub async fn remove_expired(&self, _prefix: &str, _ttls: u32) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}
