//! RDS DB instances.

use super::Placement;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use std::collections::HashMap;

use aws_sdk_rds::types::Filter;

use super::{Change, Observed, Orphan, project_tags, sdk_error};
use crate::catalog::CloudService;
use crate::cloud::diff::Field;
use crate::error::Error;
use crate::plan::{CloudPlan, PlannedResource};
use crate::secret::Secret;

fn observed(db: &aws_sdk_rds::types::DbInstance) -> Observed {
    Observed {
        status: db.db_instance_status().unwrap_or("unknown").to_owned(),
        address: db.endpoint().and_then(|e| e.address()).map(str::to_owned),
        port: db
            .endpoint()
            .and_then(aws_sdk_rds::types::Endpoint::port)
            .and_then(|p| u16::try_from(p).ok()),
        engine: db.engine().map(str::to_owned),
        engine_version: db.engine_version().map(str::to_owned),
        class: db.db_instance_class().map(str::to_owned),
        storage_gb: db.allocated_storage().and_then(|s| u32::try_from(s).ok()),
        max_storage_gb: db
            .max_allocated_storage()
            .and_then(|s| u32::try_from(s).ok()),
        replicas: None,
        multi_az: db.multi_az(),
        deletion_protection: db.deletion_protection(),
        backup_retention_days: db
            .backup_retention_period()
            .and_then(|d| u32::try_from(d).ok()),
        iam_auth: db.iam_database_authentication_enabled(),
        publicly_accessible: db.publicly_accessible(),
        parameter_group: db
            .db_parameter_groups()
            .first()
            .and_then(|g| g.db_parameter_group_name())
            .map(str::to_owned),
        security_group_ids: Some(
            db.vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect(),
        ),
        arn: db.db_instance_arn().map(str::to_owned),
        serverless: None,
        // DescribeDBInstances returns the tags: no second call.
        tags: Some(
            db.tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        ),
    }
}

/// Every named instance that exists, in one paginated DescribeDBInstances (the
/// `db-instance-id` filter takes a list): a no-op `up` of many databases reads them all at once.
pub(super) async fn observe_many(
    client: &Client,
    ids: &[String],
) -> Result<HashMap<String, Observed>, Error> {
    let mut found = HashMap::new();
    // AWS takes up to 100 values per filter.
    for chunk in ids.chunks(100) {
        let mut pages = client
            .describe_db_instances()
            .filters(
                Filter::builder()
                    .name("db-instance-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error("describe RDS instances", &chunk.join(", ")))?;
            for db in page.db_instances() {
                if let Some(id) = db.db_instance_identifier() {
                    found.insert(id.to_owned(), observed(db));
                }
            }
        }
    }
    Ok(found)
}

/// The versions RDS offers for one parameter group family (`postgres16`), or `None` when AWS
/// will not say (an emulator without the call, a policy without the permission).
pub(super) async fn offered_versions(
    client: &Client,
    engine: &str,
    family: &str,
) -> Option<Vec<String>> {
    let out = client
        .describe_db_engine_versions()
        .engine(engine)
        .filters(
            Filter::builder()
                .name("db-parameter-group-family")
                .values(family)
                .build(),
        )
        .send()
        .await
        .ok()?;
    let versions: Vec<String> = out
        .db_engine_versions()
        .iter()
        .filter(|v| v.status().is_none_or(|s| s == "available"))
        .filter_map(|v| v.engine_version().map(str::to_owned))
        .collect();
    (!versions.is_empty()).then_some(versions)
}

pub(super) async fn observe(client: &Client, id: &str) -> Result<Option<Observed>, Error> {
    match client.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(out) => Ok(out.db_instances().first().map(observed)),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError::is_db_instance_not_found_fault) => Ok(None),
        Err(e) => Err(sdk_error("describe RDS instance", id)(e)),
    }
}

