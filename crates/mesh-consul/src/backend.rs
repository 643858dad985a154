//! [`ConsulBackend`]: the [`MeshBackend`] over Consul's HTTP API.

use mesh_core::{
    ApplyReport, Capabilities, Change, DynStateStore, Error, MeshBackend, MeshKind, MtlsMode, MtlsStatus,
    Namespace, ObjectRef, Plan, Precondition, ReadSource, Result, StateKey, StateStore, StoredState, Write,
    WriteAction,
};

use crate::{
    ConsulPlanner,
    client::{self, ClientConfig, ConsulClient},
    model::{AgentServiceRegistration, ConfigEntry, EntryKind},
    translate::{self, Context, EntryKey, Read, Snapshot},
};

/// The Consul Connect backend.
///
/// `plan` validates the change and refuses missing features first, then detects the edition
/// (`/v1/agent/self`), reads the entries the change touches and translates it; `apply` writes in
/// plan order with check-and-set, re-planning a write whose guard lost a race (a bounded number of
/// times), and reports [`Error::PartiallyApplied`] when a write fails part-way.
///
/// ```no_run
/// # async fn demo() -> mesh_core::Result<()> {
/// use mesh_consul::ConsulBackend;
/// use mesh_core::{Change, MeshBackend, TrafficSplit};
/// let consul = ConsulBackend::from_env()?;
/// let change = Change::SetTrafficWeight {
///     service: "web".parse()?,
///     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
/// };
/// let report = consul.execute(&change).await?;
/// assert_eq!(report.event.name(), "traffic.weight.updated");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConsulBackend {
    client: ConsulClient,
    lua_fault_emulation: bool,
    selector_labels: mesh_core::SelectorLabels,
}

impl ConsulBackend {
    /// A backend over `client`.
    pub fn new(client: ConsulClient) -> Self {
        Self {
            client,
            lua_fault_emulation: false,
            selector_labels: mesh_core::SelectorLabels::default(),
        }
    }

    /// A backend configured from the Consul environment variables.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] for a bad address, token file or certificate.
    pub fn from_env() -> Result<Self> {
        let config = ClientConfig::from_env()?;
        Ok(Self::new(ConsulClient::new(config)?))
    }

    /// Opts into emulating abort faults with a `builtin/lua` extension where Consul has no
    /// fault-injection extension (CE, Enterprise before 1.18). Delays are never emulated.
    #[must_use]
    pub fn emulate_abort_with_lua(mut self, on: bool) -> Self {
        self.lua_fault_emulation = on;
        self
    }

    /// Sets the instance labels; their version key is the service metadata key that subsets
    /// filter on.
    #[must_use]
    pub fn selector_labels(mut self, keys: mesh_core::SelectorLabels) -> Self {
        self.selector_labels = keys;
        self
    }

    /// The HTTP client.
    pub fn client(&self) -> &ConsulClient {
        &self.client
    }

    async fn context(&self) -> Result<Context> {
        Ok(Context {
            version: self.client.version().await?,
            lua_fault_emulation: self.lua_fault_emulation,
            selector_labels: self.selector_labels.clone(),
        })
    }

    /// The planner for the agent in front of us.
    async fn planner(&self) -> Result<ConsulPlanner> {
        Ok(ConsulPlanner::new(self.context().await?))
    }

    /// Writes one plan step. `Ok(false)` means a check-and-set guard lost a race.
    async fn write(&self, w: &Write) -> Result<bool, client::Error> {
        let ns = w.target.namespace.as_deref();
        if w.target.kind == translate::AGENT_SERVICE {
            return match w.action {
                WriteAction::Delete => self
                    .client
                    .deregister_service(&w.target.name, ns)
                    .await
                    .map(|()| true),
                _ => {
                    let body: AgentServiceRegistration =
                        serde_json::from_value(w.body.clone().unwrap_or_default()).map_err(|source| {
                            client::Error::Decode {
                                path: "/v1/agent/service/register".into(),
                                source,
                            }
                        })?;
                    self.client.register_service(&body).await.map(|()| true)
                }
            };
        }
        let kind: EntryKind = w.target.kind.parse().map_err(|reason| client::Error::Config {
            what: "plan".into(),
            reason,
        })?;
        let cas = match &w.precondition {
            Some(Precondition::MustNotExist) => Some(0),
            Some(Precondition::Version(v)) => v.parse().ok(),
            None => None,
        };
        match w.action {
            WriteAction::Delete => self.client.delete_entry(kind, &w.target.name, ns, cas).await,
            _ => {
                let entry = ConfigEntry::from_json(w.body.clone().unwrap_or_default()).map_err(|source| {
                    client::Error::Decode {
                        path: "/v1/config".into(),
                        source,
                    }
                })?;
                self.client.put_entry(&entry, ns, cas).await
            }
        }
    }

