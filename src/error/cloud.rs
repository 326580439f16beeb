//! The wording of the errors of AWS: reaching it, its refusals and the hints they call for, states it will not leave.

use std::fmt::Write as _;

use super::{AwsMissing, Error};

/// Writes `error` if it is one of this area's; `Error::render_with` decides which area.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per error variant: the wording of each error of this area in one place"
)]
pub(super) fn render(error: &Error, verbose: bool, out: &mut String) {
    match error {
        Error::AwsUnavailable { missing, reason } => {
            let (what, hint) = match missing {
                AwsMissing::Region => (
                    "a region",
                    "set `x-provision: {cloud: {region: eu-west-1}}`, or `AWS_REGION`",
                ),
                AwsMissing::Credentials => (
                    "AWS credentials",
                    "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`",
                ),
                AwsMissing::ValidCredentials => (
                    "valid AWS credentials",
                    "refresh or fix the credentials (`aws sts get-caller-identity` shows who you are)",
                ),
                AwsMissing::Endpoint => (
                    "the AWS endpoint",
                    "check the network; for an emulator, AWS_ENDPOINT_URL (see localstack/README.md)",
                ),
            };
            let _ = writeln!(out, "error: cannot reach {what}");
            // The SDK's top error ("dispatch failure") says little; its innermost cause
            // (connection refused, no credentials in the chain) is what to act on.
            let _ = writeln!(out, "Caused by: {}", super::one_line(&**reason));
            let _ = writeln!(out, "hint: {hint}");
        }
        Error::Aws {
            op,
            target,
            code,
            message,
            source,
        } => {
            let code_text = code
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            let _ = writeln!(out, "error: AWS could not {op} `{target}`{code_text}");
            if !message.is_empty() {
                let _ = writeln!(out, "Caused by: {message}");
            }
            // The SDK's error and what lies under it (HTTP, connection), with `-v`.
            if verbose {
                let mut cause: Option<&(dyn std::error::Error + 'static)> =
                    source.as_deref().map(|s| s as _);
                while let Some(c) = cause {
                    let _ = writeln!(out, "Caused by: {c}");
                    cause = c.source();
                }
            }
            if let Some(action) = denied_action(code.as_deref(), message) {
                let _ = writeln!(
                    out,
                    "hint: the credentials may not call `{action}`: `provision iam-policy` prints the policy this manifest needs"
                );
            } else if let Some(hint) = aws_hint(code.as_deref(), message) {
                let _ = writeln!(out, "hint: {hint}");
            }
        }
        Error::CloudTerminal {
            resource,
            identifier,
            status,
            hint,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: AWS reports `{identifier}` as `{status}`, which it does not leave on its own"
            );
            let _ = writeln!(out, "hint: {hint}");
        }
        Error::NoNetwork { region } => {
            let _ = writeln!(
                out,
                "error: the account has no default VPC in {region} and the manifest names no subnets: there is no network to create the databases in"
            );
            let _ = writeln!(
                out,
                "hint: set `x-provision: {{cloud: {{subnet_ids: [subnet-..., subnet-...], allow_from: [sg-... or 10.0.0.0/16]}}}}` (subnets in at least two availability zones); nothing was created"
            );
        }
        Error::UnsafeChange {
            resource,
            identifier,
            changes,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: the manifest asks for changes to `{identifier}` that provision does not make on its own"
            );
            for c in changes {
                let why = c.why.map(|w| format!(" ({w})")).unwrap_or_default();
                let _ = writeln!(out, "  {}: {} -> {}{why}", c.field, c.from, c.to);
            }
            let _ = writeln!(
                out,
                "hint: an engine change, a major version upgrade or a smaller disk needs a planned migration (snapshot, upgrade or restore into a new instance); revert the manifest to keep the database as it is"
            );
        }
        Error::CloudTimeout {
            resource,
            identifier,
            status,
            minutes,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: `{identifier}` is still `{status}` after {minutes} min"
            );
            let _ = writeln!(
                out,
                "hint: AWS keeps working on it; run `provision --cloud` again to keep waiting (it adopts the resource), or raise `--timeout`"
            );
        }
        Error::DeletionProtected { identifiers } => {
            let _ = writeln!(
                out,
                "error: deletion protection is on for {}; nothing was deleted",
                identifiers.join(", ")
            );
            let _ = writeln!(
                out,
                "hint: set `x-provision: {{cloud: {{deletion_protection: false}}}}` on those databases and run `provision --cloud`, then `provision destroy --cloud`"
            );
        }
        Error::NotOurs { identifier, owner } => {
            match owner {
                Some(owner) => {
                    let _ = writeln!(
                        out,
                        "error: `{identifier}` belongs to `{owner}` (its `provision:` tags), not to this database; provision leaves it alone"
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "error: `{identifier}` exists but was not created by provision (no `provision:` tags); provision leaves it alone"
                    );
                }
            }
            let _ = writeln!(
                out,
                "hint: rename the service or the project (`-p`, `x-provision.project`) so the identifier `{{project}}-{{service}}` is free"
            );
        }
        Error::Restore {
            resource,
            identifier,
            problem,
        } => restore(resource, identifier, problem, out),
        Error::RdsBundle { path, problem } => {
            let _ = writeln!(
                out,
                "error: `PROVISION_RDS_CA_BUNDLE` names `{}`, which {problem}",
                path.display()
            );
            let _ = writeln!(
                out,
                "hint: point it at a PEM file of the CA certificates your RDS endpoints chain to (AWS publishes a bundle per partition: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html), or unset it to trust the bundle built into provision"
            );
        }
        _ => {}
    }
}

