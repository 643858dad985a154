//! The Consul Connect backend of `mesh`: config entries over Consul's HTTP API, written in a safe
//! order with check-and-set.
//!
//! # Overview
//! - [`model`]: typed, round-tripping models of the Consul bodies (config entries, agent service
//!   registration, CA roots).
//!
//! Depend on `mesh` with the `consul` feature; this crate is the implementation it re-exports.

pub mod capabilities;
pub mod model;
pub mod translate;
mod version;

pub use version::{ConsulVersion, Edition};
mod backend;
pub mod client;
pub mod render;

pub use backend::{ConsulBackend, entry_key};
#[cfg(feature = "testing")]
pub mod testing;
