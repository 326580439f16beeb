//! `provision dump DB --cloud` and `provision restore DB --cloud`: the engine's own client
//! tools (`data:` in `templates/*.yml`, the same `pg_dump -Fc` / `pg_restore` and
//! `mariadb-dump`/`mysqldump` as locally), run on this machine (a CI runner, a bastion, a
//! laptop on the VPN) against the cloud endpoint, over TLS that verifies the server:
//! - Postgres: `PGSSLMODE=verify-full` with `PGSSLROOTCERT` the RDS CA bundle provision
//!   writes (<https://www.postgresql.org/docs/current/libpq-ssl.html>), the password in
//!   `PGPASSWORD`.
//! - MariaDB/MySQL: an option file read from a descriptor (`--defaults-extra-file=/dev/fd/3`,
//!   written by a here-document from an environment variable the wrapper unsets, so nothing is
//!   on disk or in `ps`) with `ssl-ca` and `ssl-verify-server-cert` (MariaDB's clients) or
//!   `ssl-mode=VERIFY_IDENTITY` (MySQL's).
//! - Redis/Valkey: refused. The dump is the server's RDB by replication (`redis-cli --rdb`,
//!   which sends `SYNC`), and ElastiCache makes `sync`, `bgsave`, `save`, `replicaof` and
//!   `config` unavailable
//!   (<https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ClientConfig.RestrictedCommands.html>);
//!   its own snapshots are the way (export to S3, or seed a new cache from an RDB in S3).
//!
//! Crash safety matches the local restore: Postgres restores in one transaction
//! (`pg_restore --single-transaction`), which the server rolls back if the restore fails or
//! is killed; MariaDB/MySQL dump what is there first to a file kept until the restore is done.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::catalog::{DataTools, Probe, Template};
use crate::error::{DataError, Error};
use crate::links::Endpoint;
use crate::meter::Meter;
use crate::plan::{Plan, Target};
use crate::secret::Secret;
use crate::session::Session;
use crate::stream::{copy, file_error, megabytes, partial};

/// Runs the tool with fd 3 open on the option file, when there is one (as locally).
const WRAPPER: &str = "exec 3<<PROVISION_EOF\n$PROVISION_OPTIONS\nPROVISION_EOF\nunset PROVISION_OPTIONS\nexec \"$@\"\n";

/// The last bytes of a tool's stderr kept for its error message.
const STDERR_KEPT: usize = 16 * 1024;

/// A tool's command line and the environment that carries what must not be on it.
#[derive(Debug)]
pub struct Invocation {
    /// The tool and its arguments: no secret is ever among them.
    pub argv: Vec<String>,
    /// Variables for the tool: the password (or the option file holding it) and TLS.
    pub env: Vec<(String, Secret)>,
}

/// How a MySQL-family client spells verified TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    MariaDb,
    MySql,
}

