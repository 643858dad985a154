//! Pure SLI, SLO, quantile, anomaly and canary-judgement math.
//!
//! No I/O, no async, no clock reads: every input (including time) is passed in.

mod quantile;

pub use quantile::{Bucket, histogram_quantile, histogram_quantile_sorted};
