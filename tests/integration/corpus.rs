//! The corpus: Compose files in the style of public sample repositories (web frameworks with
//! Postgres, MySQL, MariaDB and Redis; CMSs; job queues; overrides, `include:`, `extends:`,
//! `env_file:`, secrets, anchors), written for this project. For each one `doctor` must pass
//! (exit 0: every file here is valid Compose) and say what its snapshot says, and the local
//! plan must read the databases' own settings as their images would.
//!
//! Compose rules the files exercise: https://docs.docker.com/reference/compose-file/merge/,
//! https://docs.docker.com/reference/compose-file/include/,
//! https://docs.docker.com/reference/compose-file/services/#extends,
//! https://docs.docker.com/compose/how-tos/environment-variables/envvars/#compose_file.
//!
//! Rules the files of issue 19 exercise, as public files rely on them:
//! - `php-root-mysql`: a root-only MySQL (https://hub.docker.com/_/mysql, MYSQL_ROOT_PASSWORD)
//!   and a `.env` whose comments hold quotes
//!   (https://github.com/compose-spec/compose-go/blob/main/dotenv/parser.go);
//! - `selfhosted-anchors`: ~150 aliases to 9 anchors with merge keys
//!   (https://docs.docker.com/reference/compose-file/fragments/), bare names in a database's
//!   `environment:` (https://docs.docker.com/reference/compose-file/services/#environment),
//!   `COMPOSE_PROJECT_NAME` in `.env` (https://docs.docker.com/compose/how-tos/project-name/),
//!   an unset variable in an app (https://docs.docker.com/reference/compose-file/interpolation/),
//!   a floating `redis:alpine`;
//! - `geo-trust-vendor`: `POSTGRES_HOST_AUTH_METHOD: trust` (https://hub.docker.com/_/postgres),
//!   MariaDB with `MARIADB_ALLOW_EMPTY_ROOT_PASSWORD`
//!   (https://mariadb.com/kb/en/mariadb-server-docker-official-image-environment-variables/),
//!   and a vendor Postgres image provision does not know.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use provision::catalog::Catalog;
use provision::manifest::{MountKind, compose};
use provision::plan::{self, Target};

use crate::support::Run;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn projects() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The local plan in a few lines: what each database gets from the file's own settings.
fn plan_summary(dir: &Path) -> String {
    let catalog = Catalog::builtin().unwrap();
    // Only the project's own `.env` files: the test machine's environment must not leak in.
    let none = |_: &str| None;
    let files = compose::locate_files(dir, &[], &none).unwrap();
    let manifest = compose::load_files(dir, &files, &none).unwrap();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "files: {}",
        manifest
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let plan = match plan::plan(&manifest, &catalog, Target::Local, None) {
        Ok(p) => p,
        Err(e) => {
            let _ = write!(out, "plan: {}", e.render());
            return out;
        }
    };
    for r in &plan.resources {
        let local = r.local.as_ref().unwrap();
        let _ = writeln!(
            out,
            "{}: {} {} ({}), user {}, database {}, password {}",
            r.name,
            r.type_name,
            if r.version_resolved_at_pull {
                "(resolved at pull)"
            } else {
                r.version.as_str()
            },
            local.image,
            r.username.as_deref().unwrap_or("-"),
            r.database.as_deref().unwrap_or("-"),
            match (&local.password_from, r.type_name.as_str()) {
                (_, "memcached") => "-".to_owned(),
                (Some(from), _) => format!("from {from}"),
                (None, _) => "generated".to_owned(),
            },
        );
        if local.volume.is_some() && local.data_path.is_none() {
            let _ = writeln!(out, "  data path: resolved at pull");
        }
        if let Some(command) = &local.command {
            let _ = writeln!(out, "  command: {command:?}");
        }
        for m in &local.mounts {
            let from = match (&m.kind, &m.host_path, &m.source) {
                (MountKind::Bind, Some(host), _) => host.display().to_string(),
                (_, _, Some(source)) => source.clone(),
                _ => "(anonymous)".to_owned(),
            };
            let _ = writeln!(
                out,
                "  mount: {:?} {from} -> {}{}",
                m.kind,
                m.target,
                if m.read_only { " (ro)" } else { "" }
            );
        }
    }
    for s in &plan.services {
        let links: Vec<String> = s
            .links
            .iter()
            .map(|l| format!("{}_* ({})", l.prefix, l.resource))
            .collect();
        let _ = writeln!(out, "{} -> {}", s.service, links.join(", "));
    }
    out
}

