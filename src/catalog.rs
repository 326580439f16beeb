//! What provision knows about each database type, read from `templates/*.yml`.
//!
//! The templates are embedded at build time, so the binary needs no files at run time, and a
//! new type is a new file plus, at most, a new probe kind.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

/// No version-dependent data paths.
static EMPTY: LazyLock<BTreeMap<String, String>> = LazyLock::new(BTreeMap::new);

/// The embedded template files, by file name. `catalog_is_complete` proves every one parses.
const SOURCES: &[(&str, &str)] = &[
    ("postgres.yml", include_str!("../templates/postgres.yml")),
    ("mysql.yml", include_str!("../templates/mysql.yml")),
    ("mariadb.yml", include_str!("../templates/mariadb.yml")),
    ("redis.yml", include_str!("../templates/redis.yml")),
    ("valkey.yml", include_str!("../templates/valkey.yml")),
    ("memcached.yml", include_str!("../templates/memcached.yml")),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    /// How many components of a version make its major line (Postgres 1, MySQL 2).
    pub major_parts: usize,
    pub title: String,
    pub images: Vec<String>,
    pub default_version: String,
    pub versions: Vec<String>,
    pub port: u16,
    pub sql: bool,
    pub url: UrlShape,
    pub container: Container,
    pub probe: Probe,
    pub native: Native,
    pub cloud: Cloud,
    /// The interactive client `provision connect` opens.
    #[serde(default)]
    pub client: Client,
    /// How the server runs with TLS locally; none: it cannot.
    #[serde(default)]
    pub tls: Option<LocalTls>,
    /// What a Compose file's own settings on the database service mean for its credentials,
    /// per image family: the first entry naming the repository, else the one naming none.
    #[serde(default)]
    pub compose_env: Vec<ComposeEnv>,
    /// The engine's own tools for dump, restore and seed (`src/local/data.rs`); none: the
    /// engine keeps no data (Memcached).
    #[serde(default)]
    pub data: Option<DataTools>,
}

/// How `dump`, `restore`, `seed` and `reset` run the engine's own programs where the server
/// is (in its container, or beside the native binaries). Arguments take `{host}`, `{port}`,
/// `{username}`, `{database}`, `{options}` (a MySQL option file with the connection and the
/// password, readable only by the tool) and `{dir}` (the data directory, offline steps).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataTools {
    /// The environment variable the tools read the password from; none: `{options}` carries it.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Writes the whole database to stdout, streaming.
    pub dump: Vec<String>,
    /// Reads a dump on stdin into the running server (none: `restore_offline`).
    #[serde(default)]
    pub restore: Vec<String>,
    /// A shell script run in the data directory (`$1`) with the server stopped, the dump on
    /// stdin: for engines that load their data only from files at start (Redis).
    #[serde(default)]
    pub restore_offline: Option<String>,
    /// Runs commands read from stdin, stopping at the first error (seed files, reset).
    #[serde(default)]
    pub run: Vec<String>,
    /// What `reset` sends to `run` to empty the database, keeping the database and its user.
    #[serde(default)]
    pub wipe: String,
    /// Added to the connection arguments when the server runs with TLS (`{tls_dir}`: where
    /// the CA is).
    #[serde(default)]
    pub tls_args: Vec<String>,
    /// The suffix of a dump file by default (`dump` without `-o` on a terminal).
    pub suffix: String,
    /// The environment a `.sh` seed file runs with, filled like the tools' arguments (and
    /// `{password}`): the variables the official image's init scripts read.
    #[serde(default)]
    pub script_env: BTreeMap<String, String>,
    /// Added to `script_env` when the server runs with TLS.
    #[serde(default)]
    pub script_tls_env: BTreeMap<String, String>,
    /// Shell functions a sourced (not executable) `.sh` seed file may call, as the official
    /// entrypoint defines them for its init scripts (`docker_process_sql`).
    #[serde(default)]
    pub script_functions: String,
    /// Where the official image's entrypoint runs init files from on its first start: seed
    /// files that a Compose bind mount puts there are applied by the image, not again.
    #[serde(default)]
    pub init_dir: Option<String>,
    /// `upgrade`'s check: a tool and what it reads on stdin that print what the database
    /// holds, one `name<TAB>count` line per table (SQL) or the server's `INFO keyspace`
    /// (`db0:keys=N,...`), so the old and the new server are compared by real queries.
    #[serde(default)]
    pub counts: Option<Counts>,
}

/// A query run by a tool, its answer on stdout (`DataTools::counts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub run: Vec<String>,
    pub input: String,
}

/// An engine's own command-line client; how to pass it an address and credentials follows
/// from the engine's protocol (`probe`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Tried in order on PATH.
    #[serde(default)]
    pub programs: Vec<String>,
    /// The Debian package that has them, for the "not installed" hint.
    #[serde(default)]
    pub package: String,
    /// What to do instead when there is no client.
    #[serde(default)]
    pub hint: String,
}

