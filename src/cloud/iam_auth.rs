//! IAM database authentication (`x-provision.cloud.iam_auth`), the pure part: which user the
//! links name and the SQL that makes it, from the master user's session. The token itself is
//! signed in `aws::iam_auth`; `up` runs the SQL there, over verified TLS.
//!
//! The statements follow "Creating a database account using IAM authentication"
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html):
//! PostgreSQL `CREATE USER x; GRANT rds_iam TO x`; MySQL and MariaDB
//! `CREATE USER x IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'` and `REQUIRE SSL`.
//! Each is written to be run again without harm (a re-run of `up` repeats them).

use crate::catalog::Probe;

/// The SQL dialect of an engine with IAM authentication, by its wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    /// MySQL and MariaDB (both use `AWSAuthenticationPlugin` on RDS).
    Mysql,
}

impl Dialect {
    pub fn of(probe: Probe) -> Option<Self> {
        match probe {
            Probe::Postgres => Some(Self::Postgres),
            Probe::Mysql => Some(Self::Mysql),
            Probe::Redis | Probe::Memcached => None,
        }
    }
}

/// A PostgreSQL identifier, double-quoted (a `"` inside doubled).
fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal, single-quoted (a `'` inside doubled; MySQL's backslash escapes are
/// not relied on: names here are letters, digits and underscores already).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A MySQL identifier, backquoted.
fn my_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The statements that make `user` an IAM-authenticated user with the same reach into
/// `database` as the master user's link had: all privileges on the database (and, on
/// PostgreSQL, its `public` schema, which PostgreSQL 15+ no longer opens to every user:
/// https://www.postgresql.org/docs/15/release-15.html "Remove PUBLIC creation permission on
/// the public schema").
pub fn user_statements(dialect: Dialect, user: &str, database: Option<&str>) -> Vec<String> {
    match dialect {
        Dialect::Postgres => {
            let mut out = vec![
                // CREATE USER has no IF NOT EXISTS in PostgreSQL.
                format!(
                    "DO $provision$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN CREATE USER {}; END IF; END $provision$",
                    literal(user),
                    pg_ident(user)
                ),
                format!("GRANT rds_iam TO {}", pg_ident(user)),
            ];
            if let Some(db) = database {
                out.push(format!(
                    "GRANT ALL PRIVILEGES ON DATABASE {} TO {}",
                    pg_ident(db),
                    pg_ident(user)
                ));
            }
            // The master user's session is connected to `database`: the schema is its.
            out.push(format!("GRANT ALL ON SCHEMA public TO {}", pg_ident(user)));
            out
        }
        Dialect::Mysql => {
            let account = format!("{}@'%'", literal(user));
            let mut out = vec![
                format!(
                    "CREATE USER IF NOT EXISTS {account} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
                ),
                // "To allow SSL connections, modify the user account" (the page above).
                format!("ALTER USER {account} REQUIRE SSL"),
            ];
            if let Some(db) = database {
                out.push(format!(
                    "GRANT ALL PRIVILEGES ON {}.* TO {account}",
                    my_ident(db)
                ));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_creates_the_user_once_and_grants_rds_iam() {
        let sql = user_statements(Dialect::Postgres, "app_iam", Some("shop"));
        assert_eq!(
            sql,
            [
                "DO $provision$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'app_iam') THEN CREATE USER \"app_iam\"; END IF; END $provision$",
                "GRANT rds_iam TO \"app_iam\"",
                "GRANT ALL PRIVILEGES ON DATABASE \"shop\" TO \"app_iam\"",
                "GRANT ALL ON SCHEMA public TO \"app_iam\"",
            ]
        );
    }

    #[test]
    fn mysql_and_mariadb_use_the_aws_plugin_and_require_tls() {
        let sql = user_statements(Dialect::Mysql, "app_iam", Some("shop"));
        assert_eq!(
            sql,
            [
                "CREATE USER IF NOT EXISTS 'app_iam'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'",
                "ALTER USER 'app_iam'@'%' REQUIRE SSL",
                "GRANT ALL PRIVILEGES ON `shop`.* TO 'app_iam'@'%'",
            ]
        );
        // No database named: the user alone.
        assert_eq!(user_statements(Dialect::Mysql, "u", None).len(), 2);
    }

    #[test]
    fn quotes_inside_names_cannot_end_the_literal() {
        let sql = user_statements(Dialect::Postgres, "a\"b'c", None);
        assert!(sql[0].contains("'a\"b''c'") && sql[0].contains("\"a\"\"b'c\""));
        let sql = user_statements(Dialect::Mysql, "a'b", Some("d`b"));
        assert!(sql[0].contains("'a''b'@'%'") && sql[2].contains("`d``b`"));
    }
}
