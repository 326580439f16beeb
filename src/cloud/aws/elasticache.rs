//! ElastiCache: replication groups (Redis, Valkey) and cache clusters (Memcached).

use super::Placement;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{AuthTokenUpdateStrategyType, Tag};

use super::{Change, Observed, Orphan, project_tags, sdk_error};
use crate::catalog::CloudService;
use crate::cloud::diff::Field;
use crate::error::Error;
use crate::plan::{CloudPlan, PlannedResource};
use crate::secret::Secret;

pub(super) async fn observe_group(client: &Client, id: &str) -> Result<Option<Observed>, Error> {
    let out = match client.describe_replication_groups().replication_group_id(id).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsError::is_replication_group_not_found_fault) => return Ok(None),
        Err(e) => return Err(sdk_error("describe ElastiCache replication group", id)(e)),
    };
    let Some(group) = out.replication_groups().first() else {
        return Ok(None);
    };
    // Cluster mode off: one node group whose primary endpoint takes writes. Cluster mode on:
    // the configuration endpoint.
    let endpoint = group
        .node_groups()
        .first()
        .and_then(|g| g.primary_endpoint())
        .or_else(|| group.configuration_endpoint());
    let groups = group.node_groups().len().max(1);
    let members = group.member_clusters().len();
    Ok(Some(Observed {
        status: group.status().unwrap_or("unknown").to_owned(),
        address: endpoint.and_then(|e| e.address()).map(str::to_owned),
        port: endpoint
            .and_then(aws_sdk_elasticache::types::Endpoint::port)
            .and_then(|p| u16::try_from(p).ok()),
        engine: group.engine().map(str::to_owned),
        engine_version: None,
        class: group.cache_node_type().map(str::to_owned),
        storage_gb: None,
        replicas: u32::try_from((members / groups).saturating_sub(1)).ok(),
        multi_az: group
            .multi_az()
            .map(|m| *m == aws_sdk_elasticache::types::MultiAzStatus::Enabled),
        backup_retention_days: group
            .snapshot_retention_limit()
            .and_then(|d| u32::try_from(d).ok()),
        arn: group.arn().map(str::to_owned),
        tags: readable_tags(client, group.arn(), group.status()).await?,
        ..Observed::default()
    }))
}

pub(super) async fn observe_cluster(client: &Client, id: &str) -> Result<Option<Observed>, Error> {
    let out = match client.describe_cache_clusters().cache_cluster_id(id).show_cache_node_info(true).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersError::is_cache_cluster_not_found_fault) => return Ok(None),
        Err(e) => return Err(sdk_error("describe ElastiCache cluster", id)(e)),
    };
    let Some(cluster) = out.cache_clusters().first() else {
        return Ok(None);
    };
    let endpoint = cluster
        .configuration_endpoint()
        .or_else(|| cluster.cache_nodes().first().and_then(|n| n.endpoint()));
    Ok(Some(Observed {
        status: cluster
            .cache_cluster_status()
            .unwrap_or("unknown")
            .to_owned(),
        address: endpoint.and_then(|e| e.address()).map(str::to_owned),
        port: endpoint
            .and_then(aws_sdk_elasticache::types::Endpoint::port)
            .and_then(|p| u16::try_from(p).ok()),
        engine: cluster.engine().map(str::to_owned),
        engine_version: cluster.engine_version().map(str::to_owned),
        class: cluster.cache_node_type().map(str::to_owned),
        arn: cluster.arn().map(str::to_owned),
        tags: readable_tags(client, cluster.arn(), cluster.cache_cluster_status()).await?,
        ..Observed::default()
    }))
}

/// The cache subnet group named after the project, created when the manifest lists subnets.
async fn subnet_group(
    client: &Client,
    cloud: &CloudPlan,
    placement: &Placement,
) -> Result<Option<String>, Error> {
    let Some(name) = placement.subnet_group.clone() else {
        return Ok(None);
    };
    let project = cloud.project.as_str();
    if client
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(&name)
        .send()
        .await
        .is_err()
    {
        let mut request = client
            .create_cache_subnet_group()
            .cache_subnet_group_name(&name)
            .cache_subnet_group_description(format!("provision: subnets of project {project}"))
            .set_subnet_ids(Some(placement.subnet_ids.clone()))
            .tags(
                Tag::builder()
                    .key(crate::names::TAG_PROJECT)
                    .value(project)
                    .build(),
            );
        if let Some(stage) = cloud.stage.tag() {
            request = request.tags(
                Tag::builder()
                    .key(crate::names::TAG_STAGE)
                    .value(stage)
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::create_cache_subnet_group::CreateCacheSubnetGroupError::is_cache_subnet_group_already_exists_fault) => {}
            Err(e) => return Err(sdk_error("create cache subnet group", &name)(e)),
        }
    }
    Ok(Some(name))
}

