#!/usr/bin/env bash
# Self-check of the client matrix, with no provision involved: do the link URL forms below
# really make each client use TLS, check the CA and the host name, and refuse a server that
# offers no TLS?
#
#   tests/clients/selfcheck.sh [-v] [CLIENT...]     (default: every client of run.sh)
#
# Makes a CA ("right") with a server certificate for IP:127.0.0.1 + DNS:localhost, a second
# certificate from the same CA for a name nobody uses (wrong.example.invalid), and an unrelated
# CA ("other") with a certificate for 127.0.0.1 + localhost. Starts, on free 127.0.0.1 ports
# under a temporary directory, four servers per engine: Postgres 15 (ssl=on, pg_hba.conf with
# only hostssl scram-sha-256), MariaDB (require_secure_transport=ON) and redis-server (TLS port
# only: --port 0) with the right, the wrong-name and the other-CA certificate, and one of each
# without TLS (pg_hba `host`, --skip-ssl, plain port). Then runs tests/clients/run.sh for every
# client against each (the URL is otherwise identical):
#
#   column          server certificate              URL host    expected
#   good-ip         right CA, 127.0.0.1 + localhost 127.0.0.1   ok, encrypted
#   good-dns        right CA, 127.0.0.1 + localhost localhost   ok, encrypted
#   other-ca        other CA, 127.0.0.1 + localhost 127.0.0.1   refused (unknown CA)
#   wrongname-ip    right CA, wrong.example.invalid 127.0.0.1   refused (host name check)
#   wrongname-dns   right CA, wrong.example.invalid localhost   refused (host name check)
#   no-tls          none (plain server)             127.0.0.1   refused (no TLS offered)
#
# Each cell's environment is what provision hands an app: the link's variables (LINK_URL,
# LINK_SCHEME, LINK_HOST, LINK_PORT, LINK_USERNAME, LINK_PASSWORD, LINK_PATH, LINK_CA_FILE) and
# PGSSLROOTCERT, NODE_EXTRA_CA_CERTS (the right CA) and SSL_CERT_FILE (the right CA + the system
# bundle); nothing else but PATH, HOME and LANG.
# Outcomes: "enc" (ok, encrypted), "PLAIN" (ok, NOT encrypted), "refused" (error). "!" marks an
# outcome other than expected; "*" a known weakness of a client (KNOWN_UNSAFE below: the cell
# must keep showing exactly that outcome, else it is marked "!" so the table gets updated);
# "n/a" a cell that cannot apply (NOT_APPLICABLE below).
# Prints the matrix, the JSON line of every unexpected cell (-v: of every cell) and the URL
# forms. Exit 0 when every cell is as expected, 1 otherwise. Every server it started is stopped
# by PID on exit (trap).
#
# Environment:
#   SELFCHECK_PASSWORD   the app user's password. The default has / : @ + = % # ? in it, to
#                        check that each client decodes the URL's percent-encoding; no & since
#                        MariaDB Connector/J cannot take one in a URL (see MY_JDBC). No ' or \.
#   SELFCHECK_FORM_<client, - as _>=FORM  try another URL form for a client (placeholders below)
#   SELFCHECK_KEEP=1     keep the temporary directory (server logs, certificates)
#   SELFCHECK_HOLD=SECS  after the matrix, keep the servers up SECS seconds and write each cell's
#                        environment to WORKDIR/env/CLIENT.COLUMN.sh, to try things by hand
#   PROVISION_CLIENTS_HOME  as for run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
support=$(cd "$here/../support" && pwd)
LIB_TAG=selfcheck
# shellcheck source=lib.sh
. "$here/lib.sh"   # ALL_CLIENTS, ENGINE, KNOWN_UNSAFE, certificates, servers

