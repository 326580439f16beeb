//! Reading the merged Compose tree into a [`Manifest`]: every key of the Compose
//! specification that provision uses, and the `x-provision:` extensions, each value checked
//! where it was written and every problem collected with its `file:line:col`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::interpolate::{self, InterpolationError, interpolate};
use super::yaml::{Kind, Node};
use super::{
    CloudOptions, EnvVar, Extension, LinkKind, LinkRef, Located, MAX_SQL_NAME, Manifest, Mount,
    MountKind, Port, SecretSource, Service, ServiceSecret, StagesSettings, TopSecret, UrlChoice,
};
use super::{mounts, process};
use crate::problem::{Problem, ProblemKind};
use crate::suggest::did_you_mean;

const TOP_KEYS: &[&str] = &["project", "cloud", "local"];
const TOP_CLOUD_KEYS: &[&str] = &[
    "region",
    "vpc_id",
    "subnet_ids",
    "security_group_ids",
    "allow_from",
    "tags",
    "stage",
    "stages",
];
const STAGES_KEYS: &[&str] = &["profile", "ttl"];
const SERVICE_KEYS: &[&str] = &[
    "type", "version", "database", "username", "local", "cloud", "url", "seed", "migrate",
];
const LOCAL_KEYS: &[&str] = &["port", "tls"];
const TOP_LOCAL_KEYS: &[&str] = &["apps", "tls"];
const CLOUD_KEYS: &[&str] = &[
    "class",
    "storage_gb",
    "replicas",
    "multi_az",
    "deletion_protection",
    "backup_retention_days",
    "max_storage_gb",
    "extended_support",
    "iam_auth",
    "from_snapshot",
    "serverless",
    "min_acu",
    "max_acu",
    "auto_pause_seconds",
    "adopt",
];

pub(super) struct Reader<'v> {
    pub(super) vars: &'v dyn Fn(u16, &str) -> Option<String>,
    /// Each file's base directory, for relative host paths.
    pub(super) dirs: Vec<PathBuf>,
    pub(super) problems: Vec<Problem>,
}

