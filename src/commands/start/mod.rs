//! `provision start`: the whole app with one command. The databases come up as `up --local`
//! brings them up; then every app service with a command runs as a host process, in its own
//! process group, with its Compose environment and its link variables, its output prefixed
//! with its name.
//!
//! The lifecycle is Compose's and foreman's: Ctrl-C or SIGTERM stops every app (TERM to its
//! process group, KILL after the grace period) and exits 130; when an app exits, the others
//! are stopped and `start` exits with its status, unless its `restart:` policy brings it back.
//! The databases stay up either way: stopping them is `down`'s job. Nothing is left behind:
//! a group is waited for until the process table has none of its members.

pub mod apps;
pub mod containers;
pub mod output;

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

use self::apps::AppProcess;
use self::output::{Mux, Prefix, Stream};
use crate::error::{Error, Exit};
use crate::links;
use crate::local::{self, Runtime};
use crate::manifest::process::Restart;
use crate::plan::{PlannedLink, Target};
use crate::progress::Progress;
use crate::session::Session;

/// Seconds `up` waits for the databases, as for `provision up`.
const DEFAULT_TIMEOUT: u64 = 60;
/// A restarted app waits this long first, doubling on each restart up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// An app that ran this long before exiting starts again from [`FIRST_BACKOFF`].
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// How long the members of a killed group may take to disappear from the process table.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The app services `start` runs, checked before any database starts (a typo should cost
/// nothing): the ones named, each of which must exist and have something to run, else every
/// app service that has. `make` turns one service into what the mode runs, `None` when it
/// has nothing to run.
pub(super) fn chosen_apps<T>(
    manifest: &crate::manifest::Manifest,
    plan: &crate::plan::Plan,
    named: &[String],
    mut make: impl FnMut(&crate::manifest::Service) -> Result<Option<T>, Error>,
) -> Result<Vec<T>, Error> {
    if let Some(name) = named.iter().find(|n| !plan.apps.contains(n)) {
        return Err(Error::UnknownService {
            name: name.clone(),
            known: plan.apps.clone(),
        });
    }
    let mut chosen = Vec::new();
    for service in &manifest.services {
        let is_named = named.contains(&service.name);
        if !plan.apps.contains(&service.name) || !(named.is_empty() || is_named) {
            continue;
        }
        match make(service)? {
            Some(app) => chosen.push(app),
            None if is_named => {
                return Err(Error::AppWithoutCommand {
                    service: service.name.clone(),
                });
            }
            None => {}
        }
    }
    if chosen.is_empty() {
        return Err(Error::NoApps {
            file: manifest.file.clone(),
        });
    }
    Ok(chosen)
}

/// `start`'s options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The app services to run (default: every one with a command).
    pub services: Vec<String>,
    /// Stop signal to KILL.
    pub grace: Duration,
    /// Run the apps as Docker containers on a project network (`--containers`).
    pub containers: bool,
    /// Run the app services' `x-provision.migrate` first (not with `--no-migrate`).
    pub migrate: bool,
}

/// Runs `start` on its own async runtime: the command handles Ctrl-C itself (it must stop
/// the apps before it exits), so it does not use `session::block_on`.
pub fn run(session: &Session, target: Target, options: &Options) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(Error::StartCloud);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::AsyncRuntime)?;
    runtime.block_on(start(session, options))
}

/// Prints `PROVISION_TRACE_TIMINGS` marks on stderr: what the `start` benchmark reads.
#[derive(Debug)]
struct Trace(Option<Instant>);

impl Trace {
    fn new() -> Self {
        Self(std::env::var_os("PROVISION_TRACE_TIMINGS").map(|_| Instant::now()))
    }

    fn mark(&self, what: &str) {
        if let Some(t0) = self.0 {
            eprintln!(
                "provision-trace: {:>10.3} ms {what}",
                t0.elapsed().as_secs_f64() * 1000.0
            );
        }
    }
}

