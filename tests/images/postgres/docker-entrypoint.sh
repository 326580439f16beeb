#!/usr/bin/env bash
# Entrypoint of the postgres:15 and postgres:18 stand-ins. Follows the official image's contract:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER
#   (default postgres), POSTGRES_DB (default: the user), POSTGRES_INITDB_ARGS,
#   POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD, *_FILE variants, PGDATA.
# First run (no PG_VERSION in PGDATA): initdb as postgres, pg_hba "host all all all
# <method>", temporary server on the unix socket only, create the database, run
# /docker-entrypoint-initdb.d/*.sh|*.sql, stop; then exec the server (PID 1).
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE.
file_env() {
  local var=$1 file_var="${1}_FILE" def=${2:-} val
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
    exit 1
  fi
  val=$def
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!file_var:-}" ]; then
    val=$(<"${!file_var}")
  fi
  export "$var=$val"
  unset "$file_var"
}

wants_help() {
  local a
  for a; do
    case "$a" in -'?'|--help|--describe-config|-V|--version) return 0 ;; esac
  done
  return 1
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  : "${PGDATA:=/var/lib/postgresql/data}"
  export PGDATA
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_dirs() {
  local uid
  uid=$(id -u)
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    if [ "$uid" = 0 ]; then find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +; fi
    chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [ "$uid" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_minimum_env() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<-'EOE'
		Error: Database is uninitialized and superuser password is not specified.
		       You must specify POSTGRES_PASSWORD to a non-empty value for the
		       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

		       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
		       connections without a password. This is *not* recommended.

		       See PostgreSQL documentation about "trust":
		       https://www.postgresql.org/docs/current/auth-trust.html
	EOE
    exit 1
  fi
  if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
    cat >&2 <<-'EOW'
		********************************************************************************
		WARNING: POSTGRES_HOST_AUTH_METHOD has been set to "trust". This will allow
		         anyone with access to the Postgres port to access your database without
		         a password, even if POSTGRES_PASSWORD is set.
		********************************************************************************
	EOW
  fi
}

init_database_dir() {
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"; fi
  # POSTGRES_INITDB_ARGS is word-split on purpose, as in the official image.
  # shellcheck disable=SC2086
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'
}

setup_hba_conf() {
  if [ "${1:-}" = postgres ]; then shift; fi
  local auth
  auth=$(postgres -C password_encryption "$@")
  : "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
  {
    printf '\n'
    if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
      printf '# warning trust is enabled for all connections\n'
    fi
    printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
  } >>"$PGDATA/pg_hba.conf"
}

process_sql() {
  local args=(-v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ -n "$POSTGRES_DB" ]; then args+=(--dbname "$POSTGRES_DB"); fi
  PGHOST='' PGHOSTADDR='' psql "${args[@]}" "$@"
}

temp_server_start() {
  if [ "${1:-}" = postgres ]; then shift; fi
  set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

setup_db() {
  local exists
  # POSTGRES_DB='' : connect to "postgres"; --set db= still gets the real name.
  # shellcheck disable=SC2097,SC2098
  exists=$(POSTGRES_DB='' process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
  )
  if [ -z "$exists" ]; then
    # shellcheck disable=SC2097,SC2098
    POSTGRES_DB='' process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
    printf '\n'
  fi
}

process_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        # shellcheck disable=SC1090
        if [ -x "$f" ]; then printf '%s: running %s\n' "$0" "$f"; "$f"
        else printf '%s: sourcing %s\n' "$0" "$f"; . "$f"; fi ;;
      *.sql) printf '%s: running %s\n' "$0" "$f"; process_sql -f "$f"; printf '\n' ;;
      *.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | process_sql; printf '\n' ;;
      *) printf '%s: ignoring %s\n' "$0" "$f" ;;
    esac
  done
}

# From 18 the official image keeps PGDATA in a major-version directory under the volume at
# /var/lib/postgresql, and refuses to start when something is mounted at the pre-18 path
# /var/lib/postgresql/data, whose data it would otherwise silently ignore
# (docker-library/postgres pull 1259; the official entrypoint's message, abridged).
refuse_old_mount_18() {
  local old=/var/lib/postgresql/data
  if [ "${PG_MAJOR%%.*}" -ge 18 ] && [ "$PGDATA" != "$old" ] && mountpoint -q "$old"; then
    cat >&2 <<-EOE
		Error: in 18+, these Docker images are configured to store database data in a
		       format which is compatible with "pg_ctlcluster" (specifically, using
		       major-version-specific directory names).

		       Counter to that, there appears to be PostgreSQL data in:
		         $old (unused mount/volume)

		       The suggested container configuration for 18+ is to place a single mount
		       at /var/lib/postgresql which will then place PostgreSQL data in a
		       subdirectory.
	EOE
    exit 1
  fi
}

main() {
  # "-c key=val", "--foo": arguments for postgres.
  if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

  if [ "$1" = postgres ] && ! wants_help "$@"; then
    setup_env
    refuse_old_mount_18
    create_dirs
    if [ "$(id -u)" = 0 ]; then
      # Re-run this script as the postgres user.
      exec gosu postgres "${BASH_SOURCE[0]}" "$@"
    fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_minimum_env
      init_database_dir
      setup_hba_conf "$@"
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      temp_server_start "$@"
      setup_db
      process_init_files
      temp_server_stop
      unset PGPASSWORD
      printf '\nPostgreSQL init process complete; ready for start up.\n\n'
    else
      printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
    fi
  fi
  exec "$@"
}

main "$@"
