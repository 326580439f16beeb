//! Compose and image rules that public Compose files rely on for a database's credentials
//! (issue 19), each with the rule's source.

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::manifest::from_bytes;
use crate::model::{Model, resolve};
use crate::plan::{Target, plan};

fn catalog() -> &'static Catalog {
    Box::leak(Box::new(Catalog::builtin().unwrap()))
}

/// The model of `text`, with `vars` as the shell and `.env` variables.
fn model_with(text: &str, vars: &'static [(&'static str, &'static str)]) -> Model<'static> {
    let manifest = from_bytes(
        text.as_bytes(),
        PathBuf::from("docker-compose.yml"),
        "shop".into(),
        &|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        },
    )
    .unwrap();
    resolve(&manifest, catalog(), None).unwrap()
}

/// User, database and local password of resource `name`.
fn creds(m: &Model<'_>, name: &str) -> (Option<String>, Option<String>, Option<String>) {
    let r = m.resources.iter().find(|r| r.name == name).unwrap();
    (
        r.username.clone(),
        r.database.clone(),
        r.local_password.as_ref().map(|p| p.expose().to_owned()),
    )
}

fn some(u: &str, d: &str, p: &str) -> (Option<String>, Option<String>, Option<String>) {
    (Some(u.into()), Some(d.into()), Some(p.into()))
}

/// A name alone in `environment:` takes its value from the shell or `.env`, on a database
/// as on an app (<https://docs.docker.com/reference/compose-file/services/#environment>:
/// "Environment variables can be declared by a single key (no value to equals sign). In this
/// case Compose relies on you to resolve the value").
#[test]
fn bare_names_take_the_shell_or_dotenv_value() {
    let m = model_with(
        "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_USER\n      - POSTGRES_PASSWORD\n      - POSTGRES_DB\n  map:\n    image: postgres:16\n    environment:\n      POSTGRES_USER:\n      POSTGRES_PASSWORD:\n  api:\n    image: node:22\n    depends_on: [db]\n    environment: [POSTGRES_USER, UNSET_HERE]\n",
        &[
            ("POSTGRES_USER", "shop"),
            ("POSTGRES_PASSWORD", "from-dotenv"),
            ("POSTGRES_DB", "orders"),
        ],
    );
    assert_eq!(creds(&m, "db"), some("shop", "orders", "from-dotenv"));
    assert_eq!(creds(&m, "map"), some("shop", "shop", "from-dotenv"));
    // A value from the shell is not written in the file: no fixed-password warning.
    assert!(
        !m.problems
            .iter()
            .any(|p| matches!(p.kind, crate::problem::ProblemKind::FixedPassword { .. })),
        "{:?}",
        m.problems
    );
}

/// The most common MySQL sample: root's password and a database, no `MYSQL_USER`; the app
/// logs in as root with that password (<https://hub.docker.com/_/mysql>:
/// "MYSQL_ROOT_PASSWORD ... specifies the password that will be set for the MySQL root
/// superuser account"; "MYSQL_USER, MYSQL_PASSWORD ... are optional").
#[test]
fn root_only_mysql_hands_out_root() {
    let m = model_with(
        "services:\n  db:\n    image: mysql:8.0\n    environment:\n      MYSQL_ROOT_PASSWORD: ${DB_ROOT_PASSWORD}\n      MYSQL_DATABASE: blog\n  maria:\n    image: mariadb:11.4\n    environment:\n      MARIADB_ROOT_PASSWORD: ${DB_ROOT_PASSWORD}\n      MARIADB_DATABASE: wiki\n  empty:\n    image: mysql:8.4\n    environment:\n      MYSQL_ALLOW_EMPTY_PASSWORD: 'yes'\n      MYSQL_DATABASE: test\n  random:\n    image: mariadb:11.4\n    environment: {MARIADB_RANDOM_ROOT_PASSWORD: 1, MARIADB_DATABASE: app}\n  with_user:\n    image: mysql:8.0\n    environment: {MYSQL_ROOT_PASSWORD: '${DB_ROOT_PASSWORD}', MYSQL_USER: blog, MYSQL_PASSWORD: '${DB_PASSWORD}', MYSQL_DATABASE: blog}\n",
        &[("DB_ROOT_PASSWORD", "r00t-pw"), ("DB_PASSWORD", "user-pw")],
    );
    assert_eq!(creds(&m, "db"), some("root", "blog", "r00t-pw"));
    assert_eq!(creds(&m, "maria"), some("root", "wiki", "r00t-pw"));
    // Root without a password, or with one the image picks: root, with provision's password.
    assert_eq!(
        creds(&m, "empty"),
        (Some("root".into()), Some("test".into()), None)
    );
    assert_eq!(
        creds(&m, "random"),
        (Some("root".into()), Some("app".into()), None)
    );
    // A user of its own: that user, as before.
    assert_eq!(creds(&m, "with_user"), some("blog", "blog", "user-pw"));

    // Locally the container is set up for root (the image refuses `MYSQL_USER=root`); in
    // the cloud the master user is `admin`.
    let db = m.resources.iter().find(|r| r.name == "db").unwrap();
    let family = db
        .template
        .family_for(&db.repository, db.username.as_deref());
    assert!(
        family.env.contains_key("MYSQL_ROOT_PASSWORD"),
        "{:?}",
        family.env
    );
    assert!(!family.env.contains_key("MYSQL_USER"), "{:?}", family.env);
    let text = "services:\n  db:\n    image: mysql:8.0\n    environment: {MYSQL_ROOT_PASSWORD: '${P}', MYSQL_DATABASE: blog}\n";
    let manifest = from_bytes(
        text.as_bytes(),
        PathBuf::from("docker-compose.yml"),
        "shop".into(),
        &|n| (n == "P").then(|| "pw".to_owned()),
    )
    .unwrap();
    let local = plan(&manifest, catalog(), Target::Local, None).unwrap();
    assert_eq!(local.resources[0].username.as_deref(), Some("root"));
    let cloud = plan(&manifest, catalog(), Target::Cloud, None).unwrap();
    assert_eq!(cloud.resources[0].username.as_deref(), Some("admin"));
}

