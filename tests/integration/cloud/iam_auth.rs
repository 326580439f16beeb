//! IAM database authentication (`x-provision.cloud.iam_auth`) against the emulator.
//!
//! What the emulator can show: `EnableIAMDatabaseAuthentication` on create and modify (moto
//! keeps it and reports `IAMDatabaseAuthenticationEnabled`), the plan's diff, and the token.
//! The token is checked against botocore's own `generate_db_auth_token`, computed in the test
//! with the same credentials and the same clock second (the token's `X-Amz-Date`): an
//! independent SigV4 presign
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html).
//! What it cannot show: no database runs behind moto's endpoints, so the IAM user's SQL is not
//! run here. `up` then says it could not log in as the master user and prints the statements;
//! the statements themselves are unit-tested in `src/cloud/iam_auth.rs`.

use super::*;

const IAM: &str = r"
services:
  web:
    build: .
    links: [pg, my]
  pg:
    image: postgres:16
    x-provision: {database: shop, cloud: {iam_auth: true}}
  my:
    image: mysql:8.4
    x-provision: {database: shop, cloud: {iam_auth: true}}
";

/// botocore's token for the same request, signed at the token's own `X-Amz-Date`.
fn botocore_token(host: &str, port: &str, user: &str, token: &str) -> String {
    let date = token
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Date="))
        .expect("the token has an X-Amz-Date");
    python_json(&format!(
        "import datetime, json, boto3, botocore.auth\n\
         fixed = datetime.datetime.strptime({date:?}, '%Y%m%dT%H%M%SZ')\n\
         botocore.auth.get_current_datetime = lambda *a, **k: fixed\n\
         rds = boto3.client('rds', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         print(json.dumps(rds.generate_db_auth_token({host:?}, {port}, {user:?}, Region='us-east-1')))"
    ))
    .as_str()
    .expect("a string")
    .to_owned()
}

/// The query parameters of a token, sorted: AWS reads them as a set.
fn params(token: &str) -> Vec<String> {
    let (_, query) = token.split_once('?').expect("a query");
    let mut all: Vec<String> = query.split('&').map(str::to_owned).collect();
    all.sort();
    all
}

#[test]
fn iam_auth_is_enabled_and_env_hands_out_the_token_botocore_computes() {
    let p = CloudProject::new("ciam", IAM);
    let up = p.ok(&["up"]);
    for id in ["pg", "my"] {
        let db = boto3(&format!(
            "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0])",
            p.id(id)
        ));
        assert_eq!(db["IAMDatabaseAuthenticationEnabled"], true, "{db}");
    }
    // The account is shared with other tests: this project's creates only.
    let creates: Vec<_> = p
        .requests("CreateDBInstance")
        .into_iter()
        .filter(|c| {
            c["DBInstanceIdentifier"]
                .as_str()
                .is_some_and(|id| id.starts_with(&p.live.name))
        })
        .collect();
    assert_eq!(creates.len(), 2, "{creates:?}");
    assert!(
        creates
            .iter()
            .all(|c| c["EnableIAMDatabaseAuthentication"] == "true"
                && c["DatabaseInsightsMode"] == "standard"),
        "{creates:?}"
    );
    // No database behind the emulator's endpoint: `up` says so and prints the statements.
    assert!(
        up.stderr
            .contains("could not make IAM database user app_iam")
            && up.stderr.contains("GRANT rds_iam TO \"app_iam\"")
            && up
                .stderr
                .contains("IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"),
        "{}",
        up.stderr
    );

    let v = p.vars(&["--service", "web"]);
    let secret = boto3(&format!(
        "out(sm.get_secret_value(SecretId='provision/{}/pg')['SecretString'])",
        p.live.name
    ));
    let token = &v["PG_PASSWORD"];
    assert_eq!(v["PG_USERNAME"], "app_iam");
    assert_ne!(
        token,
        secret.as_str().unwrap(),
        "the master password is not handed out"
    );
    assert!(
        token.starts_with(&format!("{}:{}/?", v["PG_HOST"], v["PG_PORT"])),
        "{token}"
    );
    assert!(token.contains("Action=connect") && token.contains("DBUser=app_iam"));
    assert!(token.contains("X-Amz-Expires=900"), "{token}");
    let theirs = botocore_token(&v["PG_HOST"], &v["PG_PORT"], "app_iam", token);
    assert_eq!(
        params(token),
        params(&theirs),
        "ours: {token}\nbotocore: {theirs}"
    );
    // The URL carries it percent-encoded, with verified TLS.
    assert!(
        v["PG_URL"].starts_with("postgresql://app_iam:"),
        "{}",
        v["PG_URL"]
    );
    assert!(
        v["PG_URL"].contains("%26X-Amz-Signature%3D") || v["PG_URL"].contains("X-Amz-Signature%3D")
    );
    assert!(v["PG_URL"].contains("sslmode=verify-full"));
    let my = &v["MY_PASSWORD"];
    assert_eq!(v["MY_USERNAME"], "app_iam");
    assert_eq!(
        params(my),
        params(&botocore_token(&v["MY_HOST"], &v["MY_PORT"], "app_iam", my))
    );

    // A second `up` changes nothing on AWS, and tries the IAM user again: run from where the
    // database is reachable, it finishes what the first could not.
    let again = p.ok(&["up", "-v"]);
    assert!(
        CloudProject::mutations(&again).is_empty(),
        "{}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains("could not make IAM database user app_iam"),
        "{}",
        again.stderr
    );
}

