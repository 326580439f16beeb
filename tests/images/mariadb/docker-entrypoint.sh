#!/usr/bin/env bash
# Entrypoint of the mariadb:10.11 stand-in. Follows the official image's contract:
#   MARIADB_ROOT_PASSWORD | MARIADB_ALLOW_EMPTY_ROOT_PASSWORD | MARIADB_RANDOM_ROOT_PASSWORD
#   (one is required on first run), MARIADB_ROOT_HOST (default %), MARIADB_DATABASE,
#   MARIADB_USER + MARIADB_PASSWORD (ALL on the database, host %),
#   MARIADB_INITDB_SKIP_TZINFO; each also as MYSQL_* and as *_FILE.
# First run (no mysql/ in the data dir): mariadb-install-db, temporary server with
# --skip-networking, users and database, /docker-entrypoint-initdb.d, shut down;
# then exec mariadbd (as user mysql, PID 1). Arguments starting with - go to mariadbd.
set -Eeo pipefail

log() {
  local type=$1; shift
  local text="$*"
  if [ "$#" -eq 0 ]; then text=$(cat); fi
  printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$text"
}
note() { log Note "$@"; }
warn() { log Warn "$@" >&2; }
error() { log ERROR "$@" >&2; exit 1; }

# file_env NAME [DEFAULT]: MARIADB_NAME from MARIADB_NAME, MARIADB_NAME_FILE,
# MYSQL_NAME or MYSQL_NAME_FILE (first set wins; a value and its _FILE are exclusive).
file_env() {
  local mvar="MARIADB_$1" yvar="MYSQL_$1" val=${2:-}
  local mfile="${mvar}_FILE" yfile="${yvar}_FILE"
  if [ -n "${!mvar:-}" ] && [ -n "${!mfile:-}" ]; then error "Both $mvar and $mfile are set (but are exclusive)"; fi
  if [ -n "${!yvar:-}" ] && [ -n "${!yfile:-}" ]; then error "Both $yvar and $yfile are set (but are exclusive)"; fi
  if [ -n "${!mvar:-}" ]; then val=${!mvar}
  elif [ -n "${!mfile:-}" ]; then val=$(<"${!mfile}")
  elif [ -n "${!yvar:-}" ]; then val=${!yvar}
  elif [ -n "${!yfile:-}" ]; then val=$(<"${!yfile}")
  fi
  export "$mvar=$val"
  unset "$mfile" "$yfile"
}

wants_help() {
  local a
  for a; do
    case "$a" in -'?'|--help|--print-defaults|-V|--version) return 0 ;; esac
  done
  return 1
}

