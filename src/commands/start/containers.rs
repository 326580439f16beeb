//! `provision start --containers`: the app services run as Docker containers instead of host
//! processes, as `convox start` ran them. The databases come up as for host mode (Docker
//! only); a project network `{project}-provision` joins them, each database reachable by its
//! service name; app services with `build:` are built through the Engine API, those with
//! `image:` run as they are. Link variables point at the databases by name and container
//! port. Output, Ctrl-C and `restart:` behave as in host mode; app containers are removed when
//! `start` ends, the databases stay up.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, CreateContainerOptionsBuilder,
    CreateImageOptionsBuilder, KillContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};

use super::output::{Mux, Prefix, Stream};
use super::{
    DEFAULT_TIMEOUT, Event, FIRST_BACKOFF, MAX_BACKOFF, Options, STABLE_AFTER, Signals, Stop,
    Trace, describe, policy_name, restarts,
};
use crate::error::{Error, Exit};
use crate::links::{self, Endpoint, Value, Var};
use crate::local::docker::{call, reason, status_of};
use crate::local::{self, Runtime, RuntimeChoice, image};
use crate::manifest::process::{Build, Restart, Words};
use crate::manifest::{Manifest, Service};
use crate::plan::{Plan, PlannedLink};
use crate::progress::Progress;
use crate::session::Session;

use crate::names::{LABEL_APP, LABEL_PROJECT};

/// Where an app container's image comes from.
#[derive(Debug, Clone)]
enum Source {
    Build(Build),
    Image(String),
}

/// One app service, ready to create as a container.
#[derive(Debug, Clone)]
struct AppContainer {
    service: String,
    container: String,
    image: String,
    source: Source,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Vec<Var>,
    working_dir: Option<String>,
    /// `(published, target)`; no published port: Docker picks one.
    ports: Vec<(Option<u16>, u16)>,
    restart: Restart,
}

fn app_of(project: &str, service: &Service) -> Option<AppContainer> {
    let source = match (&service.process.build, &service.image) {
        (Some(b), _) => Source::Build(b.value.clone()),
        (None, Some(i)) => Source::Image(i.value.clone()),
        (None, None) => return None,
    };
    let image = match &source {
        Source::Build(_) => crate::names::app_image(project, &service.name),
        Source::Image(i) => i.clone(),
    };
    // Compose splits the string form of `entrypoint:` into words for a container (no shell);
    // provision splits it on whitespace, which covers entrypoints without quoting.
    let entrypoint = service.process.entrypoint.as_ref().map(|e| match &e.value {
        Words::List(l) => l.clone(),
        Words::Shell(line) => line.split_whitespace().map(str::to_owned).collect(),
    });
    // A bare `NAME` passes the host's value on, as Compose does.
    let env = service
        .environment
        .iter()
        .filter_map(|v| {
            let value = v
                .value
                .value
                .clone()
                .or_else(|| std::env::var(&v.value.name).ok())?;
            Some(Var {
                name: v.value.name.clone(),
                value: Value::Plain(value),
            })
        })
        .collect();
    Some(AppContainer {
        service: service.name.clone(),
        container: crate::names::container(project, &service.name),
        image,
        source,
        entrypoint,
        cmd: service.command.as_ref().map(|c| c.value.clone()),
        env,
        working_dir: service
            .process
            .working_dir
            .as_ref()
            .filter(|w| w.value.is_absolute())
            .map(|w| w.value.display().to_string()),
        ports: service
            .ports
            .iter()
            .map(|p| (p.value.published, p.value.target))
            .collect(),
        restart: service
            .process
            .restart
            .as_ref()
            .map_or(Restart::No, |r| r.value),
    })
}

/// The link variables of a database as seen from the project network: its service name and
/// its container port, with the password the runtime reported.
pub fn network_endpoint(ready: &Endpoint, service: &str, container_port: u16) -> Endpoint {
    Endpoint {
        host: service.to_owned(),
        port: container_port,
        ..ready.clone()
    }
}

