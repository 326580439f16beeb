//! `dump`, `restore`, `reset` and `seed` against real servers, on Docker (`needs_docker`)
//! and native servers (`needs_native`), checked with real clients on the host.

use crate::support::{Live, client, free_port};
use std::collections::BTreeMap;

pub(crate) fn manifest(image: &str, port: u16, seed: &str) -> String {
    format!(
        "services:\n  app:\n    build: .\n    links: [store]\n  store:\n    image: '{image}'\n    x-provision: {{local: {{port: {port}}}{seed}}}\n"
    )
}

/// Runs SQL or Redis commands through a real client on the link variables.
pub(crate) fn query(engine: &str, v: &BTreeMap<String, String>, text: &str) -> String {
    let g = |k: &str| v[&format!("STORE_{k}")].clone();
    let out = match engine {
        "postgres" => client(
            "psql",
            &[&g("URL"), "-X", "-v", "ON_ERROR_STOP=1", "-tAc", text],
        ),
        "mariadb" => client(
            "mariadb",
            &[
                "-h",
                &g("HOST"),
                "-P",
                &g("PORT"),
                "-u",
                &g("USERNAME"),
                &format!("-p{}", g("PASSWORD")),
                &g("PATH")[1..],
                "-N",
                "-e",
                text,
            ],
        ),
        _ => {
            let mut args = vec![
                "-h".to_owned(),
                g("HOST"),
                "-p".to_owned(),
                g("PORT"),
                "-a".to_owned(),
                g("PASSWORD"),
                "--no-auth-warning".to_owned(),
            ];
            args.extend(text.split(' ').map(str::to_owned));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            client("redis-cli", &args)
        }
    };
    assert_eq!(out.code, Some(0), "{text}: {}", out.snapshot());
    out.stdout.trim().to_owned()
}

