//! [`KubeEngine`]: reads objects and applies plans, dry run first, with retries.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use http::Method;
use mesh_core::{ApplyReport, Error, MeshKind, ObjectRef, Plan, Precondition, Result, Write, WriteAction};
use serde_json::Value;

use crate::{
    KubeError, ResourceType, RetryPolicy,
    error::{crd_missing, map_status},
    object_for,
    request::{APPLY_PATCH, ApiRequest, ApiResponse, JSON, send},
};

/// The field manager [`KubeEngine::try_default`] uses.
pub const DEFAULT_FIELD_MANAGER: &str = "mesh";

/// Reads objects and applies [`Plan`]s on a Kubernetes cluster, for one mesh.
///
/// `apply` runs in two phases: a server-side dry run (`dryRun=All`) of every write, then the real
/// writes in plan order. Each write lands as its [`WriteAction`] says:
///
/// | action | request |
/// |---|---|
/// | `Apply` | `PATCH` `application/apply-patch+yaml`, `fieldManager`, `force=false` (server-side apply) |
/// | `Create` | `POST` to the collection |
/// | `Replace` | `PUT` with `metadata.resourceVersion` from [`Precondition::Version`] |
/// | `ApplyStatus` | server-side apply on the `/status` subresource |
/// | `Delete` | `DELETE` (a missing object counts as deleted) |
///
/// Every object written carries the label `app.kubernetes.io/managed-by: mesh` ([`object_for`]).
/// Transient failures are retried under the [`RetryPolicy`]. Cloning is cheap.
///
/// ```no_run
/// # async fn demo(plan: mesh_core::Plan) -> mesh_core::Result<()> {
/// use mesh_core::{MeshKind, ObjectRef};
/// let engine = mesh_kube::KubeEngine::try_default(MeshKind::Istio).await?;
/// let vs = ObjectRef::new("networking.istio.io/v1", "VirtualService", Some("prod"), "reviews");
/// let current = engine.get(&vs).await?;
/// let report = engine.apply(&plan).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KubeEngine {
    client: kube::Client,
    mesh: MeshKind,
    field_manager: Arc<str>,
    retry: RetryPolicy,
    /// Validate plans offline first, with this Gateway API bundle (`Some(None)`: the default).
    validate: Option<Option<Arc<str>>>,
    discovered: Arc<Mutex<HashMap<(String, String), ResourceType>>>,
    /// Plans read from watched copies instead of a GET per object (`with_watch_cache`).
    pub(crate) watched: Option<Arc<crate::watch_cache::WatchCache>>,
}