    /// Writes `w`; when its guard loses a race, re-reads, re-plans the change and writes the new
    /// version of the same target, a bounded number of times. `Ok(())` also when re-planning shows
    /// the target already converged.
    async fn write_with_cas(&self, plan: &Plan, w: &Write) -> Result<()> {
        let mut current = w.clone();
        let attempts = self.client.config().cas_retries + 1;
        for _ in 0..attempts {
            match self.write(&current).await {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::debug!(target = %current.target, "check-and-set lost a race; re-planning");
                }
                // The request may have landed and only the answer was lost: read back before
                // reporting. If the fresh plan no longer needs this write, it landed; if it still
                // does, it is written again (guarded by check-and-set, so never twice).
                Err(e) if answer_lost(&e) => {
                    tracing::debug!(target = %current.target, error = %e, "answer lost; reading back");
                }
                Err(e) => return Err(e.into()),
            }
            let fresh = mesh_core::plan_with_reads(&self.planner().await?, self, &plan.change).await?;
            match fresh.writes.into_iter().find(|x| x.target == w.target) {
                Some(next) => current = next,
                None => return Ok(()),
            }
        }
        Err(client::Error::CasExhausted {
            key: w.target.to_string(),
            attempts,
        }
        .into())
    }
}

/// True when a request may have reached Consul but its answer did not arrive: the connection
/// dropped or timed out after it was sent. A failure to connect sent nothing.
fn answer_lost(e: &client::Error) -> bool {
    matches!(e, client::Error::Transport { source, .. } if !source.is_connect() && !source.is_builder())
}

/// What one read brought back (an entry is boxed: it is large, and most reads find none).
enum Answer {
    Entry(Option<Box<ConfigEntry>>),
    AgentServices(Vec<String>),
}

