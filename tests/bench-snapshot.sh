#!/usr/bin/env bash
# Benchmark: `provision snapshot save` and `snapshot restore` of a 1 GB Postgres database, on
# Docker and natively, against a plain `cp -a` of the same data directory in the same run
# (the floor any copy-based snapshot has on a filesystem without reflinks).
#
#   tests/bench-snapshot.sh            # prints markdown tables of medians (min..max) and ratios
#
# Makes the data with the server itself: a table of ~1.7 M rows of 300 bytes (about 1 GB on
# disk, checked with `du`). Says whether the filesystem under the data clones files
# (`cp --reflink=always` of a test file). Needs Docker with the stand-in images and the native
# Postgres (tests/support/ensure-all.sh). BENCH_RUNS (default 5) runs of each; BENCH_ROWS
# overrides the row count. Uses project names bench-snap-*, ports 45532-45534; removes
# everything it created on exit. Not part of the test suite.
#
# BENCH_RUNTIMES (default `docker native native-xfs`): `native-xfs` is the native runtime
# with $PROVISION_HOME (data directory and snapshots) on an XFS file system made with
# reflinks (`mkfs.xfs -m reflink=1`, a loop-mounted image under the work directory; needs
# root and xfsprogs, which it installs), so that `cp --reflink=auto` clones instead of copying:
# the case the "under 2 s" goal is about.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
runs="${BENCH_RUNS:-5}"
rows="${BENCH_ROWS:-1700000}"
command -v hyperfine >/dev/null || bash tests/support/apt-install.sh hyperfine
# BENCH_BIN: an already built binary (the copy dominates; a debug build is as fast here).
if [ -n "${BENCH_BIN:-}" ]; then bin=$BENCH_BIN; else cargo build --locked -q; bin="$CARGO_TARGET_DIR/debug/provision"; fi
work=$(mktemp -d /var/tmp/bench-snapshot.XXXXXX)
export PROVISION_HOME="$work/home"
mkdir -p "$work/proj" "$PROVISION_HOME"
chmod 755 "$work" "$PROVISION_HOME"
home_of() { if [ "$1" = native-xfs ]; then echo "$work/xfs/home"; else echo "$work/home"; fi; }
cleanup() {
  for kind in ${BENCH_RUNTIMES:-docker native native-xfs}; do
    (export PROVISION_HOME; PROVISION_HOME=$(home_of "$kind"); cd "$work/proj" || exit 0
     "$bin" -q -p "bench-snap-$kind" --runtime "${kind%-xfs}" snapshot rm db b 2>/dev/null || true
     "$bin" -q -p "bench-snap-$kind" --runtime "${kind%-xfs}" down --volumes --yes 2>/dev/null || true)
  done
  if mountpoint -q "$work/xfs" 2>/dev/null; then umount "$work/xfs"; fi
  rm -rf "$work"
}
trap cleanup EXIT

reflinks() {
  local dir=$1
  head -c 65536 /dev/urandom > "$dir/.reflink-probe"
  if cp --reflink=always "$dir/.reflink-probe" "$dir/.reflink-probe2" 2>/dev/null; then echo yes; else echo no; fi
  rm -f "$dir/.reflink-probe" "$dir/.reflink-probe2"
}

for kind in ${BENCH_RUNTIMES:-docker native native-xfs}; do
  rt=${kind%-xfs}
  case $kind in docker) port=45532 ;; native) port=45533 ;; *) port=45534 ;; esac
  if [ "$kind" = native-xfs ]; then
    command -v mkfs.xfs >/dev/null || bash tests/support/apt-install.sh xfsprogs
    mkdir -p "$work/xfs"
    truncate -s 8G "$work/xfs.img"
    mkfs.xfs -q -m reflink=1 "$work/xfs.img"
    mount -o loop "$work/xfs.img" "$work/xfs"
    mkdir -p "$work/xfs/home"
    chmod 755 "$work/xfs" "$work/xfs/home"
  fi
  export PROVISION_HOME; PROVISION_HOME=$(home_of "$kind")
  p=(-q -p "bench-snap-$kind" --runtime "$rt")
  cat > "$work/proj/compose.yaml" <<EOM
services:
  db:
    image: postgres:15
    x-provision: {local: {port: $port}}
EOM
  (cd "$work/proj" && "$bin" "${p[@]}" up)
  url=$(cd "$work/proj" && "$bin" "${p[@]}" env --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["DB_URL"])')
  psql "$url" -X -q -c "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 9) AS pad FROM generate_series(1, $rows) g" >/dev/null
  psql "$url" -X -q -c "CHECKPOINT" >/dev/null
  if [ "$rt" = docker ]; then
    data=$(docker volume inspect -f '{{.Mountpoint}}' "bench-snap-docker-db-data")
  else
    data="$PROVISION_HOME/bench-snap-$kind/db/data"
  fi
  size=$(du -sh "$data" | cut -f1)
  echo "## $kind: data $size in $data; reflinks on this filesystem: $(reflinks "$(dirname "$data")")"
  cd "$work/proj"
  hyperfine --runs "$runs" --export-markdown "$work/$kind-save.md" --export-json "$work/$kind-save.json" \
    --prepare "$bin ${p[*]} snapshot rm db b 2>/dev/null || true" \
    "$bin ${p[*]} snapshot save db b" \
    --prepare "rm -rf $work/copy" \
    "cp -a $data $work/copy" 2>&1 | grep -v '^$' || true
  hyperfine --runs "$runs" --export-markdown "$work/$kind-restore.md" --export-json "$work/$kind-restore.json" \
    "$bin ${p[*]} snapshot restore db b" 2>&1 | grep -v '^$' || true
  cd - >/dev/null
  cat "$work/$kind-save.md" "$work/$kind-restore.md"
  # Medians (BENCHMARKS.md records medians): hyperfine's tables show means.
  python3 - "$work/$kind-save.json" "$work/$kind-restore.json" <<'EOP'
import json, sys
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        print(f"median {r['median']:.2f} s (min {r['min']:.2f} .. max {r['max']:.2f}): {r['command']}")
EOP
  rm -rf "$work/copy"
  (cd "$work/proj" && "$bin" "${p[@]}" snapshot rm db b || true)
  psql "$url" -X -q -c "SELECT count(*) FROM big" 2>/dev/null || true
done
