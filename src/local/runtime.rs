//! Backends make the plan real. Locally there are two runtimes, chosen once at the edge:
//! containers through the Docker Engine API, or native server processes. Both get-or-create
//! by deterministic names, so a re-run converges from whatever state an earlier run left.

use std::time::Duration;

use super::{docker, native, ports};

use serde::Serialize;

use crate::catalog::Template;
use crate::error::Error;
use crate::links::Endpoint;
use crate::plan::{LocalPlan, Plan, PlannedResource};
use crate::progress::Progress;
use crate::secret::Secret;

pub use crate::session::RuntimeChoice;

/// One resource as a runtime sees it.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    pub project: &'a str,
    pub resource: &'a PlannedResource,
    pub local: &'a LocalPlan,
    pub template: &'a Template,
}

impl Spec<'_> {
    /// The address and credentials the app will use, given the live port and password.
    pub fn endpoint(&self, port: u16, password: Option<Secret>) -> Endpoint {
        self.endpoint_at(LOCALHOST, port, password)
    }

    /// The same on `host`: the runtime's address (`Runtime::address`), which for a remote
    /// Docker engine is the engine's host.
    pub fn endpoint_at(&self, host: &str, port: u16, password: Option<Secret>) -> Endpoint {
        Endpoint {
            host: host.to_owned(),
            port,
            tls: self.local.tls,
            ca_file: self
                .local
                .tls
                .then(|| crate::tls::Store::of(self.project).local_ca_file()),
            // A password-only engine (Redis, Valkey) logs in as its default user: a name
            // would put `user:` in its URL, a user the local server does not have.
            username: self
                .resource
                .username
                .clone()
                .filter(|_| self.template.url.credentials != crate::catalog::Credentials::Password),
            password,
            database: self.resource.database.clone(),
        }
    }
}

pub(crate) const LOCALHOST: &str = "127.0.0.1";

impl Spec<'_> {
    /// The names a local TLS server's certificate carries: this machine's loopback names,
    /// the database's service name (what apps on `start --containers`' network use), and the
    /// runtime's address (a remote engine's host).
    pub fn tls_names(&self, address: &str) -> Vec<String> {
        let mut names: Vec<String> = ["localhost", LOCALHOST, "::1", &self.resource.name]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        if !names.iter().any(|n| n == address) {
            names.push(address.to_owned());
        }
        names
    }

    /// The endpoint of a running server as it runs now (with TLS or not), whatever the
    /// manifest says since.
    pub fn live_endpoint(&self, address: &str, port: u16, live: &Live) -> Endpoint {
        let mut endpoint = self.endpoint_at(address, port, live.password.clone());
        endpoint.tls = live.tls.is_some();
        endpoint.ca_file = endpoint
            .tls
            .then(|| crate::tls::Store::of(self.project).local_ca_file());
        endpoint
    }

    /// Refuses a password in the file other than the one the data was initialised with
    /// (`have`, kept in `store`): the server keeps its first one, so the app would be locked out.
    pub fn keeps_password(&self, have: &str, store: impl FnOnce() -> String) -> Result<(), Error> {
        match &self.local.password {
            Some(wanted) if wanted.expose() != have => Err(Error::PasswordChanged {
                resource: self.resource.name.clone(),
                setting: self
                    .local
                    .password_from
                    .clone()
                    .unwrap_or_else(|| "the password".to_owned()),
                store: store(),
            }),
            _ => Ok(()),
        }
    }

    /// The local TLS files of this database, made or renewed for `address`.
    pub fn tls_files(&self, address: &str) -> Result<crate::tls::ServerFiles, Error> {
        crate::tls::Store::of(self.project)
            .ensure_local(&self.resource.name, &self.tls_names(address))
    }
}

/// Every resource of a local plan with its template.
pub fn specs(plan: &Plan) -> Vec<Spec<'_>> {
    plan.resources
        .iter()
        .filter_map(|r| {
            Some(Spec {
                project: &plan.project.name,
                resource: r,
                local: r.local.as_ref()?,
                template: &r.template,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    Stopped,
    Missing,
}

/// What a runtime found for one resource.
#[derive(Debug, Clone)]
pub struct Live {
    pub state: State,
    pub port: Option<u16>,
    pub password: Option<Secret>,
    /// Where the data lives: a volume name or a directory.
    pub data: Option<String>,
    /// The image (docker) or binary version (native) it runs.
    pub image: Option<String>,
    /// The version it really runs, when known: from the image's configuration (an untagged
    /// `postgres` is whatever `latest` was) or the native server's `--version`.
    pub version: Option<String>,
    /// It runs with TLS, from the server certificate with this fingerprint.
    pub tls: Option<String>,
}

impl Live {
    pub fn missing() -> Self {
        Self {
            state: State::Missing,
            port: None,
            password: None,
            data: None,
            image: None,
            version: None,
            tls: None,
        }
    }
}

/// A resource that came up.
#[derive(Debug, Clone)]
pub struct Ready {
    pub endpoint: Endpoint,
    pub took: Duration,
}

/// Which local runtime, as a value: compared and printed, never matched as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Docker,
    Native,
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Docker => "docker",
            Self::Native => "native",
        })
    }
}

#[derive(Debug)]
pub enum Runtime {
    Docker(docker::DockerRuntime),
    Native(native::NativeRuntime),
}

