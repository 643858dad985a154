//! The control-plane state store on Consul: one KV entry per key, guarded by check-and-set on its
//! `ModifyIndex`.

use mesh_core::{Error, Result, StateKey, StoredState};

use crate::client::ConsulClient;

/// The KV key of a piece of state: `mesh/state/<namespace>/<service>/<name>`.
///
/// ```
/// use mesh_core::StateKey;
/// let key = StateKey::new("default/api".parse().unwrap(), "rollout").unwrap();
/// assert_eq!(mesh_consul::state::kv_key(&key), "mesh/state/default/api/rollout");
/// ```
pub fn kv_key(key: &StateKey) -> String {
    format!(
        "mesh/state/{}/{}/{}",
        key.service.namespace, key.service.name, key.name
    )
}

fn conflict(key: &StateKey) -> Error {
    Error::Conflict {
        object: format!("Consul KV {}", kv_key(key)),
        owner: "another writer".into(),
        field: "ModifyIndex".into(),
    }
}

/// Reads the state.
pub(crate) async fn read(client: &ConsulClient, key: &StateKey) -> Result<Option<StoredState>> {
    let Some(pair) = client.kv_get(&kv_key(key)).await? else {
        return Ok(None);
    };
    let value = String::from_utf8(pair.value)
        .map_err(|_| Error::invalid("state", format!("{} does not hold UTF-8", kv_key(key))))?;
    Ok(Some(StoredState {
        value,
        version: pair.modify_index.to_string(),
    }))
}

/// Writes with `?cas=` (0 when `expected` is `None`) and returns the new `ModifyIndex`.
pub(crate) async fn write(
    client: &ConsulClient,
    key: &StateKey,
    value: &str,
    expected: Option<&str>,
) -> Result<String> {
    let cas = match expected {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| Error::invalid("state.version", format!("{v:?} is not a ModifyIndex")))?,
    };
    if !client.kv_put(&kv_key(key), value.as_bytes(), Some(cas)).await? {
        return Err(conflict(key));
    }
    // The PUT answers only true/false; the new index comes from a read.
    match read(client, key).await? {
        Some(stored) => Ok(stored.version),
        None => Err(conflict(key)),
    }
}

/// Deletes with `?cas=`.
pub(crate) async fn delete(client: &ConsulClient, key: &StateKey, expected: &str) -> Result<()> {
    let cas = expected
        .parse::<u64>()
        .map_err(|_| Error::invalid("state.version", format!("{expected:?} is not a ModifyIndex")))?;
    if client.kv_delete(&kv_key(key), Some(cas)).await? {
        Ok(())
    } else {
        Err(conflict(key))
    }
}
