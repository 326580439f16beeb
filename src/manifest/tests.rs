use std::path::PathBuf;

use super::*;
use crate::problem::ProblemKind;

fn read_with(text: &str, vars: &[(&str, &str)]) -> Manifest {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match from_bytes(
        text.as_bytes(),
        PathBuf::from("compose.yaml"),
        "shop".into(),
        &lookup,
    ) {
        Ok(m) => m,
        Err(e) => panic!("{}", e.render()),
    }
}

fn read(text: &str) -> Manifest {
    read_with(text, &[])
}

fn fatal(bytes: &[u8]) -> Vec<Problem> {
    match from_bytes(bytes, PathBuf::from("compose.yaml"), "shop".into(), &|_| {
        None
    }) {
        Err(Error::ManifestInvalid { problems, .. }) => problems,
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(m) => panic!("expected a fatal error, got {m:?}"),
    }
}

#[test]
fn reads_services_in_order_with_images() {
    let m = read("services:\n  web: {build: .}\n  db:\n    image: postgres:16\n");
    let names: Vec<_> = m.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web", "db"]);
    let image = m.services[1].image.as_ref().unwrap();
    assert_eq!(image.value, "postgres:16");
    assert_eq!((image.at.line, image.at.col), (4, 12));
    assert_eq!(image.path, "services.db.image");
    assert!(m.problems.is_empty(), "{:?}", m.problems);
}

#[test]
fn links_and_depends_on_in_every_form() {
    let m = read(
        "services:\n  web:\n    links: [db, 'cache:sessions']\n    depends_on: [queue]\n  worker:\n    depends_on:\n      db: {condition: service_healthy}\n",
    );
    let web = &m.services[0];
    let got: Vec<_> = web
        .links
        .iter()
        .map(|l| (l.target.as_str(), l.alias.as_deref(), l.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("db", None, LinkKind::Links),
            ("cache", Some("sessions"), LinkKind::Links),
            ("queue", None, LinkKind::DependsOn)
        ]
    );
    assert_eq!(web.links[1].path, "services.web.links[1]");
    let worker = &m.services[1];
    assert_eq!(worker.links[0].target, "db");
    assert_eq!(worker.links[0].path, "services.worker.depends_on.db");
}

#[test]
fn environment_as_map_or_list() {
    let m = read(
        "services:\n  a:\n    environment: {A: 1, B: null, C: x}\n  b:\n    environment: [A=1, B, C=x=y]\n",
    );
    let vars = |i: usize| -> Vec<(String, Option<String>)> {
        m.services[i]
            .environment
            .iter()
            .map(|v| (v.value.name.clone(), v.value.value.clone()))
            .collect()
    };
    let a = vars(0);
    assert_eq!(a[0], ("A".into(), Some("1".into())));
    assert_eq!(a[1], ("B".into(), None));
    let b = vars(1);
    assert_eq!(b[2], ("C".into(), Some("x=y".into())));
    assert_eq!(b[1], ("B".into(), None));
}

#[test]
fn ports_short_and_long() {
    let m = read(
        "services:\n  db:\n    ports: ['15432:5432', '127.0.0.1:6380:6379/tcp', 5433, '[::1]:3307:3306', '8000-8010:8000-8010', {target: 11211, published: 11212}, '127.0.0.1::9000']\n",
    );
    let ports: Vec<_> = m.services[0]
        .ports
        .iter()
        .map(|p| (p.value.published, p.value.target))
        .collect();
    assert_eq!(
        ports,
        [
            (Some(15432), 5432),
            (Some(6380), 6379),
            (None, 5433),
            (Some(3307), 3306),
            (Some(11212), 11211),
            (None, 9000)
        ]
    );
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let bad = read("services:\n  db:\n    ports: ['x:y']\n");
    assert!(matches!(
        bad.problems[0].kind,
        ProblemKind::InvalidValue { .. }
    ));
    assert_eq!(bad.problems[0].path, "services.db.ports[0]");
}

