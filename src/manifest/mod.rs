//! The manifest: a Compose file, read for the parts provision needs.
//!
//! Reading never stops at the first problem: every shape error is collected with its
//! `file:line:col` and key path, so `doctor` can report them all. Only a file that is not a
//! YAML map at all is fatal here.

pub mod compose;
pub mod envfile;
pub mod interpolate;
pub mod mounts;
pub mod process;
mod reader;
pub mod yaml;

/// The longest database or user name read from a file (MySQL's identifier limit); each
/// engine's own, shorter limit is checked by the model.
pub const MAX_SQL_NAME: usize = 64;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::problem::{Problem, ProblemKind};
use crate::secret::Secret;
pub use mounts::{Mount, MountKind, data_mount};
use yaml::{Kind, Node, Pos};

/// Looked up in this order in the working directory.
pub const FILE_NAMES: &[&str] = &[
    "provision.yml",
    "provision.yaml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Larger than any real Compose file by orders of magnitude; refusing it avoids reading a
/// mistaken `-f /dev/zero` or a disk image into memory.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub at: Pos,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest's (first) path as the user would write it.
    pub file: PathBuf,
    /// Every file the project was read from, indexed by `Pos::file`: the files given (or
    /// found, with the override beside the base file), then `include:`d and `extends:` files.
    pub files: Vec<SourceFile>,
    /// Top-level `secrets:` with a `file:` or `environment:` source.
    pub secrets: Vec<TopSecret>,
    /// The name of the directory holding it: the project name of last resort.
    pub dir_name: String,
    /// Compose's top-level `name:`.
    pub name: Option<Located<String>>,
    /// Top-level `x-provision.project`.
    pub project: Option<Located<String>>,
    /// `COMPOSE_PROJECT_NAME` from the environment or `.env`, when set and not empty.
    pub compose_project_name: Option<String>,
    pub cloud: CloudSettings,
    /// Top-level `x-provision.local.apps`: `containers` (true) or `processes` (false), how
    /// `provision start` runs the app services.
    pub apps_in_containers: Option<bool>,
    /// Top-level `x-provision.local.tls`: local databases run with TLS from a project CA.
    pub local_tls: Option<Located<bool>>,
    pub services: Vec<Service>,
    /// Shape problems found while reading; the model adds the semantic ones.
    pub problems: Vec<Problem>,
}

/// One file of the project.
#[derive(Debug, Clone, Default)]
pub struct SourceFile {
    /// As the user would write it (relative to the working directory when it was given so).
    pub path: PathBuf,
    /// What relative paths written in it (bind mounts, `env_file:`, secrets) are relative to:
    /// the project directory for the files given, an included file's own project directory.
    pub base_dir: PathBuf,
}

/// A top-level `secrets:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopSecret {
    pub name: String,
    pub source: SecretSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `file:`, resolved against the declaring file's base directory.
    File(PathBuf),
    /// `environment:`: the variable's value is the secret.
    Environment(String),
    /// `external:` or anything else provision cannot read.
    Other,
}

/// A service's `secrets:` entry: mounted at `target` (default `/run/secrets/{source}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSecret {
    pub source: String,
    pub target: String,
}

/// What a `*_FILE` variable on a service points at, read at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileValue {
    /// The file's contents, without the trailing newlines the official images' `file_env`
    /// strips too.
    Read(Secret),
    /// The container path matches no secret or bind mount of the service.
    Unmapped,
    /// The host file could not be read.
    Unreadable { path: PathBuf, reason: String },
}

/// Top-level `x-provision.cloud`.
#[derive(Debug, Clone, Default)]
pub struct CloudSettings {
    pub region: Option<Located<String>>,
    /// The VPC to work in; without it, the subnets' VPC, else the account's default VPC.
    pub vpc_id: Option<Located<String>>,
    /// Who may connect: security group ids and CIDR blocks, for the security group
    /// provision creates and owns (`{project}-provision`).
    pub allow_from: Vec<Located<String>>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// The stage when neither `--stage` nor `PROVISION_STAGE` names one.
    pub stage: Option<Located<String>>,
    /// `x-provision.cloud.stages`: the ephemeral profile for every stage but the default.
    pub stages: Option<StagesSettings>,
}