/// The variables (and server flag) an image family reads its user, database and password
/// from, so that a Compose file's `environment:` keeps meaning what it means to the image.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeEnv {
    /// Repositories this entry is for; empty: every other image of the type.
    #[serde(default)]
    pub images: Vec<String>,
    /// Tried in order; the first one set wins (the image's own precedence).
    #[serde(default)]
    pub username: Vec<String>,
    #[serde(default)]
    pub database: Vec<String>,
    #[serde(default)]
    pub password: Vec<String>,
    /// Variables naming a file (inside the container) that holds the password.
    #[serde(default)]
    pub password_file: Vec<String>,
    /// The user the image creates when the file configures it but names none.
    #[serde(default)]
    pub default_username: Option<String>,
    /// Likewise the database; `{username}` stands for the user's name.
    #[serde(default)]
    pub default_database: Option<String>,
    /// A server flag in `command:` that sets the password (`--requirepass`).
    #[serde(default)]
    pub password_flag: Option<String>,
    /// Variables holding extra server arguments, where `password_flag` may be too
    /// (redis-stack's `REDIS_ARGS`).
    #[serde(default)]
    pub args_env: Vec<String>,
    /// The image's superuser, for files that configure only it (`MYSQL_ROOT_PASSWORD` and
    /// `MYSQL_DATABASE`, no `MYSQL_USER`): their apps log in as it.
    #[serde(default)]
    pub superuser: Option<ComposeSuperuser>,
    /// Variables that turn the image's password off for its default user
    /// (`POSTGRES_HOST_AUTH_METHOD: trust`): set (to one of `values`) without a user or
    /// password, the file means the image's defaults, without a password.
    #[serde(default)]
    pub no_password: Option<NoPassword>,
}

/// How a file configures the image's superuser (`root` in the MySQL and MariaDB images).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeSuperuser {
    /// Its name in the server.
    pub name: String,
    /// Its password, the first set wins.
    pub password: Vec<String>,
    #[serde(default)]
    pub password_file: Vec<String>,
    /// Variables that let it in without a password, or have the image pick a random one:
    /// the file is root-only, and provision gives root a password of its own.
    #[serde(default)]
    pub without_password: Vec<String>,
}

/// A variable that makes the image's default user passwordless.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoPassword {
    pub variable: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlShape {
    pub scheme: String,
    pub tls_scheme: String,
    pub credentials: Credentials,
    /// `{database}` is replaced by the resource's database name.
    pub path: String,
    /// Appended as the query string when the link requires TLS (cloud links, local TLS).
    /// `{ca_file}` is the CA file the server's certificate chains to; a parameter naming it
    /// is left out when there is none (public roots: ElastiCache).
    pub tls_query: String,
    /// Other spellings of the URL, for clients that read another (`x-provision.url`), by
    /// name. They change `P_URL` only.
    #[serde(default)]
    pub flavours: BTreeMap<String, UrlFlavour>,
}

/// One client's spelling of a link's URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlFlavour {
    /// The clients that read this spelling (for `doctor` and the README).
    pub clients: String,
    /// The URL before its query. Placeholders: `{scheme}`, `{userinfo}` (`user:pass@`),
    /// `{host}`, `{port}`, `{path}`, `{username}`, `{password}` (all percent-encoded).
    /// Default: `{scheme}://{userinfo}{host}:{port}{path}`.
    #[serde(default)]
    pub format: Option<String>,
    /// Replaces the scheme, with or without TLS.
    #[serde(default)]
    pub scheme: Option<String>,
    /// Replaces the TLS query.
    #[serde(default)]
    pub tls_query: Option<String>,
    /// `{username}` and `{password}` go in as they are: the client decodes no
    /// percent-escapes. A query parameter holding one is left out when the value has a
    /// character that would end it there (`&`, `#`, `?`, a space); the app then passes
    /// `P_USERNAME` and `P_PASSWORD` to the driver itself.
    #[serde(default)]
    pub raw_credentials: bool,
}

