#!/usr/bin/env bash
# The whole test suite, from a fresh machine to a verdict. Installs and starts what the tests
# need when it is missing (Docker Engine, stand-in database images, native database servers,
# the AWS emulator), then runs formatting and lint checks and every test.
#
#   tests/run.sh
#
# CARGO_TARGET_DIR defaults to a directory outside the clone so that repeated runs on the same
# machine (CI clones afresh each time) reuse the build.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
# The AWS SDK must never reach real AWS or the instance-metadata address from a test.
export AWS_EC2_METADATA_DISABLED=true

say() { printf 'tests/run.sh: %s\n' "$*" >&2; }

say "preparing services (Docker Engine, images, native servers)"
bash tests/support/ensure-all.sh

say "starting the AWS emulator (moto behind the AWS rules layer on 127.0.0.1:4566)"
eval "$(bash localstack/moto.sh start)"
# The cloud tests check what provision did with an independent client: boto3 from moto's venv.
export PROVISION_MOTO_PYTHON="${PROVISION_MOTO_HOME:-/var/cache/provision-moto}/venv/bin/python"

say "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings

say "running the tests"
cargo nextest run --locked --no-fail-fast "$@"
