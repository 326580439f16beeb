//! `provision adopt` and `release` against the emulator: resources made with boto3 (outside
//! provision, with identifiers that do not follow its naming) brought under a manifest,
//! checked with boto3 again, then handed back.
//!
//! AWS rules these rely on, enforced by the rules layer where moto skips them
//! (localstack/aws_rules.py, `tag_rules`): tag keys up to 128 and values up to 256
//! characters, `aws:` (and for RDS `rds:`) reserved, 50 tags per resource
//! (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Tag.html,
//! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_AddTagsToResource.html),
//! Secrets Manager's own tag limits
//! (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_TagResource.html); a
//! replication group takes changes (the AUTH token ROTATE) only when `available`
//! (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html).

use super::*;

const PG: &str = r"
services:
  pg:
    image: postgres:16
    x-provision: {cloud: {deletion_protection: false}}
";

const KV: &str = r"
services:
  kv:
    image: redis:7
";

/// Waits (bounded) until boto3 sees the resource `available`.
fn wait_available(kind: &str, id: &str) {
    let call = match kind {
        "rds" => format!(
            "rds.describe_db_instances(DBInstanceIdentifier='{id}')['DBInstances'][0]['DBInstanceStatus']"
        ),
        _ => format!(
            "ec.describe_replication_groups(ReplicationGroupId='{id}')['ReplicationGroups'][0]['Status']"
        ),
    };
    boto3(&format!(
        "import time\nfor _ in range(120):\n    if {call} == 'available':\n        break\n    time.sleep(0.25)\nout({call})"
    ));
}

fn rds_tags(id: &str) -> BTreeMap<String, String> {
    let tags = boto3(&format!(
        "db = rds.describe_db_instances(DBInstanceIdentifier='{id}')['DBInstances'][0]\nout({{t['Key']: t['Value'] for t in rds.list_tags_for_resource(ResourceName=db['DBInstanceArn'])['TagList']}})"
    ));
    serde_json::from_value(tags).unwrap()
}

fn secret_tags(name: &str) -> serde_json::Value {
    boto3(&format!(
        "s = sm.describe_secret(SecretId='{name}')\nout({{'tags': {{t['Key']: t['Value'] for t in s.get('Tags', [])}}, 'deleted': 'DeletedDate' in s}})"
    ))
}

/// A Postgres instance and a MySQL one made by hand, with a tag of the team's, and the
/// team's secret for the first in RDS's JSON form.
fn legacy(p: &CloudProject) -> (String, String, String) {
    let name = &p.live.name;
    let pg = format!("legacy-{name}-pg");
    let my = format!("legacy-{name}-my");
    let arn = boto3(&format!(
        "for ident, engine, version in (('{pg}', 'postgres', '16'), ('{my}', 'mysql', '8.4')):\n    rds.create_db_instance(DBInstanceIdentifier=ident, Engine=engine, EngineVersion=version, DBInstanceClass='db.t4g.micro', AllocatedStorage=20, MasterUsername='app', MasterUserPassword='Legacy-Pass-123', BackupRetentionPeriod=7, DeletionProtection=False, StorageEncrypted=True, MultiAZ=False, Tags=[{{'Key': 'team', 'Value': 'core'}}])\nout(sm.create_secret(Name='team/{name}/pg', SecretString=json.dumps({{'username': 'app', 'password': 'Legacy-Pass-123'}}))['ARN'])"
    ));
    wait_available("rds", &pg);
    wait_available("rds", &my);
    (pg, my, arn.as_str().unwrap().to_owned())
}

