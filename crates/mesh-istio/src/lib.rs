//! The Istio backend of `mesh`.
