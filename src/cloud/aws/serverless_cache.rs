//! ElastiCache Serverless (Redis OSS, Valkey). A serverless cache is TLS-only and takes no
//! AUTH token: clients log in as a user of its RBAC user group
//! (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html). So `up` makes
//! two users and a group before the cache: the app's user (password from the stored secret,
//! every key and command) and a `default` user that is switched off, because every user group
//! must hold a user named `default` (CreateUserGroup's `DefaultUserRequired`,
//! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUserGroup.html).
//! The links then read `rediss://app:PASSWORD@HOST:6379`.

use std::time::Duration;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::Tag;

use super::{Observed, Orphan, Placement, project_tags, sdk_error};
use crate::catalog::CloudService;
use crate::cloud::serverless::Live;
use crate::error::Error;
use crate::model::serverless::Serverless;
use crate::plan::CloudPlan;
use crate::secret::Secret;

/// The user name the links carry.
pub const APP_USER: &str = "app";

/// The app's rights: every key, every channel, every command
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html: access strings).
const APP_ACCESS: &str = "on ~* &* +@all";
/// The `default` user: off, no commands (it cannot log in at all).
const DEFAULT_ACCESS: &str = "off -@all";

/// How long a new user group may stay `creating` before the cache can use it (AWS takes
/// seconds to a minute).
const GROUP_WAIT: Duration = Duration::from_secs(300);

fn engine_of(cloud: &CloudPlan) -> &str {
    &cloud.engine
}

fn tags(cloud: &CloudPlan) -> Vec<Tag> {
    project_tags(cloud)
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) async fn observe(client: &Client, id: &str) -> Result<Option<Observed>, Error> {
    let out = match client
        .describe_serverless_caches()
        .serverless_cache_name(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::describe_serverless_caches::DescribeServerlessCachesError::is_serverless_cache_not_found_fault) => return Ok(None),
        Err(e) => return Err(sdk_error("describe serverless cache", id)(e)),
    };
    let Some(cache) = out.serverless_caches().first() else {
        return Ok(None);
    };
    let status = cache.status().unwrap_or("unknown").to_owned();
    let arn = cache.arn().map(str::to_owned);
    // Tags are read once it is available, as for the other caches.
    let tags = match (&arn, status.as_str()) {
        (Some(arn), "available") => Some(super::elasticache::tags_of(client, arn).await?),
        _ => None,
    };
    Ok(Some(Observed {
        status,
        address: cache
            .endpoint()
            .and_then(|e| e.address())
            .map(str::to_owned),
        port: cache
            .endpoint()
            .and_then(aws_sdk_elasticache::types::Endpoint::port)
            .and_then(|p| u16::try_from(p).ok()),
        engine: cache.engine().map(str::to_owned),
        backup_retention_days: cache
            .snapshot_retention_limit()
            .and_then(|d| u32::try_from(d).ok()),
        security_group_ids: Some(cache.security_group_ids().to_vec()),
        arn,
        tags,
        serverless: Some(Live {
            major_version: cache.major_engine_version().map(str::to_owned),
            writer: true,
            ..Live::default()
        }),
        ..Observed::default()
    }))
}

async fn create_user(
    client: &Client,
    cloud: &CloudPlan,
    id: &str,
    name: &str,
    access: &str,
    password: Option<&Secret>,
) -> Result<(), Error> {
    let request = client
        .create_user()
        .user_id(id)
        .user_name(name)
        .engine(engine_of(cloud))
        .access_string(access)
        .set_passwords(password.map(|p| vec![p.expose().to_owned()]))
        .set_no_password_required(password.is_none().then_some(true))
        .set_tags(Some(tags(cloud)));
    match request.send().await {
        Ok(_) => Ok(()),
        // Made by an earlier, interrupted run: its password is set below, where it matters.
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::create_user::CreateUserError::is_user_already_exists_fault) => {
            match password {
                Some(p) => set_password(client, id, p).await,
                None => Ok(()),
            }
        }
        Err(e) => Err(sdk_error("create ElastiCache user", id)(e)),
    }
}

/// Gives the app's user the stored password (replacing what it had).
pub(super) async fn set_password(
    client: &Client,
    id: &str,
    password: &Secret,
) -> Result<(), Error> {
    client
        .modify_user()
        .user_id(id)
        .passwords(password.expose())
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("set the password of ElastiCache user", id))
}

