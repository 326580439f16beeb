//! The generated passwords, in Secrets Manager: created before the database, read back for
//! `env` and `run`, never written to a local file.
//!
//! A password reset (a secret that went missing, or one `destroy` scheduled for deletion) is
//! made durable by a tag: the new password is stored with `provision:password-pending=true`
//! before the database is told, and the tag is removed once the database has it. A run that
//! dies in between leaves the tag, and the next run finishes the reset, so a secret that does
//! not open its database never stays that way.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use super::{aws_error, project_tags, sdk_error};
use crate::error::Error;
use crate::plan::CloudPlan;
use crate::secret::Secret;

/// Marks a secret whose value the database may not have yet.
use crate::names::TAG_PASSWORD_PENDING as TAG_PENDING;

/// What Secrets Manager has under a secret name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretState {
    Missing,
    /// Scheduled for deletion (`DeletedDate` set): restorable.
    Scheduled,
    /// Present; `pending`: its value may not be the database's yet.
    Present {
        pending: bool,
    },
}

fn state_of(deleted: bool, tags: &[Tag]) -> SecretState {
    if deleted {
        SecretState::Scheduled
    } else {
        SecretState::Present {
            pending: tags
                .iter()
                .any(|t| t.key() == Some(TAG_PENDING) && t.value() == Some("true")),
        }
    }
}

/// The state of one secret (DescribeSecret: existence, `DeletedDate`, tags).
pub(super) async fn state(client: &Client, name: &str) -> Result<SecretState, Error> {
    match client.describe_secret().secret_id(name).send().await {
        Ok(out) => Ok(state_of(out.deleted_date().is_some(), out.tags())),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError::is_resource_not_found_exception) => Ok(SecretState::Missing),
        Err(e) => Err(sdk_error("describe secret", name)(e)),
    }
}

/// The state of every secret of a project, in one paginated ListSecrets (a name prefix filter,
/// scheduled ones included): what `up` needs to know of them when nothing changes.
pub(super) async fn project_states(
    client: &Client,
    project: &str,
) -> Result<HashMap<String, SecretState>, Error> {
    let prefix = crate::names::secret_prefix(project);
    let mut out = HashMap::new();
    let mut pages = client
        .list_secrets()
        .include_planned_deletion(true)
        .filters(
            Filter::builder()
                .key(FilterNameStringType::Name)
                .values(&prefix)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error("list secrets", &prefix))?;
        for s in page.secret_list() {
            // The name filter is a prefix match that ignores case: keep exact names only.
            if let Some(name) = s.name().filter(|n| n.starts_with(&prefix)) {
                out.insert(
                    name.to_owned(),
                    state_of(s.deleted_date().is_some(), s.tags()),
                );
            }
        }
    }
    Ok(out)
}

/// The stored password, for `env` and `run`. A secret scheduled for deletion is told apart
/// by its code and DescribeSecret's `DeletedDate`, never by the message's words.
pub(super) async fn get(client: &Client, cloud: &CloudPlan) -> Result<Option<Secret>, Error> {
    // An adopted database whose password is in the user's own secret.
    if let Some(arn) = cloud
        .adopted
        .as_ref()
        .and_then(|a| a.linked_secret.as_deref())
    {
        return super::adopt::linked_value(client, arn).await;
    }
    match client.get_secret_value().secret_id(&cloud.secret_name).send().await {
        Ok(out) => Ok(out.secret_string().map(Secret::new)),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError::is_resource_not_found_exception) => Ok(None),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError::is_invalid_request_exception)
            && state(client, &cloud.secret_name).await? == SecretState::Scheduled =>
        {
            Err(Error::Aws {
                op: "read secret",
                target: cloud.secret_name.clone(),
                code: Some("InvalidRequestException".into()),
                message: "it is scheduled for deletion; `provision --cloud` restores it with a new password".into(),
                source: Some(Box::new(e)),
            })
        }
        Err(e) => Err(sdk_error("read secret", &cloud.secret_name)(e)),
    }
}

fn new_password(cloud: &CloudPlan) -> Result<Secret, Error> {
    Secret::generate().map_err(|e| aws_error("generate a password for", &cloud.identifier, e))
}

/// Stores a new password under the secret's name, whatever `state` it is in (creating it,
/// or restoring one scheduled for deletion), tagged pending when `pending` (the database
/// exists and must be told). Returns the password.
pub(super) async fn store_new(
    client: &Client,
    cloud: &CloudPlan,
    state: SecretState,
    pending: bool,
) -> Result<Secret, Error> {
    let password = new_password(cloud)?;
    let name = cloud.secret_name.as_str();
    match state {
        SecretState::Missing => {
            let mut request = client
                .create_secret()
                .name(name)
                .description(format!("provision: password of {}", cloud.identifier))
                .secret_string(password.expose());
            for (k, v) in project_tags(cloud) {
                request = request.tags(Tag::builder().key(k).value(v).build());
            }
            if pending {
                request = request.tags(Tag::builder().key(TAG_PENDING).value("true").build());
            }
            match request.send().await {
                Ok(_) => return Ok(password),
                // Another run stored one a moment ago: that one is the password.
                Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::create_secret::CreateSecretError::is_resource_exists_exception) => {
                    return value(client, name).await;
                }
                Err(e) => return Err(sdk_error("create secret", name)(e)),
            }
        }
        SecretState::Scheduled => {
            client
                .restore_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(sdk_error("restore secret", name))?;
        }
        SecretState::Present { .. } => {}
    }
    if pending {
        mark_pending(client, name, true).await?;
    }
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(password.expose())
        .send()
        .await
        .map_err(sdk_error("store secret", name))?;
    Ok(password)
}

/// The current value of a secret that exists.
pub(super) async fn value(client: &Client, name: &str) -> Result<Secret, Error> {
    let out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(sdk_error("read secret", name))?;
    out.secret_string()
        .map(Secret::new)
        .ok_or_else(|| Error::Aws {
            op: "read secret",
            target: name.to_owned(),
            code: None,
            message: "it exists but has no value".into(),
            source: None,
        })
}

/// Sets or clears the pending-reset tag.
pub(super) async fn mark_pending(client: &Client, name: &str, pending: bool) -> Result<(), Error> {
    if pending {
        client
            .tag_resource()
            .secret_id(name)
            .tags(Tag::builder().key(TAG_PENDING).value("true").build())
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error("tag secret", name))
    } else {
        client
            .untag_resource()
            .secret_id(name)
            .tag_keys(TAG_PENDING)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error("untag secret", name))
    }
}

/// Deletes a secret at once, without a recovery window: only for one this run created and
/// no database ever got (its create was refused), so that nothing of the run stays behind.
pub(super) async fn forget(client: &Client, name: &str) -> Result<(), Error> {
    match client.delete_secret().secret_id(name).force_delete_without_recovery(true).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretError::is_resource_not_found_exception) => Ok(()),
        Err(e) => Err(sdk_error("delete secret", name)(e)),
    }
}

/// Schedules the secret's deletion (recoverable for 7 days, AWS's default window).
pub(super) async fn delete(client: &Client, name: &str) -> Result<bool, Error> {
    match client.delete_secret().secret_id(name).recovery_window_in_days(7).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretError::is_resource_not_found_exception) => Ok(false),
        Err(e) => Err(sdk_error("delete secret", name)(e)),
    }
}
