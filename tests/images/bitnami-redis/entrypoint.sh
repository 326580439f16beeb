#!/usr/bin/env bash
# Entrypoint of the bitnami/redis stand-in (see the Dockerfile for the contract it follows).
set -Eeo pipefail
if [ "${1:-}" != /opt/bitnami/scripts/redis/run.sh ] && [ -n "${1:-}" ]; then
  exec "$@"
fi
if [ -z "${REDIS_PASSWORD:-}" ] && [ "${ALLOW_EMPTY_PASSWORD:-no}" != yes ]; then
  echo "redis ERROR ==> The REDIS_PASSWORD environment variable is empty or not set. Set the environment variable ALLOW_EMPTY_PASSWORD=yes to allow the container to be started with blank passwords. This is recommended only for development." >&2
  exit 1
fi
conf=/tmp/redis.conf
{
  echo "port ${REDIS_PORT_NUMBER:-6379}"
  echo "dir /bitnami/redis/data"
  echo "appendonly ${REDIS_AOF_ENABLED:-yes}"
  echo "protected-mode no"
  if [ -n "${REDIS_PASSWORD:-}" ]; then echo "requirepass $REDIS_PASSWORD"; fi
} >"$conf"
chmod 600 "$conf"
exec redis-server "$conf"
