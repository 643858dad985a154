//! PromQL building blocks: escaped selectors and the per-mesh dialects.

mod dialect;
mod selector;

pub use dialect::{Dialect, EdgeLabels, MtlsSource, Outcome};
pub use selector::{MatchOp, Selector, is_label_name, quote, range};
