//! Drift: settings changed outside provision, here with boto3 as a console user or another
//! tool would, told apart from manifest changes by the `provision:applied` record
//! (`src/cloud/drift.rs`). What the emulator is trusted with, and where the rules layer
//! (localstack/aws_rules.py) enforces what moto skips:
//! - ModifyDBInstance `BackupRetentionPeriod` 0 to 35, `DBParameterGroupName` of the
//!   instance's family, AWS's default groups (`default.postgres16`) existing without being
//!   created (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html,
//!   https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/parameter-groups-overview.html): the layer;
//! - `PubliclyAccessible` "applied immediately regardless of the value of the
//!   ApplyImmediately parameter" (API_ModifyDBInstance.html): moto keeps and reports it;
//! - tag values up to 256 characters of letters, digits, white space and `_ . : / = + - @`
//!   (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Tag.html,
//!   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_Tag.html): the layer,
//!   so the record provision writes is one AWS would take;
//! - ElastiCache tags readable only when `available`, changes only from `available`: the layer.

use super::*;

const DRIFT: &str = "services:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n";

/// Waits (bounded) until the instance and the group are `available` again, as boto3 sees them.
fn settle(p: &CloudProject) {
    p.boto3(&format!(
        "import time\n\
         for _ in range(120):\n\
         \x20   d = rds.describe_db_instances(DBInstanceIdentifier='{db}')['DBInstances'][0]['DBInstanceStatus']\n\
         \x20   g = ec.describe_replication_groups(ReplicationGroupId='{kv}')['ReplicationGroups'][0]['Status']\n\
         \x20   if d == 'available' and g == 'available':\n\
         \x20       break\n\
         \x20   time.sleep(0.25)\n\
         out([d, g])",
        db = p.id("db"),
        kv = p.id("kv")
    ));
}

fn instance(p: &CloudProject) -> serde_json::Value {
    p.boto3(&format!(
        "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0])",
        p.id("db")
    ))
}

fn applied_tag(p: &CloudProject) -> Option<String> {
    instance(p)["TagList"]
        .as_array()?
        .iter()
        .find(|t| t["Key"] == "provision:applied")
        .and_then(|t| t["Value"].as_str().map(str::to_owned))
}