/// The DB subnet group named after the project, created when the manifest lists subnets
/// (then its name goes to `made`).
pub(super) async fn subnet_group(
    client: &Client,
    cloud: &CloudPlan,
    placement: &Placement,
    made: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    let Some(name) = placement.subnet_group.clone() else {
        return Ok(None);
    };
    let project = cloud.project.as_str();
    let exists = client
        .describe_db_subnet_groups()
        .db_subnet_group_name(&name)
        .send()
        .await;
    if exists.is_err() {
        let request = client
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(format!("provision: subnets of project {project}"))
            .set_subnet_ids(Some(placement.subnet_ids.clone()))
            .set_tags(Some(group_tags(cloud, "subnet-group")));
        match request.send().await {
            Ok(_) => made.push(name.clone()),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_subnet_group::CreateDBSubnetGroupError::is_db_subnet_group_already_exists_fault) => {}
            Err(e) => return Err(sdk_error("create DB subnet group", &name)(e)),
        }
    }
    Ok(Some(name))
}

/// The project's parameter group that refuses plaintext (`CloudPlan.parameter_group`),
/// made when missing and set to the template's parameters. Dynamic parameters, applied at
/// once (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.Modifying.html).
/// A group this call creates goes to `made`.
async fn parameter_group(
    client: &Client,
    cloud: &CloudPlan,
    made: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    let Some(group) = &cloud.parameter_group else {
        return Ok(None);
    };
    let name = group.name.as_str();
    // AWS answers DBParameterGroupNotFound; an empty list means the same.
    let exists = client
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await
        .is_ok_and(|out| !out.db_parameter_groups().is_empty());
    if !exists {
        let request = client
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(&group.family)
            .description(format!(
                "provision: {} refuses connections without TLS (project {})",
                group.family, cloud.project
            ))
            .set_tags(Some(group_tags(cloud, "parameter-group")));
        match request.send().await {
            Ok(_) => made.push(name.to_owned()),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_parameter_group::CreateDBParameterGroupError::is_db_parameter_group_already_exists_fault) => {}
            Err(e) => return Err(sdk_error("create DB parameter group", name)(e)),
        }
    }
    let mut request = client
        .modify_db_parameter_group()
        .db_parameter_group_name(name);
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

/// Deletes one parameter group (one this run made, for a create AWS then refused). AWS
/// refuses while an instance uses it.
pub(super) async fn delete_parameter_group(client: &Client, name: &str) -> Result<(), Error> {
    client
        .delete_db_parameter_group()
        .db_parameter_group_name(name)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("delete DB parameter group", name))
}

/// Deletes the project's parameter groups (`{project}-*-tls`, tagged with the project).
/// AWS refuses while an instance still uses one: reported, and `destroy` run again finishes.
pub(super) async fn delete_parameter_groups(
    client: &Client,
    project: &str,
    stage: &crate::names::Stage,
) -> Vec<(String, Result<bool, Error>)> {
    let mut names = Vec::new();
    let mut pages = client
        .describe_db_parameter_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Ok(page) = page else { break };
        for g in page.db_parameter_groups() {
            if let (Some(name), Some(arn)) =
                (g.db_parameter_group_name(), g.db_parameter_group_arn())
                && crate::names::is_parameter_group(project, name)
            {
                names.push((name.to_owned(), arn.to_owned()));
            }
        }
    }
    let mut out = Vec::new();
    for (name, arn) in names {
        let ours = tagged_for(client, &arn, project, stage).await;
        if !ours {
            continue;
        }
        let deleted = client
            .delete_db_parameter_group()
            .db_parameter_group_name(&name)
            .send()
            .await
            .map(|_| true)
            .map_err(sdk_error("delete DB parameter group", &name));
        out.push((format!("DB parameter group {name}"), deleted));
    }
    out
}

