//! Aurora Serverless v2: a DB cluster with a `ServerlessV2ScalingConfiguration` and one
//! `db.serverless` writer instance in it
//! (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.create.html).
//! The cluster is what the manifest's database is: its identifier, tags, endpoint, password
//! and settings; the writer is found by its name (`names::aurora_writer`).

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{ServerlessV2ScalingConfiguration, Tag};

use super::{Change, Observed, Orphan, Placement, project_tags, sdk_error};
use crate::catalog::CloudService;
use crate::cloud::diff::Field;
use crate::cloud::serverless::Live;
use crate::error::Error;
use crate::model::serverless::{Acu, Serverless};
use crate::plan::{CloudPlan, PlannedResource};
use crate::secret::Secret;

fn tags_of(list: &[Tag]) -> Vec<(String, String)> {
    list.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The cluster as `Observed`; its status is the writer's once the cluster is available (the
/// database answers only when both are).
fn observed(c: &aws_sdk_rds::types::DbCluster, writer: Option<&str>) -> Observed {
    let scaling = c.serverless_v2_scaling_configuration();
    let cluster_status = c.status().unwrap_or("unknown").to_owned();
    let status = match (cluster_status.as_str(), writer) {
        ("available", Some(w)) => w.to_owned(),
        _ => cluster_status,
    };
    Observed {
        status,
        address: c.endpoint().map(str::to_owned),
        port: c.port().and_then(|p| u16::try_from(p).ok()),
        engine: c.engine().map(str::to_owned),
        engine_version: c.engine_version().map(str::to_owned),
        deletion_protection: c.deletion_protection(),
        backup_retention_days: c
            .backup_retention_period()
            .and_then(|d| u32::try_from(d).ok()),
        iam_auth: c.iam_database_authentication_enabled(),
        arn: c.db_cluster_arn().map(str::to_owned),
        tags: Some(tags_of(c.tag_list())),
        serverless: Some(Live {
            min_acu: scaling
                .and_then(aws_sdk_rds::types::ServerlessV2ScalingConfigurationInfo::min_capacity)
                .and_then(Acu::from_f64),
            max_acu: scaling
                .and_then(aws_sdk_rds::types::ServerlessV2ScalingConfigurationInfo::max_capacity)
                .and_then(Acu::from_f64),
            auto_pause_seconds: scaling
                .and_then(aws_sdk_rds::types::ServerlessV2ScalingConfigurationInfo::seconds_until_auto_pause)
                .and_then(|s| u32::try_from(s).ok())
                // AWS shows the pause only at a minimum of 0 ACUs.
                .filter(|_| scaling.and_then(aws_sdk_rds::types::ServerlessV2ScalingConfigurationInfo::min_capacity) == Some(0.0)),
            writer: writer.is_some(),
            major_version: None,
        }),
        ..Observed::default()
    }
}

/// The writer's status, or none when it does not exist.
async fn writer_status(client: &Client, id: &str) -> Result<Option<String>, Error> {
    match client.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(out) => Ok(out
            .db_instances()
            .first()
            .map(|d| d.db_instance_status().unwrap_or("unknown").to_owned())),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError::is_db_instance_not_found_fault) => Ok(None),
        Err(e) => Err(sdk_error("describe Aurora writer instance", id)(e)),
    }
}

pub(super) async fn observe(client: &Client, id: &str) -> Result<Option<Observed>, Error> {
    let cluster = match client.describe_db_clusters().db_cluster_identifier(id).send().await {
        Ok(out) => out.db_clusters().first().cloned(),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError::is_db_cluster_not_found_fault) => None,
        Err(e) => return Err(sdk_error("describe Aurora cluster", id)(e)),
    };
    let Some(cluster) = cluster else {
        return Ok(None);
    };
    let writer = writer_status(client, &crate::names::aurora_writer(id)).await?;
    Ok(Some(observed(&cluster, writer.as_deref())))
}

fn scaling(cloud: &CloudPlan) -> Option<ServerlessV2ScalingConfiguration> {
    let Some(Serverless::Aurora(a)) = &cloud.config.serverless else {
        return None;
    };
    Some(
        ServerlessV2ScalingConfiguration::builder()
            .min_capacity(a.min_acu.as_f64())
            .max_capacity(a.max_acu.as_f64())
            .set_seconds_until_auto_pause(
                a.auto_pause_seconds
                    .map(|s| i32::try_from(s).unwrap_or(86400)),
            )
            .build(),
    )
}