/// SIGINT and SIGTERM, as one stream. Registered before anything starts, so that a signal
/// never finds the default disposition (which would kill provision and strand the apps).
pub(super) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, Error> {
        let register = |kind| signal(kind).map_err(Error::AsyncRuntime);
        Ok(Self {
            int: register(SignalKind::interrupt())?,
            term: register(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

async fn start(session: &Session, options: &Options) -> Result<Exit, Error> {
    let mut signals = Signals::new()?;
    let trace = Trace::new();
    if options.containers && session.runtime == crate::local::RuntimeChoice::Native {
        return Err(Error::StartContainersNative);
    }
    let (manifest, plan) = session.plan(Target::Local)?;
    if options.containers || manifest.apps_in_containers == Some(true) {
        return containers::start(session, options, (manifest, plan), &mut signals, &trace).await;
    }
    let cwd = std::env::current_dir().map_err(|source| Error::ReadManifest {
        path: PathBuf::from("."),
        source,
    })?;
    let manifest_dir = cwd
        .join(&manifest.file)
        .parent()
        .map_or_else(|| cwd.clone(), std::path::Path::to_path_buf);

    let mut processes = chosen_apps(&manifest, &plan, &options.services, |service| {
        // Problems in an app's `command:`, `restart:`, ... are Compose's business elsewhere;
        // for an app `start` runs they are ours.
        if service
            .deferred
            .iter()
            .any(crate::problem::Problem::is_error)
        {
            return Err(Error::ManifestInvalid {
                file: manifest.file.clone(),
                problems: service.deferred.clone(),
            });
        }
        Ok(apps::process(service, &manifest_dir, Vec::new()))
    })?;

    // The databases, as `up --local`.
    let specs = local::specs(&plan);
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(session.quiet, &names);
    let up = async {
        let runtime = Runtime::select(session.runtime, &specs).await?;
        progress.note(&format!(
            "provision: project {} on {} ({} databases, {} apps)",
            plan.project.name,
            runtime.kind(),
            specs.len(),
            processes.len()
        ));
        local::up_all(
            &runtime,
            &specs,
            &progress,
            Duration::from_secs(session.timeout.unwrap_or(DEFAULT_TIMEOUT)),
        )
        .await
    };
    let ready = tokio::select! {
        ready = up => ready?,
        () = signals.recv() => return Err(Error::Interrupted),
    };
    trace.mark("databases ready");
    migrate(session, options, &manifest, &plan, &mut signals).await?;

    // Links to other apps: their published ports on this machine.
    let model = crate::model::resolve(&manifest, &session.catalog, session.project.as_deref())?;
    for process in &mut processes {
        if let Some(app) = model.apps.iter().find(|a| a.name == process.name) {
            for link in &app.app_links {
                process
                    .env
                    .extend(links::render_app(&link.prefix, link.port));
            }
        }
    }
    // Link variables from the endpoints the runtime reported.
    for process in &mut processes {
        let Some(service) = plan.services.iter().find(|s| s.service == process.name) else {
            continue;
        };
        // With what clients read by themselves to verify the servers it links to.
        let rendered = links::render_links(service.links.iter().map(PlannedLink::parts), |name| {
            specs
                .iter()
                .zip(&ready)
                .find(|(s, _)| s.resource.name == name)
                .map(|(s, r)| (s.template, r.endpoint.clone()))
        });
        process
            .env
            .extend(crate::tls::Store::of(&plan.project.name).with_client_vars(rendered)?);
    }
    supervise(processes, options.grace, &mut signals, &trace).await
}

/// The migrations (`x-provision.migrate`), once the databases answer and before any app
/// starts; a failing one ends `start` with no app started. On this machine in both modes:
/// a migration runs like `provision run`, against the databases' host addresses.
pub(super) async fn migrate(
    session: &Session,
    options: &Options,
    manifest: &crate::manifest::Manifest,
    plan: &crate::plan::Plan,
    signals: &mut Signals,
) -> Result<(), Error> {
    if !options.migrate {
        return Ok(());
    }
    let run = super::migrate::run_all(session, Target::Local, manifest, plan, Stream::Stdout);
    tokio::select! {
        done = run => done,
        // Dropping the run kills the migration (`kill_on_drop`).
        () = signals.recv() => Err(Error::Interrupted),
    }
}

/// What a supervised app reports to `start`.
enum Event {
    /// It exited and its policy does not restart it.
    Exited(ExitStatus),
    /// It could not be started.
    Failed(Error),
}

async fn supervise(
    processes: Vec<AppProcess>,
    grace: Duration,
    signals: &mut Signals,
    trace: &Trace,
) -> Result<Exit, Error> {
    let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
    let mux = Mux::new(&names);
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (spawned_tx, mut spawned) = mpsc::unbounded_channel::<()>();
    let count = processes.len();
    let mut tasks = tokio::task::JoinSet::new();
    for process in processes {
        let prefix = mux.prefix(&process.name);
        tasks.spawn(keep(
            Arc::new(process),
            prefix,
            stop_rx.clone(),
            events_tx.clone(),
            spawned_tx.clone(),
            grace,
        ));
    }
    drop(events_tx);
    drop(spawned_tx);
    if trace.0.is_some() {
        for _ in 0..count {
            let _ = spawned.recv().await;
        }
        trace.mark(&format!("{count} apps spawned"));
    }
    outcome(&mut events, &stop_tx, &mut tasks, signals).await
}

/// Waits for the first app that ends the run (or a signal), stops the others (gracefully; a
/// second Ctrl-C skips the grace period, as in Compose), and says how `start` exits. Both
/// ways of running apps end here.
async fn outcome(
    events: &mut mpsc::UnboundedReceiver<Event>,
    stop_tx: &watch::Sender<Stop>,
    tasks: &mut tokio::task::JoinSet<()>,
    signals: &mut Signals,
) -> Result<Exit, Error> {
    let outcome = tokio::select! {
        event = events.recv() => match event {
            Some(Event::Exited(status)) => Ok(exit_of(status)),
            Some(Event::Failed(e)) => Err(e),
            None => Ok(Exit::Success),
        },
        () = signals.recv() => Err(Error::Interrupted),
    };
    let _ = stop_tx.send(Stop::Graceful);
    loop {
        tokio::select! {
            done = tasks.join_next() => if done.is_none() { break },
            () = signals.recv() => { let _ = stop_tx.send(Stop::Now); }
        }
    }
    match outcome {
        Err(Error::Interrupted) => Ok(Exit::Interrupted),
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Running,
    /// TERM, then KILL after the grace period.
    Graceful,
    /// KILL now.
    Now,
}

/// `start`'s status for an app's: its code, or 128 + the signal that ended it.
fn exit_of(status: ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(0), _) => Exit::Success,
        (Some(code), _) => Exit::App(u8::try_from(code & 0xff).unwrap_or(1)),
        (None, Some(signal)) => Exit::App(u8::try_from(128 + (signal & 0x7f)).unwrap_or(1)),
        (None, None) => Exit::Failure,
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "exited".to_owned(),
    }
}

fn policy_name(restart: Restart) -> &'static str {
    match restart {
        Restart::No => "no",
        Restart::Always => "always",
        Restart::OnFailure(_) => "on-failure",
        Restart::UnlessStopped => "unless-stopped",
    }
}

/// Whether `restart` brings an app back after `status`, `restarts` restarts in.
pub fn restarts(restart: Restart, status: ExitStatus, restarts: u32) -> bool {
    match restart {
        Restart::No => false,
        Restart::Always | Restart::UnlessStopped => true,
        Restart::OnFailure(max) => !status.success() && max.is_none_or(|m| restarts < m),
    }
}

fn spawn(process: &AppProcess) -> Result<tokio::process::Child, Error> {
    let (program, args) = process
        .argv
        .split_first()
        .ok_or_else(|| Error::AppWithoutCommand {
            service: process.name.clone(),
        })?;
    tokio::process::Command::new(program)
        .args(args)
        .envs(process.env.iter().map(|v| (&v.name, v.value.expose())))
        .current_dir(&process.dir)
        // Its own group: the terminal's Ctrl-C reaches provision only, which stops each
        // group as a whole (a shell and everything it started), TERM first.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::SpawnApp {
            service: process.name.clone(),
            program: program.clone(),
            dir: process.dir.clone(),
            source,
        })
}

