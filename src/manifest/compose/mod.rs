//! A project from several Compose files, as `docker compose` reads it: the files given with
//! `-f` (or in `COMPOSE_FILE`, or the base file found with the override beside it) merged in
//! order, then `include:` and `extends:` followed, then `env_file:` read.
//!
//! Rules, from the Compose specification and documentation:
//! - merging: <https://docs.docker.com/reference/compose-file/merge/> and
//!   <https://docs.docker.com/compose/how-tos/multiple-compose-files/merge/>;
//! - `include:`: <https://docs.docker.com/reference/compose-file/include/>;
//! - `extends:`: <https://docs.docker.com/reference/compose-file/services/#extends>;
//! - `COMPOSE_FILE`, `COMPOSE_PATH_SEPARATOR`:
//!   <https://docs.docker.com/compose/how-tos/environment-variables/envvars/#compose_file>.
//!
//! Every node keeps the file it was written in (`Pos::file`), so a problem anywhere names
//! its own file.

mod include;
mod locate;
mod merge;

pub use locate::locate_files;
use merge::{merge_env_like, take_key};
pub use merge::{merge_service, merge_top};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::yaml::{Kind, Node, Pos};
use super::{FILE_NAMES, FileValue, Manifest, SecretSource, SourceFile, envfile, from_root};
use crate::error::Error;
use crate::problem::{Problem, ProblemKind};
use crate::secret::Secret;

