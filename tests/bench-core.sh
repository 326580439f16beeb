#!/usr/bin/env bash
# Benchmark: `doctor` and `plan` on a generated manifest of 1,000 services (500 app services,
# each linked to its own database), against baselines measured in the same run: loading the
# same YAML with PyYAML's C loader (the floor for "read the file at all") and, when installed,
# `docker-compose config -q` (Compose's own validation of the same file).
#
#   tests/bench-core.sh            # prints a markdown table of medians and ratios
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
for tool in hyperfine docker-compose; do
  command -v "$tool" >/dev/null || bash tests/support/apt-install.sh "$tool"
done
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/provision"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/compose.yaml" <<'PY'
import sys
parts = ["services:\n"]
for i in range(500):
    parts.append(f"  web{i}:\n    image: node:20\n    links: [db{i}]\n    environment: {{GREETING: hello}}\n"
                 f"  db{i}:\n    image: postgres:16\n    x-provision: {{database: app{i}}}\n")
open(sys.argv[1], "w").write("".join(parts))
PY

cmds=(
  "$bin doctor -p bench -f $work/compose.yaml"
  "$bin plan --cloud -p bench -f $work/compose.yaml"
  "python3 -c 'import yaml,sys; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)' $work/compose.yaml"
)
names=("provision doctor" "provision plan --cloud" "PyYAML CSafeLoader (baseline)")
if command -v docker-compose >/dev/null; then
  cmds+=("docker-compose -f $work/compose.yaml config -q")
  names+=("docker-compose config -q (baseline)")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 3 --min-runs 30 --export-json "$work/out.json" "${args[@]}" >&2

python3 - "$work/out.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = next(r for r in results if "PyYAML" in r["command"])["median"]
print("| command | median | ratio to PyYAML load |")
print("|---|---|---|")
for r in results:
    print(f"| {r['command']} | {r['median']*1000:.1f} ms | {r['median']/base:.2f} |")
PY
