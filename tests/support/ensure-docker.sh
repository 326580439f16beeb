#!/usr/bin/env bash
# Make sure a Docker Engine answers on this machine.
#
#   tests/support/ensure-docker.sh
#   tests/support/ensure-docker.sh --list-packages   (docker.io if dockerd is missing)
#
# - If `docker info` works already: exit 0 at once.
# - Else installs Debian's docker.io when dockerd is missing, starts dockerd in the
#   background (no systemd needed; log: /var/log/provision-dockerd.log, pidfile:
#   /run/provision-dockerd.pid) and waits until `docker info` answers.
#
# Environment:
#   PROVISION_DOCKERD_TIMEOUT  seconds to wait for dockerd (default 60)
# Needs root for the install/start part. Safe to run concurrently (flock).
set -euo pipefail

LOG=/var/log/provision-dockerd.log
PIDFILE=/run/provision-dockerd.pid
LOCK=/run/lock/provision-ensure-docker.lock
TIMEOUT=${PROVISION_DOCKERD_TIMEOUT:-60}

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

# Packages this script would install (for ensure-all.sh's single apt-get run).
if [ "${1:-}" = --list-packages ]; then
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || echo docker.io
  # The engine-discovery tests forward the engine's socket over TCP and TLS (socat, stunnel,
  # certificates from openssl)...
  command -v socat >/dev/null 2>&1 || echo socat
  command -v stunnel >/dev/null 2>&1 || echo stunnel4
  # ... and over ssh:// to a local OpenSSH server.
  command -v ssh >/dev/null 2>&1 || echo openssh-client
  [ -x /usr/sbin/sshd ] || echo openssh-server
  # ... and Podman's Docker-compatible socket.
  command -v podman >/dev/null 2>&1 || echo podman
  command -v openssl >/dev/null 2>&1 || echo openssl
  # A real registry (distribution) for the tests of pulling images.
  command -v docker-registry >/dev/null 2>&1 || echo docker-registry
  exit 0
fi

die() { say "ERROR: $*"; exit 1; }

docker_ok() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }

docker_ok && exit 0

case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
  unix:///var/run/docker.sock|unix:///run/docker.sock) ;;
  *) die "docker does not answer at DOCKER_HOST=$DOCKER_HOST; this script only starts a local dockerd (unset DOCKER_HOST)" ;;
esac
[ "$(id -u)" = 0 ] || die "docker does not answer and starting it needs root (run as root or start dockerd yourself)"

mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock 9
# Someone else may have started it while we waited for the lock.
docker_ok && exit 0

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  say "dockerd not found: installing Debian's docker.io"
  "$(dirname "$0")/apt-install.sh" docker.io
  hash -r
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
fi

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# The end of the log since this script last started dockerd.
log_tail() {
  local from
  from=$(grep -n '^==== .* starting dockerd ====$' "$LOG" 2>/dev/null | tail -n1 | cut -d: -f1)
  tail -n "+${from:-1}" "$LOG" 2>/dev/null | tail -n 40 >&2 || true
}

pid=""
if [ -s "$PIDFILE" ] && alive "$(cat "$PIDFILE")" \
   && grep -qa dockerd "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; then
  pid=$(cat "$PIDFILE")
  say "dockerd (pid $pid) is already running; waiting for it to answer"
elif [ -S /var/run/docker.sock ] && [ -s /var/run/docker.pid ] && alive "$(cat /var/run/docker.pid)"; then
  pid=$(cat /var/run/docker.pid)
  say "a dockerd (pid $pid) not started by this script is running; waiting for it to answer"
else
  # A stale pidfile from a killed dockerd makes the next one refuse to start.
  if [ -s /var/run/docker.pid ] && ! alive "$(cat /var/run/docker.pid)"; then
    rm -f /var/run/docker.pid
  fi
  mkdir -p "$(dirname "$LOG")"
  printf '\n==== %s ensure-docker.sh starting dockerd ====\n' "$(date -Is)" >>"$LOG"
  say "starting dockerd (log: $LOG)"
  # setsid+nohup: survives the caller's shell and session; no stdin, no TTY. Other
  # inherited descriptors are closed: dockerd must not keep our callers' lock files.
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid nohup dockerd >>"$LOG" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
fi

start=$SECONDS
while ! docker_ok; do
  if ! alive "$pid" && [ -s /var/run/docker.pid ] && alive "$(cat /var/run/docker.pid)"; then
    pid=$(cat /var/run/docker.pid)   # setsid forked: follow dockerd's own pidfile
    echo "$pid" >"$PIDFILE"
  fi
  if ! alive "$pid"; then
    say "dockerd (pid $pid) exited. Last lines of $LOG:"
    log_tail
    rm -f "$PIDFILE"
    die "dockerd did not start"
  fi
  if (( SECONDS - start >= TIMEOUT )); then
    say "dockerd (pid $pid) did not answer within ${TIMEOUT}s. Last lines of $LOG:"
    log_tail
    die "dockerd not ready"
  fi
  sleep 0.2
done
say "docker is ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), $((SECONDS - start))s)"
