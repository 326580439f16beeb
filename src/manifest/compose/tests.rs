//! Multi-file projects, checked against the Compose specification's rules (each test cites
//! the page it follows).

use std::path::{Path, PathBuf};

use super::*;
use crate::problem::ProblemKind;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = tmp.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self(tmp)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn load(&self, given: &[&str], env: &[(&str, &str)]) -> Result<Manifest, Error> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let given: Vec<PathBuf> = given.iter().map(PathBuf::from).collect();
        let files = locate_files(self.path(), &given, &lookup)?;
        load_files(self.path(), &files, &lookup)
    }

    fn ok(&self, given: &[&str], env: &[(&str, &str)]) -> Manifest {
        match self.load(given, env) {
            Ok(m) => m,
            Err(e) => panic!("{}", e.render()),
        }
    }
}

fn service<'m>(m: &'m Manifest, name: &str) -> &'m crate::manifest::Service {
    m.services.iter().find(|s| s.name == name).unwrap()
}

fn env_of(m: &Manifest, name: &str) -> Vec<(String, Option<String>)> {
    service(m, name)
        .environment
        .iter()
        .map(|v| (v.value.name.clone(), v.value.value.clone()))
        .collect()
}

fn locations(m: &Manifest) -> Vec<String> {
    m.problems.iter().map(|p| p.location(&m.file)).collect()
}

// https://docs.docker.com/compose/how-tos/multiple-compose-files/merge/: "By default, Compose
// reads two files, a compose.yaml and an optional compose.override.yaml file."
#[test]
fn the_override_beside_the_base_file_is_merged() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres:16\n    environment: [POSTGRES_DB=shop, POSTGRES_USER=shop]\n    command: postgres -c fsync=off\n    ports: ['5432:5432']\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  db:\n    environment:\n      POSTGRES_USER: override\n    command: [postgres, -c, max_connections=50]\n    ports: ['15432:5432']\n  cache:\n    image: redis:7\n",
        ),
    ]);
    let m = d.ok(&[], &[]);
    assert_eq!(m.files.len(), 2);
    assert_eq!(
        env_of(&m, "db"),
        [
            ("POSTGRES_DB".into(), Some("shop".into())),
            ("POSTGRES_USER".into(), Some("override".into()))
        ],
        "environment merged as a map though the base wrote a list"
    );
    // https://docs.docker.com/reference/compose-file/merge/#shell-commands: replaced, not appended.
    assert_eq!(
        service(&m, "db").command.as_ref().unwrap().value,
        ["postgres", "-c", "max_connections=50"]
    );
    // Sequences are appended (ports with another published port are another entry).
    let ports: Vec<_> = service(&m, "db")
        .ports
        .iter()
        .map(|p| p.value.published)
        .collect();
    assert_eq!(ports, [Some(5432), Some(15432)]);
    assert!(m.services.iter().any(|s| s.name == "cache"));
    // -f alone: no override.
    let m = d.ok(&["compose.yaml"], &[]);
    assert_eq!(m.files.len(), 1);
    assert_eq!(env_of(&m, "db")[1].1.as_deref(), Some("shop"));
}

// https://docs.docker.com/reference/compose-file/merge/#unique-resources: volumes are unique by
// target, ports by {ip, target, published, protocol}; a later entry with the same key wins.
#[test]
fn repeated_f_merges_in_order_with_unique_resources() {
    let d = Dir::new(&[
        (
            "base.yml",
            "services:\n  db:\n    image: mariadb:11.4\n    volumes: ['data:/var/lib/mysql', './init:/docker-entrypoint-initdb.d']\n    ports: ['3306:3306']\n    healthcheck: {test: [CMD, healthcheck.sh, --connect], interval: 10s}\n    labels: [a=1]\n",
        ),
        (
            "ci.yml",
            "services:\n  db:\n    volumes: ['/tmp/ci-data:/var/lib/mysql:ro']\n    ports: ['3306:3306']\n    healthcheck: {test: [CMD, 'true']}\n    labels: {b: '2'}\n",
        ),
    ]);
    let m = d.ok(&["base.yml", "ci.yml"], &[]);
    let db = service(&m, "db");
    let volumes: Vec<_> = db
        .volumes
        .iter()
        .map(|v| (v.value.target.as_str(), v.value.read_only))
        .collect();
    assert_eq!(
        volumes,
        [
            ("/var/lib/mysql", true),
            ("/docker-entrypoint-initdb.d", false)
        ]
    );
    assert_eq!(db.ports.len(), 1, "the same port twice is one entry");
}