/// The IAM action an `AccessDenied` names ("... is not authorized to perform:
/// rds:CreateDBInstance on resource ...").
fn denied_action(code: Option<&str>, message: &str) -> Option<String> {
    let code = code.unwrap_or_default();
    if !(code.starts_with("AccessDenied") || code.contains("Unauthorized")) {
        return None;
    }
    let (_, rest) = message.split_once("perform: ")?;
    let action: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect();
    action.contains(':').then_some(action)
}

/// The request parameter an `InvalidParameterValue`/`InvalidParameterCombination` message
/// names: "The parameter MasterUsername is not a valid identifier", "MasterUsername admin
/// cannot be used as it is a reserved word used by the engine", "Value: 2 is not a valid
/// value for parameter rds.force_ssl"; else the first word spelt like an API parameter
/// (`DBInstanceClass`: capitalised, two capitals or more). `None` when nothing fits.
pub(super) fn named_parameter(message: &str) -> Option<String> {
    let trim = |w: &str| {
        w.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .trim_end_matches('.')
            .to_owned()
    };
    let words: Vec<&str> = message.split_whitespace().collect();
    // "parameter X", but not "parameter group X" (a DB parameter group's name).
    let after_parameter = words.windows(2).find_map(|pair| {
        let next = trim(pair[1]);
        (pair[0].eq_ignore_ascii_case("parameter")
            && !matches!(next.as_str(), "group" | "groups" | "value" | "values")
            && next.chars().any(|c| c.is_ascii_alphabetic()))
        .then_some(next)
    });
    if after_parameter.is_some() {
        return after_parameter;
    }
    words.iter().map(|w| trim(w)).find(|w| {
        w.starts_with(|c: char| c.is_ascii_uppercase())
            && w.chars().all(|c| c.is_ascii_alphanumeric())
            && w.chars().filter(char::is_ascii_uppercase).count() >= 2
            && w.chars().any(|c| c.is_ascii_lowercase())
    })
}

/// Where the manifest sets what an RDS or ElastiCache request parameter carries.
fn manifest_setting(parameter: &str) -> Option<&'static str> {
    Some(match parameter {
        "MasterUsername" => {
            "the user name (`x-provision.username`, or the image's variable such as `POSTGRES_USER`)"
        }
        "DBName" => {
            "the database name (`x-provision.database`, or the image's variable such as `POSTGRES_DB`)"
        }
        "DBInstanceClass" | "CacheNodeType" => "`x-provision.cloud.class`",
        "AllocatedStorage" => "`x-provision.cloud.storage_gb`",
        "MaxAllocatedStorage" => "`x-provision.cloud.max_storage_gb`",
        "EngineVersion" => "the version (the image tag or `x-provision.version`)",
        "BackupRetentionPeriod" => "`x-provision.cloud.backup_retention_days`",
        "MultiAZ" => "`x-provision.cloud.multi_az`",
        "ReplicasPerNodeGroup" | "NumCacheClusters" => "`x-provision.cloud.replicas`",
        "DBSubnetGroupName" | "CacheSubnetGroupName" | "SubnetIds" => {
            "`x-provision.cloud.subnet_ids`"
        }
        "VpcSecurityGroupIds" | "SecurityGroupIds" => "`x-provision.cloud.allow_from`",
        _ => return None,
    })
}

/// Advice for the AWS errors people meet most.
pub(super) fn aws_hint(
    code: Option<&str>,
    message: &str,
) -> Option<std::borrow::Cow<'static, str>> {
    let code = code.unwrap_or_default();
    if code == "InvalidParameterCombination" || code == "InvalidParameterValue" {
        return Some(match named_parameter(message) {
            Some(parameter) => match manifest_setting(&parameter) {
                Some(setting) => format!(
                    "AWS refused `{parameter}`: change {setting} to a value AWS takes for this engine (`provision doctor --cloud` checks the rules it knows)"
                )
                .into(),
                None => format!(
                    "AWS refused `{parameter}`: check the setting that gives it against what the engine supports in this region"
                )
                .into(),
            },
            None => "AWS rejected a setting: check `x-provision.cloud` (class, version, storage) against what the engine supports in this region".into(),
        });
    }
    aws_hint_fixed(code, message).map(std::borrow::Cow::Borrowed)
}

