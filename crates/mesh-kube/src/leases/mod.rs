//! Leases (`coordination.k8s.io/v1`) for controller replicas, as client-go's leader election
//! uses them: a holder renews `spec.renewTime` within `spec.leaseDurationSeconds`, and another
//! takes the lease over once it has seen no change for that long. Expiry is judged on this
//! process's clock from when it last saw the lease change (its `resourceVersion`), never by
//! comparing the other replica's timestamps with ours, so clock skew between machines does not
//! matter. Every write is guarded by a `resourceVersion`: two replicas racing for one lease get
//! one success and one 409.
//!
//! Requests: renewing a lease this process holds is one `PUT`, guarded by the
//! `resourceVersion` of its own last successful write's answer (if it lands, nobody else wrote
//! the lease in between, so it is still ours). Only a `409` (someone else wrote it) costs a
//! `GET` more, and then the lease is kept only if the read shows it still ours (a write of ours
//! whose answer was lost), else given up. Taking a lease is a `GET` and a `PUT` (or `POST`);
//! giving one up a `PUT`; deleting one (a stopped replica's member, or one long gone) a
//! `DELETE`; counting holders one `LIST`.

mod removal;

use std::{collections::HashMap, sync::Mutex, time::Duration};

use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams},
};
use mesh_core::{Error, MeshKind, Result};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The label on every lease written here (its value: the lease's group, for `kubectl get leases -l`).
pub const LEASE_LABEL: &str = "meshctl.dev/lease";

/// What this process last saw of a lease, and when it saw it change.
#[derive(Debug, Clone)]
struct Seen {
    version: String,
    changed_at: Instant,
    /// The lease's `leaseDurationSeconds` as last seen.
    duration: Duration,
}

/// The Leases of one namespace.
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> mesh_core::Result<()> {
/// use std::time::Duration;
/// use mesh_core::MeshKind;
/// use mesh_kube::leases::KubeLeases;
/// let leases = KubeLeases::new(client, "prod", MeshKind::Istio);
/// if leases.hold("rollouts-shard-0", "replica-a", Duration::from_secs(15)).await? {
///     // This replica runs shard 0's rollouts until it fails to renew.
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct KubeLeases {
    api: Api<DynamicObject>,
    mesh: MeshKind,
    seen: Mutex<HashMap<String, Seen>>,
    /// The leases this process holds, as its own last successful write's answer left them:
    /// a renewal is one `PUT` guarded by that `resourceVersion`.
    mine: Mutex<HashMap<String, DynamicObject>>,
}

fn resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"))
}

/// Now as a Kubernetes `MicroTime`: RFC 3339 in UTC with microseconds.
fn micro_time() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Locks `m`, serving on after a panic elsewhere (the maps stay consistent: each update is one
/// insert or remove).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// True for an API server's answer with this status code.
fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == code)
}

impl KubeLeases {
    /// The Leases of `namespace`; errors are reported as `mesh`'s control plane failing.
    #[must_use]
    pub fn new(client: kube::Client, namespace: &str, mesh: MeshKind) -> Self {
        Self {
            api: Api::namespaced_with(client, namespace, &resource()),
            mesh,
            seen: Mutex::new(HashMap::new()),
            mine: Mutex::new(HashMap::new()),
        }
    }

    fn failed(&self, e: kube::Error) -> Error {
        Error::backend(self.mesh, e)
    }

    /// Records what was read; returns when the lease was last seen to change.
    fn observe(&self, name: &str, lease: &DynamicObject) -> Instant {
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let duration = duration_of(lease);
        let mut seen = lock(&self.seen);
        match seen.get_mut(name) {
            Some(s) if s.version == version => {
                s.duration = duration;
                s.changed_at
            }
            _ => {
                let now = Instant::now();
                seen.insert(
                    name.to_owned(),
                    Seen {
                        version,
                        changed_at: now,
                        duration,
                    },
                );
                now
            }
        }
    }