#[test]
fn extension_options_are_typed_and_checked() {
    let m = read(
        "x-provision:\n  project: Shop\n  cloud: {region: eu-west-1, subnet_ids: [a, b], tags: {team: core}}\nservices:\n  db:\n    image: postgres\n    x-provision:\n      version: '16'\n      database: shop\n      local: {port: 15432}\n      cloud: {class: db.m7g.large, storage_gb: '100', multi_az: true, deletion_protection: false, backup_retention_days: 3}\n",
    );
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.project.as_ref().unwrap().value, "Shop");
    assert_eq!(m.cloud.region.as_ref().unwrap().value, "eu-west-1");
    assert_eq!(m.cloud.subnet_ids, ["a", "b"]);
    assert_eq!(m.cloud.tags, [("team".to_owned(), "core".to_owned())]);
    let ext = &m.services[0].ext;
    assert_eq!(ext.version.as_ref().unwrap().value, "16");
    assert_eq!(ext.local_port.as_ref().unwrap().value, 15432);
    assert_eq!(ext.cloud.storage_gb.as_ref().unwrap().value, 100);
    assert_eq!(ext.cloud.multi_az.as_ref().map(|l| l.value), Some(true));
    assert_eq!(
        ext.cloud.deletion_protection.as_ref().map(|l| l.value),
        Some(false)
    );
    assert_eq!(ext.cloud.given().len(), 5);
}

#[test]
fn unknown_extension_keys_suggest_the_right_one() {
    let m = read(
        "x-provision: {projet: x}\nservices:\n  db:\n    image: redis\n    x-provision: {verison: '7', cloud: {replica: 2}, local: {prot: 1}}\n",
    );
    let found: Vec<_> = m
        .problems
        .iter()
        .map(|p| match &p.kind {
            ProblemKind::UnknownKey {
                key, suggestion, ..
            } => (key.as_str(), suggestion.as_deref(), p.path.as_str()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            ("projet", Some("project"), "x-provision.projet"),
            (
                "verison",
                Some("version"),
                "services.db.x-provision.verison"
            ),
            (
                "replica",
                Some("replicas"),
                "services.db.x-provision.cloud.replica"
            ),
            ("prot", Some("port"), "services.db.x-provision.local.prot"),
        ]
    );
}

#[test]
fn wrong_types_and_ranges_are_reported_where_written() {
    let m = read(
        "services:\n  db:\n    image: postgres\n    x-provision:\n      local: {port: 70000}\n      cloud: {multi_az: maybe, storage_gb: [1]}\n    links: nope\n",
    );
    let paths: Vec<_> = m
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.at.map(|a| a.line)))
        .collect();
    assert_eq!(
        paths,
        [
            ("services.db.x-provision.local.port", Some(5)),
            ("services.db.x-provision.cloud.multi_az", Some(6)),
            ("services.db.x-provision.cloud.storage_gb", Some(6)),
            ("services.db.links", Some(7)),
        ]
    );
}

#[test]
fn interpolation_uses_the_variables() {
    let m = read_with(
        "name: ${APP:-fallback}\nservices:\n  db:\n    image: postgres:${PG_VERSION}\n    x-provision: {local: {port: '${PORT:-5433}'}}\n",
        &[("PG_VERSION", "16")],
    );
    assert_eq!(m.name.as_ref().unwrap().value, "fallback");
    assert_eq!(m.services[0].image.as_ref().unwrap().value, "postgres:16");
    assert_eq!(m.services[0].ext.local_port.as_ref().unwrap().value, 5433);
    let missing = read("services:\n  db:\n    image: postgres:${PG_VERSION}\n");
    assert_eq!(
        missing.problems[0].kind,
        ProblemKind::UndefinedVariable {
            name: "PG_VERSION".into()
        }
    );
    assert_eq!(
        missing.problems[0].at.map(|a| (a.line, a.col)),
        Some((3, 12))
    );
    // `$$` is a literal dollar, in any field.
    let literal = read("services:\n  db:\n    image: postgres\n    environment: {X: '$$HOME'}\n");
    assert_eq!(
        literal.services[0].environment[0].value.value.as_deref(),
        Some("$HOME")
    );
}

