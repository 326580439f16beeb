#!/usr/bin/env bash
# Stop Debian's system instances of postgres, redis, mariadb and memcached if they run,
# so that ports 5432, 6379, 3306 and 11211 are free for the tests.
#
#   tests/support/stop-system-servers.sh
#
# Only processes named in the Debian services' PID files are stopped (SIGTERM, then
# wait up to 30 s; SIGKILL after that). Servers that tests start themselves, with their
# own data directories and PID files, are not touched. Fast no-op when none runs.
set -euo pipefail

say() { printf 'stop-system-servers: %s\n' "$*" >&2; }

# pidfile-glob  expected-process-name-regex
targets=(
  "/run/postgresql/*.pid|^postgres"
  "/run/redis/*.pid|^redis-server"
  "/run/mysqld/*.pid|^(mariadbd|mysqld)"
  "/run/memcached/*.pid|^memcached"
)

shopt -s nullglob
for t in "${targets[@]}"; do
  glob=${t%%|*} re=${t#*|}
  for f in $glob; do
    pid=$(head -n1 "$f" 2>/dev/null | tr -dc 0-9)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    [[ $comm =~ $re ]] || continue
    say "stopping system $comm (pid $pid, from $f) to keep its port free"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid still alive after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
done
