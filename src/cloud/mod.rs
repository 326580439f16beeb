//! The `--cloud` side of the commands: converge AWS to the plan, read its live state, hand
//! out endpoints, destroy what is tagged with the project. The AWS calls themselves are in
//! `backend::aws`.

pub mod adopt;
pub mod aws;
pub mod cost;
pub mod data;
pub mod diff;
pub mod drift;
pub mod iam_auth;
pub mod iam_policy;
mod iam_serverless;
pub mod restore;
pub mod serverless;
pub mod stage;

use std::time::Duration;

use serde::Serialize;

use crate::deadline::Deadline;
use crate::error::Error;
use crate::links::Endpoint;
use crate::plan::Target;
use crate::plan::{CloudPlan, Plan, PlannedResource};
use crate::progress::Progress;
use crate::session::Session;
use aws::{Change, Cloud, Orphan, Placement};
use diff::{Action, Ownership, diff};

/// Seconds `up --cloud` waits for every database to become available, unless `--timeout`.
const DEFAULT_TIMEOUT: u64 = 2400;

pub async fn up(session: &Session) -> Result<(), Error> {
    let (_, mut plan) = session.plan(Target::Cloud)?;
    let cloud = connect(&plan, session.verbose > 0).await?;
    adopt::refuse_released(&adopt::resolve(&cloud, &mut plan).await?)?;
    let names: Vec<&str> = plan.resources.iter().map(|r| r.name.as_str()).collect();
    let progress = Progress::new(session.quiet, &names);
    progress.note(&format!(
        "provision: project {} on AWS ({}, {} databases)",
        plan.project.name,
        cloud.region,
        names.len()
    ));
    let result = converge_all(
        &cloud,
        &plan,
        &progress,
        Duration::from_secs(session.timeout.unwrap_or(DEFAULT_TIMEOUT)),
    )
    .await;
    if session.verbose > 0 {
        crate::progress::eprintln(&format!("aws: {} calls", cloud.calls()));
    }
    result
}

