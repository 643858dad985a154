//! All of `mesh-rollout`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-rollout --test integration rollout::`.

mod controller;
mod kube_leases;
mod observers;
mod rollout;
mod support;
mod webhook;
