//! Where the Docker Engine is, found the way the Docker CLI finds it, then in the places other
//! engines put their sockets.
//!
//! Order (the Docker CLI's precedence, then ours):
//! 1. `DOCKER_HOST`, alone: set, it is the only candidate, as with `docker`. `unix://`,
//!    `tcp://` (TLS when `DOCKER_TLS_VERIFY` is set, certificates `ca.pem`, `cert.pem`,
//!    `key.pem` in `DOCKER_CERT_PATH`, else the config directory) and `ssh://`.
//! 2. `DOCKER_CONTEXT`, alone, else the `currentContext` of `$DOCKER_CONFIG/config.json`
//!    (default `~/.docker`): the context's `meta.json` under `contexts/meta/<sha256 of the name>`
//!    gives `Endpoints.docker.Host` and `SkipTLSVerify`; its certificates are under
//!    `contexts/tls/<sha256 of the name>/docker/`. The context `default` means "no context".
//! 3. No choice made: the well-known sockets in turn, the first that answers wins:
//!    `/var/run/docker.sock`, rootless Docker's `$XDG_RUNTIME_DIR/docker.sock`, Docker Desktop
//!    for Linux, Colima, OrbStack, then Podman's rootless and rootful sockets.
//!
//! Docker's own `DOCKER_HOST` beats `DOCKER_CONTEXT` (the CLI's `context use` page: the current
//! context applies "when `DOCKER_HOST`, `DOCKER_CONTEXT` environment variables ... aren't set";
//! checked with docker 28.2: `DOCKER_HOST=x DOCKER_CONTEXT=y docker context show` prints
//! `default`), although the CLI's environment table words it the other way round.
//!
//! `ssh://`: bollard's SSH transport runs `docker system dial-stdio` on the remote host through
//! the `openssh` crate, one SSH master per connection. Instead we forward a private local
//! socket to the remote engine's socket with the system `ssh` (`ssh -L local.sock:remote.sock`),
//! which reads the user's `~/.ssh/config`, agent and known hosts like `docker` does. The `ssh`
//! child lives exactly as long as the engine handle: it is killed on drop, and it runs `cat`
//! on the remote side with our pipe as its input, so it also ends when this process dies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::error::engine::{Known, Reason, Tried, Via};

use bollard::Docker;
use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// How long an engine gets to answer `/_ping` before we try the next candidate.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// How long `ssh` gets to log in and open the forwarded socket.
const SSH_WITHIN: Duration = Duration::from_secs(20);
/// bollard's request timeout, seconds (its default).
const REQUEST_TIMEOUT: u64 = 120;

/// The environment discovery reads: variables and the filesystem root of machine-wide sockets.
#[derive(Debug, Clone)]
pub struct Env {
    vars: HashMap<String, String>,
    /// Prefix of the machine-wide paths (`/var/run/docker.sock`, `/run/podman/podman.sock`):
    /// `/`, except in unit tests.
    root: PathBuf,
    uid: u32,
}

const VARS: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_CERT_PATH",
    "HOME",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
];

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: VARS
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), std::env::var(k).ok()?)))
                .collect(),
            root: PathBuf::from("/"),
            uid: rustix::process::getuid().as_raw(),
        }
    }

    /// An environment of exactly these variables, machine-wide paths under `root`.
    #[cfg(test)]
    fn new(vars: &[(&str, &str)], root: &Path) -> Self {
        Self {
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            root: root.to_owned(),
            uid: 1000,
        }
    }

    /// A variable's value; empty counts as unset, as in the Docker CLI.
    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    fn system(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// `$DOCKER_CONFIG`, else `~/.docker`.
    fn config_dir(&self) -> Option<PathBuf> {
        self.var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| Some(self.home()?.join(".docker")))
    }

    fn runtime_dir(&self) -> PathBuf {
        self.var("XDG_RUNTIME_DIR").map_or_else(
            || self.system(&format!("/run/user/{}", self.uid)),
            PathBuf::from,
        )
    }
}

/// Certificates for a TLS engine, verified against `ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Tls {
    fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// How to reach a candidate engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Unix(PathBuf),
    Tcp {
        /// As written, without brackets around an IPv6 address.
        host: String,
        port: u16,
        tls: Option<Tls>,
    },
    Ssh {
        /// `user@host` or `host`, for `ssh`.
        destination: String,
        host: String,
        port: Option<u16>,
        /// The engine's socket on the remote host.
        socket: String,
    },
}

