#!/usr/bin/env bash
# The client matrix against cloud-shaped link variables: do the real clients (run.sh) connect,
# with TLS, the CA and the host name checked, when handed the EXACT strings provision prints for
# AWS RDS / ElastiCache (`provision env --cloud --service APP --format json`)?
#
#   tests/clients/cloud-shaped.sh CELL...        CELL = ENV_JSON:CLIENT:PREFIX
#
# ENV_JSON: a file holding the JSON object NAME -> value that an app gets (several cells may
# share one; files for different services may use different URL flavours of the same
# databases). CLIENT: one of run.sh's. PREFIX: the link's prefix (PG, MY, CACHE, ...).
#
# How the cloud is stood in for, without changing anything outside:
# - The script re-runs itself in new network, mount and PID namespaces (unshare; root needed)
#   and brings `lo` up. The servers listen only there, and every mount below exists only
#   there; when the script ends, the kernel ends whatever is left in the PID namespace.
# - /etc/hosts (bind-mounted copy, plus one line per ${PREFIX}_HOST of the cells) maps the
#   endpoint names (x.y.us-east-1.rds.amazonaws.com, x.cache.amazonaws.com, ...) to 127.0.0.1
#   (127.0.0.2, ... only if two hosts share a port). Checked with getent: Java, Node, Python,
#   Ruby, libpq and libmariadb all resolve through glibc, so they all read it.
# - Certificates (openssl, made per run): AWS's CA keys are not ours, so the chain of trust is
#   rebuilt with stand-ins of the same shape, and every file the env names is made to hold
#   the matching stand-in, bind-mounted over its path so the strings stay exactly as printed:
#     stand-in RDS root -> RDS intermediate -> RDS/Aurora endpoint certificates (Postgres,
#       MySQL/MariaDB), as the real RDS CA bundle (global-bundle.pem: roots) and RDS's servers
#       (which send leaf + intermediate) do;
#     stand-in public root -> intermediate -> ElastiCache endpoint certificates (Redis): real
#       ElastiCache certificates chain to Amazon's public roots, which every system bundle
#       (and Node's compiled-in list) holds, hence provision hands out no CA file for them;
#     an unrelated root -> intermediate -> certificates for the same names (the other-ca way).
#   Mounted over: every *_CA_FILE, PGSSLROOTCERT and CA file named in a URL (sslrootcert=,
#   ssl-ca=, ssl_ca=, serverSslCert=) -> the stand-in RDS root; NODE_EXTRA_CA_CERTS and
#   SSL_CERT_FILE -> stand-in RDS root + stand-in public root + the system bundle; and
#   /etc/ssl/certs/ca-certificates.crt itself -> the system bundle + the stand-in public root
#   (the stand-in public root really is a public root here). A path named for two roles gets
#   the union. The files must exist (provision writes them): a bind mount cannot go over a
#   missing file without creating it outside. A Node cell whose env has no NODE_EXTRA_CA_CERTS
#   gets NODE_EXTRA_CA_CERTS=<stand-in public root> (standing in for Node's compiled-in roots,
#   which hold the real ones), and its JSON says so ("harness_env").
# - Servers: one per (host, port) named by the cells, engine from the client (Postgres 15,
#   MariaDB, redis-server), on that port, with the users, passwords and databases from the
#   env's ${PREFIX}_USERNAME/_PASSWORD/_PATH (Redis: AUTH password of the default user, or of
#   ${PREFIX}_USERNAME if set). TLS enforced as on RDS/ElastiCache with in-transit encryption:
#   Postgres hostssl only, MariaDB require_secure_transport=ON, Redis TLS port only.
#
# Every cell runs three ways, servers (re)started once per way, cells of a way in parallel
# (CLOUD_SHAPED_JOBS at a time; on no-tls the Redis cells, which only wait for their client's
# connect timeout, 5-10 s, run on the side), each as tests/clients/run.sh CLIENT PREFIX with
# exactly the JSON's variables plus PATH, HOME, LANG (and PROVISION_CLIENTS_HOME if set):
#   good      certificates from the stand-in CAs          expected: ok, encrypted ("enc")
#   other-ca  certificates from the unrelated CA          expected: refused
#   no-tls    the same servers without TLS                expected: refused
# A known weakness (KNOWN_UNSAFE in lib.sh, e.g. ruby-mysql2/no-tls: PLAIN) is expected to
# show exactly its outcome; the cell then reports it in "known".
#
# Output: the matrix (cell x way; * known weakness, ! unexpected) and the JSON line of every
# unexpected cell on stderr; on stdout ONE JSON document:
#   {"cells":[{"env":"ENV_JSON","client":"psycopg","prefix":"PG",
#              "good":{run.sh's JSON},"other_ca":{...},"no_tls":{...},
#              "outcomes":{"good":"enc","other_ca":"refused","no_tls":"refused"},
#              "seconds":{"good":0.8,"other_ca":1.0,"no_tls":0.9},
#              "expected":true,"known":null}, ...],
#    "ok":true}
# outcomes: enc (ok, encrypted), PLAIN (ok, NOT encrypted), refused (error). expected: all three
# as expected. known: null, or "WAY: OUTCOME: why" of the cell's known weaknesses. A Node cell
# given NODE_EXTRA_CA_CERTS by the harness (see above) also has "harness_env":["NODE_EXTRA_CA_CERTS"].
# Exit 0 iff every cell behaved as expected; 1 otherwise, or on any error (a missing client or
# server binary, a CA file the env names that does not exist, ...); 2 on bad usage.
#
# Environment: CLOUD_SHAPED_JOBS (cells run at once, default 3), CLOUD_SHAPED_KEEP=1 (keep the
# work directory: certificates, server logs, each cell's stderr in out/), PROVISION_CLIENTS_HOME
# as for run.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
LIB_TAG=cloud-shaped
# shellcheck source=lib.sh
. "$here/lib.sh"
PY=(/usr/bin/python3 -E -s -B "$here/cloud_shaped.py")
WAYS=(good other-ca no-tls)
JOBS=${CLOUD_SHAPED_JOBS:-3}

