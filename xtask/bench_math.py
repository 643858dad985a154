#!/usr/bin/env python3
"""mesh-observe's math against numpy/scipy, side by side.

Generates seeded inputs (1 000 000 numbers per algorithm), runs numpy/scipy implementations of the
same algorithms as `crates/mesh-observe`, runs the Rust ones through
`cargo run --release -p mesh-observe --example bench_math`, checks the results agree (the
histogram quantiles bit for bit), and prints the timings and the numpy/Rust ratio (> 1 means Rust
is faster).

    python3 xtask/bench_math.py [--reps N] [--no-check]

Needs numpy and scipy (`pip install numpy scipy`).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import numpy as np
    from scipy.signal import lfilter
except ImportError as e:  # pragma: no cover - an environment problem, said plainly
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


def best(reps, f):
    times = []
    out = None
    for _ in range(reps):
        start = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - start)
    return min(times), out


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(abs(a), abs(b), 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="runs per algorithm; the best counts")
    parser.add_argument("--no-check", action="store_true", help="skip the result comparison")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mesh-bench-math-") as tmp:
        directory = Path(tmp)
        counts, status, latency, history = make_inputs(directory)

        py = {}
        py["histogram_quantile"], py_q = best(args.reps, lambda: histogram_quantile(Q, BOUNDS, counts))
        py["calculate_sli"], py_sli = best(args.reps, lambda: calculate_sli(status, latency))
        py["detect_anomalies"], py_an = best(args.reps, lambda: detect_anomalies(CURRENT, history))

        cmd = ["cargo", "run", "--release", "--quiet", "-p", "mesh-observe", "--example", "bench_math", "--",
               str(directory), repr(CURRENT), str(args.reps)]
        print("running:", " ".join(cmd), file=sys.stderr)
        run = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        if run.returncode != 0:
            sys.exit(f"cargo run failed with {run.returncode}")
        rust = json.loads(run.stdout.strip().splitlines()[-1])

        problems = []
        if not args.no_check:
            rust_q = np.fromfile(directory / "quantiles_rust.f64", dtype="<f8")
            same = (rust_q.view(np.uint64) == py_q.view(np.uint64)) | (np.isnan(rust_q) & np.isnan(py_q))
            if not same.all():
                i = int(np.argmin(same))
                problems.append(f"histogram_quantile differs in {int((~same).sum())} rows, e.g. row {i}: "
                                f"rust {rust_q[i]!r} numpy {py_q[i]!r}")
            r = rust["calculate_sli"]
            for key in ("error_rate", "p50", "p90", "p99"):
                if not close(r[key], float(py_sli[key])):
                    problems.append(f"calculate_sli {key}: rust {r[key]!r} numpy {py_sli[key]!r}")
            r = rust["detect_anomalies"]
            for key in ("robust_score", "ewma_score"):
                if not close(r[key], float(py_an[key]), rel=1e-6):
                    problems.append(f"detect_anomalies {key}: rust {r[key]!r} numpy {py_an[key]!r}")

    print(f"{'algorithm':<20} {'inputs':>9} {'rust ms':>9} {'numpy ms':>9} {'numpy/rust':>11}")
    for name in ("histogram_quantile", "calculate_sli", "detect_anomalies"):
        r, p = rust[name]["seconds"], py[name]
        print(f"{name:<20} {rust[name]['inputs']:>9} {r * 1e3:>9.2f} {p * 1e3:>9.2f} {p / r:>10.1f}x")
    print(f"numpy {np.__version__}; results "
          + ("not checked" if args.no_check else "agree (quantiles bit for bit)" if not problems else "DIFFER"))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
