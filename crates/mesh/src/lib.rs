//! One typed API over Istio, Linkerd and Consul Connect.
//!
//! # Overview
//! Depend on `mesh` with the backend feature you need; the `mesh-*` crates are implementation
//! crates re-exported here. [`Mesh`] is a cheap-to-clone handle with one method per operation of the
//! spec (`register_service`, `set_traffic_weight`, `enable_mtls`, `inject_fault`, ...). Each
//! operation is planned first ([`Mesh::plan`]), so it can be rendered instead of applied, and every
//! successful change is published on [`Mesh::subscribe`].
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use mesh::{Mesh, MeshKind, TrafficSplit};
//! let mesh = Mesh::fake(MeshKind::Istio);
//! let mut events = mesh.subscribe();
//! let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?;
//! mesh.set_traffic_weight(&"prod/reviews".parse()?, &split).await?;
//! assert_eq!(events.recv().await.unwrap().name(), "traffic.weight.updated");
//! # Ok::<(), mesh::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//! - `istio`, `linkerd`, `consul`: one backend each; `full`: all three. [`Mesh::connect`] builds the
//!   live backend of a mesh from the usual configuration. With `istio` or `linkerd`, [`kube`] is
//!   the Kubernetes engine they share (offline validation, rendering, detection).
//! - `telemetry` (on with any backend): metrics, traces and the graph from Prometheus, Jaeger,
//!   Zipkin, Tempo or Kiali, through `Mesh::with_telemetry`.
//! - `rollout`: the progressive-delivery engine, [`rollout`].
//! - `testing`: [`Mesh::fake`], an in-memory backend for tests.
//!
//! The pattern helpers ([`patterns`]) and the analysis math ([`observe`]) are always available and
//! need no runtime.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use mesh_handle::*;

#[cfg(any(feature = "istio", feature = "linkerd"))]
#[doc(inline)]
pub use mesh_kube as kube;
#[cfg(feature = "rollout")]
#[doc(inline)]
pub use mesh_rollout as rollout;

/// The README's example, compiled and run as a doctest (it needs the `testing` feature) so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "testing"))]
pub struct ReadmeDoctests;
