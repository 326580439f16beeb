//! `provision connect DATABASE [-- ARGS...]`: the engine's own client on the database's
//! address, locally or (`--cloud`) with TLS. The client replaces provision, so its prompt,
//! signals and exit status are its own.
//!
//! Credentials never go on the command line, where every user's `ps` would show them:
//! - psql reads `PGPASSWORD` (<https://www.postgresql.org/docs/current/libpq-envars.html>);
//!   `PGSSLMODE=require` asks for TLS.
//! - mysql/mariadb read an option file given as `--defaults-extra-file`, which must be the
//!   first option (<https://dev.mysql.com/doc/refman/8.4/en/option-file-options.html>); the
//!   file is created 0600, removed at once, and handed over as `/dev/fd/N`, so nothing is left
//!   on disk even if the client crashes. (`MYSQL_PWD` is deprecated in MySQL 8.)
//! - redis-cli/valkey-cli read `REDISCLI_AUTH` (<https://redis.io/docs/latest/develop/tools/cli/>).
//!   The address goes as `-h`/`-p`, not a URL: Debian's redis-cli 7.0 sends an empty user
//!   name for `redis://:PASS@host` and is refused.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::Probe;
use crate::error::{Error, Exit};
use crate::links::Endpoint;
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

/// What a client needs, from the endpoint the target reports.
#[derive(Debug)]
struct Address {
    host: String,
    port: String,
    username: String,
    password: String,
    /// The database (or Redis number) to open; empty for the server's default.
    database: String,
    /// The CA the server's certificate chains to (RDS's, local TLS's); ElastiCache's chain
    /// to the system's roots, so it has none.
    ca: Option<String>,
    tls: bool,
}

impl Address {
    fn of(endpoint: Endpoint) -> Self {
        Self {
            host: endpoint.host,
            port: endpoint.port.to_string(),
            username: endpoint.username.unwrap_or_default(),
            password: endpoint
                .password
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            database: endpoint.database.unwrap_or_default(),
            ca: endpoint.ca_file.map(|p| p.display().to_string()),
            tls: endpoint.tls,
        }
    }
}

/// The first of `programs` on PATH.
fn find(programs: &[String]) -> Option<(String, PathBuf)> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    programs.iter().find_map(|program| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .map(|p| (program.clone(), p))
    })
}

pub fn run(
    session: &Session,
    target: Target,
    database: &str,
    args: &[String],
) -> Result<Exit, Error> {
    let (_, plan) = session.plan(target)?;
    let Some(resource) = plan.resource(database) else {
        return Err(Error::UnknownDatabase {
            name: database.to_owned(),
            known: plan.resources.iter().map(|r| r.name.clone()).collect(),
        });
    };
    let template = resource.template.clone();
    let names = [database];
    let endpoint = block_on(async {
        match target {
            Target::Local => local::live_endpoints(session, &plan, &names).await,
            Target::Cloud => cloud::live_endpoints(session, &plan, &names).await,
        }
    })?
    .pop()
    .ok_or_else(|| Error::NotUp {
        resource: database.to_owned(),
        cloud: target == Target::Cloud,
    })?;
    let at = Address::of(endpoint);
    let client = &template.client;
    if client.programs.is_empty() {
        return Err(Error::NoClient {
            resource: database.to_owned(),
            hint: client
                .hint
                .replace("{host}", &at.host)
                .replace("{port}", &at.port),
        });
    }
    let Some((name, program)) = find(&client.programs) else {
        return Err(Error::ClientMissing {
            resource: database.to_owned(),
            programs: client.programs.clone(),
            package: client.package.clone(),
        });
    };
    let mut command = Command::new(&program);
    // Held open until `exec`: the option file the MySQL clients read through `/dev/fd/N`.
    let _option_file = client_args(&mut command, &template, database, &name, &program, &at)?;
    command.args(args);
    let source = command.exec();
    Err(Error::Client {
        program: program.display().to_string(),
        what: "start the client",
        source,
    })
}

