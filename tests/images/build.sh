#!/usr/bin/env bash
# Build local stand-ins for the official database images, from Debian bookworm
# packages, because no image registry is reachable:
#
#   postgres:15  redis:7  mariadb:10.11  memcached:1.6  (the official images' contracts)
#   postgres:18  (18's data layout)  mariadb:11.4, redis:6  (other majors' tags, for upgrades)
#   bitnami/redis:7.0  (Bitnami's contract)
#   postgres:latest -> postgres:18, redis:latest -> redis:7  (floating tags, retagged)
#
#   tests/images/build.sh           build what is missing or out of date
#   tests/images/build.sh --force   rebuild the four images (the cached rootfs is kept)
#   tests/images/build.sh --rootfs-only   only make the cached rootfs tarball (no docker needed)
#   tests/images/build.sh --needs-rootfs   exit 0 if a build would have to debootstrap
#   tests/images/build.sh --list-packages  host packages this script needs
#
# How:
#   1. debootstrap --variant=minbase --include=<servers...> bookworm into a tree, empty
#      the data dirs the packages initialised, tar it to
#      $PROVISION_TEST_IMAGES_CACHE/rootfs-<hash>.tar (default /var/cache/provision-test-images);
#   2. `docker import` it as provision-test-base:bookworm;
#   3. `docker build` each tests/images/<name>/Dockerfile FROM that base (no pull).
# Every image carries the label provision.test.hash = hash of its inputs (base inputs
# + its directory); an image whose label matches is not rebuilt, and when all four
# match the script exits at once. A tagged image with no such label (e.g. a real
# official image) is left alone unless --force is given.
#
# Environment: PROVISION_DEBIAN_MIRROR (default: first Debian URI in /etc/apt sources,
# else http://deb.debian.org/debian), PROVISION_TEST_IMAGES_CACHE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
support=$(cd "$here/../support" && pwd)

say() { printf 'build-images: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

SUITE=bookworm
BASE_IMAGE=provision-test-base:$SUITE
LABEL=provision.test.hash
CACHE=${PROVISION_TEST_IMAGES_CACHE:-/var/cache/provision-test-images}
# Bump to force a rebuild of everything after a change to this script's logic.
BUILD_VERSION=1
# Packages of the base tree (debootstrap resolves their dependencies).
PACKAGES=(
  postgresql-15 redis-server mariadb-server memcached
  gosu locales tzdata
)
# name:tag=dir[+dir...] of each image: its build context is tests/images/<dir>, later
# directories' files over earlier ones (postgres:18 shares postgres's entrypoint).
IMAGE_SPECS=(
  postgres:15=postgres
  postgres:18=postgres+postgres18
  redis:7=redis
  redis:6=redis+redis6
  mariadb:10.11=mariadb
  mariadb:11.4=mariadb+mariadb11
  memcached:1.6=memcached
  bitnami/redis:7.0=bitnami-redis
)
IMAGES=()
for s in "${IMAGE_SPECS[@]}"; do IMAGES+=("${s%%=*}"); done
# Floating tags, as registries move them: alias=image, tagged after every build.
ALIASES=(postgres:latest=postgres:18 redis:latest=redis:7)
HOST_PACKAGES=(debootstrap)

force=
rootfs_only=
needs_rootfs=
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --rootfs-only) rootfs_only=1 ;;
    --needs-rootfs) needs_rootfs=1 ;;
    --list-packages) printf '%s\n' "${HOST_PACKAGES[@]}"; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

