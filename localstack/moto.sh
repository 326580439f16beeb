#!/usr/bin/env bash
# Local AWS emulator for provision's tests: moto's server (RDS, ElastiCache,
# EC2, Secrets Manager, ...) behind the AWS rules layer (aws_rules.py: the AWS
# rules moto skips), on LocalStack's port, so one set of settings serves both.
# See localstack/README.md.
#
#   eval "$(localstack/moto.sh start)"   # install if needed, start, print settings
#   localstack/moto.sh env               # print the settings only
#   localstack/moto.sh status            # exit 0 if a moto server answers
#   localstack/moto.sh stop              # stop the server this script started
#
# Only the `export` lines go to stdout; all progress and errors go to stderr.
#
# Environment:
#   MOTO_PORT            port the tests use on 127.0.0.1 (default 4566): the AWS rules layer
#                        (localstack/aws_rules.py), which forwards to moto
#   MOTO_BACKEND_PORT    moto's own port (default MOTO_PORT + 1)
#   AWS_RULES            1 (default): moto behind the rules layer; 0: moto alone on MOTO_PORT
#   PROVISION_MOTO_HOME  virtualenv, pidfile and log dir (default /var/cache/provision-moto)
#   MOTO_START_TIMEOUT   seconds to wait for the server to answer (default 30)
#   PYTHON               interpreter used to create the virtualenv (default python3)
set -euo pipefail

MOTO_VERSION="5.2.5"
HOST="127.0.0.1"
PORT="${MOTO_PORT:-4566}"
HOME_DIR="${PROVISION_MOTO_HOME:-/var/cache/provision-moto}"
VENV="$HOME_DIR/venv"
# The AWS rules layer (aws_rules.py) listens on PORT and forwards to moto on BACKEND_PORT;
# AWS_RULES=0 puts moto on PORT directly (no rules: only to look at moto's own behaviour).
RULES="${AWS_RULES:-1}"
if [ "$RULES" = 1 ]; then
    BACKEND_PORT="${MOTO_BACKEND_PORT:-$((PORT + 1))}"
else
    BACKEND_PORT="$PORT"
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
PIDFILE="$HOME_DIR/moto-$BACKEND_PORT.pid"
LOGFILE="$HOME_DIR/moto-$BACKEND_PORT.log"
RULES_PIDFILE="$HOME_DIR/rules-$PORT.pid"
RULES_LOGFILE="$HOME_DIR/rules-$PORT.log"
# The hash of the aws_rules.py the running layer was started from: a changed file (a new
# checkout, a new rule) restarts it, so tests never meet yesterday's rules.
RULES_HASHFILE="$HOME_DIR/rules-$PORT.sha256"
rules_hash() { sha256sum "$HERE/aws_rules.py" | cut -d' ' -f1; }
LOCKFILE="$HOME_DIR/lock"
TIMEOUT="${MOTO_START_TIMEOUT:-30}"
PYTHON="${PYTHON:-python3}"
URL="http://$HOST:$PORT"
BACKEND_URL="http://$HOST:$BACKEND_PORT"

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

# HTTP status of GET $1 on the server ("000" if nothing answers); $2 another base URL.
http_code() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -m 2 -w '%{http_code}' "${2:-$URL}$1" 2>/dev/null || true
    else
        "$PYTHON" - "${2:-$URL}$1" <<'PY' 2>/dev/null || echo 000
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
# The AWS rules layer answers on the public port.
rules_answer() { [ "$(http_code /_rules/health)" = 200 ]; }
# moto answers on its own (backend) port.
backend_answers() { [ "$(http_code /moto-api/ "$BACKEND_URL")" = 200 ]; }

# PID from pidfile $1 if that process is alive and its command line has $2.
pid_from() {
    [ -f "$1" ] || return 1
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2" || return 1
    fi
    echo "$pid"
}
# The moto server's and the rules layer's PIDs, when this script started them.
our_pid() { pid_from "$PIDFILE" moto_server; }
rules_pid() { pid_from "$RULES_PIDFILE" aws_rules.py; }

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

