#!/usr/bin/env bash
# Entrypoint of the memcached:1.6 stand-in, as in the official image: a first argument
# starting with "-" gets "memcached" prepended; the image runs as user memcache.
set -Eeo pipefail

if [ "${1#-}" != "$1" ]; then
  set -- memcached "$@"
fi

exec "$@"
