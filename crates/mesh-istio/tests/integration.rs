//! All of `mesh-istio`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-istio --test integration backend::`.

mod backend;
mod backend_live;
mod e2e;
mod golden;
#[path = "../../mesh-kube/tests/live_server.rs"]
mod live_server;
mod planner;
mod schema_props;
mod support;
mod user_routes;
