//! What the model knows of a database in the cloud: its identifier and the rules AWS sets for
//! it, the network the manifest asks for, and its settings with the template's defaults filled
//! in. The cloud side compares AWS with these (`cloud::diff`); the model owns them so that the
//! core never depends on a backend.

use serde::Serialize;

use crate::catalog::{CloudOption, CloudService, Template};
use crate::manifest::{Manifest, Service};
use crate::problem::{IdentifierRule, Problem, ProblemKind, Scope};

use super::resource::Resource;

/// Cloud settings with the template's defaults filled in.
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is one AWS switch (Multi-AZ, deletion protection, IAM auth, ...)"
)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudConfig {
    pub class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_gb: Option<u32>,
    /// RDS storage autoscaling's ceiling (`MaxAllocatedStorage`); none: autoscaling off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_storage_gb: Option<u32>,
    pub replicas: u32,
    pub multi_az: bool,
    pub deletion_protection: bool,
    pub backup_retention_days: u32,
    /// RDS: enrol in paid Extended Support when the major version's standard support ends.
    /// Off unless the manifest opts in (AWS's own default is on).
    pub extended_support: bool,
    /// RDS IAM database authentication (`EnableIAMDatabaseAuthentication`): the links name a
    /// user of the `rds_iam` role (or `AWSAuthenticationPlugin`) and carry a generated token.
    pub iam_auth: bool,
    /// What a stage's first create restores from (`x-provision.cloud.from_snapshot`); the plan
    /// turns it into identifiers (`CloudPlan.from_snapshot`).
    #[serde(skip)]
    pub from_snapshot: Option<SnapshotSpec>,
    /// `serverless: true`: Aurora Serverless v2 or ElastiCache Serverless, with its capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless: Option<super::serverless::Serverless>,
    /// `x-provision.cloud.adopt`: the identifier of a resource made outside provision that
    /// this database is (on the default stage; see `cloud::adopt`).
    #[serde(skip)]
    pub adopt: Option<String>,
}

/// `x-provision.cloud.from_snapshot` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotSpec {
    /// `latest-of:STAGE`: the newest available snapshot of that stage's instance of the same
    /// database. Has no effect on that stage itself (it is the source).
    LatestOf(crate::names::Stage),
    /// A snapshot identifier (or a shared snapshot's ARN), on every stage's first create.
    Named(String),
}

impl SnapshotSpec {
    /// Reads what the manifest reader accepted (`manifest::reader::snapshot_source`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.strip_prefix(crate::names::LATEST_OF) {
            Some(stage) => crate::names::Stage::named(stage).map(Self::LatestOf),
            None => (!text.is_empty()).then(|| Self::Named(text.to_owned())),
        }
    }
}

/// The AWS identifier of a resource: `{project}-{service}`, with the service name folded to
/// the same alphabet.
pub fn cloud_identifier(project: &str, service: &str) -> String {
    crate::names::cloud_identifier(project, service)
}

/// Checks an identifier against RDS's or ElastiCache's naming rules.
pub fn identifier_rule_broken(identifier: &str, service: CloudService) -> Option<IdentifierRule> {
    let len = identifier.chars().count();
    let max = service.max_identifier_len();
    if len > max {
        Some(IdentifierRule::TooLong { max, len })
    } else if !identifier.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some(IdentifierRule::StartsWithLetter)
    } else if !identifier
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some(IdentifierRule::Characters)
    } else if identifier.contains("--") {
        Some(IdentifierRule::DoubleHyphen)
    } else if identifier.ends_with('-') {
        Some(IdentifierRule::TrailingHyphen)
    } else {
        None
    }
}

