//! The Rust side of `cargo xtask bench-math` (`xtask/bench_math.py`): a long-lived process that
//! loads the inputs the script wrote once, then runs one algorithm per command and answers with
//! its time and result, so that the script can interleave numpy runs and Rust runs.
//!
//! Usage: `bench_math <dir> <current> <window>`, where `<dir>` holds little-endian
//! `hist_bounds.f64`, `hist_counts.f64`, `req_status.u16`, `req_latency.f64` and `history.f64`,
//! `<current>` is the value scored against the history and `<window>` the number of requests per
//! window of `sli_windows`. It prints one JSON line when ready, then reads commands on stdin, one
//! per line, and answers each with one JSON line:
//!
//! - `run <algorithm> [<count>]`: runs it `<count>` times (once by default), back to back;
//!   answers `{"algorithm": .., "seconds": .., <result>}`, where `seconds` is the mean wall-clock
//!   time of one call alone and `<result>` is the last call's. Algorithms: `histogram_quantile`
//!   (100 000 histograms), `ewma` (mean and variance of the history), `detect_anomalies`,
//!   `calculate_sli` (all requests as one window), `sli_windows` (one SLI per `<window>` requests),
//!   both from `RequestRecord`s, and `calculate_sli_columns` and `sli_windows_columns`, the same
//!   from a status and a latency column, and `read_columns`, the floor under both: one plain read
//!   of the two columns (the latencies summed, the 5xx and status-0 rows counted).
//! - `write <algorithm>`: writes the last result of `histogram_quantile` (`quantiles_rust.f64`)
//!   or `sli_windows` (`sli_windows_rust.f64`: error rate, p50, p90, p99 per window) to `<dir>`.
//! - `quit`.
#![allow(clippy::print_stdout)] // The JSON answers are this tool's output.

use std::{
    collections::BTreeMap,
    hint::black_box,
    io::{BufRead, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mesh_observe::{
    AnomalySettings, Assessment, Bucket, RequestColumns, RequestRecord, Sli, SliSettings,
    calculate_sli_from_columns, calculate_sli_from_requests, detect_anomalies, ewma, histogram_quantile,
    sli_windows,
};

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes(c.try_into().unwrap_or([0; 2])))
        .collect()
}

fn json_f64(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:?}"),
        _ => "null".to_owned(),
    }
}

/// The inputs, loaded once, and the last results worth writing back.
struct Bench {
    dir: PathBuf,
    current: f64,
    window: usize,
    bounds: usize,
    buckets: Vec<Bucket>,
    records: Vec<RequestRecord>,
    status: Vec<u16>,
    latency: Vec<f64>,
    history: Vec<f64>,
    history_map: BTreeMap<String, Vec<f64>>,
    quantiles: Vec<f64>,
    windows: Vec<Sli>,
}