pub(super) async fn start(
    session: &Session,
    options: &Options,
    (manifest, plan): (Manifest, Plan),
    signals: &mut Signals,
    trace: &Trace,
) -> Result<Exit, Error> {
    if session.runtime == RuntimeChoice::Native {
        return Err(Error::StartContainersNative);
    }
    let project = plan.project.name.clone();
    let mut apps = super::chosen_apps(&manifest, &plan, &options.services, |service| {
        Ok(app_of(&project, service))
    })?;

    let specs = local::specs(&plan);
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(session.quiet, &names);
    let runtime = Runtime::select(RuntimeChoice::Docker, &specs).await?;
    let Runtime::Docker(docker_runtime) = &runtime else {
        return Err(Error::StartContainersNative);
    };
    let docker = docker_runtime.client().clone();
    progress.note(&format!(
        "provision: project {project} on docker ({} databases, {} app containers)",
        specs.len(),
        apps.len()
    ));
    let up = local::up_all(
        &runtime,
        &specs,
        &progress,
        Duration::from_secs(session.timeout.unwrap_or(DEFAULT_TIMEOUT)),
    );
    let ready = tokio::select! {
        ready = up => ready?,
        () = signals.recv() => return Err(Error::Interrupted),
    };
    trace.mark("databases ready");
    super::migrate(session, options, &manifest, &plan, signals).await?;

    let network = crate::names::network(&project);
    ensure_network(&docker, &network, &project).await?;
    for spec in &specs {
        connect(
            &docker,
            &network,
            &spec.local.container,
            &spec.resource.name,
        )
        .await?;
    }

    for app in &mut apps {
        let Some(service) = plan.services.iter().find(|s| s.service == app.service) else {
            continue;
        };
        // The CA files are on this machine: the project's TLS directory is mounted at the
        // same path in the app's container (`tls_mount`).
        let rendered = links::render_links(service.links.iter().map(PlannedLink::parts), |name| {
            specs
                .iter()
                .zip(&ready)
                .find(|(s, _)| s.resource.name == name)
                .map(|(s, r)| {
                    let at =
                        network_endpoint(&r.endpoint, &s.resource.name, s.local.container_port);
                    (s.template, at)
                })
        });
        app.env
            .extend(crate::tls::Store::of(&plan.project.name).with_client_vars(rendered)?);
    }

    let app_names: Vec<&str> = apps.iter().map(|a| a.service.as_str()).collect();
    let mux = Mux::new(&app_names);
    for app in &apps {
        let prefix = mux.prefix(&app.service);
        let image = async {
            match &app.source {
                Source::Build(build) => build_image(&docker, app, build, &prefix).await,
                Source::Image(image) => ensure_image(&docker, image, &prefix).await,
            }
        };
        tokio::select! {
            done = image => done?,
            () = signals.recv() => return Err(Error::Interrupted),
        }
    }
    for (i, app) in apps.iter().enumerate() {
        if let Err(e) = create(&docker, &project, &network, app).await {
            // None of this run's containers may outlive it.
            for made in &apps[..i] {
                remove(&docker, &made.container).await;
            }
            return Err(e);
        }
    }
    trace.mark("app containers created");
    supervise(docker, apps, &mux, options.grace, signals).await
}

async fn ensure_network(docker: &Docker, network: &str, project: &str) -> Result<(), Error> {
    match docker.inspect_network(network, None).await {
        Ok(_) => return Ok(()),
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => return Err(call("inspect network", network)(e)),
    }
    let request = NetworkCreateRequest {
        name: network.to_owned(),
        driver: Some("bridge".to_owned()),
        labels: Some(HashMap::from([(
            LABEL_PROJECT.to_owned(),
            project.to_owned(),
        )])),
        ..NetworkCreateRequest::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        // Another `start` made it meanwhile.
        Err(e) if status_of(&e) == Some(409) => Ok(()),
        Err(e) => Err(call("create network", network)(e)),
    }
}

