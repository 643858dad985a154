//! All of `meshctl`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p meshctl --test integration admission_agreement::`.

mod admission_agreement;
mod bad_inputs;
mod cleartext_warnings;
mod cli;
mod cli_matrix;
mod completions;
mod consul_crds;
mod consul_files;
mod kubectl_plugin;
mod live;
mod live_traces;
mod namespace_and_sources;
mod output_formats;
mod readme;
mod rollout_controller;
mod rollout_events_live;
mod rollout_inputs;
mod rollout_lifecycle;
mod secrets_never_printed;
mod settings_and_opt_ins;
mod support;
mod validate_inputs;