pub(super) async fn create(
    client: &Client,
    resource: &PlannedResource,
    cloud: &CloudPlan,
    placement: &Placement,
    version: &str,
    password: Option<&Secret>,
    made: &mut Vec<String>,
) -> Result<(), Error> {
    let c = &cloud.config;
    let group = subnet_group(client, cloud, placement, made).await?;
    let parameters = parameter_group(client, cloud, made).await?;
    let mut request = client
        .create_db_instance()
        .db_instance_identifier(&cloud.identifier)
        .engine(&cloud.engine)
        .engine_version(version)
        // AWS enrols instances of older majors in paid Extended Support unless told
        // otherwise; provision says otherwise unless the manifest opts in
        // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html:
        // EngineLifecycleSupport).
        .engine_lifecycle_support(if c.extended_support {
            "open-source-rds-extended-support"
        } else {
            "open-source-rds-extended-support-disabled"
        })
        .set_max_allocated_storage(
            c.max_storage_gb
                .map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
        )
        .db_instance_class(&c.class)
        .allocated_storage(i32::try_from(c.storage_gb.unwrap_or(20)).unwrap_or(i32::MAX))
        .storage_type("gp3")
        .storage_encrypted(cloud.storage_encrypted)
        .publicly_accessible(cloud.publicly_accessible)
        .backup_retention_period(i32::try_from(c.backup_retention_days).unwrap_or(7))
        .copy_tags_to_snapshot(true)
        .enable_iam_database_authentication(c.iam_auth)
        // CloudWatch Database Insights, Standard mode (no charge), in place of Performance
        // Insights, whose console reaches end of life on July 31, 2026
        // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PerfInsights.Enabling.html;
        // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html:
        // DatabaseInsightsMode). Only on a create: an existing instance keeps its mode.
        .database_insights_mode(aws_sdk_rds::types::DatabaseInsightsMode::Standard)
        .deletion_protection(c.deletion_protection)
        .multi_az(c.multi_az)
        .auto_minor_version_upgrade(true)
        .set_master_username(resource.username.clone())
        .set_master_user_password(password.map(|p| p.expose().to_owned()))
        .set_db_name(resource.database.clone())
        .set_db_subnet_group_name(group)
        .set_db_parameter_group_name(parameters)
        .set_vpc_security_group_ids(placement.security_groups());
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Another run created it a moment ago: adopt it.
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_instance::CreateDBInstanceError::is_db_instance_already_exists_fault) => Ok(()),
        Err(e) => Err(sdk_error("create RDS instance", &cloud.identifier)(e)),
    }
}

/// What the seeding of a stage needs to know of one DB snapshot.
fn snapshot_info(s: &aws_sdk_rds::types::DbSnapshot) -> crate::cloud::restore::SnapshotInfo {
    crate::cloud::restore::SnapshotInfo {
        identifier: s.db_snapshot_identifier().unwrap_or_default().to_owned(),
        automated: s.snapshot_type() == Some("automated"),
        status: s.status().unwrap_or("unknown").to_owned(),
        created: s
            .snapshot_create_time()
            .map(aws_smithy_types::DateTime::secs),
        engine: s.engine().map(str::to_owned),
        engine_version: s.engine_version().map(str::to_owned),
        storage_gb: s.allocated_storage().and_then(|g| u32::try_from(g).ok()),
        encrypted: s.encrypted(),
        master_username: s.master_username().map(str::to_owned),
        tags: s
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    }
}

/// Every snapshot of an instance, manual and automated: DescribeDBSnapshots returns both
/// when no `SnapshotType` is given
/// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSnapshots.html).
/// Each carries its `TagList`, so ownership needs no second call.
pub(super) async fn snapshots_of(
    client: &Client,
    instance: &str,
) -> Result<Vec<crate::cloud::restore::SnapshotInfo>, Error> {
    let mut out = Vec::new();
    let mut pages = client
        .describe_db_snapshots()
        .db_instance_identifier(instance)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => out.extend(page.db_snapshots().iter().map(snapshot_info)),
            // No snapshot (and, on AWS, no such instance) reads as an empty list.
            Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::describe_db_snapshots::DescribeDBSnapshotsError::is_db_snapshot_not_found_fault) => break,
            Err(e) => return Err(sdk_error("list snapshots of RDS instance", instance)(e)),
        }
    }
    Ok(out)
}

/// One snapshot by identifier (a shared one by its ARN, which needs `IncludeShared`).
pub(super) async fn snapshot_named(
    client: &Client,
    id: &str,
) -> Result<Option<crate::cloud::restore::SnapshotInfo>, Error> {
    let request = client
        .describe_db_snapshots()
        .db_snapshot_identifier(id)
        .include_shared(id.starts_with("arn:"));
    match request.send().await {
        Ok(out) => Ok(out.db_snapshots().first().map(snapshot_info)),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::describe_db_snapshots::DescribeDBSnapshotsError::is_db_snapshot_not_found_fault) => Ok(None),
        Err(e) => Err(sdk_error("describe DB snapshot", id)(e)),
    }
}