/// Connects a database container to the network under its service name; a container
/// already connected (a second `start`) is fine.
async fn connect(
    docker: &Docker,
    network: &str,
    container: &str,
    alias: &str,
) -> Result<(), Error> {
    let request = NetworkConnectRequest {
        container: container.to_owned(),
        endpoint_config: Some(EndpointSettings {
            aliases: Some(vec![alias.to_owned()]),
            ..EndpointSettings::default()
        }),
    };
    match docker.connect_network(network, request).await {
        Ok(()) => Ok(()),
        Err(e) if reason(&e).contains("already exists") => Ok(()),
        Err(e) => Err(call("connect to the project network", container)(e)),
    }
}

async fn ensure_image(docker: &Docker, image: &str, prefix: &Prefix) -> Result<(), Error> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => return Err(call("inspect image", image)(e)),
    }
    prefix.note(&format!("pulling {image}"));
    let (from, tag) = image::pull_reference(image);
    let options = CreateImageOptionsBuilder::default()
        .from_image(&from)
        .tag(&tag)
        .build();
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| Error::ImageUnavailable {
            image: image.to_owned(),
            reason: reason(&e),
        })?;
    }
    Ok(())
}

/// `.dockerignore` patterns provision honours: plain paths (`target`, `/node_modules`,
/// `.git/`). Patterns with wildcards or `!` exceptions are not understood and ignored, so
/// such a context is sent whole (a larger upload, never a different build).
fn ignored(context: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(context.join(".dockerignore")) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.contains(['*', '?', '[', '!']))
        .map(|l| {
            let l = l.trim_start_matches("./").trim_start_matches('/');
            PathBuf::from(l.trim_end_matches('/'))
        })
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

fn add_dir(
    builder: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    dir: &Path,
    skip: &[PathBuf],
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        if skip.iter().any(|s| relative.starts_with(s)) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            builder.append_dir(&relative, &path)?;
            add_dir(builder, root, &path, skip)?;
        } else {
            builder.append_path_with_name(&path, &relative)?;
        }
    }
    Ok(())
}

/// The build context as a tar archive, as `docker build` sends it.
pub fn context_tar(context: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    add_dir(&mut builder, context, context, &ignored(context))?;
    builder.into_inner()
}

async fn build_image(
    docker: &Docker,
    app: &AppContainer,
    build: &Build,
    prefix: &Prefix,
) -> Result<(), Error> {
    let failed = |reason: String| Error::BuildFailed {
        service: app.service.clone(),
        reason,
    };
    prefix.note(&format!(
        "building {} from {}",
        app.image,
        build.context.display()
    ));
    let context = build.context.clone();
    let tar = tokio::task::spawn_blocking(move || context_tar(&context))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| {
            failed(format!(
                "cannot read the build context {}: {e}",
                build.context.display()
            ))
        })?;
    let args: HashMap<String, String> = build.args.iter().cloned().collect();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(build.dockerfile.as_deref().unwrap_or("Dockerfile"))
        .t(&app.image)
        .buildargs(&args)
        .rm(true)
        .forcerm(true);
    if let Some(target) = &build.target {
        options = options.target(target);
    }
    let mut stream =
        docker.build_image(options.build(), None, Some(bollard::body_full(tar.into())));
    let mut partial = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| match e {
            // The builder's own words (`The command ... returned a non-zero code: 1`).
            BollardError::DockerStreamError { error } => failed(error),
            other => failed(reason(&other)),
        })?;
        if let Some(detail) = info.error_detail {
            return Err(failed(detail.message.unwrap_or_default()));
        }
        if let Some(text) = info.stream {
            partial.extend_from_slice(text.as_bytes());
            drain_lines(&mut partial, prefix, Stream::Stdout);
        }
    }
    if !partial.is_empty() {
        prefix.line(Stream::Stdout, &partial);
    }
    Ok(())
}

/// Writes every whole line in `buf` through `prefix`, keeping the unfinished rest.
fn drain_lines(buf: &mut Vec<u8>, prefix: &Prefix, stream: Stream) {
    while let Some(end) = buf.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = buf.drain(..=end).collect();
        prefix.line(stream, &line);
    }
}

/// The project's TLS directory, read-only at the same path, for an app whose links verify
/// against its CA files: the variables name files on this machine.
fn tls_mount(project: &str, app: &AppContainer) -> Option<Vec<String>> {
    app.env.iter().any(|v| v.name == "SSL_CERT_FILE").then(|| {
        let dir = crate::tls::Store::of(project).dir().display().to_string();
        vec![format!("{dir}:{dir}:ro")]
    })
}

