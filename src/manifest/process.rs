//! The Compose keys that say how an app service runs: `command`, `entrypoint`, `env_file`,
//! `working_dir`, `restart`, `build`. Only `provision start` needs them; they are read here,
//! with positions and interpolation, like every other key, so that a bad value is a manifest
//! problem at `file:line:col` before anything starts.
//!
//! Shapes follow the Compose specification's service reference
//! (<https://docs.docker.com/reference/compose-file/services/>): `command` and `entrypoint`
//! are a string or a list; `env_file` a string, or a list of strings or `{path, required}`
//! maps; `restart` one of `no`, `always`, `on-failure[:max-retries]`, `unless-stopped`;
//! `build` a context string or `{context, dockerfile, args, target}`.

use super::yaml::{Kind, Node};
use super::{Located, Reader};

/// How an app service runs, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    pub command: Option<Located<Words>>,
    pub entrypoint: Option<Located<Words>>,
    pub env_files: Vec<Located<EnvFile>>,
    pub working_dir: Option<Located<String>>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Relative to the manifest's directory unless absolute.
    pub path: String,
    /// A missing required file is an error; Compose's default is `true`.
    pub required: bool,
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
    /// Relative to the manifest's directory unless absolute.
    pub context: String,
    pub dockerfile: Option<String>,
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
}

/// The keys this module reads, for `service_fields`.
pub const KEYS: &[&str] = &[
    "command",
    "entrypoint",
    "env_file",
    "working_dir",
    "restart",
    "build",
];

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
            "command" => process.command = self.words(value, path).map(|w| located(w, value, path)),
            "entrypoint" => {
                process.entrypoint = self.words(value, path).map(|w| located(w, value, path));
            }
            "env_file" => process.env_files = self.env_files(value, path),
            "working_dir" => process.working_dir = self.string(value, path),
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
    fn words(&mut self, node: &Node, path: &str) -> Option<Words> {
        match &node.kind {
            // `command: null` resets it (used by overrides): no command.
            Kind::Null => None,
            Kind::Seq(_) => Some(Words::List(self.strings(node, path))),
            _ => self.text(node, path).map(Words::Shell),
        }
    }

    fn env_files(&mut self, node: &Node, path: &str) -> Vec<Located<EnvFile>> {
        let one = |reader: &mut Self, item: &Node, path: &str| -> Option<Located<EnvFile>> {
            let file = match &item.kind {
                Kind::Map(_) => {
                    let Some(p) = item.get("path") else {
                        reader.invalid(
                            item,
                            path,
                            "a map without `path`".into(),
                            "`{path: FILE, required: BOOL}`",
                        );
                        return None;
                    };
                    let file = reader.text(p, &format!("{path}.path"))?;
                    let required = match item.get("required") {
                        Some(r) => reader.flag(r, &format!("{path}.required"))?.value,
                        None => true,
                    };
                    EnvFile {
                        path: file,
                        required,
                    }
                }
                _ => EnvFile {
                    path: reader.text(item, path)?,
                    required: true,
                },
            };
            Some(Located {
                value: file,
                at: item.at,
                path: path.to_owned(),
            })
        };
        match &node.kind {
            Kind::Null => Vec::new(),
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| one(self, item, &format!("{path}[{i}]")))
                .collect(),
            _ => one(self, node, path).into_iter().collect(),
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

    fn build(&mut self, node: &Node, path: &str) -> Option<Build> {
        let Kind::Map(entries) = &node.kind else {
            return Some(Build {
                context: self.text(node, path)?,
                ..Build::default()
            });
        };
        let mut build = Build {
            context: ".".to_owned(),
            ..Build::default()
        };
        for (key, value) in entries {
            let Some(key) = key.scalar_text() else {
                continue;
            };
            let child = format!("{path}.{key}");
            match key.as_str() {
                "context" => build.context = self.text(value, &child)?,
                "dockerfile" => build.dockerfile = self.text(value, &child),
                "target" => build.target = self.text(value, &child),
                "args" => {
                    build.args = self
                        .environment(value, &child)
                        .into_iter()
                        // `args: [NAME]` without a value takes it from the environment.
                        .filter_map(|v| {
                            let value = v.value.value.or_else(|| (self.vars)(&v.value.name))?;
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
    use std::path::PathBuf;

    use super::*;
    use crate::manifest::from_bytes;

    fn process_of(text: &str) -> (Process, Vec<String>) {
        let m = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|n| (n == "PORT").then(|| "8080".to_owned()),
        )
        .unwrap();
        let problems = m.problems.iter().map(|p| format!("{:?}", p.kind)).collect();
        let web = m.services.into_iter().find(|s| s.name == "web").unwrap();
        (web.process, problems)
    }

    #[test]
    fn command_forms() {
        let (p, problems) = process_of(
            "services:\n  web:\n    command: python3 web.py --port ${PORT}\n    entrypoint: [\"env\", \"A=1\"]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            p.command.unwrap().value,
            Words::Shell("python3 web.py --port 8080".into())
        );
        assert_eq!(
            p.entrypoint.unwrap().value,
            Words::List(vec!["env".into(), "A=1".into()])
        );
    }

    #[test]
    fn env_files_restart_build() {
        let (p, problems) = process_of(
            "services:\n  web:\n    env_file: [a.env, {path: b.env, required: false}]\n    restart: on-failure:3\n    working_dir: ./src\n    build: {context: app, dockerfile: Dockerfile.dev, target: dev, args: {V: \"1\"}}\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let files: Vec<_> = p.env_files.into_iter().map(|f| f.value).collect();
        assert_eq!(
            files,
            vec![
                EnvFile {
                    path: "a.env".into(),
                    required: true
                },
                EnvFile {
                    path: "b.env".into(),
                    required: false
                }
            ]
        );
        assert_eq!(p.restart.unwrap().value, Restart::OnFailure(Some(3)));
        assert_eq!(p.working_dir.unwrap().value, "./src");
        let build = p.build.unwrap().value;
        assert_eq!(build.context, "app");
        assert_eq!(build.dockerfile.as_deref(), Some("Dockerfile.dev"));
        assert_eq!(build.target.as_deref(), Some("dev"));
        assert_eq!(build.args, vec![("V".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn bad_restart_is_a_problem() {
        let (p, problems) = process_of("services:\n  web:\n    restart: sometimes\n");
        assert!(p.restart.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("sometimes"));
        let (p, _) = process_of("services:\n  web:\n    restart: \"no\"\n    build: .\n");
        assert_eq!(p.restart.unwrap().value, Restart::No);
        assert_eq!(p.build.unwrap().value.context, ".");
    }
}
