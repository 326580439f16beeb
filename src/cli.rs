//! The command line: arguments, dispatch, and the text forms of `plan`. Everything here is
//! edge; the work happens in the modules it calls.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::catalog::{Catalog, CloudService};
use crate::error::{Error, Exit};
use crate::manifest::{self, Manifest};
use crate::plan::{self, Plan, Target};
use crate::{doctor, model};

/// Declare an app's databases once in its Compose file; run them on a laptop or on AWS, and
/// hand the app the same `*_URL` variables either way.
#[derive(Debug, Parser)]
#[command(
    name = "provision",
    version,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The manifest (default: the first of provision.yml, provision.yaml, compose.yaml,
    /// compose.yml, docker-compose.yml, docker-compose.yaml in the working directory)
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    file: Option<PathBuf>,

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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the manifest for both targets (or the one named) and print every check
    Doctor {
        /// Print the checks as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show what the manifest asks for on a target (default: --local)
    Plan {
        /// Print the plan as JSON on stdout
        #[arg(long)]
        json: bool,
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
    let path = manifest::locate(&cwd, cli.file.as_deref())?;
    manifest::load(&cwd, &path, &|name| std::env::var(name).ok())
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
        Some(Command::Plan { json: as_json }) => {
            let manifest = load(cli)?;
            let plan = plan::plan(
                &manifest,
                &catalog,
                cli.target().unwrap_or(Target::Local),
                cli.project.as_deref(),
            )?;
            if !cli.quiet {
                for warning in &plan.warnings {
                    eprint!("{}", warning.render(&manifest.file));
                }
            }
            print(&if *as_json {
                json(&plan)?
            } else {
                render_plan(&plan)
            })?;
            Ok(Exit::Success)
        }
        None => Ok(Exit::Usage),
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

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}