async fn create(
    docker: &Docker,
    project: &str,
    network: &str,
    app: &AppContainer,
) -> Result<(), Error> {
    // A container left by a `start` that was killed outright: ours, so it goes.
    if let Ok(old) = docker.inspect_container(&app.container, None).await {
        let labels = old.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(LABEL_APP) == Some(&app.service)
            && labels.get(LABEL_PROJECT).map(String::as_str) == Some(project)
        {
            remove(docker, &app.container).await;
        }
    }
    let mut port_bindings = HashMap::new();
    let mut exposed = Vec::new();
    for (published, target) in &app.ports {
        let key = format!("{target}/tcp");
        exposed.push(key.clone());
        port_bindings.insert(
            key,
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(published.map(|p| p.to_string()).unwrap_or_default()),
            }]),
        );
    }
    let body = ContainerCreateBody {
        image: Some(app.image.clone()),
        entrypoint: app.entrypoint.clone(),
        cmd: app.cmd.clone(),
        env: Some(
            app.env
                .iter()
                .map(|v| format!("{}={}", v.name, v.value.expose()))
                .collect(),
        ),
        working_dir: app.working_dir.clone(),
        exposed_ports: Some(exposed),
        labels: Some(HashMap::from([
            (LABEL_PROJECT.to_owned(), project.to_owned()),
            (LABEL_APP.to_owned(), app.service.clone()),
        ])),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            network_mode: Some(network.to_owned()),
            binds: tls_mount(project, app),
            ..HostConfig::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.to_owned(),
                EndpointSettings {
                    aliases: Some(vec![app.service.clone()]),
                    ..EndpointSettings::default()
                },
            )])),
        }),
        ..ContainerCreateBody::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(&app.container)
        .build();
    docker
        .create_container(Some(options), body)
        .await
        .map_err(call("create container", &app.container))?;
    Ok(())
}

async fn remove(docker: &Docker, container: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(container, Some(options)).await;
}

async fn supervise(
    docker: Docker,
    apps: Vec<AppContainer>,
    mux: &Mux,
    grace: Duration,
    signals: &mut Signals,
) -> Result<Exit, Error> {
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for app in apps {
        tasks.spawn(keep(
            docker.clone(),
            Arc::new(app.clone()),
            mux.prefix(&app.service),
            stop_rx.clone(),
            events_tx.clone(),
            grace,
        ));
    }
    drop(events_tx);
    super::outcome(&mut events, &stop_tx, &mut tasks, signals).await
}

/// Follows the container's output: attached before it starts, so no line is lost.
async fn attach(
    docker: &Docker,
    app: &AppContainer,
    prefix: &Prefix,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let options = AttachContainerOptionsBuilder::default()
        .stream(true)
        .stdout(true)
        .stderr(true)
        .logs(false)
        .build();
    let attached = docker
        .attach_container(&app.container, Some(options))
        .await
        .map_err(call("attach to container", &app.container))?;
    let prefix = prefix.clone();
    Ok(tokio::spawn(async move {
        let mut output = attached.output;
        let mut out = Vec::new();
        let mut err = Vec::new();
        while let Some(Ok(item)) = output.next().await {
            use bollard::container::LogOutput;
            match item {
                LogOutput::StdErr { message } => {
                    err.extend_from_slice(&message);
                    drain_lines(&mut err, &prefix, Stream::Stdout);
                }
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    out.extend_from_slice(&message);
                    drain_lines(&mut out, &prefix, Stream::Stdout);
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        for rest in [out, err] {
            if !rest.is_empty() {
                prefix.line(Stream::Stdout, &rest);
            }
        }
    }))
}

/// The container's exit code once it is not running.
async fn wait(docker: &Docker, container: &str) -> Option<i64> {
    let mut stream = docker.wait_container(container, None);
    match stream.next().await {
        Some(Ok(r)) => Some(r.status_code),
        Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Some(code),
        _ => None,
    }
}

fn status_of_code(code: i64) -> ExitStatus {
    ExitStatus::from_raw(i32::try_from(code & 0xff).unwrap_or(1) << 8)
}

/// Stops a container: `docker stop` with the grace period (KILL at once on `Stop::Now`).
async fn halt(docker: &Docker, container: &str, stop: &mut watch::Receiver<Stop>, grace: Duration) {
    if *stop.borrow() != Stop::Now {
        let options = StopContainerOptionsBuilder::default()
            .t(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX))
            .build();
        tokio::select! {
            _ = docker.stop_container(container, Some(options)) => return,
            _ = stop.wait_for(|s| *s == Stop::Now) => {}
        }
    }
    let options = KillContainerOptionsBuilder::default()
        .signal("KILL")
        .build();
    let _ = docker.kill_container(container, Some(options)).await;
}

async fn flush(pump: tokio::task::JoinHandle<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), pump).await;
}