# Starts one detached server: $1 name, $2 pidfile, $3 log, $4 port, rest the command. The
# launched shell writes its own PID (setsid may fork) and then execs the server, so the pidfile
# holds the server's PID; setsid gives it its own session, so it outlives this shell and a
# Ctrl-C in it. Waits until `$answers` (a function name in $ANSWERS) succeeds.
launch() {
    local name="$1" pidfile="$2" logfile="$3" answers="$4" pid
    shift 4
    log "starting $name (log: $logfile)"
    : >"$logfile"
    rm -f "$pidfile"
    # shellcheck disable=SC2016  # expanded by the launched shell
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' launch "$pidfile" "$@" \
        </dev/null >>"$logfile" 2>&1 9>&- &
    local _
    for _ in $(seq 1 50); do
        [ -s "$pidfile" ] && break
        sleep 0.1
    done
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "$name did not start (no PID in $pidfile); log: $(tail -n 20 "$logfile")"
    local deadline=$((SECONDS + TIMEOUT))
    until "$answers"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name (PID $pid) exited; last log lines:"
            tail -n 30 "$logfile" >&2 || true
            rm -f "$pidfile"
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$name (PID $pid) did not answer within ${TIMEOUT}s; last log lines:"
            tail -n 30 "$logfile" >&2 || true
            stop_pid "$pid"
            rm -f "$pidfile"
            exit 1
        fi
        sleep 0.2
    done
    log "$name ready (PID $pid)"
}

cmd_start() {
    mkdir -p "$HOME_DIR"
    # Serialise concurrent starts (parallel test binaries, several shells).
    exec 9>"$LOCKFILE"
    if command -v flock >/dev/null 2>&1; then
        flock -w 300 9 || die "timed out waiting for lock $LOCKFILE"
    fi

    if [ "$RULES" = 1 ]; then
        if rules_answer && [ "$(cat "$RULES_HASHFILE" 2>/dev/null)" != "$(rules_hash)" ]; then
            local stale
            if stale="$(pid_from "$RULES_PIDFILE" aws_rules.py)"; then
                log "the AWS rules layer (PID $stale) runs an older aws_rules.py; restarting it"
                stop_pid "$stale"
                rm -f "$RULES_PIDFILE"
            fi
        fi
        if rules_answer && moto_answers; then
            log "moto + AWS rules layer already answer on $URL"
            print_env
            return
        fi
        # A moto server straight on the public port (this script's layout before the rules
        # layer): replace it when this script started it.
        local old
        if ! rules_answer && moto_answers; then
            if old="$(pid_from "$HOME_DIR/moto-$PORT.pid" moto_server)"; then
                log "moto_server PID $old answers on $URL without the rules layer; restarting it behind the rules layer"
                stop_pid "$old"
                rm -f "$HOME_DIR/moto-$PORT.pid"
            else
                die "a moto server without the AWS rules layer answers on $URL and was not started by this script; stop it or set MOTO_PORT"
            fi
        fi
    elif moto_answers; then
        log "moto server already answers on $URL"
        print_env
        return
    fi
    if port_answers; then
        die "something else answers on $URL; stop it or set MOTO_PORT"
    fi

    ensure_venv

    if ! backend_answers; then
        local pid
        if pid="$(our_pid)"; then
            log "stale server PID $pid from $PIDFILE does not answer; stopping it"
            stop_pid "$pid"
        fi
        # MOTO_ACCOUNT_ID in the server's environment would override the x-moto-account-id
        # header, so it is removed.
        launch "moto_server on $BACKEND_URL" "$PIDFILE" "$LOGFILE" backend_answers \
            env -u MOTO_ACCOUNT_ID "$VENV/bin/moto_server" -H "$HOST" -p "$BACKEND_PORT"
    fi
    if [ "$RULES" = 1 ]; then
        rules_hash >"$RULES_HASHFILE"
        launch "AWS rules layer on $URL -> $BACKEND_URL" "$RULES_PIDFILE" "$RULES_LOGFILE" rules_answer \
            env AWS_RULES_HOST="$HOST" AWS_RULES_PORT="$PORT" AWS_RULES_BACKEND="$BACKEND_URL" \
            "$VENV/bin/python" "$HERE/aws_rules.py"
    fi
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
    if pid="$(rules_pid)"; then
        log "stopping the AWS rules layer PID $pid"
        stop_pid "$pid"
    fi
    rm -f "$RULES_PIDFILE"
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
        local pid rules="without the AWS rules layer"
        rules_answer && rules="behind the AWS rules layer"
        if pid="$(our_pid)"; then
            log "moto server answers on $URL $rules (PID $pid)"
        else
            log "moto server answers on $URL $rules (not started by this script)"
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
