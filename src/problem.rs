//! Manifest problems as data: what is wrong (or worth a warning) in the Compose file, where it
//! was written, and which target it concerns. `doctor` lists them; `Error::ManifestInvalid`
//! carries them. All their wording is here, next to the kinds.

use std::fmt::{self, Write as _};

/// A position in the manifest, 1-based, as editors count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    /// Which of the project's files (`Manifest::files`): 0 is the first (base) file. A
    /// project is several files once overrides, `include:` and `extends:` come in, and a
    /// problem must name the file it was written in.
    pub file: u16,
}

impl Pos {
    /// A position in the first file.
    pub fn at(line: u32, col: u32) -> Self {
        Self { line, col, file: 0 }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Which deployment target a problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Both,
    Local,
    Cloud,
}

/// One thing wrong (or worth a warning) in the manifest, where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub severity: Severity,
    pub scope: Scope,
    /// Where in the file; none for problems about the file as a whole.
    pub at: Option<Pos>,
    /// The key path, such as `services.cache.x-provision.type`.
    pub path: String,
    pub kind: ProblemKind,
    /// The file it was written in when that is not the manifest's first file (an override,
    /// an `include:`d or `extends:` file); set by `Manifest::attribute`.
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    Syntax {
        message: String,
    },
    DuplicateKey {
        key: String,
    },
    Empty,
    NotUtf8,
    TopLevelNotMap {
        found: &'static str,
    },
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    UnknownKey {
        key: String,
        expected: &'static [&'static str],
        suggestion: Option<String>,
    },
    UndefinedVariable {
        name: String,
    },
    /// An unset variable in an app's `environment:`: empty, as in Compose.
    UnsetVariable {
        name: String,
        service: String,
    },
    RequiredVariable {
        name: String,
        message: String,
    },
    BadInterpolation {
        text: String,
    },
    InvalidValue {
        value: String,
        expected: String,
    },
    InvalidProject {
        given: String,
    },
    NoServices,
    NoDatabases,
    UnknownType {
        given: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
    ExtensionWithoutType {
        image: Option<String>,
    },
    TypeConflict {
        image_type: String,
        declared: String,
    },
    UnsupportedVersion {
        type_name: String,
        version: String,
        /// The supported line closest to the one asked for.
        nearest: Option<String>,
        supported: Vec<String>,
    },
    /// An app service whose image looks like a database provision does not know.
    LooksLikeDatabase {
        service: String,
        image: String,
        type_name: String,
    },
    /// A version that runs locally but that the cloud does not offer (a warning locally).
    VersionNotInCloud {
        type_name: String,
        version: String,
        supported: Vec<String>,
    },
    OptionNotForType {
        option: String,
        type_name: String,
        allowed: Vec<String>,
    },
    OptionNotForSql {
        option: String,
        type_name: String,
    },
    LinkToMissing {
        service: String,
        target: String,
        suggestion: Option<String>,
    },
    LinkToApp {
        service: String,
        target: String,
    },
    DuplicatePrefix {
        service: String,
        prefix: String,
        first: String,
        second: String,
    },
    EnvCollision {
        service: String,
        variable: String,
        resource: String,
    },
    CloudIdentifier {
        identifier: String,
        service: &'static str,
        rule: IdentifierRule,
    },
    NotLinked {
        resource: String,
    },
    DefaultPassword {
        resource: String,
        variable: String,
    },
    /// An image without a version tag: locally it is whatever the registry has today.
    FloatingTag {
        image: String,
        cloud_version: String,
    },
    PortNotPublished {
        resource: String,
        container_port: u16,
    },
    /// An `include:`, `extends.file` or `env_file:` that cannot be read.
    FileUnreadable {
        what: &'static str,
        path: String,
        reason: String,
    },
    /// `include:` or `extends:` that leads back to itself.
    Cycle {
        what: &'static str,
        chain: Vec<String>,
    },
    ExtendsMissing {
        service: String,
        base: String,
        file: Option<String>,
    },
    /// An included file defines a service the including project defines too.
    IncludeConflict {
        service: String,
        file: String,
    },
    /// The database's own `environment:` fixes its local password.
    FixedPassword {
        resource: String,
        variable: String,
    },
    /// `x-provision.username`/`database` and the image's variable disagree.
    CredentialConflict {
        resource: String,
        option: &'static str,
        variable: String,
    },
    /// A master user name RDS refuses for this engine (too long, wrong characters, reserved).
    CloudUsername {
        resource: String,
        name: String,
        /// What RDS expects, with the engine.
        rule: String,
        /// The image's variable it came from (`POSTGRES_USER`), when it did.
        variable: Option<String>,
    },
    /// A `*_PASSWORD_FILE` that provision cannot read on this machine.
    PasswordFile {
        resource: String,
        variable: String,
        detail: String,
    },
    /// An app names a database in its environment without linking to it.
    LinkByEnvironment {
        service: String,
        resource: String,
        variable: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierRule {
    TooLong { max: usize, len: usize },
    StartsWithLetter,
    DoubleHyphen,
    TrailingHyphen,
    Characters,
}

impl Problem {
    pub fn error(at: Option<Pos>, path: impl Into<String>, kind: ProblemKind) -> Self {
        Self {
            severity: Severity::Error,
            scope: Scope::Both,
            at,
            path: path.into(),
            kind,
            file: None,
        }
    }

    pub fn warning(at: Option<Pos>, path: impl Into<String>, kind: ProblemKind) -> Self {
        Self {
            severity: Severity::Warning,
            scope: Scope::Both,
            at,
            path: path.into(),
            kind,
            file: None,
        }
    }

    #[must_use]
    pub fn scoped(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` (or the file alone) for this problem.
    pub fn location(&self, file: &std::path::Path) -> String {
        let file = self.file.as_deref().unwrap_or(file);
        match self.at {
            Some(at) => format!("{}:{at}", file.display()),
            None => file.display().to_string(),
        }
    }

    /// One line: what is wrong, without location.
    #[allow(
        clippy::too_many_lines,
        reason = "one arm per problem kind: the wording of every manifest problem in one place"
    )]
    pub fn message(&self) -> String {
        use ProblemKind as K;
        match &self.kind {
            K::Syntax { message } => format!("not valid YAML: {message}"),
            K::DuplicateKey { key } => format!("`{key}` appears twice in the same map"),
            K::Empty => "the manifest is empty".into(),
            K::NotUtf8 => "the manifest is not UTF-8 text".into(),
            K::TopLevelNotMap { found } => {
                format!("the manifest must be a map with `services:`, found {found}")
            }
            K::WrongType { expected, found } => {
                format!("`{}` must be {expected}, found {found}", self.path)
            }
            K::UnknownKey { key, .. } => format!("unknown key `{key}` in `{}`", parent(&self.path)),
            K::UndefinedVariable { name } => format!("variable `{name}` is not set"),
            K::UnsetVariable { name, service } => format!(
                "variable `{name}` is not set: `{service}` gets an empty string there, as Compose gives it"
            ),
            K::RequiredVariable { name, message } if message.is_empty() => {
                format!("variable `{name}` is required")
            }
            K::RequiredVariable { name, message } => {
                format!("variable `{name}` is required: {message}")
            }
            K::BadInterpolation { text } => format!("invalid `$` substitution in `{text}`"),
            K::InvalidValue { value, expected } => {
                format!("`{}` is `{value}`; expected {expected}", self.path)
            }
            K::InvalidProject { given } => format!("`{given}` cannot be a project name"),
            K::NoServices => "the manifest has no services".into(),
            K::NoDatabases => "no service is a database".into(),
            K::UnknownType { given, .. } => format!("unknown database type `{given}`"),
            K::ExtensionWithoutType { image: Some(image) } => format!(
                "`x-provision` is set, but `{image}` is not a known database image and no `type` is given"
            ),
            K::ExtensionWithoutType { image: None } => {
                "`x-provision` is set, but the service has no database image and no `type`".into()
            }
            K::TypeConflict {
                image_type,
                declared,
            } => {
                format!(
                    "the image is a {image_type} image but `x-provision.type` says `{declared}`"
                )
            }
            K::UnsupportedVersion {
                type_name, version, ..
            } => format!(
                "{type_name} version `{version}` runs locally, but the cloud does not offer it"
            ),
            K::LooksLikeDatabase {
                service,
                image,
                type_name,
            } => format!(
                "`{image}` looks like a {type_name} image that provision does not know: `{service}` is treated as an app"
            ),
            K::VersionNotInCloud {
                type_name, version, ..
            } => format!(
                "{type_name} version `{version}` is not one the cloud offers: it runs locally only"
            ),
            K::OptionNotForType {
                option, type_name, ..
            } => format!("`{option}` does not apply to {type_name} in the cloud"),
            K::OptionNotForSql { option, type_name } => {
                format!("`{option}` does not apply to {type_name}, which has no databases or users")
            }
            K::LinkToMissing {
                service, target, ..
            } => format!(
                "service `{service}` links to `{target}`, which is not a service in this manifest"
            ),
            K::LinkToApp { service, target } => format!(
                "service `{service}` links to `{target}`, an app service that publishes no port"
            ),
            K::DuplicatePrefix {
                service,
                prefix,
                first,
                second,
            } => {
                format!(
                    "service `{service}` links to `{first}` and `{second}` under the same prefix `{prefix}_`"
                )
            }
            K::EnvCollision {
                service,
                variable,
                resource,
            } => {
                format!(
                    "service `{service}` sets `{variable}` in `environment:`, which its link to `{resource}` also sets; `provision env`, `run` and `start` hand out the link's value"
                )
            }
            K::CloudIdentifier {
                identifier,
                service,
                rule,
            } => {
                let why = match rule {
                    IdentifierRule::TooLong { max, len } => {
                        format!("is {len} characters, more than {service}'s {max}")
                    }
                    IdentifierRule::StartsWithLetter => "does not start with a letter".into(),
                    IdentifierRule::DoubleHyphen => "contains `--`".into(),
                    IdentifierRule::TrailingHyphen => "ends with `-`".into(),
                    IdentifierRule::Characters => "may only contain letters, digits and `-`".into(),
                };
                format!("cloud identifier `{identifier}` {why}")
            }
            K::NotLinked { resource } => format!("no service links to database `{resource}`"),
            K::DefaultPassword { resource, variable } => {
                format!("database `{resource}` sets `{variable}` to a well-known default password")
            }
            K::FileUnreadable { what, path, reason } => {
                format!("cannot read the {what} `{path}`: {reason}")
            }
            K::Cycle { what, chain } => {
                format!("`{what}` leads back to itself: {}", chain.join(" -> "))
            }
            K::ExtendsMissing {
                service,
                base,
                file: Some(file),
            } => format!("service `{service}` extends `{base}`, which `{file}` does not define"),
            K::ExtendsMissing {
                service,
                base,
                file: None,
            } => {
                format!("service `{service}` extends `{base}`, which is not a service in this file")
            }
            K::IncludeConflict { service, file } => format!(
                "service `{service}` is defined here and in the included `{file}`; the included one is ignored"
            ),
            K::FixedPassword { resource, variable } => format!(
                "database `{resource}` fixes its local password in `{variable}`; provision uses it locally, and the cloud gets a generated one"
            ),
            K::CredentialConflict {
                resource,
                option,
                variable,
            } => format!(
                "database `{resource}`: `x-provision.{option}` and `{variable}` disagree; `x-provision.{option}` is used"
            ),
            K::CloudUsername {
                resource,
                name,
                rule,
                ..
            } => format!(
                "database `{resource}`: RDS refuses `{name}` as the master user name; expected {rule}"
            ),
            K::PasswordFile {
                resource,
                variable,
                detail,
            } => format!(
                "database `{resource}`: `{variable}` {detail}; provision generates the password instead"
            ),
            K::LinkByEnvironment {
                service,
                resource,
                variable,
            } => format!(
                "service `{service}` names database `{resource}` in `{variable}` but does not link to it, so it gets no `{}_*` variables",
                crate::names::link_prefix(resource)
            ),
            K::PortNotPublished {
                resource,
                container_port,
            } => {
                format!(
                    "no `ports:` entry of `{resource}` targets its port {container_port}; it is ignored"
                )
            }
            K::FloatingTag {
                image,
                cloud_version,
            } => format!(
                "`{image}` names no version: locally it runs whatever the registry has today, the cloud gets {cloud_version}"
            ),
        }
    }

    /// What to do about it, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        use ProblemKind as K;
        match &self.kind {
            K::Syntax { .. } => Some("check the indentation and quoting near this position".into()),
            K::DuplicateKey { .. } => Some("YAML keys must be unique: merge the two entries, or rename one".into()),
            K::Empty | K::NoServices => Some("declare each database as a service, for example `services: {db: {image: postgres:17}}`".into()),
            K::NotUtf8 => Some("save the file as UTF-8".into()),
            K::TopLevelNotMap { .. } => Some("a Compose file starts with `services:` at the top level".into()),
            K::WrongType { .. } | K::InvalidValue { .. } => None,
            K::UnknownKey { suggestion: Some(s), .. } => Some(format!("did you mean `{s}`?")),
            K::UnknownKey { expected, .. } => Some(format!("allowed here: {}", expected.join(", "))),
            K::UndefinedVariable { name } | K::UnsetVariable { name, .. } => Some(format!(
                "set `{name}` in the environment or in `.env` next to the manifest, or give a default: `${{{name}:-value}}`"
            )),
            K::RequiredVariable { name, .. } => Some(format!("set `{name}` in the environment or in `.env` next to the manifest")),
            K::BadInterpolation { .. } => Some("write `${NAME}`, `${NAME:-default}`, or `$$` for a literal `$`".into()),
            K::InvalidProject { .. } => Some("use lowercase letters, digits and `-`, starting with a letter, for example `x-provision: {project: my-app}`".into()),
            K::NoDatabases => Some("use a database image (postgres, mysql, mariadb, redis, valkey, memcached) or add `x-provision: {type: ...}` to a service".into()),
            K::UnknownType { suggestion: Some(s), .. } => Some(format!("did you mean `{s}`?")),
            K::UnknownType { known, .. } => Some(format!("known types: {}", known.join(", "))),
            K::ExtensionWithoutType { .. } => Some("add `type:` (postgres, mysql, mariadb, redis, valkey or memcached) to `x-provision`".into()),
            K::TypeConflict { image_type, .. } => Some(format!("remove `x-provision.type` or set it to `{image_type}`")),
            K::UnsupportedVersion { nearest: Some(n), supported, .. } => Some(format!("the nearest the cloud offers is `{n}` (supported: {}); dump and restore to move the data", supported.join(", "))),
            K::UnsupportedVersion { supported, .. } => Some(format!("supported in the cloud: {}", supported.join(", "))),
            K::LooksLikeDatabase { type_name, .. } => Some(format!("if it is a database, add `x-provision: {{type: {type_name}}}` to the service; if it is not, ignore this")),
            K::VersionNotInCloud { supported, .. } => Some(format!("fine locally; `--cloud` will refuse it (the cloud offers {})", supported.join(", "))),
            K::OptionNotForType { allowed, .. } => Some(format!("options for this type: {}", allowed.join(", "))),
            K::OptionNotForSql { .. } => Some("remove it; the link carries the password only".into()),
            K::LinkToMissing { suggestion: Some(s), .. } => Some(format!("did you mean `{s}`?")),
            K::LinkToMissing { .. } => Some("add the database as a service, or remove the link".into()),
            K::LinkToApp { target, .. } => Some(format!("publish a port on `{target}` (`ports: [\"8080:8080\"]`) for an `http://127.0.0.1:PORT` link, or use `depends_on:` for start order only")),
            K::DuplicatePrefix { second, .. } => Some(format!("give one of them an alias, for example `links: [\"{second}:{second}_2\"]`")),
            K::EnvCollision { variable, .. } => Some(format!("remove `{variable}` from `environment:`, or link under an alias (`links: [\"name:alias\"]`)")),
            K::CloudIdentifier { rule, .. } => Some(match rule {
                IdentifierRule::TooLong { .. } => "the identifier is `{project}-{service}`: shorten the project (`-p` or `x-provision.project`) or the service name",
                IdentifierRule::StartsWithLetter => "the identifier starts with the project name: give a project that starts with a letter (`-p` or `x-provision.project`)",
                IdentifierRule::DoubleHyphen => "the identifier is `{project}-{service}`, where each character of the service name other than a letter or digit becomes `-`: rename the service so that no two such characters stand together",
                IdentifierRule::TrailingHyphen => "the identifier is `{project}-{service}`, where each character of the service name other than a letter or digit becomes `-`: rename the service so that it ends in a letter or digit",
                IdentifierRule::Characters => "the identifier is `{project}-{service}`: use only letters, digits and `-` in the project and the service name",
            }.into()),
            K::NotLinked { .. } => Some("add it to an app service's `links:` or `depends_on:`, or remove it".into()),
            K::DefaultPassword { .. } => Some("use a strong one from `.env` (`${DB_PASSWORD}`), or remove it: provision then generates a random password and hands it to linked services".into()),
            K::PortNotPublished { .. } => None,
            K::FloatingTag { cloud_version, .. } => Some(format!(
                "pin the version in the tag (`:{cloud_version}`) so the laptop and the cloud run the same major"
            )),
            K::FileUnreadable { .. } => Some("relative paths are relative to the file that names them (an included file's own directory)".into()),
            K::Cycle { .. } => Some("remove one of the references in the chain".into()),
            K::ExtendsMissing { .. } => Some("name a service defined in that file, or add `file:` to `extends:`".into()),
            K::IncludeConflict { .. } => Some("rename one of them, or drop the `include:` entry".into()),
            K::FixedPassword { resource, .. } => Some(format!(
                "keep it out of the file (`${{DB_PASSWORD}}` from `.env`, or a `_FILE` variable with a secret), and let the app read `{}_PASSWORD`/`{}_URL` from provision",
                crate::names::link_prefix(resource),
                crate::names::link_prefix(resource)
            )),
            K::CredentialConflict { .. } => Some("remove one of the two, or make them the same".into()),
            // `x-provision.cloud` has no user name of its own: the local database and the cloud
            // have the same user, so apps read one `*_USERNAME`.
            K::CloudUsername { variable: Some(variable), .. } => Some(format!(
                "choose another name in `{variable}`, for example `app`; the local database and the cloud use the same user (`x-provision.username` sets it for both)"
            )),
            K::CloudUsername { .. } => Some(
                "set `x-provision.username` to another name, for example `app`; the local database and the cloud use the same user".into(),
            ),
            K::PasswordFile { .. } => Some("declare the file under top-level `secrets:` with `file:` and list it in the service's `secrets:`, or bind-mount it".into()),
            K::LinkByEnvironment { service, resource, .. } => Some(format!(
                "add `depends_on: [{resource}]` (or `links: [{resource}]`) to `{service}`"
            )),
        }
    }

    /// The problem as printed on stderr.
    pub fn render(&self, file: &std::path::Path) -> String {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{label}: {}: {}", self.location(file), self.message());
        if !self.path.is_empty()
            && !matches!(
                self.kind,
                ProblemKind::WrongType { .. } | ProblemKind::InvalidValue { .. }
            )
        {
            let _ = write!(out, " (at `{}`)", self.path);
        }
        out.push('\n');
        if let Some(hint) = self.hint() {
            let _ = writeln!(out, "  hint: {hint}");
        }
        out
    }
}

/// `services.db.x-provision.typo` -> `services.db.x-provision`
fn parent(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(p, _)| p)
}