/// The overrides Compose merges beside a base file it found, first found wins.
pub const OVERRIDE_NAMES: &[&str] = &[
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// More files than any real project has; a bound on `include:` fan-out.
const MAX_FILES: usize = 256;

/// Longer `extends:` chains than any real file has; the bound keeps recursion shallow.
const MAX_EXTENDS: usize = 64;

/// A `*_FILE` secret is a password, not a data file.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Reads and merges the project's files (`paths` relative to `cwd`, the first one the base),
/// with `${VAR}` values from `env` and the `.env` file in the project directory (the base
/// file's), the environment winning.
pub fn load_files(
    cwd: &Path,
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, Error> {
    let Some(first) = paths.first() else {
        return Err(super::locate(cwd, None)
            .err()
            .unwrap_or(Error::ManifestNotFound {
                dir: cwd.to_path_buf(),
                tried: FILE_NAMES,
            }));
    };
    let full = cwd.join(first);
    let project_dir = full
        .parent()
        .map_or_else(|| cwd.to_path_buf(), Path::to_path_buf);
    let mut loader = Loader {
        cwd: cwd.to_path_buf(),
        env,
        files: Vec::new(),
        dotenvs: Vec::new(),
        file_env: Vec::new(),
        problems: Vec::new(),
        cache: HashMap::new(),
        tags: Tags::default(),
    };
    let dotenv = loader.dotenv(&project_dir.join(".env"))?;
    let mut root: Option<Node> = None;
    let mut stack = Vec::new();
    for path in paths {
        let (_, node) = loader.read(path, &cwd.join(path), &project_dir, dotenv)?;
        stack.push(canonical(&cwd.join(path)));
        root = Some(match root {
            None => node,
            Some(base) => merge_top(base, node, &loader.tags),
        });
    }
    let mut root = root.unwrap_or(Node {
        kind: Kind::Null,
        at: Pos::at(1, 1),
    });
    loader.includes(&mut root, &stack);
    loader.extends_all(&mut root, None);
    loader.env_files(&mut root);

    let dir_name = std::fs::canonicalize(&project_dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let vars = |file: u16, name: &str| loader.var(file, name);
    let mut manifest = from_root(&root, first.clone(), dir_name, loader.files.clone(), &vars)?;
    let mut problems = std::mem::take(&mut loader.problems);
    for p in &mut problems {
        manifest.attribute(p);
    }
    // Loading problems first: they are about where things come from.
    problems.append(&mut manifest.problems);
    manifest.problems = problems;
    read_secret_files(&mut manifest, env);
    Ok(manifest)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `.env`-style variables from a file; none when it does not exist. `env` is the
/// environment, for `${VAR}` in values and `VAR` lines alone.
fn read_dotenv(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, std::io::Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(envfile::parse(&text, env)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

struct Loader<'e> {
    /// Paths are shown relative to it.
    cwd: PathBuf,
    env: &'e dyn Fn(&str) -> Option<String>,
    files: Vec<SourceFile>,
    /// Variable sets for interpolation, shared by files of one (sub-)project.
    dotenvs: Vec<Vec<(String, String)>>,
    /// Per file: which of `dotenvs` it interpolates with.
    file_env: Vec<usize>,
    problems: Vec<Problem>,
    /// Files read for `extends.file`, by canonical path: id and tree.
    cache: HashMap<PathBuf, std::rc::Rc<Node>>,
    /// Values tagged `!reset` or `!override`, in every file read.
    tags: Tags,
}

/// Positions of values tagged `!reset` and `!override`
/// (<https://docs.docker.com/reference/compose-file/merge/#reset-value>).
#[derive(Debug, Default)]
pub struct Tags {
    reset: std::collections::BTreeSet<Pos>,
    replace: std::collections::BTreeSet<Pos>,
}

impl Loader<'_> {
    fn var(&self, file: u16, name: &str) -> Option<String> {
        (self.env)(name).or_else(|| {
            let set = self.file_env.get(usize::from(file)).copied().unwrap_or(0);
            self.dotenvs
                .get(set)?
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn dotenv(&mut self, path: &Path) -> Result<usize, Error> {
        let vars = read_dotenv(path, self.env).map_err(|source| Error::ReadEnvFile {
            path: path.to_path_buf(),
            source,
        })?;
        self.dotenvs.push(vars);
        Ok(self.dotenvs.len() - 1)
    }

    /// Reads one file as file number N, every node marked with N.
    fn read(
        &mut self,
        shown: &Path,
        full: &Path,
        base_dir: &Path,
        env_set: usize,
    ) -> Result<(u16, Node), Error> {
        let read_error = |source| Error::ReadManifest {
            path: shown.to_path_buf(),
            source,
        };
        let metadata = std::fs::metadata(full).map_err(read_error)?;
        if metadata.is_dir() {
            return Err(read_error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory",
            )));
        }
        if metadata.len() > super::MAX_BYTES {
            return Err(read_error(std::io::Error::other(format!(
                "it is {} MiB; a manifest may be at most {} MiB",
                metadata.len() / 1024 / 1024,
                super::MAX_BYTES / 1024 / 1024
            ))));
        }
        if self.files.len() >= MAX_FILES {
            return Err(read_error(std::io::Error::other(format!(
                "a project may have at most {MAX_FILES} files"
            ))));
        }
        let bytes = std::fs::read(full).map_err(read_error)?;
        let id = u16::try_from(self.files.len()).unwrap_or(u16::MAX);
        let mut node = super::parse_bytes(&bytes, shown)?;
        let text = std::str::from_utf8(&bytes).unwrap_or_default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (mut at, tag) in super::yaml::merge_tags(text, &node) {
            at.file = id;
            match tag {
                super::yaml::MergeTag::Reset => self.tags.reset.insert(at),
                super::yaml::MergeTag::Override => self.tags.replace.insert(at),
            };
        }
        node.set_file(id);
        self.files.push(SourceFile {
            path: shown.to_path_buf(),
            base_dir: base_dir.to_path_buf(),
        });
        self.file_env.push(env_set);
        Ok((id, node))
    }

    fn base_dir(&self, at: Pos) -> PathBuf {
        self.files
            .get(usize::from(at.file))
            .map(|f| f.base_dir.clone())
            .unwrap_or_default()
    }

    /// A path written in file `at.file`, with `${VAR}` substituted, as shown and as read.
    fn path_in(&mut self, node: &Node, path: &str) -> Option<(PathBuf, PathBuf)> {
        let text = node.scalar_text()?;
        let file = node.at.file;
        let Ok(text) = super::interpolate::interpolate(&text, &|n| self.var(file, n)) else {
            self.problems.push(Problem::error(
                Some(node.at),
                path,
                ProblemKind::BadInterpolation { text },
            ));
            return None;
        };
        let full = self.base_dir(node.at).join(&text);
        let shown = full
            .strip_prefix(&self.cwd)
            .map_or_else(|_| full.clone(), Path::to_path_buf);
        Some((shown, full))
    }

    fn unreadable(&mut self, at: Pos, path: &str, what: &'static str, file: &Path, e: &Error) {
        let reason = match e {
            Error::ReadManifest { source, .. } => source.to_string(),
            other => other.summary(),
        };
        self.problems.push(Problem::error(
            Some(at),
            path,
            ProblemKind::FileUnreadable {
                what,
                path: file.display().to_string(),
                reason,
            },
        ));
    }

    /// Reads each service's `env_file:` (relative to its file's base directory) into its
    /// `environment:`, which wins over it, as in Compose.
    fn env_files(&mut self, root: &mut Node) {
        let Kind::Map(top) = &mut root.kind else {
            return;
        };
        let Some((_, services)) = top
            .iter_mut()
            .find(|(k, _)| k.scalar_text().as_deref() == Some("services"))
        else {
            return;
        };
        let Kind::Map(services) = &mut services.kind else {
            return;
        };
        for (name, service) in services.iter_mut() {
            let Some(files) = take_key(service, "env_file") else {
                continue;
            };
            let name = name.scalar_text().unwrap_or_default();
            let items: Vec<Node> = match files.kind {
                Kind::Seq(items) => items,
                Kind::Null => Vec::new(),
                other => vec![Node {
                    kind: other,
                    at: files.at,
                }],
            };
            let mut vars: Vec<(Node, Node)> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("services.{name}.env_file[{i}]");
                // Long form: {path, required (default true), format}.
                let (path_node, required) = match &item.kind {
                    Kind::Map(_) => (
                        item.get("path"),
                        !matches!(
                            item.get("required").map(|r| &r.kind),
                            Some(Kind::Bool(false))
                        ),
                    ),
                    _ => (Some(item), true),
                };
                let Some((shown, full)) = path_node.and_then(|p| self.path_in(p, &path)) else {
                    continue;
                };
                match std::fs::read_to_string(&full) {
                    Ok(text) => {
                        for (k, v) in envfile::parse_uninterpolated(&text) {
                            // A name alone is a bare name in `environment:`.
                            let value = match v {
                                Some(v) => Node::str(v, item.at),
                                None => Node {
                                    kind: Kind::Null,
                                    at: item.at,
                                },
                            };
                            vars.push((Node::str(k, item.at), value));
                        }
                    }
                    Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => self.problems.push(Problem::error(
                        Some(item.at),
                        path,
                        ProblemKind::FileUnreadable {
                            what: "env file",
                            path: shown.display().to_string(),
                            reason: e.to_string(),
                        },
                    )),
                }
            }
            if vars.is_empty() {
                continue;
            }
            let at = service.at;
            let env = Node {
                kind: Kind::Map(vars),
                at,
            };
            let merged = match take_key(service, "environment") {
                Some(own) => merge_env_like(env, own, &self.tags),
                None => env,
            };
            if let Kind::Map(fields) = &mut service.kind {
                fields.push((Node::str("environment", at), merged));
            }
        }
    }
}

// ---- merging -------------------------------------------------------------------------

// ---- `*_FILE` variables --------------------------------------------------------------

/// Reads the files `*_PASSWORD_FILE`-style variables point at, through the service's
/// `secrets:` (top-level `file:` or `environment:`) or a bind mount, as the official images'
/// `file_env` would inside the container.
fn read_secret_files(manifest: &mut Manifest, env: &dyn Fn(&str) -> Option<String>) {
    let secrets: BTreeMap<String, SecretSource> = manifest
        .secrets
        .iter()
        .map(|s| (s.name.clone(), s.source.clone()))
        .collect();
    for service in &mut manifest.services {
        let mut found = BTreeMap::new();
        for var in &service.environment {
            let (name, Some(value)) = (&var.value.name, &var.value.value) else {
                continue;
            };
            if !name.ends_with("_FILE") || !name.contains("PASS") {
                continue;
            }
            let by_secret = service
                .secrets
                .iter()
                .find(|s| s.target == *value)
                .and_then(|s| secrets.get(&s.source));
            let result = match by_secret {
                Some(SecretSource::File(path)) => read_secret(path),
                Some(SecretSource::Environment(var)) => match env(var) {
                    Some(v) => FileValue::Read(Secret::new(v)),
                    None => FileValue::Unreadable {
                        path: PathBuf::from(format!("${var}")),
                        reason: "the variable is not set".into(),
                    },
                },
                Some(SecretSource::Other) => FileValue::Unmapped,
                None => {
                    let mount = service
                        .volumes
                        .iter()
                        .filter(|m| m.value.covers(value))
                        .filter_map(|m| Some((m.value.target.clone(), m.value.host_path.clone()?)))
                        .max_by_key(|(t, _)| t.len());
                    match mount {
                        Some((target, host)) => {
                            let rest = value
                                .strip_prefix(target.as_str())
                                .unwrap_or_default()
                                .trim_start_matches('/');
                            let path = if rest.is_empty() {
                                host
                            } else {
                                host.join(rest)
                            };
                            read_secret(&path)
                        }
                        None => FileValue::Unmapped,
                    }
                }
            };
            found.insert(name.clone(), result);
        }
        service.files = found;
    }
}

fn read_secret(path: &Path) -> FileValue {
    let unreadable = |reason: String| FileValue::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_SECRET_BYTES => {
            return unreadable(format!("it is larger than {MAX_SECRET_BYTES} bytes"));
        }
        Ok(_) => {}
        Err(e) => return unreadable(e.to_string()),
    }
    match std::fs::read_to_string(path) {
        // `file_env` reads with `$(< file)`, which drops trailing newlines.
        Ok(text) => FileValue::Read(Secret::new(text.trim_end_matches(['\n', '\r']))),
        Err(e) => unreadable(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
