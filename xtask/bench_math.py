#!/usr/bin/env python3
"""mesh-observe's math against numpy/scipy, interleaved in one run.

Generates seeded inputs (1 000 000 numbers per algorithm), builds the Rust side once
(`cargo build --release -p mesh-observe --example bench_math`) and starts it as a long-lived child
process that answers one command per run, then alternates numpy runs and Rust runs of each
algorithm (numpy first on even repetitions, Rust first on odd ones), so that a machine that slows
down or speeds up during the run affects both sides alike. Each side times the calls alone (no
process start, no pipe). By default each timed sample is the mean of back-to-back runs that
together fill at least `--batch-ms` (50 ms; the count is fixed per side and algorithm from the
warm-up run), after an untimed run of the same side and algorithm, so both sides are timed warm,
as timeit's autorange or Criterion time them; a side whose single run is longer than that runs
once per sample. `--batch-ms 0` times single runs (each still after an untimed run): a short call
then pays for waking the core and refilling its caches after the other side ran, which takes a
1M-request SLI on this kind of host from about 1.5 ms back to back to 2.0 to 2.5 ms. With
`--cold` the timed runs follow each other directly, one run per sample, and each side starts with
the caches the other side left. The SLI rows give the Rust side the requests as numpy has them, a status and a
latency column (`calculate_sli_from_columns`, `sli_windows`); the two `records` rows time the
16-byte `RequestRecord` API on the same requests. It checks that the results agree
(the histogram quantiles bit for bit) and prints, per algorithm, the minimum, median and maximum
time of each side and of the ratio numpy/Rust over the paired runs (> 1 means Rust is faster),
with the load averages before and after.

    python3 xtask/bench_math.py [--reps N] [--window W] [--batch-ms MS] [--cold] [--no-check] [--native]

By default the Rust side is built as a library user gets it (baseline x86-64: SSE2 only; the
workspace forbids `unsafe`, so it cannot pick AVX2/AVX-512 at run time as numpy does); `--native`
builds it for this machine's CPU instead, in its own target directory, and says so.

Needs numpy and scipy (`pip install numpy scipy`).
"""

import argparse
import gc
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import numpy as np
    from scipy.signal import lfilter
except ImportError as e:  # an environment problem, said plainly
    sys.exit(f"bench_math.py needs numpy and scipy ({e}); install them with: pip install numpy scipy")

ROOT = Path(__file__).resolve().parent.parent
HISTOGRAMS = 100_000
BOUNDS = np.array([5, 10, 25, 50, 100, 250, 500, 1000, 2500, np.inf], dtype=np.float64)
REQUESTS = 1_000_000
HISTORY = 1_000_000
CURRENT = 180.0
Q = 0.99
MAD_TO_SIGMA = 0.6745
MEAN_AD_TO_SIGMA = 1.253314
ALPHA = 0.3


# --- the algorithms, numpy/scipy versions -------------------------------------------------------

def histogram_quantile(q, bounds, counts):
    """Prometheus 2.42 bucketQuantile, vectorised over the rows of `counts` (shared bounds)."""
    rows = counts.shape[0]
    if math.isnan(q):
        return np.full(rows, np.nan)
    if q < 0:
        return np.full(rows, -np.inf)
    if q > 1:
        return np.full(rows, np.inf)
    order = np.argsort(bounds, kind="stable")
    bounds = bounds[order]
    counts = counts[:, order]
    if not np.isposinf(bounds[-1]):
        return np.full(rows, np.nan)
    uniq, first = np.unique(bounds, return_index=True)
    if len(uniq) != len(bounds):
        counts = np.add.reduceat(counts, first, axis=1)
        bounds = uniq
    counts = np.maximum.accumulate(counts, axis=1)
    n = len(bounds)
    if n < 2:
        return np.full(rows, np.nan)
    observations = counts[:, -1]
    rank = q * observations
    ge = counts[:, :-1] >= rank[:, None]
    b = np.where(ge.any(axis=1), ge.argmax(axis=1), n - 1)
    in_inf = b == n - 1
    bb = np.minimum(b, n - 2)
    idx = np.arange(rows)
    has_prev = bb > 0
    prev = np.maximum(bb - 1, 0)
    start = np.where(has_prev, bounds[prev], 0.0)
    prev_count = np.where(has_prev, counts[idx, prev], 0.0)
    end = bounds[bb]
    count = counts[idx, bb] - prev_count
    r = rank - prev_count
    with np.errstate(divide="ignore", invalid="ignore"):
        out = start + (end - start) * (r / count)
    out = np.where((bb == 0) & (bounds[0] <= 0), bounds[0], out)
    out = np.where(in_inf, bounds[n - 2], out)
    return np.where(observations == 0, np.nan, out)


