//! All of `mesh-consul`'s integration tests, one module per file, in one test binary: one link
//! instead of one per file. Run one file's tests with a filter on its module, e.g.
//! `cargo test -p mesh-consul --test integration backend::`.

mod backend;
mod backend_live;
mod cas_of_an_identical_entry;
mod declarations;
mod declarations_live;
mod e2e;
mod env_booleans;
mod hostile_servers;
mod lost_answers;
mod refusals;
mod sequences;
mod state;
mod support;
mod translate;
mod upstream_roundtrip;
mod user_agent;
