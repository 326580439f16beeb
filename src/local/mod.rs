//! The `--local` side of the commands: bring the databases up on this machine (containers or
//! native servers), show what `up` would do, report their state, hand out their endpoints and
//! take them down. A peer of `cloud`, with the same verbs; the runtimes themselves are in
//! `docker`, `native` and `runtime`.

pub mod data;
pub mod docker;
pub mod engine;
pub mod image;
pub mod native;
pub mod ports;
pub mod reconcile;
pub mod runtime;
pub mod seed;
pub mod snapshot;
pub mod upgrade;
pub mod workflows;

pub use runtime::{
    Live, Ready, Runtime, RuntimeChoice, RuntimeKind, Spec, State, endpoints, specs, up_all,
};

use std::time::Duration;

use serde::Serialize;

use reconcile::{Action, Replace};

use crate::error::Error;
use crate::links::Endpoint;
use crate::plan::{Plan, Target};
use crate::progress::Progress;
use crate::session::Session;

/// Seconds `up` waits for every database to answer, unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT: u64 = 60;

pub async fn up(session: &Session) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let specs = specs(&plan);
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(session.quiet, &names);
    let runtime = Runtime::select(session.runtime, &specs).await?;
    progress.note(&format!(
        "provision: project {} on {} ({} databases)",
        plan.project.name,
        runtime.kind(),
        specs.len()
    ));
    up_all(
        &runtime,
        &specs,
        &progress,
        Duration::from_secs(session.timeout.unwrap_or(DEFAULT_TIMEOUT)),
    )
    .await?;
    Ok(())
}

/// What `up` would do to each resource, from the live state.
#[derive(Debug, Serialize)]
pub struct LiveActions {
    pub runtime: RuntimeKind,
    pub actions: Vec<LiveAction>,
}

#[derive(Debug, Serialize)]
pub struct LiveAction {
    pub resource: String,
    pub action: reconcile::Action,
    pub detail: String,
}

impl LiveActions {
    /// Whether `up` would change anything (for `plan --detailed-exitcode`).
    pub fn has_changes(&self) -> bool {
        self.actions
            .iter()
            .any(|a| a.action != reconcile::Action::NoChange)
    }
}

/// Reads the live state for `plan --local`. When no runtime is available it says so on
/// stderr and returns `None`, unless the caller asked for a verdict on changes: then
/// "unknown" must not read as "none".
pub async fn live(
    session: &Session,
    plan: &Plan,
    need_verdict: bool,
) -> Result<Option<LiveActions>, Error> {
    let specs = specs(plan);
    let runtime = match Runtime::select(session.runtime, &specs).await {
        Ok(r) => r,
        Err(e) if need_verdict => return Err(e),
        Err(e) => {
            session.note_live_state_unknown(&e);
            return Ok(None);
        }
    };
    let mut actions = Vec::new();
    for spec in &specs {
        let live = runtime.inspect(spec).await?;
        // The certificate `up` would use is known only once made: until then, on or off.
        let tls = spec.local.tls.then(|| {
            crate::tls::Store::of(spec.project)
                .server_fingerprint(&spec.resource.name)
                .unwrap_or_default()
        });
        let action = reconcile::decide(
            runtime.kind(),
            &spec.local.image,
            &live,
            spec.local.host_port,
            tls.as_deref(),
        );
        actions.push(LiveAction {
            resource: spec.resource.name.clone(),
            detail: action_detail(&action, runtime.kind(), runtime.address(), spec, &live),
            action,
        });
    }
    Ok(Some(LiveActions {
        runtime: runtime.kind(),
        actions,
    }))
}

