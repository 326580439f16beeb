#!/usr/bin/env bash
# Install Debian packages that are missing, without starting any service.
#
#   tests/support/apt-install.sh PKG...
#
# - Fast no-op (one dpkg-query) when every PKG is installed.
# - Otherwise: `apt-get update` once, then one `apt-get install --no-install-recommends`
#   of the missing packages, with a temporary /usr/sbin/policy-rc.d that exits 101 so
#   that no package starts its service (an existing policy-rc.d is put back afterwards).
# - Freshly installed database servers are also kept from auto-starting at boot
#   (update-rc.d / systemctl disable) and, if one runs anyway, stopped by PID file.
# Used by ensure-docker.sh, ensure-native.sh, images/build.sh and ensure-all.sh.
set -euo pipefail

say() { printf 'apt-install: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ $# -gt 0 ] || exit 0

installed=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "$@" 2>/dev/null || true)"
missing=()
for p in "$@"; do
  case "$installed" in *" $p:installed "*) ;; *) missing+=("$p") ;; esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found (Debian/Ubuntu needed) to install: ${missing[*]}"

mkdir -p /run/lock
exec 8>/run/lock/provision-apt-install.lock
flock 8

POLICY=/usr/sbin/policy-rc.d
BACKUP=/usr/sbin/policy-rc.d.provision-backup
restore_policy() {
  if [ -e "$BACKUP" ]; then mv -f "$BACKUP" "$POLICY"; else rm -f "$POLICY"; fi
}
# A backup left by a killed earlier run is the original: keep it.
if [ -e "$POLICY" ] && [ ! -e "$BACKUP" ]; then mv "$POLICY" "$BACKUP"; fi
trap restore_policy EXIT
printf '#!/bin/sh\n# temporary, from provision tests/support/apt-install.sh\nexit 101\n' >"$POLICY"
chmod 755 "$POLICY"

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=l
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
LOG=/var/log/provision-apt.log
fail() {
  say "ERROR: $1; last lines of $LOG:"
  tail -n 30 "$LOG" >&2 || true
  exit 1
}
say "installing ${missing[*]} (log: $LOG)"
t0=$SECONDS
printf '\n==== %s apt-install.sh %s ====\n' "$(date -Is)" "${missing[*]}" >>"$LOG"
apt-get "${APT_OPTS[@]}" update </dev/null >>"$LOG" 2>&1 || fail "apt-get update failed"
apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null >>"$LOG" 2>&1 \
  || fail "apt-get install ${missing[*]} failed"
say "installed in $((SECONDS - t0))s"

# Services of freshly installed servers: no auto-start at boot, and none left running.
for p in "${missing[@]}"; do
  case "$p" in
    postgresql|postgresql-[0-9]*) svc=postgresql ;;
    redis-server) svc=redis-server ;;
    mariadb-server|mariadb-server-core|default-mysql-server) svc=mariadb ;;
    memcached) svc=memcached ;;
    *) continue ;;
  esac
  if [ -e "/etc/init.d/$svc" ]; then update-rc.d "$svc" disable >/dev/null 2>&1 || true; fi
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
"$(dirname "$0")/stop-system-servers.sh"
