//! The native runtime: each database as a server process on this machine, for laptops without
//! Docker. Data, logs and the generated password live in a per-project directory outside the
//! repository (`$PROVISION_HOME`, else `/var/lib/provision` as root, else
//! `$XDG_DATA_HOME/provision`), shown by `status`. Servers run detached in their own process
//! group, so they outlive the command and a Ctrl-C aimed at it; `down` stops them cleanly.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::reconcile::{self, Action, Replace};
use super::{Deadline, Live, Ready, RuntimeKind, Spec, State, ports};
use crate::catalog::Probe;
use crate::error::Error;
use crate::probe::{self, WaitError};
use crate::progress::Progress;
use crate::secret::Secret;

#[derive(Debug)]
pub struct NativeRuntime {
    root: PathBuf,
    is_root: bool,
}

/// A system account to run a server as when we are root (servers refuse root, rightly).
#[derive(Debug, Clone, Copy)]
struct Account {
    uid: u32,
    gid: u32,
}

fn account(name: &str) -> Option<Account> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name)).then(|| {
            Some(Account {
                uid: fields.get(2)?.parse().ok()?,
                gid: fields.get(3)?.parse().ok()?,
            })
        })?
    })
}

/// The account each engine's Debian package creates.
fn service_account(probe: Probe) -> &'static str {
    match probe {
        Probe::Postgres => "postgres",
        Probe::Mysql => "mysql",
        Probe::Redis => "redis",
        Probe::Memcached => "memcache",
    }
}

fn io_error(resource: &str, what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let (resource, what) = (resource.to_owned(), what.to_owned());
    move |e| Error::Native {
        resource,
        what,
        reason: e.to_string(),
    }
}

/// The start time of a process (field 22 of `/proc/PID/stat`): with the PID, it identifies
/// the process even after the PID is reused.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None; // a zombie has exited
    }
    fields.get(19)?.parse().ok()
}

fn write_private(path: &Path, text: &str, owner: Option<Account>) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    give_to(path, owner)
}

fn make_dir(path: &Path, mode: u32, owner: Option<Account>) -> std::io::Result<()> {
    fs::create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    give_to(path, owner)
}

/// Hands a file or directory to the server's account (when we run as root).
fn give_to(path: &Path, owner: Option<Account>) -> std::io::Result<()> {
    if let Some(a) = owner {
        rustix::fs::chown(
            path,
            Some(rustix::fs::Uid::from_raw(a.uid)),
            Some(rustix::fs::Gid::from_raw(a.gid)),
        )?;
    }
    Ok(())
}

/// The first `N.N[.N]` in a `--version` line.
fn version_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|t| t.contains('.') && t.starts_with(|c: char| c.is_ascii_digit()))
        .map(|t| t.trim_end_matches('.').to_owned())
}

