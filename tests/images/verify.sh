#!/usr/bin/env bash
# Smoke-test the stand-in images built by build.sh with real clients over published
# ports: psql, mariadb, redis-cli, and a raw TCP "version" for memcached.
#
#   tests/images/verify.sh
#
# Needs the images (build.sh) and the clients (tests/support/ensure-native.sh).
# Uses host ports 127.0.0.1:25432/23306/26379/21211 (override with VERIFY_PORT_BASE,
# default 2, i.e. 2xxxx). Containers and volumes are named provision-verify-* and
# removed at the end (also when a check fails).
set -euo pipefail

say() { printf 'verify-images: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
ok() { say "ok: $*"; }

B=${VERIFY_PORT_BASE:-2}
PG=${B}5432 MY=${B}3306 RD=${B}6379 MC=${B}1211
CONTAINERS=(provision-verify-pg provision-verify-pg-nopw provision-verify-pg-trust
            provision-verify-my provision-verify-my-nopw provision-verify-my-mysql
            provision-verify-rd provision-verify-rd-default provision-verify-mc)
VOLUMES=(provision-verify-pg provision-verify-my provision-verify-rd)

cleanup() {
  docker rm -f -v "${CONTAINERS[@]}" >/dev/null 2>&1 || true
  docker volume rm "${VOLUMES[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

for c in psql mariadb redis-cli; do
  command -v "$c" >/dev/null || fail "$c not found (run tests/support/ensure-native.sh)"
done

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then return 1; fi
    sleep 0.1
  done
}

# expect_exit1 NAME PATTERN IMAGE: the container must exit 1 and log PATTERN.
expect_exit1() {
  local name=$1 pattern=$2; shift 2
  docker run --name "$name" "$@" >/dev/null 2>&1 || true
  local code
  code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
  [ "$code" = 1 ] || fail "$name: exit code $code, want 1"
  docker logs "$name" 2>&1 | grep "$pattern" >/dev/null || { docker logs "$name" >&2; fail "$name: no '$pattern' in the logs"; }
  ok "$name exits 1 with: $pattern"
}

# runs_as NAME USER: the container's main process runs as USER (of the container).
runs_as() {
  local pid
  pid=$(docker inspect -f '{{.State.Pid}}' "$1")
  [ "$(stat -c %u "/proc/$pid")" = "$(awk -F: -v u="$2" '$1 == u { print $3 }' "/proc/$pid/root/etc/passwd")" ]
}

# stop_clean NAME: docker stop must end the server cleanly and quickly.
stop_clean() {
  local t0=$SECONDS code
  docker stop -t 20 "$1" >/dev/null
  code=$(docker inspect -f '{{.State.ExitCode}}' "$1")
  [ "$code" = 0 ] || { docker logs --tail 20 "$1" >&2; fail "$1: exit code $code after docker stop"; }
  ok "$1 stopped cleanly (exit 0) in $((SECONDS - t0))s"
}

t_start=$SECONDS

# ---------------------------------------------------------------- postgres:15
pg() { PGPASSWORD=$1 PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$PG" -U "$2" -d "$3" -X -v ON_ERROR_STOP=1 -tA "${@:4}"; }
expect_exit1 provision-verify-pg-nopw 'superuser password is not specified' postgres:15

t0=$SECONDS
docker run -d --name provision-verify-pg -p "127.0.0.1:$PG:5432" \
  -e POSTGRES_PASSWORD='s3cr et' -e POSTGRES_USER=app -e POSTGRES_DB=appdb \
  -v provision-verify-pg:/var/lib/postgresql/data postgres:15 -c max_connections=42 >/dev/null
wait_for 60 pg 's3cr et' app appdb -c 'select 1' || { docker logs provision-verify-pg >&2; fail "postgres not ready"; }
ok "postgres: password login over TCP as app into appdb, $((SECONDS - t0))s after docker run"
[ "$(pg 's3cr et' app appdb -c 'show max_connections')" = 42 ] || fail "postgres: -c max_connections=42 not applied"
ok "postgres: '-c key=val' arguments reach the server"
[ "$(pg 's3cr et' app appdb -c 'show password_encryption')" = scram-sha-256 ] || fail "postgres: not scram-sha-256"
[ "$(pg 's3cr et' app appdb -c "select rolpassword like 'SCRAM-SHA-256%' from pg_authid where rolname='app'")" = t ] \
  || fail "postgres: password not stored as SCRAM"
! pg wrong app appdb -c 'select 1' 2>/dev/null || fail "postgres: wrong password accepted"
ok "postgres: scram-sha-256, wrong password refused"
runs_as provision-verify-pg postgres || fail "postgres: PID 1 does not run as postgres"
pg 's3cr et' app appdb -c "create table keep (v text); insert into keep values ('survives')" >/dev/null
stop_clean provision-verify-pg
docker rm -v provision-verify-pg >/dev/null
docker run -d --name provision-verify-pg -p "127.0.0.1:$PG:5432" \
  -e POSTGRES_PASSWORD=other -e POSTGRES_USER=app -e POSTGRES_DB=appdb \
  -v provision-verify-pg:/var/lib/postgresql/data postgres:15 >/dev/null
wait_for 60 pg 's3cr et' app appdb -c 'select 1' || { docker logs provision-verify-pg >&2; fail "postgres (2nd) not ready"; }
[ "$(pg 's3cr et' app appdb -c 'select v from keep')" = survives ] || fail "postgres: data lost"
docker logs provision-verify-pg 2>&1 | grep 'Skipping initialization' >/dev/null || fail "postgres: re-initialised an existing volume"
ok "postgres: data survives docker rm; no re-init (old password still valid)"
docker rm -f -v provision-verify-pg >/dev/null

docker run -d --name provision-verify-pg-trust -p "127.0.0.1:$PG:5432" -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15 >/dev/null
wait_for 60 pg anything postgres postgres -c 'select 1' || { docker logs provision-verify-pg-trust >&2; fail "postgres trust not ready"; }
ok "postgres: POSTGRES_HOST_AUTH_METHOD=trust without a password"
docker rm -f -v provision-verify-pg-trust >/dev/null

# -------------------------------------------------------------- mariadb:10.11
my() { mariadb --protocol=tcp -h 127.0.0.1 -P "$MY" --connect-timeout=3 -N -B "$@"; }
expect_exit1 provision-verify-my-nopw 'password option is not specified' mariadb:10.11

t0=$SECONDS
docker run -d --name provision-verify-my -p "127.0.0.1:$MY:3306" \
  -e MARIADB_ROOT_PASSWORD=rootpw -e MARIADB_DATABASE=app_db -e MARIADB_USER=app -e MARIADB_PASSWORD="app'pw" \
  -v provision-verify-my:/var/lib/mysql mariadb:10.11 --max-connections=77 >/dev/null
wait_for 60 my -uapp "-papp'pw" app_db -e 'select 1' || { docker logs provision-verify-my >&2; fail "mariadb not ready"; }
ok "mariadb: login as app into app_db over TCP, $((SECONDS - t0))s after docker run"
[ "$(my -uapp "-papp'pw" app_db -e 'select @@max_connections')" = 77 ] || fail "mariadb: --max-connections not applied"
ok "mariadb: '--key=val' arguments reach mariadbd"
my -uapp "-papp'pw" app_db -e "create table keep (v text); insert into keep values ('survives')"
! my -uapp "-papp'pw" mysql -e 'select 1' 2>/dev/null || fail "mariadb: app can use the mysql schema"
! my -uapp -pwrong app_db -e 'select 1' 2>/dev/null || fail "mariadb: wrong password accepted"
[ "$(my -uroot -prootpw -e 'select count(*) from mysql.time_zone_name')" -gt 0 ] || fail "mariadb: no time zones"
runs_as provision-verify-my mysql || fail "mariadb: PID 1 not as mysql"
ok "mariadb: root over TCP, grants limited to app_db, wrong password refused, tz loaded"
stop_clean provision-verify-my
docker rm -v provision-verify-my >/dev/null
docker run -d --name provision-verify-my -p "127.0.0.1:$MY:3306" -e MARIADB_ROOT_PASSWORD=other \
  -v provision-verify-my:/var/lib/mysql mariadb:10.11 >/dev/null
wait_for 60 my -uapp "-papp'pw" app_db -e 'select 1' || { docker logs provision-verify-my >&2; fail "mariadb (2nd) not ready"; }
[ "$(my -uapp "-papp'pw" app_db -e 'select v from keep')" = survives ] || fail "mariadb: data lost"
! docker logs provision-verify-my 2>&1 | grep 'Initializing database files' >/dev/null || fail "mariadb: re-initialised"
ok "mariadb: data survives docker rm; no re-init"
docker rm -f -v provision-verify-my >/dev/null

docker run -d --name provision-verify-my-mysql -p "127.0.0.1:$MY:3306" \
  -e MYSQL_ROOT_PASSWORD=r00t -e MYSQL_DATABASE=legacy -e MYSQL_USER=old -e MYSQL_PASSWORD=oldpw mariadb:10.11 >/dev/null
wait_for 60 my -uold -poldpw legacy -e 'select 1' || { docker logs provision-verify-my-mysql >&2; fail "mariadb MYSQL_* not ready"; }
my -uroot -pr00t -e 'select 1' >/dev/null || fail "mariadb: MYSQL_ROOT_PASSWORD"
ok "mariadb: MYSQL_* variables"
docker rm -f -v provision-verify-my-mysql >/dev/null

# -------------------------------------------------------------------- redis:7
rc() { timeout 5 redis-cli -h 127.0.0.1 -p "$RD" --no-auth-warning "$@"; }
t0=$SECONDS
docker run -d --name provision-verify-rd -p "127.0.0.1:$RD:6379" -v provision-verify-rd:/data \
  redis:7 --requirepass 'pa ss' --appendonly yes >/dev/null
wait_for 30 sh -c "timeout 5 redis-cli -h 127.0.0.1 -p $RD --no-auth-warning -a 'pa ss' ping | grep -qx PONG" \
  || { docker logs provision-verify-rd >&2; fail "redis not ready"; }
ok "redis: AUTH with --requirepass, $((SECONDS - t0))s after docker run"
rc ping 2>&1 | grep NOAUTH >/dev/null || fail "redis: no password accepted"
rc -a wrong ping 2>&1 | grep -E 'WRONGPASS|invalid' >/dev/null || fail "redis: wrong password accepted"
[ "$(rc -a 'pa ss' config get appendonly | tail -n1)" = yes ] || fail "redis: --appendonly yes not applied"
[ "$(rc -a 'pa ss' config get dir | tail -n1)" = /data ] || fail "redis: dir is not /data"
[ "$(rc -a 'pa ss' config get protected-mode | tail -n1)" = no ] || fail "redis: protected mode on"
runs_as provision-verify-rd redis || fail "redis: PID 1 not as redis"
rc -a 'pa ss' set keep survives >/dev/null
ok "redis: NOAUTH/WRONGPASS, appendonly, dir /data, protected-mode no, runs as redis"
stop_clean provision-verify-rd
docker rm -v provision-verify-rd >/dev/null
docker run -d --name provision-verify-rd -p "127.0.0.1:$RD:6379" -v provision-verify-rd:/data \
  redis:7 --requirepass 'pa ss' --appendonly yes >/dev/null
wait_for 30 sh -c "timeout 5 redis-cli -h 127.0.0.1 -p $RD --no-auth-warning -a 'pa ss' get keep | grep -qx survives" \
  || { docker logs provision-verify-rd >&2; fail "redis: data lost"; }
ok "redis: data survives docker rm"
docker rm -f -v provision-verify-rd >/dev/null
docker run -d --name provision-verify-rd-default -p "127.0.0.1:$RD:6379" redis:7 >/dev/null
wait_for 30 sh -c "timeout 5 redis-cli -h 127.0.0.1 -p $RD ping | grep -qx PONG" \
  || { docker logs provision-verify-rd-default >&2; fail "redis (default CMD): no PONG from the host"; }
ok "redis: default CMD answers from the host without password (protected mode off)"
docker rm -f -v provision-verify-rd-default >/dev/null

# -------------------------------------------------------------- memcached:1.6
# mc COMMANDS: send memcached text COMMANDS (then "quit"), print the reply.
mc() {
  local out
  exec 5<>"/dev/tcp/127.0.0.1/$MC" || return 1
  printf '%b' "$1quit\r\n" >&5
  out=$(timeout 3 cat <&5) || true
  exec 5<&- 5>&-
  printf '%s\n' "$out" | tr -d '\r'
}
t0=$SECONDS
docker run -d --name provision-verify-mc -p "127.0.0.1:$MC:11211" memcached:1.6 -m 32 >/dev/null
wait_for 30 bash -c "$(declare -f mc); MC=$MC; mc 'version\r\n' | grep -q '^VERSION 1.6'" \
  || { docker logs provision-verify-mc >&2; fail "memcached not ready"; }
ok "memcached: $(mc 'version\r\n'), $((SECONDS - t0))s after docker run"
[ "$(mc 'set k 0 0 8\r\nsurvives\r\n')" = STORED ] || fail "memcached: set"
[ "$(mc 'get k\r\n' | sed -n 2p)" = survives ] || fail "memcached: get"
mc 'stats settings\r\n' | grep -x 'STAT maxbytes 33554432' >/dev/null || fail "memcached: -m 32 not applied"
runs_as provision-verify-mc memcache || fail "memcached: not user memcache"
ok "memcached: set/get, '-m 32' passed through, runs as memcache"
stop_clean provision-verify-mc

say "all checks passed in $((SECONDS - t_start))s"
