//! The cloud backend against an AWS emulator over HTTP (`needs_emulator`): moto's server here,
//! LocalStack where one has a token. `tests/run.sh` starts it and exports `AWS_ENDPOINT_URL`;
//! without it these tests fail, loudly. What AWS did is checked with an independent client
//! (boto3, from the emulator's virtualenv), not with provision's own reading of it.
//!
//! Isolation: each test has its own project name, and everything provision looks at is
//! scoped by name and by the `provision:project` tag.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;

use crate::support::{Live, Output, client, unique};

mod recipes;

fn emulator() -> String {
    std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!("AWS_ENDPOINT_URL is not set: start the emulator with `eval \"$(localstack/moto.sh start)\"` (tests/run.sh does)")
    })
}

struct CloudProject {
    live: Live,
    /// An AWS account of its own (a 12-digit access key: the rules layer hands it to moto as
    /// `x-moto-account-id`), for tests that configure the rules layer or change account-wide
    /// things (the default VPC); `None`: the shared default account.
    account: Option<String>,
}

impl CloudProject {
    fn new(prefix: &str, manifest: &str) -> Self {
        let mut live = Live::new(prefix, "docker", manifest);
        live.name = unique(prefix);
        Self {
            live,
            account: None,
        }
    }

    /// A project in an account of its own.
    fn isolated(prefix: &str, manifest: &str) -> Self {
        let mut p = Self::new(prefix, manifest);
        // FNV-1a of the unique name, as 12 digits.
        let hash = p.live.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        p.account = Some(format!("{:012}", hash % 1_000_000_000_000));
        p
    }

    fn cmd(&self, args: &[&str]) -> crate::support::Run {
        let mut all = vec!["-p", self.live.name.as_str(), "--cloud"];
        all.extend_from_slice(args);
        let run = self
            .live
            .project
            .cmd(&all)
            .env("AWS_ENDPOINT_URL", &emulator());
        match &self.account {
            Some(account) => run.env("AWS_ACCESS_KEY_ID", account),
            None => run,
        }
    }

    /// boto3 in this project's account.
    fn boto3(&self, code: &str) -> serde_json::Value {
        boto3_as(self.account.as_deref().unwrap_or("test"), code)
    }

    /// POSTs to the AWS rules layer's control endpoint (localstack/aws_rules.py) for this
    /// project's account.
    fn rules(&self, path: &str, mut body: serde_json::Value) -> serde_json::Value {
        body["account"] = self
            .account
            .clone()
            .unwrap_or_else(|| "default".into())
            .into();
        let code = format!(
            "import urllib.request\nreq = urllib.request.Request({url:?}, data={body:?}.encode(), method='POST')\nprint(urllib.request.urlopen(req).read().decode())",
            url = format!("{}/_rules/{path}", emulator()),
            body = body.to_string(),
        );
        python_json(&code)
    }

    /// What the rules layer knows of this account: statuses, the passwords that open each
    /// database, the mutating requests made.
    fn rules_state(&self) -> serde_json::Value {
        let account = self.account.clone().unwrap_or_else(|| "default".into());
        python_json(&format!(
            "import urllib.request\nprint(urllib.request.urlopen({:?}).read().decode())",
            format!("{}/_rules/state?account={account}", emulator())
        ))
    }

    /// The parameters of the mutating requests of one action, in order.
    fn requests(&self, action: &str) -> Vec<serde_json::Value> {
        self.rules_state()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == action)
            .map(|r| r["params"].clone())
            .collect()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output();
        assert_eq!(
            out.code,
            Some(0),
            "provision --cloud {args:?}:\n{}",
            out.snapshot()
        );
        out
    }

    fn write_manifest(&self, text: &str) {
        self.live.project.write("compose.yaml", text.as_bytes());
    }

    fn id(&self, resource: &str) -> String {
        format!("{}-{resource}", self.live.name)
    }

    fn vars(&self, extra: &[&str]) -> BTreeMap<String, String> {
        let mut args = vec!["env", "--format", "json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&self.ok(&args).stdout).expect("env --format json prints JSON")
    }

    /// Mutating AWS calls in a `-v` run's stderr.
    fn mutations(out: &Output) -> Vec<String> {
        out.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("aws: "))
            .filter(|op| {
                [
                    "Create", "Modify", "Delete", "Put", "Increase", "Decrease", "Reboot",
                    "Restore", "Add", "Remove",
                ]
                .iter()
                .any(|m| op.contains(&format!(".{m}")))
            })
            .map(str::to_owned)
            .collect()
    }
}

/// Runs Python with boto3 (the emulator's virtualenv) against the emulator; returns JSON.
fn boto3(code: &str) -> serde_json::Value {
    boto3_as("test", code)
}

/// Runs Python (the emulator's virtualenv); the program prints JSON.
fn python_json(program: &str) -> serde_json::Value {
    let python = std::env::var("PROVISION_MOTO_PYTHON")
        .unwrap_or_else(|_| "/var/cache/provision-moto/venv/bin/python".into());
    let out = std::process::Command::new(&python)
        .args(["-c", program])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// boto3 with the given access key (a 12-digit one is an account of its own).
fn boto3_as(key: &str, code: &str) -> serde_json::Value {
    let python = std::env::var("PROVISION_MOTO_PYTHON")
        .unwrap_or_else(|_| "/var/cache/provision-moto/venv/bin/python".into());
    let program = format!(
        "import boto3, json, datetime\nrds = boto3.client('rds')\nec = boto3.client('elasticache')\nsm = boto3.client('secretsmanager')\nec2 = boto3.client('ec2')\ndef out(v): print(json.dumps(v, default=str))\n{code}\n"
    );
    let out = std::process::Command::new(&python)
        .args(["-c", &program])
        .env("AWS_ENDPOINT_URL", emulator())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (localstack/moto.sh start creates it): {e}")
        });
    assert!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("boto3 printed JSON")
}

const ALL: &str = r"
services:
  web:
    build: .
    links: [pg, 'kv:cache', mc, my]
  pg:
    image: postgres:16
    x-provision: {database: shop, cloud: {storage_gb: 30}}
  my:
    image: mysql:8.4
  kv:
    image: redis:7
    x-provision: {cloud: {replicas: 1, multi_az: true}}
  mc:
    image: memcached:1.6
";

mod needs_emulator {
    use super::*;

