//! Property tests: arbitrary bytes and arbitrary YAML thrown at the manifest reader, model,
//! plan and doctor. The property is simple and strict: no panic, and every failure is a
//! manifest error that renders. Inputs built to exhaust the reader (deep nesting, alias
//! bombs) must be refused with a located error, not merely survived.

use std::path::PathBuf;

use proptest::prelude::*;
use provision::catalog::Catalog;
use provision::error::Error;
use provision::plan::Target;
use provision::{doctor, manifest, plan};

/// Runs everything on `bytes`; `Err` with the rendered error when the manifest is refused.
fn exercise(bytes: &[u8]) -> Result<(), String> {
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
            Ok(())
        }
        Err(e @ Error::ManifestInvalid { .. }) => {
            let text = e.render();
            assert!(text.starts_with("error: "), "{text}");
            Err(text)
        }
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
        let _ = exercise(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t:{}\\[\\]&*!|>'\"#%@`-]{0,300}") {
        let _ = exercise(text.as_bytes());
    }

    #[test]
    fn arbitrary_yaml_never_panics(body in yamlish()) {
        let _ = exercise(format!("services: {body}\n").as_bytes());
        let _ = exercise(body.as_bytes());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("services: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let e = exercise(deep.as_bytes()).expect_err("10,000 nested flow sequences are refused");
    assert!(
        e.contains("compose.yaml:1:") && e.contains("nested more than 32 levels deep"),
        "{e}"
    );
    let deep_block: String = (0..5000)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    let e = exercise(deep_block.as_bytes()).expect_err("5,000 nested block mappings are refused");
    assert!(
        e.contains("compose.yaml:33:") && e.contains("nested more than 32 levels deep"),
        "{e}"
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    text.push_str("services: {db: {image: redis, x: *a11}}\n");
    // Refused while the aliases are expanded (a budget on recorded anchor events), before
    // the expansion (10^12 nodes) can take the machine's memory.
    let e = exercise(text.as_bytes()).expect_err("an alias bomb is refused");
    assert!(
        e.contains("compose.yaml:")
            && e.contains("not valid YAML")
            && e.contains(
                "anchors and aliases expand to more than 1000000 YAML nodes (an alias bomb?)"
            ),
        "{e}"
    );
}