#[test]
fn every_corpus_file_passes_doctor_and_plans_as_its_images_would() {
    let projects = projects();
    assert!(
        projects.len() >= 15,
        "the corpus has {} projects",
        projects.len()
    );
    let root = corpus_dir().display().to_string();
    for dir in projects {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // COMPOSE_FILE from the test's own environment must not steer discovery.
        // `doctor --local` names the machine's container engine: make it the same everywhere.
        let doctor = Run::new(&dir, &["doctor"])
            .env("COMPOSE_FILE", "")
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output();
        assert_eq!(
            doctor.code,
            Some(0),
            "{name}: doctor failed on a valid file:\n{}",
            doctor.snapshot()
        );
        let text = format!(
            "--- doctor\n{}--- plan --local\n{}",
            doctor.stdout,
            plan_summary(&dir)
        )
        .replace(&root, "[CORPUS]");
        insta::assert_snapshot!(format!("corpus_{name}"), text);
    }
}

/// A file without databases: `doctor` has nothing to do; the commands that act on
/// databases still say clearly that there are none.
#[test]
fn no_database_is_nothing_to_do_for_doctor_only() {
    let dir = corpus_dir().join("static-site");
    let doctor = Run::new(&dir, &["doctor", "--json"])
        .env("COMPOSE_FILE", "")
        .output();
    assert_eq!(doctor.code, Some(0), "{}", doctor.snapshot());
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let plan = Run::new(&dir, &["plan"]).env("COMPOSE_FILE", "").output();
    assert_eq!(plan.code, Some(65), "{}", plan.snapshot());
    assert!(
        plan.stderr.contains("no service is a database"),
        "{}",
        plan.stderr
    );
}

/// `-f` repeats and merges in order, as `docker compose -f a -f b`; a problem in the second
/// file names the second file; `COMPOSE_FILE` applies without `-f`.
/// https://docs.docker.com/compose/how-tos/multiple-compose-files/merge/
#[test]
fn repeated_f_and_compose_file_on_the_command_line() {
    let project = crate::support::Project::new();
    project
        .write(
            "base.yml",
            b"services:\n  web: {build: ., depends_on: [db]}\n  db: {image: 'postgres:16'}\n",
        )
        .write(
            "ci.yml",
            b"services:\n  db:\n    ports: ['15432:5432']\n    x-provision: {cloud: {clas: db.t4g.small}}\n",
        );
    let out = project
        .cmd(&["-f", "base.yml", "-f", "ci.yml", "doctor", "--local"])
        .env("COMPOSE_FILE", "")
        .output();
    assert_eq!(out.code, Some(65), "{}", out.snapshot());
    assert!(
        out.stdout.contains("ci.yml:4:27: unknown key `clas`"),
        "{}",
        out.stdout
    );
    project.write("ci.yml", b"services:\n  db:\n    ports: ['15432:5432']\n");
    let out = project
        .cmd(&["doctor", "--local"])
        .env("COMPOSE_FILE", "base.yml:ci.yml")
        .output();
    assert_eq!(out.code, Some(0), "{}", out.snapshot());
    assert!(out.stdout.contains("on port 15432"), "{}", out.stdout);
    // Only the first file given: no port from the second.
    let out = project
        .cmd(&["-f", "base.yml", "doctor", "--local"])
        .env("COMPOSE_FILE", "base.yml:ci.yml")
        .output();
    assert!(
        out.stdout.contains("on port 5432 or the next free one"),
        "{}",
        out.stdout
    );
}
