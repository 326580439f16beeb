//! `provision doctor`: every check on the manifest, one line each, grouped under headings.
//! Unlike `plan`, it never stops at the first problem, and it passes only when nothing failed.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::catalog::{Catalog, CloudService};
use crate::error::Error;
use crate::local::engine::Found;
use crate::manifest::Manifest;
use crate::model::{self, Model};
use crate::plan::Target;
use crate::problem::{Problem, ProblemKind, Scope, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Self::Pass => "[✓]",
            Self::Warn => "[!]",
            Self::Fail => "[✗]",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub status: Status,
    pub title: String,
    pub problems: Vec<ProblemReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemReport {
    pub severity: Severity,
    pub location: String,
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: &'static str,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub file: String,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", section.title);
            for check in &section.checks {
                let _ = writeln!(out, "{} {}", check.status.mark(), check.title);
                for p in &check.problems {
                    let _ = writeln!(out, "    {}: {}", p.location, p.message);
                    if let Some(hint) = &p.hint {
                        let _ = writeln!(out, "    hint: {hint}");
                    }
                }
            }
        }
        out
    }
}

/// The Local section's line about the container engine: the one `up --local` would use and how
/// it was found, or every place looked and why none answered. A warning, not a failure: the
/// manifest is fine, and native servers may still run it. Only where there is a database.
pub fn add_engine(report: &mut Report, engine: Result<&Found, &Error>) {
    let check = match engine {
        Ok(found) => Check {
            status: Status::Pass,
            title: format!("Container engine: {found}"),
            problems: Vec::new(),
        },
        Err(error) => {
            let tried = match error {
                Error::DockerUnavailable { tried } => tried.as_slice(),
                _ => &[],
            };
            let mut problems: Vec<ProblemReport> = tried
                .iter()
                .map(|t| ProblemReport {
                    severity: Severity::Warning,
                    location: if t.host.is_empty() {
                        t.via.to_string()
                    } else {
                        format!("{} ({})", t.host, t.via)
                    },
                    path: String::new(),
                    message: t.reason.to_string(),
                    hint: None,
                })
                .collect();
            if tried.is_empty() {
                problems.push(ProblemReport {
                    severity: Severity::Warning,
                    location: "Docker".to_owned(),
                    path: String::new(),
                    message: error.summary(),
                    hint: None,
                });
            }
            if let Some(last) = problems.last_mut() {
                last.hint = Some(crate::error::engine::engine_hint(tried).to_owned());
            }
            Check {
                status: Status::Warn,
                title: "No container engine answers: `up --local` needs native servers".to_owned(),
                problems,
            }
        }
    };
    // No Local section: no database, nothing for an engine to run.
    if let Some(section) = report.sections.iter_mut().find(|s| s.title == "Local") {
        section.checks.insert(0, check);
    }
}

fn report_problem(p: &Problem, file: &Path) -> ProblemReport {
    ProblemReport {
        severity: p.severity,
        location: p.location(file),
        path: p.path.clone(),
        message: p.message(),
        hint: p.hint(),
    }
}

fn check(title_pass: String, title_fail: String, problems: &[&Problem], file: &Path) -> Check {
    let status = problems.iter().map(|p| match p.severity {
        Severity::Error => Status::Fail,
        Severity::Warning => Status::Warn,
    });
    let status = status.max().unwrap_or(Status::Pass);
    Check {
        status,
        title: if status == Status::Fail {
            title_fail
        } else {
            title_pass
        },
        problems: problems.iter().map(|p| report_problem(p, file)).collect(),
    }
}

/// The report for a manifest that could not be read at all.
pub fn unreadable(file: &Path, error: &Error) -> Report {
    let problems = match error {
        Error::ManifestInvalid { problems, .. } => {
            problems.iter().map(|p| report_problem(p, file)).collect()
        }
        other => vec![ProblemReport {
            severity: Severity::Error,
            location: file.display().to_string(),
            path: String::new(),
            message: other.summary(),
            hint: None,
        }],
    };
    Report {
        ok: false,
        file: file.display().to_string(),
        sections: vec![Section {
            title: "Manifest",
            checks: vec![Check {
                status: Status::Fail,
                title: format!("Manifest `{}` is invalid", file.display()),
                problems,
            }],
        }],
    }
}

/// Problems grouped by the service they are about (or none) and scope, computed once.
struct Index<'m> {
    groups: HashMap<(Option<&'m str>, Scope), Vec<&'m Problem>>,
}

impl<'m> Index<'m> {
    fn new(model: &'m Model<'_>) -> Self {
        let names: HashSet<&str> = model.service_names.iter().map(String::as_str).collect();
        let mut groups: HashMap<(Option<&str>, Scope), Vec<&Problem>> = HashMap::new();
        for p in &model.problems {
            groups
                .entry((model::subject(&p.path, &names), p.scope))
                .or_default()
                .push(p);
        }
        Self { groups }
    }

    fn about(&self, name: Option<&str>, scope: Scope) -> Vec<&'m Problem> {
        self.groups.get(&(name, scope)).cloned().unwrap_or_default()
    }
}

