#!/usr/bin/env bash
# Benchmark: bringing databases up locally, against baselines measured in the same run on the
# same stand-in images (tests/images) and native servers.
#
#   (a) cold `provision up` of postgres + redis + mariadb, until all three answer a query
#       (containers and volumes removed before every run);
#   (b) baseline: `docker-compose up -d` of the same images with equivalent env, volumes and
#       127.0.0.1 port bindings, then a poller running the real clients (psql `select 1`,
#       mariadb `select 1`, redis-cli `ping`) in parallel, 20 ms between tries, until all answer;
#   (c) each engine alone, cold, with provision;
#   (d) warm `provision up` (everything running) and (e) `provision env`;
#   (f) native runtime: cold `provision --runtime native up` of postgres alone, against
#       initdb + server start + `select 1` poll + CREATE DATABASE done by hand
#       (with `pg_ctl start -W` and a 20 ms psql poll, and with `pg_ctl start -w`).
#
#   tests/bench-local.sh        # prints markdown tables of medians (min..max) and ratios
#
# Needs Docker with the stand-in images and the native servers and clients: run
# tests/support/ensure-all.sh first. BENCH_RUNS (default 10) sets the runs of each cold
# benchmark, BENCH_WARM_RUNS (default 40) those of (d) and (e). Uses 127.0.0.1 ports
# 25432-25434, 26379-26380, 23306-23307, 35432, 36379, 33306, 45432-45433, and project
# names bench-*; removes everything it created on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
runs="${BENCH_RUNS:-10}"
warm_runs="${BENCH_WARM_RUNS:-40}"

command -v hyperfine >/dev/null || bash tests/support/apt-install.sh hyperfine
command -v docker-compose >/dev/null || bash tests/support/apt-install.sh docker-compose
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
for tool in docker psql mariadb redis-cli runuser python3 "$pgbin/initdb" "$pgbin/pg_ctl"; do
  command -v "$tool" >/dev/null || { echo "bench-local: $tool missing; run tests/support/ensure-all.sh" >&2; exit 1; }
done
for image in postgres:15 redis:7 mariadb:10.11; do
  docker image inspect "$image" >/dev/null 2>&1 \
    || { echo "bench-local: image $image missing; run tests/support/ensure-all.sh" >&2; exit 1; }
done
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/provision"

work=$(mktemp -d /tmp/bench-local.XXXXXX)
chmod 755 "$work" # the native servers run as their own users and must reach PROVISION_HOME
export PROVISION_HOME="$work/home"
mkdir -m 755 "$PROVISION_HOME"
pw=bench-Secret-42

# ---- manifests --------------------------------------------------------------------------------
manifest() { # FILE PROJECT [pg PORT] [redis PORT] [mariadb PORT]
  local file=$1 project=$2 links=() body=""
  shift 2
  while [ $# -gt 0 ]; do
    links+=("$1")
    case "$1" in
      pg) body+="  pg:\n    image: postgres:15\n    x-provision: {local: {port: $2}}\n" ;;
      redis) body+="  redis:\n    image: redis:7\n    x-provision: {local: {port: $2}}\n" ;;
      mariadb) body+="  mariadb:\n    image: mariadb:10.11\n    x-provision: {local: {port: $2}}\n" ;;
    esac
    shift 2
  done
  local IFS=,
  printf "x-provision: {project: %s}\nservices:\n  app:\n    image: busybox\n    links: [%s]\n%b" \
    "$project" "${links[*]}" "$body" >"$file"
}
manifest "$work/all.yaml" bench-all pg 25432 redis 26379 mariadb 23306
manifest "$work/pg.yaml" bench-pg pg 25433
manifest "$work/redis.yaml" bench-redis redis 26380
manifest "$work/mariadb.yaml" bench-mariadb mariadb 23307
manifest "$work/native.yaml" bench-native pg 45432

# The baseline: the same images, env, data volumes and port bindings as provision creates.
cat >"$work/compose.yaml" <<EOF
services:
  pg:
    image: postgres:15
    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: $pw, POSTGRES_DB: app}
    ports: ["127.0.0.1:35432:5432"]
    volumes: [pg-data:/var/lib/postgresql/data]
  redis:
    image: redis:7
    command: [redis-server, --requirepass, $pw, --appendonly, "yes"]
    ports: ["127.0.0.1:36379:6379"]
    volumes: [redis-data:/data]
  mariadb:
    image: mariadb:10.11
    environment: {MARIADB_ROOT_PASSWORD: $pw, MARIADB_DATABASE: app, MARIADB_USER: app, MARIADB_PASSWORD: $pw}
    ports: ["127.0.0.1:33306:3306"]
    volumes: [mariadb-data:/var/lib/mysql]