verbose=0
if [ "${1:-}" = -v ]; then verbose=1; shift; fi
if [ $# -gt 0 ]; then CLIENTS=("$@"); else CLIENTS=("${ALL_CLIENTS[@]}"); fi
COLUMNS_=(good-ip good-dns other-ca wrongname-ip wrongname-dns no-tls)

# The URL form each client is given: the link contract's flavours. Placeholders: {user} {pass}
# percent-encoded (everything but A-Z a-z 0-9 - . _ ~, as provision does), {rawuser} {rawpass}
# as they are, {host} {port} {db}, {ca} the absolute path of the CA's PEM file.
PG_URL='postgresql://{user}:{pass}@{host}:{port}/{db}?sslmode=verify-full&sslrootcert={ca}'
PG_JDBC='jdbc:postgresql://{host}:{port}/{db}?user={user}&password={pass}&sslmode=verify-full&sslrootcert={ca}'
# PyMySQL >= 1.2.0 refuses a server without TLS once ssl_ca is given; <= 1.1.x silently goes on
# in plain text with this very URL.
MY_PYMYSQL='mysql+pymysql://{user}:{pass}@{host}:{port}/{db}?ssl_ca={ca}&ssl_check_hostname=true'
# mysql-connector-python needs all three: without ssl_verify_cert the CA is not checked, and
# without it it also falls back to plain text.
MY_CONNECTOR='mysql+mysqlconnector://{user}:{pass}@{host}:{port}/{db}?ssl_ca={ca}&ssl_verify_cert=true&ssl_verify_identity=true'
# mysql2 JSON-parses query values: ssl={"verifyIdentity":true}; the CA comes from
# NODE_EXTRA_CA_CERTS. ssl-mode=... is ignored with a warning (plain text).
MY_MYSQL2='mysql://{user}:{pass}@{host}:{port}/{db}?ssl=%7B%22verifyIdentity%22%3Atrue%7D'
# MariaDB Connector/J does not percent-decode query values (2.7 and 3.x): user and password go
# in as they are, and a password with & cannot be written. 2.x knows useSsl (sslMode is
# ignored: plain text); 3.x knows sslMode and maps useSsl=true to verify-full.
MY_JDBC='jdbc:mariadb://{host}:{port}/{db}?user={rawuser}&password={rawpass}&sslMode=verify-full&useSsl=true&serverSslCert={ca}'
KV_URL='rediss://:{pass}@{host}:{port}/0'
declare -A FORM=(
  [psycopg]=$PG_URL [psycopg2]=$PG_URL [sqlalchemy-pg]=$PG_URL [node-pg]=$PG_URL [ruby-pg]=$PG_URL
  [jdbc-pg]=$PG_JDBC
  [sqlalchemy-mysql]=$MY_PYMYSQL [sqlalchemy-myconnector]=$MY_CONNECTOR [mysql2]=$MY_MYSQL2
  [jdbc-mysql]=$MY_JDBC
  [ruby-mysql2]='mysql://{user}:{pass}@{host}:{port}/{db}'   # not read: the client uses the parts
  [redis-py]=$KV_URL [node-redis]=$KV_URL [ioredis]=$KV_URL [ruby-redis]=$KV_URL
)
# Cells that cannot apply, with the reason.
declare -A NOT_APPLICABLE=(
  [ruby-mysql2/good-dns]='libmariadb connects to "localhost" through the Unix socket, not TCP'
  [ruby-mysql2/wrongname-dns]='libmariadb connects to "localhost" through the Unix socket, not TCP'
)
# Known weaknesses of a client, whatever the options: KNOWN_UNSAFE in lib.sh.

for c in "${CLIENTS[@]}"; do
  [ -n "${ENGINE[$c]:-}" ] || { echo "selfcheck: unknown client '$c' (one of: ${ALL_CLIENTS[*]})" >&2; exit 2; }
  var="SELFCHECK_FORM_${c//-/_}"
  if [ -n "${!var:-}" ]; then FORM[$c]=${!var}; fi
done

"$support/ensure-native.sh"
"$support/ensure-clients.sh"

USER_=app DB=appdb
PASSWORD=${SELFCHECK_PASSWORD:-'Tr1cky/pa:ss@w+rd=y%z#q?'}
case $PASSWORD in *"'"*|*\\*) die "SELFCHECK_PASSWORD: no ' or \\ please (SQL literals)";; esac

