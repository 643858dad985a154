//! [`FakeConsul`]: a loopback HTTP server that behaves like a Consul agent on the points this
//! backend relies on, for tests (feature `testing`).
//!
//! It keeps config entries with raft-like indexes, agent services and KV pairs, and:
//! - validates discovery chains on every config write or delete: a router or splitter on a
//!   service without an L7 protocol answers 500 (`... does not permit advanced routing or
//!   splitting behavior`), a route or split to a subset no resolver defines answers 500
//!   (`does not have a subset named ...`), splitter weights must sum to 100;
//! - answers `false` to a check-and-set write whose `?cas=` index is stale, unless the entry
//!   written is identical to the stored one (a no-op the agent answers `true`);
//! - on CE answers 400 to any `ns`/`partition` parameter, namespace header or `Namespace` body
//!   field;
//! - answers 403 when an ACL token is required and missing or wrong;
//! - can be told to fail the n-th write, or the next requests, with a given status;
//! - answers KV reads with `X-Consul-Index` as the agent computes it (for `?recurse`, the highest
//!   index of the prefix's keys and of their deletions' tombstones, else the KV table's; never
//!   0), and holds a read with `?index=` (a blocking query) until that index moves past it or
//!   `?wait=` (5 minutes by default, at most 10) runs out; [`FakeConsul::reap_kv_tombstones`]
//!   forgets deletions, as the agent's tombstone reaping does, so that a prefix's index can go
//!   backwards; a KV write of the value a key already holds keeps its `ModifyIndex`.
//!
//! Every request is recorded (method, path, query) so tests can assert exact sequences.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use mesh_core::WriteAction;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Notify,
};
use url::Url;

use crate::{
    ConsulBackend, ConsulVersion,
    client::{ClientConfig, ConsulClient, Token},
};

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `PUT`, `DELETE`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
    /// The answer body.
    pub answer: String,
    /// The request body.
    pub body: String,
    /// The request's `User-Agent` header, when it had one.
    pub user_agent: Option<String>,
}

impl Recorded {
    /// `METHOD path?query` (query in order), for compact assertions.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", self.method, self.path, q.join("&"))
        }
    }

    /// True for a PUT or DELETE.
    pub fn is_write(&self) -> bool {
        self.method == "PUT" || self.method == "DELETE"
    }
}

#[derive(Debug, Default)]
struct State {
    version: Option<ConsulVersion>,
    token: Option<String>,
    index: u64,
    /// (kind, namespace, name) → entry with its indexes.
    entries: BTreeMap<(String, String, String), Value>,
    services: BTreeMap<String, Value>,
    kv: BTreeMap<String, (Vec<u8>, u64)>,
    /// The index of each deleted key's deletion, until reaped.
    kv_tombstones: BTreeMap<String, u64>,
    /// The index of the last KV write or delete.
    kv_table_index: u64,
    log: Vec<Recorded>,
    writes_seen: usize,
    fail_write_at: Option<(usize, u16)>,
    fail_next: Vec<u16>,
    race_next_cas: usize,
}

