//! RDS DB instances.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use super::{Change, Observed, Orphan, project_tags, sdk_error};
use crate::catalog::CloudService;
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
        replicas: None,
        multi_az: db.multi_az(),
        deletion_protection: db.deletion_protection(),
        backup_retention_days: db
            .backup_retention_period()
            .and_then(|d| u32::try_from(d).ok()),
        arn: db.db_instance_arn().map(str::to_owned),
        tags: db
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

pub(super) async fn observe(client: &Client, id: &str) -> Result<Option<Observed>, Error> {
    match client.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(out) => Ok(out.db_instances().first().map(observed)),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError::is_db_instance_not_found_fault) => Ok(None),
        Err(e) => Err(sdk_error("describe RDS instance", id)(e)),
    }
}

/// The DB subnet group named after the project, created when the manifest lists subnets.
async fn subnet_group(client: &Client, cloud: &CloudPlan) -> Result<Option<String>, Error> {
    let Some(name) = cloud.subnet_group.clone() else {
        return Ok(None);
    };
    let project = cloud.project.as_str();
    let exists = client
        .describe_db_subnet_groups()
        .db_subnet_group_name(&name)
        .send()
        .await;
    if exists.is_err() {
        let mut request = client
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(format!("provision: subnets of project {project}"))
            .set_subnet_ids(Some(cloud.subnet_ids.clone()))
            .tags(
                Tag::builder()
                    .key(crate::plan::TAG_PROJECT)
                    .value(project)
                    .build(),
            );
        request = request.tags(
            Tag::builder()
                .key(crate::plan::TAG_TYPE)
                .value("subnet-group")
                .build(),
        );
        match request.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(aws_sdk_rds::operation::create_db_subnet_group::CreateDBSubnetGroupError::is_db_subnet_group_already_exists_fault) => {}
            Err(e) => return Err(sdk_error("create DB subnet group", &name)(e)),
        }
    }
    Ok(Some(name))
}

pub(super) async fn create(
    client: &Client,
    resource: &PlannedResource,
    cloud: &CloudPlan,
    password: Option<&Secret>,
) -> Result<(), Error> {
    let c = &cloud.config;
    let group = subnet_group(client, cloud).await?;
    let mut request = client
        .create_db_instance()
        .db_instance_identifier(&cloud.identifier)
        .engine(&cloud.engine)
        .engine_version(&cloud.engine_version)
        .db_instance_class(&c.class)
        .allocated_storage(i32::try_from(c.storage_gb.unwrap_or(20)).unwrap_or(i32::MAX))
        .storage_type("gp3")
        .storage_encrypted(cloud.storage_encrypted)
        .publicly_accessible(cloud.publicly_accessible)
        .backup_retention_period(i32::try_from(c.backup_retention_days).unwrap_or(7))
        .copy_tags_to_snapshot(true)
        .deletion_protection(c.deletion_protection)
        .multi_az(c.multi_az)
        .auto_minor_version_upgrade(true)
        .set_master_username(resource.username.clone())
        .set_master_user_password(password.map(|p| p.expose().to_owned()))
        .set_db_name(resource.database.clone())
        .set_db_subnet_group_name(group)
        .set_vpc_security_group_ids(
            (!cloud.security_group_ids.is_empty()).then(|| cloud.security_group_ids.clone()),
        );
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

pub(super) async fn modify(
    client: &Client,
    cloud: &CloudPlan,
    changes: &[Change],
) -> Result<(), Error> {
    let c = &cloud.config;
    let has = |f: &str| changes.iter().any(|ch| ch.field == f);
    let request = client
        .modify_db_instance()
        .db_instance_identifier(&cloud.identifier)
        .apply_immediately(true)
        .set_db_instance_class(has("class").then(|| c.class.clone()))
        .set_allocated_storage(
            has("storage_gb")
                .then(|| i32::try_from(c.storage_gb.unwrap_or(20)).unwrap_or(i32::MAX)),
        )
        .set_multi_az(has("multi_az").then_some(c.multi_az))
        .set_deletion_protection(has("deletion_protection").then_some(c.deletion_protection))
        .set_backup_retention_period(
            has("backup_retention_days")
                .then(|| i32::try_from(c.backup_retention_days).unwrap_or(7)),
        )
        .set_engine_version(has("engine_version").then(|| cloud.engine_version.clone()));
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
            let tag = |key: &str| {
                db.tag_list()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
                    .map(str::to_owned)
            };
            if tag(crate::plan::TAG_PROJECT).as_deref() == Some(project) {
                found.push(Orphan {
                    identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
                    kind: "RDS instance",
                    resource: tag(crate::plan::TAG_RESOURCE).unwrap_or_default(),
                    status: db.db_instance_status().unwrap_or_default().to_owned(),
                    deletion_protection: db.deletion_protection().unwrap_or(false),
                    service: Some(CloudService::Rds),
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