    /// Whether `lease` is held by someone other than `holder` and still live as seen here.
    fn held_by_other(&self, name: &str, lease: &DynamicObject, holder: &str) -> bool {
        let changed_at = self.observe(name, lease);
        match holder_of(lease) {
            None => false,
            Some(h) if h == holder => false,
            Some(_) => changed_at.elapsed() < duration_of(lease),
        }
    }

    /// `holder`'s last written copy of `name`, if this process holds it for `holder`.
    fn mine(&self, name: &str, holder: &str) -> Option<DynamicObject> {
        lock(&self.mine)
            .get(name)
            .filter(|lease| holder_of(lease) == Some(holder))
            .cloned()
    }

    fn forget(&self, name: &str) {
        lock(&self.mine).remove(name);
    }

    /// Takes `name` for `holder`, or renews it, for `ttl`: `Ok(true)` when `holder` holds it
    /// afterwards. A lease another holder renewed less than its duration ago (as this process
    /// saw it), or a lost race for it (409), is `Ok(false)`.
    ///
    /// A lease this process holds is renewed with one `PUT` (see the module docs); a `409`
    /// means someone else wrote it, and it is given up (`Ok(false)`) unless a read shows it
    /// still `holder`'s.
    ///
    /// # Errors
    /// [`Error::Backend`] when the API server cannot be reached or refuses (403, for one).
    pub async fn hold(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        if let Some(lease) = self.mine(name, holder) {
            match self.write_spec(name, lease, holder, ttl).await {
                Err(e) if is_status(&e, 409) || is_status(&e, 404) => {
                    // Written (or deleted) by someone else since our last write.
                    self.forget(name);
                    return self.renew_after_conflict(name, holder, ttl).await;
                }
                written => return self.answered(written),
            }
        }
        let Some(lease) = self.api.get_opt(name).await.map_err(|e| self.failed(e))? else {
            return self.create(name, holder, ttl).await;
        };
        if self.held_by_other(name, &lease, holder) {
            return Ok(false);
        }
        let written = self.write_spec(name, lease, holder, ttl).await;
        self.answered(written)
    }

    /// After a renewal's `409`: reads the lease, and renews it only if it is still `holder`'s
    /// (a write of ours whose answer was lost); otherwise it is lost.
    async fn renew_after_conflict(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let Some(lease) = self.api.get_opt(name).await.map_err(|e| self.failed(e))? else {
            return Ok(false);
        };
        self.observe(name, &lease);
        if holder_of(&lease) != Some(holder) {
            return Ok(false);
        }
        let written = self.write_spec(name, lease, holder, ttl).await;
        self.answered(written)
    }

    /// Creates `name`, held by `holder`.
    async fn create(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = micro_time();
        let lease = serde_json::from_value::<DynamicObject>(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "labels": {LEASE_LABEL: group_of(name)}},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": ttl.as_secs().max(1),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }))
        .map_err(|e| Error::invalid("lease", e.to_string()))?;
        let created = self.api.create(&PostParams::default(), &lease).await;
        self.answered(created)
    }

    /// Replaces `lease` (guarded by the `resourceVersion` it carries) with `holder` holding it
    /// for `ttl` from now.
    async fn write_spec(
        &self,
        name: &str,
        mut lease: DynamicObject,
        holder: &str,
        ttl: Duration,
    ) -> kube::Result<DynamicObject> {
        let now = micro_time();
        let spec = lease.data["spec"].take();
        let taken = holder_of_spec(&spec) != Some(holder);
        let transitions = spec["leaseTransitions"].as_i64().unwrap_or(0);
        lease.data["spec"] = json!({
            "holderIdentity": holder,
            "leaseDurationSeconds": ttl.as_secs().max(1),
            "acquireTime": if taken { Value::from(now.clone()) } else { spec["acquireTime"].clone() },
            "renewTime": now,
            "leaseTransitions": if taken { transitions + 1 } else { transitions },
        });
        self.api.replace(name, &PostParams::default(), &lease).await
    }

