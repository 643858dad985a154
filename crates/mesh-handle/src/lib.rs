//! The [`Mesh`] handle of `mesh`: connect, plan, apply, events. An implementation crate: depend
//! on `mesh`, which re-exports it.
//!
//! # Overview
//! [`Mesh`] is a cheap-to-clone handle with one method per operation of the
//! spec (`register_service`, `set_traffic_weight`, `enable_mtls`, `inject_fault`, ...). Each
//! operation is planned first ([`Mesh::plan`]), so it can be rendered instead of applied, and every
//! successful change is published on [`Mesh::subscribe`].
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use mesh_handle::{Mesh, MeshKind, TrafficSplit};
//! let mesh = Mesh::fake(MeshKind::Istio);
//! let mut events = mesh.subscribe();
//! let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?;
//! mesh.set_traffic_weight(&"prod/reviews".parse()?, &split).await?;
//! assert_eq!(events.recv().await.unwrap().name(), "traffic.weight.updated");
//! # Ok::<(), mesh_handle::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//! - `istio`, `linkerd`, `consul`: one backend each; `full`: all three. [`Mesh::connect`] builds the
//!   live backend of a mesh from the usual configuration.
//! - `telemetry` (on with any backend): metrics, traces and the graph from Prometheus, Jaeger,
//!   Zipkin, Tempo or Kiali, through `Mesh::with_telemetry`.
//! - `testing`: [`Mesh::fake`], an in-memory backend for tests.
//!
//! The pattern helpers ([`patterns`]) and the analysis math ([`observe`]) are always available and
//! need no runtime.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect_options;
mod events;
mod handle;
mod offline;

pub use connect_options::ConnectOptions;
pub use events::Events;
pub use handle::Mesh;
#[doc(inline)]
pub use mesh_core::*;
pub use offline::{DEFAULT_ASSUMED_SERVICE_PORT, Offline};

pub use mesh_core as core;
pub use mesh_observe as observe;
pub use mesh_patterns as patterns;

#[cfg(feature = "consul")]
#[doc(inline)]
pub use mesh_consul as consul;
#[cfg(feature = "istio")]
#[doc(inline)]
pub use mesh_istio as istio;
#[cfg(feature = "linkerd")]
#[doc(inline)]
pub use mesh_linkerd as linkerd;
#[cfg(feature = "telemetry")]
#[doc(inline)]
pub use mesh_telemetry as telemetry;

/// Imports the traits, for calling backend methods directly.
pub mod prelude {
    pub use mesh_core::{
        DynMeshBackend as _, DynObservability as _, DynStateStore as _, MeshBackend as _, Observability as _,
        StateStore as _,
    };
}
