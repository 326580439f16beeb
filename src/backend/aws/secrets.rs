//! The generated passwords, in Secrets Manager: created before the database, read back for
//! `env` and `run`, never written to a local file.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;

use super::{project_tags, sdk_error};
use crate::error::Error;
use crate::plan::CloudPlan;
use crate::secret::Secret;

pub(super) async fn get(client: &Client, cloud: &CloudPlan) -> Result<Option<Secret>, Error> {
    match client.get_secret_value().secret_id(&cloud.secret_name).send().await {
        Ok(out) => Ok(out.secret_string().map(Secret::new)),
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError::is_resource_not_found_exception) => Ok(None),
        Err(e) => Err(sdk_error("read secret", &cloud.secret_name)(e)),
    }
}

fn new_password(cloud: &CloudPlan) -> Result<Secret, Error> {
    Secret::generate().map_err(|e| Error::Aws {
        op: "generate a password for",
        target: cloud.identifier.clone(),
        code: None,
        message: e.to_string(),
    })
}

/// The stored password, or a new one stored first. Returns whether it was created.
pub(super) async fn get_or_create(
    client: &Client,
    cloud: &CloudPlan,
) -> Result<(Secret, bool), Error> {
    match get(client, cloud).await {
        Ok(Some(secret)) => return Ok((secret, false)),
        Ok(None) => {}
        // `destroy` schedules secrets for deletion (recoverable for 7 days): a new `up` of
        // the same project brings the secret back, with a new password for the new database.
        Err(Error::Aws {
            code: Some(code),
            message,
            ..
        }) if code == "InvalidRequestException" && message.contains("deleted") => {
            let password = new_password(cloud)?;
            client
                .restore_secret()
                .secret_id(&cloud.secret_name)
                .send()
                .await
                .map_err(sdk_error("restore secret", &cloud.secret_name))?;
            client
                .put_secret_value()
                .secret_id(&cloud.secret_name)
                .secret_string(password.expose())
                .send()
                .await
                .map_err(sdk_error("store secret", &cloud.secret_name))?;
            return Ok((password, true));
        }
        Err(e) => return Err(e),
    }
    let password = new_password(cloud)?;
    let mut request = client
        .create_secret()
        .name(&cloud.secret_name)
        .description(format!("provision: password of {}", cloud.identifier))
        .secret_string(password.expose());
    for (k, v) in project_tags(cloud) {
        request = request.tags(Tag::builder().key(k).value(v).build());
    }
    match request.send().await {
        Ok(_) => Ok((password, true)),
        // Another run stored one a moment ago: that one is the password.
        Err(e) if e.as_service_error().is_some_and(aws_sdk_secretsmanager::operation::create_secret::CreateSecretError::is_resource_exists_exception) => {
            let secret = get(client, cloud).await?.ok_or_else(|| Error::Aws {
                op: "read secret",
                target: cloud.secret_name.clone(),
                code: None,
                message: "it exists but has no value".into(),
            })?;
            Ok((secret, false))
        }
        Err(e) => Err(sdk_error("create secret", &cloud.secret_name)(e)),
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