/// The tags of a resource, when AWS will list them: "If the cluster is not in the available
/// state, ListTagsForResource returns an error"
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ListTagsForResource.html).
/// So they are read once it is `available`, and a resource that left that state a moment
/// ago is "not known yet" rather than a failure.
async fn readable_tags(
    client: &Client,
    arn: Option<&str>,
    status: Option<&str>,
) -> Result<Option<Vec<(String, String)>>, Error> {
    let (Some(arn), Some("available")) = (arn, status) else {
        return Ok(None);
    };
    match tags_of(client, arn).await {
        Ok(tags) => Ok(Some(tags)),
        Err(Error::Aws {
            code: Some(code), ..
        }) if code == "InvalidReplicationGroupState" || code == "InvalidCacheClusterState" => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The versions ElastiCache offers for one parameter group family (`valkey8`), or `None`
/// when AWS will not say.
pub(super) async fn offered_versions(
    client: &Client,
    engine: &str,
    family: &str,
) -> Option<Vec<String>> {
    let out = client
        .describe_cache_engine_versions()
        .engine(engine)
        .cache_parameter_group_family(family)
        .send()
        .await
        .ok()?;
    let versions: Vec<String> = out
        .cache_engine_versions()
        .iter()
        .filter_map(|v| v.engine_version().map(str::to_owned))
        .collect();
    (!versions.is_empty()).then_some(versions)
}

pub(super) async fn create_group(
    client: &Client,
    resource: &PlannedResource,
    cloud: &CloudPlan,
    placement: &Placement,
    version: &str,
    token: Option<&Secret>,
    snapshot: Option<&str>,
) -> Result<(), Error> {
    let c = &cloud.config;
    let group = subnet_group(client, cloud, placement).await?;
    let failover = c.multi_az && c.replicas > 0;
    let mut request = client
        .create_replication_group()
        .replication_group_id(&cloud.identifier)
        .replication_group_description(description(&resource.name, &cloud.project, &cloud.stage))
        .engine(&cloud.engine)
        .engine_version(version)
        .cache_node_type(&c.class)
        .replicas_per_node_group(i32::try_from(c.replicas).unwrap_or(0))
        .automatic_failover_enabled(failover)
        .multi_az_enabled(failover)
        .transit_encryption_enabled(cloud.transit_encryption)
        .at_rest_encryption_enabled(cloud.storage_encrypted)
        .set_auth_token(token.map(|t| t.expose().to_owned()))
        .snapshot_retention_limit(i32::try_from(c.backup_retention_days).unwrap_or(7))
        .set_cache_subnet_group_name(group)
        .set_security_group_ids(placement.security_groups())
        // Seeded from a snapshot: its data, with this stage's own AUTH token (a snapshot holds
        // the data, not the token), so the source stage's token never opens it
        // (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html:
        // SnapshotName).
        .set_snapshot_name(snapshot.map(str::to_owned));
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::create_replication_group::CreateReplicationGroupError::is_replication_group_already_exists_fault) => Ok(()),
        Err(e) => Err(sdk_error("create ElastiCache replication group", &cloud.identifier)(e)),
    }
}

pub(super) async fn create_cluster(
    client: &Client,
    cloud: &CloudPlan,
    placement: &Placement,
    version: &str,
) -> Result<(), Error> {
    let group = subnet_group(client, cloud, placement).await?;
    let mut request = client
        .create_cache_cluster()
        .cache_cluster_id(&cloud.identifier)
        .engine(&cloud.engine)
        .engine_version(version)
        .cache_node_type(&cloud.config.class)
        .num_cache_nodes(1)
        .transit_encryption_enabled(cloud.transit_encryption)
        .set_cache_subnet_group_name(group)
        .set_security_group_ids(placement.security_groups());
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::create_cache_cluster::CreateCacheClusterError::is_cache_cluster_already_exists_fault) => Ok(()),
        Err(e) => Err(sdk_error("create ElastiCache cluster", &cloud.identifier)(e)),
    }
}

