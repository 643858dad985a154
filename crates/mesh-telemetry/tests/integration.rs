//! All of `mesh-telemetry`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-telemetry --test integration graph_kiali::`.

mod graph_kiali;
mod hostile_servers;
mod prometheus_http;
mod prometheus_real;
mod support;
mod traces_http;
mod zipkin_real;
