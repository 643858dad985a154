//! All of `mesh-observe`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-observe --test integration fisher_exactness::`.

mod fisher_exactness;
mod prometheus_quantile;
mod properties;