/// A fake Consul agent on a loopback port. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeConsul {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Woken by every write: what blocking queries wait on.
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeConsul {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeConsul {
    /// Starts a fake reporting `version` from `/v1/agent/self`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(version: ConsulVersion) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            version: Some(version),
            index: 10,
            ..State::default()
        }));
        let shared = state.clone();
        let changed = Arc::new(Notify::new());
        let wake = Arc::clone(&changed);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, wake) = (shared.clone(), Arc::clone(&wake));
                tokio::spawn(async move {
                    let _ = serve(stream, &state, &wake).await;
                });
            }
        });
        Self {
            addr,
            state,
            changed,
            task,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requires `token` in `X-Consul-Token` (403 otherwise).
    pub fn require_token(&self, token: &str) {
        self.lock().token = Some(token.to_owned());
    }

    /// The base URL.
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).expect("a loopback URL")
    }

    /// A client configuration for this fake: short backoff, one check-and-set retry budget of 3.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::default()
            .address(self.url())
            .retries(3, Duration::from_millis(1))
            .request_timeout(Duration::from_secs(10))
    }

    /// A backend talking to this fake, with `token` if given.
    ///
    /// # Panics
    /// Never for the fake's own configuration.
    pub fn backend(&self, token: Option<&str>) -> ConsulBackend {
        let mut config = self.client_config();
        if let Some(t) = token {
            config = config.token(Token::new(t));
        }
        ConsulBackend::new(ConsulClient::new(config).expect("a client for the fake"))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    /// The writes (PUT/DELETE) that succeeded, as `METHOD path?query` lines.
    pub fn landed_writes(&self) -> Vec<String> {
        self.lock()
            .log
            .iter()
            .filter(|r| r.is_write() && r.status == 200 && r.answer != "false")
            .map(Recorded::line)
            .collect()
    }

    /// The writes that landed, as the workspace contract harness wants them: the action and
    /// `<kind> <name>` (`agent-service <id>` for registrations).
    pub fn write_log(&self) -> Vec<(WriteAction, String)> {
        self.lock()
            .log
            .iter()
            .filter(|r| r.is_write() && r.status == 200 && r.answer != "false")
            .filter_map(|r| landed_write(&r.method, &r.path, &r.body))
            .collect()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Makes the `n`-th write (PUT/DELETE) from now answer `status`.
    pub fn fail_at_write(&self, n: usize, status: u16) {
        let mut s = self.lock();
        s.fail_write_at = Some((s.writes_seen + n, status));
    }

    /// Makes the next requests answer these statuses, one each.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().fail_next = statuses.to_vec();
    }

    /// Simulates another writer: before each of the next `n` check-and-set config writes, the
    /// entry's `ModifyIndex` moves on, so the write answers `false`.
    pub fn race_next_cas_writes(&self, n: usize) {
        self.lock().race_next_cas = n;
    }

    /// The stored entry, with its indexes.
    pub fn entry(&self, kind: &str, name: &str) -> Option<Value> {
        self.lock()
            .entries
            .get(&(kind.to_owned(), "default".to_owned(), name.to_owned()))
            .cloned()
    }

    /// The number of stored entries.
    pub fn entry_count(&self) -> usize {
        self.lock().entries.len()
    }

    /// Stores an entry as if written earlier (no validation).
    pub fn seed_entry(&self, body: Value) {
        let mut s = self.lock();
        s.index += 1;
        let index = s.index;
        let key = entry_key(&body, "default");
        let mut body = body;
        as_the_agent_stores(&mut body);
        body["CreateIndex"] = json!(index);
        body["ModifyIndex"] = json!(index);
        s.entries.insert(key, body);
    }

    /// Forgets the tombstones of deleted KV keys, as the agent's reaping does: a prefix whose
    /// highest index was a deletion then answers a lower index than before.
    pub fn reap_kv_tombstones(&self) {
        self.lock().kv_tombstones.clear();
        self.changed.notify_waiters();
    }

    /// The registered agent services by id.
    pub fn services(&self) -> BTreeMap<String, Value> {
        self.lock().services.clone()
    }

    /// Checks every stored router and splitter against the stored protocols and resolvers.
    ///
    /// # Errors
    /// Consul's message for the first invalid discovery chain.
    pub fn check_consistent(&self) -> Result<(), String> {
        validate(&self.lock().entries)
    }
}

/// The double's consistency check (no split or route to a subset no resolver defines, no
/// splitter or router without an L7 protocol, weights summing to 100) over entries read from any
/// Consul, such as a real agent: each entry as the HTTP API returns it.
///
/// # Errors
/// The first inconsistency, described.
pub fn check_entries(entries: impl IntoIterator<Item = Value>) -> Result<(), String> {
    let map = entries
        .into_iter()
        .map(|body| (entry_key(&body, "default"), body))
        .collect();
    validate(&map)
}

/// A write that landed (answered 200, not `false`), as the workspace contract harness names it:
/// the action and `<kind> <name>` (`agent-service <id>` for registrations). `None` for requests
/// that are not writes of config entries or agent services. Shared by [`FakeConsul::write_log`]
/// and the harness over a real agent, which sees the same requests through a recording proxy.
///
/// ```
/// use mesh_consul::testing::landed_write;
/// let (_, what) = landed_write("DELETE", "/v1/config/service-splitter/reviews?cas=3", "").unwrap();
/// assert_eq!(what, "service-splitter reviews");
/// ```
pub fn landed_write(method: &str, path: &str, body: &str) -> Option<(WriteAction, String)> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("PUT", ["v1", "config"]) => {
            let body: Value = serde_json::from_str(body).ok()?;
            let (kind, _, name) = entry_key(&body, "default");
            Some((WriteAction::Apply, format!("{kind} {name}")))
        }
        ("DELETE", ["v1", "config", kind, name]) => Some((WriteAction::Delete, format!("{kind} {name}"))),
        ("PUT", ["v1", "agent", "service", "register"]) => {
            let body: Value = serde_json::from_str(body).ok()?;
            let id = body["ID"].as_str().or(body["Name"].as_str())?.to_owned();
            Some((WriteAction::Apply, format!("agent-service {id}")))
        }
        ("PUT", ["v1", "agent", "service", "deregister", id]) => {
            Some((WriteAction::Delete, format!("agent-service {id}")))
        }
        _ => None,
    }
}

