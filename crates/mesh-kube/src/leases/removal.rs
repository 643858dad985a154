//! Deleting leases: a replica's own member lease when it stops cleanly, and the member leases of
//! replicas that are gone (killed, their machine lost) once nobody has renewed them for many
//! lease times. Every delete is guarded by the `resourceVersion` this process knows, so a lease
//! written in the meantime (renewed by a replica that is only slow) is never deleted: the API
//! server answers `409` and it stays.

use std::time::Duration;

use kube::api::{DeleteParams, Preconditions};
use mesh_core::Result;

use super::{KubeLeases, holder_of, is_status, lock};

/// A delete that only lands on `version`.
fn guarded(version: Option<String>) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: version,
            uid: None,
        }),
        ..DeleteParams::default()
    }
}

impl KubeLeases {
    /// Deletes `name` when `holder` holds it; otherwise does nothing. One `DELETE` when this
    /// process holds it (a `GET` and a `DELETE` more after a `409`).
    ///
    /// # Errors
    /// [`mesh_core::Error::Backend`] when the API server cannot be reached or refuses.
    pub async fn remove(&self, name: &str, holder: &str) -> Result<()> {
        if let Some(lease) = self.mine(name, holder) {
            self.forget(name);
            match self.delete(name, lease.metadata.resource_version).await {
                Ok(()) => return Ok(()),
                Err(e) if is_status(&e, 404) => return Ok(()),
                // Written by someone else since our last write: see whose it is now.
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(self.failed(e)),
            }
        }
        let Some(lease) = self.api.get_opt(name).await.map_err(|e| self.failed(e))? else {
            return Ok(());
        };
        if holder_of(&lease) != Some(holder) {
            return Ok(());
        }
        match self.delete(name, lease.metadata.resource_version).await {
            Ok(()) => Ok(()),
            // Gone, or taken over between the read and the delete: no longer ours to delete.
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Deletes the leases whose names start with `prefix` that nobody renewed for `ttls` times
    /// their `leaseDurationSeconds`, judged on this process's clock from when it last saw each
    /// change (so only leases [`holders`](Self::holders) or a read has seen, and only after
    /// this process has watched them unchanged that long). Each delete is guarded by the
    /// `resourceVersion` seen: a lease renewed since is kept. Returns the names deleted; sends
    /// no request when none is that old.
    ///
    /// # Errors
    /// [`mesh_core::Error::Backend`] when the API server cannot be reached or refuses.
    pub async fn remove_expired(&self, prefix: &str, ttls: u32) -> Result<Vec<String>> {
        let old: Vec<(String, String)> = {
            let mine = lock(&self.mine);
            lock(&self.seen)
                .iter()
                .filter(|(name, seen)| {
                    name.starts_with(prefix)
                        && !mine.contains_key(*name)
                        && seen.changed_at.elapsed() >= seen.duration.max(Duration::from_secs(1)) * ttls
                })
                .map(|(name, seen)| (name.clone(), seen.version.clone()))
                .collect()
        };
        let mut removed = Vec::new();
        for (name, version) in old {
            match self.delete(&name, Some(version)).await {
                Ok(()) => {
                    lock(&self.seen).remove(&name);
                    removed.push(name);
                }
                // Already gone (another replica deleted it): forget it.
                Err(e) if is_status(&e, 404) => {
                    lock(&self.seen).remove(&name);
                }
                // Renewed since it was seen: kept, and the next list sees the change.
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(self.failed(e)),
            }
        }
        Ok(removed)
    }

    /// One `DELETE` of `name`, guarded by `version`.
    async fn delete(&self, name: &str, version: Option<String>) -> kube::Result<()> {
        self.api.delete(name, &guarded(version)).await.map(|_| ())
    }
}
