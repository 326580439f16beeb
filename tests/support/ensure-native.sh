#!/usr/bin/env bash
# Install Debian's native database servers and clients used by the tests, and make
# sure none of them is left running (the tests need ports 5432/6379/3306/11211 free
# and start their own servers).
#
#   tests/support/ensure-native.sh                  install what is missing
#   tests/support/ensure-native.sh --list-packages  print the package list
#
# Servers: postgresql (binaries in /usr/lib/postgresql/15/bin), redis-server,
# mariadb-server, memcached. Clients: postgresql-client, mariadb-client, redis-tools.
# Tools: hyperfine. Packages are installed with a policy-rc.d that forbids starting
# services (see apt-install.sh). Fast no-op when all is installed and nothing runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PACKAGES=(
  postgresql postgresql-client
  redis-server redis-tools
  mariadb-server mariadb-client
  memcached
  hyperfine
)

if [ "${1:-}" = --list-packages ]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi

"$here/apt-install.sh" "${PACKAGES[@]}"
"$here/stop-system-servers.sh"

for b in /usr/lib/postgresql/15/bin/postgres /usr/lib/postgresql/15/bin/initdb \
         /usr/lib/postgresql/15/bin/pg_ctl /usr/bin/psql /usr/bin/redis-server /usr/bin/redis-cli \
         /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/bin/memcached \
         /usr/bin/hyperfine; do
  [ -x "$b" ] || { printf 'ensure-native: ERROR: %s missing after install\n' "$b" >&2; exit 1; }
done
