//! Turning a [`Change`] into a [`Plan`]: validate, refuse what Linkerd lacks, read what the change
//! needs, translate, and order the writes make-before-break.

use mesh_core::{
    Change, CircuitBreaker, Dependency, Error, Feature, MeshKind, ObjectRef, Plan, Precondition, Result,
    ServiceId, Subset, Version, Write, WriteAction,
};
use serde_json::{Map, Value, json};

use crate::{
    Config, LinkerdVersion, Reader, capabilities,
    objects::{self, DEFAULT_INBOUND_POLICY},
    translate::{authorization, circuit_breaker, fault, http_route, mtls, register, retry, smi, subsets},
};

const LINKERD: MeshKind = MeshKind::Linkerd;

/// Plans `change` against what `reader` returns, for Linkerd `version` under `config`.
///
/// Validation and every refusal happen before the first read.
///
/// ```
/// # futures_shim::block_on(async {
/// use mesh_core::{Change, TrafficSplit};
/// use mesh_linkerd::{Config, LinkerdVersion, Snapshot, objects, plan};
/// use serde_json::json;
/// let mut snap = Snapshot::default();
/// let id = "prod/reviews".parse().unwrap();
/// snap.insert(objects::service(&id), json!({"metadata": {"name": "reviews"},
///     "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}));
/// let change = Change::SetTrafficWeight { service: id, split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap() };
/// let p = plan(&change, &snap, &Config::default(), LinkerdVersion::V2_20).await.unwrap();
/// let kinds: Vec<_> = p.targets().iter().map(|t| format!("{} {}", t.kind, t.name)).collect();
/// assert_eq!(kinds, ["Service reviews-v1", "Service reviews-v2", "HTTPRoute reviews"]);
/// assert!(p.check_safe_prefixes().is_ok());
/// # });
/// # mod futures_shim { pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #   let waker = std::task::Waker::noop(); let mut cx = std::task::Context::from_waker(&waker);
/// #   let mut f = std::pin::pin!(f);
/// #   loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } } } }
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for bad input, [`Error::Unsupported`] naming the feature Linkerd (at
/// this version, under this configuration) cannot do, [`Error::NotFound`] when a Service the change
/// builds on is missing, and the reader's errors.
pub async fn plan<R: Reader>(
    change: &Change,
    reader: &R,
    config: &Config,
    version: LinkerdVersion,
) -> Result<Plan> {
    refuse(change, config, version)?;
    let mut p = Planner {
        reader,
        config,
        version,
        plan: Plan::for_change(LINKERD, change),
    };
    p.run(change).await?;
    Ok(p.plan)
}

/// Validates `change` and refuses, by feature, what Linkerd cannot do. Reads nothing.
///
/// # Errors
/// As [`plan`], without the reads.
pub fn refuse(change: &Change, config: &Config, version: LinkerdVersion) -> Result<()> {
    change.validate()?;
    let caps = capabilities(version, config);
    for feature in change.required_features() {
        if let Some(e) = caps.refusal(feature, capabilities::opted_in(feature, config)) {
            return Err(e);
        }
    }
    if let Change::CreateDestinationRule(p) = change
        && p.connection_pool
            .as_ref()
            .is_some_and(|c| c.max_pending_requests.is_some())
    {
        return Err(Error::unsupported(
            LINKERD,
            Feature::CircuitBreakerMaxConnections,
            "connection_pool.max_pending_requests: Linkerd has no connection-pool limits",
        ));
    }
    Ok(())
}

struct Planner<'a, R> {
    reader: &'a R,
    config: &'a Config,
    version: LinkerdVersion,
    plan: Plan,
}

fn subset_dep(id: &ServiceId, v: &Version) -> Dependency {
    Dependency::Subset {
        service: id.clone(),
        version: v.clone(),
    }
}

