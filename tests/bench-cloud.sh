#!/usr/bin/env bash
# Benchmark: the cloud side (`provision --cloud up`, `provision plan --cloud`) against moto's
# server behind the AWS rules layer on 127.0.0.1 (localstack/moto.sh: resources are `creating`
# for AWS_RULES_CREATING_SECONDS, 1 s by default, before `available`, as on AWS), with
# generated manifests of 1, 5 and 20 databases
# (postgres, mysql, redis, valkey, memcached in turn, plus one app service linking all).
#
#   tests/bench-cloud.sh      # prints markdown tables: medians, targets, AWS calls per resource
#
# Measured with hyperfine:
#   (1) cold `up --cloud` of 1, 5, 20 resources (moto reset before every run);
#   (2) re-`up` of 20 when everything exists (checked with -v: no Create/Modify/Delete/Put call);
#   (3) `plan --cloud` of 20 when everything exists;
#   (4) where the time goes: `doctor --cloud` (same manifest, no AWS at all); `plan --cloud`
#       against a closed port (127.0.0.1:9: connect errors, retries); and, from -v's stderr
#       timestamps, the time from exec to the first AWS call, the span of the calls, the time
#       after the last one, and moto's own CPU time during the run (is the emulator the limit?).
# Then AWS calls per resource (from -v) of a create run, a no-op re-up and a plan.
# Every AWS setting points at the emulator; moto is left running and reset at the end.
#
# Environment: RUNS_COLD (default 12), RUNS_WARM (default 30), RUNS_TIMELINE (default 10),
# PROFILE (default release; `debug` skips the release build, for call counts).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/provision-target}"
RUNS_COLD="${RUNS_COLD:-12}"
RUNS_WARM="${RUNS_WARM:-30}"
RUNS_TIMELINE="${RUNS_TIMELINE:-10}"

command -v hyperfine >/dev/null || bash tests/support/apt-install.sh hyperfine
command -v curl >/dev/null || bash tests/support/apt-install.sh curl
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  cargo build --release --locked -q
else
  cargo build --locked -q
fi
bin="$CARGO_TARGET_DIR/$PROFILE/provision"

# The emulator, and nothing else: no profile files, no per-service endpoints from the caller,
# no instance metadata.
eval "$(bash localstack/moto.sh start)"
case "$AWS_ENDPOINT_URL" in
  http://127.0.0.1:*) ;;
  *) echo "bench-cloud: AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL is not on 127.0.0.1; refusing" >&2; exit 1 ;;
esac
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
  AWS_ENDPOINT_URL_RDS AWS_ENDPOINT_URL_ELASTICACHE AWS_ENDPOINT_URL_SECRETS_MANAGER \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true
reset="$AWS_ENDPOINT_URL/moto-api/reset"
moto_reset() { curl -fsS -o /dev/null -X POST "$reset"; }

work=$(mktemp -d)
export AWS_CONFIG_FILE="$work/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/no-aws-credentials"
trap 'moto_reset || true; rm -rf "$work"' EXIT

# Manifests: N databases in turn postgres, mysql, redis, valkey, memcached; RDS ones without
# deletion protection so that a reset (or `destroy`) removes them.
for n in 1 5 20; do
  python3 - "$n" "$work/m$n.yaml" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
kinds = [("pg", "postgres:16", True), ("my", "mysql:8.4", True), ("rd", "redis:7", False),
         ("vk", "valkey/valkey:8", False), ("mc", "memcached:1.6", False)]
names, dbs = [], []
for i in range(n):
    prefix, image, rds = kinds[i % len(kinds)]
    name = f"{prefix}{i}"
    names.append(name)
    extra = "    x-provision: {cloud: {deletion_protection: false}}\n" if rds else ""
    dbs.append(f"  {name}:\n    image: {image}\n{extra}")
app = f"  app:\n    image: node:20\n    links: [{', '.join(names)}]\n"
open(path, "w").write("services:\n" + app + "".join(dbs))
PY
done
up() { echo "$bin --cloud up -p bench-cloud-$1 -f $work/m$1.yaml"; }
plan() { echo "$bin plan --cloud -p bench-cloud-$1 -f $work/m$1.yaml"; }

