//! The Consul backend of `mesh`.
