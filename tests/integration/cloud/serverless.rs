//! `x-provision.cloud.serverless: true` against the emulator: Aurora Serverless v2 (moto's DB
//! clusters, behind the rules layer's Aurora rules) and ElastiCache Serverless.
//!
//! ElastiCache Serverless, its users and user groups are an EMULATION in the rules layer
//! (localstack/aws_rules.py, "ElastiCache Serverless ... an EMULATION, not moto"): moto 5.2.5
//! has no serverless caches and no user groups. What these tests show of them is what that
//! emulation enforces from the API reference (user group must hold a `default` user and be
//! `active`, TLS-only endpoints, statuses), read back with boto3, whose parser checks that the
//! emulated XML is the Query API's.
//!
//! Rules relied on, each enforced by the rules layer:
//! - MinCapacity 0 only on versions with auto-pause (Aurora PostgreSQL 16.3+ ...), 0.5-step
//!   ACUs, SecondsUntilAutoPause only with 0
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html,
//!   https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html);
//! - db.serverless only in a cluster with a scaling configuration; no storage or password on
//!   a cluster's instance; a cluster deleted only after its instances (USER_DeleteCluster.html);
//! - CreateUserGroup's DefaultUserRequired, CreateServerlessCache's InvalidUserGroupState
//!   (API_CreateUserGroup.html, API_CreateServerlessCache.html).

use super::*;

const AURORA: &str = r"
services:
  web:
    build: .
    links: [pg, my]
  pg:
    image: postgres:16
    x-provision: {database: shop, cloud: {serverless: true, deletion_protection: false}}
  my:
    image: mysql:8.0
    x-provision: {database: shop, cloud: {serverless: true, min_acu: 0.5, max_acu: 2, deletion_protection: false}}
";

const CACHES: &str = r"
services:
  web:
    build: .
    links: [kv, vk]
  kv:
    image: redis:7
    x-provision: {cloud: {serverless: true}}
  vk:
    image: valkey/valkey:8
    x-provision: {cloud: {serverless: true}}
";

fn ours(p: &CloudProject, action: &str, field: &str) -> Vec<serde_json::Value> {
    p.requests(action)
        .into_iter()
        .filter(|c| {
            c[field]
                .as_str()
                .is_some_and(|id| id.starts_with(&p.live.name))
        })
        .collect()
}

