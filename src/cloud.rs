//! The `--cloud` side of the commands: converge AWS to the plan, read its live state, hand
//! out endpoints, destroy what is tagged with the project. The AWS calls themselves are in
//! `backend::aws`.

use std::time::Duration;

use serde::Serialize;

use crate::backend::Deadline;
use crate::backend::aws::{self, Change, Cloud, Orphan};
use crate::error::Error;
use crate::links::Endpoint;
use crate::plan::{CloudPlan, Plan, PlannedResource};
use crate::progress::Progress;

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
pub async fn up(
    cloud: &Cloud,
    plan: &Plan,
    progress: &Progress,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Deadline::after(timeout);
    let results = futures_util::future::join_all(
        plan.resources
            .iter()
            .filter_map(|r| Some((r, cloud_of(r)?)))
            .map(|(r, c)| async move {
                let result = cloud.converge(r, c, progress, deadline).await;
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
            }),
    )
    .await;
    let ok = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failures: Vec<(String, Error)> = results
        .into_iter()
        .filter_map(|(n, r)| r.err().map(|e| (n, e)))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::UpFailed {
            failures,
            ok,
            done: "ready",
        })
    }
}

/// The endpoints of the named resources, in order.
pub async fn endpoints(cloud: &Cloud, plan: &Plan, names: &[&str]) -> Result<Vec<Endpoint>, Error> {
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
    pub action: &'static str,
    pub status: Option<String>,
    pub endpoint: Option<String>,
    pub changes: Vec<Change>,
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
        self.resources.iter().any(|r| r.action != "no change")
    }

    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!("\nLive state (AWS, {})\n", self.region);
        let width = self
            .resources
            .iter()
            .map(|r| r.resource.len())
            .chain(self.orphaned.iter().map(|o| o.identifier.len()))
            .max()
            .unwrap_or(0);
        for r in &self.resources {
            let detail = match r.action {
                "create" => format!("new {} {}", r.kind, r.identifier),
                "conflict" => format!(
                    "{} {} exists but belongs to another project or to no one; provision will not touch it",
                    r.kind, r.identifier
                ),
                "no change" => format!(
                    "{} {} is {}",
                    r.kind,
                    r.identifier,
                    r.status.as_deref().unwrap_or("?")
                ),
                _ => r
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} -> {}{}",
                            c.field,
                            c.from,
                            c.to,
                            if c.safe {
                                ""
                            } else {
                                " (not applied by up: needs a migration)"
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let _ = writeln!(out, "  {:width$}  {:9}  {detail}", r.resource, r.action);
        }
        for o in &self.orphaned {
            let _ = writeln!(
                out,
                "  {:width$}  {:9}  {} tagged with this project but not in the manifest (kept; `provision destroy --cloud` deletes it)",
                o.identifier, "orphaned", o.kind
            );
        }
        out
    }
}

/// Reads what AWS has for each planned resource and what it has that the plan does not.
pub async fn live(cloud: &Cloud, plan: &Plan) -> Result<LiveState, Error> {
    // The planned resources and the project's tagged ones are read at the same time.
    let (observed, tagged) = futures_util::future::join(
        futures_util::future::join_all(
            plan.resources
                .iter()
                .filter_map(|r| Some((r, cloud_of(r)?)))
                .map(|(r, c)| async move { (r, c, cloud.observe(c).await) }),
        ),
        cloud.tagged(&plan.project.name),
    )
    .await;
    let mut resources = Vec::new();
    for (r, c, o) in observed {
        let o = o?;
        let changes = o.as_ref().map(|o| aws::diff(c, o)).unwrap_or_default();
        let foreign = o.as_ref().is_some_and(|o| o.foreign(c).is_some());
        let action = match (&o, changes.iter().any(|c| !c.safe), changes.is_empty()) {
            _ if foreign => "conflict",
            (None, _, _) => "create",
            (Some(_), true, _) => "blocked",
            (Some(_), false, false) => "update",
            (Some(_), false, true) => "no change",
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
        });
    }
    let planned: Vec<&str> = resources.iter().map(|r| r.identifier.as_str()).collect();
    let orphaned = tagged?
        .into_iter()
        .filter(|o| !planned.contains(&o.identifier.as_str()))
        .collect();
    Ok(LiveState {
        region: cloud.region.clone(),
        resources,
        orphaned,
    })
}

/// Deletes every resource tagged with the project (never found by name alone), refusing all
/// of it if any has deletion protection on. Returns one line per resource.
pub async fn destroy(
    cloud: &Cloud,
    project: &str,
    skip_final_snapshot: bool,
    progress: &Progress,
) -> Result<Vec<String>, Error> {
    let found = cloud.tagged(project).await?;
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
    let mut done = Vec::new();
    for f in &found {
        if f.status == "deleting" {
            done.push(format!(
                "{} {} is already being deleted",
                f.kind, f.identifier
            ));
            continue;
        }
        // Memcached keeps nothing to snapshot.
        let snapshot = (!skip_final_snapshot
            && f.service != Some(crate::catalog::CloudService::ElasticacheCluster))
        .then(|| format!("{}-final-{stamp}", f.identifier));
        progress.say(
            &f.resource,
            &format!("deleting {} {}", f.kind, f.identifier),
        );
        cloud.delete(f, snapshot.clone()).await?;
        let secret = cloud.delete_secret(project, &f.resource).await?;
        done.push(format!(
            "deleted {} {}{}{}",
            f.kind,
            f.identifier,
            snapshot
                .map(|s| format!(", final snapshot {s}"))
                .unwrap_or_default(),
            if secret {
                format!(
                    ", secret provision/{project}/{} scheduled for deletion in 7 days",
                    f.resource
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(done)
}
