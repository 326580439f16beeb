//! The command line: arguments and a one-line dispatch per command, nothing else. Each
//! command is a file in `commands/`; the targets' own verbs are in `local` and `cloud`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::catalog::Catalog;
use crate::commands;
use crate::env_format::Format;
use crate::error::{Error, Exit};
use crate::local::RuntimeChoice;
use crate::plan::Target;
use crate::session::Session;

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

    /// The cloud stage: an isolated set of the project's AWS resources (a branch's, a pull
    /// request's); `auto` takes it from the CI environment (default: `PROVISION_STAGE`, then
    /// `x-provision.cloud.stage`, else the default stage, whose resources keep their names)
    #[arg(long, global = true, value_name = "NAME")]
    stage: Option<String>,

    /// How long the stage lives after this command (`30m`, `12h`, `3d`, `2w`): tags it
    /// `provision:expires-at` for `provision gc --cloud`
    #[arg(long, global = true, value_name = "DURATION")]
    ttl: Option<String>,

    /// Seconds to wait for every database to be ready (default: 60 locally, 2400 in the cloud)
    #[arg(long, global = true, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring every database up and wait until each accepts a query (the default command),
    /// then run the app services' `x-provision.migrate` commands
    Up {
        /// First move local data of an older major version to the manifest's (`upgrade`)
        #[arg(long)]
        upgrade: bool,
        /// Do not run the `x-provision.migrate` commands
        #[arg(long)]
        no_migrate: bool,
    },
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
        /// `markdown`: the cloud plan as a pull-request comment (changes, costs, variable
        /// names; never a value)
        #[arg(long, value_enum, conflicts_with = "json")]
        format: Option<crate::commands::plan::PlanFormat>,
        /// Exit 0 with no changes, 2 with changes, 1 on error (as Terraform)
        #[arg(long)]
        detailed_exitcode: bool,
        /// With --cloud: exit 0 when nothing was changed outside provision, 2 when a setting
        /// was (drift; a manifest change alone is not), 1 on error: a nightly check
        #[arg(long, conflicts_with = "detailed_exitcode")]
        drift: bool,
    },
    /// Bring the databases up, then run every app service with a command (or those named),
    /// their output prefixed with their names; Ctrl-C stops the apps
    Start {
        /// The app services to run (default: every one with `command:` or `entrypoint:`)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
        /// Seconds an app has to exit after SIGTERM before it is killed
        #[arg(long, value_name = "SECONDS", default_value_t = 10)]
        grace: u64,
        /// Run the apps as Docker containers (built from `build:` or `image:`) on a project
        /// network, instead of host processes
        #[arg(long)]
        containers: bool,
        /// Do not run the `x-provision.migrate` commands before the apps
        #[arg(long)]
        no_migrate: bool,
    },
    /// Open the database's own client (psql, mysql, redis-cli) on its address
    Connect {
        /// The database service
        database: String,
        /// Arguments for the client, after `--` (e.g. `-- -c 'select 1'`)
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Print the databases' server logs, prefixed with their names
    Logs {
        /// The databases (default: all)
        #[arg(value_name = "DATABASE")]
        databases: Vec<String>,
        /// Keep printing new lines as they come (`-f` is the manifest, as everywhere)
        #[arg(short = 'F', long)]
        follow: bool,
        /// Only the last N lines of each log
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Write one database's dump (pg_dump -Fc, mariadb-dump, Redis RDB) to a file or stdout
    Dump {
        /// The database service
        database: String,
        /// The file (default: stdout); written aside and renamed when complete
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load a dump made by `provision dump` into one database (crash-safe)
    Restore {
        /// The database service
        database: String,
        /// The dump file, or `-` for stdin (the default)
        #[arg(value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Empty one database and apply its seed again; its port, password and TLS stay
    Reset {
        /// The database service
        database: String,
        /// Do not ask
        #[arg(long)]
        yes: bool,
    },
    /// Move one local database to the manifest's newer major version (dump, restore into new
    /// data, verify, switch), keeping the old data until `--cleanup`
    Upgrade {
        /// The database service
        database: String,
        /// Delete the old data an upgrade kept (only once the new is verified and serving)
        #[arg(long)]
        cleanup: bool,
    },
    /// Apply one database's `x-provision.seed` files now
    Seed {
        /// The database service
        database: String,
    },
    /// Local branches of data: save, list, restore and remove copies of a stopped database
    Snapshot {
        #[command(subcommand)]
        action: commands::snapshot::Action,
    },
    /// Print a shell completion script (e.g. `provision completions bash > ~/.local/share/bash-completion/completions/provision`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `provision man > provision.1`
    Man,
    /// Print the least-privilege IAM policy this manifest needs on AWS
    IamPolicy {
        /// Print the policy document (JSON) rather than a summary
        #[arg(long)]
        json: bool,
    },
    /// List the project's stages on AWS: their resources, age and expiry
    Stages {
        #[arg(long)]
        json: bool,
    },
    /// Delete the project's expired stages (their `provision:expires-at` tags are past)
    Gc {
        /// Only say what would be deleted
        #[arg(long)]
        dry_run: bool,
        /// Delete without final snapshots (a preview's profile keeps none anyway)
        #[arg(long)]
        skip_final_snapshot: bool,
    },
    /// Bring an existing RDS instance or ElastiCache replication group (made outside
    /// provision) under the manifest as one of its databases: shows what changes, then tags
    /// it and links its credentials; its identifier is kept
    Adopt {
        /// The database service it becomes
        database: String,
        /// Its identifier in AWS (default: the one recorded by an earlier adoption)
        #[arg(long, value_name = "IDENTIFIER")]
        id: Option<String>,
        /// A Secrets Manager secret (its ARN) holding its password, as a string or as RDS's
        /// JSON `{"username", "password"}`: linked, never changed or deleted
        #[arg(long, value_name = "ARN", conflicts_with = "reset_password")]
        secret_arn: Option<String>,
        /// Set a new generated password on it now, stored in provision's secret
        #[arg(long)]
        reset_password: bool,
        /// Do not ask
        #[arg(long)]
        yes: bool,
    },
    /// Hand an adopted (or provision-made) database back: remove provision's tags, leave it
    /// running, keep its credentials' secret
    Release {
        /// The database service
        database: String,
        /// Do not ask
        #[arg(long)]
        yes: bool,
    },
    /// Delete this project's cloud databases on the stage (found by tag), with final
    /// snapshots by default
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
    /// Whether `-v` was given: errors then print their whole chain of causes.
    pub fn verbose(&self) -> bool {
        self.verbose > 0
    }

    /// Whether this command replaces provision with the caller's program (`run`), which gets
    /// every descriptor the caller gave, as a shell's `exec` would.
    pub fn hands_over_descriptors(&self) -> bool {
        matches!(self.command, Some(Command::Run { .. }))
    }

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

/// Runs the parsed command line and says how the process should exit.
#[allow(
    clippy::too_many_lines,
    reason = "one dispatch arm per command: splitting it would hide the table"
)]
pub fn run(cli: &Cli) -> Result<Exit, Error> {
    let session = Session {
        file: cli.file.clone(),
        project: cli.project.clone(),
        quiet: cli.quiet,
        verbose: cli.verbose,
        runtime: cli.runtime,
        timeout: cli.timeout,
        stage: cli.stage.clone(),
        ttl: cli.ttl.clone(),
        catalog: Catalog::builtin().map_err(Error::Template)?,
    };
    let target = cli.target().unwrap_or(Target::Local);
    match &cli.command {
        Some(Command::Up {
            upgrade,
            no_migrate,
        }) => commands::up::run(
            &session,
            target,
            commands::up::Options {
                upgrade: *upgrade,
                migrate: !*no_migrate,
            },
        ),
        None => commands::up::run(&session, target, commands::up::Options::default()),
        Some(Command::Doctor { json }) => commands::doctor::run(&session, cli.target(), *json),
        Some(Command::Plan {
            json,
            format,
            detailed_exitcode,
            drift,
        }) => commands::plan::run(&session, target, *json, *format, *detailed_exitcode, *drift),
        Some(Command::Env { service, format }) => {
            commands::env::env(&session, target, service.as_deref(), *format)
        }
        Some(Command::Run { service, command }) => {
            commands::env::run(&session, target, service.as_deref(), command)
        }
        Some(Command::Status { json }) => commands::status::run(&session, target, *json),
        Some(Command::Down { volumes, yes }) => {
            commands::down::run(&session, target, *volumes, *yes)
        }
        Some(Command::Destroy {
            yes,
            skip_final_snapshot,
        }) => commands::destroy::run(&session, target, *yes, *skip_final_snapshot),
        Some(Command::Adopt {
            database,
            id,
            secret_arn,
            reset_password,
            yes,
        }) => commands::adopt::adopt(
            &session,
            target,
            &crate::cloud::adopt::AdoptArgs {
                database: database.clone(),
                identifier: id.clone(),
                secret_arn: secret_arn.clone(),
                reset_password: *reset_password,
                yes: *yes,
            },
        ),
        Some(Command::Release { database, yes }) => {
            commands::adopt::release(&session, target, database, *yes)
        }
        Some(Command::Stages { json }) => commands::stages::run(&session, target, *json),
        Some(Command::Gc {
            dry_run,
            skip_final_snapshot,
        }) => commands::gc::run(&session, target, *dry_run, *skip_final_snapshot),
        Some(Command::Start {
            services,
            grace,
            containers,
            no_migrate,
        }) => commands::start::run(
            &session,
            target,
            &commands::start::Options {
                services: services.clone(),
                grace: std::time::Duration::from_secs(*grace),
                containers: *containers,
                migrate: !*no_migrate,
            },
        ),
        Some(Command::Connect { database, args }) => {
            commands::connect::run(&session, target, database, args)
        }
        Some(Command::Logs {
            databases,
            follow,
            tail,
        }) => commands::logs::run(
            &session,
            target,
            &commands::logs::Options {
                databases: databases.clone(),
                follow: *follow,
                tail: *tail,
            },
        ),
        Some(Command::Dump { database, output }) => {
            commands::dump::run(&session, target, database, output.as_deref())
        }
        Some(Command::Restore { database, input }) => {
            commands::restore::run(&session, target, database, input.as_deref())
        }
        Some(Command::Reset { database, yes }) => {
            commands::reset::run(&session, target, database, *yes)
        }
        Some(Command::Seed { database }) => commands::seed::run(&session, target, database),
        Some(Command::Upgrade { database, cleanup }) => {
            commands::upgrade::run(&session, target, database, *cleanup)
        }
        Some(Command::Snapshot { action }) => commands::snapshot::run(&session, target, action),
        Some(Command::IamPolicy { json }) => commands::iam_policy::run(&session, *json),
        Some(Command::Completions { shell }) => {
            commands::completions::completions(*shell, <Cli as clap::CommandFactory>::command())
        }
        Some(Command::Man) => commands::completions::man(<Cli as clap::CommandFactory>::command()),
    }
}