/// The cluster parameter group that refuses plaintext (`CloudPlan.parameter_group`), made
/// when missing and set to its parameters; a group this call creates goes to `made`.
async fn parameter_group(
    client: &Client,
    cloud: &CloudPlan,
    made: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    let Some(group) = &cloud.parameter_group else {
        return Ok(None);
    };
    let name = group.name.as_str();
    let exists = client
        .describe_db_cluster_parameter_groups()
        .db_cluster_parameter_group_name(name)
        .send()
        .await
        .is_ok_and(|out| !out.db_cluster_parameter_groups().is_empty());
    if !exists {
        let request = client
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .db_parameter_group_family(&group.family)
            .description(format!(
                "provision: {} refuses connections without TLS (project {})",
                group.family, cloud.project
            ))
            .set_tags(Some(super::rds::group_tags(
                cloud,
                "cluster-parameter-group",
            )));
        match request.send().await {
            Ok(_) => made.push(name.to_owned()),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_cluster_parameter_group::CreateDBClusterParameterGroupError::is_db_parameter_group_already_exists_fault) => {}
            Err(e) => return Err(sdk_error("create DB cluster parameter group", name)(e)),
        }
    }
    let mut request = client
        .modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(name);
    for (key, value) in &group.parameters {
        request = request.parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name(key)
                .parameter_value(value)
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(sdk_error("set the TLS parameters of", name))?;
    Ok(Some(name.to_owned()))
}

/// Creates the cluster (encrypted, private, in the project's subnet group and security
/// groups, TLS enforced, backups, deletion protection, tags, the stored password) and its
/// `db.serverless` writer. A cluster that exists already (an interrupted create) only gets
/// its writer.
pub(super) async fn create(
    client: &Client,
    resource: &PlannedResource,
    cloud: &CloudPlan,
    placement: &Placement,
    password: Option<&Secret>,
    made: &mut Vec<String>,
) -> Result<(), Error> {
    let c = &cloud.config;
    let group = super::rds::subnet_group(client, cloud, placement, made).await?;
    let parameters = parameter_group(client, cloud, made).await?;
    let mut request = client
        .create_db_cluster()
        .db_cluster_identifier(&cloud.identifier)
        .engine(&cloud.engine)
        .engine_version(&cloud.engine_version)
        // As on RDS instances: no paid Extended Support unless the manifest opts in
        // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html:
        // EngineLifecycleSupport).
        .engine_lifecycle_support(if c.extended_support {
            "open-source-rds-extended-support"
        } else {
            "open-source-rds-extended-support-disabled"
        })
        .set_serverless_v2_scaling_configuration(scaling(cloud))
        .storage_encrypted(cloud.storage_encrypted)
        .backup_retention_period(i32::try_from(c.backup_retention_days).unwrap_or(7))
        .copy_tags_to_snapshot(true)
        .deletion_protection(c.deletion_protection)
        .set_master_username(resource.username.clone())
        .set_master_user_password(password.map(|p| p.expose().to_owned()))
        .set_database_name(resource.database.clone())
        .set_db_subnet_group_name(group)
        .set_db_cluster_parameter_group_name(parameters)
        .set_vpc_security_group_ids(placement.security_groups());
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_cluster::CreateDBClusterError::is_db_cluster_already_exists_fault) => {}
        Err(e) => return Err(sdk_error("create Aurora cluster", &cloud.identifier)(e)),
    }
    create_writer(client, cloud).await
}

/// The cluster's one writer: `db.serverless`, private, tagged like the cluster.
pub(super) async fn create_writer(client: &Client, cloud: &CloudPlan) -> Result<(), Error> {
    let id = crate::names::aurora_writer(&cloud.identifier);
    let mut request = client
        .create_db_instance()
        .db_instance_identifier(&id)
        .db_cluster_identifier(&cloud.identifier)
        .engine(&cloud.engine)
        .db_instance_class("db.serverless")
        .publicly_accessible(cloud.publicly_accessible)
        .auto_minor_version_upgrade(true);
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_instance::CreateDBInstanceError::is_db_instance_already_exists_fault) => Ok(()),
        Err(e) => Err(sdk_error("create Aurora writer instance", &id)(e)),
    }
}