fn aws_hint_fixed(code: &str, message: &str) -> Option<&'static str> {
    if code.contains("Quota") || code.contains("LimitExceeded") {
        Some(
            "an account quota is reached: delete unused resources or ask AWS for a higher quota (Service Quotas console)",
        )
    } else if code.contains("InsufficientDBInstanceCapacity")
        || code.contains("InsufficientCacheClusterCapacity")
    {
        Some(
            "AWS has no capacity for this class in this zone right now: try another `class`, or later",
        )
    } else if code.contains("Throttl") || code == "RequestLimitExceeded" {
        Some(
            "AWS is throttling this account; provision retried with backoff. Run it again in a minute",
        )
    } else if code == "AccessDenied"
        || code == "AccessDeniedException"
        || code.contains("Unauthorized")
    {
        Some(
            "the credentials lack a permission: `provision iam-policy` prints the policy this manifest needs",
        )
    } else if message.contains("region") || code == "InvalidClientTokenId" {
        Some("check the region (`x-provision.cloud.region` or AWS_REGION) and the credentials")
    } else {
        None
    }
}

/// Why a stage's first create cannot be restored from `from_snapshot` (`cloud::restore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotProblem {
    /// `latest-of:STAGE` and that stage has neither the instance nor a snapshot of it.
    SourceMissing { stage: String, source: String },
    /// The source identifier is taken by someone else's resource.
    SourceNotOurs {
        source: String,
        owner: Option<String>,
    },
    /// The source is there, but no snapshot of it is `available` (`pending`: those still
    /// being made, with their status).
    NoneAvailable {
        stage: String,
        source: String,
        pending: Vec<String>,
    },
    /// A named snapshot that AWS does not have.
    NotFound { snapshot: String },
    /// A named snapshot that is not `available` yet.
    NotAvailable { snapshot: String, status: String },
    /// The snapshot cannot become this database as the manifest describes it.
    Mismatch {
        snapshot: String,
        what: &'static str,
        have: String,
        want: String,
    },
}

fn restore(resource: &str, identifier: &str, problem: &SnapshotProblem, out: &mut String) {
    let head = format!("error: `{resource}` ({identifier}) cannot be created from a snapshot");
    let (why, hint) = match problem {
        SnapshotProblem::SourceMissing { stage, source } => (
            format!("stage `{stage}` has no `{source}` and no snapshot of it"),
            format!(
                "bring the source stage up first (`provision up --cloud --stage {stage}`), or set `from_snapshot` to a snapshot identifier"
            ),
        ),
        SnapshotProblem::SourceNotOurs { source, owner } => (
            match owner {
                Some(owner) => format!("`{source}` belongs to `{owner}` (its `provision:` tags), not to this project"),
                None => format!("`{source}` was not created by provision (no `provision:` tags)"),
            },
            "name a snapshot of your own in `from_snapshot`".to_owned(),
        ),
        SnapshotProblem::NoneAvailable {
            stage,
            source,
            pending,
        } => (
            if pending.is_empty() {
                format!("`{source}` (stage `{stage}`) has no snapshot yet")
            } else {
                format!(
                    "no snapshot of `{source}` (stage `{stage}`) is available yet: {}",
                    pending.join(", ")
                )
            },
            if pending.is_empty() {
                format!(
                    "take one (`aws rds create-db-snapshot --db-instance-identifier {source} --db-snapshot-identifier {source}-seed`, or `aws elasticache create-snapshot --replication-group-id {source} --snapshot-name {source}-seed`), or wait for the first automated backup"
                )
            } else {
                "run `provision up --cloud` again once the snapshot is `available`".to_owned()
            },
        ),
        SnapshotProblem::NotFound { snapshot } => (
            format!("AWS has no snapshot `{snapshot}` in this account and region"),
            "check the identifier (`aws rds describe-db-snapshots`, `aws elasticache describe-snapshots`); a shared snapshot is named by its ARN".to_owned(),
        ),
        SnapshotProblem::NotAvailable { snapshot, status } => (
            format!("snapshot `{snapshot}` is `{status}`, not `available`"),
            "run `provision up --cloud` again once it is `available`".to_owned(),
        ),
        SnapshotProblem::Mismatch {
            snapshot,
            what,
            have,
            want,
        } => (
            format!("snapshot `{snapshot}` has {what} {have}; the manifest asks for {want}"),
            match *what {
                "engine" | "major version" => "seed from a snapshot of the same engine and major version (upgrade the source stage first), or change the manifest's version".to_owned(),
                "storage" => "set `x-provision.cloud.storage_gb` to at least the snapshot's size: a restore cannot allocate less".to_owned(),
                "storage encryption" => "copy the snapshot with encryption (`aws rds copy-db-snapshot --kms-key-id ...`) and name the copy in `from_snapshot`".to_owned(),
                _ => "a restored instance keeps the snapshot's master user: set `x-provision.username` to it, or seed from another snapshot".to_owned(),
            },
        ),
    };
    let _ = writeln!(out, "{head}: {why}");
    let _ = writeln!(out, "hint: {hint}");
}
