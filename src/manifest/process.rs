//! The Compose keys that say how an app service runs: `command` (in its two forms),
//! `entrypoint`, `working_dir`, `restart`, `build`. Only `provision start` needs them; they
//! are read here with positions and interpolation like every other key. (`env_file:` is
//! folded into `environment:` when the files are loaded, in `compose.rs`.) As for other keys
//! of app services, their problems are deferred: `start` reports them for the apps it runs.
//!
//! Shapes follow the Compose specification's service reference
//! (<https://docs.docker.com/reference/compose-file/services/>): `command` and `entrypoint`
//! are a string or a list; `restart` one of `no`, `always`, `on-failure[:max-retries]`,
//! `unless-stopped`; `build` a context string or `{context, dockerfile, args, target}`.
//! Relative paths are resolved against the directory of the file that wrote them.

use std::path::PathBuf;

use super::Located;
use super::interpolate::interpolate;
use super::reader::Reader;
use super::yaml::{Kind, Node};

/// How an app service runs, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    pub command: Option<Words>,
    pub entrypoint: Option<Located<Words>>,
    /// Resolved against the writing file's directory.
    pub working_dir: Option<Located<PathBuf>>,
    pub restart: Option<Located<Restart>>,
    pub build: Option<Located<Build>>,
}

/// A command as Compose accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Words {
    /// `command: python3 web.py`: a shell line.
    Shell(String),
    /// `command: ["python3", "web.py"]`: the argument vector itself.
    List(Vec<String>),
}

/// Compose's `restart:` policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    /// Restart after a non-zero exit, at most this many times if given.
    OnFailure(Option<u32>),
    UnlessStopped,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Build {
    /// Resolved against the writing file's directory.
    pub context: PathBuf,
    pub dockerfile: Option<String>,
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
}

/// The keys this module reads, for `service_fields`.
pub const KEYS: &[&str] = &["entrypoint", "working_dir", "restart", "build"];

impl Reader<'_> {
    /// Reads one of [`KEYS`] into `process`.
    pub(super) fn process_field(
        &mut self,
        key: &str,
        value: &Node,
        path: &str,
        process: &mut Process,
    ) {
        match key {
            "entrypoint" => {
                process.entrypoint = self.words(value, path).map(|w| located(w, value, path));
            }
            "working_dir" => {
                process.working_dir = self.string(value, path).map(|w| Located {
                    value: self.resolve(&w.value, value),
                    at: w.at,
                    path: w.path,
                });
            }
            "restart" => {
                process.restart = self.restart(value, path).map(|r| located(r, value, path));
            }
            _ => process.build = self.build(value, path).map(|b| located(b, value, path)),
        }
    }
}

fn located<T>(value: T, node: &Node, path: &str) -> Located<T> {
    Located {
        value,
        at: node.at,
        path: path.to_owned(),
    }
}