volumes: {pg-data: {}, redis-data: {}, mariadb-data: {}}
EOF

# The baseline's readiness poller: the real clients, in parallel, 20 ms between tries, bounded.
cat >"$work/poll.sh" <<EOF
#!/usr/bin/env bash
set -u
deadline=\$((SECONDS + 120))
export PGPASSWORD=$pw PGCONNECT_TIMEOUT=2 MYSQL_PWD=$pw
pg() { psql -w -X -h 127.0.0.1 -p 35432 -U app -d app -tAc 'select 1'; }
maria() { mariadb --connect-timeout=2 -h 127.0.0.1 -P 33306 -u app app -e 'select 1'; }
red() { [ "\$(redis-cli -h 127.0.0.1 -p 36379 -a $pw --no-auth-warning ping 2>/dev/null)" = PONG ]; }
until_ok() {
  until "\$1" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "poll: \$1 not ready in 120 s" >&2; return 1; }
    sleep 0.02
  done
}
until_ok pg & a=\$!
until_ok maria & b=\$!
until_ok red & c=\$!
wait \$a && wait \$b && wait \$c
EOF

# Native baseline: initdb, start, poll, CREATE DATABASE, select 1 in it: what provision does.
base="$work/native-base"
cat >"$work/native-base.sh" <<EOF
#!/usr/bin/env bash
# native-base.sh W|w: start with \`pg_ctl start -W\` and poll with psql every 20 ms, or
# with \`pg_ctl start -w\` (pg_ctl's own wait) and then query.
set -euo pipefail
mkdir -m 755 $base
mkdir -m 700 $base/data
mkdir -m 755 $base/run
printf '%s' $pw >$base/pw
chown -R postgres: $base
runuser -u postgres -- $pgbin/initdb -D $base/data -U app --pwfile=$base/pw \
  --auth=scram-sha-256 --encoding=UTF8 --no-instructions >/dev/null
runuser -u postgres -- $pgbin/pg_ctl -D $base/data -l $base/server.log -s \
  -o "-p 45433 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$base/run" start -\$1
export PGPASSWORD=$pw PGCONNECT_TIMEOUT=2
q() { psql -w -X -q -h 127.0.0.1 -p 45433 -U app -d "\$1" -tAc "\$2" >/dev/null 2>&1; }
deadline=\$((SECONDS + 60))
until q postgres 'select 1'; do
  (( SECONDS < deadline )) || { echo "native-base: not ready in 60 s" >&2; exit 1; }
  sleep 0.02
done
q postgres 'create database app'
q app 'select 1'
EOF
cat >"$work/native-base-reset.sh" <<EOF
#!/usr/bin/env bash
if [ -f $base/data/postmaster.pid ]; then
  runuser -u postgres -- $pgbin/pg_ctl -D $base/data -s -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf $base
EOF