#[test]
fn fatal_shapes() {
    assert_eq!(
        fatal(b"").first().map(|p| &p.kind),
        Some(&ProblemKind::Empty)
    );
    assert_eq!(
        fatal(b"# nothing\n").first().map(|p| &p.kind),
        Some(&ProblemKind::Empty)
    );
    assert!(matches!(
        fatal(b"- a\n- b\n")[0].kind,
        ProblemKind::TopLevelNotMap { found: "a list" }
    ));
    assert!(matches!(
        fatal(b"just text")[0].kind,
        ProblemKind::TopLevelNotMap { .. }
    ));
    assert_eq!(fatal(b"\xff\xfe\x00garbage")[0].kind, ProblemKind::NotUtf8);
    assert!(matches!(
        fatal(b"services: {a: [\n")[0].kind,
        ProblemKind::Syntax { .. }
    ));
    assert_eq!(
        fatal(b"services:\n  a: {}\n  a: {}\n")[0].kind,
        ProblemKind::DuplicateKey { key: "a".into() }
    );
}

#[test]
fn services_missing_or_mistyped() {
    let none = read("name: x\n");
    assert_eq!(none.problems[0].kind, ProblemKind::NoServices);
    let list = read("services: [a, b]\n");
    assert_eq!(list.problems.len(), 1, "{:?}", list.problems);
    assert!(matches!(
        list.problems[0].kind,
        ProblemKind::WrongType {
            expected: "a map",
            found: "a list"
        }
    ));
}

#[test]
fn a_bom_and_compose_extras_are_fine() {
    let m = read(
        "\u{feff}version: '3.9'\nservices:\n  db: {image: redis, healthcheck: {test: [CMD, redis-cli, ping]}, profiles: [dev]}\nvolumes: {data: {}}\nx-other: 1\n",
    );
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.services.len(), 1);
}

#[test]
fn service_names_that_could_escape_a_directory_are_refused() {
    for bad in ["'/tmp/x'", "'../other'", "'a/b'", "'.hidden'", "'a..b'"] {
        let m = read(&format!("services:\n  {bad}: {{image: redis}}\n"));
        assert!(m.services.is_empty(), "{bad} was accepted");
        assert!(
            matches!(m.problems[0].kind, ProblemKind::InvalidValue { .. }),
            "{bad}: {:?}",
            m.problems
        );
    }
    let ok = read("services:\n  web.v2_a-1: {image: redis}\n");
    assert_eq!(ok.services.len(), 1);
}

#[test]
fn unquoted_decimal_versions_are_refused() {
    let m = read("services:\n  db: {image: mysql, x-provision: {version: 8.0}}\n");
    assert!(
        matches!(&m.problems[0].kind, ProblemKind::InvalidValue { expected, .. } if expected.contains("quoted")),
        "{:?}",
        m.problems
    );
    let m = read("services:\n  db: {image: mysql, x-provision: {version: '8.0'}}\n");
    assert_eq!(m.services[0].ext.version.as_ref().unwrap().value, "8.0");
}

#[test]
fn local_apps_selects_containers_or_processes() {
    let m = read("x-provision:\n  local: {apps: containers}\nservices:\n  web: {build: .}\n");
    assert_eq!(m.apps_in_containers, Some(true));
    let m = read("x-provision:\n  local: {apps: processes}\nservices:\n  web: {build: .}\n");
    assert_eq!(m.apps_in_containers, Some(false));
    let m = read("services:\n  web: {build: .}\n");
    assert_eq!(m.apps_in_containers, None);
    let m = read("x-provision:\n  local: {apps: vms}\nservices:\n  web: {build: .}\n");
    assert_eq!(m.apps_in_containers, None);
    assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
    assert_eq!(m.problems[0].path, "x-provision.local.apps");
}