#[test]
fn drift_made_outside_provision_is_shown_per_field_and_up_puts_it_back() {
    let p = CloudProject::isolated("cdrift", DRIFT);
    p.ok(&["up"]);
    // The create carried the record: no second call, and a rerun is still a no-op.
    let record = applied_tag(&p).expect("the create tags what it applied");
    assert!(
        record.starts_with("1 ") && record.contains(" br=7"),
        "{record}"
    );
    let again = p.ok(&["up", "-v"]);
    assert_eq!(CloudProject::mutations(&again), Vec::<String>::new());
    let none = p.cmd(&["plan", "--drift"]).output();
    assert_eq!(none.code, Some(0), "{}", none.snapshot());

    // Someone turns off backups, opens the instance to the internet, moves it to the default
    // parameter group (which does not refuse plaintext), and shortens the cache's backups.
    p.boto3(&format!(
        "rds.modify_db_instance(DBInstanceIdentifier='{db}', BackupRetentionPeriod=1, PubliclyAccessible=True, DBParameterGroupName='default.postgres16', ApplyImmediately=True)\n\
         ec.modify_replication_group(ReplicationGroupId='{kv}', SnapshotRetentionLimit=2, ApplyImmediately=True)\n\
         out(1)",
        db = p.id("db"),
        kv = p.id("kv")
    ));
    settle(&p);
    let name = &p.live.name;
    let plan = p.ok(&["plan"]);
    for line in [
        "db  drift      backup_retention_days 7 -> 1 (changed outside provision; up puts back 7)".to_owned(),
        "db  drift      publicly_accessible false -> true (changed outside provision; up puts back false)".into(),
        format!("db  drift      parameter_group {name}-postgres16-tls -> default.postgres16 (changed outside provision; up puts back {name}-postgres16-tls)"),
        "kv  drift      backup_retention_days 7 -> 2 (changed outside provision; up puts back 7)".into(),
        "db  update     puts back what changed outside provision".into(),
    ] {
        assert!(plan.stdout.contains(&line), "{line}\n{}", plan.stdout);
    }
    let json: serde_json::Value =
        serde_json::from_str(&p.ok(&["plan", "--json"]).stdout).expect("plan --json");
    let drift = |resource: &str| -> Vec<String> {
        json["live"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == resource)
            .unwrap()["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{} {} {} {}",
                    d["field"].as_str().unwrap(),
                    d["applied"].as_str().unwrap(),
                    d["live"].as_str().unwrap(),
                    d["manifest"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        drift("db"),
        [
            "backup_retention_days 7 1 7".to_owned(),
            "publicly_accessible false true false".into(),
            format!(
                "parameter_group {name}-postgres16-tls default.postgres16 {name}-postgres16-tls"
            ),
        ]
    );
    assert_eq!(drift("kv"), ["backup_retention_days 7 2 7"]);
    let markdown = p.ok(&["plan", "--format", "markdown"]);
    assert!(
        markdown
            .stdout
            .contains("drift: backup_retention_days 7 -> 1 (changed outside provision"),
        "{}",
        markdown.stdout
    );
    let check = p.cmd(&["plan", "--drift"]).output();
    assert_eq!(check.code, Some(2), "{}", check.snapshot());

    // `up` says what it puts back, then does; the record already says so: no tag write.
    let up = p.ok(&["up", "-v"]);
    for line in [
        "drift: backup_retention_days is 1 (changed outside provision); putting back 7",
        "drift: publicly_accessible is true (changed outside provision); putting back false",
        "drift: parameter_group is default.postgres16 (changed outside provision); putting back",
        "drift: backup_retention_days is 2 (changed outside provision); putting back 7",
    ] {
        assert!(up.stderr.contains(line), "{line}\n{}", up.stderr);
    }
    let mut made = CloudProject::mutations(&up);
    made.sort();
    assert_eq!(
        made,
        ["ElastiCache.ModifyReplicationGroup", "RDS.ModifyDBInstance"],
        "{}",
        up.stderr
    );
    let db = instance(&p);
    assert_eq!(db["BackupRetentionPeriod"], 7);
    assert_eq!(db["PubliclyAccessible"], false);
    assert_eq!(
        db["DBParameterGroups"][0]["DBParameterGroupName"],
        format!("{name}-postgres16-tls")
    );
    let kv = p.boto3(&format!(
        "out(ec.describe_replication_groups(ReplicationGroupId='{}')['ReplicationGroups'][0])",
        p.id("kv")
    ));
    assert_eq!(kv["SnapshotRetentionLimit"], 7);
    settle(&p);
    let clean = p.cmd(&["plan", "--drift"]).output();
    assert_eq!(clean.code, Some(0), "{}", clean.snapshot());
    assert!(!clean.stdout.contains("  drift "), "{}", clean.stdout);

    // A manifest change is a change, not drift: `plan --drift` stays 0, `up` applies it and
    // records it in the same run (one tag write).
    p.write_manifest(&DRIFT.replace(
        "db: {image: 'postgres:16'}",
        "db: {image: 'postgres:16', x-provision: {cloud: {backup_retention_days: 14}}}",
    ));
    let plan = p.cmd(&["plan", "--drift"]).output();
    assert_eq!(plan.code, Some(0), "{}", plan.snapshot());
    assert!(
        plan.stdout
            .contains("db  update     backup_retention_days 7 -> 14")
            && !plan.stdout.contains("  drift "),
        "{}",
        plan.stdout
    );
    assert_eq!(
        p.cmd(&["plan", "--detailed-exitcode"]).output().code,
        Some(2)
    );
    let up = p.ok(&["up", "-v"]);
    assert_eq!(
        CloudProject::mutations(&up),
        ["RDS.ModifyDBInstance", "RDS.AddTagsToResource"],
        "{}",
        up.stderr
    );
    assert!(!up.stderr.contains("drift:"), "{}", up.stderr);
    assert!(applied_tag(&p).unwrap().contains(" br=14"));
    settle(&p);
    for flag in ["--drift", "--detailed-exitcode"] {
        let out = p.cmd(&["plan", flag]).output();
        assert_eq!(out.code, Some(0), "{flag}: {}", out.snapshot());
    }
}

/// A resource made before the record existed (here: its record removed, and the instance in
/// its family's default group, as instances were before provision attached its own): every
/// difference is a change, as before; the parameter group is not moved; the next `up` writes
/// the record and changes nothing else.
#[test]
fn a_resource_without_a_record_gets_one_and_no_spurious_change() {
    let p = CloudProject::isolated("cdriftold", "services:\n  db: {image: 'postgres:16'}\n");
    p.ok(&["up"]);
    p.boto3(&format!(
        "arn = rds.describe_db_instances(DBInstanceIdentifier='{db}')['DBInstances'][0]['DBInstanceArn']\n\
         rds.modify_db_instance(DBInstanceIdentifier='{db}', DBParameterGroupName='default.postgres16', ApplyImmediately=True)\n\
         rds.remove_tags_from_resource(ResourceName=arn, TagKeys=['provision:applied'])\n\
         out(1)",
        db = p.id("db")
    ));
    let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
    assert_eq!(plan.code, Some(0), "{}", plan.snapshot());
    assert!(plan.stdout.contains("db  no change"), "{}", plan.stdout);
    // Wait out `modifying` so that up has nothing to wait for.
    p.boto3(&format!(
        "import time\n\
         for _ in range(120):\n\
         \x20   if rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['DBInstanceStatus'] == 'available':\n\
         \x20       break\n\
         \x20   time.sleep(0.25)\n\
         out(1)",
        p.id("db")
    ));
    let up = p.ok(&["up", "-v"]);
    assert_eq!(
        CloudProject::mutations(&up),
        ["RDS.AddTagsToResource"],
        "{}",
        up.stderr
    );
    let record = applied_tag(&p).expect("up wrote the record");
    assert!(
        !record.contains(" pg="),
        "not in provision's group: {record}"
    );
    assert_eq!(
        instance(&p)["DBParameterGroups"][0]["DBParameterGroupName"],
        "default.postgres16"
    );
    let again = p.ok(&["up", "-v"]);
    assert_eq!(CloudProject::mutations(&again), Vec::<String>::new());
    // Now recorded: a change made outside provision is drift.
    p.boto3(&format!(
        "rds.modify_db_instance(DBInstanceIdentifier='{}', BackupRetentionPeriod=3, ApplyImmediately=True)\nout(1)",
        p.id("db")
    ));
    let check = p.cmd(&["plan", "--drift"]).output();
    assert_eq!(check.code, Some(2), "{}", check.snapshot());
    assert!(
        check
            .stdout
            .contains("backup_retention_days 7 -> 3 (changed outside provision; up puts back 7)"),
        "{}",
        check.stdout
    );
}

/// The rules drift relies on that moto skips, each refused as AWS would (cited in
/// localstack/aws_rules.py).
#[test]
fn the_layer_enforces_the_rules_drift_relies_on() {
    let p = CloudProject::isolated("cdriftrules", "services:\n  db: {image: 'postgres:16'}\n");
    p.ok(&["up"]);
    let codes = p.boto3(&format!(
        "import botocore\n\
         db = rds.describe_db_instances(DBInstanceIdentifier='{db}')['DBInstances'][0]\n\
         rds.create_db_parameter_group(DBParameterGroupName='{name}-other', DBParameterGroupFamily='mysql8.0', Description='x')\n\
         def code(f):\n\
         \x20   try:\n\
         \x20       f()\n\
         \x20       return 'ok'\n\
         \x20   except botocore.exceptions.ClientError as e:\n\
         \x20       return e.response['Error']['Code']\n\
         out([\n\
         \x20   code(lambda: rds.add_tags_to_resource(ResourceName=db['DBInstanceArn'], Tags=[{{'Key': 'k', 'Value': 'a;b'}}])),\n\
         \x20   code(lambda: rds.add_tags_to_resource(ResourceName=db['DBInstanceArn'], Tags=[{{'Key': 'k', 'Value': 'a' * 257}}])),\n\
         \x20   code(lambda: rds.add_tags_to_resource(ResourceName=db['DBInstanceArn'], Tags=[{{'Key': 'k', 'Value': 'Zürich 1 cl=db.t4g.micro @x_y:/+-'}}])),\n\
         \x20   code(lambda: rds.modify_db_instance(DBInstanceIdentifier='{db}', BackupRetentionPeriod=36, ApplyImmediately=True)),\n\
         \x20   code(lambda: rds.modify_db_instance(DBInstanceIdentifier='{db}', DBParameterGroupName='{name}-other', ApplyImmediately=True)),\n\
         \x20   code(lambda: rds.modify_db_instance(DBInstanceIdentifier='{db}', DBParameterGroupName='default.mysql8.0', ApplyImmediately=True)),\n\
         \x20   code(lambda: rds.modify_db_instance(DBInstanceIdentifier='{db}', DBParameterGroupName='{name}-missing', ApplyImmediately=True)),\n\
         ])",
        db = p.id("db"),
        name = p.live.name
    ));
    assert_eq!(
        codes,
        serde_json::json!([
            "InvalidParameterValue",
            "InvalidParameterValue",
            "ok",
            "InvalidParameterValue",
            "InvalidParameterCombination",
            "InvalidParameterCombination",
            "DBParameterGroupNotFound",
        ])
    );
}