def calculate_sli(status, latency, window_secs=300.0):
    """5xx and no response (status 0) are errors; numpy's linear percentiles."""
    errors = np.count_nonzero((status == 0) | ((status >= 500) & (status <= 599)))
    lat = latency[~np.isnan(latency)]
    p50, p90, p99 = np.percentile(lat, [50, 90, 99])
    n = len(status)
    return {"error_rate": errors / n, "throughput": n / window_secs, "p50": p50, "p90": p90, "p99": p99}


def read_columns(status, latency):
    """The floor under every SLI row: one read of both columns (the latencies summed, NaN
    included; the 5xx and status-0 rows counted)."""
    errors = np.count_nonzero((status == 0) | ((status >= 500) & (status <= 599)))
    return {"sum": float(latency.sum()), "errors": int(errors)}


def detect_anomalies(current, history):
    """Median/MAD modified z-score and EWMA (Finch) z-score, as mesh-observe computes them."""
    h = history[np.isfinite(history)]
    median = np.median(h)
    dev = np.abs(h - median)
    mad = np.median(dev)
    sigma = mad / MAD_TO_SIGMA if mad > 0 else MEAN_AD_TO_SIGMA * dev.mean()
    robust = (current - median) / sigma
    x0, rest = h[0], h[1:]
    mean, _ = lfilter([ALPHA], [1.0, -(1.0 - ALPHA)], rest, zi=[(1.0 - ALPHA) * x0])
    prev_mean = np.concatenate(([x0], mean[:-1]))
    d = rest - prev_mean
    var = lfilter([1.0], [1.0, -(1.0 - ALPHA)], (1.0 - ALPHA) * ALPHA * d * d)
    ewma = (current - mean[-1]) / math.sqrt(var[-1])
    return {"robust_score": robust, "ewma_score": ewma}


def ewma(current, history):
    """Exponentially weighted mean and variance of the finite history (mesh_observe::ewma): the
    same two scipy `lfilter` runs (compiled first-order recurrences) `detect_anomalies` uses, the
    fastest numpy/scipy form we know; numpy alone has no recurrence primitive."""
    h = history[np.isfinite(history)]
    x0, rest = h[0], h[1:]
    mean, _ = lfilter([ALPHA], [1.0, -(1.0 - ALPHA)], rest, zi=[(1.0 - ALPHA) * x0])
    prev_mean = np.concatenate(([x0], mean[:-1]))
    d = rest - prev_mean
    var = lfilter([1.0], [1.0, -(1.0 - ALPHA)], (1.0 - ALPHA) * ALPHA * d * d)
    return {"mean": mean[-1], "variance": var[-1], "score": (current - mean[-1]) / math.sqrt(var[-1])}


def sorted_quantiles(sorted_values, n, qs):
    """numpy's linear quantiles of the first `n` values of each sorted row (NaN sorted last)."""
    out = []
    for q in qs:
        pos = q * (n - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, n - 1)
        frac = pos - lo
        a = np.take_along_axis(sorted_values, lo[..., None], -1)[..., 0]
        b = np.take_along_axis(sorted_values, hi[..., None], -1)[..., 0]
        out.append(np.where(frac == 0, a, a + (b - a) * frac))
    return out


def calculate_sli_sorted(status, latency, window_secs=300.0):
    """`calculate_sli` with one `np.sort` instead of `np.percentile`: the same numbers, and on
    machines where numpy sorts with AVX-512 (x86-simd-sort) about twice as fast, because
    `np.percentile` with several quantiles partitions with a scalar multi-kth introselect."""
    errors = np.count_nonzero((status == 0) | ((status >= 500) & (status <= 599)))
    lat = np.sort(latency[~np.isnan(latency)])
    p50, p90, p99 = (float(v) for v in sorted_quantiles(lat, np.array(len(lat)), (0.5, 0.9, 0.99)))
    n = len(status)
    return {"error_rate": errors / n, "throughput": n / window_secs, "p50": p50, "p90": p90, "p99": p99}


