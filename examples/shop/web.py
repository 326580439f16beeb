"""The shop's web process: every request queues a job for the worker in Redis.

    GET /anything   -> RPUSH shop:jobs <job>; answers {"job": id, "queue_length": n}
    GET /healthz    -> 200 "ok" (does not touch Redis)
    GET /stats      -> jobs in the Postgres ledger and waiting in Redis

Listens on $HOST:$PORT (default 0.0.0.0:8000, what a container needs). Redis comes from
REDIS_URL (see redisclient.py). While Redis is down a request waits, retrying with
backoff, for up to $REDIS_WAIT seconds (default 30), then answers 503.
"""

import json
import os
import signal
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ledger import Ledger
from redisclient import Redis, RedisError, Unavailable

QUEUE = "shop:jobs"
redis = Redis(name="web")
ledger = Ledger("web")
wait = float(os.environ.get("REDIS_WAIT", "30"))


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self._answer(200, {"ok": True})
        if self.path == "/stats":
            try:
                return self._answer(200, {"processed": ledger.count(), "waiting": redis.execute("LLEN", QUEUE)})
            except (RuntimeError, OSError, ValueError, Unavailable, RedisError) as e:
                return self._answer(503, {"error": str(e)})
        if self.path == "/favicon.ico":
            return self._answer(404, {"error": "no favicon"})
        job = {"id": uuid.uuid4().hex, "path": self.path, "at": time.time()}
        try:
            length = redis.execute("RPUSH", QUEUE, json.dumps(job), give_up_after=wait)
        except (Unavailable, RedisError) as e:
            return self._answer(503, {"error": str(e)})
        self._answer(200, {"job": job["id"], "queue_length": length})

    do_POST = do_GET

    def log_message(self, fmt, *args):
        print(f"web: {self.address_string()} {fmt % args}", file=sys.stderr, flush=True)


def main():
    # As PID 1 in a container, SIGTERM would be ignored without a handler.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"web: listening on http://{host}:{port}, queueing to {redis!r}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
