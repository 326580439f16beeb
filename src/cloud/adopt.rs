//! `provision adopt` and `provision release`: bring an RDS instance or ElastiCache
//! replication group made outside provision under the manifest, and hand it back.
//!
//! Provision has no state file, so an adoption is remembered in AWS: our own secret
//! `provision/{project}/{db}` (the default stage's name) carries `provision:identifier` (the
//! resource's own identifier, kept as it is) and, when the user linked a secret of theirs,
//! `provision:linked-secret` (its ARN). Every cloud command reads these records with one
//! ListSecrets and then finds the resource under its real identifier (`resolve`); the
//! resource itself carries the same `provision:*` tags as ours, which is what proves it
//! is this project's. `release` removes those tags and marks the record
//! `provision:released`: kept, so that no credential is lost, and no longer followed.

use crate::catalog::CloudService;
use crate::cloud::aws::{self, Cloud, Placement};
use crate::cloud::diff::{Ownership, diff};
use crate::deadline::Deadline;
use crate::error::{AdoptError, Error};
use crate::names::{TAG_IDENTIFIER, TAG_LINKED_SECRET, TAG_PREFIX, TAG_PROJECT, TAG_RELEASED};
use crate::plan::{CloudPlan, Plan, Target};
use crate::progress::Progress;
use crate::secret::Secret;
use crate::session::Session;

pub use crate::plan::Adopted;

/// One secret as ListSecrets has it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub scheduled: bool,
    pub tags: Vec<(String, String)>,
}

/// Our record of an adoption (or of a release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub resource: String,
    pub secret_name: String,
    pub identifier: String,
    pub linked_secret: Option<String>,
    pub released: bool,
    /// Scheduled for deletion (by `destroy`): not followed.
    pub scheduled: bool,
}

/// The records among a project's secrets: default-stage names (`provision/{project}/{db}`,
/// no further `/`), this project's tag, and an identifier.
pub fn records(project: &str, listed: &[Listed]) -> Vec<Record> {
    let prefix = crate::names::secret_prefix(project);
    listed
        .iter()
        .filter_map(|s| {
            // ListSecrets' name filter ignores case: exact names only.
            let resource = s.name.strip_prefix(&prefix)?;
            if resource.is_empty() || resource.contains('/') {
                return None;
            }
            let tag = |key: &str| s.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            if tag(TAG_PROJECT).map(String::as_str) != Some(project) {
                return None;
            }
            Some(Record {
                resource: resource.to_owned(),
                secret_name: s.name.clone(),
                identifier: tag(TAG_IDENTIFIER)?.clone(),
                linked_secret: tag(TAG_LINKED_SECRET).cloned(),
                released: tag(TAG_RELEASED).is_some_and(|v| v == "true"),
                scheduled: s.scheduled,
            })
        })
        .collect()
}

/// The password a secret's value holds: the value itself, or the `password` of JSON like
/// the secrets RDS manages (`{"username": "...", "password": "..."}`). `None`: none there.
pub fn password_of(text: &str) -> Option<Secret> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        // A value that is not JSON after all is taken as written.
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) {
            return value
                .get("password")
                .and_then(serde_json::Value::as_str)
                .filter(|p| !p.is_empty())
                .map(Secret::new);
        }
    }
    (!text.is_empty()).then(|| Secret::new(text))
}

/// A Secrets Manager secret ARN: `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`.
pub fn check_secret_arn(given: &str) -> Result<(), AdoptError> {
    let parts: Vec<&str> = given.splitn(7, ':').collect();
    let ok = parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5] == "secret"
        && !parts[6].is_empty();
    if ok {
        Ok(())
    } else {
        Err(AdoptError::BadSecretArn {
            given: given.to_owned(),
        })
    }
}

/// The tags adoption puts on the resource: exactly the `provision:*` tags our own carry
/// (project, resource, type; never the stage: adoption is for the default stage).
pub fn provision_tags(cloud: &CloudPlan) -> Vec<(String, String)> {
    cloud
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with(TAG_PREFIX))
        .cloned()
        .collect()
}