/// How a local server of this type runs with TLS (`x-provision.local.tls`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalTls {
    /// Server arguments that turn TLS on, after the others. `{tls_dir}` holds `ca.pem`,
    /// `server.pem`, `server.key` and `files`; `{port}` is the port the server listens on.
    pub args: Vec<String>,
    /// More files for `{tls_dir}` (a `pg_hba.conf` that admits TLS connections only).
    #[serde(default)]
    pub files: Vec<NativeFile>,
    /// Where the files go in a container.
    pub container_dir: String,
    /// The account in the image that reads the key (Postgres insists that it owns it).
    pub container_user: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// `scheme://user:pass@host:port/path`
    UserPassword,
    /// `scheme://:pass@host:port/path` (Redis AUTH with the default user), or
    /// `scheme://user:pass@...` where the endpoint names a user (an ElastiCache Serverless
    /// cache's RBAC user)
    Password,
    /// `scheme://host:port`
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Where the image keeps its data; empty for in-memory engines (no volume).
    pub data_path: String,
    /// From a version line on, where the image keeps its data instead (`"18":
    /// /var/lib/postgresql`): the newest line not above the image's version wins.
    #[serde(default)]
    pub data_path_from: BTreeMap<String, String>,
    /// Variables in the image's configuration that say which version it is; the first set
    /// wins. They tell the real version of an untagged or floating image (`postgres:latest`).
    #[serde(default)]
    pub version_env: Vec<String>,
    /// The image's env contract; `{username}`, `{password}`, `{database}` are filled in.
    pub env: BTreeMap<String, String>,
    /// The container command, when the image takes its settings as arguments. Never
    /// `{password}`: `ps` and `docker inspect` show arguments.
    pub args: Vec<String>,
    /// A file copied into the container before it starts, for settings that must not be
    /// arguments (a Redis password).
    #[serde(default)]
    pub config_file: Option<ConfigFile>,
    /// Image families with a contract of their own (convox/*, bitnami/*), by repository.
    pub by_image: BTreeMap<String, ImageContract>,
    /// The env contract when the app's user is the image's superuser (a root-only Compose
    /// file): the official MySQL image refuses `MYSQL_USER=root`.
    #[serde(default)]
    pub superuser: Option<SuperuserEnv>,
}

/// The image's env contract for its superuser.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperuserEnv {
    pub name: String,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageContract {
    pub env: BTreeMap<String, String>,
    pub args: Vec<String>,
    /// Where this family keeps its data, when not where the official image does.
    #[serde(default)]
    pub data_path: Option<String>,
    /// This family's version variables, when not the official image's.
    #[serde(default)]
    pub version_env: Option<Vec<String>>,
    #[serde(default)]
    pub config_file: Option<ConfigFile>,
    /// The tag names the version after this text (`pg16`, `latest-pg16`, `0.8.0-pg17`).
    #[serde(default)]
    pub tag_prefix: Option<String>,
    /// The family turns TLS on through settings of its own, which provision does not drive.
    #[serde(default)]
    pub no_tls: bool,
    /// As `container.superuser`, for this family.
    #[serde(default)]
    pub superuser: Option<SuperuserEnv>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Absolute path inside the container.
    pub path: String,
    /// Placeholders as for `env`, `{password}` included.
    pub text: String,
}

/// The cloud's master user where the file's app logs in as the image's superuser.
pub const CLOUD_SUPERUSER: &str = "admin";

/// What one image family needs to run: resolved from the template's defaults and the
/// family's own entries.
#[derive(Debug, Clone, Copy)]
pub struct Family<'t> {
    pub env: &'t BTreeMap<String, String>,
    pub args: &'t [String],
    pub version_env: &'t [String],
    pub config_file: Option<&'t ConfigFile>,
    /// Whether provision can run this family with TLS.
    pub tls: bool,
    data_path: Option<&'t str>,
    data_path_from: &'t BTreeMap<String, String>,
}

impl Family<'_> {
    /// Whether the data path depends on the version (a floating tag's is then unknown until
    /// the image is pulled).
    pub fn data_path_varies(&self) -> bool {
        self.data_path.is_some() && !self.data_path_from.is_empty()
    }

    /// Where this family keeps the data of `version`; none for in-memory engines.
    pub fn data_path(&self, version: &str) -> Option<&str> {
        let path = self.data_path?;
        let major = |v: &str| {
            v.split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let newest = self
            .data_path_from
            .iter()
            .filter(|(from, _)| major(from) <= major(version))
            .max_by_key(|(from, _)| major(from));
        Some(newest.map_or(path, |(_, p)| p.as_str())).filter(|p| !p.is_empty())
    }
}