pub(super) async fn modify(
    client: &Client,
    cloud: &CloudPlan,
    changes: &[Change],
) -> Result<(), Error> {
    let c = &cloud.config;
    let has = |f: Field| changes.iter().any(|ch| ch.field == f);
    client
        .modify_db_cluster()
        .db_cluster_identifier(&cloud.identifier)
        .apply_immediately(true)
        .set_serverless_v2_scaling_configuration(
            has(Field::Capacity).then(|| scaling(cloud)).flatten(),
        )
        .set_deletion_protection(has(Field::DeletionProtection).then_some(c.deletion_protection))
        .set_backup_retention_period(
            has(Field::BackupRetentionDays)
                .then(|| i32::try_from(c.backup_retention_days).unwrap_or(7)),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("modify Aurora cluster", &cloud.identifier))
}

pub(super) async fn reset_password(
    client: &Client,
    id: &str,
    password: &Secret,
) -> Result<(), Error> {
    client
        .modify_db_cluster()
        .db_cluster_identifier(id)
        .master_user_password(password.expose())
        .apply_immediately(true)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("reset the password of Aurora cluster", id))
}

pub(super) async fn tagged(client: &Client, project: &str) -> Result<Vec<Orphan>, Error> {
    let mut found = Vec::new();
    let mut pages = client.describe_db_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error("list Aurora clusters", project))?;
        for c in page.db_clusters() {
            let tag = |key: &str| {
                c.tag_list()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
                    .map(str::to_owned)
            };
            if tag(crate::names::TAG_PROJECT).as_deref() == Some(project) {
                found.push(Orphan {
                    identifier: c.db_cluster_identifier().unwrap_or_default().to_owned(),
                    kind: super::kind(CloudService::AuroraServerless),
                    resource: tag(crate::names::TAG_RESOURCE).unwrap_or_default(),
                    stage: crate::names::Stage::of_tag(tag(crate::names::TAG_STAGE).as_deref()),
                    expires_at: tag(crate::names::TAG_EXPIRES_AT),
                    created: c
                        .cluster_create_time()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                    status: c.status().unwrap_or_default().to_owned(),
                    deletion_protection: c.deletion_protection().unwrap_or(false),
                    service: Some(CloudService::AuroraServerless),
                    // Billed per ACU-hour: no class to price.
                    billed: None,
                });
            }
        }
    }
    Ok(found)
}

/// Deletes the writer, then the cluster (with its final snapshot unless told otherwise): AWS
/// deletes a cluster only once its instances are being deleted
/// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_DeleteCluster.html).
pub(super) async fn delete(
    client: &Client,
    id: &str,
    final_snapshot: Option<String>,
) -> Result<(), Error> {
    let writer = crate::names::aurora_writer(id);
    match client
        .delete_db_instance()
        .db_instance_identifier(&writer)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::delete_db_instance::DeleteDBInstanceError::is_db_instance_not_found_fault) => {}
        Err(e) => return Err(sdk_error("delete Aurora writer instance", &writer)(e)),
    }
    client
        .delete_db_cluster()
        .db_cluster_identifier(id)
        .skip_final_snapshot(final_snapshot.is_none())
        .set_final_db_snapshot_identifier(final_snapshot)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("delete Aurora cluster", id))
}

/// Deletes the project's cluster parameter groups (`*-tls`, tagged with the project and
/// stage). AWS refuses while a cluster still uses one: reported, and `destroy` run again
/// finishes.
pub(super) async fn delete_parameter_groups(
    client: &Client,
    project: &str,
    stage: &crate::names::Stage,
) -> Vec<(String, Result<bool, Error>)> {
    let mut names = Vec::new();
    let mut pages = client
        .describe_db_cluster_parameter_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Ok(page) = page else { break };
        for g in page.db_cluster_parameter_groups() {
            if let (Some(name), Some(arn)) = (
                g.db_cluster_parameter_group_name(),
                g.db_cluster_parameter_group_arn(),
            ) && crate::names::is_parameter_group(project, name)
            {
                names.push((name.to_owned(), arn.to_owned()));
            }
        }
    }
    let mut out = Vec::new();
    for (name, arn) in names {
        let ours = super::rds::tagged_for(client, &arn, project, stage).await;
        if !ours {
            continue;
        }
        let deleted = client
            .delete_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(&name)
            .send()
            .await
            .map(|_| true)
            .map_err(sdk_error("delete DB cluster parameter group", &name));
        out.push((format!("DB cluster parameter group {name}"), deleted));
    }
    out
}