# Counts of `aws: Service.Operation` lines in a -v stderr file, as JSON, plus the total line.
calls_json() {
  python3 - "$1" <<'PY'
import collections, json, re, sys
ops, total = collections.Counter(), None
for line in open(sys.argv[1]):
    m = re.match(r"aws: (\w[\w ]*)\.(\w+)\s*$", line)  # "Secrets Manager.GetSecretValue"
    if m:
        ops[f"{m[1]}.{m[2]}"] += 1
    m = re.match(r"aws: (\d+) calls\s*$", line)
    if m:
        total = int(m[1])
print(json.dumps({"ops": ops, "total": total}))
PY
}
mutating() { grep -Ec '^aws: [A-Za-z ]+\.(Create|Modify|Delete|Put)' "$1" || true; }

echo "bench-cloud: (1) cold up of 1, 5, 20" >&2
hyperfine -N --runs "$RUNS_COLD" --prepare "curl -fsS -o /dev/null -X POST $reset" \
  --export-json "$work/cold.json" \
  -n "cold up --cloud: 1" "$(up 1)" \
  -n "cold up --cloud: 5" "$(up 5)" \
  -n "cold up --cloud: 20" "$(up 20)" >&2

echo "bench-cloud: AWS calls of a create run and a no-op run (20)" >&2
moto_reset
$(up 20) -v 2>"$work/create.err"
$(up 20) -v 2>"$work/noop.err"
$(plan 20) -v >/dev/null 2>"$work/plan.err"
calls_json "$work/create.err" >"$work/create.calls"
calls_json "$work/noop.err" >"$work/noop.calls"
calls_json "$work/plan.err" >"$work/plan.calls"
before=$(mutating "$work/noop.err")

echo "bench-cloud: (2) re-up of 20, (3) plan of 20, (4) doctor / closed port" >&2
hyperfine -N --warmup 3 --runs "$RUNS_WARM" --export-json "$work/warm.json" \
  -n "re-up --cloud: 20 (all exist)" "$(up 20)" \
  -n "plan --cloud: 20" "$(plan 20)" \
  -n "doctor --cloud: 20 (no AWS)" "$bin doctor --cloud -p bench-cloud-20 -f $work/m20.yaml" >&2
AWS_ENDPOINT_URL=http://127.0.0.1:9 hyperfine -N --runs 3 \
  --export-json "$work/closed.json" \
  -n "plan --cloud: 20, closed port 127.0.0.1:9" "$(plan 20)" >&2
# The state after all those runs is still a no-op for up.
$(up 20) -v 2>"$work/noop2.err"
after=$(mutating "$work/noop2.err")

echo "bench-cloud: (4) timelines from -v stderr timestamps, and moto's CPU time" >&2
# moto's server is one Python process: its CPU time during a run, next to the run's wall time,
# says whether the emulator (not provision) is the bottleneck.
# moto itself listens one port above the rules layer (localstack/moto.sh).
moto_pid=$(cat "${PROVISION_MOTO_HOME:-/var/cache/provision-moto}/moto-$(( ${MOTO_PORT:-4566} + 1 )).pid" 2>/dev/null || true)
[ -r "/proc/$moto_pid/stat" ] || moto_pid=""
python3 - "$RUNS_TIMELINE" "$work/timeline.json" "$reset" "$moto_pid" \
  "cold up 1|cold|$(up 1) -v" "cold up 20|cold|$(up 20) -v" \
  "re-up 20|warm|$(up 20) -v" "plan 20|warm|$(plan 20) -v" <<'PY'