/// One place discovery looked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The engine address as the user would write it in `DOCKER_HOST`.
    pub host: String,
    pub via: Via,
    pub transport: Result<Transport, Reason>,
}

/// The engine that answered.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// `Docker 20.10.24`, `Podman 4.3.1`.
    pub product: String,
    pub host: String,
    #[serde(serialize_with = "display")]
    pub via: Via,
    /// Where published ports are reached, for apps and probes: `127.0.0.1` for a local socket,
    /// the engine's host for a `tcp://` or `ssh://` engine.
    pub address: String,
    /// The host IP that ports are published on: loopback for a local engine (never exposed
    /// to the network), every interface of a remote one (else nothing here could reach them).
    pub publish_ip: String,
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

use serde::Serialize;

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {} ({})", self.product, self.host, self.via)?;
        if self.address != "127.0.0.1" {
            write!(f, "; databases are reached at {}", self.address)?;
        }
        Ok(())
    }
}

/// A connected engine. Holds the `ssh` forwarder, if any, for as long as it lives.
#[derive(Debug)]
pub struct Engine {
    pub docker: Docker,
    pub found: Found,
    _tunnel: Option<Tunnel>,
}

/// Finds the engine from this process's environment and checks that it answers.
pub async fn connect() -> Result<Engine, Error> {
    connect_with(&Env::from_process()).await
}

pub async fn connect_with(env: &Env) -> Result<Engine, Error> {
    let mut tried = Vec::new();
    for candidate in candidates(env) {
        let transport = match candidate.transport {
            Ok(t) => t,
            Err(reason) => {
                tried.push(Tried {
                    host: candidate.host,
                    via: candidate.via,
                    reason,
                });
                continue;
            }
        };
        match open(&transport).await {
            Ok((docker, product, tunnel)) => {
                let (address, publish_ip) = addresses(&transport);
                return Ok(Engine {
                    docker,
                    found: Found {
                        product,
                        host: candidate.host,
                        via: candidate.via,
                        address,
                        publish_ip,
                    },
                    _tunnel: tunnel,
                });
            }
            Err(reason) => tried.push(Tried {
                host: candidate.host,
                via: candidate.via,
                reason,
            }),
        }
    }
    Err(Error::DockerUnavailable { tried })
}

/// Every place to look, in order. Pure but for reading the Docker CLI's files.
pub fn candidates(env: &Env) -> Vec<Candidate> {
    if let Some(host) = env.var("DOCKER_HOST") {
        return vec![Candidate {
            host: host.to_owned(),
            via: Via::DockerHost,
            transport: from_env_host(env, host),
        }];
    }
    let mut out = Vec::new();
    let chosen = match env.var("DOCKER_CONTEXT") {
        Some(name) => Some(Via::ContextEnv(name.to_owned())),
        None => match current_context(env) {
            Ok(current) => current,
            Err((config, reason)) => {
                // An unreadable config.json stops the Docker CLI; we say so and look further.
                out.push(Candidate {
                    host: String::new(),
                    via: Via::Config(config),
                    transport: Err(reason),
                });
                None
            }
        },
    };
    match chosen {
        Some(Via::ContextEnv(name) | Via::ContextCurrent { name, .. }) if name == "default" => {}
        Some(via) => {
            let name = match &via {
                Via::ContextEnv(n) | Via::ContextCurrent { name: n, .. } => n.clone(),
                _ => String::new(),
            };
            let (host, transport) = match context(env, &name) {
                Ok((host, transport)) => (host, transport),
                Err(reason) => (String::new(), Err(reason)),
            };
            out.push(Candidate {
                host,
                via,
                transport,
            });
            // A context the user chose is the only engine, as with `docker`.
            return out;
        }
        None => {}
    }
    out.extend(well_known(env).into_iter().map(|(known, path)| Candidate {
        host: format!("unix://{}", path.display()),
        via: Via::Socket(known),
        transport: Ok(Transport::Unix(path)),
    }));
    out
}