# Removes every bench container, volume and server (each command is a fast no-op when absent).
cat >"$work/reset.sh" <<EOF
#!/usr/bin/env bash
for m in all pg redis mariadb; do $bin -q -f $work/\$m.yaml down --volumes --yes >/dev/null; done
docker-compose -p bench-compose -f $work/compose.yaml down -v --remove-orphans >/dev/null 2>&1
EOF
chmod +x "$work"/*.sh

cleanup() {
  set +e
  bash "$work/reset.sh"
  "$bin" -q --runtime native -f "$work/native.yaml" down --volumes --yes >/dev/null 2>&1
  bash "$work/native-base-reset.sh"
  rm -rf "$work"
}
trap cleanup EXIT
bash "$work/reset.sh"
bash "$work/native-base-reset.sh"

say() { printf '\nbench-local: %s\n' "$*" >&2; }

# ---- (a), (b), (c): cold, Docker ---------------------------------------------------------------
say "cold Docker runs ($runs each, every run from no containers and no volumes)"
hyperfine --warmup 1 --runs "$runs" --prepare "$work/reset.sh" --cleanup "$work/reset.sh" \
  --export-json "$work/cold.json" \
  -n "(a) provision up: postgres + redis + mariadb" "$bin -f $work/all.yaml up" \
  -n "(b) docker-compose up -d + poll (baseline)" \
  "docker-compose -p bench-compose -f $work/compose.yaml up -d && $work/poll.sh" \
  -n "(c) provision up: postgres alone" "$bin -f $work/pg.yaml up" \
  -n "(c) provision up: redis alone" "$bin -f $work/redis.yaml up" \
  -n "(c) provision up: mariadb alone" "$bin -f $work/mariadb.yaml up" >&2

# One more cold (a), to show where its time goes (provision's own progress lines).
"$work/reset.sh"
"$bin" -f "$work/all.yaml" up 2>"$work/phases-docker.txt" >/dev/null

# ---- (d), (e): warm ----------------------------------------------------------------------------
say "warm runs ($warm_runs each, everything running)"
hyperfine -N --warmup 3 --runs "$warm_runs" --export-json "$work/warm.json" \
  -n "(d) provision up, warm" "$bin -f $work/all.yaml up" \
  -n "(e) provision env" "$bin -f $work/all.yaml env" >&2
"$work/reset.sh"

# ---- (f): native postgres ----------------------------------------------------------------------
say "cold native postgres ($runs each)"
native_reset="$bin -q --runtime native -f $work/native.yaml down --volumes --yes"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/native.json" \
  --prepare "$native_reset" --prepare "$work/native-base-reset.sh" --prepare "$work/native-base-reset.sh" \
  -n "(f) provision --runtime native up: postgres" "$bin --runtime native -f $work/native.yaml up" \
  -n "(f) initdb + pg_ctl start -W + psql poll (baseline)" "$work/native-base.sh W" \
  -n "(f) initdb + pg_ctl start -w + psql (baseline)" "$work/native-base.sh w" >&2
$native_reset
"$bin" --runtime native -f "$work/native.yaml" up 2>"$work/phases-native.txt" >/dev/null
$native_reset
bash "$work/native-base-reset.sh"

# ---- summary -----------------------------------------------------------------------------------
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
res = {}
for f in ("cold", "warm", "native"):
    for r in json.load(open(f"{work}/{f}.json"))["results"]:
        res[r["command"]] = r

def ms(x):
    return f"{x * 1000:.0f} ms" if x >= 1 else f"{x * 1000:.1f} ms"

print("| benchmark | median | min .. max | runs |")
print("|---|---|---|---|")
for name, r in res.items():
    print(f"| {name} | {ms(r['median'])} | {ms(r['min'])} .. {ms(r['max'])} | {len(r['times'])} |")

med = {k: v["median"] for k, v in res.items()}
a = med["(a) provision up: postgres + redis + mariadb"]
b = med["(b) docker-compose up -d + poll (baseline)"]
singles = {k: v for k, v in med.items() if k.startswith("(c)")}
slowest_name, slowest = max(singles.items(), key=lambda kv: kv[1])
f = med["(f) provision --runtime native up: postgres"]
f_base_name, f_base = min(((k, v) for k, v in med.items() if k.startswith("(f)") and "baseline" in k),
                          key=lambda kv: kv[1])
rows = [
    ("(a) / (b)", a / b, 0.8, "x", "cold up vs docker-compose + poll"),
    ("(a) / slowest (c)", a / slowest, 1.3, "x", f"all three vs {slowest_name[4:]}"),
    ("(d) warm up", med["(d) provision up, warm"] * 1000, 150, "ms", ""),
    ("(e) env", med["(e) provision env"] * 1000, 50, "ms", ""),
    ("(f) / baseline", f / f_base, 1.2, "x", f"vs {f_base_name[4:]}"),
]
print()
print("| target | measured | limit | result | note |")
print("|---|---|---|---|---|")
for name, value, limit, unit, note in rows:
    ok = value <= limit
    verdict = "met" if ok else f"MISSED by {value / limit - 1:.0%}"
    shown = f"{value:.2f} x" if unit == "x" else f"{value:.1f} ms"
    print(f"| {name} | {shown} | <= {limit} {unit} | {verdict} | {note} |")
PY
printf '\nOne extra cold (a), its progress lines:\n```\n%s\n```\n' "$(cat "$work/phases-docker.txt")"
printf '\nOne extra cold (f), its progress lines:\n```\n%s\n```\n' "$(cat "$work/phases-native.txt")"
