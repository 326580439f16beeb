//! Seeding on the first `up` and local snapshots, against real servers on Docker
//! (`needs_docker`) and native servers (`needs_native`), checked with real clients.
//!
//! The `.sh` contract is the official images' (https://hub.docker.com/_/postgres and
//! https://hub.docker.com/_/mariadb, "Initialization scripts": an executable `.sh` is run, any
//! other sourced, with the image's user/password/database variables; docker-library's
//! docker-entrypoint.sh `docker_process_init_files`, which also defines `docker_process_sql`).
//! The stand-in images' entrypoints (tests/images/*/docker-entrypoint.sh) run their own
//! `/docker-entrypoint-initdb.d` by that contract, so "not applied twice" is checked against a
//! real first-start init, not assumed.

use crate::data::{contents, damage, fill, manifest, query};
use crate::support::{Live, free_port};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;

fn write_exec(live: &Live, name: &str, text: &str) {
    live.project.write(name, text.as_bytes());
    let path = live.project.dir.join(name);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn count(engine: &str, v: &BTreeMap<String, String>, table: &str) -> String {
    match engine {
        "redis" => query(engine, v, &format!("EXISTS {table}")),
        _ => query(engine, v, &format!("SELECT count(*) FROM {table}")),
    }
}

/// The seed is applied by the first `up` (a `.sql`/`.redis` file, a sourced `.sh` calling
/// `docker_process_sql` or the server's client, an executable `.sh` reading the image's
/// variables), not again by the next `up`, nor after `down`; `down --volumes` makes new data,
/// seeded again.
fn seed_once(runtime: &'static str, engine: &str, image: &str) {
    let live = Live::new(
        "seed1",
        runtime,
        &manifest(image, free_port(), ", seed: seed"),
    );
    std::fs::create_dir(live.project.dir.join("seed")).unwrap();
    match engine {
        "redis" => {
            live.project.write("seed/01.redis", b"SET seeded yes\n");
            live.project.write(
                "seed/02.sh",
                b"redis-cli -h \"$REDIS_HOST\" -p \"$REDIS_PORT\" --no-auth-warning SET sourced yes\n",
            );
            write_exec(
                &live,
                "seed/03.sh",
                "#!/bin/sh\nset -e\nredis-cli -h \"$REDIS_HOST\" -p \"$REDIS_PORT\" --no-auth-warning SET executed yes\n",
            );
        }
        _ => {
            live.project.write(
                "seed/01.sql",
                b"CREATE TABLE seeded (v text);\nINSERT INTO seeded VALUES ('yes');\n",
            );
            // Sourced: the entrypoint's function, as the official images define it.
            live.project.write(
                "seed/02.sh",
                b"docker_process_sql <<'EOSQL'\nCREATE TABLE sourced (v text);\nINSERT INTO sourced VALUES ('yes');\nEOSQL\n",
            );
            let client = if engine == "postgres" {
                "psql -v ON_ERROR_STOP=1 --username \"$POSTGRES_USER\" --dbname \"$POSTGRES_DB\""
            } else {
                "mariadb --user=\"$MARIADB_USER\" --password=\"$MARIADB_PASSWORD\" \"$MARIADB_DATABASE\""
            };
            write_exec(
                &live,
                "seed/03.sh",
                &format!(
                    "#!/bin/bash\nset -e\n{client} <<'EOSQL'\nCREATE TABLE executed (v text);\nINSERT INTO executed VALUES ('yes');\nEOSQL\n"
                ),
            );
        }
    }
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    for table in ["seeded", "sourced", "executed"] {
        assert_eq!(count(engine, &v, table), "1", "{table} was seeded by `up`");
    }
    // Changed after the seed: a second `up`, and one after `down`, leave it alone.
    let clear = |v: &BTreeMap<String, String>| match engine {
        "redis" => {
            query(engine, v, "DEL seeded");
        }
        _ => {
            query(engine, v, "DELETE FROM seeded");
        }
    };
    clear(&v);
    live.ok(&["up"]);
    assert_eq!(
        count(engine, &v, "seeded"),
        "0",
        "not seeded again by the next up"
    );
    live.ok(&["down"]);
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    assert_eq!(
        count(engine, &v, "seeded"),
        "0",
        "nor after down (data kept)"
    );
    // New data: seeded again.
    live.ok(&["down", "--volumes", "--yes"]);
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    assert_eq!(count(engine, &v, "seeded"), "1", "new data is seeded");
}

/// A failing seed file stops `up` with the file and the engine's line; the database is left
/// empty; the next `up`, with the file fixed, seeds from clean.
fn failing_seed_retried(runtime: &'static str, engine: &str, image: &str) {
    let live = Live::new(
        "seed2",
        runtime,
        &manifest(image, free_port(), ", seed: seed"),
    );
    std::fs::create_dir(live.project.dir.join("seed")).unwrap();
    let good = "CREATE TABLE seeded (v text);\nINSERT INTO seeded VALUES ('yes');\n";
    live.project.write("seed/01.sql", good.as_bytes());
    live.project.write(
        "seed/02.sql",
        b"CREATE TABLE half (v text);\nINSERT INTO nowhere VALUES (1);\n",
    );
    let out = live.cmd(&["up"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr.contains("02.sql"),
        "names the file: {}",
        out.stderr
    );
    match engine {
        "postgres" => assert!(out.stderr.contains("02.sql:2: ERROR"), "{}", out.stderr),
        _ => assert!(out.stderr.contains("at line 2"), "{}", out.stderr),
    }
    let v = live.vars(&["--service", "app"]);
    match engine {
        "postgres" => assert_eq!(
            query(
                engine,
                &v,
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ),
            "0",
            "emptied, not half-seeded"
        ),
        _ => assert_eq!(query(engine, &v, "SHOW TABLES"), "", "emptied"),
    }
    live.project.write(
        "seed/02.sql",
        b"CREATE TABLE half (v text);\nINSERT INTO half VALUES ('1');\n",
    );
    live.ok(&["up"]);
    assert_eq!(
        count(engine, &v, "seeded"),
        "1",
        "the retry seeds from clean"
    );
    assert_eq!(count(engine, &v, "half"), "1");
}

/// Redis: an `.rdb` seed file is loaded (stop, place, start) by the first `up`.
fn redis_rdb_seed(runtime: &'static str) {
    let source = Live::new("rdbsrc", runtime, &manifest("redis:7", free_port(), ""));
    source.ok(&["up"]);
    let v = source.vars(&["--service", "app"]);
    fill("redis", &v);
    let wanted = contents("redis", &v);
    let live = Live::new(
        "rdbseed",
        runtime,
        &manifest("redis:7", free_port(), ", seed: seed"),
    );
    std::fs::create_dir(live.project.dir.join("seed")).unwrap();
    let file = live.project.dir.join("seed/01.rdb");
    source.ok(&["dump", "store", "-o", file.to_str().unwrap()]);
    live.project.write("seed/02.redis", b"SET after-rdb yes\n");
    live.ok(&["up"]);
    let w = live.vars(&["--service", "app"]);
    assert_eq!(query("redis", &w, "GET after-rdb"), "yes");
    query("redis", &w, "DEL after-rdb");
    assert_eq!(contents("redis", &w), wanted, "the RDB's keys");
}

/// A snapshot restored after a destructive change brings the data back; `list` shows it with
/// its engine and major; `rm` removes it.
fn snapshot_round_trip(runtime: &'static str, engine: &str, image: &str) {
    let live = Live::new("snap", runtime, &manifest(image, free_port(), ""));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill(engine, &v);
    let before = contents(engine, &v);
    live.ok(&["snapshot", "save", "store", "before"]);
    let out = live.cmd(&["snapshot", "save", "store", "before"]).output();
    assert_eq!(out.code, Some(2), "a taken name: {}", out.snapshot());
    let out = live.cmd(&["snapshot", "save", "store", "../x"]).output();
    assert_eq!(out.code, Some(2), "a bad name: {}", out.snapshot());
    let v = live.vars(&["--service", "app"]);
    assert_eq!(
        contents(engine, &v),
        before,
        "the server is back after save"
    );
    damage(engine, &v);
    assert_ne!(contents(engine, &v), before);
    let out = live.ok(&["snapshot", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "before", "{}", out.stdout);
    assert_eq!(list[0]["engine"], engine);
    assert_eq!(list[0]["runtime"], runtime);
    assert!(list[0]["major"].as_str().is_some_and(|m| !m.is_empty()));
    live.ok(&["snapshot", "restore", "store", "before"]);
    let v = live.vars(&["--service", "app"]);
    assert_eq!(contents(engine, &v), before, "the snapshot's data is back");
    let out = live.cmd(&["snapshot", "restore", "store", "nope"]).output();
    assert_eq!(out.code, Some(2), "{}", out.snapshot());
    assert!(
        out.stderr.contains("before"),
        "names the known ones: {}",
        out.stderr
    );
    live.ok(&["snapshot", "rm", "store", "before"]);
    let out = live.ok(&["snapshot", "list", "--json"]);
    assert_eq!(out.stdout.trim(), "[]");
}

/// A snapshot restore cut (SIGKILL-like abort) at each step: `up` then serves the data from
/// before it, whole; the re-run converges on the snapshot; nothing is lost.
fn snapshot_cut_points(runtime: &'static str) {
    let live = Live::new(
        "snapcut",
        runtime,
        &manifest("postgres:15", free_port(), ""),
    );
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill("postgres", &v);
    let wanted = contents("postgres", &v);
    live.ok(&["snapshot", "save", "store", "s"]);
    for step in [
        "snapshot-restore-stopped",
        "snapshot-restore-copied",
        "snapshot-restore-swapped",
        "snapshot-restore-started",
    ] {
        let v = live.vars(&["--service", "app"]);
        query("postgres", &v, "DROP TABLE IF EXISTS marker");
        query(
            "postgres",
            &v,
            &format!("CREATE TABLE marker (step text); INSERT INTO marker VALUES ('{step}')"),
        );
        let old = contents("postgres", &v);
        let out = live
            .cmd(&["snapshot", "restore", "store", "s"])
            .env("PROVISION_TEST_CRASH_AT", step)
            .output();
        assert_eq!(
            out.code,
            None,
            "{step}: provision aborted itself: {}",
            out.snapshot()
        );
        // After the cut `up` converges to the data from before the restore, whole.
        live.ok(&["up"]);
        let v = live.vars(&["--service", "app"]);
        assert_eq!(contents("postgres", &v), old, "{step}: the old data, whole");
        if runtime == "native" {
            let data = live.home.join(&live.name).join("store/data");
            let left: Vec<_> = std::fs::read_dir(&data)
                .unwrap()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".provision-swap")
                })
                .map(|e| e.file_name())
                .collect();
            assert!(left.is_empty(), "{step}: swap leftovers {left:?}");
        }
        live.ok(&["snapshot", "restore", "store", "s"]);
        let v = live.vars(&["--service", "app"]);
        assert_eq!(
            contents("postgres", &v),
            wanted,
            "{step}: the re-run converges"
        );
    }
    live.ok(&["snapshot", "rm", "store", "s"]);
}

