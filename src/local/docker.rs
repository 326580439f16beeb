//! The Docker runtime: a container `{project}-{resource}` per database, its data in a named
//! volume `{project}-{resource}-data`, its port published on loopback (a remote engine: on its host, see `engine`).
//!
//! The volume is the resource's identity on this machine: it carries the generated password
//! and the chosen host port as labels, set once when it is created, so both stay stable for
//! exactly as long as the data lives, with no state file of our own.

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt as _;

use super::image;
use super::reconcile::{self, Action};
use super::{Live, Ready, RuntimeKind, Spec, State, ports};
use crate::catalog::Family;
use crate::deadline::Deadline;
use crate::error::{Because, Cause, Error, MajorChange};
use crate::manifest::MountKind;
use crate::probe::{self, WaitError};
use crate::progress::Progress;
use crate::secret::Secret;
use std::time::Duration;

use crate::names::{
    LABEL_IMAGE, LABEL_MAJOR, LABEL_PASSWORD, LABEL_PORT, LABEL_PROJECT, LABEL_RESOURCE,
    LABEL_SEED, LABEL_SNAPSHOT, LABEL_TLS, LABEL_UPGRADE_OF, LABEL_VERSION,
};

/// How long a first pull may take, apart from the readiness wait.
const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// The container's command: the family's arguments, with the service's own `command:` (its
/// server flags) after them when it runs the same program, so a password file the family
/// needs stays in force; another program entirely is the user's to run as written.
fn command(spec: &Spec<'_>, family_args: &[String], fill: &dyn Fn(&str) -> String) -> Vec<String> {
    let ours: Vec<String> = family_args.iter().map(|a| fill(a)).collect();
    let Some(theirs) = &spec.local.command else {
        return ours;
    };
    match (ours.first(), theirs.first()) {
        (Some(program), Some(first)) if program == first => {
            ours.iter().chain(&theirs[1..]).cloned().collect()
        }
        // Flags alone (`-c max_connections=200`): the image's entrypoint prepends its server.
        (Some(_), Some(first)) if first.starts_with('-') => {
            ours.iter().chain(theirs).cloned().collect()
        }
        _ => theirs.clone(),
    }
}

/// The container's bind mounts: the service's own `volumes:` (init scripts, config files, a
/// volume of theirs on the data path), then ours on the data path unless theirs covers it.
/// Named volumes get Compose's project prefix, so `docker compose` and provision share them.
fn binds(spec: &Spec<'_>, data_path: Option<&str>) -> Vec<String> {
    let mut binds: Vec<String> = spec
        .local
        .mounts
        .iter()
        .filter_map(|m| {
            let source = match m.kind {
                MountKind::Bind => m.host_path.as_ref()?.display().to_string(),
                MountKind::Volume => format!("{}_{}", spec.project, m.source.as_ref()?),
                MountKind::Tmpfs | MountKind::Other => return None,
            };
            let mode = if m.read_only { ":ro" } else { "" };
            Some(format!("{source}:{}{mode}", m.target))
        })
        .collect();
    let theirs = data_path.and_then(|p| crate::manifest::data_mount(&spec.local.mounts, p));
    if let (Some(volume), Some(path), None) = (&spec.local.volume, data_path, theirs) {
        binds.push(format!("{volume}:{path}"));
    }
    binds
}

/// Where the data is, for `status`: the service's own volume or bind mount when one covers
/// the data path, else ours.
fn data_location(spec: &Spec<'_>) -> Option<String> {
    let path = spec.local.data_path.as_deref()?;
    match crate::manifest::data_mount(&spec.local.mounts, path) {
        Some(m) => match m.kind {
            MountKind::Bind => m
                .host_path
                .as_ref()
                .map(|p| format!("{} (the file's bind mount)", p.display())),
            MountKind::Volume => m
                .source
                .as_ref()
                .map(|v| format!("volume {}_{v} (the file's)", spec.project)),
            MountKind::Tmpfs => Some("tmpfs (the file's: lost on every stop)".to_owned()),
            MountKind::Other => None,
        },
        None => spec.local.volume.clone(),
    }
}

/// What a container is created from, once the image's real version is known.
struct Setup<'a> {
    family: Family<'a>,
    /// The image's version from its configuration, when it says.
    version: Option<String>,
    /// Where the volume goes for that version (none for in-memory engines).
    data_path: Option<String>,
    port: u16,
    password: Option<Secret>,
    /// The server's TLS files (`x-provision.local.tls`).
    tls: Option<crate::tls::ServerFiles>,
    /// The account the image runs as (its `User`), when it says.
    user: Option<String>,
}

impl Setup<'_> {
    /// Fills an env value, argument or config file of the family's contract.
    fn fill(&self, spec: &Spec<'_>, text: &str) -> String {
        let mut out = text
            .replace(
                "{username}",
                spec.resource.username.as_deref().unwrap_or_default(),
            )
            .replace(
                "{database}",
                spec.resource.database.as_deref().unwrap_or_default(),
            )
            .replace(
                "{password}",
                self.password
                    .as_ref()
                    .map(Secret::expose)
                    .unwrap_or_default(),
            );
        if out.contains("{root_password}") {
            // The superuser's password is not the app's, and nothing of ours needs it: a
            // fresh one each time, kept nowhere (the image uses it only to initialise).
            let root = Secret::generate()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default();
            out = out.replace("{root_password}", &root);
        }
        out
    }
}

