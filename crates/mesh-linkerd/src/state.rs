//! The control-plane state store ([`StateKey`]) on Kubernetes, as the Istio backend keeps it: one
//! ConfigMap per key, `mesh-state-<service>-<name>` in the service's namespace, the value in
//! `data.value` and the version in `metadata.resourceVersion`, so every write is a compare-and-swap.

use mesh_core::{
    Change, Error, MeshKind, ObjectRef, Plan, Precondition, Result, StateKey, StoredState, Write, WriteAction,
};
use mesh_kube::KubeEngine;
use serde_json::{Value, json};

use crate::objects::{MANAGED_BY, MANAGED_BY_LABEL};

/// The ConfigMap holding `key`.
///
/// ```
/// use mesh_core::StateKey;
/// let key = StateKey::new("prod/api".parse().unwrap(), "rollout").unwrap();
/// assert_eq!(mesh_linkerd::state_object(&key).to_string(), "ConfigMap prod/mesh-state-api-rollout");
/// ```
pub fn state_object(key: &StateKey) -> ObjectRef {
    let name = format!("mesh-state-{}-{}", key.service.name, key.name);
    ObjectRef::new("v1", "ConfigMap", Some(key.service.namespace.as_str()), &name)
}

pub(crate) async fn read(engine: &KubeEngine, key: &StateKey) -> Result<Option<StoredState>> {
    match engine.get(&state_object(key)).await? {
        Some(obj) => stored(key, &obj).map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn write(
    engine: &KubeEngine,
    key: &StateKey,
    value: &str,
    expected: Option<&str>,
) -> Result<String> {
    let target = state_object(key);
    let body = json!({
        "metadata": { "labels": { MANAGED_BY_LABEL: MANAGED_BY, "mesh.io/state-of": key.service.name.as_str() } },
        "data": { "value": value },
    });
    let write = match expected {
        None => Write::new(WriteAction::Create, target, Some(body)).guarded(Precondition::MustNotExist),
        Some(v) => {
            Write::new(WriteAction::Replace, target, Some(body)).guarded(Precondition::Version(v.to_owned()))
        }
    };
    engine
        .apply(&single(key, write))
        .await
        .map_err(|e| lost(key, e))?;
    // The write returns no version: read it back, and report a lost race if another writer's
    // value is there by now.
    match read(engine, key).await? {
        Some(s) if s.value == value => Ok(s.version),
        _ => Err(conflict(key)),
    }
}

pub(crate) async fn delete(engine: &KubeEngine, key: &StateKey, expected: &str) -> Result<()> {
    let current = read(engine, key).await?.ok_or_else(|| Error::NotFound {
        kind: "state".into(),
        name: key.to_string(),
    })?;
    if current.version != expected {
        return Err(conflict(key));
    }
    let write = Write::new(WriteAction::Delete, state_object(key), None)
        .guarded(Precondition::Version(expected.to_owned()));
    engine
        .apply(&single(key, write))
        .await
        .map_err(|e| lost(key, e))?;
    Ok(())
}

fn stored(key: &StateKey, obj: &Value) -> Result<StoredState> {
    let version = obj["metadata"]["resourceVersion"]
        .as_str()
        .ok_or_else(|| Error::backend(MeshKind::Linkerd, format!("state {key} has no resourceVersion")))?;
    Ok(StoredState {
        value: obj["data"]["value"].as_str().unwrap_or_default().to_owned(),
        version: version.to_owned(),
    })
}

/// A plan of one state write; the change only labels it (state writes emit no event).
fn single(key: &StateKey, write: Write) -> Plan {
    let change = Change::UnregisterService {
        service: key.service.clone(),
    };
    let mut plan = Plan::for_change(MeshKind::Linkerd, &change);
    plan.push(write);
    plan
}

/// A create that found the object, or a replace or delete that found it changed or gone: a lost
/// race.
fn lost(key: &StateKey, e: Error) -> Error {
    match e {
        Error::AlreadyExists { .. } | Error::Conflict { .. } | Error::NotFound { .. } => conflict(key),
        other => other,
    }
}

fn conflict(key: &StateKey) -> Error {
    Error::Conflict {
        object: key.to_string(),
        owner: "another writer".into(),
        field: "state".into(),
    }
}