    /// A write's answer: landed (`true`), lost a race (`false`), or failed. A landed write is
    /// remembered as this process's own copy while it names a holder.
    fn answered(&self, result: kube::Result<DynamicObject>) -> Result<bool> {
        match result {
            Ok(lease) => {
                let name = lease.metadata.name.clone().unwrap_or_default();
                self.observe(&name, &lease);
                if holder_of(&lease).is_some() {
                    lock(&self.mine).insert(name, lease);
                } else {
                    self.forget(&name);
                }
                Ok(true)
            }
            Err(e) if is_status(&e, 409) => Ok(false),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Gives `name` up when `holder` holds it (the holder is cleared, so another takes it at
    /// once); otherwise does nothing. One `PUT` when this process holds it (a `GET` more after
    /// a `409`).
    ///
    /// # Errors
    /// [`Error::Backend`] when the API server cannot be reached or refuses.
    pub async fn release(&self, name: &str, holder: &str) -> Result<()> {
        if let Some(mut lease) = self.mine(name, holder) {
            lease.data["spec"]["holderIdentity"] = Value::Null;
            match self.api.replace(name, &PostParams::default(), &lease).await {
                Err(e) if is_status(&e, 409) => self.forget(name),
                Err(e) if is_status(&e, 404) => {
                    self.forget(name);
                    return Ok(());
                }
                written => return self.answered(written).map(|_| ()),
            }
        }
        let Some(mut lease) = self.api.get_opt(name).await.map_err(|e| self.failed(e))? else {
            return Ok(());
        };
        if holder_of(&lease) != Some(holder) {
            return Ok(());
        }
        lease.data["spec"]["holderIdentity"] = Value::Null;
        let written = self.api.replace(name, &PostParams::default(), &lease).await;
        self.answered(written).map(|_| ())
    }

    /// The holders of the live leases whose names start with `prefix`, in one list request.
    ///
    /// # Errors
    /// [`Error::Backend`] when the API server cannot be reached or refuses.
    pub async fn holders(&self, prefix: &str) -> Result<Vec<String>> {
        let leases = self
            .api
            .list(&ListParams::default().labels(LEASE_LABEL))
            .await
            .map_err(|e| self.failed(e))?;
        let mut live = Vec::new();
        for lease in &leases.items {
            let name = lease.metadata.name.clone().unwrap_or_default();
            if !name.starts_with(prefix) {
                continue;
            }
            let changed_at = self.observe(&name, lease);
            if let Some(h) = holder_of(lease)
                && changed_at.elapsed() < duration_of(lease)
            {
                live.push(h.to_owned());
            }
        }
        Ok(live)
    }
}

fn holder_of(lease: &DynamicObject) -> Option<&str> {
    holder_of_spec(&lease.data["spec"])
}

fn holder_of_spec(spec: &Value) -> Option<&str> {
    spec["holderIdentity"].as_str().filter(|h| !h.is_empty())
}

fn duration_of(lease: &DynamicObject) -> Duration {
    Duration::from_secs(lease.data["spec"]["leaseDurationSeconds"].as_u64().unwrap_or(15))
}

/// The group a lease name belongs to: what precedes `-shard-` or `-member-`.
fn group_of(name: &str) -> &str {
    ["-shard-", "-member-"]
        .iter()
        .find_map(|sep| name.split_once(sep).map(|(g, _)| g))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_times_are_rfc3339_with_microseconds() {
        let t = micro_time();
        assert_eq!(t.len(), "2026-12-07T22:00:00.000000Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    }

    #[test]
    fn a_lease_names_its_group() {
        assert_eq!(group_of("meshctl-rollouts-shard-3"), "meshctl-rollouts");
        assert_eq!(group_of("meshctl-rollouts-member-host-1"), "meshctl-rollouts");
        assert_eq!(group_of("other"), "other");
    }
}