/// The sockets engines create by default, in the order we try them.
fn well_known(env: &Env) -> Vec<(Known, PathBuf)> {
    let runtime = env.runtime_dir();
    let mut out = vec![
        (Known::Docker, env.system("/var/run/docker.sock")),
        (Known::DockerRootless, runtime.join("docker.sock")),
    ];
    if let Some(home) = env.home() {
        out.push((
            Known::DockerDesktop,
            home.join(".docker/desktop/docker.sock"),
        ));
        out.push((Known::Colima, home.join(".colima/default/docker.sock")));
        let config = env
            .var("XDG_CONFIG_HOME")
            .map_or_else(|| home.join(".config"), PathBuf::from);
        out.push((Known::Colima, config.join("colima/default/docker.sock")));
        out.push((Known::OrbStack, home.join(".orbstack/run/docker.sock")));
    }
    out.push((Known::PodmanRootless, runtime.join("podman/podman.sock")));
    out.push((Known::Podman, env.system("/run/podman/podman.sock")));
    out
}

/// The parts of the Docker CLI's files that say where the engine is.
#[derive(serde::Deserialize)]
struct Config {
    #[serde(rename = "currentContext", default)]
    current: Option<String>,
}
#[derive(serde::Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", default)]
    endpoints: HashMap<String, Endpoint>,
}
#[derive(serde::Deserialize)]
struct Endpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// `currentContext` in config.json, if any.
fn current_context(env: &Env) -> Result<Option<Via>, (PathBuf, Reason)> {
    let Some(dir) = env.config_dir() else {
        return Ok(None);
    };
    let config = dir.join("config.json");
    let text = match std::fs::read_to_string(&config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err((
                config.clone(),
                Reason::BadFile {
                    path: config,
                    detail: e.to_string(),
                },
            ));
        }
    };
    match serde_json::from_str::<Config>(&text) {
        Ok(Config {
            current: Some(name),
        }) if !name.is_empty() => Ok(Some(Via::ContextCurrent { name, config })),
        Ok(_) => Ok(None),
        Err(e) => Err((
            config.clone(),
            Reason::BadFile {
                path: config,
                detail: e.to_string(),
            },
        )),
    }
}

/// The Docker CLI's directory name for a context: the hex SHA-256 of its name.
pub fn context_id(name: &str) -> String {
    hex(&Sha256::digest(name.as_bytes()))
}

/// A context's engine address and how to reach it.
fn context(env: &Env, name: &str) -> Result<(String, Result<Transport, Reason>), Reason> {
    let dir = env.config_dir().ok_or(Reason::BadHost {
        detail: "neither `DOCKER_CONFIG` nor `HOME` is set".to_owned(),
    })?;
    let id = context_id(name);
    let meta = dir.join("contexts/meta").join(&id).join("meta.json");
    let text = match std::fs::read_to_string(&meta) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Reason::NoContext { meta });
        }
        Err(e) => {
            return Err(Reason::BadFile {
                path: meta,
                detail: e.to_string(),
            });
        }
    };
    let parsed: Meta = serde_json::from_str(&text).map_err(|e| Reason::BadFile {
        path: meta.clone(),
        detail: e.to_string(),
    })?;
    let endpoint = parsed
        .endpoints
        .get("docker")
        .filter(|e| e.host.as_deref().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| Reason::BadFile {
            path: meta.clone(),
            detail: "no `Endpoints.docker.Host`".to_owned(),
        })?;
    let host = endpoint.host.clone().unwrap_or_default();
    let tls_dir = dir.join("contexts/tls").join(&id).join("docker");
    let tls = if tls_dir.join("ca.pem").exists() {
        if endpoint.skip_tls_verify {
            return Ok((host, Err(Reason::TlsWithoutVerify)));
        }
        Some(Tls::in_dir(&tls_dir))
    } else if endpoint.skip_tls_verify && host.starts_with("tcp://") {
        return Ok((host, Err(Reason::TlsWithoutVerify)));
    } else {
        None
    };
    let transport = parse_host(&host, tls.is_some()).map(|t| with_tls(t, tls));
    Ok((host, transport))
}

fn with_tls(transport: Transport, tls: Option<Tls>) -> Transport {
    match transport {
        Transport::Tcp { host, port, .. } => Transport::Tcp { host, port, tls },
        other => other,
    }
}