fn entry_key(body: &Value, ns: &str) -> (String, String, String) {
    let kind = body["Kind"].as_str().unwrap_or_default().to_owned();
    let name = body["Name"]
        .as_str()
        .unwrap_or(if kind == "mesh" { "mesh" } else { "" })
        .to_owned();
    (kind, ns.to_owned(), name)
}

fn protocol_of(entries: &BTreeMap<(String, String, String), Value>, ns: &str, service: &str) -> String {
    let sd = entries.get(&("service-defaults".into(), ns.into(), service.into()));
    let global = entries.get(&("proxy-defaults".into(), "default".into(), "global".into()));
    sd.and_then(|e| e["Protocol"].as_str())
        .filter(|p| !p.is_empty())
        .or_else(|| global.and_then(|g| g["Config"]["protocol"].as_str()))
        .unwrap_or("tcp")
        .to_owned()
}

fn has_subset(
    entries: &BTreeMap<(String, String, String), Value>,
    ns: &str,
    service: &str,
    subset: &str,
) -> bool {
    entries
        .get(&("service-resolver".into(), ns.into(), service.into()))
        .is_some_and(|r| r["Subsets"].get(subset).is_some())
}

/// Consul's discovery-chain checks, over the whole state.
fn validate(entries: &BTreeMap<(String, String, String), Value>) -> Result<(), String> {
    for ((kind, ns, name), body) in entries {
        let targets: Vec<(String, Option<String>)> = match kind.as_str() {
            "service-router" => body["Routes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let d = &r["Destination"];
                    (
                        d["Service"].as_str().unwrap_or(name).to_owned(),
                        d["ServiceSubset"].as_str().map(str::to_owned),
                    )
                })
                .collect(),
            "service-splitter" => {
                let splits = body["Splits"].as_array().cloned().unwrap_or_default();
                let sum: f64 = splits.iter().filter_map(|s| s["Weight"].as_f64()).sum();
                if (sum - 100.0).abs() > 0.01 {
                    return Err(format!("the sum of all split weights must be 100, not {sum}"));
                }
                splits
                    .iter()
                    .map(|s| {
                        (
                            s["Service"].as_str().unwrap_or(name).to_owned(),
                            s["ServiceSubset"].as_str().map(str::to_owned),
                        )
                    })
                    .collect()
            }
            _ => continue,
        };
        let protocol = protocol_of(entries, ns, name);
        if !matches!(protocol.as_str(), "http" | "http2" | "grpc") {
            return Err(format!(
                "discovery chain {name:?} uses a protocol {protocol:?} that does not permit advanced routing or splitting behavior"
            ));
        }
        for (service, subset) in targets {
            if let Some(subset) = subset
                && !has_subset(entries, ns, &service, &subset)
            {
                return Err(format!(
                    "service {service:?} does not have a subset named {subset:?}"
                ));
            }
        }
    }
    Ok(())
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let url = Url::parse(&format!("http://fake{target}")).map_err(std::io::Error::other)?;
    Ok(Some(Request {
        method,
        path: url.path().to_owned(),
        query: url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers,
        body,
    }))
}

/// The longest a blocking query waits, and how long when it names no `wait`.
const MAX_WAIT: Duration = Duration::from_secs(600);
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// A KV read's key, whether it recurses, and the index it waits past with `?index=` (0 for none).
fn kv_read(req: &Request) -> Option<(&str, bool, u64)> {
    let key = req.path.strip_prefix("/v1/kv/").filter(|_| req.method == "GET")?;
    let index = q(req, "index").and_then(|i| i.parse().ok()).unwrap_or(0);
    Some((key, q(req, "recurse").is_some(), index))
}

