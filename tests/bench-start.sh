#!/usr/bin/env bash
# Benchmark: `provision start`'s own overhead, from the databases being ready to every app
# process spawned, for 5 app services; against a baseline measured in the same run: a shell
# script spawning the same 5 programs in the background.
#
#   tests/bench-start.sh          # prints a markdown table of medians and the ratio
#
# provision's side is read from its `PROVISION_TRACE_TIMINGS` marks on stderr ("databases
# ready", "5 apps spawned"): the window covers reading the links, building each app's
# environment, spawning the 5 processes in their own groups and wiring their output. The
# apps are `true` (list form: no shell), so each run ends at once and `start` stops.
# The baseline takes $EPOCHREALTIME in bash before and after starting 5 `true` with `&`.
# One native Redis on a free port is the database (brought up once, before measuring).
# BENCH_RUNS (default 30) runs of each. Needs the release binary (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
runs="${BENCH_RUNS:-30}"
bin="$CARGO_TARGET_DIR/release/provision"
[ -x "$bin" ] || cargo build --release --locked -q

work=$(mktemp -d)
# The servers run as their own users (as root): they must reach their directory.
chmod 755 "$work"
export PROVISION_HOME="$work/home"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/compose.yaml" <<EOF
services:
$(for i in 1 2 3 4 5; do printf '  app%s: {command: ["true"], links: [cache]}\n' "$i"; done)
  cache:
    image: redis:7
    ports: ["$port:6379"]
EOF
p() { "$bin" -f "$work/compose.yaml" -p bench-start --runtime native "$@"; }
cleanup() { p down --volumes --yes -q >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
p up -q

ours=()
for _ in $(seq "$runs"); do
  trace=$(PROVISION_TRACE_TIMINGS=1 p start -q 2>&1 >/dev/null | grep '^provision-trace:' || true)
  ready=$(awk '/databases ready/ { print $2 }' <<<"$trace")
  spawned=$(awk '/apps spawned/ { print $2 }' <<<"$trace")
  [ -n "$ready" ] && [ -n "$spawned" ] || { echo "no trace marks in: $trace" >&2; exit 1; }
  ours+=("$(python3 -c "print($spawned - $ready)")")
done

base=()
for _ in $(seq "$runs"); do
  base+=("$(bash -c 't0=$EPOCHREALTIME; for i in 1 2 3 4 5; do /usr/bin/true & done; t1=$EPOCHREALTIME; wait; echo "$t0,$t1"')")
done

python3 - "$runs" "${ours[*]}" "${base[*]}" <<'EOF'
import statistics, sys
runs = sys.argv[1]
ours = [float(x) for x in sys.argv[2].split()]
base = [(float(b) - float(a)) * 1000 for a, b in (x.split(",") for x in sys.argv[3].split())]
mo, mb = statistics.median(ours), statistics.median(base)
print(f"| measure ({runs} runs each) | median | min .. max | ratio to baseline |")
print("|---|---|---|---|")
print(f"| provision start: databases ready -> 5 apps spawned | {mo:.2f} ms | {min(ours):.2f} .. {max(ours):.2f} ms | {mo / mb:.1f} |")
print(f"| bash: 5 x `/usr/bin/true &` (baseline) | {mb:.2f} ms | {min(base):.2f} .. {max(base):.2f} ms | 1.0 |")
EOF
