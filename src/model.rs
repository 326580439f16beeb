//! From a manifest to a model: which services are databases (resources), of which type and
//! version, with which options, and which app services link to them under which prefix.
//! Every semantic problem is collected here, with where it was written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::catalog::{Catalog, CloudOption, CloudService, ImageRef, Template};
use crate::error::Error;
use crate::manifest::{EnvVar, LinkKind, Manifest, Service};
use crate::problem::{IdentifierRule, Pos, Problem, ProblemKind, Scope};
use crate::suggest::did_you_mean;

mod cloud;
#[cfg(test)]
mod compose_rules_tests;
mod credentials;
mod hints;
mod lookalike;
pub mod stage;

pub use credentials::MAX_SQL_NAME;

/// Database and user names when the manifest names none.
pub const DEFAULT_SQL_NAME: &str = "app";

/// Passwords that scanners try first; a manifest that sets one gets a warning.
const WELL_KNOWN_PASSWORDS: &[&str] = &[
    "password", "postgres", "root", "secret", "admin", "changeme", "example", "mysql", "redis",
    "123456", "pass", "test",
];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Project {
    pub name: String,
    pub source: ProjectSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectSource {
    Flag,
    Extension,
    ComposeProjectName,
    ComposeName,
    Directory,
}

impl ProjectSource {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Flag => "from `-p`",
            Self::Extension => "from `x-provision.project`",
            Self::ComposeProjectName => "from `COMPOSE_PROJECT_NAME`",
            Self::ComposeName => "from `name:`",
            Self::Directory => "from the directory name",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Model<'c> {
    pub project: Project,
    pub resources: Vec<Resource<'c>>,
    pub apps: Vec<App>,
    /// Every service meant as a database, including those too broken to be a resource.
    pub databases: Vec<String>,
    pub problems: Vec<Problem>,
    /// Every service name, for attributing problems.
    pub service_names: Vec<String>,
}

/// A service that is a database.
#[derive(Debug, Clone)]
pub struct Resource<'c> {
    pub name: String,
    pub at: Pos,
    pub template: &'c Arc<Template>,
    /// The image to run locally, with a tag.
    pub image: String,
    pub repository: String,
    /// As written (`16.4`), or the template's default.
    pub version: String,
    /// The tag names no version (`latest`, `alpine`, untagged): locally the version is the
    /// pulled image's, known only once a runtime has it; `version` is the cloud's.
    pub floating: bool,
    /// The supported line it belongs to (`16`).
    pub version_line: String,
    pub database: Option<String>,
    pub username: Option<String>,
    /// A fixed host port from `x-provision.local.port` or `ports:`.
    pub local_port: Option<u16>,
    pub cloud: CloudConfig,
    /// The cloud identifier `{project}-{name}`.
    pub identifier: String,
    /// Variables the manifest sets on the database service itself.
    pub environment: Vec<EnvVar>,
    /// The local password the service's own settings fix (`POSTGRES_PASSWORD`, a `_FILE`
    /// secret, `--requirepass`); the cloud always generates its own.
    pub local_password: Option<crate::secret::Secret>,
    /// Where `local_password` came from: a variable name or `command: --requirepass`.
    pub password_from: Option<String>,
    /// `command:` (server flags), without a password flag.
    pub command: Option<Vec<String>>,
    /// `volumes:` of the service: bind mounts (init scripts, config files) and volumes.
    pub mounts: Vec<crate::manifest::Mount>,
    /// Runs locally with TLS from the project's CA (`x-provision.local.tls`).
    pub local_tls: bool,
}

/// Cloud settings with the template's defaults filled in (defined with the cloud diff, which
/// compares them with AWS).
pub use cloud::CloudConfig;

/// An app service (anything that is not a database) and its links.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub links: Vec<Link>,
    /// Links to other app services that publish a port: `links: [api]` gives `API_URL`,
    /// `http://127.0.0.1:PORT`, under `start`.
    pub app_links: Vec<AppLink>,
}

/// A link to an app service, through its first published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLink {
    pub service: String,
    pub prefix: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub resource: String,
    /// Variable names start with `{prefix}_`.
    pub prefix: String,
    /// The spelling of `P_URL` the app's client reads (`x-provision.url`), when the linked
    /// type has one by that name.
    pub flavour: Option<String>,
}

pub use crate::names::link_prefix;

/// Lowercase letters, digits and single `-`, no `-` at either end: what RDS, ElastiCache,
/// Docker and Compose all accept in a name.
pub fn normalize_project(given: &str) -> String {
    let mut out = String::with_capacity(given.len());
    for c in given.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The AWS identifier of a resource: `{project}-{service}`, with the service name folded to
/// the same alphabet.
pub fn cloud_identifier(project: &str, service: &str) -> String {
    crate::names::cloud_identifier(project, service)
}

/// Checks an identifier against RDS's or ElastiCache's naming rules.
pub fn identifier_rule_broken(identifier: &str, service: CloudService) -> Option<IdentifierRule> {
    let len = identifier.chars().count();
    let max = service.max_identifier_len();
    if len > max {
        Some(IdentifierRule::TooLong { max, len })
    } else if !identifier.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some(IdentifierRule::StartsWithLetter)
    } else if !identifier
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Some(IdentifierRule::Characters)
    } else if identifier.contains("--") {
        Some(IdentifierRule::DoubleHyphen)
    } else if identifier.ends_with('-') {
        Some(IdentifierRule::TrailingHyphen)
    } else {
        None
    }
}

/// The service a problem is about, from its key path: the longest service name that
/// `services.` is followed by, up to a `.` or `[` (service names may contain dots).
pub fn subject<'a>(path: &str, names: &HashSet<&'a str>) -> Option<&'a str> {
    let rest = path.strip_prefix("services.")?;
    let ends = rest
        .match_indices(['.', '['])
        .map(|(i, _)| i)
        .chain(std::iter::once(rest.len()));
    let mut found = None;
    for end in ends {
        if let Some(name) = names.get(&rest[..end]) {
            found = Some(*name);
        }
    }
    found
}