/// What the seeding of a stage needs to know of one cache snapshot.
fn snapshot_info(s: &aws_sdk_elasticache::types::Snapshot) -> crate::cloud::restore::SnapshotInfo {
    crate::cloud::restore::SnapshotInfo {
        identifier: s.snapshot_name().unwrap_or_default().to_owned(),
        automated: s.snapshot_source() == Some("automated"),
        status: s.snapshot_status().unwrap_or("unknown").to_owned(),
        created: s
            .node_snapshots()
            .iter()
            .filter_map(|n| n.snapshot_create_time())
            .map(aws_smithy_types::DateTime::secs)
            .min(),
        engine: s.engine().map(str::to_owned),
        engine_version: s.engine_version().map(str::to_owned),
        ..crate::cloud::restore::SnapshotInfo::default()
    }
}

/// Every snapshot of a replication group, manual and automated (`SnapshotSource`)
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeSnapshots.html).
pub(super) async fn snapshots_of(
    client: &Client,
    group: &str,
) -> Result<Vec<crate::cloud::restore::SnapshotInfo>, Error> {
    let mut out = Vec::new();
    let mut pages = client
        .describe_snapshots()
        .replication_group_id(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => out.extend(page.snapshots().iter().map(snapshot_info)),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::describe_snapshots::DescribeSnapshotsError::is_snapshot_not_found_fault) => break,
            Err(e) => return Err(sdk_error("list snapshots of ElastiCache replication group", group)(e)),
        }
    }
    Ok(out)
}

pub(super) async fn snapshot_named(
    client: &Client,
    name: &str,
) -> Result<Option<crate::cloud::restore::SnapshotInfo>, Error> {
    match client.describe_snapshots().snapshot_name(name).send().await {
        Ok(out) => Ok(out.snapshots().first().map(snapshot_info)),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::describe_snapshots::DescribeSnapshotsError::is_snapshot_not_found_fault) => Ok(None),
        Err(e) => Err(sdk_error("describe ElastiCache snapshot", name)(e)),
    }
}

/// Adds or removes replicas. A replication group takes one change at a time: the caller
/// waits for `available` before the next
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_IncreaseReplicaCount.html:
/// InvalidReplicationGroupState).
pub(super) async fn change_replicas(
    client: &Client,
    cloud: &CloudPlan,
    current: &Observed,
) -> Result<(), Error> {
    let id = &cloud.identifier;
    let want = cloud.config.replicas;
    let count = i32::try_from(want).unwrap_or(0);
    if want > current.replicas.unwrap_or(0) {
        client
            .increase_replica_count()
            .replication_group_id(id)
            .new_replica_count(count)
            .apply_immediately(true)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error("add replicas to", id))
    } else {
        client
            .decrease_replica_count()
            .replication_group_id(id)
            .new_replica_count(count)
            .apply_immediately(true)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error("remove replicas from", id))
    }
}

/// Whether `modify_group` has anything to do for these changes.
pub(super) fn modifies_group(changes: &[Change]) -> bool {
    changes.iter().any(|c| {
        matches!(
            c.field,
            Field::Class | Field::MultiAz | Field::BackupRetentionDays
        )
    })
}

/// The settings ModifyReplicationGroup changes (class, Multi-AZ, snapshots), in one call.
pub(super) async fn modify_group(
    client: &Client,
    cloud: &CloudPlan,
    changes: &[Change],
) -> Result<(), Error> {
    let c = &cloud.config;
    let has = |f: Field| changes.iter().any(|ch| ch.field == f);
    let id = &cloud.identifier;
    let failover = c.multi_az && c.replicas > 0;
    client
        .modify_replication_group()
        .replication_group_id(id)
        .apply_immediately(true)
        .set_cache_node_type(has(Field::Class).then(|| c.class.clone()))
        .set_multi_az_enabled(has(Field::MultiAz).then_some(failover))
        .set_automatic_failover_enabled(has(Field::MultiAz).then_some(failover))
        .set_snapshot_retention_limit(
            has(Field::BackupRetentionDays)
                .then(|| i32::try_from(c.backup_retention_days).unwrap_or(7)),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("modify ElastiCache replication group", id))
}

/// One step of an AUTH token change: `Rotate` adds the new token (both work), `Set` then
/// makes it the only one; SET is "allowed only after ROTATE"
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html:
/// AuthTokenUpdateStrategy). The group must be `available` for each.
pub(super) async fn token_step(
    client: &Client,
    id: &str,
    token: &Secret,
    strategy: AuthTokenUpdateStrategyType,
) -> Result<(), Error> {
    client
        .modify_replication_group()
        .replication_group_id(id)
        .auth_token(token.expose())
        .auth_token_update_strategy(strategy)
        .apply_immediately(true)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("change the AUTH token of", id))
}