impl Reader<'_> {
    pub(super) fn wrong_type(&mut self, node: &Node, path: &str, expected: &'static str) {
        self.problems.push(Problem::error(
            Some(node.at),
            path,
            ProblemKind::WrongType {
                expected,
                found: node.type_name(),
            },
        ));
    }

    pub(super) fn invalid(
        &mut self,
        node: &Node,
        path: &str,
        value: String,
        expected: impl Into<String>,
    ) {
        self.problems.push(Problem::error(
            Some(node.at),
            path,
            ProblemKind::InvalidValue {
                value,
                expected: expected.into(),
            },
        ));
    }

    /// Substitutes `${VAR}`s, reporting failures at the node.
    pub(super) fn interpolated(&mut self, text: &str, node: &Node, path: &str) -> Option<String> {
        let file = node.at.file;
        let vars = self.vars;
        match interpolate(text, &|name| vars(file, name)) {
            Ok(s) => Some(s),
            Err(e) => {
                let kind = match e {
                    InterpolationError::Undefined(name) => ProblemKind::UndefinedVariable { name },
                    InterpolationError::Required { name, message } => {
                        ProblemKind::RequiredVariable { name, message }
                    }
                    InterpolationError::Malformed => ProblemKind::BadInterpolation {
                        text: text.to_owned(),
                    },
                };
                self.problems
                    .push(Problem::error(Some(node.at), path, kind));
                None
            }
        }
    }

    /// A scalar as text; Compose accepts `5432` where it means `"5432"`.
    pub(super) fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => self.interpolated(s, node, path),
            _ => match node.scalar_text() {
                Some(s) => Some(s),
                None => {
                    self.wrong_type(node, path, "a string");
                    None
                }
            },
        }
    }

    pub(super) fn string(&mut self, node: &Node, path: &str) -> Option<Located<String>> {
        let value = self.text(node, path)?;
        Some(Located {
            value,
            at: node.at,
            path: path.to_owned(),
        })
    }

    /// A non-empty name-like string.
    pub(super) fn name(&mut self, node: &Node, path: &str) -> Option<Located<String>> {
        let located = self.string(node, path)?;
        if located.value.trim().is_empty() {
            self.invalid(node, path, located.value, "a non-empty name");
            return None;
        }
        Some(located)
    }

    pub(super) fn number(
        &mut self,
        node: &Node,
        path: &str,
        min: u32,
        max: u32,
        what: &str,
    ) -> Option<Located<u32>> {
        let parsed = match &node.kind {
            Kind::Int(i) => Some(*i),
            Kind::Str(s) => {
                let s = self.interpolated(s, node, path)?;
                match s.trim().parse::<i128>() {
                    Ok(i) => Some(i),
                    Err(_) => {
                        self.invalid(node, path, s, what.to_owned());
                        return None;
                    }
                }
            }
            _ => None,
        };
        let Some(value) = parsed else {
            self.wrong_type(node, path, "an integer");
            return None;
        };
        match u32::try_from(value) {
            Ok(v) if (min..=max).contains(&v) => Some(Located {
                value: v,
                at: node.at,
                path: path.to_owned(),
            }),
            _ => {
                self.invalid(node, path, value.to_string(), what.to_owned());
                None
            }
        }
    }

    pub(super) fn port(&mut self, node: &Node, path: &str) -> Option<Located<u16>> {
        let n = self.number(node, path, 1, 65535, "a port number (1-65535)")?;
        let value = u16::try_from(n.value).ok()?;
        Some(Located {
            value,
            at: n.at,
            path: n.path,
        })
    }

    pub(super) fn flag(&mut self, node: &Node, path: &str) -> Option<Located<bool>> {
        let value = match &node.kind {
            Kind::Bool(b) => *b,
            Kind::Str(s) => match self.interpolated(s, node, path)?.as_str() {
                "true" | "True" | "TRUE" => true,
                "false" | "False" | "FALSE" => false,
                other => {
                    self.invalid(node, path, other.to_owned(), "`true` or `false`");
                    return None;
                }
            },
            _ => {
                self.wrong_type(node, path, "a boolean");
                return None;
            }
        };
        Some(Located {
            value,
            at: node.at,
            path: path.to_owned(),
        })
    }

    pub(super) fn map<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(node, path, "a map");
                None
            }
        }
    }

    pub(super) fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.wrong_type(node, path, "a list");
                None
            }
        }
    }

    /// Entries of an `x-provision` map, reporting keys outside `allowed` with a suggestion.
    pub(super) fn known_entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &'static [&'static str],
    ) -> Vec<(&'static str, &'n Node, String)> {
        let Some(entries) = self.map(node, path) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let text = key.scalar_text().unwrap_or_default();
            let child = format!("{path}.{text}");
            match allowed.iter().find(|k| **k == text) {
                Some(k) => out.push((*k, value, child)),
                None => {
                    let suggestion =
                        did_you_mean(&text, allowed.iter().copied()).map(str::to_owned);
                    self.problems.push(Problem::error(
                        Some(key.at),
                        child,
                        ProblemKind::UnknownKey {
                            key: text,
                            expected: allowed,
                            suggestion,
                        },
                    ));
                }
            }
        }
        out
    }

    pub(super) fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        let Some(items) = self.list(node, path) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.text(item, &format!("{path}[{i}]")))
            .collect()
    }

    pub(super) fn top_extension(&mut self, node: &Node, manifest: &mut Manifest) {
        for (key, value, path) in self.known_entries(node, "x-provision", TOP_KEYS) {
            match key {
                "project" => manifest.project = self.name(value, &path),
                "local" => {
                    for (key, value, path) in self.known_entries(value, &path, TOP_LOCAL_KEYS) {
                        if key == "tls" {
                            manifest.local_tls = self.flag(value, &path);
                            continue;
                        }
                        let Some(text) = self.text(value, &path) else {
                            continue;
                        };
                        match text.as_str() {
                            "containers" => manifest.apps_in_containers = Some(true),
                            "processes" => manifest.apps_in_containers = Some(false),
                            _ => self.invalid(value, &path, text, "`containers` or `processes`"),
                        }
                    }
                }
                _ => {
                    for (key, value, path) in self.known_entries(value, &path, TOP_CLOUD_KEYS) {
                        match key {
                            "region" => manifest.cloud.region = self.name(value, &path),
                            "subnet_ids" => manifest.cloud.subnet_ids = self.strings(value, &path),
                            "security_group_ids" => {
                                manifest.cloud.security_group_ids = self.strings(value, &path);
                            }
                            "vpc_id" => manifest.cloud.vpc_id = self.name(value, &path),
                            "stage" => manifest.cloud.stage = self.name(value, &path),
                            "stages" => manifest.cloud.stages = Some(self.stages(value, &path)),
                            "allow_from" => {
                                if let Some(items) = self.list(value, &path) {
                                    for (i, item) in items.iter().enumerate() {
                                        if let Some(v) = self.name(item, &format!("{path}[{i}]")) {
                                            manifest.cloud.allow_from.push(v);
                                        }
                                    }
                                }
                            }
                            _ => {
                                let Some(entries) = self.map(value, &path) else {
                                    continue;
                                };
                                for (k, v) in entries {
                                    let name = k.scalar_text().unwrap_or_default();
                                    if let Some(v) = self.text(v, &format!("{path}.{name}")) {
                                        manifest.cloud.tags.push((name, v));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    pub(super) fn stages(&mut self, node: &Node, path: &str) -> StagesSettings {
        let mut out = StagesSettings::default();
        for (key, value, path) in self.known_entries(node, path, STAGES_KEYS) {
            let Some(v) = self.name(value, &path) else {
                continue;
            };
            if key == "profile" {
                if v.value != "ephemeral" && v.value != "standard" {
                    self.invalid(value, &path, v.value, "`ephemeral` or `standard`");
                    continue;
                }
                out.profile = Some(v);
            } else if crate::names::parse_ttl(&v.value).is_none() {
                self.invalid(
                    value,
                    &path,
                    v.value,
                    "a time to live: `30m`, `12h`, `3d` or `2w`",
                );
            } else {
                out.ttl = Some(v);
            }
        }
        out
    }

    pub(super) fn services(&mut self, node: &Node) -> Vec<Service> {
        let Some(entries) = self.map(node, "services") else {
            return Vec::new();
        };
        let mut services = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(name) = key.scalar_text().filter(|n| !n.is_empty()) else {
                self.wrong_type(key, "services", "a service name");
                continue;
            };
            let path = format!("services.{name}");
            // Compose's own rule. Names become container, volume, directory and AWS names, so
            // a `/` or `..` must never get through.
            let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                && !name.contains("..");
            if !valid {
                self.invalid(key, &path, name.clone(), "a service name of letters, digits, `_`, `.` and `-`, starting with a letter or digit");
                continue;
            }
            let mut service = Service {
                name,
                at: key.at,
                image: None,
                ext: Extension::default(),
                ports: Vec::new(),
                links: Vec::new(),
                environment: Vec::new(),
                command: None,
                command_substituted: false,
                volumes: Vec::new(),
                secrets: Vec::new(),
                files: BTreeMap::new(),
                deferred: Vec::new(),
                app_only: Vec::new(),
                process: process::Process::default(),
            };
            // `db:` with nothing under it is a service with no settings; Compose rejects it
            // later for want of an image, which is the app's business, not ours.
            if !matches!(value.kind, Kind::Null)
                && let Some(fields) = self.map(value, &path)
            {
                self.service_fields(fields, &path, &mut service);
            }
            services.push(service);
        }
        services
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per Compose service key, in the order of the Compose specification"
    )]
    pub(super) fn service_fields(
        &mut self,
        fields: &[(Node, Node)],
        path: &str,
        service: &mut Service,
    ) {
        for (key, value) in fields {
            let Some(key) = key.scalar_text() else {
                continue;
            };
            let child = format!("{path}.{key}");
            let before = self.problems.len();
            let deferred = matches!(key.as_str(), "command" | "volumes" | "tmpfs" | "secrets")
                || process::KEYS.contains(&key.as_str());
            match key.as_str() {
                "image" => service.image = self.name(value, &child),
                "x-provision" => service.ext = self.service_extension(value, &child),
                "ports" => service.ports = self.ports(value, &child),
                "links" => {
                    let Some(items) = self.list(value, &child) else {
                        continue;
                    };
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{child}[{i}]");
                        let Some(text) = self.text(item, &item_path) else {
                            continue;
                        };
                        let (target, alias) = match text.split_once(':') {
                            Some((t, a)) => (
                                t.trim().to_owned(),
                                Some(a.trim().to_owned()).filter(|a| !a.is_empty()),
                            ),
                            None => (text.trim().to_owned(), None),
                        };
                        service.links.push(LinkRef {
                            target,
                            alias,
                            kind: LinkKind::Links,
                            at: item.at,
                            path: item_path,
                        });
                    }
                }
                "depends_on" => match &value.kind {
                    Kind::Seq(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let item_path = format!("{child}[{i}]");
                            if let Some(target) = self.text(item, &item_path) {
                                service.links.push(LinkRef {
                                    target,
                                    alias: None,
                                    kind: LinkKind::DependsOn,
                                    at: item.at,
                                    path: item_path,
                                });
                            }
                        }
                    }
                    Kind::Map(entries) => {
                        for (k, _) in entries {
                            if let Some(target) = k.scalar_text() {
                                let item_path = format!("{child}.{target}");
                                service.links.push(LinkRef {
                                    target,
                                    alias: None,
                                    kind: LinkKind::DependsOn,
                                    at: k.at,
                                    path: item_path,
                                });
                            }
                        }
                    }
                    _ => self.wrong_type(value, &child, "a list or a map"),
                },
                "environment" => service.environment = self.environment(value, &child),
                "command" => {
                    service.command = self.command(value, &child);
                    service.command_substituted = match &value.kind {
                        Kind::Seq(items) => items.iter().any(has_substitution),
                        _ => has_substitution(value),
                    };
                    service.process.command = self.command_words(value, service.command.as_ref());
                }
                k if process::KEYS.contains(&k) => {
                    self.process_field(k, value, &child, &mut service.process);
                }
                "volumes" => service.volumes.extend(self.volumes(value, &child)),
                // A tmpfs on a path is a mount there too (often the data path, in CI).
                "tmpfs" => {
                    let targets = match &value.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![value],
                    };
                    for (i, t) in targets.into_iter().enumerate() {
                        let Some(text) = t.scalar_text() else {
                            continue;
                        };
                        // `/run:size=64m`: options after the path.
                        let target = text.split(':').next().unwrap_or_default().to_owned();
                        if target.starts_with('/') {
                            service.volumes.push(Located {
                                value: Mount {
                                    kind: MountKind::Tmpfs,
                                    source: None,
                                    host_path: None,
                                    target,
                                    read_only: false,
                                },
                                at: t.at,
                                path: format!("{child}[{i}]"),
                            });
                        }
                    }
                }
                "secrets" => service.secrets = self.service_secrets(value, &child),
                // healthcheck, networks, restart, expose, profiles, deploy, build, ...: the
                // app's and Compose's business; never an error here.
                _ => {}
            }
            if deferred {
                service.deferred.extend(self.problems.drain(before..));
            } else if key == "environment" {
                self.unset_in_environment(before, service);
            }
        }
    }

    pub(super) fn environment(&mut self, node: &Node, path: &str) -> Vec<Located<EnvVar>> {
        let mut vars = Vec::new();
        match &node.kind {
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let Some(name) = k.scalar_text() else {
                        continue;
                    };
                    let child = format!("{path}.{name}");
                    let (value, interpolated) = if matches!(v.kind, Kind::Null) {
                        (self.bare(&name, k), true)
                    } else {
                        (self.env_text(v, &child), has_substitution(v))
                    };
                    vars.push(Located {
                        value: EnvVar {
                            name,
                            value,
                            interpolated,
                        },
                        at: k.at,
                        path: child,
                    });
                }
            }
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    let Some(text) = self.env_text(item, &child) else {
                        continue;
                    };
                    let (name, value, interpolated) = match text.split_once('=') {
                        Some((n, v)) => (n.to_owned(), Some(v.to_owned()), has_substitution(item)),
                        None => {
                            let value = self.bare(&text, item);
                            (text, value, true)
                        }
                    };
                    vars.push(Located {
                        value: EnvVar {
                            name,
                            value,
                            interpolated,
                        },
                        at: item.at,
                        path: child,
                    });
                }
            }
            Kind::Null => {}
            _ => self.wrong_type(node, path, "a list or a map"),
        }
        vars
    }

    /// An unset `${VAR}` in `environment:` (problems from `before` on): an error for a
    /// database, whose settings it is; for an app, Compose's rule: an empty string and a
    /// warning (<https://docs.docker.com/reference/compose-file/interpolation/>: "If an
    /// environment variable is not set, Compose substitutes with an empty string").
    pub(super) fn unset_in_environment(&mut self, before: usize, service: &mut Service) {
        let mut kept = Vec::new();
        for problem in self.problems.drain(before..) {
            match &problem.kind {
                ProblemKind::UndefinedVariable { name } => {
                    service.app_only.push(Problem::warning(
                        problem.at,
                        problem.path.clone(),
                        ProblemKind::UnsetVariable {
                            name: name.clone(),
                            service: service.name.clone(),
                        },
                    ));
                    service.deferred.push(problem);
                }
                _ => kept.push(problem),
            }
        }
        self.problems.extend(kept);
    }

    /// An `environment:` value: as [`Reader::text`], except that an unset variable is an
    /// empty string (with an `UndefinedVariable` problem, which
    /// [`Reader::unset_in_environment`] sorts out).
    pub(super) fn env_text(&mut self, node: &Node, path: &str) -> Option<String> {
        let Kind::Str(text) = &node.kind else {
            return self.text(node, path);
        };
        let file = node.at.file;
        let vars = self.vars;
        match interpolate(text, &|name| vars(file, name)) {
            Err(InterpolationError::Undefined(_)) => {
                match interpolate::interpolate_lenient(text, &|name| vars(file, name)) {
                    Ok((value, unset)) => {
                        for name in unset {
                            self.problems.push(Problem::error(
                                Some(node.at),
                                path,
                                ProblemKind::UndefinedVariable { name },
                            ));
                        }
                        Some(value)
                    }
                    Err(_) => self.text(node, path),
                }
            }
            _ => self.text(node, path),
        }
    }

    /// A name alone in `environment:` (`- POSTGRES_USER`, `POSTGRES_USER:`): Compose takes
    /// its value from the shell or the `.env` file, and leaves it unset when neither has it
    /// (<https://docs.docker.com/reference/compose-file/services/#environment>).
    pub(super) fn bare(&self, name: &str, at: &Node) -> Option<String> {
        (self.vars)(at.at.file, name)
    }

    pub(super) fn ports(&mut self, node: &Node, path: &str) -> Vec<Located<Port>> {
        let Some(items) = self.list(node, path) else {
            return Vec::new();
        };
        let mut ports = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let child = format!("{path}[{i}]");
            let port = match &item.kind {
                Kind::Map(_) => {
                    let target = item
                        .get("target")
                        .and_then(|t| self.port(t, &format!("{child}.target")));
                    let published = item
                        .get("published")
                        .and_then(|p| self.port(p, &format!("{child}.published")));
                    target.map(|t| Port {
                        target: t.value,
                        published: published.map(|p| p.value),
                    })
                }
                _ => {
                    let Some(text) = self.text(item, &child) else {
                        continue;
                    };
                    match parse_port(&text) {
                        Some(PortSpec::Single(port)) => Some(port),
                        // Ranges map many ports; a database needs one, so they are not ours to use.
                        Some(PortSpec::Range) => None,
                        None => {
                            self.invalid(
                                item,
                                &child,
                                text,
                                "`[host_ip:][host_port:]container_port[/protocol]`",
                            );
                            None
                        }
                    }
                }
            };
            if let Some(value) = port {
                ports.push(Located {
                    value,
                    at: item.at,
                    path: child,
                });
            }
        }
        ports
    }

    pub(super) fn service_extension(&mut self, node: &Node, path: &str) -> Extension {
        let mut ext = Extension {
            at: Some(node.at),
            ..Extension::default()
        };
        for (key, value, child) in self.known_entries(node, path, SERVICE_KEYS) {
            match key {
                "type" => ext.type_name = self.name(value, &child),
                "version" => {
                    // `8.0` unquoted is the number 8, and `10.10` is 10.1: a version is text.
                    if let Kind::Float(_) = value.kind {
                        self.invalid(
                            value,
                            &child,
                            value.scalar_text().unwrap_or_default(),
                            "a quoted version, for example `version: \"8.0\"`",
                        );
                    } else {
                        ext.version = self.name(value, &child);
                    }
                }
                "database" => ext.database = self.identifier(value, &child),
                "username" => ext.username = self.identifier(value, &child),
                "local" => {
                    for (key, value, child) in self.known_entries(value, &child, LOCAL_KEYS) {
                        if key == "tls" {
                            ext.local_tls = self.flag(value, &child);
                        } else {
                            ext.local_port = self.port(value, &child);
                        }
                    }
                }
                "url" => ext.url = self.url_choices(value, &child),
                "seed" => ext.seed = self.string(value, &child),
                "migrate" => ext.migrate = self.migrate(value, &child),
                _ => ext.cloud = self.cloud_options(value, &child),
            }
        }
        ext
    }

    /// `x-provision.url`: one flavour for every link, or a map of linked service to flavour.
    pub(super) fn url_choices(&mut self, node: &Node, path: &str) -> Vec<UrlChoice> {
        if let Kind::Map(entries) = &node.kind {
            return entries
                .iter()
                .filter_map(|(key, value)| {
                    let link = key.scalar_text().unwrap_or_default();
                    let flavour = self.name(value, &format!("{path}.{link}"))?;
                    Some(UrlChoice {
                        link: Some(link),
                        flavour,
                    })
                })
                .collect();
        }
        self.name(node, path)
            .map(|flavour| UrlChoice {
                link: None,
                flavour,
            })
            .into_iter()
            .collect()
    }

    /// A database or user name: these end up in URLs, SQL and AWS parameters, so keep them to
    /// what every engine accepts unquoted.
    pub(super) fn identifier(&mut self, node: &Node, path: &str) -> Option<Located<String>> {
        let located = self.name(node, path)?;
        let v = &located.value;
        // The longest any RDS engine takes (MySQL's `DBName`, 64); each engine's own limit is
        // checked once the type is known (`max_username`, `max_database` in its template).
        let ok = v.len() <= MAX_SQL_NAME
            && v.starts_with(|c: char| c.is_ascii_alphabetic())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.invalid(
                node,
                path,
                v.clone(),
                "a letter followed by letters, digits or `_`, at most 64 characters",
            );
            return None;
        }
        Some(located)
    }

    pub(super) fn cloud_options(&mut self, node: &Node, path: &str) -> CloudOptions {
        let mut options = CloudOptions::default();
        for (key, value, child) in self.known_entries(node, path, CLOUD_KEYS) {
            match key {
                "class" => options.class = self.name(value, &child),
                "storage_gb" => {
                    options.storage_gb =
                        self.number(value, &child, 1, 65536, "a size in GiB (1-65536)");
                }
                "replicas" => {
                    options.replicas =
                        self.number(value, &child, 0, 5, "a number of replicas (0-5)");
                }
                "multi_az" => options.multi_az = self.flag(value, &child),
                "deletion_protection" => options.deletion_protection = self.flag(value, &child),
                "max_storage_gb" => {
                    options.max_storage_gb =
                        self.number(value, &child, 21, 65536, "a size in GiB (21-65536)");
                }
                "extended_support" => options.extended_support = self.flag(value, &child),
                "iam_auth" => options.iam_auth = self.flag(value, &child),
                "from_snapshot" => options.from_snapshot = self.snapshot_source(value, &child),
                "serverless" => options.serverless = self.flag(value, &child),
                "min_acu" => options.min_acu = self.acu(value, &child),
                "max_acu" => options.max_acu = self.acu(value, &child),
                "auto_pause_seconds" => {
                    // Aurora's range for SecondsUntilAutoPause
                    // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html).
                    options.auto_pause_seconds =
                        self.number(value, &child, 300, 86400, "a number of seconds (300-86400)");
                }
                "adopt" => options.adopt = self.adopted_identifier(value, &child),
                _ => {
                    options.backup_retention_days =
                        self.number(value, &child, 0, 35, "a number of days (0-35)");
                }
            }
        }
        options
    }

    /// Aurora capacity units, counted in halves: `0`, `0.5`, `1` ... `256`, in half-step
    /// increments (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html).
    pub(super) fn acu(&mut self, node: &Node, path: &str) -> Option<Located<u32>> {
        const WHAT: &str = "Aurora capacity units from 0 to 256 in steps of 0.5 (`0`, `0.5`, `8`)";
        let text = match &node.kind {
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Str(s) => self.interpolated(s, node, path)?,
            _ => {
                self.wrong_type(node, path, "a number");
                return None;
            }
        };
        let halves = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..=256.0).contains(v) && (v * 2.0).fract() == 0.0)
            .map(|v| v * 2.0);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a whole number of halves between 0 and 512, checked above"
        )]
        let Some(halves) = halves.map(|h| h as u32) else {
            self.invalid(node, path, text, WHAT);
            return None;
        };
        Some(Located {
            value: halves,
            at: node.at,
            path: path.to_owned(),
        })
    }

    /// `from_snapshot`: `latest-of:STAGE` (the newest snapshot of that stage's instance of the
    /// same database) or a snapshot identifier as AWS names them: a manual one
    /// (`shop-main-db-2026-12-01`), an automated one (`rds:shop-db-2026-12-01-03-10`,
    /// `automatic.shop-kv-2026-12-01-03-10`) or a shared snapshot's ARN.
    pub(super) fn snapshot_source(&mut self, node: &Node, path: &str) -> Option<Located<String>> {
        let located = self.string(node, path)?;
        let v = located.value.trim();
        let ok = match v.strip_prefix(crate::names::LATEST_OF) {
            Some(stage) => crate::names::Stage::named(stage).is_some(),
            None => {
                (1..=255).contains(&v.len())
                    && v.starts_with(|c: char| c.is_ascii_alphabetic())
                    && v.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '/' | '_')
                    })
            }
        };
        if !ok {
            self.invalid(
                node,
                path,
                located.value.clone(),
                "`latest-of:STAGE` (the newest snapshot of that stage's database) or a snapshot identifier (a letter first, then letters, digits, `-`, `:`, `.`; at most 255)",
            );
            return None;
        }
        Some(located)
    }
}