mod needs_docker {
    #[test]
    fn postgres_seed_applied_once() {
        super::seed_once("docker", "postgres", "postgres:15");
    }
    #[test]
    fn mariadb_seed_applied_once() {
        super::seed_once("docker", "mariadb", "mariadb:10.11");
    }
    #[test]
    fn redis_seed_applied_once() {
        super::seed_once("docker", "redis", "redis:7");
    }
    #[test]
    fn postgres_failing_seed_is_retried_clean() {
        super::failing_seed_retried("docker", "postgres", "postgres:15");
    }
    #[test]
    fn mariadb_failing_seed_is_retried_clean() {
        super::failing_seed_retried("docker", "mariadb", "mariadb:10.11");
    }
    #[test]
    fn redis_rdb_seed() {
        super::redis_rdb_seed("docker");
    }
    #[test]
    fn postgres_snapshot_round_trip() {
        super::snapshot_round_trip("docker", "postgres", "postgres:15");
    }
    #[test]
    fn mariadb_snapshot_round_trip() {
        super::snapshot_round_trip("docker", "mariadb", "mariadb:10.11");
    }
    #[test]
    fn redis_snapshot_round_trip() {
        super::snapshot_round_trip("docker", "redis", "redis:7");
    }
    #[test]
    fn snapshot_restore_cut_at_each_step_converges() {
        super::snapshot_cut_points("docker");
    }

