//! The SQL `up --cloud` runs for IAM database authentication, run by provision's own code
//! (`probe::run_sql`, what `up` calls) against real servers: native PostgreSQL and MariaDB,
//! since no RDS runs here. What a real server can prove: the statements parse, run twice
//! without harm, and give the user what the link needs. What it cannot: RDS's own pieces.
//! PostgreSQL: RDS has a built-in `rds_iam` role
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html);
//! the test creates one in its place. MariaDB: `AWSAuthenticationPlugin` exists only on RDS,
//! and a server without it answers `ERROR 1524 ... Plugin 'AWSAuthenticationPlugin' is not
//! loaded` (the same page): that answer, rather than a syntax error (1064), shows the
//! statement is one the server accepts.

use crate::support::Live;
use provision::catalog::Probe;
use provision::cloud::iam_auth::{Dialect, user_statements};
use provision::links::Endpoint;
use provision::secret::Secret;

fn endpoint(v: &std::collections::BTreeMap<String, String>, prefix: &str) -> Endpoint {
    Endpoint {
        host: v[&format!("{prefix}_HOST")].clone(),
        port: v[&format!("{prefix}_PORT")].parse().unwrap(),
        tls: false,
        ca_file: None,
        username: Some(v[&format!("{prefix}_USERNAME")].clone()),
        password: Some(Secret::new(v[&format!("{prefix}_PASSWORD")].clone())),
        database: Some(
            v[&format!("{prefix}_PATH")]
                .trim_start_matches('/')
                .to_owned(),
        ),
    }
}

fn run(kind: Probe, e: &Endpoint, sql: &[String]) -> Result<(), String> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(provision::probe::run_sql(
            kind,
            e,
            sql,
            std::time::Duration::from_secs(20),
        ))
        .map_err(|e| e.0)
}

#[test]
fn the_postgres_statements_make_an_rds_iam_user_and_run_again_without_harm() {
    let live = Live::new(
        "iamsql",
        "native",
        "services:\n  pg: {image: 'postgres:15', x-provision: {database: shop}}\n",
    );
    live.ok(&["up"]);
    let v = live.vars(&[]);
    let master = endpoint(&v, "PG");
    // RDS's built-in role, made here in its place.
    run(
        Probe::Postgres,
        &master,
        &["CREATE ROLE rds_iam".to_owned()],
    )
    .unwrap();
    let sql = user_statements(Dialect::Postgres, "app_iam", Some("shop"));
    run(Probe::Postgres, &master, &sql).unwrap();
    run(Probe::Postgres, &master, &sql).expect("a second run changes nothing and fails on nothing");
    let check = live.ok(&[
        "connect",
        "pg",
        "--",
        "-XAtc",
        "SELECT pg_has_role('app_iam', 'rds_iam', 'MEMBER'), has_database_privilege('app_iam', 'shop', 'CREATE'), has_schema_privilege('app_iam', 'public', 'CREATE'), (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_iam')",
    ]);
    assert_eq!(check.stdout.trim(), "t|t|t|t", "{}", check.stderr);
}

#[test]
fn the_mysql_statements_parse_and_mariadb_without_the_aws_plugin_says_so() {
    let live = Live::new(
        "iamsqlmy",
        "native",
        // Root-only, as RDS's master user can create users (the link's user locally is root).
        "services:\n  my:\n    image: 'mariadb:10.11'\n    environment: {MARIADB_ROOT_PASSWORD: iam-sql-root, MARIADB_DATABASE: shop}\n",
    );
    live.ok(&["up"]);
    let v = live.vars(&[]);
    let master = endpoint(&v, "MY");
    let sql = user_statements(Dialect::Mysql, "app_iam", Some("shop"));
    let err = run(Probe::Mysql, &master, &sql).unwrap_err();
    assert!(
        err.contains("1524") && err.contains("AWSAuthenticationPlugin"),
        "{err}"
    );
    // The other two statements, on a user that exists, run as written.
    run(
        Probe::Mysql,
        &master,
        &["CREATE USER IF NOT EXISTS 'app_iam'@'%'".to_owned()],
    )
    .unwrap();
    run(Probe::Mysql, &master, &sql[1..]).unwrap();
    let grants = live.ok(&[
        "connect",
        "my",
        "--",
        "-N",
        "-e",
        "SHOW GRANTS FOR 'app_iam'@'%'",
    ]);
    assert!(
        grants.stdout.contains("REQUIRE SSL")
            && grants.stdout.contains("ALL PRIVILEGES ON `shop`.*"),
        "{}",
        grants.stdout
    );
}