#[test]
fn an_rds_instance_is_adopted_with_its_secret_planned_released_and_adopted_again() {
    let p = CloudProject::new("cadopt", PG);
    let name = p.live.name.clone();
    let (pg, my, arn) = legacy(&p);

    // Refusals, before anything changes: no `--yes` without a terminal, the wrong engine,
    // a secret ARN that is not one, no credential at all.
    let no_yes = p
        .cmd(&["adopt", "pg", "--id", &pg, "--secret-arn", &arn])
        .output();
    assert_eq!(no_yes.code, Some(2), "{}", no_yes.snapshot());
    assert!(no_yes.stderr.contains("--yes"), "{}", no_yes.stderr);
    // The preview was shown all the same: what would be tagged, and the diff.
    assert!(
        no_yes.stderr.contains("provision:project="),
        "{}",
        no_yes.stderr
    );
    assert!(!rds_tags(&pg).contains_key("provision:project"));
    let wrong = p
        .cmd(&["adopt", "pg", "--id", &my, "--secret-arn", &arn, "--yes"])
        .output();
    assert_eq!(wrong.code, Some(1), "{}", wrong.snapshot());
    assert!(wrong.stderr.contains("runs `mysql`"), "{}", wrong.stderr);
    let bad = p
        .cmd(&[
            "adopt",
            "pg",
            "--id",
            &pg,
            "--secret-arn",
            "team-secret",
            "--yes",
        ])
        .output();
    assert_eq!(bad.code, Some(2), "{}", bad.snapshot());
    assert!(
        bad.stderr.contains("not a Secrets Manager secret ARN"),
        "{}",
        bad.stderr
    );
    let none = p.cmd(&["adopt", "pg", "--id", &pg, "--yes"]).output();
    assert_eq!(none.code, Some(2), "{}", none.snapshot());
    assert!(
        none.stderr.contains("no credential found"),
        "{}",
        none.stderr
    );
    assert!(!rds_tags(&pg).contains_key("provision:project"));

    let adopted = p.ok(&["adopt", "pg", "--id", &pg, "--secret-arn", &arn, "--yes"]);
    assert!(
        adopted.stderr.contains("it matches the manifest"),
        "{}",
        adopted.stderr
    );
    // The same tags as provision's own, the team's kept; the identifier is the team's.
    let tags = rds_tags(&pg);
    assert_eq!(tags["provision:project"], name);
    assert_eq!(tags["provision:resource"], "pg");
    assert_eq!(tags["provision:type"], "postgres");
    assert_eq!(tags["team"], "core");
    let record = secret_tags(&format!("provision/{name}/pg"));
    assert_eq!(record["tags"]["provision:identifier"], pg.as_str());
    assert_eq!(record["tags"]["provision:linked-secret"], arn.as_str());

    // `plan` treats it as any other: no change, then drift made with boto3, then `up`.
    let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
    assert_eq!(plan.code, Some(0), "{}", plan.snapshot());
    assert!(plan.stdout.contains(&pg), "{}", plan.stdout);
    boto3(&format!(
        "out(rds.modify_db_instance(DBInstanceIdentifier='{pg}', BackupRetentionPeriod=3, ApplyImmediately=True)['DBInstance']['DBInstanceIdentifier'])"
    ));
    wait_available("rds", &pg);
    let drift = p.cmd(&["plan", "--detailed-exitcode"]).output();
    assert_eq!(drift.code, Some(2), "{}", drift.snapshot());
    assert!(
        drift.stdout.contains("backup_retention_days"),
        "{}",
        drift.stdout
    );
    p.ok(&["up"]);
    let retention = boto3(&format!(
        "out(rds.describe_db_instances(DBInstanceIdentifier='{pg}')['DBInstances'][0]['BackupRetentionPeriod'])"
    ));
    assert_eq!(retention, 7);
    let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
    assert_eq!(plan.code, Some(0), "{}", plan.snapshot());

    // `env`: the real endpoint and the team's password, read from their secret.
    let host = boto3(&format!(
        "out(rds.describe_db_instances(DBInstanceIdentifier='{pg}')['DBInstances'][0]['Endpoint']['Address'])"
    ));
    let vars = p.vars(&[]);
    assert_eq!(vars["PG_HOST"], host.as_str().unwrap());
    assert_eq!(vars["PG_PASSWORD"], "Legacy-Pass-123");

    // Another project cannot adopt what this one tagged.
    let other = CloudProject::new("cadopt2", PG);
    let foreign = other
        .cmd(&["adopt", "pg", "--id", &pg, "--secret-arn", &arn, "--yes"])
        .output();
    assert_eq!(foreign.code, Some(1), "{}", foreign.snapshot());
    assert!(
        foreign.stderr.contains("already tagged"),
        "{}",
        foreign.stderr
    );

    // Release: only provision's tags go; it keeps running; the record stays, released.
    let released = p.ok(&["release", "pg", "--yes"]);
    assert!(released.stderr.contains("yours now"), "{}", released.stderr);
    let tags = rds_tags(&pg);
    assert_eq!(
        tags,
        BTreeMap::from([("team".to_owned(), "core".to_owned())])
    );
    let status = boto3(&format!(
        "out(rds.describe_db_instances(DBInstanceIdentifier='{pg}')['DBInstances'][0]['DBInstanceStatus'])"
    ));
    assert_eq!(status, "available");
    let record = secret_tags(&format!("provision/{name}/pg"));
    assert_eq!(record["tags"]["provision:released"], "true");
    let plan = p.cmd(&["plan"]).output();
    assert_eq!(plan.code, Some(1), "{}", plan.snapshot());
    assert!(plan.stderr.contains("was released"), "{}", plan.stderr);

    // Adopted again from the record alone (identifier and linked secret), then destroyed as
    // provision's own: the team's secret stays theirs.
    p.ok(&["adopt", "pg", "--yes"]);
    assert_eq!(rds_tags(&pg)["provision:project"], name);
    let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
    assert_eq!(plan.code, Some(0), "{}", plan.snapshot());
    p.ok(&["destroy", "--yes", "--skip-final-snapshot"]);
    let gone = boto3(&format!(
        "try:\n    out(rds.describe_db_instances(DBInstanceIdentifier='{pg}')['DBInstances'][0]['DBInstanceStatus'])\nexcept rds.exceptions.DBInstanceNotFoundFault:\n    out('gone')"
    ));
    assert!(gone == "gone" || gone == "deleting", "{gone}");
    assert_eq!(secret_tags(&arn)["deleted"], false);
    assert_eq!(
        secret_tags(&format!("provision/{name}/pg"))["deleted"],
        true
    );
    boto3(&format!(
        "rds.delete_db_instance(DBInstanceIdentifier='{my}', SkipFinalSnapshot=True)\nout(1)"
    ));
}