/// The invocation of `argv` (a template's `dump` or `restore`) against `endpoint`, with TLS
/// verified. Pure: what runs is decided here and tested without a server.
pub fn invocation(
    template: &Template,
    tools: &DataTools,
    argv: &[String],
    endpoint: &Endpoint,
    family: Family,
) -> Invocation {
    let password = endpoint
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    let username = endpoint.username.clone().unwrap_or_default();
    let database = endpoint.database.clone().unwrap_or_default();
    let fill = |a: &str| {
        a.replace("{host}", &endpoint.host)
            .replace("{port}", &endpoint.port.to_string())
            .replace("{username}", &username)
            .replace("{database}", &database)
            .replace("{options}", "/dev/fd/3")
    };
    let argv: Vec<String> = argv.iter().map(|a| fill(a)).collect();
    let mut env = Vec::new();
    if let Some(var) = &tools.password_env
        && !password.is_empty()
    {
        env.push((var.clone(), Secret::new(password.clone())));
    }
    let ca = endpoint.ca_file.as_ref().map(|p| p.display().to_string());
    match template.probe {
        Probe::Postgres => {
            env.push(("PGSSLMODE".to_owned(), Secret::new("verify-full")));
            // Without a CA of its own the server's certificate chains to public roots: libpq
            // 16 and later read `system` as the system's bundle.
            env.push((
                "PGSSLROOTCERT".to_owned(),
                Secret::new(ca.unwrap_or_else(|| "system".to_owned())),
            ));
        }
        Probe::Mysql => {
            let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
            let mut text = format!(
                // TCP always: the MySQL family reads `localhost` as its Unix socket, and a
                // cloud endpoint (a tunnel or proxy on this machine too) is never one.
                "[client]\nhost={}\nport={}\nprotocol=TCP\nuser={}\npassword={}\n",
                quote(&endpoint.host),
                endpoint.port,
                quote(&username),
                quote(&password)
            );
            match (family, &ca) {
                (Family::MariaDb, Some(ca)) => {
                    text.push_str(&format!(
                        "ssl\nssl-ca={}\nssl-verify-server-cert\n",
                        quote(ca)
                    ));
                }
                (Family::MariaDb, None) => text.push_str("ssl\nssl-verify-server-cert\n"),
                (Family::MySql, Some(ca)) => {
                    text.push_str(&format!("ssl-mode=VERIFY_IDENTITY\nssl-ca={}\n", quote(ca)));
                }
                (Family::MySql, None) => text.push_str("ssl-mode=VERIFY_IDENTITY\n"),
            }
            env.push(("PROVISION_OPTIONS".to_owned(), Secret::new(text)));
        }
        Probe::Redis | Probe::Memcached => {}
    }
    Invocation { argv, env }
}

/// What the cloud side can dump and restore, or why not.
fn cloud_tools<'p>(plan: &'p Plan, database: &str) -> Result<(&'p Template, &'p DataTools), Error> {
    let Some(resource) = plan.resource(database) else {
        return Err(Error::UnknownDatabase {
            name: database.to_owned(),
            known: plan.resources.iter().map(|r| r.name.clone()).collect(),
        });
    };
    let template = &*resource.template;
    let Some(tools) = template.data.as_ref() else {
        return Err(DataError::NoData {
            resource: database.to_owned(),
            title: template.title.clone(),
        }
        .into());
    };
    if template.probe == Probe::Redis {
        return Err(DataError::CloudRedis {
            resource: database.to_owned(),
        }
        .into());
    }
    Ok((template, tools))
}

/// The first program of `argv` on PATH, or the error naming the package that has it.
fn locate(template: &Template, database: &str, program: &str) -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt as _;
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    });
    found.ok_or_else(|| Error::ClientMissing {
        resource: database.to_owned(),
        programs: vec![program.to_owned()],
        package: template.client.package.clone(),
    })
}

/// Debian's `mysql`/`mysqldump` may be MariaDB's under the old names; the two spell TLS
/// differently, and each refuses the other's words.
fn family_of(program: &Path) -> Family {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("mariadb") {
        return Family::MariaDb;
    }
    let says_mariadb = std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("MariaDB"));
    if says_mariadb {
        Family::MariaDb
    } else {
        Family::MySql
    }
}

/// How a tool run on this machine ended.
#[derive(Debug)]
struct Ran {
    code: i64,
    stderr: String,
    bytes_in: u64,
    bytes_out: u64,
    took: std::time::Duration,
}

fn stream_error(database: &str, program: &str, what: &str, source: std::io::Error) -> Error {
    DataError::Stream {
        resource: database.to_owned(),
        program: program.to_owned(),
        what: what.to_owned(),
        source,
    }
    .into()
}

