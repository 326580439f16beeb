# Shared by tests/clients/selfcheck.sh and tests/clients/cloud-shaped.sh (sourced, not run):
# the client list, the clients' known weaknesses, certificates made with openssl, and
# starting/stopping the Postgres 15, MariaDB and Redis servers the cells connect to.
#
# The sourcing script sets LIB_TAG (the prefix of messages) first. Every server started here is
# recorded in PIDS (with its stop signal in STOPSIG); stop_servers stops them all by PID.

PGBIN=/usr/lib/postgresql/15/bin
CLIENTS_HOME=${PROVISION_CLIENTS_HOME:-/var/cache/provision-clients}

ALL_CLIENTS=(psycopg psycopg2 sqlalchemy-pg node-pg ruby-pg jdbc-pg
             sqlalchemy-mysql sqlalchemy-myconnector mysql2 ruby-mysql2 jdbc-mysql
             redis-py node-redis ioredis ruby-redis)
# The server each client talks to: pg (Postgres), my (MySQL/MariaDB), kv (Redis/Valkey).
declare -A ENGINE=(
  [psycopg]=pg [psycopg2]=pg [sqlalchemy-pg]=pg [node-pg]=pg [ruby-pg]=pg [jdbc-pg]=pg
  [sqlalchemy-mysql]=my [sqlalchemy-myconnector]=my [mysql2]=my [ruby-mysql2]=my [jdbc-mysql]=my
  [redis-py]=kv [node-redis]=kv [ioredis]=kv [ruby-redis]=kv
)
# Known weaknesses of a client, whatever the options: CLIENT/COLUMN -> OUTCOME|why. The cell
# must keep showing exactly OUTCOME (enc, PLAIN or refused), else it counts as unexpected, so
# that this table gets updated. Columns: selfcheck.sh's (good-ip, wrongname-ip, no-tls, ...)
# and cloud-shaped.sh's (good, other-ca, no-tls).
MYSQL2_053='Debian ruby-mysql2 0.5.3 on libmariadb 3.3: ssl_mode is ignored ("does not support setting ssl_mode") and sslverify sets a flag libmariadb never reads'
declare -A KNOWN_UNSAFE=(
  [ruby-mysql2/wrongname-ip]="enc|$MYSQL2_053: no host name check"
  [ruby-mysql2/no-tls]="PLAIN|$MYSQL2_053: silently goes on in plain text"
)

PIDS=()
declare -A STOPSIG=()

