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
    if format == Format::Github {
        return github(session, target, service);
    }
    let vars = variables(session, target, service)?;
    session::print(&env_format::render(&vars, format))?;
    Ok(Exit::Success)
}

/// `env --format github`, in a GitHub Actions `run:` step: the masks on stdout, where the
/// runner reads workflow commands, and the variables appended to the file `GITHUB_ENV` names,
/// which the runner reads into the later steps' environment when this step ends. So
/// `provision env --cloud --format github` on its own line just works, and no secret value is
/// ever on stdout unmasked or on stderr. Checked before AWS is asked: where the variables
/// would go, and that stdout is not that file (the README's old `>> "$GITHUB_ENV"`).
fn github(session: &Session, target: Target, service: Option<&str>) -> Result<Exit, Error> {
    use std::io::Write as _;
    let path = std::env::var_os("GITHUB_ENV")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .ok_or(Error::GithubEnvUnset)?;
    let write_error = |source| Error::WriteGithubEnv {
        path: path.clone(),
        source,
    };
    // The runner creates the file before the step starts (actions/toolkit's
    // `issueFileCommand` refuses a missing one, too): a missing file is not GitHub's.
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(write_error)?;
    if same_file(&file, &std::io::stdout()) {
        return Err(Error::GithubEnvIsStdout { path });
    }
    let vars = variables(session, target, service)?;
    let delimiter = env_format::github_delimiter()
        .map_err(|e| write_error(std::io::Error::other(e.to_string())))?;
    let parts = env_format::github(&vars, &delimiter)
        .map_err(|(name, reason)| Error::GithubEnvRefused { name, reason })?;
    // Masks first: from here on the runner hides the values in all the job prints. Unlike
    // other output, a closed stdout is an error here: without the masks, no variables.
    let mut out = std::io::stdout().lock();
    out.write_all(parts.masks.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Output)?;
    drop(out);
    let mut file = file;
    file.write_all(parts.env_file.as_bytes())
        .and_then(|()| file.flush())
        .map_err(write_error)?;
    if !session.quiet {
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        let secrets = vars
            .iter()
            .filter(|v| matches!(v.value, links::Value::Secret(_)))
            .count();
        eprintln!(
            "wrote {} variables to GITHUB_ENV for the job's next steps ({secrets} secret values masked): {}",
            vars.len(),
            names.join(", ")
        );
    }
    Ok(Exit::Success)
}

/// Whether `file` and `stdout` are one file (the same device and inode).
fn same_file(file: &std::fs::File, stdout: &std::io::Stdout) -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let Ok(out) = stdout.as_fd().try_clone_to_owned() else {
        return false;
    };
    match (file.metadata(), std::fs::File::from(out).metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
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