impl NativeRuntime {
    pub fn new() -> Result<Self, Error> {
        let is_root = rustix::process::geteuid().is_root();
        let root = match std::env::var_os("PROVISION_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            // Root's home is private; the servers run as their own users and need to reach
            // their data, so as root the data lives where system services keep theirs.
            None if is_root => PathBuf::from("/var/lib/provision"),
            None => match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
                Some(d) => PathBuf::from(d).join("provision"),
                None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".local/share/provision"),
            },
        };
        Ok(Self { root, is_root })
    }

    fn dir(&self, spec: &Spec<'_>) -> PathBuf {
        self.root.join(spec.project).join(&spec.resource.name)
    }

    pub fn has_state(&self, spec: &Spec<'_>) -> bool {
        self.dir(spec).join("port").exists()
    }

    fn owner(&self, spec: &Spec<'_>) -> Option<Account> {
        if self.is_root {
            account(service_account(spec.template.probe))
        } else {
            None
        }
    }

    /// Directories to search: `PATH`, then the template's (`{version}` and `*` expanded,
    /// newest version first).
    fn search_dirs(&self, spec: &Spec<'_>) -> Vec<PathBuf> {
        let line = spec
            .template
            .version_line(&spec.resource.version)
            .unwrap_or(&spec.resource.version)
            .to_owned();
        // The manifest's version first (`/usr/lib/postgresql/16/bin`), then PATH, then any
        // version, newest first.
        let (versioned, others): (Vec<&String>, Vec<&String>) = spec
            .template
            .native
            .search
            .iter()
            .partition(|p| p.contains("{version}"));
        let mut dirs: Vec<PathBuf> = versioned
            .iter()
            .map(|p| PathBuf::from(p.replace("{version}", &line)))
            .collect();
        dirs.extend(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        for pattern in others {
            match pattern.split_once("/*/") {
                Some((parent, rest)) => {
                    let mut found: Vec<PathBuf> = fs::read_dir(parent)
                        .map(|entries| {
                            entries
                                .filter_map(Result::ok)
                                .map(|e| e.path().join(rest))
                                .collect()
                        })
                        .unwrap_or_default();
                    found.sort_by_key(|p| {
                        std::cmp::Reverse(
                            version_in(&p.to_string_lossy())
                                .and_then(|v| v.split('.').next()?.parse::<u32>().ok())
                                .unwrap_or(0),
                        )
                    });
                    dirs.extend(found);
                }
                None => dirs.push(PathBuf::from(pattern)),
            }
        }
        dirs
    }

    /// The directory holding all of the template's binaries.
    fn binaries(&self, spec: &Spec<'_>) -> Option<PathBuf> {
        let needed = &spec.template.native.binaries;
        self.search_dirs(spec)
            .into_iter()
            .find(|dir| needed.iter().all(|b| dir.join(b).is_file()))
    }

    /// The binaries missing for any of these resources, for the "no runtime" message.
    pub fn missing_binaries(&self, specs: &[Spec<'_>]) -> Vec<String> {
        let mut missing: Vec<String> = specs
            .iter()
            .filter(|s| {
                self.binaries(s).is_none()
                    || (s.template.probe == Probe::Mysql && install_db().is_none())
            })
            .map(|s| s.template.native.binaries[0].clone())
            .collect();
        missing.dedup();
        missing
    }

    fn running_pid(&self, spec: &Spec<'_>) -> Option<i32> {
        let text = fs::read_to_string(self.dir(spec).join("server.pid")).ok()?;
        let (pid, started) = text.trim().split_once(' ')?;
        let pid: i32 = pid.parse().ok()?;
        (start_time(pid)? == started.parse::<u64>().ok()?).then_some(pid)
    }

    fn stored(&self, spec: &Spec<'_>, file: &str) -> Option<String> {
        fs::read_to_string(self.dir(spec).join(file))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    pub fn inspect(&self, spec: &Spec<'_>) -> Result<Live, Error> {
        let dir = self.dir(spec);
        if !self.has_state(spec) {
            return Ok(Live::missing());
        }
        Ok(Live {
            state: if self.running_pid(spec).is_some() {
                State::Running
            } else {
                State::Stopped
            },
            port: self.stored(spec, "port").and_then(|p| p.parse().ok()),
            password: self.stored(spec, "password").map(Secret::new),
            data: (!spec.template.container.data_path.is_empty())
                .then(|| dir.join("data").display().to_string()),
            image: self.stored(spec, "version"),
        })
    }

    pub async fn up(
        &self,
        spec: &Spec<'_>,
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<Ready, Error> {
        let name = spec.resource.name.as_str();
        let dir = self.dir(spec);
        make_dir(&dir, 0o755, None).map_err(io_error(name, "create its directory"))?;
        self.check_reachable(spec)?;
        // One `up` at a time per resource: two would both run initdb on the same directory.
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(io_error(name, "open its lock"))?;
        let lock = tokio::task::spawn_blocking(move || {
            rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map(|()| lock)
        })
        .await
        .map_err(|e| Error::Native {
            resource: name.to_owned(),
            what: "lock its directory".into(),
            reason: e.to_string(),
        })?
        .map_err(|e| Error::Native {
            resource: name.to_owned(),
            what: "lock its directory".into(),
            reason: e.to_string(),
        })?;

        let bin = self.binaries(spec).ok_or_else(|| Error::BinaryMissing {
            resource: name.to_owned(),
            binaries: spec.template.native.binaries.clone(),
            searched: spec.template.native.search.clone(),
        })?;
        let server = bin.join(&spec.template.native.binaries[0]);
        self.check_version(spec, &server, progress).await;

        let password = match self.stored(spec, "password") {
            Some(p) => Some(Secret::new(p)),
            None if spec.template.url.credentials == crate::catalog::Credentials::None => None,
            None => {
                let p = Secret::generate().map_err(|e| Error::Native {
                    resource: name.to_owned(),
                    what: "generate a password".into(),
                    reason: e.to_string(),
                })?;
                write_private(&dir.join("password"), p.expose(), None)
                    .map_err(io_error(name, "store its password"))?;
                Some(p)
            }
        };
        let live = self.inspect(spec)?;
        let port = match reconcile::port(spec.local.host_port, live.port, None) {
            Some(p) => p,
            None => ports::choose(spec.local.container_port)
                .map_err(io_error(name, "find a free port"))?,
        };
        let mut action = reconcile::decide(RuntimeKind::Native, spec, &live, Some(port));
        // The manifest moved the port: restart the server there (the data stays).
        if let Action::Replace(Replace::Port { from, .. }) = &action {
            progress.say(
                name,
                &format!(
                    "restarting on port {port} (was {})",
                    from.map_or_else(|| "?".into(), |p| p.to_string())
                ),
            );
            self.stop(spec).await?;
            action = Action::Start;
        }
        fs::write(dir.join("port"), port.to_string()).map_err(io_error(name, "store its port"))?;

        let mut child = None;
        if action == Action::NoChange {
            progress.say(name, "server is running");
        } else {
            if !ports::is_free(port) {
                return Err(Error::PortTaken {
                    resource: name.to_owned(),
                    port,
                });
            }
            let owner = self.owner(spec);
            self.initialise(spec, &bin, password.as_ref(), owner, progress)
                .await?;
            progress.say(
                name,
                &format!("starting {} on 127.0.0.1:{port}", server.display()),
            );
            child = Some(self.spawn(spec, &server, port, password.as_ref(), owner)?);
        }
        drop(lock);

        let endpoint = spec.endpoint(port, password.clone());
        progress.say(
            name,
            &format!("waiting for {} to answer a query", spec.template.title),
        );
        let child = std::sync::Mutex::new(child);
        let alive = || {
            let status = child
                .lock()
                .ok()
                .and_then(|mut c| c.as_mut().map(std::process::Child::try_wait));
            async move {
                match status {
                    Some(Ok(Some(code))) => Err(code.to_string()),
                    _ => Ok(()),
                }
            }
        };
        // Postgres creates only the `postgres` database; the app's comes once the server is up.
        let first = if spec.template.probe == Probe::Postgres {
            crate::links::Endpoint {
                database: Some("postgres".to_owned()),
                ..endpoint.clone()
            }
        } else {
            endpoint.clone()
        };
        let log = || tail(&dir.join("server.log"));
        let started = Instant::now();
        match probe::wait_ready(spec.template.probe, &first, deadline.at, alive).await {
            Ok(_) => {}
            Err(WaitError::Died(detail)) => {
                return Err(Error::Exited {
                    resource: name.to_owned(),
                    detail,
                    log: log(),
                });
            }
            Err(WaitError::Timeout { last }) => {
                return Err(Error::NotReady {
                    resource: name.to_owned(),
                    seconds: deadline.total.as_secs(),
                    last: last.map(|l| l.0).unwrap_or_default(),
                    log: log(),
                });
            }
        }
        if spec.template.probe == Probe::Postgres {
            create_postgres_database(&first, spec.resource.database.as_deref().unwrap_or("app"))
                .await
                .map_err(|reason| Error::Native {
                    resource: name.to_owned(),
                    what: "create its database".into(),
                    reason,
                })?;
            probe::probe(Probe::Postgres, &endpoint, Duration::from_secs(5))
                .await
                .map_err(|e| Error::NotReady {
                    resource: name.to_owned(),
                    seconds: deadline.total.as_secs(),
                    last: e.0,
                    log: log(),
                })?;
        }
        Ok(Ready {
            endpoint,
            took: started.elapsed(),
        })
    }

    /// As root the server runs as its own account, which must be able to walk down to its
    /// directory: a private `PROVISION_HOME` (say from `mktemp -d`, mode 700) would make it
    /// fail with a bare "permission denied".
    fn check_reachable(&self, spec: &Spec<'_>) -> Result<(), Error> {
        if self.owner(spec).is_none() {
            return Ok(());
        }
        let mut path = self.dir(spec);
        while let Some(parent) = path.parent().map(Path::to_path_buf) {
            if let Ok(meta) = fs::metadata(&path)
                && meta.permissions().mode() & 0o001 == 0
            {
                return Err(Error::Native {
                    resource: spec.resource.name.clone(),
                    what: "give its server access to its directory".into(),
                    reason: format!(
                        "`{}` is not searchable by other users, and the server runs as `{}`; `chmod o+x {0}` or set PROVISION_HOME elsewhere",
                        path.display(),
                        service_account(spec.template.probe)
                    ),
                });
            }
            if parent.as_os_str().is_empty() || parent == path {
                break;
            }
            path = parent;
        }
        Ok(())
    }

    async fn check_version(&self, spec: &Spec<'_>, server: &Path, progress: &Progress) {
        let output = tokio::process::Command::new(server)
            .args(&spec.template.native.version_args)
            .output()
            .await;
        let Some(found) = output
            .ok()
            .and_then(|o| version_in(&String::from_utf8_lossy(&o.stdout)))
        else {
            return;
        };
        let _ = fs::write(self.dir(spec).join("version"), &found);
        let wanted = spec.template.version_line(&spec.resource.version);
        let have = spec.template.version_line(&found);
        if wanted != have {
            progress.say(
                &spec.resource.name,
                &format!(
                    "warning: the manifest asks for {} {}, but {} is version {found}",
                    spec.template.name,
                    spec.resource.version,
                    server.display()
                ),
            );
        }
    }

    /// First-run setup of the data directory (and, for MariaDB, the users, at every start).
    async fn initialise(
        &self,
        spec: &Spec<'_>,
        bin: &Path,
        password: Option<&Secret>,
        owner: Option<Account>,
        progress: &Progress,
    ) -> Result<(), Error> {
        let name = spec.resource.name.as_str();
        let dir = self.dir(spec);
        let data = dir.join("data");
        match spec.template.probe {
            Probe::Postgres if !data.exists() => {
                progress.say(name, "initialising a new data directory (initdb)");
                // Built aside and renamed when complete: an initdb cut short (Ctrl-C) leaves
                // only `data.partial`, which the next run may safely start over.
                let partial = dir.join("data.partial");
                if partial.exists() {
                    fs::remove_dir_all(&partial)
                        .map_err(io_error(name, "remove an unfinished data directory"))?;
                }
                make_dir(&partial, 0o700, owner)
                    .map_err(io_error(name, "create its data directory"))?;
                let pwfile = dir.join("initdb-password");
                write_private(
                    &pwfile,
                    password.map(Secret::expose).unwrap_or_default(),
                    owner,
                )
                .map_err(io_error(name, "write the initdb password file"))?;
                let mut cmd = tokio::process::Command::new(bin.join("initdb"));
                cmd.arg("-D")
                    .arg(&partial)
                    .arg("-U")
                    .arg(spec.resource.username.as_deref().unwrap_or("app"));
                cmd.arg(format!("--pwfile={}", pwfile.display())).args([
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]);
                let result = self.run_as(cmd, owner).await;
                let _ = fs::remove_file(&pwfile);
                result.map_err(|reason| Error::Native {
                    resource: name.to_owned(),
                    what: "initialise its data directory (initdb)".into(),
                    reason,
                })?;
                fs::rename(&partial, &data)
                    .map_err(io_error(name, "move its new data directory in place"))?;
            }
            Probe::Mysql => {
                if !data.join("mysql").exists() {
                    progress.say(name, "initialising a new data directory");
                    make_dir(&data, 0o700, owner)
                        .map_err(io_error(name, "create its data directory"))?;
                    let install = install_db().ok_or_else(|| Error::BinaryMissing {
                        resource: name.to_owned(),
                        binaries: vec!["mariadb-install-db".into()],
                        searched: vec!["/usr/bin".into(), "/usr/local/mysql/scripts".into()],
                    })?;
                    let mut cmd = tokio::process::Command::new(install);
                    cmd.arg("--no-defaults")
                        .arg(format!("--datadir={}", data.display()));
                    cmd.args(["--auth-root-authentication-method=socket", "--skip-test-db"]);
                    if self.is_root {
                        cmd.arg("--user=mysql");
                    }
                    self.run_as(cmd, None)
                        .await
                        .map_err(|reason| Error::Native {
                            resource: name.to_owned(),
                            what: "initialise its data directory".into(),
                            reason,
                        })?;
                }
                let db = spec.resource.database.as_deref().unwrap_or("app");
                let user = spec.resource.username.as_deref().unwrap_or("app");
                let pw = password.map(Secret::expose).unwrap_or_default();
                // Runs at every start: idempotent, and keeps the user's password the stored one.
                let sql = format!(
                    "CREATE DATABASE IF NOT EXISTS `{db}`;\n\
                     CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pw}';\n\
                     CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{pw}';\n\
                     ALTER USER '{user}'@'%' IDENTIFIED BY '{pw}';\n\
                     ALTER USER '{user}'@'localhost' IDENTIFIED BY '{pw}';\n\
                     GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'%';\n\
                     GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'localhost';\n"
                );
                write_private(&dir.join("init.sql"), &sql, owner)
                    .map_err(io_error(name, "write its setup SQL"))?;
                make_dir(&dir.join("run"), 0o755, owner)
                    .map_err(io_error(name, "create its socket directory"))?;
            }
            Probe::Redis => {
                make_dir(&data, 0o700, owner)
                    .map_err(io_error(name, "create its data directory"))?;
            }
            Probe::Postgres => {}
            Probe::Memcached => {}
        }
        if spec.template.probe == Probe::Postgres {
            make_dir(&dir.join("run"), 0o755, owner)
                .map_err(io_error(name, "create its socket directory"))?;
        }
        Ok(())
    }

    async fn run_as(
        &self,
        mut cmd: tokio::process::Command,
        owner: Option<Account>,
    ) -> Result<(), String> {
        if let Some(a) = owner {
            cmd.uid(a.uid).gid(a.gid);
        }
        // Ctrl-C drops this future: take the setup process down with it rather than let it
        // write on while the next run starts over.
        cmd.stdin(Stdio::null()).current_dir("/").kill_on_drop(true);
        let output = cmd.output().await.map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let last: Vec<&str> = text.lines().rev().take(15).collect();
            Err(format!(
                "{}:\n{}",
                output.status,
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }

    /// Starts the server detached (its own process group, output to `server.log`) and records
    /// its PID with its start time.
    fn spawn(
        &self,
        spec: &Spec<'_>,
        server: &Path,
        port: u16,
        password: Option<&Secret>,
        owner: Option<Account>,
    ) -> Result<std::process::Child, Error> {
        use std::os::unix::process::CommandExt as _;
        let name = spec.resource.name.as_str();
        let dir = self.dir(spec);
        let data = dir.join("data");
        let mut cmd = std::process::Command::new(server);
        match spec.template.probe {
            Probe::Postgres => {
                cmd.arg("-D").arg(&data).arg("-p").arg(port.to_string());
                cmd.args(["-c", "listen_addresses=127.0.0.1", "-c"])
                    .arg(format!(
                        "unix_socket_directories={}",
                        dir.join("run").display()
                    ));
            }
            Probe::Mysql => {
                cmd.arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--port={port}"));
                cmd.arg("--bind-address=127.0.0.1").arg(format!(
                    "--socket={}",
                    dir.join("run/mysqld.sock").display()
                ));
                cmd.arg(format!(
                    "--pid-file={}",
                    dir.join("run/mysqld.pid").display()
                ))
                .arg(format!("--init-file={}", dir.join("init.sql").display()));
                if self.is_root {
                    cmd.arg("--user=mysql");
                }
            }
            Probe::Redis => {
                // The password goes in a private config file, not on the command line where
                // every user's `ps` would show it.
                let conf = format!(
                    "port {port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\ndir {}\nappendonly yes\nrequirepass {}\n",
                    data.display(),
                    password.map(Secret::expose).unwrap_or_default()
                );
                let path = dir.join("redis.conf");
                write_private(&path, &conf, owner)
                    .map_err(io_error(name, "write its configuration"))?;
                cmd.arg(path);
            }
            Probe::Memcached => {
                cmd.args(["-l", "127.0.0.1", "-U", "0", "-p"])
                    .arg(port.to_string());
                if self.is_root {
                    cmd.args(["-u", "memcache"]);
                }
            }
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .map_err(io_error(name, "open its log"))?;
        let log2 = log.try_clone().map_err(io_error(name, "open its log"))?;
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .current_dir(&dir)
            .process_group(0);
        // MariaDB switches user itself (`--user`); the others are started as their account.
        if let (Some(a), false) = (owner, spec.template.probe == Probe::Mysql) {
            cmd.uid(a.uid).gid(a.gid);
        }
        let child = cmd
            .spawn()
            .map_err(io_error(name, &format!("start {}", server.display())))?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let started = start_time(pid).unwrap_or_default();
        fs::write(dir.join("server.pid"), format!("{pid} {started}"))
            .map_err(io_error(name, "record its PID"))?;
        Ok(child)
    }

    /// Stops the server cleanly if it runs; returns its PID.
    async fn stop(&self, spec: &Spec<'_>) -> Result<Option<i32>, Error> {
        let name = spec.resource.name.as_str();
        let Some(pid) = self.running_pid(spec) else {
            return Ok(None);
        };
        // Postgres' "fast" shutdown is SIGINT; SIGTERM waits for every client to leave.
        let signal = if spec.template.probe == Probe::Postgres {
            rustix::process::Signal::INT
        } else {
            rustix::process::Signal::TERM
        };
        let target = rustix::process::Pid::from_raw(pid).ok_or_else(|| Error::Native {
            resource: name.to_owned(),
            what: "stop it".into(),
            reason: format!("bad PID {pid}"),
        })?;
        rustix::process::kill_process(target, signal).map_err(|e| Error::Native {
            resource: name.to_owned(),
            what: format!("stop PID {pid}"),
            reason: e.to_string(),
        })?;
        let until = Instant::now() + Duration::from_secs(60);
        while start_time(pid).is_some() {
            if Instant::now() > until {
                return Err(Error::Native {
                    resource: name.to_owned(),
                    what: format!("stop PID {pid}"),
                    reason: "still running after 60 s".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = fs::remove_file(self.dir(spec).join("server.pid"));
        Ok(Some(pid))
    }

    pub async fn down(&self, spec: &Spec<'_>, volumes: bool) -> Result<String, Error> {
        let name = spec.resource.name.as_str();
        let dir = self.dir(spec);
        let mut done = match self.stop(spec).await? {
            Some(pid) => format!("stopped server (PID {pid})"),
            None => "no server running".to_owned(),
        };
        if volumes {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(io_error(name, "delete its data"))?;
                done.push_str(&format!("; deleted {} and its data", dir.display()));
            }
        } else if dir.join("data").exists() {
            done.push_str(&format!("; kept data in {}", dir.join("data").display()));
        }
        Ok(done)
    }
}

fn install_db() -> Option<PathBuf> {
    [
        "/usr/bin/mariadb-install-db",
        "/usr/bin/mysql_install_db",
        "/usr/local/mysql/scripts/mysql_install_db",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(25).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

async fn create_postgres_database(
    admin: &crate::links::Endpoint,
    database: &str,
) -> Result<(), String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&admin.host)
        .port(admin.port)
        .user(admin.username.as_deref().unwrap_or("postgres"))
        .dbname("postgres");
    if let Some(p) = &admin.password {
        config.password(p.expose());
    }
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .map_err(|e| e.to_string())?;
    if exists.is_none() {
        // The name was validated as [A-Za-z][A-Za-z0-9_]*, so quoting it is enough.
        match client
            .batch_execute(&format!("CREATE DATABASE \"{database}\""))
            .await
        {
            Ok(()) => {}
            // Another `up` created it a moment ago (duplicate_database, or the catalog's
            // unique index when both raced past the check).
            Err(e)
                if e.code()
                    .is_some_and(|c| c.code() == "42P04" || c.code() == "23505") => {}
            Err(e) => {
                return Err(e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned()));
            }
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
