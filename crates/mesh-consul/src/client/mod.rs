//! A thin HTTP client for the parts of Consul's API the backend uses.
//!
//! - Edition detection through `GET /v1/agent/self`; on CE no `ns`/`partition` parameter is ever
//!   sent, and asking for a namespace other than `default` is refused before any request.
//! - Retries with exponential backoff on 429, 5xx and timeouts (on the tokio clock, so tests can
//!   pause time). A 500 that carries a configuration validation error is not retried: it is an
//!   answer, not an outage.
//! - `?dc=` on every call when a datacenter is configured.
//! - Config entries with check-and-set: [`ConsulClient::put_entry`] with `?cas=`, and
//!   [`ConsulClient::update_entry`], a bounded read-modify-write loop.

mod config;
mod error;
mod kv;
mod session;
mod token;
mod transport;

use std::sync::OnceLock;

/// The `User-Agent` of every request: the project and this crate's version, so a Consul
/// operator can tell mesh's writes apart in the agent's logs and audit trail.
pub const USER_AGENT: &str = concat!("mesh/", env!("CARGO_PKG_VERSION"), " (mesh-consul)");

pub use config::{ClientConfig, parse_address};
pub use error::Error;
pub use kv::{BLOCKING_MARGIN, KvList, KvPair, MAX_BLOCKING_WAIT};
use reqwest::Method;
use serde_json::Value;
pub use session::SESSION_TTL;
pub use token::Token;
use transport::{Answer, Call, Payload, Transport};

use crate::{
    ConsulVersion,
    model::{AgentServiceRegistration, CaRoots, ConfigEntry, EntryKind, HealthServiceEntry},
};

/// `Result` with the client [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The Consul HTTP client.
///
/// ```no_run
/// # async fn demo() -> Result<(), mesh_consul::client::Error> {
/// use mesh_consul::client::{ClientConfig, ConsulClient};
/// let client = ConsulClient::new(ClientConfig::from_env()?)?;
/// let version = client.version().await?;
/// let roots = client.ca_roots().await?;
/// println!("Consul {version}, trust domain {}", roots.trust_domain);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConsulClient {
    transport: Transport,
    config: ClientConfig,
    version: OnceLock<ConsulVersion>,
}