/// `DOCKER_HOST` with the CLI's TLS variables.
fn from_env_host(env: &Env, host: &str) -> Result<Transport, Reason> {
    let verify = env.var("DOCKER_TLS_VERIFY").is_some();
    let tls = verify || env.var("DOCKER_TLS").is_some();
    let transport = parse_host(host, tls)?;
    if !matches!(transport, Transport::Tcp { .. }) || !tls {
        return Ok(transport);
    }
    if !verify {
        return Err(Reason::TlsWithoutVerify);
    }
    let dir = env
        .var("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .or_else(|| env.config_dir())
        .ok_or(Reason::BadHost {
            detail: "`DOCKER_TLS_VERIFY` is set but neither `DOCKER_CERT_PATH` nor `HOME` is"
                .to_owned(),
        })?;
    let tls = Tls::in_dir(&dir);
    if !tls.ca.exists() {
        return Err(Reason::MissingCa { path: tls.ca });
    }
    Ok(with_tls(transport, Some(tls)))
}

/// Splits `host[:port]`, with `[v6]` brackets.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), Reason> {
    let bad = |detail: &str| Reason::BadHost {
        detail: detail.to_owned(),
    };
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host name"));
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| bad(&format!("`{p}` is not a port")))?,
        ),
        None => None,
    };
    Ok((host.to_owned(), port))
}