#[test]
fn turning_iam_auth_on_later_is_a_planned_in_place_change() {
    let p = CloudProject::new("ciamlater", &IAM.replace(", cloud: {iam_auth: true}", ""));
    p.ok(&["up"]);
    p.write_manifest(IAM);
    let plan = p.ok(&["plan"]);
    assert!(
        plan.stdout.contains("iam_auth") && plan.stdout.contains("false -> true"),
        "{}",
        plan.stdout
    );
    // Until `up` turns it on, `env` hands out no token that would open nothing.
    let early = p.cmd(&["env"]).output();
    assert_eq!(early.code, Some(1), "{}", early.snapshot());
    assert!(
        early.stderr.contains("not enabled on it yet"),
        "{}",
        early.stderr
    );
    p.ok(&["up"]);
    let modifies: Vec<_> = p
        .requests("ModifyDBInstance")
        .into_iter()
        .filter(|m| {
            m["DBInstanceIdentifier"]
                .as_str()
                .is_some_and(|id| id.starts_with(&p.live.name))
        })
        .collect();
    assert!(
        modifies
            .iter()
            .any(|m| m["EnableIAMDatabaseAuthentication"] == "true"),
        "{modifies:?}"
    );
    let db = boto3(&format!(
        "out(rds.describe_db_instances(DBInstanceIdentifier='{}')['DBInstances'][0]['IAMDatabaseAuthenticationEnabled'])",
        p.id("pg")
    ));
    assert_eq!(db, true);
}

#[test]
fn run_keeps_a_token_file_fresh_and_ends_with_the_programs_status() {
    let p = CloudProject::new("ciamrun", IAM);
    p.ok(&["up"]);
    let out = p
        .cmd(&[
            "run",
            "-s",
            "web",
            "--",
            "sh",
            "-c",
            "cat \"$PG_TOKEN_FILE\"; echo; ls -ld \"$(dirname \"$PG_TOKEN_FILE\")\" | cut -c1-10; sleep 2.5; cat \"$PG_TOKEN_FILE\"; echo; echo \"$PG_TOKEN_FILE\"; exit 3",
        ])
        .env("PROVISION_TEST_TOKEN_REFRESH_MS", "1000")
        .output();
    assert_eq!(out.code, Some(3), "{}", out.snapshot());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    let (first, mode, later, path) = (lines[0], lines[1], lines[2], lines[3]);
    assert_eq!(mode, "drwx------");
    assert_ne!(first, later, "the file was refreshed");
    for token in [first, later] {
        let (host_port, _) = token.split_once('/').unwrap();
        let (host, port) = host_port.rsplit_once(':').unwrap();
        assert_eq!(
            params(token),
            params(&botocore_token(host, port, "app_iam", token))
        );
    }
    assert!(
        !std::path::Path::new(path).exists(),
        "the token file is removed"
    );
}
