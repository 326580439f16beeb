//! The pure part of the cloud target: what AWS says about a resource ([`Observed`]), how it
//! differs from the manifest ([`diff`], field by field, as [`Change`]s), what `plan` will do
//! about it ([`Action`]), what a status means for waiting ([`Readiness`]), and which version
//! line a live version belongs to. No I/O: the plan, the AWS backend and the error renderer
//! all read these types, and this module imports nothing of theirs.

use crate::names::{Stage, TAG_PROJECT, TAG_RESOURCE, TAG_STAGE};
use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

use crate::catalog::CloudService;
use crate::model::CloudConfig;

/// What AWS says about one resource.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Observed {
    pub status: String,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub class: Option<String>,
    pub storage_gb: Option<u32>,
    pub max_storage_gb: Option<u32>,
    pub replicas: Option<u32>,
    pub multi_az: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub backup_retention_days: Option<u32>,
    /// RDS `IAMDatabaseAuthenticationEnabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_auth: Option<bool>,
    /// The VPC security groups (RDS reports them with the instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    /// RDS `PubliclyAccessible`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// The DB parameter group the instance is in (RDS `DBParameterGroups`, the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_group: Option<String>,
    #[serde(skip)]
    pub arn: Option<String>,
    /// What a serverless database reports beyond these (`cloud::serverless`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless: Option<crate::cloud::serverless::Live>,
    /// Its tags: who it belongs to. `None` when AWS would not tell yet (ElastiCache lists
    /// tags only of an `available` resource).
    #[serde(skip)]
    pub tags: Option<Vec<(String, String)>>,
}

/// Whose a resource with our identifier is, by its `provision:*` tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    Ours,
    /// Tagged for another project, stage or resource (`project/resource`, or
    /// `project/stage/resource` on a stage other than the default), or for no one.
    Foreign(Option<String>),
    /// Its tags cannot be read yet (a cache that is not `available`).
    Unknown,
}

impl Observed {
    pub fn ownership(&self, project: &str, stage: &Stage, resource: &str) -> Ownership {
        let Some(tags) = &self.tags else {
            return Ownership::Unknown;
        };
        let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        if crate::names::owned(tag, project, stage) && tag(TAG_RESOURCE) == Some(resource) {
            Ownership::Ours
        } else {
            Ownership::Foreign(tag(TAG_PROJECT).map(|p| {
                let stage = tag(TAG_STAGE).map(|s| format!("{s}/")).unwrap_or_default();
                format!("{p}/{stage}{}", tag(TAG_RESOURCE).unwrap_or("?"))
            }))
        }
    }

    pub fn readiness(&self) -> Readiness {
        readiness(&self.status)
    }
}

/// A field `up` compares and may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Engine,
    EngineVersion,
    Class,
    StorageGb,
    MaxStorageGb,
    Replicas,
    MultiAz,
    BackupRetentionDays,
    DeletionProtection,
    SecurityGroups,
    IamAuth,
    /// Aurora Serverless v2 scaling: minimum, maximum and auto-pause.
    Capacity,
    PubliclyAccessible,
    ParameterGroup,
}

impl Field {
    pub fn key(self) -> &'static str {
        match self {
            Self::Engine => "engine",
            Self::EngineVersion => "engine_version",
            Self::Class => "class",
            Self::StorageGb => "storage_gb",
            Self::MaxStorageGb => "max_storage_gb",
            Self::Replicas => "replicas",
            Self::MultiAz => "multi_az",
            Self::BackupRetentionDays => "backup_retention_days",
            Self::DeletionProtection => "deletion_protection",
            Self::SecurityGroups => "security_groups",
            Self::IamAuth => "iam_auth",
            Self::Capacity => "capacity",
            Self::PubliclyAccessible => "publicly_accessible",
            Self::ParameterGroup => "parameter_group",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One field that differs between the manifest and AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: Field,
    pub from: String,
    pub to: String,
    /// Applied in place by `up`; an unsafe one (engine, major version, storage shrink or a
    /// too small increase, a downgrade) is reported and left to a person.
    pub safe: bool,
    /// Why it is not safe, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'static str>,
}

impl Change {
    /// The change as `Error::UnsafeChange` reports it.
    pub fn held(&self) -> crate::error::HeldChange {
        crate::error::HeldChange {
            field: self.field.key(),
            from: self.from.clone(),
            to: self.to.clone(),
            why: self.why,
        }
    }
}

/// What `up` would do to one planned resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    #[serde(rename = "no change")]
    NoChange,
    Blocked,
    Conflict,
}