/// Waits (bounded) for the user group to be `active`: a cache takes no group that is still
/// being made (CreateServerlessCache's `InvalidUserGroupState`).
async fn group_active(client: &Client, id: &str) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(300);
    loop {
        let out = client
            .describe_user_groups()
            .user_group_id(id)
            .send()
            .await
            .map_err(sdk_error("describe ElastiCache user group", id))?;
        let status = out
            .user_groups()
            .first()
            .and_then(|g| g.status())
            .unwrap_or("unknown")
            .to_owned();
        if status == "active" {
            return Ok(());
        }
        if started.elapsed() > GROUP_WAIT {
            return Err(Error::Aws {
                op: "wait for ElastiCache user group",
                target: id.to_owned(),
                code: None,
                message: format!(
                    "still `{status}` after {} minutes",
                    GROUP_WAIT.as_secs() / 60
                ),
                source: None,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// Creates the users, the user group and the cache (in the project's subnets and security
/// groups, snapshots kept as the manifest says, tagged).
pub(super) async fn create(
    client: &Client,
    cloud: &CloudPlan,
    placement: &Placement,
    password: Option<&Secret>,
) -> Result<(), Error> {
    let id = cloud.identifier.as_str();
    let Some(Serverless::Cache { major_version }) = &cloud.config.serverless else {
        return Ok(());
    };
    let app = crate::names::cache_app_user(id);
    let default = crate::names::cache_default_user(id);
    let group = crate::names::cache_user_group(id);
    create_user(client, cloud, &default, "default", DEFAULT_ACCESS, None).await?;
    create_user(client, cloud, &app, APP_USER, APP_ACCESS, password).await?;
    let request = client
        .create_user_group()
        .user_group_id(&group)
        .engine(engine_of(cloud))
        .user_ids(&default)
        .user_ids(&app)
        .set_tags(Some(tags(cloud)));
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::create_user_group::CreateUserGroupError::is_user_group_already_exists_fault) => {}
        Err(e) => return Err(sdk_error("create ElastiCache user group", &group)(e)),
    }
    group_active(client, &group).await?;
    let request = client
        .create_serverless_cache()
        .serverless_cache_name(id)
        .description(format!(
            "provision: {} of project {}",
            cloud.resource, cloud.project
        ))
        .engine(engine_of(cloud))
        .major_engine_version(major_version)
        .user_group_id(&group)
        .set_security_group_ids(placement.security_groups())
        .set_subnet_ids((!placement.subnet_ids.is_empty()).then(|| placement.subnet_ids.clone()))
        .snapshot_retention_limit(i32::try_from(cloud.config.backup_retention_days).unwrap_or(1))
        .set_tags(Some(tags(cloud)));
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::create_serverless_cache::CreateServerlessCacheError::is_serverless_cache_already_exists_fault) => Ok(()),
        Err(e) => Err(sdk_error("create serverless cache", id)(e)),
    }
}

pub(super) async fn modify(client: &Client, cloud: &CloudPlan) -> Result<(), Error> {
    client
        .modify_serverless_cache()
        .serverless_cache_name(&cloud.identifier)
        .snapshot_retention_limit(i32::try_from(cloud.config.backup_retention_days).unwrap_or(1))
        .send()
        .await
        .map(|_| ())
        .map_err(sdk_error("modify serverless cache", &cloud.identifier))
}

pub(super) async fn tagged(client: &Client, project: &str) -> Result<Vec<Orphan>, Error> {
    let mut found = Vec::new();
    let mut pages = client.describe_serverless_caches().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error("list serverless caches", project))?;
        for c in page.serverless_caches() {
            let Some(arn) = c.arn() else { continue };
            // ElastiCache lists tags only of an available resource.
            let Ok(tags) = super::elasticache::tags_of(client, arn).await else {
                continue;
            };
            let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            if tag(crate::names::TAG_PROJECT).as_deref() == Some(project) {
                found.push(Orphan {
                    identifier: c.serverless_cache_name().unwrap_or_default().to_owned(),
                    kind: super::kind(CloudService::ElasticacheServerless),
                    resource: tag(crate::names::TAG_RESOURCE).unwrap_or_default(),
                    stage: crate::names::Stage::of_tag(tag(crate::names::TAG_STAGE).as_deref()),
                    expires_at: tag(crate::names::TAG_EXPIRES_AT),
                    created: c
                        .create_time()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                    status: c.status().unwrap_or_default().to_owned(),
                    // Serverless caches have no deletion protection.
                    deletion_protection: false,
                    service: Some(CloudService::ElasticacheServerless),
                    // Billed on data stored and ECPUs: no node to price.
                    billed: None,
                });
            }
        }
    }
    Ok(found)
}

/// Deletes the cache (with a final snapshot unless told otherwise), waits (bounded) until it
/// is gone, then its user group and users: AWS keeps a group while a cache uses it.
pub(super) async fn delete(
    client: &Client,
    id: &str,
    final_snapshot: Option<String>,
) -> Result<(), Error> {
    match client
        .delete_serverless_cache()
        .serverless_cache_name(id)
        .set_final_snapshot_name(final_snapshot)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::delete_serverless_cache::DeleteServerlessCacheError::is_serverless_cache_not_found_fault) => {}
        Err(e) => return Err(sdk_error("delete serverless cache", id)(e)),
    }
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(300);
    while observe(client, id).await?.is_some() {
        if started.elapsed() > GROUP_WAIT {
            return Err(Error::Aws {
                op: "wait for the deletion of serverless cache",
                target: id.to_owned(),
                code: None,
                message: "it is still being deleted: run `provision destroy --cloud` again to remove its users".into(),
                source: None,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
    let group = crate::names::cache_user_group(id);
    match client.delete_user_group().user_group_id(&group).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::delete_user_group::DeleteUserGroupError::is_user_group_not_found_fault) => {}
        Err(e) => return Err(sdk_error("delete ElastiCache user group", &group)(e)),
    }
    for user in [
        crate::names::cache_app_user(id),
        crate::names::cache_default_user(id),
    ] {
        match client.delete_user().user_id(&user).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(aws_sdk_elasticache::operation::delete_user::DeleteUserError::is_user_not_found_fault) => {}
            Err(e) => return Err(sdk_error("delete ElastiCache user", &user)(e)),
        }
    }
    Ok(())
}