/// The keys `release` removes: the `provision:*` ones, and only those.
pub fn keys_to_release(tags: &[(String, String)]) -> Vec<String> {
    tags.iter()
        .filter(|(k, _)| k.starts_with(TAG_PREFIX))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Points the plan's databases at the resources they adopted; returns the records of those
/// it has that were released (`plan` and `up` refuse them: see `refuse_released`).
pub fn apply(plan: &mut Plan, records: &[Record]) -> Vec<Record> {
    let mut released = Vec::new();
    if !plan.stage.stage.is_default() {
        return released;
    }
    for r in &mut plan.resources {
        let Some(c) = r.cloud.as_mut() else { continue };
        let Some(rec) = records.iter().find(|rec| rec.resource == r.name) else {
            continue;
        };
        if rec.released {
            released.push(rec.clone());
        } else if !rec.scheduled {
            c.identifier.clone_from(&rec.identifier);
            c.adopted = Some(Adopted {
                linked_secret: rec.linked_secret.clone(),
            });
        }
    }
    released
}

/// Whether the plan has a database an adoption could be recorded for.
fn may_have_adoptions(plan: &Plan) -> bool {
    plan.stage.stage.is_default()
        && plan
            .resources
            .iter()
            .filter_map(|r| r.cloud.as_ref())
            .any(|c| c.service != CloudService::ElasticacheCluster)
}

/// Reads the records (one ListSecrets) and applies them: every command that finds cloud
/// resources calls this once after connecting.
pub async fn resolve(cloud: &Cloud, plan: &mut Plan) -> Result<Vec<Record>, Error> {
    if !may_have_adoptions(plan) {
        return Ok(Vec::new());
    }
    let records = cloud.adoption_records(&plan.project.name).await?;
    Ok(apply(plan, &records))
}

/// `plan` and `up` on a released database: refused, with the ways out (see README: a
/// released database is never replaced by a new empty one behind the user's back).
pub fn refuse_released(released: &[Record]) -> Result<(), Error> {
    match released.first() {
        Some(rec) => Err(AdoptError::Released {
            resource: rec.resource.clone(),
            identifier: rec.identifier.clone(),
            secret: rec.secret_name.clone(),
        }
        .into()),
        None => Ok(()),
    }
}

/// An adopted resource that is gone is not made anew under its name (by `up`): that would
/// be a new, empty database where the user's was.
pub fn still_there(
    resource: &str,
    cloud: &CloudPlan,
    observed: Option<&crate::cloud::diff::Observed>,
) -> Result<(), Error> {
    if observed.is_none() && cloud.adopted.is_some() {
        return Err(AdoptError::Vanished {
            resource: resource.to_owned(),
            identifier: cloud.identifier.clone(),
        }
        .into());
    }
    Ok(())
}

/// Where an adopted database's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A secret of the user's (`--secret-arn`, or the one RDS manages for the instance).
    Linked(String),
    /// A new password set on the database now, stored in our secret.
    Reset,
    /// The one our secret already holds (kept through a release).
    Kept,
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct AdoptArgs {
    pub database: String,
    pub identifier: Option<String>,
    pub secret_arn: Option<String>,
    pub reset_password: bool,
    pub yes: bool,
}

impl AdoptArgs {
    /// Checks what needs no AWS: the ARN's shape, and the identifier's (AWS's rules for
    /// the kind).
    pub fn check(&self, service: CloudService) -> Result<(), Error> {
        if let Some(arn) = &self.secret_arn {
            check_secret_arn(arn)?;
        }
        if service == CloudService::ElasticacheCluster {
            return Err(AdoptError::Unsupported {
                resource: self.database.clone(),
                kind: aws::kind(service),
            }
            .into());
        }
        Ok(())
    }
}

fn database<'a>(plan: &'a Plan, name: &str) -> Result<&'a CloudPlan, Error> {
    plan.resource(name)
        .and_then(|r| r.cloud.as_ref())
        .ok_or_else(|| Error::UnknownDatabase {
            name: name.to_owned(),
            known: plan.resources.iter().map(|r| r.name.clone()).collect(),
        })
}

fn default_stage(plan: &Plan) -> Result<(), Error> {
    if plan.stage.stage.is_default() {
        Ok(())
    } else {
        Err(AdoptError::NotDefaultStage {
            stage: plan.stage.stage.name().to_owned(),
        }
        .into())
    }
}