/// Runs one app until `start` stops, restarting it as its policy says.
async fn keep(
    process: Arc<AppProcess>,
    prefix: Prefix,
    mut stop: watch::Receiver<Stop>,
    events: mpsc::UnboundedSender<Event>,
    spawned: mpsc::UnboundedSender<()>,
    grace: Duration,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut restarted = 0;
    loop {
        let mut child = match spawn(&process) {
            Ok(c) => c,
            Err(e) => {
                prefix.note(&format!("could not start: {}", e.summary()));
                // Counted as spawned for the trace, so that it never waits for this one.
                let _ = spawned.send(());
                let _ = events.send(Event::Failed(e));
                return;
            }
        };
        let _ = spawned.send(());
        let started = Instant::now();
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw);
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            let p = prefix.clone();
            pumps.push(tokio::spawn(
                async move { p.pump(out, Stream::Stdout).await },
            ));
        }
        if let Some(err) = child.stderr.take() {
            let p = prefix.clone();
            pumps.push(tokio::spawn(
                async move { p.pump(err, Stream::Stdout).await },
            ));
        }
        let status = tokio::select! {
            status = child.wait() => status.ok(),
            _ = stop.wait_for(|s| *s != Stop::Running) => None,
        };
        let Some(status) = status.filter(|_| *stop.borrow() == Stop::Running) else {
            // `start` is stopping: this group goes, whatever state it is in.
            terminate(group, &mut child, &mut stop, grace).await;
            flush(pumps).await;
            return;
        };
        if !restarts(process.restart, status, restarted) {
            prefix.note(&describe(status));
            let _ = events.send(Event::Exited(status));
            // What the app left running in its group goes with the others.
            let _ = stop.wait_for(|s| *s != Stop::Running).await;
            terminate(group, &mut child, &mut stop, grace).await;
            flush(pumps).await;
            return;
        }
        // Leftovers of the old run must not pile up across restarts.
        terminate(group, &mut child, &mut stop, grace).await;
        flush(pumps).await;
        if started.elapsed() >= STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        restarted += 1;
        prefix.note(&format!(
            "{}; restarting in {} s (restart: {}, restart {restarted})",
            describe(status),
            backoff.as_secs(),
            policy_name(process.restart),
        ));
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s != Stop::Running) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Waits for the output of a finished run, boundedly: a member that escaped the group may
/// hold the pipe open.
async fn flush(pumps: Vec<tokio::task::JoinHandle<()>>) {
    let all = futures_util::future::join_all(pumps);
    let _ = tokio::time::timeout(Duration::from_secs(1), all).await;
}