// https://docs.docker.com/compose/how-tos/environment-variables/envvars/#compose_file: a list
// separated by `:` on Linux, or by COMPOSE_PATH_SEPARATOR; it can be set in `.env`.
#[test]
fn compose_file_lists_the_files_when_no_f_is_given() {
    let d = Dir::new(&[
        ("compose.yaml", "services: {db: {image: 'postgres:15'}}\n"),
        ("a.yml", "services: {db: {image: 'postgres:16'}}\n"),
        ("b.yml", "services: {cache: {image: 'redis:7'}}\n"),
    ]);
    let m = d.ok(&[], &[("COMPOSE_FILE", "a.yml:b.yml")]);
    assert_eq!(
        service(&m, "db").image.as_ref().unwrap().value,
        "postgres:16"
    );
    assert!(m.services.iter().any(|s| s.name == "cache"));
    let m = d.ok(
        &[],
        &[
            ("COMPOSE_FILE", "a.yml;b.yml"),
            ("COMPOSE_PATH_SEPARATOR", ";"),
        ],
    );
    assert_eq!(m.files.len(), 2);
    std::fs::write(d.path().join(".env"), "COMPOSE_FILE=b.yml\n").unwrap();
    let m = d.ok(&[], &[]);
    assert_eq!(m.services.len(), 1);
    assert_eq!(m.services[0].name, "cache");
    // -f wins over COMPOSE_FILE.
    let m = d.ok(&["compose.yaml"], &[("COMPOSE_FILE", "a.yml")]);
    assert_eq!(
        service(&m, "db").image.as_ref().unwrap().value,
        "postgres:15"
    );
}

// https://docs.docker.com/reference/compose-file/include/: short and long syntax; relative paths
// in an included file are relative to its own directory; its `.env` supplies its variables.
#[test]
fn include_short_and_long_forms() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "include:\n  - infra/db.yaml\n  - path: ../shared/cache.yaml\n    project_directory: ../shared\nservices:\n  web: {build: ., depends_on: [db, cache]}\n",
        ),
        (
            "infra/db.yaml",
            "services:\n  db:\n    image: postgres:${PG_TAG}\n    volumes: ['./initdb:/docker-entrypoint-initdb.d:ro']\n",
        ),
        ("infra/.env", "PG_TAG=16\n"),
        (
            "shared/cache.yaml",
            "services: {cache: {image: 'valkey/valkey:8'}}\n",
        ),
    ]);
    // The project is in a subdirectory so that `../shared` stays inside the temp dir.
    std::fs::create_dir_all(d.path().join("app")).unwrap();
    std::fs::rename(
        d.path().join("compose.yaml"),
        d.path().join("app/compose.yaml"),
    )
    .unwrap();
    std::fs::rename(d.path().join("infra"), d.path().join("app/infra")).unwrap();
    let m = d.ok(&["app/compose.yaml"], &[]);
    let db = service(&m, "db");
    assert_eq!(db.image.as_ref().unwrap().value, "postgres:16");
    assert_eq!(
        db.volumes[0].value.host_path.as_deref(),
        Some(d.path().join("app/infra/initdb").as_path())
    );
    assert!(m.services.iter().any(|s| s.name == "cache"));
    assert!(m.problems.is_empty(), "{:?}", m.problems);
}

