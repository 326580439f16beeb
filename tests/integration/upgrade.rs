//! `provision upgrade`: a local Postgres 15 database moved to the `postgres:18` stand-in
//! (18's layout: the volume at /var/lib/postgresql, PGDATA 18/docker, a mount at the old
//! .../data refused by its entrypoint, as docker-library/postgres pull 1259 has it; the
//! server is 15's, see tests/images/postgres18/Dockerfile). Real Docker engine, real
//! servers, checked with the host's psql and pg_dump.

use crate::support::{Live, client, free_port};
use std::collections::BTreeMap;

fn manifest(image: &str, port: u16) -> String {
    format!(
        "services:\n  app:\n    build: .\n    links: [store]\n  store:\n    image: '{image}'\n    x-provision: {{local: {{port: {port}}}}}\n"
    )
}

fn psql(v: &BTreeMap<String, String>, sql: &str) -> String {
    let out = client(
        "psql",
        &[&v["STORE_URL"], "-X", "-v", "ON_ERROR_STOP=1", "-tAc", sql],
    );
    assert_eq!(out.code, Some(0), "{sql}: {}", out.snapshot());
    out.stdout.trim().to_owned()
}

/// Several tables in two schemas, one empty, with a view, a sequence and an index.
fn fill(v: &BTreeMap<String, String>) {
    psql(
        v,
        "CREATE TABLE items (id int PRIMARY KEY, v text); CREATE INDEX ON items (v); \
         INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g; \
         CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL); \
         INSERT INTO users (name) VALUES ('ann'), ('bo'), ('it''s'); \
         CREATE TABLE empty (x int); \
         CREATE SCHEMA billing; CREATE TABLE billing.invoices (n bigint, total numeric(10,2)); \
         INSERT INTO billing.invoices SELECT g, g * 1.5 FROM generate_series(1, 1234) g; \
         CREATE VIEW few AS SELECT * FROM items WHERE id < 10",
    );
}

/// Rows per table, by exact counts on the host's client.
fn counts(v: &BTreeMap<String, String>) -> Vec<(String, String)> {
    ["items", "users", "empty", "billing.invoices"]
        .iter()
        .map(|t| {
            (
                (*t).to_owned(),
                psql(v, &format!("SELECT count(*) FROM {t}")),
            )
        })
        .collect()
}

