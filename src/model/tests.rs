use std::path::PathBuf;

use super::*;
use crate::catalog::CloudService;
use crate::manifest::from_bytes;
use crate::problem::{IdentifierRule, Pos};

fn model_of(text: &str) -> (Model<'static>, Vec<ProblemKind>) {
    let catalog: &'static Catalog = Box::leak(Box::new(Catalog::builtin().unwrap()));
    let manifest = from_bytes(
        text.as_bytes(),
        PathBuf::from("compose.yaml"),
        "My Shop".into(),
        &|_| None,
    )
    .unwrap();
    let model = resolve(&manifest, catalog, None).unwrap();
    // Untagged images are everywhere in these tests; `family_tags_and_floating_tags`
    // checks that warning on its own.
    let kinds = model
        .problems
        .iter()
        .map(|p| p.kind.clone())
        .filter(|k| !matches!(k, ProblemKind::FloatingTag { .. }))
        .collect();
    (model, kinds)
}

#[test]
fn names_and_identifiers() {
    assert_eq!(normalize_project("My Shop"), "my-shop");
    assert_eq!(normalize_project("--a__b--"), "a-b");
    assert_eq!(normalize_project("!!!"), "");
    assert_eq!(link_prefix("my-cache.v2"), "MY_CACHE_V2");
    assert_eq!(cloud_identifier("shop", "Main_DB"), "shop-main-db");
    assert_eq!(identifier_rule_broken("shop-db", CloudService::Rds), None);
    assert_eq!(
        identifier_rule_broken("1shop-db", CloudService::Rds),
        Some(IdentifierRule::StartsWithLetter)
    );
    assert_eq!(
        identifier_rule_broken("shop--db", CloudService::Rds),
        Some(IdentifierRule::DoubleHyphen)
    );
    assert_eq!(
        identifier_rule_broken("shop-", CloudService::Rds),
        Some(IdentifierRule::TrailingHyphen)
    );
    let long = format!("a{}", "b".repeat(40));
    assert_eq!(
        identifier_rule_broken(&long, CloudService::ElasticacheReplicationGroup),
        Some(IdentifierRule::TooLong { max: 40, len: 41 })
    );
    assert_eq!(identifier_rule_broken(&long, CloudService::Rds), None);
}

#[test]
fn classifies_resources_and_apps_with_defaults() {
    let (m, problems) = model_of(
        "services:\n  web: {image: node:20, links: [pg, 'kv:cache'], depends_on: [mc, worker]}\n  worker: {image: node:20, depends_on: {pg: {condition: service_started}}}\n  pg: {image: 'library/postgres:16.4-alpine'}\n  kv: {image: valkey/valkey}\n  mc: {x-provision: {type: memcached}}\n  my: {image: mysql, x-provision: {version: '8.0', database: shop, username: shopper}}\n",
    );
    assert_eq!(m.project.name, "my-shop");
    assert_eq!(m.project.source, ProjectSource::Directory);
    let got: Vec<_> = m
        .resources
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.template.name.as_str(),
                r.version.as_str(),
                r.version_line.as_str(),
                r.image.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "pg",
                "postgres",
                "16.4",
                "16",
                "library/postgres:16.4-alpine"
            ),
            ("kv", "valkey", "8", "8", "valkey/valkey"),
            ("mc", "memcached", "1.6", "1.6", "memcached:1.6"),
            ("my", "mysql", "8.0", "8.0", "mysql:8.0"),
        ]
    );
    let pg = &m.resources[0];
    assert_eq!(
        (pg.database.as_deref(), pg.username.as_deref()),
        (Some("app"), Some("app"))
    );
    assert_eq!(
        m.resources[1].database, None,
        "key-value stores have no database name"
    );
    assert_eq!(
        (
            m.resources[3].database.as_deref(),
            m.resources[3].username.as_deref()
        ),
        (Some("shop"), Some("shopper"))
    );
    assert_eq!(pg.identifier, "my-shop-pg");
    assert_eq!(
        pg.cloud,
        CloudConfig {
            class: "db.t4g.micro".into(),
            storage_gb: Some(20),
            replicas: 0,
            multi_az: false,
            deletion_protection: true,
            backup_retention_days: 7,
            max_storage_gb: None,
            extended_support: false,
            iam_auth: false,
            from_snapshot: None,
            serverless: None,
            adopt: None,
        }
    );
    let web: Vec<_> = m.apps[0]
        .links
        .iter()
        .map(|l| (l.resource.as_str(), l.prefix.as_str()))
        .collect();
    assert_eq!(web, [("pg", "PG"), ("kv", "CACHE"), ("mc", "MC")]);
    assert_eq!(
        m.apps[1].links,
        [Link {
            resource: "pg".into(),
            prefix: "PG".into(),
            flavour: None,
        }]
    );
    // `my` is linked by nobody: the one warning.
    assert_eq!(
        problems,
        [ProblemKind::NotLinked {
            resource: "my".into()
        }]
    );
}

