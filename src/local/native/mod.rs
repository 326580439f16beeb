//! The native runtime: each database as a server process on this machine, for laptops without
//! Docker. Data, logs and the generated password live in a per-project directory outside the
//! repository (`$PROVISION_HOME`, else `/var/lib/provision` as root, else
//! `$XDG_DATA_HOME/provision`), shown by `status`. Servers run detached in their own process
//! group, so they outlive the command and a Ctrl-C aimed at it; `down` stops them cleanly.

mod binaries;
mod process;
mod setup;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self::process::{Account, account, io_error, make_dir, start_time, tail};
use self::setup::Values;
use super::reconcile::{self, Action};
use super::{Live, Ready, RuntimeKind, Spec, State, ports};
use crate::catalog::StopSignal;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::probe::{self, WaitError};
use crate::progress::Progress;
use crate::secret::Secret;

/// In the resource's directory: the fingerprint of the certificate the server was started
/// with TLS from; absent when it runs without.
const TLS_RECORD: &str = "tls-fingerprint";

#[derive(Debug)]
pub struct NativeRuntime {
    root: PathBuf,
    is_root: bool,
}

impl NativeRuntime {
    pub fn new() -> Result<Self, Error> {
        let is_root = rustix::process::geteuid().is_root();
        Ok(Self {
            root: crate::home::root(),
            is_root,
        })
    }

    fn dir(&self, spec: &Spec<'_>) -> PathBuf {
        self.root.join(spec.project).join(&spec.resource.name)
    }

    /// The server's data directory.
    pub fn data_dir(&self, spec: &Spec<'_>) -> PathBuf {
        self.dir(spec).join("data")
    }

    /// The server's output (stdout and stderr), for `logs`.
    pub fn log_path(&self, spec: &Spec<'_>) -> PathBuf {
        self.dir(spec).join("server.log")
    }

    /// Every host port a native server of any project remembers: reserved for it even while
    /// it is down.
    pub fn remembered_ports(&self) -> Vec<u16> {
        let projects = fs::read_dir(&self.root).into_iter().flatten().flatten();
        projects
            .flat_map(|p| fs::read_dir(p.path()).into_iter().flatten().flatten())
            .filter_map(|r| fs::read_to_string(r.path().join("port")).ok())
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }

    pub fn has_state(&self, spec: &Spec<'_>) -> bool {
        self.dir(spec).join("port").exists()
    }

    fn owner(&self, spec: &Spec<'_>) -> Option<Account> {
        if self.is_root {
            account(&spec.template.native.account)
        } else {
            None
        }
    }

