//! Pure helpers that build `mesh-core` values: splits, resilience presets, policies, faults and
//! progressive schedules. No I/O; every result is validated and feeds a [`mesh_core::Change`].
//!
//! ```
//! use mesh_patterns::{create_canary_deployment, Schedule};
//! let service = "prod/reviews".parse()?;
//! let change = create_canary_deployment(&service, "v1", "v2", 10)?.into_change();
//! change.validate()?;
//! let weights: Vec<u8> = Schedule::steps("v1", "v2", &[1, 2, 10, 80])?
//!     .with_promotion()
//!     .map(|split| split.weight_of("v2").unwrap_or(0))
//!     .collect();
//! assert_eq!(weights, [1, 2, 10, 80, 100]);
//! # Ok::<(), mesh_core::Error>(())
//! ```

mod faults;
mod resilience;
mod schedule;
mod security;
mod traffic;

pub use faults::{error_fault, latency_fault};
pub use resilience::{
    aggressive_circuit_breaker, default_circuit_breaker, default_retry_policy, idempotent_retry_policy,
};
pub use schedule::Schedule;
pub use security::{namespace_isolation_policy, strict_authorization_policy};
pub use traffic::{
    ServiceSplit, create_ab_test_split, create_blue_green_deployment, create_canary_deployment,
};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