/// Resolves the manifest against the catalog. `project_flag` is `-p`, which wins over the
/// manifest; an unusable one is a usage error rather than a manifest problem.
pub fn resolve<'c>(
    manifest: &Manifest,
    catalog: &'c Catalog,
    project_flag: Option<&str>,
) -> Result<Model<'c>, Error> {
    let mut problems = manifest.problems.clone();
    let project = project_name(manifest, project_flag, &mut problems)?;

    // A service whose settings did not even read cleanly is not a usable resource.
    let all_names: HashSet<&str> = manifest.services.iter().map(|s| s.name.as_str()).collect();
    let unreadable: HashSet<&str> = problems
        .iter()
        .filter(|p| p.is_error())
        .filter_map(|p| subject(&p.path, &all_names))
        .collect();
    let mut resources = Vec::new();
    // Services meant as databases, valid or not, so that a broken one does not also produce
    // "links to an app service" errors.
    let mut database_names = Vec::new();
    for service in &manifest.services {
        match classify(service, catalog, &mut problems) {
            // Compose's warnings about an app's own settings (an unset variable).
            Class::App => {
                problems.extend(service.app_only.iter().cloned());
                lookalike::looks_like_database(service, &mut problems);
            }
            Class::BrokenDatabase => database_names.push(service.name.clone()),
            Class::Database(template, image) => {
                database_names.push(service.name.clone());
                // `command:`/`volumes:` problems count for databases only.
                let deferred_error = service.deferred.iter().any(Problem::is_error);
                problems.extend(service.deferred.iter().cloned());
                let resource = resource(
                    service,
                    template,
                    image,
                    &project.name,
                    manifest.local_tls.as_ref().is_some_and(|t| t.value),
                    &mut problems,
                );
                if let Some(resource) = resource
                    .filter(|_| !unreadable.contains(service.name.as_str()) && !deferred_error)
                {
                    resources.push(resource);
                }
            }
        }
    }

    // Name sets keep linking linear: generated manifests can have many thousands of services.
    let names = Names {
        services: manifest.services.iter().map(|s| s.name.as_str()).collect(),
        databases: database_names.iter().map(String::as_str).collect(),
        resources: resources.iter().map(|r| r.name.as_str()).collect(),
        flavours: resources
            .iter()
            .map(|r| (r.name.as_str(), &r.template.url.flavours))
            .collect(),
    };
    // `a_b` and `a-b` fold to one AWS identifier: two databases cannot share it.
    let mut identifiers: HashMap<&str, &str> = HashMap::new();
    for r in &resources {
        if let Some(first) = identifiers.insert(r.identifier.as_str(), r.name.as_str()) {
            problems.push(
                Problem::error(
                    Some(r.at),
                    format!("services.{}", r.name),
                    ProblemKind::InvalidValue {
                        value: r.name.clone(),
                        expected: format!(
                            "a name whose cloud identifier `{}` differs from `{first}`'s",
                            r.identifier
                        ),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
    network_problems(manifest, &resources, &mut problems);
    let apps: Vec<App> = manifest
        .services
        .iter()
        .filter(|s| !names.databases.contains(s.name.as_str()))
        .map(|s| app(s, manifest, &names, &mut problems))
        .collect();

    // With other errors, "no databases" is usually their consequence, not news.
    if !manifest.services.is_empty()
        && database_names.is_empty()
        && !problems.iter().any(Problem::is_error)
    {
        problems.push(Problem::error(None, "services", ProblemKind::NoDatabases));
    }
    if !apps.is_empty() {
        let linked: HashSet<&str> = apps
            .iter()
            .flat_map(|a| a.links.iter().map(|l| l.resource.as_str()))
            .collect();
        for r in &resources {
            if !linked.contains(r.name.as_str()) {
                problems.push(Problem::warning(
                    Some(r.at),
                    format!("services.{}", r.name),
                    ProblemKind::NotLinked {
                        resource: r.name.clone(),
                    },
                ));
            }
        }
    }
    // A problem in an override, included or extended file names that file.
    for p in &mut problems {
        manifest.attribute(p);
    }
    Ok(Model {
        project,
        resources,
        apps,
        databases: database_names,
        problems,
        service_names: manifest.services.iter().map(|s| s.name.clone()).collect(),
    })
}

fn project_name(
    manifest: &Manifest,
    flag: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Result<Project, Error> {
    if let Some(given) = flag {
        let name = normalize_project(given);
        if name.is_empty() {
            return Err(Error::InvalidProjectFlag {
                given: given.to_owned(),
            });
        }
        return Ok(Project {
            name,
            source: ProjectSource::Flag,
        });
    }
    // Compose's order (https://docs.docker.com/compose/how-tos/project-name/): `-p`, then
    // `COMPOSE_PROJECT_NAME` (the shell, then `.env`), then the top-level `name:`, then the
    // directory. `x-provision.project`, provision's own setting, comes right after `-p`: a
    // shell's `COMPOSE_PROJECT_NAME` must not move a project that names itself for provision
    // (its cloud identifiers are made from it).
    let from_env = manifest
        .compose_project_name
        .as_ref()
        .map(|value| crate::manifest::Located {
            value: value.clone(),
            at: Pos::default(),
            path: String::new(),
        });
    for (given, source) in [
        (manifest.project.as_ref(), ProjectSource::Extension),
        (from_env.as_ref(), ProjectSource::ComposeProjectName),
        (manifest.name.as_ref(), ProjectSource::ComposeName),
    ] {
        if let Some(given) = given {
            if source == ProjectSource::ComposeProjectName {
                let name = normalize_project(&given.value);
                if name.is_empty() {
                    problems.push(Problem::error(
                        None,
                        "COMPOSE_PROJECT_NAME",
                        ProblemKind::InvalidProject {
                            given: given.value.clone(),
                        },
                    ));
                    break;
                }
                return Ok(Project { name, source });
            }
            let name = normalize_project(&given.value);
            if name.is_empty() {
                problems.push(Problem::error(
                    Some(given.at),
                    given.path.clone(),
                    ProblemKind::InvalidProject {
                        given: given.value.clone(),
                    },
                ));
                break;
            }
            return Ok(Project { name, source });
        }
    }
    let name = normalize_project(&manifest.dir_name);
    if name.is_empty()
        && !problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::InvalidProject { .. }))
    {
        problems.push(Problem::error(
            None,
            "",
            ProblemKind::InvalidProject {
                given: manifest.dir_name.clone(),
            },
        ));
    }
    Ok(Project {
        name,
        source: ProjectSource::Directory,
    })
}

enum Class<'c, 'm> {
    App,
    BrokenDatabase,
    Database(&'c Arc<Template>, Option<ImageRef<'m>>),
}

fn classify<'c, 'm>(
    service: &'m Service,
    catalog: &'c Catalog,
    problems: &mut Vec<Problem>,
) -> Class<'c, 'm> {
    let by_image = service
        .image
        .as_ref()
        .and_then(|i| catalog.by_image(&i.value));
    let Some(declared) = &service.ext.type_name else {
        return match by_image {
            Some((template, image)) => Class::Database(template, Some(image)),
            None if service.ext.at.is_some() && !service.ext.is_app_only() => {
                problems.push(Problem::error(
                    service.ext.at,
                    format!("services.{}.x-provision", service.name),
                    ProblemKind::ExtensionWithoutType {
                        image: service.image.as_ref().map(|i| i.value.clone()),
                    },
                ));
                Class::BrokenDatabase
            }
            None => Class::App,
        };
    };
    let Some(template) = catalog.get(&declared.value) else {
        let known: Vec<String> = catalog.names().map(str::to_owned).collect();
        let suggestion = did_you_mean(&declared.value, catalog.names()).map(str::to_owned);
        problems.push(Problem::error(
            Some(declared.at),
            declared.path.clone(),
            ProblemKind::UnknownType {
                given: declared.value.clone(),
                suggestion,
                known,
            },
        ));
        return Class::BrokenDatabase;
    };
    if let Some((image_template, _)) = by_image
        && image_template.name != template.name
    {
        problems.push(Problem::error(
            Some(declared.at),
            declared.path.clone(),
            ProblemKind::TypeConflict {
                image_type: image_template.name.clone(),
                declared: declared.value.clone(),
            },
        ));
        return Class::BrokenDatabase;
    }
    Class::Database(
        template,
        service.image.as_ref().map(|i| ImageRef::parse(&i.value)),
    )
}

/// Whether a database runs locally with TLS: its own `x-provision.local.tls`, else the
/// project's. Asked for by name on an image family that configures TLS its own way, it is an
/// error; asked for project-wide, that database runs without and a warning says so.
fn local_tls(
    service: &Service,
    template: &Template,
    repository: Option<&str>,
    project_tls: bool,
    problems: &mut Vec<Problem>,
) -> bool {
    let own = service.ext.local_tls.as_ref();
    let wanted = own.map_or(project_tls, |t| t.value);
    if !wanted {
        return false;
    }
    let family = template.family(repository.unwrap_or_default());
    if family.tls {
        return true;
    }
    let image = repository.unwrap_or(&template.name).to_owned();
    let expected = format!(
        "false: `{image}` turns TLS on through settings of its own, which provision does not drive; use the official image for local TLS"
    );
    match own {
        Some(t) => problems.push(
            Problem::error(
                Some(t.at),
                t.path.clone(),
                ProblemKind::InvalidValue {
                    value: "true".into(),
                    expected,
                },
            )
            .scoped(Scope::Local),
        ),
        None => problems.push(
            Problem::warning(
                Some(service.at),
                format!("services.{}", service.name),
                ProblemKind::InvalidValue {
                    value: "x-provision.local.tls: true (project-wide)".into(),
                    expected: format!("{expected}; `{}` runs without TLS", service.name),
                },
            )
            .scoped(Scope::Local),
        ),
    }
    false
}

/// The version that follows `prefix` in a tag: `pg16` -> `16`, `0.8.0-pg17` -> `17`.
fn version_after<'t>(tag: &'t str, prefix: &str) -> Option<&'t str> {
    tag.match_indices(prefix).find_map(|(i, _)| {
        let rest = &tag[i + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let version = rest[..end].trim_end_matches('.');
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then_some(version)
    })
}

/// The supported line numerically closest to `version` (ties go to the newer), for a hint.
fn nearest_line(template: &Template, version: &str) -> Option<String> {
    let number = |v: &str| -> Option<f64> {
        let mut parts = v.split('.').map(|p| p.parse::<f64>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0.0);
        Some(major * 1000.0 + minor)
    };
    let wanted = number(version)?;
    template
        .versions
        .iter()
        .filter_map(|line| Some((line, (number(line)? - wanted).abs())))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(std::cmp::Ordering::Greater))
        .map(|(line, _)| line.clone())
}

fn resource<'c>(
    service: &Service,
    template: &'c Arc<Template>,
    image: Option<ImageRef<'_>>,
    project: &str,
    project_tls: bool,
    problems: &mut Vec<Problem>,
) -> Option<Resource<'c>> {
    let path = format!("services.{}", service.name);
    let before = problems.len();
    let ext = &service.ext;
    if let Some(url) = ext.url.first() {
        problems.push(Problem::error(
            Some(url.flavour.at),
            format!("{path}.x-provision.url"),
            ProblemKind::InvalidValue {
                value: url.flavour.value.clone(),
                expected: "no `url` on a database: it belongs on the app service whose client reads the URL".into(),
            },
        ));
    }

    // The version: from the image tag (`16.4-alpine`, or after the family's prefix: `pg16`),
    // else `x-provision.version`, else the default.
    let tag_version = image.and_then(|i| {
        let prefix = template
            .container
            .by_image
            .get(i.repository)
            .and_then(|f| f.tag_prefix.as_deref());
        match prefix {
            // `0.8.0-pg17` is pgvector 0.8.0 on Postgres 17.
            Some(prefix) => version_after(i.tag?, prefix),
            None => i.tag_version(),
        }
    });
    let floating = image.is_some() && tag_version.is_none() && ext.version.is_none();
    let (version, version_at, version_path) = match (tag_version, &ext.version) {
        (Some(v), _) => (
            v.to_owned(),
            service.image.as_ref().map(|i| i.at),
            format!("{path}.image"),
        ),
        (None, Some(v)) => (v.value.clone(), Some(v.at), v.path.clone()),
        (None, None) => (template.default_version.clone(), None, path.clone()),
    };
    // `postgres`, `redis:latest`, `postgres:alpine`: locally whatever the registry has today,
    // in the cloud the default line. Say so before the two drift apart.
    if floating && let Some(written) = &service.image {
        problems.push(
            Problem::warning(
                Some(written.at),
                format!("{path}.image"),
                ProblemKind::FloatingTag {
                    image: written.value.clone(),
                    cloud_version: version.clone(),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    // Any version an image exists for runs locally; the supported lines are the ones the
    // cloud offers, so only the cloud target refuses another.
    let version_line = template.version_line(&version).map(str::to_owned);
    if version_line.is_none() {
        problems.push(
            Problem::error(
                version_at.or(Some(service.at)),
                version_path.clone(),
                ProblemKind::UnsupportedVersion {
                    type_name: template.name.clone(),
                    version: version.clone(),
                    nearest: nearest_line(template, &version),
                    supported: template.versions.clone(),
                },
            )
            .scoped(Scope::Cloud),
        );
        // Locally it runs; say so there too, so that `doctor --local` does not pass it
        // silently when the cloud would refuse it.
        problems.push(
            Problem::warning(
                version_at.or(Some(service.at)),
                version_path,
                ProblemKind::VersionNotInCloud {
                    type_name: template.name.clone(),
                    version: version.clone(),
                    supported: template.versions.clone(),
                },
            )
            .scoped(Scope::Local),
        );
    }

    let repository = image.map_or_else(|| template.images[0].clone(), |i| i.repository.to_owned());
    let image_name = match (&service.image, image.and_then(|i| i.tag), &ext.version) {
        (Some(written), Some(_), _) => written.value.clone(),
        // `x-provision.version` picks the tag of an untagged image.
        (Some(written), None, Some(_)) if !repository.starts_with("convox/") => {
            format!("{}:{version}", written.value)
        }
        // Untagged means what Compose makes of it: `latest`, whatever version that is today.
        // The backend reads the real version from the image.
        (Some(written), None, _) => written.value.clone(),
        (None, _, _) => format!("{}:{version}", template.images[0]),
    };

    // What the service's own `environment:`/`command:` fix, as its image reads them.
    let creds = credentials::from_compose(
        service,
        template,
        &repository,
        WELL_KNOWN_PASSWORDS,
        problems,
    );

    // SQL names: only for engines that have databases and users. `x-provision` wins over
    // the image's variables; the image's variables over our default.
    let mut sql_name = |given: &Option<crate::manifest::Located<String>>,
                        from_env: &Option<crate::manifest::Located<String>>,
                        from_var: &Option<String>,
                        option: &'static str|
     -> Option<String> {
        match (given, from_env) {
            (Some(g), _) if !template.sql => {
                problems.push(Problem::error(
                    Some(g.at),
                    g.path.clone(),
                    ProblemKind::OptionNotForSql {
                        option: option.to_owned(),
                        type_name: template.title.clone(),
                    },
                ));
                None
            }
            (Some(g), Some(e)) if g.value != e.value && from_var.is_some() => {
                problems.push(Problem::warning(
                    Some(g.at),
                    g.path.clone(),
                    ProblemKind::CredentialConflict {
                        resource: service.name.clone(),
                        option,
                        variable: from_var
                            .clone()
                            .unwrap_or_else(|| "the image's default".to_owned()),
                    },
                ));
                Some(g.value.clone())
            }
            (Some(g), _) => Some(g.value.clone()),
            (None, Some(e)) if template.sql => Some(e.value.clone()),
            (None, _) => template.sql.then(|| DEFAULT_SQL_NAME.to_owned()),
        }
    };
    let database = sql_name(
        &ext.database,
        &creds.database,
        &creds.database_from,
        "database",
    );
    let username = sql_name(
        &ext.username,
        &creds.username,
        &creds.username_from,
        "username",
    );
    // RDS's MasterUsername rules, for the name the cloud will use (written, or from the
    // service's own environment).
    // (A name from the environment that no RDS engine takes is reported with the
    // credentials already: once is enough.)
    let reported = |given: bool, name: &str| {
        let shape = name.len() <= credentials::MAX_SQL_NAME
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        !given && !shape
    };
    if template.sql
        && let Some(name) = &username
        && !reported(ext.username.is_some(), name)
        && let Some(rule) = template.cloud.username_rule_broken(name)
    {
        // Where the name was written: `x-provision.username`, the image's variable, or (an
        // image default) the service.
        let (at, path, variable) = match (&ext.username, &creds.username) {
            (Some(g), _) => (g.at, g.path.clone(), None),
            (None, Some(e)) => (e.at, e.path.clone(), creds.username_from.clone()),
            (None, None) => (service.at, format!("services.{}", service.name), None),
        };
        problems.push(
            Problem::error(
                Some(at),
                path,
                ProblemKind::CloudUsername {
                    resource: service.name.clone(),
                    name: name.clone(),
                    rule,
                    variable,
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    if template.sql
        && let Some(name) = &database
        && !reported(ext.database.is_some(), name)
        && let Some(rule) = template.cloud.database_rule_broken(name)
    {
        let (at, path) = match (&ext.database, &creds.database) {
            (Some(g), _) => (g.at, g.path.clone()),
            (None, Some(e)) => (e.at, e.path.clone()),
            (None, None) => (service.at, format!("services.{}", service.name)),
        };
        problems.push(
            Problem::error(
                Some(at),
                path,
                ProblemKind::InvalidValue {
                    value: name.clone(),
                    expected: rule,
                },
            )
            .scoped(Scope::Cloud),
        );
    }

    let published: Vec<_> = service
        .ports
        .iter()
        .filter(|p| p.value.target == template.port)
        .collect();
    let local_port = match (&ext.local_port, published.first()) {
        (Some(p), _) => Some(p.value),
        (None, Some(p)) => p.value.published,
        (None, None) => None,
    };
    if ext.local_port.is_none()
        && published.is_empty()
        && let Some(first) = service.ports.first()
    {
        problems.push(
            Problem::warning(
                Some(first.at),
                first.path.clone(),
                ProblemKind::PortNotPublished {
                    resource: service.name.clone(),
                    container_port: template.port,
                },
            )
            .scoped(Scope::Local),
        );
    }

    let cloud = cloud_config(service, template, problems);
    let identifier = cloud_identifier(project, &service.name);
    if !project.is_empty()
        && let Some(rule) = identifier_rule_broken(&identifier, template.cloud.service)
    {
        problems.push(
            Problem::error(
                Some(service.at),
                path.clone(),
                ProblemKind::CloudIdentifier {
                    identifier: identifier.clone(),
                    service: template.cloud.service.label(),
                    rule,
                },
            )
            .scoped(Scope::Cloud),
        );
    }

    for var in &service.environment {
        let is_password = var.value.name.contains("PASSWORD") || var.value.name.contains("PASS");
        if let (true, Some(value)) = (is_password, &var.value.value)
            && WELL_KNOWN_PASSWORDS.contains(&value.to_lowercase().as_str())
        {
            problems.push(Problem::warning(
                Some(var.at),
                var.path.clone(),
                ProblemKind::DefaultPassword {
                    resource: service.name.clone(),
                    variable: var.value.name.clone(),
                },
            ));
        }
    }

    let local_tls = local_tls(
        service,
        template,
        image.map(|i| i.repository),
        project_tls,
        problems,
    );
    let broken = problems[before..]
        .iter()
        .any(|p| p.is_error() && p.scope == Scope::Both);
    (!broken).then(|| Resource {
        name: service.name.clone(),
        at: service.at,
        template,
        image: image_name,
        repository,
        version_line: version_line.unwrap_or_else(|| template.major(&version)),
        version,
        floating,
        database,
        username,
        local_port,
        cloud,
        identifier,
        environment: service
            .environment
            .iter()
            .map(|v| v.value.clone())
            .collect(),
        local_tls,
        local_password: creds.password,
        password_from: creds.password_from,
        command: creds.command,
        mounts: service.volumes.iter().map(|m| m.value.clone()).collect(),
    })
}

/// `x-provision.cloud` networking that AWS would refuse: RDS wants subnets in at least two
/// Availability Zones (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html),
/// so fewer than two subnets cannot work; `allow_from` takes security group ids and CIDR
/// blocks only.
fn network_problems(manifest: &Manifest, resources: &[Resource<'_>], problems: &mut Vec<Problem>) {
    let cloud = &manifest.cloud;
    let rds = resources
        .iter()
        .any(|r| r.template.cloud.service == CloudService::Rds);
    if rds && cloud.subnet_ids.len() == 1 {
        problems.push(
            Problem::error(
                None,
                "x-provision.cloud.subnet_ids",
                ProblemKind::InvalidValue {
                    value: cloud.subnet_ids.join(", "),
                    expected: "subnets in at least two availability zones (RDS needs two)".into(),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    for source in &cloud.allow_from {
        let v = source.value.as_str();
        let cidr = v.split_once('/').is_some_and(|(addr, bits)| {
            bits.parse::<u8>().is_ok() && addr.parse::<std::net::IpAddr>().is_ok()
        });
        if !(v.starts_with("sg-") || cidr) {
            problems.push(
                Problem::error(
                    Some(source.at),
                    source.path.clone(),
                    ProblemKind::InvalidValue {
                        value: v.to_owned(),
                        expected: "a security group id (`sg-...`) or a CIDR block (`10.0.0.0/16`)"
                            .into(),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
}

fn cloud_config(
    service: &Service,
    template: &Template,
    problems: &mut Vec<Problem>,
) -> CloudConfig {
    let given = &service.ext.cloud;
    let allowed = &template.cloud.options;
    for (option, at, path) in given.given() {
        if !allowed.contains(&option) {
            problems.push(
                Problem::error(
                    Some(at),
                    path,
                    ProblemKind::OptionNotForType {
                        option: option.key().to_owned(),
                        type_name: template.title.clone(),
                        allowed: CloudOption::ALL
                            .iter()
                            .filter(|o| allowed.contains(o))
                            .map(|o| o.key().to_owned())
                            .collect(),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
    if let (Some(size), Some(min), Some(max)) = (
        &given.storage_gb,
        template.cloud.min_storage_gb,
        template.cloud.max_storage_gb,
    ) && !(min..=max).contains(&size.value)
    {
        problems.push(
            Problem::error(
                Some(size.at),
                size.path.clone(),
                ProblemKind::InvalidValue {
                    value: size.value.to_string(),
                    expected: format!("between {min} and {max} GiB for {}", template.title),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    // MaxAllocatedStorage must exceed the allocated storage
    // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html).
    if let Some(max) = &given.max_storage_gb {
        let storage = given
            .storage_gb
            .as_ref()
            .map(|s| s.value)
            .or(template.cloud.default_storage_gb)
            .unwrap_or(0);
        if max.value <= storage {
            problems.push(
                Problem::error(
                    Some(max.at),
                    max.path.clone(),
                    ProblemKind::InvalidValue {
                        value: max.value.to_string(),
                        expected: format!("more than `storage_gb` ({storage} GiB)"),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
    let replicas = given.replicas.as_ref().map_or(0, |r| r.value);
    let multi_az = given.multi_az.as_ref().is_some_and(|m| m.value);
    if multi_az
        && replicas == 0
        && template.cloud.service == CloudService::ElasticacheReplicationGroup
        && let Some(m) = &given.multi_az
    {
        problems.push(
            Problem::error(
                Some(m.at),
                m.path.clone(),
                ProblemKind::InvalidValue {
                    value: "true".into(),
                    expected: format!(
                        "`false` unless `replicas` is at least 1 ({} fails over to a replica)",
                        template.title
                    ),
                },
            )
            .scoped(Scope::Cloud),
        );
    }
    CloudConfig {
        class: given
            .class
            .as_ref()
            .map_or_else(|| template.cloud.default_class.clone(), |c| c.value.clone()),
        storage_gb: given
            .storage_gb
            .as_ref()
            .map(|s| s.value)
            .or(template.cloud.default_storage_gb),
        replicas,
        multi_az,
        deletion_protection: given.deletion_protection.as_ref().is_none_or(|d| d.value),
        backup_retention_days: given.backup_retention_days.as_ref().map_or(7, |b| b.value),
        max_storage_gb: given.max_storage_gb.as_ref().map(|m| m.value),
        extended_support: given.extended_support.as_ref().is_some_and(|e| e.value),
    }
}

struct Names<'m> {
    services: HashSet<&'m str>,
    databases: HashSet<&'m str>,
    resources: HashSet<&'m str>,
    /// The URL flavours of each resource's type.
    flavours: HashMap<&'m str, &'m BTreeMap<String, crate::catalog::UrlFlavour>>,
}

/// The flavour of `P_URL` an app asks for on its link to `target` (written `alias` there): a
/// choice naming the link, else the one for every link, when the linked type has it.
fn flavour_for(
    service: &Service,
    target: &str,
    alias: Option<&str>,
    names: &Names<'_>,
) -> Option<String> {
    let choices = &service.ext.url;
    let chosen = choices
        .iter()
        .find(|c| {
            c.link
                .as_deref()
                .is_some_and(|l| l == target || Some(l) == alias)
        })
        .or_else(|| choices.iter().find(|c| c.link.is_none()))?;
    let name = &chosen.flavour.value;
    names
        .flavours
        .get(target)
        .is_some_and(|f| f.contains_key(name))
        .then(|| name.clone())
}

/// `x-provision.url` choices that name no link of the app, or a flavour no linked type has.
fn url_problems(service: &Service, links: &[Link], names: &Names<'_>, problems: &mut Vec<Problem>) {
    // Most apps choose nothing; the rest is linear in the resources.
    if service.ext.url.is_empty() {
        return;
    }
    let all: BTreeSet<&str> = names
        .flavours
        .values()
        .flat_map(|f| f.keys().map(String::as_str))
        .collect();
    for choice in &service.ext.url {
        let flavour = &choice.flavour;
        let known: BTreeSet<&str> = match &choice.link {
            Some(link) => {
                let Some(target) = service
                    .links
                    .iter()
                    .find(|l| l.target == *link || l.alias.as_deref() == Some(link))
                    .map(|l| l.target.as_str())
                    .filter(|t| links.iter().any(|l| l.resource == *t))
                else {
                    problems.push(Problem::error(
                        Some(flavour.at),
                        flavour.path.clone(),
                        ProblemKind::InvalidValue {
                            value: link.clone(),
                            expected: format!(
                                "a database `{}` links to (`links:` or `depends_on:`)",
                                service.name
                            ),
                        },
                    ));
                    continue;
                };
                names
                    .flavours
                    .get(target)
                    .map(|f| f.keys().map(String::as_str).collect())
                    .unwrap_or_default()
            }
            None => all.clone(),
        };
        if !known.contains(flavour.value.as_str()) {
            let list: Vec<&str> = known.iter().copied().collect();
            problems.push(Problem::error(
                Some(flavour.at),
                flavour.path.clone(),
                ProblemKind::InvalidValue {
                    value: flavour.value.clone(),
                    expected: if list.is_empty() {
                        "no flavour: this type's URL is read the same by every client".into()
                    } else {
                        format!("one of {}", list.join(", "))
                    },
                },
            ));
        }
    }
}

fn app(
    service: &Service,
    manifest: &Manifest,
    names: &Names<'_>,
    problems: &mut Vec<Problem>,
) -> App {
    let mut links: Vec<Link> = Vec::new();
    let mut app_links: Vec<AppLink> = Vec::new();
    // prefix -> (resource, where the first link with it was written)
    let mut prefixes: HashMap<String, String> = HashMap::new();
    // `links:` first: an alias given there wins over the plain name a `depends_on:` implies.
    let ordered = service
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Links)
        .chain(
            service
                .links
                .iter()
                .filter(|l| l.kind == LinkKind::DependsOn),
        );
    for link in ordered {
        if !names.services.contains(link.target.as_str()) {
            let suggestion = did_you_mean(
                &link.target,
                manifest.services.iter().map(|s| s.name.as_str()),
            )
            .map(str::to_owned);
            problems.push(Problem::error(
                Some(link.at),
                link.path.clone(),
                ProblemKind::LinkToMissing {
                    service: service.name.clone(),
                    target: link.target.clone(),
                    suggestion,
                },
            ));
            continue;
        }
        if !names.databases.contains(link.target.as_str()) {
            // `depends_on:` between app services only orders their start: not a link. A
            // `links:` entry to an app that publishes a port is an HTTP link (as Convox's
            // links between services were); without a port there is nothing to point at.
            let published = || {
                manifest
                    .services
                    .iter()
                    .find(|s| s.name == link.target)
                    .and_then(|s| s.ports.iter().find_map(|p| p.value.published))
            };
            if link.kind == LinkKind::Links
                && let Some(port) = published()
            {
                app_links.push(AppLink {
                    service: link.target.clone(),
                    prefix: link_prefix(link.alias.as_deref().unwrap_or(&link.target)),
                    port,
                });
            } else if link.kind == LinkKind::Links {
                problems.push(Problem::error(
                    Some(link.at),
                    link.path.clone(),
                    ProblemKind::LinkToApp {
                        service: service.name.clone(),
                        target: link.target.clone(),
                    },
                ));
            }
            continue;
        }
        if !names.resources.contains(link.target.as_str()) {
            continue; // an invalid database: its own problem says why
        }
        let prefix = link_prefix(link.alias.as_deref().unwrap_or(&link.target));
        // `1DB_URL` is no variable name a shell accepts.
        if prefix.starts_with(|c: char| c.is_ascii_digit()) {
            problems.push(Problem::error(Some(link.at), link.path.clone(), ProblemKind::InvalidValue {
                value: prefix.clone(),
                expected: "a variable prefix starting with a letter: give the link an alias, for example `links: [\"1db:db1\"]`".into(),
            }));
            continue;
        }
        match prefixes.get(&prefix) {
            Some(first) if *first == link.target => continue, // same link twice (links + depends_on)
            Some(first) => {
                problems.push(Problem::error(
                    Some(link.at),
                    link.path.clone(),
                    ProblemKind::DuplicatePrefix {
                        service: service.name.clone(),
                        prefix,
                        first: first.clone(),
                        second: link.target.clone(),
                    },
                ));
                continue;
            }
            None => {}
        }
        // A `depends_on` after a `links:` alias for the same database adds nothing.
        if link.kind == LinkKind::DependsOn && links.iter().any(|l| l.resource == link.target) {
            continue;
        }
        prefixes.insert(prefix.clone(), link.target.clone());
        let flavour = flavour_for(service, &link.target, link.alias.as_deref(), names);
        links.push(Link {
            resource: link.target.clone(),
            prefix,
            flavour,
        });
    }
    let set: BTreeMap<&str, &crate::manifest::Located<EnvVar>> = service
        .environment
        .iter()
        .map(|v| (v.value.name.as_str(), v))
        .collect();
    // The link's value wins (the app gets what provision started); the author should know.
    let linked = links
        .iter()
        .map(|l| (&l.prefix, &l.resource))
        .chain(app_links.iter().map(|l| (&l.prefix, &l.service)));
    for (prefix, target) in linked {
        for name in crate::links::variables(prefix) {
            if let Some(var) = set.get(name.as_str()) {
                // Common in Compose files (`REDIS_URL: redis://redis` beside a link), and
                // harmless here: `env` and `run` hand out the link's value.
                problems.push(Problem::warning(
                    Some(var.at),
                    var.path.clone(),
                    ProblemKind::EnvCollision {
                        service: service.name.clone(),
                        variable: name,
                        resource: target.clone(),
                    },
                ));
            }
        }
    }
    hints::unlinked_by_environment(service, &names.resources, &links, problems);
    url_problems(service, &links, names, problems);
    App {
        name: service.name.clone(),
        links,
        app_links,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::manifest::from_bytes;

    fn model_of(text: &str) -> (Model<'static>, Vec<ProblemKind>) {
        let catalog: &'static Catalog = Box::leak(Box::new(Catalog::builtin().unwrap()));
        let manifest = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "My Shop".into(),
            &|_| None,
        )
        .unwrap();
        let model = resolve(&manifest, catalog, None).unwrap();
        // Untagged images are everywhere in these tests; `family_tags_and_floating_tags`
        // checks that warning on its own.
        let kinds = model
            .problems
            .iter()
            .map(|p| p.kind.clone())
            .filter(|k| !matches!(k, ProblemKind::FloatingTag { .. }))
            .collect();
        (model, kinds)
    }

    #[test]
    fn names_and_identifiers() {
        assert_eq!(normalize_project("My Shop"), "my-shop");
        assert_eq!(normalize_project("--a__b--"), "a-b");
        assert_eq!(normalize_project("!!!"), "");
        assert_eq!(link_prefix("my-cache.v2"), "MY_CACHE_V2");
        assert_eq!(cloud_identifier("shop", "Main_DB"), "shop-main-db");
        assert_eq!(identifier_rule_broken("shop-db", CloudService::Rds), None);
        assert_eq!(
            identifier_rule_broken("1shop-db", CloudService::Rds),
            Some(IdentifierRule::StartsWithLetter)
        );
        assert_eq!(
            identifier_rule_broken("shop--db", CloudService::Rds),
            Some(IdentifierRule::DoubleHyphen)
        );
        assert_eq!(
            identifier_rule_broken("shop-", CloudService::Rds),
            Some(IdentifierRule::TrailingHyphen)
        );
        let long = format!("a{}", "b".repeat(40));
        assert_eq!(
            identifier_rule_broken(&long, CloudService::ElasticacheReplicationGroup),
            Some(IdentifierRule::TooLong { max: 40, len: 41 })
        );
        assert_eq!(identifier_rule_broken(&long, CloudService::Rds), None);
    }

    #[test]
    fn classifies_resources_and_apps_with_defaults() {
        let (m, problems) = model_of(
            "services:\n  web: {image: node:20, links: [pg, 'kv:cache'], depends_on: [mc, worker]}\n  worker: {image: node:20, depends_on: {pg: {condition: service_started}}}\n  pg: {image: 'library/postgres:16.4-alpine'}\n  kv: {image: valkey/valkey}\n  mc: {x-provision: {type: memcached}}\n  my: {image: mysql, x-provision: {version: '8.0', database: shop, username: shopper}}\n",
        );
        assert_eq!(m.project.name, "my-shop");
        assert_eq!(m.project.source, ProjectSource::Directory);
        let got: Vec<_> = m
            .resources
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.template.name.as_str(),
                    r.version.as_str(),
                    r.version_line.as_str(),
                    r.image.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "pg",
                    "postgres",
                    "16.4",
                    "16",
                    "library/postgres:16.4-alpine"
                ),
                ("kv", "valkey", "8", "8", "valkey/valkey"),
                ("mc", "memcached", "1.6", "1.6", "memcached:1.6"),
                ("my", "mysql", "8.0", "8.0", "mysql:8.0"),
            ]
        );
        let pg = &m.resources[0];
        assert_eq!(
            (pg.database.as_deref(), pg.username.as_deref()),
            (Some("app"), Some("app"))
        );
        assert_eq!(
            m.resources[1].database, None,
            "key-value stores have no database name"
        );
        assert_eq!(
            (
                m.resources[3].database.as_deref(),
                m.resources[3].username.as_deref()
            ),
            (Some("shop"), Some("shopper"))
        );
        assert_eq!(pg.identifier, "my-shop-pg");
        assert_eq!(
            pg.cloud,
            CloudConfig {
                class: "db.t4g.micro".into(),
                storage_gb: Some(20),
                replicas: 0,
                multi_az: false,
                deletion_protection: true,
                backup_retention_days: 7,
                max_storage_gb: None,
                extended_support: false,
            }
        );
        let web: Vec<_> = m.apps[0]
            .links
            .iter()
            .map(|l| (l.resource.as_str(), l.prefix.as_str()))
            .collect();
        assert_eq!(web, [("pg", "PG"), ("kv", "CACHE"), ("mc", "MC")]);
        assert_eq!(
            m.apps[1].links,
            [Link {
                resource: "pg".into(),
                prefix: "PG".into(),
                flavour: None,
            }]
        );
        // `my` is linked by nobody: the one warning.
        assert_eq!(
            problems,
            [ProblemKind::NotLinked {
                resource: "my".into()
            }]
        );
    }

    #[test]
    fn version_sources_and_unsupported_versions() {
        let (m, _) = model_of(
            "services:\n  a: {image: postgres, x-provision: {version: '15'}}\n  b: {image: 'postgres:14', x-provision: {version: '15'}}\n  c: {image: redis}\n",
        );
        let versions: Vec<_> = m
            .resources
            .iter()
            .map(|r| (r.version.as_str(), r.image.as_str()))
            .collect();
        assert_eq!(
            versions,
            [
                ("15", "postgres:15"),
                ("14", "postgres:14"),
                // Untagged stays untagged: Compose's `latest`; the backend reads the version.
                ("7", "redis")
            ]
        );
        // Old versions run locally; only the cloud refuses them, naming the nearest it offers.
        let (m, problems) = model_of(
            "services:\n  a: {image: 'postgres:9.6'}\n  b: {image: redis, x-provision: {version: '5'}}\n",
        );
        assert_eq!(m.resources.len(), 2);
        assert_eq!(m.resources[0].version_line, "9");
        assert!(
            matches!(&problems[0], ProblemKind::UnsupportedVersion { nearest: Some(n), .. } if n == "13")
        );
        assert!(
            matches!(&problems[0], ProblemKind::UnsupportedVersion { version, .. } if version == "9.6")
        );
        // [1] is the local warning that goes with [0] (`VersionNotInCloud`).
        assert!(matches!(
            &problems[1],
            ProblemKind::VersionNotInCloud { .. }
        ));
        assert!(
            matches!(&problems[2], ProblemKind::UnsupportedVersion { version, .. } if version == "5")
        );
    }

    #[test]
    fn family_tags_and_floating_tags() {
        let (m, problems) = model_of(
            "services:\n  a: {image: 'pgvector/pgvector:0.8.0-pg17'}\n  b: {image: 'timescale/timescaledb:latest-pg16'}\n  c: {image: 'postgres:alpine'}\n  d: {image: postgres, x-provision: {version: '16'}}\n",
        );
        let versions: Vec<_> = m.resources.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["17", "16", "17", "16"]);
        assert!(problems.is_empty(), "{problems:?}");
        let floating: Vec<_> = m
            .problems
            .iter()
            .filter_map(|p| match &p.kind {
                ProblemKind::FloatingTag { image, .. } => Some(image.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(floating, ["postgres:alpine"]);
    }

    #[test]
    fn unknown_and_conflicting_types() {
        let (m, problems) = model_of(
            "services:\n  a: {image: redis, x-provision: {type: postgres}}\n  b: {x-provision: {type: rediss}}\n  c: {image: custom, x-provision: {version: '1'}}\n  web: {links: [a, b, c]}\n",
        );
        assert!(m.resources.is_empty());
        assert!(
            matches!(&problems[0], ProblemKind::TypeConflict { image_type, .. } if image_type == "redis")
        );
        assert!(
            matches!(&problems[1], ProblemKind::UnknownType { suggestion: Some(s), .. } if s == "redis")
        );
        assert!(matches!(
            &problems[2],
            ProblemKind::ExtensionWithoutType { image: Some(_) }
        ));
        // Links to broken databases add no second error.
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn link_errors() {
        let (_, problems) = model_of(
            "services:\n  db: {image: postgres}\n  other: {image: postgres}\n  api: {image: node}\n  web:\n    links: [dbb, api, 'db:main', 'other:main']\n    environment: {MAIN_URL: x}\n",
        );
        assert!(
            matches!(&problems[0], ProblemKind::LinkToMissing { suggestion: Some(s), .. } if s == "db")
        );
        assert!(matches!(&problems[1], ProblemKind::LinkToApp { target, .. } if target == "api"));
        assert!(
            matches!(&problems[2], ProblemKind::DuplicatePrefix { prefix, .. } if prefix == "MAIN")
        );
        assert!(
            matches!(&problems[3], ProblemKind::EnvCollision { variable, .. } if variable == "MAIN_URL")
        );
        assert_eq!(problems.len(), 5, "{problems:?}"); // + `other` is linked by nobody
    }

    #[test]
    fn sql_options_on_key_value_stores_and_cloud_options_by_type() {
        let (m, problems) = model_of(
            "services:\n  kv: {image: redis, x-provision: {database: x, cloud: {storage_gb: 50, replicas: 2}}}\n",
        );
        assert!(m.resources.is_empty());
        assert!(
            matches!(&problems[0], ProblemKind::OptionNotForSql { option, .. } if option == "database")
        );
        assert!(
            matches!(&problems[1], ProblemKind::OptionNotForType { option, .. } if option == "storage_gb")
        );
        let (m, problems) = model_of(
            "services:\n  kv: {image: redis, x-provision: {cloud: {storage_gb: 50}}}\n  pg: {image: postgres, x-provision: {cloud: {storage_gb: 10}}}\n",
        );
        // Cloud-only problems keep the resource for local use.
        assert_eq!(m.resources.len(), 2);
        assert_eq!(
            m.problems
                .iter()
                .filter(|p| p.scope == Scope::Cloud && p.is_error())
                .count(),
            2,
            "{problems:?}"
        );
    }

    #[test]
    fn warnings_for_default_passwords_and_ports_elsewhere() {
        let (m, problems) = model_of(
            "services:\n  db:\n    image: postgres\n    ports: ['8080:80']\n    environment: {POSTGRES_PASSWORD: postgres}\n",
        );
        assert_eq!(m.resources.len(), 1);
        assert!(matches!(
            &problems[0],
            ProblemKind::PortNotPublished {
                container_port: 5432,
                ..
            }
        ));
        assert!(
            matches!(&problems[1], ProblemKind::DefaultPassword { variable, .. } if variable == "POSTGRES_PASSWORD")
        );
        assert!(m.problems.iter().all(|p| !p.is_error()));
    }

    #[test]
    fn local_ports_from_extension_or_compose_ports() {
        let (m, _) = model_of(
            "services:\n  a: {image: postgres, ports: ['15432:5432']}\n  b: {image: redis, ports: ['6380:6379'], x-provision: {local: {port: 7000}}}\n  c: {image: mariadb, ports: ['3306']}\n",
        );
        let ports: Vec<_> = m.resources.iter().map(|r| r.local_port).collect();
        assert_eq!(ports, [Some(15432), Some(7000), None]);
    }

    #[test]
    fn project_sources() {
        let (m, _) = model_of("name: Compose Name\nservices: {db: {image: redis}}\n");
        assert_eq!(
            (m.project.name.as_str(), m.project.source),
            ("compose-name", ProjectSource::ComposeName)
        );
        let (m, _) =
            model_of("name: a\nx-provision: {project: B}\nservices: {db: {image: redis}}\n");
        assert_eq!(
            (m.project.name.as_str(), m.project.source),
            ("b", ProjectSource::Extension)
        );
        let (_, problems) =
            model_of("x-provision: {project: '***'}\nservices: {db: {image: redis}}\n");
        assert!(matches!(&problems[0], ProblemKind::InvalidProject { .. }));
    }

    /// Compose's order: `-p`, `COMPOSE_PROJECT_NAME` (the shell, then `.env`), `name:`, the
    /// directory (<https://docs.docker.com/compose/how-tos/project-name/>); provision's own
    /// `x-provision.project` right after `-p`.
    #[test]
    fn compose_project_name_comes_before_name() {
        let catalog: &'static Catalog = Box::leak(Box::new(Catalog::builtin().unwrap()));
        let project = |text: &str, flag: Option<&str>| {
            let manifest = from_bytes(
                text.as_bytes(),
                PathBuf::from("compose.yaml"),
                "dir".into(),
                &|n| (n == "COMPOSE_PROJECT_NAME").then(|| "From_Env".to_owned()),
            )
            .unwrap();
            let p = resolve(&manifest, catalog, flag).unwrap().project;
            (p.name, p.source)
        };
        let file = "name: from-name\nservices: {db: {image: redis}}\n";
        assert_eq!(
            project(file, None),
            ("from-env".into(), ProjectSource::ComposeProjectName)
        );
        assert_eq!(
            project(file, Some("flag")),
            ("flag".into(), ProjectSource::Flag)
        );
        assert_eq!(
            project(
                "x-provision: {project: ours}\nservices: {db: {image: redis}}\n",
                None
            ),
            ("ours".into(), ProjectSource::Extension)
        );
    }

    #[test]
    fn two_databases_folding_to_one_cloud_identifier() {
        let (m, problems) = model_of("services:\n  a_b: {image: redis}\n  a-b: {image: redis}\n");
        assert_eq!(m.resources.len(), 2, "fine locally");
        assert!(
            matches!(&problems[0], ProblemKind::InvalidValue { expected, .. } if expected.contains("`my-shop-a-b`")),
            "{problems:?}"
        );
        assert_eq!(m.problems[0].scope, Scope::Cloud);
    }

    #[test]
    fn no_databases() {
        let (_, problems) = model_of("services: {web: {image: node}}\n");
        assert_eq!(problems, [ProblemKind::NoDatabases]);
    }

    #[test]
    fn url_flavours_for_every_link_or_one() {
        let (m, problems) = model_of(
            "services:\n  web: {image: node, links: [pg, my, kv], x-provision: {url: jdbc}}\n  node: {image: node, links: [my, 'pg:main'], x-provision: {url: {my: mysql2}}}\n  pg: {image: postgres}\n  my: {image: mysql}\n  kv: {image: redis}\n",
        );
        assert_eq!(problems, []);
        let flavours = |app: &str| -> Vec<(String, Option<String>)> {
            m.apps
                .iter()
                .find(|a| a.name == app)
                .unwrap()
                .links
                .iter()
                .map(|l| (l.resource.clone(), l.flavour.clone()))
                .collect()
        };
        // Redis has no `jdbc`: its URL stays the default.
        assert_eq!(
            flavours("web"),
            [
                ("pg".into(), Some("jdbc".into())),
                ("my".into(), Some("jdbc".into())),
                ("kv".into(), None)
            ]
        );
        assert_eq!(
            flavours("node"),
            [("my".into(), Some("mysql2".into())), ("pg".into(), None)]
        );
    }

    #[test]
    fn url_flavour_mistakes_are_errors_where_written() {
        let (m, _) = model_of(
            "services:\n  web: {image: node, links: [pg], x-provision: {url: jdcb}}\n  api: {image: node, links: [pg], x-provision: {url: {cache: jdbc}}}\n  job: {image: node, links: [kv], x-provision: {url: {kv: jdbc}}}\n  pg: {image: postgres, x-provision: {url: jdbc}}\n  kv: {image: redis}\n",
        );
        let errors: Vec<(String, u32, String)> = m
            .problems
            .iter()
            .filter(|p| p.is_error())
            .map(|p| {
                let ProblemKind::InvalidValue { value, expected } = &p.kind else {
                    panic!("{:?}", p.kind)
                };
                (
                    p.path.clone(),
                    p.at.map_or(0, |a| a.line),
                    format!("{value}: {expected}"),
                )
            })
            .collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors
                .iter()
                .any(|(path, line, text)| path == "services.web.x-provision.url"
                    && *line == 2
                    && text.starts_with("jdcb: one of "))
        );
        assert!(errors.iter().any(|(path, line, text)| path
            == "services.api.x-provision.url.cache"
            && *line == 3
            && text.starts_with("cache: a database `api` links to")));
        assert!(
            errors
                .iter()
                .any(|(path, _, text)| path == "services.job.x-provision.url.kv"
                    && text == "jdbc: one of redis-py")
        );
        assert!(
            errors
                .iter()
                .any(|(path, line, text)| path == "services.pg.x-provision.url"
                    && *line == 5
                    && text.contains("belongs on the app service"))
        );
    }

    /// RDS reserves `admin`, `rdsadmin` and `pg_*` master users on PostgreSQL; MySQL takes
    /// `admin`. The problem sits where the name was written (the image's variable here).
    #[test]
    fn reserved_master_user_names_are_cloud_errors_where_written() {
        let (model, _) = model_of(
            "services:\n  a:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: admin\n  b: {image: 'postgres:16', x-provision: {username: PG_Monitor}}\n  c: {image: 'postgres:16', x-provision: {username: pgadmin}}\n  d: {image: 'mysql:8.4', x-provision: {username: admin}}\n  e: {image: 'mysql:8.4', x-provision: {username: rdsadmin}}\n",
        );
        let users: Vec<(&str, String, Pos, Scope)> = model
            .problems
            .iter()
            .filter_map(|p| match &p.kind {
                ProblemKind::CloudUsername { resource, rule, .. } => {
                    Some((resource.as_str(), rule.clone(), p.at?, p.scope))
                }
                _ => None,
            })
            .collect();
        assert_eq!(users.len(), 3, "{users:?}");
        assert_eq!(users[0].0, "a");
        assert_eq!(users[0].2, Pos::at(5, 7));
        assert!(users[0].1.contains("`admin` is reserved"), "{}", users[0].1);
        assert_eq!(users[1].0, "b");
        assert!(users[1].1.contains("start with `pg_`"), "{}", users[1].1);
        assert_eq!(users[2].0, "e");
        assert!(users.iter().all(|u| u.3 == Scope::Cloud));
        let hint = model
            .problems
            .iter()
            .find(|p| matches!(p.kind, ProblemKind::CloudUsername { .. }))
            .and_then(Problem::hint)
            .unwrap_or_default();
        assert!(
            hint.contains("`POSTGRES_USER`") && hint.contains("x-provision.username"),
            "{hint}"
        );
    }

    /// `DBName`: 64 characters on MySQL, 63 on PostgreSQL.
    #[test]
    fn database_name_limits_are_per_engine() {
        let name = format!("d{}", "b".repeat(63));
        let (model, _) = model_of(&format!(
            "services:\n  my: {{image: 'mysql:8.4', x-provision: {{database: {name}}}}}\n  pg: {{image: 'postgres:16', x-provision: {{database: {name}}}}}\n"
        ));
        let errors: Vec<&Problem> = model.problems.iter().filter(|p| p.is_error()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "services.pg.x-provision.database");
        assert_eq!(errors[0].scope, Scope::Cloud);
        assert_eq!(model.resources[0].database.as_deref(), Some(name.as_str()));
    }
}