/// A plain `pg_dump` of schema and data, comments dropped: equal databases print alike.
fn contents(v: &BTreeMap<String, String>) -> String {
    let out = client(
        "pg_dump",
        &["--no-owner", "--no-privileges", &v["STORE_URL"]],
    );
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    out.stdout
        .lines()
        .filter(|l| {
            !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn docker(args: &[&str]) -> crate::support::Output {
    client("docker", args)
}

fn volume_exists(name: &str) -> bool {
    docker(&["volume", "inspect", name]).code == Some(0)
}

/// Removes what `down --volumes` does not: the volume an upgrade keeps or left.
struct Volumes(Vec<String>);

impl Drop for Volumes {
    fn drop(&mut self) {
        for v in &self.0 {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
    }
}

/// A Postgres 15 database with rows, its manifest then moved to `postgres:18`.
fn at_15_then_18() -> (Live, u16, BTreeMap<String, String>, Volumes) {
    let port = free_port();
    let live = Live::new("upg", "docker", &manifest("postgres:15", port));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill(&v);
    live.project
        .write("compose.yaml", manifest("postgres:18", port).as_bytes());
    let guard = Volumes(vec![
        format!("{}-store-data", live.name),
        format!("{}-store-data-v18", live.name),
    ]);
    (live, port, v, guard)
}

fn record(live: &Live) -> Option<String> {
    std::fs::read_to_string(live.home.join(&live.name).join("store/upgrade.json")).ok()
}

#[test]
fn postgres_15_to_18_keeps_every_row_and_the_old_volume_until_cleanup() {
    let (live, port, v, _guard) = at_15_then_18();
    let before = counts(&v);
    let dump_before = contents(&v);
    assert_eq!(psql(&v, "SHOW data_directory"), "/var/lib/postgresql/data");
    let old_volume = format!("{}-store-data", live.name);
    let new_volume = format!("{}-store-data-v18", live.name);

    // Plain `up` refuses the 15 data under the 18 image, and says what to run.
    let out = live.cmd(&["up"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr.contains("provision upgrade store"),
        "the hint names the command: {}",
        out.stderr
    );
    // Nothing to clean up before an upgrade.
    let out = live.cmd(&["upgrade", "store", "--cleanup"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(volume_exists(&old_volume));

    let out = live.ok(&["upgrade", "store"]);
    assert!(
        out.stderr.contains("upgraded to PostgreSQL 18"),
        "{}",
        out.stderr
    );
    let after = live.vars(&["--service", "app"]);
    assert_eq!(after["STORE_PORT"], port.to_string(), "same port");
    assert_eq!(
        after["STORE_PASSWORD"], v["STORE_PASSWORD"],
        "same password"
    );
    assert_eq!(counts(&after), before, "every row of every table");
    assert_eq!(contents(&after), dump_before, "the same schema and data");
    // The new server runs 18's layout on the new volume.
    assert_eq!(
        psql(&after, "SHOW data_directory"),
        "/var/lib/postgresql/18/docker"
    );
    let mounts = docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}",
        &format!("{}-store", live.name),
    ]);
    assert!(
        mounts
            .stdout
            .contains(&format!("{new_volume}=/var/lib/postgresql ")),
        "{}",
        mounts.stdout
    );
    assert!(volume_exists(&old_volume), "the old data is kept");
    assert!(record(&live).unwrap().contains("\"switched\""));

    // `up` now runs on the new data, with nothing to change.
    let out = live.ok(&["up"]);
    assert!(out.stderr.contains("is running"), "{}", out.stderr);
    // A second upgrade has nothing to do.
    let out = live.ok(&["upgrade", "store"]);
    assert!(out.stderr.contains("nothing to upgrade"), "{}", out.stderr);

    // Back to 15: refused, by `up` and by `upgrade`; nothing changes.
    live.project
        .write("compose.yaml", manifest("postgres:15", port).as_bytes());
    let out = live.cmd(&["upgrade", "store"]).output();
    assert_eq!(out.code, Some(2), "a downgrade: {}", out.snapshot());
    assert!(out.stderr.contains("older major"), "{}", out.stderr);
    let out = live.cmd(&["up"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(out.stderr.contains("does not downgrade"), "{}", out.stderr);
    live.project
        .write("compose.yaml", manifest("postgres:18", port).as_bytes());
    live.ok(&["up"]);

    let out = live.ok(&["upgrade", "store", "--cleanup"]);
    assert!(out.stderr.contains("deleted volume"), "{}", out.stderr);
    assert!(!volume_exists(&old_volume), "cleanup deletes the old data");
    let after = live.vars(&["--service", "app"]);
    assert_eq!(counts(&after), before, "and keeps the new");
    live.ok(&["upgrade", "store", "--cleanup"]);
}

/// A lost home directory after `--cleanup` must not turn into an empty database: the only
/// pointer to the data's volume was `upgrade.json`. The volumes' labels are enough to find
/// it again (`dev.provision.upgrade-of`), and provision writes the record back.
#[test]
fn a_lost_upgrade_record_is_found_again_from_the_volumes() {
    let (live, port, v, _guard) = at_15_then_18();
    let before = counts(&v);
    live.ok(&["upgrade", "store"]);
    live.ok(&["upgrade", "store", "--cleanup"]);
    let old_volume = format!("{}-store-data", live.name);
    let new_volume = format!("{}-store-data-v18", live.name);
    assert!(!volume_exists(&old_volume));
    live.ok(&["down"]);
    std::fs::remove_dir_all(live.home.join(&live.name)).unwrap();

    let out = live.cmd(&["up"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr.contains(&format!(
            "moved by `provision upgrade` to volume `{new_volume}`"
        )) && out.stderr.contains("run the command again"),
        "{}",
        out.stderr
    );
    assert!(
        !volume_exists(&old_volume),
        "no empty volume under the old name"
    );
    assert!(record(&live).unwrap().contains(&new_volume));

    live.ok(&["up"]);
    let after = live.vars(&["--service", "app"]);
    assert_eq!(after["STORE_PORT"], port.to_string(), "same port");
    assert_eq!(
        after["STORE_PASSWORD"], v["STORE_PASSWORD"],
        "same password"
    );
    assert_eq!(counts(&after), before, "every row is there");
}

/// `down --volumes` deletes the database's data, all of it: the kept pre-upgrade volume too,
/// and the record, so that the next `up` starts an empty database of the manifest's major.
#[test]
fn down_volumes_after_an_upgrade_deletes_the_kept_old_data_too() {
    let (live, _port, _v, _guard) = at_15_then_18();
    live.ok(&["upgrade", "store"]);
    let old_volume = format!("{}-store-data", live.name);
    let new_volume = format!("{}-store-data-v18", live.name);
    assert!(volume_exists(&old_volume) && volume_exists(&new_volume));
    let out = live.ok(&["down", "--volumes", "--yes"]);
    assert!(
        out.stderr.contains(&format!(
            "deleted volume {old_volume} (kept by `provision upgrade`)"
        )),
        "{}",
        out.stderr
    );
    assert!(!volume_exists(&old_volume) && !volume_exists(&new_volume));
    assert_eq!(record(&live), None, "no record of data that is gone");
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    assert_eq!(
        psql(
            &v,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        "0"
    );
}

/// SIGKILL (`abort`) at each step, then a re-run: it converges on the upgraded database with
/// every row, and the old volume is still there.
#[test]
fn an_upgrade_killed_at_each_step_converges_on_the_rerun() {
    for step in [
        "upgrade-stopped",
        "upgrade-restored",
        "upgrade-verified",
        "upgrade-switched",
    ] {
        let (live, _port, v, _guard) = at_15_then_18();
        let before = counts(&v);
        let out = live
            .cmd(&["upgrade", "store"])
            .env("PROVISION_TEST_CRASH_AT", step)
            .output();
        assert_eq!(out.code, None, "{step}: aborted: {}", out.snapshot());
        assert!(
            volume_exists(&format!("{}-store-data", live.name)),
            "{step}: the old data is there"
        );
        let out = live.ok(&["upgrade", "store"]);
        let after = live.vars(&["--service", "app"]);
        assert_eq!(counts(&after), before, "{step}: converged: {}", out.stderr);
        assert_eq!(
            psql(&after, "SHOW data_directory"),
            "/var/lib/postgresql/18/docker",
            "{step}"
        );
        assert!(record(&live).unwrap().contains("\"switched\""), "{step}");
        assert!(
            volume_exists(&format!("{}-store-data", live.name)),
            "{step}"
        );
    }
}

/// A restore that fails (fed half the dump, which pg_restore rejects) leaves the old
/// database serving, the partial new data removed; the next run succeeds.
#[test]
fn a_failed_restore_leaves_the_old_database_serving() {
    let (live, port, v, _guard) = at_15_then_18();
    let before = counts(&v);
    let out = live
        .cmd(&["upgrade", "store"])
        .env("PROVISION_TEST_FAIL_AT", "upgrade-restore")
        .output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("failed to restore the dump into the new server"),
        "names the step: {}",
        out.stderr
    );
    assert!(out.stderr.contains("serves again"), "{}", out.stderr);
    // The old server answers on the app's port, with its rows, in the old layout.
    let old = live.vars(&["--service", "app"]);
    assert_eq!(old["STORE_PORT"], port.to_string());
    assert_eq!(counts(&old), before);
    assert_eq!(
        psql(&old, "SHOW data_directory"),
        "/var/lib/postgresql/data"
    );
    assert!(!volume_exists(&format!("{}-store-data-v18", live.name)));
    assert_eq!(record(&live), None);
    live.ok(&["upgrade", "store"]);
    let after = live.vars(&["--service", "app"]);
    assert_eq!(counts(&after), before);
}

fn mariadb(v: &BTreeMap<String, String>, sql: &str) -> String {
    let out = client(
        "mariadb",
        &[
            "-h",
            &v["STORE_HOST"],
            "-P",
            &v["STORE_PORT"],
            "-u",
            &v["STORE_USERNAME"],
            &format!("-p{}", v["STORE_PASSWORD"]),
            &v["STORE_PATH"][1..],
            "-N",
            "-B",
            "-e",
            sql,
        ],
    );
    assert_eq!(out.code, Some(0), "{sql}: {}", out.snapshot());
    out.stdout.trim().to_owned()
}

/// MariaDB 10.11 -> the `mariadb:11.4` stand-in (10.11's server under a newer major's tag:
/// Debian bookworm packages one MariaDB, so this proves provision's mechanics and the counts
/// query on a real server, not 11.4's reading of the dump). Every row of every table.
#[test]
fn mariadb_10_11_to_11_4_keeps_every_row() {
    let port = free_port();
    let live = Live::new("upgm", "docker", &manifest("mariadb:10.11", port));
    let _guard = Volumes(vec![
        format!("{}-store-data", live.name),
        format!("{}-store-data-v11-4", live.name),
    ]);
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    mariadb(
        &v,
        "CREATE TABLE items (id int PRIMARY KEY, v text); \
         INSERT INTO items SELECT seq, MD5(seq) FROM seq_1_to_3000; \
         CREATE TABLE `odd name` (x int); INSERT INTO `odd name` VALUES (1), (2); \
         CREATE TABLE empty (x int)",
    );
    let snapshot = |v: &BTreeMap<String, String>| {
        mariadb(
            v,
            "SELECT COUNT(*), SUM(CRC32(v)) FROM items; SELECT COUNT(*) FROM `odd name`; SELECT COUNT(*) FROM empty",
        )
    };
    let before = snapshot(&v);
    live.project
        .write("compose.yaml", manifest("mariadb:11.4", port).as_bytes());
    let out = live.ok(&["up", "--upgrade"]);
    assert!(
        out.stderr.contains("3 tables and 3002 rows"),
        "{}",
        out.stderr
    );
    let after = live.vars(&["--service", "app"]);
    assert_eq!(after["STORE_PORT"], port.to_string());
    assert_eq!(after["STORE_PASSWORD"], v["STORE_PASSWORD"]);
    assert_eq!(snapshot(&after), before);
    assert!(volume_exists(&format!("{}-store-data", live.name)));
    live.ok(&["upgrade", "store", "--cleanup"]);
    assert!(!volume_exists(&format!("{}-store-data", live.name)));
    assert_eq!(snapshot(&after), before);
}

/// Redis 6 (the `redis:6` stand-in: 7.0's server labelled 6.2) -> 7: the RDB dumped by the old
/// server is the new data's AOF base, loaded before the new server starts (Redis loads RDB
/// files of older versions: "Redis dump file is 100% backwards compatible", redis-rdb-tools'
/// RDB_Version_History; never newer ones: "Can't handle RDB format version"). Keys per
/// database counted by both servers (`INFO keyspace`).
#[test]
fn redis_6_to_7_keeps_every_key() {
    let port = free_port();
    let live = Live::new("upgr", "docker", &manifest("redis:6", port));
    let _guard = Volumes(vec![
        format!("{}-store-data", live.name),
        format!("{}-store-data-v7", live.name),
    ]);
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    let cli = |v: &BTreeMap<String, String>, args: &[&str]| {
        let mut all = vec![
            "-h",
            v["STORE_HOST"].as_str(),
            "-p",
            v["STORE_PORT"].as_str(),
            "-a",
            v["STORE_PASSWORD"].as_str(),
            "--no-auth-warning",
        ];
        all.extend_from_slice(args);
        let out = client("redis-cli", &all);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.snapshot());
        out.stdout.trim().to_owned()
    };
    for i in 0..40 {
        cli(&v, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    cli(&v, &["-n", "3", "RPUSH", "list", "a", "b", "c"]);
    live.project
        .write("compose.yaml", manifest("redis:7", port).as_bytes());
    let out = live.ok(&["upgrade", "store"]);
    assert!(
        out.stderr.contains("2 databases and 41 keys"),
        "{}",
        out.stderr
    );
    let after = live.vars(&["--service", "app"]);
    assert_eq!(after["STORE_PORT"], port.to_string());
    assert_eq!(cli(&after, &["DBSIZE"]), "40");
    assert_eq!(cli(&after, &["GET", "k39"]), "v39");
    assert_eq!(
        cli(&after, &["-n", "3", "LRANGE", "list", "0", "-1"]),
        "a\nb\nc"
    );
    assert!(volume_exists(&format!("{}-store-data", live.name)));
    live.ok(&["upgrade", "store", "--cleanup"]);
    assert!(!volume_exists(&format!("{}-store-data", live.name)));
}

/// Natively there is one installed version of each server: refused, with the steps by hand.
#[test]
fn a_native_upgrade_is_refused_with_the_steps() {
    let live = Live::new("upgn", "native", &manifest("postgres:15", free_port()));
    live.ok(&["up"]);
    let out = live.cmd(&["upgrade", "store"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("native servers run the one version installed")
            && out.stderr.contains("provision dump store"),
        "{}",
        out.stderr
    );
}
