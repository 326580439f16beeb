#!/usr/bin/env bash
# Everything the test suite needs on this machine, from nothing (fresh Debian bookworm,
# root, network to the Debian mirror) to ready:
#   - Docker Engine running (ensure-docker.sh),
#   - stand-in images postgres:15 redis:7 mariadb:10.11 memcached:1.6 (../images/build.sh),
#   - native servers and clients installed but not running (ensure-native.sh),
#   - the client libraries of the client matrix (ensure-clients.sh: PyPI, npm, Ruby, JDBC).
#
#   tests/support/ensure-all.sh
#
# Missing Debian packages of all three are installed in one apt-get run. When the
# image base must be debootstrapped (fresh machine), that runs in the background
# while apt installs the rest. A fast no-op (well under a second) when everything is
# in place. Called by .ci/run before `cargo nextest run`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
images=$(cd "$here/../images" && pwd)
say() { printf 'ensure-all: %s\n' "$*" >&2; }

t0=$SECONDS
mapfile -t pkgs < <("$here/ensure-docker.sh" --list-packages; "$here/ensure-native.sh" --list-packages; "$here/ensure-clients.sh" --list-packages)
mapfile -t image_pkgs < <("$images/build.sh" --list-packages)

# Docker already installed: start it now, so that build.sh can tell whether its
# images are current.
if command -v dockerd >/dev/null 2>&1; then "$here/ensure-docker.sh"; fi

bg=
if "$images/build.sh" --needs-rootfs; then
  "$here/apt-install.sh" "${image_pkgs[@]}"
  say "debootstrapping the image base in the background while apt installs the rest"
  "$images/build.sh" --rootfs-only &
  bg=$!
  apt_rc=0
  "$here/apt-install.sh" "${pkgs[@]}" || apt_rc=$?
  wait "$bg" || { say "ERROR: building the image base failed"; exit 1; }
  [ "$apt_rc" = 0 ] || exit "$apt_rc"
else
  "$here/apt-install.sh" "${pkgs[@]}" "${image_pkgs[@]}"
fi

"$here/ensure-docker.sh"
"$here/ensure-native.sh"
"$here/ensure-clients.sh"
"$images/build.sh"
if (( SECONDS - t0 > 2 )); then say "ready in $((SECONDS - t0))s"; fi
