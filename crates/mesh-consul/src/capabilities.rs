//! What Consul can do, per edition and version.

use mesh_core::{Capabilities, Feature, MeshKind, Support};

use crate::ConsulVersion;

/// The capability table of `version`. `lua_abort` reports whether the caller opted into the Lua
/// abort emulation on CE (it stays `Emulated` either way; the opt-in decides whether it is used).
///
/// ```
/// use mesh_consul::{ConsulVersion, capabilities::capabilities};
/// use mesh_core::{Feature, Support};
/// let ce = capabilities(&ConsulVersion::ce(1, 18, 0));
/// assert!(matches!(ce.support(Feature::FaultDelay), Support::Unsupported { .. }));
/// assert!(matches!(ce.support(Feature::FaultAbort), Support::Emulated { .. }));
/// let ent = capabilities(&ConsulVersion::enterprise(1, 18, 0));
/// assert!(ent.support(Feature::FaultDelay).is_native());
/// assert!(matches!(ce.support(Feature::CircuitBreakerMaxRetries), Support::Unsupported { .. }));
/// ```
pub fn capabilities(version: &ConsulVersion) -> Capabilities {
    use Feature as F;
    let native = Support::native;
    let unsupported = Support::unsupported;
    let mut caps = Capabilities::new(MeshKind::Consul)
        .with(
            F::RegisterService,
            native("PUT /v1/agent/service/register with Connect.SidecarService"),
        )
        .with(
            F::RegisterExternalWorkload,
            native("agent service registration with Address/Port per instance"),
        )
        .with(F::RoutePathExact, native("service-router Match.HTTP.PathExact"))
        .with(F::RoutePathPrefix, native("service-router Match.HTTP.PathPrefix"))
        .with(F::RoutePathRegex, native("service-router Match.HTTP.PathRegex"))
        .with(F::RouteHeaders, native("service-router Match.HTTP.Header"))
        .with(F::RouteMethod, native("service-router Match.HTTP.Methods"))
        .with(F::RouteQuery, native("service-router Match.HTTP.QueryParam"))
        .with(
            F::RouteTimeout,
            native("service-router Destination.RequestTimeout"),
        )
        .with(F::TrafficSplit, native("service-splitter Splits"))
        .with(
            F::Subsets,
            native("service-resolver Subsets filtered on Service.Meta.version"),
        )
        .with(F::LoadBalancer, native("service-resolver LoadBalancer.Policy"))
        .with(
            F::DestinationTls,
            unsupported(
                "Connect always uses its own mTLS between sidecars; there is no per-destination TLS setting",
            ),
        )
        .with(
            F::CircuitBreakerMaxConnections,
            native("callers' service-defaults UpstreamConfig.Overrides[].Limits.MaxConnections"),
        )
        .with(
            F::CircuitBreakerTimeout,
            native("callers' service-defaults UpstreamConfig.Overrides[].ConnectTimeoutMs"),
        )
        .with(
            F::CircuitBreakerMaxRetries,
            unsupported(
                "Consul config entries do not expose Envoy's retry circuit breaker (max concurrent retries)",
            ),
        )
        .with(
            F::CircuitBreakerConsecutiveErrors,
            native("callers' service-defaults PassiveHealthCheck.MaxFailures"),
        )
        .with(
            F::CircuitBreakerInterval,
            native("callers' service-defaults PassiveHealthCheck.Interval"),
        )
        .with(
            F::CircuitBreakerBaseEjectionTime,
            native("callers' service-defaults PassiveHealthCheck.BaseEjectionTime"),
        )
        .with(
            F::CircuitBreakerMaxEjectionPercent,
            native("callers' service-defaults PassiveHealthCheck.MaxEjectionPercent"),
        )
        .with(F::RetryAttempts, native("service-router Destination.NumRetries"))
        .with(
            F::RetryPerTryTimeout,
            unsupported("Consul has no per-try timeout; Destination.RequestTimeout covers all tries"),
        )
        .with(
            F::RetryOn,
            native("service-router Destination.RetryOn / RetryOnConnectFailure / RetryOnStatusCodes"),
        )
        .with(
            F::RetryOverallTimeout,
            native("service-router Destination.RequestTimeout"),
        )
        .with(
            F::MtlsStatus,
            native("GET /v1/connect/ca/roots and proxy-defaults MutualTLSMode"),
        )
        .with(F::AuthzAllow, native("service-intentions Action allow"))
        .with(F::AuthzDeny, native("service-intentions Action deny"))
        .with(F::AuthzPrincipals, native("service-intentions Sources[].Name"))
        .with(
            F::AuthzMethods,
            native("service-intentions Permissions[].HTTP.Methods"),
        )
        .with(
            F::AuthzPaths,
            native("service-intentions Permissions[].HTTP.PathExact/PathPrefix/PathRegex"),
        )
        .with(
            F::AuthzPorts,
            unsupported("service-intentions match services, not ports"),
        )
        // Consul has no traffic API of its own; `Mesh` reads the Envoy sidecars' metrics from
        // Prometheus (PROMETHEUS_URL) and spans from a tracing backend (TRACING_URL).
        .with(
            F::Metrics,
            native(
                "Prometheus: envoy_cluster_upstream_rq_xx / envoy_cluster_upstream_rq_time (Envoy sidecars)",
            ),
        )
        .with(
            F::Traces,
            native("Envoy spans in the configured tracing backend (Jaeger, Zipkin, Tempo)"),
        )
        .with(
            F::Graph,
            native("Prometheus Envoy upstream metrics by source and destination service"),
        )
        .with(
            F::StateStore,
            native("KV mesh/state/<namespace>/<service>/<name>, written with ?cas="),
        );
    caps = if version.at_least(1, 16) {
        caps.with(
            F::MtlsStrict,
            native("proxy-defaults MutualTLSMode strict + mesh AllowEnablingPermissiveMutualTLS false"),
        )
    } else {
        caps.with(
            F::MtlsStrict,
            unsupported("MutualTLSMode exists from Consul 1.16; sidecar-to-sidecar traffic is already mTLS"),
        )
    };
    caps = if version.is_enterprise() {
        caps.with(
            F::AuthzNamespaces,
            native("service-intentions Sources[].Namespace (Enterprise)"),
        )
    } else {
        caps.with(
            F::AuthzNamespaces,
            unsupported("namespaces are a Consul Enterprise feature; CE answers 400"),
        )
    };
    if version.is_enterprise() && version.at_least(1, 18) {
        caps.with(
            F::FaultAbort,
            native("service-defaults EnvoyExtensions builtin/fault-injection (Enterprise 1.18+)"),
        )
        .with(
            F::FaultDelay,
            native("service-defaults EnvoyExtensions builtin/fault-injection (Enterprise 1.18+)"),
        )
    } else {
        let why = if version.is_enterprise() {
            "builtin/fault-injection needs Consul Enterprise 1.18 or newer"
        } else {
            "Consul CE has no fault-injection extension (Enterprise 1.18+ only)"
        };
        caps.with(
            F::FaultAbort,
            Support::emulated(format!("{why}; opt in to a builtin/lua extension on the service's inbound listener that answers the status for the given share of requests")),
        )
        .with(F::FaultDelay, Support::unsupported(format!("{why}; a delay has no safe Lua emulation")))
    }
}
