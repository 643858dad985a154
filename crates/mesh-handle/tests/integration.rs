//! All of `mesh-handle`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-handle --test integration events_carry_the_spec_fields::`.

mod composes_the_backends_contracts;
mod events_carry_the_spec_fields;
mod execute_all_bounds_concurrency;
mod execute_uses_the_backends_execute;
mod query_metric_on_a_real_prometheus;
