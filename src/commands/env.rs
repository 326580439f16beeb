//! `provision env` and `provision run`: the link variables of one app service (or of every
//! database), printed or handed to a program. The variables come from the target's own
//! `variables` verb; this file only chooses the links and prints or executes.

use crate::env_format::{self, Format};
use crate::error::{Error, Exit};
use crate::links::{self, Var};
use crate::plan::{Plan, PlannedLink, Target};
use crate::session::{self, Session, block_on};
use crate::{cloud, local};
use std::os::unix::process::ExitStatusExt as _;

/// The variables for `--service` (its links), or for every database under its own name.
pub fn variables(
    session: &Session,
    target: Target,
    service: Option<&str>,
) -> Result<Vec<Var>, Error> {
    let (_, plan) = session.plan(target)?;
    variables_of(session, &plan, target, service)
}

fn variables_of(
    session: &Session,
    plan: &Plan,
    target: Target,
    service: Option<&str>,
) -> Result<Vec<Var>, Error> {
    let wanted = wanted_links(plan, service)?;
    let mut names: Vec<&str> = wanted.iter().map(|l| l.resource.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    // Each target reports its endpoints; the link contract renders them the same way.
    let endpoints = block_on(async {
        match target {
            Target::Local => local::live_endpoints(session, plan, &names).await,
            Target::Cloud => cloud::live_endpoints(session, plan, &names).await,
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
/// With a link to a database that takes IAM tokens (`x-provision.cloud.iam_auth`), it stays
/// the program's parent instead, to keep that token fresh in a file (see [`run_refreshing`]).
pub fn run(
    session: &Session,
    target: Target,
    service: Option<&str>,
    command: &[String],
) -> Result<Exit, Error> {
    use std::os::unix::process::CommandExt as _;
    let (_, plan) = session.plan(target)?;
    let vars = variables_of(session, &plan, target, service)?;
    let (program, args) = command.split_first().ok_or_else(|| Error::RunCommand {
        program: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
    })?;
    let tokens = token_links(&plan, target, service)?;
    if !tokens.is_empty() {
        return run_refreshing(session, &plan, vars, &tokens, program, args);
    }
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

/// The prefixes of the links whose password is an IAM token.
fn token_links(plan: &Plan, target: Target, service: Option<&str>) -> Result<Vec<String>, Error> {
    if target != Target::Cloud {
        return Ok(Vec::new());
    }
    Ok(wanted_links(plan, service)?
        .into_iter()
        .filter(|l| {
            plan.resource(&l.resource)
                .and_then(|r| r.cloud.as_ref())
                .is_some_and(|c| c.iam_user.is_some())
        })
        .map(|l| l.prefix)
        .collect())
}

/// How often `run` signs a new token: well inside the 15 minutes one lives, so that a
/// program that reads the file when it opens a connection never holds an expired one.
/// (RDS checks the token only at login: open sessions outlive it.)
const TOKEN_REFRESH: std::time::Duration = std::time::Duration::from_secs(600);

/// Runs the program as a child, with `{PREFIX}_TOKEN_FILE` naming a file (mode 0600, in a
/// directory of its own, 0700) that always holds a valid token: rewritten every
/// [`TOKEN_REFRESH`] by rename, so a reader never sees half a token. SIGTERM is passed on to
/// the program; SIGINT from a terminal reaches it directly. Ends with its status, and removes
/// the files.
fn run_refreshing(
    session: &Session,
    plan: &Plan,
    mut vars: Vec<Var>,
    prefixes: &[String],
    program: &str,
    args: &[String],
) -> Result<Exit, Error> {
    let dir = token_dir()?;
    let value = |vars: &[Var], prefix: &str, suffix: &str| {
        let name = links::variable(prefix, suffix);
        vars.iter()
            .find(|v| v.name == name)
            .map(|v| v.value.expose().to_owned())
    };
    let mut files = Vec::new();
    for prefix in prefixes {
        let (Some(host), Some(port), Some(user), Some(token)) = (
            value(&vars, prefix, "HOST"),
            value(&vars, prefix, "PORT").and_then(|p| p.parse::<u16>().ok()),
            value(&vars, prefix, "USERNAME"),
            value(&vars, prefix, "PASSWORD"),
        ) else {
            continue;
        };
        let path = dir.path.join(format!("{prefix}_TOKEN"));
        write_token(&path, &token).map_err(|source| Error::RunCommand {
            program: program.to_owned(),
            source,
        })?;
        vars.push(Var {
            name: links::variable(prefix, "TOKEN_FILE"),
            value: links::Value::Plain(path.display().to_string()),
        });
        files.push((path, host, port, user));
    }
    let refresh = std::env::var("PROVISION_TEST_TOKEN_REFRESH_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(TOKEN_REFRESH, std::time::Duration::from_millis);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::AsyncRuntime)?;
    let spawn_error = |source| Error::RunCommand {
        program: program.to_owned(),
        source,
    };
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let cloud = cloud::connect(plan, session.verbose > 0).await?;
        let mut term = signal(SignalKind::terminate()).map_err(spawn_error)?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(spawn_error)?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .envs(vars.iter().map(|v| (v.name.as_str(), v.value.expose())))
            .spawn()
            .map_err(spawn_error)?;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + refresh, refresh);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status.map_err(spawn_error)?,
                _ = tick.tick() => {
                    for (path, host, port, user) in &files {
                        match cloud.iam_token(host, *port, user).await {
                            Ok(token) => {
                                if let Err(e) = write_token(path, token.expose()) {
                                    crate::progress::eprintln(&format!("provision: warning: could not refresh {}: {e}", path.display()));
                                }
                            }
                            Err(e) => crate::progress::eprintln(&format!("provision: warning: could not sign a new IAM token ({}); the file keeps the last one", e.summary())),
                        }
                    }
                }
                _ = term.recv() => {
                    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                    }
                }
                // The terminal sends SIGINT to the whole foreground group: the program has it.
                _ = interrupt.recv() => {}
            }
        };
        drop(dir);
        let code = status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1);
        Ok(Exit::App(u8::try_from(code).unwrap_or(1)))
    })
}

/// A private directory for the token files, removed when dropped.
struct TokenDir {
    path: std::path::PathBuf,
}

impl Drop for TokenDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn token_dir() -> Result<TokenDir, Error> {
    use std::os::unix::fs::DirBuilderExt as _;
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let path = base.join(format!("provision-run-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|source| Error::RunCommand {
            program: path.display().to_string(),
            source,
        })?;
    Ok(TokenDir { path })
}

/// Writes the token beside the file and renames it over: readers see the old or the new.
fn write_token(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
