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
PGBIN=/usr/lib/postgresql/15/bin

verbose=0
if [ "${1:-}" = -v ]; then verbose=1; shift; fi
ALL_CLIENTS=(psycopg psycopg2 sqlalchemy-pg node-pg ruby-pg jdbc-pg
             sqlalchemy-mysql sqlalchemy-myconnector mysql2 ruby-mysql2 jdbc-mysql
             redis-py node-redis ioredis ruby-redis)
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
declare -A ENGINE=(
  [psycopg]=pg [psycopg2]=pg [sqlalchemy-pg]=pg [node-pg]=pg [ruby-pg]=pg [jdbc-pg]=pg
  [sqlalchemy-mysql]=my [sqlalchemy-myconnector]=my [mysql2]=my [ruby-mysql2]=my [jdbc-mysql]=my
  [redis-py]=kv [node-redis]=kv [ioredis]=kv [ruby-redis]=kv
)
# Cells that cannot apply, with the reason.
declare -A NOT_APPLICABLE=(
  [ruby-mysql2/good-dns]='libmariadb connects to "localhost" through the Unix socket, not TCP'
  [ruby-mysql2/wrongname-dns]='libmariadb connects to "localhost" through the Unix socket, not TCP'
)
# Known weaknesses of a client, whatever the options: OUTCOME|why.
MYSQL2_053='Debian ruby-mysql2 0.5.3 on libmariadb 3.3: ssl_mode is ignored ("does not support setting ssl_mode") and sslverify sets a flag libmariadb never reads'
declare -A KNOWN_UNSAFE=(
  [ruby-mysql2/wrongname-ip]="enc|$MYSQL2_053: no host name check"
  [ruby-mysql2/no-tls]="PLAIN|$MYSQL2_053: silently goes on in plain text"
)

for c in "${CLIENTS[@]}"; do
  [ -n "${ENGINE[$c]:-}" ] || { echo "selfcheck: unknown client '$c' (one of: ${ALL_CLIENTS[*]})" >&2; exit 2; }
  var="SELFCHECK_FORM_${c//-/_}"
  if [ -n "${!var:-}" ]; then FORM[$c]=${!var}; fi
done

say() { printf 'selfcheck: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

"$support/ensure-native.sh"
"$support/ensure-clients.sh"

USER_=app DB=appdb
PASSWORD=${SELFCHECK_PASSWORD:-'Tr1cky/pa:ss@w+rd=y%z#q?'}
case $PASSWORD in *"'"*|*'\'*) die "SELFCHECK_PASSWORD: no ' or \\ please (SQL literals)";; esac

work=$(mktemp -d /tmp/provision-clients-selfcheck.XXXXXX)
chmod 755 "$work"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
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
wait_until() {  # wait_until SECONDS PID LOG CMD...: run CMD until it succeeds, while PID lives
  local secs=$1 pid=$2 log=$3; shift 3
  local t=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "server (pid $pid) died; log: $log"; }
    (( SECONDS < t )) || { tail -n 20 "$log" >&2; die "server (pid $pid) not ready in ${secs}s"; }
    sleep 0.2
  done
}
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }

