//! The `provision:applied` record (`cloud::drift`) on AWS: put in the create's own tags, and
//! rewritten by one `AddTagsToResource` after `up` changed a resource (or found one without a
//! record, made before records existed). `AddTagsToResource` overwrites a tag with the same
//! key (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AddTagsToResource.html,
//! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_AddTagsToResource.html).
//! A no-op `up` finds the record as it would write it and makes no call.

use super::{Cloud, Placement, desired, sdk_error};
use crate::catalog::CloudService;
use crate::cloud::diff::{Observed, applied_values};
use crate::cloud::drift::{Applied, tag};
use crate::error::Error;
use crate::plan::{CloudPlan, PlannedResource};

/// The record of what `up` applies to this resource. `in_own_group`: the instance is in the
/// parameter group provision made for it (only then is the group recorded, and compared).
pub(super) fn record(
    resource: &PlannedResource,
    cloud: &CloudPlan,
    placement: &Placement,
    in_own_group: bool,
) -> Applied {
    Applied::of(&applied_values(
        &desired(resource, cloud, placement),
        in_own_group,
    ))
}

/// The plan with the record among its tags, for a create (which attaches provision's
/// parameter group where the plan has one).
pub(super) fn with_record(
    resource: &PlannedResource,
    cloud: &CloudPlan,
    placement: &Placement,
) -> CloudPlan {
    let mut out = cloud.clone();
    let applied = record(resource, cloud, placement, cloud.parameter_group.is_some());
    out.tags.push(tag(&applied));
    out
}

/// Says what changed outside provision, before anything is put back.
pub(super) fn say_drift(
    name: &str,
    changes: &[crate::cloud::diff::Change],
    current: &Observed,
    progress: &crate::progress::Progress,
) {
    for drift in crate::cloud::drift::drifts(changes, Applied::read(current).as_ref()) {
        progress.say(name, &drift.putting_back());
    }
}

impl Cloud {
    /// Writes the record of what `up` applied on `live` (what AWS has after `up`), unless it
    /// is there already. Tags AWS will not show yet (a cache that is not `available`) are left
    /// for the next run.
    pub(super) async fn write_applied(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
        placement: &Placement,
        live: &Observed,
    ) -> Result<(), Error> {
        let (Some(_), Some(arn)) = (&live.tags, &live.arn) else {
            return Ok(());
        };
        let own = cloud.parameter_group.as_ref().map(|g| g.name.as_str());
        let in_own_group = own.is_some() && live.parameter_group.as_deref() == own;
        let want = record(resource, cloud, placement, in_own_group);
        if Applied::read(live).as_ref() == Some(&want) {
            return Ok(());
        }
        let (key, value) = tag(&want);
        match cloud.service {
            // Not recorded yet: every difference of a serverless resource is a change, as for
            // a resource made before records existed.
            CloudService::AuroraServerless | CloudService::ElasticacheServerless => {}
            CloudService::Rds => {
                self.rds
                    .add_tags_to_resource()
                    .resource_name(arn)
                    .tags(
                        aws_sdk_rds::types::Tag::builder()
                            .key(key)
                            .value(value)
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk_error(
                        "record what provision applied on RDS instance",
                        &cloud.identifier,
                    ))?;
            }
            CloudService::ElasticacheReplicationGroup | CloudService::ElasticacheCluster => {
                self.elasticache
                    .add_tags_to_resource()
                    .resource_name(arn)
                    .tags(
                        aws_sdk_elasticache::types::Tag::builder()
                            .key(key)
                            .value(value)
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk_error(
                        "record what provision applied on ElastiCache resource",
                        &cloud.identifier,
                    ))?;
            }
        }
        Ok(())
    }
}
