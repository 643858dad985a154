//! The Linkerd backend of `mesh`.
