//! A requested change: one variant per mutating operation of the spec.

use serde::{Deserialize, Serialize};

use crate::{
    AuthorizationPolicy, CircuitBreaker, DestinationPolicy, Error, Fault, FaultId, Namespace, RetryPolicy,
    ServiceDefinition, ServiceId, ServiceName, ServiceRoutes, TrafficSplit,
};

/// What the caller asks for. A backend turns it into a [`crate::Plan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// `registerService`.
    RegisterService(ServiceDefinition),
    /// `unregisterService`.
    UnregisterService {
        /// The service.
        service: ServiceId,
    },
    /// `createVirtualService`.
    CreateVirtualService(ServiceRoutes),
    /// `createDestinationRule`.
    CreateDestinationRule(DestinationPolicy),
    /// `setTrafficWeight`.
    SetTrafficWeight {
        /// The service.
        service: ServiceId,
        /// The weights.
        split: TrafficSplit,
    },
    /// `configureCircuitBreaker`.
    ConfigureCircuitBreaker {
        /// The protected service.
        service: ServiceId,
        /// The settings.
        circuit_breaker: CircuitBreaker,
        /// The callers to configure, on meshes where breakers are client-side (Consul). Empty means
        /// "derive them", where the mesh can.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        callers: Vec<ServiceName>,
    },
    /// `setRetryPolicy`.
    SetRetryPolicy {
        /// The service.
        service: ServiceId,
        /// The policy.
        policy: RetryPolicy,
    },
    /// `enableMTLS`.
    EnableMtls {
        /// The namespace.
        namespace: Namespace,
    },
    /// `createAuthorizationPolicy`.
    CreateAuthorizationPolicy(AuthorizationPolicy),
    /// `injectFault`.
    InjectFault {
        /// The service.
        service: ServiceId,
        /// The fault.
        fault: Fault,
    },
    /// `removeFault`.
    RemoveFault {
        /// The id `inject_fault` returned.
        fault_id: FaultId,
    },
}

impl Change {
    /// The versions this change names (split weights, route destinations, subsets, the
    /// registered version), each as given: what instances carry in their `version` label.
    ///
    /// ```
    /// use mesh_core::{Change, TrafficSplit};
    /// let change = Change::SetTrafficWeight {
    ///     service: "prod/reviews".parse().unwrap(),
    ///     split: TrafficSplit::try_from_pairs([("1.2.0", 90), ("1.3.0", 10)]).unwrap(),
    /// };
    /// let versions = change.versions();
    /// let labels: Vec<&str> = versions.iter().map(|v| v.label_value()).collect();
    /// assert_eq!(labels, ["1.2.0", "1.3.0"]);
    /// ```
    pub fn versions(&self) -> Vec<crate::Version> {
        match self {
            Self::SetTrafficWeight { split, .. } => split.versions().cloned().collect(),
            Self::CreateVirtualService(routes) => routes
                .rules
                .iter()
                .flat_map(|r| r.destinations.versions().cloned())
                .collect(),
            Self::CreateDestinationRule(policy) => policy.subsets.iter().map(|s| s.version.clone()).collect(),
            Self::RegisterService(def) => def.version.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The one service the change is about (the one it registers, routes, protects or faults);
    /// `None` for the changes that name a namespace instead (mTLS, authorization policies).
    ///
    /// ```
    /// use mesh_core::Change;
    /// let remove = Change::UnregisterService { service: "prod/api".parse().unwrap() };
    /// assert_eq!(remove.service().unwrap().to_string(), "prod/api");
    /// assert!(Change::EnableMtls { namespace: "prod".parse().unwrap() }.service().is_none());
    /// ```
    pub fn service(&self) -> Option<crate::ServiceId> {
        match self {
            Self::RegisterService(def) => Some(def.id()),
            Self::CreateVirtualService(r) => Some(r.service.clone()),
            Self::CreateDestinationRule(p) => Some(p.service.clone()),
            Self::UnregisterService { service }
            | Self::SetTrafficWeight { service, .. }
            | Self::ConfigureCircuitBreaker { service, .. }
            | Self::SetRetryPolicy { service, .. }
            | Self::InjectFault { service, .. } => Some(service.clone()),
            Self::RemoveFault { fault_id } => Some(fault_id.service.clone()),
            Self::EnableMtls { .. } | Self::CreateAuthorizationPolicy(_) => None,
        }
    }

    /// The operation's snake_case name (`set_traffic_weight`).
    pub fn operation(&self) -> &'static str {
        match self {
            Self::RegisterService(_) => "register_service",
            Self::UnregisterService { .. } => "unregister_service",
            Self::CreateVirtualService(_) => "create_virtual_service",
            Self::CreateDestinationRule(_) => "create_destination_rule",
            Self::SetTrafficWeight { .. } => "set_traffic_weight",
            Self::ConfigureCircuitBreaker { .. } => "configure_circuit_breaker",
            Self::SetRetryPolicy { .. } => "set_retry_policy",
            Self::EnableMtls { .. } => "enable_mtls",
            Self::CreateAuthorizationPolicy(_) => "create_authorization_policy",
            Self::InjectFault { .. } => "inject_fault",
            Self::RemoveFault { .. } => "remove_fault",
        }
    }

    /// Checks every cross-field rule. Backends call this before planning, so that nothing is written
    /// for bad input.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Self::RegisterService(def) => def.validate(),
            Self::CreateVirtualService(routes) => routes.validate(),
            Self::CreateDestinationRule(policy) => policy.validate(),
            Self::ConfigureCircuitBreaker { circuit_breaker, .. } => circuit_breaker.validate(),
            Self::SetRetryPolicy { policy, .. } => policy.validate(),
            Self::CreateAuthorizationPolicy(policy) => policy.validate(),
            Self::InjectFault { fault, .. } => fault.validate(),
            Self::UnregisterService { .. }
            | Self::SetTrafficWeight { .. }
            | Self::EnableMtls { .. }
            | Self::RemoveFault { .. } => Ok(()),
        }
    }
}

