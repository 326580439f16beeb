//! `x-provision.migrate` against real servers (`needs_native`, `needs_docker`): a migration
//! runs with its service's link variables in its directory, after `up` and before `start`
//! runs any app (proved by an app that reads the table the migration made), a failing one
//! stops `up` and `start`, `--no-migrate` skips it; and (`needs_emulator`) `up --cloud` runs
//! it against the emulator's endpoints, and `dump`/`restore --cloud` hand the engine's tools
//! the cloud endpoint with verified TLS and the secret by environment.

use std::collections::BTreeMap;

use crate::support::{Live, free_port};

/// An app `web` (a `psql` that prints the migrated table and exits), its migration, and a
/// Postgres `db`.
fn manifest(port: u16, migrate: &str, marker: &str) -> String {
    format!(
        "services:
  web:
    build: ./web
    links: [db]
    environment: {{GREETING: hello}}
    command: [sh, -c, 'touch {marker}; psql \"$$DB_URL\" -X -tAc \"SELECT string_agg(v, '','' ORDER BY v) FROM items\"']
    x-provision:
      migrate: {migrate}
  db:
    image: 'postgres:15'
    x-provision: {{local: {{port: {port}}}}}
"
    )
}

fn env_file(path: &std::path::Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the migration wrote no {}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The migration creates the table the app reads: `start` prints the app's rows, so the
/// migration ran first, with the link variables, in the build directory.
fn migrations_run_before_apps(runtime: &'static str) {
    let marker = "started-web";
    let live = Live::new(
        "mig",
        runtime,
        &manifest(
            free_port(),
            "'pwd > ../migrate.pwd; env > ../migrate.env; psql \"$$DB_URL\" -X -v ON_ERROR_STOP=1 -qc \"CREATE TABLE items (v text); INSERT INTO items VALUES (''a''), (''b'')\" && echo migrated'",
            marker,
        ),
    );
    let web = live.project.dir.join("web");
    std::fs::create_dir(&web).unwrap();
    let out = live.cmd(&["start"]).output();
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    // Prefixed like an app's output, and before the app's.
    let migrated = out
        .stdout
        .find("web:migrate | migrated")
        .unwrap_or_else(|| panic!("{}", out.snapshot()));
    let read = out
        .stdout
        .find("web         | a,b")
        .or_else(|| out.stdout.find("web | a,b"))
        .unwrap_or_else(|| {
            panic!(
                "the app did not read the migrated rows:\n{}",
                out.snapshot()
            )
        });
    assert!(migrated < read, "{}", out.snapshot());
    // In the service's build directory, with its environment and link variables.
    let pwd = std::fs::read_to_string(live.project.dir.join("migrate.pwd")).unwrap();
    assert_eq!(
        std::path::Path::new(pwd.trim()).canonicalize().unwrap(),
        web.canonicalize().unwrap()
    );
    let env = env_file(&live.project.dir.join("migrate.env"));
    let vars = live.vars(&["--service", "web"]);
    assert_eq!(env["DB_URL"], vars["DB_URL"]);
    assert_eq!(env["DB_PASSWORD"], vars["DB_PASSWORD"]);
    assert_eq!(env["GREETING"], "hello");
    // The password reaches the migration by environment only: never on provision's output.
    assert!(!out.stderr.contains(&vars["DB_PASSWORD"]), "{}", out.stderr);

    // `up` runs it again (it is the migration's business to be idempotent: this one is not,
    // so it fails, naming the service and the status), and `--no-migrate` skips it.
    let out = live.cmd(&["up"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr.contains("error: web: migration") && out.stderr.contains("exited with status 1"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("web:migrate | ") && out.stderr.contains("already exists"),
        "the migration's own output, prefixed, on stderr: {}",
        out.snapshot()
    );
    assert!(out.stdout.is_empty(), "stdout is for data: {}", out.stdout);
    live.ok(&["up", "--no-migrate"]);
    std::fs::remove_file(live.project.dir.join("web").join(marker)).unwrap();
    let out = live.cmd(&["start", "--no-migrate"]).output();
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    assert!(!out.stdout.contains("web:migrate"), "{}", out.snapshot());
    assert!(live.project.dir.join("web").join(marker).exists());
}

/// A failing migration stops `start` before any app starts, and `up` with its status.
fn a_failing_migration_stops_start_and_up(runtime: &'static str) {
    let marker = "started-web";
    let live = Live::new(
        "migf",
        runtime,
        &manifest(
            free_port(),
            "[sh, -c, 'echo half-done >&2; exit 3']",
            marker,
        ),
    );
    std::fs::create_dir(live.project.dir.join("web")).unwrap();
    let out = live.cmd(&["start"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr.contains(
            "error: web: migration `sh -c echo half-done >&2; exit 3` exited with status 3"
        ),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stdout.contains("web:migrate | half-done"),
        "{}",
        out.snapshot()
    );
    assert!(
        !live.project.dir.join("web").join(marker).exists(),
        "the app started after a failed migration"
    );
    let out = live.cmd(&["up"]).output();
    assert_eq!(out.code, Some(1), "{}", out.snapshot());
    assert!(
        out.stderr.contains("exited with status 3"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("--no-migrate"),
        "the hint: {}",
        out.stderr
    );
    // The databases themselves are up: only what follows the migration stopped.
    live.ok(&["status"]);
    live.vars(&["--service", "web"]);
}

mod needs_native {
    #[test]
    fn migrations_run_before_apps() {
        super::migrations_run_before_apps("native");
    }
    #[test]
    fn a_failing_migration_stops_start_and_up() {
        super::a_failing_migration_stops_start_and_up("native");
    }
}

mod needs_docker {
    #[test]
    fn migrations_run_before_apps() {
        super::migrations_run_before_apps("docker");
    }
    #[test]
    fn a_failing_migration_stops_start_and_up() {
        super::a_failing_migration_stops_start_and_up("docker");
    }
}

#[test]
fn migrate_on_a_database_or_malformed_is_a_manifest_error() {
    let p = crate::support::Project::with_manifest(
        "services:\n  web: {command: x, links: [db]}\n  db:\n    image: postgres:16\n    x-provision:\n      migrate: {run: x}\n",
    );
    let out = p.cmd(&["doctor"]).output();
    assert_eq!(out.code, Some(65), "{}", out.snapshot());
    assert!(
        out.stdout.contains("compose.yaml:6:16"),
        "{}",
        out.snapshot()
    );
}

mod needs_emulator {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt as _;

    use crate::support::{Live, unique};

    fn emulator() -> String {
        std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!("AWS_ENDPOINT_URL is not set: start the emulator with `eval \"$(localstack/moto.sh start)\"` (tests/run.sh does)")
        })
    }

    fn cloud(live: &Live, args: &[&str]) -> crate::support::Run {
        let mut all = vec!["-p", live.name.as_str(), "--cloud"];
        all.extend_from_slice(args);
        live.project.cmd(&all).env("AWS_ENDPOINT_URL", &emulator())
    }

    fn ok(live: &Live, args: &[&str]) -> crate::support::Output {
        let out = cloud(live, args).output();
        assert_eq!(out.code, Some(0), "--cloud {args:?}:\n{}", out.snapshot());
        out
    }

    /// `up --cloud` runs the migration from this machine (the CI runner) with the link
    /// variables of the cloud: the emulator's endpoint names, the secret's password, the RDS
    /// CA. (The emulator's endpoints are names only: the environment is what is checked.)
    #[test]
    fn cloud_up_runs_the_migration_against_the_cloud_endpoints() {
        let mut live = Live::new(
            "cmig",
            "docker",
            "services:
  web:
    build: .
    links: [db]
    x-provision: {migrate: 'env > migrate.env'}
  db: {image: 'postgres:16'}
",
        );
        live.name = unique("cmig");
        let out = ok(&live, &["up"]);
        assert!(
            out.stderr.contains("web:migrate | running"),
            "{}",
            out.snapshot()
        );
        let env: BTreeMap<String, String> =
            std::fs::read_to_string(live.project.dir.join("migrate.env"))
                .expect("the migration ran and wrote its environment")
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let vars: BTreeMap<String, String> = serde_json::from_str(
            &ok(&live, &["env", "--service", "web", "--format", "json"]).stdout,
        )
        .unwrap();
        assert!(vars["DB_HOST"].ends_with(".rds.amazonaws.com"), "{vars:?}");
        for k in [
            "DB_URL",
            "DB_HOST",
            "DB_PORT",
            "DB_PASSWORD",
            "DB_CA_FILE",
            "PGSSLROOTCERT",
        ] {
            assert_eq!(env.get(k), vars.get(k), "{k}");
        }
        assert!(
            env["DB_URL"].contains("sslmode=verify-full"),
            "{}",
            env["DB_URL"]
        );
        assert!(!out.stderr.contains(&vars["DB_PASSWORD"]), "{}", out.stderr);
        std::fs::remove_file(live.project.dir.join("migrate.env")).unwrap();
        ok(&live, &["up", "--no-migrate"]);
        assert!(!live.project.dir.join("migrate.env").exists());
    }

    /// Programs named like the engine's tools, first on PATH, that record what provision hands
    /// them: the point is provision's side (the endpoint, verified TLS, the secret by
    /// environment only, the file written aside), which no real RDS is here to show.
    fn recording_tools(dir: &std::path::Path) -> std::path::PathBuf {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.join("tools.log");
        for (name, body) in [
            ("pg_dump", "printf 'PGDMP-from-%s' \"$PGSSLMODE\""),
            ("pg_restore", "cat > \"$LOG.stdin\""),
        ] {
            let path = bin.join(name);
            std::fs::write(
                &path,
                format!(
                    "#!/bin/sh\nLOG={log}\n{{ echo \"== {name}\"; for a in \"$@\"; do echo \"arg=$a\"; done; echo \"PGPASSWORD=$PGPASSWORD\"; echo \"PGSSLMODE=$PGSSLMODE\"; echo \"PGSSLROOTCERT=$PGSSLROOTCERT\"; }} >> \"$LOG\"\n{body}\n",
                    log = log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        bin
    }

    #[test]
    fn cloud_dump_and_restore_use_the_endpoint_with_verified_tls() {
        let mut live = Live::new(
            "cdump",
            "docker",
            "services:\n  web: {build: ., links: [db, kv]}\n  db: {image: 'postgres:16'}\n  kv: {image: 'redis:7'}\n",
        );
        live.name = unique("cdump");
        ok(&live, &["up"]);
        let vars: BTreeMap<String, String> = serde_json::from_str(
            &ok(&live, &["env", "--service", "web", "--format", "json"]).stdout,
        )
        .unwrap();
        let bin = recording_tools(&live.project.dir);
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let file = live.project.dir.join("db.pgdump");
        let out = cloud(&live, &["dump", "db", "-o", file.to_str().unwrap()])
            .env("PATH", &path)
            .output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        assert_eq!(std::fs::read(&file).unwrap(), b"PGDMP-from-verify-full");
        assert!(!live.project.dir.join(".db.pgdump.partial").exists());
        assert!(out.stderr.contains(&vars["DB_HOST"]), "{}", out.stderr);
        let log = std::fs::read_to_string(live.project.dir.join("tools.log")).unwrap();
        let args: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("arg=")).collect();
        for want in [
            "--format=custom",
            "-h",
            &vars["DB_HOST"],
            "-p",
            "5432",
            "-U",
            &vars["DB_USERNAME"],
        ] {
            assert!(args.contains(&want), "{want} not in {args:?}");
        }
        assert!(
            args.iter().all(|a| !a.contains(&vars["DB_PASSWORD"])),
            "{args:?}"
        );
        assert!(
            log.contains(&format!("PGPASSWORD={}\n", vars["DB_PASSWORD"])),
            "{log}"
        );
        assert!(log.contains("PGSSLMODE=verify-full\n"), "{log}");
        assert!(
            log.contains(&format!("PGSSLROOTCERT={}\n", vars["DB_CA_FILE"])),
            "{log}"
        );
        // The CA file is AWS's RDS bundle, as provision embeds it.
        let bundle = std::fs::read_to_string(&vars["DB_CA_FILE"]).unwrap();
        assert!(bundle.contains("BEGIN CERTIFICATE"), "{bundle}");

        // Restore: the dump goes to pg_restore's stdin whole, in one transaction.
        let out = cloud(&live, &["restore", "db", file.to_str().unwrap()])
            .env("PATH", &path)
            .output();
        assert_eq!(out.code, Some(0), "{}", out.snapshot());
        let log = std::fs::read_to_string(live.project.dir.join("tools.log")).unwrap();
        assert!(log.contains("== pg_restore\n"), "{log}");
        assert!(log.contains("arg=--single-transaction\n"), "{log}");
        assert_eq!(
            std::fs::read(live.project.dir.join("tools.log.stdin")).unwrap(),
            b"PGDMP-from-verify-full"
        );
        // Redis: ElastiCache refuses what the dump needs; said before anything runs.
        let out = cloud(&live, &["dump", "kv", "-o", "/dev/null"]).output();
        assert_eq!(out.code, Some(2), "{}", out.snapshot());
        assert!(out.stderr.contains("ElastiCache"), "{}", out.stderr);
        // No client on this machine: the package to install is named.
        let out = cloud(&live, &["dump", "db", "-o", "/dev/null"])
            .env("PATH", "/nonexistent")
            .output();
        assert_eq!(out.code, Some(69), "{}", out.snapshot());
        assert!(out.stderr.contains("postgresql-client"), "{}", out.stderr);
    }
}