# ---- certificates -------------------------------------------------------------------------
t0=$SECONDS
C=$work/certs
mkdir -p "$C"
mkca() {  # mkca NAME CN
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$C/$1.key" -out "$C/$1.pem" 2>/dev/null
}
mkcert() {  # mkcert NAME CA CN SAN
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$C/$1.key" -out "$C/$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
    "$4" >"$C/$1.ext"
  openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial -days 2 \
    -extfile "$C/$1.ext" -out "$C/$1.pem" 2>/dev/null
}
mkca ca "provision selfcheck CA"
mkca other-ca "provision selfcheck unrelated CA"
mkcert good ca "provision selfcheck server" "IP:127.0.0.1,DNS:localhost"
mkcert wrongname ca "wrong.example.invalid" "DNS:wrong.example.invalid"
mkcert other other-ca "provision selfcheck server" "IP:127.0.0.1,DNS:localhost"
cat "$C/ca.pem" /etc/ssl/certs/ca-certificates.crt >"$C/bundle.pem"
chmod 644 "$C"/*.pem "$C"/*.key
# Instances: NAME CERT (CERT empty: no TLS).
INSTANCES=("good good" "wrongname wrongname" "other other" "plain ")
declare -A PORT

# ---- Postgres -----------------------------------------------------------------------------
install -d -o postgres -g postgres "$work/pg"
printf '%s\n' "$PASSWORD" >"$work/pg/pw" && chown postgres "$work/pg/pw"
as postgres "$PGBIN/initdb" -D "$work/pg/template" -U postgres --auth=scram-sha-256 \
  --pwfile="$work/pg/pw" -E UTF8 --no-sync >"$work/pg/initdb.log" 2>&1 \
  || { cat "$work/pg/initdb.log" >&2; die "initdb failed"; }
printf "CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n" \
  "$USER_" "$PASSWORD" "$DB" "$USER_" \
  | as postgres "$PGBIN/postgres" --single -D "$work/pg/template" postgres \
    >"$work/pg/single.log" 2>&1 || { cat "$work/pg/single.log" >&2; die "creating the app role failed"; }
for inst in "${INSTANCES[@]}"; do
  read -r name cert <<<"$inst"
  d=$work/pg/$name
  cp -a "$work/pg/template" "$d"
  port=$(free_port); PORT[pg/$name]=$port
  args=(-D "$d" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$d"
        -c fsync=off -c max_connections=20 -c shared_buffers=16MB -c hba_file="$d/hba.conf")
  if [ -n "$cert" ]; then
    install -o postgres -m 600 "$C/$cert.pem" "$d/server.crt"
    install -o postgres -m 600 "$C/$cert.key" "$d/server.key"
    echo 'hostssl all all 127.0.0.1/32 scram-sha-256' >"$d/hba.conf"
    args+=(-c ssl=on -c ssl_cert_file="$d/server.crt" -c ssl_key_file="$d/server.key")
  else
    echo 'host all all 127.0.0.1/32 scram-sha-256' >"$d/hba.conf"
    args+=(-c ssl=off)
  fi
  # A simple command, not the function `as`: $! must be the postmaster itself.
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/postgres" "${args[@]}" >"$d.log" 2>&1 &
  PIDS+=($!); PG_PIDS+=($!)
done
# ---- MariaDB ------------------------------------------------------------------------------
install -d -o mysql -g mysql "$work/my"
mariadb-install-db --no-defaults --user=mysql --datadir="$work/my/template" \
  --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
  >"$work/my/install.log" 2>&1 || { cat "$work/my/install.log" >&2; die "mariadb-install-db failed"; }
for inst in "${INSTANCES[@]}"; do
  read -r name cert <<<"$inst"
  d=$work/my/$name
  cp -a "$work/my/template" "$d"
  port=$(free_port); PORT[my/$name]=$port
  args=(--no-defaults --user=mysql --datadir="$d" --port="$port" --bind-address=127.0.0.1
        --socket="$d.sock" --pid-file="$d.pid" --log-error="$d.log" --skip-name-resolve
        --skip-log-bin --innodb-buffer-pool-size=16M --max-connections=20)
  if [ -n "$cert" ]; then
    install -o mysql -m 600 "$C/$cert.pem" "$d/server.crt"
    install -o mysql -m 600 "$C/$cert.key" "$d/server.key"
    args+=(--ssl-cert="$d/server.crt" --ssl-key="$d/server.key" --require-secure-transport=ON)
  else
    args+=(--skip-ssl)
  fi
  /usr/sbin/mariadbd "${args[@]}" >/dev/null 2>&1 &
  PIDS+=($!); MY_PIDS+=($!)
done
# ---- Redis --------------------------------------------------------------------------------
mkdir -p "$work/kv"
for inst in "${INSTANCES[@]}"; do
  read -r name cert <<<"$inst"
  port=$(free_port); PORT[kv/$name]=$port
  args=(--bind 127.0.0.1 --requirepass "$PASSWORD" --save '' --appendonly no --dir "$work/kv"
        --logfile "$work/kv/$name.log" --daemonize no)
  if [ -n "$cert" ]; then
    ca=ca; [ "$cert" = other ] && ca=other-ca
    args+=(--port 0 --tls-port "$port" --tls-cert-file "$C/$cert.pem" --tls-key-file "$C/$cert.key"
           --tls-ca-cert-file "$C/$ca.pem" --tls-auth-clients no)
  else
    args+=(--port "$port")
  fi
  redis-server "${args[@]}" >/dev/null 2>&1 &
  PIDS+=($!); KV_PIDS+=($!)
done

# ---- readiness, and the app user in MariaDB ------------------------------------------------
i=0
for inst in "${INSTANCES[@]}"; do
  read -r name _ <<<"$inst"
  wait_until 60 "${PG_PIDS[$i]}" "$work/pg/$name.log" "$PGBIN/pg_isready" -q -h "$work/pg/$name" -p "${PORT[pg/$name]}"
  wait_until 60 "${MY_PIDS[$i]}" "$work/my/$name.log" mariadb --no-defaults -S "$work/my/$name.sock" -uroot -e 'SELECT 1'
  mariadb --no-defaults -S "$work/my/$name.sock" -uroot -e \
    "CREATE USER '$USER_'@'%' IDENTIFIED BY '$PASSWORD'; CREATE DATABASE $DB; GRANT ALL ON $DB.* TO '$USER_'@'%';"
  wait_until 20 "${KV_PIDS[$i]}" "$work/kv/$name.log" grep -q 'Ready to accept' "$work/kv/$name.log"
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
    case $line in
      *'"ok":true'*'"encrypted":true'*) got=enc ;;
      *'"ok":true'*) got=PLAIN ;;
      *) got=refused ;;
    esac
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