#[test]
fn version_sources_and_unsupported_versions() {
    let (m, _) = model_of(
        "services:\n  a: {image: postgres, x-provision: {version: '15'}}\n  b: {image: 'postgres:14', x-provision: {version: '15'}}\n  c: {image: redis}\n",
    );
    let versions: Vec<_> = m
        .resources
        .iter()
        .map(|r| (r.version.as_str(), r.image.as_str()))
        .collect();
    assert_eq!(
        versions,
        [
            ("15", "postgres:15"),
            ("14", "postgres:14"),
            // Untagged stays untagged: Compose's `latest`; the backend reads the version.
            ("7", "redis")
        ]
    );
    // Old versions run locally; only the cloud refuses them, naming the nearest it offers.
    let (m, problems) = model_of(
        "services:\n  a: {image: 'postgres:9.6'}\n  b: {image: redis, x-provision: {version: '5'}}\n",
    );
    assert_eq!(m.resources.len(), 2);
    assert_eq!(m.resources[0].version_line, "9");
    assert!(
        matches!(&problems[0], ProblemKind::UnsupportedVersion { nearest: Some(n), .. } if n == "13")
    );
    assert!(
        matches!(&problems[0], ProblemKind::UnsupportedVersion { version, .. } if version == "9.6")
    );
    // [1] is the local warning that goes with [0] (`VersionNotInCloud`).
    assert!(matches!(
        &problems[1],
        ProblemKind::VersionNotInCloud { .. }
    ));
    assert!(
        matches!(&problems[2], ProblemKind::UnsupportedVersion { version, .. } if version == "5")
    );
}