/// Stops a process group: TERM, then KILL after `grace` (at once on `Stop::Now`), then waits
/// until the process table holds none of its members.
async fn terminate(
    group: Option<rustix::process::Pid>,
    child: &mut tokio::process::Child,
    stop: &mut watch::Receiver<Stop>,
    grace: Duration,
) {
    let Some(group) = group else {
        let _ = child.kill().await;
        return;
    };
    let signal = |s| {
        let _ = rustix::process::kill_process_group(group, s);
    };
    let deadline = Instant::now() + grace;
    if *stop.borrow() != Stop::Now && group_alive(group) {
        signal(rustix::process::Signal::TERM);
        let gone = async {
            let _ = child.wait().await;
            wait_gone(group, deadline).await
        };
        tokio::select! {
            _ = tokio::time::timeout_at(deadline.into(), gone) => {}
            _ = stop.wait_for(|s| *s == Stop::Now) => {}
        }
    }
    if group_alive(group) {
        signal(rustix::process::Signal::KILL);
    }
    let _ = child.wait().await;
    wait_gone(group, Instant::now() + KILL_WAIT).await;
}

/// Polls the process table until the group is empty or `deadline` passes.
async fn wait_gone(group: rustix::process::Pid, deadline: Instant) -> bool {
    let mut pause = Duration::from_millis(5);
    loop {
        if !group_alive(group) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Whether any live (non-zombie) process is in `group`, read from `/proc`: a zombie cannot
/// be signalled, and `kill(-pgid, 0)` would count it.
pub fn group_alive(group: rustix::process::Pid) -> bool {
    group_members(group.as_raw_nonzero().get()).next().is_some()
}

/// The live processes of a process group, from `/proc/*/stat`.
pub fn group_members(group: i32) -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(move |pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
            state != Some("Z") && state != Some("X") && pgrp == Some(group)
        })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn restart_policies() {
        let ok = ExitStatus::from_raw(0);
        let failed = ExitStatus::from_raw(3 << 8);
        assert!(!restarts(Restart::No, failed, 0));
        assert!(restarts(Restart::Always, ok, 7));
        assert!(restarts(Restart::UnlessStopped, ok, 0));
        assert!(!restarts(Restart::OnFailure(None), ok, 0));
        assert!(restarts(Restart::OnFailure(None), failed, 100));
        assert!(restarts(Restart::OnFailure(Some(2)), failed, 1));
        assert!(!restarts(Restart::OnFailure(Some(2)), failed, 2));
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_of(ExitStatus::from_raw(0)), Exit::Success);
        assert_eq!(exit_of(ExitStatus::from_raw(3 << 8)), Exit::App(3));
        // Killed by SIGKILL: 128 + 9, as shells report it.
        assert_eq!(exit_of(ExitStatus::from_raw(9)), Exit::App(137));
    }

    #[test]
    fn own_group_is_seen_in_proc() {
        let me = rustix::process::getpgrp();
        assert!(group_alive(me));
    }
}