pub(super) async fn tags_of(client: &Client, arn: &str) -> Result<Vec<(String, String)>, Error> {
    let out = client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(sdk_error("list tags of", arn))?;
    Ok(out
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// One candidate found by a describe: what `tagged` needs of it before reading its tags.
struct Candidate {
    arn: String,
    identifier: String,
    status: String,
    kind: &'static str,
    service: CloudService,
    created: Option<String>,
    billed: Option<crate::cloud::cost::Billed>,
}

fn rfc3339(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// A replication group's description: `provision: {resource} of project {project}`, and on a
/// stage other than the default ` on stage {stage}`. Not proof of anything (tags are), but it
/// lets one stage's orphan search pass over another stage's groups without a
/// `ListTagsForResource` each, which AWS answers one resource at a time
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ListTagsForResource.html).
fn description(resource: &str, project: &str, stage: &crate::names::Stage) -> String {
    match stage.tag() {
        None => format!("provision: {resource} of project {project}"),
        Some(s) => format!("provision: {resource} of project {project} on stage {s}"),
    }
}

/// Whether a group's description says it is provision's for `project` on a stage other than
/// `stage`: only then is it passed over unread. Anything else (another wording, a description
/// from before stages, a description naming this stage) has its tags read.
fn describes_another_stage(text: &str, project: &str, stage: &crate::names::Stage) -> bool {
    let Some(rest) = text.strip_prefix("provision: ") else {
        return false;
    };
    let Some((_, tail)) = rest.rsplit_once(&format!(" of project {project} on stage ")) else {
        return false;
    };
    crate::names::Stage::named(tail).is_some_and(|s| s.name() == tail && s != *stage)
}

/// The project's caches, proven by their tags. `only`: a search for one stage's, which passes
/// over groups whose description names another stage; `known`: identifiers the caller has
/// read already (skipped).
#[allow(
    clippy::too_many_lines,
    reason = "one pass over groups then clusters, each with its own tag read"
)]
pub(super) async fn tagged(
    client: &Client,
    project: &str,
    only: Option<&crate::names::Stage>,
    known: &[String],
) -> Result<Vec<Orphan>, Error> {
    // Identifiers are `{project}-{resource}`: only those can be ours, so only their tags are
    // read (never every group in the region).
    let prefix = crate::names::identifier_prefix(project);
    let mut candidates = Vec::new();
    let mut groups = client.describe_replication_groups().into_paginator().send();
    while let Some(page) = groups.next().await {
        let page = page.map_err(sdk_error("list ElastiCache replication groups", project))?;
        for g in page.replication_groups() {
            let Some(arn) = g.arn() else { continue };
            if !g
                .replication_group_id()
                .is_some_and(|id| id.starts_with(&prefix) && !known.iter().any(|k| k == id))
            {
                continue;
            }
            if let (Some(stage), Some(text)) = (only, g.description())
                && describes_another_stage(text, project, stage)
            {
                continue;
            }
            candidates.push(Candidate {
                arn: arn.to_owned(),
                identifier: g.replication_group_id().unwrap_or_default().to_owned(),
                status: g.status().unwrap_or_default().to_owned(),
                kind: "ElastiCache replication group",
                service: CloudService::ElasticacheReplicationGroup,
                created: rfc3339(g.replication_group_create_time()),
                // Every member cluster is a billed node: the primary and each replica.
                billed: g.cache_node_type().map(|class| crate::cloud::cost::Billed {
                    service: CloudService::ElasticacheReplicationGroup,
                    class: class.to_owned(),
                    nodes: u32::try_from(g.member_clusters().len().max(1)).unwrap_or(u32::MAX),
                    storage_gb: None,
                    storage_type: None,
                    multi_az: g
                        .multi_az()
                        .is_some_and(|m| *m == aws_sdk_elasticache::types::MultiAzStatus::Enabled),
                }),
            });
        }
    }
    let mut clusters = client.describe_cache_clusters().into_paginator().send();
    while let Some(page) = clusters.next().await {
        let page = page.map_err(sdk_error("list ElastiCache clusters", project))?;
        // Members of replication groups are listed with their group, not here.
        for c in page
            .cache_clusters()
            .iter()
            .filter(|c| c.replication_group_id().is_none())
        {
            let Some(arn) = c.arn() else { continue };
            if !c
                .cache_cluster_id()
                .is_some_and(|id| id.starts_with(&prefix) && !known.iter().any(|k| k == id))
            {
                continue;
            }
            candidates.push(Candidate {
                arn: arn.to_owned(),
                identifier: c.cache_cluster_id().unwrap_or_default().to_owned(),
                status: c.cache_cluster_status().unwrap_or_default().to_owned(),
                kind: "ElastiCache cluster",
                service: CloudService::ElasticacheCluster,
                created: rfc3339(c.cache_cluster_create_time()),
                billed: c.cache_node_type().map(|class| crate::cloud::cost::Billed {
                    service: CloudService::ElasticacheCluster,
                    class: class.to_owned(),
                    nodes: c
                        .num_cache_nodes()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(1)
                        .max(1),
                    storage_gb: None,
                    storage_type: None,
                    multi_az: false,
                }),
            });
        }
    }
    // ElastiCache lists tags one resource at a time, and only of available ones: ask for all
    // of them at once; one in a transitional state (anyone's) is passed over.
    let tags = futures_util::future::join_all(
        candidates
            .iter()
            .map(|c| readable_tags(client, Some(&c.arn), Some(&c.status))),
    )
    .await;
    let mut found = Vec::new();
    for (c, tags) in candidates.into_iter().zip(tags) {
        let Some(tags) = tags? else {
            continue;
        };
        let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if tag(crate::names::TAG_PROJECT).as_deref() == Some(project) {
            found.push(Orphan {
                identifier: c.identifier,
                kind: c.kind,
                resource: tag(crate::names::TAG_RESOURCE).unwrap_or_default(),
                stage: crate::names::Stage::of_tag(tag(crate::names::TAG_STAGE).as_deref()),
                expires_at: tag(crate::names::TAG_EXPIRES_AT),
                created: c.created,
                status: c.status,
                deletion_protection: false,
                service: Some(c.service),
                billed: c.billed,
            });
        }
    }
    Ok(found)
}