    /// The binaries missing for any of these resources, for the "no runtime" message.
    pub fn missing_binaries(&self, specs: &[Spec<'_>]) -> Vec<String> {
        let mut missing: Vec<String> = specs
            .iter()
            .filter(|s| !binaries::installed(s))
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
            version: self.stored(spec, "version"),
            tls: self.stored(spec, TLS_RECORD),
        })
    }

    pub async fn up(
        &self,
        spec: &Spec<'_>,
        progress: &Progress,
        timeout: Duration,
    ) -> Result<Ready, Error> {
        let deadline = Deadline::after(timeout);
        let name = spec.resource.name.as_str();
        let dir = self.dir(spec);
        make_dir(&dir, 0o755, None).map_err(io_error(name, "create its directory"))?;
        self.check_reachable(spec)?;
        // One `up` at a time per resource: two would both initialise the same directory.
        let lock = lock_dir(name, &dir).await?;

        let (bin, init_program) = programs(spec)?;
        let server = bin.join(&spec.template.native.binaries[0]);
        binaries::check_version(spec, &server, &dir, progress).await;

        let password = self.password(spec, &dir)?;
        let live = self.inspect(spec)?;
        let port = match reconcile::port(spec.local.host_port, live.port, None) {
            Some(p) => p,
            None => ports::choose(spec.local.container_port)
                .map_err(io_error(name, "find a free port"))?,
        };
        let tls = tls_files(spec)?;
        let mut action = reconcile::decide(
            RuntimeKind::Native,
            &spec.local.image,
            &live,
            Some(port),
            tls.as_ref().map(|t| t.fingerprint.as_str()),
        );
        // The manifest moved the port or changed TLS: restart the server (the data stays).
        if let Action::Replace(why) = &action {
            progress.say(name, &format!("restarting on port {port} ({why})"));
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
            let values = Values {
                dir: &dir,
                data: dir.join("data"),
                bin: &bin,
                port: Some(port),
                spec,
                tls: tls.as_ref(),
            };
            // New data: its seed is due once it first answers (`seed.rs`).
            if spec.template.data.is_some() && !values.data.exists() {
                super::seed::mark_new_native(&dir)
                    .map_err(io_error(name, "record that its seed is due"))?;
            }
            setup::prepare(
                &values,
                init_program.as_deref(),
                password.as_ref(),
                owner,
                self.is_root,
                progress,
            )
            .await?;
            progress.say(
                name,
                &format!("starting {} on 127.0.0.1:{port}", server.display()),
            );
            // What the server runs with, for the next `up`, `status` and `env`.
            let record = dir.join(TLS_RECORD);
            match &tls {
                Some(t) => fs::write(&record, &t.fingerprint),
                None => fs::remove_file(&record).or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                }),
            }
            .map_err(io_error(name, "record its TLS setting"))?;
            child = Some(self.spawn(spec, &server, &values, owner)?);
        }
        drop(lock);

        let endpoint = spec.endpoint(port, password.clone());
        progress.say(
            name,
            &format!("waiting for {} to answer a query", spec.template.title),
        );
        let took = wait_ready(spec, &dir, &endpoint, child, deadline).await?;
        Ok(Ready { endpoint, took })
    }

    /// The password the data was (or is now) initialised with: stored in the directory, so a
    /// new one in the file is refused rather than locking the app out.
    fn password(&self, spec: &Spec<'_>, dir: &Path) -> Result<Option<Secret>, Error> {
        let name = spec.resource.name.as_str();
        Ok(match self.stored(spec, "password") {
            // The data was initialised with the stored password; a new one in the file
            // would lock the app out.
            Some(p) => {
                spec.keeps_password(&p, || dir.display().to_string())?;
                Some(Secret::new(p))
            }
            None if spec.template.url.credentials == crate::catalog::Credentials::None => None,
            None => {
                // The file's own password when it sets one, else a new one.
                let p = match &spec.local.password {
                    Some(p) => p.clone(),
                    None => Secret::generate().map_err(|e| Error::Native {
                        resource: name.to_owned(),
                        what: "generate a password".into(),
                        source: Box::new(e),
                    })?,
                };
                process::write_private(&dir.join("password"), p.expose(), None)
                    .map_err(io_error(name, "store its password"))?;
                Some(p)
            }
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
                    source: format!(
                        "`{}` is not searchable by other users, and the server runs as `{}`; `chmod o+x {0}` or set PROVISION_HOME elsewhere",
                        path.display(),
                        spec.template.native.account
                    )
                    .into(),
                });
            }
            if parent.as_os_str().is_empty() || parent == path {
                break;
            }
            path = parent;
        }
        Ok(())
    }

    /// Starts the server detached (its own process group, output to `server.log`) and records
    /// its PID with its start time.
    fn spawn(
        &self,
        spec: &Spec<'_>,
        server: &Path,
        values: &Values<'_>,
        owner: Option<Account>,
    ) -> Result<std::process::Child, Error> {
        use std::os::unix::process::CommandExt as _;
        use std::process::Stdio;
        let name = spec.resource.name.as_str();
        let dir = self.dir(spec);
        let mut cmd = std::process::Command::new(server);
        cmd.args(setup::server_args(values, self.is_root));
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
        // Some servers switch user themselves (`--user`); the others start as their account.
        if let (Some(a), false) = (owner, spec.template.native.switches_user) {
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
        let signal = match spec.template.native.stop_signal {
            StopSignal::Int => rustix::process::Signal::INT,
            StopSignal::Term => rustix::process::Signal::TERM,
        };
        let target = rustix::process::Pid::from_raw(pid).ok_or_else(|| Error::Native {
            resource: name.to_owned(),
            what: "stop it".into(),
            source: format!("bad PID {pid}").into(),
        })?;
        rustix::process::kill_process(target, signal).map_err(|e| Error::Native {
            resource: name.to_owned(),
            what: format!("stop PID {pid}"),
            source: Box::new(std::io::Error::from(e)),
        })?;
        let until = Instant::now() + Duration::from_secs(60);
        while start_time(pid).is_some() {
            if Instant::now() > until {
                return Err(Error::Native {
                    resource: name.to_owned(),
                    what: format!("stop PID {pid}"),
                    source: "still running after 60 s".into(),
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

/// Holds the resource directory's lock (released when dropped), waiting for another `up`.
async fn lock_dir(name: &str, dir: &Path) -> Result<fs::File, Error> {
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(io_error(name, "open its lock"))?;
    tokio::task::spawn_blocking(move || {
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map(|()| lock)
    })
    .await
    .map_err(|e| Error::Native {
        resource: name.to_owned(),
        what: "lock its directory".into(),
        source: Box::new(e),
    })?
    .map_err(|e| Error::Native {
        resource: name.to_owned(),
        what: "lock its directory".into(),
        source: Box::new(std::io::Error::from(e)),
    })
}

/// Waits until the server answers a query through the app's address (first through its own
/// database when it makes only that one, then creating the app's); returns how long it took.
async fn wait_ready(
    spec: &Spec<'_>,
    dir: &Path,
    endpoint: &crate::links::Endpoint,
    child: Option<std::process::Child>,
    deadline: Deadline,
) -> Result<Duration, Error> {
    let name = spec.resource.name.as_str();
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
    // A server that creates only its own database is first asked through that one; the
    // app's is created once it answers.
    let bootstrap = spec.template.native.bootstrap_database.as_ref();
    let first = match bootstrap {
        Some(db) => crate::links::Endpoint {
            database: Some(db.clone()),
            ..endpoint.clone()
        },
        None => endpoint.clone(),
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
        Err(WaitError::Refused(refusal, detail)) => {
            return Err(Error::Refused {
                resource: name.to_owned(),
                refusal,
                detail,
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
    if bootstrap.is_some() {
        probe::create_database(
            spec.template.probe,
            &first,
            spec.resource.database.as_deref().unwrap_or("app"),
        )
        .await
        .map_err(|reason| Error::Native {
            resource: name.to_owned(),
            what: "create its database".into(),
            source: reason.into(),
        })?;
        probe::probe(spec.template.probe, endpoint, Duration::from_secs(5))
            .await
            .map_err(|e| Error::NotReady {
                resource: name.to_owned(),
                seconds: deadline.total.as_secs(),
                last: e.0,
                log: log(),
            })?;
    }
    Ok(started.elapsed())
}

/// The directory of the server's binaries, where its own tools (`pg_dump`) sit too.
pub fn binary_dir(spec: &Spec<'_>) -> Option<PathBuf> {
    binaries::find(spec)
}

/// The directory of the server's binaries and the program that initialises its data.
fn programs(spec: &Spec<'_>) -> Result<(PathBuf, Option<PathBuf>), Error> {
    let name = spec.resource.name.as_str();
    let bin = binaries::find(spec).ok_or_else(|| Error::BinaryMissing {
        resource: name.to_owned(),
        binaries: spec.template.native.binaries.clone(),
        searched: spec.template.native.search.clone(),
    })?;
    let init_program =
        binaries::init_program(spec, &bin).map_err(|candidates| Error::BinaryMissing {
            resource: name.to_owned(),
            binaries: candidates,
            searched: vec![],
        })?;
    Ok((bin, init_program))
}

/// The server's TLS files when the manifest asks for TLS, made or renewed for this machine.
fn tls_files(spec: &Spec<'_>) -> Result<Option<crate::tls::ServerFiles>, Error> {
    if !spec.local.tls {
        return Ok(None);
    }
    if spec.template.tls.is_none() {
        return Err(Error::TlsUnsupported {
            resource: spec.resource.name.clone(),
            image: spec.template.native.binaries[0].clone(),
        });
    }
    spec.tls_files(super::runtime::LOCALHOST).map(Some)
}