#[derive(Debug)]
pub struct DockerRuntime {
    docker: Docker,
    /// Boxed: it is large and `Runtime::Native` is small.
    engine: Box<super::engine::Engine>,
}

pub(crate) fn status_of(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(crate) fn reason(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Docker's own message for people, the bollard error behind it for `-v`.
fn cause(e: BollardError) -> Cause {
    Box::new(Because::new(reason(&e), e))
}

pub(crate) fn call(op: &'static str, target: &str) -> impl FnOnce(BollardError) -> Error + use<> {
    let target = target.to_owned();
    move |e| Error::Docker {
        op,
        target,
        source: cause(e),
    }
}

impl DockerRuntime {
    /// The Engine API client, for commands beyond the runtime's verbs (`logs`).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// Connects to the engine `engine` discovers (`DOCKER_HOST`, the context, known sockets).
    pub async fn connect() -> Result<Self, Error> {
        super::engine::connect().await.map(|engine| Self {
            docker: engine.docker.clone(),
            engine: Box::new(engine),
        })
    }

    /// Which engine this is, how it was found, and the address its published ports answer on.
    pub fn engine(&self) -> &super::engine::Found {
        &self.engine.found
    }

    async fn container(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, Error> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(call("inspect container", name)(e)),
        }
    }

    async fn volume_labels(&self, name: &str) -> Result<Option<HashMap<String, String>>, Error> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.labels)),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(call("inspect volume", name)(e)),
        }
    }

    /// Refuses a container or volume that another project (or a person) made under the
    /// name this resource would use: `{project}-{resource}` is not unique on its own (project
    /// `a` with service `b-c`, project `a-b` with service `c`).
    fn check_owner(
        spec: &Spec<'_>,
        name: &str,
        labels: Option<&HashMap<String, String>>,
    ) -> Result<(), Error> {
        let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
        if label(LABEL_PROJECT) == Some(spec.project)
            && label(LABEL_RESOURCE) == Some(spec.resource.name.as_str())
        {
            return Ok(());
        }
        Err(Error::NotOurs {
            identifier: name.to_owned(),
            owner: label(LABEL_PROJECT)
                .map(|p| format!("{p}/{}", label(LABEL_RESOURCE).unwrap_or("?"))),
        })
    }

    /// This resource's container, if it exists and is ours.
    async fn our_container(
        &self,
        spec: &Spec<'_>,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, Error> {
        let found = self.container(&spec.local.container).await?;
        if let Some(c) = &found {
            Self::check_owner(
                spec,
                &spec.local.container,
                c.config.as_ref().and_then(|cfg| cfg.labels.as_ref()),
            )?;
        }
        Ok(found)
    }

    /// This resource's volume labels, if the volume exists and is ours.
    pub async fn our_volume(
        &self,
        spec: &Spec<'_>,
        volume: &str,
    ) -> Result<Option<HashMap<String, String>>, Error> {
        let found = self.volume_labels(volume).await?;
        if let Some(labels) = &found {
            Self::check_owner(spec, volume, Some(labels))?;
        }
        Ok(found)
    }

    /// The volume `provision upgrade` moved this volume's data to, and its major: the last
    /// of the chain of this resource's volumes labelled `dev.provision.upgrade-of` the one
    /// before (15 -> 18 -> 19), the newest major where two claim one origin.
    async fn upgraded_from(
        &self,
        spec: &Spec<'_>,
        volume: &str,
    ) -> Result<Option<(String, String)>, Error> {
        let mut found = None;
        let mut origin = volume.to_owned();
        // A chain longer than a handful of majors is a loop in hand-made labels.
        for _ in 0..16 {
            let options = bollard::query_parameters::ListVolumesOptionsBuilder::default()
                .filters(&HashMap::from([(
                    "label",
                    vec![format!("{LABEL_UPGRADE_OF}={origin}").as_str()],
                )]))
                .build();
            let volumes = self
                .docker
                .list_volumes(Some(options))
                .await
                .map_err(call("list volumes", volume))?;
            let newest = volumes
                .volumes
                .unwrap_or_default()
                .into_iter()
                .filter(|v| Self::check_owner(spec, &v.name, Some(&v.labels)).is_ok())
                .filter_map(|v| Some((v.labels.get(LABEL_MAJOR)?.clone(), v.name)))
                .max_by(|a, b| crate::error::compare_majors(&a.0, &b.0));
            let Some((major, name)) = newest else { break };
            origin.clone_from(&name);
            found = Some((name, major));
        }
        Ok(found)
    }

    /// The host port a container publishes the database on, from its configuration (present
    /// whether or not it runs).
    fn published_port(
        c: &bollard::models::ContainerInspectResponse,
        container_port: u16,
    ) -> Option<u16> {
        let bindings = c.host_config.as_ref()?.port_bindings.as_ref()?;
        let list = bindings.get(&format!("{container_port}/tcp"))?.as_ref()?;
        list.iter()
            .find_map(|b| b.host_port.as_deref()?.parse().ok())
    }

    /// Every host port a provision volume remembers, of any project: reserved for its
    /// database even while that is down.
    pub async fn remembered_ports(&self) -> Result<Vec<u16>, Error> {
        let options = bollard::query_parameters::ListVolumesOptionsBuilder::default()
            .filters(&HashMap::from([("label", vec![LABEL_PORT])]))
            .build();
        let volumes = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(call("list volumes", "provision's"))?;
        Ok(volumes
            .volumes
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.labels.get(LABEL_PORT)?.parse().ok())
            .collect())
    }

    /// Whether Docker holds anything of this resource: a container or its data volume.
    pub async fn knows(&self, spec: &Spec<'_>) -> Result<bool, Error> {
        if self.our_container(spec).await?.is_some() {
            return Ok(true);
        }
        match &spec.local.volume {
            Some(v) => Ok(self.our_volume(spec, v).await?.is_some()),
            None => Ok(false),
        }
    }

    pub async fn inspect(&self, spec: &Spec<'_>) -> Result<Live, Error> {
        let Some(c) = self.our_container(spec).await? else {
            return Ok(Live::missing());
        };
        let password = match &spec.local.volume {
            Some(v) => self
                .our_volume(spec, v)
                .await?
                .and_then(|l| l.get(LABEL_PASSWORD).cloned())
                .map(Secret::new),
            None => None,
        };
        Ok(Self::live_of(spec, &c, password))
    }

    /// What an existing container says about its resource.
    fn live_of(
        spec: &Spec<'_>,
        c: &bollard::models::ContainerInspectResponse,
        password: Option<Secret>,
    ) -> Live {
        let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        Live {
            state: if running {
                State::Running
            } else {
                State::Stopped
            },
            port: Self::published_port(c, spec.local.container_port),
            password,
            data: data_location(spec),
            image: c
                .config
                .as_ref()
                .and_then(|cfg| cfg.labels.as_ref()?.get(LABEL_IMAGE).cloned()),
            version: c
                .config
                .as_ref()
                .and_then(|cfg| cfg.labels.as_ref()?.get(LABEL_VERSION).cloned()),
            tls: c
                .config
                .as_ref()
                .and_then(|cfg| cfg.labels.as_ref()?.get(LABEL_TLS).cloned()),
        }
    }

    async fn logs_tail(&self, name: &str) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail("25")
            .build();
        let mut stream = self.docker.logs(name, Some(options));
        let mut out = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        out
    }

    /// Makes sure the image is here, pulling exactly it (never every tag) with progress and
    /// under its own bound, then reads its real version from its configuration: an untagged
    /// or floating tag (`postgres`, `redis:latest`) is whatever the registry had that day.
    async fn ensure_image(
        &self,
        spec: &Spec<'_>,
        family: &Family<'_>,
        progress: &Progress,
    ) -> Result<(Option<String>, Option<String>), Error> {
        let image = &spec.local.image;
        let inspected = match self.docker.inspect_image(image).await {
            Ok(i) => i,
            Err(e) if status_of(&e) == Some(404) => {
                self.pull(spec, progress).await?;
                self.docker
                    .inspect_image(image)
                    .await
                    .map_err(call("inspect image", image))?
            }
            Err(e) => return Err(call("inspect image", image)(e)),
        };
        let config = inspected.config.unwrap_or_default();
        let user = config.user.filter(|u| !u.is_empty());
        let env = config.env.unwrap_or_default();
        Ok((spec.template.version_in_env(family, &env), user))
    }

    async fn pull(&self, spec: &Spec<'_>, progress: &Progress) -> Result<(), Error> {
        let image = &spec.local.image;
        progress.say(&spec.resource.name, &format!("pulling {image}"));
        let (from, tag) = image::pull_reference(image);
        let options = CreateImageOptionsBuilder::default()
            .from_image(&from)
            .tag(&tag)
            .build();
        let pulled = async {
            let mut stream = self.docker.create_image(Some(options), None, None);
            let mut summary = image::PullProgress::default();
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| Error::ImageUnavailable {
                    image: image.clone(),
                    reason: reason(&e),
                })?;
                let detail = info.progress_detail.as_ref();
                if let Some(line) = summary.update(
                    info.id.as_deref(),
                    info.status.as_deref(),
                    detail.and_then(|d| d.current),
                    detail.and_then(|d| d.total),
                ) {
                    progress.say(&spec.resource.name, &line);
                }
            }
            Ok(())
        };
        tokio::time::timeout(PULL_TIMEOUT, pulled)
            .await
            .unwrap_or_else(|_| {
                Err(Error::ImageUnavailable {
                    image: image.clone(),
                    reason: format!(
                        "the pull did not finish within {} minutes",
                        PULL_TIMEOUT.as_secs() / 60
                    ),
                })
            })
    }

    /// Creates the volume if needed (labels carry a new password and the chosen port), then
    /// reads back its labels: when two runs race, the first volume's labels win for both.
    async fn ensure_volume(
        &self,
        spec: &Spec<'_>,
        volume: &str,
        major: &str,
    ) -> Result<HashMap<String, String>, Error> {
        if let Some(labels) = self.our_volume(spec, volume).await? {
            return Ok(labels);
        }
        // An empty volume under the old name would hide data an upgrade moved, when the
        // record that points at it was lost (a deleted `$PROVISION_HOME`).
        if let Some((moved, major)) = self.upgraded_from(spec, volume).await? {
            let record = super::upgrade::Record::recover(
                spec.project,
                &spec.resource.name,
                volume,
                &moved,
                &major,
            )?;
            return Err(crate::error::UpgradeError::RecordRecovered {
                resource: spec.resource.name.clone(),
                volume: moved,
                record: record.display().to_string(),
            }
            .into());
        }
        // The file's own password (`POSTGRES_PASSWORD: ...`) when it sets one, else a new one.
        let password = match &spec.local.password {
            Some(p) => p.clone(),
            None => Secret::generate().map_err(|e| Error::Docker {
                op: "create volume",
                target: volume.to_owned(),
                source: format!("no randomness for a password: {e}").into(),
            })?,
        };
        let port = match spec.local.host_port {
            Some(p) => p,
            None => ports::choose(spec.local.container_port).map_err(|e| Error::Docker {
                op: "create volume",
                target: volume.to_owned(),
                source: format!("cannot find a free port: {e}").into(),
            })?,
        };
        let mut labels = self.labels(spec);
        labels.insert(LABEL_PORT.to_owned(), port.to_string());
        // The major version that will write the data: another one cannot read it.
        labels.insert(LABEL_MAJOR.to_owned(), major.to_owned());
        // New data, made by provision: its seed is due once it first answers (`seed.rs`).
        // Only when the data lives in this volume, not in one of the file's own.
        let theirs = spec
            .local
            .data_path
            .as_deref()
            .and_then(|p| crate::manifest::data_mount(&spec.local.mounts, p));
        if theirs.is_none() {
            labels.insert(LABEL_SEED.to_owned(), "pending".to_owned());
        }
        if spec.template.url.credentials != crate::catalog::Credentials::None {
            labels.insert(LABEL_PASSWORD.to_owned(), password.expose().to_owned());
        }
        let request = VolumeCreateRequest {
            name: Some(volume.to_owned()),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(call("create volume", volume))?;
        crate::home::mark_docker(spec.project);
        Ok(self.volume_labels(volume).await?.unwrap_or_default())
    }

    fn labels(&self, spec: &Spec<'_>) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_PROJECT.to_owned(), spec.project.to_owned()),
            (LABEL_RESOURCE.to_owned(), spec.resource.name.clone()),
        ])
    }

    async fn create(&self, spec: &Spec<'_>, setup: &Setup<'_>) -> Result<(), Error> {
        let fill = |text: &str| setup.fill(spec, text);
        let env: Vec<String> = setup
            .family
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", fill(v)))
            .collect();
        let mut cmd = command(spec, setup.family.args, &fill);
        if let (Some(tls), Some(_)) = (&spec.template.tls, &setup.tls) {
            let port = spec.local.container_port.to_string();
            cmd.extend(tls.args.iter().map(|a| {
                a.replace("{tls_dir}", &tls.container_dir)
                    .replace("{port}", &port)
            }));
        }
        let port = setup.port;
        let mut labels = self.labels(spec);
        labels.insert(LABEL_IMAGE.to_owned(), spec.local.image.clone());
        labels.insert(LABEL_PORT.to_owned(), port.to_string());
        if let Some(version) = &setup.version {
            labels.insert(LABEL_VERSION.to_owned(), version.clone());
        }
        if let Some(tls) = &setup.tls {
            labels.insert(LABEL_TLS.to_owned(), tls.fingerprint.clone());
        }
        let key = format!("{}/tcp", spec.local.container_port);
        let host_config = HostConfig {
            port_bindings: Some(HashMap::from([(
                key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some(self.engine().publish_ip.clone()),
                    host_port: Some(port.to_string()),
                }]),
            )])),
            binds: Some(binds(spec, setup.data_path.as_deref())),
            tmpfs: Some(
                spec.local
                    .mounts
                    .iter()
                    .filter(|m| m.kind == MountKind::Tmpfs)
                    .map(|m| (m.target.clone(), String::new()))
                    .collect(),
            ),
            // Back after a reboot, like the laptop's other services; `down` stops it for good.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.local.image.clone()),
            env: Some(env),
            cmd: (!cmd.is_empty()).then_some(cmd),
            labels: Some(labels),
            exposed_ports: Some(vec![key]),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.local.container)
            .build();
        match self.docker.create_container(Some(options), body).await {
            Ok(_) => {
                self.copy_config_file(spec, setup).await?;
                self.copy_tls_files(spec, setup).await
            }
            // Another `up` is creating it: same name, same configuration. Docker reserves the
            // name before the container exists, so wait (bounded) until it does.
            Err(e) if status_of(&e) == Some(409) => {
                let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while self.container(&spec.local.container).await?.is_none() {
                    if std::time::Instant::now() > until {
                        return Err(call("create container", &spec.local.container)(e));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Ok(())
            }
            Err(e) => Err(call("create container", &spec.local.container)(e)),
        }
    }

    /// Copies the family's config file (with the password) into the created container, before
    /// its first start: settings that must not be arguments.
    async fn copy_config_file(&self, spec: &Spec<'_>, setup: &Setup<'_>) -> Result<(), Error> {
        let Some(file) = setup.family.config_file else {
            return Ok(());
        };
        let name = &spec.local.container;
        let archive =
            image::single_file_tar(&file.path, &setup.fill(spec, &file.text)).map_err(|e| {
                Error::Docker {
                    op: "write the config file of",
                    target: name.clone(),
                    source: Box::new(e),
                }
            })?;
        self.upload(name, archive, "copy the config file into")
            .await
    }

    /// Unpacks a tar archive at the container's root (before it first starts).
    async fn upload(&self, name: &str, archive: Vec<u8>, op: &'static str) -> Result<(), Error> {
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(name, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(call(op, name))
    }

    /// Copies the server's TLS files into the created container, owned by the account that
    /// reads them (PostgreSQL refuses a key that is not its own and private).
    async fn copy_tls_files(&self, spec: &Spec<'_>, setup: &Setup<'_>) -> Result<(), Error> {
        let (Some(tls), Some(files)) = (&spec.template.tls, &setup.tls) else {
            return Ok(());
        };
        let name = &spec.local.container;
        let account = setup.user.as_deref().unwrap_or(&tls.container_user);
        let (uid, gid) = self.account_ids(name, account).await?;
        let mut entries = files.contents()?;
        for file in &tls.files {
            let text = file.text.replace("{socket_auth}", "trust");
            entries.push((file.name.as_str(), text.into_bytes(), 0o644));
        }
        let dir = tls.container_dir.trim_start_matches('/');
        let archive = image::files_tar(
            entries
                .iter()
                .map(|(file, bytes, mode)| (format!("{dir}/{file}"), bytes.as_slice(), *mode)),
            (uid, gid),
        )
        .map_err(|e| Error::Docker {
            op: "write the TLS files of",
            target: name.clone(),
            source: Box::new(e),
        })?;
        self.upload(name, archive, "copy the TLS files into").await
    }

    /// The user and group ids of `account` in a created container: numeric as the image's
    /// `User` may give them, else from the image's `/etc/passwd`.
    async fn account_ids(&self, container: &str, account: &str) -> Result<(u64, u64), Error> {
        let (user, group) = account.split_once(':').unwrap_or((account, ""));
        if let Ok(uid) = user.parse::<u64>() {
            return Ok((uid, group.parse().unwrap_or(uid)));
        }
        let options = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default()
            .path("/etc/passwd")
            .build();
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            archive.extend_from_slice(&chunk.map_err(call("read /etc/passwd of", container))?);
        }
        image::passwd_ids(&archive, user).ok_or_else(|| Error::Docker {
            op: "find the server's account in",
            target: container.to_owned(),
            source: format!("no user `{user}` in the image's /etc/passwd").into(),
        })
    }

    async fn start(&self, spec: &Spec<'_>, port: u16) -> Result<(), Error> {
        let name = &spec.local.container;
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(304) => Ok(()), // already started
            Err(e) => {
                let text = reason(&e);
                if text.contains("port is already allocated")
                    || text.contains("address already in use")
                {
                    Err(Error::PortTaken {
                        resource: spec.resource.name.clone(),
                        port,
                    })
                } else {
                    Err(Error::Docker {
                        op: "start container",
                        target: name.clone(),
                        source: cause(e),
                    })
                }
            }
        }
    }

    async fn remove_container(&self, name: &str) -> Result<bool, Error> {
        let stop = StopContainerOptionsBuilder::default().t(30).build();
        match self.docker.stop_container(name, Some(stop)).await {
            Ok(()) => {}
            Err(e) if matches!(status_of(&e), Some(304 | 404)) => {}
            Err(e) => return Err(call("stop container", name)(e)),
        }
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(name, Some(remove)).await {
            Ok(()) => Ok(true),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(call("remove container", name)(e)),
        }
    }

    pub async fn up(
        &self,
        spec: &Spec<'_>,
        progress: &Progress,
        timeout: Duration,
    ) -> Result<Ready, Error> {
        let name = &spec.resource.name;
        let container = &spec.local.container;
        // The image first, under its own bound: a slow first pull must not use up the wait
        // for readiness, and its real version decides where the data goes.
        // A root-only Compose file's app user is the image's superuser: its own contract.
        let family = spec
            .template
            .family_for(&spec.local.repository, spec.resource.username.as_deref());
        let (image_version, image_user) = self.ensure_image(spec, &family, progress).await?;
        let tls = if spec.local.tls {
            if !family.tls {
                return Err(Error::TlsUnsupported {
                    resource: name.clone(),
                    image: spec.local.image.clone(),
                });
            }
            Some(spec.tls_files(&self.engine().address)?)
        } else {
            None
        };
        let version = image_version
            .clone()
            .unwrap_or_else(|| spec.resource.version.clone());
        let major = spec.template.major(&version);
        let existing = self.our_container(spec).await?;
        let labels = match &spec.local.volume {
            Some(volume) => self.ensure_volume(spec, volume, &major).await?,
            None => HashMap::new(),
        };
        let password = Self::check_data(spec, &labels, existing.as_ref(), &major)?;
        let live = match &existing {
            Some(c) => Self::live_of(spec, c, None),
            None => Live::missing(),
        };
        let port = Self::port_for(spec, &labels, &live)?;
        let mut action = reconcile::decide(
            RuntimeKind::Docker,
            &spec.local.image,
            &live,
            Some(port),
            tls.as_ref().map(|t| t.fingerprint.as_str()),
        );
        if let Action::Replace(why) = &action {
            let kept = spec
                .local
                .volume
                .as_ref()
                .map_or_else(String::new, |v| format!("; the data in volume {v} is kept"));
            progress.say(
                name,
                &format!("replacing container {container} ({why}){kept}"),
            );
            self.remove_container(container).await?;
            action = Action::Create;
        }
        match action {
            Action::NoChange => {
                progress.say(name, &format!("container {container} is running"));
            }
            Action::Create | Action::Start | Action::Replace(_) => {
                if action == Action::Create {
                    progress.say(
                        name,
                        &format!(
                            "creating container {container} ({}{})",
                            spec.local.image,
                            image_version
                                .as_ref()
                                .filter(|v| **v != spec.resource.version)
                                .map(|v| format!(", version {v}"))
                                .unwrap_or_default()
                        ),
                    );
                    let setup = Setup {
                        family,
                        data_path: family.data_path(&version).map(str::to_owned),
                        version: image_version,
                        port,
                        password: password.clone(),
                        tls,
                        user: image_user,
                    };
                    self.create(spec, &setup).await?;
                }
                progress.say(
                    name,
                    &format!(
                        "starting container {container} on {}:{port}",
                        self.engine().address
                    ),
                );
                self.start(spec, port).await?;
            }
        }
        self.wait_ready(spec, port, password, progress, timeout)
            .await
    }

    /// The host port: the manifest's, else the one the volume or container remembers, else
    /// a free one (kept from then on).
    fn port_for(
        spec: &Spec<'_>,
        labels: &HashMap<String, String>,
        live: &Live,
    ) -> Result<u16, Error> {
        match reconcile::port(
            spec.local.host_port,
            labels.get(LABEL_PORT).and_then(|p| p.parse().ok()),
            live.port,
        ) {
            Some(p) => Ok(p),
            None => ports::choose(spec.local.container_port).map_err(|e| Error::Docker {
                op: "choose a port for",
                target: spec.local.container.clone(),
                source: Box::new(e),
            }),
        }
    }

    /// Refuses data that cannot be used as the manifest asks, leaving it exactly as it is:
    /// another major version wrote it (volumes made before provision recorded the major are
    /// judged by the version their container ran), or it was initialised with another
    /// password than the file's. Returns the volume's password.
    fn check_data(
        spec: &Spec<'_>,
        labels: &HashMap<String, String>,
        existing: Option<&bollard::models::ContainerInspectResponse>,
        major: &str,
    ) -> Result<Option<Secret>, Error> {
        let name = &spec.resource.name;
        // Data written by one major version is not readable by another: refuse, and leave
        // it exactly as it is. Volumes made before provision recorded the major are judged
        // by the version their container ran.
        let made_by = labels.get(LABEL_MAJOR).cloned().or_else(|| {
            existing
                .and_then(|c| {
                    c.config
                        .as_ref()?
                        .labels
                        .as_ref()?
                        .get(LABEL_VERSION)
                        .cloned()
                })
                .map(|v| spec.template.major(&v))
        });
        if let (Some(made_by), Some(volume)) = (made_by, &spec.local.volume)
            && made_by != major
        {
            return Err(Error::MajorVersionChange(Box::new(MajorChange {
                resource: name.clone(),
                volume: volume.clone(),
                type_name: spec.template.title.clone(),
                from: made_by,
                to: major.to_owned(),
                image: spec.local.image.clone(),
            })));
        }
        let password = labels.get(LABEL_PASSWORD).cloned().map(Secret::new);
        // The data was initialised with the volume's password; the image ignores a new one.
        if let (Some(have), Some(volume)) = (&password, &spec.local.volume) {
            spec.keeps_password(have.expose(), || format!("volume {volume}"))?;
        }
        Ok(password)
    }

    /// Waits until the server answers a query through the app's address; a container that
    /// exits or keeps restarting meanwhile ends the wait with its log.
    async fn wait_ready(
        &self,
        spec: &Spec<'_>,
        port: u16,
        password: Option<Secret>,
        progress: &Progress,
        timeout: Duration,
    ) -> Result<Ready, Error> {
        let name = &spec.resource.name;
        let container = &spec.local.container;
        let deadline = Deadline::after(timeout);
        // Restarts before this wait (a reboot, an earlier crash) say nothing about now.
        let restarts_before = self
            .container(container)
            .await?
            .and_then(|c| c.restart_count)
            .unwrap_or(0);
        let endpoint = spec.endpoint_at(&self.engine().address, port, password);
        progress.say(
            name,
            &format!("waiting for {} to answer a query", spec.template.title),
        );
        let alive = || async {
            match self.container(container).await {
                // With a restart policy a crashing server looks "running" between crashes;
                // any restart while we wait for its first answer means it is failing.
                Ok(Some(c))
                    if c.state.as_ref().and_then(|s| s.restarting).unwrap_or(false)
                        || c.restart_count.unwrap_or(0) > restarts_before =>
                {
                    Err(format!(
                        "it keeps restarting, last exit code {}",
                        c.state.and_then(|s| s.exit_code).unwrap_or(-1)
                    ))
                }
                Ok(Some(c)) if c.state.as_ref().and_then(|s| s.running).unwrap_or(false) => Ok(()),
                Ok(Some(c)) => Err(format!(
                    "exit code {}",
                    c.state.and_then(|s| s.exit_code).unwrap_or(-1)
                )),
                Ok(None) => Err("the container was removed".to_owned()),
                Err(e) => Err(e.render()),
            }
        };
        match probe::wait_ready(spec.template.probe, &endpoint, deadline.at, alive).await {
            Ok(took) => Ok(Ready { endpoint, took }),
            Err(WaitError::Died(detail)) => Err(Error::Exited {
                resource: name.clone(),
                detail,
                log: self.logs_tail(container).await,
            }),
            Err(WaitError::Refused(refusal, detail)) => Err(Error::Refused {
                resource: name.clone(),
                refusal,
                detail,
            }),
            Err(WaitError::Timeout { last }) => Err(Error::NotReady {
                resource: name.clone(),
                seconds: deadline.total.as_secs(),
                last: last.map(|l| l.0).unwrap_or_default(),
                log: self.logs_tail(container).await,
            }),
        }
    }

    /// Whether this volume was made by provision for data of its own, so its seed is due
    /// until the data says it was applied (`seed.rs`); volumes from before seeding existed
    /// and the file's own volumes are never seeded unasked.
    pub async fn seed_due(&self, spec: &Spec<'_>) -> Result<bool, Error> {
        let Some(volume) = &spec.local.volume else {
            return Ok(false);
        };
        Ok(self
            .our_volume(spec, volume)
            .await?
            .is_some_and(|l| l.get(LABEL_SEED).is_some_and(|v| v == "pending")))
    }

    /// The account a script runs as in the database's container, as the image's entrypoint
    /// runs its init scripts: the image's own `User`, else the server's account when the
    /// image has it (`postgres`, `mysql`), else the exec's default.
    pub async fn script_user(&self, spec: &Spec<'_>) -> Result<Option<String>, Error> {
        let container = &spec.local.container;
        let user = self
            .container(container)
            .await?
            .and_then(|c| c.config?.user)
            .filter(|u| !u.is_empty());
        if user.is_some() {
            return Ok(None);
        }
        let account = &spec.template.native.account;
        if account.is_empty() {
            return Ok(None);
        }
        Ok(self
            .account_ids(container, account)
            .await
            .ok()
            .map(|_| account.clone()))
    }

    /// The volume a snapshot's copy goes to, created with its owner's labels (no port or
    /// password: it is not a database's data volume); an existing one must be ours.
    pub async fn ensure_snapshot_volume(&self, spec: &Spec<'_>, name: &str) -> Result<(), Error> {
        let volume = crate::names::snapshot_volume(spec.project, &spec.resource.name, name);
        if let Some(labels) = self.volume_labels(&volume).await? {
            Self::check_owner(spec, &volume, Some(&labels))?;
            return Ok(());
        }
        let mut labels = self.labels(spec);
        labels.insert(LABEL_SNAPSHOT.to_owned(), name.to_owned());
        let request = VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(call("create volume", &volume))?;
        Ok(())
    }

    /// Deletes a snapshot's volume (ours only); a helper left by a killed run goes first.
    pub async fn remove_snapshot_volume(&self, spec: &Spec<'_>, name: &str) -> Result<(), Error> {
        let volume = crate::names::snapshot_volume(spec.project, &spec.resource.name, name);
        let Some(labels) = self.volume_labels(&volume).await? else {
            return Ok(());
        };
        Self::check_owner(spec, &volume, Some(&labels))?;
        self.remove_data_helper(&crate::names::data_helper(&spec.local.container))
            .await?;
        match self
            .docker
            .remove_volume(
                &volume,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(call("remove volume", &volume)(e)),
        }
    }

    /// Where the database's data is mounted in its containers.
    pub fn data_path_of(&self, spec: &Spec<'_>) -> Result<String, Error> {
        let family = spec.template.family(&spec.local.repository);
        family
            .data_path(&spec.resource.version)
            .map(str::to_owned)
            .ok_or_else(|| Error::Docker {
                op: "find the data path of",
                target: spec.local.container.clone(),
                source: "the image family keeps no data".into(),
            })
    }

    /// Starts a short-lived container of the database's image, as root, with its data mounted
    /// where the server has it (the server's own container removed): for steps that must
    /// change the data's files while no server runs (`data::offline_script`).
    pub async fn start_data_helper(&self, spec: &Spec<'_>, path: &str) -> Result<String, Error> {
        self.start_data_helper_with(spec, path, &[]).await
    }

    /// [`Self::start_data_helper`] with more volumes mounted (`volume:/path`): a snapshot's.
    pub async fn start_data_helper_with(
        &self,
        spec: &Spec<'_>,
        path: &str,
        more: &[String],
    ) -> Result<String, Error> {
        let name = crate::names::data_helper(&spec.local.container);
        self.remove_container(&name).await?;
        let body = ContainerCreateBody {
            image: Some(spec.local.image.clone()),
            entrypoint: Some(vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "while sleep 3600; do :; done".to_owned(),
            ]),
            cmd: Some(Vec::new()),
            user: Some("0".to_owned()),
            labels: Some(HashMap::from([(
                LABEL_PROJECT.to_owned(),
                spec.project.to_owned(),
            )])),
            host_config: Some(HostConfig {
                binds: Some(
                    binds(spec, Some(path))
                        .into_iter()
                        .chain(more.iter().cloned())
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(call("create container", &name))?;
        self.docker
            .start_container(&name, None)
            .await
            .map_err(call("start container", &name))?;
        Ok(name)
    }

    pub async fn remove_data_helper(&self, name: &str) -> Result<(), Error> {
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(name, Some(remove)).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(call("remove container", name)(e)),
        }
    }

    /// The version of the manifest's image, from its configuration (pulled if missing).
    pub async fn image_version(
        &self,
        spec: &Spec<'_>,
        progress: &Progress,
    ) -> Result<Option<String>, Error> {
        let family = spec
            .template
            .family_for(&spec.local.repository, spec.resource.username.as_deref());
        Ok(self.ensure_image(spec, &family, progress).await?.0)
    }

    /// Creates a volume of this resource with `labels` beside the ownership labels (an
    /// upgrade's new data, which takes the old data's port and password).
    pub async fn create_volume(
        &self,
        spec: &Spec<'_>,
        volume: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), Error> {
        let mut all = labels;
        all.extend(self.labels(spec));
        let request = VolumeCreateRequest {
            name: Some(volume.to_owned()),
            labels: Some(all),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(call("create volume", volume))
    }

    /// Deletes one of this resource's volumes (never another's); a missing one is fine.
    pub async fn remove_volume(&self, spec: &Spec<'_>, volume: &str) -> Result<(), Error> {
        if self.our_volume(spec, volume).await?.is_none() {
            return Ok(());
        }
        match self
            .docker
            .remove_volume(
                volume,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(call("remove volume", volume)(e)),
        }
    }

    pub async fn down(&self, spec: &Spec<'_>, volumes: bool) -> Result<String, Error> {
        let container = &spec.local.container;
        // Only ever remove what carries this project's and this database's labels.
        self.our_container(spec).await?;
        if let Some(volume) = &spec.local.volume {
            self.our_volume(spec, volume).await?;
        }
        let removed = self.remove_container(container).await?;
        let mut done = if removed {
            format!("removed container {container}")
        } else {
            format!("no container {container}")
        };
        if let Some(volume) = &spec.local.volume {
            if volumes {
                match self
                    .docker
                    .remove_volume(
                        volume,
                        None::<bollard::query_parameters::RemoveVolumeOptions>,
                    )
                    .await
                {
                    Ok(()) => done.push_str(&format!("; deleted volume {volume} and its data")),
                    Err(e) if status_of(&e) == Some(404) => {}
                    Err(e) => return Err(call("remove volume", volume)(e)),
                }
            } else if self.volume_labels(volume).await?.is_some() {
                done.push_str(&format!("; kept volume {volume}"));
            }
        }
        if volumes {
            done.push_str(&self.remove_upgrade_volumes(spec).await?);
        }
        Ok(done)
    }

    /// `down --volumes` deletes a database's data: that includes the volume an upgrade kept
    /// (the old data until `--cleanup`) or left half made, and then the record of it. The
    /// record goes last, so a kill part way leaves it to name what is still there.
    async fn remove_upgrade_volumes(&self, spec: &Spec<'_>) -> Result<String, Error> {
        use super::upgrade::Record;
        let Some(record) = Record::load(spec.project, &spec.resource.name)? else {
            return Ok(String::new());
        };
        let mut done = String::new();
        for other in [&record.old_volume, &record.new_volume] {
            if spec.local.volume.as_ref() == Some(other)
                || self.our_volume(spec, other).await?.is_none()
            {
                continue;
            }
            self.remove_volume(spec, other).await?;
            done.push_str(&format!(
                "; deleted volume {other} (kept by `provision upgrade`)"
            ));
        }
        Record::remove(spec.project, &spec.resource.name)?;
        Ok(done)
    }
}