impl Runtime {
    /// Picks the runtime. With `auto`: the one that already holds this project's databases
    /// (a container or volume in Docker, a data directory natively), so that a laptop that
    /// started natively keeps its data when Docker appears later; else Docker when an engine
    /// answers; else native servers when every needed binary is installed.
    pub async fn select(choice: RuntimeChoice, specs: &[Spec<'_>]) -> Result<Self, Error> {
        match choice {
            RuntimeChoice::Docker => {
                return Ok(Self::Docker(docker::DockerRuntime::connect().await?));
            }
            RuntimeChoice::Native => return Ok(Self::Native(native::NativeRuntime::new()?)),
            RuntimeChoice::Auto => {}
        }
        let native = native::NativeRuntime::new()?;
        let docker = docker::DockerRuntime::connect().await;
        if let Ok(d) = &docker {
            for spec in specs {
                if d.knows(spec).await? {
                    return docker.map(Self::Docker);
                }
            }
        }
        if specs.iter().any(|s| native.has_state(s)) {
            return Ok(Self::Native(native));
        }
        // The project's data is in Docker, which does not answer now: empty native servers
        // would split it in two. Say so instead.
        let in_docker = specs
            .first()
            .filter(|spec| crate::home::docker_marked(spec.project));
        match docker {
            Ok(d) => Ok(Self::Docker(d)),
            Err(docker) => {
                if let Some(spec) = in_docker {
                    return Err(Error::DataInDocker {
                        project: spec.project.to_owned(),
                        docker: Box::new(docker),
                    });
                }
                let missing = native.missing_binaries(specs);
                if missing.is_empty() {
                    return Ok(Self::Native(native));
                }
                Err(Error::NoRuntime {
                    docker: Box::new(docker),
                    missing,
                })
            }
        }
    }

    /// Where apps and probes reach the databases' published ports: 127.0.0.1, or a remote
    /// Docker engine's host (`tcp://`, `ssh://`), where its published ports listen.
    pub fn address(&self) -> &str {
        match self {
            Self::Docker(d) => &d.engine().address,
            Self::Native(_) => LOCALHOST,
        }
    }

    pub fn kind(&self) -> RuntimeKind {
        match self {
            Self::Docker(_) => RuntimeKind::Docker,
            Self::Native(_) => RuntimeKind::Native,
        }
    }

    pub async fn inspect(&self, spec: &Spec<'_>) -> Result<Live, Error> {
        match self {
            Self::Docker(d) => d.inspect(spec).await,
            Self::Native(n) => n.inspect(spec),
        }
    }

    /// Brings one resource up. `timeout` bounds the wait for readiness; it starts once the
    /// server can start (after a first image pull, which has its own bound).
    pub async fn up(
        &self,
        spec: &Spec<'_>,
        progress: &Progress,
        timeout: Duration,
    ) -> Result<Ready, Error> {
        match self {
            Self::Docker(d) => d.up(spec, progress, timeout).await,
            Self::Native(n) => n.up(spec, progress, timeout).await,
        }
    }

    /// Stops and removes; deletes the data only with `volumes`. Returns what was done.
    pub async fn down(&self, spec: &Spec<'_>, volumes: bool) -> Result<String, Error> {
        match self {
            Self::Docker(d) => d.down(spec, volumes).await,
            Self::Native(n) => n.down(spec, volumes).await,
        }
    }
}

/// The live endpoint of every resource, or an error naming the first that is not running.
pub async fn endpoints(runtime: &Runtime, specs: &[Spec<'_>]) -> Result<Vec<Endpoint>, Error> {
    let lives = futures_util::future::join_all(specs.iter().map(|s| runtime.inspect(s))).await;
    let mut out = Vec::with_capacity(specs.len());
    for (spec, live) in specs.iter().zip(lives) {
        let live = live?;
        match (live.state, live.port) {
            (State::Running, Some(port)) => {
                out.push(spec.live_endpoint(runtime.address(), port, &live));
            }
            _ => {
                return Err(Error::NotUp {
                    resource: spec.resource.name.clone(),
                    cloud: false,
                });
            }
        }
    }
    Ok(out)
}

/// Brings every resource up in parallel; one failing does not stop the others.
pub async fn up_all(
    runtime: &Runtime,
    specs: &[Spec<'_>],
    progress: &Progress,
    timeout: Duration,
) -> Result<Vec<Ready>, Error> {
    // Ports other databases remember are theirs even while they are down.
    ports::reserve(native::NativeRuntime::new()?.remembered_ports());
    if let Runtime::Docker(d) = runtime {
        ports::reserve(d.remembered_ports().await?);
    }
    let results = futures_util::future::join_all(specs.iter().map(|s| async move {
        // A snapshot restore cut short converges before the server starts on its data.
        let mut result = match super::snapshot::recover(runtime, s, progress).await {
            Ok(()) => runtime.up(s, progress, timeout).await,
            Err(e) => Err(e),
        };
        match &result {
            Ok(ready) => progress.say(
                &s.resource.name,
                &format!(
                    "ready in {:.1}s on {}:{}",
                    ready.took.as_secs_f64(),
                    ready.endpoint.host,
                    ready.endpoint.port
                ),
            ),
            Err(_) => progress.say(&s.resource.name, "failed"),
        }
        // New data gets its seed once, right after it first answers.
        if result.is_ok()
            && let Err(e) = super::seed::first_up(runtime, s, progress, timeout).await
        {
            progress.say(&s.resource.name, "seed failed");
            result = Err(e);
        }
        result
    }))
    .await;
    crate::error::gather(
        specs.iter().map(|s| s.resource.name.clone()).zip(results),
        "ready",
    )
}
