//! All of `mesh-kube`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-kube --test integration e2e::`.

mod e2e;
mod engine;
mod engine_live;
mod engine_props;
mod events;
mod events_live;
mod hostile_server;
mod leases;
mod leases_live;
mod live_server;
mod schema;
mod types;
mod user_agent;
mod watch_cache_live;
