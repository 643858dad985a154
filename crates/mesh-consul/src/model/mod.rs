//! Typed models of the Consul HTTP API bodies this backend reads and writes.
//!
//! Every struct uses Consul's PascalCase field names, holds the fields the backend needs as typed
//! options, and keeps every other field in an `extra` map so that a read-modify-write never drops a
//! field the library does not know about. Durations are Go duration strings (`"15s"`): as Consul
//! sent them, or, where the agent answers integer nanoseconds (`PassiveHealthCheck`), spelled as
//! a string. What the agent fills in or respells is not a setting: every "is this entry already as
//! wanted?" compares the settings of `semantic`.

mod agent;
mod ca;
mod common;
mod entry;
mod intentions;
mod proxy_defaults;
mod resolver;
mod router;
pub(crate) mod semantic;
mod service_defaults;
mod splitter;

pub use agent::{
    AgentCheck, AgentConnect, AgentProxy, AgentServiceRegistration, AgentUpstream, AgentWeights,
    HealthServiceEntry,
};
pub use ca::{CaRoot, CaRoots};
pub use common::{EntryMeta, EnvoyExtension, Extra, HeaderMatcher, MeshGatewayConfig};
pub use entry::{ConfigEntry, EntryKind};
pub use intentions::{IntentionPermission, IntentionSource, PermissionHttp, ServiceIntentions};
pub use proxy_defaults::{MeshEntry, ProxyDefaults};
pub use resolver::{
    FailoverTarget, ResolverFailover, ResolverLoadBalancer, ResolverRedirect, ResolverSubset, ServiceResolver,
};
pub use router::{HttpRouteMatch, RouteDestination, RouteMatch, ServiceRoute, ServiceRouter};
pub use service_defaults::{
    PassiveHealthCheck, ServiceDefaults, UpstreamConfig, UpstreamConfiguration, UpstreamLimits,
};
pub use splitter::{ServiceSplit, ServiceSplitter};
