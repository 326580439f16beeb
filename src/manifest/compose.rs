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

/// The files of the project: `-f` as given (repeatable), else `COMPOSE_FILE` (from the
/// environment or the `.env` file in `dir`), else the first of [`FILE_NAMES`] with the first
/// of [`OVERRIDE_NAMES`] beside it.
pub fn locate_files(
    dir: &Path,
    given: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<PathBuf>, Error> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let dotenv = read_dotenv(&dir.join(".env"), env).unwrap_or_default();
    // An empty value counts as unset, at each level.
    let var = |name: &str| {
        env(name).filter(|v| !v.is_empty()).or_else(|| {
            dotenv
                .iter()
                .rev()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
    };
    if let Some(list) = var("COMPOSE_FILE") {
        let separator = var("COMPOSE_PATH_SEPARATOR")
            .unwrap_or_else(|| if cfg!(windows) { ";" } else { ":" }.to_owned());
        let files: Vec<PathBuf> = list
            .split(separator.as_str())
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect();
        if !files.is_empty() {
            return Ok(files);
        }
    }
    let base = super::locate(dir, None)?;
    let mut files = vec![base.clone()];
    // Compose's own base names only: `provision.yml` is ours, and has no override.
    let is_compose_name = base
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| FILE_NAMES[2..].contains(&n));
    if is_compose_name
        && let Some(over) = OVERRIDE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    {
        files.push(
            over.strip_prefix(dir)
                .map(Path::to_path_buf)
                .unwrap_or(over),
        );
    }
    Ok(files)
}

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

    /// Follows the top-level `include:` of `root`: each entry is a project of its own
    /// (relative paths against its project directory, its own `.env`), whose services are
    /// copied in unless `root` defines them already. `stack` holds the files being included,
    /// for cycles.
    fn includes(&mut self, root: &mut Node, stack: &[PathBuf]) {
        let Some(entries) = take_key(root, "include") else {
            return;
        };
        let Kind::Seq(items) = entries.kind else {
            self.problems.push(Problem::error(
                Some(entries.at),
                "include",
                ProblemKind::WrongType {
                    expected: "a list",
                    found: entries.type_name(),
                },
            ));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("include[{i}]");
            // Short form: a path; long form: {path: one or a list, project_directory, env_file}.
            let (paths, project_dir, env_files): (Vec<&Node>, Option<&Node>, Vec<&Node>) =
                match &item.kind {
                    Kind::Map(_) => {
                        let paths = match item.get("path") {
                            Some(Node {
                                kind: Kind::Seq(p), ..
                            }) => p.iter().collect(),
                            Some(p) => vec![p],
                            None => Vec::new(),
                        };
                        let env_files = match item.get("env_file") {
                            Some(Node {
                                kind: Kind::Seq(e), ..
                            }) => e.iter().collect(),
                            Some(e) => vec![e],
                            None => Vec::new(),
                        };
                        (paths, item.get("project_directory"), env_files)
                    }
                    _ => (vec![item], None, Vec::new()),
                };
            let mut resolved = Vec::new();
            for p in paths {
                // Remote includes (a Git URL, `oci://`) are valid Compose that provision does
                // not fetch: said, not failed.
                let text = p.scalar_text().unwrap_or_default();
                if text.contains("://") || text.starts_with("oci:") || text.starts_with("git@") {
                    self.problems.push(Problem::warning(
                        Some(p.at),
                        path.clone(),
                        ProblemKind::FileUnreadable {
                            what: "included file",
                            path: text,
                            reason: "remote includes are not followed; add the databases it defines to a local file".into(),
                        },
                    ));
                    continue;
                }
                if let Some(r) = self.path_in(p, &path) {
                    resolved.push((p.at, r));
                }
            }
            let Some((_, (_, first_full))) = resolved.first() else {
                continue;
            };
            let project_dir = match project_dir.and_then(|d| self.path_in(d, &path)) {
                Some((_, full)) => full,
                None => first_full
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
            };
            // Its variables: `env_file` if given, else its project directory's `.env`.
            let mut vars = Vec::new();
            let env_paths: Vec<PathBuf> = if env_files.is_empty() {
                vec![project_dir.join(".env")]
            } else {
                env_files
                    .iter()
                    .filter_map(|e| self.path_in(e, &path).map(|(_, full)| full))
                    .collect()
            };
            for env_path in env_paths {
                match read_dotenv(&env_path, self.env) {
                    Ok(v) => vars.extend(v),
                    Err(e) => self.problems.push(Problem::error(
                        Some(item.at),
                        path.clone(),
                        ProblemKind::FileUnreadable {
                            what: "env file",
                            path: env_path.display().to_string(),
                            reason: e.to_string(),
                        },
                    )),
                }
            }
            self.dotenvs.push(vars);
            let env_set = self.dotenvs.len() - 1;

            let mut included: Option<Node> = None;
            let mut inner_stack = stack.to_vec();
            let mut failed = false;
            for (at, (shown, full)) in &resolved {
                let key = canonical(full);
                if let Some(start) = stack.iter().position(|s| *s == key) {
                    let mut chain: Vec<String> = stack[start..]
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    chain.push(key.display().to_string());
                    self.problems.push(Problem::error(
                        Some(*at),
                        path.clone(),
                        ProblemKind::Cycle {
                            what: "include",
                            chain,
                        },
                    ));
                    failed = true;
                    break;
                }
                match self.read(shown, full, &project_dir, env_set) {
                    Ok((_, node)) => {
                        inner_stack.push(key);
                        included = Some(match included {
                            None => node,
                            Some(base) => merge_top(base, node, &self.tags),
                        });
                    }
                    Err(e) => {
                        self.unreadable(*at, &path, "included file", shown, &e);
                        failed = true;
                        break;
                    }
                }
            }
            let Some(mut included) = included.filter(|_| !failed) else {
                continue;
            };
            // The included project is complete on its own before it is copied in.
            self.includes(&mut included, &inner_stack);
            self.extends_all(&mut included, None);
            let shown = resolved
                .first()
                .map(|(_, (s, _))| s.display().to_string())
                .unwrap_or_default();
            self.copy_services(root, included, &shown);
        }
    }

    /// Copies the included project's services (and the secrets, volumes, networks and
    /// configs they may refer to) into `root`, keeping `root`'s own definitions.
    fn copy_services(&mut self, root: &mut Node, included: Node, shown: &str) {
        let Kind::Map(top_in) = included.kind else {
            return;
        };
        if matches!(root.kind, Kind::Null) {
            root.kind = Kind::Map(Vec::new());
        }
        let at = root.at;
        let Kind::Map(top) = &mut root.kind else {
            return;
        };
        for (key, value) in top_in {
            let section = key.scalar_text().unwrap_or_default();
            if !matches!(
                section.as_str(),
                "services" | "secrets" | "volumes" | "networks" | "configs"
            ) {
                continue;
            }
            let Kind::Map(entries) = value.kind else {
                continue;
            };
            let index = match top
                .iter()
                .position(|(k, _)| k.scalar_text().as_deref() == Some(section.as_str()))
            {
                Some(i) => i,
                None => {
                    top.push((
                        Node::str(section.clone(), at),
                        Node {
                            kind: Kind::Map(Vec::new()),
                            at,
                        },
                    ));
                    top.len() - 1
                }
            };
            let target = &mut top[index].1;
            if matches!(target.kind, Kind::Null) {
                target.kind = Kind::Map(Vec::new());
            }
            let Kind::Map(existing) = &mut target.kind else {
                continue;
            };
            for (k, v) in entries {
                let name = k.scalar_text().unwrap_or_default();
                if let Some((own, _)) = existing
                    .iter()
                    .find(|(e, _)| e.scalar_text().as_deref() == Some(name.as_str()))
                {
                    // Only a service defined twice is worth saying; a shared volume or
                    // network name is how included projects are meant to meet.
                    if section == "services" {
                        self.problems.push(Problem::warning(
                            Some(own.at),
                            format!("services.{name}"),
                            ProblemKind::IncludeConflict {
                                service: name,
                                file: shown.to_owned(),
                            },
                        ));
                    }
                    continue;
                }
                existing.push((k, v));
            }
        }
    }

    /// Resolves `extends:` on every service of `root` (a whole file, or the merged files).
    fn extends_all(&mut self, root: &mut Node, _file: Option<u16>) {
        let Some(services) = root.get("services").cloned() else {
            return;
        };
        let Kind::Map(entries) = &services.kind else {
            return;
        };
        if !entries.iter().any(|(_, v)| v.get("extends").is_some()) {
            return;
        }
        let mut resolved = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let name = k.scalar_text().unwrap_or_default();
            let mut stack = vec![(String::new(), name.clone())];
            let v = self.extend(&services, "", &name, v.clone(), &mut stack);
            resolved.push((k.clone(), v));
        }
        if let Kind::Map(top) = &mut root.kind
            && let Some((_, s)) = top
                .iter_mut()
                .find(|(k, _)| k.scalar_text().as_deref() == Some("services"))
        {
            s.kind = Kind::Map(resolved);
        }
    }

    /// The service `name` (definition `service`) with its `extends:` chain merged in.
    /// `services` is the map it was defined in; `context` names that file ("" for the
    /// project's own files); `stack` the chain so far, for cycles.
    fn extend(
        &mut self,
        services: &Node,
        context: &str,
        name: &str,
        mut service: Node,
        stack: &mut Vec<(String, String)>,
    ) -> Node {
        let Some(ext) = take_key(&mut service, "extends") else {
            return service;
        };
        let path = format!("services.{name}.extends");
        let (base_name, file_node) = match &ext.kind {
            Kind::Map(_) => (
                ext.get("service").and_then(Node::scalar_text),
                ext.get("file"),
            ),
            _ => (ext.scalar_text(), None),
        };
        let Some(base_name) = base_name else {
            self.problems.push(Problem::error(
                Some(ext.at),
                path,
                ProblemKind::WrongType {
                    expected: "a map with `service:` (and optionally `file:`)",
                    found: ext.type_name(),
                },
            ));
            return service;
        };
        // Where the base service is defined: another file (its services, shared), or the
        // same map (borrowed: a file of many services must not be copied at each step).
        let other_file: Option<(std::rc::Rc<Node>, String, String)> = match file_node {
            Some(f) => {
                let Some((shown, full)) = self.path_in(f, &path) else {
                    return service;
                };
                let key = canonical(&full);
                let services_of = |root: &Node| {
                    std::rc::Rc::new(root.get("services").cloned().unwrap_or(Node {
                        kind: Kind::Map(Vec::new()),
                        at: root.at,
                    }))
                };
                let base = if let Some(node) = self.cache.get(&key) {
                    node.clone()
                } else {
                    let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
                    let env_set = self
                        .file_env
                        .get(usize::from(f.at.file))
                        .copied()
                        .unwrap_or(0);
                    match self.read(&shown, &full, &dir, env_set) {
                        Ok((_, node)) => {
                            let base = services_of(&node);
                            self.cache.insert(key.clone(), base.clone());
                            base
                        }
                        Err(e) => {
                            self.unreadable(f.at, &path, "extended file", &shown, &e);
                            return service;
                        }
                    }
                };
                Some((base, key.display().to_string(), shown.display().to_string()))
            }
            None => None,
        };
        let (base_services, base_context, base_file_shown): (&Node, String, Option<String>) =
            match &other_file {
                Some((node, key, shown)) => (node.as_ref(), key.clone(), Some(shown.clone())),
                None => (services, context.to_owned(), None),
            };
        if stack.len() > MAX_EXTENDS {
            self.problems.push(Problem::error(
                Some(ext.at),
                path,
                ProblemKind::InvalidValue {
                    value: base_name,
                    expected: format!("an `extends:` chain of at most {MAX_EXTENDS} services"),
                },
            ));
            return service;
        }
        let step = (base_context.clone(), base_name.clone());
        if stack.contains(&step) {
            let start = stack.iter().position(|s| *s == step).unwrap_or(0);
            let mut chain: Vec<String> = stack[start..].iter().map(|(_, s)| s.clone()).collect();
            chain.push(base_name);
            self.problems.push(Problem::error(
                Some(ext.at),
                path,
                ProblemKind::Cycle {
                    what: "extends",
                    chain,
                },
            ));
            return service;
        }
        let Some(base) = base_services.get(&base_name).cloned() else {
            self.problems.push(Problem::error(
                Some(ext.at),
                path,
                ProblemKind::ExtendsMissing {
                    service: name.to_owned(),
                    base: base_name,
                    file: base_file_shown,
                },
            ));
            return service;
        };
        stack.push(step);
        let base = self.extend(base_services, &base_context, &base_name, base, stack);
        stack.pop();
        merge_service(base, service, &self.tags)
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

/// Removes `key` from a map node and returns its value.
fn take_key(node: &mut Node, key: &str) -> Option<Node> {
    let Kind::Map(entries) = &mut node.kind else {
        return None;
    };
    let i = entries
        .iter()
        .position(|(k, _)| k.scalar_text().as_deref() == Some(key))?;
    Some(entries.remove(i).1)
}

// ---- merging -------------------------------------------------------------------------

/// Two files' top levels: `services` service by service, everything else key by key.
pub fn merge_top(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |key, b, o| match key {
                "services" => merge_services(b, o, t),
                _ => merge_generic(b, o, t),
            })),
            at: base.at,
        },
        // An empty override changes nothing.
        (kind, Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// Maps: entries of `over` replace (through `f`) or add to those of `base`, in order.
fn merge_maps(
    mut base: Vec<(Node, Node)>,
    over: Vec<(Node, Node)>,
    t: &Tags,
    f: impl Fn(&str, Node, Node) -> Node,
) -> Vec<(Node, Node)> {
    for (k, v) in over {
        let key = k.scalar_text().unwrap_or_default();
        let existing = base
            .iter()
            .position(|(bk, _)| bk.scalar_text().as_deref() == Some(key.as_str()));
        // `!reset` drops what earlier files set; `!override` replaces it unmerged.
        if t.reset.contains(&v.at) {
            if let Some(i) = existing {
                base.remove(i);
            }
            continue;
        }
        if t.replace.contains(&v.at) {
            match existing {
                Some(i) => base[i] = (k, v),
                None => base.push((k, v)),
            }
            continue;
        }
        match existing {
            Some(i) => {
                let old = std::mem::replace(
                    &mut base[i].1,
                    Node {
                        kind: Kind::Null,
                        at: v.at,
                    },
                );
                base[i].1 = f(&key, old, v);
            }
            None => base.push((k, v)),
        }
    }
    base
}

fn merge_services(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |_, b, o| merge_service(b, o, t))),
            at: base.at,
        },
        (kind, Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// Generic rule: maps merged key by key, sequences appended, scalars replaced.
fn merge_generic(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |_, b, o| merge_generic(b, o, t))),
            at: base.at,
        },
        (Kind::Seq(mut b), Kind::Seq(o)) => {
            b.extend(o);
            Node {
                kind: Kind::Seq(b),
                at: base.at,
            }
        }
        (kind @ (Kind::Map(_) | Kind::Seq(_)), Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// One service over another (a later file's, or the extending service over its base).
pub fn merge_service(base: Node, over: Node, t: &Tags) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(b), Kind::Map(o)) => Node {
            kind: Kind::Map(merge_maps(b, o, t, |k, b, o| merge_service_key(k, b, o, t))),
            at: base.at,
        },
        (kind, Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

fn merge_service_key(key: &str, base: Node, over: Node, t: &Tags) -> Node {
    match key {
        // Shell commands are replaced, not appended.
        "command" | "entrypoint" => over,
        "healthcheck" => match (base.kind, over.kind) {
            (Kind::Map(b), Kind::Map(o)) => Node {
                kind: Kind::Map(merge_maps(b, o, t, |k, b, o| {
                    if k == "test" {
                        o
                    } else {
                        merge_generic(b, o, t)
                    }
                })),
                at: base.at,
            },
            (_, kind) => Node { kind, at: over.at },
        },
        // Merged as maps whether written as lists or maps.
        "environment" | "labels" | "annotations" | "sysctls" | "build" => {
            if key == "build" {
                return merge_generic(base, over, t);
            }
            merge_env_like(base, over, t)
        }
        "depends_on" => {
            let mergeable = |n: &Node| matches!(n.kind, Kind::Map(_) | Kind::Seq(_) | Kind::Null);
            if !(mergeable(&base) && mergeable(&over)) {
                return over;
            }
            let (b, at) = as_depends_map(base);
            let (o, _) = as_depends_map(over);
            Node {
                kind: Kind::Map(merge_maps(b, o, t, |_, b, o| merge_generic(b, o, t))),
                at,
            }
        }
        // Unique resources: a later entry with the same key replaces the earlier one.
        "ports" => merge_unique(base, over, port_key),
        "volumes" => merge_unique(base, over, volume_target),
        "secrets" => merge_unique(base, over, |n| secret_target(n, "/run/secrets/")),
        "configs" => merge_unique(base, over, |n| secret_target(n, "/")),
        // Sequences that may be written as one string.
        "dns" | "dns_search" | "tmpfs" | "env_file" => merge_generic(as_seq(base), as_seq(over), t),
        _ => merge_generic(base, over, t),
    }
}

fn as_seq(node: Node) -> Node {
    match node.kind {
        Kind::Seq(_) | Kind::Null => node,
        kind => Node {
            kind: Kind::Seq(vec![Node { kind, at: node.at }]),
            at: node.at,
        },
    }
}

/// `environment:`/`labels:` in map form: `- KEY=value` becomes `KEY: value`, `- KEY`
/// becomes `KEY:` (null), each keeping its position.
fn env_map(node: Node) -> (Vec<(Node, Node)>, Pos) {
    let at = node.at;
    match node.kind {
        Kind::Map(entries) => (entries, at),
        Kind::Seq(items) => (
            items
                .into_iter()
                .filter_map(|item| {
                    let text = item.scalar_text()?;
                    Some(match text.split_once('=') {
                        Some((k, v)) => (Node::str(k, item.at), Node::str(v, item.at)),
                        None => (
                            Node::str(text, item.at),
                            Node {
                                kind: Kind::Null,
                                at: item.at,
                            },
                        ),
                    })
                })
                .collect(),
            at,
        ),
        _ => (Vec::new(), at),
    }
}

fn merge_env_like(base: Node, over: Node, t: &Tags) -> Node {
    if !matches!(over.kind, Kind::Map(_) | Kind::Seq(_)) {
        return if matches!(over.kind, Kind::Null) {
            base
        } else {
            over
        };
    }
    if !matches!(base.kind, Kind::Map(_) | Kind::Seq(_)) {
        return over;
    }
    let (b, at) = env_map(base);
    let (o, _) = env_map(over);
    Node {
        kind: Kind::Map(merge_maps(b, o, t, |_, _, o| o)),
        at,
    }
}

/// `depends_on:` in map form: a list entry `- db` is `db: {}` (`service_started`).
fn as_depends_map(node: Node) -> (Vec<(Node, Node)>, Pos) {
    let at = node.at;
    match node.kind {
        Kind::Map(entries) => (entries, at),
        Kind::Seq(items) => (
            items
                .into_iter()
                .filter_map(|i| {
                    let name = i.scalar_text()?;
                    Some((
                        Node::str(name, i.at),
                        Node {
                            kind: Kind::Map(Vec::new()),
                            at: i.at,
                        },
                    ))
                })
                .collect(),
            at,
        ),
        _ => (Vec::new(), at),
    }
}

fn merge_unique(base: Node, over: Node, key: impl Fn(&Node) -> Option<String>) -> Node {
    match (base.kind, over.kind) {
        (Kind::Seq(mut b), Kind::Seq(o)) => {
            for item in o {
                let k = key(&item);
                match k
                    .as_ref()
                    .and_then(|k| b.iter().position(|e| key(e).as_ref() == Some(k)))
                {
                    Some(i) => b[i] = item,
                    None => b.push(item),
                }
            }
            Node {
                kind: Kind::Seq(b),
                at: base.at,
            }
        }
        (kind @ Kind::Seq(_), Kind::Null) => Node { kind, at: base.at },
        (_, kind) => Node { kind, at: over.at },
    }
}

/// A port's unique key {ip, target, published, protocol}, in one canonical text.
fn port_key(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Map(_) => {
            let field = |k: &str| node.get(k).and_then(Node::scalar_text).unwrap_or_default();
            let protocol = Some(field("protocol")).filter(|p| !p.is_empty());
            Some(format!(
                "{}|{}|{}|{}",
                field("host_ip"),
                field("published"),
                field("target"),
                protocol.as_deref().unwrap_or("tcp")
            ))
        }
        _ => {
            let text = node.scalar_text()?;
            let (spec, protocol) = text.split_once('/').unwrap_or((text.as_str(), "tcp"));
            let (rest, target) = spec.rsplit_once(':').unwrap_or(("", spec));
            let (ip, published) = rest.rsplit_once(':').unwrap_or(("", rest));
            Some(format!("{ip}|{published}|{target}|{protocol}"))
        }
    }
}

fn volume_target(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Map(_) => node.get("target").and_then(Node::scalar_text),
        _ => {
            let text = node.scalar_text()?;
            // `target`, `source:target`, `target:mode`, `source:target:mode`.
            let parts: Vec<&str> = text.split(':').collect();
            let target = match parts.as_slice() {
                [target] => target,
                [_, target] if target.starts_with('/') => target,
                [target, _] => target,
                [_, target, ..] => target,
                [] => return None,
            };
            Some((*target).to_owned())
        }
    }
}

fn secret_target(node: &Node, dir: &str) -> Option<String> {
    match &node.kind {
        Kind::Map(_) => node
            .get("target")
            .or_else(|| node.get("source"))
            .and_then(Node::scalar_text)
            .map(|t| {
                if t.starts_with('/') {
                    t
                } else {
                    format!("{dir}{t}")
                }
            }),
        _ => node.scalar_text().map(|s| format!("{dir}{s}")),
    }
}

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
#[path = "compose_tests.rs"]
mod tests;