impl Action {
    pub fn decide(exists: bool, ownership: &Ownership, changes: &[Change]) -> Self {
        if matches!(ownership, Ownership::Foreign(_)) {
            Self::Conflict
        } else if !exists {
            Self::Create
        } else if changes.iter().any(|c| !c.safe) {
            Self::Blocked
        } else if changes.is_empty() {
            Self::NoChange
        } else {
            Self::Update
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::NoChange => "no change",
            Self::Blocked => "blocked",
            Self::Conflict => "conflict",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label())
    }
}

/// What a status means to someone waiting for the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Available,
    /// Not `available`, but serving: RDS `storage-optimization` after a storage change
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html:
    /// "the instance is operational").
    Usable,
    /// On its way (`creating`, `modifying`, `backing-up`, ...).
    Transitional,
    /// Being deleted: it will be gone, not available.
    Deleting,
    /// AWS will not get there on its own: waiting longer is pointless. The hint says what to do.
    Terminal(&'static str),
}

/// RDS (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status)
/// and ElastiCache (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.Stati.html)
/// statuses that do not change without a person.
pub fn readiness(status: &str) -> Readiness {
    match status {
        "available" => Readiness::Available,
        "storage-optimization" => Readiness::Usable,
        "deleting" | "deleted" => Readiness::Deleting,
        "failed" | "create-failed" => Readiness::Terminal(
            "AWS could not create it: read the events (`aws rds describe-events` / `aws elasticache describe-events`), delete it, and run `provision --cloud` again",
        ),
        "incompatible-parameters" => Readiness::Terminal(
            "a parameter does not fit the instance class or engine (memory settings, for example): fix the parameter group or the class",
        ),
        "incompatible-network" => Readiness::Terminal(
            "the subnets or security groups cannot hold it (no free IP addresses, a deleted subnet): fix `x-provision.cloud.subnet_ids`",
        ),
        "incompatible-option-group" | "incompatible-restore" | "incompatible-credentials" => {
            Readiness::Terminal(
                "AWS cannot apply its configuration: read the events, then fix or recreate it",
            )
        }
        "inaccessible-encryption-credentials"
        | "inaccessible-encryption-credentials-recoverable" => Readiness::Terminal(
            "its KMS key is disabled or not allowed: re-enable the key or restore its grants",
        ),
        "restore-failed" => Readiness::Terminal(
            "the restore failed: delete it and restore again from another snapshot",
        ),
        "storage-full" => Readiness::Terminal(
            "its storage is full: raise `x-provision.cloud.storage_gb` (or set `max_storage_gb`) and run again",
        ),
        "stopped" => Readiness::Terminal(
            "it is stopped: start it (`aws rds start-db-instance`), then run `provision --cloud` again",
        ),
        _ => Readiness::Transitional,
    }
}

/// Dotted versions compared number by number (`8.0.43` > `8.0.9`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a).cmp(&parse(b))
}

/// The first `parts` components: the part a major upgrade changes (`16.3` -> `16` for
/// Postgres, `8.0.35` -> `8.0` for MySQL).
pub fn major(parts: usize, version: &str) -> String {
    version
        .split('.')
        .take(parts.max(1))
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `version` lies on `line` (`16.4` on `16`, `8.0.43` on `8.0`).
pub fn on_line(version: &str, line: &str) -> bool {
    version == line || version.starts_with(&format!("{line}."))
}

/// The desired state `diff` compares with: the plan's values, without the plan.
#[derive(Debug, Clone, Copy)]
pub struct Desired<'a> {
    pub service: CloudService,
    pub engine: &'a str,
    /// The version the manifest asked for (`16`, `16.8`, `7`).
    pub version: &'a str,
    /// Its supported line (`16`, `8.4`).
    pub line: &'a str,
    /// How many components make the major version for this engine (template data).
    pub major_parts: usize,
    pub config: &'a CloudConfig,
    /// The security groups it should have (the manifest's and the one provision owns);
    /// empty: whatever AWS chose (the VPC's default), not compared.
    pub security_groups: &'a [String],
    /// RDS: whether the instance may have a public address (provision makes it private).
    pub publicly_accessible: bool,
    /// RDS: the parameter group provision made for it (the one refusing plaintext), if any.
    pub parameter_group: Option<&'a str>,
}

