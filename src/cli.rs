//! The command line: arguments, dispatch, and the text forms of `plan`. Everything here is
//! edge; the work happens in the modules it calls.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::backend::{self, Runtime, RuntimeChoice, State};
use crate::catalog::{Catalog, CloudService};
use crate::env_format::{self, Format};
use crate::error::{Error, Exit};
use crate::links::{self, Var};
use crate::manifest::{self, Manifest};
use crate::plan::{self, Plan, Target};
use crate::progress::Progress;
use crate::{doctor, model};

/// Declare an app's databases once in its Compose file; run them on a laptop or on AWS, and
/// hand the app the same `*_URL` variables either way.
#[derive(Debug, Parser)]
#[command(name = "provision", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The manifest; repeat to merge several as Compose does (default: `COMPOSE_FILE`, else
    /// the first of provision.yml, provision.yaml, compose.yaml, compose.yml,
    /// docker-compose.yml, docker-compose.yaml in the working directory, with Compose's
    /// override file beside it)
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH", action = clap::ArgAction::Append)]
    file: Vec<PathBuf>,

    /// Project name (default: `x-provision.project`, then Compose's `name:`, then the directory)
    #[arg(short = 'p', long = "project", global = true, value_name = "NAME")]
    project: Option<String>,

    /// Target this machine: containers or native servers
    #[arg(long, global = true, conflicts_with = "cloud")]
    local: bool,

    /// Target AWS: RDS and ElastiCache
    #[arg(long, global = true)]
    cloud: bool,

    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Print more detail
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Local runtime: Docker (or Podman) containers, or native server processes
    #[arg(long, global = true, value_enum, default_value_t = RuntimeChoice::Auto)]
    runtime: RuntimeChoice,

    /// Seconds to wait for every database to be ready (default: 60 locally, 2400 in the cloud)
    #[arg(long, global = true, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring every database up and wait until each accepts a query (the default command)
    Up,
    /// Print the link variables of one app service, or of every database
    Env {
        /// The app service whose links to print (default: every database, prefixed by its name)
        #[arg(long, short = 's', value_name = "NAME")]
        service: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Dotenv)]
        format: Format,
    },
    /// Run a program with the link variables added to its environment
    Run {
        /// The app service whose links to pass (default: every database)
        #[arg(long, short = 's', value_name = "NAME")]
        service: Option<String>,
        /// The program and its arguments, after `--`
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<String>,
    },
    /// Show each database: runtime, state, address, readiness, where its data is
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop and remove the databases; keep their data unless --volumes
    Down {
        /// Also delete the data (asks on a terminal; needs --yes otherwise)
        #[arg(long)]
        volumes: bool,
        /// Do not ask
        #[arg(long)]
        yes: bool,
    },
    /// Validate the manifest for both targets (or the one named) and print every check
    Doctor {
        /// Print the checks as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show what the manifest asks for on a target (default: --local), and what would change
    Plan {
        /// Print the plan as JSON on stdout
        #[arg(long)]
        json: bool,
        /// Exit 0 with no changes, 2 with changes, 1 on error (as Terraform)
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Delete this project's cloud databases (found by tag), with final snapshots by default
    Destroy {
        /// Do not ask
        #[arg(long)]
        yes: bool,
        /// Delete without a final snapshot
        #[arg(long)]
        skip_final_snapshot: bool,
    },
}

impl Cli {
    /// The target the flags name, if any.
    fn target(&self) -> Option<Target> {
        if self.cloud {
            Some(Target::Cloud)
        } else if self.local {
            Some(Target::Local)
        } else {
            None
        }
    }
}

/// Loads the manifest named by the flags, from the working directory.
fn load(cli: &Cli) -> Result<Manifest, Error> {
    let cwd = std::env::current_dir().map_err(|source| Error::ReadManifest {
        path: PathBuf::from("."),
        source,
    })?;
    let env = |name: &str| std::env::var(name).ok();
    let paths = manifest::compose::locate_files(&cwd, &cli.file, &env)?;
    manifest::compose::load_files(&cwd, &paths, &env)
}

fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`provision plan | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Error::Output),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Output(e.into()))?;
    text.push('\n');
    Ok(text)
}

/// Runs the parsed command line and says how the process should exit.
pub fn run(cli: &Cli) -> Result<Exit, Error> {
    let catalog = Catalog::builtin().map_err(Error::Template)?;
    match &cli.command {
        Some(Command::Doctor { json: as_json }) => {
            let targets = cli
                .target()
                .map_or_else(|| vec![Target::Local, Target::Cloud], |t| vec![t]);
            let report = match load(cli) {
                Ok(manifest) => doctor::run(&manifest, &catalog, &targets, cli.project.as_deref())?,
                Err(error @ Error::ManifestInvalid { .. }) => {
                    let file = match &error {
                        Error::ManifestInvalid { file, .. } => file.clone(),
                        _ => PathBuf::new(),
                    };
                    doctor::unreadable(&file, &error)
                }
                Err(other) => return Err(other),
            };
            print(&if *as_json {
                json(&report)?
            } else {
                report.render_text()
            })?;
            Ok(if report.ok {
                Exit::Success
            } else {
                Exit::Manifest
            })
        }
        Some(Command::Destroy {
            yes,
            skip_final_snapshot,
        }) => with_runtime(destroy(cli, &catalog, *yes, *skip_final_snapshot)),
        Some(Command::Plan {
            json: as_json,
            detailed_exitcode,
        }) => {
            let manifest = load(cli)?;
            let target = cli.target().unwrap_or(Target::Local);
            let plan = plan::plan(&manifest, &catalog, target, cli.project.as_deref())?;
            if !cli.quiet {
                for warning in &plan.warnings {
                    eprint!("{}", warning.render(&manifest.file));
                }
            }
            let live = if target == Target::Local {
                with_runtime(live_actions(cli, &catalog, &plan, *detailed_exitcode))?
            } else {
                None
            };
            let cloud_live = if target == Target::Cloud {
                let live = with_runtime(async {
                    let cloud = crate::cloud::connect(&plan, cli.verbose > 0).await?;
                    crate::cloud::live(&cloud, &plan).await
                });
                match live {
                    Ok(live) => Some(live),
                    // Without AWS the desired state is still worth showing; only a caller
                    // that asked for the change verdict gets an error.
                    Err(e @ Error::AwsUnavailable { .. }) if !*detailed_exitcode => {
                        note_live_state_unknown(cli, &e);
                        None
                    }
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            let text = if *as_json {
                let mut value = serde_json::to_value(&plan).map_err(|e| Error::Output(e.into()))?;
                let live_value = match (&live, &cloud_live) {
                    (Some(l), _) => Some(serde_json::to_value(l)),
                    (_, Some(l)) => Some(serde_json::to_value(l)),
                    _ => None,
                };
                if let (Some(live), Some(object)) = (live_value, value.as_object_mut()) {
                    object.insert("live".into(), live.map_err(|e| Error::Output(e.into()))?);
                }
                json(&value)?
            } else {
                let mut text = render_plan(&plan);
                if let Some(live) = &live {
                    text.push_str(&render_live(live));
                }
                if let Some(live) = &cloud_live {
                    text.push_str(&live.render());
                }
                text
            };
            print(&text)?;
            let changes = match (&live, &cloud_live) {
                (Some(l), _) => l.actions.iter().any(|a| a.action != "no change"),
                (_, Some(l)) => l.has_changes(),
                _ => false,
            };
            Ok(if *detailed_exitcode && changes {
                Exit::ChangesPresent
            } else {
                Exit::Success
            })
        }
        Some(Command::Up) | None => with_runtime(up(cli, &catalog)),
        Some(Command::Env { service, format }) => {
            with_runtime(env(cli, &catalog, service.as_deref(), *format))
        }
        Some(Command::Run { service, command }) => {
            with_runtime(run_command(cli, &catalog, service.as_deref(), command))
        }
        Some(Command::Status { json: as_json }) => with_runtime(status(cli, &catalog, *as_json)),
        Some(Command::Down { volumes, yes }) => with_runtime(down(cli, &catalog, *volumes, *yes)),
    }
}

fn with_runtime<T, F: std::future::Future<Output = Result<T, Error>>>(
    future: F,
) -> Result<T, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Native {
            resource: "provision".into(),
            what: "start its async runtime".into(),
            reason: e.to_string(),
        })?;
    runtime.block_on(async {
        tokio::select! {
            result = future => result,
            // What was started keeps running; the next `up` converges from there.
            _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
        }
    })
}

/// The plan for the target the flags name (default: local).
fn target_plan(cli: &Cli, catalog: &Catalog) -> Result<(Manifest, Plan), Error> {
    let manifest = load(cli)?;
    let target = cli.target().unwrap_or(Target::Local);
    let plan = plan::plan(&manifest, catalog, target, cli.project.as_deref())?;
    if !cli.quiet {
        for warning in &plan.warnings {
            eprint!("{}", warning.render(&manifest.file));
        }
    }
    Ok((manifest, plan))
}

async fn up(cli: &Cli, catalog: &Catalog) -> Result<Exit, Error> {
    let (_, plan) = target_plan(cli, catalog)?;
    if plan.target == Target::Cloud {
        let names: Vec<&str> = plan.resources.iter().map(|r| r.name.as_str()).collect();
        let progress = Progress::new(cli.quiet, &names);
        let cloud = crate::cloud::connect(&plan, cli.verbose > 0).await?;
        progress.note(&format!(
            "provision: project {} on AWS ({}, {} databases)",
            plan.project.name,
            cloud.region,
            names.len()
        ));
        let result = crate::cloud::up(
            &cloud,
            &plan,
            &progress,
            Duration::from_secs(cli.timeout.unwrap_or(2400)),
        )
        .await;
        if cli.verbose > 0 {
            eprintln!("aws: {} calls", cloud.calls());
        }
        result?;
        return Ok(Exit::Success);
    }
    let specs = backend::specs(&plan, catalog);
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(cli.quiet, &names);
    let runtime = Runtime::select(cli.runtime, &specs).await?;
    progress.note(&format!(
        "provision: project {} on {} ({} databases)",
        plan.project.name,
        runtime.name(),
        specs.len()
    ));
    backend::up_all(
        &runtime,
        &specs,
        &progress,
        Duration::from_secs(cli.timeout.unwrap_or(60)),
    )
    .await?;
    Ok(Exit::Success)
}

/// The variables for `--service` (its links), or for every database under its own name.
async fn variables(cli: &Cli, catalog: &Catalog, service: Option<&str>) -> Result<Vec<Var>, Error> {
    let (_, plan) = target_plan(cli, catalog)?;
    let specs = backend::specs(&plan, catalog);
    let wanted: Vec<(String, String)> = match service {
        Some(name) => {
            if !plan.apps.iter().any(|a| a == name) {
                return Err(Error::UnknownService {
                    name: name.to_owned(),
                    known: plan.apps.clone(),
                });
            }
            // An app service without links gets no variables, which is not an error.
            plan.services
                .iter()
                .find(|s| s.service == name)
                .map(|links| {
                    links
                        .links
                        .iter()
                        .map(|l| (l.resource.clone(), l.prefix.clone()))
                        .collect()
                })
                .unwrap_or_default()
        }
        None => plan
            .resources
            .iter()
            .map(|r| (r.name.clone(), model::link_prefix(&r.name)))
            .collect(),
    };
    if plan.target == Target::Cloud {
        let cloud = crate::cloud::connect(&plan, cli.verbose > 0).await?;
        let names: Vec<&str> = wanted.iter().map(|(r, _)| r.as_str()).collect();
        let endpoints = crate::cloud::endpoints(&cloud, &plan, &names).await?;
        let mut vars = Vec::new();
        for ((resource, prefix), endpoint) in wanted.iter().zip(&endpoints) {
            if let Some(template) = plan
                .resource(resource)
                .and_then(|r| catalog.get(&r.type_name))
            {
                vars.extend(links::render(prefix, template, endpoint));
            }
        }
        return Ok(vars);
    }
    let needed: Vec<_> = specs
        .into_iter()
        .filter(|s| wanted.iter().any(|(r, _)| *r == s.resource.name))
        .collect();
    let runtime = Runtime::select(cli.runtime, &needed).await?;
    let endpoints = backend::endpoints(&runtime, &needed).await?;
    let mut vars = Vec::new();
    for (resource, prefix) in &wanted {
        if let Some((spec, endpoint)) = needed
            .iter()
            .zip(&endpoints)
            .find(|(s, _)| s.resource.name == *resource)
        {
            vars.extend(links::render(prefix, spec.template, endpoint));
        }
    }
    Ok(vars)
}

async fn env(
    cli: &Cli,
    catalog: &Catalog,
    service: Option<&str>,
    format: Format,
) -> Result<Exit, Error> {
    let vars = variables(cli, catalog, service).await?;
    print(&env_format::render(&vars, format))?;
    Ok(Exit::Success)
}

async fn run_command(
    cli: &Cli,
    catalog: &Catalog,
    service: Option<&str>,
    command: &[String],
) -> Result<Exit, Error> {
    use std::os::unix::process::CommandExt as _;
    let vars = variables(cli, catalog, service).await?;
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

#[derive(Debug, serde::Serialize)]
struct StatusRow {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    runtime: &'static str,
    state: State,
    address: Option<String>,
    ready: bool,
    data: Option<String>,
}

async fn status(cli: &Cli, catalog: &Catalog, as_json: bool) -> Result<Exit, Error> {
    let (_, plan) = target_plan(cli, catalog)?;
    if plan.target == Target::Cloud {
        let cloud = crate::cloud::connect(&plan, cli.verbose > 0).await?;
        let live = crate::cloud::live(&cloud, &plan).await?;
        if as_json {
            print(&json(&live)?)?;
        } else {
            use std::fmt::Write as _;
            let mut out = String::new();
            let w = live
                .resources
                .iter()
                .map(|r| r.resource.len())
                .max()
                .unwrap_or(4)
                .max(4);
            let _ = writeln!(
                out,
                "{:w$}  {:30} {:13} {:24} ENDPOINT",
                "NAME", "KIND", "STATE", "IDENTIFIER"
            );
            for r in &live.resources {
                let _ = writeln!(
                    out,
                    "{:w$}  {:30} {:13} {:24} {}",
                    r.resource,
                    r.kind,
                    r.status.as_deref().unwrap_or("missing"),
                    r.identifier,
                    r.endpoint.as_deref().unwrap_or("-")
                );
            }
            for o in &live.orphaned {
                let _ = writeln!(
                    out,
                    "{:w$}  {:30} {:13} {:24} orphaned: tagged with this project, not in the manifest",
                    "-", o.kind, o.status, o.identifier
                );
            }
            print(&out)?;
        }
        return Ok(Exit::Success);
    }
    let specs = backend::specs(&plan, catalog);
    let runtime = Runtime::select(cli.runtime, &specs).await?;
    let rows = futures_util::future::join_all(specs.iter().map(|spec| {
        let runtime = &runtime;
        async move {
            let live = runtime.inspect(spec).await?;
            let ready = match (live.state, live.port) {
                (State::Running, Some(port)) => crate::probe::probe(
                    spec.template.probe,
                    &spec.endpoint(port, live.password.clone()),
                    Duration::from_secs(2),
                )
                .await
                .is_ok(),
                _ => false,
            };
            Ok::<_, Error>(StatusRow {
                name: spec.resource.name.clone(),
                type_name: format!("{} {}", spec.template.name, spec.resource.version),
                runtime: runtime.name(),
                state: live.state,
                address: live.port.map(|p| format!("127.0.0.1:{p}")),
                ready,
                data: live.data,
            })
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    if as_json {
        print(&json(&rows)?)?;
    } else {
        use std::fmt::Write as _;
        let mut out = String::new();
        let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            out,
            "{:w$}  {:14} {:7} {:8} {:16} {:5}  DATA",
            "NAME", "TYPE", "RUNTIME", "STATE", "ADDRESS", "READY"
        );
        for r in &rows {
            let state = match r.state {
                State::Running => "running",
                State::Stopped => "stopped",
                State::Missing => "missing",
            };
            let _ = writeln!(
                out,
                "{:w$}  {:14} {:7} {:8} {:16} {:5}  {}",
                r.name,
                r.type_name,
                r.runtime,
                state,
                r.address.as_deref().unwrap_or("-"),
                if r.ready { "yes" } else { "no" },
                r.data.as_deref().unwrap_or("-")
            );
        }
        print(&out)?;
    }
    Ok(Exit::Success)
}

async fn destroy(
    cli: &Cli,
    catalog: &Catalog,
    yes: bool,
    skip_final_snapshot: bool,
) -> Result<Exit, Error> {
    if !cli.cloud {
        return Err(Error::NeedsCloud {
            command: "destroy",
            local: "provision down --volumes",
        });
    }
    let (_, plan) = target_plan(cli, catalog)?;
    let project = plan.project.name.clone();
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::NeedsConfirmation {
                what: format!("deleting the cloud databases of {project}"),
                flag: "--yes",
            });
        }
        eprint!(
            "This deletes every AWS database tagged with project `{project}`{}. Type the project name to confirm: ",
            if skip_final_snapshot {
                ", WITHOUT final snapshots"
            } else {
                " (final snapshots are kept)"
            }
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if answer.trim() != project {
            eprintln!("not confirmed; nothing was deleted");
            return Ok(Exit::Failure);
        }
    }
    let cloud = crate::cloud::connect(&plan, cli.verbose > 0).await?;
    let progress = Progress::new(cli.quiet, &[]);
    let done = crate::cloud::destroy(&cloud, &project, skip_final_snapshot, &progress).await?;
    if done.is_empty() {
        progress.note(&format!("nothing on AWS is tagged with project {project}"));
    }
    for line in done {
        progress.note(&line);
    }
    Ok(Exit::Success)
}

async fn down(cli: &Cli, catalog: &Catalog, volumes: bool, yes: bool) -> Result<Exit, Error> {
    if cli.cloud {
        return Err(Error::LocalOnly {
            command: "down",
            cloud: "provision destroy --cloud",
        });
    }
    let (_, plan) = target_plan(cli, catalog)?;
    let specs = backend::specs(&plan, catalog);
    if volumes && !yes {
        let what = format!(
            "deleting the data of {} ({})",
            plan.project.name,
            plan.resources
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !std::io::stdin().is_terminal() {
            return Err(Error::NeedsConfirmation {
                what,
                flag: "--yes",
            });
        }
        eprint!(
            "This deletes the data of every database of project `{}`. Type the project name to confirm: ",
            plan.project.name
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if answer.trim() != plan.project.name {
            eprintln!("not confirmed; nothing was deleted");
            return Ok(Exit::Failure);
        }
    }
    let runtime = Runtime::select(cli.runtime, &specs).await?;
    let names: Vec<&str> = specs.iter().map(|s| s.resource.name.as_str()).collect();
    let progress = Progress::new(cli.quiet, &names);
    let results =
        futures_util::future::join_all(specs.iter().map(|s| runtime.down(s, volumes))).await;
    let mut failures = Vec::new();
    let mut ok = 0;
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(done) => {
                progress.say(&spec.resource.name, &done);
                ok += 1;
            }
            Err(e) => failures.push((spec.resource.name.clone(), e)),
        }
    }
    if failures.is_empty() {
        Ok(Exit::Success)
    } else {
        Err(Error::UpFailed {
            failures,
            ok,
            done: "stopped",
        })
    }
}

/// The text form of a plan: one line per database, then the links.
fn render_plan(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Project `{}` ({}), {} target: desired state",
        plan.project.name,
        plan.project.source.describe(),
        plan.target.label()
    );
    let width = plan
        .resources
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\nDatabases");
    for r in &plan.resources {
        let kind = format!("{} {}", r.type_name, r.version);
        let detail = if let Some(local) = &r.local {
            let port = local.host_port.map_or_else(
                || {
                    format!(
                        "127.0.0.1:{} or the next free port, kept across runs",
                        local.container_port
                    )
                },
                |p| format!("127.0.0.1:{p}"),
            );
            let volume = local.volume.as_ref().map_or_else(
                || "no volume (in memory)".to_owned(),
                |v| format!("volume {v}"),
            );
            format!(
                "container {}, image {}, {volume}, {port}",
                local.container, local.image
            )
        } else if let Some(cloud) = &r.cloud {
            let c = &cloud.config;
            match cloud.service {
                CloudService::Rds => format!(
                    "RDS instance {}: {}, {} GiB encrypted, backups {} days, deletion protection {}, Multi-AZ {}, not public",
                    cloud.identifier,
                    c.class,
                    c.storage_gb.unwrap_or_default(),
                    c.backup_retention_days,
                    on_off(c.deletion_protection),
                    on_off(c.multi_az)
                ),
                CloudService::ElasticacheReplicationGroup => format!(
                    "ElastiCache replication group {}: {}, {} replicas, TLS and AUTH token, encrypted at rest, backups {} days",
                    cloud.identifier, c.class, c.replicas, c.backup_retention_days
                ),
                CloudService::ElasticacheCluster => {
                    format!(
                        "ElastiCache cluster {}: {}, TLS in transit",
                        cloud.identifier, c.class
                    )
                }
            }
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {:width$}  {kind:14} {detail}", r.name);
    }
    if plan.target == Target::Cloud && !plan.resources.is_empty() {
        let _ = writeln!(
            out,
            "  passwords: generated, kept in Secrets Manager as provision/{}/<database>",
            plan.project.name
        );
    }
    if !plan.services.is_empty() {
        let width = plan
            .services
            .iter()
            .map(|s| s.service.len())
            .max()
            .unwrap_or(0);
        let _ = writeln!(out, "\nLinks");
        for s in &plan.services {
            let links: Vec<String> = s
                .links
                .iter()
                .map(|l| format!("{}_* -> {}", l.prefix, l.resource))
                .collect();
            let _ = writeln!(out, "  {:width$}  {}", s.service, links.join(", "));
        }
        let _ = writeln!(
            out,
            "  each prefix P gets {}",
            model::LINK_SUFFIXES.map(|s| format!("P_{s}")).join(", ")
        );
    }
    out
}

/// `plan` without a runtime or AWS: the desired state still shows; stderr says why no more.
fn note_live_state_unknown(cli: &Cli, error: &Error) {
    if !cli.quiet {
        eprintln!("note: live state unknown: {}", error.summary());
    }
}

/// What `up` would do to each resource, from the live state.
#[derive(Debug, serde::Serialize)]
struct LiveActions {
    runtime: &'static str,
    actions: Vec<LiveAction>,
}

#[derive(Debug, serde::Serialize)]
struct LiveAction {
    resource: String,
    action: &'static str,
    detail: String,
}

/// Reads the live state for `plan --local`; when no runtime is available, says so on stderr
/// and shows the desired state alone.
async fn live_actions(
    cli: &Cli,
    catalog: &Catalog,
    plan: &Plan,
    detailed_exitcode: bool,
) -> Result<Option<LiveActions>, Error> {
    let specs = backend::specs(plan, catalog);
    let runtime = match Runtime::select(cli.runtime, &specs).await {
        Ok(r) => r,
        // Asked for a verdict on changes, "unknown" must not read as "none".
        Err(e) if detailed_exitcode => return Err(e),
        Err(e) => {
            note_live_state_unknown(cli, &e);
            return Ok(None);
        }
    };
    let mut actions = Vec::new();
    for spec in &specs {
        let live = runtime.inspect(spec).await?;
        let data = spec.local.volume.as_deref().map_or_else(
            || "no data to keep".to_owned(),
            |v| format!("data in volume {v} is kept"),
        );
        let (action, detail) = match live.state {
            State::Missing => (
                "create",
                format!(
                    "new {}",
                    if runtime.name() == "docker" {
                        "container"
                    } else {
                        "server"
                    }
                ),
            ),
            _ if runtime.name() == "docker"
                && live.image.as_deref() != Some(spec.local.image.as_str()) =>
            {
                (
                    "replace",
                    format!(
                        "image {} -> {}; {data} (a major version change needs a dump and restore first)",
                        live.image.as_deref().unwrap_or("?"),
                        spec.local.image
                    ),
                )
            }
            _ if spec.local.host_port.is_some() && live.port != spec.local.host_port => (
                "replace",
                format!(
                    "port {} -> {}; {data}",
                    live.port.map_or_else(|| "?".into(), |p| p.to_string()),
                    spec.local.host_port.unwrap_or_default()
                ),
            ),
            State::Stopped => ("start", "stopped".to_owned()),
            State::Running => (
                "no change",
                format!("running on 127.0.0.1:{}", live.port.unwrap_or_default()),
            ),
        };
        actions.push(LiveAction {
            resource: spec.resource.name.clone(),
            action,
            detail,
        });
    }
    Ok(Some(LiveActions {
        runtime: runtime.name(),
        actions,
    }))
}

fn render_live(live: &LiveActions) -> String {
    use std::fmt::Write as _;
    let mut out = format!("\nLive state ({})\n", live.runtime);
    let width = live
        .actions
        .iter()
        .map(|a| a.resource.len())
        .max()
        .unwrap_or(0);
    for a in &live.actions {
        let _ = writeln!(out, "  {:width$}  {:9}  {}", a.resource, a.action, a.detail);
    }
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}