/// An engine address in `DOCKER_HOST`'s forms. A `tcp://` without a port gets Docker's: 2376
/// with TLS, else 2375 (docker(1), `-H`).
pub fn parse_host(host: &str, tls: bool) -> Result<Transport, Reason> {
    let bad = |detail: String| Reason::BadHost { detail };
    let (scheme, rest) = host
        .split_once("://")
        .ok_or_else(|| bad("expected `unix://`, `tcp://` or `ssh://`".to_owned()))?;
    match scheme {
        "unix" => {
            if rest.is_empty() {
                return Err(bad("no socket path".to_owned()));
            }
            Ok(Transport::Unix(PathBuf::from(rest)))
        }
        "tcp" => {
            let authority = rest.split('/').next().unwrap_or_default();
            let (h, port) = split_host_port(authority)?;
            Ok(Transport::Tcp {
                host: h,
                port: port.unwrap_or(if tls { 2376 } else { 2375 }),
                tls: None,
            })
        }
        "ssh" => {
            let (authority, path) = match rest.split_once('/') {
                Some((a, p)) => (a, Some(format!("/{p}"))),
                None => (rest, None),
            };
            let (user, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let (h, port) = split_host_port(hostport)?;
            Ok(Transport::Ssh {
                destination: match user {
                    Some(u) => format!("{u}@{h}"),
                    None => h.clone(),
                },
                host: h,
                port,
                socket: path
                    .filter(|p| p != "/")
                    .unwrap_or_else(|| "/var/run/docker.sock".to_owned()),
            })
        }
        other => Err(bad(format!(
            "scheme `{other}://` is not supported here (use `unix://`, `tcp://` or `ssh://`)"
        ))),
    }
}

/// The address apps and probes use, and the host IP ports are published on.
fn addresses(transport: &Transport) -> (String, String) {
    let host = match transport {
        Transport::Unix(_) => return ("127.0.0.1".to_owned(), "127.0.0.1".to_owned()),
        Transport::Tcp { host, .. } | Transport::Ssh { host, .. } => host,
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if host == "localhost" {
        ("127.0.0.1".to_owned(), "127.0.0.1".to_owned())
    } else if loopback {
        // An engine reached on a loopback address publishes there too.
        (host.clone(), host.clone())
    } else {
        (host.clone(), "0.0.0.0".to_owned())
    }
}

/// Connects, negotiates the API version (Debian's engine speaks an older one than bollard's
/// default) and checks that it answers.
async fn open(transport: &Transport) -> Result<(Docker, String, Option<Tunnel>), Reason> {
    let no_answer = |e: &bollard::errors::Error| Reason::NoAnswer {
        detail: match e {
            bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
            other => crate::error::one_line(other),
        },
    };
    let (docker, tunnel) = match transport {
        Transport::Unix(path) => {
            if !path.exists() {
                return Err(Reason::NoSocket);
            }
            let docker = Docker::connect_with_unix(
                &path.to_string_lossy(),
                REQUEST_TIMEOUT,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| no_answer(&e))?;
            (docker, None)
        }
        Transport::Tcp {
            host,
            port,
            tls: None,
        } => (
            Docker::connect_with_http(
                &format!("tcp://{}", join_host_port(host, *port)),
                REQUEST_TIMEOUT,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| no_answer(&e))?,
            None,
        ),
        Transport::Tcp {
            host,
            port,
            tls: Some(tls),
        } => {
            // bollard asks rustls for the process's provider; make it the one we build.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let docker = Docker::connect_with_ssl(
                &join_host_port(host, *port),
                &tls.key,
                &tls.cert,
                &tls.ca,
                REQUEST_TIMEOUT,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| no_answer(&e))?;
            (docker, None)
        }
        Transport::Ssh {
            destination,
            port,
            socket,
            ..
        } => {
            let tunnel = Tunnel::open(destination, *port, socket).await?;
            let docker = Docker::connect_with_unix(
                &tunnel.socket.to_string_lossy(),
                REQUEST_TIMEOUT,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| no_answer(&e))?;
            (docker, Some(tunnel))
        }
    };
    let answered = async {
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        let version = docker.version().await?;
        Ok::<_, bollard::errors::Error>((docker, version))
    };
    match tokio::time::timeout(ANSWER_WITHIN, answered).await {
        Ok(Ok((docker, version))) => {
            let podman = version
                .components
                .iter()
                .flatten()
                .any(|c| c.name.contains("Podman"));
            let product = format!(
                "{} {}",
                if podman { "Podman" } else { "Docker" },
                version.version.unwrap_or_default()
            );
            Ok((docker, product.trim_end().to_owned(), tunnel))
        }
        Ok(Err(e)) => Err(match tunnel.as_ref().and_then(Tunnel::said) {
            // The remote side's reason (say, no access to its socket) is in ssh's output.
            Some(said) => Reason::SshFailed {
                detail: format!("{}; ssh: {said}", crate::error::one_line(&e)),
            },
            None => no_answer(&e),
        }),
        Err(_) => Err(Reason::Timeout {
            seconds: ANSWER_WITHIN.as_secs(),
        }),
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `ssh -L` from a private local socket to the remote engine's socket.
#[derive(Debug)]
struct Tunnel {
    child: tokio::process::Child,
    socket: PathBuf,
    /// Removed on drop, with the socket in it.
    dir: PathBuf,
}

impl Tunnel {
    async fn open(destination: &str, port: Option<u16>, remote: &str) -> Result<Self, Reason> {
        let failed = |detail: String| Reason::SshFailed { detail };
        // A directory only we can enter: the forwarded socket is the engine, root-equivalent.
        let dir = private_dir()
            .map_err(|e| failed(format!("cannot make a directory for the socket: {e}")))?;
        let opened = Self::spawn(&dir, destination, port, remote).await;
        if opened.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        opened
    }

    async fn spawn(
        dir: &Path,
        destination: &str,
        port: Option<u16>,
        remote: &str,
    ) -> Result<Self, Reason> {
        let failed = |detail: String| Reason::SshFailed { detail };
        let socket = dir.join("docker.sock");
        let log = dir.join("ssh.log");
        let stderr = std::fs::File::create(&log)
            .map_err(|e| failed(format!("cannot create {}: {e}", log.display())))?;
        let mut command = tokio::process::Command::new(ssh_program());
        command
            .arg("-T")
            .args(["-o", "ExitOnForwardFailure=yes"])
            .args(["-o", "BatchMode=yes"])
            .arg("-L")
            .arg(format!("{}:{remote}", socket.display()));
        if let Some(p) = port {
            command.args(["-p", &p.to_string()]);
        }
        // `cat` reads our pipe: when this process ends, the pipe closes and so does ssh.
        command
            .args(["--", destination, "cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| Reason::NoSsh {
            detail: e.to_string(),
        })?;
        let until = tokio::time::Instant::now() + SSH_WITHIN;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            if socket.exists() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(failed(format!("ssh exited ({status}): {}", said.trim())));
            }
            if tokio::time::Instant::now() > until {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(failed(format!(
                    "no forwarded socket after {} s{}",
                    SSH_WITHIN.as_secs(),
                    if said.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", said.trim())
                    }
                )));
            }
        }
        Ok(Self {
            child,
            socket,
            dir: dir.to_owned(),
        })
    }
}

impl Tunnel {
    /// What ssh printed, if anything.
    fn said(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("ssh.log")).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.replace('\n', "; "))
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new directory under the temporary directory that only this user can enter.
fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let suffix = hex(&bytes);
    let dir = std::env::temp_dir().join(format!("provision-ssh-{suffix}"));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// `ssh`, or the program `PROVISION_SSH` names (a wrapper adding options, as `GIT_SSH` does).
fn ssh_program() -> String {
    std::env::var("PROVISION_SSH")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ssh".to_owned())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]
mod tests;