/// Runs the invocation: `input` on its stdin (none: closed), its stdout into `output`.
async fn run(
    database: &str,
    invocation: &Invocation,
    input: Option<Box<dyn AsyncRead + Send + Unpin>>,
    mut output: Box<dyn AsyncWrite + Send + Unpin>,
) -> Result<Ran, Error> {
    let started = Instant::now();
    let program = invocation.argv.first().cloned().unwrap_or_default();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg("sh")
        .args(&invocation.argv)
        .envs(invocation.env.iter().map(|(k, v)| (k, v.expose())))
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| stream_error(database, &program, "start it", e))?;
    let stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let feeding = async {
        let (Some(mut to), Some(mut from)) = (stdin, input) else {
            return Ok(0);
        };
        let n = copy(&mut from, &mut to).await?;
        to.shutdown().await?;
        Ok::<u64, std::io::Error>(n)
    };
    let draining = async {
        let Some(from) = stdout.as_mut() else {
            return Ok(0);
        };
        let n = copy(from, &mut output).await?;
        output.flush().await?;
        Ok::<u64, std::io::Error>(n)
    };
    let collecting = async {
        let mut text = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let _ = err.read_to_end(&mut text).await;
        }
        let cut = text.len().saturating_sub(STDERR_KEPT);
        text.drain(..cut);
        text
    };
    let (fed, drained, stderr) = tokio::join!(feeding, draining, collecting);
    let status = child
        .wait()
        .await
        .map_err(|e| stream_error(database, &program, "wait for it", e))?;
    let code = i64::from(status.code().unwrap_or(-1));
    let bytes_out = drained.map_err(|e| stream_error(database, &program, "copy its output", e))?;
    // A tool that stops reading (it failed) breaks the pipe: its own status says why.
    let bytes_in = match fed {
        Ok(n) => n,
        Err(_) if code != 0 => 0,
        Err(e) => return Err(stream_error(database, &program, "send it the input", e)),
    };
    Ok(Ran {
        code,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        bytes_in,
        bytes_out,
        took: started.elapsed(),
    })
}

/// What libpq, MariaDB's and MySQL's clients (OpenSSL's words) say when the server's
/// certificate does not verify: its chain, or its name.
const TLS_REFUSALS: &[&str] = &[
    "certificate verify failed",
    // MariaDB Connector/C (`mariadb`, `mariadb-dump`): error 2026, chain or name alike.
    "Validation of SSL server certificate failed",
    "does not match host name",
    "SSL certificate validation failure",
    "self-signed certificate",
    "unable to get local issuer certificate",
];

fn check(
    database: &str,
    what: &str,
    invocation: &Invocation,
    endpoint: &Endpoint,
    ran: &Ran,
) -> Result<(), Error> {
    if ran.code == 0 {
        return Ok(());
    }
    // A refused certificate is not a failed dump: say which CA file and name were checked.
    if TLS_REFUSALS.iter().any(|words| ran.stderr.contains(words)) {
        return Err(DataError::CloudTls {
            resource: database.to_owned(),
            program: invocation.argv.first().cloned().unwrap_or_default(),
            host: endpoint.host.clone(),
            port: endpoint.port,
            ca_file: endpoint.ca_file.clone(),
            stderr: ran.stderr.trim().to_owned(),
        }
        .into());
    }
    Err(DataError::ToolFailed {
        resource: database.to_owned(),
        what: what.to_owned(),
        program: invocation.argv.first().cloned().unwrap_or_default(),
        code: ran.code,
        stderr: ran.stderr.trim().to_owned(),
    }
    .into())
}

/// The endpoint of `database` and the invocation of one of its tools.
async fn prepare(
    session: &Session,
    plan: &Plan,
    database: &str,
    pick: impl Fn(&DataTools) -> &Vec<String>,
) -> Result<(Endpoint, Invocation), Error> {
    let (template, tools) = cloud_tools(plan, database)?;
    let argv = pick(tools);
    let program = argv.first().cloned().unwrap_or_default();
    let path = locate(template, database, &program)?;
    let endpoint = super::live_endpoints(session, plan, &[database])
        .await?
        .pop()
        .ok_or_else(|| Error::NotUp {
            resource: database.to_owned(),
            cloud: true,
        })?;
    let family = if template.probe == Probe::Mysql {
        family_of(&path)
    } else {
        Family::MySql
    };
    let invocation = invocation(template, tools, argv, &endpoint, family);
    Ok((endpoint, invocation))
}