#[test]
fn include_cycles_and_missing_files_are_errors_in_the_right_file() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "include: [a.yaml]\nservices: {db: {image: redis}}\n",
        ),
        (
            "a.yaml",
            "include:\n  - b.yaml\nservices: {x: {image: redis}}\n",
        ),
        ("b.yaml", "include:\n  - a.yaml\n  - missing.yaml\n"),
    ]);
    let m = d.ok(&[], &[]);
    let kinds: Vec<_> = m.problems.iter().map(|p| &p.kind).collect();
    assert!(
        matches!(kinds[0], ProblemKind::Cycle { what: "include", chain } if chain.len() == 3),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[1], ProblemKind::FileUnreadable { .. }),
        "{kinds:?}"
    );
    let at = locations(&m);
    assert!(at[0].ends_with("b.yaml:2:5"), "{at:?}");
    assert!(at[1].ends_with("b.yaml:3:5"), "{at:?}");
}

// https://docs.docker.com/reference/compose-file/services/#extends: same file and `file:`;
// mappings of the extending service win, sequences combine, cycles are errors.
#[test]
fn extends_in_the_same_file_and_another() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "x-env: &env\n  TZ: UTC\nservices:\n  db:\n    extends: {file: common/db.yml, service: pg}\n    environment:\n      <<: *env\n      POSTGRES_DB: shop\n  replica:\n    extends: db\n    ports: ['15433:5432']\n",
        ),
        (
            "common/db.yml",
            "services:\n  base: {image: 'postgres:16', environment: [POSTGRES_USER=shop, POSTGRES_DB=base]}\n  pg:\n    extends: {service: base}\n    volumes: ['./init.sql:/docker-entrypoint-initdb.d/init.sql']\n",
        ),
    ]);
    let m = d.ok(&[], &[]);
    let db = service(&m, "db");
    assert_eq!(db.image.as_ref().unwrap().value, "postgres:16");
    assert_eq!(
        env_of(&m, "db"),
        [
            ("POSTGRES_USER".into(), Some("shop".into())),
            ("POSTGRES_DB".into(), Some("shop".into())),
            ("TZ".into(), Some("UTC".into())),
        ]
    );
    assert_eq!(
        db.volumes[0].value.host_path.as_deref(),
        Some(d.path().join("common/init.sql").as_path()),
        "relative to the file that wrote it"
    );
    let replica = service(&m, "replica");
    assert_eq!(replica.image.as_ref().unwrap().value, "postgres:16");
    assert_eq!(replica.ports.len(), 1);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
}

#[test]
fn extends_cycles_and_missing_bases_are_errors_with_positions() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  a: {image: redis, extends: b}\n  b:\n    extends: {service: a}\n  c:\n    extends: {service: nope, file: other.yml}\n",
        ),
        ("other.yml", "services: {}\n"),
    ]);
    let m = d.ok(&[], &[]);
    let kinds: Vec<_> = m.problems.iter().map(|p| &p.kind).collect();
    assert!(
        matches!(kinds[0], ProblemKind::Cycle { what: "extends", chain } if chain == &["a", "b", "a"]),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| matches!(k, ProblemKind::ExtendsMissing { base, file: Some(f), .. } if base == "nope" && f.ends_with("other.yml"))),
        "{kinds:?}"
    );
    // Resolving `a` meets the cycle at `b`'s reference back to `a`.
    assert_eq!(locations(&m)[0], "compose.yaml:4:14");
}

#[test]
fn problems_in_an_override_name_the_override() {
    let d = Dir::new(&[
        ("compose.yaml", "services:\n  db: {image: postgres}\n"),
        (
            "compose.override.yaml",
            "services:\n  db:\n    x-provision: {cloud: {storag_gb: 5}}\n",
        ),
    ]);
    let m = d.ok(&[], &[]);
    assert_eq!(locations(&m), ["compose.override.yaml:3:27"]);
    // A syntax error in the override is reported in the override.
    std::fs::write(d.path().join("compose.override.yaml"), "services: [\n").unwrap();
    let Err(Error::ManifestInvalid { file, .. }) = d.load(&[], &[]) else {
        panic!("expected an error")
    };
    assert_eq!(file, Path::new("compose.override.yaml"));
}