/// How the engine's client is told the address, the credentials (never on its command line)
/// and TLS. Returns the option file the MySQL clients read, which must stay open until `exec`.
fn client_args(
    command: &mut Command,
    template: &crate::catalog::Template,
    database: &str,
    name: &str,
    program: &Path,
    at: &Address,
) -> Result<Option<std::fs::File>, Error> {
    let client = &template.client;
    let mut held = None;
    match template.probe {
        Probe::Postgres => {
            command
                .args([
                    "-h",
                    &at.host,
                    "-p",
                    &at.port,
                    "-U",
                    &at.username,
                    "-d",
                    &at.database,
                ])
                .env("PGPASSWORD", &at.password);
            match &at.ca {
                Some(ca) => {
                    command
                        .env("PGSSLMODE", "verify-full")
                        .env("PGSSLROOTCERT", ca);
                }
                None if at.tls => {
                    command.env("PGSSLMODE", "require");
                }
                None => {}
            }
        }
        Probe::Mysql => {
            let mariadb = name == "mariadb" || is_mariadb_client(program);
            let file = option_file(
                program,
                &mysql_options(
                    at,
                    match (&at.ca, at.tls) {
                        (Some(ca), _) => MysqlTls::Verify(ca),
                        (None, true) => MysqlTls::On,
                        (None, false) => MysqlTls::Off,
                    },
                    mariadb,
                ),
            )?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
            command.arg(format!("--defaults-extra-file=/dev/fd/{fd}"));
            held = Some(file);
        }
        Probe::Redis => {
            command.args(["-h", &at.host, "-p", &at.port]);
            if !at.password.is_empty() {
                command.env("REDISCLI_AUTH", &at.password);
            }
            if at.tls {
                command.arg("--tls");
            }
            if let Some(ca) = &at.ca {
                command.args(["--cacert", ca]);
            }
        }
        Probe::Memcached => {
            return Err(Error::NoClient {
                resource: database.to_owned(),
                hint: client.hint.clone(),
            });
        }
    }
    Ok(held)
}

/// Debian's `mysql` is MariaDB's client under the old name; the two spell TLS differently.
fn is_mariadb_client(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("MariaDB"))
}

/// The option file's text: `[client]` for the connection, `[mysql]` for the database (the
/// group only the interactive client reads).
/// How the MySQL clients are told about TLS.
#[derive(Debug, Clone, Copy)]
enum MysqlTls<'a> {
    Off,
    /// Encrypted, certificates from the system's roots.
    On,
    /// Encrypted and verified against this CA file, host name included.
    Verify(&'a str),
}

fn mysql_options(at: &Address, tls: MysqlTls<'_>, mariadb: bool) -> String {
    // Option-file values may be quoted; a quote or backslash inside is escaped.
    let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let mut text = format!(
        "[client]\nhost={}\nport={}\nuser={}\npassword={}\n",
        quote(&at.host),
        at.port,
        quote(&at.username),
        quote(&at.password)
    );
    match (tls, mariadb) {
        (MysqlTls::Off, _) => {}
        (MysqlTls::On, true) => text.push_str("ssl\n"),
        (MysqlTls::On, false) => text.push_str("ssl-mode=REQUIRED\n"),
        (MysqlTls::Verify(ca), true) => {
            text.push_str(&format!(
                "ssl\nssl-ca={}\nssl-verify-server-cert\n",
                quote(ca)
            ));
        }
        (MysqlTls::Verify(ca), false) => {
            text.push_str(&format!("ssl-mode=VERIFY_IDENTITY\nssl-ca={}\n", quote(ca)));
        }
    }
    text.push_str(&format!("[mysql]\ndatabase={}\n", quote(&at.database)));
    text
}

/// A 0600 file holding `text`, already unlinked, open without close-on-exec so that the
/// client finds it as `/dev/fd/N`.
fn option_file(program: &Path, text: &str) -> Result<std::fs::File, Error> {
    let failed = |source| Error::Client {
        program: program.display().to_string(),
        what: "write the option file",
        source,
    };
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| failed(std::io::Error::other(e.to_string())))?;
    let name = u64::from_le_bytes(random);
    let name = format!("{name:016x}");
    let path = std::env::temp_dir().join(format!("provision-connect-{name}.cnf"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(failed)?;
    let written = file.write_all(text.as_bytes());
    let _ = std::fs::remove_file(&path);
    written.map_err(failed)?;
    rustix::io::fcntl_setfd(&file, rustix::io::FdFlags::empty()).map_err(|e| failed(e.into()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_file_text() {
        let at = Address {
            host: "127.0.0.1".into(),
            port: "3306".into(),
            username: "app".into(),
            password: "a\"b\\c".into(),
            database: "app".into(),
            ca: None,
            tls: false,
        };
        assert_eq!(
            mysql_options(&at, MysqlTls::Off, true),
            "[client]\nhost=\"127.0.0.1\"\nport=3306\nuser=\"app\"\npassword=\"a\\\"b\\\\c\"\n[mysql]\ndatabase=\"app\"\n"
        );
        assert!(mysql_options(&at, MysqlTls::On, false).contains("ssl-mode=REQUIRED\n"));
        assert!(mysql_options(&at, MysqlTls::On, true).contains("\nssl\n"));
    }
}
