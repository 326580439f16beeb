//! App services and their links: which databases and apps each one reaches, under which prefix
//! and URL flavour.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::manifest::{EnvVar, LinkKind, Manifest, Service};
use crate::problem::{Problem, ProblemKind};
use crate::suggest::did_you_mean;

use super::{hints, link_prefix};

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

pub(super) struct Names<'m> {
    pub(super) services: HashSet<&'m str>,
    pub(super) databases: HashSet<&'m str>,
    pub(super) resources: HashSet<&'m str>,
    /// The URL flavours of each resource's type.
    pub(super) flavours: HashMap<&'m str, &'m BTreeMap<String, crate::catalog::UrlFlavour>>,
}

/// The flavour of `P_URL` an app asks for on its link to `target` (written `alias` there): a
/// choice naming the link, else the one for every link, when the linked type has it.
pub(super) fn flavour_for(
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
pub(super) fn url_problems(
    service: &Service,
    links: &[Link],
    names: &Names<'_>,
    problems: &mut Vec<Problem>,
) {
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

pub(super) fn app(
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
            app_link(service, manifest, link, &mut app_links, problems);
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
    env_collisions(service, &links, &app_links, problems);
    hints::unlinked_by_environment(service, &names.resources, &links, problems);
    url_problems(service, &links, names, problems);
    App {
        name: service.name.clone(),
        links,
        app_links,
    }
}

/// A link to another app service. `depends_on:` between app services only orders their start:
/// not a link. A `links:` entry to an app that publishes a port is an HTTP link (as Convox's
/// links between services were); without a port there is nothing to point at.
fn app_link(
    service: &Service,
    manifest: &Manifest,
    link: &crate::manifest::LinkRef,
    app_links: &mut Vec<AppLink>,
    problems: &mut Vec<Problem>,
) {
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
}

/// A variable the file sets that a link also sets: the link's value wins (the app gets what
/// provision started); the author should know.
fn env_collisions(
    service: &Service,
    links: &[Link],
    app_links: &[AppLink],
    problems: &mut Vec<Problem>,
) {
    let set: BTreeMap<&str, &crate::manifest::Located<EnvVar>> = service
        .environment
        .iter()
        .map(|v| (v.value.name.as_str(), v))
        .collect();
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
}
