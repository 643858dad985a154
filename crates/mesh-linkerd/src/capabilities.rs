//! What Linkerd supports, per release and configuration.

use mesh_core::{Capabilities, Feature as F, MeshKind, Support};

use crate::{Config, HttpRouteFlavour, LinkerdVersion};

/// The support table for `version` under `config`.
///
/// ```
/// use mesh_core::{Feature, Support};
/// use mesh_linkerd::{Config, LinkerdVersion, capabilities};
/// let c14 = capabilities(LinkerdVersion::V2_14, &Config::default());
/// assert!(matches!(c14.support(Feature::RegisterExternalWorkload), Support::Unsupported { .. }));
/// assert!(matches!(c14.support(Feature::RetryAttempts), Support::Emulated { .. }));
/// let c20 = capabilities(LinkerdVersion::V2_20, &Config::default());
/// assert!(c20.support(Feature::RetryAttempts).is_native());
/// assert!(matches!(c20.support(Feature::AuthzDeny), Support::Unsupported { .. }));
/// assert!(matches!(c20.support(Feature::FaultAbort), Support::Emulated { .. }));
/// ```
pub fn capabilities(version: LinkerdVersion, config: &Config) -> Capabilities {
    let native = Support::native;
    let unsupported = Support::unsupported;
    let annotations = version.has_retry_annotations();
    let route = "HTTPRoute (policy.linkerd.io/v1beta3 or gateway.networking.k8s.io) on the apex Service";
    // 2.14 writes the policy flavour whatever the setting; 2.15–2.17 read Gateway API v1beta1.
    let gateway_pre_118 = (15..18).contains(&version.minor());
    let timeout = if config.http_route_flavour == HttpRouteFlavour::GatewayApi && gateway_pre_118 {
        unsupported(
            "standard Gateway API 1.1.1 CRDs prune rules[].timeouts; use the policy.linkerd.io flavour",
        )
    } else {
        native("HTTPRoute rules[].timeouts.request")
    };
    let caps = Capabilities::new(MeshKind::Linkerd)
        .with(F::RegisterService, native("v1/Service; pods join the mesh with linkerd.io/inject: enabled"))
        .with(
            F::RegisterExternalWorkload,
            if version.has_external_workload() {
                native("workload.linkerd.io/v1beta1 ExternalWorkload (Ready written through /status) + a Service selecting it")
            } else {
                unsupported("Linkerd 2.14 has no ExternalWorkload CRD (added in 2.15)")
            },
        )
        .with(F::RoutePathExact, native(route))
        .with(F::RoutePathPrefix, native(route))
        .with(F::RoutePathRegex, native(route))
        .with(F::RouteHeaders, native("HTTPRoute matches[].headers (prefix written as an anchored regex)"))
        .with(F::RouteMethod, native(route))
        .with(F::RouteQuery, native("HTTPRoute matches[].queryParams (prefix written as an anchored regex)"))
        .with(F::RouteTimeout, timeout)
        .with(F::TrafficSplit, native("HTTPRoute weighted backendRefs to per-version Services"))
        .with(F::Subsets, native("one v1/Service per version (<service>-<version>, selecting app and version)"))
        .with(F::LoadBalancer, unsupported("Linkerd always balances with EWMA; the algorithm is not configurable"))
        .with(F::DestinationTls, unsupported("Linkerd's mTLS is automatic between meshed pods; there are no TLS settings"))
        .with(F::CircuitBreakerMaxConnections, unsupported("Linkerd has no connection-pool limits"))
        .with(
            F::CircuitBreakerTimeout,
            if annotations {
                native("timeout.linkerd.io/request on the Service (a request timeout; Linkerd has no connect timeout)")
            } else {
                unsupported("Linkerd has no connect timeout, and request-timeout annotations need 2.16")
            },
        )
        .with(F::CircuitBreakerMaxRetries, unsupported("Linkerd has no cap on concurrent retries; retry.linkerd.io/limit is per request"))
        .with(F::CircuitBreakerConsecutiveErrors, native("balancer.linkerd.io/failure-accrual: consecutive + …-consecutive-max-failures on the Service"))
        .with(F::CircuitBreakerInterval, unsupported("Linkerd failure accrual has no sweep interval; it probes with backoff"))
        .with(F::CircuitBreakerBaseEjectionTime, native("balancer.linkerd.io/failure-accrual-consecutive-min-penalty on the Service"))
        .with(F::CircuitBreakerMaxEjectionPercent, unsupported("Linkerd can trip every endpoint; there is no ejection cap"))
        .with(F::MtlsStrict, native("namespace annotation config.linkerd.io/default-inbound-policy: all-authenticated (pods must restart)"))
        .with(F::MtlsStatus, native("automatic mTLS; the namespace's default-inbound-policy annotation"))
        .with(F::AuthzAllow, native("Server + AuthorizationPolicy + MeshTLSAuthentication or NetworkAuthentication"))
        .with(F::AuthzDeny, unsupported("Linkerd authorization is allow-list only: a Server denies what no policy allows, but there is no DENY rule"))
        .with(F::AuthzPrincipals, native("MeshTLSAuthentication identities <sa>.<ns>.serviceaccount.identity.linkerd.<trust domain>"))
        .with(F::AuthzNamespaces, native("MeshTLSAuthentication identities *.<ns>.serviceaccount.identity.linkerd.<trust domain>"))
        .with(
            F::AuthzMethods,
            native("HTTPRoute on the Server, targeted by the AuthorizationPolicy; only for a policy that names its target Service or ports (a namespace-wide policy has no Server to route, and is refused)"),
        )
        .with(
            F::AuthzPaths,
            native("HTTPRoute on the Server, targeted by the AuthorizationPolicy; only for a policy that names its target Service or ports (a namespace-wide policy has no Server to route, and is refused)"),
        )
        .with(F::AuthzPorts, native("one Server per port"))
        .with(F::FaultDelay, unsupported("Linkerd has no delay fault injection"))
        .with(
            F::FaultAbort,
            Support::emulated(
                "a weighted HTTPRoute backendRef sends the share to an error backend Service you deploy \
                 (Config::fault_error_backend); the status is whatever it answers",
            ),
        )
        // Read by `Mesh` from linkerd-viz's Prometheus (PROMETHEUS_URL) and a tracing backend.
        .with(F::Metrics, native("Prometheus (linkerd-viz): response_total / response_latency_ms"))
        .with(F::Traces, native("linkerd-proxy spans in the configured tracing backend (Jaeger, Zipkin, Tempo)"))
        .with(F::Graph, native("Prometheus (linkerd-viz) response_total by source and destination workload"))
        .with(F::StateStore, native("ConfigMap mesh-state-<service>-<name>, compare-and-swap on resourceVersion"));
    if annotations {
        caps.with(F::RetryAttempts, native("retry.linkerd.io/limit on the Service"))
            .with(
                F::RetryPerTryTimeout,
                native("retry.linkerd.io/timeout on the Service"),
            )
            .with(
                F::RetryOn,
                native("retry.linkerd.io/http and retry.linkerd.io/grpc on the Service: status and gRPC conditions; `reset` has no Linkerd condition and is refused"),
            )
            .with(
                F::RetryOverallTimeout,
                native("timeout.linkerd.io/request on the Service"),
            )
    } else {
        let sp = "a ServiceProfile (isRetryable + retry budget, no per-request count), which disables \
                  HTTPRoute splits, timeouts and circuit breaking on that Service \
                  (Config::service_profile_retries)";
        caps.with(F::RetryAttempts, Support::emulated(sp))
            .with(
                F::RetryPerTryTimeout,
                unsupported(
                    "Linkerd before 2.16 has no per-try timeout (ServiceProfile retries are budget-based)",
                ),
            )
            .with(
                F::RetryOn,
                Support::emulated(format!("{sp}; responseClasses for status codes")),
            )
            .with(
                F::RetryOverallTimeout,
                Support::emulated(format!("{sp}; the route timeout")),
            )
    }
}

/// True when `feature` is emulated under an opt-in the caller gave in `config`.
pub(crate) fn opted_in(feature: F, config: &Config) -> bool {
    match feature {
        F::FaultAbort => config.fault_error_backend.is_some(),
        F::RetryAttempts | F::RetryOn | F::RetryOverallTimeout => config.service_profile_retries,
        _ => false,
    }
}
