//! The cross-backend suites in one test binary: the backend contract, the capability cells, the
//! spec's examples, registration and the progressive-delivery end-to-end runs. Run one suite with
//! a filter on its module, e.g. `cargo test -p mesh-tests --all-features --test integration contract::`.

mod capability_cells;
mod contract;
mod registration_announces_only_what_holds;
mod rollout_e2e;
mod spec_examples;
mod support;
