#!/usr/bin/env bash
# Benchmark: `provision dump` and `provision restore` of a Postgres database of about 1 GB,
# against the same tools run by hand on the same server, in the same run (interleaved pairs,
# medians, ratio; goal >= 0.95x the baseline's throughput), on Docker and on native servers.
#
#   tests/bench-data.sh                 # both runtimes
#   BENCH_RUNTIMES=native tests/bench-data.sh
#
# The database: `pgbench -i -s $BENCH_SCALE` (default 70: pgbench_accounts' 7 M rows, about
# 1.05 GB with its index; `pg_database_size` is printed). The baselines are what a person
# types for the same result:
#   docker  dump:    docker exec -e PGPASSWORD CONTAINER pg_dump --format=custom --no-owner ... > FILE
#           restore: docker exec -i -e PGPASSWORD CONTAINER pg_restore --no-owner --clean --if-exists
#                    --single-transaction --exit-on-error ... < FILE
#   native  dump:    pg_dump --format=custom --no-owner -h 127.0.0.1 -p PORT ... > FILE
#           restore: pg_restore (the same flags) -h 127.0.0.1 -p PORT ... < FILE
# (provision runs exactly these tools with these flags: `data:` in templates/postgres.yml.)
# BENCH_RUNS (default 5) interleaved pairs (tests/support/bench-pairs.py), after one warm-up
# of each. The binary: BENCH_BIN, default the debug build in CARGO_TARGET_DIR (a release
# build only makes provision's side faster).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
runs="${BENCH_RUNS:-5}"
scale="${BENCH_SCALE:-70}"
bin="${BENCH_BIN:-$CARGO_TARGET_DIR/debug/provision}"
[ -x "$bin" ] || cargo build --locked -q
PGBIN=/usr/lib/postgresql/15/bin

work=$(mktemp -d /var/tmp/provision-bench-data.XXXXXX)
chmod 755 "$work"
export PROVISION_HOME="$work/home"
results="$work/results.md"
projects=()
cleanup() {
  for p in "${projects[@]}"; do
    "$bin" -f "$work/$p.yaml" -p "$p" --runtime "${p#bench-data-}" down --volumes --yes -q >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

for runtime in ${BENCH_RUNTIMES:-docker native}; do
  name="bench-data-$runtime"
  projects+=("$name")
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$work/$name.yaml" <<EOF
services:
  app: {build: ., links: [db]}
  db:
    image: 'postgres:15'
    x-provision: {local: {port: $port}}
EOF
  p() { "$bin" -f "$work/$name.yaml" -p "$name" --runtime "$runtime" "$@"; }
  p up -q
  eval "$(p env --service app --format shell)"
  export PGPASSWORD="$DB_PASSWORD"
  echo "== $runtime: pgbench -i -s $scale" >&2
  "$PGBIN/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$DB_PORT" -U "$DB_USERNAME" "${DB_PATH#/}" >&2
  size=$(psql "$DB_URL" -X -tAc "SELECT pg_size_pretty(pg_database_size(current_database()))")
  echo "== $runtime: database size $size" >&2
  flags=(--no-owner -h 127.0.0.1 -U "$DB_USERNAME" -d "${DB_PATH#/}")
  rflags=(--no-owner --clean --if-exists --single-transaction --exit-on-error "${flags[@]}")
  if [ "$runtime" = docker ]; then
    c="$name-db"
    base_dump="docker exec -e PGPASSWORD $c pg_dump --format=custom ${flags[*]} -p 5432 > $work/base.pgdump"
    base_restore="docker exec -i -e PGPASSWORD $c pg_restore ${rflags[*]} -p 5432 < $work/base.pgdump"
  else
    base_dump="$PGBIN/pg_dump --format=custom ${flags[*]} -p $DB_PORT > $work/base.pgdump"
    base_restore="$PGBIN/pg_restore ${rflags[*]} -p $DB_PORT < $work/base.pgdump"
  fi
  ours="$bin -q -f $work/$name.yaml -p $name --runtime $runtime"
  python3 tests/support/bench-pairs.py "$runs" "$work/dump-$runtime.json" "dump ($runtime)" \
    "$ours dump db -o $work/ours.pgdump" "$base_dump"
  python3 tests/support/bench-pairs.py "$runs" "$work/restore-$runtime.json" "restore ($runtime)" \
    "$ours restore db $work/ours.pgdump" "$base_restore"
  bytes=$(stat -c %s "$work/ours.pgdump")
  echo "$runtime $size $bytes" >>"$work/sizes"
done

python3 - "$work" <<'EOF'
import json, os, statistics, sys
work = sys.argv[1]
sizes = {l.split()[0]: (l.split()[1] + " " + l.split()[2], int(l.split()[3])) for l in open(os.path.join(work, "sizes"))}
print("| runtime | operation | provision (median s) | by hand (median s) | ratio of medians | median pair ratio (min..max) | dump file |")
print("|---|---|---|---|---|---|---|")
for runtime, (size, dump_bytes) in sizes.items():
    for op in ("dump", "restore"):
        pairs = json.load(open(os.path.join(work, f"{op}-{runtime}.json")))
        ours = statistics.median(a for a, _ in pairs)
        base = statistics.median(b for _, b in pairs)
        ratios = [b / a for a, b in pairs]
        print(f"| {runtime} ({size} database) | {op} | {ours:.2f} | {base:.2f} | {base / ours:.3f}x | {statistics.median(ratios):.3f}x ({min(ratios):.2f}..{max(ratios):.2f}) | {dump_bytes / 1e6:.0f} MB |")
EOF
