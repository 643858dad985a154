//! Test support shared by the workspace's integration tests (not published).
//!
//! - [`OpenMetrics`] writes deterministic synthetic traffic (counters, gauges, classic
//!   histograms) on a fixed [`Timeline`], in the OpenMetrics text format that
//!   `promtool tsdb create-blocks-from openmetrics` backfills.
//! - [`Prometheus`] backfills such a text into a fresh TSDB and serves it with a real Prometheus
//!   (Debian's 2.42 `prometheus` and `promtool`) on a free loopback port. Dropping it stops the
//!   server by its PID; a watchdog stops it too when the test process exits without dropping it
//!   (for example a server kept in a `static` and shared by every test of a file).
//!
//! - [`RecordingProxy`] sits in front of a real server, records every exchange, and can lose the
//!   answer to a chosen request after the server handled it.
//! - [`HostileServer`] answers with an endless body, or never answers, for the clients' size caps
//!   and deadlines.
//!
//! Without the binaries, [`Prometheus::start`] panics with what to install, unless
//! `MESH_SKIP_PROMETHEUS=1` ([`SKIP_ENV`]), in which case it returns `None` and the test skips.
//!
//! ```
//! use mesh_testkit::{Kind, OpenMetrics, Timeline};
//! let timeline = Timeline::new(1_704_067_200, 15, 2);
//! let mut om = OpenMetrics::new(timeline);
//! om.family("requests", Kind::Counter)
//!     .series("requests_total", &[("code", "200")], |i| 10.0 * i as f64);
//! let text = om.finish();
//! assert!(text.starts_with("# TYPE requests counter\nrequests_total{code=\"200\"} 0 1704067200\n"));
//! assert!(text.ends_with("requests_total{code=\"200\"} 20 1704067230\n# EOF\n"));
//! ```

mod hostile;
mod http;
mod openmetrics;
mod prometheus;
mod proxy;

pub use hostile::HostileServer;
pub use http::{get, url_encode};
pub use openmetrics::{Kind, OpenMetrics, Timeline, accumulate, format_labels};
pub use prometheus::{Prometheus, SKIP_ENV, skip_requested};
pub use proxy::{Exchange, RecordingProxy};
