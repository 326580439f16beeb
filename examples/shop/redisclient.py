"""A tiny Redis client: RESP over a socket, Python 3 standard library only.

Configuration comes from REDIS_URL, `redis://[[user]:password@]host[:port][/db]`, which
`provision` hands to every service linked to the `redis` database (`REDIS_URL`,
`REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, ...). Without it the default is
`redis://redis:6379/0`: the service name, which is what plain `docker compose` resolves.

Every command reconnects when the connection is lost or refused, with exponential backoff
(doubling from `base_delay`, capped at `max_delay`, with full jitter) and one log line per
retry on stderr, so the processes using it ride out a Redis restart instead of crashing.
A command is retried after a lost connection, so delivery is at-least-once for writes
(an RPUSH whose reply was lost may be applied twice) and at-most-once for a BLPOP whose
reply was lost: fine for this example, not for money.
"""

import os
import random
import socket
import sys
import threading
import time
from urllib.parse import unquote, urlsplit

DEFAULT_URL = "redis://redis:6379/0"


class RedisError(Exception):
    """An error reply from the server (`-ERR ...`): not retried, except `-LOADING`."""


class Unavailable(Exception):
    """Redis stayed unreachable for longer than the caller was willing to wait."""


def parse_url(url):
    """(host, port, username, password, db) from a redis:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis:// URL: {parts.scheme}://...")
    if parts.scheme == "rediss":
        raise ValueError("rediss:// (TLS) is not supported by this tiny client")
    path = parts.path.lstrip("/")
    return (
        parts.hostname or "localhost",
        parts.port or 6379,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        int(path) if path else 0,
    )


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        else:
            b = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _log(message):
    print(f"redisclient: {message}", file=sys.stderr, flush=True)


class Redis:
    def __init__(self, url=None, base_delay=0.1, max_delay=5.0, timeout=5.0, name=None):
        self.url = url or os.environ.get("REDIS_URL") or DEFAULT_URL
        self.host, self.port, self.username, self.password, self.db = parse_url(self.url)
        self.base_delay, self.max_delay, self.timeout = base_delay, max_delay, timeout
        self.name = name or os.path.basename(sys.argv[0] or "python")
        self._sock = None
        self._file = None
        self._lock = threading.Lock()  # one connection, shared by a server's threads

    def __repr__(self):
        return f"Redis({self.host}:{self.port}/{self.db})"  # never the password

    # -- connection ------------------------------------------------------------------------

    def _connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._file = sock, sock.makefile("rb")
        try:
            if self.password is not None:
                auth = ["AUTH", self.password] if not self.username else ["AUTH", self.username, self.password]
                self._roundtrip(auth, self.timeout)
            if self.db:
                self._roundtrip(["SELECT", self.db], self.timeout)
        except BaseException:
            self.close()
            raise

    def close(self):
        for f in (self._file, self._sock):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._sock = self._file = None

    # -- protocol --------------------------------------------------------------------------

    def _read(self):
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._file.read(n + 2)
            if len(data) != n + 2:
                raise ConnectionError("connection closed by the server")
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line[:20]!r}")

    def _roundtrip(self, args, timeout):
        self._sock.settimeout(timeout)
        self._sock.sendall(_encode(args))
        return self._read()

    # -- commands with retries -------------------------------------------------------------

    def execute(self, *args, timeout=None, give_up_after=None):
        """Sends one command and returns its reply; reconnects and retries (forever, or until
        `give_up_after` seconds have passed, then raises Unavailable) while Redis is down."""
        timeout = self.timeout if timeout is None else timeout
        started = time.monotonic()
        attempt = 0
        with self._lock:
            while True:
                try:
                    if self._sock is None:
                        self._connect()
                        if attempt:
                            _log(f"{self.name}: reconnected to {self.host}:{self.port} after "
                                 f"{attempt} {'retry' if attempt == 1 else 'retries'} "
                                 f"({time.monotonic() - started:.1f}s)")
                    return self._roundtrip(args, timeout)
                except RedisError as e:
                    # A restarting server answers -LOADING until its data is read back.
                    if not str(e).startswith("LOADING"):
                        raise
                    failure = e
                except (OSError, ConnectionError) as e:  # refused, reset, timed out, closed
                    failure = e
                self.close()
                attempt += 1
                # Full jitter: uniform in [0, min(cap, base * 2^attempt)].
                ceiling = min(self.max_delay, self.base_delay * 2 ** min(attempt - 1, 30))
                delay = random.uniform(0, ceiling)
                waited = time.monotonic() - started
                if give_up_after is not None and waited + delay > give_up_after:
                    _log(f"{self.name}: giving up on {self.host}:{self.port} after {attempt} "
                         f"attempts ({waited:.1f}s): {type(failure).__name__}: {failure}")
                    raise Unavailable(f"redis at {self.host}:{self.port} unavailable: {failure}")
                _log(f"{self.name}: {args[0]} failed ({type(failure).__name__}: {failure}); "
                     f"retry {attempt} in {delay:.2f}s (backoff cap {ceiling:.2f}s)")
                time.sleep(delay)