impl Reader<'_> {
    /// `command:` in the form `start` runs it: a list as it is (the words `command()` read),
    /// a string as the shell line it is (interpolated; its problems are `command()`'s).
    pub(super) fn command_words(
        &self,
        node: &Node,
        words: Option<&Located<Vec<String>>>,
    ) -> Option<Words> {
        match &node.kind {
            Kind::Seq(_) => words.map(|w| Words::List(w.value.clone())),
            Kind::Str(s) => {
                let vars = self.vars;
                interpolate(s, &|name| vars(node.at.file, name))
                    .ok()
                    .map(Words::Shell)
            }
            _ => node.scalar_text().map(Words::Shell),
        }
    }

    /// A host path written in `node`'s file, relative to that file's directory.
    fn resolve(&self, written: &str, node: &Node) -> PathBuf {
        self.dirs
            .get(usize::from(node.at.file))
            .map_or_else(|| PathBuf::from(written), |dir| dir.join(written))
    }

    fn words(&mut self, node: &Node, path: &str) -> Option<Words> {
        match &node.kind {
            // `command: null` resets it (used by overrides): no command.
            Kind::Null => None,
            Kind::Seq(_) => Some(Words::List(self.strings(node, path))),
            _ => self.text(node, path).map(Words::Shell),
        }
    }

    fn restart(&mut self, node: &Node, path: &str) -> Option<Restart> {
        // `restart: no` unquoted is YAML's boolean false in YAML 1.1 readers; take it as meant.
        if let Kind::Bool(false) = node.kind {
            return Some(Restart::No);
        }
        let text = self.text(node, path)?;
        let policy = match text.trim() {
            "no" | "\"no\"" => Restart::No,
            "always" => Restart::Always,
            "unless-stopped" => Restart::UnlessStopped,
            "on-failure" => Restart::OnFailure(None),
            other => match other
                .strip_prefix("on-failure:")
                .map(|n| n.trim().parse::<u32>())
            {
                Some(Ok(n)) => Restart::OnFailure(Some(n)),
                _ => {
                    self.invalid(
                        node,
                        path,
                        text.clone(),
                        "`no`, `always`, `on-failure`, `on-failure:N` or `unless-stopped`",
                    );
                    return None;
                }
            },
        };
        Some(policy)
    }

    /// `x-provision.migrate`: a command in either of Compose's `command:` forms, not empty
    /// (a migration that runs nothing is a mistake worth a `file:line:col`).
    pub(super) fn migrate(&mut self, node: &Node, path: &str) -> Option<Located<Words>> {
        let words = match &node.kind {
            Kind::Null => return None,
            Kind::Map(_) => {
                self.wrong_type(node, path, "a command: a string or a list of strings");
                return None;
            }
            _ => self.words(node, path)?,
        };
        let empty = match &words {
            Words::Shell(line) => line.trim().is_empty(),
            Words::List(list) => list.first().is_none_or(|w| w.trim().is_empty()),
        };
        if empty {
            self.invalid(
                node,
                path,
                node.scalar_text().unwrap_or_default(),
                "a command to run, for example `migrate: [\"alembic\", \"upgrade\", \"head\"]`",
            );
            return None;
        }
        Some(located(words, node, path))
    }

    fn build(&mut self, node: &Node, path: &str) -> Option<Build> {
        let Kind::Map(entries) = &node.kind else {
            let context = self.text(node, path)?;
            return Some(Build {
                context: self.resolve(&context, node),
                ..Build::default()
            });
        };
        let mut build = Build {
            context: self.resolve(".", node),
            ..Build::default()
        };
        for (key, value) in entries {
            let Some(key) = key.scalar_text() else {
                continue;
            };
            let child = format!("{path}.{key}");
            match key.as_str() {
                "context" => {
                    let context = self.text(value, &child)?;
                    build.context = self.resolve(&context, value);
                }
                "dockerfile" => build.dockerfile = self.text(value, &child),
                "target" => build.target = self.text(value, &child),
                "args" => {
                    build.args = self
                        .environment(value, &child)
                        .into_iter()
                        // `args: [NAME]` without a value takes it from the environment.
                        .filter_map(|v| {
                            let value = v
                                .value
                                .value
                                .or_else(|| (self.vars)(v.at.file, &v.value.name))?;
                            Some((v.value.name, value))
                        })
                        .collect();
                }
                // cache_from, labels, platforms, ...: the Engine's defaults are fine locally.
                _ => {}
            }
        }
        Some(build)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::manifest::from_bytes;

    /// `web`'s process and its deferred problems.
    fn process_of(text: &str) -> (Process, Vec<String>) {
        let m = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|n| (n == "PORT").then(|| "8080".to_owned()),
        )
        .unwrap();
        let web = m.services.into_iter().find(|s| s.name == "web").unwrap();
        let problems = web
            .deferred
            .iter()
            .map(|p| format!("{:?}", p.kind))
            .collect();
        (web.process, problems)
    }

    #[test]
    fn command_forms() {
        let (p, problems) = process_of(
            "services:\n  web:\n    command: python3 web.py --port ${PORT} 'a b'\n    entrypoint: [\"env\", \"A=1\"]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        // The string form stays a shell line: quoting is the shell's business.
        assert_eq!(
            p.command.unwrap(),
            Words::Shell("python3 web.py --port 8080 'a b'".into())
        );
        assert_eq!(
            p.entrypoint.unwrap().value,
            Words::List(vec!["env".into(), "A=1".into()])
        );
        let (p, _) = process_of("services:\n  web:\n    command: [python3, \"${PORT}\"]\n");
        assert_eq!(
            p.command.unwrap(),
            Words::List(vec!["python3".into(), "8080".into()])
        );
    }

    #[test]
    fn restart_working_dir_build() {
        let (p, problems) = process_of(
            "services:\n  web:\n    restart: on-failure:3\n    working_dir: ./src\n    build: {context: app, dockerfile: Dockerfile.dev, target: dev, args: {V: \"1\"}}\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.restart.unwrap().value, Restart::OnFailure(Some(3)));
        // Relative to the file's directory (here the manifest's, given as relative).
        assert!(p.working_dir.unwrap().value.ends_with("./src"));
        let build = p.build.unwrap().value;
        assert!(build.context.ends_with("app"));
        assert_eq!(build.dockerfile.as_deref(), Some("Dockerfile.dev"));
        assert_eq!(build.target.as_deref(), Some("dev"));
        assert_eq!(build.args, vec![("V".to_owned(), "1".to_owned())]);
        let (p, _) = process_of("services:\n  web:\n    build: /abs/ctx\n");
        assert_eq!(p.build.unwrap().value.context, Path::new("/abs/ctx"));
    }

    #[test]
    fn bad_restart_is_a_deferred_problem() {
        let (p, problems) = process_of("services:\n  web:\n    restart: sometimes\n");
        assert!(p.restart.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("sometimes"));
        let (p, _) = process_of("services:\n  web:\n    restart: \"no\"\n");
        assert_eq!(p.restart.unwrap().value, Restart::No);
    }
    #[test]
    fn migrate_forms_and_problems() {
        let read = |text: &str| {
            let m = from_bytes(
                text.as_bytes(),
                PathBuf::from("compose.yaml"),
                "shop".into(),
                &|n| (n == "PORT").then(|| "8080".to_owned()),
            );
            match m {
                Ok(m) if m.problems.is_empty() => {
                    Ok(m.services[0].ext.migrate.clone().map(|w| w.value))
                }
                Ok(m) => Err(format!("{:?}", m.problems)),
                Err(e) => Err(format!("{e:?}")),
            }
        };
        assert_eq!(
            read(
                "services:\n  web:\n    x-provision: {migrate: \"./migrate up --port ${PORT}\"}\n"
            ),
            Ok(Some(Words::Shell("./migrate up --port 8080".into())))
        );
        assert_eq!(
            read("services:\n  web:\n    x-provision:\n      migrate: [alembic, upgrade, head]\n"),
            Ok(Some(Words::List(vec![
                "alembic".into(),
                "upgrade".into(),
                "head".into()
            ])))
        );
        // A map, an empty list, an empty string: each a problem at its place (line 4, col 16).
        for bad in ["{run: x}", "[]", "''"] {
            let e = read(&format!(
                "services:\n  web:\n    x-provision:\n      migrate: {bad}\n"
            ))
            .unwrap_err();
            assert!(e.contains("line: 4") || e.contains("line: 3"), "{bad}: {e}");
            assert!(e.contains("migrate"), "{bad}: {e}");
        }
    }
}
