//! The control-plane state store ([`StateKey`]) on Kubernetes, shared by the Istio and Linkerd
//! backends: one ConfigMap per key, named `mesh-state-<service>-<name>` in the service's namespace,
//! holding the value in `data.value`. The version is the ConfigMap's `resourceVersion`, so every
//! write is a compare-and-swap.

use mesh_core::{
    Change, Error, ObjectRef, Plan, Precondition, Result, StateKey, StateStore, StoredState, Write,
    WriteAction,
};
use serde_json::{Value, json};

use crate::{
    KubeEngine,
    ownership::{MANAGED_BY_LABEL, MANAGED_BY_VALUE as MANAGED_BY},
};

/// The ConfigMap holding `key`.
///
/// ```
/// use mesh_core::StateKey;
/// let key = StateKey::new("prod/api".parse().unwrap(), "rollout").unwrap();
/// let r = mesh_kube::state_object(&key);
/// assert_eq!(r.to_string(), "ConfigMap prod/mesh-state-api-rollout");
/// ```
pub fn state_object(key: &StateKey) -> ObjectRef {
    let name = format!("mesh-state-{}-{}", key.service.name, key.name);
    ObjectRef::new("v1", "ConfigMap", Some(key.service.namespace.as_str()), &name)
}

async fn read(engine: &KubeEngine, key: &StateKey) -> Result<Option<StoredState>> {
    let Some(obj) = engine.get(&state_object(key)).await? else {
        return Ok(None);
    };
    Ok(Some(stored(key, &obj)?))
}

async fn write(engine: &KubeEngine, key: &StateKey, value: &str, expected: Option<&str>) -> Result<String> {
    let target = state_object(key);
    let body = json!({
        "metadata": {
            "labels": { MANAGED_BY_LABEL: MANAGED_BY, "meshctl.dev/state-of": key.service.name.as_str() },
        },
        "data": { "value": value },
    });
    let write = match expected {
        None => Write::new(WriteAction::Create, target, Some(body)).guarded(Precondition::MustNotExist),
        Some(v) => {
            Write::new(WriteAction::Replace, target, Some(body)).guarded(Precondition::Version(v.to_owned()))
        }
    };
    let (_, answers) = engine
        .apply_answered(&single(engine, key, write))
        .await
        .map_err(|e| lost(key, e))?;
    // The server answers with the object as stored: its version is ours.
    if let Some(Some(answer)) = answers.first()
        && let Ok(s) = stored(key, answer)
        && s.value == value
    {
        return Ok(s.version);
    }
    // No answer (it was lost, and the write was found landed): read it back. If another writer
    // got in between, the value read is theirs: report the lost race rather than hand out a
    // version that is not ours.
    match read(engine, key).await? {
        Some(s) if s.value == value => Ok(s.version),
        _ => Err(conflict(key)),
    }
}

async fn delete(engine: &KubeEngine, key: &StateKey, expected: &str) -> Result<()> {
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
        .apply(&single(engine, key, write))
        .await
        .map_err(|e| lost(key, e))?;
    Ok(())
}

fn stored(key: &StateKey, obj: &Value) -> Result<StoredState> {
    let version = obj["metadata"]["resourceVersion"]
        .as_str()
        .ok_or_else(|| Error::invalid("state", format!("{key} has no resourceVersion")))?;
    Ok(StoredState {
        value: obj["data"]["value"].as_str().unwrap_or_default().to_owned(),
        version: version.to_owned(),
    })
}

/// A plan of one state write. The change only labels the plan; state writes emit no event.
fn single(engine: &KubeEngine, key: &StateKey, write: Write) -> Plan {
    let change = Change::UnregisterService {
        service: key.service.clone(),
    };
    let mut plan = Plan::for_change(engine.mesh(), &change);
    plan.push(write);
    plan
}

/// A create that found the object, a replace that found it changed or gone: all lost races.
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

/// The state store of the Istio and Linkerd backends (see the module docs): create-only when
/// `expected` is `None`, otherwise a replace guarded by the ConfigMap's `resourceVersion`.
impl StateStore for KubeEngine {
    async fn read_state(&self, key: &StateKey) -> Result<Option<StoredState>> {
        read(self, key).await
    }

    async fn write_state(&self, key: &StateKey, value: &str, expected: Option<&str>) -> Result<String> {
        write(self, key, value, expected).await
    }

    async fn delete_state(&self, key: &StateKey, expected: &str) -> Result<()> {
        delete(self, key, expected).await
    }
}
