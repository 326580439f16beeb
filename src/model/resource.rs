//! A service that is a database: its type and version, image family, credentials, local
//! settings and cloud settings, with every problem found on the way.

use std::sync::Arc;

use crate::catalog::{Catalog, ImageRef, Template};
use crate::manifest::{EnvVar, Service};
use crate::problem::{Pos, Problem, ProblemKind, Scope};
use crate::suggest::did_you_mean;

use super::cloud::{cloud_config, cloud_identifier, identifier_rule_broken};
use super::{CloudConfig, DEFAULT_SQL_NAME, credentials};

/// Passwords that scanners try first; a manifest that sets one gets a warning.
pub(super) const WELL_KNOWN_PASSWORDS: &[&str] = &[
    "password", "postgres", "root", "secret", "admin", "changeme", "example", "mysql", "redis",
    "123456", "pass", "test",
];

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

pub(super) enum Class<'c, 'm> {
    App,
    BrokenDatabase,
    Database(&'c Arc<Template>, Option<ImageRef<'m>>),
}

pub(super) fn classify<'c, 'm>(
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
pub(super) fn local_tls(
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
pub(super) fn version_after<'t>(tag: &'t str, prefix: &str) -> Option<&'t str> {
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
pub(super) fn nearest_line(template: &Template, version: &str) -> Option<String> {
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

pub(super) fn resource<'c>(
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

    let Version {
        number: version,
        line: version_line,
        floating,
    } = version_of(service, template, image, &path, problems);
    let (repository, image_name) = image_name(service, template, image, &version);
    // What the service's own `environment:`/`command:` fix, as its image reads them.
    let creds = credentials::from_compose(
        service,
        template,
        &repository,
        WELL_KNOWN_PASSWORDS,
        problems,
    );

    let (database, username) = sql_names(service, template, &creds, problems);
    let local_port = local_port(service, template, problems);
    let mut cloud = cloud_config(service, template, problems);
    cloud.serverless = {
        let line = version_line
            .clone()
            .unwrap_or_else(|| template.major(&version));
        super::serverless::config(service, template, &version, &line, problems)
    };
    let identifier = identifier_of(service, template, project, problems);
    default_password_warnings(service, problems);

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

/// The version a database runs: from the image tag (`16.4-alpine`, or after the family's
/// prefix: `pg16`), else `x-provision.version`, else the template's default; with the cloud's
/// version line, and whether the tag floats (locally the registry's, in the cloud the default).
struct Version {
    number: String,
    line: Option<String>,
    floating: bool,
}

fn version_of(
    service: &Service,
    template: &Template,
    image: Option<ImageRef<'_>>,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Version {
    let ext = &service.ext;
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
        (None, None) => (template.default_version.clone(), None, path.to_owned()),
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

    Version {
        number: version,
        line: version_line,
        floating,
    }
}

/// The repository and the image to run locally, with a tag.
fn image_name(
    service: &Service,
    template: &Template,
    image: Option<ImageRef<'_>>,
    version: &str,
) -> (String, String) {
    let ext = &service.ext;
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

    (repository, image_name)
}

/// The database and user names, for engines that have them, and RDS's rules for the names the
/// cloud will use.
fn sql_names(
    service: &Service,
    template: &Template,
    creds: &credentials::Credentials,
    problems: &mut Vec<Problem>,
) -> (Option<String>, Option<String>) {
    let ext = &service.ext;
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
    cloud_name_problems(
        service,
        template,
        creds,
        database.as_ref(),
        username.as_ref(),
        problems,
    );
    (database, username)
}

/// The host port the manifest fixes: `x-provision.local.port`, else the published port of the
/// database's own port; a file that publishes only others gets a warning.
fn local_port(service: &Service, template: &Template, problems: &mut Vec<Problem>) -> Option<u16> {
    let ext = &service.ext;
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
    local_port
}

/// The cloud identifier, checked against the rules of the AWS resource it names.
fn identifier_of(
    service: &Service,
    template: &Template,
    project: &str,
    problems: &mut Vec<Problem>,
) -> String {
    let path = format!("services.{}", service.name);
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
    identifier
}

/// Passwords that scanners try first get a warning wherever the file sets one.
fn default_password_warnings(service: &Service, problems: &mut Vec<Problem>) {
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
}

/// RDS's MasterUsername and DBName rules, for the names the cloud will use (written, or from
/// the service's own environment), reported where each was written.
fn cloud_name_problems(
    service: &Service,
    template: &Template,
    creds: &credentials::Credentials,
    database: Option<&String>,
    username: Option<&String>,
    problems: &mut Vec<Problem>,
) {
    let ext = &service.ext;
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
        && let Some(name) = username
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
        && let Some(name) = database
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
}
