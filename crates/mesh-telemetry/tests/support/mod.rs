//! Shared helpers of the integration tests.

pub(crate) mod server;
pub(crate) mod traffic;