#[test]
fn family_tags_and_floating_tags() {
    let (m, problems) = model_of(
        "services:\n  a: {image: 'pgvector/pgvector:0.8.0-pg17'}\n  b: {image: 'timescale/timescaledb:latest-pg16'}\n  c: {image: 'postgres:alpine'}\n  d: {image: postgres, x-provision: {version: '16'}}\n",
    );
    let versions: Vec<_> = m.resources.iter().map(|r| r.version.as_str()).collect();
    assert_eq!(versions, ["17", "16", "17", "16"]);
    assert!(problems.is_empty(), "{problems:?}");
    let floating: Vec<_> = m
        .problems
        .iter()
        .filter_map(|p| match &p.kind {
            ProblemKind::FloatingTag { image, .. } => Some(image.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(floating, ["postgres:alpine"]);
}

#[test]
fn unknown_and_conflicting_types() {
    let (m, problems) = model_of(
        "services:\n  a: {image: redis, x-provision: {type: postgres}}\n  b: {x-provision: {type: rediss}}\n  c: {image: custom, x-provision: {version: '1'}}\n  web: {links: [a, b, c]}\n",
    );
    assert!(m.resources.is_empty());
    assert!(
        matches!(&problems[0], ProblemKind::TypeConflict { image_type, .. } if image_type == "redis")
    );
    assert!(
        matches!(&problems[1], ProblemKind::UnknownType { suggestion: Some(s), .. } if s == "redis")
    );
    assert!(matches!(
        &problems[2],
        ProblemKind::ExtensionWithoutType { image: Some(_) }
    ));
    // Links to broken databases add no second error.
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn link_errors() {
    let (_, problems) = model_of(
        "services:\n  db: {image: postgres}\n  other: {image: postgres}\n  api: {image: node}\n  web:\n    links: [dbb, api, 'db:main', 'other:main']\n    environment: {MAIN_URL: x}\n",
    );
    assert!(
        matches!(&problems[0], ProblemKind::LinkToMissing { suggestion: Some(s), .. } if s == "db")
    );
    assert!(matches!(&problems[1], ProblemKind::LinkToApp { target, .. } if target == "api"));
    assert!(
        matches!(&problems[2], ProblemKind::DuplicatePrefix { prefix, .. } if prefix == "MAIN")
    );
    assert!(
        matches!(&problems[3], ProblemKind::EnvCollision { variable, .. } if variable == "MAIN_URL")
    );
    assert_eq!(problems.len(), 5, "{problems:?}"); // + `other` is linked by nobody
}

#[test]
fn sql_options_on_key_value_stores_and_cloud_options_by_type() {
    let (m, problems) = model_of(
        "services:\n  kv: {image: redis, x-provision: {database: x, cloud: {storage_gb: 50, replicas: 2}}}\n",
    );
    assert!(m.resources.is_empty());
    assert!(
        matches!(&problems[0], ProblemKind::OptionNotForSql { option, .. } if option == "database")
    );
    assert!(
        matches!(&problems[1], ProblemKind::OptionNotForType { option, .. } if option == "storage_gb")
    );
    let (m, problems) = model_of(
        "services:\n  kv: {image: redis, x-provision: {cloud: {storage_gb: 50}}}\n  pg: {image: postgres, x-provision: {cloud: {storage_gb: 10}}}\n",
    );
    // Cloud-only problems keep the resource for local use.
    assert_eq!(m.resources.len(), 2);
    assert_eq!(
        m.problems
            .iter()
            .filter(|p| p.scope == Scope::Cloud && p.is_error())
            .count(),
        2,
        "{problems:?}"
    );
}

#[test]
fn warnings_for_default_passwords_and_ports_elsewhere() {
    let (m, problems) = model_of(
        "services:\n  db:\n    image: postgres\n    ports: ['8080:80']\n    environment: {POSTGRES_PASSWORD: postgres}\n",
    );
    assert_eq!(m.resources.len(), 1);
    assert!(matches!(
        &problems[0],
        ProblemKind::PortNotPublished {
            container_port: 5432,
            ..
        }
    ));
    assert!(
        matches!(&problems[1], ProblemKind::DefaultPassword { variable, .. } if variable == "POSTGRES_PASSWORD")
    );
    assert!(m.problems.iter().all(|p| !p.is_error()));
}

#[test]
fn local_ports_from_extension_or_compose_ports() {
    let (m, _) = model_of(
        "services:\n  a: {image: postgres, ports: ['15432:5432']}\n  b: {image: redis, ports: ['6380:6379'], x-provision: {local: {port: 7000}}}\n  c: {image: mariadb, ports: ['3306']}\n",
    );
    let ports: Vec<_> = m.resources.iter().map(|r| r.local_port).collect();
    assert_eq!(ports, [Some(15432), Some(7000), None]);
}

#[test]
fn project_sources() {
    let (m, _) = model_of("name: Compose Name\nservices: {db: {image: redis}}\n");
    assert_eq!(
        (m.project.name.as_str(), m.project.source),
        ("compose-name", ProjectSource::ComposeName)
    );
    let (m, _) = model_of("name: a\nx-provision: {project: B}\nservices: {db: {image: redis}}\n");
    assert_eq!(
        (m.project.name.as_str(), m.project.source),
        ("b", ProjectSource::Extension)
    );
    let (_, problems) = model_of("x-provision: {project: '***'}\nservices: {db: {image: redis}}\n");
    assert!(matches!(&problems[0], ProblemKind::InvalidProject { .. }));
}

/// Compose's order: `-p`, `COMPOSE_PROJECT_NAME` (the shell, then `.env`), `name:`, the
/// directory (<https://docs.docker.com/compose/how-tos/project-name/>); provision's own
/// `x-provision.project` right after `-p`.
#[test]
fn compose_project_name_comes_before_name() {
    let catalog: &'static Catalog = Box::leak(Box::new(Catalog::builtin().unwrap()));
    let project = |text: &str, flag: Option<&str>| {
        let manifest = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "dir".into(),
            &|n| (n == "COMPOSE_PROJECT_NAME").then(|| "From_Env".to_owned()),
        )
        .unwrap();
        let p = resolve(&manifest, catalog, flag).unwrap().project;
        (p.name, p.source)
    };
    let file = "name: from-name\nservices: {db: {image: redis}}\n";
    assert_eq!(
        project(file, None),
        ("from-env".into(), ProjectSource::ComposeProjectName)
    );
    assert_eq!(
        project(file, Some("flag")),
        ("flag".into(), ProjectSource::Flag)
    );
    assert_eq!(
        project(
            "x-provision: {project: ours}\nservices: {db: {image: redis}}\n",
            None
        ),
        ("ours".into(), ProjectSource::Extension)
    );
}

#[test]
fn two_databases_folding_to_one_cloud_identifier() {
    let (m, problems) = model_of("services:\n  a_b: {image: redis}\n  a-b: {image: redis}\n");
    assert_eq!(m.resources.len(), 2, "fine locally");
    assert!(
        matches!(&problems[0], ProblemKind::InvalidValue { expected, .. } if expected.contains("`my-shop-a-b`")),
        "{problems:?}"
    );
    assert_eq!(m.problems[0].scope, Scope::Cloud);
}

#[test]
fn no_databases() {
    let (_, problems) = model_of("services: {web: {image: node}}\n");
    assert_eq!(problems, [ProblemKind::NoDatabases]);
}

#[test]
fn url_flavours_for_every_link_or_one() {
    let (m, problems) = model_of(
        "services:\n  web: {image: node, links: [pg, my, kv], x-provision: {url: jdbc}}\n  node: {image: node, links: [my, 'pg:main'], x-provision: {url: {my: mysql2}}}\n  pg: {image: postgres}\n  my: {image: mysql}\n  kv: {image: redis}\n",
    );
    assert_eq!(problems, []);
    let flavours = |app: &str| -> Vec<(String, Option<String>)> {
        m.apps
            .iter()
            .find(|a| a.name == app)
            .unwrap()
            .links
            .iter()
            .map(|l| (l.resource.clone(), l.flavour.clone()))
            .collect()
    };
    // Redis has no `jdbc`: its URL stays the default.
    assert_eq!(
        flavours("web"),
        [
            ("pg".into(), Some("jdbc".into())),
            ("my".into(), Some("jdbc".into())),
            ("kv".into(), None)
        ]
    );
    assert_eq!(
        flavours("node"),
        [("my".into(), Some("mysql2".into())), ("pg".into(), None)]
    );
}

#[test]
fn url_flavour_mistakes_are_errors_where_written() {
    let (m, _) = model_of(
        "services:\n  web: {image: node, links: [pg], x-provision: {url: jdcb}}\n  api: {image: node, links: [pg], x-provision: {url: {cache: jdbc}}}\n  job: {image: node, links: [kv], x-provision: {url: {kv: jdbc}}}\n  pg: {image: postgres, x-provision: {url: jdbc}}\n  kv: {image: redis}\n",
    );
    let errors: Vec<(String, u32, String)> = m
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| {
            let ProblemKind::InvalidValue { value, expected } = &p.kind else {
                panic!("{:?}", p.kind)
            };
            (
                p.path.clone(),
                p.at.map_or(0, |a| a.line),
                format!("{value}: {expected}"),
            )
        })
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|(path, line, text)| path == "services.web.x-provision.url"
                && *line == 2
                && text.starts_with("jdcb: one of "))
    );
    assert!(errors.iter().any(
        |(path, line, text)| path == "services.api.x-provision.url.cache"
            && *line == 3
            && text.starts_with("cache: a database `api` links to")
    ));
    assert!(
        errors
            .iter()
            .any(|(path, _, text)| path == "services.job.x-provision.url.kv"
                && text == "jdbc: one of redis-py")
    );
    assert!(
        errors
            .iter()
            .any(|(path, line, text)| path == "services.pg.x-provision.url"
                && *line == 5
                && text.contains("belongs on the app service"))
    );
}

