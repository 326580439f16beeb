# psycopg2 (libpq): psycopg2.connect(dsn) takes a libpq connection URI; sslmode=verify-full and
# sslrootcert=<file> are libpq parameters.
# https://www.psycopg.org/docs/module.html#psycopg2.connect
# https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNECT-SSLMODE
import psycopg2

from _cell import link, run

SSL_QUERY = "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def check(prefix):
    conn = psycopg2.connect(link(prefix, "URL"))
    try:
        with conn.cursor() as cur:
            cur.execute(SSL_QUERY)
            ssl, version, cipher = cur.fetchone()
    finally:
        conn.close()
    return ssl, f"{version} {cipher}" if ssl else ""


run("psycopg2", check)
