//! The KV store (`/v1/kv`), with check-and-set.

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, de::DeserializeOwned};

use super::{Call, ConsulClient, Error, Payload, Result, encode};

/// One KV pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPair {
    /// The key.
    pub key: String,
    /// The raw value.
    pub value: Vec<u8>,
    /// Application flags.
    pub flags: u64,
    /// The `?cas=` value.
    pub modify_index: u64,
}

/// The longest wait Consul honours in a blocking query.
pub const MAX_BLOCKING_WAIT: Duration = Duration::from_secs(600);
/// What a blocking query's timeout allows beyond its wait and the agent's jitter.
pub const BLOCKING_MARGIN: Duration = Duration::from_secs(10);

/// The pairs under a prefix, and the index they were read at (`X-Consul-Index`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvList {
    /// The pairs, in key order.
    pub pairs: Vec<KvPair>,
    /// The index to wait on next (0 when the agent sent none).
    pub index: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawPair {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    flags: u64,
    #[serde(default)]
    modify_index: u64,
}

impl ConsulClient {
    /// `GET /v1/kv/:key`; `None` when absent.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_get(&self, key: &str) -> Result<Option<KvPair>> {
        let q = self.tenancy(None).await?;
        let path = kv_path(key);
        let v = match self.json(Method::GET, &path, q, None, true).await {
            Ok(v) => v,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let pairs: Vec<RawPair> = serde_json::from_value(v).map_err(|source| Error::Decode {
            path: path.clone(),
            source,
        })?;
        let Some(raw) = pairs.into_iter().next() else {
            return Ok(None);
        };
        pair(&path, raw).map(Some)
    }

    /// `GET /v1/kv/:prefix?recurse`: every pair under `prefix`, in key order (none when the prefix
    /// holds nothing).
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_list(&self, prefix: &str) -> Result<Vec<KvPair>> {
        let path = kv_path(prefix);
        let pairs: Vec<RawPair> = self.kv_recurse(prefix).await?;
        pairs.into_iter().map(|raw| pair(&path, raw)).collect()
    }

    /// `GET /v1/kv/:prefix?recurse`, each pair decoded as `T` (none when the prefix holds
    /// nothing).
    pub(super) async fn kv_recurse<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>> {
        let mut q = self.tenancy(None).await?;
        q.push(("recurse", "true".into()));
        let path = kv_path(prefix);
        let v = match self.json(Method::GET, &path, q, None, true).await {
            Ok(v) => v,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        serde_json::from_value(v).map_err(|source| Error::Decode { path, source })
    }

    /// A blocking query of the pairs under `prefix`: `GET /v1/kv/:prefix?recurse&index=<index>
    /// &wait=<wait>`. The agent answers once the prefix's index moves past `index`, or when
    /// `wait` (at most 10 minutes; the agent adds up to a sixteenth) runs out, with the pairs
    /// and the index to wait on next ([`KvList::index`]); `index` 0 answers at once. The answer
    /// is no proof of a change: compare the pairs. This request's timeout is the wait, its
    /// sixteenth and [`BLOCKING_MARGIN`], whatever the client's per-request timeout.
    /// [`crate::declarations`] applies Consul's rules for the next index.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_list_blocking(&self, prefix: &str, index: u64, wait: Duration) -> Result<KvList> {
        let wait = wait.min(MAX_BLOCKING_WAIT);
        let mut q = self.tenancy(None).await?;
        q.push(("recurse", "true".into()));
        q.push(("index", index.to_string()));
        q.push(("wait", format!("{}ms", wait.as_millis())));
        let path = kv_path(prefix);
        let call = Call {
            timeout: Some(wait + wait / 16 + BLOCKING_MARGIN),
            not_found_is_an_answer: true,
        };
        let answer = self.exchange(Method::GET, &path, q, None, true, call).await?;
        let pairs = if answer.found {
            let raw: Vec<RawPair> = serde_json::from_slice(&answer.body).map_err(|source| Error::Decode {
                path: path.clone(),
                source,
            })?;
            raw.into_iter()
                .map(|raw| pair(&path, raw))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        Ok(KvList {
            pairs,
            index: answer.index.unwrap_or(0),
        })
    }

    /// `PUT /v1/kv/:key[?cas=<index>]`; `cas: Some(0)` creates only. Returns Consul's answer.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_put(&self, key: &str, value: &[u8], cas: Option<u64>) -> Result<bool> {
        let mut q = self.tenancy(None).await?;
        if let Some(i) = cas {
            q.push(("cas", i.to_string()));
        }
        let v = self
            .send(Method::PUT, &kv_path(key), q, Some(Payload::Raw(value)), true)
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// `DELETE /v1/kv/:key[?cas=<index>]`.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn kv_delete(&self, key: &str, cas: Option<u64>) -> Result<bool> {
        let mut q = self.tenancy(None).await?;
        if let Some(i) = cas {
            q.push(("cas", i.to_string()));
        }
        let v = self.json(Method::DELETE, &kv_path(key), q, None, true).await?;
        Ok(v.as_bool().unwrap_or(true))
    }
}

fn pair(path: &str, raw: RawPair) -> Result<KvPair> {
    let value = match raw.value {
        Some(b64) => base64_decode(&b64).ok_or_else(|| Error::Config {
            what: path.to_owned(),
            reason: "the value is not base64".into(),
        })?,
        None => Vec::new(),
    };
    Ok(KvPair {
        key: raw.key,
        value,
        flags: raw.flags,
        modify_index: raw.modify_index,
    })
}

pub(super) fn kv_path(key: &str) -> String {
    let segments: Vec<String> = key.trim_start_matches('/').split('/').map(encode).collect();
    format!("/v1/kv/{}", segments.join("/"))
}

/// Decodes standard base64 (with padding), as Consul returns KV values.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let trimmed: &[u8] = {
        let mut end = bytes.len();
        while end > 0 && bytes[end - 1] == b'=' {
            end -= 1;
        }
        &bytes[..end]
    };
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        for i in 0..n {
            #[allow(clippy::cast_possible_truncation)] // one byte of the 24-bit group
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_decodes_padded_values_and_refuses_garbage() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert!(base64_decode("!!").is_none());
    }
}