/// `provision adopt --cloud DB --id ID`: shows what adopting means (tags, credentials, and
/// what `up` would then change), asks, then tags and links. Returns whether it went ahead.
#[allow(
    clippy::too_many_lines,
    reason = "the checks, the preview and the steps of one adoption, in the order they run"
)]
pub async fn adopt(session: &Session, args: &AdoptArgs) -> Result<bool, Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    default_stage(&plan)?;
    let planned = database(&plan, &args.database)?.clone();
    args.check(planned.service)?;
    let resource = plan
        .resource(&args.database)
        .ok_or_else(|| Error::UnknownDatabase {
            name: args.database.clone(),
            known: Vec::new(),
        })?
        .clone();
    let cloud = super::connect(&plan, session.verbose > 0).await?;
    let records = cloud.adoption_records(&plan.project.name).await?;
    let record = records
        .iter()
        .find(|r| r.resource == args.database && !r.scheduled);
    // `--id`, else the manifest's `adopt`, else what an earlier adoption recorded.
    let identifier = args
        .identifier
        .clone()
        .or_else(|| planned.config.adopt.clone())
        .or_else(|| record.map(|r| r.identifier.clone()))
        .ok_or_else(|| AdoptError::NoIdentifier {
            resource: args.database.clone(),
        })?;
    let kind = aws::kind(planned.service);
    // One database, one resource: not while another adoption or our own is in place.
    if let Some(rec) = record.filter(|r| !r.released && r.identifier != identifier) {
        return Err(AdoptError::AlreadyHas {
            resource: args.database.clone(),
            identifier: rec.identifier.clone(),
        }
        .into());
    }
    if planned.identifier != identifier
        && let Some(own) = cloud.observe(&planned).await?
        && own.ownership(&planned.project, &planned.stage, &planned.resource) == Ownership::Ours
    {
        return Err(AdoptError::AlreadyHas {
            resource: args.database.clone(),
            identifier: planned.identifier.clone(),
        }
        .into());
    }
    let observed = cloud
        .observe_identifier(&planned, &identifier)
        .await?
        .ok_or_else(|| AdoptError::Missing {
            resource: args.database.clone(),
            identifier: identifier.clone(),
            kind,
        })?;
    let found = observed.engine.clone().unwrap_or_default();
    if !found.eq_ignore_ascii_case(&planned.engine) {
        return Err(AdoptError::EngineDiffers {
            resource: args.database.clone(),
            identifier,
            found,
            wanted: planned.engine.clone(),
        }
        .into());
    }
    match observed.ownership(&planned.project, &planned.stage, &planned.resource) {
        Ownership::Foreign(Some(owner)) => {
            return Err(AdoptError::Foreign { identifier, owner }.into());
        }
        Ownership::Unknown => {
            return Err(Error::Aws {
                op: "read the tags of",
                target: identifier,
                code: None,
                message: format!(
                    "it is `{}`: ElastiCache lists tags of available resources only; try again once it is available",
                    observed.status
                ),
                source: None,
            });
        }
        Ownership::Foreign(None) | Ownership::Ours => {}
    }
    let credential = if let Some(arn) = &args.secret_arn {
        Credential::Linked(arn.clone())
    } else if args.reset_password {
        Credential::Reset
    } else if let Some(arn) = record.and_then(|r| r.linked_secret.clone()) {
        Credential::Linked(arn)
    } else if let Some(rec) = record
        && cloud.record_password(&rec.secret_name).await?.is_some()
    {
        Credential::Kept
    } else if planned.service == CloudService::Rds
        && let Some(arn) = cloud.managed_master_secret(&identifier).await
    {
        Credential::Linked(arn)
    } else {
        return Err(AdoptError::NoCredential {
            resource: args.database.clone(),
            identifier,
        }
        .into());
    };
    // Refused before anything changes: a secret that does not open the database is no link.
    if let Credential::Linked(arn) = &credential {
        cloud.linked_password(arn).await?;
    }
    let mut adopted = planned.clone();
    adopted.identifier.clone_from(&identifier);
    adopted.adopted = Some(Adopted {
        linked_secret: match &credential {
            Credential::Linked(arn) => Some(arn.clone()),
            _ => None,
        },
    });
    let owned = if adopted.allow_from.is_empty() {
        None
    } else {
        cloud
            .owned_security_group(&plan.project.name, &plan.stage.stage)
            .await?
    };
    let placement = Placement::of(&adopted, owned.as_deref(), &[]);
    let changes = diff(&aws::desired(&resource, &adopted, &placement), &observed);
    let tags = provision_tags(&adopted);
    // The preview: what is tagged, where the credentials will live, what `up` then changes.
    let mut preview = format!(
        "adopt {}: {kind} {identifier} ({found}, {}{})\n  tags it gets: {}\n  credentials: {}\n",
        args.database,
        observed.status,
        match (&observed.address, observed.port) {
            (Some(h), Some(p)) => format!(", {h}:{p}"),
            _ => String::new(),
        },
        tags.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        match &credential {
            Credential::Linked(arn) => format!(
                "your secret {arn} (read, never changed or deleted), recorded in {}",
                adopted.secret_name
            ),
            Credential::Reset => format!(
                "a NEW password, set now on {identifier} ({}) and stored in secret {}",
                if adopted.service == CloudService::Rds {
                    "ModifyDBInstance MasterUserPassword: the old one stops working"
                } else {
                    "AUTH token ROTATE: the old token keeps working beside it"
                },
                adopted.secret_name
            ),
            Credential::Kept => format!("the password kept in secret {}", adopted.secret_name),
        }
    );
    if changes.is_empty() {
        preview.push_str("  it matches the manifest: `provision --cloud` would change nothing\n");
    } else {
        preview.push_str("  then `provision --cloud` would change:\n");
        for c in &changes {
            preview.push_str(&format!(
                "    {} {} -> {}{}\n",
                c.field,
                c.from,
                c.to,
                if c.safe {
                    ""
                } else {
                    " (held: `up` refuses it)"
                }
            ));
        }
    }
    preview.push_str("  identifier kept as it is; `provision release --cloud` undoes this\n");
    if !session.quiet || !args.yes {
        eprint!("{preview}");
    }
    if !args.yes {
        let what = format!("adopting {identifier} as {}", args.database);
        if !session.confirm(
            what,
            "This tags it and links its credentials as shown.",
            &plan.project.name,
            "--yes",
        )? {
            return Ok(false);
        }
    }
    let progress = Progress::new(session.quiet, &[]);
    let linked = adopted
        .adopted
        .as_ref()
        .and_then(|a| a.linked_secret.clone());
    // The record first: a run that stops after it leaves an adoption the next command
    // follows (and a reset `up` finishes, from the pending tag), never a tagged resource
    // no command can find.
    let password = match credential {
        Credential::Reset => Some(
            Secret::generate()
                .map_err(|e| aws::aws_error("generate a password for", &identifier, e))?,
        ),
        _ => None,
    };
    cloud
        .write_record(&adopted, &identifier, linked.as_deref(), password.as_ref())
        .await?;
    let arn = observed.arn.clone().ok_or_else(|| Error::Aws {
        op: "tag",
        target: identifier.clone(),
        code: None,
        message: "AWS reported no ARN for it".into(),
        source: None,
    })?;
    cloud
        .add_resource_tags(adopted.service, &arn, &tags)
        .await?;
    if let Some(password) = &password {
        progress.note(&format!("setting a new password on {identifier}"));
        let timeout = std::time::Duration::from_secs(session.timeout.unwrap_or(2400));
        cloud
            .reset_adopted(&adopted, password, &progress, Deadline::after(timeout))
            .await?;
        cloud.settle_record(&adopted.secret_name).await?;
    }
    progress.note(&format!(
        "adopted {kind} {identifier} as {}: tagged {}, credentials {}",
        args.database,
        TAG_PREFIX.trim_end_matches(':').to_owned() + ":*",
        match &linked {
            Some(arn) => format!("in your secret {arn}"),
            None => format!("in secret {}", adopted.secret_name),
        }
    ));
    Ok(true)
}

