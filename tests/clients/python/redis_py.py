# redis-py: Redis.from_url("rediss://:PASS@HOST:PORT/0") uses TLS with ssl_cert_reqs="required"
# and (redis-py >= 6) ssl_check_hostname=True; the CA comes from Python's default verify paths,
# which honour SSL_CERT_FILE.
# https://redis.readthedocs.io/en/stable/connections.html#redis.Redis.from_url
# https://redis.readthedocs.io/en/stable/examples/ssl_connection_examples.html
import os

import redis

from _cell import link, run


def check(prefix):
    client = redis.Redis.from_url(link(prefix, "URL"))
    try:
        key = f"provision-client-matrix:{os.getpid()}"
        client.set(key, "ok", ex=60)
        if client.get(key) != b"ok":
            raise RuntimeError("GET did not return what SET stored")
        conn = client.connection_pool.get_connection()
        try:
            sock = conn._sock  # an ssl.SSLSocket for rediss://
            tls = getattr(sock, "version", None)
            detail = f"{sock.version()} {sock.cipher()[0]}" if tls else ""
        finally:
            client.connection_pool.release(conn)
    finally:
        client.close()
    return bool(tls), detail


run("redis-py", check)
