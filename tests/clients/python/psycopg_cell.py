# psycopg 3 (libpq): psycopg.connect() takes a libpq connection URI; sslmode=verify-full and
# sslrootcert=<file> are libpq parameters.
# https://www.psycopg.org/psycopg3/docs/api/connections.html#psycopg.Connection.connect
# https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNECT-SSLMODE
import psycopg

from _cell import link, run

SSL_QUERY = "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def check(prefix):
    with psycopg.connect(link(prefix, "URL")) as conn:
        ssl, version, cipher = conn.execute(SSL_QUERY).fetchone()
    return ssl, f"{version} {cipher}" if ssl else ""


run("psycopg", check)
