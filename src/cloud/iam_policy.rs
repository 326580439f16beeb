//! `provision iam-policy`: the least-privilege IAM policy a manifest needs on AWS, computed
//! from the plan (pure). Creating is allowed only with the project's `provision:project` tag
//! on the request, changing and deleting only on resources that carry it, and names are
//! scoped to the project's prefix wherever the service's ARNs allow it.
//!
//! Sources: the Service Authorization Reference pages for Amazon RDS
//! (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html),
//! Amazon ElastiCache (.../list_amazonelasticache.html), AWS Secrets Manager
//! (.../list_awssecretsmanager.html), Amazon EC2 (.../list_amazonec2.html), and the service-linked
//! roles RDS and ElastiCache create on first use
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAM.ServiceLinkedRoles.html).

use serde::Serialize;
use serde_json::{Value, json};

use crate::catalog::CloudService;
use crate::names::{self, TAG_PROJECT};
use crate::plan::Plan;

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: &'static str,
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Action")]
    pub actions: Vec<&'static str>,
    #[serde(rename = "Resource")]
    pub resources: Vec<String>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

fn allow(
    sid: &'static str,
    actions: &[&'static str],
    resources: Vec<String>,
    condition: Option<Value>,
) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        actions: actions.to_vec(),
        resources,
        condition,
    }
}

