#!/usr/bin/env bash
# The main job on an example: install `provision`, start the example app (a Postgres, a Redis,
# a web and a worker) with `provision start`, send it a request, and check what it prints.
#
#   examples/quickstart.sh
#
# On a fresh machine it first installs and starts Docker (Debian's docker.io) when missing.
# No image registry is reachable on our CI machines, so there it also builds the database
# images locally from Debian packages (tests/images/build.sh); on a laptop with a registry,
# provision simply pulls them.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
# The web process's port (the example's default, 8000, may be taken).
export SHOP_PORT="${SHOP_PORT:-8000}"
say() { printf '\n==> %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  say "starting Docker"
  bash tests/support/ensure-docker.sh
fi
if ! docker image inspect redis:7 >/dev/null 2>&1 && ! timeout 20 docker pull -q redis:7 >/dev/null 2>&1; then
  say "no registry reachable: building the database images locally"
  bash tests/images/build.sh
fi

if ! command -v provision >/dev/null 2>&1; then
  say "installing provision (cargo install --locked --path .)"
  cargo install --locked --path .
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
cd examples/shop

say "provision doctor"
provision doctor --local
say "provision up (= provision --local)"
provision up
say "provision run --service web -- python3 smoke.py"
provision run --service web -- python3 smoke.py

say "provision start (for a few seconds): databases, then web and worker, prefixed"
log=$(mktemp)
provision start >"$log" 2>&1 &
pid=$!
wait_for() { # wait_for PATTERN: bounded wait for a line in the output of `start`
  for _ in $(seq 300); do
    grep -q "$1" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2; echo "quickstart: no line matching '$1'" >&2; kill -INT "$pid" 2>/dev/null || true; exit 1
}
wait_for '^web    | web: listening'
python3 -c "import sys, urllib.request as u; print(u.urlopen(f'http://127.0.0.1:{sys.argv[1]}/quickstart').read().decode().strip())" "$SHOP_PORT"
wait_for '^worker | worker: processed job .* (/quickstart), .*; ledger: '
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
cat "$log"; rm -f "$log"
[ "$rc" = 130 ] || { echo "quickstart: start exited $rc after Ctrl-C, expected 130" >&2; exit 1; }

say "provision status"
provision status
say "done; the databases keep running (and their data); stop them with: provision -f examples/shop/compose.yaml down"