# Runs on the debootstrapped tree before it is tarred; its text is part of the hash.
prepare_rootfs() {
  local root=$1
  # The packages initialised data dirs; the images' entrypoints do first-run init.
  rm -rf "$root"/var/lib/mysql/* "$root"/var/lib/postgresql/15 "$root"/etc/postgresql/15
  # Caches, logs, docs: not needed in test images.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
         "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/var/log/mysql/* \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  # Message translations (locale.alias stays: localedef needs it).
  find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  # Docker provides these.
  rm -f "$root"/etc/hostname "$root"/etc/resolv.conf
  : >"$root"/etc/machine-id
}

hash_of() { sha256sum | cut -c1-16; }

base_hash() {
  { echo "v$BUILD_VERSION $SUITE"; printf '%s\n' "${PACKAGES[@]}"; declare -f prepare_rootfs; } | hash_of
}

# The context directories of an image, in order.
image_dirs() {
  local s
  for s in "${IMAGE_SPECS[@]}"; do
    if [ "${s%%=*}" = "$1" ]; then
      local d
      IFS=+ read -r -a d <<<"${s#*=}"
      printf "$here/%s\n" "${d[@]}"
      return
    fi
  done
  die "no spec for image $1"
}

image_hash() {
  local dir f
  {
    echo "v$BUILD_VERSION $1 base=$(base_hash)"
    while read -r dir; do
      for f in $(cd "$dir" && find . -type f | LC_ALL=C sort); do
        printf '%s\n' "$f"; cat "$dir/$f"
      done
    done < <(image_dirs "$1")
  } | hash_of
}

# Moves the floating tags to the images they stand for now.
tag_aliases() {
  local a
  for a in "${ALIASES[@]}"; do
    if [ "$(docker image inspect -f '{{.Id}}' "${a#*=}" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "${a%%=*}" 2>/dev/null)" ]; then
      docker tag "${a#*=}" "${a%%=*}"
    fi
  done
}

label_of() {
  local v
  v=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true)
  [ "$v" = "<no value>" ] || printf '%s\n' "$v"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

detect_mirror() {
  if [ -n "${PROVISION_DEBIAN_MIRROR:-}" ]; then echo "$PROVISION_DEBIAN_MIRROR"; return; fi
  local m
  m=$(
    {
      awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
      sed -E 's/\[[^]]*\]//' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" { print $2 }' || true
    } | grep -E '^https?://' | grep -v -e security -e ubuntu | awk 'NR == 1' || true
  )
  echo "${m:-http://deb.debian.org/debian}"
}

# Unmount whatever is still mounted below a tree (debootstrap mounts proc/sys).
umount_below() {
  local root=$1 m
  awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

# Stop processes whose root is the tree (a package that started a daemon in the chroot).
kill_chroot_processes() {
  local root=$1 p
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
      say "stopping process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) left running in the chroot"
      kill -TERM "${p#/proc/}" 2>/dev/null || true
    fi
  done
}

make_rootfs_tar() {
  local tar=$1 mirror tree log t0
  [ "$(id -u)" = 0 ] || die "building the image base needs root (debootstrap)"
  mkdir -p "$CACHE/debs"
  tree="$CACHE/rootfs.tmp"
  log="$CACHE/debootstrap.log"
  if [ -e "$tree" ]; then umount_below "$tree"; rm -rf --one-file-system "$tree"; fi
  "$support/apt-install.sh" "${HOST_PACKAGES[@]}"
  mirror=$(detect_mirror)
  say "debootstrap $SUITE from $mirror (about 1.5 min; log: $log)"
  t0=$SECONDS
  local includes
  includes=$(IFS=,; echo "${PACKAGES[*]}")
  if ! debootstrap --variant=minbase --include="$includes" --cache-dir="$CACHE/debs" \
        "$SUITE" "$tree" "$mirror" </dev/null >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    kill_chroot_processes "$tree"; umount_below "$tree"
    die "debootstrap failed (full log: $log)"
  fi
  kill_chroot_processes "$tree"
  umount_below "$tree"
  say "debootstrap done in $((SECONDS - t0))s"
  prepare_rootfs "$tree"
  tar --numeric-owner -C "$tree" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      --exclude='./run/*' --exclude='./tmp/*' -cf "$tar.tmp" .
  mv -f "$tar.tmp" "$tar"
  rm -rf --one-file-system "$tree"
  # Tarballs of older inputs are no longer needed.
  find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -path "$tar" -delete
  say "cached $tar ($(du -h "$tar" | cut -f1))"
}

bh=$(base_hash)
tarball="$CACHE/rootfs-$bh.tar"

# compute_todo [quiet]: the images to (re)build, in the array todo.
compute_todo() {
  local img want have
  todo=()
  for img in "${IMAGES[@]}"; do
    want=$(image_hash "$img")
    have=$(label_of "$img")
    if [ -z "$force" ] && [ "$have" = "$want" ]; then continue; fi
    if [ -z "$force" ] && [ -z "$have" ] && image_exists "$img"; then
      [ -n "${1:-}" ] || say "$img exists and was not built by this script (no $LABEL label): keeping it (use --force to replace)"
      continue
    fi
    todo+=("$img")
  done
}

# --needs-rootfs: exit 0 when a build would have to debootstrap (no cached tarball
# and docker not answering or the base image out of date), 1 otherwise. Starts nothing.
if [ -n "$needs_rootfs" ]; then
  [ -s "$tarball" ] && exit 1
  command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1 || exit 0
  compute_todo quiet
  [ ${#todo[@]} -gt 0 ] && [ "$(label_of "$BASE_IMAGE")" != "$bh" ] && exit 0
  exit 1
fi

mkdir -p "$CACHE"
exec 7>"$CACHE/.lock"
flock 7

if [ -n "$rootfs_only" ]; then
  [ -s "$tarball" ] || make_rootfs_tar "$tarball"
  exit 0
fi

"$support/ensure-docker.sh"

compute_todo
if [ ${#todo[@]} -eq 0 ]; then
  tag_aliases
  say "nothing to build: ${IMAGES[*]} up to date"
  exit 0
fi

t_all=$SECONDS
old_ids=()

if [ "$(label_of "$BASE_IMAGE")" != "$bh" ]; then
  [ -s "$tarball" ] || make_rootfs_tar "$tarball"
  say "importing $tarball as $BASE_IMAGE"
  t0=$SECONDS
  if image_exists "$BASE_IMAGE"; then old_ids+=("$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"); fi
  docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "LABEL $LABEL=$bh" \
    --change 'CMD ["bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
  say "imported in $((SECONDS - t0))s"
fi

for img in "${todo[@]}"; do
  want=$(image_hash "$img")
  dir=$(mktemp -d)
  while read -r d; do cp -a "$d"/. "$dir"/; done < <(image_dirs "$img")
  chmod 755 "$dir"/*.sh 2>/dev/null || true
  if image_exists "$img"; then old_ids+=("$(docker image inspect -f '{{.Id}}' "$img")"); fi
  say "building $img"
  t0=$SECONDS
  blog=$(mktemp)
  # The classic builder: works with any engine and needs no buildx plugin.
  if ! DOCKER_BUILDKIT=0 docker build --label "$LABEL=$want" -t "$img" "$dir" </dev/null >"$blog" 2>&1; then
    cat "$blog" >&2; rm -f "$blog"; rm -rf "$dir"
    die "docker build of $img failed"
  fi
  rm -f "$blog"; rm -rf "$dir"
  say "built $img in $((SECONDS - t0))s"
done

tag_aliases

# Drop the images these replaced (fails harmlessly while something still uses them).
for id in "${old_ids[@]}"; do
  docker image rm "$id" >/dev/null 2>&1 || true
done
say "done in $((SECONDS - t_all))s: ${todo[*]}"