def sli_windows(status, latency, window):
    """One SLI per `window` consecutive requests, vectorised: the fastest numpy form we know.
    The windows are rows of a reshaped array; one `np.sort(axis=1)` (SIMD-accelerated) orders
    every row with its NaN last, the non-NaN count per row gives each row's ranks, and
    `take_along_axis` reads the order statistics. `np.nanpercentile(axis=1)` gives the same
    numbers about 9 times slower, and a Python loop of `calculate_sli` over slices (see
    `sli_windows_loop`) about 10 times slower (measured on a 2-core Xeon with AVX-512)."""
    s = status.reshape(-1, window)
    lat = latency.reshape(-1, window)
    errors = np.count_nonzero((s == 0) | ((s >= 500) & (s <= 599)), axis=1)
    n = window - np.count_nonzero(np.isnan(lat), axis=1)
    p50, p90, p99 = sorted_quantiles(np.sort(lat, axis=1), n, (0.5, 0.9, 0.99))
    return np.stack([errors / window, p50, p90, p99], axis=1)


def sli_windows_nanpercentile(status, latency, window):
    """The idiomatic vectorised form: `np.nanpercentile(axis=1)` on the reshaped rows."""
    s = status.reshape(-1, window)
    errors = np.count_nonzero((s == 0) | ((s >= 500) & (s <= 599)), axis=1)
    p50, p90, p99 = np.nanpercentile(latency.reshape(-1, window), [50, 90, 99], axis=1)
    return np.stack([errors / window, p50, p90, p99], axis=1)


def sli_windows_loop(status, latency, window):
    """The idiomatic form: `calculate_sli` on each slice."""
    out = []
    for i in range(0, len(status), window):
        r = calculate_sli(status[i:i + window], latency[i:i + window])
        out.append((r["error_rate"], r["p50"], r["p90"], r["p99"]))
    return np.array(out)


# --- inputs -----------------------------------------------------------------------------------

def make_inputs(directory):
    rng = np.random.default_rng(20420)
    counts = np.cumsum(np.floor(rng.random((HISTOGRAMS, len(BOUNDS))) * 100), axis=1)
    damaged = rng.random(HISTOGRAMS) < 0.05
    counts[damaged, 3] *= 0.5  # non-monotonic rows exercise the repair
    counts[rng.random(HISTOGRAMS) < 0.01] = 0.0  # empty histograms give NaN
    u = rng.random(REQUESTS)
    status = np.select([u < 0.002, u < 0.012, u < 0.042], [0, 503, 404], 200).astype(np.uint16)
    latency = rng.lognormal(3.0, 0.6, REQUESTS)
    latency[rng.random(REQUESTS) < 0.001] = np.nan
    t = np.arange(HISTORY, dtype=np.float64)
    history = 100 + 10 * np.sin(t / 1440 * 2 * np.pi) + 5 * rng.random(HISTORY)
    history[rng.random(HISTORY) < 0.0005] = np.nan
    BOUNDS.astype("<f8").tofile(directory / "hist_bounds.f64")
    counts.astype("<f8").tofile(directory / "hist_counts.f64")
    status.astype("<u2").tofile(directory / "req_status.u16")
    latency.astype("<f8").tofile(directory / "req_latency.f64")
    history.astype("<f8").tofile(directory / "history.f64")
    return counts, status, latency, history


# --- the Rust side ------------------------------------------------------------------------------

def build_rust(native=False):
    """Builds the example once; returns its path and the command that built it. With `native`, for
    this machine's CPU (`-C target-cpu=native`, as numpy picks its kernels for the CPU it runs on),
    in a target directory of its own so that the default build stays cached."""
    cmd = [os.environ.get("CARGO", "cargo"), "build", "--release", "--quiet", "-p", "mesh-observe",
           "--example", "bench_math", "--message-format=json-render-diagnostics"]
    env = dict(os.environ)
    shown = cmd
    if native:
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "bench-native"
        cmd = cmd + ["--target-dir", str(target)]
        env["RUSTFLAGS"] = (env.get("RUSTFLAGS", "") + " -C target-cpu=native").strip()
        shown = ["env", f"RUSTFLAGS={env['RUSTFLAGS']}"] + cmd
    run = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f"{shlex.join(shown)} failed with {run.returncode}")
    for line in run.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "bench_math" \
                and msg.get("executable"):
            return msg["executable"], shown
    sys.exit("cargo build did not report the bench_math executable")


class Rust:
    """The example as a child process: one command per line in, one JSON line out."""

    def __init__(self, exe, directory, window):
        self.cmd = [exe, str(directory), repr(CURRENT), str(window)]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        ready = self._read()
        if not ready.get("ready"):
            sys.exit(f"bench_math did not start: {ready}")

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"bench_math exited with {self.proc.wait()}")
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if "error" in answer:
            sys.exit(f"bench_math: {answer['error']}")
        return answer

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


