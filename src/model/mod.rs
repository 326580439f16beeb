//! From a manifest to a model: which services are databases (resources), of which type and
//! version, with which options, and which app services link to them under which prefix.
//! Every semantic problem is collected here, with where it was written.

use std::collections::{HashMap, HashSet};

use crate::catalog::Catalog;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::problem::{Problem, ProblemKind, Scope};

mod apps;
mod cloud;
#[cfg(test)]
mod compose_rules_tests;
mod credentials;
mod hints;
mod lookalike;
mod project;
mod resource;
pub mod serverless;
pub mod stage;

pub use credentials::MAX_SQL_NAME;

/// Database and user names when the manifest names none.
pub const DEFAULT_SQL_NAME: &str = "app";

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

pub use apps::{App, AppLink, Link};
pub use cloud::{CloudConfig, SnapshotSpec, cloud_identifier, identifier_rule_broken};
pub use project::{Project, ProjectSource, normalize_project};
pub use resource::Resource;

use apps::{Names, app};
use cloud::network_problems;
use project::project_name;
use resource::{Class, classify, resource};

pub use crate::names::link_prefix;

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
                if let Some(m) = &service.ext.migrate {
                    problems.push(Problem::error(
                        Some(m.at),
                        m.path.clone(),
                        ProblemKind::InvalidValue {
                            value: "migrate".to_owned(),
                            expected: "`migrate` on an app service: it runs with the app's links"
                                .to_owned(),
                        },
                    ));
                }
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
    shared_identifiers(&resources, &mut problems);
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

/// `a_b` and `a-b` fold to one AWS identifier: two databases cannot share it.
fn shared_identifiers(resources: &[Resource<'_>], problems: &mut Vec<Problem>) {
    let mut identifiers: HashMap<&str, &str> = HashMap::new();
    for r in resources {
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
}

#[cfg(test)]
mod tests;
