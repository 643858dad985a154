//! Types, the backend contract and errors shared by every `mesh` backend.
//!
//! # Overview
//! - Validated value types for every operation of the spec: [`ServiceDefinition`], [`ServiceRoutes`],
//!   [`DestinationPolicy`], [`TrafficSplit`], [`CircuitBreaker`], [`RetryPolicy`],
//!   [`AuthorizationPolicy`], [`Fault`], and what the observability calls return
//!   ([`ServiceMetrics`], [`Trace`], [`ServiceGraph`]). Bad input fails in the constructor or in
//!   `validate()` with [`Error::InvalidInput`], naming the field.
//! - [`Change`]: one variant per mutating operation. A backend turns it into a [`Plan`], an ordered
//!   list of [`Write`]s that is proven safe at every prefix ([`Plan::check_safe_prefixes`]) and can be
//!   rendered ([`Plan::render`]) or applied.
//! - [`MeshBackend`], the contract every mesh implements, and [`DynMeshBackend`], its object-safe
//!   shim for choosing the mesh at run time; [`StateStore`] and [`Observability`], the contracts
//!   of what only some implement (state kept on the control plane; metrics, traces, the graph).
//! - [`Capabilities`]: per mesh and per fine-grained [`Feature`], native, emulated (opt-in only) or
//!   unsupported, with the reason.
//! - [`MeshEvent`]: the typed event of each change, named as in the spec (`traffic.weight.updated`).
//!
//! This crate has no async runtime, HTTP or Kubernetes dependency.
//!
//! ```
//! use mesh_core::{Change, MeshKind, TrafficSplit};
//! let change = Change::SetTrafficWeight {
//!     service: "prod/reviews".parse()?,
//!     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
//! };
//! change.validate()?;
//! assert_eq!(change.event(MeshKind::Consul).name(), "traffic.weight.updated");
//! # Ok::<(), mesh_core::Error>(())
//! ```
//!
//! # Features
//! - `testing`: [`testing::FakeMesh`], an in-memory backend that follows the same contract.

mod authz_input;
mod backend;
pub mod body_cap;
mod capability;
mod change;
pub mod cleartext;
mod destination;
pub mod duration_input;
mod error;
mod event;
mod fault;
mod mesh_kind;
pub mod names;
mod plan;
mod planner;
pub mod redact;
mod resilience;
mod routing;
mod security;
pub mod selector;
mod service;
mod split;
mod state;
mod telemetry;
mod unique;
pub mod units;
// Not part of the API ([`Plan::render`] is the public way to YAML): mesh-kube's plan rendering and
// the benches share this emitter, so it stays reachable, unlisted.
#[doc(hidden)]
pub mod yaml;

#[cfg(test)]
mod proptests;

#[cfg(feature = "testing")]
pub mod testing;

pub use backend::{BoxFuture, DynMeshBackend, MeshBackend};
pub use capability::{Capabilities, Feature, Support};
pub use change::Change;
pub use destination::{DestinationPolicy, LoadBalancer, Subset};
pub use error::{BoxError, Error, Result};
pub use event::{MeshEvent, TimedEvent};
pub use fault::{Fault, FaultId};
pub use mesh_kind::MeshKind;
pub use names::{Namespace, PolicyName, ServiceName, Version};
pub use plan::{
    ApplyReport, Baseline, Dependency, ObjectRef, Plan, Precondition, RenderFormat, UnsafePrefix, Write,
    WriteAction,
};
pub use planner::{MAX_READ_ROUNDS, Planner, ReadSource, plan_with_reads};
pub use resilience::{CircuitBreaker, ConnectionPool, OutlierDetection, RetryOn, RetryPolicy};
pub use routing::{
    HeaderMatch, HttpMethod, PathMatch, QueryMatch, RequestMatch, RouteRule, ServiceRoutes, StringMatch,
};
pub use security::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, MtlsMode, MtlsStatus, Principal,
};
pub use selector::SelectorLabels;
pub use service::{Endpoint, HealthCheck, Protocol, Registration, ServiceDefinition, ServiceId};
pub use split::{TrafficSplit, VersionWeight};
pub use state::{DynStateStore, StateKey, StateStore, StoredState};
pub use telemetry::{
    DynObservability, GraphEdge, GraphNode, LatencyQuantiles, NodeKind, Observability, ServiceGraph,
    ServiceMetrics, Span, TimeRange, Trace, TrafficSample,
};
pub use units::{HttpStatus, Percent, Port};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