/// The manifest's own checks: what was read, general settings, the project, its databases.
fn manifest_checks(
    manifest: &Manifest,
    model: &model::Model<'_>,
    index: &Index<'_>,
    file: &Path,
) -> Vec<Check> {
    let about = |name: Option<&str>, scope: Scope| index.about(name, scope);
    // The other files merged in (overrides, includes, extends), so a user sees what was read.
    let others: Vec<String> = manifest
        .files
        .iter()
        .skip(1)
        .map(|f| format!("`{}`", f.path.display()))
        .collect();
    let with = if others.is_empty() {
        String::new()
    } else {
        format!(", with {}", others.join(", "))
    };
    let mut manifest_checks = vec![Check {
        status: Status::Pass,
        title: format!("Manifest `{}` parses{with}", file.display()),
        problems: Vec::new(),
    }];
    let general: Vec<&Problem> = about(None, Scope::Both)
        .into_iter()
        .filter(|p| {
            !matches!(
                p.kind,
                crate::problem::ProblemKind::NoDatabases
                    | crate::problem::ProblemKind::NoServices
                    | crate::problem::ProblemKind::InvalidProject { .. }
            )
        })
        .collect();
    if !general.is_empty() {
        manifest_checks.push(check(
            "Manifest settings are valid".into(),
            "Manifest settings are invalid".into(),
            &general,
            file,
        ));
    }
    let project_problems: Vec<&Problem> = model
        .problems
        .iter()
        .filter(|p| matches!(p.kind, crate::problem::ProblemKind::InvalidProject { .. }))
        .collect();
    manifest_checks.push(check(
        format!(
            "Project is `{}` ({})",
            model.project.name,
            model.project.source.describe()
        ),
        "Project name is invalid".into(),
        &project_problems,
        file,
    ));
    // A Compose file without a database is fine: there is simply nothing for provision to do.
    let no_databases = model
        .problems
        .iter()
        .any(|p| matches!(p.kind, crate::problem::ProblemKind::NoDatabases));
    if no_databases {
        manifest_checks.push(Check {
            status: Status::Pass,
            title: "No service is a database: nothing to do (a database image, or `x-provision: {type: ...}`, makes one)".into(),
            problems: Vec::new(),
        });
    } else {
        let usage: Vec<&Problem> = model
            .problems
            .iter()
            .filter(|p| matches!(p.kind, crate::problem::ProblemKind::NoServices))
            .collect();
        let listing = model.databases.join(", ");
        manifest_checks.push(check(
            format!("Application uses databases: {listing}"),
            "Application uses databases".into(),
            &usage,
            file,
        ));
    }
    manifest_checks
}

/// One check per service meant as a database.
fn database_checks(model: &model::Model<'_>, index: &Index<'_>, file: &Path) -> Vec<Check> {
    let about = |name: Option<&str>, scope: Scope| index.about(name, scope);
    let resources: HashMap<&str, &model::Resource<'_>> = model
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    model
        .databases
        .iter()
        .map(|name| {
            let problems = about(Some(name), Scope::Both);
            let detail = resources
                .get(name.as_str())
                .map(|r| {
                    // A floating tag's version is the pulled image's: never a default here.
                    if r.floating {
                        format!(" ({}, version resolved at pull)", r.template.name)
                    } else {
                        format!(" ({} {})", r.template.name, r.version)
                    }
                })
                .unwrap_or_default();
            check(
                format!("Database {name} is valid{detail}"),
                format!("Database {name} is invalid"),
                &problems,
                file,
            )
        })
        .collect()
}

/// One check per app service with links or problems.
fn link_checks(model: &model::Model<'_>, index: &Index<'_>, file: &Path) -> Vec<Check> {
    let about = |name: Option<&str>, scope: Scope| index.about(name, scope);
    model
        .apps
        .iter()
        .filter_map(|app| {
            let problems = about(Some(&app.name), Scope::Both);
            if app.links.is_empty() && problems.is_empty() {
                return None;
            }
            let links: Vec<String> = app
                .links
                .iter()
                .map(|l| format!("{} as {}_*", l.resource, l.prefix))
                .collect();
            let pass = if links.is_empty() {
                format!("Service {} has valid settings", app.name)
            } else {
                format!("Service {} links to {}", app.name, links.join(", "))
            };
            // "invalid links" only when the links are what is wrong.
            let only_links = problems.iter().filter(|p| p.is_error()).all(|p| {
                matches!(
                    p.kind,
                    ProblemKind::LinkToMissing { .. } | ProblemKind::LinkToApp { .. }
                )
            });
            let fail = if only_links {
                format!("Service {} has invalid links", app.name)
            } else {
                format!("Service {} has invalid settings", app.name)
            };
            Some(check(pass, fail, &problems, file))
        })
        .collect()
}