    /// A file mounted into the image's /docker-entrypoint-initdb.d and named by the seed too
    /// is run once, by the image's entrypoint (the stand-in runs it as the official one does).
    #[test]
    fn init_dir_mounts_are_not_applied_twice() {
        let live = crate::support::Live::new(
            "initd",
            "docker",
            &format!(
                "services:\n  app:\n    build: .\n    links: [store]\n  store:\n    image: 'postgres:15'\n    volumes: ['./init:/docker-entrypoint-initdb.d:ro']\n    x-provision: {{local: {{port: {}}}, seed: init}}\n",
                crate::support::free_port()
            ),
        );
        std::fs::create_dir(live.project.dir.join("init")).unwrap();
        // Not idempotent: a second run fails (the table exists).
        live.project.write(
            "init/01.sql",
            b"CREATE TABLE once (v text);\nINSERT INTO once VALUES ('1');\n",
        );
        live.ok(&["up"]);
        let v = live.vars(&["--service", "app"]);
        assert_eq!(super::count("postgres", &v, "once"), "1");
    }

    /// Across a major version the snapshot is refused and the data left as it is.
    #[test]
    fn snapshot_across_a_major_is_refused() {
        let port = crate::support::free_port();
        let live = crate::support::Live::new(
            "snapmajor",
            "docker",
            &super::manifest("postgres:15", port, ""),
        );
        live.ok(&["up"]);
        live.ok(&["snapshot", "save", "store", "pg15"]);
        live.ok(&["down", "--volumes", "--yes"]);
        live.project.write(
            "compose.yaml",
            super::manifest("postgres:18", port, "").as_bytes(),
        );
        live.ok(&["up"]);
        let v = live.vars(&["--service", "app"]);
        crate::data::query("postgres", &v, "CREATE TABLE mine (v int)");
        let out = live.cmd(&["snapshot", "restore", "store", "pg15"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(out.stderr.contains("major version"), "{}", out.stderr);
        assert_eq!(
            super::count("postgres", &v, "mine"),
            "0",
            "the data is unchanged"
        );
        live.ok(&["snapshot", "rm", "store", "pg15"]);
    }
}

mod needs_native {
    #[test]
    fn postgres_seed_applied_once() {
        super::seed_once("native", "postgres", "postgres:15");
    }
    #[test]
    fn mariadb_seed_applied_once() {
        super::seed_once("native", "mariadb", "mariadb:10.11");
    }
    #[test]
    fn redis_seed_applied_once() {
        super::seed_once("native", "redis", "redis:7");
    }
    #[test]
    fn postgres_failing_seed_is_retried_clean() {
        super::failing_seed_retried("native", "postgres", "postgres:15");
    }
    #[test]
    fn mariadb_failing_seed_is_retried_clean() {
        super::failing_seed_retried("native", "mariadb", "mariadb:10.11");
    }
    #[test]
    fn redis_rdb_seed() {
        super::redis_rdb_seed("native");
    }
    #[test]
    fn postgres_snapshot_round_trip() {
        super::snapshot_round_trip("native", "postgres", "postgres:15");
    }
    #[test]
    fn mariadb_snapshot_round_trip() {
        super::snapshot_round_trip("native", "mariadb", "mariadb:10.11");
    }
    #[test]
    fn redis_snapshot_round_trip() {
        super::snapshot_round_trip("native", "redis", "redis:7");
    }
    #[test]
    fn snapshot_restore_cut_at_each_step_converges() {
        super::snapshot_cut_points("native");
    }

    /// Natively only one Postgres major is installed here, so the snapshot's record is made to
    /// say 14 (what a snapshot from a 14 server records): refused, the data left as it is.
    #[test]
    fn snapshot_across_a_major_is_refused() {
        let live = crate::support::Live::new(
            "snapmajor",
            "native",
            &super::manifest("postgres:15", crate::support::free_port(), ""),
        );
        live.ok(&["up"]);
        live.ok(&["snapshot", "save", "store", "old"]);
        let record = live.home.join(&live.name).join(".snapshots/store/old.json");
        let text = std::fs::read_to_string(&record).unwrap();
        let mut meta: serde_json::Value = serde_json::from_str(&text).unwrap();
        meta["major"] = "14".into();
        std::fs::write(&record, meta.to_string()).unwrap();
        let v = live.vars(&["--service", "app"]);
        crate::data::query("postgres", &v, "CREATE TABLE mine (v int)");
        let out = live.cmd(&["snapshot", "restore", "store", "old"]).output();
        assert_eq!(out.code, Some(1), "{}", out.snapshot());
        assert!(out.stderr.contains("major version 14"), "{}", out.stderr);
        assert_eq!(
            super::count("postgres", &v, "mine"),
            "0",
            "the data is unchanged"
        );
    }
}
