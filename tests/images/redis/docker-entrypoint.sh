#!/usr/bin/env bash
# Entrypoint of the redis:7 stand-in. Follows the official image's contract:
# - first argument starting with "-" or ending with ".conf": prepend redis-server;
# - redis-server runs as user redis (files in the working directory /data are
#   chowned to it first) with umask 0077;
# - the official binary is built with protected mode off by default; Debian's is not,
#   so "--protected-mode no" is added unless the user sets protected-mode (in the
#   arguments or in a given config file). User arguments such as
#   "--requirepass X --appendonly yes" are passed through unchanged.
# Without a config file redis binds to all interfaces (upstream default).
set -Eeo pipefail

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "${BASH_SOURCE[0]}" "$@"
fi

if [ "$(umask)" = 0022 ]; then umask 0077; fi

if [ "$1" = redis-server ]; then
  shift
  case "${1:-}" in
    -v|--version|-h|--help|--test-memory|--check-system) ;;
    *)
      conf=()
      if [ $# -gt 0 ] && [ "${1#-}" = "$1" ] || [ "${1:-}" = - ]; then conf=("$1"); shift; fi
      has_pm=
      for a in "$@"; do
        if [ "$a" = --protected-mode ]; then has_pm=1; fi
      done
      if [ ${#conf[@]} -gt 0 ] && [ -f "${conf[0]}" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "${conf[0]}"; then
        has_pm=1
      fi
      if [ -z "$has_pm" ]; then set -- --protected-mode no "$@"; fi
      set -- "${conf[@]}" "$@"
      ;;
  esac
  set -- redis-server "$@"
fi

exec "$@"
