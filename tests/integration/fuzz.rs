//! Property tests: arbitrary bytes and arbitrary YAML thrown at the manifest reader, model,
//! plan and doctor. The property is simple and strict: no panic, and every failure is a
//! manifest error that renders.

use std::path::PathBuf;

use proptest::prelude::*;
use provision::catalog::Catalog;
use provision::error::Error;
use provision::plan::Target;
use provision::{doctor, manifest, plan};

fn exercise(bytes: &[u8]) {
    let catalog = Catalog::builtin().unwrap();
    let vars = |name: &str| (name == "SET").then(|| "value".to_owned());
    match manifest::from_bytes(bytes, PathBuf::from("compose.yaml"), "fuzz".into(), &vars) {
        Ok(m) => {
            for target in [Target::Local, Target::Cloud] {
                match plan::plan(&m, &catalog, target, None) {
                    Ok(p) => {
                        serde_json::to_string(&p).unwrap();
                    }
                    Err(e @ Error::ManifestInvalid { .. }) => assert!(!e.render().is_empty()),
                    Err(other) => panic!("unexpected error kind: {other:?}"),
                }
            }
            let report = doctor::run(&m, &catalog, &[Target::Local, Target::Cloud], None).unwrap();
            assert!(!report.render_text().is_empty());
        }
        Err(e @ Error::ManifestInvalid { .. }) => assert!(e.render().starts_with("error: ")),
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

/// YAML built from the words a Compose file uses, so the fuzzer reaches the deep paths.
fn yamlish() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "services",
        "image",
        "x-provision",
        "links",
        "depends_on",
        "environment",
        "ports",
        "type",
        "version",
        "database",
        "username",
        "local",
        "cloud",
        "port",
        "class",
        "storage_gb",
        "replicas",
        "multi_az",
        "project",
        "name",
        "postgres:16",
        "redis",
        "mysql:8.4",
        "valkey/valkey",
        "memcached",
        "db",
        "web",
        "db:alias",
        "5432",
        "15432:5432",
        "${SET}",
        "${UNSET}",
        "${X:-d}",
        "$$",
        "true",
        "~",
        "-1",
        "99999999999999999999",
        "<<",
        "&a",
        "*a",
        "rediss",
        "9.6",
        "",
    ]);
    let leaf = word.prop_map(|w| format!("\"{w}\"")).boxed();
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "services",
                        "image",
                        "x-provision",
                        "links",
                        "depends_on",
                        "environment",
                        "ports",
                        "type",
                        "version",
                        "database",
                        "local",
                        "cloud",
                        "port",
                        "db",
                        "web",
                        "name",
                        "project",
                        "storage_gb"
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|entries| format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ]
    })
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t:{}\\[\\]&*!|>'\"#%@`-]{0,300}") {
        exercise(text.as_bytes());
    }

    #[test]
    fn arbitrary_yaml_never_panics(body in yamlish()) {
        exercise(format!("services: {body}\n").as_bytes());
        exercise(body.as_bytes());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("services: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    exercise(deep.as_bytes());
    let deep_block: String = (0..5000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    exercise(deep_block.as_bytes());
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    text.push_str("services: {db: {image: redis, x: *a11}}\n");
    exercise(text.as_bytes());
}