    #[test]
    fn up_creates_each_type_with_secure_defaults_and_a_rerun_changes_nothing() {
        let p = CloudProject::new("cup", ALL);
        let first = p.ok(&["up", "-v"]);
        assert!(
            first.stderr.contains("creating RDS instance"),
            "{}",
            first.stderr
        );

        let pg = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0])",
            p.id("pg")
        ));
        assert_eq!(pg["Engine"], "postgres");
        // `16` resolves to the newest 16.x AWS offers (templates/postgres.yml; the rules layer
        // answers DescribeDBEngineVersions from the same cited table).
        assert_eq!(pg["EngineVersion"], "16.10");
        assert_eq!(pg["AllocatedStorage"], 30);
        assert_eq!(pg["StorageEncrypted"], true);
        assert_eq!(pg["PubliclyAccessible"], false);
        assert_eq!(pg["BackupRetentionPeriod"], 7);
        assert_eq!(pg["CopyTagsToSnapshot"], true);
        assert_eq!(pg["DeletionProtection"], true);
        assert_eq!(pg["MasterUsername"], "app");
        assert_eq!(pg["DBName"], "shop");
        let tags: Vec<String> = pg["TagList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}={}",
                    t["Key"].as_str().unwrap(),
                    t["Value"].as_str().unwrap()
                )
            })
            .collect();
        for want in [
            format!("provision:project={}", p.live.name),
            "provision:resource=pg".into(),
            "provision:type=postgres".into(),
        ] {
            assert!(tags.contains(&want), "{want} not in {tags:?}");
        }
        let my = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0])",
            p.id("my")
        ));
        assert_eq!(my["Engine"], "mysql");
        // Servers that refuse plaintext: each instance in the project's parameter group of its
        // family, with the engine's own switch on (RDS defaults leave it off for MySQL 8.4 and
        // before: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/mysql-ssl-connections.require-ssl.html).
        let groups = boto3(&format!(
            // One instance at a time: the shared account holds more than a page of them.
            "out({{d['DBInstanceIdentifier']: [d['DBParameterGroups'][0]['DBParameterGroupName'], {{x['ParameterName']: x.get('ParameterValue') for x in rds.describe_db_parameters(DBParameterGroupName=d['DBParameterGroups'][0]['DBParameterGroupName'])['Parameters'] if x['ParameterName'] in ('rds.force_ssl', 'require_secure_transport')}}] for i in ('{}', '{}') for d in rds.describe_db_instances(DBInstanceIdentifier=i)['DBInstances']}})",
            p.id("pg"),
            p.id("my")
        ));
        let name = &p.live.name;
        assert_eq!(
            groups,
            serde_json::json!({
                p.id("pg"): [format!("{name}-postgres16-tls"), {"rds.force_ssl": "1"}],
                p.id("my"): [format!("{name}-mysql8-4-tls"), {"require_secure_transport": "1"}],
            })
        );
        let kv = boto3(&format!(
            "out(ec.describe_replication_groups(ReplicationGroupId='{}')['ReplicationGroups'][0])",
            p.id("kv")
        ));
        assert_eq!(kv["TransitEncryptionEnabled"], true);
        assert_eq!(kv["AtRestEncryptionEnabled"], true);
        assert_eq!(kv["AuthTokenEnabled"], true);
        assert_eq!(kv["SnapshotRetentionLimit"], 7);
        assert_eq!(
            kv["MemberClusters"].as_array().map(Vec::len),
            Some(2),
            "one primary and one replica"
        );
        let mc = boto3(&format!(
            "out(ec.describe_cache_clusters(CacheClusterId='{}')['CacheClusters'][0])",
            p.id("mc")
        ));
        assert_eq!(mc["Engine"], "memcached");
        assert_eq!(mc["TransitEncryptionEnabled"], true);
        let secret = boto3(&format!(
            "out(sm.get_secret_value(SecretId='provision/{}/pg')['SecretString'])",
            p.live.name
        ));
        assert_eq!(
            secret.as_str().map(str::len),
            Some(32),
            "a generated password in Secrets Manager"
        );

        let second = p.ok(&["up", "-v"]);
        assert_eq!(
            CloudProject::mutations(&second),
            Vec::<String>::new(),
            "a second up makes no mutating call:\n{}",
            second.stderr
        );
        assert!(
            second.stderr.contains("RDS instance") && second.stderr.contains("exists (available)"),
            "{}",
            second.stderr
        );
        let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
        assert_eq!(plan.code, Some(0), "no changes: {}", plan.snapshot());
    }

    #[test]
    fn env_gives_the_emulators_endpoints_and_the_stored_secret() {
        // Memcached is left out: moto reports no endpoint for cache clusters (a known gap,
        // localstack/README.md), where AWS reports a configuration endpoint.
        let p = CloudProject::new(
            "cenv",
            &ALL.replace(", mc, my]", ", my]")
                .replace("  mc:\n    image: memcached:1.6\n", ""),
        );
        p.ok(&["up"]);
        let v = p.vars(&["--service", "web"]);
        let pg = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['Endpoint'])",
            p.id("pg")
        ));
        let secret = boto3(&format!(
            "out(sm.get_secret_value(SecretId='provision/{}/pg')['SecretString'])",
            p.live.name
        ));
        let (host, port, password) = (
            pg["Address"].as_str().unwrap(),
            pg["Port"].as_u64().unwrap(),
            secret.as_str().unwrap(),
        );
        assert_eq!(v["PG_HOST"], host);
        assert_eq!(v["PG_PASSWORD"], password);
        // TLS that verifies: RDS's CA bundle, written where the URL says
        // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html).
        let ca = &v["PG_CA_FILE"];
        assert_eq!(
            v["PG_URL"],
            format!(
                "postgresql://app:{password}@{host}:{port}/shop?sslmode=verify-full&sslrootcert={ca}"
            )
        );
        let bundle = std::fs::read_to_string(ca).unwrap();
        assert!(
            bundle.contains("-----BEGIN CERTIFICATE-----")
                && bundle == std::fs::read_to_string(&v["MY_CA_FILE"]).unwrap()
        );
        assert_eq!(
            std::fs::metadata(ca).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            v["MY_URL"].split('?').nth(1),
            Some(format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}").as_str())
        );
        // ElastiCache's certificates chain to public roots: no CA file of its own.
        assert!(!v.contains_key("CACHE_CA_FILE"));
        // What clients read by themselves: libpq, Node, OpenSSL's default bundle (the
        // system's plus RDS's, so the app's other HTTPS keeps working).
        assert_eq!(&v["PGSSLROOTCERT"], ca);
        let openssl = std::fs::read_to_string(&v["SSL_CERT_FILE"]).unwrap();
        assert!(openssl.starts_with(&bundle) && openssl.len() > bundle.len());
        let kv_secret = boto3(&format!(
            "out(sm.get_secret_value(SecretId='provision/{}/kv')['SecretString'])",
            p.live.name
        ));
        assert!(
            v["CACHE_URL"].starts_with(&format!("rediss://:{}@", kv_secret.as_str().unwrap())),
            "{}",
            v["CACHE_URL"]
        );
        assert_eq!(v["CACHE_SCHEME"], "rediss");
        // Secrets reach `env` and `run` only.
        for args in [
            &["up"][..],
            &["plan"],
            &["plan", "--json"],
            &["status"],
            &["status", "--json"],
        ] {
            let out = p.ok(args);
            assert!(
                !out.stdout.contains(password) && !out.stderr.contains(password),
                "{args:?} printed the password"
            );
        }
        let run = p
            .cmd(&[
                "run",
                "--service",
                "web",
                "--",
                "sh",
                "-c",
                "test \"$PG_PASSWORD\" = \"$1\" && exit 3",
                "sh",
                password,
            ])
            .output();
        assert_eq!(run.code, Some(3), "{}", run.snapshot());
    }

    #[test]
    fn plan_shows_the_field_diff_and_up_applies_only_safe_changes() {
        let p = CloudProject::new("cplan", "services:\n  db: {image: 'postgres:16'}\n");
        p.ok(&["up"]);
        p.write_manifest("services:\n  db: {image: 'postgres:16', x-provision: {cloud: {class: db.t4g.small, storage_gb: 50, backup_retention_days: 14}}}\n");
        let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
        assert_eq!(plan.code, Some(2), "{}", plan.snapshot());
        assert!(plan.stdout.contains("db  update     class db.t4g.micro -> db.t4g.small, storage_gb 20 -> 50, backup_retention_days 7 -> 14"), "{}", plan.stdout);
        let up = p.ok(&["up", "-v"]);
        // The change, then the record of what is now applied (`provision:applied`).
        assert_eq!(
            CloudProject::mutations(&up),
            ["RDS.ModifyDBInstance", "RDS.AddTagsToResource"],
            "{}",
            up.stderr
        );
        let db = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0])",
            p.id("db")
        ));
        assert_eq!(
            (
                db["DBInstanceClass"].as_str(),
                db["AllocatedStorage"].as_u64()
            ),
            (Some("db.t4g.small"), Some(50))
        );
        assert_eq!(
            p.cmd(&["plan", "--detailed-exitcode"]).output().code,
            Some(0)
        );

        // A smaller disk and a major version are not done behind anyone's back.
        p.write_manifest("services:\n  db: {image: 'postgres:17', x-provision: {cloud: {class: db.t4g.small, storage_gb: 40, backup_retention_days: 14}}}\n");
        let plan = p.ok(&["plan"]);
        assert!(plan.stdout.contains("blocked"), "{}", plan.stdout);
        let up = p.cmd(&["up", "-v"]).output();
        assert_eq!(up.code, Some(1), "{}", up.snapshot());
        assert!(
            up.stderr.contains("storage_gb: 50 -> 40 (a smaller disk)")
                && up
                    .stderr
                    .contains("engine_version: 16.10 -> 17 (a major version upgrade)"),
            "{}",
            up.stderr
        );
        assert_eq!(CloudProject::mutations(&up), Vec::<String>::new());
    }

    #[test]
    fn removing_a_database_from_the_manifest_orphans_it_and_keeps_it() {
        let p = CloudProject::new(
            "corphan",
            "services:\n  a: {image: 'redis:7'}\n  b: {image: 'postgres:16'}\n",
        );
        p.ok(&["up"]);
        p.write_manifest("services:\n  a: {image: 'redis:7'}\n");
        let plan = p.ok(&["plan"]);
        assert!(
            plan.stdout.contains(&format!("{}  orphaned", p.id("b"))),
            "{}",
            plan.stdout
        );
        let status = p.ok(&["status"]);
        assert!(status.stdout.contains("orphaned"), "{}", status.stdout);
        let up = p.ok(&["up", "-v"]);
        assert_eq!(
            CloudProject::mutations(&up),
            Vec::<String>::new(),
            "up never deletes: {}",
            up.stderr
        );
        let b = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['DBInstanceStatus'])",
            p.id("b")
        ));
        assert_eq!(b, "available");
    }

    #[test]
    fn destroy_refuses_protection_and_keeps_final_snapshots() {
        let protected = CloudProject::new("cprot", "services:\n  db: {image: 'postgres:16'}\n");
        protected.ok(&["up"]);
        let out = protected.cmd(&["destroy"]).output();
        assert_eq!(
            out.code,
            Some(2),
            "no terminal, no --yes: {}",
            out.snapshot()
        );
        let out = protected.cmd(&["destroy", "--yes"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("deletion protection is on")
                && out.stderr.contains("deletion_protection: false"),
            "{}",
            out.stderr
        );
        assert_eq!(
            boto3(&format!(
                "out(len(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances']))",
                protected.id("db")
            )),
            1
        );

        let p = CloudProject::new(
            "cdestroy",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n  raw: {image: 'mariadb:10.11', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.ok(&["up"]);
        let out = p.ok(&["destroy", "--yes"]);
        assert!(out.stderr.contains("final snapshot"), "{}", out.stderr);
        let snapshots = boto3(&format!(
            "out([s['DBSnapshotIdentifier'] for page in rds.get_paginator('describe_db_snapshots').paginate() for s in page['DBSnapshots'] if s['DBSnapshotIdentifier'].startswith('{}-')])",
            p.live.name
        ));
        assert_eq!(snapshots.as_array().map(Vec::len), Some(2), "{snapshots}");
        let left = boto3(&format!(
            "out([d['DBInstanceIdentifier'] for page in rds.get_paginator('describe_db_instances').paginate() for d in page['DBInstances'] if d['DBInstanceIdentifier'].startswith('{}-')])",
            p.live.name
        ));
        assert_eq!(left, serde_json::json!([]));
        let scheduled = boto3(&format!(
            "out(sm.describe_secret(SecretId='provision/{}/db').get('DeletedDate') is not None)",
            p.live.name
        ));
        assert_eq!(
            scheduled, true,
            "the secret is scheduled for deletion, recoverable"
        );

        let q = CloudProject::new(
            "cskip",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        q.ok(&["up"]);
        q.ok(&["destroy", "--yes", "--skip-final-snapshot"]);
        let snapshots = boto3(&format!(
            "out([s['DBSnapshotIdentifier'] for page in rds.get_paginator('describe_db_snapshots').paginate() for s in page['DBSnapshots'] if s['DBSnapshotIdentifier'].startswith('{}-')])",
            q.live.name
        ));
        assert_eq!(snapshots, serde_json::json!([]));
    }

    #[test]
    fn one_resource_in_the_way_does_not_stop_the_others() {
        let p = CloudProject::new(
            "cmixed",
            "services:\n  good: {image: 'redis:7'}\n  bad: {image: 'postgres:16'}\n",
        );
        // Someone else's MySQL already holds the identifier provision wants for `bad`.
        boto3(&format!(
            "rds.create_db_instance(DBInstanceIdentifier='{}', Engine='mysql', DBInstanceClass='db.t4g.micro', AllocatedStorage=20, MasterUsername='x', MasterUserPassword='xxxxxxxxxx'); out(1)",
            p.id("bad")
        ));
        let out = p.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("exists but was not created by provision"),
            "{}",
            out.stderr
        );
        let plan = p.ok(&["plan"]);
        assert!(plan.stdout.contains("bad   conflict"), "{}", plan.stdout);
        assert!(
            out.stderr.contains("1 of 2 databases failed: bad; 1 ready"),
            "{}",
            out.stderr
        );
        let good = boto3(&format!(
            "out(ec.describe_replication_groups(ReplicationGroupId='{}')['ReplicationGroups'][0]['Status'])",
            p.id("good")
        ));
        assert_eq!(good, "available");
    }

    #[test]
    fn another_projects_database_with_the_same_identifier_is_left_alone() {
        // Project `P-a` with service `db` and project `P` with service `a-db` share the
        // identifier `P-a-db`; only the tags tell them apart.
        let mut owner = CloudProject::new("cown", "services:\n  db: {image: 'postgres:16'}\n");
        let base = owner.live.name.clone();
        owner.live.name = format!("{base}-a");
        owner.ok(&["up"]);
        let mut intruder = CloudProject::new(
            "cown",
            "services:\n  a-db: {image: 'postgres:16', x-provision: {cloud: {backup_retention_days: 1}}}\n",
        );
        intruder.live.name = base;
        assert_eq!(intruder.id("a-db"), owner.id("db"));
        let out = intruder.cmd(&["up", "-v"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains(&format!("belongs to `{}/db`", owner.live.name)),
            "{}",
            out.stderr
        );
        assert_eq!(
            CloudProject::mutations(&out),
            Vec::<String>::new(),
            "nothing of the owner's is touched"
        );
        let retention = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['BackupRetentionPeriod'])",
            owner.id("db")
        ));
        assert_eq!(retention, 7);
        let env = intruder.cmd(&["env"]).output();
        assert_eq!(
            env.code,
            Some(1),
            "no endpoint or password of someone else's database: {}",
            env.snapshot()
        );
    }

    #[test]
    fn a_missing_secret_is_recreated_and_the_password_reset() {
        let p = CloudProject::new("csecret", "services:\n  db: {image: 'postgres:16'}\n");
        p.ok(&["up"]);
        let before = p.vars(&[])["DB_PASSWORD"].clone();
        boto3(&format!(
            "sm.delete_secret(SecretId='provision/{}/db', ForceDeleteWithoutRecovery=True); out(1)",
            p.live.name
        ));
        let up = p.ok(&["up", "-v"]);
        assert!(
            up.stderr
                .contains("was missing; recreated it and reset the password"),
            "{}",
            up.stderr
        );
        assert!(
            CloudProject::mutations(&up).contains(&"RDS.ModifyDBInstance".to_owned()),
            "{}",
            up.stderr
        );
        let after = p.vars(&[])["DB_PASSWORD"].clone();
        assert_ne!(before, after);
        // A secret scheduled for deletion (as `destroy` leaves it) is restored, not tripped on.
        boto3(&format!(
            "sm.delete_secret(SecretId='provision/{}/db', RecoveryWindowInDays=7); out(1)",
            p.live.name
        ));
        // AWS's answer for such a secret is InvalidRequestException "...because it was marked
        // for deletion" (the rules layer gives AWS's words; moto's differ): provision decides
        // on the code and DescribeSecret's DeletedDate
        // (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html).
        let up = p.ok(&["up"]);
        assert!(
            up.stderr
                .contains("was scheduled for deletion; recreated it and reset the password"),
            "{}",
            up.stderr
        );
        let now = p.vars(&[])["DB_PASSWORD"].clone();
        assert_ne!(now, after);
        // The secret opens the database: the rules layer saw the reset.
        assert_eq!(
            p.rules_state()["resources"][p.id("db")]["credentials"],
            serde_json::json!([now])
        );
    }

    #[test]
    fn an_unreachable_endpoint_is_exit_69() {
        let p = CloudProject::new("cdown", "services:\n  db: {image: 'postgres:16'}\n");
        let out = p
            .cmd(&["up"])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr.contains("cannot reach the AWS endpoint"),
            "{}",
            out.stderr
        );
        // An empty endpoint variable counts as unset (the SDK would choke on it); the
        // per-service one still applies.
        let out = p
            .cmd(&["plan", "--detailed-exitcode"])
            .env("AWS_ENDPOINT_URL", "")
            .env("AWS_ENDPOINT_URL_RDS", &emulator())
            .env("AWS_ENDPOINT_URL_ELASTICACHE", &emulator())
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &emulator())
            .output();
        assert_eq!(out.code, Some(2), "{}", out.snapshot());
        let _ = client("true", &[]);
    }

    /// ElastiCache wants `major.minor` for Redis 6+ and Valkey, a full `x.y.z` for Memcached;
    /// RDS MySQL's majors are `8.0` and `8.4`, never `8`
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html,
    /// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MySQL.Concepts.VersionMgmt.html).
    /// The rules layer refuses any other version, as AWS does.
    #[test]
    fn engine_versions_resolve_to_versions_aws_offers_and_plan_shows_them() {
        let p = CloudProject::new(
            "cver",
            "services:\n  kv: {image: 'redis:7'}\n  vk: {image: 'valkey/valkey:8'}\n  mc: {image: 'memcached:1.6'}\n  my: {image: 'mysql:8', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        let plan = p.ok(&["plan"]);
        for want in [
            "(redis 7.1)",
            "(valkey 8.2)",
            "(memcached 1.6.22)",
            "(mysql 8.4.6)",
        ] {
            assert!(plan.stdout.contains(want), "{want}: {}", plan.stdout);
        }
        p.ok(&["up"]);
        let my = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['EngineVersion'])",
            p.id("my")
        ));
        assert_eq!(my, "8.4.6");
        let mc = boto3(&format!(
            "out(ec.describe_cache_clusters(CacheClusterId='{}')['CacheClusters'][0]['EngineVersion'])",
            p.id("mc")
        ));
        assert_eq!(mc, "1.6.22");
        let sent: Vec<String> = p
            .requests("CreateReplicationGroup")
            .iter()
            .filter(|r| {
                r["ReplicationGroupId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(&p.live.name))
            })
            .map(|r| {
                format!(
                    "{} {}",
                    r["Engine"].as_str().unwrap(),
                    r["EngineVersion"].as_str().unwrap()
                )
            })
            .collect();
        assert!(
            sent.contains(&"redis 7.1".to_owned()) && sent.contains(&"valkey 8.2".to_owned()),
            "{sent:?}"
        );
    }

    /// With automatic minor upgrades AWS moves a pinned 16.8 to 16.10; AWS refuses
    /// downgrades (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Upgrading.html),
    /// so the next plan must be "no change", not 16.10 -> 16.8.
    #[test]
    fn a_minor_version_aws_upgraded_is_no_change_and_never_a_downgrade() {
        let p = CloudProject::isolated(
            "cminor",
            "services:\n  db: {image: 'postgres:16.8', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.ok(&["up"]);
        assert_eq!(
            p.boto3(&format!("out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['EngineVersion'])", p.id("db"))),
            "16.8"
        );
        p.rules(
            "version",
            serde_json::json!({"id": p.id("db"), "version": "16.10"}),
        );
        let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
        assert_eq!(plan.code, Some(0), "{}", plan.snapshot());
        let up = p.ok(&["up", "-v"]);
        assert_eq!(
            CloudProject::mutations(&up),
            Vec::<String>::new(),
            "{}",
            up.stderr
        );
        // A newer pin is a safe minor upgrade.
        p.write_manifest("services:\n  db: {image: 'postgres:16.10', x-provision: {cloud: {deletion_protection: false}}}\n");
        p.rules(
            "version",
            serde_json::json!({"id": p.id("db"), "version": "16.9"}),
        );
        let plan = p.ok(&["plan"]);
        assert!(
            plan.stdout.contains("engine_version 16.9 -> 16.10"),
            "{}",
            plan.stdout
        );
    }

    /// ListTagsForResource fails on a cache that is not `available`
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ListTagsForResource.html);
    /// the rules layer keeps new caches `creating` for a while and refuses, as AWS does.
    #[test]
    fn waiting_reads_tags_only_when_available_and_others_in_transition_are_passed_over() {
        let p = CloudProject::isolated("ctags", "services:\n  kv: {image: 'redis:7'}\n");
        p.rules("config", serde_json::json!({"creating_seconds": 2.5}));
        // Someone else's group, still creating, in the same account and region.
        p.boto3("ec.create_replication_group(ReplicationGroupId='someone-else', ReplicationGroupDescription='x', Engine='redis', EngineVersion='7.1', CacheNodeType='cache.t4g.micro'); out(1)");
        let up = p.ok(&["up", "-v"]);
        assert!(
            up.stderr.contains("status: creating") && up.stderr.contains("status: available"),
            "{}",
            up.stderr
        );
        let plan = p.ok(&["plan"]);
        assert!(plan.stdout.contains("no change"), "{}", plan.stdout);
        // A re-run while it is modifying (not available) neither fails nor trips on tags.
        p.rules("config", serde_json::json!({"modifying_seconds": 2.0}));
        p.write_manifest("services:\n  kv: {image: 'redis:7', x-provision: {cloud: {backup_retention_days: 3}}}\n");
        p.ok(&["up"]);
    }

    /// A replication group takes one change at a time: IncreaseReplicaCount, then (once it is
    /// `available` again) ModifyReplicationGroup
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html:
    /// InvalidReplicationGroupState).
    #[test]
    fn replica_and_setting_changes_are_made_one_after_another() {
        let p = CloudProject::isolated("corder", "services:\n  kv: {image: 'redis:7'}\n");
        p.ok(&["up"]);
        p.write_manifest("services:\n  kv: {image: 'redis:7', x-provision: {cloud: {replicas: 1, backup_retention_days: 3}}}\n");
        let up = p.ok(&["up", "-v"]);
        assert_eq!(
            CloudProject::mutations(&up),
            [
                "ElastiCache.IncreaseReplicaCount",
                "ElastiCache.ModifyReplicationGroup",
                "ElastiCache.AddTagsToResource"
            ],
            "{}",
            up.stderr
        );
        let g = p.boto3(&format!(
            "out(ec.describe_replication_groups(ReplicationGroupId='{}')['ReplicationGroups'][0])",
            p.id("kv")
        ));
        assert_eq!(g["SnapshotRetentionLimit"], 3);
        assert_eq!(g["MemberClusters"].as_array().map(Vec::len), Some(2));
    }

    /// AuthTokenUpdateStrategy SET is "allowed only after ROTATE"
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html);
    /// the rules layer tracks which tokens open the group.
    #[test]
    fn a_lost_token_is_reset_by_rotate_then_set_and_the_secret_opens_the_cache() {
        let p = CloudProject::isolated("ctoken", "services:\n  kv: {image: 'redis:7'}\n");
        p.ok(&["up"]);
        p.boto3(&format!(
            "sm.delete_secret(SecretId='provision/{}/kv', ForceDeleteWithoutRecovery=True); out(1)",
            p.live.name
        ));
        let up = p.ok(&["up"]);
        assert!(
            up.stderr
                .contains("was missing; recreated it and reset the password"),
            "{}",
            up.stderr
        );
        let strategies: Vec<String> = p
            .requests("ModifyReplicationGroup")
            .iter()
            .filter_map(|r| r["AuthTokenUpdateStrategy"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(strategies, ["ROTATE", "SET"]);
        let secret = p.vars(&[])["KV_PASSWORD"].clone();
        assert_eq!(
            p.rules_state()["resources"][p.id("kv")]["credentials"],
            serde_json::json!([secret]),
            "only the stored token opens the cache"
        );
        let tags = p.boto3(&format!(
            "out(sm.describe_secret(SecretId='provision/{}/kv').get('Tags', []))",
            p.live.name
        ));
        assert!(!tags.to_string().contains("password-pending"), "{tags}");
    }

    /// A reset that stored the new password but died before the database took it leaves
    /// the secret tagged `provision:password-pending`; the next run finishes it.
    #[test]
    fn an_interrupted_password_reset_is_finished_by_the_next_run() {
        let p = CloudProject::isolated(
            "cpending",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.ok(&["up"]);
        let name = format!("provision/{}/db", p.live.name);
        p.boto3(&format!(
            "sm.put_secret_value(SecretId='{name}', SecretString='NewPasswordThatTheDbLacks123'); sm.tag_resource(SecretId='{name}', Tags=[{{'Key': 'provision:password-pending', 'Value': 'true'}}]); out(1)"
        ));
        let up = p.ok(&["up", "-v"]);
        assert!(
            up.stderr
                .contains("finishing an interrupted password reset"),
            "{}",
            up.stderr
        );
        assert_eq!(
            p.rules_state()["resources"][p.id("db")]["credentials"],
            serde_json::json!(["NewPasswordThatTheDbLacks123"])
        );
        let again = p.ok(&["up", "-v"]);
        assert_eq!(
            CloudProject::mutations(&again),
            Vec::<String>::new(),
            "{}",
            again.stderr
        );
    }

    /// Storage grows by at least 10%, then the instance is `storage-optimization`, which is
    /// usable (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html).
    /// Instances of old majors join paid Extended Support unless EngineLifecycleSupport says
    /// otherwise (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
    #[test]
    fn storage_rules_extended_support_and_max_storage() {
        let p = CloudProject::isolated(
            "cstore",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false, max_storage_gb: 100}}}\n  old: {image: 'postgres:13', x-provision: {cloud: {deletion_protection: false, extended_support: true}}}\n",
        );
        p.ok(&["up"]);
        let creates = p.requests("CreateDBInstance");
        let by_id = |id: &str| {
            creates
                .iter()
                .find(|r| r["DBInstanceIdentifier"] == id)
                .unwrap()
                .clone()
        };
        assert_eq!(
            by_id(&p.id("db"))["EngineLifecycleSupport"],
            "open-source-rds-extended-support-disabled"
        );
        assert_eq!(by_id(&p.id("db"))["MaxAllocatedStorage"], "100");
        assert_eq!(
            by_id(&p.id("old"))["EngineLifecycleSupport"],
            "open-source-rds-extended-support"
        );
        // Less than 10% more: blocked, with the reason.
        p.write_manifest("services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false, max_storage_gb: 100, storage_gb: 21}}}\n  old: {image: 'postgres:13', x-provision: {cloud: {deletion_protection: false, extended_support: true}}}\n");
        let plan = p.ok(&["plan"]);
        assert!(
            plan.stdout.contains(
                "storage_gb 20 -> 21 (not applied by up: RDS grows storage by at least 10%)"
            ),
            "{}",
            plan.stdout
        );
        // Enough more: applied; storage optimization (long on AWS) does not hold `up`.
        p.rules(
            "config",
            serde_json::json!({"storage_optimization_seconds": 600}),
        );
        p.write_manifest("services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false, max_storage_gb: 100, storage_gb: 30}}}\n  old: {image: 'postgres:13', x-provision: {cloud: {deletion_protection: false, extended_support: true}}}\n");
        let started = std::time::Instant::now();
        let up = p.ok(&["up"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        assert!(
            up.stderr.contains("usable while AWS optimizes its storage"),
            "{}",
            up.stderr
        );
        assert_eq!(
            p.rules_state()["resources"][p.id("db")]["status"],
            "storage-optimization"
        );
    }

    /// `failed`, `incompatible-*`, `stopped` ...: AWS will not leave them on its own
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status).
    #[test]
    fn a_terminal_status_ends_the_wait_at_once_with_awss_word_and_a_hint() {
        let p = CloudProject::isolated(
            "cterm",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.ok(&["up"]);
        p.rules(
            "status",
            serde_json::json!({"id": p.id("db"), "status": "incompatible-network"}),
        );
        let started = std::time::Instant::now();
        let out = p.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert!(
            out.stderr.contains("`incompatible-network`")
                && out.stderr.contains("hint: the subnets"),
            "{}",
            out.stderr
        );
    }

    /// Throttling (HTTP 400 `Throttling`) is retried by the SDK with backoff
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html).
    #[test]
    fn throttling_on_demand_is_retried() {
        let p = CloudProject::isolated(
            "cthrottle",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.rules(
            "throttle",
            serde_json::json!({"action": "DescribeDBInstances", "count": 3}),
        );
        p.ok(&["up"]);
    }

    /// An AccessDenied names the action and points to `provision iam-policy`.
    #[test]
    fn access_denied_names_the_action_and_points_to_iam_policy() {
        let p = CloudProject::isolated("cdeny", "services:\n  db: {image: 'postgres:16'}\n");
        p.rules("deny", serde_json::json!({"action": "CreateDBInstance"}));
        let out = p.cmd(&["up"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr.contains("`rds:CreateDBInstance`")
                && out.stderr.contains("provision iam-policy"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn missing_credentials_are_told_apart_from_an_unreachable_endpoint() {
        let p = CloudProject::new("ccreds", "services:\n  db: {image: 'postgres:16'}\n");
        let out = p
            .cmd(&["up"])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(
            out.stderr.contains("cannot reach AWS credentials")
                && !out.stderr.contains("AWS endpoint"),
            "{}",
            out.stderr
        );
    }

    /// `allow_from` makes a security group provision owns, admitting each database's port from
    /// exactly those sources (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html).
    #[test]
    fn allow_from_makes_an_owned_security_group_with_exactly_those_sources() {
        let p = CloudProject::isolated(
            "cnet",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        let app = p.boto3("vpc = ec2.describe_vpcs(Filters=[{'Name': 'is-default', 'Values': ['true']}])['Vpcs'][0]['VpcId']; out(ec2.create_security_group(GroupName='app', Description='app', VpcId=vpc)['GroupId'])");
        let app = app.as_str().unwrap().to_owned();
        p.write_manifest(&format!("x-provision: {{cloud: {{allow_from: [{app}, 10.0.0.0/16]}}}}\nservices:\n  db: {{image: 'postgres:16', x-provision: {{cloud: {{deletion_protection: false}}}}}}\n"));
        p.ok(&["up"]);
        let group = p.boto3(&format!("out(ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{}-provision']}}])['SecurityGroups'])", p.live.name));
        let group = &group[0];
        assert!(group["Tags"].to_string().contains(&p.live.name), "{group}");
        let perms = group["IpPermissions"].as_array().unwrap();
        assert!(
            perms
                .iter()
                .all(|r| r["FromPort"] == 5432 && r["ToPort"] == 5432),
            "{perms:?}"
        );
        let text = serde_json::Value::Array(perms.clone()).to_string();
        assert!(
            text.contains("10.0.0.0/16") && text.contains(&app) && !text.contains("0.0.0.0/0"),
            "{text}"
        );
        let db = p.boto3(&format!("out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['VpcSecurityGroups'])", p.id("db")));
        assert!(
            db.to_string().contains(group["GroupId"].as_str().unwrap()),
            "{db}"
        );
        // Idempotent; and a source removed from the manifest is removed from the group.
        p.write_manifest("x-provision: {cloud: {allow_from: [10.0.0.0/16, 0.0.0.0/0]}}\nservices:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n");
        let up = p.ok(&["up", "-v"]);
        assert!(
            up.stderr.contains("open to the whole internet"),
            "{}",
            up.stderr
        );
        let text = p.boto3(&format!("out(ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{}-provision']}}])['SecurityGroups'][0]['IpPermissions'])", p.live.name)).to_string();
        assert!(!text.contains(&app) && text.contains("0.0.0.0/0"), "{text}");
        let again = p.ok(&["up", "-v"]);
        assert_eq!(
            CloudProject::mutations(&again),
            Vec::<String>::new(),
            "{}",
            again.stderr
        );
    }

    /// `vpc_id` alone: the databases go into that VPC (its subnets make the subnet groups), and
    /// the owned security group is made there, not in the default VPC.
    #[test]
    fn a_vpc_without_subnets_listed_uses_its_subnets() {
        let p = CloudProject::isolated("cvpc", "services:\n  db: {image: 'postgres:16'}\n");
        let vpc = p.boto3("vpc = ec2.create_vpc(CidrBlock='10.8.0.0/16')['Vpc']['VpcId']\nfor c, z in [('10.8.1.0/24', 'us-east-1a'), ('10.8.2.0/24', 'us-east-1b')]: ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone=z)\nout(vpc)");
        let vpc = vpc.as_str().unwrap().to_owned();
        p.write_manifest(&format!("x-provision: {{cloud: {{vpc_id: {vpc}, allow_from: [10.8.0.0/16]}}}}\nservices:\n  db: {{image: 'postgres:16', x-provision: {{cloud: {{deletion_protection: false}}}}}}\n"));
        p.ok(&["up"]);
        let db = p.boto3(&format!("out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['DBSubnetGroup'])", p.id("db")));
        assert_eq!(
            db["DBSubnetGroupName"],
            format!("{}-provision", p.live.name)
        );
        assert_eq!(db["VpcId"], vpc.as_str(), "{db}");
        let group = p.boto3(&format!("out(ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{}-provision']}}])['SecurityGroups'][0]['VpcId'])", p.live.name));
        assert_eq!(group, vpc.as_str());
    }

    /// `allow_from` added to a project whose database exists: the instance joins the owned
    /// group (ModifyDBInstance VpcSecurityGroupIds); afterwards `plan` shows no change.
    #[test]
    fn allow_from_added_later_attaches_the_owned_group() {
        let p = CloudProject::isolated(
            "cnet2",
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.ok(&["up"]);
        p.write_manifest("x-provision: {cloud: {allow_from: [10.1.0.0/16]}}\nservices:\n  db: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n");
        let up = p.ok(&["up", "-v"]);
        assert!(
            CloudProject::mutations(&up).contains(&"RDS.ModifyDBInstance".to_owned()),
            "{}",
            up.stderr
        );
        let group = p.boto3(&format!("out(ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{}-provision']}}])['SecurityGroups'][0]['GroupId'])", p.live.name));
        let db = p.boto3(&format!("out([g['VpcSecurityGroupId'] for g in rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['VpcSecurityGroups']])", p.id("db")));
        assert_eq!(db, serde_json::json!([group]));
        let plan = p.cmd(&["plan", "--detailed-exitcode"]).output();
        assert_eq!(plan.code, Some(0), "{}", plan.snapshot());
    }

    /// `env` on a secret scheduled for deletion says so (decided on InvalidRequestException plus
    /// DescribeSecret's DeletedDate, not on the message), and `up` brings it back.
    #[test]
    fn env_on_a_secret_scheduled_for_deletion_says_so_and_up_restores_it() {
        let p = CloudProject::isolated("csched", "services:\n  kv: {image: 'redis:7'}\n");
        p.ok(&["up"]);
        p.boto3(&format!(
            "sm.delete_secret(SecretId='provision/{}/kv', RecoveryWindowInDays=7); out(1)",
            p.live.name
        ));
        let env = p.cmd(&["env"]).output();
        assert_eq!(env.code, Some(1), "{}", env.snapshot());
        assert!(
            env.stderr
                .contains("scheduled for deletion; `provision --cloud` restores it"),
            "{}",
            env.stderr
        );
        p.ok(&["up"]);
        let password = p.vars(&[])["KV_PASSWORD"].clone();
        assert_eq!(
            p.rules_state()["resources"][p.id("kv")]["credentials"],
            serde_json::json!([password])
        );
    }

    #[test]
    fn no_default_vpc_and_no_subnets_is_exit_65_before_anything_is_created() {
        let p = CloudProject::isolated(
            "cnovpc",
            "services:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n",
        );
        p.boto3("vpc = ec2.describe_vpcs(Filters=[{'Name': 'is-default', 'Values': ['true']}])['Vpcs'][0]['VpcId']\nfor s in ec2.describe_subnets(Filters=[{'Name': 'vpc-id', 'Values': [vpc]}])['Subnets']: ec2.delete_subnet(SubnetId=s['SubnetId'])\nec2.delete_vpc(VpcId=vpc); out(1)");
        let out = p.cmd(&["up", "-v"]).output();
        assert_eq!(out.code, Some(65), "{}", out.snapshot());
        assert!(
            out.stderr.contains("no default VPC") && out.stderr.contains("subnet_ids"),
            "{}",
            out.stderr
        );
        assert_eq!(
            CloudProject::mutations(&out),
            Vec::<String>::new(),
            "{}",
            out.stderr
        );
    }

    /// A DB subnet group needs subnets in two Availability Zones
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html).
    #[test]
    fn subnets_in_one_zone_are_refused_before_anything_is_created() {
        let p = CloudProject::isolated("cazs", "services:\n  db: {image: 'postgres:16'}\n");
        // Two subnets (doctor is satisfied), both in one zone: only AWS can tell.
        let subnets = p.boto3("vpc = ec2.create_vpc(CidrBlock='10.9.0.0/16')['Vpc']['VpcId']; out([ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone='us-east-1a')['Subnet']['SubnetId'] for c in ['10.9.1.0/24', '10.9.2.0/24']])");
        let subnets: Vec<String> = serde_json::from_value(subnets).unwrap();
        p.write_manifest(&format!("x-provision: {{cloud: {{subnet_ids: [{}]}}}}\nservices:\n  db: {{image: 'postgres:16'}}\n", subnets.join(", ")));
        let out = p.cmd(&["up", "-v"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(out.stderr.contains("at least two"), "{}", out.stderr);
        assert_eq!(
            CloudProject::mutations(&out),
            Vec::<String>::new(),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn destroy_continues_past_a_failure_and_removes_what_it_made() {
        let p = CloudProject::isolated(
            "cdel",
            "services:\n  a: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n  b: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n",
        );
        p.ok(&["up"]);
        // A secret whose database never came to exist (its create failed).
        p.boto3(&format!("sm.create_secret(Name='provision/{}/ghost', SecretString='x', Tags=[{{'Key': 'provision:project', 'Value': '{}'}}]); out(1)", p.live.name, p.live.name));
        // AWS keeps refusing the first delete (five throttled attempts: the SDK gives up);
        // the other database goes all the same.
        p.rules(
            "throttle",
            serde_json::json!({"action": "DeleteDBInstance", "count": 5}),
        );
        let out = p
            .cmd(&["destroy", "--yes", "--skip-final-snapshot"])
            .output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(
            out.stderr
                .contains("ghost (its database never came to exist) scheduled for deletion"),
            "{}",
            out.stderr
        );
        let left = p.boto3(&format!("out(sorted(d['DBInstanceIdentifier'] for page in rds.get_paginator('describe_db_instances').paginate() for d in page['DBInstances'] if d['DBInstanceIdentifier'].startswith('{}-')))", p.live.name));
        let left: Vec<String> = serde_json::from_value(left).unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        let gone = if left[0] == p.id("a") {
            p.id("b")
        } else {
            p.id("a")
        };
        assert!(
            out.stderr.contains(&format!(
                "could not delete RDS instance `{}` (Throttling)",
                left[0]
            )) && out.stderr.contains(&format!("deleted RDS instance {gone}")),
            "{}",
            out.stderr
        );
        // Run again: the rest goes, the parameter group too.
        p.ok(&["destroy", "--yes", "--skip-final-snapshot"]);
        let groups = p.boto3(&format!(
            "out([g['DBParameterGroupName'] for g in rds.describe_db_parameter_groups()['DBParameterGroups'] if g['DBParameterGroupName'].startswith('{}-')])",
            p.live.name
        ));
        assert_eq!(groups, serde_json::json!([]));
    }

    /// The exact strings `env --cloud` prints, parsed by the real clients of the client
    /// matrix: `tests/clients/cloud-shaped.sh` maps the emulator's endpoint names to local TLS
    /// servers in a namespace of its own, with stand-ins for AWS's CAs bind-mounted over the
    /// files the variables name (AWS's keys are not ours; see its header), and runs every cell
    /// against the right CA (encrypted), another CA (refused) and no TLS (refused).
    #[test]
    fn cloud_urls_are_what_the_clients_verify() {
        let p = CloudProject::new(
            "cclients",
            "services:
  web: {build: ., links: [pg, my, 'kv:cache']}
  alchemy: {build: ., links: [pg, my], x-provision: {url: sqlalchemy}}
  connector: {build: ., links: [my], x-provision: {url: sqlalchemy-connector}}
  node: {build: ., links: [my], x-provision: {url: mysql2}}
  java: {build: ., links: [pg, my], x-provision: {url: jdbc}}
  pg: {image: 'postgres:16', x-provision: {database: shop}}
  my: {image: 'mysql:8.4', x-provision: {database: shop}}
  kv: {image: 'redis:7'}
",
        );
        p.ok(&["up"]);
        let dir = tempfile::tempdir().unwrap();
        let mut cells = Vec::new();
        for (app, clients) in [
            (
                "web",
                &[
                    ("psycopg", "PG"),
                    ("psycopg2", "PG"),
                    ("node-pg", "PG"),
                    ("ruby-pg", "PG"),
                    ("ruby-mysql2", "MY"),
                    ("redis-py", "CACHE"),
                    ("node-redis", "CACHE"),
                    ("ioredis", "CACHE"),
                    ("ruby-redis", "CACHE"),
                ][..],
            ),
            (
                "alchemy",
                &[("sqlalchemy-pg", "PG"), ("sqlalchemy-mysql", "MY")][..],
            ),
            ("connector", &[("sqlalchemy-myconnector", "MY")][..]),
            ("node", &[("mysql2", "MY")][..]),
            ("java", &[("jdbc-pg", "PG"), ("jdbc-mysql", "MY")][..]),
        ] {
            let out = p.ok(&["env", "--service", app, "--format", "json"]);
            let file = dir.path().join(format!("{app}.json"));
            std::fs::write(&file, &out.stdout).unwrap();
            for (client, prefix) in clients {
                cells.push(format!("{}:{client}:{prefix}", file.display()));
            }
        }
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/cloud-shaped.sh");
        let out = std::process::Command::new(&script)
            .args(&cells)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("no JSON report from cloud-shaped.sh:\n{stderr}"));
        let cells = report["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 15, "{stderr}");
        let unexpected: Vec<&serde_json::Value> =
            cells.iter().filter(|c| c["expected"] != true).collect();
        assert!(
            unexpected.is_empty() && report["ok"] == true && out.status.success(),
            "cells that did not behave:\n{unexpected:#?}\n{stderr}"
        );
        // Not vacuous: every cell connected encrypted with the right CA.
        for c in cells {
            assert_eq!(c["good"]["encrypted"], true, "{c}");
        }
    }

    /// The rules layer refuses what RDS refuses about parameter groups, so a wrong family or
    /// value would fail here as it would on AWS.
    #[test]
    fn parameter_groups_of_another_family_or_with_bad_values_are_refused() {
        let p = CloudProject::isolated("cpg", "services:\n  a: {image: 'postgres:16'}\n");
        let out = p.boto3(
            "rds.create_db_parameter_group(DBParameterGroupName='x-mysql8-0-tls', DBParameterGroupFamily='mysql8.0', Description='t')
errors = []
for params in ([{'ParameterName': 'require_secure_transport', 'ParameterValue': 'ON', 'ApplyMethod': 'immediate'}],
               [{'ParameterName': 'rds.force_ssl', 'ParameterValue': '1', 'ApplyMethod': 'immediate'}]):
    try:
        rds.modify_db_parameter_group(DBParameterGroupName='x-mysql8-0-tls', Parameters=params)
        errors.append('accepted')
    except Exception as e:
        errors.append(e.response['Error']['Code'])
try:
    rds.create_db_instance(DBInstanceIdentifier='x-a', Engine='postgres', EngineVersion='16.10', DBInstanceClass='db.t4g.micro', AllocatedStorage=20, MasterUsername='app', MasterUserPassword='p' * 16, DBParameterGroupName='x-mysql8-0-tls')
    errors.append('accepted')
except Exception as e:
    errors.append(e.response['Error']['Code'])
out(errors)",
        );
        assert_eq!(
            out,
            serde_json::json!([
                "InvalidParameterValue",
                "InvalidParameterValue",
                "InvalidParameterCombination"
            ])
        );
    }

    /// A master user name RDS reserves (`admin` on PostgreSQL: cited in templates/postgres.yml)
    /// is refused before any mutating call; the rules layer refuses the reserved names as AWS
    /// does, so a test that got past `doctor` would meet AWS's answer, not moto's leniency.
    #[test]
    fn reserved_master_users_are_refused_before_any_mutating_call() {
        let p = CloudProject::new(
            "cresv",
            "services:\n  db:\n    image: 'postgres:16'\n    environment: {POSTGRES_USER: admin}\n",
        );
        let out = p.cmd(&["up", "-v"]).output();
        assert_eq!(out.code, Some(65), "{}", out.snapshot());
        assert!(
            out.stderr.contains("compose.yaml:4:19")
                && out
                    .stderr
                    .contains("RDS refuses `admin` as the master user name"),
            "{}",
            out.stderr
        );
        assert_eq!(
            CloudProject::mutations(&out),
            Vec::<String>::new(),
            "{}",
            out.stderr
        );
        let answers = p.boto3(&format!(
            "codes = []
for engine, version, user in [('postgres', '16', 'admin'), ('postgres', '16', 'pg_app'), ('postgres', '16', 'PG_x'), ('postgres', '16', 'rdsadmin'), ('mysql', '8.4', 'rdsadmin'), ('mysql', '8.4', 'admin')]:
    ident = '{id}-' + engine + '-' + user.lower().replace('_', '-')
    try:
        rds.create_db_instance(DBInstanceIdentifier=ident, Engine=engine, EngineVersion=version, DBInstanceClass='db.t4g.micro', AllocatedStorage=20, MasterUsername=user, MasterUserPassword='p' * 16)
        codes.append('accepted')
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    except rds.exceptions.ClientError as e:
        codes.append(e.response['Error']['Code'] + ': ' + e.response['Error']['Message'])
out(codes)",
            id = p.id("x")
        ));
        let answers: Vec<String> = serde_json::from_value(answers).unwrap();
        assert_eq!(answers.len(), 6, "{answers:?}");
        for (i, answer) in answers[..5].iter().enumerate() {
            assert!(
                answer.starts_with("InvalidParameterValue: MasterUsername "),
                "{i}: {answer}"
            );
        }
        assert!(answers[1].contains("starting with \"pg_\""), "{answers:?}");
        assert_eq!(answers[5], "accepted", "MySQL takes `admin`");
    }

    /// A create AWS refuses (here: the credentials may not call `CreateDBInstance`) leaves
    /// nothing this run made for it: not the secret, not the TLS parameter group. What an
    /// earlier run made stays.
    #[test]
    fn a_refused_create_leaves_nothing_of_this_run_behind() {
        let p = CloudProject::isolated("crefuse", "services:\n  db: {image: 'mysql:8.4'}\n");
        p.rules("deny", serde_json::json!({"action": "CreateDBInstance"}));
        let leftovers = |p: &CloudProject| -> serde_json::Value {
            p.boto3(&format!(
                "secrets = [s['Name'] for s in sm.list_secrets(IncludePlannedDeletion=True)['SecretList'] if s['Name'].startswith('provision/{name}/')]
groups = [g['DBParameterGroupName'] for g in rds.describe_db_parameter_groups()['DBParameterGroups'] if g['DBParameterGroupName'].startswith('{name}-')]
out({{'secrets': secrets, 'groups': groups}})",
                name = p.live.name
            ))
        };
        let out = p.cmd(&["up", "-v"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        let made = CloudProject::mutations(&out);
        assert!(
            made.iter().any(|m| m.contains("CreateSecret"))
                && made.iter().any(|m| m.contains("CreateDBParameterGroup")),
            "the run made both before its create: {made:?}"
        );
        let secret = format!("provision/{}/db", p.live.name);
        let group = format!("{}-mysql8-4-tls", p.live.name);
        assert!(
            out.stderr.contains("removed what this run made for it")
                && out.stderr.contains(&format!("secret {secret}"))
                && out.stderr.contains(&format!("DB parameter group {group}")),
            "{}",
            out.stderr
        );
        assert_eq!(
            leftovers(&p),
            serde_json::json!({"secrets": [], "groups": []}),
            "{}",
            out.stderr
        );
        // What an earlier run made is not this run's to remove.
        p.boto3(&format!(
            "sm.create_secret(Name={secret:?}, SecretString='q' * 24)
rds.create_db_parameter_group(DBParameterGroupName={group:?}, DBParameterGroupFamily='mysql8.4', Description='earlier', Tags=[{{'Key': 'provision:project', 'Value': {name:?}}}])
out(1)",
            name = p.live.name
        ));
        let again = p.cmd(&["up", "-v"]).output();
        assert_eq!(again.code, Some(1), "{}", again.snapshot());
        assert!(
            !again.stderr.contains("removed what this run made"),
            "{}",
            again.stderr
        );
        assert_eq!(
            leftovers(&p),
            serde_json::json!({"secrets": [secret], "groups": [group]}),
            "{}",
            again.stderr
        );
    }

    /// Memcached in the cloud has in-transit encryption on: its URL says a TLS client is
    /// needed. (The rules layer gives cache clusters AWS's configuration endpoint.)
    #[test]
    fn memcached_in_the_cloud_has_a_tls_url() {
        let p = CloudProject::new("cmc", "services:\n  mc: {image: 'memcached:1.6'}\n");
        p.ok(&["up"]);
        let v = p.vars(&[]);
        assert!(
            v["MC_URL"].starts_with("memcached://") && v["MC_URL"].ends_with(":11211?tls=true"),
            "{}",
            v["MC_URL"]
        );
    }
}

/// The rules layer's own rules for snapshots and restores, checked with boto3 alone (no
/// provision): a layer that let everything through would fail each step. Each rule cites its
/// AWS page in `localstack/aws_rules.py` (`snapshot_rules`): API_CreateDBSnapshot.html,
/// API_RestoreDBInstanceFromDBSnapshot.html, API_CreateSnapshot.html,
/// API_CreateReplicationGroup.html (SnapshotName).
mod snapshot_rules_need_emulator {
    use super::*;

    #[test]
    fn the_layer_enforces_snapshot_and_restore_rules() {
        let p = CloudProject::isolated("crul", "services: {}\n");
        let v = p.boto3(r#"
import time, botocore
def code(f):
    try:
        f()
        return "accepted"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
def wait(f):
    for _ in range(100):
        if f():
            return True
        time.sleep(0.1)
    return False
r = {}
rds.create_db_instance(DBInstanceIdentifier="src-db", Engine="postgres", EngineVersion="16", DBInstanceClass="db.t4g.micro", AllocatedStorage=30, MasterUsername="app", MasterUserPassword="first-password-1", CopyTagsToSnapshot=True, StorageEncrypted=True)
r["snapshot_of_creating_instance"] = code(lambda: rds.create_db_snapshot(DBInstanceIdentifier="src-db", DBSnapshotIdentifier="s0"))
wait(lambda: rds.describe_db_instances(DBInstanceIdentifier="src-db")["DBInstances"][0]["DBInstanceStatus"] == "available")
r["bad_snapshot_identifier"] = code(lambda: rds.create_db_snapshot(DBInstanceIdentifier="src-db", DBSnapshotIdentifier="bad--id"))
rds.create_db_snapshot(DBInstanceIdentifier="src-db", DBSnapshotIdentifier="s1")
r["fresh_snapshot_status"] = rds.describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"][0]["Status"]
r["restore_from_creating"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db", DBSnapshotIdentifier="s1"))
wait(lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"][0]["Status"] == "available")
r["restore_missing_snapshot"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db", DBSnapshotIdentifier="no-such"))
r["restore_without_snapshot"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db"))
r["restore_smaller_storage"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db", DBSnapshotIdentifier="s1", AllocatedStorage=20))
r["restore_other_engine"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db", DBSnapshotIdentifier="s1", Engine="mysql"))
r["restore_bad_identifier"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new--db", DBSnapshotIdentifier="s1"))
# boto3 itself refuses parameters the action does not have: send one anyway, as a client
# built from another model might.
def with_password(request, **kwargs):
    request.data["MasterUserPassword"] = "other-password-2"
rds.meta.events.register("before-sign.rds.RestoreDBInstanceFromDBSnapshot", with_password)
r["restore_with_password"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db", DBSnapshotIdentifier="s1"))
rds.meta.events.unregister("before-sign.rds.RestoreDBInstanceFromDBSnapshot", with_password)
r["restore_ok"] = code(lambda: rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="new-db", DBSnapshotIdentifier="s1", AllocatedStorage=40))
r["restored_status"] = rds.describe_db_instances(DBInstanceIdentifier="new-db")["DBInstances"][0]["DBInstanceStatus"]
ec.create_replication_group(ReplicationGroupId="src-kv", ReplicationGroupDescription="d", Engine="valkey", EngineVersion="8.0", CacheNodeType="cache.t4g.micro")
r["cache_snapshot_of_creating"] = code(lambda: ec.create_snapshot(ReplicationGroupId="src-kv", SnapshotName="k1"))
wait(lambda: ec.describe_replication_groups(ReplicationGroupId="src-kv")["ReplicationGroups"][0]["Status"] == "available")
ec.create_snapshot(ReplicationGroupId="src-kv", SnapshotName="k1")
r["cache_snapshot_status"] = ec.describe_snapshots(SnapshotName="k1")["Snapshots"][0]["SnapshotStatus"]
r["seed_from_creating"] = code(lambda: ec.create_replication_group(ReplicationGroupId="new-kv", ReplicationGroupDescription="d", Engine="valkey", CacheNodeType="cache.t4g.micro", SnapshotName="k1"))
wait(lambda: ec.describe_snapshots(SnapshotName="k1")["Snapshots"][0]["SnapshotStatus"] == "available")
r["seed_from_missing"] = code(lambda: ec.create_replication_group(ReplicationGroupId="new-kv", ReplicationGroupDescription="d", Engine="valkey", CacheNodeType="cache.t4g.micro", SnapshotName="no-such"))
r["seed_other_engine"] = code(lambda: ec.create_replication_group(ReplicationGroupId="new-kv", ReplicationGroupDescription="d", Engine="redis", CacheNodeType="cache.t4g.micro", SnapshotName="k1"))
r["seed_ok"] = code(lambda: ec.create_replication_group(ReplicationGroupId="new-kv", ReplicationGroupDescription="d", Engine="valkey", CacheNodeType="cache.t4g.micro", SnapshotName="k1"))
out(r)
"#);
        let want = serde_json::json!({
            "snapshot_of_creating_instance": "InvalidDBInstanceState",
            "bad_snapshot_identifier": "InvalidParameterValue",
            "fresh_snapshot_status": "creating",
            "restore_from_creating": "InvalidDBSnapshotState",
            "restore_missing_snapshot": "DBSnapshotNotFound",
            "restore_without_snapshot": "MissingParameter",
            "restore_smaller_storage": "InvalidParameterValue",
            "restore_other_engine": "InvalidParameterCombination",
            "restore_bad_identifier": "InvalidParameterValue",
            "restore_with_password": "InvalidParameterCombination",
            "restore_ok": "accepted",
            "restored_status": "creating",
            "cache_snapshot_of_creating": "InvalidReplicationGroupState",
            "cache_snapshot_status": "creating",
            "seed_from_creating": "InvalidSnapshotState",
            "seed_from_missing": "SnapshotNotFoundFault",
            "seed_other_engine": "InvalidParameterCombination",
            "seed_ok": "accepted",
        });
        assert_eq!(v, want);
        // The restored instance keeps the snapshot's password until someone changes it; the
        // layer records where it came from.
        let state = p.rules_state();
        assert_eq!(state["resources"]["new-db"]["restored_from"], "s1");
        assert_eq!(
            state["resources"]["new-db"]["credentials"],
            serde_json::json!(["first-password-1"])
        );
        assert_eq!(state["resources"]["new-kv"]["restored_from"], "k1");
    }
}

/// `provision iam-policy --json` prints the policy document for the manifest, no AWS needed.
#[test]
fn iam_policy_prints_a_scoped_policy_document() {
    let p = crate::support::Project::with_manifest(
        "x-provision: {cloud: {region: eu-west-1, allow_from: [10.0.0.0/16]}}\nservices:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n",
    );
    let out = p.cmd(&["iam-policy", "--json"]).output();
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    let text = doc.to_string();
    for action in [
        "rds:CreateDBInstance",
        "elasticache:CreateReplicationGroup",
        "secretsmanager:CreateSecret",
        "ec2:AuthorizeSecurityGroupIngress",
        "iam:CreateServiceLinkedRole",
    ] {
        assert!(text.contains(action), "{action}");
    }
    assert!(text.contains("arn:aws:rds:eu-west-1:*:db:shop-*"), "{text}");
    let summary = p.cmd(&["iam-policy"]).output();
    assert!(
        summary.stdout.contains("RdsCreateTagged"),
        "{}",
        summary.stdout
    );
}

/// `doctor --cloud` says what AWS would refuse, before anything is sent: RDS `MasterUsername`
/// is 1-16 letters/digits/underscores for MySQL and MariaDB (63 for Postgres) and not a
/// reserved word (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html);
/// RDS needs subnets in two zones; `allow_from` takes security groups and CIDR blocks.
#[test]
fn doctor_cloud_checks_master_usernames_subnets_and_allow_from() {
    let p = crate::support::Project::with_manifest(
        "x-provision: {cloud: {subnet_ids: [subnet-1], allow_from: [sg-1, 10.0.0.0/16, everyone]}}\nservices:\n  my: {image: 'mysql:8.4', x-provision: {username: a_rather_long_username}}\n  pg: {image: 'postgres:16', x-provision: {username: rdsadmin}}\n  ok: {image: 'postgres:16', x-provision: {username: a_rather_long_username}}\n",
    );
    let out = p.cmd(&["doctor", "--cloud"]).output();
    assert_eq!(out.code, Some(65), "{}", out.snapshot());
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("1-16 letters, digits or `_`")
            && text.contains("RDS `MasterUsername` for mysql"),
        "{text}"
    );
    assert!(text.contains("`rdsadmin` is reserved"), "{text}");
    assert!(text.contains("Database ok maps to RDS instance"), "{text}");
    assert!(text.contains("at least two availability zones"), "{text}");
    assert!(
        text.contains("`everyone`") || text.contains("everyone"),
        "{text}"
    );
    // The local target does not care.
    let local = p.cmd(&["doctor", "--local"]).output();
    assert_eq!(local.code, Some(0), "{}", local.snapshot());
}

/// Stages (issue 16): isolation, names, destroy of one stage, `gc`, two `up`s at once.
mod stages_need_emulator {
    use super::*;

    const TWO: &str = "x-provision:\n  cloud:\n    stages: {ttl: 3d}\nservices:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n";

    fn tags_of_instance(p: &CloudProject, id: &str) -> BTreeMap<String, String> {
        let v = p.boto3(&format!(
            "d = rds.describe_db_instances(DBInstanceIdentifier='{id}')['DBInstances'][0]\nout({{t['Key']: t['Value'] for t in d.get('TagList', [])}})"
        ));
        serde_json::from_value(v).unwrap()
    }

    fn instances(p: &CloudProject) -> Vec<String> {
        let v = p.boto3(&format!(
            "out(sorted(d['DBInstanceIdentifier'] for page in rds.get_paginator('describe_db_instances').paginate() for d in page['DBInstances'] if d['DBInstanceIdentifier'].startswith('{}-') and d['DBInstanceStatus'] != 'deleting'))",
            p.live.name
        ));
        serde_json::from_value(v).unwrap()
    }

    fn secrets(p: &CloudProject) -> Vec<String> {
        let v = p.boto3(&format!(
            "out(sorted(s['Name'] for s in sm.list_secrets(IncludePlannedDeletion=False, MaxResults=100)['SecretList'] if s['Name'].startswith('provision/{}/')))",
            p.live.name
        ));
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn two_stages_side_by_side_share_nothing_and_one_is_destroyed_alone() {
        let p = CloudProject::isolated("cstg", TWO);
        let name = p.live.name.clone();
        p.ok(&["up"]);
        p.ok(&["up", "--stage", "feature/Login"]);
        p.ok(&["up"]);
        // The default stage keeps today's identifiers and tags; the stage has its own.
        assert_eq!(
            instances(&p),
            [format!("{name}-db"), format!("{name}-feature-login-db")]
        );
        let default_tags = tags_of_instance(&p, &format!("{name}-db"));
        assert!(
            !default_tags.contains_key("provision:stage"),
            "{default_tags:?}"
        );
        assert!(!default_tags.contains_key("provision:expires-at"));
        let staged = tags_of_instance(&p, &format!("{name}-feature-login-db"));
        assert_eq!(staged["provision:stage"], "feature-login");
        assert_eq!(staged["provision:project"], name);
        assert!(staged["provision:expires-at"].ends_with('Z'), "{staged:?}");
        // The ephemeral profile (x-provision.cloud.stages) on the stage only.
        let both = p.boto3(&format!(
            "out([(d['DBInstanceClass'], d['MultiAZ'], d['BackupRetentionPeriod'], d['DeletionProtection']) for d in rds.describe_db_instances()['DBInstances'] if d['DBInstanceIdentifier'] in ('{name}-db', '{name}-feature-login-db')])"
        ));
        let both: Vec<(String, bool, u32, bool)> = serde_json::from_value(both).unwrap();
        assert!(
            both.contains(&("db.t4g.micro".into(), false, 1, false)),
            "{both:?}"
        );
        assert!(
            both.iter().any(|b| b.3),
            "the default stage keeps deletion protection: {both:?}"
        );
        let groups = p.boto3(&format!(
            "out(sorted(g['ReplicationGroupId'] for g in ec.describe_replication_groups()['ReplicationGroups'] if g['ReplicationGroupId'].startswith('{name}-')))"
        ));
        assert_eq!(
            groups,
            serde_json::json!([format!("{name}-feature-login-kv"), format!("{name}-kv")])
        );
        assert_eq!(
            secrets(&p),
            [
                format!("provision/{name}/db"),
                format!("provision/{name}/feature-login/db"),
                format!("provision/{name}/feature-login/kv"),
                format!("provision/{name}/kv"),
            ]
        );
        // Each stage's plan sees its own resources only: nothing orphaned, nothing to do.
        for stage in ["default", "feature-login"] {
            let plan = p.ok(&["plan", "--json", "--stage", stage]);
            let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
            assert_eq!(
                v["live"]["orphaned"],
                serde_json::json!([]),
                "{stage}: {}",
                plan.stdout
            );
        }
        let listed = p.ok(&["stages", "--json"]);
        let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
        let names: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["default", "feature-login"]);
        assert_eq!(listed[1]["resources"].as_array().unwrap().len(), 2);

        // Destroying the stage removes all of it (no final snapshot: a preview) and nothing else.
        let out = p.ok(&["destroy", "--yes", "--stage", "feature-login"]);
        assert!(!out.stderr.contains("final snapshot"), "{}", out.stderr);
        assert_eq!(instances(&p), [format!("{name}-db")]);
        assert_eq!(
            secrets(&p),
            [
                format!("provision/{name}/db"),
                format!("provision/{name}/kv")
            ]
        );
        let plan = p.ok(&["plan", "--json", "--detailed-exitcode"]);
        assert!(
            plan.stdout.contains("no_change") || plan.code == Some(0),
            "{}",
            plan.stdout
        );
    }

    #[test]
    fn long_names_are_shortened_within_each_kind_and_stay_stable() {
        let p = CloudProject::isolated(
            "clong",
            "x-provision:\n  cloud:\n    stages: {profile: standard}\nservices:\n  orders-database: {image: 'postgres:16', x-provision: {cloud: {deletion_protection: false}}}\n  sessions: {image: 'redis:7'}\n  mc: {image: 'memcached:1.6'}\n",
        );
        let stage = "renovate/all-minor-and-patch-updates-for-the-whole-monorepo";
        p.ok(&["up", "--stage", stage]);
        let plan = p.ok(&["plan", "--json", "--stage", stage]);
        let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
        let ids: Vec<String> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["cloud"]["identifier"].as_str().unwrap().to_owned())
            .collect();
        for (id, max) in ids.iter().zip([63, 40, 50]) {
            assert!(
                id.len() <= max && !id.contains("--") && !id.ends_with('-'),
                "{id}"
            );
        }
        // AWS has exactly those (the rules layer refuses longer ones), and a re-run adopts them.
        let g = p.boto3(&format!("out(ec.describe_replication_groups(ReplicationGroupId='{}')['ReplicationGroups'][0]['ReplicationGroupId'])", ids[1]));
        assert_eq!(g, serde_json::json!(ids[1]));
        let again = p.ok(&["up", "-v", "--stage", stage]);
        assert_eq!(
            CloudProject::mutations(&again),
            Vec::<String>::new(),
            "{}",
            again.stderr
        );
    }

    /// The expiry tags of a stage's instance and replication group, as boto3 reads them.
    fn expiries(p: &CloudProject, stage: &str) -> (String, String) {
        let name = &p.live.name;
        let v = p.boto3(&format!(
            "d = rds.describe_db_instances(DBInstanceIdentifier='{name}-{stage}-db')['DBInstances'][0]\n\
             g = ec.describe_replication_groups(ReplicationGroupId='{name}-{stage}-kv')['ReplicationGroups'][0]\n\
             gt = ec.list_tags_for_resource(ResourceName=g['ARN'])['TagList']\n\
             k = 'provision:expires-at'\n\
             out([[t['Value'] for t in d['TagList'] if t['Key'] == k][0], [t['Value'] for t in gt if t['Key'] == k][0]])"
        ));
        serde_json::from_value(v).unwrap()
    }

    /// Sets both resources' expiry tags by hand, as if an earlier `up` had written `at`.
    fn set_expiries(p: &CloudProject, stage: &str, at: &str) {
        let name = &p.live.name;
        p.boto3(&format!(
            "d = rds.describe_db_instances(DBInstanceIdentifier='{name}-{stage}-db')['DBInstances'][0]\n\
             g = ec.describe_replication_groups(ReplicationGroupId='{name}-{stage}-kv')['ReplicationGroups'][0]\n\
             tag = [{{'Key': 'provision:expires-at', 'Value': '{at}'}}]\n\
             rds.add_tags_to_resource(ResourceName=d['DBInstanceArn'], Tags=tag)\n\
             ec.add_tags_to_resource(ResourceName=g['ARN'], Tags=tag)\n\
             out(0)"
        ));
    }

    fn unix(at: &str) -> i64 {
        provision::model::stage::parse_timestamp(at).unwrap_or_else(|| panic!("not RFC 3339: {at}"))
    }

    #[test]
    fn a_later_up_with_a_ttl_moves_the_expiry_so_an_open_preview_is_not_collected() {
        // The profile's own ttl is short; CI passes `--ttl 3d` on every push.
        let manifest = "x-provision:\n  cloud:\n    stages: {ttl: 1h}\nservices:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n";
        let p = CloudProject::isolated("cttl", manifest);
        let now = || {
            i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            )
            .unwrap()
        };
        p.ok(&["up", "--stage", "pr-1", "--ttl", "3d"]);
        // The first push was long ago: its expiry has passed, and gc would collect the stage.
        set_expiries(&p, "pr-1", "2020-01-01T00:00:00Z");
        let dry = p.ok(&["gc", "--dry-run"]);
        assert!(
            dry.stdout.contains("would delete stage pr-1"),
            "{}",
            dry.stdout
        );

        // The next push: the expiry is three days from this run, on both kinds.
        let before = now();
        let out = p.ok(&["up", "-v", "--stage", "pr-1", "--ttl", "3d"]);
        assert!(
            out.stderr.contains("now expires at")
                && out.stderr.contains("(was 2020-01-01T00:00:00Z)"),
            "{}",
            out.stderr
        );
        // One tag call per database, nothing else mutating.
        let mutations = CloudProject::mutations(&out);
        assert_eq!(
            mutations
                .iter()
                .filter(|m| m.contains("AddTagsToResource"))
                .count(),
            2,
            "{mutations:?}"
        );
        assert!(
            mutations.iter().all(|m| m.contains("AddTagsToResource")),
            "{mutations:?}"
        );
        let (db, kv) = expiries(&p, "pr-1");
        for at in [&db, &kv] {
            let at = unix(at);
            assert!(
                at >= before + 3 * 86_400 && at <= now() + 3 * 86_400,
                "{db} {kv}"
            );
        }
        let dry = p.ok(&["gc", "--dry-run"]);
        assert!(
            dry.stdout.contains("no stage of this project has expired"),
            "{}",
            dry.stdout
        );

        // A plain `up` (the profile's 1h) never brings the expiry closer.
        p.ok(&["up", "--stage", "pr-1"]);
        assert_eq!(expiries(&p, "pr-1"), (db.clone(), kv.clone()));
        // An explicit shorter `--ttl` does.
        p.ok(&["up", "--stage", "pr-1", "--ttl", "2h"]);
        let (db2, kv2) = expiries(&p, "pr-1");
        for at in [&db2, &kv2] {
            let at = unix(at);
            assert!(at <= now() + 2 * 3600 && at > now() + 3600, "{db2} {kv2}");
        }
    }

    /// The markdown plan of a live stage: AWS's state, costs, variable names, and not one
    /// secret value, endpoint or URL (a pull-request comment is public).
    #[test]
    fn the_markdown_plan_shows_live_changes_and_no_secret() {
        let p = CloudProject::isolated("cmd", TWO);
        let name = p.live.name.clone();
        p.ok(&["up", "--stage", "pr-3"]);
        let out = p.ok(&["plan", "--format", "markdown", "--stage", "pr-3"]);
        let md = &out.stdout;
        assert!(
            md.contains(&format!("RDS instance `{name}-pr-3-db`")) && md.contains("no change"),
            "{md}"
        );
        assert!(md.contains("**Estimated cost**"), "{md}");
        // What would reveal the database: every secret value and every endpoint AWS has.
        let values = p.boto3(&format!(
            "vals = [sm.get_secret_value(SecretId=s['Name'])['SecretString'] for s in sm.list_secrets()['SecretList'] if s['Name'].startswith('provision/{name}/pr-3/')]\n\
             d = rds.describe_db_instances(DBInstanceIdentifier='{name}-pr-3-db')['DBInstances'][0]\n\
             out(vals + [d['Endpoint']['Address']])"
        ));
        let values: Vec<String> = serde_json::from_value(values).unwrap();
        assert_eq!(values.len(), 3, "{values:?}");
        for v in &values {
            assert!(!v.is_empty());
            // A secret holds JSON or a bare password: check the password itself, too.
            let inner: Vec<String> = serde_json::from_str::<serde_json::Value>(v)
                .ok()
                .and_then(|j| j.as_object().cloned())
                .map_or_else(
                    || vec![v.clone()],
                    |o| {
                        o.values()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .filter(|x| x.len() >= 12)
                            .collect()
                    },
                );
            for secret in inner {
                assert!(!md.contains(&secret), "a value is in the comment: {md}");
            }
        }
        assert!(!md.contains("://"), "no URL in the comment: {md}");
        // Changed from outside: the comment shows it as drift, which `up` puts back.
        p.boto3(&format!(
            "rds.modify_db_instance(DBInstanceIdentifier='{name}-pr-3-db', BackupRetentionPeriod=5, ApplyImmediately=True)\nout(0)"
        ));
        let out = p.ok(&["plan", "--format", "markdown", "--stage", "pr-3"]);
        assert!(
            out.stdout.contains(
                "drift: backup_retention_days 1 -> 5 (changed outside provision; up puts back 1)"
            ),
            "{}",
            out.stdout
        );
    }

    const SEEDED: &str = "x-provision:\n  cloud:\n    stages: {ttl: 3d}\nservices:\n  db: {image: 'postgres:16', x-provision: {cloud: {from_snapshot: 'latest-of:main'}}}\n  kv: {image: 'redis:7', x-provision: {cloud: {from_snapshot: 'latest-of:main'}}}\n";

    /// A manual snapshot of `main`'s instance and group, taken with boto3, waited for.
    fn snapshot_main(p: &CloudProject, tag: &str) -> (String, String) {
        let name = &p.live.name;
        let (db, kv) = (
            format!("{name}-main-db-{tag}"),
            format!("{name}-main-kv-{tag}"),
        );
        p.boto3(&format!(
            r#"
import time
rds.create_db_snapshot(DBInstanceIdentifier="{name}-main-db", DBSnapshotIdentifier="{db}")
ec.create_snapshot(ReplicationGroupId="{name}-main-kv", SnapshotName="{kv}")
for _ in range(100):
    a = rds.describe_db_snapshots(DBSnapshotIdentifier="{db}")["DBSnapshots"][0]["Status"]
    b = ec.describe_snapshots(SnapshotName="{kv}")["Snapshots"][0]["SnapshotStatus"]
    if a == b == "available":
        break
    time.sleep(0.1)
out([a, b])
"#
        ));
        (db, kv)
    }

    fn secret_value(p: &CloudProject, name: &str) -> String {
        p.boto3(&format!(
            "out(sm.get_secret_value(SecretId='{name}')['SecretString'])"
        ))
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Seeding a preview from `main` (README, "CI and preview environments"): the newest
    /// snapshot of main's instance (a manual one, newer than the automated one moto makes at
    /// create), restored with RestoreDBInstanceFromDBSnapshot
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html)
    /// with the preview's own tags and network; then the master password reset to the
    /// preview's own secret (ModifyDBInstance MasterUserPassword, ApplyImmediately), so main's
    /// password does not open it; the cache seeded with SnapshotName and its own token. What
    /// AWS did is read from boto3 and the rules layer's record (which snapshot, which
    /// passwords open the instance), not from provision.
    #[test]
    fn a_preview_is_restored_from_mains_newest_snapshot_with_its_own_password() {
        let p = CloudProject::isolated("cseed", SEEDED);
        let name = p.live.name.clone();
        // Before main exists: a clear error, and nothing is created.
        let early = p.cmd(&["up", "--stage", "pr-1"]).output();
        assert_eq!(early.code, Some(1), "{}", early.snapshot());
        assert!(
            early.stderr.contains("stage `main` has no")
                && early.stderr.contains("provision up --cloud --stage main"),
            "{}",
            early.stderr
        );
        assert!(instances(&p).is_empty());
        // main is created as usual: from_snapshot names it, so it is the source.
        let main = p.ok(&["up", "--stage", "main"]);
        assert!(!main.stderr.contains("snapshot"), "{}", main.stderr);
        // Before a manual snapshot: main's instance has the automated one moto (like AWS,
        // after the first backup window) made; main's cache has none yet, which plan says.
        let plan = p.ok(&["plan", "--stage", "pr-1"]);
        assert!(
            plan.stdout
                .contains(&format!("restore from snapshot rds:{name}-main-db-"))
                && plan.stdout.contains("(automated"),
            "{}",
            plan.stdout
        );
        assert!(
            plan.stdout.contains(&format!(
                "`{name}-main-kv` (stage `main`) has no snapshot yet"
            )),
            "{}",
            plan.stdout
        );
        let (db_snap, kv_snap) = snapshot_main(&p, "seed");
        let plan = p.ok(&["plan", "--stage", "pr-1"]);
        assert!(
            plan.stdout
                .contains(&format!("restore from snapshot {db_snap} (manual")),
            "{}",
            plan.stdout
        );
        assert!(
            plan.stdout
                .contains(&format!("restore from snapshot {kv_snap}")),
            "{}",
            plan.stdout
        );

        let up = p.ok(&["up", "--stage", "pr-1", "-v"]);
        let (preview, source) = (format!("{name}-pr-1-db"), format!("{name}-main-db"));
        let state = p.rules_state();
        assert_eq!(
            state["resources"][&preview]["restored_from"],
            db_snap.as_str()
        );
        assert_eq!(
            state["resources"][format!("{name}-pr-1-kv")]["restored_from"],
            kv_snap.as_str()
        );
        let restores = p.requests("RestoreDBInstanceFromDBSnapshot");
        assert_eq!(restores.len(), 1, "{restores:?}");
        let r = &restores[0];
        assert_eq!(r["DBSnapshotIdentifier"], db_snap.as_str());
        assert_eq!(r["DBInstanceClass"], "db.t4g.micro");
        assert_eq!(r["PubliclyAccessible"], "false");
        assert_eq!(r["StorageType"], "gp3");
        assert!(
            r["DBParameterGroupName"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{name}-pr-1-")),
            "{r}"
        );
        // Its tags are the preview's own, not main's (copied to main's snapshot).
        let tags = tags_of_instance(&p, &preview);
        assert_eq!(tags["provision:stage"], "pr-1", "{tags:?}");
        assert_eq!(tags["provision:resource"], "db");
        assert!(tags.contains_key("provision:expires-at"));
        // Its own secret, and only that opens it: main's password was reset away.
        let (mine, mains) = (
            secret_value(&p, &format!("provision/{name}/pr-1/db")),
            secret_value(&p, &format!("provision/{name}/main/db")),
        );
        assert_ne!(mine, mains);
        assert_eq!(
            state["resources"][&source]["credentials"],
            serde_json::json!([mains])
        );
        assert_eq!(
            state["resources"][&preview]["credentials"],
            serde_json::json!([mine]),
            "the preview opens with its own secret only"
        );
        let resets: Vec<_> = p
            .requests("ModifyDBInstance")
            .into_iter()
            .filter(|m| m["DBInstanceIdentifier"] == preview.as_str())
            .collect();
        assert!(
            resets
                .iter()
                .any(|m| m["MasterUserPassword"] == "[redacted]" && m["ApplyImmediately"] == "true"),
            "{resets:?}"
        );
        assert!(
            !up.stderr.contains(&mine) && !up.stderr.contains(&mains),
            "no secret in the output"
        );
        // The cache: its own AUTH token from the start.
        let kv_token = secret_value(&p, &format!("provision/{name}/pr-1/kv"));
        assert_eq!(
            state["resources"][format!("{name}-pr-1-kv")]["credentials"],
            serde_json::json!([kv_token])
        );
        let kv_restores: Vec<_> = p
            .requests("CreateReplicationGroup")
            .into_iter()
            .filter(|c| c["ReplicationGroupId"] == format!("{name}-pr-1-kv").as_str())
            .collect();
        assert_eq!(kv_restores[0]["SnapshotName"], kv_snap.as_str());

        // Once created, from_snapshot has no further effect: a re-run changes nothing (but
        // the preview's expiry, which every `up` of a stage with a ttl moves later), even
        // with a newer snapshot of main.
        snapshot_main(&p, "later");
        let again = p.ok(&["up", "--stage", "pr-1", "-v"]);
        let changed: Vec<String> = CloudProject::mutations(&again)
            .into_iter()
            .filter(|m| !m.ends_with(".AddTagsToResource"))
            .collect();
        assert_eq!(changed, Vec::<String>::new(), "{}", again.stderr);
        assert!(again.stderr.contains("now expires at"), "{}", again.stderr);
        let plan = p.ok(&["plan", "--json", "--stage", "pr-1", "--detailed-exitcode"]);
        assert_eq!(plan.code, Some(0), "{}", plan.stdout);
    }

    /// A run killed right after AWS accepted the restore (before the password reset) is
    /// finished by the next run: the secret was tagged pending first, so the instance never
    /// stays on main's password.
    #[test]
    fn a_restore_killed_before_the_password_reset_is_finished_by_the_next_run() {
        let p = CloudProject::isolated("ckill", SEEDED);
        let name = p.live.name.clone();
        p.ok(&["up", "--stage", "main"]);
        snapshot_main(&p, "seed");
        for step in ["restore-requested", "restore-available"] {
            let stage = format!("k-{}", &step[8..]);
            let killed = p
                .cmd(&["up", "--stage", &stage])
                .env("PROVISION_TEST_CRASH_AT", step)
                .output();
            assert_ne!(killed.code, Some(0), "{step}: {}", killed.snapshot());
            assert!(killed.stderr.contains(step), "{}", killed.stderr);
            let preview = format!("{name}-{stage}-db");
            let before = p.rules_state();
            let mine = secret_value(&p, &format!("provision/{name}/{stage}/db"));
            assert_ne!(
                before["resources"][&preview]["credentials"],
                serde_json::json!([mine]),
                "{step}: killed before the reset"
            );
            let out = p.ok(&["up", "--stage", &stage]);
            assert!(
                out.stderr.contains("interrupted password reset"),
                "{step}: {}",
                out.stderr
            );
            let after = p.rules_state();
            assert_eq!(
                after["resources"][&preview]["credentials"],
                serde_json::json!([mine]),
                "{step}"
            );
            assert_eq!(
                after["resources"][&preview]["restored_from"],
                format!("{name}-main-db-seed").as_str()
            );
        }
    }

    #[test]
    fn gc_deletes_only_this_projects_expired_stages() {
        let manifest = "x-provision:\n  cloud:\n    stages: {ttl: 1d}\nservices:\n  db: {image: 'postgres:16'}\n";
        let p = CloudProject::isolated("cgc", manifest);
        let name = p.live.name.clone();
        p.ok(&["up", "--stage", "old"]);
        p.ok(&["up", "--stage", "fresh"]);
        // Another project in the same account, with an expired stage of its own.
        let mut other = CloudProject::new("cgcother", manifest);
        other.account.clone_from(&p.account);
        other.ok(&["up", "--stage", "old"]);
        // Expire `old` of both projects; an untagged instance with a matching name is there too.
        let past = "2020-01-01T00:00:00Z";
        for id in [
            format!("{name}-old-db"),
            format!("{}-old-db", other.live.name),
        ] {
            p.boto3(&format!(
                "arn = rds.describe_db_instances(DBInstanceIdentifier='{id}')['DBInstances'][0]['DBInstanceArn']\nrds.add_tags_to_resource(ResourceName=arn, Tags=[{{'Key': 'provision:expires-at', 'Value': '{past}'}}])\nout(0)"
            ));
        }
        p.boto3(&format!(
            "rds.create_db_instance(DBInstanceIdentifier='{name}-stray-db', Engine='postgres', DBInstanceClass='db.t4g.micro', MasterUsername='x', MasterUserPassword='password1234', AllocatedStorage=20)\nout(0)"
        ));

        let dry = p.ok(&["gc", "--dry-run"]);
        assert!(
            dry.stdout.contains(&format!(
                "would delete stage old: RDS instance {name}-old-db"
            )),
            "{}",
            dry.stdout
        );
        assert_eq!(dry.stdout.lines().count(), 1, "{}", dry.stdout);
        assert_eq!(instances(&p).len(), 3, "a dry run deletes nothing");

        let out = p.ok(&["gc"]);
        assert!(
            out.stdout
                .contains(&format!("deleted stage old: RDS instance {name}-old-db")),
            "{}",
            out.stdout
        );
        assert_eq!(
            instances(&p),
            [format!("{name}-fresh-db"), format!("{name}-stray-db")]
        );
        assert_eq!(instances(&other), [format!("{}-old-db", other.live.name)]);
        assert_eq!(secrets(&p), [format!("provision/{name}/fresh/db")]);
        let again = p.ok(&["gc"]);
        assert!(
            again
                .stdout
                .contains("no stage of this project has expired"),
            "{}",
            again.stdout
        );
    }

    #[test]
    fn stage_flags_are_checked() {
        let p = CloudProject::new("cflag", "services:\n  db: {image: 'postgres:16'}\n");
        let out = p
            .cmd(&["plan", "--stage", "auto"])
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env_remove("BUILDKITE")
            .env_remove("CIRCLECI")
            .output();
        assert_eq!(out.code, Some(2), "{}", out.snapshot());
        assert!(out.stderr.contains("found no CI system"), "{}", out.stderr);
        let out = p.cmd(&["plan", "--ttl", "3d"]).output();
        assert_eq!(out.code, Some(2), "{}", out.snapshot());
        assert!(
            out.stderr.contains("the default stage never expires"),
            "{}",
            out.stderr
        );
        let out = p.cmd(&["plan", "--stage", "x", "--ttl", "soon"]).output();
        assert_eq!(out.code, Some(2), "{}", out.snapshot());
        let out = p
            .cmd(&["plan", "--json", "--stage", "auto"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_HEAD_REF", "Fix/Bug_12")
            .output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        assert!(
            out.stdout.contains(&format!(
                "\"identifier\": \"{}-fix-bug-12-db\"",
                p.live.name
            )),
            "{}",
            out.stdout
        );
        let out = p
            .cmd(&["plan", "--json"])
            .env("PROVISION_STAGE", "qa")
            .output();
        assert!(
            out.stdout
                .contains(&format!("\"identifier\": \"{}-qa-db\"", p.live.name)),
            "{}",
            out.stdout
        );
    }
}

mod concurrency_needs_emulator {
    use super::*;

    #[test]
    fn two_ups_of_one_stage_at_once_converge_to_one_of_everything() {
        let p = CloudProject::isolated(
            "cconc",
            "x-provision:\n  cloud:\n    stages: {ttl: 1d}\nservices:\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n",
        );
        // A long `creating` phase, so that the second run meets the first one's resources
        // half made.
        p.rules("config", serde_json::json!({"creating_seconds": 3}));
        let name = p.live.name.clone();
        let outs: Vec<Output> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| p.cmd(&["up", "--stage", "pr-9"]).output()))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for out in &outs {
            assert_eq!(out.code, Some(0), "{}", out.snapshot());
        }
        let counts = p.boto3(&format!(
            "out([len([d for d in rds.describe_db_instances()['DBInstances'] if d['DBInstanceIdentifier'] == '{name}-pr-9-db']), len([g for g in ec.describe_replication_groups()['ReplicationGroups'] if g['ReplicationGroupId'] == '{name}-pr-9-kv']), sorted(s['Name'] for s in sm.list_secrets(MaxResults=100)['SecretList'] if s['Name'].startswith('provision/{name}/'))])"
        ));
        assert_eq!(
            counts,
            serde_json::json!([
                1,
                1,
                [
                    format!("provision/{name}/pr-9/db"),
                    format!("provision/{name}/pr-9/kv")
                ]
            ])
        );
        assert_eq!(
            p.requests("CreateDBInstance").len(),
            1,
            "one create, the other adopted it"
        );
        assert_eq!(p.requests("CreateReplicationGroup").len(), 1);
        // The secret opens the database: the password both runs agreed on is the database's.
        let password = p.vars(&["--stage", "pr-9"])["DB_PASSWORD"].clone();
        assert_eq!(
            p.rules_state()["resources"][format!("{name}-pr-9-db")]["credentials"],
            serde_json::json!([password])
        );
    }
}

/// `adopt` and `release` of resources made outside provision.
#[path = "cloud/adopt.rs"]
mod adopt_needs_emulator;

/// IAM database authentication: the token, the diff, `run`'s token file.
#[path = "cloud/iam_auth.rs"]
mod iam_auth_needs_emulator;

/// The IAM user's SQL on real servers (native PostgreSQL and MariaDB).
#[path = "cloud/iam_sql.rs"]
mod iam_sql_needs_native;

/// `dump`/`restore --cloud` over verified TLS with real tools, against real servers standing
/// in for RDS (native, local TLS) behind the emulator's instance.
#[path = "cloud/data_tls.rs"]
mod data_tls_needs_native_and_emulator;

/// Drift: settings changed outside provision (with boto3), `plan --drift`, `up` putting back.
#[path = "cloud/drift.rs"]
mod drift_needs_emulator;
/// `serverless: true`: Aurora Serverless v2 and ElastiCache Serverless (the latter emulated by
/// the rules layer).
#[path = "cloud/serverless.rs"]
mod serverless_needs_emulator;