#[test]
fn aurora_serverless_v2_create_noop_resize_env_destroy() {
    let p = CloudProject::new("caur", AURORA);
    p.ok(&["up"]);
    let pg = p.boto3(&format!(
        "out(rds.describe_db_clusters(DBClusterIdentifier='{}')['DBClusters'][0])",
        p.id("pg")
    ));
    assert_eq!(pg["Engine"], "aurora-postgresql", "{pg}");
    assert_eq!(pg["EngineVersion"], "16.6");
    assert_eq!(pg["StorageEncrypted"], true);
    assert_eq!(pg["PubliclyAccessible"], false);
    assert_eq!(pg["BackupRetentionPeriod"], 7);
    assert_eq!(pg["DeletionProtection"], false);
    assert_eq!(pg["DatabaseName"], "shop");
    // Scale to zero on a version that can pause, with AWS's five-minute default.
    assert_eq!(
        pg["ServerlessV2ScalingConfiguration"],
        serde_json::json!({"MinCapacity": 0.0, "MaxCapacity": 4.0, "SecondsUntilAutoPause": 300})
    );
    let tags = pg["TagList"].to_string();
    assert!(
        tags.contains("provision:project") && tags.contains(&p.live.name),
        "{tags}"
    );
    // TLS enforced by the cluster parameter group.
    let group = pg["DBClusterParameterGroup"].as_str().unwrap().to_owned();
    assert!(group.ends_with("-tls"), "{group}");
    let sets = p.requests("ModifyDBClusterParameterGroup");
    assert!(
        sets.iter()
            .any(|s| s["DBClusterParameterGroupName"] == group.as_str()
                && s.to_string().contains("rds.force_ssl")),
        "{sets:?}"
    );
    let writer = p.boto3(&format!(
        "out(rds.describe_db_instances(DBInstanceIdentifier='{}-1')['DBInstances'][0])",
        p.id("pg")
    ));
    assert_eq!(writer["DBInstanceClass"], "db.serverless", "{writer}");
    assert_eq!(writer["DBClusterIdentifier"], p.id("pg").as_str());
    let my = p.boto3(&format!(
        "out(rds.describe_db_clusters(DBClusterIdentifier='{}')['DBClusters'][0])",
        p.id("my")
    ));
    assert_eq!(my["Engine"], "aurora-mysql");
    assert_eq!(my["EngineVersion"], "8.0.mysql_aurora.3.08.0");
    assert_eq!(
        my["ServerlessV2ScalingConfiguration"]["MinCapacity"], 0.5,
        "{my}"
    );
    assert!(
        p.requests("ModifyDBClusterParameterGroup")
            .iter()
            .any(|s| s.to_string().contains("require_secure_transport")
                && s.to_string().contains("\"ON\""))
    );
    // Our secret's password is the cluster's.
    let secret = p.boto3(&format!(
        "out(sm.get_secret_value(SecretId='provision/{}/pg')['SecretString'])",
        p.live.name
    ));
    assert_eq!(
        p.rules_state()["resources"][p.id("pg")]["credentials"],
        serde_json::json!([secret])
    );

    let second = p.ok(&["up", "-v"]);
    assert_eq!(
        CloudProject::mutations(&second),
        Vec::<String>::new(),
        "a second up makes no mutating call:\n{}",
        second.stderr
    );
    assert_eq!(
        p.cmd(&["plan", "--detailed-exitcode"]).output().code,
        Some(0)
    );

    // env: the cluster endpoint, TLS with the RDS CA, the stored password.
    let v = p.vars(&["--service", "web"]);
    assert_eq!(v["PG_HOST"], pg["Endpoint"].as_str().unwrap());
    assert_eq!(v["PG_PASSWORD"], secret.as_str().unwrap());
    assert!(
        v["PG_URL"].contains("sslmode=verify-full"),
        "{}",
        v["PG_URL"]
    );
    assert!(v.contains_key("PG_CA_FILE"), "{v:?}");

    // A capacity change is planned field by field and applied in place.
    p.write_manifest(&AURORA.replace(
        "{serverless: true, deletion_protection: false}",
        "{serverless: true, min_acu: 1, max_acu: 8, deletion_protection: false}",
    ));
    let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
    assert_eq!(plan.code, Some(2), "{}", plan.snapshot());
    assert!(
        plan.stdout
            .contains("capacity 0-4 ACU, pause after 300s idle -> 1-8 ACU"),
        "{}",
        plan.stdout
    );
    p.ok(&["up"]);
    let scaled = p.boto3(&format!(
        "out(rds.describe_db_clusters(DBClusterIdentifier='{}')['DBClusters'][0]['ServerlessV2ScalingConfiguration'])",
        p.id("pg")
    ));
    assert_eq!(scaled["MinCapacity"], 1.0, "{scaled}");
    assert_eq!(scaled["MaxCapacity"], 8.0);
    assert_eq!(
        p.cmd(&["plan", "--detailed-exitcode"]).output().code,
        Some(0)
    );

    p.ok(&["destroy", "--yes", "--skip-final-snapshot"]);
    let left = p.boto3(&format!(
        "out([c['DBClusterIdentifier'] for c in rds.describe_db_clusters()['DBClusters'] if c['DBClusterIdentifier'].startswith('{}')] + [d['DBInstanceIdentifier'] for d in rds.describe_db_instances()['DBInstances'] if d['DBInstanceIdentifier'].startswith('{}')])",
        p.live.name, p.live.name
    ));
    assert_eq!(left, serde_json::json!([]));
}

#[test]
fn the_rules_layer_refuses_what_aurora_refuses() {
    // min 0 on a version without auto-pause, a quarter ACU, a pause without min 0.
    for (version, scaling, code) in [
        (
            "16.1",
            "{'MinCapacity': 0, 'MaxCapacity': 4}",
            "InvalidParameterCombination",
        ),
        (
            "16.6",
            "{'MinCapacity': 0.25, 'MaxCapacity': 4}",
            "InvalidParameterValue",
        ),
        (
            "16.6",
            "{'MinCapacity': 1, 'MaxCapacity': 4, 'SecondsUntilAutoPause': 600}",
            "InvalidParameterCombination",
        ),
        (
            "16.6",
            "{'MinCapacity': 0, 'MaxCapacity': 4, 'SecondsUntilAutoPause': 60}",
            "InvalidParameterValue",
        ),
        (
            "9.9",
            "{'MinCapacity': 1, 'MaxCapacity': 4}",
            "InvalidParameterCombination",
        ),
    ] {
        let got = boto3(&format!(
            "try:\n    rds.create_db_cluster(DBClusterIdentifier='crules-x', Engine='aurora-postgresql', EngineVersion='{version}', MasterUsername='app', MasterUserPassword='x'*20, ServerlessV2ScalingConfiguration={scaling})\n    out('created')\nexcept Exception as e:\n    out(e.response['Error']['Code'])"
        ));
        assert_eq!(got, code, "{version} {scaling}");
    }
    // db.serverless only in a cluster with a scaling configuration.
    let got = boto3(
        "rds.create_db_cluster(DBClusterIdentifier='crules-plain', Engine='aurora-postgresql', EngineVersion='16.6', MasterUsername='app', MasterUserPassword='x'*20)\n\
         try:\n    rds.create_db_instance(DBInstanceIdentifier='crules-plain-1', DBClusterIdentifier='crules-plain', Engine='aurora-postgresql', DBInstanceClass='db.serverless')\n    out('created')\nexcept Exception as e:\n    out(e.response['Error']['Code'])\n\
         rds.delete_db_cluster(DBClusterIdentifier='crules-plain', SkipFinalSnapshot=True)",
    );
    assert_eq!(got, "InvalidParameterCombination");
    // The emulated user groups need a `default` user (DefaultUserRequired).
    let got = boto3(
        "ec.create_user(UserId='crules-app', UserName='app', Engine='redis', AccessString='on ~* +@all', Passwords=['p'*20])\n\
         try:\n    ec.create_user_group(UserGroupId='crules-g', Engine='redis', UserIds=['crules-app'])\n    out('created')\nexcept Exception as e:\n    out(e.response['Error']['Code'])\n\
         ec.delete_user(UserId='crules-app')",
    );
    assert_eq!(got, "DefaultUserRequired");
}

