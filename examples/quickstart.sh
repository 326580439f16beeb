#!/usr/bin/env bash
# The main job on an example: start the example app's databases with `provision`, hand their
# link variables to the app, and check that it works.
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
say() { printf '\n==> %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  say "starting Docker"
  bash tests/support/ensure-docker.sh
fi
if ! docker image inspect redis:7 >/dev/null 2>&1 && ! timeout 20 docker pull -q redis:7 >/dev/null 2>&1; then
  say "no registry reachable: building the database images locally"
  bash tests/images/build.sh
fi

say "building provision"
cargo build --locked -q
provision() { "$CARGO_TARGET_DIR/debug/provision" -f examples/shop/compose.yaml "$@"; }

say "provision doctor"
provision doctor --local
say "provision up (= provision --local)"
provision up
say "provision run --service web -- python3 examples/shop/smoke.py"
provision run --service web -- python3 examples/shop/smoke.py
say "provision status"
provision status
say "done; stop with: $CARGO_TARGET_DIR/debug/provision -f examples/shop/compose.yaml down"