impl Bench {
    fn load(dir: &Path, current: f64, window: usize) -> Self {
        let bounds = f64s(&read(dir, "hist_bounds.f64"));
        let counts = f64s(&read(dir, "hist_counts.f64"));
        let buckets = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| Bucket::new(bounds[i % bounds.len()], c))
            .collect();
        let status = u16s(&read(dir, "req_status.u16"));
        let latency = f64s(&read(dir, "req_latency.f64"));
        let records = status
            .iter()
            .zip(&latency)
            .map(|(&status, &latency_ms)| RequestRecord { status, latency_ms })
            .collect();
        let history = f64s(&read(dir, "history.f64"));
        let history_map = BTreeMap::from([("metric".to_owned(), history.clone())]);
        Self {
            dir: dir.to_owned(),
            current,
            window,
            bounds: bounds.len(),
            buckets,
            records,
            status,
            latency,
            history,
            history_map,
            quantiles: Vec::new(),
            windows: Vec::new(),
        }
    }

    /// Runs one algorithm once: its time and its result as JSON members.
    fn run(&mut self, algorithm: &str) -> Option<(Duration, String)> {
        let window = Duration::from_secs(300);
        let settings = SliSettings::default();
        Some(match algorithm {
            "histogram_quantile" => {
                let start = Instant::now();
                let q: Vec<f64> = self
                    .buckets
                    .chunks_exact(self.bounds)
                    .map(|h| histogram_quantile(0.99, h))
                    .collect();
                let t = start.elapsed();
                let inputs = self.buckets.len();
                self.quantiles = black_box(q);
                (t, format!("\"inputs\":{inputs}"))
            }
            "ewma" => {
                let start = Instant::now();
                let e = black_box(ewma(
                    black_box(&self.history),
                    AnomalySettings::default().ewma_alpha,
                ));
                let t = start.elapsed();
                let (mean, variance) = (e.map(|e| e.mean), e.map(|e| e.variance));
                let score = e.map(|e| (self.current - e.mean) / e.variance.sqrt());
                (
                    t,
                    format!(
                        "\"inputs\":{},\"mean\":{},\"variance\":{},\"score\":{}",
                        self.history.len(),
                        json_f64(mean),
                        json_f64(variance),
                        json_f64(score)
                    ),
                )
            }
            "detect_anomalies" => {
                let now = BTreeMap::from([("metric".to_owned(), self.current)]);
                let anomaly_settings = AnomalySettings::default();
                let start = Instant::now();
                let report = black_box(detect_anomalies(
                    &now,
                    black_box(&self.history_map),
                    &anomaly_settings,
                ));
                let t = start.elapsed();
                let (robust, ewma) = match report.metrics.first().map(|(_, a)| *a) {
                    Some(Assessment::Scored { robust, ewma, .. }) => {
                        (Some(robust.score), ewma.map(|e| e.score))
                    }
                    _ => (None, None),
                };
                (
                    t,
                    format!(
                        "\"inputs\":{},\"robust_score\":{},\"ewma_score\":{}",
                        self.history.len(),
                        json_f64(robust),
                        json_f64(ewma)
                    ),
                )
            }
            "calculate_sli" => {
                let start = Instant::now();
                let sli = black_box(calculate_sli_from_requests(
                    black_box(&self.records),
                    window,
                    settings,
                ));
                (start.elapsed(), sli_json(&sli))
            }
            "calculate_sli_columns" => {
                let start = Instant::now();
                let columns = RequestColumns::new(black_box(&self.status), black_box(&self.latency)).ok()?;
                let sli = black_box(calculate_sli_from_columns(columns, window, settings));
                (start.elapsed(), sli_json(&sli))
            }
            "read_columns" => {
                let start = Instant::now();
                let (sum, errors) =
                    black_box(read_columns(black_box(&self.status), black_box(&self.latency)));
                (
                    start.elapsed(),
                    format!("\"sum\":{},\"errors\":{errors}", json_f64(Some(sum))),
                )
            }
            "sli_windows" => {
                let start = Instant::now();
                let slis: Vec<Sli> = black_box(&self.records)
                    .chunks(self.window)
                    .map(|w| calculate_sli_from_requests(w, window, settings))
                    .collect();
                let t = start.elapsed();
                (t, self.keep_windows(slis))
            }
            "sli_windows_columns" => {
                let start = Instant::now();
                let columns = RequestColumns::new(black_box(&self.status), black_box(&self.latency)).ok()?;
                let slis = black_box(sli_windows(columns, self.window, window, settings).ok()?);
                let t = start.elapsed();
                (t, self.keep_windows(slis))
            }
            _ => return None,
        })
    }

    /// Keeps the windows' SLIs for `write`; their count as JSON members.
    fn keep_windows(&mut self, slis: Vec<Sli>) -> String {
        let count = slis.len();
        self.windows = slis;
        format!("\"inputs\":{},\"windows\":{count}", self.records.len())
    }

    fn write(&self, algorithm: &str) -> Result<(), String> {
        let (name, values): (&str, Vec<f64>) = match algorithm {
            "histogram_quantile" => ("quantiles_rust.f64", self.quantiles.clone()),
            "sli_windows" => (
                "sli_windows_rust.f64",
                self.windows
                    .iter()
                    .flat_map(|s| {
                        [s.error_rate, s.latency.p50_ms, s.latency.p90_ms, s.latency.p99_ms]
                            .map(|v| v.unwrap_or(f64::NAN))
                    })
                    .collect(),
            ),
            other => return Err(format!("nothing to write for {other:?}")),
        };
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(self.dir.join(name), bytes).map_err(|e| format!("write {name}: {e}"))
    }
}

