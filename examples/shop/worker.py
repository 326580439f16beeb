"""The shop's worker: takes jobs off the Redis list `shop:jobs` (BLPOP) and processes them.

Processing a job here means printing it, counting it (INCR shop:processed), recording it in
the Postgres ledger (see ledger.py; DB_URL) and marking it done (SET shop:done:<id>,
expiring after an hour) so that others (smoke.py) can check. Redis comes from REDIS_URL
(see redisclient.py); while Redis is down the worker waits, retrying with backoff, and
carries on when it is back.
"""

import json
import signal
import sys

from ledger import Ledger
from redisclient import Redis

QUEUE = "shop:jobs"
BLOCK = 5  # seconds per BLPOP; the socket timeout is longer


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    redis = Redis(name="worker")
    ledger = Ledger("worker")
    print(f"worker: waiting for jobs on {QUEUE} at {redis!r}", flush=True)
    while True:
        reply = redis.execute("BLPOP", QUEUE, BLOCK, timeout=BLOCK + 5)
        if reply is None:
            continue  # nothing within BLOCK seconds
        _, raw = reply
        try:
            job = json.loads(raw)
        except ValueError:
            print(f"worker: skipping a malformed job: {raw[:80]!r}", flush=True)
            continue
        count = redis.execute("INCR", "shop:processed")
        try:
            recorded = ledger.record(job["id"], job["path"])
        except (RuntimeError, OSError, ValueError) as e:
            recorded = f"not recorded: {e}"
        redis.execute("SET", f"shop:done:{job['id']}", count, "EX", 3600)
        ledger_note = "" if recorded is None else f"; ledger: {recorded}"
        print(f"worker: processed job {job['id']} ({job['path']}), {count} so far{ledger_note}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