/// How readiness is proven: which real client handshake and query to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// Authenticate and `SELECT 1`.
    Postgres,
    /// MySQL handshake, authenticate and `SELECT 1`.
    Mysql,
    /// `AUTH` then `PING`.
    Redis,
    /// `version`.
    Memcached,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Native {
    /// The first is the server; the others must sit beside it.
    pub binaries: Vec<String>,
    /// Directories to look in besides `PATH`; `{version}` and `*` are expanded.
    pub search: Vec<String>,
    pub version_args: Vec<String>,
    /// The system account the distribution's package creates; as root the server (and its
    /// files) run as it, since servers rightly refuse root.
    pub account: String,
    /// The signal for a clean and quick shutdown.
    pub stop_signal: StopSignal,
    /// First-run initialisation of the data directory, built aside and renamed into place.
    #[serde(default)]
    pub init: Option<NativeInit>,
    /// Written (mode 0600, owned by the server's account) before every start. The only place
    /// `{password}` may appear: argv is visible to every user's `ps`.
    #[serde(default)]
    pub files: Vec<NativeFile>,
    /// Directories, relative to the resource's directory, made before every start.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Server arguments. Placeholders: `{data}`, `{dir}`, `{port}`, `{bin}`, `{username}`,
    /// `{database}`.
    pub args: Vec<String>,
    /// Added when running as root (for servers that drop to their account themselves).
    #[serde(default)]
    pub root_args: Vec<String>,
    /// The server changes to its account itself; otherwise it is started as the account.
    #[serde(default)]
    pub switches_user: bool,
    /// The database that exists before the app's, when the server does not create the app's:
    /// readiness first connects to this one, then the app's is created over the protocol.
    #[serde(default)]
    pub bootstrap_database: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopSignal {
    Term,
    Int,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeInit {
    /// Candidates; the first that exists runs. `{bin}` is the server's directory.
    pub programs: Vec<String>,
    /// Placeholders as for the server, plus `{password_file}`: a private file holding the
    /// password, removed afterwards.
    pub args: Vec<String>,
    #[serde(default)]
    pub root_args: Vec<String>,
    /// Run as the server's account; otherwise as the caller (with `root_args` as root).
    pub as_account: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeFile {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudService {
    /// An RDS DB instance.
    Rds,
    /// An ElastiCache replication group (Redis, Valkey).
    ElasticacheReplicationGroup,
    /// An ElastiCache cache cluster (Memcached).
    ElasticacheCluster,
    /// An Aurora Serverless v2 DB cluster and its `db.serverless` writer: never a template's,
    /// the plan's for `serverless: true` (`model::serverless`).
    AuroraServerless,
    /// An ElastiCache Serverless cache, for `serverless: true`.
    ElasticacheServerless,
}

impl CloudService {
    /// AWS's longest identifier for this kind of resource.
    pub fn max_identifier_len(self) -> usize {
        match self {
            // DBClusterIdentifier 1-63 (API_CreateDBCluster.html); ServerlessCacheName
            // at most 40 (API_CreateServerlessCache.html).
            Self::Rds | Self::AuroraServerless => 63,
            Self::ElasticacheReplicationGroup
            | Self::ElasticacheCluster
            | Self::ElasticacheServerless => 40,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Rds => "RDS",
            Self::AuroraServerless => "Aurora",
            Self::ElasticacheReplicationGroup
            | Self::ElasticacheCluster
            | Self::ElasticacheServerless => "ElastiCache",
        }
    }
}

/// The per-resource `x-provision.cloud` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudOption {
    Class,
    StorageGb,
    Replicas,
    MultiAz,
    DeletionProtection,
    BackupRetentionDays,
    MaxStorageGb,
    ExtendedSupport,
    IamAuth,
    /// Seed a stage's first create from a snapshot (`latest-of:STAGE` or an identifier).
    FromSnapshot,
}

impl CloudOption {
    pub const ALL: [CloudOption; 10] = [
        Self::Class,
        Self::StorageGb,
        Self::MaxStorageGb,
        Self::Replicas,
        Self::MultiAz,
        Self::DeletionProtection,
        Self::BackupRetentionDays,
        Self::ExtendedSupport,
        Self::IamAuth,
        Self::FromSnapshot,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Class => "class",
            Self::StorageGb => "storage_gb",
            Self::Replicas => "replicas",
            Self::MultiAz => "multi_az",
            Self::DeletionProtection => "deletion_protection",
            Self::BackupRetentionDays => "backup_retention_days",
            Self::MaxStorageGb => "max_storage_gb",
            Self::ExtendedSupport => "extended_support",
            Self::IamAuth => "iam_auth",
            Self::FromSnapshot => "from_snapshot",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cloud {
    pub service: CloudService,
    /// The RDS `Engine` or ElastiCache `Engine` value.
    pub engine: String,
    pub default_class: String,
    #[serde(default)]
    pub default_storage_gb: Option<u32>,
    #[serde(default)]
    pub min_storage_gb: Option<u32>,
    #[serde(default)]
    pub max_storage_gb: Option<u32>,
    /// Which `x-provision.cloud` options make sense for this type.
    pub options: Vec<CloudOption>,
    /// How many components make a major version: 1 (`16`, `7`) or 2 (`8.0`, `10.11`, `1.6`).
    pub major_parts: usize,
    /// The parameter group family of a line (`postgres{line}`), by which
    /// DescribeDBEngineVersions / DescribeCacheEngineVersions filter.
    pub family: String,
    /// Parameters that make the server refuse connections without TLS, set in a parameter
    /// group of the project's (`{project}-{family}-tls`) that new instances get: RDS's own
    /// defaults leave plaintext open on MySQL, MariaDB and PostgreSQL before 15.
    #[serde(default)]
    pub tls_parameters: BTreeMap<String, String>,
    /// The engine versions AWS offers per supported line, newest last (cited in the template).
    pub versions: BTreeMap<String, Vec<String>>,
    /// RDS `MasterUsername`: its longest length and the words the engine reserves.
    #[serde(default)]
    pub max_username: Option<usize>,
    #[serde(default)]
    pub reserved_usernames: Vec<String>,
    /// Prefixes no master user name may start with (`pg_` on PostgreSQL).
    #[serde(default)]
    pub reserved_username_prefixes: Vec<String>,
    /// RDS `DBName`: its longest length for this engine (63 on PostgreSQL, 64 on MySQL).
    #[serde(default)]
    pub max_database: Option<usize>,
}

/// The version to ask AWS for, out of those it offers on `line` (the template's table, or
/// DescribeDBEngineVersions' answer): a pinned version AWS offers as written (cut to the
/// precision AWS takes: `7.1.0` -> `7.1` for Redis), else the newest of the line.
pub fn pick_version(offered: &[String], asked: &str, line: &str) -> Option<String> {
    let on_line = |v: &&String| v.as_str() == line || v.starts_with(&format!("{line}."));
    let precision = offered.first().map_or(1, |v| v.split('.').count());
    let pinned: String = asked
        .split('.')
        .take(precision)
        .collect::<Vec<_>>()
        .join(".");
    if asked.split('.').count() > line.split('.').count() && offered.contains(&pinned) {
        return Some(pinned);
    }
    offered
        .iter()
        .filter(on_line)
        .max_by(|a, b| {
            let parse =
                |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
            parse(a).cmp(&parse(b))
        })
        .cloned()
}

impl Cloud {
    /// The AWS engine version for a manifest version on `line`: a pinned version AWS offers
    /// as written (cut to the precision AWS takes: `7.1.0` -> `7.1` for Redis), else the
    /// newest of the line. `None` only for a line the table does not list.
    pub fn aws_version(&self, asked: &str, line: &str) -> Option<String> {
        pick_version(self.versions.get(line)?, asked, line)
    }

    /// What is wrong with `name` as the master user name, worded as what is expected.
    pub fn username_rule_broken(&self, name: &str) -> Option<String> {
        let max = self.max_username?;
        let shape = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !shape || name.len() > max {
            return Some(format!(
                "1-{max} letters, digits or `_`, starting with a letter (RDS `MasterUsername` for {})",
                self.engine
            ));
        }
        if self
            .reserved_usernames
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return Some(format!(
                "a name that RDS for {} does not reserve (`{name}` is reserved on RDS)",
                self.engine
            ));
        }
        if let Some(prefix) = self.reserved_username_prefixes.iter().find(|p| {
            name.get(..p.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(p))
        }) {
            return Some(format!(
                "a name that does not start with `{prefix}` (RDS for {} reserves names starting with `{prefix}`)",
                self.engine
            ));
        }
        None
    }

    /// What is wrong with `name` as the database RDS creates (`DBName`), worded as what is
    /// expected; the shape is checked where the name is read.
    pub fn database_rule_broken(&self, name: &str) -> Option<String> {
        let max = self.max_database?;
        (name.len() > max).then(|| {
            format!(
                "at most {max} characters (RDS `DBName` for {}; it has {})",
                self.engine,
                name.len()
            )
        })
    }

    /// The parameter group family of `line`.
    pub fn family_of(&self, line: &str) -> String {
        self.family.replace("{line}", line)
    }
}

impl Template {
    /// The supported version line that `version` belongs to: `16.4` -> `16`, `8` -> `8.4`
    /// (the newest line it could mean), `latest` -> none.
    pub fn version_line(&self, version: &str) -> Option<&str> {
        if let Some(line) = self
            .versions
            .iter()
            .find(|line| version == line.as_str() || version.starts_with(&format!("{line}.")))
        {
            return Some(line);
        }
        self.versions
            .iter()
            .rev()
            .find(|line| line.starts_with(&format!("{version}.")))
            .map(String::as_str)
    }

    /// The Compose settings contract for an image repository, if the type has one.
    pub fn compose_env_for(&self, repository: &str) -> Option<&ComposeEnv> {
        self.compose_env
            .iter()
            .find(|c| c.images.iter().any(|i| i == repository))
            .or_else(|| self.compose_env.iter().find(|c| c.images.is_empty()))
    }

    /// The cloud's master user for the app's user `username`. A root-only file's `root`
    /// becomes `admin` in the cloud (the master user name the RDS console proposes for MySQL
    /// and MariaDB): RDS's master user is not the engine's `root` (it lacks `SUPER`), RDS
    /// does not promise that `root` is free as a master user name
    /// (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints>),
    /// and the cloud's password is never the file's, so apps read both from the link.
    pub fn cloud_username(&self, username: Option<&str>) -> Option<String> {
        let username = username?;
        let superuser = self
            .container
            .superuser
            .iter()
            .chain(
                self.container
                    .by_image
                    .values()
                    .filter_map(|f| f.superuser.as_ref()),
            )
            .any(|s| s.name == username);
        Some(if superuser { CLOUD_SUPERUSER } else { username }.to_owned())
    }

    /// The image family of a repository for the app's user `username`: the superuser's env
    /// contract when it is the image's superuser (a root-only Compose file), else
    /// [`Template::family`]'s.
    pub fn family_for(&self, repository: &str, username: Option<&str>) -> Family<'_> {
        let mut family = self.family(repository);
        let superuser = match self.container.by_image.get(repository) {
            Some(f) => f.superuser.as_ref(),
            None => self.container.superuser.as_ref(),
        };
        if let (Some(superuser), Some(username)) = (superuser, username)
            && superuser.name == username
        {
            family.env = &superuser.env;
        }
        family
    }

    /// The image family of a repository: its env contract, arguments, data path and
    /// version variables, the official image's where it has none of its own.
    pub fn family(&self, repository: &str) -> Family<'_> {
        let c = &self.container;
        match c.by_image.get(repository) {
            Some(f) => Family {
                env: &f.env,
                args: &f.args,
                version_env: f.version_env.as_deref().unwrap_or(&c.version_env),
                config_file: f.config_file.as_ref(),
                tls: self.tls.is_some() && !f.no_tls,
                data_path: Some(f.data_path.as_deref().unwrap_or(&c.data_path)),
                // A family with a data path of its own keeps it on every version.
                data_path_from: if f.data_path.is_some() {
                    &EMPTY
                } else {
                    &c.data_path_from
                },
            },
            None => Family {
                env: &c.env,
                args: &c.args,
                version_env: &c.version_env,
                config_file: c.config_file.as_ref(),
                tls: self.tls.is_some(),
                data_path: Some(&c.data_path),
                data_path_from: &c.data_path_from,
            },
        }
    }

    /// The major line of a version, by this type's rule (`major_parts`): Postgres 16.4 -> 16,
    /// MySQL 8.0.36 -> 8.0. Comparing these is how a major upgrade or downgrade is told.
    pub fn major(&self, version: &str) -> String {
        version
            .split('.')
            .take(self.major_parts)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The version in an image's configuration (`PG_VERSION=16.4-1.pgdg120+1`,
    /// `MARIADB_VERSION=1:11.4.2+maria~ubu2404`), by the family's variables.
    pub fn version_in_env(&self, family: &Family<'_>, env: &[String]) -> Option<String> {
        family.version_env.iter().find_map(|name| {
            env.iter().find_map(|entry| {
                let value = entry.strip_prefix(name.as_str())?.strip_prefix('=')?;
                // A Debian epoch (`1:`) comes before the version.
                let value = value.split_once(':').map_or(value, |(_, v)| v);
                let end = value
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(value.len());
                let version = value[..end].trim_end_matches('.');
                (!version.is_empty()).then(|| version.to_owned())
            })
        })
    }

    /// Checks what serde cannot: references between fields.
    #[allow(
        clippy::too_many_lines,
        reason = "one check per template rule, each with the message a template author needs"
    )]
    fn validate(&self) -> Result<(), String> {
        if self.images.is_empty() {
            return Err("`images` is empty".into());
        }
        if self.version_line(&self.default_version).is_none() {
            return Err(format!(
                "`default_version` {} is not in `versions`",
                self.default_version
            ));
        }
        if self.port == 0 {
            return Err("`port` is 0".into());
        }
        if self.native.binaries.is_empty() {
            return Err("`native.binaries` is empty".into());
        }
        let argv = self.native.args.iter().chain(&self.native.root_args).chain(
            self.native
                .init
                .iter()
                .flat_map(|i| i.args.iter().chain(&i.root_args)),
        );
        if argv.clone().any(|a| a.contains("{password}")) {
            return Err(
                "`{password}` in native arguments would show in `ps`; put it in `native.files`"
                    .into(),
            );
        }
        for repo in self.container.by_image.keys() {
            if !self.images.contains(repo) {
                return Err(format!("`container.by_image.{repo}` is not in `images`"));
            }
        }
        let container_args = self
            .container
            .args
            .iter()
            .chain(self.container.by_image.values().flat_map(|c| c.args.iter()));
        if container_args.clone().any(|a| a.contains("{password}")) {
            return Err(
                "`{password}` in container arguments would show in `ps` and `docker inspect`; use `config_file` or the env contract"
                    .into(),
            );
        }
        let known = ["{username}", "{password}", "{database}", "{root_password}"];
        let config_files = self
            .container
            .config_file
            .iter()
            .chain(
                self.container
                    .by_image
                    .values()
                    .filter_map(|c| c.config_file.as_ref()),
            )
            .map(|f| &f.text);
        let superuser_env = self
            .container
            .superuser
            .iter()
            .chain(
                self.container
                    .by_image
                    .values()
                    .filter_map(|c| c.superuser.as_ref()),
            )
            .flat_map(|s| s.env.values());
        let texts = self
            .container
            .env
            .values()
            .chain(
                self.container
                    .by_image
                    .values()
                    .flat_map(|c| c.env.values()),
            )
            .chain(superuser_env)
            .chain(container_args)
            .chain(config_files)
            .chain(std::iter::once(&self.url.path));
        for text in texts {
            let mut rest = text.as_str();
            while let Some(start) = rest.find('{') {
                let end = rest[start..]
                    .find('}')
                    .map_or(rest.len(), |e| start + e + 1);
                let placeholder = &rest[start..end];
                if !known.contains(&placeholder) {
                    return Err(format!("unknown placeholder `{placeholder}` in `{text}`"));
                }
                if !self.sql && placeholder != "{password}" && placeholder != "{root_password}" {
                    return Err(format!(
                        "`{placeholder}` used by a type without `sql: true`"
                    ));
                }
                rest = &rest[end..];
            }
        }
        if !(1..=3).contains(&self.major_parts) {
            return Err("`major_parts` must be 1, 2 or 3".into());
        }
        if self.cloud.service == CloudService::Rds && self.cloud.default_storage_gb.is_none() {
            return Err("`cloud.default_storage_gb` is required for RDS types".into());
        }
        // Every supported line resolves to a version AWS offers.
        for line in &self.versions {
            if self.cloud.versions.get(line).is_none_or(Vec::is_empty) {
                return Err(format!(
                    "`cloud.versions` lists no AWS version for line {line}"
                ));
            }
        }
        Ok(())
    }
}

/// Every known database type.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Shared, so that a plan can carry its resources' templates without a second lookup.
    templates: Vec<Arc<Template>>,
}