/// Creates the instance from a snapshot, with everything `create` gives a new instance that
/// RestoreDBInstanceFromDBSnapshot takes: class, gp3 storage of the manifest's size, subnet
/// group, security groups, the TLS parameter group, no public access, Multi-AZ, backups,
/// deletion protection, `CopyTagsToSnapshot`, Extended Support, and this stage's tags (given
/// tags replace the snapshot's). What a restore cannot set it keeps from the snapshot: the
/// engine version, encryption, the master user and its password (which `up` resets to this
/// stage's secret once the instance is `available`)
/// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html).
pub(super) async fn restore(
    client: &Client,
    cloud: &CloudPlan,
    placement: &Placement,
    snapshot: &str,
    made: &mut Vec<String>,
) -> Result<(), Error> {
    let c = &cloud.config;
    let group = subnet_group(client, cloud, placement, made).await?;
    let parameters = parameter_group(client, cloud, made).await?;
    let mut request = client
        .restore_db_instance_from_db_snapshot()
        .db_instance_identifier(&cloud.identifier)
        .db_snapshot_identifier(snapshot)
        .db_instance_class(&c.class)
        .storage_type("gp3")
        .set_allocated_storage(c.storage_gb.map(|g| i32::try_from(g).unwrap_or(i32::MAX)))
        .publicly_accessible(cloud.publicly_accessible)
        .multi_az(c.multi_az)
        .backup_retention_period(i32::try_from(c.backup_retention_days).unwrap_or(7))
        .copy_tags_to_snapshot(true)
        .deletion_protection(c.deletion_protection)
        .auto_minor_version_upgrade(true)
        .engine_lifecycle_support(if c.extended_support {
            "open-source-rds-extended-support"
        } else {
            "open-source-rds-extended-support-disabled"
        })
        .set_db_subnet_group_name(group)
        .set_db_parameter_group_name(parameters)
        .set_vpc_security_group_ids(placement.security_groups());
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Another run restored it a moment ago: adopt it.
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::RestoreDBInstanceFromDBSnapshotError::is_db_instance_already_exists_fault) => Ok(()),
        Err(e) => Err(sdk_error("restore RDS instance", &cloud.identifier)(e)),
    }
}

pub(super) async fn modify(
    client: &Client,
    cloud: &CloudPlan,
    placement: &Placement,
    changes: &[Change],
) -> Result<(), Error> {
    let c = &cloud.config;
    let has = |f: Field| changes.iter().any(|ch| ch.field == f);
    let request = client
        .modify_db_instance()
        .db_instance_identifier(&cloud.identifier)
        .apply_immediately(true)
        .set_db_instance_class(has(Field::Class).then(|| c.class.clone()))
        .set_allocated_storage(
            has(Field::StorageGb)
                .then(|| i32::try_from(c.storage_gb.unwrap_or(20)).unwrap_or(i32::MAX)),
        )
        .set_max_allocated_storage(
            has(Field::MaxStorageGb)
                .then(|| i32::try_from(c.max_storage_gb.unwrap_or(0)).unwrap_or(i32::MAX)),
        )
        .set_vpc_security_group_ids(
            has(Field::SecurityGroups).then(|| placement.security_group_ids.clone()),
        )
        .set_multi_az(has(Field::MultiAz).then_some(c.multi_az))
        .set_deletion_protection(has(Field::DeletionProtection).then_some(c.deletion_protection))
        .set_enable_iam_database_authentication(has(Field::IamAuth).then_some(c.iam_auth))
        .set_publicly_accessible(
            has(Field::PubliclyAccessible).then_some(cloud.publicly_accessible),
        )
        .set_db_parameter_group_name(
            cloud
                .parameter_group
                .as_ref()
                .filter(|_| has(Field::ParameterGroup))
                .map(|g| g.name.clone()),
        )
        .set_backup_retention_period(
            has(Field::BackupRetentionDays)
                .then(|| i32::try_from(c.backup_retention_days).unwrap_or(7)),
        )
        .set_engine_version(
            changes
                .iter()
                .find(|ch| ch.field == Field::EngineVersion)
                .map(|ch| ch.to.clone()),
        );
    request
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("modify RDS instance", &cloud.identifier))
}