#[test]
fn a_redis_group_is_adopted_with_a_new_password_and_released() {
    let p = CloudProject::new("cadoptkv", KV);
    let name = p.live.name.clone();
    let kv = format!("old-{}", &name[name.len().saturating_sub(12)..]);
    boto3(&format!(
        "out(ec.create_replication_group(ReplicationGroupId='{kv}', ReplicationGroupDescription='by hand', Engine='redis', CacheNodeType='cache.t4g.micro', NumCacheClusters=1, TransitEncryptionEnabled=True, AtRestEncryptionEnabled=True, AuthToken='Old-Token-0123456789', SnapshotRetentionLimit=7, Tags=[{{'Key': 'team', 'Value': 'core'}}])['ReplicationGroup']['ReplicationGroupId'])"
    ));
    wait_available("ec", &kv);
    let adopted = p.ok(&["adopt", "kv", "--id", &kv, "--reset-password", "--yes"]);
    assert!(adopted.stderr.contains("ROTATE"), "{}", adopted.stderr);
    let tags = boto3(&format!(
        "g = ec.describe_replication_groups(ReplicationGroupId='{kv}')['ReplicationGroups'][0]\nout({{t['Key']: t['Value'] for t in ec.list_tags_for_resource(ResourceName=g['ARN'])['TagList']}})"
    ));
    assert_eq!(tags["provision:project"], name.as_str());
    assert_eq!(tags["provision:resource"], "kv");
    assert_eq!(tags["team"], "core");
    // The new token is stored and opens the group (ROTATE: the old one still does too).
    let password = p.vars(&[])["KV_PASSWORD"].clone();
    assert_ne!(password, "Old-Token-0123456789");
    let credentials = p.rules_state()["resources"][&kv]["credentials"].clone();
    assert_eq!(
        credentials,
        serde_json::json!(["Old-Token-0123456789", password])
    );
    let record = secret_tags(&format!("provision/{name}/kv"));
    assert_eq!(record["tags"]["provision:identifier"], kv.as_str());
    assert!(record["tags"].get("provision:password-pending").is_none());
    assert!(record["tags"].get("provision:linked-secret").is_none());

    p.ok(&["release", "kv", "--yes"]);
    let tags = boto3(&format!(
        "g = ec.describe_replication_groups(ReplicationGroupId='{kv}')['ReplicationGroups'][0]\nout({{'status': g['Status'], 'tags': {{t['Key']: t['Value'] for t in ec.list_tags_for_resource(ResourceName=g['ARN'])['TagList']}}}})"
    ));
    assert_eq!(tags["tags"], serde_json::json!({"team": "core"}));
    assert_eq!(tags["status"], "available");
    // The password is kept: adopting again needs neither a secret nor a reset.
    p.ok(&["adopt", "kv", "--yes"]);
    assert_eq!(p.vars(&[])["KV_PASSWORD"], password);
    boto3(&format!(
        "ec.delete_replication_group(ReplicationGroupId='{kv}')\nout(1)"
    ));
}