impl std::fmt::Debug for KubeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds credentials; it is never printed.
        f.debug_struct("KubeEngine")
            .field("mesh", &self.mesh)
            .field("field_manager", &self.field_manager)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl KubeEngine {
    /// An engine on `client`, writing as `field_manager`.
    pub fn new(client: kube::Client, mesh: MeshKind, field_manager: &str) -> Self {
        Self {
            client,
            mesh,
            field_manager: Arc::from(field_manager),
            retry: RetryPolicy::default(),
            validate: None,
            discovered: Arc::default(),
            watched: None,
        }
    }

    /// An engine on the client `kube::Client::try_default` builds (kubeconfig, or the in-cluster
    /// service account), writing as [`DEFAULT_FIELD_MANAGER`].
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when no kubeconfig or in-cluster configuration is found.
    pub async fn try_default(mesh: MeshKind) -> Result<Self> {
        let not_configured = |e: &dyn std::fmt::Display| {
            Error::not_configured(
                "Kubernetes client",
                format!("set KUBECONFIG or run in a cluster: {e}"),
            )
        };
        let config = kube::Config::infer().await.map_err(|e| not_configured(&e))?;
        let client = crate::client_from(config).map_err(|e| not_configured(&e))?;
        Ok(Self::new(client, mesh, DEFAULT_FIELD_MANAGER))
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Validates every plan against the bundled schemas ([`SchemaSet::validate_plan`]) before
    /// sending anything, with `gateway_api_bundle` for Gateway API kinds (`None`: the default
    /// bundle). Off by default: the server-side dry run checks the cluster's own schemas.
    ///
    /// [`SchemaSet::validate_plan`]: crate::schema::SchemaSet::validate_plan
    #[must_use]
    pub fn validating(mut self, gateway_api_bundle: Option<&str>) -> Self {
        self.validate = Some(gateway_api_bundle.map(Arc::from));
        self
    }

    /// The mesh whose objects this engine writes.
    pub fn mesh(&self) -> MeshKind {
        self.mesh
    }

    /// The field manager of every write.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// The underlying client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Reads one object.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] naming the CRD and the mesh when the cluster does not serve the
    /// object's type; [`Error::Backend`] when the server keeps failing.
    pub async fn get(&self, r: &ObjectRef) -> Result<Option<Value>> {
        let rt = self.resource_type(&r.api_version, &r.kind).await?;
        let req = ApiRequest::new(Method::GET, rt.object_path(self.namespace_of(r), &r.name));
        let resp = self.send(&req).await?;
        match resp.status {
            200 => decode(&resp.body)
                .map(Some)
                .map_err(|e| Error::backend(self.mesh, e)),
            404 => match map_status(self.mesh, 404, &resp.body, r, &rt) {
                Error::NotFound { .. } => Ok(None),
                other => Err(other),
            },
            code => Err(map_status(self.mesh, code, &resp.body, r, &rt)),
        }
    }

    /// Lists objects of a kind, in `namespace` (or all namespaces), matching a label selector
    /// such as `app.kubernetes.io/managed-by=mesh`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>> {
        let rt = self.resource_type(api_version, kind).await?;
        let mut req = ApiRequest::new(Method::GET, rt.collection_path(namespace));
        if let Some(sel) = label_selector {
            req = req.query("labelSelector", sel);
        }
        let resp = self.send(&req).await?;
        let target = ObjectRef::new(api_version, kind, namespace, "");
        match resp.status {
            200 => {
                let list = decode(&resp.body).map_err(|e| Error::backend(self.mesh, e))?;
                Ok(match list.get("items") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => Vec::new(),
                })
            }
            code => Err(map_status(self.mesh, code, &resp.body, &target, &rt)),
        }
    }

    /// Applies `plan`: a dry run of every write, then the writes in order.
    ///
    /// An empty plan sends nothing. A plan that is not safe at every prefix
    /// ([`Plan::check_safe_prefixes`]) is refused before any request, as is, with
    /// [`validating`](Self::validating), an object that fails its pinned schema.
    ///
    /// # Errors
    /// - a failure in the dry run, or at the first write: that write's error, nothing written;
    /// - a failure at a later write: [`Error::PartiallyApplied`] with exactly the writes that
    ///   landed, in order;
    /// - per write: [`Error::NotConfigured`] (CRD missing), [`Error::Conflict`] (another field
    ///   manager, named, or a stale `resourceVersion`), [`Error::AlreadyExists`] (create),
    ///   [`Error::NotFound`] (replace of a missing object), [`Error::InvalidInput`] (the server
    ///   rejected the object), [`Error::Backend`] (retries ran out).
    ///
    /// A write whose answer never came (timeout, dropped connection) is sent again. When that
    /// second attempt is refused (the object exists, its version moved on) or the retries run
    /// out, the object is read back: if the server holds what the write carried, it landed and is
    /// reported so; otherwise the refusal or the failure stands.
    pub async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        self.apply_answered(plan).await.map(|(report, _)| report)
    }

    /// [`KubeEngine::apply`], with the server's answer to each write: the object as stored
    /// (with its new `resourceVersion`), or `None` where there is none (a delete, or a write
    /// whose answer was lost and that was found landed by reading it back).
    ///
    /// A plan of one write skips the server-side dry run: a single-object write is atomic, and
    /// the server validates it the same way; the dry runs guard multi-object plans, which could
    /// otherwise land half-way.
    ///
    /// # Errors
    /// As [`KubeEngine::apply`].
    pub async fn apply_answered(&self, plan: &Plan) -> Result<(ApplyReport, Vec<Option<Value>>)> {
        if let Err(unsafe_prefix) = plan.check_safe_prefixes() {
            return Err(Error::invalid("plan", unsafe_prefix.to_string()));
        }
        self.validate_offline(plan)?;
        let prepared = self.prepare(plan).await?;
        if plan.writes.len() > 1 {
            self.dry_run_prepared(plan, &prepared).await?;
        }
        let mut applied = Vec::with_capacity(prepared.len());
        let mut answers = Vec::with_capacity(prepared.len());
        for (write, req) in plan.writes.iter().zip(&prepared) {
            match self.execute(write, req).await {
                Ok(answer) => answers.push(answer),
                Err(source) if applied.is_empty() => return Err(source),
                Err(source) => {
                    return Err(Error::PartiallyApplied {
                        applied,
                        failed: Box::new(write.target.clone()),
                        total: plan.writes.len(),
                        source: Box::new(source),
                    });
                }
            }
            applied.push(write.target.clone());
        }
        let report = ApplyReport {
            applied,
            event: plan.event.clone(),
            warnings: plan.warnings.clone(),
            pending: plan.pending.clone(),
        };
        Ok((report, answers))
    }

    /// Runs only the server-side dry run (`dryRun=All`) of every write of `plan`.
    ///
    /// A write to an object that an earlier write of the plan creates may find it missing in the
    /// dry run; that is not an error.
    ///
    /// # Errors
    /// The first write the server would refuse, as in [`apply`](Self::apply).
    pub async fn dry_run(&self, plan: &Plan) -> Result<()> {
        let prepared = self.prepare(plan).await?;
        self.dry_run_prepared(plan, &prepared).await
    }

    fn validate_offline(&self, plan: &Plan) -> Result<()> {
        let Some(bundle) = &self.validate else {
            return Ok(());
        };
        let set = crate::schema::SchemaSet::bundled();
        match set.validate_plan(plan, bundle.as_deref()) {
            Ok(()) => Ok(()),
            Err(bad) => {
                let (target, violations) = &bad[0];
                let first = &violations[0];
                Err(Error::invalid(
                    format!("{target}: {}", first.path),
                    violations
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ))
            }
        }
    }

    async fn dry_run_prepared(&self, plan: &Plan, prepared: &[ApiRequest]) -> Result<()> {
        for (i, (write, req)) in plan.writes.iter().zip(prepared).enumerate() {
            let req = req.clone().query("dryRun", "All");
            match self.execute(write, &req).await {
                Ok(_) => {}
                // The dry run sees the cluster before the plan: an object an earlier write creates
                // is still missing, one an earlier write deletes is still there.
                Err(Error::NotFound { .. }) if written_earlier(&plan.writes[..i], &write.target, false) => {}
                // An object in a namespace that an earlier write creates: the real API server
                // answers 404 naming the namespace, not the object.
                Err(Error::NotFound { kind, name })
                    if kind == "Namespace" && namespace_created_earlier(&plan.writes[..i], &name) => {}
                Err(e @ Error::NotFound { .. }) if write.action == WriteAction::ApplyStatus => {
                    let rt = self
                        .resource_type(&write.target.api_version, &write.target.kind)
                        .await?;
                    self.check_status_subresource(&rt).await?;
                    return Err(e);
                }
                Err(Error::AlreadyExists { .. })
                    if written_earlier(&plan.writes[..i], &write.target, true) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Builds the request of every write, resolving types first so that a missing CRD stops the
    /// plan before anything is sent.
    async fn prepare(&self, plan: &Plan) -> Result<Vec<ApiRequest>> {
        let mut out = Vec::with_capacity(plan.writes.len());
        for write in &plan.writes {
            let rt = self
                .resource_type(&write.target.api_version, &write.target.kind)
                .await?;
            out.push(self.request_for(write, &rt)?);
        }
        Ok(out)
    }

    fn request_for(&self, write: &Write, rt: &ResourceType) -> Result<ApiRequest> {
        let t = &write.target;
        let path = rt.object_path(self.namespace_of(t), &t.name);
        let version = match &write.precondition {
            Some(Precondition::Version(v)) => Some(v.as_str()),
            _ => None,
        };
        let manager = write
            .field_manager
            .as_deref()
            .unwrap_or(&self.field_manager)
            .to_owned();
        let verb = match (write.action, &write.precondition) {
            (WriteAction::Delete, _) => {
                let mut req = ApiRequest::new(Method::DELETE, path);
                if let Some(v) = version {
                    let opts = serde_json::json!({
                        "apiVersion": "v1", "kind": "DeleteOptions",
                        "preconditions": { "resourceVersion": v }
                    });
                    req = req.body(JSON, opts.to_string().into_bytes());
                }
                return Ok(req);
            }
            (WriteAction::ApplyStatus, _) => Verb::ApplyStatus,
            (WriteAction::Create, _) | (_, Some(Precondition::MustNotExist)) => Verb::Create,
            (WriteAction::Replace, _) => Verb::Replace,
            (WriteAction::Apply, _) => Verb::Apply,
        };
        let Some(mut obj) = object_for(write) else {
            return Err(Error::invalid(
                format!("plan write {t}"),
                "a write other than delete needs a body",
            ));
        };
        if let (Some(v), Some(meta)) = (version, obj.get_mut("metadata").and_then(Value::as_object_mut)) {
            meta.insert("resourceVersion".into(), Value::from(v));
        }
        let body = serde_json::to_vec(&obj).map_err(|e| Error::backend(self.mesh, e))?;
        let collection = rt.collection_path(self.namespace_of(t));
        let req = match verb {
            Verb::Create => ApiRequest::new(Method::POST, collection),
            Verb::Replace => ApiRequest::new(Method::PUT, path),
            Verb::Apply => ApiRequest::new(Method::PATCH, path),
            Verb::ApplyStatus => ApiRequest::new(Method::PATCH, format!("{path}/status")),
        }
        .query("fieldManager", manager);
        Ok(match verb {
            Verb::Create | Verb::Replace => req.query("fieldValidation", "Strict").body(JSON, body),
            Verb::Apply => req
                .query("fieldValidation", "Strict")
                .query("force", "false")
                .body(APPLY_PATCH, body),
            Verb::ApplyStatus => req.query("force", "false").body(APPLY_PATCH, body),
        })
    }

    /// Sends one prepared write and maps its outcome.
    ///
    /// When an answer was lost on the way (a timeout or dropped connection, then a retry), the
    /// refusal that follows (the object exists, its version moved on) or the retries running
    /// out may be our own write having landed: the object is read back, and the write counts as
    /// landed when the server holds what it carried ([`landed`]).
    async fn execute(&self, write: &Write, req: &ApiRequest) -> Result<Option<Value>> {
        let rt = self
            .resource_type(&write.target.api_version, &write.target.kind)
            .await?;
        let resp = match send(&self.client, req, &self.retry).await {
            Ok(resp) => resp,
            Err(e) if e.answer_may_be_lost() && self.landed(write).await => {
                tracing::debug!(target = %write.target, error = %e, "the answer was lost, but the write landed");
                return Ok(None);
            }
            Err(e) => return Err(Error::backend(self.mesh, e)),
        };
        tracing::debug!(
            mesh = %self.mesh,
            method = %req.method,
            path = %req.path,
            dry_run = req.query.iter().any(|(k, _)| *k == "dryRun"),
            status = resp.status,
            ambiguous = resp.ambiguous,
            "write"
        );
        // The API server answers a /status write to a kind without that subresource as if the
        // object were missing (404 naming it): discovery tells the two apart. (The dry run asks
        // only when no earlier write of the plan creates the object.)
        let dry_run = req.query.iter().any(|(k, _)| *k == "dryRun");
        if resp.status == 404 && write.action == WriteAction::ApplyStatus && !dry_run {
            self.check_status_subresource(&rt).await?;
        }
        match resp.status {
            200..=299 if write.action == WriteAction::Delete => Ok(None),
            200..=299 => Ok(serde_json::from_slice(&resp.body).ok()),
            code => match map_status(self.mesh, code, &resp.body, &write.target, &rt) {
                Error::NotFound { .. } if write.action == WriteAction::Delete => Ok(None),
                e @ (Error::AlreadyExists { .. } | Error::Conflict { .. })
                    if resp.ambiguous && self.landed(write).await =>
                {
                    tracing::debug!(target = %write.target, refusal = %e, "the answer was lost, but the write landed");
                    Ok(None)
                }
                e => Err(e),
            },
        }
    }

    /// Whether the server now holds what `write` carried (read back after a lost answer): a
    /// deleted object is gone; any other write's fields are all there with its values.
    async fn landed(&self, write: &Write) -> bool {
        let Ok(current) = self.get(&write.target).await else {
            return false; // the server cannot tell us: report the failure as it came
        };
        match (write.action, current, object_for(write)) {
            (WriteAction::Delete, current, _) => current.is_none(),
            (_, Some(current), Some(sent)) => crate::landed::holds(&current, &sent),
            _ => false,
        }
    }

    /// The namespace of an object reference, or the client's default namespace when it has none
    /// (cluster-scoped kinds ignore it).
    pub(crate) fn namespace_of<'a>(&'a self, r: &'a ObjectRef) -> Option<&'a str> {
        Some(r.namespace.as_deref().unwrap_or(self.client.default_namespace()))
    }

    pub(crate) async fn send(&self, req: &ApiRequest) -> Result<ApiResponse> {
        send(&self.client, req, &self.retry)
            .await
            .map_err(|e| Error::backend(self.mesh, e))
    }

    /// Where `apiVersion`/`kind` lives: the built-in table and bundled CRDs, else API discovery
    /// (cached).
    pub(crate) async fn resource_type(&self, api_version: &str, kind: &str) -> Result<ResourceType> {
        if let Some(rt) = ResourceType::resolve(api_version, kind) {
            return Ok(rt);
        }
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(rt) = self.discovered.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(rt);
        }
        let rt = self.discover(api_version, kind).await?;
        if let Ok(mut m) = self.discovered.lock() {
            m.insert(key, rt.clone());
        }
        Ok(rt)
    }

    /// Refuses a /status write to `rt` when API discovery does not list `<plural>/status`, as it
    /// does only for the kinds that have a status subresource.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] naming the status subresource, or the CRD when its group version
    /// is not served.
    async fn check_status_subresource(&self, rt: &ResourceType) -> Result<()> {
        let resp = self
            .send(&ApiRequest::new(Method::GET, rt.group_version_path()))
            .await?;
        match resp.status {
            200 => {}
            404 => return Err(crd_missing(self.mesh, rt)),
            code => {
                let target = ObjectRef::new(&rt.api_version(), &rt.kind, None, "");
                return Err(map_status(self.mesh, code, &resp.body, &target, rt));
            }
        }
        let list = decode(&resp.body).map_err(|e| Error::backend(self.mesh, e))?;
        let status = format!("{}/status", rt.plural);
        if list["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["name"].as_str() == Some(status.as_str()))
        {
            return Ok(());
        }
        Err(Error::not_configured(
            format!("the status subresource of CRD {}", rt.crd_name()),
            format!(
                "{} {} has no /status; write its status with the object",
                rt.api_version(),
                rt.kind
            ),
        ))
    }

    async fn discover(&self, api_version: &str, kind: &str) -> Result<ResourceType> {
        // A placeholder plural names the type in errors until discovery finds the real one.
        let guess = ResourceType::new(api_version, kind, &format!("{}s", kind.to_lowercase()), true);
        let resp = self
            .send(&ApiRequest::new(Method::GET, guess.group_version_path()))
            .await?;
        match resp.status {
            200 => {}
            404 => return Err(crd_missing(self.mesh, &guess)),
            code => {
                let target = ObjectRef::new(api_version, kind, None, "");
                return Err(map_status(self.mesh, code, &resp.body, &target, &guess));
            }
        }
        let list = decode(&resp.body).map_err(|e| Error::backend(self.mesh, e))?;
        list["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                r["kind"].as_str() == Some(kind) && r["name"].as_str().is_some_and(|n| !n.contains('/'))
            })
            .and_then(|r| {
                Some(ResourceType::new(
                    api_version,
                    kind,
                    r["name"].as_str()?,
                    r["namespaced"].as_bool().unwrap_or(true),
                ))
            })
            .ok_or_else(|| crd_missing(self.mesh, &guess))
    }

    /// The versions the cluster serves of the CRD `<kind_plural>.<group>`, in the CRD's order;
    /// empty when the CRD is not installed. Reads the CRD, or, without permission to, asks API
    /// discovery for each version of the group.
    ///
    /// # Errors
    /// [`Error::Backend`] when the server keeps failing.
    pub async fn served_versions(&self, group: &str, kind_plural: &str) -> Result<Vec<String>> {
        let crds = ResourceType::new(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        );
        let name = format!("{kind_plural}.{group}");
        let target = ObjectRef::new("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, &name);
        let resp = self
            .send(&ApiRequest::new(Method::GET, crds.object_path(None, &name)))
            .await?;
        match resp.status {
            200 => {
                let crd = decode(&resp.body).map_err(|e| Error::backend(self.mesh, e))?;
                Ok(crd["spec"]["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| v["served"].as_bool() == Some(true))
                    .filter_map(|v| v["name"].as_str().map(str::to_owned))
                    .collect())
            }
            404 => Ok(Vec::new()),
            401 | 403 => self.served_versions_by_discovery(group, kind_plural).await,
            code => Err(map_status(self.mesh, code, &resp.body, &target, &crds)),
        }
    }

    async fn served_versions_by_discovery(&self, group: &str, plural: &str) -> Result<Vec<String>> {
        let resp = self
            .send(&ApiRequest::new(Method::GET, format!("/apis/{group}")))
            .await?;
        if resp.status == 404 {
            return Ok(Vec::new());
        }
        let group_doc = decode(&resp.body).map_err(|e| Error::backend(self.mesh, e))?;
        let mut served = Vec::new();
        for v in group_doc["versions"].as_array().into_iter().flatten() {
            let Some(version) = v["version"].as_str() else {
                continue;
            };
            let resp = self
                .send(&ApiRequest::new(Method::GET, format!("/apis/{group}/{version}")))
                .await?;
            if resp.status != 200 {
                continue;
            }
            let list = decode(&resp.body).map_err(|e| Error::backend(self.mesh, e))?;
            if list["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["name"].as_str() == Some(plural))
            {
                served.push(version.to_owned());
            }
        }
        Ok(served)
    }
}

/// The request a non-delete write becomes.
#[derive(Clone, Copy)]
enum Verb {
    Create,
    Replace,
    Apply,
    ApplyStatus,
}

/// True when one of `earlier` deletes `target` (`deleted`), or writes it.
fn written_earlier(earlier: &[Write], target: &ObjectRef, deleted: bool) -> bool {
    earlier.iter().any(|w| {
        &w.target == target
            && if deleted {
                w.action == WriteAction::Delete
            } else {
                matches!(
                    w.action,
                    WriteAction::Apply | WriteAction::Create | WriteAction::Replace
                )
            }
    })
}

fn namespace_created_earlier(earlier: &[Write], namespace: &str) -> bool {
    earlier.iter().any(|w| {
        w.target.kind == "Namespace"
            && w.target.name == namespace
            && matches!(
                w.action,
                WriteAction::Apply | WriteAction::Create | WriteAction::Replace
            )
    })
}

fn decode(body: &[u8]) -> std::result::Result<Value, KubeError> {
    serde_json::from_slice(body).map_err(|e| KubeError::Decode(e.to_string()))
}
