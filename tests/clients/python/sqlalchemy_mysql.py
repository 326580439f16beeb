# SQLAlchemy with the MySQL driver named in the URL (run.sh cells sqlalchemy-mysql and
# sqlalchemy-myconnector).
# mysql+pymysql://...?ssl_ca=<file>&ssl_check_hostname=true: SQLAlchemy turns these into PyMySQL's
# ssl={"ca", "check_hostname"}; PyMySQL >= 1.2.0 then refuses a server without TLS (<= 1.1.x
# silently continues in plain text).
# https://docs.sqlalchemy.org/en/21/dialects/mysql.html#ssl-connections
# https://docs.sqlalchemy.org/en/21/dialects/mysql.html#module-sqlalchemy.dialects.mysql.pymysql
# mysql+mysqlconnector://...?ssl_ca=<file>&ssl_verify_cert=true&ssl_verify_identity=true: query
# parameters are mysql.connector.connect() arguments; all three are needed.
# https://dev.mysql.com/doc/connector-python/en/connector-python-connectargs.html
import sqlalchemy

from _cell import link, run


def check(prefix):
    engine = sqlalchemy.create_engine(link(prefix, "URL"), poolclass=sqlalchemy.NullPool)
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_cipher'").one_or_none()
    cipher = row[1] if row else ""
    return bool(cipher), f"{engine.dialect.driver} {cipher}".strip()


run("sqlalchemy-mysql", check)
