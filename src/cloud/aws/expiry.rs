//! Moving a stage's `provision:expires-at` on a resource that already exists: `up --ttl 3d`
//! on every push keeps an open preview alive (the rule is `cloud::stage::expiry_update`).
//! `AddTagsToResource` overwrites a tag with the same key
//! (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AddTagsToResource.html,
//! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_AddTagsToResource.html).

use super::{Cloud, kind, sdk_error};
use crate::catalog::CloudService;
use crate::cloud::diff::Observed;
use crate::error::Error;
use crate::names::TAG_EXPIRES_AT;
use crate::plan::CloudPlan;
use crate::progress::Progress;

impl Cloud {
    /// Writes the plan's expiry on `current` when [`crate::cloud::stage::expiry_update`] says
    /// so. Tags AWS will not show yet (a cache that is not `available`) are left for the next
    /// run: such a resource was just created with the tag, or is being changed.
    pub(super) async fn refresh_expiry(
        &self,
        name: &str,
        cloud: &CloudPlan,
        current: &Observed,
        progress: &Progress,
    ) -> Result<(), Error> {
        let (Some(tags), Some(arn)) = (&current.tags, &current.arn) else {
            return Ok(());
        };
        let have = tags
            .iter()
            .find(|(k, _)| k == TAG_EXPIRES_AT)
            .map(|(_, v)| v.as_str());
        let Some(at) = crate::cloud::stage::expiry_update(
            have,
            cloud.expires_at.as_deref(),
            cloud.expiry_rule == crate::model::stage::ExpiryRule::AsGiven,
        ) else {
            return Ok(());
        };
        match cloud.service {
            CloudService::Rds | CloudService::AuroraServerless => {
                let tag = aws_sdk_rds::types::Tag::builder()
                    .key(TAG_EXPIRES_AT)
                    .value(&at)
                    .build();
                self.rds
                    .add_tags_to_resource()
                    .resource_name(arn)
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk_error(
                        "tag the expiry of RDS instance",
                        &cloud.identifier,
                    ))?;
            }
            CloudService::ElasticacheReplicationGroup
            | CloudService::ElasticacheCluster
            | CloudService::ElasticacheServerless => {
                let tag = aws_sdk_elasticache::types::Tag::builder()
                    .key(TAG_EXPIRES_AT)
                    .value(&at)
                    .build();
                self.elasticache
                    .add_tags_to_resource()
                    .resource_name(arn)
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk_error(
                        "tag the expiry of ElastiCache resource",
                        &cloud.identifier,
                    ))?;
            }
        }
        progress.say(
            name,
            &format!(
                "{} {} now expires at {at} (was {})",
                kind(cloud.service),
                cloud.identifier,
                have.unwrap_or("never")
            ),
        );
        Ok(())
    }
}
