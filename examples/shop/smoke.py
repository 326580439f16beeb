"""End-to-end smoke test of the shop: web -> Redis -> worker.

    provision -p example-shop -f examples/shop/compose.yaml
    provision -p example-shop -f examples/shop/compose.yaml run --service web -- python3 examples/shop/smoke.py

Starts web.py and worker.py as subprocesses (they inherit REDIS_URL from `provision run`),
sends a few HTTP requests to web, and checks that the worker processed every job they
queued (marked done in Redis, and printed by the worker we started). Prints one success
line and exits 0, or explains what failed and exits 1.
"""

import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from redisclient import Redis  # noqa: E402

REQUESTS = 5
DEADLINE = 15.0  # seconds for each phase


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    """A subprocess whose output is echoed with a prefix and kept for checks."""

    def __init__(self, name, script, env):
        self.name = name
        self.lines = collections.deque(maxlen=500)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, script)],
            env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            print(f"  [{self.name}] {line}", file=sys.stderr, flush=True)

    def output(self):
        return "\n".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def fail(message, children=()):
    print(f"smoke: FAILED: {message}", file=sys.stderr)
    for c in children:
        tail = "\n    ".join(list(c.lines)[-15:]) or "(no output)"
        print(f"  last output of {c.name} (exit {c.proc.poll()}):\n    {tail}", file=sys.stderr)
    sys.exit(1)


def main():
    if not os.environ.get("REDIS_URL"):
        print("smoke: note: REDIS_URL is unset; using the default redis://redis:6379/0 "
              "(run me under `provision run --service web -- ...`)", file=sys.stderr)
    try:
        redis = Redis(name="smoke")
    except ValueError as e:
        fail(f"REDIS_URL: {e}")
    try:
        redis.execute("PING", give_up_after=5)
    except Exception as e:  # noqa: BLE001 - any failure here is the message to show
        fail(f"cannot reach Redis at {redis.host}:{redis.port}: {e}")

    port = free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), PYTHONUNBUFFERED="1")
    children = [Child("web", "web.py", env), Child("worker", "worker.py", env)]
    started = time.monotonic()
    try:
        base = f"http://127.0.0.1:{port}"
        until = time.monotonic() + DEADLINE
        while True:  # web is up when /healthz answers
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError as e:
                for c in children:
                    if c.proc.poll() is not None:
                        fail(f"{c.name}.py exited with {c.proc.returncode}", children)
                if time.monotonic() > until:
                    fail(f"web did not answer on {base} within {DEADLINE:.0f}s: {e}", children)
                time.sleep(0.05)

        jobs, lengths = [], []
        for i in range(REQUESTS):
            try:
                with urllib.request.urlopen(f"{base}/order/{i}", timeout=DEADLINE) as r:
                    body = json.loads(r.read())
            except OSError as e:
                fail(f"request {i} to web failed: {e}", children)
            jobs.append(body["job"])
            lengths.append(body["queue_length"])

        until = time.monotonic() + DEADLINE
        while True:
            pending = [j for j in jobs if redis.execute("EXISTS", f"shop:done:{j}") != 1]
            if not pending:
                break
            if children[1].proc.poll() is not None:
                fail(f"worker.py exited with {children[1].proc.returncode}", children)
            if time.monotonic() > until:
                fail(f"{len(pending)} of {REQUESTS} jobs not processed within "
                     f"{DEADLINE:.0f}s: {', '.join(pending)}", children)
            time.sleep(0.05)
        took = time.monotonic() - started
        ours = children[1].output()
        foreign = [j for j in jobs if j not in ours]
        if foreign:
            fail(f"{len(foreign)} jobs were processed by another worker consuming shop:jobs, "
                 f"not the one started here: {', '.join(foreign)}", children)
    finally:
        for c in children:
            c.stop()
    print(f"smoke: ok: {REQUESTS} requests to web queued {REQUESTS} jobs (queue length "
          f"{min(lengths)}..{max(lengths)}), worker processed all {REQUESTS} in {took:.2f}s "
          f"(redis at {redis.host}:{redis.port})")


if __name__ == "__main__":
    main()