/// `x-provision.cloud` networking that AWS would refuse: RDS wants subnets in at least two
/// Availability Zones (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html),
/// so fewer than two subnets cannot work; `allow_from` takes security group ids and CIDR
/// blocks only.
pub(super) fn network_problems(
    manifest: &Manifest,
    resources: &[Resource<'_>],
    problems: &mut Vec<Problem>,
) {
    let cloud = &manifest.cloud;
    let rds = resources
        .iter()
        .any(|r| r.template.cloud.service == CloudService::Rds);
    if rds && cloud.subnet_ids.len() == 1 {
        problems.push(
            Problem::error(
                None,
                "x-provision.cloud.subnet_ids",
                ProblemKind::InvalidValue {
                    value: cloud.subnet_ids.join(", "),
                    expected: "subnets in at least two availability zones (RDS needs two)".into(),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    for source in &cloud.allow_from {
        let v = source.value.as_str();
        let cidr = v.split_once('/').is_some_and(|(addr, bits)| {
            bits.parse::<u8>().is_ok() && addr.parse::<std::net::IpAddr>().is_ok()
        });
        if !(v.starts_with("sg-") || cidr) {
            problems.push(
                Problem::error(
                    Some(source.at),
                    source.path.clone(),
                    ProblemKind::InvalidValue {
                        value: v.to_owned(),
                        expected: "a security group id (`sg-...`) or a CIDR block (`10.0.0.0/16`)"
                            .into(),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
}

/// An `x-provision.cloud` option the type has no use for (`replicas` on Postgres).
fn options_not_for_type(
    given: &crate::manifest::CloudOptions,
    template: &Template,
    problems: &mut Vec<Problem>,
) {
    let allowed = &template.cloud.options;
    for (option, at, path) in given.given() {
        if !allowed.contains(&option) {
            problems.push(
                Problem::error(
                    Some(at),
                    path,
                    ProblemKind::OptionNotForType {
                        option: option.key().to_owned(),
                        type_name: template.title.clone(),
                        allowed: CloudOption::ALL
                            .iter()
                            .filter(|o| allowed.contains(o))
                            .map(|o| o.key().to_owned())
                            .collect(),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
}

/// `adopt` on Memcached, which keeps no credentials and no data to adopt.
fn adopt_not_for_type(
    given: &crate::manifest::CloudOptions,
    template: &Template,
    problems: &mut Vec<Problem>,
) {
    if let Some(a) = &given.adopt
        && template.cloud.service == CloudService::ElasticacheCluster
    {
        problems.push(
            Problem::error(
                Some(a.at),
                a.path.clone(),
                ProblemKind::InvalidValue {
                    value: a.value.clone(),
                    expected: format!(
                        "no `adopt` on {}: only RDS instances and ElastiCache replication groups can be adopted",
                        template.title
                    ),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
}

pub(super) fn cloud_config(
    service: &Service,
    template: &Template,
    problems: &mut Vec<Problem>,
) -> CloudConfig {
    let given = &service.ext.cloud;
    options_not_for_type(given, template, problems);
    adopt_not_for_type(given, template, problems);
    if let (Some(size), Some(min), Some(max)) = (
        &given.storage_gb,
        template.cloud.min_storage_gb,
        template.cloud.max_storage_gb,
    ) && !(min..=max).contains(&size.value)
    {
        problems.push(
            Problem::error(
                Some(size.at),
                size.path.clone(),
                ProblemKind::InvalidValue {
                    value: size.value.to_string(),
                    expected: format!("between {min} and {max} GiB for {}", template.title),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    // MaxAllocatedStorage must exceed the allocated storage
    // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html).
    if let Some(max) = &given.max_storage_gb {
        let storage = given
            .storage_gb
            .as_ref()
            .map(|s| s.value)
            .or(template.cloud.default_storage_gb)
            .unwrap_or(0);
        if max.value <= storage {
            problems.push(
                Problem::error(
                    Some(max.at),
                    max.path.clone(),
                    ProblemKind::InvalidValue {
                        value: max.value.to_string(),
                        expected: format!("more than `storage_gb` ({storage} GiB)"),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
    let replicas = given.replicas.as_ref().map_or(0, |r| r.value);
    let multi_az = given.multi_az.as_ref().is_some_and(|m| m.value);
    if multi_az
        && replicas == 0
        && template.cloud.service == CloudService::ElasticacheReplicationGroup
        && let Some(m) = &given.multi_az
    {
        problems.push(
            Problem::error(
                Some(m.at),
                m.path.clone(),
                ProblemKind::InvalidValue {
                    value: "true".into(),
                    expected: format!(
                        "`false` unless `replicas` is at least 1 ({} fails over to a replica)",
                        template.title
                    ),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    CloudConfig {
        class: given
            .class
            .as_ref()
            .map_or_else(|| template.cloud.default_class.clone(), |c| c.value.clone()),
        storage_gb: given
            .storage_gb
            .as_ref()
            .map(|s| s.value)
            .or(template.cloud.default_storage_gb),
        replicas,
        multi_az,
        deletion_protection: given.deletion_protection.as_ref().is_none_or(|d| d.value),
        backup_retention_days: given.backup_retention_days.as_ref().map_or(7, |b| b.value),
        max_storage_gb: given.max_storage_gb.as_ref().map(|m| m.value),
        extended_support: given.extended_support.as_ref().is_some_and(|e| e.value),
        iam_auth: given.iam_auth.as_ref().is_some_and(|e| e.value),
        from_snapshot: given
            .from_snapshot
            .as_ref()
            .and_then(|s| SnapshotSpec::parse(&s.value)),
        // Filled in by `model::serverless`, which needs the version.
        serverless: None,
        adopt: given.adopt.as_ref().map(|a| a.value.clone()),
    }
}