work=$(mktemp -d /tmp/provision-clients-selfcheck.XXXXXX)
chmod 755 "$work"
cleanup() {
  stop_servers
  if [ "${SELFCHECK_KEEP:-}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
urlencode() {  # percent-encode everything but A-Z a-z 0-9 - . _ ~ (as provision does)
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in [A-Za-z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
  done
  printf '%s' "$out"
}

# ---- certificates -------------------------------------------------------------------------
t0=$SECONDS
C=$work/certs
mkdir -p "$C"
mkca "$C" ca "/CN=provision selfcheck CA"
mkca "$C" other-ca "/CN=provision selfcheck unrelated CA"
mkcert "$C" good ca "provision selfcheck server" "IP:127.0.0.1,DNS:localhost"
mkcert "$C" wrongname ca "wrong.example.invalid" "DNS:wrong.example.invalid"
mkcert "$C" other other-ca "provision selfcheck server" "IP:127.0.0.1,DNS:localhost"
cat "$C/ca.pem" /etc/ssl/certs/ca-certificates.crt >"$C/bundle.pem"
chmod 644 "$C"/*.pem "$C"/*.key
# Instances: NAME CERT (CERT empty: no TLS).
INSTANCES=("good good" "wrongname wrongname" "other other" "plain ")
declare -A PORT

# ---- Postgres -----------------------------------------------------------------------------
install -d -o postgres -g postgres "$work/pg"
printf "CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n" \
  "$USER_" "$PASSWORD" "$DB" "$USER_" | pg_init "$work/pg/template"
for inst in "${INSTANCES[@]}"; do
  read -r name cert <<<"$inst"
  d=$work/pg/$name
  cp -a "$work/pg/template" "$d"
  port=$(free_port); PORT[pg/$name]=$port
  pg_start "$d" 127.0.0.1 "$port" ${cert:+"$C/$cert.pem" "$C/$cert.key"}
  PG_PIDS+=("$STARTED_PID")
done
# ---- MariaDB ------------------------------------------------------------------------------
my_init "$work/my/template"
for inst in "${INSTANCES[@]}"; do
  read -r name cert <<<"$inst"
  d=$work/my/$name
  cp -a "$work/my/template" "$d"
  port=$(free_port); PORT[my/$name]=$port
  my_start "$d" 127.0.0.1 "$port" ${cert:+"$C/$cert.pem" "$C/$cert.key"}
  MY_PIDS+=("$STARTED_PID")
done
# ---- Redis --------------------------------------------------------------------------------
mkdir -p "$work/kv"
kv_auth_line default "$PASSWORD" >"$work/kv/auth.conf"
for inst in "${INSTANCES[@]}"; do
  read -r name cert <<<"$inst"
  port=$(free_port); PORT[kv/$name]=$port
  ca=ca; [ "$cert" = other ] && ca=other-ca
  kv_start "$work/kv" "$name" 127.0.0.1 "$port" "$work/kv/auth.conf" \
    ${cert:+"$C/$cert.pem" "$C/$cert.key" "$C/$ca.pem"}
  KV_PIDS+=("$STARTED_PID")
done

# ---- readiness, and the app user in MariaDB ------------------------------------------------
i=0
for inst in "${INSTANCES[@]}"; do
  read -r name _ <<<"$inst"
  pg_wait "${PG_PIDS[$i]}" "$work/pg/$name" "${PORT[pg/$name]}"
  my_wait "${MY_PIDS[$i]}" "$work/my/$name"
  my_sql "$work/my/$name" <<<"CREATE USER '$USER_'@'%' IDENTIFIED BY '$PASSWORD'; CREATE DATABASE $DB; GRANT ALL ON $DB.* TO '$USER_'@'%';"
  kv_wait "${KV_PIDS[$i]}" "$work/kv" "$name"
  i=$((i + 1))
done
say "12 servers up in $((SECONDS - t0))s (work dir $work)"

# ---- the cells ----------------------------------------------------------------------------
fill() {  # fill FORM HOST PORT -> the URL (replacements quoted: bash 5.2 reads & in them)
  local u=$1
  u=${u//\{user\}/"$(urlencode "$USER_")"}
  u=${u//\{pass\}/"$(urlencode "$PASSWORD")"}
  u=${u//\{rawuser\}/"$USER_"}
  u=${u//\{rawpass\}/"$PASSWORD"}
  u=${u//\{host\}/"$2"}
  u=${u//\{port\}/"$3"}
  u=${u//\{db\}/"$DB"}
  u=${u//\{ca\}/"$C/ca.pem"}
  printf '%s' "$u"
}
PREFIX=LINK
cell_env() {  # cell_env CLIENT COLUMN -> NAME=VALUE lines: the environment of the cell
  local client=$1 column=$2 engine=${ENGINE[$1]} inst host=127.0.0.1 url user=$USER_ path=/$DB
  case $column in
    good-*) inst=good ;; other-ca) inst=other ;; wrongname-*) inst=wrongname ;; no-tls) inst=plain ;;
  esac
  case $column in *-dns) host=localhost ;; esac
  local port=${PORT[$engine/$inst]}
  url=$(fill "${FORM[$client]}" "$host" "$port")
  if [ "$engine" = kv ]; then user=''; path=/0; fi
  printf '%s\n' "${PREFIX}_URL=$url" "${PREFIX}_SCHEME=${url%%://*}" "${PREFIX}_HOST=$host" \
    "${PREFIX}_PORT=$port" "${PREFIX}_USERNAME=$user" "${PREFIX}_PASSWORD=$PASSWORD" \
    "${PREFIX}_PATH=$path" "${PREFIX}_CA_FILE=$C/ca.pem" \
    "PGSSLROOTCERT=$C/ca.pem" "NODE_EXTRA_CA_CERTS=$C/ca.pem" "SSL_CERT_FILE=$C/bundle.pem"
}
run_cell() {  # run_cell CLIENT COLUMN -> prints the JSON line
  local vars
  mapfile -t vars < <(cell_env "$1" "$2")
  env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 \
    PROVISION_CLIENTS_HOME="${PROVISION_CLIENTS_HOME:-/var/cache/provision-clients}" \
    "${vars[@]}" "$here/run.sh" "$1" "$PREFIX" 2>>"$work/cells.stderr" || true
}

bad=0
declare -A OUT WRONG
printf '%-23s' client
for col in "${COLUMNS_[@]}"; do printf ' %-14s' "$col"; done
printf '\n'
for client in "${CLIENTS[@]}"; do
  printf '%-23s' "$client"
  for col in "${COLUMNS_[@]}"; do
    if [ -n "${NOT_APPLICABLE[$client/$col]:-}" ]; then printf ' %-14s' n/a; continue; fi
    line=$(run_cell "$client" "$col")
    OUT[$client/$col]=$line
    got=$(outcome_of "$line")
    want=refused; case $col in good-*) want=enc ;; esac
    known=${KNOWN_UNSAFE[$client/$col]:-}
    if [ -n "$known" ]; then
      want=${known%%|*}
      if [ "$got" = "$want" ]; then got="$got*"; fi
    fi
    if [ "$got" != "$want" ] && [ "$got" != "$want*" ]; then
      got="$got!"; bad=$((bad + 1)); WRONG[$client/$col]=1
    fi
    printf ' %-14s' "$got"
  done
  printf '\n'
done

# The JSON lines: all of them with -v, else those of the cells not as expected.
printf '\n'
for client in "${CLIENTS[@]}"; do
  for col in "${COLUMNS_[@]}"; do
    line=${OUT[$client/$col]:-}
    if [ -n "$line" ] && { [ "$verbose" = 1 ] || [ -n "${WRONG[$client/$col]:-}" ]; }; then
      printf '%-22s %-14s %s\n' "$client" "$col" "$line"
    fi
  done
done
for key in "${!NOT_APPLICABLE[@]}"; do
  if [[ " ${CLIENTS[*]} " == *" ${key%%/*} "* ]]; then printf 'n/a %s: %s\n' "$key" "${NOT_APPLICABLE[$key]}"; fi
done
for key in "${!KNOWN_UNSAFE[@]}"; do
  if [[ " ${CLIENTS[*]} " == *" ${key%%/*} "* ]]; then printf '*   %s: %s\n' "$key" "${KNOWN_UNSAFE[$key]#*|}"; fi
done
printf '\nURL forms:\n'
for c in "${CLIENTS[@]}"; do printf '  %-22s %s\n' "$c" "${FORM[$c]}"; done
if [ -n "${SELFCHECK_HOLD:-}" ]; then
  # For debugging by hand: the servers stay up; each cell's environment is in a file.
  mkdir -p "$work/env"
  for client in "${CLIENTS[@]}"; do
    for col in "${COLUMNS_[@]}"; do cell_env "$client" "$col" | sed "s/'/'\\\\''/g; s/=/='/; s/\$/'/; s/^/export /" >"$work/env/$client.$col.sh"; done
  done
  say "holding the servers for ${SELFCHECK_HOLD}s: source $work/env/CLIENT.COLUMN.sh, then run.sh CLIENT $PREFIX"
  sleep "$SELFCHECK_HOLD" & wait $! || true
fi
if [ "$bad" -gt 0 ]; then
  say "$bad cell(s) not as expected (marked !)"
  exit 1
fi
say "every cell as expected ($((SECONDS - t0))s)"
