#!/usr/bin/env bash
# Local AWS emulator for provision's tests: moto's server (RDS, ElastiCache,
# EC2, Secrets Manager, ...) on LocalStack's port, so one set of settings
# serves both. See localstack/README.md.
#
#   eval "$(localstack/moto.sh start)"   # install if needed, start, print settings
#   localstack/moto.sh env               # print the settings only
#   localstack/moto.sh status            # exit 0 if a moto server answers
#   localstack/moto.sh stop              # stop the server this script started
#
# Only the `export` lines go to stdout; all progress and errors go to stderr.
#
# Environment:
#   MOTO_PORT            port to bind on 127.0.0.1 (default 4566)
#   PROVISION_MOTO_HOME  virtualenv, pidfile and log dir (default /var/cache/provision-moto)
#   MOTO_START_TIMEOUT   seconds to wait for the server to answer (default 30)
#   PYTHON               interpreter used to create the virtualenv (default python3)
set -euo pipefail

MOTO_VERSION="5.2.5"
HOST="127.0.0.1"
PORT="${MOTO_PORT:-4566}"
HOME_DIR="${PROVISION_MOTO_HOME:-/var/cache/provision-moto}"
VENV="$HOME_DIR/venv"
PIDFILE="$HOME_DIR/moto-$PORT.pid"
LOGFILE="$HOME_DIR/moto-$PORT.log"
LOCKFILE="$HOME_DIR/lock"
TIMEOUT="${MOTO_START_TIMEOUT:-30}"
PYTHON="${PYTHON:-python3}"
URL="http://$HOST:$PORT"

log() { printf 'moto.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

print_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=$URL
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
EOF
}

# HTTP status of GET $1 on the server ("000" if nothing answers).
http_code() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL$1" 2>/dev/null || true
    else
        "$PYTHON" - "$URL$1" <<'PY' 2>/dev/null || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
    fi
}

# A moto server answers on the port (moto's own API answers 200).
moto_answers() { [ "$(http_code /moto-api/)" = 200 ]; }
# Anything at all answers HTTP on the port.
port_answers() { [ "$(http_code /)" != 000 ]; }

# PID from the pidfile if that process is alive and is a moto server.
our_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server || return 1
    fi
    echo "$pid"
}

installed_version() {
    "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m
import flask, flask_cors  # the [server] extra
print(m.version("moto"))
PY
}

ensure_venv() {
    local have
    have="$(installed_version || true)"
    if [ "$have" = "$MOTO_VERSION" ] && [ -x "$VENV/bin/moto_server" ]; then
        log "moto $MOTO_VERSION already installed in $VENV"
        return
    fi
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        log "creating virtualenv $VENV"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
    fi
    log "installing moto[server]==$MOTO_VERSION (found: ${have:-none})"
    "$VENV/bin/python" -m pip install --quiet "moto[server]==$MOTO_VERSION" >&2 \
        || die "pip install moto[server]==$MOTO_VERSION failed"
    have="$(installed_version || true)"
    [ "$have" = "$MOTO_VERSION" ] || die "after install, moto version is '${have:-none}', want $MOTO_VERSION"
}

cmd_start() {
    mkdir -p "$HOME_DIR"
    # Serialise concurrent starts (parallel test binaries, several shells).
    exec 9>"$LOCKFILE"
    if command -v flock >/dev/null 2>&1; then
        flock -w 300 9 || die "timed out waiting for lock $LOCKFILE"
    fi

    if moto_answers; then
        log "moto server already answers on $URL"
        print_env
        return
    fi
    if port_answers; then
        die "something other than moto answers on $URL (no /moto-api/); stop it or set MOTO_PORT"
    fi

    ensure_venv

    local pid
    if pid="$(our_pid)"; then
        log "stale server PID $pid from $PIDFILE does not answer; stopping it"
        stop_pid "$pid"
    fi
    rm -f "$PIDFILE"

    log "starting moto_server on $URL (log: $LOGFILE)"
    : >"$LOGFILE"
    # setsid: own session, so it outlives this shell and a Ctrl-C in it. The
    # launched shell writes its own PID (setsid may fork) and then execs the
    # server, so the pidfile holds the server's PID. MOTO_ACCOUNT_ID in the
    # server's environment would override the x-moto-account-id header, so
    # it is removed.
    # shellcheck disable=SC2016  # expanded by the launched shell
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' moto-launch "$PIDFILE" \
        env -u MOTO_ACCOUNT_ID "$VENV/bin/moto_server" -H "$HOST" -p "$PORT" \
        </dev/null >>"$LOGFILE" 2>&1 9>&- &
    local _
    for _ in $(seq 1 50); do
        [ -s "$PIDFILE" ] && break
        sleep 0.1
    done
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "moto_server did not start (no PID in $PIDFILE); log: $(tail -n 20 "$LOGFILE")"

    local deadline=$((SECONDS + TIMEOUT))
    until moto_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "moto_server (PID $pid) exited; last log lines:"
            tail -n 30 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "moto_server (PID $pid) did not answer on $URL within ${TIMEOUT}s; last log lines:"
            tail -n 30 "$LOGFILE" >&2 || true
            stop_pid "$pid"
            rm -f "$PIDFILE"
            exit 1
        fi
        sleep 0.2
    done
    log "moto server ready on $URL (PID $pid)"
    print_env
}

stop_pid() {
    local pid="$1" _
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "PID $pid ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
    local pid
    if pid="$(our_pid)"; then
        log "stopping moto_server PID $pid"
        stop_pid "$pid"
        rm -f "$PIDFILE"
    else
        rm -f "$PIDFILE"
        if moto_answers; then
            log "a moto server answers on $URL but was not started by this script ($PIDFILE); left alone"
        else
            log "no moto server running on $URL"
        fi
    fi
}

cmd_status() {
    if moto_answers; then
        local pid
        if pid="$(our_pid)"; then
            log "moto server answers on $URL (PID $pid)"
        else
            log "moto server answers on $URL (not started by this script)"
        fi
        return 0
    fi
    log "no moto server answers on $URL"
    return 3
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    env) print_env ;;
    status) cmd_status ;;
    -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2 ;;
    *) die "unknown subcommand '$1' (start|stop|env|status)" ;;
esac