/// What the live version needs to match the manifest: nothing while it is on the line the
/// user asked for (AWS's automatic minor upgrades move it forward; following them is right,
/// and AWS refuses downgrades); a minor upgrade when the user pinned a newer minor; a person
/// for a different major.
pub fn version_change(d: &Desired<'_>, live: &str) -> Option<Change> {
    let (have, want) = (major(d.major_parts, live), major(d.major_parts, d.line));
    if have != want {
        let downgrade = compare_versions(&have, &want) == Ordering::Greater;
        return Some(Change {
            field: Field::EngineVersion,
            from: live.to_owned(),
            to: d.version.to_owned(),
            safe: false,
            why: Some(if downgrade {
                "AWS cannot downgrade a database"
            } else {
                "a major version upgrade"
            }),
        });
    }
    let pinned = d.version.matches('.').count() > d.line.matches('.').count();
    if pinned && !on_line(live, d.version) && compare_versions(live, d.version) == Ordering::Less {
        return Some(Change {
            field: Field::EngineVersion,
            from: live.to_owned(),
            to: d.version.to_owned(),
            safe: true,
            why: None,
        });
    }
    None
}

/// What differs, field by field, and whether `up` may apply it in place.
#[allow(
    clippy::too_many_lines,
    reason = "one comparison per field, each with its safety rule beside it"
)]
pub fn diff(desired: &Desired<'_>, current: &Observed) -> Vec<Change> {
    let mut changes = Vec::new();
    let version = current
        .engine_version
        .as_deref()
        .and_then(|live| version_change(desired, live));
    let mut push = |field, from: String, to: String, safe: bool, why: Option<&'static str>| {
        changes.push(Change {
            field,
            from,
            to,
            safe,
            why,
        });
    };
    let c = desired.config;
    if let Some(engine) = &current.engine
        && engine != desired.engine
    {
        push(
            Field::Engine,
            engine.clone(),
            desired.engine.to_owned(),
            false,
            Some("an engine change"),
        );
    }
    if let Some(change) = version {
        push(
            change.field,
            change.from,
            change.to,
            change.safe,
            change.why,
        );
    }
    if let Some(class) = &current.class
        && *class != c.class
    {
        // Memcached nodes cannot change type in place.
        let safe = desired.service != CloudService::ElasticacheCluster;
        push(
            Field::Class,
            class.clone(),
            c.class.clone(),
            safe,
            (!safe).then_some("a Memcached node type change (a new cluster)"),
        );
    }
    if let (Some(have), Some(want)) = (current.storage_gb, c.storage_gb)
        && have != want
    {
        // Storage grows by at least 10% and never shrinks
        // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html).
        let (safe, why) = if want < have {
            (false, Some("a smaller disk"))
        } else if u64::from(want) * 10 < u64::from(have) * 11 {
            (false, Some("RDS grows storage by at least 10%"))
        } else {
            (true, None)
        };
        push(
            Field::StorageGb,
            have.to_string(),
            want.to_string(),
            safe,
            why,
        );
    }
    if desired.service == CloudService::Rds
        && let Some(want) = c.max_storage_gb
        && current.max_storage_gb != Some(want)
    {
        push(
            Field::MaxStorageGb,
            current
                .max_storage_gb
                .map_or_else(|| "none".to_owned(), |m| m.to_string()),
            want.to_string(),
            true,
            None,
        );
    }
    if desired.service == CloudService::ElasticacheReplicationGroup
        && let Some(have) = current.replicas
        && have != c.replicas
    {
        push(
            Field::Replicas,
            have.to_string(),
            c.replicas.to_string(),
            true,
            None,
        );
    }
    if desired.service != CloudService::ElasticacheCluster {
        if let Some(have) = current.multi_az
            && have != c.multi_az
        {
            push(
                Field::MultiAz,
                have.to_string(),
                c.multi_az.to_string(),
                true,
                None,
            );
        }
        if let Some(have) = current.backup_retention_days
            && have != c.backup_retention_days
        {
            push(
                Field::BackupRetentionDays,
                have.to_string(),
                c.backup_retention_days.to_string(),
                true,
                None,
            );
        }
    }
    if desired.service == CloudService::Rds
        && !desired.security_groups.is_empty()
        && let Some(have) = &current.security_group_ids
    {
        let mut have_sorted = have.clone();
        have_sorted.sort();
        let mut want = desired.security_groups.to_vec();
        want.sort();
        want.dedup();
        if have_sorted != want {
            push(
                Field::SecurityGroups,
                have_sorted.join(","),
                want.join(","),
                true,
                None,
            );
        }
    }
    if desired.service == CloudService::Rds
        && let Some(have) = current.deletion_protection
        && have != c.deletion_protection
    {
        push(
            Field::DeletionProtection,
            have.to_string(),
            c.deletion_protection.to_string(),
            true,
            None,
        );
    }
    // PubliclyAccessible changes in place, "applied immediately regardless of the value of the
    // ApplyImmediately parameter"
    // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html).
    if desired.service == CloudService::Rds
        && let Some(have) = current.publicly_accessible
        && have != desired.publicly_accessible
    {
        push(
            Field::PubliclyAccessible,
            have.to_string(),
            desired.publicly_accessible.to_string(),
            true,
            None,
        );
    }
    // The parameter group is compared only where provision is known to have put the instance
    // in its own: the record says so. An instance made before provision attached one (or
    // adopted with its own) is left in its group, not moved behind anyone's back.
    // ModifyDBInstance takes a group of the instance's family; the name changes at once, its
    // parameters apply at the next reboot
    // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html:
    // DBParameterGroupName).
    if desired.service == CloudService::Rds
        && let (Some(want), Some(have)) = (desired.parameter_group, &current.parameter_group)
        && have != want
        && crate::cloud::drift::Applied::read(current)
            .is_some_and(|a| a.get(Field::ParameterGroup).is_some())
    {
        push(
            Field::ParameterGroup,
            have.clone(),
            want.to_owned(),
            true,
            None,
        );
    }
    // ModifyDBInstance turns IAM database authentication on or off in place; password
    // logins keep working either way
    // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Enabling.html).
    if desired.service == CloudService::Rds
        && let Some(have) = current.iam_auth
        && have != c.iam_auth
    {
        push(
            Field::IamAuth,
            have.to_string(),
            c.iam_auth.to_string(),
            true,
            None,
        );
    }
    changes.extend(crate::cloud::serverless::diff(desired, current));
    changes
}

