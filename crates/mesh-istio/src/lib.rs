//! The Istio backend of `mesh`: every operation as Istio objects (`networking.istio.io/v1`,
//! `security.istio.io/v1`), planned make-before-break and validated against the pinned CRDs.
//!
//! Depend on `mesh` with the `istio` feature; this crate is an implementation crate re-exported
//! there as `mesh::istio`.
//!
//! # Overview
//! - [`translate`]: pure mapping from `mesh-core` types to Istio objects, one module per kind.
//! - [`routes`]: the VirtualService `http[]` merge that keeps every user-written route.
//! - [`plan`] and [`reads`]: a [`mesh_core::Change`] turned into a [`mesh_core::Plan`] against a
//!   [`Snapshot`] of the objects read, with the write table in [`planner`].
//! - [`check_subset_references`]: Istio's own make-before-break proof over a plan.
//! - [`IstioBackend`]: the [`mesh_core::MeshBackend`] over `mesh-kube`'s engine, and
//!   [`capabilities`], the support table.
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
//! mesh_istio::check_subset_references(&snapshot, &plan).unwrap();
//! # Ok::<(), mesh_core::Error>(())
//! ```
//!
//! # Features
//! None yet.

mod backend;
mod capabilities;
mod check;
mod config;
pub mod objects;
pub mod planner;
mod registration;
pub mod routes;
mod snapshot;
mod state;
pub mod translate;

pub use backend::IstioBackend;
pub use capabilities::capabilities;
pub use check::{check_consistent, check_subset_references};
pub use config::Config;
pub use planner::{plan, reads};
pub use snapshot::Snapshot;
pub use state::state_object;