impl ConsulClient {
    /// Builds a client.
    ///
    /// # Errors
    /// [`Error::Config`] for unreadable certificate files or an unusable TLS setup.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Ok(Self {
            transport: Transport::new(&config)?,
            config,
            version: OnceLock::new(),
        })
    }

    /// Uses `version` instead of asking `/v1/agent/self`.
    #[must_use]
    pub fn with_version(self, version: ConsulVersion) -> Self {
        let _ = self.version.set(version);
        self
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The version, if already known.
    pub fn known_version(&self) -> Option<ConsulVersion> {
        self.version.get().copied()
    }

    /// `GET /v1/agent/self`.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn agent_self(&self) -> Result<Value> {
        self.json(Method::GET, "/v1/agent/self", Vec::new(), None, false)
            .await
    }

    /// The edition and version, read once from `/v1/agent/self`.
    ///
    /// # Errors
    /// As [`ConsulClient::agent_self`], or a decode error for an unknown version format.
    pub async fn version(&self) -> Result<ConsulVersion> {
        if let Some(v) = self.version.get() {
            return Ok(*v);
        }
        let body = self.agent_self().await?;
        let v = ConsulVersion::from_agent_self(&body).map_err(|reason| Error::Config {
            what: "/v1/agent/self".into(),
            reason,
        })?;
        tracing::debug!(version = %v, "detected Consul");
        Ok(*self.version.get_or_init(|| v))
    }

    /// The tenancy parameters for `namespace` (or the configured one): none at all on CE, where a
    /// non-default value is refused.
    ///
    /// # Errors
    /// [`Error::EnterpriseOnly`] on CE for a namespace or partition other than `default`.
    pub async fn tenancy(&self, namespace: Option<&str>) -> Result<Vec<(&'static str, String)>> {
        let ns = namespace.or(self.config.namespace.as_deref());
        let partition = self.config.partition.as_deref();
        let version = self.version().await?;
        if !version.is_enterprise() {
            for (what, value) in [("namespace", ns), ("partition", partition)] {
                if let Some(v) = value.filter(|v| *v != "default") {
                    return Err(Error::EnterpriseOnly {
                        what,
                        value: v.to_owned(),
                    });
                }
            }
            return Ok(Vec::new());
        }
        let mut q = Vec::new();
        if let Some(ns) = ns {
            q.push(("ns", ns.to_owned()));
        }
        if let Some(p) = partition {
            q.push(("partition", p.to_owned()));
        }
        Ok(q)
    }

    /// `GET /v1/config/:kind/:name`; `None` when it does not exist.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn get_entry(
        &self,
        kind: EntryKind,
        name: &str,
        ns: Option<&str>,
    ) -> Result<Option<ConfigEntry>> {
        let q = self.tenancy(ns).await?;
        let path = format!("/v1/config/{}/{}", kind.as_str(), encode(name));
        match self.json(Method::GET, &path, q, None, true).await {
            Ok(v) => Ok(Some(decode(&path, v)?)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/config/:kind`.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn list_entries(&self, kind: EntryKind, ns: Option<&str>) -> Result<Vec<ConfigEntry>> {
        let q = self.tenancy(ns).await?;
        let path = format!("/v1/config/{}", kind.as_str());
        let v = self.json(Method::GET, &path, q, None, true).await?;
        decode(&path, v)
    }

    /// `PUT /v1/config[?cas=<index>]`: `cas: Some(0)` creates only, `Some(i)` updates only if the
    /// entry is still at `ModifyIndex` `i`. Returns Consul's `true`/`false`.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn put_entry(&self, entry: &ConfigEntry, ns: Option<&str>, cas: Option<u64>) -> Result<bool> {
        let mut q = self.tenancy(ns).await?;
        if let Some(i) = cas {
            q.push(("cas", i.to_string()));
        }
        let body = entry.clone().into_write_body().to_json();
        let v = self.json(Method::PUT, "/v1/config", q, Some(&body), true).await?;
        Ok(v.as_bool().unwrap_or(true))
    }

    /// `DELETE /v1/config/:kind/:name[?cas=<index>]`. Returns Consul's answer (`true` when the body
    /// is empty, as older releases answer).
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn delete_entry(
        &self,
        kind: EntryKind,
        name: &str,
        ns: Option<&str>,
        cas: Option<u64>,
    ) -> Result<bool> {
        let mut q = self.tenancy(ns).await?;
        if let Some(i) = cas.filter(|i| *i > 0) {
            q.push(("cas", i.to_string()));
        }
        let path = format!("/v1/config/{}/{}", kind.as_str(), encode(name));
        let v = self.json(Method::DELETE, &path, q, None, true).await?;
        Ok(v.as_bool().unwrap_or(true))
    }

    /// Read-modify-write of one entry under check-and-set. `modify` gets the current entry (or
    /// `None`) and returns the new one, or `None` to leave it. A `false` answer re-reads and calls
    /// `modify` again, at most `cas_retries` more times. Returns whether a write landed.
    ///
    /// # Errors
    /// [`Error::CasExhausted`] when every attempt lost the race, or a request error.
    pub async fn update_entry(
        &self,
        kind: EntryKind,
        name: &str,
        ns: Option<&str>,
        mut modify: impl FnMut(Option<ConfigEntry>) -> Option<ConfigEntry> + Send,
    ) -> Result<bool> {
        let attempts = self.config.cas_retries + 1;
        for _ in 0..attempts {
            let current = self.get_entry(kind, name, ns).await?;
            let cas = current
                .as_ref()
                .map_or(Some(0), |c| Some(c.modify_index().unwrap_or(0)));
            let Some(new) = modify(current) else {
                return Ok(false);
            };
            if self.put_entry(&new, ns, cas).await? {
                return Ok(true);
            }
            tracing::debug!(kind = %kind, name, "check-and-set lost a race; re-reading");
        }
        Err(Error::CasExhausted {
            key: format!("{kind} {name}"),
            attempts,
        })
    }

    /// `PUT /v1/agent/service/register?replace-existing-checks=true`.
    ///
    /// # Errors
    /// A transport or status error.
    pub async fn register_service(&self, body: &AgentServiceRegistration) -> Result<()> {
        let mut q = self.tenancy(body.namespace.as_deref()).await?;
        q.retain(|(k, _)| *k != "ns");
        q.push(("replace-existing-checks", "true".into()));
        let mut body = body.clone();
        if !self.version().await?.is_enterprise() {
            body.namespace = None;
            body.partition = None;
        }
        let json = serde_json::to_value(&body).map_err(|source| Error::Decode {
            path: "/v1/agent/service/register".into(),
            source,
        })?;
        self.json(Method::PUT, "/v1/agent/service/register", q, Some(&json), false)
            .await
            .map(drop)
    }

    /// `PUT /v1/agent/service/deregister/:id`.
    ///
    /// # Errors
    /// A transport or status error.
    pub async fn deregister_service(&self, id: &str, ns: Option<&str>) -> Result<()> {
        let q = self.tenancy(ns).await?;
        let path = format!("/v1/agent/service/deregister/{}", encode(id));
        self.json(Method::PUT, &path, q, None, false).await.map(drop)
    }

    /// The ids of the agent's instances of `service` (`GET /v1/agent/services?filter=`).
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn agent_service_ids(&self, service: &str, ns: Option<&str>) -> Result<Vec<String>> {
        let mut q = self.tenancy(ns).await?;
        q.push(("filter", format!("Service == {service:?}")));
        let v = self
            .json(Method::GET, "/v1/agent/services", q, None, false)
            .await?;
        let mut ids: Vec<String> = v
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        Ok(ids)
    }

    /// `GET /v1/health/service/:name[?passing]`.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn health_service(
        &self,
        service: &str,
        ns: Option<&str>,
        passing_only: bool,
    ) -> Result<Vec<HealthServiceEntry>> {
        let mut q = self.tenancy(ns).await?;
        if passing_only {
            q.push(("passing", "true".into()));
        }
        let path = format!("/v1/health/service/{}", encode(service));
        let v = self.json(Method::GET, &path, q, None, true).await?;
        decode(&path, v)
    }

    /// `GET /v1/connect/ca/roots`.
    ///
    /// # Errors
    /// A transport, status or decode error.
    pub async fn ca_roots(&self) -> Result<CaRoots> {
        let path = "/v1/connect/ca/roots";
        let v = self.json(Method::GET, path, Vec::new(), None, true).await?;
        decode(path, v)
    }

    /// Sends one request (with retries) and parses the JSON answer (`null` for an empty body).
    /// `dc` adds `?dc=` when a datacenter is configured.
    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<&Value>,
        dc: bool,
    ) -> Result<Value> {
        self.send(method, path, query, body.map(Payload::Json), dc).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<Payload<'_>>,
        dc: bool,
    ) -> Result<Value> {
        let answer = self
            .exchange(method, path, query, body, dc, Call::default())
            .await?;
        parse_json(path, &answer.body)
    }

    /// Sends one request as `call` asks (with retries); `dc` adds `?dc=` when a datacenter is
    /// configured.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        mut query: Vec<(&'static str, String)>,
        body: Option<Payload<'_>>,
        dc: bool,
        call: Call,
    ) -> Result<Answer> {
        if dc && let Some(d) = &self.config.datacenter {
            query.push(("dc", d.clone()));
        }
        self.transport
            .exchange(&self.config, method, path, &query, body, call)
            .await
    }
}

/// A JSON answer (`null` for an empty body).
fn parse_json(path: &str, bytes: &[u8]) -> Result<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|source| Error::Decode {
        path: path.to_owned(),
        source,
    })
}

fn decode<T: serde::de::DeserializeOwned>(path: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|source| Error::Decode {
        path: path.to_owned(),
        source,
    })
}

/// Percent-encodes one path segment.
pub(crate) fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
