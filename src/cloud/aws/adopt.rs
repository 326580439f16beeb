//! The AWS side of `provision adopt` and `release`: our secret record of an adopted
//! resource (found by one ListSecrets per command), the tags on the resource, the user's
//! linked secret, and the password reset. What to do, and in which order, is decided in
//! `cloud::adopt`.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag as SecretTag};

use super::{Cloud, Observed, Orphan, sdk_error, secrets};
use crate::catalog::CloudService;
use crate::cloud::adopt::{Listed, Record, password_of};
use crate::error::{AdoptError, Error};
use crate::names::{TAG_IDENTIFIER, TAG_LINKED_SECRET, TAG_PASSWORD_PENDING, TAG_RELEASED};
use crate::plan::CloudPlan;
use crate::secret::Secret;

impl Cloud {
    /// The project's adoption records on the default stage, in one paginated ListSecrets
    /// (name prefix filter; ListSecrets returns each secret's tags).
    pub async fn adoption_records(&self, project: &str) -> Result<Vec<Record>, Error> {
        let prefix = crate::names::secret_prefix(project);
        let mut listed = Vec::new();
        let mut pages = self
            .secrets
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
                let Some(name) = s.name() else { continue };
                listed.push(Listed {
                    name: name.to_owned(),
                    scheduled: s.deleted_date().is_some(),
                    tags: s
                        .tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                });
            }
        }
        Ok(crate::cloud::adopt::records(project, &listed))
    }

    /// The resource under `identifier`, of the plan's kind.
    pub async fn observe_identifier(
        &self,
        cloud: &CloudPlan,
        identifier: &str,
    ) -> Result<Option<Observed>, Error> {
        let mut at = cloud.clone();
        identifier.clone_into(&mut at.identifier);
        self.observe(&at).await
    }

    /// The password in the user's secret (a plain string, or JSON with `password`): read
    /// now, so that a secret that cannot be used is refused before anything changes.
    pub async fn linked_password(&self, arn: &str) -> Result<Secret, Error> {
        let out = match self.secrets.get_secret_value().secret_id(arn).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = sdk_error("read secret", arn)(e);
                return Err(match &e {
                    Error::Aws { code, message, .. } => AdoptError::SecretUnusable {
                        arn: arn.to_owned(),
                        reason: format!(
                            "{}{message}",
                            code.as_deref()
                                .map(|c| format!("{c}: "))
                                .unwrap_or_default()
                        ),
                    }
                    .into(),
                    _ => e,
                });
            }
        };
        out.secret_string().and_then(password_of).ok_or_else(|| {
            AdoptError::SecretUnusable {
                arn: arn.to_owned(),
                reason: "it holds no password".into(),
            }
            .into()
        })
    }

    /// The secret RDS manages for the instance's master user (`ManageMasterUserPassword`),
    /// when it has one: a credential `adopt` can link without being told.
    pub async fn managed_master_secret(&self, identifier: &str) -> Option<String> {
        let out = self
            .rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .ok()?;
        out.db_instances()
            .first()?
            .master_user_secret()?
            .secret_arn()
            .map(str::to_owned)
    }

    /// Adds tags to an RDS instance or ElastiCache replication group (by ARN).
    pub async fn add_resource_tags(
        &self,
        service: CloudService,
        arn: &str,
        tags: &[(String, String)],
    ) -> Result<(), Error> {
        match service {
            CloudService::Rds => {
                let mut request = self.rds.add_tags_to_resource().resource_name(arn);
                for (k, v) in tags {
                    request =
                        request.tags(aws_sdk_rds::types::Tag::builder().key(k).value(v).build());
                }
                request
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk_error("tag", arn))
            }
            _ => {
                let mut request = self.elasticache.add_tags_to_resource().resource_name(arn);
                for (k, v) in tags {
                    request = request.tags(
                        aws_sdk_elasticache::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build(),
                    );
                }
                request
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk_error("tag", arn))
            }
        }
    }

    /// Removes the named tag keys (only ever `provision:*` ones) from the resource.
    pub async fn remove_resource_tags(
        &self,
        service: CloudService,
        arn: &str,
        keys: &[String],
    ) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        match service {
            CloudService::Rds => self
                .rds
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_error("untag", arn)),
            _ => self
                .elasticache
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_error("untag", arn)),
        }
    }

    /// Makes our record say "this database is `identifier`" (with the user's secret, when
    /// linked): created, restored from a scheduled deletion, or retagged. With `password`
    /// (a reset), it is stored as the value, tagged pending until the database has it.
    pub async fn write_record(
        &self,
        cloud: &CloudPlan,
        identifier: &str,
        linked: Option<&str>,
        password: Option<&Secret>,
    ) -> Result<(), Error> {
        let name = cloud.secret_name.as_str();
        let mut tags: Vec<(String, String)> = crate::cloud::adopt::provision_tags(cloud);
        tags.push((TAG_IDENTIFIER.into(), identifier.to_owned()));
        if let Some(arn) = linked {
            tags.push((TAG_LINKED_SECRET.into(), arn.to_owned()));
        }
        if password.is_some() {
            tags.push((TAG_PASSWORD_PENDING.into(), "true".into()));
        }
        let state = secrets::state(&self.secrets, name).await?;
        if state == secrets::SecretState::Missing {
            // A record of a linked secret holds no password: a note of where it is.
            let value = match password {
                Some(p) => p.expose().to_owned(),
                None => format!("linked: {}", linked.unwrap_or_default()),
            };
            let mut request = self
                .secrets
                .create_secret()
                .name(name)
                .description(format!("provision: adopted {identifier}"))
                .secret_string(value);
            for (k, v) in &tags {
                request = request.tags(SecretTag::builder().key(k).value(v).build());
            }
            return request
                .send()
                .await
                .map(|_| ())
                .map_err(sdk_error("create secret", name));
        }
        if state == secrets::SecretState::Scheduled {
            self.secrets
                .restore_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(sdk_error("restore secret", name))?;
        }
        // Stale marks of an earlier adoption or release go first.
        let mut obsolete = vec![TAG_RELEASED.to_owned()];
        if linked.is_none() {
            obsolete.push(TAG_LINKED_SECRET.to_owned());
        }
        self.secrets
            .untag_resource()
            .secret_id(name)
            .set_tag_keys(Some(obsolete))
            .send()
            .await
            .map_err(sdk_error("untag secret", name))?;
        let mut request = self.secrets.tag_resource().secret_id(name);
        for (k, v) in &tags {
            request = request.tags(SecretTag::builder().key(k).value(v).build());
        }
        request
            .send()
            .await
            .map_err(sdk_error("tag secret", name))?;
        if let Some(p) = password {
            self.secrets
                .put_secret_value()
                .secret_id(name)
                .secret_string(p.expose())
                .send()
                .await
                .map_err(sdk_error("store secret", name))?;
        }
        Ok(())
    }

    /// The stored password of our record (a reset's, or one kept through a release).
    pub async fn record_password(&self, name: &str) -> Result<Option<Secret>, Error> {
        let value = secrets::value(&self.secrets, name).await?;
        Ok((!value.expose().starts_with("linked: ")).then_some(value))
    }

    /// Clears the pending mark once the database has the password.
    pub async fn settle_record(&self, name: &str) -> Result<(), Error> {
        secrets::mark_pending(&self.secrets, name, false).await
    }

    /// Gives an adopted resource a new password: RDS at once; ElastiCache by ROTATE only, so
    /// that the token its clients use now keeps working beside the new one.
    pub async fn reset_adopted(
        &self,
        cloud: &CloudPlan,
        password: &Secret,
        progress: &crate::progress::Progress,
        deadline: crate::deadline::Deadline,
    ) -> Result<(), Error> {
        match cloud.service {
            CloudService::Rds => {
                super::rds::reset_password(&self.rds, &cloud.identifier, password).await?;
            }
            _ => {
                super::elasticache::token_step(
                    &self.elasticache,
                    &cloud.identifier,
                    password,
                    aws_sdk_elasticache::types::AuthTokenUpdateStrategyType::Rotate,
                )
                .await?;
            }
        }
        self.wait_available(&cloud.resource, cloud, progress, deadline, true)
            .await
            .map(|_| ())
    }

    /// Marks our record released: kept (its credentials stay), no longer followed. A
    /// database provision made itself gets its identifier recorded too, so that the record
    /// says what was handed back. No secret (Memcached): nothing to keep.
    pub async fn release_record(&self, name: &str, identifier: &str) -> Result<(), Error> {
        if secrets::state(&self.secrets, name).await? == secrets::SecretState::Missing {
            return Ok(());
        }
        self.secrets
            .tag_resource()
            .secret_id(name)
            .tags(SecretTag::builder().key(TAG_RELEASED).value("true").build())
            .tags(
                SecretTag::builder()
                    .key(TAG_IDENTIFIER)
                    .value(identifier)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error("tag secret", name))
    }

    /// Adopted replication groups whose identifiers do not start with `{project}-` (the
    /// orphan search reads only those), as `destroy` deletes them: proven by their tags.
    pub async fn adopted_caches(&self, clouds: &[&CloudPlan]) -> Result<Vec<Orphan>, Error> {
        let mut out = Vec::new();
        for c in clouds.iter().filter(|c| {
            c.adopted.is_some() && c.service == CloudService::ElasticacheReplicationGroup
        }) {
            let Some(o) = self.observe(c).await? else {
                continue;
            };
            if o.ownership(&c.project, &c.stage, &c.resource) == crate::cloud::diff::Ownership::Ours
            {
                out.push(Orphan {
                    identifier: c.identifier.clone(),
                    kind: super::kind(c.service),
                    resource: c.resource.clone(),
                    stage: c.stage.clone(),
                    expires_at: None,
                    created: None,
                    status: o.status,
                    deletion_protection: false,
                    service: Some(c.service),
                    billed: None,
                });
            }
        }
        Ok(out)
    }
}

/// The linked secret's password, for `env` and `run` (see `secrets::get`).
pub(super) async fn linked_value(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<Option<Secret>, Error> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(sdk_error("read secret", arn))?;
    Ok(out.secret_string().and_then(password_of))
}