/// Runs every check for the given targets.
pub fn run(
    manifest: &Manifest,
    catalog: &Catalog,
    targets: &[Target],
    project_flag: Option<&str>,
) -> Result<Report, Error> {
    let model = model::resolve(manifest, catalog, project_flag)?;
    let file = manifest.file.as_path();
    let index = Index::new(&model);

    let manifest_checks = manifest_checks(manifest, &model, &index, file);
    let mut sections = vec![Section {
        title: "Manifest",
        checks: manifest_checks,
    }];

    let database_checks = database_checks(&model, &index, file);
    if !database_checks.is_empty() {
        sections.push(Section {
            title: "Databases",
            checks: database_checks,
        });
    }

    let link_checks = link_checks(&model, &index, file);
    if !link_checks.is_empty() {
        sections.push(Section {
            title: "Links",
            checks: link_checks,
        });
    }

    for target in targets {
        let checks = target_checks(&model, &index, *target, file);
        if !checks.is_empty() {
            sections.push(Section {
                title: if *target == Target::Local {
                    "Local"
                } else {
                    "Cloud"
                },
                checks,
            });
        }
    }
    let ok = sections
        .iter()
        .flat_map(|s| &s.checks)
        .all(|c| c.status != Status::Fail);
    Ok(Report {
        ok,
        file: file.display().to_string(),
        sections,
    })
}

fn target_checks(model: &Model<'_>, index: &Index<'_>, target: Target, file: &Path) -> Vec<Check> {
    // Project-wide cloud settings (subnets, `allow_from`): one check ahead of the databases.
    let network = (target == Target::Cloud)
        .then(|| index.about(None, Scope::Cloud))
        .filter(|p| !p.is_empty())
        .map(|problems| {
            check(
                "Network settings are usable".to_owned(),
                "Network settings (`x-provision.cloud`) would be refused by AWS".to_owned(),
                &problems,
                file,
            )
        });
    let valkey = if target == Target::Cloud {
        valkey_hints(model, file)
    } else {
        Vec::new()
    };
    network
        .into_iter()
        .chain(model.resources.iter().map(|r| {
            let problems = index.about(Some(&r.name), target.scope());
            match target {
                Target::Local => {
                    let port = r.local_port.map_or_else(
                        || format!("port {} or the next free one", r.template.port),
                        |p| format!("port {p}"),
                    );
                    // The credentials the file's own settings fix, so that a user sees them kept.
                    let from_file = match (&r.password_from, r.template.sql) {
                        (Some(from), true) => format!(
                            ", user `{}`, database `{}`, password from `{from}`",
                            r.username.as_deref().unwrap_or_default(),
                            r.database.as_deref().unwrap_or_default()
                        ),
                        (Some(from), false) => format!(", password from `{from}`"),
                        (None, _) => String::new(),
                    };
                    check(
                        format!(
                            "Database {} runs locally as `{}-{}` ({}) on {port}{from_file}",
                            r.name, model.project.name, r.name, r.image
                        ),
                        format!("Database {} cannot run locally", r.name),
                        &problems,
                        file,
                    )
                }
                Target::Cloud => {
                    let what = match r.template.cloud.service {
                        CloudService::Rds => "RDS instance",
                        CloudService::ElasticacheReplicationGroup => {
                            "ElastiCache replication group"
                        }
                        CloudService::ElasticacheCluster => "ElastiCache cluster",
                        CloudService::AuroraServerless => "Aurora Serverless v2 cluster",
                        CloudService::ElasticacheServerless => "ElastiCache serverless cache",
                    };
                    check(
                        format!(
                            "Database {} maps to {what} `{}` ({})",
                            r.name, r.identifier, r.cloud.class
                        ),
                        format!("Database {} cannot be created on AWS", r.name),
                        &problems,
                        file,
                    )
                }
            }
        }))
        .chain(valkey)
        .collect()
}

/// A hint, never a switch: a manifest that asks for Redis in the cloud could have Valkey, the
/// Redis-compatible engine ElastiCache prices lower (the saving as `templates/prices.yml`
/// cites it). The switch is the user's: another image, and a new ElastiCache group.
fn valkey_hints(model: &Model<'_>, file: &Path) -> Vec<Check> {
    let saving = crate::cloud::cost::PriceTable::builtin()
        .ok()
        .and_then(|t| t.valkey_saving);
    model
        .resources
        .iter()
        .filter(|r| r.template.name == "redis")
        .map(|r| {
            let figure = saving.map_or_else(
                || "costs less".to_owned(),
                |s| {
                    format!(
                        "costs up to {:.0}% less per node ({:.0}% less serverless)",
                        s.node * 100.0,
                        s.serverless * 100.0
                    )
                },
            );
            Check {
                status: Status::Warn,
                title: format!("Database {} could run on Valkey for less", r.name),
                problems: vec![ProblemReport {
                    severity: Severity::Warning,
                    location: format!("{}:{}", file.display(), r.at),
                    path: format!("services.{}.image", r.name),
                    message: format!(
                        "`{}` asks for Redis OSS; ElastiCache for Valkey, a drop-in replacement for Redis OSS 7.2 clients, {figure}",
                        r.image
                    ),
                    hint: Some(
                        "to switch, use a `valkey/valkey` image (locally too); provision never switches on its own, and an existing group stays Redis until you move it".into(),
                    ),
                }],
            }
        })
        .collect()
}
