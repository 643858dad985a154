//! The Istio backend of `mesh`: every operation as Istio objects (`networking.istio.io/v1`,
//! `security.istio.io/v1`), planned make-before-break and validated against the pinned CRDs.
//!
//! Depend on `mesh` with the `istio` feature; this crate is an implementation crate re-exported
//! there as `mesh::istio`.
//!
//! # Overview
//! - [`plan`] and [`reads`]: a [`mesh_core::Change`] turned into a [`mesh_core::Plan`] against a
//!   [`Snapshot`] of the objects read; [`IstioPlanner`] is the same as a [`mesh_core::Planner`].
//! - [`IstioBackend`]: the [`mesh_core::MeshBackend`] over `mesh-kube`'s engine, and
//!   [`capabilities`], the support table.
//! - [`objects`]: the references of what the backend writes, to look them up afterwards.
//! - `testing` (feature `testing`): Istio's own make-before-break proof over a plan, for tests.
//!
//! The translation to Istio objects (one module per kind) and the VirtualService `http[]` merge
//! that keeps every user-written route are the crate's own.
//!
//! ```
//! use mesh_core::{Change, TrafficSplit};
//! use mesh_istio::{Config, Snapshot};
//! let change = Change::SetTrafficWeight {
//!     service: "bookinfo/reviews".parse()?,
//!     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
//! };
//! let snapshot = Snapshot::default();
//! let plan = mesh_istio::plan(&change, &snapshot, &Config::default())?;
//! let yaml = plan.render(mesh_core::RenderFormat::Yaml)?;
//! assert!(yaml.contains("kind: DestinationRule") && yaml.contains("weight: 10"));
//! assert!(plan.check_safe_prefixes().is_ok());
//! # Ok::<(), mesh_core::Error>(())
//! ```
//!
//! # What the library owns
//! - Objects it creates carry `app.kubernetes.io/managed-by: mesh`.
//! - In the VirtualService and DestinationRule it shares with users (one of each per host, named
//!   after the service, in its namespace), it owns only the `http[]` routes named `mesh-…`, the
//!   subsets it adds and the policy fields it sets; everything else is written back unchanged.
//! - It never removes a subset (a route elsewhere may use it), so removals need no reverse
//!   ordering; registration deletes the ServiceEntry before its WorkloadEntries.
//!
//! # Limitations
//! - A user's VirtualService or DestinationRule for the same host under another name is not
//!   looked for; sidecars use only one of them.
//! - A fault applies to the requests that reach the library's default route; requests matched
//!   earlier by routes with match conditions are not faulted (the plan warns).
//! - Istio switches off retries and timeouts on a route with a fault: a rule with both is refused,
//!   and a retry policy set while a fault is active takes effect once it is removed (the plan warns).
//!
//! # Features
//! - `testing`: `testing::check_subset_references` and `testing::check_consistent`, the
//!   subset-reference proofs the crate's tests run over plans and states.

mod backend;
mod capabilities;
mod config;
pub mod objects;
mod ops;
mod planner;
mod routes;
#[cfg(feature = "testing")]
pub mod testing;
mod translate;

pub use backend::IstioBackend;
pub use capabilities::capabilities;
pub use config::Config;
pub use mesh_kube::Snapshot;
pub use mesh_kube::state_object;
pub use planner::{IstioPlanner, plan, reads};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