/// `provision dump DB --cloud [-o FILE]`.
pub async fn dump(session: &Session, database: &str, output: Option<&Path>) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    let (_, tools) = cloud_tools(&plan, database)?;
    let to_stdout = output.is_none_or(|o| o == Path::new("-"));
    if to_stdout && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(DataError::DumpToTerminal {
            resource: database.to_owned(),
            suffix: tools.suffix.clone(),
        }
        .into());
    }
    let (endpoint, invocation) = prepare(session, &plan, database, |t| &t.dump).await?;
    let meter = Meter::new(database, session.quiet, None);
    let aside = output.filter(|_| !to_stdout).map(partial);
    let sink: Box<dyn AsyncWrite + Send + Unpin> = match &aside {
        Some(aside) => {
            let file = tokio::fs::File::create(aside)
                .await
                .map_err(file_error("create", aside))?;
            Box::new(meter.writer(file))
        }
        None => Box::new(meter.writer(tokio::io::stdout())),
    };
    let ran = run(database, &invocation, None, sink).await;
    meter.finish();
    let ran = match ran {
        Ok(r) if r.code == 0 => r,
        other => {
            if let Some(aside) = &aside {
                let _ = std::fs::remove_file(aside);
            }
            let r = other?;
            check(database, "dump the database", &invocation, &endpoint, &r)?;
            r
        }
    };
    if let (Some(aside), Some(path)) = (&aside, output) {
        let file = std::fs::File::open(aside).map_err(file_error("open", aside))?;
        file.sync_all().map_err(file_error("sync", aside))?;
        std::fs::rename(aside, path).map_err(file_error("rename into place", path))?;
    }
    if !session.quiet {
        eprintln!(
            "{database}: dumped {} from {} in {:.1}s{}",
            megabytes(ran.bytes_out),
            endpoint.host,
            ran.took.as_secs_f64(),
            output
                .filter(|_| !to_stdout)
                .map(|o| format!(" to {}", o.display()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Where a MySQL restore into the cloud keeps the data from before it.
fn backup_path(plan: &Plan, database: &str) -> PathBuf {
    let identifier = plan
        .resource(database)
        .and_then(|r| r.cloud.as_ref())
        .map_or_else(|| database.to_owned(), |c| c.identifier.clone());
    let dir = crate::home::root()
        .join(&plan.project.name)
        .join("cloud")
        .join(identifier);
    let _ = std::fs::create_dir_all(&dir);
    dir.join("before-restore.sql")
}

/// `provision restore DB --cloud [FILE|-]`.
pub async fn restore(session: &Session, database: &str, input: Option<&Path>) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    let (template, _) = cloud_tools(&plan, database)?;
    let (endpoint, invocation) = prepare(session, &plan, database, |t| &t.restore).await?;
    let (reader, meter): (Box<dyn AsyncRead + Send + Unpin>, Meter) = match input {
        Some(path) if path != Path::new("-") => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(file_error("open", path))?;
            let size = file.metadata().await.ok().map(|m| m.len());
            let meter = Meter::new(database, session.quiet, size);
            (Box::new(meter.reader(file)), meter)
        }
        _ => {
            let meter = Meter::new(database, session.quiet, None);
            (Box::new(meter.reader(tokio::io::stdin())), meter)
        }
    };
    // Plain SQL cannot be applied atomically: keep what is there until the restore is done.
    let keep = template.probe == Probe::Mysql;
    let backup = backup_path(&plan, database);
    if keep {
        if backup.exists() {
            eprintln!(
                "{database}: an earlier restore did not finish; the data from before it is kept in {}",
                backup.display()
            );
        } else {
            let (_, dump) = prepare(session, &plan, database, |t| &t.dump).await?;
            let aside = partial(&backup);
            let file = tokio::fs::File::create(&aside)
                .await
                .map_err(file_error("create", &aside))?;
            let r = run(database, &dump, None, Box::new(file)).await?;
            check(
                database,
                "dump the data before the restore",
                &dump,
                &endpoint,
                &r,
            )?;
            std::fs::rename(&aside, &backup).map_err(file_error("rename into place", &backup))?;
            if !session.quiet {
                eprintln!(
                    "{database}: kept the current data in {} until the restore is done",
                    backup.display()
                );
            }
        }
    }
    crash_point("cloud-restore-before-load");
    let ran = run(
        database,
        &invocation,
        Some(reader),
        Box::new(tokio::io::sink()),
    )
    .await;
    meter.finish();
    let ran = ran?;
    check(database, "restore the dump", &invocation, &endpoint, &ran)?;
    if keep {
        std::fs::remove_file(&backup).map_err(file_error("remove", &backup))?;
    }
    if !session.quiet {
        eprintln!(
            "{database}: restored {} into {} in {:.1}s",
            megabytes(ran.bytes_in),
            endpoint.host,
            ran.took.as_secs_f64()
        );
    }
    Ok(())
}

/// `PROVISION_TEST_CRASH_AT=<step>`: aborts at that step, as a SIGKILL would (tests only).
fn crash_point(step: &str) {
    if std::env::var("PROVISION_TEST_CRASH_AT").is_ok_and(|s| s == step) {
        eprintln!("provision: PROVISION_TEST_CRASH_AT={step}: aborting here");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(ca: Option<&str>) -> Endpoint {
        Endpoint {
            host: "shop-db.abc.us-east-1.rds.amazonaws.com".into(),
            port: 5432,
            tls: true,
            ca_file: ca.map(PathBuf::from),
            username: Some("app".into()),
            password: Some(Secret::new("s3cr\"t$x")),
            database: Some("shop".into()),
        }
    }

    fn template(name: &str) -> std::sync::Arc<Template> {
        crate::catalog::Catalog::builtin()
            .unwrap()
            .get(name)
            .unwrap()
            .clone()
    }

    fn env_of(i: &Invocation) -> Vec<(&str, &str)> {
        i.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect()
    }

    #[test]
    fn postgres_verifies_the_rds_certificate_and_keeps_the_password_off_argv() {
        let t = template("postgres");
        let tools = t.data.as_ref().unwrap();
        let e = endpoint(Some("/home/p/shop/tls/rds-ca.pem"));
        let dump = invocation(&t, tools, &tools.dump, &e, Family::MySql);
        assert_eq!(dump.argv[0], "pg_dump");
        assert!(dump.argv.contains(&"--format=custom".to_owned()));
        assert!(dump.argv.contains(&e.host));
        assert!(
            dump.argv.iter().all(|a| !a.contains("s3cr")),
            "{:?}",
            dump.argv
        );
        assert_eq!(
            env_of(&dump),
            [
                ("PGPASSWORD", "s3cr\"t$x"),
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/home/p/shop/tls/rds-ca.pem")
            ]
        );
        // The restore is one transaction: killed or failed, the server rolls it back.
        let restore = invocation(&t, tools, &tools.restore, &e, Family::MySql);
        assert_eq!(restore.argv[0], "pg_restore");
        assert!(restore.argv.contains(&"--single-transaction".to_owned()));
        assert!(restore.argv.contains(&"--exit-on-error".to_owned()));
    }

    #[test]
    fn mysql_family_options_verify_the_server() {
        let e = endpoint(Some("/ca.pem"));
        for (name, family, tls) in [
            (
                "mariadb",
                Family::MariaDb,
                "ssl\nssl-ca=\"/ca.pem\"\nssl-verify-server-cert\n",
            ),
            (
                "mysql",
                Family::MySql,
                "ssl-mode=VERIFY_IDENTITY\nssl-ca=\"/ca.pem\"\n",
            ),
        ] {
            let t = template(name);
            let tools = t.data.as_ref().unwrap();
            let i = invocation(&t, tools, &tools.dump, &e, family);
            assert!(
                i.argv
                    .contains(&"--defaults-extra-file=/dev/fd/3".to_owned())
            );
            assert!(i.argv.contains(&"--single-transaction".to_owned()));
            assert!(i.argv.iter().all(|a| !a.contains("s3cr")), "{:?}", i.argv);
            let env = env_of(&i);
            assert_eq!(env.len(), 1, "{env:?}");
            assert_eq!(env[0].0, "PROVISION_OPTIONS");
            assert!(
                env[0].1.contains("password=\"s3cr\\\"t$x\"\n"),
                "{}",
                env[0].1
            );
            assert!(env[0].1.ends_with(tls), "{name}: {}", env[0].1);
            // `localhost` would be the Unix socket: a tunnel or proxy here is TCP.
            assert!(env[0].1.contains("\nprotocol=TCP\n"), "{}", env[0].1);
        }
    }

    #[test]
    fn redis_and_memcached_are_refused_in_the_cloud() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            b"services:\n  kv: {image: 'redis:7'}\n  mc: {image: 'memcached:1.6'}\n  db: {image: 'postgres:16'}\n",
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let plan = crate::plan::plan(&m, &catalog, Target::Cloud, None).unwrap();
        let kv = cloud_tools(&plan, "kv").unwrap_err().render();
        assert!(kv.contains("ElastiCache"), "{kv}");
        let mc = cloud_tools(&plan, "mc").unwrap_err().render();
        assert!(mc.contains("keeps no data"), "{mc}");
        assert!(cloud_tools(&plan, "db").is_ok());
    }

    #[test]
    fn a_refused_certificate_names_the_ca_file_and_host_other_failures_stay_tool_failures() {
        let t = template("postgres");
        let tools = t.data.as_ref().unwrap();
        let e = endpoint(Some("/home/p/shop/tls/rds-ca.pem"));
        let i = invocation(&t, tools, &tools.dump, &e, Family::MySql);
        let ran = |stderr: &str| Ran {
            code: 1,
            stderr: stderr.to_owned(),
            bytes_in: 0,
            bytes_out: 0,
            took: std::time::Duration::ZERO,
        };
        // The words of the real clients, as the end-to-end tests (tests/integration/cloud/
        // data_tls.rs) saw them.
        for stderr in [
            "pg_dump: error: connection to server at \"x\" (127.0.0.1), port 5432 failed: SSL error: certificate verify failed",
            "pg_dump: error: connection to server at \"127.0.0.2\", port 5432 failed: server certificate for \"localhost\" (and 2 other names) does not match host name \"127.0.0.2\"",
            "mariadb-dump: Got error: 2026: \"TLS/SSL error: Validation of SSL server certificate failed\" when trying to connect",
        ] {
            let err = check("db", "dump the database", &i, &e, &ran(stderr)).unwrap_err();
            assert!(
                matches!(&err, Error::Data(d) if matches!(**d, DataError::CloudTls { .. })),
                "{err:?}"
            );
            let text = err.render();
            assert!(
                text.contains("`pg_dump` could not verify the TLS certificate of `shop-db.abc.us-east-1.rds.amazonaws.com:5432` against `/home/p/shop/tls/rds-ca.pem`"),
                "{text}"
            );
            assert!(text.contains("PROVISION_RDS_CA_BUNDLE"), "{text}");
            assert_eq!(err.exit(), crate::error::Exit::Failure);
        }
        let err = check(
            "db",
            "dump the database",
            &i,
            &e,
            &ran("pg_dump: error: password authentication failed"),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Data(d) if matches!(**d, DataError::ToolFailed { .. })),
            "{err:?}"
        );
        assert!(check("db", "x", &i, &e, &Ran { code: 0, ..ran("") }).is_ok());
    }

    #[test]
    fn the_wrapper_hands_the_option_file_on_fd_3_and_unsets_it() {
        // The real `sh`: the tool sees the text on fd 3 and no PROVISION_OPTIONS.
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                WRAPPER,
                "sh",
                "sh",
                "-c",
                "cat /dev/fd/3; echo \"[${PROVISION_OPTIONS-unset}]\"",
            ])
            .env("PROVISION_OPTIONS", "[client]\npassword=\"a$b`c\"")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "[client]\npassword=\"a$b`c\"\n[unset]\n"
        );
    }
}
