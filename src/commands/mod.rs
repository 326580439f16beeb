//! The commands that read both targets the same way: `doctor`, `plan`, `env` and `run`. Each
//! picks the target's module (`local` or `cloud`, which share their verbs) and renders the
//! result; `cli` only parses and dispatches here.

pub mod connect;
pub mod logs;
pub mod start;

use crate::env_format::{self, Format};
use crate::error::{Error, Exit};
use crate::links::Var;
use crate::plan::{Plan, PlannedLink, Target};
use crate::session::{self, Session, block_on};
use crate::{cloud, doctor, local, render};

/// `doctor`: every check, for both targets or the one named.
pub fn doctor(session: &Session, target: Option<Target>, as_json: bool) -> Result<Exit, Error> {
    let targets = target.map_or_else(|| vec![Target::Local, Target::Cloud], |t| vec![t]);
    let report = match session.load() {
        Ok(manifest) => {
            let mut report = doctor::run(
                &manifest,
                &session.catalog,
                &targets,
                session.project.as_deref(),
            )?;
            // Which engine `up --local` would use, unless told to run native servers.
            if targets.contains(&Target::Local)
                && session.runtime != crate::local::RuntimeChoice::Native
            {
                let engine = block_on(async { Ok(crate::local::engine::connect().await) })?;
                doctor::add_engine(&mut report, engine.as_ref().map(|e| &e.found));
            }
            report
        }
        Err(Error::ManifestInvalid { file, problems }) => doctor::unreadable(
            &file,
            &Error::ManifestInvalid {
                file: file.clone(),
                problems,
            },
        ),
        Err(other) => return Err(other),
    };
    session::print(&if as_json {
        session::json(&report)?
    } else {
        report.render_text()
    })?;
    Ok(if report.ok {
        Exit::Success
    } else {
        Exit::Manifest
    })
}

/// What the live state of a plan's target says `up` would do.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum Live {
    Local(local::LiveActions),
    Cloud(cloud::LiveState),
}

impl Live {
    fn has_changes(&self) -> bool {
        match self {
            Self::Local(l) => l.has_changes(),
            Self::Cloud(l) => l.has_changes(),
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Local(l) => render::local_live(l),
            Self::Cloud(l) => render::cloud_live(l),
        }
    }
}

/// `plan`: the desired state, then what `up` would change where the target can be read.
pub fn plan(
    session: &Session,
    target: Target,
    as_json: bool,
    detailed_exitcode: bool,
) -> Result<Exit, Error> {
    let (_, plan) = session.plan(target)?;
    let live = block_on(async {
        Ok(match target {
            Target::Local => local::live(session, &plan, detailed_exitcode)
                .await?
                .map(Live::Local),
            Target::Cloud => cloud::live(session, &plan, detailed_exitcode)
                .await?
                .map(Live::Cloud),
        })
    })?;
    let text = if as_json {
        let mut value = serde_json::to_value(&plan).map_err(|e| Error::Output(e.into()))?;
        if let (Some(live), Some(object)) = (&live, value.as_object_mut()) {
            let live = serde_json::to_value(live).map_err(|e| Error::Output(e.into()))?;
            object.insert("live".into(), live);
        }
        session::json(&value)?
    } else {
        let mut text = render::plan(&plan);
        if let Some(live) = &live {
            text.push_str(&live.render());
        }
        text
    };
    session::print(&text)?;
    let changes = live.as_ref().is_some_and(Live::has_changes);
    Ok(if detailed_exitcode && changes {
        Exit::ChangesPresent
    } else {
        Exit::Success
    })
}

/// `status`: the target's databases as a table, or JSON.
pub fn status(session: &Session, target: Target, as_json: bool) -> Result<Exit, Error> {
    let text = block_on(async {
        match target {
            Target::Local => {
                let rows = local::status(session).await?;
                if as_json {
                    session::json(&rows)
                } else {
                    Ok(render::local_status(&rows))
                }
            }
            Target::Cloud => {
                let live = cloud::status(session).await?;
                if as_json {
                    session::json(&live)
                } else {
                    Ok(render::cloud_status(&live))
                }
            }
        }
    })?;
    session::print(&text)?;
    Ok(Exit::Success)
}

/// The variables for `--service` (its links), or for every database under its own name.
pub fn variables(
    session: &Session,
    target: Target,
    service: Option<&str>,
) -> Result<Vec<Var>, Error> {
    let (_, plan) = session.plan(target)?;
    let wanted = wanted_links(&plan, service)?;
    block_on(async {
        match target {
            Target::Local => local::variables(session, &plan, &wanted).await,
            Target::Cloud => cloud::variables(session, &plan, &wanted).await,
        }
    })
}

/// Each link of `service`, or every database under its own prefix in the default spelling.
fn wanted_links(plan: &Plan, service: Option<&str>) -> Result<Vec<PlannedLink>, Error> {
    let Some(name) = service else {
        return Ok(plan
            .resources
            .iter()
            .map(|r| PlannedLink {
                resource: r.name.clone(),
                prefix: crate::model::link_prefix(&r.name),
                flavour: None,
                variables: Vec::new(),
            })
            .collect());
    };
    if !plan.apps.iter().any(|a| a == name) {
        return Err(Error::UnknownService {
            name: name.to_owned(),
            known: plan.apps.clone(),
        });
    }
    // An app service without links gets no variables, which is not an error.
    Ok(plan
        .services
        .iter()
        .find(|s| s.service == name)
        .map(|links| links.links.clone())
        .unwrap_or_default())
}

/// `env`: the variables on stdout.
pub fn env(
    session: &Session,
    target: Target,
    service: Option<&str>,
    format: Format,
) -> Result<Exit, Error> {
    let vars = variables(session, target, service)?;
    session::print(&env_format::render(&vars, format))?;
    Ok(Exit::Success)
}

/// `run`: replaces this process with the program, the variables added to its environment.
pub fn run(
    session: &Session,
    target: Target,
    service: Option<&str>,
    command: &[String],
) -> Result<Exit, Error> {
    use std::os::unix::process::CommandExt as _;
    let vars = variables(session, target, service)?;
    let (program, args) = command.split_first().ok_or_else(|| Error::RunCommand {
        program: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
    })?;
    let mut child = std::process::Command::new(program);
    child
        .args(args)
        .envs(vars.iter().map(|v| (v.name.as_str(), v.value.expose())));
    // `exec` replaces this process: the program's exit status and signals are its own.
    let source = child.exec();
    Err(Error::RunCommand {
        program: program.clone(),
        source,
    })
}