impl Reader<'_> {
    /// `adopt`: the identifier of an RDS instance or ElastiCache replication group made
    /// outside provision (`provision adopt`), as AWS spells identifiers: a letter first, then
    /// letters, digits and single hyphens, none at the end; at most 63 (RDS's limit; the
    /// model checks the kind's own).
    pub(super) fn adopted_identifier(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<Located<String>> {
        let located = self.string(node, path)?;
        let v = located.value.trim();
        let ok = (1..=63).contains(&v.len())
            && v.starts_with(|c: char| c.is_ascii_alphabetic())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !v.contains("--")
            && !v.ends_with('-');
        if !ok {
            self.invalid(
                node,
                path,
                located.value.clone(),
                "an RDS or ElastiCache identifier (a letter first, then letters, digits and single `-`, not ending in `-`; at most 63)",
            );
            return None;
        }
        Some(Located {
            value: v.to_ascii_lowercase(),
            ..located
        })
    }
}

/// Whether a scalar's text substitutes a variable (`$$` is a literal `$`).
fn has_substitution(node: &Node) -> bool {
    match &node.kind {
        Kind::Str(s) => s.replace("$$", "").contains('$'),
        _ => false,
    }
}

impl Reader<'_> {
    pub(super) fn command(&mut self, node: &Node, path: &str) -> Option<Located<Vec<String>>> {
        let words = match &node.kind {
            Kind::Null => return None,
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.text(item, &format!("{path}[{i}]")))
                .collect(),
            _ => {
                let text = self.text(node, path)?;
                let Some(words) = mounts::split_words(&text) else {
                    self.invalid(node, path, text, "a command with balanced quotes");
                    return None;
                };
                words
            }
        };
        Some(Located {
            value: words,
            at: node.at,
            path: path.to_owned(),
        })
    }

    pub(super) fn volumes(&mut self, node: &Node, path: &str) -> Vec<Located<Mount>> {
        if matches!(node.kind, Kind::Null) {
            return Vec::new();
        }
        let Some(items) = self.list(node, path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let child = format!("{path}[{i}]");
            let dir = self
                .dirs
                .get(usize::from(item.at.file))
                .cloned()
                .unwrap_or_default();
            let home = (self.vars)(item.at.file, "HOME");
            let mount = match &item.kind {
                Kind::Map(entries) => {
                    let mut fields: BTreeMap<String, String> = BTreeMap::new();
                    for (k, v) in entries {
                        let Some(key) = k.scalar_text() else { continue };
                        if matches!(key.as_str(), "type" | "source" | "target" | "read_only")
                            && let Some(text) = self.text(v, &format!("{child}.{key}"))
                        {
                            fields.insert(key, text);
                        }
                    }
                    Mount::long(&fields, &dir, home.as_deref())
                }
                _ => {
                    let Some(text) = self.text(item, &child) else {
                        continue;
                    };
                    Mount::short(&text, &dir, home.as_deref())
                }
            };
            match mount {
                Some(mount) => out.push(Located {
                    value: mount,
                    at: item.at,
                    path: child,
                }),
                None => self.invalid(
                    item,
                    &child,
                    item.scalar_text().unwrap_or_else(|| "this entry".into()),
                    "`[source:]target[:mode]` or a map with `target`",
                ),
            }
        }
        out
    }

    pub(super) fn service_secrets(&mut self, node: &Node, path: &str) -> Vec<ServiceSecret> {
        let Kind::Seq(items) = &node.kind else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let child = format!("{path}[{i}]");
            let (source, target) = match &item.kind {
                Kind::Map(_) => {
                    let source = item.get("source").and_then(Node::scalar_text);
                    let target = item.get("target").and_then(Node::scalar_text);
                    (source, target)
                }
                _ => (self.text(item, &child), None),
            };
            let Some(source) = source else { continue };
            // A relative target is under /run/secrets, as in Compose.
            let target = match target {
                Some(t) if t.starts_with('/') => t,
                Some(t) => format!("/run/secrets/{t}"),
                None => format!("/run/secrets/{source}"),
            };
            out.push(ServiceSecret { source, target });
        }
        out
    }

    pub(super) fn top_secrets(&mut self, node: &Node) -> Vec<TopSecret> {
        let Kind::Map(entries) = &node.kind else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(name) = k.scalar_text() else {
                continue;
            };
            let child = format!("secrets.{name}");
            let source = if let Some(file) = v.get("file") {
                match self.text(file, &format!("{child}.file")) {
                    Some(f) => {
                        let dir = self
                            .dirs
                            .get(usize::from(file.at.file))
                            .cloned()
                            .unwrap_or_default();
                        SecretSource::File(dir.join(f))
                    }
                    None => SecretSource::Other,
                }
            } else if let Some(var) = v.get("environment").and_then(Node::scalar_text) {
                SecretSource::Environment(var)
            } else {
                SecretSource::Other
            };
            out.push(TopSecret { name, source });
        }
        out
    }
}

enum PortSpec {
    Single(Port),
    Range,
}

/// `5432`, `15432:5432`, `127.0.0.1:15432:5432`, `127.0.0.1::5432`, `[::1]:15432:5432/tcp`.
fn parse_port(text: &str) -> Option<PortSpec> {
    let text = text.trim();
    let text = text.split_once('/').map_or(text, |(p, _)| p);
    let (rest, target) = text.rsplit_once(':').map_or(("", text), |(r, t)| (r, t));
    if target.contains('-') {
        return Some(PortSpec::Range);
    }
    let target: u16 = target.parse().ok().filter(|p| *p > 0)?;
    if rest.is_empty() {
        return Some(PortSpec::Single(Port {
            published: None,
            target,
        }));
    }
    // What is left is `published` or `ip:published` (ip may be `[v6]` with colons inside).
    let published = if rest.ends_with(']') {
        ""
    } else {
        rest.rsplit_once(':').map_or(rest, |(_, p)| p)
    };
    if published.contains('-') {
        return Some(PortSpec::Range);
    }
    let published = if published.is_empty() {
        None
    } else {
        Some(published.parse::<u16>().ok().filter(|p| *p > 0)?)
    };
    Some(PortSpec::Single(Port { published, target }))
}
