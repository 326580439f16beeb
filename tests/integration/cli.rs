//! `doctor` and `plan` over good and bad manifests, snapshotting exit status, stdout and
//! stderr together so that a change in any of them is seen in review.

use crate::snapshot;
use crate::support::Project;

const SHOP: &str = r"
x-db: &db
  restart: unless-stopped
services:
  web:
    build: .
    links: [db, 'cache:sessions']
    environment:
      GREETING: hello
  worker:
    build: .
    depends_on:
      cache: {condition: service_started}
  db:
    <<: *db
    image: postgres:15
    x-provision:
      database: shop
      cloud: {storage_gb: 50}
  cache:
    image: redis:7
";

#[test]
fn doctor_passes_a_good_manifest() {
    let out = snapshot!("doctor_good", SHOP, &["doctor"]);
    assert_eq!(out.code, Some(0));
}

#[test]
fn doctor_json() {
    let out = snapshot!("doctor_json", SHOP, &["doctor", "--local", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
}

#[test]
fn doctor_reports_every_problem_and_exits_65() {
    let manifest = r"
name: shop
services:
  web:
    image: node:20
    links: [dbb, api, 'db:main', 'kv:main']
    environment: {MAIN_URL: 'postgres://x'}
  api: {image: node:20}
  db:
    image: postgres:9.6
  kv:
    image: redis
    environment: {REDIS_PASSWORD: password}
    x-provision: {verison: '7', cloud: {storage_gb: 20}}
  a-cache-with-a-rather-long-name: {image: valkey/valkey:8}
  typo: {x-provision: {type: rediss}}
";
    let out = snapshot!("doctor_bad", manifest, &["doctor"]);
    assert_eq!(out.code, Some(65));
}

#[test]
fn plan_local_and_cloud() {
    // Native runtime with no state of its own: live state is "create" whatever this machine runs.
    let out = snapshot!("plan_local", SHOP, &["plan", "--runtime", "native"]);
    assert_eq!(out.code, Some(0));
    let out = snapshot!("plan_cloud", SHOP, &["plan", "--cloud"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("RDS instance shop-db"));
}

/// A preview stage's plan: the ephemeral profile's classes, the cost per day as well, and the
/// JSON's estimate with the table's date; a region the table does not list has no price.
#[test]
fn plan_cloud_shows_a_dated_cost_estimate() {
    let manifest = "x-provision:\n  cloud:\n    stages: {ttl: 3d}\nservices:\n  db: {image: 'postgres:16', x-provision: {cloud: {storage_gb: 30}}}\n  kv: {image: 'redis:7'}\n";
    let out = snapshot!(
        "plan_cloud_preview",
        manifest,
        &["plan", "--cloud", "--stage", "pr-7"]
    );
    assert_eq!(out.code, Some(0));
    // 0.016 * 730 + 30 * 0.115 = 15.13 a month; 15.13 * 24 / 730 = 0.50 a day.
    assert!(
        out.stdout.contains("15.13/month (0.50/day)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("estimate"), "{}", out.stdout);
    let project = Project::with_manifest(manifest);
    let json = project
        .cmd(&["plan", "--cloud", "--json", "--stage", "pr-7"])
        .output();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let cost = &v["cost"];
    assert_eq!(cost["estimate"], true);
    assert_eq!(cost["prices_date"].as_str().map(str::len), Some(10));
    assert_eq!(cost["databases"][0]["monthly"], 15.13);
    assert_eq!(cost["databases"][0]["daily"], 0.5);
    assert!(cost["databases"][1]["no_price"].is_string(), "{cost}");
    assert_eq!(cost["unpriced"], 1);
    assert_eq!(cost["monthly_total"], 15.13);
    let elsewhere = project
        .cmd(&["plan", "--cloud", "--json"])
        .env("AWS_REGION", "ap-south-2")
        .output();
    let v: serde_json::Value = serde_json::from_str(&elsewhere.stdout).unwrap();
    assert_eq!(v["cost"]["unpriced"], 2, "{}", elsewhere.stdout);
    assert_eq!(v["cost"]["monthly_total"], 0.0);
}

/// The pull-request comment, without AWS to read: desired changes unknown, costs, names.
#[test]
fn plan_cloud_markdown_for_a_pull_request() {
    let out = snapshot!(
        "plan_cloud_markdown",
        SHOP,
        &["plan", "--cloud", "--format", "markdown", "--stage", "pr-7"]
    );
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("| `db` |"), "{}", out.stdout);
    assert!(out.stdout.contains("`DB_PASSWORD`"), "{}", out.stdout);
    let project = Project::with_manifest(SHOP);
    let local = project
        .cmd(&["plan", "--local", "--format", "markdown"])
        .output();
    assert_eq!(local.code, Some(2), "{}", local.snapshot());
    assert!(
        local.stderr.contains("--cloud --format markdown"),
        "{}",
        local.stderr
    );
}

#[test]
fn plan_json_is_machine_readable() {
    let out = snapshot!("plan_cloud_json", SHOP, &["plan", "--cloud", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["resources"][0]["cloud"]["identifier"], "shop-db");
    assert_eq!(v["resources"][0]["cloud"]["storage_encrypted"], true);
}

/// Each bad input: a clear message naming the place, the right exit status, never a panic.
#[test]
fn bad_manifests() {
    let cases: &[(&str, &[u8], i32)] = &[
        ("empty", b"", 65),
        ("not_yaml", b"services: {db: {image: [postgres\n", 65),
        ("binary", b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00\x00garbage", 65),
        ("top_level_list", b"- services\n- db\n", 65),
        ("services_not_map", b"services: [db, web]\n", 65),
        ("duplicate_keys", b"services:\n  db: {image: postgres}\n  db: {image: redis}\n", 65),
        ("unknown_type", b"services:\n  db: {x-provision: {type: postgress}}\n", 65),
        ("link_to_missing", b"services:\n  db: {image: postgres}\n  web: {build: ., links: [dbb]}\n", 65),
        ("link_to_app", b"services:\n  db: {image: postgres}\n  api: {build: .}\n  web: {build: ., links: [db, api]}\n", 65),
        ("invalid_project", b"x-provision: {project: '---'}\nservices:\n  db: {image: postgres}\n", 65),
        ("undefined_variable", b"services:\n  db: {image: 'postgres:${PG_VERSION}'}\n", 65),
        ("no_databases", b"services:\n  web: {image: node:20}\n", 65),
    ];
    for (name, manifest, code) in cases {
        let project = Project::new();
        project.write("compose.yaml", manifest);
        let out = project.cmd(&["plan"]).output();
        assert_eq!(out.code, Some(*code), "{name}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}: errors go to stderr only");
        insta::assert_snapshot!(format!("bad_{name}"), out.snapshot());
    }
}

/// Any version an image exists for runs locally; the supported list is what the cloud offers,
/// so only `--cloud` refuses one, naming the nearest version it has.
#[test]
fn an_old_version_runs_locally_and_is_refused_only_for_the_cloud() {
    let project = Project::new();
    project.write("compose.yaml", b"services:\n  db: {image: 'mysql:5.7'}\n");
    let local = project.cmd(&["plan"]).output();
    assert_eq!(local.code, Some(0), "{}", local.snapshot());
    assert!(local.stdout.contains("mysql 5.7"), "{}", local.snapshot());
    let cloud = project.cmd(&["plan", "--cloud"]).output();
    assert_eq!(cloud.code, Some(65), "{}", cloud.snapshot());
    insta::assert_snapshot!("bad_unsupported_version", cloud.snapshot());
}

#[test]
fn identifier_too_long_for_elasticache_fails_only_in_the_cloud() {
    let manifest =
        "name: a-project-name-that-is-long\nservices:\n  sessions-cache: {image: redis}\n";
    let project = Project::with_manifest(manifest);
    assert_eq!(project.cmd(&["plan", "--local"]).output().code, Some(0));
    let out = project.cmd(&["plan", "--cloud"]).output();
    assert_eq!(out.code, Some(65));
    insta::assert_snapshot!("bad_identifier_too_long", out.snapshot());
}

#[test]
fn missing_manifest_and_missing_file() {
    let project = Project::new();
    let out = project.cmd(&["plan"]).output();
    assert_eq!(out.code, Some(65));
    assert!(out.stderr.contains("no manifest found"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("compose.yaml, compose.yml, docker-compose.yml"),
        "{}",
        out.stderr
    );
    let out = project.cmd(&["doctor", "-f", "nope.yml"]).output();
    assert_eq!(out.code, Some(65));
    insta::assert_snapshot!("bad_missing_file", out.snapshot());
}

#[test]
fn manifest_lookup_order_and_dash_f() {
    let project = Project::new();
    project.write("docker-compose.yml", b"services: {old: {image: redis}}\n");
    project.write("compose.yaml", b"services: {new: {image: redis}}\n");
    let out = project.cmd(&["plan", "--json"]).output();
    assert!(
        out.stdout.contains("\"new\""),
        "compose.yaml wins over docker-compose.yml"
    );
    project.write("provision.yml", b"services: {mine: {image: redis}}\n");
    assert!(
        project
            .cmd(&["plan", "--json"])
            .output()
            .stdout
            .contains("\"mine\"")
    );
    let out = project
        .cmd(&["plan", "--json", "-f", "docker-compose.yml"])
        .output();
    assert!(out.stdout.contains("\"old\""));
}

#[test]
fn interpolation_from_env_and_dotenv() {
    let project = Project::with_manifest(
        "services:\n  db: {image: 'postgres:${PG_VERSION}', x-provision: {database: '${DB_NAME:-fallback}'}}\n",
    );
    project.write(".env", b"PG_VERSION=14\nDB_NAME=from_dotenv\n");
    let out = project.cmd(&["plan", "--json"]).output();
    assert!(out.stdout.contains("\"postgres:14\""), "{}", out.stdout);
    assert!(out.stdout.contains("from_dotenv"));
    // The environment wins over `.env`, as in Compose.
    let out = project
        .cmd(&["plan", "--json"])
        .env("PG_VERSION", "16")
        .output();
    assert!(out.stdout.contains("\"postgres:16\""), "{}", out.stdout);
}

#[test]
fn project_name_precedence() {
    let project = Project::with_manifest("name: Compose-Name\nservices: {db: {image: redis}}\n");
    let name = |args: &[&str]| -> String {
        let out = project.cmd(args).output();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v["project"]["name"].as_str().unwrap().to_owned()
    };
    assert_eq!(name(&["plan", "--json"]), "compose-name");
    assert_eq!(name(&["plan", "--json", "-p", "Other App"]), "other-app");
    let out = project.cmd(&["plan", "-p", "!!!"]).output();
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("cannot be a project name"));
}

#[test]
fn usage_errors_exit_2() {
    let project = Project::with_manifest(SHOP);
    assert_eq!(
        project.cmd(&["plan", "--local", "--cloud"]).output().code,
        Some(2)
    );
    assert_eq!(project.cmd(&["frobnicate"]).output().code, Some(2));
}

#[test]
fn a_ten_megabyte_manifest_is_fine() {
    let mut text = String::from("services:\n");
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!(
            "  web{i}:\n    image: node:20\n    environment: {{GREETING: \"{}\"}}\n    links: [db{i}]\n  db{i}:\n    image: postgres:16\n    x-provision: {{database: app{i}}}\n",
            "x".repeat(40)
        ));
        i += 1;
    }
    let project = Project::with_manifest(&text);
    let started = std::time::Instant::now();
    let out = project.cmd(&["doctor", "--json", "-p", "big"]).output();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Not a timing test (see BENCHMARKS.md); this only catches a pathological slowdown.
    assert!(started.elapsed() < std::time::Duration::from_mins(1));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sections"][1]["checks"].as_array().map(Vec::len), Some(i));
}

/// RDS reserves master user names: `admin` and `pg_*` on PostgreSQL, `rdsadmin` everywhere
/// (cited in templates/postgres.yml). `doctor --cloud` and `plan --cloud` refuse them where the
/// name was written, with the rule and the fix; locally the image takes any name.
#[test]
fn reserved_master_user_names_are_refused_for_the_cloud_where_they_are_written() {
    let manifest = "name: shop\nservices:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: admin\n      POSTGRES_PASSWORD: ${DB_PASSWORD:-s3cret-from-env}\n  pg2:\n    image: postgres:16\n    x-provision: {username: pg_app}\n  my:\n    image: mysql:8.4\n    environment: {MYSQL_USER: admin, MYSQL_PASSWORD: x3cret-from-env, MYSQL_ROOT_PASSWORD: r00t-from-env}\n  maria:\n    image: mariadb:11.4\n    x-provision: {username: rdsadmin}\n";
    let project = Project::with_manifest(manifest);
    assert_eq!(project.cmd(&["doctor", "--local"]).output().code, Some(0));
    let out = project.cmd(&["doctor", "--cloud"]).output();
    assert_eq!(out.code, Some(65), "{}", out.snapshot());
    insta::assert_snapshot!("bad_reserved_master_user", out.snapshot());
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    let plan = project.cmd(&["plan", "--cloud"]).output();
    assert_eq!(plan.code, Some(65), "{}", plan.snapshot());
    assert!(
        plan.stderr.contains("compose.yaml:6:7")
            && plan
                .stderr
                .contains("RDS refuses `admin` as the master user name"),
        "{}",
        plan.stderr
    );
}

/// Each identifier rule gets a hint that fits it; RDS's `DBName` is 64 characters on MySQL and
/// MariaDB, 63 on PostgreSQL (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
#[test]
fn identifier_hints_fit_their_rule_and_mysql_database_names_take_64() {
    let project = Project::with_manifest("name: shop\nservices:\n  db_: {image: 'postgres:16'}\n");
    let out = project.cmd(&["plan", "--cloud"]).output();
    assert_eq!(out.code, Some(65), "{}", out.snapshot());
    assert!(
        out.stderr.contains("ends with `-`")
            && out.stderr.contains("so that it ends in a letter or digit")
            && !out.stderr.contains("shorten"),
        "{}",
        out.stderr
    );
    let project = Project::with_manifest("name: shop\nservices:\n  a__b: {image: 'postgres:16'}\n");
    let out = project.cmd(&["plan", "--cloud"]).output();
    assert!(
        out.stderr.contains("contains `--`")
            && out.stderr.contains("no two such characters stand together")
            && !out.stderr.contains("shorten"),
        "{}",
        out.stderr
    );
    let name64 = format!("d{}", "b".repeat(63));
    let project = Project::with_manifest(&format!(
        "name: shop\nservices:\n  my: {{image: 'mysql:8.4', x-provision: {{database: {name64}}}}}\n  pg: {{image: 'postgres:16', x-provision: {{database: {name64}}}}}\n"
    ));
    let out = project.cmd(&["doctor", "--cloud"]).output();
    assert_eq!(out.code, Some(65), "{}", out.snapshot());
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("expected"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.snapshot());
    assert!(
        errors[0].contains("services.pg.x-provision.database")
            && errors[0].contains("at most 63 characters (RDS `DBName` for postgres"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stdout.contains("Database my maps to RDS instance"),
        "{}",
        out.snapshot()
    );
}