/// What the database holds, as text that two equal databases print alike: for Postgres a
/// plain `pg_dump` of the data and schema (comments and the session's settings dropped).
pub(crate) fn contents(engine: &str, v: &BTreeMap<String, String>) -> String {
    match engine {
        "postgres" => {
            let out = client(
                "pg_dump",
                &["--no-owner", "--no-privileges", &v["STORE_URL"]],
            );
            assert_eq!(out.code, Some(0), "{}", out.snapshot());
            out.stdout
                .lines()
                .filter(|l| {
                    !l.starts_with("--")
                        && !l.starts_with("\\restrict")
                        && !l.starts_with("\\unrestrict")
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        "mariadb" => query(
            engine,
            v,
            "SELECT id, v FROM items ORDER BY id; SELECT COUNT(*) FROM items",
        ),
        _ => {
            let mut keys: Vec<String> = (0..50)
                .map(|i| query(engine, v, &format!("GET key:{i}")))
                .collect();
            keys.push(query(engine, v, "DBSIZE"));
            keys.join(",")
        }
    }
}

pub(crate) fn fill(engine: &str, v: &BTreeMap<String, String>) {
    match engine {
        "postgres" => {
            query(
                engine,
                v,
                "CREATE TABLE items (id int PRIMARY KEY, v text, at timestamptz DEFAULT '2026-01-01'); CREATE INDEX ON items (v); INSERT INTO items (id, v) SELECT g, md5(g::text) FROM generate_series(1, 5000) g; CREATE VIEW few AS SELECT * FROM items WHERE id < 10",
            );
        }
        "mariadb" => {
            query(
                engine,
                v,
                "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'it''s')",
            );
        }
        _ => {
            for i in 0..50 {
                query(engine, v, &format!("SET key:{i} value-{i}"));
            }
        }
    }
}

pub(crate) fn damage(engine: &str, v: &BTreeMap<String, String>) {
    match engine {
        "postgres" | "mariadb" => {
            query(engine, v, "DROP VIEW IF EXISTS few");
            query(engine, v, "DELETE FROM items WHERE id > 1");
        }
        _ => {
            query(engine, v, "FLUSHALL");
            query(engine, v, "SET stray 1");
        }
    }
}

/// dump; damage; restore from the file: the same contents. Then a fresh project restored
/// from stdin holds the same contents too (Postgres: `pg_dump` of both compared).
fn dump_and_restore(runtime: &'static str, engine: &str, image: &str) {
    let live = Live::new(engine, runtime, &manifest(image, free_port(), ""));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill(engine, &v);
    let before = contents(engine, &v);
    let file = live.project.dir.join("store.dump");
    let out = live.ok(&["dump", "store", "-o", file.to_str().unwrap()]);
    assert!(out.stderr.contains("dumped"), "{}", out.snapshot());
    let bytes = std::fs::read(&file).unwrap();
    match engine {
        "postgres" => assert!(bytes.starts_with(b"PGDMP"), "pg_dump's custom format"),
        "redis" => assert!(bytes.starts_with(b"REDIS"), "an RDB file"),
        _ => assert!(String::from_utf8_lossy(&bytes).contains("INSERT INTO `items`")),
    }
    assert!(!live.project.dir.join(".store.dump.partial").exists());
    damage(engine, &v);
    assert_ne!(contents(engine, &v), before);
    live.ok(&["restore", "store", file.to_str().unwrap()]);
    let v = live.vars(&["--service", "app"]);
    assert_eq!(
        contents(engine, &v),
        before,
        "restore brings the dump's contents back"
    );

    // A fresh database, restored from stdin.
    let other = Live::new(engine, runtime, &manifest(image, free_port(), ""));
    other.ok(&["up"]);
    let out = other
        .cmd(&["restore", "store", "-"])
        .stdin_from(std::fs::File::open(&file).unwrap())
        .output();
    assert_eq!(out.code, Some(0), "restore from stdin: {}", out.snapshot());
    let w = other.vars(&["--service", "app"]);
    assert_eq!(
        contents(engine, &w),
        before,
        "a fresh database restored from the dump"
    );
}

/// reset empties the database and keeps port and password; the seed is applied again; a
/// failing seed file is named with its line and leaves the database empty.
fn reset_and_seed(runtime: &'static str, engine: &str, image: &str) {
    let port = free_port();
    let (seed, bad) = match engine {
        "redis" => ("SET seeded yes\nSET other 2\n", "SET ok 1\nINCR\n"),
        _ => (
            "CREATE TABLE seeded (v text);\nINSERT INTO seeded VALUES ('yes');\n",
            "CREATE TABLE half (v text);\nINSERT INTO nowhere VALUES (1);\n",
        ),
    };
    let ext = if engine == "redis" { "redis" } else { "sql" };
    let live = Live::new(
        engine,
        runtime,
        &manifest(image, port, &format!(", seed: seed/01.{ext}")),
    );
    std::fs::create_dir(live.project.dir.join("seed")).unwrap();
    live.project
        .write(&format!("seed/01.{ext}"), seed.as_bytes());
    // The first `up` applies the seed (seed_snapshot.rs tests it once-only).
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    let seeded = |v: &BTreeMap<String, String>| match engine {
        "redis" => query(engine, v, "GET seeded"),
        _ => query(engine, v, "SELECT v FROM seeded"),
    };
    assert_eq!(seeded(&v), "yes");
    fill(engine, &v);
    let out = live.cmd(&["reset", "store"]).output();
    assert_eq!(
        out.code,
        Some(2),
        "reset without --yes and no terminal: {}",
        out.snapshot()
    );
    live.ok(&["reset", "store", "--yes"]);
    let after = live.vars(&["--service", "app"]);
    assert_eq!(after["STORE_PORT"], v["STORE_PORT"]);
    assert_eq!(
        after["STORE_PASSWORD"], v["STORE_PASSWORD"],
        "reset keeps the password"
    );
    assert_eq!(seeded(&after), "yes", "reset seeds again");
    match engine {
        "redis" => assert_eq!(query(engine, &after, "DBSIZE"), "2", "only the seed's keys"),
        _ => {
            let out = match engine {
                "postgres" => client(
                    "psql",
                    &[&after["STORE_URL"], "-tAc", "SELECT count(*) FROM items"],
                ),
                _ => client(
                    "mariadb",
                    &[
                        "-h",
                        &after["STORE_HOST"],
                        "-P",
                        &after["STORE_PORT"],
                        "-u",
                        &after["STORE_USERNAME"],
                        &format!("-p{}", after["STORE_PASSWORD"]),
                        "app",
                        "-e",
                        "SELECT count(*) FROM items",
                    ],
                ),
            };
            assert_ne!(
                out.code,
                Some(0),
                "items is gone after reset: {}",
                out.snapshot()
            );
        }
    }
    // A failing seed file: named, with the engine's line; the database left empty.
    live.project
        .write(&format!("seed/01.{ext}"), bad.as_bytes());
    let out = live.cmd(&["seed", "store"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(out.stderr.contains("01."), "names the file: {}", out.stderr);
    match engine {
        "postgres" => assert!(
            out.stderr.contains(":2: ERROR"),
            "psql's line: {}",
            out.stderr
        ),
        "mariadb" => assert!(out.stderr.contains("at line 2"), "the line: {}", out.stderr),
        _ => assert!(
            out.stderr.contains("reply 2"),
            "the reply's line: {}",
            out.stderr
        ),
    }
    let v = live.vars(&["--service", "app"]);
    match engine {
        "redis" => assert_eq!(query(engine, &v, "DBSIZE"), "0", "emptied, not half-seeded"),
        "postgres" => assert_eq!(
            query(
                engine,
                &v,
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ),
            "0"
        ),
        _ => assert_eq!(query(engine, &v, "SHOW TABLES"), ""),
    }
}

macro_rules! data_tests {
    ($runtime:literal) => {
        #[test]
        fn postgres_dump_and_restore() {
            super::dump_and_restore($runtime, "postgres", "postgres:15");
        }
        #[test]
        fn mariadb_dump_and_restore() {
            super::dump_and_restore($runtime, "mariadb", "mariadb:10.11");
        }
        #[test]
        fn redis_dump_and_restore() {
            super::dump_and_restore($runtime, "redis", "redis:7");
        }
        #[test]
        fn postgres_reset_and_seed() {
            super::reset_and_seed($runtime, "postgres", "postgres:15");
        }
        #[test]
        fn mariadb_reset_and_seed() {
            super::reset_and_seed($runtime, "mariadb", "mariadb:10.11");
        }
        #[test]
        fn redis_reset_and_seed() {
            super::reset_and_seed($runtime, "redis", "redis:7");
        }
        #[test]
        fn memcached_has_no_data() {
            let live = crate::support::Live::new(
                "mc",
                $runtime,
                &super::manifest("memcached:1.6", crate::support::free_port(), ""),
            );
            live.ok(&["up"]);
            let out = live.cmd(&["dump", "store", "-o", "/dev/null"]).output();
            assert_eq!(out.code, Some(2), "{}", out.snapshot());
            assert!(out.stderr.contains("keeps no data"), "{}", out.stderr);
        }
    };
}

mod needs_docker {
    data_tests!("docker");

    /// A restore killed part way (SIGKILL while the dump streams in) leaves the old data:
    /// pg_restore runs in one transaction, which the server rolls back.
    #[test]
    fn a_killed_postgres_restore_loses_nothing() {
        super::killed_restore("docker");
    }

    /// Redis: cut at each step of the swap; the re-run converges and nothing is lost.
    #[test]
    fn redis_restore_cut_at_each_step_converges() {
        super::redis_cut_points("docker");
    }

    /// MariaDB: cut before and after the load; the data from before is kept on disk until a
    /// re-run finishes, which converges on the dump's contents.
    #[test]
    fn mariadb_restore_cut_at_each_step_converges() {
        super::mariadb_cut_points("docker");
    }
}

mod needs_native {
    data_tests!("native");

    #[test]
    fn a_killed_postgres_restore_loses_nothing() {
        super::killed_restore("native");
    }

    #[test]
    fn redis_restore_cut_at_each_step_converges() {
        super::redis_cut_points("native");
    }
}

fn killed_restore(runtime: &'static str) {
    use std::io::Write as _;
    let live = Live::new("kill", runtime, &manifest("postgres:15", free_port(), ""));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill("postgres", &v);
    let file = live.project.dir.join("store.dump");
    live.ok(&["dump", "store", "-o", file.to_str().unwrap()]);
    damage("postgres", &v);
    query(
        "postgres",
        &v,
        "INSERT INTO items (id, v) VALUES (77, 'kept')",
    );
    let before = contents("postgres", &v);
    let bytes = std::fs::read(&file).unwrap();
    let mut child = live.cmd(&["restore", "store", "-"]).spawn_with_stdin();
    let mut stdin = child.stdin.take().unwrap();
    // Half the dump, then the kill, with provision still waiting for the rest.
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    let _ = child.wait();
    drop(stdin);
    // The server rolls the transaction back once the tool's connection goes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let active = query(
            "postgres",
            &v,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore'",
        );
        if active == "0" || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(contents("postgres", &v), before, "the old data, untouched");
    // The re-run converges.
    live.ok(&["restore", "store", file.to_str().unwrap()]);
    assert_eq!(query("postgres", &v, "SELECT count(*) FROM items"), "5000");
}

fn redis_cut_points(runtime: &'static str) {
    let live = Live::new("cut", runtime, &manifest("redis:7", free_port(), ""));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill("redis", &v);
    let wanted = contents("redis", &v);
    let file = live.project.dir.join("store.rdb");
    live.ok(&["dump", "store", "-o", file.to_str().unwrap()]);
    for step in ["restore-stopped", "restore-swapped", "restore-started"] {
        let v = live.vars(&["--service", "app"]);
        query("redis", &v, "FLUSHALL");
        query("redis", &v, "SET old-data here");
        let out = live
            .cmd(&["restore", "store", file.to_str().unwrap()])
            .env("PROVISION_TEST_CRASH_AT", step)
            .output();
        assert_eq!(
            out.code,
            None,
            "{step}: provision aborted itself: {}",
            out.snapshot()
        );
        // After the cut: `up` serves either the old data or the new, never nothing.
        live.ok(&["up"]);
        let v = live.vars(&["--service", "app"]);
        let now = contents("redis", &v);
        let old = query("redis", &v, "GET old-data");
        assert!(
            now == wanted || old == "here",
            "{step}: neither old nor new data: {now}"
        );
        // The re-run converges on the dump's contents.
        live.ok(&["restore", "store", file.to_str().unwrap()]);
        let v = live.vars(&["--service", "app"]);
        assert_eq!(
            contents("redis", &v),
            wanted,
            "{step}: the re-run converges"
        );
    }
}

fn mariadb_cut_points(runtime: &'static str) {
    let live = Live::new("mcut", runtime, &manifest("mariadb:10.11", free_port(), ""));
    live.ok(&["up"]);
    let v = live.vars(&["--service", "app"]);
    fill("mariadb", &v);
    let wanted = contents("mariadb", &v);
    let file = live.project.dir.join("store.sql");
    live.ok(&["dump", "store", "-o", file.to_str().unwrap()]);
    let backup = live.home.join(&live.name).join("store/before-restore.sql");
    for step in ["restore-before-load", "restore-loaded"] {
        query("mariadb", &v, "DELETE FROM items WHERE id > 1");
        query("mariadb", &v, "INSERT INTO items VALUES (9, 'old-data')");
        let out = live
            .cmd(&["restore", "store", file.to_str().unwrap()])
            .env("PROVISION_TEST_CRASH_AT", step)
            .output();
        assert_eq!(out.code, None, "{step}: aborted: {}", out.snapshot());
        // The data from before the restore is on disk, whole, until a re-run finishes.
        let kept = std::fs::read_to_string(&backup).unwrap_or_default();
        assert!(kept.contains("old-data"), "{step}: the old data is kept");
        let now = contents("mariadb", &v);
        match step {
            "restore-before-load" => assert!(now.contains("old-data"), "{step}: untouched: {now}"),
            _ => assert_eq!(now, wanted, "{step}: loaded"),
        }
        let out = live.ok(&["restore", "store", file.to_str().unwrap()]);
        assert!(
            out.stderr.contains("did not finish"),
            "{step}: the re-run says so: {}",
            out.stderr
        );
        assert_eq!(contents("mariadb", &v), wanted, "{step}: converged");
        assert!(!backup.exists(), "{step}: the kept data goes once done");
    }
}