fn object_dep(r: &ObjectRef) -> Dependency {
    Dependency::Object { object: r.clone() }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn apply(target: ObjectRef, body: Value) -> Write {
    Write::new(WriteAction::Apply, target, Some(body))
}

/// The versions a set of HTTPRoute rules sends traffic to, through `<service>-<version>` backends.
fn versions_in(id: &ServiceId, rules: &[Value]) -> Vec<Version> {
    let prefix = format!("{}-", id.name);
    let mut out: Vec<Version> = rules
        .iter()
        .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| Version::new(b["name"].as_str()?.strip_prefix(&prefix)?).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

impl<R: Reader> Planner<'_, R> {
    async fn get(&self, r: &ObjectRef) -> Result<Option<Value>> {
        self.reader.get(r).await
    }

    async fn apex(&self, id: &ServiceId) -> Result<Value> {
        self.get(&objects::service(id))
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "Service".into(),
                name: id.to_string(),
            })
    }

    fn warn(&mut self, w: impl Into<String>) {
        let w = w.into();
        if !self.plan.warnings.contains(&w) {
            self.plan.warnings.push(w);
        }
    }

    fn route_ref(&self, id: &ServiceId) -> ObjectRef {
        objects::http_route(
            id,
            &self
                .version
                .http_route_api_version(self.config.http_route_flavour),
        )
    }

    /// A ServiceProfile for the Service overrides routes, retries and failure accrual: refuse, or
    /// warn when the caller opted in to something that creates one.
    async fn guard_service_profile(&mut self, id: &ServiceId, feature: Feature, allowed: bool) -> Result<()> {
        let sp = objects::service_profile(id);
        if self.get(&sp).await?.is_none() {
            return Ok(());
        }
        let why = format!(
            "ServiceProfile {} exists; Linkerd then ignores HTTPRoutes, retry and timeout annotations \
             and failure accrual for this Service",
            sp.name
        );
        if allowed {
            self.warn(why);
            Ok(())
        } else {
            Err(Error::unsupported(
                LINKERD,
                feature,
                format!("{why}; delete it (or migrate it to HTTPRoutes) first"),
            ))
        }
    }

    /// Plans the per-version Services `subsets` need. Existing ones are rewritten only when
    /// `update` (a destination policy sets their labels; a route or split only needs them to exist).
    async fn version_services(
        &mut self,
        id: &ServiceId,
        apex: &Value,
        subsets: &[Subset],
        update: bool,
    ) -> Result<()> {
        for s in subsets {
            let target = objects::version_service(id, &s.version);
            let want = subsets::version_service(id, apex, s);
            let dep = subset_dep(id, &s.version);
            match self.get(&target).await? {
                Some(have) => {
                    self.plan.baseline.available.push(dep.clone());
                    if update && objects::is_owned(&have) && !objects::contains(&have, &want) {
                        self.plan.push(apply(target, want).providing([dep]));
                    }
                }
                None => self.plan.push(apply(target, want).providing([dep])),
            }
        }
        Ok(())
    }

    /// Plans the HTTPRoute write of `update`.
    fn route_write(&mut self, target: ObjectRef, update: http_route::RouteUpdate, requires: Vec<Dependency>) {
        if update.unchanged {
            return;
        }
        let write = match update.resource_version {
            Some(rv) => {
                Write::new(WriteAction::Replace, target, Some(update.body)).guarded(Precondition::Version(rv))
            }
            None => apply(target, update.body),
        };
        self.plan.push(write.requiring(requires));
    }

    fn refuse_during_fault(route: Option<&Value>) -> Result<()> {
        let active = route
            .map(objects::annotations)
            .unwrap_or_default()
            .keys()
            .find(|k| k.starts_with("mesh.io/mesh-fault-"))
            .cloned();
        match active {
            Some(k) => Err(Error::invalid(
                "service",
                format!(
                    "fault {} is active on this route; remove it before changing routes",
                    k.trim_start_matches("mesh.io/")
                ),
            )),
            None => Ok(()),
        }
    }

    fn port_of(id: &ServiceId, apex: &Value) -> Result<u16> {
        subsets::first_port(apex)
            .ok_or_else(|| Error::invalid("service", format!("Service {id} has no port")))
    }

    /// Plans an annotation-only apply on `target`, marked with `marker` (which picks its field
    /// manager), unless every annotation already holds.
    fn annotation_write(
        &mut self,
        target: ObjectRef,
        existing: &Value,
        marker: (&str, String),
        mut wanted: Map<String, Value>,
    ) {
        wanted.insert(marker.0.to_owned(), json!(marker.1));
        let have = objects::annotations(existing);
        if wanted.iter().all(|(k, v)| have.get(k) == Some(v)) {
            return;
        }
        let body = circuit_breaker::annotation_patch(&target, wanted);
        self.plan.push(apply(target, body));
    }

    async fn run(&mut self, change: &Change) -> Result<()> {
        match change {
            Change::RegisterService(def) => self.register(def).await,
            Change::UnregisterService { service } => self.unregister(service).await,
            Change::CreateDestinationRule(policy) => {
                let id = &policy.service;
                let apex = self.apex(id).await?;
                self.version_services(id, &apex, &policy.subsets, true).await?;
                let pool = policy.connection_pool.clone().unwrap_or_default();
                let od = policy.outlier_detection.clone().unwrap_or_default();
                let cb = CircuitBreaker {
                    timeout: pool.connect_timeout,
                    consecutive_errors: od.consecutive_errors,
                    base_ejection_time: od.base_ejection_time,
                    ..Default::default()
                };
                let wanted = circuit_breaker::annotations(&cb, self.version.has_retry_annotations());
                if !wanted.is_empty() {
                    let marker = (objects::CIRCUIT_BREAKER_MARKER, to_json(&cb));
                    self.annotation_write(objects::service(id), &apex, marker, wanted);
                }
                Ok(())
            }
            Change::CreateVirtualService(routes) => {
                let id = &routes.service;
                let apex = self.apex(id).await?;
                let port = Self::port_of(id, &apex)?;
                self.guard_service_profile(id, Feature::TrafficSplit, self.config.smi)
                    .await?;
                let mut versions: Vec<Version> = routes
                    .rules
                    .iter()
                    .flat_map(|r| r.destinations.versions().cloned())
                    .collect();
                versions.sort();
                versions.dedup();
                let subsets: Vec<Subset> = versions.iter().cloned().map(Subset::for_version).collect();
                let ours = routes
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        http_route::rule(id, r, port).map_err(|e| e.in_field(&format!("rules[{i}]")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.version_services(id, &apex, &subsets, false).await?;
                let target = self.route_ref(id);
                let existing = self.get(&target).await?;
                Self::refuse_during_fault(existing.as_ref())?;
                let update = http_route::update(&target, id, port, existing.as_ref(), ours, &Map::new())?;
                self.route_write(
                    target,
                    update,
                    versions.iter().map(|v| subset_dep(id, v)).collect(),
                );
                Ok(())
            }
            Change::SetTrafficWeight { service: id, split } => {
                let apex = self.apex(id).await?;
                let port = Self::port_of(id, &apex)?;
                self.guard_service_profile(id, Feature::TrafficSplit, self.config.smi)
                    .await?;
                let versions: Vec<Version> = split.versions().cloned().collect();
                let subsets: Vec<Subset> = versions.iter().cloned().map(Subset::for_version).collect();
                self.version_services(id, &apex, &subsets, false).await?;
                let requires: Vec<Dependency> = versions.iter().map(|v| subset_dep(id, v)).collect();
                if self.config.smi {
                    self.warn(smi::WARNING);
                    let target = objects::traffic_split(id);
                    let want = smi::traffic_split(id, split);
                    let have = self.get(&target).await?;
                    if !have.is_some_and(|h| objects::contains(&h, &want)) {
                        self.plan.push(apply(target, want).requiring(requires));
                    }
                    return Ok(());
                }
                let target = self.route_ref(id);
                let existing = self.get(&target).await?;
                Self::refuse_during_fault(existing.as_ref())?;
                let before = existing.as_ref().map(http_route::owned_rules).unwrap_or_default();
                let ours = http_route::with_split(before, http_route::split_backends(id, split, port));
                let mut all_versions = versions_in(id, &ours);
                all_versions.retain(|v| !versions.contains(v));
                for v in &all_versions {
                    // Versions other rules of ours still use must keep existing.
                    if self.get(&objects::version_service(id, v)).await?.is_some() {
                        self.plan.baseline.available.push(subset_dep(id, v));
                    }
                }
                let update = http_route::update(&target, id, port, existing.as_ref(), ours, &Map::new())?;
                self.route_write(target, update, requires);
                Ok(())
            }
            Change::ConfigureCircuitBreaker {
                service: id,
                circuit_breaker: cb,
                callers,
            } => {
                let apex = self.apex(id).await?;
                let opted = self.config.smi || self.config.service_profile_retries;
                self.guard_service_profile(id, Feature::CircuitBreakerConsecutiveErrors, opted)
                    .await?;
                if !callers.is_empty() {
                    self.warn(
                        "Linkerd failure accrual is set on the destination Service and applies to every \
                         meshed caller; the callers list is not used",
                    );
                }
                if cb.timeout.is_some() {
                    self.warn("timeout is written as timeout.linkerd.io/request: a request timeout, not a connect timeout");
                }
                let wanted = circuit_breaker::annotations(cb, self.version.has_retry_annotations());
                let marker = (objects::CIRCUIT_BREAKER_MARKER, to_json(cb));
                self.annotation_write(objects::service(id), &apex, marker, wanted);
                Ok(())
            }
            Change::SetRetryPolicy { service: id, policy } => {
                let apex = self.apex(id).await?;
                if self.version.has_retry_annotations() {
                    let opted = self.config.smi || self.config.service_profile_retries;
                    self.guard_service_profile(id, Feature::RetryAttempts, opted)
                        .await?;
                    let r = retry::annotations(policy)?;
                    for w in r.warnings {
                        self.warn(w);
                    }
                    let marker = (objects::RETRY_POLICY_MARKER, to_json(policy));
                    self.annotation_write(objects::service(id), &apex, marker, r.annotations);
                    return Ok(());
                }
                let target = objects::service_profile(id);
                let want = retry::service_profile(id, policy)?;
                self.warn(
                    "Linkerd before 2.16 retries through a ServiceProfile: requests are retried within a \
                     budget (20% extra load), not a per-request attempt count, and the ServiceProfile \
                     disables HTTPRoute splits, timeouts and failure accrual on this Service",
                );
                match self.get(&target).await? {
                    Some(have) if !objects::is_owned(&have) => {
                        return Err(Error::Conflict {
                            object: target.to_string(),
                            owner: "a ServiceProfile not written by mesh".into(),
                            field: "spec.routes".into(),
                        });
                    }
                    Some(have) if objects::contains(&have, &want) => {}
                    _ => self.plan.push(apply(target, want)),
                }
                Ok(())
            }
            Change::EnableMtls { namespace } => {
                let target = objects::namespace(namespace.as_str());
                let have = self.get(&target).await?;
                let current = have
                    .as_ref()
                    .and_then(|n| n["metadata"]["annotations"][DEFAULT_INBOUND_POLICY].as_str());
                if current != Some(mtls::ALL_AUTHENTICATED) {
                    self.plan.push(apply(target, mtls::namespace_patch(namespace)));
                }
                self.warn(
                    "Linkerd encrypts meshed traffic automatically; the all-authenticated default inbound \
                     policy is read at pod start, so restart the namespace's pods for it to apply",
                );
                Ok(())
            }
            Change::CreateAuthorizationPolicy(policy) => self.authorization(policy).await,
            Change::InjectFault {
                service: id,
                fault: f,
            } => self.inject_fault(change, id, f).await,
            Change::RemoveFault { fault_id } => self.remove_fault(fault_id).await,
            other => Err(Error::invalid(
                "change",
                format!("{} is not known to the Linkerd backend", other.operation()),
            )),
        }
    }

    async fn register(&mut self, def: &mesh_core::ServiceDefinition) -> Result<()> {
        let id = def.id();
        let mut names = Vec::new();
        for i in 0..def.endpoints.len() {
            let (target, body) = register::external_workload(def, i, &self.config.trust_domain)
                .map_err(|e| e.in_field("definition"))?;
            names.push(target.name.clone());
            let identity = body["spec"]["meshTLS"]["identity"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let have = self.get(&target).await?;
            if !have.as_ref().is_some_and(|h| objects::contains(h, &body)) {
                self.plan.push(apply(target.clone(), body));
            }
            let status = register::ready_status(&target);
            if !have.as_ref().is_some_and(|h| objects::contains(h, &status)) {
                self.plan
                    .push(Write::new(WriteAction::ApplyStatus, target.clone(), Some(status)));
            }
            if i == 0 {
                self.warn(format!(
                    "the instances must run the Linkerd proxy with identity {identity} (for example through \
                     SPIRE), or their traffic is not meshed"
                ));
            }
        }
        let target = objects::service(&id);
        let want = register::service(def, &names);
        let existing = self.get(&target).await?;
        let stale: Vec<String> = existing
            .as_ref()
            .filter(|h| objects::is_registered(h))
            .map(register::recorded_workloads)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !names.contains(n))
            .collect();
        match existing {
            Some(have) if !objects::is_registered(&have) => {
                if !names.is_empty() {
                    return Err(Error::Conflict {
                        object: target.to_string(),
                        owner: "a Service not created by mesh".into(),
                        field: "spec.selector".into(),
                    });
                }
                self.warn(format!("Service {id} already exists and is left as it is"));
            }
            Some(have) if objects::contains(&have, &want) => {}
            _ => self.plan.push(apply(target, want)),
        }
        // Instances dropped from the definition go once the Service no longer lists them.
        for name in stale {
            self.plan.push(Write::new(
                WriteAction::Delete,
                register::workload_ref(id.namespace.as_str(), &name),
                None,
            ));
        }
        if names.is_empty() {
            self.warn(
                "pods join the mesh only with the linkerd.io/inject: enabled annotation (and a restart)",
            );
        }
        if def.health_check.is_some() {
            self.warn(
                "Linkerd has no health-check setting: pod readiness probes (or an ExternalWorkload's Ready \
                 condition) decide which endpoints get traffic; the health check is not written",
            );
        }
        Ok(())
    }

    async fn unregister(&mut self, id: &ServiceId) -> Result<()> {
        let apex = self.apex(id).await?;
        let route_ref = self.route_ref(id);
        let mut versions = Vec::new();
        let mut kept = Vec::new();
        if let Some(route) = self.get(&route_ref).await? {
            let ours = http_route::owned_rules(&route);
            versions = versions_in(id, &ours);
            // Per-version Services the user's own rules send traffic to stay.
            kept = versions_in(id, &http_route::user_rules(&route));
            let requires: Vec<Dependency> = versions.iter().map(|v| subset_dep(id, v)).collect();
            self.plan.baseline.in_use.push((route_ref.clone(), requires));
            if objects::is_owned(&route) && http_route::user_rules(&route).is_empty() {
                self.plan.push(Write::new(WriteAction::Delete, route_ref, None));
            } else if !ours.is_empty() {
                let port = Self::port_of(id, &apex)?;
                let update = http_route::update(&route_ref, id, port, Some(&route), Vec::new(), &Map::new())?;
                self.route_write(route_ref, update, Vec::new());
            }
        }
        let ts = objects::traffic_split(id);
        if let Some(split) = self.get(&ts).await?
            && objects::is_owned(&split)
        {
            let used: Vec<Version> = split["spec"]["backends"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| {
                    Version::new(b["service"].as_str()?.strip_prefix(&format!("{}-", id.name))?).ok()
                })
                .collect();
            versions.extend(used);
            self.plan.push(Write::new(WriteAction::Delete, ts, None));
        }
        versions.sort();
        versions.dedup();
        if !kept.is_empty() {
            self.warn(format!(
                "per-version Services {} stay: rules you wrote in HTTPRoute {} use them",
                kept.iter()
                    .map(|v| objects::version_service_name(id, v))
                    .collect::<Vec<_>>()
                    .join(", "),
                id.name
            ));
        }
        versions.retain(|v| !kept.contains(v));
        for v in &versions {
            let r = objects::version_service(id, v);
            if let Some(have) = self.get(&r).await? {
                self.plan.baseline.available.push(subset_dep(id, v));
                if objects::is_owned(&have) {
                    self.plan
                        .push(Write::new(WriteAction::Delete, r, None).withdrawing([subset_dep(id, v)]));
                }
            }
        }
        let sp = objects::service_profile(id);
        if self.get(&sp).await?.is_some_and(|s| objects::is_owned(&s)) {
            self.plan.push(Write::new(WriteAction::Delete, sp, None));
        }
        for name in register::recorded_workloads(&apex) {
            let r = register::workload_ref(id.namespace.as_str(), &name);
            if self.get(&r).await?.is_some() {
                self.plan.push(Write::new(WriteAction::Delete, r, None));
            }
        }
        if objects::is_registered(&apex) {
            self.plan
                .push(Write::new(WriteAction::Delete, objects::service(id), None));
        } else {
            self.warn(format!(
                "Service {id} was not created by mesh and is left in place"
            ));
        }
        Ok(())
    }

    async fn authorization(&mut self, policy: &mesh_core::AuthorizationPolicy) -> Result<()> {
        let target_svc = match &policy.target {
            Some(t) => Some(
                self.apex(&ServiceId::new(policy.namespace.clone(), t.clone()))
                    .await?,
            ),
            None => None,
        };
        let servers = authorization::servers(policy, target_svc.as_ref());
        let targets = policy.rules.iter().flat_map(|r| &r.to);
        if servers.is_empty() {
            for (feature, used) in [
                (
                    Feature::AuthzMethods,
                    targets.clone().any(|t| !t.methods.is_empty()),
                ),
                (Feature::AuthzPaths, targets.clone().any(|t| !t.paths.is_empty())),
            ] {
                if used {
                    return Err(Error::unsupported(
                        LINKERD,
                        feature,
                        "method and path rules attach an HTTPRoute to a Server, which needs a target \
                         Service or explicit ports",
                    ));
                }
            }
        }
        let objs = authorization::objects(policy, &servers, self.version, &self.config.trust_domain);
        for w in &objs.warnings {
            self.warn(w.clone());
        }
        for (r, body) in objs.authentications.into_iter().chain(objs.routes) {
            self.write_owned(r, body, Vec::new()).await?;
        }
        for (r, body, needs) in objs.policies {
            let needs: Vec<Dependency> = needs.iter().map(object_dep).collect();
            self.write_owned(r, body, needs).await?;
        }
        for (r, body) in objs.servers {
            self.write_owned(r, body, Vec::new()).await?;
        }
        Ok(())
    }

    /// Plans an apply of a library-owned object, skipping it when it already holds `body`, and
    /// leaving alone an object of the same name that the user wrote.
    async fn write_owned(&mut self, target: ObjectRef, body: Value, requires: Vec<Dependency>) -> Result<()> {
        let dep = object_dep(&target);
        match self.get(&target).await? {
            Some(have) => {
                self.plan.baseline.available.push(dep.clone());
                if !objects::is_owned(&have) {
                    self.warn(format!(
                        "{target} exists and was not written by mesh; it is used as it is"
                    ));
                } else if !objects::contains(&have, &body) {
                    self.plan
                        .push(apply(target, body).providing([dep]).requiring(requires));
                }
            }
            None => self
                .plan
                .push(apply(target, body).providing([dep]).requiring(requires)),
        }
        Ok(())
    }

    async fn inject_fault(&mut self, change: &Change, id: &ServiceId, f: &mesh_core::Fault) -> Result<()> {
        let mesh_core::Fault::Abort { percent, http_status } = f else {
            return Err(Error::unsupported(
                LINKERD,
                Feature::FaultDelay,
                "Linkerd has no delay fault injection",
            ));
        };
        let Some((error_name, error_port)) = self.config.fault_error_backend.clone() else {
            return Err(Error::unsupported(
                LINKERD,
                Feature::FaultAbort,
                "abort faults need an error backend Service (Config::fault_error_backend)",
            ));
        };
        let bad = |e: Error| e.in_field("config.fault_error_backend");
        let error_name = mesh_core::ServiceName::new(error_name).map_err(bad)?;
        let error_port = mesh_core::Port::new(error_port).map_err(bad)?;
        let error_ref = objects::sibling_service(id, error_name.as_str());
        if self.get(&error_ref).await?.is_none() {
            return Err(Error::NotFound {
                kind: "Service".into(),
                name: format!("{}/{error_name} (the fault error backend)", id.namespace),
            });
        }
        self.plan.baseline.available.push(object_dep(&error_ref));
        let apex = self.apex(id).await?;
        let port = Self::port_of(id, &apex)?;
        self.guard_service_profile(id, Feature::FaultAbort, self.config.smi)
            .await?;
        let fid = change.fault_id(LINKERD)?;
        let key = fault::annotation(&fid);
        let target = self.route_ref(id);
        let existing = self.get(&target).await?;
        if existing
            .as_ref()
            .is_some_and(|r| objects::annotations(r).contains_key(&key))
        {
            return Ok(());
        }
        Self::refuse_during_fault(existing.as_ref())?;
        let before = existing.as_ref().map(http_route::owned_rules).unwrap_or_default();
        let base = if before.is_empty() {
            vec![json!({ "backendRefs": [http_route::backend(id.name.as_str(), port, 100)] })]
        } else {
            before.clone()
        };
        let ours: Vec<Value> = base
            .iter()
            .map(|r| fault::with_abort(r, *percent, error_name.as_str(), error_port.get()))
            .collect();
        let extra = Map::from_iter([(key, fault::saved_state(&before, existing.is_none()))]);
        let update = http_route::update(&target, id, port, existing.as_ref(), ours, &extra)?;
        self.route_write(target, update, vec![object_dep(&error_ref)]);
        self.warn(format!(
            "emulated abort: {percent} of requests go to Service {error_name}, which answers with whatever \
             status it returns (requested {}); only meshed clients are affected, and rules you wrote \
             yourself are not faulted",
            http_status.code()
        ));
        Ok(())
    }

    async fn remove_fault(&mut self, fid: &mesh_core::FaultId) -> Result<()> {
        if fid.mesh != LINKERD {
            return Err(Error::invalid(
                "fault_id",
                format!("belongs to {}, not linkerd", fid.mesh),
            ));
        }
        let id = &fid.service;
        let key = fault::annotation(fid);
        let target = self.route_ref(id);
        let not_found = || Error::NotFound {
            kind: "fault".into(),
            name: fid.to_string(),
        };
        let route = self.get(&target).await?.ok_or_else(not_found)?;
        let saved = objects::annotations(&route)
            .get(&key)
            .cloned()
            .ok_or_else(not_found)?;
        let (before, created) = fault::parse_saved(&saved).ok_or_else(|| {
            Error::invalid(
                "fault_id",
                format!("the saved state in annotation {key} is unreadable"),
            )
        })?;
        let versions = versions_in(id, &before);
        for v in &versions {
            self.plan.baseline.available.push(subset_dep(id, v));
        }
        if created && http_route::user_rules(&route).is_empty() {
            self.plan.push(Write::new(WriteAction::Delete, target, None));
            return Ok(());
        }
        let apex = self.apex(id).await?;
        let port = Self::port_of(id, &apex)?;
        let extra = Map::from_iter([(key, Value::Null)]);
        let update = http_route::update(&target, id, port, Some(&route), before, &extra)?;
        self.route_write(
            target,
            update,
            versions.iter().map(|v| subset_dep(id, v)).collect(),
        );
        Ok(())
    }
}