/// What `plan --local` says about one resource's action.
fn action_detail(
    action: &Action,
    kind: RuntimeKind,
    address: &str,
    spec: &Spec<'_>,
    live: &Live,
) -> String {
    let data = spec.local.volume.as_deref().map_or_else(
        || "no data to keep".to_owned(),
        |v| format!("data in volume {v} is kept"),
    );
    match action {
        Action::Create => format!(
            "new {}",
            match kind {
                RuntimeKind::Docker => "container",
                RuntimeKind::Native => "server",
            }
        ),
        Action::Replace(why @ Replace::Image { .. }) => {
            format!(
                "{why}; {data} (a major version change needs `provision upgrade {}` first)",
                spec.resource.name
            )
        }
        Action::Replace(why) => format!("{why}; {data}"),
        Action::Start => "stopped".to_owned(),
        Action::NoChange => format!("running on {address}:{}", live.port.unwrap_or_default()),
    }
}

/// The live endpoints of the named databases, in order: what `connect` hands a client and
/// `variables` renders.
pub async fn live_endpoints(
    session: &Session,
    plan: &Plan,
    names: &[&str],
) -> Result<Vec<Endpoint>, Error> {
    let all = specs(plan);
    let mut needed = Vec::with_capacity(names.len());
    for name in names {
        let spec = all
            .iter()
            .find(|s| s.resource.name == *name)
            .ok_or_else(|| Error::NotUp {
                resource: (*name).to_owned(),
                cloud: false,
            })?;
        needed.push(*spec);
    }
    let runtime = Runtime::select(session.runtime, &needed).await?;
    endpoints(&runtime, &needed).await
}

/// One row of `status --local`.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub runtime: RuntimeKind,
    pub state: State,
    pub address: Option<String>,
    /// It runs with TLS from the project's CA.
    pub tls: bool,
    pub ready: bool,
    pub data: Option<String>,
}

pub async fn status(session: &Session) -> Result<Vec<StatusRow>, Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let specs = specs(&plan);
    let runtime = Runtime::select(session.runtime, &specs).await?;
    let rows = futures_util::future::join_all(specs.iter().map(|spec| {
        let runtime = &runtime;
        async move {
            let live = runtime.inspect(spec).await?;
            let ready = match (live.state, live.port) {
                (State::Running, Some(port)) => crate::probe::probe(
                    spec.template.probe,
                    &spec.live_endpoint(runtime.address(), port, &live),
                    Duration::from_secs(2),
                )
                .await
                .is_ok(),
                _ => false,
            };
            Ok::<_, Error>(StatusRow {
                name: spec.resource.name.clone(),
                type_name: format!(
                    "{} {}",
                    spec.template.name,
                    live.version.as_deref().unwrap_or(&spec.resource.version)
                ),
                runtime: runtime.kind(),
                state: live.state,
                address: live.port.map(|p| format!("{}:{p}", runtime.address())),
                tls: live.tls.is_some(),
                ready,
                data: live.data,
            })
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Stops and removes every database; deletes the data only with `volumes` (confirmed).
/// Returns whether it went ahead.
pub async fn down(session: &Session, volumes: bool, yes: bool) -> Result<bool, Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let specs = specs(&plan);
    if volumes && !yes {
        let names: Vec<&str> = plan.resources.iter().map(|r| r.name.as_str()).collect();
        let what = format!(
            "deleting the data of {} ({})",
            plan.project.name,
            names.join(", ")
        );
        let question = format!(
            "This deletes the data of every database of project `{}`.",
            plan.project.name
        );
        if !session.confirm(what, &question, &plan.project.name, "--yes")? {
            return Ok(false);
        }
    }
    let runtime = Runtime::select(session.runtime, &specs).await?;
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(session.quiet, &names);
    let results =
        futures_util::future::join_all(specs.iter().map(|s| runtime.down(s, volumes))).await;
    let results = specs.iter().zip(results).map(|(spec, result)| {
        if let Ok(done) = &result {
            progress.say(&spec.resource.name, done);
        }
        (spec.resource.name.clone(), result)
    });
    let done = crate::error::gather(results, "stopped").map(|_| true);
    if done.is_ok() && volumes && runtime.kind() == RuntimeKind::Docker {
        crate::home::unmark_docker(&plan.project.name);
    }
    done
}
