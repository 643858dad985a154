#!/usr/bin/env bash
# Render benchmarks of two checkouts, side by side in one run: each round runs every benchmark on
# both (the order alternates per round, so drift of a shared machine falls on both), then prints
# min/median/max of criterion's point estimates per side and the after/before ratio of medians.
#
#   bash xtask/bench_compare.sh BEFORE_CHECKOUT AFTER_CHECKOUT [ROUNDS]
#
# Each checkout must have its bench binaries built: cargo bench --no-run -p mesh-istio -p mesh-linkerd -p mesh-consul
set -euo pipefail
before=$1 after=$2 rounds=${3:-3}
benches=(
  "render_10k|istio_phases_1k/plan$"
  "render_10k|istio_phases_1k/plan_render"
  "render_10k|istio_policy_set/one_thread/1000$"
  "plan_1k|linkerd_policy_set/1000$"
  "plan|plan\\+render 1000 splits"
)
bin() { ls -t "$1"/target/release/deps/"$2"-* | grep -v '\.d$' | head -1; }
to_ms() { awk -v v="$1" -v u="$2" 'BEGIN { f = (u=="s") ? 1000 : (u=="ms") ? 1 : (u=="µs"||u=="us") ? 0.001 : 0.000001; printf "%.3f", v*f }'; }
out=$(mktemp)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(before after); else order=(after before); fi
  for b in "${benches[@]}"; do
    name=${b%%|*} filter=${b#*|}
    for side in "${order[@]}"; do
      dir=$before; [ "$side" = after ] && dir=$after
      line=$("$(bin "$dir" "$name")" --bench --warm-up-time 1 --measurement-time 3 --noplot "$filter" 2>/dev/null | grep -m1 'time:' || true)
      read -r v u <<<"$(sed -E 's/.*\[[^ ]+ [^ ]+ ([0-9.]+) ([^ ]+) .*/\1 \2/' <<<"$line")"
      echo "$filter|$side|$(to_ms "$v" "$u")" >>"$out"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1])]
print(f"{'benchmark':<40} {'before ms (min/median/max)':>30} {'after ms (min/median/max)':>30} {'after/before':>12}")
for bench in dict.fromkeys(r[0] for r in rows):
    side = {s: sorted(float(r[2]) for r in rows if r[0] == bench and r[1] == s) for s in ("before", "after")}
    fmt = lambda v: f"{v[0]:.2f}/{statistics.median(v):.2f}/{v[-1]:.2f}"
    ratio = statistics.median(side["after"]) / statistics.median(side["before"])
    print(f"{bench:<40} {fmt(side['before']):>30} {fmt(side['after']):>30} {ratio:>11.3f}x")
PY