/// What `up` applies for each field it compares, as `diff` spells it (its changes' `to`):
/// what the `provision:applied` record holds after a create or a change. `parameter_group`:
/// whether the instance is in provision's group (only then is it recorded, and compared).
pub fn applied_values(desired: &Desired<'_>, parameter_group: bool) -> Vec<(Field, String)> {
    let c = desired.config;
    let mut out = vec![(Field::Class, c.class.clone())];
    let rds = desired.service == CloudService::Rds;
    if rds {
        if let Some(gb) = c.storage_gb {
            out.push((Field::StorageGb, gb.to_string()));
        }
        if let Some(gb) = c.max_storage_gb {
            out.push((Field::MaxStorageGb, gb.to_string()));
        }
    }
    if desired.service == CloudService::ElasticacheReplicationGroup {
        out.push((Field::Replicas, c.replicas.to_string()));
    }
    if desired.service != CloudService::ElasticacheCluster {
        out.push((Field::MultiAz, c.multi_az.to_string()));
        out.push((
            Field::BackupRetentionDays,
            c.backup_retention_days.to_string(),
        ));
    }
    if rds {
        if !desired.security_groups.is_empty() {
            let mut want = desired.security_groups.to_vec();
            want.sort();
            want.dedup();
            out.push((Field::SecurityGroups, want.join(",")));
        }
        out.push((Field::DeletionProtection, c.deletion_protection.to_string()));
        out.push((Field::IamAuth, c.iam_auth.to_string()));
        out.push((
            Field::PubliclyAccessible,
            desired.publicly_accessible.to_string(),
        ));
        if let Some(group) = desired.parameter_group.filter(|_| parameter_group) {
            out.push((Field::ParameterGroup, group.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CloudConfig {
        CloudConfig {
            class: "db.t4g.micro".into(),
            storage_gb: Some(20),
            max_storage_gb: None,
            replicas: 0,
            multi_az: false,
            deletion_protection: true,
            backup_retention_days: 7,
            extended_support: false,
            iam_auth: false,
            from_snapshot: None,
            serverless: None,
            adopt: None,
        }
    }

    fn desired<'a>(version: &'a str, line: &'a str, c: &'a CloudConfig) -> Desired<'a> {
        Desired {
            service: CloudService::Rds,
            engine: "postgres",
            version,
            line,
            major_parts: 1,
            config: c,
            security_groups: &[],
            publicly_accessible: false,
            parameter_group: Some("shop-postgres16-tls"),
        }
    }

    #[test]
    fn a_version_on_the_asked_line_is_no_change_and_never_a_downgrade() {
        let c = config();
        // AWS upgraded 16.8 to 16.10 by itself; the manifest says 16.
        assert_eq!(version_change(&desired("16", "16", &c), "16.10"), None);
        // The manifest pins 16.8 and AWS has 16.10 already: no downgrade planned.
        assert_eq!(version_change(&desired("16.8", "16", &c), "16.10"), None);
        // Pinned newer than live: a safe minor upgrade.
        let up = version_change(&desired("16.10", "16", &c), "16.8").unwrap();
        assert!(up.safe && up.to == "16.10");
        // Another major, either way: a person decides.
        let major = version_change(&desired("17", "17", &c), "16.10").unwrap();
        assert!(!major.safe && major.why == Some("a major version upgrade"));
        let down = version_change(&desired("15", "15", &c), "16.10").unwrap();
        assert!(!down.safe && down.why == Some("AWS cannot downgrade a database"));
        // Two-part majors (MySQL): 8.0.43 is on 8.0, not on 8.4.
        let mysql = Desired {
            major_parts: 2,
            engine: "mysql",
            ..desired("8.4", "8.4", &c)
        };
        assert!(version_change(&mysql, "8.0.43").is_some());
        assert_eq!(version_change(&mysql, "8.4.6"), None);
    }

    #[test]
    fn storage_changes_follow_the_ten_percent_rule() {
        let mut c = config();
        let live = Observed {
            storage_gb: Some(100),
            ..Observed::default()
        };
        c.storage_gb = Some(105);
        let small = diff(&desired("16", "16", &c), &live);
        assert!(!small[0].safe, "{small:?}");
        c.storage_gb = Some(110);
        assert!(diff(&desired("16", "16", &c), &live)[0].safe);
        c.storage_gb = Some(90);
        assert!(!diff(&desired("16", "16", &c), &live)[0].safe);
    }

    #[test]
    fn terminal_statuses_end_the_wait_and_storage_optimization_is_usable() {
        assert_eq!(readiness("available"), Readiness::Available);
        assert_eq!(readiness("storage-optimization"), Readiness::Usable);
        assert_eq!(readiness("creating"), Readiness::Transitional);
        assert_eq!(readiness("deleting"), Readiness::Deleting);
        for s in [
            "failed",
            "incompatible-network",
            "incompatible-parameters",
            "inaccessible-encryption-credentials",
            "restore-failed",
            "stopped",
        ] {
            assert!(matches!(readiness(s), Readiness::Terminal(_)), "{s}");
        }
    }

    #[test]
    fn actions_are_decided_once() {
        let change = Change {
            field: Field::Class,
            from: "a".into(),
            to: "b".into(),
            safe: true,
            why: None,
        };
        assert_eq!(
            Action::decide(false, &Ownership::Unknown, &[]),
            Action::Create
        );
        assert_eq!(
            Action::decide(true, &Ownership::Foreign(None), &[]),
            Action::Conflict
        );
        assert_eq!(
            Action::decide(true, &Ownership::Ours, std::slice::from_ref(&change)),
            Action::Update
        );
        assert_eq!(
            Action::decide(true, &Ownership::Ours, &[]),
            Action::NoChange
        );
        let blocked = Change {
            safe: false,
            ..change
        };
        assert_eq!(
            Action::decide(true, &Ownership::Ours, &[blocked]),
            Action::Blocked
        );
        assert_eq!(
            serde_json::to_string(&Action::NoChange).unwrap(),
            "\"no change\""
        );
    }

    /// Change, drift, or both, decided field by field from the live value, the manifest and
    /// the `provision:applied` record: pure, in milliseconds.
    #[test]
    fn a_difference_is_a_manifest_change_drift_or_both_by_the_record() {
        use crate::cloud::drift::{Applied, Origin, drifts, origin};
        let c = config();
        let d = desired("16", "16", &c);
        let applied = Applied::of(&applied_values(&d, true));
        let tags = |applied: Option<&Applied>| {
            applied.map(|a| vec![(crate::names::TAG_APPLIED.to_owned(), a.render())])
        };
        let live = |backup: u32, public: bool, group: &str, applied: Option<&Applied>| Observed {
            backup_retention_days: Some(backup),
            publicly_accessible: Some(public),
            parameter_group: Some(group.to_owned()),
            tags: tags(applied),
            ..Observed::default()
        };
        // As applied: nothing.
        let same = live(7, false, "shop-postgres16-tls", Some(&applied));
        assert_eq!(diff(&d, &same), vec![]);
        // Changed on AWS, manifest as applied: drift on each field, which up puts back.
        let console = live(1, true, "default.postgres16", Some(&applied));
        let changes = diff(&d, &console);
        let fields: Vec<Field> = changes.iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            [
                Field::BackupRetentionDays,
                Field::PubliclyAccessible,
                Field::ParameterGroup
            ]
        );
        assert!(
            changes
                .iter()
                .all(|c| origin(c, Some(&applied)) == Origin::Drift)
        );
        let found = drifts(&changes, Some(&applied));
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[0].describe(),
            "backup_retention_days 7 -> 1 (changed outside provision; up puts back 7)"
        );
        // The manifest changed, AWS did not: a change, no drift.
        let mut edited = config();
        edited.backup_retention_days = 14;
        let changes = diff(&desired("16", "16", &edited), &same);
        assert_eq!(origin(&changes[0], Some(&applied)), Origin::Manifest);
        assert!(drifts(&changes, Some(&applied)).is_empty());
        // Both: changed on AWS, and the manifest asks for a third value.
        let changes = diff(&desired("16", "16", &edited), &console);
        let both = &changes[0];
        assert_eq!(both.field, Field::BackupRetentionDays);
        assert_eq!(origin(both, Some(&applied)), Origin::Both);
        let d0 = &drifts(&changes, Some(&applied))[0];
        assert!(d0.manifest_changed && d0.manifest == "14" && d0.applied.as_deref() == Some("7"));
        // No record (a resource made before records): every difference is a change, and the
        // parameter group is not compared at all, so such an instance is never moved.
        let old = live(1, true, "default.postgres16", None);
        let changes = diff(&d, &old);
        assert!(changes.iter().all(|c| c.field != Field::ParameterGroup));
        assert!(changes.iter().all(|c| origin(c, None) == Origin::Manifest));
        assert!(drifts(&changes, None).is_empty());
        // A record written without the group (the instance was not in provision's): the group
        // is still not compared.
        let without = Applied::of(&applied_values(&d, false));
        let legacy = live(7, false, "default.postgres16", Some(&without));
        assert_eq!(diff(&d, &legacy), vec![]);
    }
}