/// `X-Consul-Index` of a KV read, as the agent computes it: a key's `ModifyIndex`, or a prefix's
/// highest index among its keys and its deletions' tombstones; else the KV table's index; never
/// 0 (the agent answers 1 rather than send blocking clients into a busy loop).
fn kv_index(s: &State, key: &str, recurse: bool) -> u64 {
    let own = if recurse {
        let live =
            s.kv.iter()
                .filter(|(k, _)| k.starts_with(key))
                .map(|(_, (_, i))| *i);
        let dead = s
            .kv_tombstones
            .iter()
            .filter(|(k, _)| k.starts_with(key))
            .map(|(_, i)| *i);
        live.chain(dead).max().unwrap_or(0)
    } else {
        s.kv.get(key).map_or(0, |(_, i)| *i)
    };
    let index = if own == 0 { s.kv_table_index } else { own };
    index.max(1)
}

/// Holds a blocking KV read until its index moves past the one it names, or its wait runs out.
async fn block(req: &Request, state: &Mutex<State>, changed: &Notify) {
    let Some((key, recurse, index)) = kv_read(req).filter(|(_, _, index)| *index > 0) else {
        return;
    };
    let wait = q(req, "wait")
        .and_then(parse)
        .unwrap_or(DEFAULT_WAIT)
        .min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let woken = changed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = kv_index(
            &state.lock().unwrap_or_else(PoisonError::into_inner),
            key,
            recurse,
        );
        if now > index || tokio::time::timeout_at(deadline, woken).await.is_err() {
            return;
        }
    }
}