# --- the run ------------------------------------------------------------------------------------

def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


def spread(values, scale=1.0, fmt="{:.2f}"):
    return "/".join(fmt.format(v * scale) for v in (min(values), statistics.median(values), max(values)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="paired runs per algorithm")
    parser.add_argument("--window", type=int, default=1000, help="requests per window of sli_windows")
    parser.add_argument("--batch-ms", type=float, default=50.0,
                        help="each timed sample is the mean of back-to-back runs filling at least this many ms "
                             "(0: single runs)")
    parser.add_argument("--cold", action="store_true",
                        help="no untimed run before each timed run: each side starts with the other's caches")
    parser.add_argument("--no-check", action="store_true", help="skip the result comparison")
    parser.add_argument("--native", action="store_true",
                        help="build the Rust side for this CPU (-C target-cpu=native); by default it is built "
                             "for baseline x86-64 (SSE2), while numpy picks AVX2/AVX-512 kernels at run time")
    args = parser.parse_args()
    if REQUESTS % args.window:
        sys.exit(f"--window must divide {REQUESTS}")

    load_before = os.getloadavg()
    exe, build_cmd = build_rust(native=args.native)
    with tempfile.TemporaryDirectory(prefix="mesh-bench-math-") as tmp:
        directory = Path(tmp)
        counts, status, latency, history = make_inputs(directory)
        rust = Rust(exe, directory, args.window)
        w = args.window
        # (name shown, inputs, numpy/scipy function, Rust algorithm)
        algorithms = [
            ("histogram_quantile", HISTOGRAMS * len(BOUNDS), lambda: histogram_quantile(Q, BOUNDS, counts),
             "histogram_quantile"),
            ("ewma", HISTORY, lambda: ewma(CURRENT, history), "ewma"),
            ("detect_anomalies", HISTORY, lambda: detect_anomalies(CURRENT, history), "detect_anomalies"),
            ("read both columns (floor)", REQUESTS, lambda: read_columns(status, latency), "read_columns"),
            ("sli 1M, np.percentile", REQUESTS, lambda: calculate_sli(status, latency), "calculate_sli_columns"),
            ("sli 1M, np.sort", REQUESTS, lambda: calculate_sli_sorted(status, latency), "calculate_sli_columns"),
            (f"sli {REQUESTS // w}x{w}, vectorised", REQUESTS, lambda: sli_windows(status, latency, w),
             "sli_windows_columns"),
            (f"sli {REQUESTS // w}x{w}, nanpercentile", REQUESTS,
             lambda: sli_windows_nanpercentile(status, latency, w), "sli_windows_columns"),
            (f"sli {REQUESTS // w}x{w}, loop", REQUESTS, lambda: sli_windows_loop(status, latency, w),
             "sli_windows_columns"),
            ("sli 1M records, np.sort", REQUESTS, lambda: calculate_sli_sorted(status, latency), "calculate_sli"),
            (f"sli {REQUESTS // w}x{w} records, vect.", REQUESTS, lambda: sli_windows(status, latency, w),
             "sli_windows"),
        ]
        times = {name: ([], []) for name, *_ in algorithms}  # (numpy seconds, rust seconds)
        results = {}
        answers = {}
        gc.disable()  # as timeit does; the Rust side has no collector either
        batches = {}  # name -> (numpy runs per sample, rust runs per sample)
        try:
            for name, _, f, alg in algorithms:  # warm-up, not counted; it also sizes the batches
                start = time.perf_counter()
                results[name] = f()
                py_once = time.perf_counter() - start
                answers[alg] = rust.ask(f"run {alg}")
                batches[name] = (batch_size(py_once, args), batch_size(answers[alg]["seconds"], args))
            for rep in range(args.reps):
                for name, _, f, alg in algorithms:
                    for side in (("numpy", "rust") if rep % 2 == 0 else ("rust", "numpy")):
                        if side == "numpy":
                            if not args.cold:
                                f()
                            runs = batches[name][0]
                            start = time.perf_counter()
                            for _ in range(runs):
                                f()
                            times[name][0].append((time.perf_counter() - start) / runs)
                        else:
                            if not args.cold:
                                rust.ask(f"run {alg}")
                            times[name][1].append(rust.ask(f"run {alg} {batches[name][1]}")["seconds"])
        finally:
            gc.enable()

        problems = [] if args.no_check else check(rust, directory, results, answers)
        rust.close()
    load_after = os.getloadavg()

    print(f"command: {shlex.join([sys.executable] + sys.argv)}")
    print(f"built:   {shlex.join(build_cmd)}")
    print(f"rust:    {shlex.join(rust.cmd[:1])} <inputs> {shlex.join(rust.cmd[2:])} (commands on stdin)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"load averages (1/5/15 min): before {fmt_load(load_before)}, after {fmt_load(load_after)}")
    print(f"{args.reps} paired samples per algorithm, interleaved, "
          + ("cold: single runs, no untimed run before a timed one" if args.cold else
             "warm: each after an untimed run, " +
             (f"the mean of back-to-back runs filling >= {args.batch_ms:g} ms (runs: numpy x rust)"
              if args.batch_ms > 0 else "single runs"))
          + "; min/median/max")
    print(f"{'algorithm':<30} {'inputs':>9} {'runs':>7} {'rust ms':>20} {'numpy ms':>22} {'numpy/rust':>20}")
    for name, inputs, _, _ in algorithms:
        py, rs = times[name]
        ratios = [p / r for p, r in zip(py, rs)]
        runs = "{}x{}".format(*batches[name])
        print(f"{name:<30} {inputs:>9} {runs:>7} {spread(rs, 1e3):>20} {spread(py, 1e3):>22} "
              f"{spread(ratios, fmt='{:.1f}'):>19}x")
    print("results " + ("not checked" if args.no_check else
                        "agree (quantiles bit for bit)" if not problems else "DIFFER"))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


def batch_size(once_seconds, args):
    """Back-to-back runs per timed sample: enough to fill `--batch-ms`, at most 1000."""
    if args.cold or args.batch_ms <= 0 or once_seconds <= 0:
        return 1
    return max(1, min(1000, math.ceil(args.batch_ms / 1e3 / once_seconds)))


def fmt_load(load):
    return "/".join(f"{v:.2f}" for v in load)


def check(rust, directory, results, answers):
    problems = []
    rust.ask("write histogram_quantile")
    rust_q = np.fromfile(directory / "quantiles_rust.f64", dtype="<f8")
    py_q = results["histogram_quantile"]
    same = (rust_q.view(np.uint64) == py_q.view(np.uint64)) | (np.isnan(rust_q) & np.isnan(py_q))
    if not same.all():
        i = int(np.argmin(same))
        problems.append(f"histogram_quantile differs in {int((~same).sum())} rows, e.g. row {i}: "
                        f"rust {rust_q[i]!r} numpy {py_q[i]!r}")
    r, p = answers["ewma"], results["ewma"]
    for key in ("mean", "variance", "score"):
        if not close(r[key], float(p[key])):
            problems.append(f"ewma {key}: rust {r[key]!r} numpy {p[key]!r}")
    for alg in ("calculate_sli", "calculate_sli_columns"):
        r = answers[alg]
        for name in ("sli 1M, np.percentile", "sli 1M, np.sort"):
            for key in ("error_rate", "p50", "p90", "p99"):
                if not close(r[key], float(results[name][key])):
                    problems.append(f"{alg} vs {name} {key}: rust {r[key]!r} numpy {results[name][key]!r}")
    r, p = answers["read_columns"], results["read both columns (floor)"]
    if r["errors"] != p["errors"] or not (r["sum"] is None and math.isnan(p["sum"]) or close(r["sum"], p["sum"])):
        problems.append(f"read_columns: rust {r!r} numpy {p!r}")
    r = answers["detect_anomalies"]
    for key in ("robust_score", "ewma_score"):
        if not close(r[key], float(results["detect_anomalies"][key]), rel=1e-6):
            problems.append(f"detect_anomalies {key}: rust {r[key]!r} numpy {results['detect_anomalies'][key]!r}")
    for alg in ("sli_windows", "sli_windows_columns"):
        rust.ask(f"run {alg}")
        rust.ask("write sli_windows")
        rust_w = np.fromfile(directory / "sli_windows_rust.f64", dtype="<f8").reshape(-1, 4)
        for name in [n for n in results if n.startswith("sli ") and "x" in n.split(",")[0]]:
            py_w = results[name]
            ok = np.isclose(rust_w, py_w, rtol=1e-9, atol=0) | (np.isnan(rust_w) & np.isnan(py_w))
            if rust_w.shape != py_w.shape or not ok.all():
                i = int(np.argmin(ok.all(axis=1))) if rust_w.shape == py_w.shape else 0
                problems.append(f"{alg} vs {name} differs, e.g. window {i}: rust {rust_w[i]!r} numpy {py_w[i]!r}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