// https://docs.docker.com/reference/compose-file/services/#env_file: relative to the file,
// `environment:` wins; `required: false` tolerates a missing file.
#[test]
fn env_files_feed_the_environment() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: mysql:8.4\n    env_file: [db.env, {path: local.env, required: false}]\n    environment: {MYSQL_DATABASE: shop}\n",
        ),
        ("db.env", "MYSQL_USER=shop\nMYSQL_DATABASE=ignored\n"),
    ]);
    let m = d.ok(&[], &[]);
    assert_eq!(
        env_of(&m, "db"),
        [
            ("MYSQL_USER".into(), Some("shop".into())),
            ("MYSQL_DATABASE".into(), Some("shop".into())),
        ]
    );
    std::fs::write(
        d.path().join("compose.yaml"),
        "services:\n  db:\n    image: mysql:8.4\n    env_file: nope.env\n",
    )
    .unwrap();
    let m = d.ok(&[], &[]);
    assert!(matches!(
        m.problems[0].kind,
        ProblemKind::FileUnreadable {
            what: "env file",
            ..
        }
    ));
}

// The official images' `file_env` reads `VAR_FILE` inside the container: provision follows the
// path through the service's `secrets:` (https://docs.docker.com/reference/compose-file/secrets/)
// or a bind mount to the host file.
#[test]
fn password_files_are_read_through_secrets_and_bind_mounts() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n    secrets: [db_password]\n  my:\n    image: mysql:8.4\n    environment: {MYSQL_PASSWORD_FILE: /etc/pw/app}\n    volumes: ['./pw:/etc/pw:ro']\n  other:\n    image: mariadb\n    environment: {MARIADB_PASSWORD_FILE: /nowhere}\nsecrets:\n  db_password: {file: ./secrets/db.txt}\n",
        ),
        ("secrets/db.txt", "from-a-secret\n"),
        ("pw/app", "from-a-mount"),
    ]);
    let m = d.ok(&[], &[]);
    let read = |s: &str, v: &str| match service(&m, s).files.get(v) {
        Some(FileValue::Read(secret)) => secret.expose().to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(read("db", "POSTGRES_PASSWORD_FILE"), "from-a-secret");
    assert_eq!(read("my", "MYSQL_PASSWORD_FILE"), "from-a-mount");
    assert_eq!(
        service(&m, "other").files.get("MARIADB_PASSWORD_FILE"),
        Some(&FileValue::Unmapped)
    );
}

// https://docs.docker.com/reference/compose-file/merge/#reset-value and #replace-value:
// `!reset` removes what the base set, `!override` replaces a sequence instead of appending.
#[test]
fn reset_and_override_tags_in_an_override() {
    let d = Dir::new(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres:16\n    ports: ['5432:5432']\n    environment: {POSTGRES_USER: base, POSTGRES_DB: base}\n    volumes: ['./a:/a', './b:/b']\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  db:\n    ports: !reset []\n    environment:\n      POSTGRES_DB: !reset null\n    volumes: !override\n      - ./c:/c\n",
        ),
    ]);
    let m = d.ok(&[], &[]);
    let db = service(&m, "db");
    assert!(db.ports.is_empty(), "{:?}", db.ports);
    assert_eq!(
        env_of(&m, "db"),
        [("POSTGRES_USER".into(), Some("base".into()))]
    );
    let targets: Vec<_> = db.volumes.iter().map(|v| v.value.target.as_str()).collect();
    assert_eq!(targets, ["/c"]);
}