async fn serve(mut stream: TcpStream, state: &Mutex<State>, changed: &Notify) -> std::io::Result<()> {
    let Some(req) = read_request(&mut stream).await? else {
        return Ok(());
    };
    block(&req, state, changed).await;
    let (status, answer, index) = {
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        let (status, answer) = handle(&mut s, &req);
        let index = kv_read(&req).map(|(key, recurse, _)| kv_index(&s, key, recurse));
        s.log.push(Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            status,
            answer: answer.clone(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            user_agent: req.headers.get("user-agent").cloned(),
        });
        (status, answer, index)
    };
    if req.method != "GET" {
        changed.notify_waiters();
    }
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let index = index
        .map(|i| format!("X-Consul-Index: {i}\r\n"))
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{index}Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn q<'a>(req: &'a Request, key: &str) -> Option<&'a str> {
    req.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn handle(s: &mut State, req: &Request) -> (u16, String) {
    if !s.fail_next.is_empty() {
        let status = s.fail_next.remove(0);
        return (status, "injected failure".into());
    }
    if let Some(token) = &s.token
        && req.headers.get("x-consul-token") != Some(token)
    {
        return (
            403,
            "Permission denied: token with AccessorID '' lacks permission".into(),
        );
    }
    let ent = s.version.is_some_and(|v| v.is_enterprise());
    if !ent {
        let header =
            req.headers.contains_key("x-consul-namespace") || req.headers.contains_key("x-consul-partition");
        if header || q(req, "ns").is_some() || q(req, "partition").is_some() {
            return (
                400,
                "Bad request: Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature"
                    .into(),
            );
        }
        if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body)
            && (body.contains_key("Namespace") || body.contains_key("Partition"))
        {
            return (400, "Bad request: Request decoding failed: json: unknown field \"Namespace\" (a Consul Enterprise feature)".into());
        }
    }
    if req.method == "PUT" || req.method == "DELETE" {
        s.writes_seen += 1;
        if let Some((n, status)) = s.fail_write_at
            && n == s.writes_seen
        {
            s.fail_write_at = None;
            return (status, "injected write failure".into());
        }
    }
    let ns = q(req, "ns").unwrap_or("default").to_owned();
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "agent", "self"]) => {
            let v = s.version.unwrap_or_default();
            let meta = if v.is_enterprise() { "ent" } else { "" };
            let version = format!("{}.{}.{}", v.major, v.minor, v.patch);
            (200, json!({"Config": {"Datacenter": "dc1", "Version": version, "VersionMetadata": meta}}).to_string())
        }
        ("GET", ["v1", "config", kind, name]) => {
            match s.entries.get(&((*kind).to_owned(), ns, (*name).to_owned())) {
                Some(e) => (200, e.to_string()),
                None => (404, format!("Config entry not found for {kind:?} / {name:?}")),
            }
        }
        ("GET", ["v1", "config", kind]) => {
            let list: Vec<&Value> = s
                .entries
                .iter()
                .filter(|((k, n, _), _)| k == kind && *n == ns)
                .map(|(_, v)| v)
                .collect();
            (200, json!(list).to_string())
        }
        ("PUT", ["v1", "config"]) => put_entry(s, req, &ns),
        ("DELETE", ["v1", "config", kind, name]) => {
            let key = ((*kind).to_owned(), ns, (*name).to_owned());
            let Some(current) = s.entries.get(&key) else {
                return (200, "true".into());
            };
            if let Some(cas) = q(req, "cas").and_then(|c| c.parse::<u64>().ok())
                && current["ModifyIndex"].as_u64() != Some(cas)
            {
                return (200, "false".into());
            }
            let mut next = s.entries.clone();
            next.remove(&key);
            if let Err(e) = validate(&next) {
                return (500, e);
            }
            s.entries = next;
            s.index += 1;
            (200, "true".into())
        }
        ("PUT", ["v1", "agent", "service", "register"]) => {
            let Ok(mut body) = serde_json::from_slice::<Value>(&req.body) else {
                return (400, "Request decode failed".into());
            };
            let Some(name) = body["Name"].as_str().map(str::to_owned) else {
                return (400, "Missing service name".into());
            };
            let id = body["ID"].as_str().map_or(name.clone(), str::to_owned);
            body["ID"] = json!(id);
            s.services.insert(id, body);
            (200, String::new())
        }
        ("PUT", ["v1", "agent", "service", "deregister", id]) => match s.services.remove(*id) {
            Some(_) => (200, String::new()),
            None => (404, format!("Unknown service ID {id:?}")),
        },
        ("GET", ["v1", "agent", "services"]) => {
            let wanted = q(req, "filter")
                .and_then(|f| f.strip_prefix("Service == "))
                .map(|n| n.trim_matches('"').to_owned());
            let map: serde_json::Map<String, Value> = s
                .services
                .iter()
                .filter(|(_, v)| wanted.as_deref().is_none_or(|w| v["Name"] == w))
                .map(|(k, v)| {
                    let mut v = v.clone();
                    v["Service"] = v["Name"].clone();
                    (k.clone(), v)
                })
                .collect();
            (200, Value::Object(map).to_string())
        }
        ("GET", ["v1", "health", "service", name]) => {
            let list: Vec<Value> = s
                .services
                .values()
                .filter(|v| v["Name"] == *name)
                .map(|v| json!({"Node": {"Node": "fake", "Address": "127.0.0.1"}, "Service": v, "Checks": [{"Status": "passing"}]}))
                .collect();
            (200, json!(list).to_string())
        }
        ("GET", ["v1", "connect", "ca", "roots"]) => (
            200,
            json!({
                "ActiveRootID": "aa:bb",
                "TrustDomain": "11111111-2222-3333-4444-555555555555.consul",
                "Roots": [{"ID": "aa:bb", "Name": "Consul CA Root Cert", "RootCert": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                           "IntermediateCerts": null, "NotAfter": "2036-01-01T00:00:00Z", "Active": true}]
            })
            .to_string(),
        ),
        (method, ["v1", "kv", rest @ ..]) => kv(s, method, &rest.join("/"), req),
        _ => (404, format!("no handler for {} {}", req.method, req.path)),
    }
}

fn put_entry(s: &mut State, req: &Request, ns: &str) -> (u16, String) {
    let Ok(mut body) = serde_json::from_slice::<Value>(&req.body) else {
        return (400, "Request decoding failed".into());
    };
    if !body["Kind"].is_string() {
        return (400, "Request decoding failed: missing Kind".into());
    }
    if body["Kind"] == "proxy-defaults" && body["Name"] != "global" {
        return (
            500,
            "invalid config entry: proxy-defaults must be named \"global\"".into(),
        );
    }
    let key = entry_key(&body, ns);
    if s.race_next_cas > 0
        && q(req, "cas").is_some()
        && let Some(e) = s.entries.get_mut(&key)
    {
        s.race_next_cas -= 1;
        s.index += 1;
        e["ModifyIndex"] = json!(s.index);
    }
    as_the_agent_stores(&mut body);
    let current = s.entries.get(&key);
    // As the real agent does: writing an entry identical to the stored one changes nothing and
    // answers `true`, whatever the `?cas=` index (Consul 1.22.7, measured in the test
    // environment).
    if let Some(e) = current {
        let mut stored = e.clone();
        if let Some(fields) = stored.as_object_mut() {
            fields.remove("CreateIndex");
            fields.remove("ModifyIndex");
        }
        if stored == body {
            return (200, "true".into());
        }
    }
    if let Some(cas) = q(req, "cas").and_then(|c| c.parse::<u64>().ok()) {
        let ok = match current {
            None => cas == 0,
            Some(e) => cas != 0 && e["ModifyIndex"].as_u64() == Some(cas),
        };
        if !ok {
            return (200, "false".into());
        }
    }
    let create_index = current.and_then(|e| e["CreateIndex"].as_u64());
    let mut next = s.entries.clone();
    s.index += 1;
    body["CreateIndex"] = json!(create_index.unwrap_or(s.index));
    body["ModifyIndex"] = json!(s.index);
    next.insert(key, body);
    if let Err(e) = validate(&next) {
        return (500, e);
    }
    s.entries = next;
    (200, "true".into())
}

