//! The Consul Connect backend of `mesh`: config entries over Consul's HTTP API, written in a safe
//! order with check-and-set.
//!
//! Depend on `mesh` with the `consul` feature; this crate is the implementation it re-exports.
//!
//! # Overview
//! - [`model`]: typed models of the Consul bodies (config entries, agent service registration,
//!   CA roots) that keep unknown fields, so read-modify-write never drops anything.
//! - [`translate`]: pure translation of a [`mesh_core::Change`] into an ordered, prefix-safe
//!   [`mesh_core::Plan`]: service-defaults (L7 protocol) → service-resolver (subsets) →
//!   service-splitter / service-router, the reverse on removal, every write guarded by `?cas=`.
//! - [`render`]: a plan as the files `consul config write` takes, plus the registration bodies
//!   and the script that applies them in order. No agent needed.
//! - [`client`]: a thin reqwest client (rustls on aws-lc-rs) following Consul's environment
//!   conventions, with CE/Enterprise detection, retries, CAS, health and KV.
//! - [`ConsulBackend`]: the [`mesh_core::MeshBackend`] over all of it.
//! - [`declarations`]: rollouts declared under a KV prefix, watched with blocking queries.
//! - [`capabilities`]: what each edition and version can do; refusals name the feature.
//!
//! Planning and rendering work offline:
//!
//! ```
//! use mesh_consul::{ConsulVersion, render::render, translate::{plan, Context, Snapshot}};
//! use mesh_core::{Change, TrafficSplit};
//! let change = Change::SetTrafficWeight {
//!     service: "web".parse()?,
//!     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
//! };
//! let p = plan(&change, &Context::new(ConsulVersion::ce(1, 18, 0)), &Snapshot::default())?;
//! let kinds: Vec<&str> = p.writes.iter().map(|w| w.target.kind.as_str()).collect();
//! assert_eq!(kinds, ["service-defaults", "service-resolver", "service-splitter"]);
//! assert!(p.check_safe_prefixes().is_ok());
//! assert_eq!(render(&p).files.len(), 3);
//! # Ok::<(), mesh_core::Error>(())
//! ```
//!
//! # Semantics worth knowing
//! - Circuit breakers are client-side in Consul: they are written on each caller's
//!   service-defaults (`UpstreamConfig.Overrides[{Name: <target>}]`). Callers are given, or
//!   derived from the service-intentions that allow them; services not configured keep no limit.
//! - Intentions apply the most specific source first, not DENY before ALLOW.
//! - Faults: Enterprise 1.18+ only, unless the caller opts into the Lua abort emulation
//!   ([`ConsulBackend::emulate_abort_with_lua`]); delays are never emulated.
//!
//! # Features
//! - `testing`: [`testing::FakeConsul`], a loopback HTTP server that behaves like a Consul agent.

mod backend;
pub mod capabilities;
pub mod client;
pub mod crd;
pub mod declarations;
pub mod failover;
pub mod leases;
pub mod model;
mod planner;
pub mod render;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod translate;
mod version;

pub use backend::{ConsulBackend, entry_key};
pub use planner::ConsulPlanner;
pub use version::{ConsulVersion, Edition};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
