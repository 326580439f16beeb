#!/usr/bin/env bash
# Run one cell of the client matrix: one real client library connects to the database of one
# link, the way an app would, and says whether the server sees the session encrypted.
#
#   tests/clients/run.sh CLIENT PREFIX
#
# CLIENT: psycopg psycopg2 sqlalchemy-pg node-pg ruby-pg jdbc-pg            (Postgres)
#         sqlalchemy-mysql sqlalchemy-myconnector mysql2 ruby-mysql2 jdbc-mysql  (MySQL/MariaDB)
#         redis-py node-redis ioredis ruby-redis                            (Redis/Valkey)
#         (sqlalchemy-mysql and sqlalchemy-myconnector run the same program: the URL's
#         scheme, mysql+pymysql:// or mysql+mysqlconnector://, picks the driver.)
# PREFIX: the link's prefix. The client reads ${PREFIX}_URL exactly as given (ruby-mysql2,
#         whose library takes no URL, reads ${PREFIX}_HOST/_PORT/_USERNAME/_PASSWORD/_PATH and
#         ${PREFIX}_CA_FILE instead), plus the process-wide CA variables it honours
#         (PGSSLROOTCERT, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE).
#
# Prints exactly one JSON line on stdout and never the password or the URL:
#   {"client":"psycopg","ok":true,"encrypted":true,"detail":"TLSv1.3 TLS_AES_256_GCM_SHA384"}  exit 0
#   {"client":"psycopg","ok":false,"error":"<the client's error message>"}                   exit 1
# "encrypted" is the server's view (Postgres pg_stat_ssl, MySQL/MariaDB Ssl_cipher) or, for
# Redis, the client's socket (Redis has no in-band TLS upgrade: SET and GET worked over it).
# Exit 2: usage error. The clients come from tests/support/ensure-clients.sh (not run here).
#
# Environment: PROVISION_CLIENTS_HOME (default /var/cache/provision-clients),
# PROVISION_CLIENT_TIMEOUT seconds for the whole cell (default 60).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
home=${PROVISION_CLIENTS_HOME:-/var/cache/provision-clients}
usage() { echo "usage: $0 CLIENT PREFIX (see the header of $0)" >&2; exit 2; }
[ $# -eq 2 ] || usage
client=$1 prefix=$2
[[ $prefix =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || usage

py=("$home/venv/bin/python" -E -s -B)   # -B: no __pycache__ in the work tree
java=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC)
case $client in
  psycopg)          cmd=("${py[@]}" "$here/python/psycopg_cell.py") ;;
  psycopg2)         cmd=("${py[@]}" "$here/python/psycopg2_cell.py") ;;
  sqlalchemy-pg)    cmd=("${py[@]}" "$here/python/sqlalchemy_pg.py") ;;
  sqlalchemy-mysql|sqlalchemy-myconnector)
                    cmd=("${py[@]}" "$here/python/sqlalchemy_mysql.py") ;;
  redis-py)         cmd=("${py[@]}" "$here/python/redis_py.py") ;;
  node-pg)          cmd=(node "$here/node/node_pg.js") ;;
  mysql2)           cmd=(node "$here/node/mysql2.js") ;;
  node-redis)       cmd=(node "$here/node/node_redis.js") ;;
  ioredis)          cmd=(node "$here/node/ioredis.js") ;;
  ruby-pg)          cmd=(ruby "$here/ruby/ruby_pg.rb") ;;
  ruby-mysql2)      cmd=(ruby "$here/ruby/ruby_mysql2.rb") ;;
  ruby-redis)       cmd=(ruby "$here/ruby/ruby_redis.rb") ;;
  jdbc-pg)          cmd=("${java[@]}" -cp /usr/share/java/postgresql.jar "$here/java/JdbcPg.java") ;;
  jdbc-mysql)       cmd=("${java[@]}" -cp /usr/share/java/mariadb-java-client.jar "$here/java/JdbcMysql.java") ;;
  *) echo "run.sh: unknown client '$client'" >&2; usage ;;
esac
export NODE_PATH="$home/node/node_modules${NODE_PATH:+:$NODE_PATH}"

# Blank out the link's secrets (raw and percent-encoded password, the URL) in $1.
redact() {
  local text=$1 secret enc
  secret="${prefix}_PASSWORD"; secret=${!secret:-}
  enc=$(printf '%s' "$secret" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g')
  local url="${prefix}_URL"; url=${!url:-}
  for s in "$url" "$secret" "$enc" "${enc^^}"; do
    [ -n "$s" ] && text=${text//"$s"/***}
  done
  printf '%s' "$text"
}
json_string() {  # $1 -> a JSON string literal (control characters become spaces)
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$(printf '%s' "$s" | tr '\000-\037' ' ')"
}

errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
out=$(timeout "${PROVISION_CLIENT_TIMEOUT:-60}" "${cmd[@]}" "$prefix" "$client" 2>"$errf" </dev/null)
rc=$?
if [ -s "$errf" ]; then redact "$(cat "$errf")" | sed "s/^/run.sh $client: /" >&2; echo >&2; fi

line=$(printf '%s\n' "$out" | grep -m1 '^{"client"' || true)
if [ -n "$line" ]; then
  printf '%s\n' "$(redact "$line")"
  case $line in *'"ok":true'*|*'"ok": true'*) exit 0 ;; *) exit 1 ;; esac
fi
# The program died before it could answer (missing runtime or module, timeout, crash).
if [ "$rc" = 124 ]; then
  why="timed out after ${PROVISION_CLIENT_TIMEOUT:-60}s"
else
  first=$(grep -m1 -E 'Error|error|No such file|not found' "$errf" || grep -v '^[[:space:]]*$' "$errf" | tail -n 1)
  why="exited $rc without an answer: ${first:-no output}"
fi
if [ ! -e "$home/.stamp" ]; then why+=" (clients not installed in $home? run tests/support/ensure-clients.sh)"; fi
printf '{"client":%s,"ok":false,"error":%s}\n' "$(json_string "$client")" "$(json_string "$(redact "$why")")"
exit 1