/// What Consul 1.22.7 does to a config entry it stores, as it answers it back (measured in the test
/// environment): `Protocol: ""`, `TransparentProxy: {}`, `MeshGateway: {}` and `Expose: {}` on
/// service-defaults (and `AccessLogs: {}` on proxy-defaults); `Peer: ""` and `MeshGateway: {}` on
/// each upstream override, whose `PassiveHealthCheck` durations become integer nanoseconds; `Required:
/// false`, `ConsulVersion: ""` and `EnvoyVersion: ""` on each Envoy extension; other durations in
/// Go's spelling (`"1.5s"` for `"1500ms"`); `Precedence` and `Type: "consul"` on each intention
/// source; the mesh entry's `TransparentProxy`, and a `false` it leaves out. (Not its `Hash`.)
fn as_the_agent_stores(body: &mut Value) {
    let kind = body["Kind"].as_str().unwrap_or_default().to_owned();
    let Some(fields) = body.as_object_mut() else {
        return;
    };
    let fill = |o: &mut serde_json::Map<String, Value>, key: &str, value: Value| {
        o.entry(key.to_owned()).or_insert(value);
    };
    match kind.as_str() {
        "service-defaults" | "proxy-defaults" => {
            if kind == "service-defaults" {
                fill(fields, "Protocol", json!(""));
            } else {
                fill(fields, "AccessLogs", json!({}));
            }
            for key in ["TransparentProxy", "MeshGateway", "Expose"] {
                fill(fields, key, json!({}));
            }
            if let Some(upstreams) = fields.get_mut("UpstreamConfig").and_then(Value::as_object_mut) {
                let list: Vec<&mut Value> = upstreams
                    .iter_mut()
                    .flat_map(|(key, value)| match (key.as_str(), value) {
                        ("Defaults", v) => vec![v],
                        ("Overrides", Value::Array(items)) => items.iter_mut().collect(),
                        _ => Vec::new(),
                    })
                    .collect();
                for upstream in list.into_iter().filter_map(Value::as_object_mut) {
                    fill(upstream, "Peer", json!(""));
                    fill(upstream, "MeshGateway", json!({}));
                    if let Some(check) = upstream
                        .get_mut("PassiveHealthCheck")
                        .and_then(Value::as_object_mut)
                    {
                        for key in ["Interval", "BaseEjectionTime"] {
                            if let Some(d) = check.get(key).and_then(Value::as_str).and_then(parse) {
                                check.insert(
                                    key.into(),
                                    json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                                );
                            }
                        }
                    }
                }
            }
            for ext in objects_in(fields, "EnvoyExtensions") {
                fill(ext, "Required", json!(false));
                fill(ext, "ConsulVersion", json!(""));
                fill(ext, "EnvoyVersion", json!(""));
            }
        }
        "mesh" => {
            if fields.get("AllowEnablingPermissiveMutualTLS") == Some(&json!(false)) {
                fields.remove("AllowEnablingPermissiveMutualTLS");
            }
            fill(fields, "TransparentProxy", json!({}));
            if let Some(tp) = fields.get_mut("TransparentProxy").and_then(Value::as_object_mut) {
                fill(tp, "MeshDestinationsOnly", json!(false));
            }
        }
        "service-resolver" => respell_durations(fields, &["ConnectTimeout", "RequestTimeout"]),
        "service-router" => {
            for route in objects_in(fields, "Routes") {
                let Some(dest) = route.get_mut("Destination").and_then(Value::as_object_mut) else {
                    continue;
                };
                respell_durations(dest, &["RequestTimeout", "IdleTimeout"]);
            }
        }
        "service-intentions" => {
            for source in objects_in(fields, "Sources") {
                // Exact source and destination: 9; a wildcard source: 8 (Consul's precedence table).
                let precedence = if source["Name"] == "*" { 8 } else { 9 };
                fill(source, "Precedence", json!(precedence));
                fill(source, "Type", json!("consul"));
            }
        }
        _ => {}
    }
}