/// `x-provision.cloud.stages`: what a preview stage gets (see `model::stage::Profile`).
#[derive(Debug, Clone, Default)]
pub struct StagesSettings {
    /// `ephemeral` (the default once the block is there) or `standard`.
    pub profile: Option<Located<String>>,
    /// How long a stage lives after its last `up` (`3d`), unless `--ttl`.
    pub ttl: Option<Located<String>>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub at: Pos,
    pub image: Option<Located<String>>,
    pub ext: Extension,
    pub ports: Vec<Located<Port>>,
    pub links: Vec<LinkRef>,
    pub environment: Vec<Located<EnvVar>>,
    /// `command:`, split into words as Compose splits the string form.
    pub command: Option<Located<Vec<String>>>,
    /// Whether `command:` took a `${VAR}` (a password there is then not written in the file).
    pub command_substituted: bool,
    /// `volumes:`, short and long syntax.
    pub volumes: Vec<Located<Mount>>,
    /// `secrets:`.
    pub secrets: Vec<ServiceSecret>,
    /// `*_FILE` variables whose file provision read (or could not), by variable name.
    pub files: BTreeMap<String, FileValue>,
    /// Problems in keys that matter only if the service is a database (`command:`,
    /// `volumes:`, `tmpfs:`, `secrets:`): an app service's are Compose's business, so the
    /// model reports them for databases only.
    pub deferred: Vec<Problem>,
    /// Problems that count for an app service only: Compose's warnings, such as an unset
    /// variable in `environment:` (an empty string for an app, an error for a database).
    pub app_only: Vec<Problem>,
    /// How an app service runs (`entrypoint`, `working_dir`, `restart`, `build`, and
    /// `command` in its two forms), for `provision start`.
    pub process: process::Process,
}

/// A Compose `ports:` entry (`[ip:][published:]target[/proto]` or the long form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub published: Option<u16>,
    pub target: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
    /// The value came through `${VAR}` substitution (from the environment or `.env`), so
    /// it is not written in the Compose file itself.
    pub interpolated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Links,
    DependsOn,
}

/// One `links:` or `depends_on:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRef {
    pub target: String,
    pub alias: Option<String>,
    pub kind: LinkKind,
    pub at: Pos,
    pub path: String,
}

/// A service's `x-provision:` block.
#[derive(Debug, Clone, Default)]
pub struct Extension {
    pub at: Option<Pos>,
    pub type_name: Option<Located<String>>,
    pub version: Option<Located<String>>,
    pub database: Option<Located<String>>,
    pub username: Option<Located<String>>,
    pub local_port: Option<Located<u16>>,
    /// `x-provision.local.tls` on a database: overrides the top-level setting.
    pub local_tls: Option<Located<bool>>,
    /// `x-provision.url` on an app service: the spelling of `P_URL` its client reads, for
    /// every link (`url: jdbc`) or per linked service (`url: {db: jdbc}`).
    pub url: Vec<UrlChoice>,
    pub cloud: CloudOptions,
    /// `x-provision.seed` on a database: a file or directory applied once after creation
    /// (`src/local/seed.rs`), relative to the manifest's directory.
    pub seed: Option<Located<String>>,
    /// `x-provision.migrate` on an app service: a command (Compose's `command:` forms) run
    /// with its link variables after `up` and before `start` runs apps (`src/commands/migrate.rs`).
    pub migrate: Option<Located<process::Words>>,
}

impl Extension {
    /// Only keys an app service may have (`url`, `migrate`): the block does not make it a database.
    pub fn is_app_only(&self) -> bool {
        (!self.url.is_empty() || self.migrate.is_some())
            && self.type_name.is_none()
            && self.version.is_none()
            && self.database.is_none()
            && self.username.is_none()
            && self.local_port.is_none()
            && self.local_tls.is_none()
            && self.cloud.given().is_empty()
    }
}

