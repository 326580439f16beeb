//! The `--local` side of the commands: bring the databases up on this machine (containers or
//! native servers), show what `up` would do, report their state, hand out their endpoints and
//! take them down. A peer of `cloud`, with the same verbs; the runtimes themselves are in
//! `backend`.

use std::time::Duration;

use serde::Serialize;

use crate::backend::{self, Runtime, RuntimeKind, Spec, State, reconcile};
use crate::error::Error;
use crate::links::{self, Var};
use crate::plan::{Plan, Target};
use crate::progress::Progress;
use crate::render;
use crate::session::{self, Session};

/// Seconds `up` waits for every database to answer, unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT: u64 = 60;

pub async fn up(session: &Session) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let specs = backend::specs(&plan, &session.catalog);
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(session.quiet, &names);
    let runtime = Runtime::select(session.runtime, &specs).await?;
    progress.note(&format!(
        "provision: project {} on {} ({} databases)",
        plan.project.name,
        runtime.kind(),
        specs.len()
    ));
    backend::up_all(
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
    let specs = backend::specs(plan, &session.catalog);
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
        let action = reconcile::decide(runtime.kind(), spec, &live, spec.local.host_port);
        actions.push(LiveAction {
            resource: spec.resource.name.clone(),
            detail: render::local_action_detail(&action, runtime.kind(), spec, &live),
            action,
        });
    }
    Ok(Some(LiveActions {
        runtime: runtime.kind(),
        actions,
    }))
}

/// The live endpoints of the databases `wanted` names, as link variables under their prefixes.
pub async fn variables(
    session: &Session,
    plan: &Plan,
    wanted: &[(String, String)],
) -> Result<Vec<Var>, Error> {
    let needed: Vec<Spec<'_>> = backend::specs(plan, &session.catalog)
        .into_iter()
        .filter(|s| wanted.iter().any(|(r, _)| *r == s.resource.name))
        .collect();
    let runtime = Runtime::select(session.runtime, &needed).await?;
    let endpoints = backend::endpoints(&runtime, &needed).await?;
    let mut vars = Vec::new();
    for (resource, prefix) in wanted {
        if let Some((spec, endpoint)) = needed
            .iter()
            .zip(&endpoints)
            .find(|(s, _)| s.resource.name == *resource)
        {
            vars.extend(links::render(prefix, spec.template, endpoint));
        }
    }
    Ok(vars)
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
    pub ready: bool,
    pub data: Option<String>,
}

pub async fn status(session: &Session, as_json: bool) -> Result<(), Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let specs = backend::specs(&plan, &session.catalog);
    let runtime = Runtime::select(session.runtime, &specs).await?;
    let rows = futures_util::future::join_all(specs.iter().map(|spec| {
        let runtime = &runtime;
        async move {
            let live = runtime.inspect(spec).await?;
            let ready = match (live.state, live.port) {
                (State::Running, Some(port)) => crate::probe::probe(
                    spec.template.probe,
                    &spec.endpoint(port, live.password.clone()),
                    Duration::from_secs(2),
                )
                .await
                .is_ok(),
                _ => false,
            };
            Ok::<_, Error>(StatusRow {
                name: spec.resource.name.clone(),
                type_name: format!("{} {}", spec.template.name, spec.resource.version),
                runtime: runtime.kind(),
                state: live.state,
                address: live.port.map(|p| format!("127.0.0.1:{p}")),
                ready,
                data: live.data,
            })
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    session::print(&if as_json {
        session::json(&rows)?
    } else {
        render::local_status(&rows)
    })
}

/// Stops and removes every database; deletes the data only with `volumes` (confirmed).
/// Returns whether it went ahead.
pub async fn down(session: &Session, volumes: bool, yes: bool) -> Result<bool, Error> {
    let (_, plan) = session.plan(Target::Local)?;
    let specs = backend::specs(&plan, &session.catalog);
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
    let mut failures = Vec::new();
    let mut ok = 0;
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(done) => {
                progress.say(&spec.resource.name, &done);
                ok += 1;
            }
            Err(e) => failures.push((spec.resource.name.clone(), e)),
        }
    }
    if failures.is_empty() {
        Ok(true)
    } else {
        Err(Error::UpFailed {
            failures,
            ok,
            done: "stopped",
        })
    }
}