/// `POSTGRES_HOST_AUTH_METHOD: trust` without a user: the image's defaults, user and
/// database `postgres` (<https://hub.docker.com/_/postgres>, "POSTGRES_HOST_AUTH_METHOD",
/// "POSTGRES_USER ... If it is not specified, then the default user of postgres will be
/// used").
#[test]
fn trust_without_a_user_means_the_image_defaults() {
    let m = model_with(
        "services:\n  db:\n    image: postgres:16-alpine\n    environment:\n      POSTGRES_HOST_AUTH_METHOD: trust\n  named:\n    image: postgres:16\n    environment: {POSTGRES_HOST_AUTH_METHOD: trust, POSTGRES_USER: shop}\n",
        &[],
    );
    assert_eq!(
        creds(&m, "db"),
        (Some("postgres".into()), Some("postgres".into()), None)
    );
    assert_eq!(
        creds(&m, "named"),
        (Some("shop".into()), Some("shop".into()), None)
    );
}

/// An unset variable in an app's `environment:` is an empty string with a warning, as in
/// Compose (<https://docs.docker.com/reference/compose-file/interpolation/>: "If an
/// environment variable is not set, Compose substitutes with an empty string"); `${VAR:?}`
/// stays an error as written; on a database, whose settings it is, unset stays an error.
#[test]
fn unset_variables_in_an_app_are_empty_with_a_warning() {
    use crate::problem::{ProblemKind, Severity};
    let m = model_with(
        "services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: '${DB_PASSWORD}'}\n  web:\n    image: node:22\n    depends_on: [db]\n    environment:\n      SENTRY_DSN: ${SENTRY_DSN}\n      MAIL_URL: smtp://${MAIL_HOST}:25\n",
        &[("DB_PASSWORD", "pw")],
    );
    let unset: Vec<_> = m
        .problems
        .iter()
        .filter_map(|p| match &p.kind {
            ProblemKind::UnsetVariable { name, service } => {
                Some((name.as_str(), service.as_str(), p.severity))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        unset,
        [
            ("SENTRY_DSN", "web", Severity::Warning),
            ("MAIL_HOST", "web", Severity::Warning)
        ]
    );
    assert!(
        !m.problems.iter().any(crate::problem::Problem::is_error),
        "{:?}",
        m.problems
    );

    // `:?` is an error as written, on an app too.
    let manifest = from_bytes(
        b"services:\n  db: {image: 'postgres:16'}\n  web:\n    image: node:22\n    environment: {KEY: '${KEY:?set KEY}'}\n",
        PathBuf::from("docker-compose.yml"),
        "shop".into(),
        &|_| None,
    )
    .unwrap();
    let m = resolve(&manifest, catalog(), None).unwrap();
    assert!(
        m.problems
            .iter()
            .any(|p| p.is_error() && matches!(p.kind, ProblemKind::RequiredVariable { .. })),
        "{:?}",
        m.problems
    );

    // A database's unset password is an error (an empty password is never what was meant).
    let manifest = from_bytes(
        b"services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: '${DB_PASSWORD}'}\n",
        PathBuf::from("docker-compose.yml"),
        "shop".into(),
        &|_| None,
    )
    .unwrap();
    let m = resolve(&manifest, catalog(), None).unwrap();
    assert!(
        m.problems.iter().any(|p| p.is_error()
            && matches!(&p.kind, ProblemKind::UndefinedVariable { name } if name == "DB_PASSWORD")),
        "{:?}",
        m.problems
    );
}

/// A version the cloud does not offer runs locally, and `doctor --local` says it will not
/// run in the cloud (README, "Versions"; the lines AWS offers are in `templates/*.yml`).
#[test]
fn versions_outside_the_cloud_list_warn_locally() {
    use crate::problem::{ProblemKind, Scope, Severity};
    let m = model_with(
        "services:\n  db: {image: 'postgres:12-alpine'}\n  m: {image: 'mariadb:12'}\n  v: {image: 'valkey/valkey:9'}\n  ok: {image: 'postgres:17'}\n",
        &[],
    );
    let found: Vec<_> = m
        .problems
        .iter()
        .filter_map(|p| match &p.kind {
            ProblemKind::VersionNotInCloud { version, .. } => {
                Some((version.as_str(), p.severity, p.scope))
            }
            ProblemKind::UnsupportedVersion { version, .. } => {
                Some((version.as_str(), p.severity, p.scope))
            }
            _ => None,
        })
        .collect();
    for v in ["12", "9"] {
        assert!(
            found.contains(&(v, Severity::Warning, Scope::Local)),
            "{v}: {found:?}"
        );
        assert!(
            found.contains(&(v, Severity::Error, Scope::Cloud)),
            "{v}: {found:?}"
        );
    }
    assert_eq!(found.len(), 6, "{found:?}");
}

/// Images built on the official ones are databases of that type, with the family's data
/// path and version rule (`templates/*.yml`, `images` and `container.by_image`):
/// <https://hub.docker.com/r/ankane/pgvector>, <https://github.com/timescale/timescaledb-docker-ha>,
/// <https://hub.docker.com/r/percona/percona-server>, <https://hub.docker.com/r/redis/redis-stack>.
#[test]
fn image_families_built_on_the_official_ones_are_databases() {
    let m = model_with(
        "services:\n  a: {image: 'ankane/pgvector:v0.5.1'}\n  b: {image: 'timescale/timescaledb-ha:pg16'}\n  c: {image: 'percona/percona-server:8.0'}\n  d: {image: 'redis/redis-stack:7.2.0-v10'}\n",
        &[],
    );
    let got: Vec<_> = m
        .resources
        .iter()
        .map(|r| {
            let data = r
                .template
                .family(&r.repository)
                .data_path(&r.version)
                .map(str::to_owned);
            (r.name.as_str(), r.template.name.as_str(), data)
        })
        .collect();
    let data = |s: &str| Some(s.to_owned());
    assert_eq!(
        got,
        [
            ("a", "postgres", data("/var/lib/postgresql/data")),
            ("b", "postgres", data("/home/postgres/pgdata/data")),
            ("c", "mysql", data("/var/lib/mysql")),
            ("d", "redis", data("/data")),
        ]
    );
    // `v0.5.1` is pgvector's version, not Postgres': floating, not Postgres 0.
    let a = &m.resources[0];
    assert_ne!(a.version_line, "0");
    let b = &m.resources[1];
    assert_eq!(b.version_line, "16");
}

/// A floating tag (`latest`, `alpine`, untagged) runs whatever the registry has: the local
/// plan says "resolved at pull" and shows no data path that depends on the version (the
/// official Postgres image moved it in 18: docker-library/postgres pull 1259), never the
/// default major's.
#[test]
fn floating_tags_are_resolved_at_pull_locally() {
    let text = "services:\n  db: {image: 'postgres:alpine'}\n  pinned: {image: 'postgres:16'}\n  cache: {image: redis}\n";
    let manifest = from_bytes(
        text.as_bytes(),
        PathBuf::from("docker-compose.yml"),
        "shop".into(),
        &|_| None,
    )
    .unwrap();
    let local = plan(&manifest, catalog(), Target::Local, None).unwrap();
    let got: Vec<_> = local
        .resources
        .iter()
        .map(|r| {
            let l = r.local.as_ref().unwrap();
            (
                r.name.as_str(),
                r.version_resolved_at_pull,
                l.data_path.as_deref(),
                l.volume.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("db", true, None, true),
            ("pinned", false, Some("/var/lib/postgresql/data"), true),
            // Redis keeps its data in /data whatever the version.
            ("cache", true, Some("/data"), true),
        ]
    );
    let rendered = crate::render::plan(&local);
    assert!(
        rendered.contains("postgres (version resolved at pull)"),
        "{rendered}"
    );
    // The cloud gets the default line, as the FloatingTag warning says.
    let cloud = plan(&manifest, catalog(), Target::Cloud, None).unwrap();
    assert!(!cloud.resources[0].version_resolved_at_pull);
}