/// One `x-provision.url` choice.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlChoice {
    /// The linked service it is for; none: every link.
    pub link: Option<String>,
    pub flavour: Located<String>,
}

/// A service's `x-provision.cloud:` block.
#[derive(Debug, Clone, Default)]
pub struct CloudOptions {
    pub class: Option<Located<String>>,
    pub storage_gb: Option<Located<u32>>,
    pub replicas: Option<Located<u32>>,
    pub multi_az: Option<Located<bool>>,
    pub deletion_protection: Option<Located<bool>>,
    pub backup_retention_days: Option<Located<u32>>,
    pub max_storage_gb: Option<Located<u32>>,
    pub extended_support: Option<Located<bool>>,
    /// RDS IAM database authentication: links hand out a 15-minute token, not a password.
    pub iam_auth: Option<Located<bool>>,
    /// `from_snapshot`: what a stage's first create of this database restores from.
    pub from_snapshot: Option<Located<String>>,
    /// Aurora Serverless v2 (Postgres, MySQL) or ElastiCache Serverless (Redis, Valkey) in
    /// place of an instance or a replication group (`model::serverless`).
    pub serverless: Option<Located<bool>>,
    /// Aurora Serverless v2 capacity, in half ACUs (`1` is 0.5 ACU).
    pub min_acu: Option<Located<u32>>,
    pub max_acu: Option<Located<u32>>,
    pub auto_pause_seconds: Option<Located<u32>>,
    /// `adopt`: an existing resource's identifier (`provision adopt`), on the default stage.
    pub adopt: Option<Located<String>>,
}

impl CloudOptions {
    /// The options that were written, with where.
    pub fn given(&self) -> Vec<(crate::catalog::CloudOption, Pos, &str)> {
        use crate::catalog::CloudOption as O;
        fn at<T>(l: Option<&Located<T>>) -> Option<(Pos, &str)> {
            l.map(|l| (l.at, l.path.as_str()))
        }
        [
            (O::Class, at(self.class.as_ref())),
            (O::StorageGb, at(self.storage_gb.as_ref())),
            (O::Replicas, at(self.replicas.as_ref())),
            (O::MultiAz, at(self.multi_az.as_ref())),
            (O::DeletionProtection, at(self.deletion_protection.as_ref())),
            (
                O::BackupRetentionDays,
                at(self.backup_retention_days.as_ref()),
            ),
            (O::MaxStorageGb, at(self.max_storage_gb.as_ref())),
            (O::ExtendedSupport, at(self.extended_support.as_ref())),
            (O::IamAuth, at(self.iam_auth.as_ref())),
            (O::FromSnapshot, at(self.from_snapshot.as_ref())),
        ]
        .into_iter()
        .filter_map(|(option, at)| at.map(|(pos, path)| (option, pos, path)))
        .collect()
    }
}

/// Finds the manifest: `-f` if given, else the first of [`FILE_NAMES`] in `dir`. See
/// [`compose::locate_files`] for the whole project (overrides, `COMPOSE_FILE`).
pub fn locate(dir: &Path, file: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(file) = file {
        return Ok(file.to_path_buf());
    }
    FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .map(|p| p.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(p))
        .ok_or_else(|| Error::ManifestNotFound {
            dir: dir.to_path_buf(),
            tried: FILE_NAMES,
        })
}