/// RDS reserves `admin`, `rdsadmin` and `pg_*` master users on PostgreSQL; MySQL takes
/// `admin`. The problem sits where the name was written (the image's variable here).
#[test]
fn reserved_master_user_names_are_cloud_errors_where_written() {
    let (model, _) = model_of(
        "services:\n  a:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: admin\n  b: {image: 'postgres:16', x-provision: {username: PG_Monitor}}\n  c: {image: 'postgres:16', x-provision: {username: pgadmin}}\n  d: {image: 'mysql:8.4', x-provision: {username: admin}}\n  e: {image: 'mysql:8.4', x-provision: {username: rdsadmin}}\n",
    );
    let users: Vec<(&str, String, Pos, Scope)> = model
        .problems
        .iter()
        .filter_map(|p| match &p.kind {
            ProblemKind::CloudUsername { resource, rule, .. } => {
                Some((resource.as_str(), rule.clone(), p.at?, p.scope))
            }
            _ => None,
        })
        .collect();
    assert_eq!(users.len(), 3, "{users:?}");
    assert_eq!(users[0].0, "a");
    assert_eq!(users[0].2, Pos::at(5, 7));
    assert!(users[0].1.contains("`admin` is reserved"), "{}", users[0].1);
    assert_eq!(users[1].0, "b");
    assert!(users[1].1.contains("start with `pg_`"), "{}", users[1].1);
    assert_eq!(users[2].0, "e");
    assert!(users.iter().all(|u| u.3 == Scope::Cloud));
    let hint = model
        .problems
        .iter()
        .find(|p| matches!(p.kind, ProblemKind::CloudUsername { .. }))
        .and_then(Problem::hint)
        .unwrap_or_default();
    assert!(
        hint.contains("`POSTGRES_USER`") && hint.contains("x-provision.username"),
        "{hint}"
    );
}

/// `DBName`: 64 characters on MySQL, 63 on PostgreSQL.
#[test]
fn database_name_limits_are_per_engine() {
    let name = format!("d{}", "b".repeat(63));
    let (model, _) = model_of(&format!(
        "services:\n  my: {{image: 'mysql:8.4', x-provision: {{database: {name}}}}}\n  pg: {{image: 'postgres:16', x-provision: {{database: {name}}}}}\n"
    ));
    let errors: Vec<&Problem> = model.problems.iter().filter(|p| p.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "services.pg.x-provision.database");
    assert_eq!(errors[0].scope, Scope::Cloud);
    assert_eq!(model.resources[0].database.as_deref(), Some(name.as_str()));
}