pub(super) async fn reset_password(
    client: &Client,
    id: &str,
    password: &Secret,
) -> Result<(), Error> {
    client
        .modify_db_instance()
        .db_instance_identifier(id)
        .master_user_password(password.expose())
        .apply_immediately(true)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("reset the password of RDS instance", id))
}

pub(super) async fn tagged(client: &Client, project: &str) -> Result<Vec<Orphan>, Error> {
    let mut found = Vec::new();
    let mut pages = client.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error("list RDS instances", project))?;
        for db in page.db_instances() {
            // An Aurora cluster's writer goes with its cluster (`aurora::tagged`).
            if db.db_cluster_identifier().is_some() {
                continue;
            }
            let tag = |key: &str| {
                db.tag_list()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
                    .map(str::to_owned)
            };
            if tag(crate::names::TAG_PROJECT).as_deref() == Some(project) {
                found.push(Orphan {
                    identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
                    kind: "RDS instance",
                    resource: tag(crate::names::TAG_RESOURCE).unwrap_or_default(),
                    stage: crate::names::Stage::of_tag(tag(crate::names::TAG_STAGE).as_deref()),
                    expires_at: tag(crate::names::TAG_EXPIRES_AT),
                    created: db
                        .instance_create_time()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                    status: db.db_instance_status().unwrap_or_default().to_owned(),
                    deletion_protection: db.deletion_protection().unwrap_or(false),
                    service: Some(CloudService::Rds),
                    billed: db.db_instance_class().map(|class| {
                        let multi_az = db.multi_az().unwrap_or(false);
                        crate::cloud::cost::Billed {
                            service: CloudService::Rds,
                            class: class.to_owned(),
                            // A Multi-AZ standby is billed like the primary.
                            nodes: if multi_az { 2 } else { 1 },
                            storage_gb: db
                                .allocated_storage()
                                .and_then(|gb| u32::try_from(gb).ok()),
                            storage_type: db.storage_type().map(str::to_owned),
                            multi_az,
                        }
                    }),
                });
            }
        }
    }
    Ok(found)
}

pub(super) async fn delete(
    client: &Client,
    id: &str,
    final_snapshot: Option<String>,
) -> Result<(), Error> {
    client
        .delete_db_instance()
        .db_instance_identifier(id)
        .skip_final_snapshot(final_snapshot.is_none())
        .set_final_db_snapshot_identifier(final_snapshot)
        .delete_automated_backups(false)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("delete RDS instance", id))
}

/// Deletes the project's DB subnet group if it exists and is tagged with the project.
pub(super) async fn delete_subnet_group(
    client: &Client,
    name: &str,
    project: &str,
    stage: &crate::names::Stage,
) -> Result<bool, Error> {
    let Ok(found) = client
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    else {
        return Ok(false);
    };
    let Some(arn) = found
        .db_subnet_groups()
        .first()
        .and_then(|g| g.db_subnet_group_arn())
    else {
        return Ok(false);
    };
    let tags = client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(sdk_error("list tags of", name))?;
    let tag = |key: &str| {
        tags.tag_list()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
    };
    if !crate::names::owned(tag, project, stage) {
        return Ok(false);
    }
    client
        .delete_db_subnet_group()
        .db_subnet_group_name(name)
        .send()
        .await
        .map(|_| true)
        .map_err(sdk_error("delete DB subnet group", name))
}

/// The tags of a group provision makes for a project (and stage): what proves it is theirs
/// when `destroy` or `gc` looks for it.
pub(super) fn group_tags(cloud: &CloudPlan, kind: &str) -> Vec<Tag> {
    let mut tags = vec![
        (crate::names::TAG_PROJECT, cloud.project.as_str()),
        (crate::names::TAG_TYPE, kind),
    ];
    if let Some(stage) = cloud.stage.tag() {
        tags.push((crate::names::TAG_STAGE, stage));
    }
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Whether the RDS resource `arn` carries this project's and stage's `provision:*` tags (a
/// group whose tags cannot be read is not ours).
pub(super) async fn tagged_for(
    client: &Client,
    arn: &str,
    project: &str,
    stage: &crate::names::Stage,
) -> bool {
    client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .is_ok_and(|t| {
            let tag = |key: &str| {
                t.tag_list()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
            };
            crate::names::owned(tag, project, stage)
        })
}
