//! An OpenMetrics text writer for synthetic traffic on a fixed sample grid.
//!
//! Timestamps are written in **seconds** (OpenMetrics; milliseconds would land in year ~55970),
//! every family is declared once and its series follow it, and [`OpenMetrics::finish`] appends
//! the mandatory `# EOF`.

use std::fmt::Write as _;

/// The sample grid: `steps + 1` samples, `step` seconds apart, from `start` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// The first sample's time, Unix seconds.
    pub start: u64,
    /// Seconds between samples (a scrape interval).
    pub step: u64,
    /// Number of steps; the grid holds `steps + 1` samples.
    pub steps: u64,
}

impl Timeline {
    /// A grid of `steps + 1` samples from `start`, `step` seconds apart.
    ///
    /// ```
    /// let t = mesh_testkit::Timeline::new(100, 15, 4);
    /// assert_eq!((t.time(0), t.time(4), t.end()), (100, 160, 160));
    /// assert_eq!(t.times().count(), 5);
    /// ```
    pub const fn new(start: u64, step: u64, steps: u64) -> Self {
        Self { start, step, steps }
    }

    /// The time of sample `i`.
    pub const fn time(&self, i: u64) -> u64 {
        self.start + i * self.step
    }

    /// The time of the last sample.
    pub const fn end(&self) -> u64 {
        self.time(self.steps)
    }

    /// Every sample time, in order.
    pub fn times(&self) -> impl Iterator<Item = u64> + '_ {
        (0..=self.steps).map(|i| self.time(i))
    }
}

/// The declared type of a metric family (`# TYPE <name> <kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `counter`: declare the family without `_total`, write samples with it.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`: written by [`OpenMetrics::histogram_series`].
    Histogram,
    /// `unknown`: counters without the `_total` suffix (Envoy's, for example).
    Unknown,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Unknown => "unknown",
        }
    }
}

/// `{k="v",...}` with values escaped as OpenMetrics requires (`\\`, `\"`, `\n`).
///
/// ```
/// use mesh_testkit::format_labels;
/// assert_eq!(format_labels(&[("a", "1"), ("b", "x\"y")]), r#"{a="1",b="x\"y"}"#);
/// assert_eq!(format_labels(&[]), "{}");
/// ```
pub fn format_labels(labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A counter's value at each step from its increments: `value(i) = increment(1) + ... +
/// increment(i)`, where `increment(i)` is what happened between samples `i - 1` and `i`.
///
/// ```
/// let value = mesh_testkit::accumulate(|i| if i <= 2 { 10.0 } else { 1.0 });
/// assert_eq!((value(0), value(1), value(2), value(4)), (0.0, 10.0, 20.0, 22.0));
/// ```
pub fn accumulate(increment: impl Fn(u64) -> f64) -> impl Fn(u64) -> f64 {
    move |i| (1..=i).map(&increment).sum()
}

/// An OpenMetrics text being written.
#[derive(Debug, Clone)]
pub struct OpenMetrics {
    timeline: Timeline,
    out: String,
}

impl OpenMetrics {
    /// An empty text on `timeline`.
    pub fn new(timeline: Timeline) -> Self {
        Self {
            timeline,
            out: String::new(),
        }
    }

    /// The grid samples are written on.
    pub fn timeline(&self) -> Timeline {
        self.timeline
    }

    /// Declares a family; its series must follow before the next family.
    pub fn family(&mut self, name: &str, kind: Kind) -> &mut Self {
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self
    }

    /// One series of a counter, gauge or unknown family: `value(i)` at sample `i`.
    pub fn series(&mut self, sample: &str, labels: &[(&str, &str)], value: impl Fn(u64) -> f64) -> &mut Self {
        let l = format_labels(labels);
        for i in 0..=self.timeline.steps {
            let _ = writeln!(self.out, "{sample}{l} {} {}", value(i), self.timeline.time(i));
        }
        self
    }

    /// One series of a classic histogram family (declare it first with [`Kind::Histogram`]).
    ///
    /// `observed(i)` gives, at sample `i`, the observations so far **in each bucket alone** as
    /// `(upper bound, count)` (`f64::INFINITY` for those above every bound). The writer sums them
    /// into cumulative `_bucket{le=..}` series for every bound in `bounds` plus `+Inf`, and
    /// writes `_count` and `_sum` (`count * mean`).
    ///
    /// ```
    /// use mesh_testkit::{Kind, OpenMetrics, Timeline};
    /// let mut om = OpenMetrics::new(Timeline::new(0, 15, 1));
    /// om.family("lat", Kind::Histogram)
    ///     .histogram_series("lat", &[10.0, 100.0], &[("v", "1")], |i| vec![(10.0, 3.0 * i as f64), (100.0, i as f64)], 20.0);
    /// let text = om.finish();
    /// assert!(text.contains("lat_bucket{v=\"1\",le=\"10\"} 3 15\n"));
    /// assert!(text.contains("lat_bucket{v=\"1\",le=\"+Inf\"} 4 15\n"));
    /// assert!(text.contains("lat_count{v=\"1\"} 4 15\nlat_sum{v=\"1\"} 80 15\n"));
    /// ```
    pub fn histogram_series(
        &mut self,
        family: &str,
        bounds: &[f64],
        labels: &[(&str, &str)],
        observed: impl Fn(u64) -> Vec<(f64, f64)>,
        mean: f64,
    ) -> &mut Self {
        let plain = format_labels(labels);
        for i in 0..=self.timeline.steps {
            let t = self.timeline.time(i);
            let per_bucket = observed(i);
            for b in bounds.iter().copied().chain([f64::INFINITY]) {
                let cumulative: f64 = per_bucket.iter().filter(|(ub, _)| *ub <= b).map(|(_, n)| n).sum();
                let le = if b.is_infinite() {
                    "+Inf".to_owned()
                } else {
                    format!("{b}")
                };
                let mut with_le = labels.to_vec();
                with_le.push(("le", &le));
                let _ = writeln!(
                    self.out,
                    "{family}_bucket{} {cumulative} {t}",
                    format_labels(&with_le)
                );
            }
            let total: f64 = per_bucket.iter().map(|(_, n)| n).sum();
            let _ = writeln!(self.out, "{family}_count{plain} {total} {t}");
            let _ = writeln!(self.out, "{family}_sum{plain} {} {t}", total * mean);
        }
        self
    }

    /// The text, ending with `# EOF`.
    pub fn finish(mut self) -> String {
        self.out.push_str("# EOF\n");
        self.out
    }
}
