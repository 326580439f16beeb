//! The project: its name and where that name came from, in Compose's order.

use crate::error::Error;
use crate::manifest::Manifest;
use crate::problem::{Pos, Problem, ProblemKind};

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

pub(super) fn project_name(
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
