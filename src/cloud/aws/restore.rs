//! Seeding a stage's first create from a snapshot (`x-provision.cloud.from_snapshot`): finding
//! the snapshot (which one is `cloud::restore`'s decision) and bringing a restored RDS instance
//! to the manifest. The create itself is `rds::restore` / `elasticache::create_group`; the
//! password reset that follows an RDS restore is the durable one of `secrets` (the secret is
//! tagged pending before the restore is asked for, so a run that dies before the reset leaves
//! it for the next run to finish).

use super::{Cloud, Placement, desired, diff, elasticache, rds};
use crate::catalog::CloudService;
use crate::cloud::diff::{Ownership, Readiness};
use crate::cloud::restore::{SnapshotInfo, Source, check, choose};
use crate::deadline::Deadline;
use crate::error::{Error, SnapshotProblem};
use crate::plan::{CloudPlan, PlannedResource, RestoreSource};
use crate::progress::Progress;

impl Cloud {
    /// The snapshot the first create of `cloud` restores from, checked against the manifest;
    /// none without `from_snapshot` (or on the stage it names). Reads only.
    pub(super) async fn snapshot_for(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
    ) -> Result<Option<SnapshotInfo>, Error> {
        let Some(source) = &cloud.from_snapshot else {
            return Ok(None);
        };
        let problem = |problem: SnapshotProblem| Error::Restore {
            resource: resource.name.clone(),
            identifier: cloud.identifier.clone(),
            problem: Box::new(problem),
        };
        let rds = cloud.service == CloudService::Rds;
        let chosen = match source {
            RestoreSource::Snapshot { identifier } => {
                let found = if rds {
                    rds::snapshot_named(&self.rds, identifier).await?
                } else {
                    elasticache::snapshot_named(&self.elasticache, identifier).await?
                };
                let found = found.ok_or_else(|| {
                    problem(SnapshotProblem::NotFound {
                        snapshot: identifier.clone(),
                    })
                })?;
                if found.status != "available" {
                    return Err(problem(SnapshotProblem::NotAvailable {
                        snapshot: found.identifier,
                        status: found.status,
                    }));
                }
                found
            }
            RestoreSource::LatestOf { stage, identifier } => {
                let (observed, snapshots) = if rds {
                    futures_util::future::join(
                        rds::observe(&self.rds, identifier),
                        rds::snapshots_of(&self.rds, identifier),
                    )
                    .await
                } else {
                    futures_util::future::join(
                        elasticache::observe_group(&self.elasticache, identifier),
                        elasticache::snapshots_of(&self.elasticache, identifier),
                    )
                    .await
                };
                let source = match observed? {
                    None => Source::Missing,
                    Some(o) => match o.ownership(&cloud.project, stage, &cloud.resource) {
                        Ownership::Ours => Source::Ours,
                        Ownership::Foreign(owner) => Source::Foreign(owner),
                        // ElastiCache shows tags only of an available cache.
                        Ownership::Unknown => {
                            return Err(problem(SnapshotProblem::NotAvailable {
                                snapshot: format!("the source {identifier}"),
                                status: o.status,
                            }));
                        }
                    },
                };
                choose(&cloud.project, stage, identifier, &source, snapshots?).map_err(problem)?
            }
        };
        check(&chosen, resource, cloud).map_err(problem)?;
        Ok(Some(chosen))
    }

    /// What `plan` says the create of a missing resource with `from_snapshot` does: the
    /// snapshot it would take, or why it cannot.
    pub async fn restore_preview(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
    ) -> Option<String> {
        let source = cloud.from_snapshot.as_ref()?;
        Some(match self.snapshot_for(resource, cloud).await {
            Ok(Some(s)) => format!("restore from snapshot {}", s.describe()),
            Ok(None) => source.describe(),
            Err(e) => format!("{}: {}", source.describe(), e.summary()),
        })
    }

    /// After a restore is `available`: what RestoreDBInstanceFromDBSnapshot could not set
    /// (storage autoscaling's ceiling, say) is changed now, so the next `up` has nothing to do.
    #[allow(
        clippy::too_many_arguments,
        reason = "one resource's plan, placement and live state, and the run's progress and deadline"
    )]
    pub(super) async fn settle_restored(
        &self,
        name: &str,
        resource: &PlannedResource,
        cloud: &CloudPlan,
        placement: &Placement,
        ready: super::Observed,
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<super::Observed, Error> {
        let changes: Vec<_> = diff(&desired(resource, cloud, placement), &ready)
            .into_iter()
            .filter(|c| c.safe)
            .collect();
        if changes.is_empty() || ready.readiness() != Readiness::Available {
            return Ok(ready);
        }
        self.modify(name, cloud, placement, &ready, &changes, progress, deadline)
            .await?;
        self.wait_available(name, cloud, progress, deadline, true)
            .await
    }
}

/// `PROVISION_TEST_CRASH_AT=<step>`: aborts the process at that named step, as a SIGKILL
/// would, so tests can cut a restore at exact points. Unset in normal use. (The local side
/// has its own, `local::data::crash_point`; the cloud does not depend on the local side.)
pub(super) fn crash_point(step: &str) {
    if std::env::var("PROVISION_TEST_CRASH_AT").is_ok_and(|s| s == step) {
        eprintln!("provision: PROVISION_TEST_CRASH_AT={step}: aborting here");
        std::process::abort();
    }
}