#[test]
fn long_extends_chains_are_bounded_and_many_extends_are_cheap() {
    let mut text = String::from("services:\n  s0: {image: 'redis:7'}\n");
    for i in 1..100 {
        text.push_str(&format!("  s{i}: {{extends: s{}}}\n", i - 1));
    }
    let d = Dir::new(&[("compose.yaml", &text)]);
    let m = d.ok(&[], &[]);
    assert!(
        m.problems.iter().any(|p| matches!(&p.kind, ProblemKind::InvalidValue { expected, .. } if expected.contains("at most 64"))),
        "{:?}",
        m.problems.first()
    );
    let mut text = String::from("services:\n  base: {image: 'redis:7', environment: [A=1]}\n");
    for i in 0..5000 {
        text.push_str(&format!("  s{i}: {{extends: base}}\n"));
    }
    std::fs::write(d.path().join("compose.yaml"), &text).unwrap();
    let started = std::time::Instant::now();
    let m = d.ok(&[], &[]);
    assert_eq!(m.services.len(), 5001);
    assert!(m.problems.is_empty());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

// An app service's volumes and command are Compose's business: a Windows path or an unset
// variable there never fails the file; on a database they are reported.
#[test]
fn volume_and_command_problems_count_for_databases_only() {
    let d = Dir::new(&[(
        "compose.yaml",
        "services:\n  web:\n    build: .\n    volumes: ['C:\\\\data:/data', '${UNSET_DIR}:/x']\n    command: \"echo 'open\"\n    depends_on: [db]\n  db:\n    image: postgres:16\n    volumes: ['relative-no-target']\n",
    )]);
    let m = d.ok(&[], &[]);
    let catalog = crate::catalog::Catalog::builtin().unwrap();
    let model = crate::model::resolve(&m, &catalog, None).unwrap();
    let paths: Vec<_> = model.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["services.db.volumes[0]"]);
    assert!(
        model.resources.is_empty(),
        "an unreadable volume on the database is an error"
    );
}

#[test]
fn remote_includes_are_a_warning() {
    let d = Dir::new(&[(
        "compose.yaml",
        "include:\n  - oci://registry.example.com/stacks/db:1\n  - https://github.com/example/stack.git#main:compose.yaml\nservices: {db: {image: redis}}\n",
    )]);
    let m = d.ok(&[], &[]);
    assert_eq!(m.problems.len(), 2);
    assert!(m.problems.iter().all(|p| !p.is_error()));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Small Compose-ish YAML: the keys the loader treats specially, nested a little.
    fn yaml() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "services",
            "db",
            "web",
            "image",
            "environment",
            "ports",
            "volumes",
            "command",
            "extends",
            "service",
            "file",
            "include",
            "path",
            "depends_on",
            "env_file",
            "secrets",
            "healthcheck",
            "test",
            "x-provision",
        ]);
        let scalar = prop::sample::select(vec![
            "postgres:16",
            "redis",
            "db",
            "web",
            "a.yml",
            "b.yml",
            "./x:/x",
            "5432:5432",
            "A=1",
            "!reset []",
            "!override [x]",
            "null",
            "${V:-1}",
            "/data",
        ]);
        let leaf = scalar.prop_map(str::to_owned);
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                prop::collection::vec((key.clone(), inner), 0..4).prop_map(|entries| {
                    let mut seen = std::collections::HashSet::new();
                    let body: Vec<String> = entries
                        .into_iter()
                        .filter(|(k, _)| seen.insert(*k))
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect();
                    format!("{{{}}}", body.join(", "))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any two files that reference each other: no panic, no hang, every failure an error
        /// value that renders.
        #[test]
        fn merging_including_and_extending_never_panics(a in yaml(), b in yaml()) {
            let d = Dir::new(&[("compose.yaml", &a), ("compose.override.yaml", &b), ("a.yml", &b), ("b.yml", &a)]);
            match d.load(&[], &[]) {
                Ok(m) => {
                    let catalog = crate::catalog::Catalog::builtin().unwrap();
                    let _ = crate::model::resolve(&m, &catalog, None);
                }
                Err(e) => prop_assert!(!e.render().is_empty()),
            }
        }
    }
}
