#!/usr/bin/env bash
# Install the database clients of the client matrix (tests/clients/run.sh, selfcheck.sh):
# the libraries apps really use, at exact versions, to check that provision's link URLs
# are read the way we think (TLS on, CA checked, host name checked).
#
#   tests/support/ensure-clients.sh                  install what is missing
#   tests/support/ensure-clients.sh --list-packages  print the Debian packages, one a line
#
# Into $PROVISION_CLIENTS_HOME (default /var/cache/provision-clients):
#   venv/           Python venv (Debian's python3): tests/clients/python/requirements.txt
#   node/           npm ci of tests/clients/node/package.json + package-lock.json
#                   (run.sh sets NODE_PATH=node/node_modules)
#   .stamp          hash of the pins above and of this script; equal => nothing to do
# Debian packages (apt-install.sh, no service started): ruby with ruby-pg, ruby-mysql2,
# ruby-redis; a JDK (`java File.java` single-file source launch needs jdk.compiler) with
# the JDBC drivers libpostgresql-jdbc-java (pgjdbc) and libmariadb-java (MariaDB
# Connector/J), in /usr/share/java.
# Fast no-op (one dpkg-query and one sha256sum) when everything is in place.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
clients=$(cd "$here/../clients" && pwd)
HOME_DIR=${PROVISION_CLIENTS_HOME:-/var/cache/provision-clients}
PYTHON=/usr/bin/python3   # Debian's, not a pyenv/virtualenv one that a fresh machine may lack

PACKAGES=(
  python3 python3-venv
  ruby ruby-pg ruby-mysql2 ruby-redis
  default-jdk-headless libpostgresql-jdbc-java libmariadb-java
  openssl ca-certificates
)
# Node 20 comes with the machine (NodeSource); Debian's nodejs/npm only if there is none.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

if [ "${1:-}" = --list-packages ]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi
[ $# -eq 0 ] || { echo "usage: $0 [--list-packages]" >&2; exit 2; }

say() { printf 'ensure-clients: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

"$here/apt-install.sh" "${PACKAGES[@]}"

want=$(cat "$0" "$clients/python/requirements.txt" "$clients/node/package.json" \
         "$clients/node/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp="$HOME_DIR/.stamp"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -x "$HOME_DIR/venv/bin/python" ] \
   && [ -d "$HOME_DIR/node/node_modules" ]; then
  exit 0
fi

mkdir -p "$HOME_DIR"
exec 9>"$HOME_DIR/.lock"
flock 9
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi   # done while we waited
t0=$SECONDS
rm -f "$stamp"

say "python venv in $HOME_DIR/venv: $(grep -v '^#' "$clients/python/requirements.txt" | tr '\n' ' ')"
rm -rf "$HOME_DIR/venv"
"$PYTHON" -m venv "$HOME_DIR/venv"
prefixed() { sed '/^[[:space:]]*$/d; s/^/ensure-clients:   /' >&2; }
"$HOME_DIR/venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
  -r "$clients/python/requirements.txt" 2>&1 | prefixed || die "pip install failed"

say "npm ci in $HOME_DIR/node: $(sed -n '/"dependencies"/,/}/p' "$clients/node/package.json" \
  | grep -o '"[^"]*": "[^"]*"' | tr -d '"' | sed 's/: /@/' | tr '\n' ' ')"
rm -rf "$HOME_DIR/node"
mkdir -p "$HOME_DIR/node"
cp "$clients/node/package.json" "$clients/node/package-lock.json" "$HOME_DIR/node/"
npm ci --prefix "$HOME_DIR/node" --no-audit --no-fund --loglevel=error 2>&1 | prefixed \
  || die "npm ci failed"

# What run.sh relies on.
"$HOME_DIR/venv/bin/python" -c 'import psycopg, psycopg2, sqlalchemy, pymysql, mysql.connector, redis' \
  || die "a Python client does not import"
for m in pg mysql2 redis ioredis; do
  [ -d "$HOME_DIR/node/node_modules/$m" ] || die "node module $m missing"
done
for f in /usr/share/java/postgresql.jar /usr/share/java/mariadb-java-client.jar; do
  [ -r "$f" ] || die "$f missing"
done
ruby -e 'require "pg"; require "mysql2"; require "redis"' || die "a Ruby client does not load"
java --list-modules 2>/dev/null | grep -q '^jdk.compiler@' \
  || die "java has no jdk.compiler (needed to run single-file source programs)"

echo "$want" >"$stamp"
say "ready in $((SECONDS - t0))s ($(du -sh "$HOME_DIR" | cut -f1) in $HOME_DIR)"