/// One window's SLI as JSON members.
fn sli_json(sli: &Sli) -> String {
    format!(
        "\"inputs\":{},\"error_rate\":{},\"p50\":{},\"p90\":{},\"p99\":{}",
        sli.requests,
        json_f64(sli.error_rate),
        json_f64(sli.latency.p50_ms),
        json_f64(sli.latency.p90_ms),
        json_f64(sli.latency.p99_ms)
    )
}

/// One read of both columns, as fast as plain Rust reads them: the latencies summed in eight
/// lanes (NaN included) and the rows with status 0 or 5xx counted.
fn read_columns(status: &[u16], latency: &[f64]) -> (f64, usize) {
    let mut lanes = [0.0f64; 8];
    let chunks = latency.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += x;
        }
    }
    let errors = status
        .iter()
        .map(|&s| usize::from(s == 0 || (500..600).contains(&s)))
        .sum();
    (lanes.iter().sum::<f64>() + tail, errors)
}

/// `count` runs of `algorithm` (once when `None`): the mean time of one and the last result;
/// `None` for an unknown algorithm or a count that is not a positive number.
fn runs(bench: &mut Bench, algorithm: &str, count: Option<&str>) -> Option<(Duration, String)> {
    let count: u32 = count.map_or(Some(1), |c| c.parse().ok().filter(|&c| c > 0))?;
    let mut total = Duration::ZERO;
    let mut last = String::new();
    for _ in 0..count {
        let (t, result) = bench.run(algorithm)?;
        total += t;
        last = result;
    }
    Some((total / count, last))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, current, window] = args.as_slice() else {
        eprintln!("usage: bench_math <dir> <current> <window>");
        std::process::exit(2);
    };
    let current: f64 = current.parse().unwrap_or_else(|e| panic!("current: {e}"));
    let window: usize = window.parse().unwrap_or_else(|e| panic!("window: {e}"));
    let mut bench = Bench::load(Path::new(dir), current, window.max(1));
    let mut out = std::io::stdout().lock();
    let mut answer = |line: String| {
        // The script reads one line per command; a closed pipe means it is gone.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            std::process::exit(0);
        }
    };
    answer(format!(
        "{{\"ready\":true,\"requests\":{},\"history\":{},\"buckets\":{}}}",
        bench.records.len(),
        bench.history.len(),
        bench.buckets.len()
    ));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        let reply = match (words.next(), words.next()) {
            (Some("run"), Some(algorithm)) => match runs(&mut bench, algorithm, words.next()) {
                Some((t, result)) => format!(
                    "{{\"algorithm\":\"{algorithm}\",\"seconds\":{:?},{result}}}",
                    t.as_secs_f64()
                ),
                None => format!(
                    "{{\"error\":\"unknown algorithm {algorithm:?} or a count that is not a positive number\"}}"
                ),
            },
            (Some("write"), Some(algorithm)) => match bench.write(algorithm) {
                Ok(()) => "{\"written\":true}".to_owned(),
                Err(e) => format!("{{\"error\":{e:?}}}"),
            },
            (Some("quit"), _) => break,
            (None, _) => continue,
            _ => format!("{{\"error\":\"unknown command {line:?}\"}}"),
        };
        answer(reply);
    }
}
