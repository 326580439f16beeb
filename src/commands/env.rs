//! `provision env` and `provision run`: the link variables of one app service (or of every
//! database), printed or handed to a program. The variables come from the target's own
//! `variables` verb; this file only chooses the links and prints or executes.

use crate::env_format::{self, Format};
use crate::error::{Error, Exit};
use crate::links::{self, Var};
use crate::plan::{Plan, PlannedLink, Target};
use crate::session::{self, Session, block_on};
use crate::{cloud, local};

/// The variables for `--service` (its links), or for every database under its own name.
pub fn variables(
    session: &Session,
    target: Target,
    service: Option<&str>,
) -> Result<Vec<Var>, Error> {
    let (_, plan) = session.plan(target)?;
    let wanted = wanted_links(&plan, service)?;
    let mut names: Vec<&str> = wanted.iter().map(|l| l.resource.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    // Each target reports its endpoints; the link contract renders them the same way.
    let endpoints = block_on(async {
        match target {
            Target::Local => local::live_endpoints(session, &plan, &names).await,
            Target::Cloud => cloud::live_endpoints(session, &plan, &names).await,
        }
    })?;
    let rendered = links::render_links(wanted.iter().map(PlannedLink::parts), |name| {
        let at = names.iter().position(|n| *n == name)?;
        Some((&*plan.resource(name)?.template, endpoints.get(at)?.clone()))
    });
    crate::tls::Store::of(&plan.project.name).with_client_vars(rendered)
}

/// Each link of `service`, or every database under its own prefix in the default spelling.
fn wanted_links(plan: &Plan, service: Option<&str>) -> Result<Vec<PlannedLink>, Error> {
    let Some(name) = service else {
        return Ok(plan
            .resources
            .iter()
            .map(|r| PlannedLink {
                resource: r.name.clone(),
                prefix: crate::names::link_prefix(&r.name),
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