/// The agent as the planner's read source: config entries, and the agent's instances of a
/// service. The reads of one round are independent, so they are sent together; the snapshot is
/// filled in the order of `reads`, and the first failure in that order is the error.
impl ReadSource<Read, Snapshot> for ConsulBackend {
    async fn read_into(&self, reads: &[Read], snap: &mut Snapshot) -> Result<()> {
        let answers = futures_util::future::join_all(reads.iter().map(|read| async move {
            Ok::<_, Error>(match read {
                Read::Entry(key) => Answer::Entry(
                    self.client
                        .get_entry(key.kind, &key.name, key.namespace.as_deref())
                        .await?
                        .map(Box::new),
                ),
                Read::AgentServices { service, namespace } => Answer::AgentServices(
                    self.client
                        .agent_service_ids(service, namespace.as_deref())
                        .await?,
                ),
            })
        }))
        .await;
        for (read, answer) in reads.iter().zip(answers) {
            match (read, answer?) {
                (Read::Entry(key), Answer::Entry(Some(entry))) => {
                    snap.entries.insert(key.clone(), *entry);
                }
                (Read::AgentServices { service, .. }, Answer::AgentServices(ids)) => {
                    snap.agent_services.insert(service.clone(), ids);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl MeshBackend for ConsulBackend {
    fn kind(&self) -> MeshKind {
        MeshKind::Consul
    }

    fn capabilities(&self) -> Capabilities {
        crate::capabilities::capabilities(&self.client.known_version().unwrap_or_default())
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        // What no Consul can do is refused before any request, even the edition probe.
        let most_capable = Context {
            version: crate::ConsulVersion::enterprise(1, u32::MAX, 0),
            lua_fault_emulation: self.lua_fault_emulation,
            selector_labels: self.selector_labels.clone(),
        };
        translate::check(change, &most_capable)?;
        mesh_core::plan_with_reads(&self.planner().await?, self, change).await
    }

    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        let mut applied: Vec<ObjectRef> = Vec::new();
        for w in &plan.writes {
            if let Err(source) = self.write_with_cas(plan, w).await {
                tracing::warn!(target = %w.target, error = %source, "Consul write failed");
                return Err(Error::PartiallyApplied {
                    applied,
                    failed: Box::new(w.target.clone()),
                    total: plan.writes.len(),
                    source: Box::new(source),
                });
            }
            tracing::debug!(target = %w.target, "Consul write landed");
            applied.push(w.target.clone());
        }
        Ok(ApplyReport {
            applied,
            event: plan.event.clone(),
            warnings: plan.warnings.clone(),
            pending: plan.pending.clone(),
        })
    }

    /// State lives in the KV store under `mesh/state/` ([`crate::state::kv_key`]), written with
    /// check-and-set on its `ModifyIndex`.
    fn state_store(&self) -> Option<&dyn DynStateStore> {
        Some(self)
    }

    async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        let ctx = self.context().await?;
        translate::consul_namespace(&ctx, namespace, mesh_core::Feature::MtlsStatus)?;
        let roots = self.client.ca_roots().await?;
        let global = self
            .client
            .get_entry(EntryKind::ProxyDefaults, "global", None)
            .await?;
        let mode = match &global {
            Some(ConfigEntry::ProxyDefaults(pd)) => pd.mutual_tls_mode.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let mut notes = vec![
            "Connect sidecars always talk mTLS to each other; MutualTLSMode only decides whether plaintext reaches a transparent proxy".to_owned(),
        ];
        if let Some(root) = roots.active_root() {
            notes.push(format!(
                "active CA root {}{}",
                root.id,
                root.not_after
                    .as_deref()
                    .map(|t| format!(", valid until {t}"))
                    .unwrap_or_default()
            ));
        } else {
            notes.push("no active CA root: Connect is not enabled on this cluster".into());
        }
        Ok(MtlsStatus {
            namespace: namespace.clone(),
            mode: match mode.as_str() {
                "permissive" => MtlsMode::Permissive,
                // "" behaves as strict: permissive must be chosen, and allowed by the mesh entry.
                _ => MtlsMode::Strict,
            },
            automatic: true,
            trust_domain: (!roots.trust_domain.is_empty()).then_some(roots.trust_domain),
            notes,
        })
    }
}

/// The KV store under `mesh/state/`, every write a check-and-set.
impl StateStore for ConsulBackend {
    async fn read_state(&self, key: &StateKey) -> Result<Option<StoredState>> {
        crate::state::read(&self.client, key).await
    }

    async fn write_state(&self, key: &StateKey, value: &str, expected: Option<&str>) -> Result<String> {
        crate::state::write(&self.client, key, value, expected).await
    }

    async fn delete_state(&self, key: &StateKey, expected: &str) -> Result<()> {
        crate::state::delete(&self.client, key, expected).await
    }
}

/// The key of the entry a write targets, for callers inspecting plans.
pub fn entry_key(target: &ObjectRef) -> Option<EntryKey> {
    let kind = target.kind.parse().ok()?;
    Some(EntryKey::new(kind, target.namespace.as_deref(), &target.name))
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::*;
    use crate::ConsulVersion;

    /// Reads one request's head and returns its request line.
    async fn request_line(conn: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if conn.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// An agent that answers no read until two are in flight: sequential reads would wait for
    /// the first answer forever, and the test would time out instead of passing.
    #[tokio::test]
    async fn the_reads_of_one_round_are_in_flight_together() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut waiting = Vec::new();
            while waiting.len() < 2 {
                let (mut conn, _) = listener.accept().await.unwrap();
                let line = request_line(&mut conn).await;
                waiting.push((line, conn));
            }
            let mut lines = Vec::new();
            for (line, mut conn) in waiting {
                let answer = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                conn.write_all(answer.as_bytes()).await.unwrap();
                lines.push(line);
            }
            lines.sort();
            lines
        });
        let address = format!("http://{addr}");
        let config =
            ClientConfig::from_lookup(|k| (k == "CONSUL_HTTP_ADDR").then(|| address.clone())).unwrap();
        let client = ConsulClient::new(config)
            .unwrap()
            .with_version(ConsulVersion::default());
        let backend = ConsulBackend::new(client);
        let reads = [EntryKind::ServiceResolver, EntryKind::ServiceSplitter].map(|kind| {
            Read::Entry(EntryKey {
                kind,
                namespace: None,
                name: "reviews".into(),
            })
        });
        let mut snapshot = Snapshot::default();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            backend.read_into(&reads, &mut snapshot),
        )
        .await
        .expect("both reads were sent before either was answered")
        .unwrap();
        assert_eq!(
            server.await.unwrap(),
            [
                "GET /v1/config/service-resolver/reviews HTTP/1.1",
                "GET /v1/config/service-splitter/reviews HTTP/1.1",
            ]
        );
        assert!(snapshot.entries.is_empty(), "404: neither entry exists");
    }
}
