//! Istio's support table: every feature, with the objects that implement it.

use std::sync::OnceLock;

use mesh_core::{Capabilities, Feature, MeshKind, Support};

/// What the Istio backend supports (sidecar mode, Istio 1.22+ with the `v1` APIs).
///
/// ```
/// use mesh_core::Feature;
/// let caps = mesh_istio::capabilities();
/// assert!(caps.support(Feature::FaultDelay).is_native());
/// assert!(!caps.support(Feature::DestinationTls).is_native());
/// ```
pub fn capabilities() -> Capabilities {
    table().clone()
}

/// The table, built once per process: the planner consults it on every change.
pub(crate) fn table() -> &'static Capabilities {
    static TABLE: OnceLock<Capabilities> = OnceLock::new();
    TABLE.get_or_init(|| {
        Feature::ALL
            .iter()
            .fold(Capabilities::new(MeshKind::Istio), |caps, f| {
                caps.with(*f, support(*f))
            })
    })
}

fn support(feature: Feature) -> Support {
    use Feature as F;
    let native = Support::native;
    match feature {
        F::RegisterService => native("plain Kubernetes Service (auto-discovered); ServiceEntry otherwise"),
        F::RegisterExternalWorkload => {
            native("ServiceEntry (MESH_INTERNAL, STATIC, workloadSelector) + WorkloadEntry per endpoint")
        }
        F::RoutePathExact => native("VirtualService http[].match[].uri.exact"),
        F::RoutePathPrefix => native("VirtualService http[].match[].uri.prefix"),
        F::RoutePathRegex => native("VirtualService http[].match[].uri.regex (RE2)"),
        F::RouteHeaders => native("VirtualService http[].match[].headers"),
        F::RouteMethod => native("VirtualService http[].match[].method.exact"),
        F::RouteQuery => native("VirtualService http[].match[].queryParams"),
        F::RouteTimeout => native("VirtualService http[].timeout"),
        F::TrafficSplit => native("VirtualService http[].route[].weight"),
        F::Subsets => native("DestinationRule subsets[] (labels)"),
        F::LoadBalancer => native("DestinationRule trafficPolicy.loadBalancer (simple / consistentHash)"),
        F::DestinationTls => Support::unsupported(
            "not written: Istio's auto mTLS sets it, and tls.mode DISABLE with STRICT PeerAuthentication breaks traffic",
        ),
        F::CircuitBreakerMaxConnections => native("DestinationRule connectionPool.tcp.maxConnections"),
        F::CircuitBreakerTimeout => native("DestinationRule connectionPool.tcp.connectTimeout"),
        F::CircuitBreakerMaxRetries => native(
            "DestinationRule connectionPool.http.maxRetries (a cap on concurrent retries, not attempts)",
        ),
        F::CircuitBreakerConsecutiveErrors => native("DestinationRule outlierDetection.consecutive5xxErrors"),
        F::CircuitBreakerInterval => native("DestinationRule outlierDetection.interval"),
        F::CircuitBreakerBaseEjectionTime => native("DestinationRule outlierDetection.baseEjectionTime"),
        F::CircuitBreakerMaxEjectionPercent => {
            native("DestinationRule outlierDetection.maxEjectionPercent (whole percent)")
        }
        F::RetryAttempts => native("VirtualService http[].retries.attempts"),
        F::RetryPerTryTimeout => native("VirtualService http[].retries.perTryTimeout"),
        F::RetryOn => native("VirtualService http[].retries.retryOn"),
        F::RetryOverallTimeout => native("VirtualService http[].timeout"),
        F::MtlsStrict => native("PeerAuthentication default, mtls.mode STRICT"),
        F::MtlsStatus => native("PeerAuthentication default of the namespace, then of the root namespace"),
        F::AuthzAllow => native("AuthorizationPolicy action ALLOW"),
        F::AuthzDeny => native("AuthorizationPolicy action DENY"),
        F::AuthzPrincipals => native("AuthorizationPolicy rules[].from[].source.principals"),
        F::AuthzNamespaces => native("AuthorizationPolicy rules[].from[].source.namespaces"),
        F::AuthzMethods => native("AuthorizationPolicy rules[].to[].operation.methods"),
        F::AuthzPaths => native("AuthorizationPolicy rules[].to[].operation.paths"),
        F::AuthzPorts => native("AuthorizationPolicy rules[].to[].operation.ports"),
        F::FaultDelay => native("VirtualService http[].fault.delay (fixedDelay, percentage.value)"),
        F::FaultAbort => native("VirtualService http[].fault.abort (httpStatus, percentage.value)"),
        F::Metrics => native("Prometheus istio_requests_total / istio_request_duration_milliseconds"),
        F::Traces => native("Envoy spans in the configured tracing backend"),
        F::Graph => native("Prometheus istio_requests_total by source and destination workload"),
        F::StateStore => native("ConfigMap mesh-state-<service>-<name>, compare-and-swap on resourceVersion"),
        other => Support::unsupported(format!("mesh-istio does not map {other} yet")),
    }
}