usage() { echo "usage: $0 ENV_JSON:CLIENT:PREFIX... (see the header of $0)" >&2; exit 2; }

engines_arg() { local c; for c in "${!ENGINE[@]}"; do printf '%s=%s ' "$c" "${ENGINE[$c]}"; done; }

# =============================================================================================
# Outside: check what is needed, then run this script again in private namespaces.
# =============================================================================================
if [ -z "${CLOUD_SHAPED_WORK:-}" ]; then
  [ $# -gt 0 ] || usage
  case $1 in -h|--help) usage ;; esac
  [[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "CLOUD_SHAPED_JOBS=$JOBS is not a positive number"
  [ "$(id -u)" = 0 ] || die "needs root (namespaces, bind mounts, servers run as postgres/mysql)"
  for b in /usr/bin/python3 unshare mount ip getent pgrep; do
    command -v "$b" >/dev/null 2>&1 || die "$b is missing"
  done
  need_servers
  declare -A seen=()
  for cell in "$@"; do
    [[ $cell == *:*:* ]] || { say "bad cell '$cell'"; usage; }
    rest=${cell%:*}; client=${rest##*:}; envf=${rest%:*}
    [ -n "${ENGINE[$client]:-}" ] || die "cell '$cell': unknown client '$client' (one of: ${ALL_CLIENTS[*]})"
    [ -r "$envf" ] || die "cell '$cell': cannot read $envf"
    [ -n "${seen[$client]:-}" ] || need_client "$client"
    seen[$client]=1
  done
  work=$(mktemp -d /tmp/provision-cloud-shaped.XXXXXX)
  chmod 755 "$work"
  inner=
  outer_cleanup() {
    if [ "${CLOUD_SHAPED_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  }
  trap outer_cleanup EXIT
  # The plan (servers, host names, CA files to cover: WORK/plan), checked before any namespace.
  "${PY[@]}" plan "$work" "$(engines_arg)" "$@" || exit 1
  forward() {  # unshare ignores INT/TERM: pass them to the script inside (PID 1 there)
    local p
    p=$(pgrep -P "$inner" 2>/dev/null | head -n 1 || true)
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
    return 0
  }
  trap forward INT TERM
  # Relative ENV_JSON paths stay valid: the working directory does not change.
  ns="$(readlink /proc/self/ns/net) $(readlink /proc/self/ns/mnt)"
  CLOUD_SHAPED_WORK=$work CLOUD_SHAPED_NS=$ns \
    unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private -- "$self" "$@" &
  inner=$!
  rc=0
  while :; do
    wait "$inner" && rc=0 || rc=$?
    kill -0 "$inner" 2>/dev/null || break   # a trapped signal interrupted wait: wait again
  done
  exit "$rc"
fi

# =============================================================================================
# Inside: PID 1 of new network, mount and PID namespaces.
# =============================================================================================
[ "$$" = 1 ] || die "internal: CLOUD_SHAPED_WORK is set, but this is not a fresh PID namespace"
work=$CLOUD_SHAPED_WORK
[[ $work == /tmp/provision-cloud-shaped.* ]] && [ -d "$work" ] || die "internal: bad work directory '$work'"
cleanup() {
  stop_servers
  [ "${CLOUD_SHAPED_KEEP:-}" = 1 ] || rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$SECONDS

[ -n "${CLOUD_SHAPED_NS:-}" ] && [ "$CLOUD_SHAPED_NS" != "$(readlink /proc/self/ns/net) $(readlink /proc/self/ns/mnt)" ] \
  || die "internal: not in new network and mount namespaces"
ip link set lo up

P=$work/plan   # made outside (cloud_shaped.py plan)
[ -s "$P/cells.tsv" ] || die "internal: no plan in $work"

# ---- data directories (in the background, while the certificates are made) --------------------
mapfile -t SERVERS <"$P/servers.tsv"
INIT_PIDS=()
for s in "${SERVERS[@]}"; do
  IFS=$'\t' read -r n engine host port addr <<<"$s"
  case $engine in
    pg) install -d -o postgres -g postgres "$work/pg"; pg_init "$work/pg/$n" <"$P/pg-$n.sql" & INIT_PIDS+=($!) ;;
    my) my_init "$work/my/$n" & INIT_PIDS+=($!) ;;
    kv) mkdir -p "$work/kv" ;;
  esac
done

# ---- certificates ---------------------------------------------------------------------------
C=$work/ca
mkdir -p "$C"
O="/C=US/O=provision cloud-shaped stand-in"
mkca "$C" rds-root "$O/OU=Amazon RDS/CN=Amazon RDS us-east-1 Root CA RSA2048 G1 (stand-in)"
mkca "$C" rds-int "$O/OU=Amazon RDS/CN=Amazon RDS us-east-1 Subordinate CA RSA2048 G1 (stand-in)" rds-root
mkca "$C" public-root "$O/CN=Amazon Root CA 1 (stand-in public root)"
mkca "$C" public-int "$O/CN=Amazon RSA 2048 M02 (stand-in)" public-root
mkca "$C" other-root "/O=provision cloud-shaped/CN=An unrelated root CA"
mkca "$C" other-int "/O=provision cloud-shaped/CN=An unrelated intermediate CA" other-root
while IFS=$'\t' read -r n engine host port addr; do
  int=rds-int; [ "$engine" = kv ] && int=public-int
  mkcert "$C" "srv$n-good" "$int" "$host" "DNS:$host"
  mkcert "$C" "srv$n-other" other-int "$host" "DNS:$host"
  cat "$C/srv$n-good.pem" "$C/$int.pem" >"$C/srv$n-good.chain.pem"
  cat "$C/srv$n-other.pem" "$C/other-int.pem" >"$C/srv$n-other.chain.pem"
done <"$P/servers.tsv"
cp /etc/ssl/certs/ca-certificates.crt "$C/system.pem"   # before anything is mounted over it
chmod 644 "$C"/*.pem

# ---- the namespace's view: /etc/hosts and the CA files --------------------------------------
# The endpoints first (the first line naming a host wins), then the machine's own lines.
{ echo "# cloud-shaped.sh: the endpoints, in this namespace only"; cat "$P/hosts"; echo; cat /etc/hosts; } >"$work/hosts"
chmod 644 "$work/hosts"
mount --bind "$work/hosts" /etc/hosts || die "cannot bind-mount /etc/hosts"
while read -r addr host; do
  got=$(getent hosts "$host" | awk '{print $1; exit}' || true)
  [ "$got" = "$addr" ] || die "getent hosts $host gives '${got:-nothing}', not $addr"
done <"$P/hosts"
while IFS=$'\t' read -r roles path names; do
  src=$C/mount.$roles.pem
  if [ ! -e "$src" ]; then
    : >"$src"
    case +$roles+ in *+rds+*) cat "$C/rds-root.pem" >>"$src" ;; esac
    case +$roles+ in *+public+*) cat "$C/public-root.pem" >>"$src" ;; esac
    case +$roles+ in *+system+*) cat "$C/system.pem" >>"$src" ;; esac
    chmod 644 "$src"
  fi
  mount --bind "$src" "$path" || die "cannot bind-mount over $path"
  cmp -s "$src" "$path" || die "$path does not show the stand-in after the bind mount"
  say "$path ($names) -> stand-in ${roles//+/ + }"
done <"$P/mounts.tsv"

# ---- servers ----------------------------------------------------------------------------------
for pid in "${INIT_PIDS[@]}"; do wait "$pid" || die "making a server's data directory failed (above)"; done
my_users_made=0
start_servers() {  # start_servers WAY: every server, with the WAY's certificates, and wait
  local way=$1 s n engine host port addr cert key ca pids=()
  for s in "${SERVERS[@]}"; do
    IFS=$'\t' read -r n engine host port addr <<<"$s"
    cert='' key='' ca=''
    case $way in
      good) cert=$C/srv$n-good.chain.pem key=$C/srv$n-good.key ca=$C/rds-root.pem ;;
      other-ca) cert=$C/srv$n-other.chain.pem key=$C/srv$n-other.key ca=$C/other-root.pem ;;
    esac
    case $engine in
      pg) pg_start "$work/pg/$n" "$addr" "$port" ${cert:+"$cert" "$key"} ;;
      my) my_start "$work/my/$n" "$addr" "$port" ${cert:+"$cert" "$key"} ;;
      kv) kv_start "$work/kv" "$n" "$addr" "$port" "$P/kv-$n.conf" ${cert:+"$cert" "$key" "$ca"} ;;
    esac
    pids+=("$STARTED_PID")
  done
  local i=0
  for s in "${SERVERS[@]}"; do
    IFS=$'\t' read -r n engine host port addr <<<"$s"
    case $engine in
      pg) pg_wait "${pids[$i]}" "$work/pg/$n" "$port" ;;
      my) my_wait "${pids[$i]}" "$work/my/$n"
          if [ "$my_users_made" = 0 ]; then my_sql "$work/my/$n" <"$P/my-$n.sql"; fi ;;
      kv) kv_wait "${pids[$i]}" "$work/kv" "$n" ;;
    esac
    i=$((i + 1))
  done
  my_users_made=1
}

# ---- the cells ----------------------------------------------------------------------------------
mapfile -t CELLS <"$P/cells.tsv"
mkdir -p "$work/out"
run_cell() {  # run_cell CELLROW WAY: run.sh's JSON line -> out/I.WAY.json, its stderr -> .err
  local i path client prefix engine srv node_extra extra=()
  IFS=$'\t' read -r i path client prefix engine srv node_extra <<<"$1"
  [ "$node_extra" = 1 ] && extra=("NODE_EXTRA_CA_CERTS=$C/public-root.pem")
  local t=$EPOCHREALTIME
  "${PY[@]}" exec "$path" "$client" "$prefix" "$here/run.sh" "${extra[@]}" \
    >"$work/out/$i.$2.json" 2>"$work/out/$i.$2.err" || true
  echo "$t $EPOCHREALTIME" >"$work/out/$i.$2.time"
}
run_way() {  # run_way WAY: all cells, JOBS at a time, JVM ones first; on no-tls the Redis cells
            # (which only wait for their client's connect timeout, 5-10 s) on the side, unthrottled
  local way=$1 row client engine idle=() java=() rest=() pids=()
  for row in "${CELLS[@]}"; do
    IFS=$'\t' read -r _ _ client _ engine _ <<<"$row"
    if [ "$way" = no-tls ] && [ "$engine" = kv ]; then idle+=("$row")
    elif [[ $client == jdbc-* ]]; then java+=("$row")
    else rest+=("$row")
    fi
  done
  for row in "${idle[@]}"; do run_cell "$row" "$way" & pids+=($!); done
  (  # a subshell: its jobs are only these cells
    for row in "${java[@]}" "${rest[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
      run_cell "$row" "$way" &
    done
    wait
  ) &
  wait "$!" || true   # in the background: a signal's trap runs at once, not after the cells
  for pid in "${pids[@]}"; do wait "$pid" || true; done  # by PID: the servers are jobs here too
}
: >"$work/results.tsv"
for way in "${WAYS[@]}"; do
  t=$SECONDS
  start_servers "$way"
  say "$way: ${#SERVERS[@]} server(s) up in $((SECONDS - t))s; running ${#CELLS[@]} cell(s)"
  t=$SECONDS
  run_way "$way"
  stop_servers
  say "$way: cells done in $((SECONDS - t))s"
  for row in "${CELLS[@]}"; do
    IFS=$'\t' read -r i path client prefix _ <<<"$row"
    got=$(outcome_of "$(cat "$work/out/$i.$way.json")")
    want=refused; [ "$way" = good ] && want=enc
    known=${KNOWN_UNSAFE[$client/$way]:-}
    if [ -n "$known" ]; then want=${known%%|*}; known=${known#*|}; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$way" "$got" "$want" "$known" >>"$work/results.tsv"
    if [ "$got" != "$want" ] && [ -s "$work/out/$i.$way.err" ]; then
      sed "s|^|cloud-shaped: $client:$prefix $way stderr: |" "$work/out/$i.$way.err" | tail -n 5 >&2
    fi
  done
done

rc=0
"${PY[@]}" report "$work" || rc=$?
say "$([ "$rc" = 0 ] && echo "every cell as expected" || echo "some cell(s) not as expected (marked !)") ($((SECONDS - t0))s)"
exit "$rc"