/// The objects in the array `fields[key]`, if any.
fn objects_in<'a>(
    fields: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut serde_json::Map<String, Value>> {
    fields
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn parse(s: &str) -> Option<Duration> {
    mesh_core::units::parse_duration(s).ok()
}

fn respell_durations(fields: &mut serde_json::Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(d) = fields.get(*key).and_then(Value::as_str).and_then(parse) {
            fields.insert((*key).to_owned(), json!(go_duration(d)));
        }
    }
}

/// Go's `time.Duration.String()`: `1.5s`, `1m30s`, `1h0m0s`, `300ms`, `1.5µs`, `0s`.
fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let fraction = |whole: u128, unit: u128| {
        let digits = unit.ilog10() as usize;
        let rest = format!("{:0digits$}", whole % unit);
        let rest = rest.trim_end_matches('0');
        if rest.is_empty() {
            format!("{}", whole / unit)
        } else {
            format!("{}.{rest}", whole / unit)
        }
    };
    match nanos {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", fraction(n, 1_000)),
        n if n < 1_000_000_000 => format!("{}ms", fraction(n, 1_000_000)),
        n => {
            let secs = fraction(n % 60_000_000_000, 1_000_000_000);
            let minutes = n / 60_000_000_000;
            match minutes {
                0 => format!("{secs}s"),
                m if m < 60 => format!("{m}m{secs}s"),
                m => format!("{}h{}m{secs}s", m / 60, m % 60),
            }
        }
    }
}

fn kv(s: &mut State, method: &str, key: &str, req: &Request) -> (u16, String) {
    let cas = q(req, "cas").and_then(|c| c.parse::<u64>().ok());
    let pair = |(key, (value, index)): (&String, &(Vec<u8>, u64))| json!({"Key": key, "Value": base64_encode(value), "Flags": 0, "CreateIndex": index, "ModifyIndex": index});
    match method {
        // `?recurse`: every key under the prefix, in key order, as Consul answers; 404 for none.
        "GET" if q(req, "recurse").is_some() => {
            let pairs: Vec<Value> =
                s.kv.iter()
                    .filter(|(k, _)| k.starts_with(key))
                    .map(pair)
                    .collect();
            if pairs.is_empty() {
                (404, String::new())
            } else {
                (200, Value::Array(pairs).to_string())
            }
        }
        "GET" => match s.kv.get_key_value(key) {
            Some(found) => (200, json!([pair(found)]).to_string()),
            None => (404, String::new()),
        },
        "PUT" => {
            let current = s.kv.get(key).map(|(_, i)| *i);
            if let Some(cas) = cas {
                let ok = match current {
                    None => cas == 0,
                    Some(i) => i == cas,
                };
                if !ok {
                    return (200, "false".into());
                }
            }
            // The agent (1.22.7, measured) keeps an identical value's ModifyIndex: nothing
            // changed, and no blocking query wakes.
            if s.kv.get(key).is_some_and(|(value, _)| *value == req.body) {
                return (200, "true".into());
            }
            s.index += 1;
            let index = s.index;
            s.kv.insert(key.to_owned(), (req.body.clone(), index));
            s.kv_tombstones.remove(key);
            s.kv_table_index = index;
            (200, "true".into())
        }
        "DELETE" => {
            if let (Some(cas), Some((_, i))) = (cas, s.kv.get(key))
                && *i != cas
            {
                return (200, "false".into());
            }
            // A deletion is a raft write too: it moves the index, and its tombstone keeps the
            // prefix's index from going backwards until it is reaped.
            if s.kv.remove(key).is_some() {
                s.index += 1;
                let index = s.index;
                s.kv_tombstones.insert(key.to_owned(), index);
                s.kv_table_index = index;
            }
            (200, "true".into())
        }
        _ => (405, String::new()),
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::go_duration;

    #[test]
    fn durations_are_spelled_as_go_spells_them() {
        for (d, go) in [
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(300), "300ms"),
            (Duration::from_nanos(1500), "1.5µs"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(go_duration(d), go);
        }
    }
}
