//! The service graph of a namespace: built from metrics (every mesh) or read from Kiali (Istio),
//! and rendered as JSON, DOT, Mermaid or SVG.

mod build;
mod kiali;
mod render;

pub use build::{build_graph, service_graph};
pub use kiali::{KIALI_TIMEOUT, KialiClient, parse_kiali_graph};
pub use render::{to_dot, to_json, to_mermaid, to_svg};