/// A template file that does not parse or is incomplete. Only a broken build can produce one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub file: &'static str,
    pub message: String,
}

impl Catalog {
    /// The templates built into the binary.
    pub fn builtin() -> Result<Self, TemplateError> {
        let mut templates = Vec::with_capacity(SOURCES.len());
        for (file, text) in SOURCES {
            let template: Template = serde_saphyr::from_str(text).map_err(|e| TemplateError {
                file,
                message: e.to_string(),
            })?;
            template
                .validate()
                .map_err(|message| TemplateError { file, message })?;
            if file.strip_suffix(".yml") != Some(template.name.as_str()) {
                return Err(TemplateError {
                    file,
                    message: format!("`name: {}` does not match the file name", template.name),
                });
            }
            templates.push(Arc::new(template));
        }
        Ok(Self { templates })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Template>> {
        self.templates.iter().find(|t| t.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(|t| t.name.as_str())
    }

    /// The template whose image this is, from an image reference such as
    /// `registry.example.com:5000/library/postgres:16@sha256:...`. Returns the template, the
    /// repository as written (without registry), and the version from the tag, if any.
    pub fn by_image<'a>(&self, image: &'a str) -> Option<(&Arc<Template>, ImageRef<'a>)> {
        let reference = ImageRef::parse(image);
        let template = self
            .templates
            .iter()
            .find(|t| t.images.iter().any(|i| i == reference.repository))?;
        Some((template, reference))
    }
}

/// The parts of an image reference that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// `library/postgres`, `convox/redis`, `postgres`: no registry host, no tag.
    pub repository: &'a str,
    pub tag: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    pub fn parse(image: &'a str) -> Self {
        let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
        // A tag follows the last `:` only if no `/` comes after it (`host:5000/img` has none).
        let (name, tag) = match without_digest.rfind(':') {
            Some(i) if !without_digest[i..].contains('/') => {
                (&without_digest[..i], Some(&without_digest[i + 1..]))
            }
            _ => (without_digest, None),
        };
        // The first component is a registry host when it has a `.` or `:` or is `localhost`.
        let repository = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                rest
            }
            _ => name,
        };
        let repository = repository.strip_prefix("docker.io/").unwrap_or(repository);
        Self {
            repository,
            tag: tag.filter(|t| !t.is_empty()),
        }
    }

    /// The version a tag names: `16.4-alpine` -> `16.4`; `latest`, `alpine` -> none.
    pub fn tag_version(&self) -> Option<&'a str> {
        let tag = self.tag?;
        let end = tag
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(tag.len());
        let version = tag[..end].trim_end_matches('.');
        (!version.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()))
            .then_some(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::builtin().unwrap()
    }

    #[test]
    fn catalog_is_complete() {
        let catalog = catalog();
        let names: Vec<_> = catalog.names().collect();
        assert_eq!(
            names,
            [
                "postgres",
                "mysql",
                "mariadb",
                "redis",
                "valkey",
                "memcached"
            ]
        );
        for template in &catalog.templates {
            assert!(!template.title.is_empty());
            assert!(!template.url.scheme.is_empty());
            assert!(!template.cloud.engine.is_empty());
            assert!(!template.cloud.options.is_empty(), "{}", template.name);
            for line in &template.versions {
                let aws = template.cloud.aws_version(line, line).unwrap();
                assert!(aws.starts_with(&format!("{line}.")), "{line} -> {aws}");
            }
            // Data must survive a restart: everything but the in-memory cache keeps a volume.
            assert_eq!(
                template.container.data_path.is_empty(),
                template.probe == Probe::Memcached
            );
        }
    }

    /// What AWS is sent for each manifest version (the README's table shows the same).
    #[test]
    fn manifest_versions_resolve_to_versions_aws_offers() {
        let catalog = catalog();
        let aws = |name: &str, asked: &str| {
            let t = catalog.get(name).unwrap();
            let line = t.version_line(asked).unwrap();
            t.cloud.aws_version(asked, line).unwrap()
        };
        // ElastiCache wants major.minor for Redis 6+ and Valkey, a full version for Memcached.
        assert_eq!(aws("redis", "7"), "7.1");
        assert_eq!(aws("redis", "7.0"), "7.0");
        assert_eq!(aws("redis", "7.0.15"), "7.0");
        assert_eq!(aws("valkey", "8"), "8.2");
        assert_eq!(aws("memcached", "1.6"), "1.6.22");
        // RDS: MySQL's major is 8.0 or 8.4, never 8.
        assert_eq!(aws("mysql", "8"), "8.4.6");
        assert_eq!(aws("postgres", "16"), "16.10");
        assert_eq!(aws("postgres", "16.8"), "16.8");
        // A pin AWS does not offer (16.2 is gone) takes the newest of its line.
        assert_eq!(aws("postgres", "16.2"), "16.10");
    }

    #[test]
    fn image_references() {
        let r =
            ImageRef::parse("registry.example.com:5000/library/postgres:16.4-alpine@sha256:abc");
        assert_eq!(r.repository, "library/postgres");
        assert_eq!(r.tag, Some("16.4-alpine"));
        assert_eq!(r.tag_version(), Some("16.4"));
        let r = ImageRef::parse("localhost:5000/redis");
        assert_eq!((r.repository, r.tag), ("redis", None));
        let r = ImageRef::parse("docker.io/library/redis:latest");
        assert_eq!((r.repository, r.tag_version()), ("library/redis", None));
        assert_eq!(
            ImageRef::parse("valkey/valkey:8").repository,
            "valkey/valkey"
        );
        assert_eq!(ImageRef::parse("mysql:").tag, None);
    }

    #[test]
    fn images_find_their_template() {
        let catalog = catalog();
        for (image, name) in [
            ("postgres:16", "postgres"),
            ("library/postgres", "postgres"),
            ("convox/postgres", "postgres"),
            ("mysql:8.4", "mysql"),
            ("mariadb:10.11", "mariadb"),
            ("redis:7", "redis"),
            ("ghcr.io/valkey/valkey:8", "valkey"),
            ("memcached:1.6", "memcached"),
            ("convox/memcached", "memcached"),
        ] {
            assert_eq!(
                catalog.by_image(image).map(|(t, _)| t.name.as_str()),
                Some(name),
                "{image}"
            );
        }
        assert!(catalog.by_image("node:20").is_none());
        assert!(catalog.by_image("postgresql").is_none());
    }

    #[test]
    fn version_lines() {
        let catalog = catalog();
        let pg = catalog.get("postgres").unwrap();
        assert_eq!(pg.version_line("16.4"), Some("16"));
        assert_eq!(pg.version_line("16"), Some("16"));
        assert_eq!(pg.version_line("9.6"), None);
        assert_eq!(pg.version_line("1"), None);
        let mysql = catalog.get("mysql").unwrap();
        assert_eq!(mysql.version_line("8"), Some("8.4"));
        assert_eq!(mysql.version_line("8.0.36"), Some("8.0"));
        let mariadb = catalog.get("mariadb").unwrap();
        assert_eq!(mariadb.version_line("10.11.6"), Some("10.11"));
        assert_eq!(mariadb.version_line("10.1"), None);
    }
}
