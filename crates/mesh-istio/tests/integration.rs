//! All of `mesh-istio`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-istio --test integration backend::`.

mod backend;
mod e2e;
mod golden;
mod planner;
mod schema_props;
mod support;
mod user_routes;