import json, os, statistics, subprocess, sys, time, urllib.request
runs, out, reset, moto_pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
tick = os.sysconf("SC_CLK_TCK")
def moto_cpu():
    if not moto_pid:
        return 0.0
    f = open(f"/proc/{moto_pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
result = {}
for spec in sys.argv[5:]:
    name, mode, cmd = spec.split("|")
    rows = []
    for _ in range(runs):
        if mode == "cold":
            urllib.request.urlopen(urllib.request.Request(reset, method="POST")).read()
        c0 = moto_cpu()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd.split(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stamps = []
        for line in p.stderr:
            if line.startswith("aws: ") and not line.rstrip().endswith(" calls"):
                stamps.append(time.perf_counter() - t0)
        p.wait()
        end = time.perf_counter() - t0
        cpu = moto_cpu() - c0
        if p.returncode != 0 or not stamps:
            sys.exit(f"timeline: {cmd} exited {p.returncode} with {len(stamps)} calls")
        rows.append((stamps[0], stamps[-1] - stamps[0], end - stamps[-1], end, cpu, len(stamps)))
    med = lambda i: statistics.median(r[i] for r in rows)
    result[name] = {"first": med(0) * 1000, "span": med(1) * 1000, "tail": med(2) * 1000,
                    "total": med(3) * 1000, "moto_cpu": med(4) * 1000 if moto_pid else None,
                    "calls": med(5)}
json.dump(result, open(out, "w"))
PY

python3 - "$work" "$before" "$after" <<'PY'
import json, sys
work, before, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    return {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}
results = {**load("cold"), **load("warm"), **load("closed")}
def ms(s):
    v = s * 1000
    return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms"
print("| benchmark | median | min .. max | runs |")
print("|---|---|---|---|")
for name, r in results.items():
    print(f"| {name} | {ms(r['median'])} | {ms(r['min'])} .. {ms(r['max'])} | {len(r['times'])} |")
one, twenty = results["cold up --cloud: 1"]["median"], results["cold up --cloud: 20"]["median"]
reup, plan = results["re-up --cloud: 20 (all exist)"]["median"], results["plan --cloud: 20"]["median"]
ratio = twenty / one
verdict = lambda ok: "met" if ok else "MISSED"
print()
print("| target | measured | limit | result |")
print("|---|---|---|---|")
print(f"| cold up 20 / cold up 1 | {ratio:.2f} x | <= 2 x | {verdict(ratio <= 2)} |")
print(f"| re-up of 20 | {ms(reup)}, {before} + {after} mutating calls | <= 1 s, 0 calls | {verdict(reup <= 1 and before == 0 and after == 0)} |")
print(f"| plan --cloud of 20 | {ms(plan)} | <= 1 s | {verdict(plan <= 1)} |")

print()
calls = {k: json.load(open(f"{work}/{k}.calls")) for k in ("create", "noop", "plan")}
ops = sorted(set().union(*(c["ops"] for c in calls.values())))
n = 20
print(f"AWS calls per resource ({n} resources; from -v)")
print()
print("| operation | create run | no-op re-up | plan --cloud |")
print("|---|---|---|---|")
for op in ops:
    print(f"| {op} | " + " | ".join(f"{calls[k]['ops'].get(op, 0) / n:.2f}" for k in ("create", "noop", "plan")) + " |")
def total(k):
    lines = sum(calls[k]["ops"].values())
    reported = calls[k]["total"]
    shown = f"{lines / n:.2f}"
    if reported is not None and reported != lines:
        shown += f" (`aws: {reported} calls`)"
    return shown
print("| **all** | " + " | ".join(total(k) for k in ("create", "noop", "plan")) + " |")
for k in ("create", "noop"):
    if calls[k]["total"] is None:
        print(f"\nwarning: no `aws: N calls` line in the {k} run", file=sys.stderr)

print()
print("Where the time goes (medians of -v runs; first call = exec to the first AWS call; moto CPU = the")
print("emulator process's user+system time during the run)")
print()
print("| run | first call | calls span | after last call | total | moto CPU | calls |")
print("|---|---|---|---|---|---|---|")
for name, t in json.load(open(f"{work}/timeline.json")).items():
    cpu = "n/a" if t["moto_cpu"] is None else f"{t['moto_cpu']:.0f} ms ({t['moto_cpu'] / t['total']:.0%})"
    print(f"| {name} | {t['first']:.1f} ms | {t['span']:.1f} ms | {t['tail']:.1f} ms | {t['total']:.1f} ms | {cpu} | {t['calls']:.0f} |")
PY
