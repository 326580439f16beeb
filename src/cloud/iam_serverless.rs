//! The `iam-policy` statements of `serverless: true`: Aurora Serverless v2 clusters (with
//! their writer and cluster parameter group) and ElastiCache Serverless caches (with their
//! users and user group). As for the other kinds: create only with the project's tag on the
//! request, change and delete only what carries it, names under the project's prefix.
//!
//! Resource types and the actions that authorize them: Service Authorization Reference,
//! Amazon RDS (`cluster`, `cluster-pg`, `cluster-snapshot`, `db`, `subgrp`:
//! https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html) and
//! Amazon ElastiCache (`serverlesscache`, `serverlesscachesnapshot`, `user`, `usergroup`:
//! https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticache.html).

use serde_json::Value;

use super::iam_policy::Statement;
use crate::catalog::CloudService;
use crate::names;
use crate::plan::CloudPlan;

/// What the serverless resources of a plan add: read actions, statements, and the services
/// whose service-linked role they need.
pub(super) struct Added {
    pub read: Vec<&'static str>,
    pub statements: Vec<Statement>,
    pub linked: Vec<&'static str>,
}

fn allow(
    sid: &'static str,
    actions: &[&'static str],
    resources: Vec<String>,
    condition: Option<&Value>,
) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        actions: actions.to_vec(),
        resources,
        condition: condition.cloned(),
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one statement per group of actions, read top to bottom as AWS shows them"
)]
pub(super) fn statements(
    project: &str,
    clouds: &[&CloudPlan],
    arn: &dyn Fn(&str, String) -> String,
    request_tag: Option<&Value>,
    resource_tag: Option<&Value>,
) -> Added {
    let mut out = Added {
        read: Vec::new(),
        statements: Vec::new(),
        linked: Vec::new(),
    };
    let aurora = clouds
        .iter()
        .any(|c| c.service == CloudService::AuroraServerless);
    let cache = clouds
        .iter()
        .any(|c| c.service == CloudService::ElasticacheServerless);
    let subnet_groups = || {
        vec![
            arn("rds", format!("subgrp:{}", names::network(project))),
            arn(
                "rds",
                format!("subgrp:{}", names::stage_network_pattern(project)),
            ),
        ]
    };
    let cluster_pg = || {
        arn(
            "rds",
            format!("cluster-pg:{}", names::parameter_group_pattern(project)),
        )
    };
    if aurora {
        out.read.extend([
            "rds:DescribeDBClusters",
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusterParameterGroups",
            "rds:DescribeDBSubnetGroups",
            "rds:ListTagsForResource",
        ]);
        let mut created = vec![
            arn("rds", format!("cluster:{project}-*")),
            arn("rds", format!("db:{project}-*")),
            cluster_pg(),
        ];
        created.extend(subnet_groups());
        out.statements.push(allow(
            "AuroraCreateTagged",
            &[
                "rds:CreateDBCluster",
                "rds:CreateDBInstance",
                "rds:CreateDBClusterParameterGroup",
                "rds:CreateDBSubnetGroup",
                "rds:AddTagsToResource",
            ],
            created,
            request_tag,
        ));
        // CreateDBCluster names the project's cluster parameter group and subnet group;
        // CreateDBInstance names the cluster the writer joins.
        let mut used = vec![cluster_pg(), arn("rds", format!("cluster:{project}-*"))];
        used.extend(subnet_groups());
        out.statements.push(allow(
            "AuroraUseOwn",
            &[
                "rds:CreateDBCluster",
                "rds:CreateDBInstance",
                "rds:ModifyDBClusterParameterGroup",
                "rds:DeleteDBClusterParameterGroup",
            ],
            used,
            resource_tag,
        ));
        // The writer's default DB parameter and option groups.
        out.statements.push(allow(
            "AuroraUseDefaultGroups",
            &["rds:CreateDBInstance"],
            vec![
                arn("rds", "pg:default.*".into()),
                arn("rds", "og:default:*".into()),
            ],
            None,
        ));
        let mut own = vec![
            arn("rds", format!("cluster:{project}-*")),
            arn("rds", format!("db:{project}-*")),
        ];
        own.extend(subnet_groups());
        out.statements.push(allow(
            "AuroraChangeOwn",
            &[
                "rds:ModifyDBCluster",
                "rds:DeleteDBCluster",
                "rds:DeleteDBInstance",
                "rds:DeleteDBSubnetGroup",
                "rds:AddTagsToResource",
            ],
            own,
            resource_tag,
        ));
        // DeleteDBCluster with FinalDBSnapshotIdentifier takes a cluster snapshot.
        out.statements.push(allow(
            "AuroraFinalSnapshots",
            &["rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"],
            vec![arn("rds", format!("cluster-snapshot:{project}-*-final-*"))],
            None,
        ));
        out.linked.push("rds.amazonaws.com");
    }
    if cache {
        out.read.extend([
            "elasticache:DescribeServerlessCaches",
            "elasticache:DescribeUserGroups",
            "elasticache:ListTagsForResource",
        ]);
        let own = || {
            vec![
                arn("elasticache", format!("serverlesscache:{project}-*")),
                arn("elasticache", format!("user:{project}-*")),
                arn("elasticache", format!("usergroup:{project}-*")),
            ]
        };
        out.statements.push(allow(
            "ServerlessCacheCreateTagged",
            &[
                "elasticache:CreateServerlessCache",
                "elasticache:CreateUser",
                "elasticache:CreateUserGroup",
                "elasticache:AddTagsToResource",
            ],
            own(),
            request_tag,
        ));
        // CreateUserGroup names its users, CreateServerlessCache its user group.
        out.statements.push(allow(
            "ServerlessCacheUseOwnUsers",
            &[
                "elasticache:CreateUserGroup",
                "elasticache:CreateServerlessCache",
            ],
            vec![
                arn("elasticache", format!("user:{project}-*")),
                arn("elasticache", format!("usergroup:{project}-*")),
            ],
            resource_tag,
        ));
        out.statements.push(allow(
            "ServerlessCacheChangeOwn",
            &[
                "elasticache:ModifyServerlessCache",
                "elasticache:DeleteServerlessCache",
                "elasticache:ModifyUser",
                "elasticache:DeleteUser",
                "elasticache:DeleteUserGroup",
                "elasticache:AddTagsToResource",
            ],
            own(),
            resource_tag,
        ));
        // DeleteServerlessCache with FinalSnapshotName takes a serverless cache snapshot.
        out.statements.push(allow(
            "ServerlessCacheFinalSnapshots",
            &[
                "elasticache:CreateServerlessCacheSnapshot",
                "elasticache:AddTagsToResource",
            ],
            vec![arn(
                "elasticache",
                format!("serverlesscachesnapshot:{project}-*-final-*"),
            )],
            None,
        ));
        out.linked.push("elasticache.amazonaws.com");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::plan::Target;

    fn policy_of(text: &str) -> super::super::iam_policy::Policy {
        let catalog = Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            text.as_bytes(),
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        super::super::iam_policy::policy(
            &crate::plan::plan(&m, &catalog, Target::Cloud, None).unwrap(),
        )
    }

    #[test]
    fn serverless_calls_are_allowed_tag_conditioned_and_only_when_used() {
        let p = policy_of(
            "x-provision: {cloud: {region: eu-west-1}}\nservices:\n  db: {image: 'postgres:16', x-provision: {cloud: {serverless: true}}}\n  kv: {image: 'valkey/valkey:8', x-provision: {cloud: {serverless: true}}}\n",
        );
        let by_sid = |sid: &str| {
            p.statements
                .iter()
                .find(|s| s.sid == sid)
                .unwrap_or_else(|| panic!("{sid}"))
        };
        let create = by_sid("AuroraCreateTagged");
        assert!(create.actions.contains(&"rds:CreateDBCluster"));
        assert!(
            create
                .actions
                .contains(&"rds:CreateDBClusterParameterGroup")
        );
        assert!(
            create
                .resources
                .contains(&"arn:aws:rds:eu-west-1:*:cluster:shop-*".to_owned())
        );
        assert!(
            create
                .condition
                .as_ref()
                .unwrap()
                .to_string()
                .contains("aws:RequestTag/provision:project")
        );
        let change = by_sid("AuroraChangeOwn");
        for a in [
            "rds:ModifyDBCluster",
            "rds:DeleteDBCluster",
            "rds:DeleteDBInstance",
        ] {
            assert!(change.actions.contains(&a), "{a}");
        }
        assert!(
            change
                .condition
                .as_ref()
                .unwrap()
                .to_string()
                .contains("aws:ResourceTag/provision:project")
        );
        let cache = by_sid("ServerlessCacheCreateTagged");
        for a in [
            "elasticache:CreateServerlessCache",
            "elasticache:CreateUser",
            "elasticache:CreateUserGroup",
        ] {
            assert!(cache.actions.contains(&a), "{a}");
        }
        let own = by_sid("ServerlessCacheChangeOwn");
        for a in [
            "elasticache:DeleteServerlessCache",
            "elasticache:ModifyUser",
            "elasticache:DeleteUserGroup",
            "elasticache:DeleteUser",
        ] {
            assert!(own.actions.contains(&a), "{a}");
        }
        let read = &by_sid("ReadOnly").actions;
        for a in [
            "rds:DescribeDBClusters",
            "elasticache:DescribeServerlessCaches",
            "elasticache:DescribeUserGroups",
        ] {
            assert!(read.contains(&a), "{a}");
        }
        // Neither an RDS instance's nor a replication group's statements: none is planned.
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("RdsCreateTagged") && !text.contains("ElastiCacheCreateTagged"),
            "{text}"
        );
        let plain =
            serde_json::to_string(&policy_of("services:\n  db: {image: 'postgres:16'}\n")).unwrap();
        assert!(
            !plain.contains("Aurora") && !plain.contains("Serverless"),
            "{plain}"
        );
    }
}