#[test]
fn tags_over_the_limits_are_refused_as_aws_does() {
    // The rules the adoption relies on, straight at the rules layer.
    let p = CloudProject::new("cadopttag", KV);
    let kv = format!("t-{}", &p.live.name[p.live.name.len().saturating_sub(12)..]);
    let out = boto3(&format!(
        "g = ec.create_replication_group(ReplicationGroupId='{kv}', ReplicationGroupDescription='x', Engine='redis', CacheNodeType='cache.t4g.micro', NumCacheClusters=1)['ReplicationGroup']\n\
         import time\n\
         time.sleep(1.5)\n\
         arn = ec.describe_replication_groups(ReplicationGroupId='{kv}')['ReplicationGroups'][0]['ARN']\n\
         res = {{}}\n\
         def code(f):\n    try:\n        f()\n        return 'ok'\n    except Exception as e:\n        return e.response['Error']['Code']\n\
         res['aws'] = code(lambda: ec.add_tags_to_resource(ResourceName=arn, Tags=[{{'Key': 'aws:x', 'Value': 'v'}}]))\n\
         res['long'] = code(lambda: ec.add_tags_to_resource(ResourceName=arn, Tags=[{{'Key': 'k' * 129, 'Value': 'v'}}]))\n\
         res['first'] = code(lambda: ec.add_tags_to_resource(ResourceName=arn, Tags=[{{'Key': f'k{{i}}', 'Value': 'v'}} for i in range(45)]))\n\
         res['quota'] = code(lambda: ec.add_tags_to_resource(ResourceName=arn, Tags=[{{'Key': f'n{{i}}', 'Value': 'v'}} for i in range(6)]))\n\
         res['sm'] = code(lambda: sm.create_secret(Name='t/{kv}', SecretString='x', Tags=[{{'Key': 'aws:x', 'Value': 'v'}}]))\n\
         res['smlong'] = code(lambda: sm.create_secret(Name='t/{kv}', SecretString='x', Tags=[{{'Key': 'k', 'Value': 'v' * 256}}]))\n\
         ec.delete_replication_group(ReplicationGroupId='{kv}')\n\
         out(res)"
    ));
    assert_eq!(
        out,
        serde_json::json!({
            "aws": "InvalidParameterValue",
            "long": "InvalidParameterValue",
            "first": "ok",
            "quota": "TagQuotaPerResourceExceeded",
            "sm": "InvalidParameterException",
            "smlong": "ValidationException",
        })
    );
}
