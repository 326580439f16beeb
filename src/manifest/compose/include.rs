//! Services from other files: `include:` (<https://docs.docker.com/reference/compose-file/include/>)
//! and `extends:` (<https://docs.docker.com/reference/compose-file/services/#extends>), each
//! bounded (files, chain length) and with every problem at the file and line it was written.

use std::path::{Path, PathBuf};

use super::super::yaml::{Kind, Node};
use super::merge::{merge_service, merge_top, take_key};
use super::{Loader, MAX_EXTENDS, canonical, read_dotenv};
use crate::problem::{Problem, ProblemKind};

impl Loader<'_> {
    /// Follows the top-level `include:` of `root`: each entry is a project of its own
    /// (relative paths against its project directory, its own `.env`), whose services are
    /// copied in unless `root` defines them already. `stack` holds the files being included,
    /// for cycles.
    pub(super) fn includes(&mut self, root: &mut Node, stack: &[PathBuf]) {
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
            let (paths, project_dir, env_files) = entry_parts(item);
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
            let env_set = self.include_vars(item, &path, &env_files, &project_dir);

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

    /// An included project's variables: its `env_file`s if given, else its project
    /// directory's `.env`. Returns the index of its variable set.
    fn include_vars(
        &mut self,
        item: &Node,
        path: &str,
        env_files: &[&Node],
        project_dir: &Path,
    ) -> usize {
        let mut vars = Vec::new();
        let env_paths: Vec<PathBuf> = if env_files.is_empty() {
            vec![project_dir.join(".env")]
        } else {
            env_files
                .iter()
                .filter_map(|e| self.path_in(e, path).map(|(_, full)| full))
                .collect()
        };
        for env_path in env_paths {
            match read_dotenv(&env_path, self.env) {
                Ok(v) => vars.extend(v),
                Err(e) => self.problems.push(Problem::error(
                    Some(item.at),
                    path,
                    ProblemKind::FileUnreadable {
                        what: "env file",
                        path: env_path.display().to_string(),
                        reason: e.to_string(),
                    },
                )),
            }
        }
        self.dotenvs.push(vars);
        self.dotenvs.len() - 1
    }

    /// Copies the included project's services (and the secrets, volumes, networks and
    /// configs they may refer to) into `root`, keeping `root`'s own definitions.
    pub(super) fn copy_services(&mut self, root: &mut Node, included: Node, shown: &str) {
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
    pub(super) fn extends_all(&mut self, root: &mut Node, _file: Option<u16>) {
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

    /// The services of the file an `extends:` names (read once and shared), its canonical
    /// path, and its path as written; `None` after a problem was recorded.
    fn extended_file(
        &mut self,
        f: &Node,
        path: &str,
    ) -> Option<(std::rc::Rc<Node>, String, String)> {
        let (shown, full) = self.path_in(f, path)?;
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
                    self.unreadable(f.at, path, "extended file", &shown, &e);
                    return None;
                }
            }
        };
        Some((base, key.display().to_string(), shown.display().to_string()))
    }

    /// The service `name` (definition `service`) with its `extends:` chain merged in.
    /// `services` is the map it was defined in; `context` names that file ("" for the
    /// project's own files); `stack` the chain so far, for cycles.
    pub(super) fn extend(
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
        let other_file = match file_node {
            Some(f) => match self.extended_file(f, &path) {
                Some(found) => Some(found),
                None => return service,
            },
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
}

/// An `include:` entry's parts. Short form: a path; long form: `{path: one or a list,
/// project_directory, env_file}`.
fn entry_parts(item: &Node) -> (Vec<&Node>, Option<&Node>, Vec<&Node>) {
    match &item.kind {
        Kind::Map(_) => (
            one_or_list(item.get("path")),
            item.get("project_directory"),
            one_or_list(item.get("env_file")),
        ),
        _ => (vec![item], None, Vec::new()),
    }
}

/// A value written as one item or a list of them.
fn one_or_list(node: Option<&Node>) -> Vec<&Node> {
    match node {
        Some(Node {
            kind: Kind::Seq(items),
            ..
        }) => items.iter().collect(),
        Some(n) => vec![n],
        None => Vec::new(),
    }
}
