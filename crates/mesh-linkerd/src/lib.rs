//! The Linkerd backend of `mesh` (Linkerd 2.14 to 2.20).
//!
//! Depend on `mesh` with the `linkerd` feature; this is an implementation crate re-exported there.
//!
//! # Overview
//! Linkerd is not Istio, and this backend does not pretend it is:
//! - a version subset is a **Service per version** (`<service>-<version>`), and routes and splits
//!   are **HTTPRoutes** whose parent is the apex Service, with weighted `backendRefs`;
//! - retries, timeouts and circuit breaking are **annotations** on the Service (retries and
//!   timeouts from 2.16; before that only through a ServiceProfile, on opt-in);
//! - authorization is **allow-list only** (Server, AuthorizationPolicy, MeshTLSAuthentication);
//! - mTLS is **always on**; "enabling" it sets the namespace's default inbound policy.
//!
//! Whatever Linkerd cannot do is refused with a typed [`mesh_core::Error::Unsupported`] naming the
//! [`mesh_core::Feature`], before anything is read or written ([`capabilities`] lists it all, per
//! [`LinkerdVersion`]). Emulations (SMI TrafficSplit, ServiceProfile retries, abort faults through
//! an error backend) happen only when [`Config`] opts in.
//!
//! The pieces:
//! - [`LinkerdBackend`]: the [`mesh_core::MeshBackend`] over mesh-kube's `KubeEngine` (release
//!   detection, the shared apply and re-plan, per-concept field managers for annotation writes,
//!   the state store);
//! - [`LinkerdPlanner`]: the pure [`mesh_core::Planner`] (validation, refusals, what to read, and
//!   the ordered writes), and [`plan`] and [`reads`], the same without a planner value;
//! - [`objects`]: the references of what the backend writes, to look them up afterwards;
//! - [`LinkerdVersion`], [`Config`], [`capabilities`]: what is written, and what is possible.
//!
//! The translation of each concept to objects (one file each) is the crate's own.
//!
//! A [`Snapshot`] serves [`plan`] offline:
//!
//! ```
//! use mesh_core::{Change, Feature, Error};
//! use mesh_linkerd::{Config, LinkerdVersion, Snapshot, plan};
//! let deny = Change::InjectFault {
//!     service: "prod/api".parse().unwrap(),
//!     fault: mesh_core::Fault::Delay { percent: mesh_core::Percent::new(10.0).unwrap(), duration: std::time::Duration::from_secs(2) },
//! };
//! let err = plan(&deny, &Snapshot::default(), &Config::default(), LinkerdVersion::V2_20).unwrap_err();
//! assert!(matches!(err, Error::Unsupported { feature: Feature::FaultDelay, .. }));
//! ```
//!
//! # Features
//! None.

mod backend;
mod capabilities;
mod config;
pub mod objects;
mod planner;
mod translate;
mod version;

pub use backend::LinkerdBackend;
pub use capabilities::capabilities;
pub use config::Config;
pub use mesh_kube::Snapshot;
pub use mesh_kube::state_object;
pub(crate) use planner::refuse;
pub use planner::{LinkerdPlanner, plan, reads};
pub use version::{HttpRouteFlavour, LinkerdVersion};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