say() { printf '%s: %s\n' "${LIB_TAG:-clients}" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---- what must be installed ---------------------------------------------------------------
need_servers() {  # die unless the server binaries and openssl are there
  local b
  for b in "$PGBIN/postgres" "$PGBIN/initdb" "$PGBIN/pg_isready" /usr/sbin/mariadbd \
           /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/bin/redis-server /usr/bin/openssl \
           /usr/bin/setpriv; do
    [ -x "$b" ] || die "$b is missing (run tests/support/ensure-native.sh)"
  done
  getent passwd postgres >/dev/null || die "no postgres user (run tests/support/ensure-native.sh)"
  getent passwd mysql >/dev/null || die "no mysql user (run tests/support/ensure-native.sh)"
}
need_client() {  # need_client CLIENT: die unless what run.sh runs CLIENT with is installed
  local c=$1 what=()
  case $c in
    psycopg|psycopg2|sqlalchemy-pg|sqlalchemy-mysql|sqlalchemy-myconnector|redis-py)
      what=("$CLIENTS_HOME/venv/bin/python") ;;
    node-pg) what=(node "$CLIENTS_HOME/node/node_modules/pg") ;;
    mysql2) what=(node "$CLIENTS_HOME/node/node_modules/mysql2") ;;
    node-redis) what=(node "$CLIENTS_HOME/node/node_modules/redis") ;;
    ioredis) what=(node "$CLIENTS_HOME/node/node_modules/ioredis") ;;
    ruby-pg|ruby-mysql2|ruby-redis) what=(ruby) ;;
    jdbc-pg) what=(java /usr/share/java/postgresql.jar) ;;
    jdbc-mysql) what=(java /usr/share/java/mariadb-java-client.jar) ;;
    *) die "unknown client '$c' (one of: ${ALL_CLIENTS[*]})" ;;
  esac
  local w
  for w in "${what[@]}"; do
    case $w in
      /*) [ -e "$w" ] || die "client $c: $w is missing (run tests/support/ensure-clients.sh)" ;;
      *) command -v "$w" >/dev/null 2>&1 || die "client $c: no '$w' on PATH (run tests/support/ensure-clients.sh)" ;;
    esac
  done
  case $c in
    ruby-pg) ruby -e 'require "pg"' 2>/dev/null ;;
    ruby-mysql2) ruby -e 'require "mysql2"' 2>/dev/null ;;
    ruby-redis) ruby -e 'require "redis"' 2>/dev/null ;;
  esac || die "client $c: the Ruby library does not load (run tests/support/ensure-clients.sh)"
}

# ---- small helpers ------------------------------------------------------------------------
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
outcome_of() {  # outcome_of JSON_LINE -> enc | PLAIN | refused
  case $1 in
    *'"ok":true'*'"encrypted":true'*) echo enc ;;
    *'"ok":true'*) echo PLAIN ;;
    *) echo refused ;;
  esac
}
kv_auth_line() {  # kv_auth_line USER PASSWORD... -> a redis.conf ACL line (hashes, no clear text)
  local user=$1 p line; shift
  line="user $user on resetpass"
  for p in "$@"; do line+=" #$(printf '%s' "$p" | sha256sum | cut -d' ' -f1)"; done
  printf '%s ~* &* +@all\n' "$line"
}

# ---- certificates -------------------------------------------------------------------------
mkca() {  # mkca DIR NAME SUBJECT [ISSUER]: DIR/NAME.{key,pem}, a root CA, or with ISSUER (a
          # CA in DIR) an intermediate CA it signs. SUBJECT as openssl -subj: /O=.../CN=...
  local d=$1 n=$2 subj=$3 issuer=${4:-}
  if [ -z "$issuer" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "$subj" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$d/$n.key" -out "$d/$n.pem" 2>/dev/null || die "openssl: making CA $n failed"
  else
    openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null \
      || die "openssl: making CA $n failed"
    printf '%s\n' basicConstraints=critical,CA:TRUE,pathlen:0 keyUsage=critical,keyCertSign,cRLSign \
      subjectKeyIdentifier=hash authorityKeyIdentifier=keyid:always >"$d/$n.ext"
    openssl x509 -req -in "$d/$n.csr" -CA "$d/$issuer.pem" -CAkey "$d/$issuer.key" -CAcreateserial \
      -days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null || die "openssl: signing CA $n failed"
  fi
}
mkcert() {  # mkcert DIR NAME CA CN SAN: DIR/NAME.{key,pem}, a server certificate signed by DIR/CA
  local d=$1 n=$2 ca=$3 cn=$4 san=$5
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null \
    || die "openssl: making the key of $n failed"
  printf '%s\n' "subjectAltName=$san" basicConstraints=CA:FALSE \
    keyUsage=critical,digitalSignature,keyEncipherment extendedKeyUsage=serverAuth \
    subjectKeyIdentifier=hash authorityKeyIdentifier=keyid:always >"$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" -CAcreateserial -days 2 \
    -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null || die "openssl: signing $n failed"
}

# ---- servers ------------------------------------------------------------------------------
# Each *_start runs the server in the background as a direct child (setpriv execs), puts its PID
# in STARTED_PID and PIDS. CERT empty: no TLS at all; else CERT (the server's certificate,
# followed by any intermediate CA it must send) and KEY, and the server refuses plain text:
# Postgres pg_hba.conf has only hostssl lines, MariaDB require_secure_transport=ON, Redis has
# only its TLS port (--port 0).

pg_init() {  # pg_init DATADIR < SQL: initdb (superuser password random) + SQL in single-user mode
  local d=$1
  install -d -o postgres -g postgres -m 700 "$d"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d.pw"
  chown postgres "$d.pw"
  as postgres "$PGBIN/initdb" -D "$d" -U postgres --auth=scram-sha-256 --pwfile="$d.pw" -E UTF8 \
    --no-sync </dev/null >"$d.initdb.log" 2>&1 || { cat "$d.initdb.log" >&2; die "initdb $d failed"; }
  rm -f "$d.pw"
  as postgres "$PGBIN/postgres" --single -D "$d" postgres >"$d.single.log" 2>&1 \
    || { cat "$d.single.log" >&2; die "SQL in single-user Postgres ($d) failed"; }
  if grep -q 'ERROR:' "$d.single.log"; then cat "$d.single.log" >&2; die "SQL in single-user Postgres ($d) failed"; fi
}
pg_start() {  # pg_start DATADIR ADDR PORT [CERT KEY]; log: DATADIR.log
  local d=$1 addr=$2 port=$3 cert=${4:-} key=${5:-}
  local args=(-D "$d" -p "$port" -c listen_addresses="$addr" -c unix_socket_directories="$d"
              -c fsync=off -c max_connections=30 -c shared_buffers=16MB -c hba_file="$d/hba.conf")
  if [ -n "$cert" ]; then
    install -o postgres -m 600 "$cert" "$d/server.crt"
    install -o postgres -m 600 "$key" "$d/server.key"
    echo 'hostssl all all 127.0.0.0/8 scram-sha-256' >"$d/hba.conf"
    args+=(-c ssl=on -c ssl_cert_file="$d/server.crt" -c ssl_key_file="$d/server.key")
  else
    echo 'host all all 127.0.0.0/8 scram-sha-256' >"$d/hba.conf"
    args+=(-c ssl=off)
  fi
  # A simple command, not the function `as`: $! must be the postmaster itself.
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/postgres" "${args[@]}" >>"$d.log" 2>&1 &
  STARTED_PID=$!; PIDS+=("$STARTED_PID"); STOPSIG[$STARTED_PID]=INT   # INT: fast shutdown
}
pg_wait() {  # pg_wait PID DATADIR PORT
  wait_until 60 "$1" "$2.log" "$PGBIN/pg_isready" -q -h "$2" -p "$3"
}

my_init() {  # my_init DATADIR
  local d=$1
  install -d -o mysql -g mysql "$(dirname "$d")"
  mariadb-install-db --no-defaults --user=mysql --datadir="$d" \
    --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
    >"$d.install.log" 2>&1 || { cat "$d.install.log" >&2; die "mariadb-install-db $d failed"; }
}
my_start() {  # my_start DATADIR ADDR PORT [CERT KEY]; socket DATADIR.sock, log DATADIR.log
  local d=$1 addr=$2 port=$3 cert=${4:-} key=${5:-}
  local args=(--no-defaults --user=mysql --datadir="$d" --port="$port" --bind-address="$addr"
              --socket="$d.sock" --pid-file="$d.pid" --log-error="$d.log" --skip-name-resolve
              --skip-log-bin --innodb-buffer-pool-size=16M --max-connections=30)
  if [ -n "$cert" ]; then
    install -o mysql -m 600 "$cert" "$d.server.crt"
    install -o mysql -m 600 "$key" "$d.server.key"
    args+=(--ssl-cert="$d.server.crt" --ssl-key="$d.server.key" --require-secure-transport=ON)
  else
    args+=(--skip-ssl)
  fi
  /usr/sbin/mariadbd "${args[@]}" >/dev/null 2>&1 &
  STARTED_PID=$!; PIDS+=("$STARTED_PID"); STOPSIG[$STARTED_PID]=TERM
}
my_wait() {  # my_wait PID DATADIR
  wait_until 60 "$1" "$2.log" mariadb --no-defaults -S "$2.sock" -uroot -e 'SELECT 1'
}
my_sql() {  # my_sql DATADIR < SQL: as root over the Unix socket (SQL on stdin: not in ps)
  mariadb --no-defaults -S "$1.sock" -uroot || die "SQL in MariaDB ($1) failed"
}

kv_start() {  # kv_start DIR NAME ADDR PORT AUTHCONF [CERT KEY CA]; log DIR/NAME.log
  local d=$1 n=$2 addr=$3 port=$4 auth=$5 cert=${6:-} key=${7:-} ca=${8:-}
  # AUTHCONF (a redis.conf with the ACL lines, see kv_auth_line) keeps passwords out of ps.
  local args=("$auth" --bind "$addr" --save '' --appendonly no --dir "$d" --logfile "$d/$n.log"
              --daemonize no)
  if [ -n "$cert" ]; then
    args+=(--port 0 --tls-port "$port" --tls-cert-file "$cert" --tls-key-file "$key"
           --tls-ca-cert-file "$ca" --tls-auth-clients no)
  else
    args+=(--port "$port")
  fi
  redis-server "${args[@]}" >/dev/null 2>&1 &
  STARTED_PID=$!; PIDS+=("$STARTED_PID"); STOPSIG[$STARTED_PID]=TERM
}
kv_wait() {  # kv_wait PID DIR NAME: ready once this start (PID) logged "Ready to accept"
  wait_until 20 "$1" "$2/$3.log" grep -q "^$1:.*Ready to accept" "$2/$3.log"
}

stop_servers() {  # stop every server in PIDS by PID (its STOPSIG, then KILL after 30 s)
  local pid
  for pid in "${PIDS[@]}"; do kill "-${STOPSIG[$pid]:-TERM}" "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  PIDS=()
}
