//! All of `mesh-linkerd`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-linkerd --test integration api_server::`.

mod api_server;
mod api_server_live;
mod e2e;
mod golden;
#[path = "../../mesh-kube/tests/live_server.rs"]
mod live_server;
mod proptest;
mod refusals;
mod scenarios;
mod schemas;
mod support;