/// `provision release --cloud DB`: removes provision's tags from the resource, keeps it
/// running, and keeps our record (marked released) so that its credentials are not lost.
pub async fn release(session: &Session, database_name: &str, yes: bool) -> Result<bool, Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    default_stage(&plan)?;
    let planned = database(&plan, database_name)?.clone();
    let cloud = super::connect(&plan, session.verbose > 0).await?;
    let records = cloud.adoption_records(&plan.project.name).await?;
    let record = records
        .iter()
        .find(|r| r.resource == database_name && !r.scheduled);
    // A record marked released whose resource still has our tags (an interrupted release)
    // is finished here.
    let identifier = record.map_or_else(|| planned.identifier.clone(), |r| r.identifier.clone());
    let observed = cloud.observe_identifier(&planned, &identifier).await?;
    let Some(observed) = observed.filter(|o| {
        o.ownership(&planned.project, &planned.stage, &planned.resource) == Ownership::Ours
    }) else {
        return Err(AdoptError::NotOurs {
            resource: database_name.to_owned(),
            identifier,
        }
        .into());
    };
    let keys = keys_to_release(observed.tags.as_deref().unwrap_or_default());
    let kind = aws::kind(planned.service);
    let linked = record.and_then(|r| r.linked_secret.clone());
    let credentials = match (&linked, planned.service) {
        (Some(arn), _) => format!("your secret {arn} (untouched)"),
        (None, CloudService::ElasticacheCluster) => "none (Memcached has no password)".into(),
        (None, _) => format!(
            "secret {} (kept, tagged {TAG_RELEASED}: delete it once you have the password elsewhere)",
            planned.secret_name
        ),
    };
    let endpoint = match (&observed.address, observed.port) {
        (Some(h), Some(p)) => format!(" at {h}:{p}"),
        _ => String::new(),
    };
    if !yes || !session.quiet {
        eprint!(
            "release {database_name}: {kind} {identifier}{endpoint} keeps running\n  tags removed: {}\n  credentials: {credentials}\n  afterwards `plan`/`up --cloud` refuse `{database_name}` until it leaves the manifest or is adopted again\n",
            keys.join(", ")
        );
    }
    if !yes {
        let what = format!("releasing {identifier}");
        if !session.confirm(
            what,
            "This removes provision's tags from it; nothing is deleted.",
            &plan.project.name,
            "--yes",
        )? {
            return Ok(false);
        }
    }
    let arn = observed.arn.clone().ok_or_else(|| Error::Aws {
        op: "untag",
        target: identifier.clone(),
        code: None,
        message: "AWS reported no ARN for it".into(),
        source: None,
    })?;
    if planned.service != CloudService::ElasticacheCluster {
        cloud
            .release_record(&planned.secret_name, &identifier)
            .await?;
    }
    cloud
        .remove_resource_tags(planned.service, &arn, &keys)
        .await?;
    let progress = Progress::new(session.quiet, &[]);
    progress.note(&format!(
        "released {kind} {identifier}{endpoint}: it is yours now (running, untagged; provision no longer changes, reports or deletes it); credentials: {credentials}"
    ));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, tags: &[(&str, &str)]) -> Listed {
        Listed {
            name: name.into(),
            scheduled: false,
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn records_are_this_projects_default_stage_secrets_with_an_identifier() {
        let found = records(
            "shop",
            &[
                listed(
                    "provision/shop/db",
                    &[
                        (TAG_PROJECT, "shop"),
                        (TAG_IDENTIFIER, "legacy-pg"),
                        (
                            TAG_LINKED_SECRET,
                            "arn:aws:secretsmanager:eu-west-1:1:secret:x",
                        ),
                    ],
                ),
                // Ours, never adopted.
                listed("provision/shop/kv", &[(TAG_PROJECT, "shop")]),
                // A stage's secret, another project's, a spoofed tag.
                listed(
                    "provision/shop/pr-1/db",
                    &[(TAG_PROJECT, "shop"), (TAG_IDENTIFIER, "x")],
                ),
                listed(
                    "provision/shopx/db",
                    &[(TAG_PROJECT, "shop"), (TAG_IDENTIFIER, "x")],
                ),
                listed(
                    "provision/shop/mq",
                    &[(TAG_PROJECT, "other"), (TAG_IDENTIFIER, "x")],
                ),
                listed(
                    "provision/shop/old",
                    &[
                        (TAG_PROJECT, "shop"),
                        (TAG_IDENTIFIER, "old-pg"),
                        (TAG_RELEASED, "true"),
                    ],
                ),
            ],
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].identifier, "legacy-pg");
        assert!(found[0].linked_secret.is_some() && !found[0].released);
        assert!(found[1].released && found[1].resource == "old");
    }

    #[test]
    fn a_secret_holds_a_password_as_a_string_or_as_rds_json() {
        assert_eq!(password_of("s3cret").unwrap().expose(), "s3cret");
        assert_eq!(
            password_of(r#"{"username":"app","password":"p@ss"}"#)
                .unwrap()
                .expose(),
            "p@ss"
        );
        assert!(password_of(r#"{"username":"app"}"#).is_none());
        assert!(password_of(r#"{"password":""}"#).is_none());
        assert!(password_of("").is_none());
        // Not JSON after all: the value itself.
        assert_eq!(password_of("{not json").unwrap().expose(), "{not json");
    }

    #[test]
    fn secret_arns_are_checked_before_any_call() {
        assert!(
            check_secret_arn(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-AbCdEf"
            )
            .is_ok()
        );
        for bad in [
            "my-secret",
            "arn:aws:s3:::bucket",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:secretsmanager::123:secret:x",
        ] {
            assert!(check_secret_arn(bad).is_err(), "{bad}");
        }
        let args = AdoptArgs {
            database: "mc".into(),
            ..AdoptArgs::default()
        };
        assert!(matches!(
            args.check(CloudService::ElasticacheCluster),
            Err(Error::Adopt(e)) if matches!(*e, AdoptError::Unsupported { .. })
        ));
    }

    #[test]
    fn only_provision_tags_are_put_on_and_taken_off() {
        let tags = vec![
            ("team".to_owned(), "core".to_owned()),
            (TAG_PROJECT.to_owned(), "shop".to_owned()),
            ("provision:resource".to_owned(), "db".to_owned()),
            ("aws:cloudformation:stack-name".to_owned(), "s".to_owned()),
        ];
        assert_eq!(
            keys_to_release(&tags),
            [TAG_PROJECT.to_owned(), "provision:resource".to_owned()]
        );
    }

    #[test]
    fn the_manifest_names_the_adopted_identifier_on_the_default_stage_only() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let manifest = |text: &str| {
            crate::manifest::from_bytes(
                text.as_bytes(),
                "compose.yaml".into(),
                "shop".into(),
                &|_| None,
            )
            .unwrap()
        };
        let m = manifest(
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {adopt: Legacy-PG}}}\n",
        );
        let plan = crate::plan::plan(&m, &catalog, Target::Cloud, None).unwrap();
        let db = plan.resource("db").unwrap().cloud.clone().unwrap();
        assert_eq!(db.identifier, "legacy-pg");
        let stage = crate::model::stage::StagePlan {
            stage: crate::names::Stage::named("pr-1").unwrap(),
            ..crate::model::stage::StagePlan::default()
        };
        let staged = crate::plan::plan_staged(&m, &catalog, Target::Cloud, None, &stage).unwrap();
        assert_eq!(
            staged
                .resource("db")
                .unwrap()
                .cloud
                .as_ref()
                .unwrap()
                .identifier,
            "shop-pr-1-db"
        );
        // Wrong uses: an identifier AWS would refuse, Memcached; each with where it is.
        for (text, line) in [
            (
                "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {adopt: 'bad--id'}}\n",
                4,
            ),
            (
                "services:\n  mc:\n    image: 'memcached:1.6'\n    x-provision:\n      cloud: {adopt: old-mc}\n",
                5,
            ),
        ] {
            let err = crate::plan::plan(&manifest(text), &catalog, Target::Cloud, None)
                .unwrap_err()
                .render();
            assert!(err.contains(&format!("compose.yaml:{line}:")), "{err}");
            assert!(err.contains("adopt"), "{err}");
        }
    }

    #[test]
    fn plans_follow_adoptions_and_report_releases() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            b"x-provision: {cloud: {tags: {team: core}}}\nservices:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n",
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let mut plan = crate::plan::plan(&m, &catalog, Target::Cloud, None).unwrap();
        let db = plan.resource("db").unwrap().cloud.clone().unwrap();
        let tags = provision_tags(&db);
        assert!(tags.iter().all(|(k, _)| k.starts_with(TAG_PREFIX)) && tags.len() == 3);
        let rec = |resource: &str, identifier: &str, released: bool| Record {
            resource: resource.into(),
            secret_name: format!("provision/shop/{resource}"),
            identifier: identifier.into(),
            linked_secret: None,
            released,
            scheduled: false,
        };
        let released = apply(
            &mut plan,
            &[rec("db", "legacy-pg", false), rec("kv", "old-redis", true)],
        );
        let c = |n: &str| plan.resource(n).unwrap().cloud.clone().unwrap();
        assert_eq!(c("db").identifier, "legacy-pg");
        assert!(c("db").adopted.is_some());
        assert_eq!(c("kv").identifier, "shop-kv");
        assert_eq!(released.len(), 1);
        assert!(refuse_released(&released).is_err());
    }
}
