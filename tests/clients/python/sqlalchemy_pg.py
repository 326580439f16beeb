# SQLAlchemy, postgresql:// (its default Postgres driver: psycopg 3 in SQLAlchemy 2.1,
# psycopg2 before). Query parameters of the URL are passed to the driver's connect(), so
# sslmode and sslrootcert reach libpq.
# https://docs.sqlalchemy.org/en/21/dialects/postgresql.html#module-sqlalchemy.dialects.postgresql.psycopg
# https://docs.sqlalchemy.org/en/21/core/engines.html#database-urls
import sqlalchemy

from _cell import link, run

SSL_QUERY = "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def check(prefix):
    engine = sqlalchemy.create_engine(link(prefix, "URL"), poolclass=sqlalchemy.NullPool)
    with engine.connect() as conn:
        ssl, version, cipher = conn.exec_driver_sql(SSL_QUERY).one()
    driver = engine.dialect.driver
    return ssl, f"{driver} {version} {cipher}" if ssl else driver


run("sqlalchemy-pg", check)
