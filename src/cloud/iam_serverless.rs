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
            vec![arn(
                "rds",
                format!("cluster-snapshot:{project}-*-final-*"),
            )],
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