#[test]
fn elasticache_serverless_create_noop_env_destroy() {
    let p = CloudProject::new("csrv", CACHES);
    p.ok(&["up"]);
    for (id, engine, major) in [("kv", "redis", "7"), ("vk", "valkey", "8")] {
        let c = p.boto3(&format!(
            "out(ec.describe_serverless_caches(ServerlessCacheName='{}')['ServerlessCaches'][0])",
            p.id(id)
        ));
        assert_eq!(c["Status"], "available", "{c}");
        assert_eq!(c["Engine"], engine);
        assert_eq!(c["MajorEngineVersion"], major);
        assert_eq!(c["SnapshotRetentionLimit"], 7);
        let group = c["UserGroupId"].as_str().unwrap().to_owned();
        let g = p.boto3(&format!(
            "out(ec.describe_user_groups(UserGroupId='{group}')['UserGroups'][0])"
        ));
        assert_eq!(g["Status"], "active");
        let tags = p.boto3(&format!(
            "out(ec.list_tags_for_resource(ResourceName='{}')['TagList'])",
            c["ARN"].as_str().unwrap()
        ));
        assert!(tags.to_string().contains(&p.live.name), "{tags}");
    }
    // The app's user holds the stored password; `default` is off and has none.
    let state = &p.rules_state()["serverless_caches"][p.id("kv")];
    let secret = p.boto3(&format!(
        "out(sm.get_secret_value(SecretId='provision/{}/kv')['SecretString'])",
        p.live.name
    ));
    assert_eq!(
        state["users"]["app"]["credentials"],
        serde_json::json!([secret])
    );
    assert_eq!(state["users"]["default"]["nopass"], true);
    assert!(
        state["users"]["default"]["access"]
            .as_str()
            .unwrap()
            .starts_with("off"),
        "{state}"
    );

    let second = p.ok(&["up", "-v"]);
    assert_eq!(
        CloudProject::mutations(&second),
        Vec::<String>::new(),
        "a second up makes no mutating call:\n{}",
        second.stderr
    );
    assert_eq!(
        p.cmd(&["plan", "--detailed-exitcode"]).output().code,
        Some(0)
    );

    // REDIS_URL logs in as the RBAC user over TLS.
    let v = p.vars(&["--service", "web"]);
    let pw = secret.as_str().unwrap();
    assert_eq!(
        v["KV_URL"],
        format!("rediss://app:{pw}@{}:6379/0", v["KV_HOST"])
    );
    assert!(v["VK_URL"].starts_with("rediss://app:"), "{}", v["VK_URL"]);

    p.ok(&["destroy", "--yes", "--skip-final-snapshot"]);
    let left = p.boto3(&format!(
        "out([c['ServerlessCacheName'] for c in ec.describe_serverless_caches()['ServerlessCaches'] if c['ServerlessCacheName'].startswith('{n}')] + [g['UserGroupId'] for g in ec.describe_user_groups()['UserGroups'] if g['UserGroupId'].startswith('{n}')] + [u['UserId'] for u in ec.describe_users()['Users'] if u['UserId'].startswith('{n}')])",
        n = p.live.name
    ));
    assert_eq!(left, serde_json::json!([]));
    assert_eq!(
        ours(&p, "CreateServerlessCache", "ServerlessCacheName").len(),
        2
    );
}