/// Runs one app container until `start` stops, restarting it as its policy says; removes it
/// at the end.
async fn keep(
    docker: Docker,
    app: Arc<AppContainer>,
    prefix: Prefix,
    mut stop: watch::Receiver<Stop>,
    events: mpsc::UnboundedSender<Event>,
    grace: Duration,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut restarted = 0;
    loop {
        let started = Instant::now();
        let run = async {
            let pump = attach(&docker, &app, &prefix).await?;
            docker
                .start_container(&app.container, None)
                .await
                .map_err(call("start container", &app.container))?;
            Ok::<_, Error>(pump)
        };
        let pump = match run.await {
            Ok(p) => p,
            Err(e) => {
                prefix.note(&format!("could not start: {}", e.summary()));
                let _ = events.send(Event::Failed(e));
                remove(&docker, &app.container).await;
                return;
            }
        };
        let code = tokio::select! {
            code = wait(&docker, &app.container) => code,
            _ = stop.wait_for(|s| *s != Stop::Running) => None,
        };
        let status = code.map(status_of_code);
        let Some(status) = status.filter(|_| *stop.borrow() == Stop::Running) else {
            halt(&docker, &app.container, &mut stop, grace).await;
            flush(pump).await;
            remove(&docker, &app.container).await;
            return;
        };
        flush(pump).await;
        if !restarts(app.restart, status, restarted) {
            prefix.note(&describe(status));
            let _ = events.send(Event::Exited(status));
            remove(&docker, &app.container).await;
            return;
        }
        if started.elapsed() >= STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        restarted += 1;
        prefix.note(&format!(
            "{}; restarting in {} s (restart: {}, restart {restarted})",
            describe(status),
            backoff.as_secs(),
            policy_name(app.restart),
        ));
        let stopping = tokio::select! {
            () = tokio::time::sleep(backoff) => false,
            _ = stop.wait_for(|s| *s != Stop::Running) => true,
        };
        if stopping {
            remove(&docker, &app.container).await;
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_endpoint_uses_service_name_and_container_port() {
        let ready = Endpoint {
            host: "127.0.0.1".into(),
            port: 54321,
            tls: false,
            ca_file: None,
            username: Some("u".into()),
            password: Some(crate::secret::Secret::new("pw".to_owned())),
            database: Some("d".into()),
        };
        let e = network_endpoint(&ready, "db", 5432);
        assert_eq!((e.host.as_str(), e.port), ("db", 5432));
        assert_eq!(e.password, ready.password);
        assert_eq!(e.database.as_deref(), Some("d"));
    }

    #[test]
    fn context_tar_honours_plain_dockerignore_entries() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::create_dir_all(tmp.path().join("target/debug")).unwrap();
        std::fs::write(tmp.path().join("target/debug/big"), "x").unwrap();
        std::fs::create_dir(tmp.path().join("src")).unwrap();
        std::fs::write(tmp.path().join("src/a.sh"), "echo").unwrap();
        std::fs::write(tmp.path().join(".dockerignore"), "# c\n/target/\n*.log\n").unwrap();
        let bytes = context_tar(tmp.path()).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"Dockerfile".to_owned()), "{names:?}");
        assert!(names.contains(&"src/a.sh".to_owned()), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("target")), "{names:?}");
    }
}