impl Change {
    /// Every fine-grained [`Feature`](crate::Feature) this change uses, so that a backend (or a
    /// `plan` command) can refuse it up front, by name, before planning anything.
    ///
    /// ```
    /// use mesh_core::{Change, Feature, Fault, Percent, HttpStatus};
    /// let change = Change::InjectFault {
    ///     service: "prod/api".parse().unwrap(),
    ///     fault: Fault::Abort { percent: Percent::new(5.0).unwrap(), http_status: HttpStatus::new(503).unwrap() },
    /// };
    /// assert_eq!(change.required_features(), vec![Feature::FaultAbort]);
    /// ```
    pub fn required_features(&self) -> Vec<crate::Feature> {
        use crate::{Feature as F, PathMatch};
        let mut out = Vec::new();
        let retry = |out: &mut Vec<F>, p: &RetryPolicy| {
            out.push(F::RetryAttempts);
            if p.per_try_timeout.is_some() {
                out.push(F::RetryPerTryTimeout);
            }
            if !p.retry_on.is_empty() || !p.retry_on_status.is_empty() {
                out.push(F::RetryOn);
            }
            if p.overall_timeout.is_some() {
                out.push(F::RetryOverallTimeout);
            }
        };
        let fault = |out: &mut Vec<F>, f: &Fault| {
            out.push(match f {
                Fault::Delay { .. } => F::FaultDelay,
                Fault::Abort { .. } => F::FaultAbort,
            });
        };
        let breaker = |out: &mut Vec<F>, cb: &CircuitBreaker| {
            for name in cb.set_fields() {
                out.push(match name {
                    "max_connections" => F::CircuitBreakerMaxConnections,
                    "timeout" => F::CircuitBreakerTimeout,
                    "max_retries" => F::CircuitBreakerMaxRetries,
                    "consecutive_errors" => F::CircuitBreakerConsecutiveErrors,
                    "interval" => F::CircuitBreakerInterval,
                    "base_ejection_time" => F::CircuitBreakerBaseEjectionTime,
                    _ => F::CircuitBreakerMaxEjectionPercent,
                });
            }
        };
        match self {
            Self::RegisterService(def) => {
                out.push(F::RegisterService);
                if !def.endpoints.is_empty() {
                    out.push(F::RegisterExternalWorkload);
                }
            }
            Self::UnregisterService { .. } => out.push(F::RegisterService),
            Self::CreateVirtualService(routes) => {
                out.push(F::Subsets);
                for rule in &routes.rules {
                    for m in &rule.matches {
                        match &m.path {
                            Some(PathMatch::Exact(_)) => out.push(F::RoutePathExact),
                            Some(PathMatch::Prefix(_)) => out.push(F::RoutePathPrefix),
                            Some(PathMatch::Regex(_)) => out.push(F::RoutePathRegex),
                            None => {}
                        }
                        if !m.headers.is_empty() {
                            out.push(F::RouteHeaders);
                        }
                        if m.method.is_some() {
                            out.push(F::RouteMethod);
                        }
                        if !m.query.is_empty() {
                            out.push(F::RouteQuery);
                        }
                    }
                    if rule.destinations.weights().len() > 1 {
                        out.push(F::TrafficSplit);
                    }
                    if rule.timeout.is_some() {
                        out.push(F::RouteTimeout);
                    }
                    if let Some(p) = &rule.retries {
                        retry(&mut out, p);
                    }
                    if let Some(f) = &rule.fault {
                        fault(&mut out, f);
                    }
                }
            }
            Self::CreateDestinationRule(p) => {
                if !p.subsets.is_empty() {
                    out.push(F::Subsets);
                }
                if p.load_balancer.is_some() {
                    out.push(F::LoadBalancer);
                }
                let pool = p.connection_pool.clone().unwrap_or_default();
                let od = p.outlier_detection.clone().unwrap_or_default();
                breaker(
                    &mut out,
                    &CircuitBreaker {
                        max_connections: pool.max_connections,
                        timeout: pool.connect_timeout,
                        max_retries: pool.max_retries,
                        consecutive_errors: od.consecutive_errors,
                        interval: od.interval,
                        base_ejection_time: od.base_ejection_time,
                        max_ejection_percent: od.max_ejection_percent,
                    },
                );
            }
            Self::SetTrafficWeight { split, .. } => {
                out.push(F::Subsets);
                if split.weights().len() > 1 {
                    out.push(F::TrafficSplit);
                }
            }
            Self::ConfigureCircuitBreaker { circuit_breaker, .. } => breaker(&mut out, circuit_breaker),
            Self::SetRetryPolicy { policy, .. } => retry(&mut out, policy),
            Self::EnableMtls { .. } => out.push(F::MtlsStrict),
            Self::CreateAuthorizationPolicy(p) => {
                out.push(match p.action {
                    crate::AuthzAction::Allow => F::AuthzAllow,
                    crate::AuthzAction::Deny => F::AuthzDeny,
                });
                let sources = p.rules.iter().flat_map(|r| &r.from);
                let targets = p.rules.iter().flat_map(|r| &r.to);
                if sources.clone().any(|s| !s.principals.is_empty()) {
                    out.push(F::AuthzPrincipals);
                }
                if sources.clone().any(|s| !s.namespaces.is_empty()) {
                    out.push(F::AuthzNamespaces);
                }
                if targets.clone().any(|t| !t.methods.is_empty()) {
                    out.push(F::AuthzMethods);
                }
                if targets.clone().any(|t| !t.paths.is_empty()) {
                    out.push(F::AuthzPaths);
                }
                if targets.clone().any(|t| !t.ports.is_empty()) {
                    out.push(F::AuthzPorts);
                }
            }
            Self::InjectFault { fault: f, .. } => fault(&mut out, f),
            Self::RemoveFault { .. } => {}
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Change {
    /// The fault id an [`Change::InjectFault`] gets on `mesh`: the target plus the fault's
    /// fingerprint, so that it is stable across processes and re-runs.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the change is not an injection.
    pub fn fault_id(&self, mesh: crate::MeshKind) -> Result<FaultId, Error> {
        match self {
            Self::InjectFault { service, fault } => FaultId::new(mesh, service.clone(), fault.fingerprint()),
            Self::RemoveFault { fault_id } => Ok(fault_id.clone()),
            other => Err(Error::invalid(
                "change",
                format!("{} has no fault id", other.operation()),
            )),
        }
    }

    /// The event emitted once this change has landed on `mesh`.
    pub fn event(&self, mesh: crate::MeshKind) -> crate::MeshEvent {
        use crate::MeshEvent as E;
        match self {
            Self::RegisterService(def) => E::ServiceRegistered {
                mesh,
                service_id: def.id(),
                version: def.version.clone(),
                definition: Box::new(def.clone()),
            },
            Self::UnregisterService { service } => E::ServiceUnregistered {
                mesh,
                service_id: service.clone(),
            },
            Self::CreateVirtualService(r) => E::VirtualServiceCreated {
                mesh,
                service_id: r.service.clone(),
                rules: r.rules.len(),
            },
            Self::CreateDestinationRule(p) => E::DestinationRuleCreated {
                mesh,
                service_id: p.service.clone(),
                subsets: p.subsets.iter().map(|s| s.version.clone()).collect(),
            },
            Self::SetTrafficWeight { service, split } => E::TrafficWeightUpdated {
                mesh,
                service_id: service.clone(),
                weights: split.clone(),
            },
            Self::ConfigureCircuitBreaker {
                service,
                circuit_breaker,
                ..
            } => E::CircuitBreakerConfigured {
                mesh,
                service_id: service.clone(),
                circuit_breaker: circuit_breaker.clone(),
            },
            Self::SetRetryPolicy { service, policy } => E::RetryPolicySet {
                mesh,
                service_id: service.clone(),
                policy: policy.clone(),
            },
            Self::EnableMtls { namespace } => E::MtlsEnabled {
                mesh,
                namespace: namespace.clone(),
                mode: crate::MtlsMode::Strict,
            },
            Self::CreateAuthorizationPolicy(p) => E::AuthorizationPolicyCreated {
                mesh,
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                action: p.action,
            },
            Self::InjectFault { service, fault } => E::FaultInjected {
                mesh,
                service_id: service.clone(),
                fault_id: FaultId {
                    mesh,
                    service: service.clone(),
                    key: fault.fingerprint(),
                },
                fault: fault.clone(),
            },
            Self::RemoveFault { fault_id } => E::FaultRemoved {
                mesh,
                fault_id: fault_id.clone(),
            },
        }
    }
}