/// Reads the manifest at `path` (relative to `cwd`) alone: see [`compose::load_files`].
pub fn load(
    cwd: &Path,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, Error> {
    compose::load_files(cwd, &[path.to_path_buf()], env)
}

/// The fatal error for a file that cannot be a Compose file at all.
fn fatal(file: &Path, kind: ProblemKind, at: Option<Pos>) -> Error {
    Error::ManifestInvalid {
        file: file.to_path_buf(),
        problems: vec![Problem::error(at, "", kind)],
    }
}

/// Parses one file's bytes into a tree (UTF-8, a BOM allowed, YAML), or the fatal error.
pub fn parse_bytes(bytes: &[u8], file: &Path) -> Result<Node, Error> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(fatal(file, ProblemKind::NotUtf8, None));
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    yaml::parse(text).map_err(|e| {
        let kind = match e.message.strip_prefix("duplicate mapping key: ") {
            Some(rest) => ProblemKind::DuplicateKey {
                key: rest
                    .split(", set DuplicateKeyPolicy")
                    .next()
                    .unwrap_or(rest)
                    .to_owned(),
            },
            None => ProblemKind::Syntax { message: e.message },
        };
        fatal(file, kind, e.at)
    })
}

/// Reads a manifest from memory: the pure part of [`load`], for one file.
pub fn from_bytes(
    bytes: &[u8],
    file: PathBuf,
    dir_name: String,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, Error> {
    let root = parse_bytes(bytes, &file)?;
    let files = vec![SourceFile {
        path: file.clone(),
        base_dir: PathBuf::new(),
    }];
    from_root(&root, file, dir_name, files, &|_, name| vars(name))
}

/// Reads the (merged) tree of a project. `vars` answers `${VAR}` for a node of file `id`.
pub fn from_root(
    root: &Node,
    file: PathBuf,
    dir_name: String,
    files: Vec<SourceFile>,
    vars: &dyn Fn(u16, &str) -> Option<String>,
) -> Result<Manifest, Error> {
    let entries = match &root.kind {
        Kind::Map(entries) => entries,
        Kind::Null => return Err(fatal(&file, ProblemKind::Empty, None)),
        _ => {
            return Err(fatal(
                &file,
                ProblemKind::TopLevelNotMap {
                    found: root.type_name(),
                },
                Some(root.at),
            ));
        }
    };
    let mut reader = reader::Reader {
        vars,
        dirs: files.iter().map(|f| f.base_dir.clone()).collect(),
        problems: Vec::new(),
    };
    let mut manifest = Manifest {
        file,
        files,
        secrets: Vec::new(),
        dir_name,
        name: None,
        project: None,
        // Compose reads it from the shell, then `.env`
        // (<https://docs.docker.com/compose/how-tos/project-name/>).
        compose_project_name: vars(0, "COMPOSE_PROJECT_NAME").filter(|v| !v.is_empty()),
        cloud: CloudSettings::default(),
        apps_in_containers: None,
        local_tls: None,
        services: Vec::new(),
        problems: Vec::new(),
    };
    let mut services_node = None;
    for (key, value) in entries {
        match key.scalar_text().as_deref() {
            Some("name") => manifest.name = reader.string(value, "name"),
            Some("services") => {
                services_node = Some(value);
                manifest.services = reader.services(value);
            }
            Some("x-provision") => reader.top_extension(value, &mut manifest),
            Some("secrets") => manifest.secrets = reader.top_secrets(value),
            // Compose has many more keys (volumes, networks, configs, x-*); none matter here.
            _ => {}
        }
    }
    // A `services:` of the wrong type already has its own error.
    let services_empty = services_node
        .is_none_or(|n| matches!(&n.kind, Kind::Null) || n.as_map().is_some_and(<[_]>::is_empty));
    if services_empty {
        reader.problems.push(Problem::error(
            Some(root.at),
            "services",
            ProblemKind::NoServices,
        ));
    }
    manifest.problems = reader.problems;
    let mut problems = std::mem::take(&mut manifest.problems);
    for p in &mut problems {
        manifest.attribute(p);
    }
    manifest.problems = problems;
    Ok(manifest)
}

impl Manifest {
    /// Names the file a problem was written in, when it is not the first one.
    pub fn attribute(&self, problem: &mut Problem) {
        if let Some(at) = problem.at
            && at.file != 0
            && let Some(f) = self.files.get(usize::from(at.file))
        {
            problem.file = Some(f.path.clone());
        }
    }
}

#[cfg(test)]
mod tests;
