//! What Docker engine discovery tried, and why each place gave no engine: data that
//! `local::engine` records and `Error::DockerUnavailable` carries, with its wording and the
//! hint that follows from it, beside each other.

use std::fmt::Write as _;
use std::path::PathBuf;

/// A socket we look for when no engine was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    Docker,
    DockerRootless,
    DockerDesktop,
    Colima,
    OrbStack,
    PodmanRootless,
    Podman,
}

/// How a candidate was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    DockerHost,
    /// A context named by `DOCKER_CONTEXT`.
    ContextEnv(String),
    /// The current context (`docker context use`), from this `config.json`.
    ContextCurrent {
        name: String,
        config: PathBuf,
    },
    Socket(Known),
    /// The Docker CLI's `config.json`, when it cannot be read.
    Config(PathBuf),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DockerHost => f.write_str("from `DOCKER_HOST`"),
            Self::ContextEnv(name) => write!(f, "context `{name}`, from `DOCKER_CONTEXT`"),
            Self::ContextCurrent { name, config } => {
                write!(f, "context `{name}`, current in {}", config.display())
            }
            Self::Config(config) => write!(f, "the current context in {}", config.display()),
            Self::Socket(known) => f.write_str(match known {
                Known::Docker => "context `default`",
                Known::DockerRootless => "rootless Docker's socket",
                Known::DockerDesktop => "Docker Desktop's socket",
                Known::Colima => "Colima's socket",
                Known::OrbStack => "OrbStack's socket",
                Known::PodmanRootless => "rootless Podman's socket",
                Known::Podman => "Podman's socket",
            }),
        }
    }
}

/// Why a candidate gave no engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NoSocket,
    NoContext {
        meta: PathBuf,
    },
    BadFile {
        path: PathBuf,
        detail: String,
    },
    BadHost {
        detail: String,
    },
    /// TLS without verifying the engine (`DOCKER_TLS` alone, a context's `SkipTLSVerify`).
    TlsWithoutVerify,
    MissingCa {
        path: PathBuf,
    },
    NoSsh {
        detail: String,
    },
    SshFailed {
        detail: String,
    },
    NoAnswer {
        detail: String,
    },
    Timeout {
        seconds: u64,
    },
}

/// A candidate that gave no engine, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    pub host: String,
    pub via: Via,
    pub reason: Reason,
}

/// Every place engine discovery looked, in order, one line each with why it gave no engine.
pub fn tried_lines(tried: &[Tried]) -> String {
    let mut out = String::new();
    if tried.is_empty() {
        out.push_str("  nothing to try: no `DOCKER_HOST`, no context, no known socket\n");
    }
    for (i, t) in tried.iter().enumerate() {
        if t.host.is_empty() {
            let _ = writeln!(out, "  {}. {}: {}", i + 1, t.via, t.reason);
        } else {
            let _ = writeln!(out, "  {}. {} ({}): {}", i + 1, t.host, t.via, t.reason);
        }
    }
    out
}

/// The hint for a failed discovery, from what went wrong where.
pub fn engine_hint(tried: &[Tried]) -> &'static str {
    let reasons = || tried.iter().map(|t| &t.reason);
    if reasons().any(|r| matches!(r, Reason::TlsWithoutVerify)) {
        return "verify the engine's certificate: set `DOCKER_TLS_VERIFY=1` with `ca.pem`, `cert.pem` and `key.pem` in `DOCKER_CERT_PATH` (or give the context its certificates: `docker context update NAME --docker host=...,ca=...,cert=...,key=...`)";
    }
    if reasons().any(|r| matches!(r, Reason::NoSsh { .. } | Reason::SshFailed { .. })) {
        return "check that `ssh HOST` logs in without a prompt (a key in the agent or `~/.ssh/config`, the host in `known_hosts`); or forward the socket yourself, `ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST`, and set `DOCKER_HOST=unix:///tmp/docker.sock`";
    }
    if reasons()
        .any(|r| matches!(r, Reason::NoAnswer { detail } if detail.contains("ermission denied")))
    {
        return "you may not use the engine's socket: add yourself to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker";
    }
    if tried.iter().any(|t| matches!(t.via, Via::DockerHost)) {
        return "start Docker where `DOCKER_HOST` points, correct `DOCKER_HOST`, or unset it to use the current context and the usual sockets";
    }
    if tried
        .iter()
        .any(|t| matches!(t.via, Via::ContextEnv(_) | Via::ContextCurrent { .. }))
    {
        return "start Docker where the context points, or choose another: `docker context use default`, `DOCKER_CONTEXT=NAME` or `DOCKER_HOST`";
    }
    "start Docker (Docker Desktop, `sudo systemctl start docker`, `systemctl --user start docker` for rootless, `colima start`, `systemctl --user start podman.socket`), set `DOCKER_HOST` or `DOCKER_CONTEXT`, or use `--runtime native`"
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSocket => f.write_str("no socket there"),
            Self::NoContext { meta } => {
                write!(f, "no such context (no {})", meta.display())
            }
            Self::BadFile { path, detail } => {
                write!(f, "cannot read {}: {detail}", path.display())
            }
            Self::BadHost { detail } => write!(f, "not an engine address: {detail}"),
            Self::TlsWithoutVerify => {
                f.write_str("TLS without verifying the engine's certificate is not supported")
            }
            Self::MissingCa { path } => write!(
                f,
                "`DOCKER_TLS_VERIFY` is set but there is no CA certificate at {}",
                path.display()
            ),
            Self::NoSsh { detail } => write!(f, "cannot run `ssh`: {detail}"),
            Self::SshFailed { detail } => write!(f, "ssh forwarding failed: {detail}"),
            Self::NoAnswer { detail } => f.write_str(detail),
            Reason::Timeout { seconds } => write!(f, "no answer within {seconds} s"),
        }
    }
}
