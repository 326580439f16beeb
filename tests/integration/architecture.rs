//! The shape of `src/`: no import circles between top-level modules. A circle means two
//! modules that cannot be understood (or moved, or tested) one without the other; the
//! layering the README's development section describes is what keeps the core pure.
//!
//! Read from the source text: every `crate::a` path and every `crate::{a, b::c}` group in a
//! module's files is an edge to `a` (and `b`). Test code (`tests.rs` files and whatever
//! follows `#[cfg(test)]`) may reach anywhere and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (doc comments name modules in prose) and without test code.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segments of the paths that follow each `crate::`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Nested groups: only the segments at depth 0 are top-level modules.
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        found.insert(ident(&group[i..]));
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let top = |path: &Path| -> String {
        let first = path
            .strip_prefix(&src)
            .expect("under src/")
            .components()
            .next()
            .expect("a first component");
        first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| top(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = top(file);
        let is_test = file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("tests.rs"));
        if !modules.contains(&from) || is_test {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read a source file");
        for to in crate_paths(&code_of(&text)) {
            if to != from && modules.contains(&to) {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A circle through `start`, if there is one, as the modules along it.
fn circle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn top_level_modules_import_each_other_without_circles() {
    let graph = module_graph();
    // The reader must see the crate's real shape, or this test checks nothing.
    assert!(
        graph.get("commands").is_some_and(|d| d.contains("local")),
        "the graph misses `commands -> local`: {graph:?}"
    );
    assert!(
        graph.get("model").is_some_and(|d| d.contains("manifest")),
        "the graph misses `model -> manifest`: {graph:?}"
    );
    let circles: Vec<String> = graph
        .keys()
        .filter_map(|m| circle_from(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(
        circles.is_empty(),
        "import circles between top-level modules:\n  {}",
        circles.join("\n  ")
    );
}

#[test]
fn the_reader_finds_grouped_and_nested_imports() {
    let code = "use crate::{a, b::{c, d}, e::f};\nlet x = crate::g::h();\n// crate::comment\n";
    let found = crate_paths(&code_of(code));
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["a", "b", "e", "g"]);
    let cyclic: BTreeMap<String, BTreeSet<String>> = [
        ("x".to_owned(), ["y".to_owned()].into()),
        ("y".to_owned(), ["x".to_owned()].into()),
    ]
    .into();
    assert_eq!(
        circle_from(&cyclic, "x").map(|c| c.join(" -> ")).as_deref(),
        Some("x -> y -> x")
    );
}