/// The policy for `plan` (a cloud plan).
#[allow(
    clippy::too_many_lines,
    reason = "one statement per group of actions: the whole policy document reads top to bottom, as AWS shows it"
)]
pub fn policy(plan: &Plan) -> Policy {
    let project = plan.project.name.as_str();
    let clouds: Vec<_> = plan
        .resources
        .iter()
        .filter_map(|r| r.cloud.as_ref())
        .collect();
    let region = clouds
        .iter()
        .find_map(|c| c.region.clone())
        .unwrap_or_else(|| "*".into());
    let rds = clouds.iter().any(|c| c.service == CloudService::Rds);
    let cache = clouds.iter().any(|c| {
        matches!(
            c.service,
            CloudService::ElasticacheReplicationGroup | CloudService::ElasticacheCluster
        )
    });
    let secrets = clouds
        .iter()
        .any(|c| c.service != CloudService::ElasticacheCluster);
    let network = clouds.iter().any(|c| !c.allow_from.is_empty());
    // `from_snapshot` on any stage (it has no effect on the stage it names, but the same
    // manifest seeds the others).
    let seeds = |service: fn(CloudService) -> bool| {
        clouds
            .iter()
            .any(|c| service(c.service) && c.config.from_snapshot.is_some())
    };
    let rds_seeds = seeds(|s| s == CloudService::Rds);
    let cache_seeds = seeds(|s| s == CloudService::ElasticacheReplicationGroup);
    let request_tag =
        Some(json!({"StringEquals": {format!("aws:RequestTag/{TAG_PROJECT}"): project}}));
    let resource_tag =
        Some(json!({"StringEquals": {format!("aws:ResourceTag/{TAG_PROJECT}"): project}}));
    let arn = |service: &str, rest: String| format!("arn:aws:{service}:{region}:*:{rest}");

    let mut read: Vec<&'static str> = Vec::new();
    let mut statements = Vec::new();
    if rds {
        read.extend([
            "rds:DescribeDBInstances",
            "rds:DescribeDBEngineVersions",
            "rds:DescribeDBSubnetGroups",
            "rds:DescribeDBParameterGroups",
            "rds:ListTagsForResource",
        ]);
        statements.push(allow(
            "RdsCreateTagged",
            &[
                "rds:CreateDBInstance",
                "rds:CreateDBSubnetGroup",
                "rds:CreateDBParameterGroup",
                "rds:AddTagsToResource",
            ],
            vec![
                arn("rds", format!("db:{project}-*")),
                arn("rds", format!("subgrp:{}", names::network(project))),
                arn(
                    "rds",
                    format!("subgrp:{}", names::stage_network_pattern(project)),
                ),
                arn(
                    "rds",
                    format!("pg:{}", names::parameter_group_pattern(project)),
                ),
            ],
            request_tag.clone(),
        ));
        // CreateDBInstance names the project's parameter group (refusing plaintext), and so
        // does ModifyDBInstance when `up` puts an instance moved out of it back (drift):
        // ModifyDBInstance authorizes the `pg` it names as well as the `db` (Service
        // Authorization Reference, Amazon RDS:
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html).
        statements.push(allow(
            "RdsUseOwnParameterGroup",
            &[
                "rds:CreateDBInstance",
                "rds:ModifyDBInstance",
                "rds:ModifyDBParameterGroup",
                "rds:DeleteDBParameterGroup",
            ],
            vec![arn(
                "rds",
                format!("pg:{}", names::parameter_group_pattern(project)),
            )],
            resource_tag.clone(),
        ));
        // CreateDBInstance also names the default parameter and option groups.
        statements.push(allow(
            "RdsUseDefaultGroups",
            &["rds:CreateDBInstance"],
            vec![
                arn("rds", "pg:default.*".into()),
                arn("rds", "og:default:*".into()),
            ],
            None,
        ));
        statements.push(allow(
            "RdsChangeOwn",
            &[
                "rds:ModifyDBInstance",
                "rds:DeleteDBInstance",
                "rds:DeleteDBSubnetGroup",
                // A stage's expiry moved by a later `up --ttl`.
                "rds:AddTagsToResource",
            ],
            vec![
                arn("rds", format!("db:{project}-*")),
                arn("rds", format!("subgrp:{}", names::network(project))),
                arn(
                    "rds",
                    format!("subgrp:{}", names::stage_network_pattern(project)),
                ),
            ],
            resource_tag.clone(),
        ));
        if rds_seeds {
            read.push("rds:DescribeDBSnapshots");
            // RestoreDBInstanceFromDBSnapshot authorizes the new instance (`db`, with
            // aws:RequestTag), the snapshot (`snapshot`, with aws:ResourceTag: provision's
            // instances copy their tags to every snapshot), and the groups it names
            // (`pg`, `subgrp`, `og`) (Service Authorization Reference, Amazon RDS:
            // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html).
            statements.push(allow(
                "RdsRestoreTagged",
                &[
                    "rds:RestoreDBInstanceFromDBSnapshot",
                    "rds:AddTagsToResource",
                ],
                vec![arn("rds", format!("db:{project}-*"))],
                request_tag.clone(),
            ));
            statements.push(allow(
                "RdsRestoreFromOwnSnapshots",
                &["rds:RestoreDBInstanceFromDBSnapshot"],
                vec![
                    arn("rds", "snapshot:*".into()),
                    arn(
                        "rds",
                        format!("pg:{}", names::parameter_group_pattern(project)),
                    ),
                    arn("rds", format!("subgrp:{}", names::network(project))),
                    arn(
                        "rds",
                        format!("subgrp:{}", names::stage_network_pattern(project)),
                    ),
                ],
                resource_tag.clone(),
            ));
            statements.push(allow(
                "RdsRestoreDefaultGroups",
                &["rds:RestoreDBInstanceFromDBSnapshot"],
                vec![arn("rds", "og:default:*".into())],
                None,
            ));
        }
        statements.extend(adopt_statements("rds", &["db:*"], project, &arn));
        statements.push(allow(
            "RdsFinalSnapshots",
            &["rds:CreateDBSnapshot", "rds:AddTagsToResource"],
            vec![arn("rds", format!("snapshot:{project}-*-final-*"))],
            None,
        ));
        // IAM database authentication: `env` and `run` sign tokens for the IAM user of each
        // database with it on. The ARN is `arn:aws:rds-db:REGION:ACCOUNT:dbuser:DbiResourceId/USER`
        // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html);
        // the DbiResourceId is AWS's, known only once the instance exists, so it is `*` here
        // and the user name carries the scope. `rds-db:connect` takes no tag conditions.
        let mut iam_users: Vec<String> = clouds
            .iter()
            .filter_map(|c| c.iam_user.as_ref())
            .map(|user| format!("arn:aws:rds-db:{region}:*:dbuser:*/{user}"))
            .collect();
        iam_users.sort();
        iam_users.dedup();
        if !iam_users.is_empty() {
            statements.push(allow(
                "RdsIamDatabaseConnect",
                &["rds-db:connect"],
                iam_users,
                None,
            ));
        }
    }
    if cache {
        read.extend([
            "elasticache:DescribeReplicationGroups",
            "elasticache:DescribeCacheClusters",
            "elasticache:DescribeCacheEngineVersions",
            "elasticache:DescribeCacheSubnetGroups",
            "elasticache:ListTagsForResource",
        ]);
        statements.push(allow(
            "ElastiCacheCreateTagged",
            &[
                "elasticache:CreateReplicationGroup",
                "elasticache:CreateCacheCluster",
                "elasticache:CreateCacheSubnetGroup",
                "elasticache:AddTagsToResource",
            ],
            vec![
                arn("elasticache", format!("replicationgroup:{project}-*")),
                arn("elasticache", format!("cluster:{project}-*")),
                arn(
                    "elasticache",
                    format!("subnetgroup:{}", names::network(project)),
                ),
                arn(
                    "elasticache",
                    format!("subnetgroup:{}", names::stage_network_pattern(project)),
                ),
            ],
            request_tag.clone(),
        ));
        statements.push(allow(
            "ElastiCacheUseDefaultGroups",
            &[
                "elasticache:CreateReplicationGroup",
                "elasticache:CreateCacheCluster",
            ],
            vec![arn("elasticache", "parametergroup:default.*".into())],
            None,
        ));
        statements.push(allow(
            "ElastiCacheChangeOwn",
            &[
                "elasticache:ModifyReplicationGroup",
                "elasticache:IncreaseReplicaCount",
                "elasticache:DecreaseReplicaCount",
                "elasticache:DeleteReplicationGroup",
                "elasticache:DeleteCacheCluster",
                "elasticache:DeleteCacheSubnetGroup",
                "elasticache:AddTagsToResource",
            ],
            vec![
                arn("elasticache", format!("replicationgroup:{project}-*")),
                arn("elasticache", format!("cluster:{project}-*")),
                arn(
                    "elasticache",
                    format!("subnetgroup:{}", names::network(project)),
                ),
                arn(
                    "elasticache",
                    format!("subnetgroup:{}", names::stage_network_pattern(project)),
                ),
            ],
            resource_tag.clone(),
        ));
        if cache_seeds {
            read.push("elasticache:DescribeSnapshots");
            // CreateReplicationGroup with SnapshotName also authorizes the snapshot
            // (`snapshot`) (Service Authorization Reference, Amazon ElastiCache:
            // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticache.html).
            // By name rather than tag: a snapshot taken by hand or automatically need not carry
            // the cache's tags. Manual ones of the project are `{project}-*` by convention,
            // automatic ones `automatic.{group}-{date}`.
            statements.push(allow(
                "ElastiCacheSeedFromOwnSnapshots",
                &["elasticache:CreateReplicationGroup"],
                vec![
                    arn("elasticache", format!("snapshot:{project}-*")),
                    arn("elasticache", format!("snapshot:automatic.{project}-*")),
                ],
                None,
            ));
        }
        statements.extend(adopt_statements(
            "elasticache",
            &["replicationgroup:*"],
            project,
            &arn,
        ));
        statements.push(allow(
            "ElastiCacheFinalSnapshots",
            &[
                "elasticache:CreateSnapshot",
                "elasticache:AddTagsToResource",
            ],
            vec![arn("elasticache", format!("snapshot:{project}-*-final-*"))],
            None,
        ));
    }
    if secrets {
        read.push("secretsmanager:ListSecrets");
        let secret = vec![arn(
            "secretsmanager",
            format!("secret:{}*", crate::names::secret(project, "")),
        )];
        statements.push(allow(
            "SecretsCreateTagged",
            &["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
            secret.clone(),
            request_tag.clone(),
        ));
        statements.push(allow(
            "SecretsUseOwn",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:RestoreSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
            ],
            secret,
            resource_tag.clone(),
        ));
    }
    // Aurora Serverless v2 and ElastiCache Serverless (`cloud::iam_serverless`).
    let serverless = super::iam_serverless::statements(
        project,
        &clouds,
        &arn,
        request_tag.as_ref(),
        resource_tag.as_ref(),
    );
    read.extend(serverless.read);
    statements.extend(serverless.statements);
    if secrets {
        // `adopt --secret-arn` reads the user's secret. Its name is theirs; the pattern is
        // the one RDS gives the secrets it manages (`rds!db-...`); another secret needs its
        // own ARN added here (README, "Adopting").
        statements.push(allow(
            "SecretsReadLinked",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
            ],
            vec![arn("secretsmanager", "secret:rds!*".into())],
            None,
        ));
    }
    read.extend([
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    ]);
    if network {
        statements.push(allow(
            "SecurityGroupCreateTagged",
            &["ec2:CreateSecurityGroup", "ec2:CreateTags"],
            vec![arn("ec2", "security-group/*".into())],
            request_tag.clone(),
        ));
        statements.push(allow(
            "SecurityGroupInVpc",
            &["ec2:CreateSecurityGroup"],
            vec![arn("ec2", "vpc/*".into())],
            None,
        ));
        statements.push(allow(
            "SecurityGroupChangeOwn",
            &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            vec![arn("ec2", "security-group/*".into())],
            resource_tag,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    read.retain(|a| seen.insert(*a));
    statements.insert(0, allow("ReadOnly", &read, vec!["*".into()], None));
    let mut linked = Vec::new();
    if rds {
        linked.push("rds.amazonaws.com");
    }
    if cache {
        linked.push("elasticache.amazonaws.com");
    }
    for service in serverless.linked {
        if !linked.contains(&service) {
            linked.push(service);
        }
    }
    if !linked.is_empty() {
        statements.push(allow(
            "ServiceLinkedRolesOnFirstUse",
            &["iam:CreateServiceLinkedRole"],
            vec!["arn:aws:iam::*:role/aws-service-role/*".into()],
            Some(json!({"StringEquals": {"iam:AWSServiceName": linked}})),
        ));
    }
    Policy {
        version: "2012-10-17",
        statements,
    }
}

/// `provision adopt` and `release` on resources whose identifiers are their own (not
/// `{project}-*`): named by any identifier, scoped by tags instead. Tagging is allowed only
/// on a resource no project has tagged (`Null` on `aws:ResourceTag/provision:project`) and
/// with this project's tag in the request; changes, deletes and final snapshots (of the
/// project's own identifiers, `*-final-*`) only on one that carries this project's tag;
/// removing tags only of `provision:*` keys
/// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html,
/// .../list_amazonelasticache.html: AddTagsToResource and RemoveTagsFromResource take
/// `aws:RequestTag/${TagKey}`, `aws:ResourceTag/${TagKey}` and `aws:TagKeys`).
fn adopt_statements(
    service: &'static str,
    kinds: &[&str],
    project: &str,
    arn: &dyn Fn(&str, String) -> String,
) -> Vec<Statement> {
    let rds = service == "rds";
    let resources: Vec<String> = kinds
        .iter()
        .map(|k| arn(service, (*k).to_owned()))
        .collect();
    let untagged = json!({
        "Null": {format!("aws:ResourceTag/{TAG_PROJECT}"): "true"},
        "StringEquals": {format!("aws:RequestTag/{TAG_PROJECT}"): project},
    });
    let ours = json!({"StringEquals": {format!("aws:ResourceTag/{TAG_PROJECT}"): project}});
    let only_ours_keys = json!({
        "StringEquals": {format!("aws:ResourceTag/{TAG_PROJECT}"): project},
        "ForAllValues:StringLike": {"aws:TagKeys": [format!("{}*", names::TAG_PREFIX)]},
    });
    let (sids, change, untag, tag, snapshot): (
        [&'static str; 4],
        Vec<&'static str>,
        &'static str,
        &'static str,
        String,
    ) = if rds {
        (
            [
                "RdsAdoptUntagged",
                "RdsChangeAdopted",
                "RdsReleaseAdopted",
                "RdsAdoptedFinalSnapshots",
            ],
            vec![
                "rds:ModifyDBInstance",
                "rds:DeleteDBInstance",
                "rds:AddTagsToResource",
                "rds:CreateDBSnapshot",
            ],
            "rds:RemoveTagsFromResource",
            "rds:AddTagsToResource",
            arn(service, "snapshot:*-final-*".into()),
        )
    } else {
        (
            [
                "ElastiCacheAdoptUntagged",
                "ElastiCacheChangeAdopted",
                "ElastiCacheReleaseAdopted",
                "ElastiCacheAdoptedFinalSnapshots",
            ],
            vec![
                "elasticache:ModifyReplicationGroup",
                "elasticache:IncreaseReplicaCount",
                "elasticache:DecreaseReplicaCount",
                "elasticache:DeleteReplicationGroup",
                "elasticache:AddTagsToResource",
                "elasticache:CreateSnapshot",
            ],
            "elasticache:RemoveTagsFromResource",
            "elasticache:AddTagsToResource",
            arn(service, "snapshot:*-final-*".into()),
        )
    };
    let snapshot_actions: Vec<&'static str> = change
        .iter()
        .copied()
        .filter(|a| a.ends_with("Snapshot") || *a == tag)
        .collect();
    vec![
        allow(sids[0], &[tag], resources.clone(), Some(untagged)),
        allow(sids[1], &change, resources.clone(), Some(ours)),
        allow(sids[2], &[untag], resources, Some(only_ours_keys)),
        allow(sids[3], &snapshot_actions, vec![snapshot], None),
    ]
}

/// One line per statement, for people.
pub fn render(policy: &Policy, project: &str) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "IAM policy for project `{project}` (`provision iam-policy --json` prints the document)\n"
    );
    for s in &policy.statements {
        let _ = writeln!(out, "\n{}", s.sid);
        let _ = writeln!(out, "  actions:   {}", s.actions.join(", "));
        let _ = writeln!(out, "  resources: {}", s.resources.join(", "));
        if let Some(c) = &s.condition {
            let _ = writeln!(out, "  only if:   {c}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::plan::Target;

    fn plan_of(text: &str) -> Plan {
        let catalog = Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            text.as_bytes(),
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        crate::plan::plan(&m, &catalog, Target::Cloud, None).unwrap()
    }

    #[test]
    fn only_the_services_the_manifest_uses_and_scoped_to_the_project() {
        let p = policy(&plan_of(
            "x-provision: {cloud: {region: eu-west-1}}\nservices:\n  db: {image: 'postgres:16'}\n",
        ));
        let doc = serde_json::to_value(&p).unwrap();
        let text = doc.to_string();
        assert!(text.contains("rds:CreateDBInstance") && !text.contains("elasticache:"));
        assert!(text.contains("arn:aws:rds:eu-west-1:*:db:shop-*"), "{text}");
        assert!(text.contains("arn:aws:secretsmanager:eu-west-1:*:secret:provision/shop/*"));
        assert!(text.contains("\"aws:RequestTag/provision:project\":\"shop\""));
        assert!(text.contains("iam:CreateServiceLinkedRole"));
        // No security group statements without `allow_from`.
        assert!(!text.contains("ec2:CreateSecurityGroup"));
        // Every statement allows, and none allows every action of a service.
        for s in &p.statements {
            assert_eq!(s.effect, "Allow");
            assert!(
                s.actions.iter().all(|a| !a.ends_with(":*")),
                "{:?}",
                s.actions
            );
        }
        let with_network = policy(&plan_of(
            "x-provision: {cloud: {allow_from: [10.0.0.0/16]}}\nservices:\n  kv: {image: 'redis:7'}\n",
        ));
        let text = serde_json::to_string(&with_network).unwrap();
        assert!(
            text.contains("ec2:AuthorizeSecurityGroupIngress")
                && text.contains("elasticache:IncreaseReplicaCount")
        );
        assert!(!text.contains("rds:CreateDBInstance"));
        assert!(!text.contains("RestoreDBInstance") && !text.contains("DescribeSnapshots"));
    }

    #[test]
    fn seeding_from_snapshots_is_allowed_only_from_the_projects_own() {
        let p = policy(&plan_of(
            "x-provision: {cloud: {region: eu-west-1}}\nservices:\n  db: {image: 'postgres:16', x-provision: {cloud: {from_snapshot: 'latest-of:main'}}}\n  kv: {image: 'redis:7', x-provision: {cloud: {from_snapshot: 'latest-of:main'}}}\n",
        ));
        let by_sid = |sid: &str| p.statements.iter().find(|s| s.sid == sid).unwrap();
        let tagged = by_sid("RdsRestoreTagged");
        assert_eq!(tagged.resources, ["arn:aws:rds:eu-west-1:*:db:shop-*"]);
        assert_eq!(
            tagged.condition.as_ref().unwrap().to_string(),
            r#"{"StringEquals":{"aws:RequestTag/provision:project":"shop"}}"#
        );
        let own = by_sid("RdsRestoreFromOwnSnapshots");
        assert!(own.resources.iter().any(|r| r.ends_with(":snapshot:*")));
        assert_eq!(
            own.condition.as_ref().unwrap().to_string(),
            r#"{"StringEquals":{"aws:ResourceTag/provision:project":"shop"}}"#
        );
        let cache = by_sid("ElastiCacheSeedFromOwnSnapshots");
        assert_eq!(
            cache.resources,
            [
                "arn:aws:elasticache:eu-west-1:*:snapshot:shop-*",
                "arn:aws:elasticache:eu-west-1:*:snapshot:automatic.shop-*"
            ]
        );
        let read = by_sid("ReadOnly");
        assert!(read.actions.contains(&"rds:DescribeDBSnapshots"));
        // Drift: putting an instance back in its parameter group authorizes the group (the
        // project's, by tag); the record is a tag on the project's own instance.
        let group = by_sid("RdsUseOwnParameterGroup");
        assert!(group.actions.contains(&"rds:ModifyDBInstance"));
        assert_eq!(group.resources, ["arn:aws:rds:eu-west-1:*:pg:shop-*-tls"]);
        assert!(
            group
                .condition
                .as_ref()
                .unwrap()
                .to_string()
                .contains("aws:ResourceTag/provision:project")
        );
        let own = by_sid("RdsChangeOwn");
        assert!(
            own.actions.contains(&"rds:AddTagsToResource")
                && own.actions.contains(&"rds:ModifyDBInstance")
        );
        let cache = by_sid("ElastiCacheChangeOwn");
        assert!(cache.actions.contains(&"elasticache:AddTagsToResource"));
        assert!(read.actions.contains(&"elasticache:DescribeSnapshots"));
    }

    #[test]
    fn adoption_tags_only_untagged_resources_and_removes_only_provision_tags() {
        let p = policy(&plan_of(
            "x-provision: {cloud: {region: eu-west-1}}\nservices:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n",
        ));
        let by_sid = |sid: &str| p.statements.iter().find(|s| s.sid == sid).unwrap();
        let adopt = by_sid("RdsAdoptUntagged");
        assert_eq!(adopt.actions, ["rds:AddTagsToResource"]);
        assert_eq!(adopt.resources, ["arn:aws:rds:eu-west-1:*:db:*"]);
        assert_eq!(
            adopt.condition.as_ref().unwrap().to_string(),
            r#"{"Null":{"aws:ResourceTag/provision:project":"true"},"StringEquals":{"aws:RequestTag/provision:project":"shop"}}"#
        );
        let change = by_sid("ElastiCacheChangeAdopted");
        assert!(
            change
                .actions
                .contains(&"elasticache:ModifyReplicationGroup")
        );
        assert_eq!(
            change.condition.as_ref().unwrap().to_string(),
            r#"{"StringEquals":{"aws:ResourceTag/provision:project":"shop"}}"#
        );
        assert!(
            by_sid("RdsChangeAdopted")
                .actions
                .contains(&"rds:ModifyDBInstance")
        );
        for sid in ["RdsReleaseAdopted", "ElastiCacheReleaseAdopted"] {
            let release = by_sid(sid);
            assert_eq!(release.actions.len(), 1);
            assert!(release.actions[0].ends_with(":RemoveTagsFromResource"));
            assert_eq!(
                release.condition.as_ref().unwrap().to_string(),
                r#"{"StringEquals":{"aws:ResourceTag/provision:project":"shop"},"ForAllValues:StringLike":{"aws:TagKeys":["provision:*"]}}"#
            );
        }
        let linked = by_sid("SecretsReadLinked");
        assert_eq!(
            linked.resources,
            ["arn:aws:secretsmanager:eu-west-1:*:secret:rds!*"]
        );
        assert!(!linked.actions.contains(&"secretsmanager:PutSecretValue"));
        // Nothing of RDS without an RDS database.
        let text =
            serde_json::to_string(&policy(&plan_of("services:\n  kv: {image: 'redis:7'}\n")))
                .unwrap();
        assert!(!text.contains("RdsAdoptUntagged") && text.contains("ElastiCacheAdoptUntagged"));
    }

    #[test]
    fn iam_auth_adds_rds_db_connect_for_its_user_only() {
        let text = serde_json::to_string(&policy(&plan_of(
            "x-provision: {cloud: {region: eu-west-1}}\nservices:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {iam_auth: true}}\n  other: {image: 'mysql:8.4'}\n",
        )))
        .unwrap();
        assert!(
            text.contains(r#""Action":["rds-db:connect"],"Resource":["arn:aws:rds-db:eu-west-1:*:dbuser:*/app_iam"]"#),
            "{text}"
        );
        let without = serde_json::to_string(&policy(&plan_of(
            "services:\n  db: {image: 'postgres:16'}\n",
        )))
        .unwrap();
        assert!(!without.contains("rds-db:"));
    }
}
