#!/usr/bin/env bash
# Benchmark: AWS calls of one stage's commands in a project with 10 stages x 3 databases
# (postgres, mariadb, redis under the ephemeral profile: the default stage and pr-1 .. pr-9),
# against a baseline in the same run: the same project with the default stage only, in an
# account of its own. Calls are counted from `-v`'s `aws: Service.Operation` lines, which are
# deterministic, so one run of each is enough. Against the emulator (localstack/moto.sh, moto
# behind the AWS rules layer on 127.0.0.1).
#
#   tests/bench-stages.sh        # prints a markdown table
#
# Environment: PROFILE (default debug: call counts do not depend on the build); SKIP_BUILD=1
# uses the binary already in CARGO_TARGET_DIR (the one the tests built).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
PROFILE="${PROFILE:-debug}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ "$PROFILE" = release ]; then cargo build --release --locked -q; else cargo build --locked -q; fi
fi
bin="$CARGO_TARGET_DIR/$PROFILE/provision"

eval "$(bash localstack/moto.sh start)"
case "$AWS_ENDPOINT_URL" in
  http://127.0.0.1:*) ;;
  *) echo "bench-stages: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL is not on 127.0.0.1; refusing" >&2; exit 1 ;;
esac
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
  AWS_ENDPOINT_URL_RDS AWS_ENDPOINT_URL_ELASTICACHE AWS_ENDPOINT_URL_SECRETS_MANAGER
export AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
work=$(mktemp -d)
export AWS_CONFIG_FILE="$work/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/no-aws-credentials"
trap 'rm -rf "$work"' EXIT
cat >"$work/compose.yaml" <<'YAML'
x-provision:
  cloud:
    stages: {ttl: 3d}
services:
  pg: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}
  my: {image: 'mariadb:11.4', x-provision: {cloud: {deletion_protection: false}}}
  kv: {image: 'redis:7'}
YAML
# Two accounts of their own (12-digit access keys: the rules layer hands them to moto).
stamp=$(date +%s)
many="$(printf '%012d' $(( stamp % 1000000000000 )))"
one="$(printf '%012d' $(( (stamp + 7) % 1000000000000 )))"
run() { # account, args...
  local account=$1; shift
  AWS_ACCESS_KEY_ID=$account "$bin" -p bench-stages -f "$work/compose.yaml" --cloud "$@" -v 2>&1 >/dev/null \
    | grep -c '^aws: [A-Za-z ]*\.[A-Za-z]*$' || true
}
echo "bench-stages: bringing up 10 stages and 1" >&2
run "$one" up >/dev/null
run "$many" up >/dev/null
for i in 1 2 3 4 5 6 7 8 9; do run "$many" up --stage "pr-$i" >/dev/null; done
# Let every resource leave its phases (the rules layer's `creating`, `modifying`).
sleep 3
row() { # label, args... (the baseline only for the default stage)
  local label=$1; shift
  local base="–"
  case "$*" in *--stage*) ;; *) base=$(run "$one" "$@") ;; esac
  local n; n=$(run "$many" "$@")
  local ratio="–"
  [ "$base" != "–" ] && ratio=$(python3 -c "print(f'{$n/$base:.2f}')")
  echo "| $label | $base | $n | $ratio |"
}
echo "| command | 1 stage | 10 stages | ratio |"
echo "|---|---|---|---|"
row '`plan --cloud` (default stage)' plan
row '`plan --cloud --stage pr-5`' plan --stage pr-5
row '`up --cloud` no-op (default stage)' up
row '`up --cloud --stage pr-5` no-op (moves the expiry)' up --stage pr-5
row '`up --cloud --stage pr-5 --ttl 3d` (moves the expiry)' up --stage pr-5 --ttl 3d
row '`gc --cloud --dry-run`' gc --dry-run