/// Reads the live state for `plan --cloud`. Without AWS the desired state is still worth
/// showing: it says so on stderr and returns `None`, unless the caller asked for a verdict on
/// changes.
pub async fn live(
    session: &Session,
    plan: &Plan,
    need_verdict: bool,
) -> Result<Option<LiveState>, Error> {
    let live = async {
        let cloud = connect(plan, session.verbose > 0).await?;
        let mut plan = plan.clone();
        adopt::refuse_released(&adopt::resolve(&cloud, &mut plan).await?)?;
        read_live(&cloud, &plan).await
    }
    .await;
    match live {
        Ok(live) => Ok(Some(live)),
        Err(e @ Error::AwsUnavailable { .. }) if !need_verdict => {
            session.note_live_state_unknown(&e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The endpoints of the named databases, in order, with the RDS CA bundle they name written
/// where they say: what `connect` hands a client and `variables` renders.
pub async fn live_endpoints(
    session: &Session,
    plan: &Plan,
    names: &[&str],
) -> Result<Vec<Endpoint>, Error> {
    let cloud = connect(plan, session.verbose > 0).await?;
    let mut plan = plan.clone();
    adopt::resolve(&cloud, &mut plan).await?;
    let endpoints = endpoints(&cloud, &plan, names).await?;
    if endpoints.iter().any(|e| e.ca_file.is_some()) {
        crate::tls::Store::of(&plan.project.name).ensure_rds_bundle()?;
    }
    Ok(endpoints)
}

pub async fn status(session: &Session) -> Result<LiveState, Error> {
    let (_, mut plan) = session.plan(Target::Cloud)?;
    let cloud = connect(&plan, session.verbose > 0).await?;
    adopt::resolve(&cloud, &mut plan).await?;
    read_live(&cloud, &plan).await
}

/// Deletes this project's cloud databases (confirmed); returns whether it went ahead.
pub async fn destroy(
    session: &Session,
    yes: bool,
    skip_final_snapshot: bool,
) -> Result<bool, Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    let project = plan.project.name.clone();
    let stage = plan.stage.stage.clone();
    // A preview's profile keeps no final snapshot.
    let skip_final_snapshot = skip_final_snapshot || !plan.stage.profile.final_snapshot();
    if !yes {
        let on = if stage.is_default() {
            String::new()
        } else {
            format!(" on stage `{stage}`")
        };
        let question = format!(
            "This deletes every AWS database tagged with project `{project}`{on}{}.",
            if skip_final_snapshot {
                ", WITHOUT final snapshots"
            } else {
                " (final snapshots are kept)"
            }
        );
        let what = format!("deleting the cloud databases of {project}");
        if !session.confirm(what, &question, &project, "--yes")? {
            return Ok(false);
        }
    }
    let cloud = connect(&plan, session.verbose > 0).await?;
    let progress = Progress::new(session.quiet, &[]);
    let mut plan = plan;
    adopt::resolve(&cloud, &mut plan).await?;
    let found = cloud.tagged_on(&project, Some(&stage), &[]).await?;
    let mut found: Vec<Orphan> = found.into_iter().filter(|f| f.stage == stage).collect();
    // Adopted caches keep identifiers the search by `{project}-` does not see.
    let clouds: Vec<&CloudPlan> = plan.resources.iter().filter_map(cloud_of).collect();
    for extra in cloud.adopted_caches(&clouds).await? {
        if !found.iter().any(|f| f.identifier == extra.identifier) {
            found.push(extra);
        }
    }
    let done = delete_stage(
        &cloud,
        &project,
        &stage,
        found,
        skip_final_snapshot,
        true,
        &progress,
    )
    .await?;
    if done == 0 {
        progress.note(&format!(
            "nothing on AWS is tagged with project {project} on stage {stage}"
        ));
    }
    Ok(true)
}

fn cloud_of(r: &PlannedResource) -> Option<&CloudPlan> {
    r.cloud.as_ref()
}

/// Connects with the plan's region (the manifest's, else the environment's).
pub async fn connect(plan: &Plan, verbose: bool) -> Result<Cloud, Error> {
    let region = plan
        .resources
        .iter()
        .find_map(|r| r.cloud.as_ref()?.region.clone());
    Cloud::connect(region.as_deref(), verbose).await
}

/// Brings every resource to the manifest's state, in parallel; one failing does not stop the
/// others.
async fn converge_all(
    cloud: &Cloud,
    plan: &Plan,
    progress: &Progress,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Deadline::after(timeout);
    // The network first: no default VPC and no subnets stops here, before anything exists.
    let wanted = wanted_network(plan, &cloud.region);
    let network = cloud.prepare_network(&wanted).await?;
    for warning in &network.warnings {
        progress.note(warning);
    }
    let planned: Vec<(&PlannedResource, &CloudPlan, Placement)> = plan
        .resources
        .iter()
        .filter_map(|r| {
            let c = cloud_of(r)?;
            let placement =
                Placement::of(c, network.security_group.as_deref(), &network.subnet_ids);
            Some((r, c, placement))
        })
        .collect();
    let clouds: Vec<&CloudPlan> = planned.iter().map(|(_, c, _)| *c).collect();
    let prefetched = cloud.prefetch(&plan.project.name, &clouds).await;
    let prefetched = &prefetched;
    let results = futures_util::future::join_all(planned.iter().map(|(r, c, p)| async move {
        let result = cloud
            .converge(r, c, p, prefetched, progress, deadline)
            .await;
        match &result {
            Ok(o) => match (&o.address, o.port) {
                (Some(host), Some(port)) => {
                    progress.say(&r.name, &format!("available at {host}:{port}"));
                }
                _ => progress.say(&r.name, "available (AWS reports no endpoint yet)"),
            },
            Err(_) => progress.say(&r.name, "failed"),
        }
        (r.name.clone(), result)
    }))
    .await;
    crate::error::gather(results, "ready").map(|_| ())
}

/// What the manifest asks of the network, for the whole project.
fn wanted_network(plan: &Plan, region: &str) -> aws::network::Wanted {
    let clouds: Vec<&CloudPlan> = plan.resources.iter().filter_map(cloud_of).collect();
    let first = clouds.first();
    aws::network::Wanted {
        project: plan.project.name.clone(),
        stage: plan.stage.stage.clone(),
        region: region.to_owned(),
        vpc_id: first.and_then(|c| c.vpc_id.clone()),
        subnet_ids: first.map(|c| c.subnet_ids.clone()).unwrap_or_default(),
        allow_from: first.map(|c| c.allow_from.clone()).unwrap_or_default(),
        ports: plan.resources.iter().map(|r| r.template.port).collect(),
        rds: clouds.iter().any(|c| {
            matches!(
                c.service,
                crate::catalog::CloudService::Rds | crate::catalog::CloudService::AuroraServerless
            )
        }),
    }
}

/// The endpoints of the named resources, in order.
async fn endpoints(cloud: &Cloud, plan: &Plan, names: &[&str]) -> Result<Vec<Endpoint>, Error> {
    let mut out = Vec::new();
    for name in names {
        let r = plan.resource(name).ok_or_else(|| Error::NotUp {
            resource: (*name).to_owned(),
            cloud: true,
        })?;
        let c = cloud_of(r).ok_or_else(|| Error::NotUp {
            resource: (*name).to_owned(),
            cloud: true,
        })?;
        out.push(cloud.endpoint(r, c).await?);
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct LiveResource {
    pub resource: String,
    pub identifier: String,
    pub kind: &'static str,
    pub action: Action,
    pub status: Option<String>,
    pub endpoint: Option<String>,
    pub changes: Vec<Change>,
    /// The fields among `changes` that were changed outside provision (see `drift`).
    pub drift: Vec<drift::Drift>,
    /// For a create with `from_snapshot`: the snapshot it would restore from, or why it
    /// cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LiveState {
    pub region: String,
    pub resources: Vec<LiveResource>,
    pub orphaned: Vec<Orphan>,
}

impl LiveState {
    /// Whether `up` would change anything (for `plan --detailed-exitcode`).
    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.action != Action::NoChange)
    }

    /// Whether anything was changed outside provision (for `plan --drift`).
    pub fn has_drift(&self) -> bool {
        self.resources.iter().any(|r| !r.drift.is_empty())
    }
}

/// Reads what AWS has for each planned resource and what it has that the plan does not.
async fn read_live(cloud: &Cloud, plan: &Plan) -> Result<LiveState, Error> {
    // The planned resources and the project's tagged ones are read at the same time.
    // The security group provision owns is part of the desired state where `allow_from` asks
    // for it; reading it creates nothing.
    let owned = if plan
        .resources
        .iter()
        .filter_map(cloud_of)
        .any(|c| !c.allow_from.is_empty())
    {
        cloud
            .owned_security_group(&plan.project.name, &plan.stage.stage)
            .await?
    } else {
        None
    };
    let planned: Vec<(&PlannedResource, &CloudPlan, Placement)> = plan
        .resources
        .iter()
        .filter_map(|r| {
            let c = cloud_of(r)?;
            Some((r, c, Placement::of(c, owned.as_deref(), &[])))
        })
        .collect();
    let clouds: Vec<&CloudPlan> = planned.iter().map(|(_, c, _)| *c).collect();
    let prefetched = cloud.prefetch(&plan.project.name, &clouds).await;
    let prefetched = &prefetched;
    // The planned caches are read by their own describe: the orphan search skips them.
    let known: Vec<String> = clouds.iter().map(|c| c.identifier.clone()).collect();
    let (observed, tagged) = futures_util::future::join(
        futures_util::future::join_all(planned.iter().map(|(r, c, p)| async move {
            let observed = cloud.observe_with(c, prefetched).await;
            // A create seeded from a snapshot: which one, read now (only then).
            let restore = match &observed {
                Ok(None) => cloud.restore_preview(r, c).await,
                _ => None,
            };
            (r, c, p, observed, restore)
        })),
        cloud.tagged_on(&plan.project.name, Some(&plan.stage.stage), &known),
    )
    .await;
    let mut resources = Vec::new();
    for (r, c, placement, o, restore) in observed {
        let o = o?;
        let changes = o
            .as_ref()
            .map(|o| diff(&aws::desired(r, c, placement), o))
            .unwrap_or_default();
        let ownership = o.as_ref().map_or(Ownership::Unknown, |o| {
            o.ownership(&c.project, &c.stage, &c.resource)
        });
        let action = Action::decide(o.is_some(), &ownership, &changes);
        // Another project's resource has no drift of ours.
        let drift = match (&o, &ownership) {
            (Some(o), Ownership::Ours) => drift::drifts(&changes, drift::Applied::read(o).as_ref()),
            _ => Vec::new(),
        };
        resources.push(LiveResource {
            resource: r.name.clone(),
            identifier: c.identifier.clone(),
            kind: aws::kind(c.service),
            action,
            status: o.as_ref().map(|o| o.status.clone()),
            endpoint: o
                .as_ref()
                .and_then(|o| Some(format!("{}:{}", o.address.as_ref()?, o.port?))),
            changes,
            drift,
            restore,
        });
    }
    let planned: Vec<&str> = resources.iter().map(|r| r.identifier.as_str()).collect();
    let orphaned = tagged?
        .into_iter()
        .filter(|o| o.stage == plan.stage.stage && !planned.contains(&o.identifier.as_str()))
        .collect();
    Ok(LiveState {
        region: cloud.region.clone(),
        resources,
        orphaned,
    })
}

/// Deletes `found`, resources whose tags prove they are the project's on `stage` (never
/// found by name alone), refusing all of it if any has deletion protection on; then, with
/// `surroundings`, what provision made around them: the stage's secrets whose database never
/// came to exist, its subnet, security and parameter groups. One failure does not stop the
/// others: each is reported. Prints a line per thing done; returns how many.
pub(crate) async fn delete_stage(
    cloud: &Cloud,
    project: &str,
    stage: &crate::names::Stage,
    found: Vec<Orphan>,
    skip_final_snapshot: bool,
    surroundings: bool,
    progress: &Progress,
) -> Result<usize, Error> {
    let protected: Vec<String> = found
        .iter()
        .filter(|f| f.deletion_protection)
        .map(|f| f.identifier.clone())
        .collect();
    if !protected.is_empty() {
        return Err(Error::DeletionProtected {
            identifiers: protected,
        });
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut done = 0;
    let mut failures = Vec::new();
    for f in &found {
        if crate::cloud::diff::readiness(&f.status) == crate::cloud::diff::Readiness::Deleting {
            progress.note(&format!(
                "{} {} is already being deleted",
                f.kind, f.identifier
            ));
            done += 1;
            continue;
        }
        // Memcached keeps nothing to snapshot.
        let snapshot = (!skip_final_snapshot
            && f.service != Some(crate::catalog::CloudService::ElasticacheCluster))
        .then(|| crate::names::final_snapshot(&f.identifier, stamp));
        progress.say(
            &f.resource,
            &format!("deleting {} {}", f.kind, f.identifier),
        );
        if let Err(e) = cloud.delete(f, snapshot.clone()).await {
            failures.push((f.identifier.clone(), e));
            continue;
        }
        let secret_name = crate::names::stage_secret(project, stage, &f.resource);
        let secret = match cloud.delete_secret(project, stage, &f.resource).await {
            Ok(deleted) => deleted,
            Err(e) => {
                failures.push((secret_name.clone(), e));
                false
            }
        };
        done += 1;
        progress.note(&format!(
            "deleted {} {}{}{}",
            f.kind,
            f.identifier,
            snapshot
                .map(|s| format!(", final snapshot {s}"))
                .unwrap_or_default(),
            if secret {
                format!(", secret {secret_name} scheduled for deletion in 7 days")
            } else {
                String::new()
            }
        ));
    }
    if !surroundings {
        return finish(failures, done);
    }
    // Secrets of databases that never came to exist (a create that failed after the secret
    // was stored).
    let with_database: Vec<String> = found
        .iter()
        .map(|f| crate::names::stage_secret(project, stage, &f.resource))
        .collect();
    match cloud.live_secrets(project, stage).await {
        Ok(names) => {
            for name in names.into_iter().filter(|n| !with_database.contains(n)) {
                match cloud.delete_secret_named(&name).await {
                    Ok(true) => {
                        done += 1;
                        progress.note(&format!(
                            "secret {name} (its database never came to exist) scheduled for deletion in 7 days"
                        ));
                    }
                    Ok(false) => {}
                    Err(e) => failures.push((name, e)),
                }
            }
        }
        Err(e) => failures.push((format!("secrets of {project}"), e)),
    }
    // The subnet groups named after the project, once nothing of it uses them.
    for (what, result) in cloud.delete_network(project, stage).await {
        match result {
            Ok(true) => {
                done += 1;
                progress.note(&format!("deleted {what}"));
            }
            Ok(false) => {}
            Err(e) => failures.push((what, e)),
        }
    }
    finish(failures, done)
}

fn finish(failures: Vec<(String, Error)>, done: usize) -> Result<usize, Error> {
    if failures.is_empty() {
        Ok(done)
    } else {
        Err(Error::UpFailed {
            failures,
            ok: done,
            done: "deleted",
        })
    }
}