# get_config NAME SERVER-ARGS...: value of a server option after all config files.
get_config() {
  local conf=$1; shift
  "$@" --verbose --help 2>/dev/null | awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

check_config() {
  local out
  if ! out=$("$@" --verbose --help 2>&1 >/dev/null); then
    error $'mariadbd failed while attempting to check config\n\tcommand was: '"$*"$'\n\t'"$out"
  fi
}

setup_env() {
  DATADIR=$(get_config datadir "$@")
  SOCKET=$(get_config socket "$@")
  file_env ROOT_HOST '%'
  file_env DATABASE
  file_env USER
  file_env PASSWORD
  file_env ROOT_PASSWORD
  # Booleans: any non-empty value.
  : "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-${MYSQL_ALLOW_EMPTY_ROOT_PASSWORD:-}}}"
  : "${MARIADB_RANDOM_ROOT_PASSWORD:=${MYSQL_RANDOM_ROOT_PASSWORD:-}}"
  : "${MARIADB_INITDB_SKIP_TZINFO:=${MYSQL_INITDB_SKIP_TZINFO:-}}"
  export MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MARIADB_RANDOM_ROOT_PASSWORD MARIADB_INITDB_SKIP_TZINFO
  DATABASE_ALREADY_EXISTS=
  if [ -d "$DATADIR/mysql" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_db_directories() {
  mkdir -p "$DATADIR"
  if [ "$(id -u)" = 0 ]; then
    find "$DATADIR" \! -user mysql -exec chown mysql: '{}' +
    local sockdir
    sockdir=$(dirname "$SOCKET")
    mkdir -p "$sockdir"
    find "$sockdir" -maxdepth 0 \! -user mysql -exec chown mysql: '{}' \;
  fi
}

verify_minimum_env() {
  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
  fi
  if [ "$MARIADB_USER" = root ]; then
    error 'MARIADB_USER="root", MARIADB_USER and MARIADB_PASSWORD are for configuring the regular user and cannot be used for the root user.
    Remove MARIADB_USER="root" and use one of the following to control the root user password:
    - MARIADB_ROOT_PASSWORD
    - MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
    - MARIADB_RANDOM_ROOT_PASSWORD'
  fi
  if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
    warn "MARIADB_USER set, but MARIADB_PASSWORD not set: the user gets an empty password"
  fi
}

init_database_dir() {
  note "Initializing database files"
  mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal "${@:2}" \
    --skip-test-db \
    --old-mode='UTF8_IS_UTF8MB3' \
    --default-time-zone=SYSTEM --enforce-storage-engine= \
    --skip-log-bin \
    --expire-logs-days=0 \
    --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0
  note "Database files initialized"
}

# exec_client ARGS...: the mariadb client as root over the socket.
exec_client() {
  if [ -n "$MARIADB_DATABASE" ] && [ "${CLIENT_USE_DB:-1}" = 1 ]; then set -- --database="$MARIADB_DATABASE" "$@"; fi
  mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "$@"
}

process_sql() {
  if [ "$1" = --dont-use-mysql-root-password ]; then
    shift
    MYSQL_PWD='' exec_client "$@"
  else
    MYSQL_PWD=$MARIADB_ROOT_PASSWORD exec_client "$@"
  fi
}

temp_server_start() {
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
    --expire-logs-days=0 --skip-slave-start \
    --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0 &
  MARIADB_PID=$!
  note "Waiting for server startup"
  local _
  for _ in $(seq 300); do
    if CLIENT_USE_DB=0 process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' &>/dev/null; then
      return 0
    fi
    kill -0 "$MARIADB_PID" 2>/dev/null || error "Unable to start server."
    sleep 0.1
  done
  error "Unable to start server."
}

temp_server_stop() {
  kill "$MARIADB_PID"
  wait "$MARIADB_PID"
}

sql_escape_string_literal() {
  local newline=$'\n'
  local escaped=${1//\\/\\\\}
  escaped=${escaped//$newline/\\n}
  printf '%s' "${escaped//\'/\\\'}"
}

setup_db() {
  if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ]; then
    note "Loading time zone info"
    # --skip-write-binlog: nothing to replicate yet.
    mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo \
      | CLIENT_USE_DB=0 process_sql --dont-use-mysql-root-password --database=mysql
  fi
  if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    MARIADB_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    export MARIADB_ROOT_PASSWORD
    note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi

  local rootpw root_create='' db_create='' user_create='' user_grants=''
  rootpw=$(sql_escape_string_literal "$MARIADB_ROOT_PASSWORD")
  if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
    root_create="CREATE USER 'root'@'${MARIADB_ROOT_HOST}' IDENTIFIED BY '${rootpw}' ;
GRANT ALL ON *.* TO 'root'@'${MARIADB_ROOT_HOST}' WITH GRANT OPTION ;
GRANT PROXY ON ''@'%' TO 'root'@'${MARIADB_ROOT_HOST}' WITH GRANT OPTION ;"
  fi
  if [ -n "$MARIADB_DATABASE" ]; then
    note "Creating database ${MARIADB_DATABASE}"
    db_create="CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\` ;"
  fi
  if [ -n "$MARIADB_USER" ]; then
    note "Creating user ${MARIADB_USER}"
    local userpw
    userpw=$(sql_escape_string_literal "$MARIADB_PASSWORD")
    user_create="CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$userpw' ;"
    if [ -n "$MARIADB_DATABASE" ]; then
      note "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}"
      user_grants="GRANT ALL ON \`${MARIADB_DATABASE//_/\\_}\`.* TO '$MARIADB_USER'@'%' ;"
    fi
  fi

  note "Securing system users (equivalent to running mysql_secure_installation)"
  CLIENT_USE_DB=0 process_sql --dont-use-mysql-root-password --database=mysql --binary-mode <<-EOSQL
	SET @orig_sql_log_bin= @@SESSION.SQL_LOG_BIN;
	SET @@SESSION.SQL_LOG_BIN=0;
	SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
	DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
	EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');
	SET PASSWORD FOR 'root'@'localhost'= PASSWORD('${rootpw}');
	${root_create}
	SET @@SESSION.SQL_LOG_BIN=@orig_sql_log_bin;
	${db_create}
	${user_create}
	${user_grants}
	FLUSH PRIVILEGES;
	EOSQL
}

process_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        # shellcheck disable=SC1090
        if [ -x "$f" ]; then note "$0: running $f"; "$f"
        else note "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) note "$0: running $f"; process_sql <"$f" ;;
      *.sql.gz) note "$0: running $f"; gunzip -c "$f" | process_sql ;;
      *) warn "$0: ignoring $f" ;;
    esac
  done
}

main() {
  # "--key=val": arguments for mariadbd.
  if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi

  if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && ! wants_help "$@"; then
    note "Entrypoint script for MariaDB Server (provision test stand-in) started."
    check_config "$@"
    setup_env "$@"
    create_db_directories
    if [ "$(id -u)" = 0 ]; then
      note "Switching to dedicated user 'mysql'"
      exec gosu mysql "${BASH_SOURCE[0]}" "$@"
    fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_minimum_env
      init_database_dir "$@"
      note "Starting temporary server"
      temp_server_start "$@"
      note "Temporary server started."
      setup_db
      process_init_files
      note "Stopping temporary server"
      temp_server_stop
      note "Temporary server stopped"
      echo
      note "MariaDB init process done. Ready for start up."
      echo
    fi
  fi
  exec "$@"
}

main "$@"
