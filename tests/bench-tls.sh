#!/usr/bin/env bash
# Benchmark: what local TLS (`x-provision.local.tls: true`) costs, against the same databases
# without it, measured in the same run:
#
#   (a) cold `provision up` of postgres + redis + mariadb on Docker, until all three answer a
#       query over the address the app uses (TLS handshake and verification included), with
#       and without TLS (containers, volumes and the project's TLS directory removed before
#       every run: the TLS runs make the project's CA and three server certificates each time);
#   (b) the same on the native runtime;
#   (c) warm `provision env`, with and without TLS (the TLS one also checks the CA bundles for
#       SSL_CERT_FILE / NODE_EXTRA_CA_CERTS).
#
#   tests/bench-tls.sh          # prints a markdown table of medians (min..max) and ratios
#
# Needs what tests/support/ensure-all.sh installs. BENCH_RUNS (default 8) sets the cold runs,
# BENCH_WARM_RUNS (default 30) the warm ones. Uses 127.0.0.1 ports NN432, NN379, NN306 with NN
# 27 and 29 (Docker, without and with TLS) and 28 and 30 (native), project names bench-tls-*,
# and a PROVISION_HOME of its own; removes everything it created on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
runs="${BENCH_RUNS:-8}"
warm_runs="${BENCH_WARM_RUNS:-30}"

command -v hyperfine >/dev/null || bash tests/support/apt-install.sh hyperfine
for image in postgres:15 redis:7 mariadb:10.11; do
  docker image inspect "$image" >/dev/null 2>&1 \
    || { echo "bench-tls: image $image missing; run tests/support/ensure-all.sh" >&2; exit 1; }
done
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/provision"

work=$(mktemp -d /tmp/bench-tls.XXXXXX)
chmod 755 "$work"   # native servers run as their own accounts and must reach their data
export PROVISION_HOME="$work/home"
cleanup() {
  for p in plain tls; do
    for rt in docker native; do
      [ -d "$work/$rt-$p" ] && (cd "$work/$rt-$p" && "$bin" -p "bench-tls-$rt-$p" --runtime "$rt" down --volumes --yes -q >/dev/null 2>&1 || true)
    done
  done
  rm -rf "$work"
}
trap cleanup EXIT

manifest() { # tls base-port-prefix
  cat <<EOF
x-provision: {local: {tls: $1}}
services:
  web: {command: app, links: [pg, kv, my]}
  pg: {image: 'postgres:15', ports: ['${2}432:5432']}
  kv: {image: 'redis:7', ports: ['${2}379:6379']}
  my: {image: 'mariadb:10.11', ports: ['${2}306:3306']}
EOF
}
declare -A PORTS=([docker-plain]=27 [docker-tls]=29 [native-plain]=28 [native-tls]=30)
for rt in docker native; do
  for p in plain tls; do
    prefix=${PORTS[$rt-$p]}
    mkdir -p "$work/$rt-$p"
    manifest "$([ "$p" = tls ] && echo true || echo false)" "$prefix" >"$work/$rt-$p/compose.yaml"
  done
done

cold() { # runtime
  local rt=$1 out="$work/cold-$1.json"
  hyperfine --runs "$runs" --export-json "$out" -N --style none \
    --prepare "sh -c 'cd $work/$rt-plain && $bin -p bench-tls-$rt-plain --runtime $rt down --volumes --yes -q >/dev/null 2>&1; true'" \
    --command-name "$rt plain" "sh -c 'cd $work/$rt-plain && $bin -p bench-tls-$rt-plain --runtime $rt up -q'" \
    --prepare "sh -c 'cd $work/$rt-tls && $bin -p bench-tls-$rt-tls --runtime $rt down --volumes --yes -q >/dev/null 2>&1; rm -rf $PROVISION_HOME/bench-tls-$rt-tls/tls; true'" \
    --command-name "$rt tls" "sh -c 'cd $work/$rt-tls && $bin -p bench-tls-$rt-tls --runtime $rt up -q'" >&2
}
warm() {
  local out="$work/warm.json"
  (cd "$work/docker-plain" && "$bin" -p bench-tls-docker-plain --runtime docker up -q)
  (cd "$work/docker-tls" && "$bin" -p bench-tls-docker-tls --runtime docker up -q)
  hyperfine --runs "$warm_runs" --warmup 3 --export-json "$out" -N --style none \
    --command-name "env plain" "sh -c 'cd $work/docker-plain && $bin -p bench-tls-docker-plain --runtime docker env --service web >/dev/null'" \
    --command-name "env tls" "sh -c 'cd $work/docker-tls && $bin -p bench-tls-docker-tls --runtime docker env --service web >/dev/null'" >&2
}
cold docker
cold native
warm

python3 - "$work" <<'EOF'
import json, sys, os
work = sys.argv[1]
rows = []
for name in ("cold-docker", "cold-native", "warm"):
    data = json.load(open(os.path.join(work, name + ".json")))["results"]
    plain, tls = data[0], data[1]
    def cell(r):
        return f"{r['median']*1000:.0f} ms ({r['min']*1000:.0f}..{r['max']*1000:.0f})"
    rows.append((name, cell(plain), cell(tls), tls["median"] / plain["median"]))
print("| benchmark | without TLS | with TLS | ratio (TLS / plain, medians) |")
print("|---|---|---|---|")
for name, p, t, r in rows:
    print(f"| {name} | {p} | {t} | {r:.2f}x |")
EOF