pub(super) async fn delete_group(
    client: &Client,
    id: &str,
    final_snapshot: Option<String>,
) -> Result<(), Error> {
    client
        .delete_replication_group()
        .replication_group_id(id)
        .retain_primary_cluster(false)
        .set_final_snapshot_identifier(final_snapshot)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("delete ElastiCache replication group", id))
}

pub(super) async fn delete_cluster(client: &Client, id: &str) -> Result<(), Error> {
    client
        .delete_cache_cluster()
        .cache_cluster_id(id)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("delete ElastiCache cluster", id))
}

/// Deletes the project's cache subnet group if it exists and is tagged with the project.
pub(super) async fn delete_subnet_group(
    client: &Client,
    name: &str,
    project: &str,
    stage: &crate::names::Stage,
) -> Result<bool, Error> {
    let Ok(found) = client
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
    else {
        return Ok(false);
    };
    let Some(arn) = found.cache_subnet_groups().first().and_then(|g| g.arn()) else {
        return Ok(false);
    };
    let Ok(tags) = tags_of(client, arn).await else {
        return Ok(false);
    };
    let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if !crate::names::owned(tag, project, stage) {
        return Ok(false);
    }
    client
        .delete_cache_subnet_group()
        .cache_subnet_group_name(name)
        .send()
        .await
        .map(|_| true)
        .map_err(sdk_error("delete cache subnet group", name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Stage;

    #[test]
    fn only_a_description_naming_another_stage_passes_a_group_over() {
        let (main, pr) = (Stage::default(), Stage::named("pr-1").unwrap());
        let staged = description("kv", "shop", &pr);
        assert_eq!(staged, "provision: kv of project shop on stage pr-1");
        assert!(describes_another_stage(&staged, "shop", &main));
        assert!(!describes_another_stage(&staged, "shop", &pr));
        // Another project, the default stage's wording, or a wording provision never writes:
        // the tags are read.
        assert!(!describes_another_stage(&staged, "shop-api", &main));
        assert!(!describes_another_stage(
            &description("kv", "shop", &main),
            "shop",
            &pr
        ));
        assert!(!describes_another_stage(
            "my cache on stage pr-1",
            "shop",
            &main
        ));
        assert!(!describes_another_stage(
            "provision: kv of project shop on stage PR 1",
            "shop",
            &main
        ));
    }
}
