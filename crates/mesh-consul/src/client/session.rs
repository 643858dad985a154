//! Sessions (`/v1/session`) and the KV locks they hold (`?acquire=`/`?release=`): what
//! controller replicas share shards with. A session lives while it is renewed within its TTL;
//! when it expires, Consul deletes the keys it held (`Behavior: delete`), so another replica
//! can take them.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{
    ConsulClient, Error, Payload, Result, encode,
    kv::{base64_decode, kv_path},
};

/// Consul's bounds on a session TTL.
pub const SESSION_TTL: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(10)..=Duration::from_secs(86_400);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LockedPair {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    modify_index: u64,
}

impl ConsulClient {
    /// `PUT /v1/session/create`: a session named `name` that lives `ttl` unless renewed, whose
    /// locks are deleted when it ends. Returns its ID.
    ///
    /// # Errors
    /// [`Error::Config`] for a TTL outside Consul's 10 s to 24 h; a transport, status or decode
    /// error.
    pub async fn session_create(&self, name: &str, ttl: Duration) -> Result<String> {
        if !SESSION_TTL.contains(&ttl) {
            return Err(Error::Config {
                what: "session TTL".into(),
                reason: format!("{ttl:?}: Consul accepts 10 s to 24 h"),
            });
        }
        let body = json!({
            "Name": name,
            "TTL": format!("{}s", ttl.as_secs()),
            "Behavior": "delete",
            "LockDelay": "1s",
        });
        let q = self.tenancy(None).await?;
        let v = self
            .json(Method::PUT, "/v1/session/create", q, Some(&body), true)
            .await?;
        let created: Created = serde_json::from_value(v).map_err(|source| Error::Decode {
            path: "/v1/session/create".into(),
            source,
        })?;
        Ok(created.id)
    }

    /// `PUT /v1/session/renew/:id`: `false` when the session is gone (expired or destroyed).
    ///
    /// # Errors
    /// A transport or status error other than 404.
    pub async fn session_renew(&self, id: &str) -> Result<bool> {
        let q = self.tenancy(None).await?;
        let path = format!("/v1/session/renew/{}", encode(id));
        match self.json(Method::PUT, &path, q, None, true).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `PUT /v1/kv/:key?acquire=:session`: takes the lock on `key` for `session` with `value`;
    /// `true` when the session holds it afterwards (also when it already did).
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_acquire(&self, key: &str, value: &[u8], session: &str) -> Result<bool> {
        let mut q = self.tenancy(None).await?;
        q.push(("acquire", session.to_owned()));
        let v = self
            .send(Method::PUT, &kv_path(key), q, Some(Payload::Raw(value)), true)
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// `PUT /v1/kv/:key?release=:session`: gives the lock up if `session` holds it.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_release(&self, key: &str, session: &str) -> Result<bool> {
        let mut q = self.tenancy(None).await?;
        q.push(("release", session.to_owned()));
        let v = self
            .send(Method::PUT, &kv_path(key), q, Some(Payload::Raw(b"")), true)
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// The locked keys under `prefix` and their values (`GET /v1/kv/:prefix?recurse`, the pairs
    /// with a session), in key order.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_locked(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let pairs: Vec<LockedPair> = self.kv_recurse(prefix).await?;
        Ok(pairs
            .into_iter()
            .filter(|p| p.session.as_deref().is_some_and(|s| !s.is_empty()))
            .map(|p| {
                let value = p.value.as_deref().and_then(base64_decode).unwrap_or_default();
                (p.key, value)
            })
            .collect())
    }

    /// Deletes `key` if `session` holds its lock: reads it (`GET /v1/kv/:key?recurse`, which
    /// answers the lock's session), then `DELETE /v1/kv/:key?cas=<index>`, so a key written or
    /// taken since the read is kept. `true` when it was deleted.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_delete_held(&self, key: &str, session: &str) -> Result<bool> {
        let pairs: Vec<LockedPair> = self.kv_recurse(key).await?;
        let Some(held) = pairs
            .into_iter()
            .find(|p| p.key == key && p.session.as_deref() == Some(session))
        else {
            return Ok(false);
        };
        self.kv_delete(key, Some(held.modify_index)).await
    }
}
