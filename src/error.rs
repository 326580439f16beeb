//! Errors as data. All wording lives here: `Error::render` prints `error:`, `Caused by:` and
//! `hint:` lines once, at the edge; everything else just returns values.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::problem::{Problem, Severity};

/// Process exit statuses, decided in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// Something went wrong that is neither the user's input nor a missing service.
    Failure,
    /// The command line was wrong (clap uses the same status).
    Usage,
    /// `plan --detailed-exitcode` found changes (Terraform's convention).
    ChangesPresent,
    /// The manifest is invalid (`EX_DATAERR`).
    Manifest,
    /// A service the command needs is unavailable (`EX_UNAVAILABLE`).
    Unavailable,
    /// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted,
    /// `start`: the status of the app whose exit ended it (128 + N for a signal).
    App(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage | Self::ChangesPresent => 2,
            Self::Manifest => 65,
            Self::Unavailable => 69,
            Self::Interrupted => 130,
            Self::App(code) => code,
        }
    }
}

/// The error under one of ours, kept whole so that `-v` can print its own causes.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A cause worded for people (Docker's message, say), with the library error it came from
/// behind it.
#[derive(Debug)]
pub struct Because {
    text: String,
    source: Cause,
}

impl Because {
    pub fn new(text: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self {
            text: text.into(),
            source: source.into(),
        }
    }
}

impl std::fmt::Display for Because {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Because {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A volume whose data another major version wrote.
#[derive(Debug)]
pub struct MajorChange {
    pub resource: String,
    pub volume: String,
    pub type_name: String,
    pub from: String,
    pub to: String,
    pub image: String,
}

#[derive(Debug)]
pub enum Error {
    /// No manifest in the directory and no `-f`.
    ManifestNotFound {
        dir: PathBuf,
        tried: &'static [&'static str],
    },
    ReadManifest {
        path: PathBuf,
        source: std::io::Error,
    },
    ReadEnvFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The manifest has one or more errors; warnings ride along for context.
    ManifestInvalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
    /// `-p` normalises to nothing usable.
    InvalidProjectFlag { given: String },
    /// A template built into the binary is broken: a bug, never the user's doing.
    Template(crate::catalog::TemplateError),
    /// Writing to stdout failed (for example a closed pipe).
    Output(std::io::Error),
    /// The async runtime could not start (threads or the I/O driver).
    AsyncRuntime(std::io::Error),
    /// `--runtime docker` and no engine answers: every place looked, in order, and why not.
    DockerUnavailable {
        tried: Vec<crate::local::engine::Tried>,
    },
    /// `--runtime auto`: neither a Docker engine nor native servers.
    NoRuntime {
        docker: String,
        missing: Vec<String>,
    },
    /// `--runtime auto`: the project's data is in Docker, and Docker does not answer.
    DataInDocker { project: String, docker: String },
    /// `--runtime native` and a server's binaries are not installed.
    BinaryMissing {
        resource: String,
        binaries: Vec<String>,
        searched: Vec<String>,
    },
    /// A Docker Engine API call failed.
    Docker {
        op: &'static str,
        target: String,
        source: Cause,
    },
    /// The image is not on this machine and pulling it failed.
    ImageUnavailable { image: String, reason: String },
    /// The data was written by another major version than the image's (an upgrade or a
    /// downgrade): refused, the data untouched.
    MajorVersionChange(Box<MajorChange>),
    /// The manifest fixes a password other than the one the existing data was made with.
    PasswordChanged {
        resource: String,
        setting: String,
        store: String,
    },
    /// The host port is held by something else.
    PortTaken { resource: String, port: u16 },
    /// The server stopped while we waited for it.
    Exited {
        resource: String,
        detail: String,
        log: String,
    },
    /// The server is up and refused the probe for good (credentials, authentication method).
    Refused {
        resource: String,
        refusal: crate::probe::Refusal,
        detail: String,
    },
    /// The server did not accept a query within the timeout.
    NotReady {
        resource: String,
        seconds: u64,
        last: String,
        log: String,
    },
    /// `env`/`run`/`status` on a resource that is not running.
    NotUp { resource: String, cloud: bool },
    /// Starting or stopping a native server failed.
    Native {
        resource: String,
        what: String,
        source: Cause,
    },
    /// Some resources failed; the others are done (`done`: "ready", "stopped").
    UpFailed {
        failures: Vec<(String, Error)>,
        ok: usize,
        done: &'static str,
    },
    /// `--service` names no app service.
    UnknownService { name: String, known: Vec<String> },
    /// A destructive command without the confirmation it needs.
    NeedsConfirmation { what: String, flag: &'static str },
    /// `run` could not start the program.
    RunCommand {
        program: String,
        source: std::io::Error,
    },
    /// Ctrl-C.
    Interrupted,
    /// AWS cannot be reached, or we have no credentials or region for it.
    AwsUnavailable {
        what: String,
        reason: String,
        hint: &'static str,
    },
    /// An AWS call failed; `code` is AWS's error code, `message` AWS's words, `source` the
    /// SDK's error (its chain shows with `-v`).
    Aws {
        op: &'static str,
        target: String,
        code: Option<String>,
        message: String,
        source: Option<Cause>,
    },
    /// The manifest asks for a change `up` will not make on its own.
    UnsafeChange {
        resource: String,
        identifier: String,
        changes: Vec<crate::cloud::diff::Change>,
    },
    /// AWS put a resource in a state it will not leave on its own.
    CloudTerminal {
        resource: String,
        identifier: String,
        status: String,
        hint: &'static str,
    },
    /// The manifest gives no network and the account has no default VPC: nothing to create
    /// the databases in.
    NoNetwork { region: String },
    /// A cloud resource did not become available in time.
    CloudTimeout {
        resource: String,
        identifier: String,
        status: String,
        minutes: u64,
    },
    /// `destroy` met deletion protection.
    DeletionProtected { identifiers: Vec<String> },
    /// An AWS resource with our identifier that another project (or no one) tagged.
    NotOurs {
        identifier: String,
        owner: Option<String>,
    },
    /// A cloud-only command without `--cloud`.
    NeedsCloud {
        command: &'static str,
        local: &'static str,
    },
    /// A local-only command with `--cloud`.
    LocalOnly {
        command: &'static str,
        cloud: &'static str,
    },
    /// `start --cloud`: apps run where the cloud runs them, not from here.
    StartCloud,
    /// `start --containers --runtime native`: app containers need the Docker engine.
    StartContainersNative,
    /// `start --containers`: an app service's image did not build.
    BuildFailed { service: String, reason: String },
    /// `start NAME` for an app service without `command:` or `entrypoint:`.
    AppWithoutCommand { service: String },
    /// `start` and no app service has a command.
    NoApps { file: PathBuf },
    /// An app service's `env_file` cannot be read or interpolated.
    AppEnvFile {
        service: String,
        path: PathBuf,
        reason: String,
    },
    /// `start` could not start an app's program.
    SpawnApp {
        service: String,
        program: String,
        dir: PathBuf,
        source: std::io::Error,
    },
    /// `connect`: none of the engine's clients is installed.
    ClientMissing {
        resource: String,
        programs: Vec<String>,
        package: String,
    },
    /// `connect` to an engine that has no interactive client.
    NoClient { resource: String, hint: String },
    /// `connect` could not prepare or start the client.
    Client {
        program: String,
        what: &'static str,
        source: std::io::Error,
    },
    /// A database name on the command line that the manifest does not have.
    UnknownDatabase { name: String, known: Vec<String> },
    /// `logs`: a native server has no log file (yet).
    NoLogs { resource: String, path: PathBuf },
    /// The TLS files of a project (its local CA, server certificate, CA bundles) could not
    /// be made or read.
    TlsFiles {
        op: &'static str,
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `x-provision.local.tls` on an image family that configures TLS its own way.
    TlsUnsupported { resource: String, image: String },
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Self::ManifestNotFound { .. }
            | Self::ReadManifest { .. }
            | Self::ReadEnvFile { .. }
            | Self::ManifestInvalid { .. }
            | Self::NoNetwork { .. } => Exit::Manifest,
            Self::InvalidProjectFlag { .. } => Exit::Usage,
            Self::DockerUnavailable { .. }
            | Self::AwsUnavailable { .. }
            | Self::NoRuntime { .. }
            | Self::DataInDocker { .. }
            | Self::BinaryMissing { .. } => Exit::Unavailable,
            Self::UnknownService { .. }
            | Self::NeedsConfirmation { .. }
            | Self::NeedsCloud { .. }
            | Self::LocalOnly { .. }
            | Self::StartCloud
            | Self::StartContainersNative
            | Self::AppWithoutCommand { .. }
            | Self::NoApps { .. }
            | Self::UnknownDatabase { .. } => Exit::Usage,
            Self::ClientMissing { .. } => Exit::Unavailable,
            Self::AppEnvFile { .. }
            | Self::BuildFailed { .. }
            | Self::SpawnApp { .. }
            | Self::NoClient { .. }
            | Self::Client { .. }
            | Self::NoLogs { .. }
            | Self::TlsFiles { .. } => Exit::Failure,
            Self::TlsUnsupported { .. } => Exit::Usage,
            Self::Interrupted => Exit::Interrupted,
            Self::UpFailed { failures, ok, .. } => {
                // Every resource failed for the same missing service: say that, not "failure".
                let unavailable = failures.iter().all(|(_, e)| e.exit() == Exit::Unavailable);
                if *ok == 0 && unavailable {
                    Exit::Unavailable
                } else {
                    Exit::Failure
                }
            }
            Self::Template(_)
            | Self::Output(_)
            | Self::AsyncRuntime(_)
            | Self::Docker { .. }
            | Self::ImageUnavailable { .. }
            | Self::PortTaken { .. }
            | Self::MajorVersionChange(_)
            | Self::PasswordChanged { .. }
            | Self::Exited { .. }
            | Self::Refused { .. }
            | Self::NotReady { .. }
            | Self::NotUp { .. }
            | Self::Native { .. }
            | Self::RunCommand { .. }
            | Self::Aws { .. }
            | Self::UnsafeChange { .. }
            | Self::CloudTerminal { .. }
            | Self::CloudTimeout { .. }
            | Self::DeletionProtected { .. }
            | Self::NotOurs { .. } => Exit::Failure,
        }
    }

    /// The first line of the message, without `error: `: for a one-line note.
    pub fn summary(&self) -> String {
        self.render()
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned()
    }

    /// The full text for stderr: what failed, its first cause, and what to do.
    pub fn render(&self) -> String {
        self.render_with(false)
    }

    /// As `render`; `verbose` (`-v`) adds every deeper cause of the chain.
    pub fn render_with(&self, verbose: bool) -> String {
        let mut out = String::new();
        match self {
            Self::ManifestNotFound { dir, tried } => {
                let _ = writeln!(out, "error: no manifest found in `{}`", dir.display());
                let _ = writeln!(out, "  looked for: {}", tried.join(", "));
                let _ = writeln!(
                    out,
                    "hint: create a `compose.yaml` with your databases as services, or pass `-f PATH`"
                );
            }
            Self::ReadManifest { path, source } => {
                let _ = writeln!(out, "error: cannot read the manifest `{}`", path.display());
                let _ = writeln!(out, "Caused by: {source}");
                if source.kind() == std::io::ErrorKind::NotFound {
                    let _ = writeln!(out, "hint: check the path given to `-f`");
                }
            }
            Self::ReadEnvFile { path, source } => {
                let _ = writeln!(out, "error: cannot read `{}`", path.display());
                let _ = writeln!(out, "Caused by: {source}");
                let _ = writeln!(
                    out,
                    "hint: the `.env` file next to the manifest supplies `${{VAR}}` values; fix its permissions or remove it"
                );
            }
            Self::ManifestInvalid { file, problems } => {
                let errors = problems
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .count();
                for problem in problems {
                    out.push_str(&problem.render(file));
                }
                if errors > 1 {
                    let _ = writeln!(
                        out,
                        "error: the manifest has {errors} errors; `provision doctor` checks everything at once"
                    );
                }
            }
            Self::InvalidProjectFlag { given } => {
                let _ = writeln!(out, "error: `{given}` cannot be a project name");
                let _ = writeln!(
                    out,
                    "hint: use lowercase letters, digits and `-`, starting with a letter, for example `-p my-app`"
                );
            }
            Self::Template(e) => {
                let _ = writeln!(
                    out,
                    "error: the built-in template `templates/{}` is invalid: {}",
                    e.file, e.message
                );
                let _ = writeln!(out, "hint: this is a bug in provision; please report it");
            }
            Self::Output(source) => {
                let _ = writeln!(out, "error: cannot write the output");
                let _ = writeln!(out, "Caused by: {source}");
            }
            Self::AsyncRuntime(source) => {
                let _ = writeln!(out, "error: cannot start provision's async runtime");
                let _ = writeln!(out, "Caused by: {source}");
            }
            Self::DockerUnavailable { tried } => {
                let _ = writeln!(out, "error: no Docker engine answers; tried, in order:");
                let _ = write!(out, "{}", tried_lines(tried));
                let _ = writeln!(out, "hint: {}", engine_hint(tried));
            }
            Self::NoRuntime { docker, missing } => {
                let _ = writeln!(
                    out,
                    "error: cannot run the databases: no Docker engine answers and native servers are missing"
                );
                let _ = writeln!(out, "Caused by: no Docker engine answers; tried, in order:");
                let _ = write!(out, "{docker}");
                let _ = writeln!(out, "Caused by: not installed: {}", missing.join(", "));
                let _ = writeln!(
                    out,
                    "hint: start Docker (or Podman with its socket), or install the servers, e.g. `sudo apt-get install postgresql redis-server mariadb-server memcached`"
                );
            }
            Self::DataInDocker { project, docker } => {
                let _ = writeln!(
                    out,
                    "error: the databases of `{project}` keep their data in Docker, and no Docker engine answers"
                );
                let _ = writeln!(out, "Caused by: {docker}");
                let _ = writeln!(
                    out,
                    "hint: start Docker; `--runtime native` would start empty databases beside that data"
                );
            }
            Self::BinaryMissing {
                resource,
                binaries,
                searched,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: `{}` is not installed",
                    binaries.join("`, `")
                );
                let _ = writeln!(out, "  looked in: PATH, {}", searched.join(", "));
                let _ = writeln!(
                    out,
                    "hint: install the server with your package manager, or use `--runtime docker`"
                );
            }
            Self::Docker { op, target, .. } => {
                let _ = writeln!(out, "error: Docker could not {op} `{target}`");
                write_causes(&mut out, self, verbose);
            }
            Self::ImageUnavailable { image, reason } => {
                let _ = writeln!(
                    out,
                    "error: the image `{image}` is not on this machine and cannot be pulled"
                );
                let _ = writeln!(out, "Caused by: {reason}");
                let _ = writeln!(
                    out,
                    "hint: check the network and registry login (`docker pull {image}`), or build or load the image locally under that name"
                );
            }
            Self::MajorVersionChange(change) => {
                let MajorChange {
                    resource,
                    volume,
                    type_name,
                    from,
                    to,
                    image,
                } = &**change;
                let _ = writeln!(
                    out,
                    "error: {resource}: the data in volume `{volume}` was written by {type_name} {from}, and `{image}` is {type_name} {to}"
                );
                let _ = writeln!(
                    out,
                    "  a server of another major version cannot read it; nothing was changed"
                );
                let _ = writeln!(
                    out,
                    "hint: keep the image at {from}, or move the data: dump it with the {from} image (`provision run -- pg_dump`/`mysqldump`), then `provision down --volumes`, `provision up` with the new image, and restore the dump"
                );
            }
            Self::PasswordChanged {
                resource,
                setting,
                store,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: `{setting}` is not the password the data in {store} was created with"
                );
                let _ = writeln!(
                    out,
                    "  the server keeps the password it was initialised with; a new one in the file would only lock the app out"
                );
                let _ = writeln!(
                    out,
                    "hint: put the old password back in `{setting}`, change it inside the database (`ALTER USER`), or start over with `provision down --volumes` (deletes the data)"
                );
            }
            Self::PortTaken { resource, port } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: port {port} on 127.0.0.1 is already in use by another program"
                );
                let _ = writeln!(
                    out,
                    "hint: stop that program, or pick another port with `x-provision: {{local: {{port: N}}}}` on `{resource}`"
                );
            }
            Self::Exited {
                resource,
                detail,
                log,
            } => {
                let _ = writeln!(out, "error: {resource} stopped while starting ({detail})");
                write_log(&mut out, log);
            }
            Self::Refused {
                resource,
                refusal,
                detail,
            } => {
                let _ = writeln!(out, "error: {resource} refused the readiness check");
                let _ = writeln!(out, "Caused by: {detail}");
                let hint = match refusal {
                    crate::probe::Refusal::Credentials => {
                        "the data was most likely created with other credentials (an earlier run, or a changed password or user); use those, or start afresh with `provision down --volumes` (deletes the data)"
                    }
                    crate::probe::Refusal::AuthMethod => {
                        "make the app's user authenticate with `caching_sha2_password` or `mysql_native_password` (MySQL), `mysql_native_password`, `ed25519` or `parsec` (MariaDB)"
                    }
                };
                let _ = writeln!(out, "hint: {hint}");
            }
            Self::NotReady {
                resource,
                seconds,
                last,
                log,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource} did not accept a query within {seconds} s"
                );
                if !last.is_empty() {
                    let _ = writeln!(out, "Caused by: {last}");
                }
                write_log(&mut out, log);
                let _ = writeln!(
                    out,
                    "hint: a slow first start may need more time: `--timeout 180`"
                );
            }
            Self::NotUp {
                resource,
                cloud: false,
            } => {
                let _ = writeln!(out, "error: {resource} is not running");
                let _ = writeln!(out, "hint: start it with `provision --local`");
            }
            Self::NotUp {
                resource,
                cloud: true,
            } => {
                let _ = writeln!(out, "error: {resource} does not exist on AWS");
                let _ = writeln!(out, "hint: create it with `provision --cloud`");
            }
            Self::Native { resource, what, .. } => {
                let _ = writeln!(out, "error: {resource}: could not {what}");
                write_causes(&mut out, self, verbose);
            }
            Self::UpFailed { failures, ok, done } => {
                for (_, error) in failures {
                    out.push_str(&error.render_with(verbose));
                }
                let names: Vec<&str> = failures.iter().map(|(n, _)| n.as_str()).collect();
                let _ = writeln!(
                    out,
                    "error: {} of {} databases failed: {}; {ok} {done}",
                    failures.len(),
                    failures.len() + ok,
                    names.join(", ")
                );
            }
            Self::UnknownService { name, known } => {
                let _ = writeln!(
                    out,
                    "error: `{name}` is not an app service of this manifest"
                );
                let suggestion =
                    crate::suggest::did_you_mean(name, known.iter().map(String::as_str));
                match suggestion {
                    Some(s) => {
                        let _ = writeln!(out, "hint: did you mean `{s}`?");
                    }
                    None => {
                        let _ = writeln!(out, "hint: app services: {}", known.join(", "));
                    }
                }
            }
            Self::NeedsConfirmation { what, flag } => {
                let _ = writeln!(
                    out,
                    "error: {what} needs confirmation, and there is no terminal to ask on"
                );
                let _ = writeln!(out, "hint: add `{flag}` if you mean it");
            }
            Self::RunCommand { program, source } => {
                let _ = writeln!(out, "error: cannot run `{program}`");
                let _ = writeln!(out, "Caused by: {source}");
            }
            Self::AwsUnavailable { what, reason, hint } => {
                let _ = writeln!(out, "error: cannot reach {what}");
                let _ = writeln!(out, "Caused by: {reason}");
                let _ = writeln!(out, "hint: {hint}");
            }
            Self::Aws {
                op,
                target,
                code,
                message,
                source,
            } => {
                let code_text = code
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "error: AWS could not {op} `{target}`{code_text}");
                if !message.is_empty() {
                    let _ = writeln!(out, "Caused by: {message}");
                }
                // The SDK's error and what lies under it (HTTP, connection), with `-v`.
                if verbose {
                    let mut cause: Option<&(dyn std::error::Error + 'static)> =
                        source.as_deref().map(|s| s as _);
                    while let Some(c) = cause {
                        let _ = writeln!(out, "Caused by: {c}");
                        cause = c.source();
                    }
                }
                if let Some(action) = denied_action(code.as_deref(), message) {
                    let _ = writeln!(
                        out,
                        "hint: the credentials may not call `{action}`: `provision iam-policy` prints the policy this manifest needs"
                    );
                } else if let Some(hint) = aws_hint(code.as_deref(), message) {
                    let _ = writeln!(out, "hint: {hint}");
                }
            }
            Self::CloudTerminal {
                resource,
                identifier,
                status,
                hint,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: AWS reports `{identifier}` as `{status}`, which it does not leave on its own"
                );
                let _ = writeln!(out, "hint: {hint}");
            }
            Self::NoNetwork { region } => {
                let _ = writeln!(
                    out,
                    "error: the account has no default VPC in {region} and the manifest names no subnets: there is no network to create the databases in"
                );
                let _ = writeln!(
                    out,
                    "hint: set `x-provision: {{cloud: {{subnet_ids: [subnet-..., subnet-...], allow_from: [sg-... or 10.0.0.0/16]}}}}` (subnets in at least two availability zones); nothing was created"
                );
            }
            Self::UnsafeChange {
                resource,
                identifier,
                changes,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: the manifest asks for changes to `{identifier}` that provision does not make on its own"
                );
                for c in changes {
                    let why = c.why.map(|w| format!(" ({w})")).unwrap_or_default();
                    let _ = writeln!(out, "  {}: {} -> {}{why}", c.field, c.from, c.to);
                }
                let _ = writeln!(
                    out,
                    "hint: an engine change, a major version upgrade or a smaller disk needs a planned migration (snapshot, upgrade or restore into a new instance); revert the manifest to keep the database as it is"
                );
            }
            Self::CloudTimeout {
                resource,
                identifier,
                status,
                minutes,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: `{identifier}` is still `{status}` after {minutes} min"
                );
                let _ = writeln!(
                    out,
                    "hint: AWS keeps working on it; run `provision --cloud` again to keep waiting (it adopts the resource), or raise `--timeout`"
                );
            }
            Self::DeletionProtected { identifiers } => {
                let _ = writeln!(
                    out,
                    "error: deletion protection is on for {}; nothing was deleted",
                    identifiers.join(", ")
                );
                let _ = writeln!(
                    out,
                    "hint: set `x-provision: {{cloud: {{deletion_protection: false}}}}` on those databases and run `provision --cloud`, then `provision destroy --cloud`"
                );
            }
            Self::NotOurs { identifier, owner } => {
                match owner {
                    Some(owner) => {
                        let _ = writeln!(
                            out,
                            "error: `{identifier}` belongs to `{owner}` (its `provision:` tags), not to this database; provision leaves it alone"
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "error: `{identifier}` exists but was not created by provision (no `provision:` tags); provision leaves it alone"
                        );
                    }
                }
                let _ = writeln!(
                    out,
                    "hint: rename the service or the project (`-p`, `x-provision.project`) so the identifier `{{project}}-{{service}}` is free"
                );
            }
            Self::LocalOnly { command, cloud } => {
                let _ = writeln!(
                    out,
                    "error: `{command}` works on the local databases, not with `--cloud`"
                );
                let _ = writeln!(
                    out,
                    "hint: in the cloud, `{cloud}` deletes the project's databases"
                );
            }
            Self::NeedsCloud { command, local } => {
                let _ = writeln!(
                    out,
                    "error: `{command}` works on the cloud databases: add `--cloud`"
                );
                let _ = writeln!(
                    out,
                    "hint: locally, `{local}` stops the databases and deletes their data"
                );
            }
            Self::Interrupted => {
                let _ = writeln!(
                    out,
                    "error: interrupted; what was started keeps running or being created, and running the same command again picks up from there"
                );
            }
            Self::StartContainersNative => {
                let _ = writeln!(
                    out,
                    "error: `start --containers` runs the apps in Docker, and `--runtime native` rules Docker out"
                );
                let _ = writeln!(
                    out,
                    "hint: drop `--runtime native` (Docker must be running), or drop `--containers` to run the apps as host processes"
                );
            }
            Self::BuildFailed { service, reason } => {
                let _ = writeln!(
                    out,
                    "error: the image of app service `{service}` did not build"
                );
                let _ = writeln!(out, "Caused by: {reason}");
                let _ = writeln!(
                    out,
                    "hint: the build's output is above, prefixed `{service} |`; fix the Dockerfile or the `build:` keys"
                );
            }
            Self::StartCloud => {
                let _ = writeln!(
                    out,
                    "error: `start` runs the app on this machine; there is no `start --cloud`"
                );
                let _ = writeln!(
                    out,
                    "hint: to run a program against the cloud databases, use `provision run --cloud --service NAME -- CMD`"
                );
            }
            Self::AppWithoutCommand { service } => {
                let _ = writeln!(
                    out,
                    "error: `{service}` has no `command:` or `entrypoint:` to run"
                );
                let _ = writeln!(
                    out,
                    "hint: give `{service}` a `command:` in the manifest, for example `command: [\"python3\", \"app.py\"]`"
                );
            }
            Self::NoApps { file } => {
                let _ = writeln!(
                    out,
                    "error: no app service in `{}` has a `command:` to run",
                    file.display()
                );
                let _ = writeln!(
                    out,
                    "hint: add `command:` to the services `start` should run; `provision up` starts only the databases"
                );
            }
            Self::AppEnvFile {
                service,
                path,
                reason,
            } => {
                let _ = writeln!(
                    out,
                    "error: {service}: cannot read its `env_file` `{}`",
                    path.display()
                );
                let _ = writeln!(out, "Caused by: {reason}");
                let _ = writeln!(
                    out,
                    "hint: create the file, fix it, or mark it `{{path: ..., required: false}}`"
                );
            }
            Self::SpawnApp {
                service,
                program,
                dir,
                source,
            } => {
                let _ = writeln!(
                    out,
                    "error: {service}: cannot start `{program}` in `{}`",
                    dir.display()
                );
                let _ = writeln!(out, "Caused by: {source}");
                let _ = writeln!(
                    out,
                    "hint: check that `{program}` is installed and on PATH, and the service's `command:`"
                );
            }
            Self::ClientMissing {
                resource,
                programs,
                package,
            } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: no client to connect with (looked for `{}` on PATH)",
                    programs.join("`, `")
                );
                let _ = writeln!(
                    out,
                    "hint: install it, e.g. `sudo apt-get install {package}`"
                );
            }
            Self::NoClient { resource, hint } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: there is no interactive client for it"
                );
                let _ = writeln!(out, "hint: {hint}");
            }
            Self::Client {
                program,
                what,
                source,
            } => {
                let _ = writeln!(out, "error: cannot {what} for `{program}`");
                let _ = writeln!(out, "Caused by: {source}");
            }
            Self::UnknownDatabase { name, known } => {
                let _ = writeln!(out, "error: `{name}` is not a database of this manifest");
                match crate::suggest::did_you_mean(name, known.iter().map(String::as_str)) {
                    Some(s) => {
                        let _ = writeln!(out, "hint: did you mean `{s}`?");
                    }
                    None => {
                        let _ = writeln!(out, "hint: the databases are: {}", known.join(", "));
                    }
                }
            }
            Self::TlsFiles { op, path, source } => {
                let _ = writeln!(out, "error: cannot {op} `{}`", path.display());
                let _ = writeln!(out, "Caused by: {source}");
                let _ = writeln!(
                    out,
                    "hint: the project's TLS files live under $PROVISION_HOME/<project>/tls; check that the directory is writable, or remove a damaged file there to have it made anew (the keys of the local CA are regenerated only when missing)"
                );
            }
            Self::TlsUnsupported { resource, image } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: local TLS is not supported with image `{image}`"
                );
                let _ = writeln!(
                    out,
                    "hint: this image family turns TLS on through its own settings; use the official image for local TLS, or set `x-provision.local.tls: false` on `{resource}`"
                );
            }
            Self::NoLogs { resource, path } => {
                let _ = writeln!(
                    out,
                    "error: {resource}: no server log at `{}`",
                    path.display()
                );
                let _ = writeln!(
                    out,
                    "hint: the log appears when the server first starts: `provision up`"
                );
            }
        }
        out
    }
}

/// The IAM action an `AccessDenied` names ("... is not authorized to perform:
/// rds:CreateDBInstance on resource ...").
fn denied_action(code: Option<&str>, message: &str) -> Option<String> {
    let code = code.unwrap_or_default();
    if !(code.starts_with("AccessDenied") || code.contains("Unauthorized")) {
        return None;
    }
    let (_, rest) = message.split_once("perform: ")?;
    let action: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect();
    action.contains(':').then_some(action)
}

/// The request parameter an `InvalidParameterValue`/`InvalidParameterCombination` message
/// names: "The parameter MasterUsername is not a valid identifier", "MasterUsername admin
/// cannot be used as it is a reserved word used by the engine", "Value: 2 is not a valid
/// value for parameter rds.force_ssl"; else the first word spelt like an API parameter
/// (`DBInstanceClass`: capitalised, two capitals or more). `None` when nothing fits.
fn named_parameter(message: &str) -> Option<String> {
    let trim = |w: &str| {
        w.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .trim_end_matches('.')
            .to_owned()
    };
    let words: Vec<&str> = message.split_whitespace().collect();
    // "parameter X", but not "parameter group X" (a DB parameter group's name).
    let after_parameter = words.windows(2).find_map(|pair| {
        let next = trim(pair[1]);
        (pair[0].eq_ignore_ascii_case("parameter")
            && !matches!(next.as_str(), "group" | "groups" | "value" | "values")
            && next.chars().any(|c| c.is_ascii_alphabetic()))
        .then_some(next)
    });
    if after_parameter.is_some() {
        return after_parameter;
    }
    words.iter().map(|w| trim(w)).find(|w| {
        w.starts_with(|c: char| c.is_ascii_uppercase())
            && w.chars().all(|c| c.is_ascii_alphanumeric())
            && w.chars().filter(char::is_ascii_uppercase).count() >= 2
            && w.chars().any(|c| c.is_ascii_lowercase())
    })
}

/// Where the manifest sets what an RDS or ElastiCache request parameter carries.
fn manifest_setting(parameter: &str) -> Option<&'static str> {
    Some(match parameter {
        "MasterUsername" => {
            "the user name (`x-provision.username`, or the image's variable such as `POSTGRES_USER`)"
        }
        "DBName" => {
            "the database name (`x-provision.database`, or the image's variable such as `POSTGRES_DB`)"
        }
        "DBInstanceClass" | "CacheNodeType" => "`x-provision.cloud.class`",
        "AllocatedStorage" => "`x-provision.cloud.storage_gb`",
        "MaxAllocatedStorage" => "`x-provision.cloud.max_storage_gb`",
        "EngineVersion" => "the version (the image tag or `x-provision.version`)",
        "BackupRetentionPeriod" => "`x-provision.cloud.backup_retention_days`",
        "MultiAZ" => "`x-provision.cloud.multi_az`",
        "ReplicasPerNodeGroup" | "NumCacheClusters" => "`x-provision.cloud.replicas`",
        "DBSubnetGroupName" | "CacheSubnetGroupName" | "SubnetIds" => {
            "`x-provision.cloud.subnet_ids`"
        }
        "VpcSecurityGroupIds" | "SecurityGroupIds" => "`x-provision.cloud.allow_from`",
        _ => return None,
    })
}

/// Advice for the AWS errors people meet most.
fn aws_hint(code: Option<&str>, message: &str) -> Option<std::borrow::Cow<'static, str>> {
    let code = code.unwrap_or_default();
    if code == "InvalidParameterCombination" || code == "InvalidParameterValue" {
        return Some(match named_parameter(message) {
            Some(parameter) => match manifest_setting(&parameter) {
                Some(setting) => format!(
                    "AWS refused `{parameter}`: change {setting} to a value AWS takes for this engine (`provision doctor --cloud` checks the rules it knows)"
                )
                .into(),
                None => format!(
                    "AWS refused `{parameter}`: check the setting that gives it against what the engine supports in this region"
                )
                .into(),
            },
            None => "AWS rejected a setting: check `x-provision.cloud` (class, version, storage) against what the engine supports in this region".into(),
        });
    }
    aws_hint_fixed(code, message).map(std::borrow::Cow::Borrowed)
}

fn aws_hint_fixed(code: &str, message: &str) -> Option<&'static str> {
    if code.contains("Quota") || code.contains("LimitExceeded") {
        Some(
            "an account quota is reached: delete unused resources or ask AWS for a higher quota (Service Quotas console)",
        )
    } else if code.contains("InsufficientDBInstanceCapacity")
        || code.contains("InsufficientCacheClusterCapacity")
    {
        Some(
            "AWS has no capacity for this class in this zone right now: try another `class`, or later",
        )
    } else if code.contains("Throttl") || code == "RequestLimitExceeded" {
        Some(
            "AWS is throttling this account; provision retried with backoff. Run it again in a minute",
        )
    } else if code == "AccessDenied"
        || code == "AccessDeniedException"
        || code.contains("Unauthorized")
    {
        Some(
            "the credentials lack a permission: `provision iam-policy` prints the policy this manifest needs",
        )
    } else if message.contains("region") || code == "InvalidClientTokenId" {
        Some("check the region (`x-provision.cloud.region` or AWS_REGION) and the credentials")
    } else {
        None
    }
}

/// Per-resource results gathered: every value, or one error that names each failure and how
/// many of the others are `done` ("ready", "stopped"). One failing never hides the others.
pub fn gather<T>(
    results: impl IntoIterator<Item = (String, Result<T, Error>)>,
    done: &'static str,
) -> Result<Vec<T>, Error> {
    let mut values = Vec::new();
    let mut failures = Vec::new();
    for (name, result) in results {
        match result {
            Ok(v) => values.push(v),
            Err(e) => failures.push((name, e)),
        }
    }
    if failures.is_empty() {
        Ok(values)
    } else {
        Err(Error::UpFailed {
            failures,
            ok: values.len(),
            done,
        })
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ReadManifest { source, .. }
            | Self::ReadEnvFile { source, .. }
            | Self::RunCommand { source, .. } => Some(source),
            Self::Output(source) | Self::AsyncRuntime(source) => Some(source),
            Self::Docker { source, .. } | Self::Native { source, .. } => Some(&**source),
            Self::TlsFiles { source, .. } => Some(&**source),
            Self::Aws {
                source: Some(source),
                ..
            } => Some(&**source),
            _ => None,
        }
    }
}

/// Prints `error`'s causes, one `Caused by:` line each: the first always, the deeper ones
/// (library and OS errors under ours) with `-v`.
/// Every place engine discovery looked, in order, one line each with why it gave no engine.
pub fn tried_lines(tried: &[crate::local::engine::Tried]) -> String {
    let mut out = String::new();
    if tried.is_empty() {
        out.push_str("  nothing to try: no `DOCKER_HOST`, no context, no known socket\n");
    }
    for (i, t) in tried.iter().enumerate() {
        if t.host.is_empty() {
            let _ = writeln!(out, "  {}. {}: {}", i + 1, t.via, t.reason);
        } else {
            let _ = writeln!(out, "  {}. {} ({}): {}", i + 1, t.host, t.via, t.reason);
        }
    }
    out
}

/// The hint for a failed discovery, from what went wrong where.
pub fn engine_hint(tried: &[crate::local::engine::Tried]) -> &'static str {
    use crate::local::engine::{Reason, Via};
    let reasons = || tried.iter().map(|t| &t.reason);
    if reasons().any(|r| matches!(r, Reason::TlsWithoutVerify)) {
        return "verify the engine's certificate: set `DOCKER_TLS_VERIFY=1` with `ca.pem`, `cert.pem` and `key.pem` in `DOCKER_CERT_PATH` (or give the context its certificates: `docker context update NAME --docker host=...,ca=...,cert=...,key=...`)";
    }
    if reasons().any(|r| matches!(r, Reason::NoSsh { .. } | Reason::SshFailed { .. })) {
        return "check that `ssh HOST` logs in without a prompt (a key in the agent or `~/.ssh/config`, the host in `known_hosts`); or forward the socket yourself, `ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST`, and set `DOCKER_HOST=unix:///tmp/docker.sock`";
    }
    if reasons()
        .any(|r| matches!(r, Reason::NoAnswer { detail } if detail.contains("ermission denied")))
    {
        return "you may not use the engine's socket: add yourself to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker";
    }
    if tried.iter().any(|t| matches!(t.via, Via::DockerHost)) {
        return "start Docker where `DOCKER_HOST` points, correct `DOCKER_HOST`, or unset it to use the current context and the usual sockets";
    }
    if tried
        .iter()
        .any(|t| matches!(t.via, Via::ContextEnv(_) | Via::ContextCurrent { .. }))
    {
        return "start Docker where the context points, or choose another: `docker context use default`, `DOCKER_CONTEXT=NAME` or `DOCKER_HOST`";
    }
    "start Docker (Docker Desktop, `sudo systemctl start docker`, `systemctl --user start docker` for rootless, `colima start`, `systemctl --user start podman.socket`), set `DOCKER_HOST` or `DOCKER_CONTEXT`, or use `--runtime native`"
}

impl std::fmt::Display for crate::local::engine::Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::local::engine::Reason;
        match self {
            Self::NoSocket => f.write_str("no socket there"),
            Self::NoContext { meta } => {
                write!(f, "no such context (no {})", meta.display())
            }
            Self::BadFile { path, detail } => {
                write!(f, "cannot read {}: {detail}", path.display())
            }
            Self::BadHost { detail } => write!(f, "not an engine address: {detail}"),
            Self::TlsWithoutVerify => {
                f.write_str("TLS without verifying the engine's certificate is not supported")
            }
            Self::MissingCa { path } => write!(
                f,
                "`DOCKER_TLS_VERIFY` is set but there is no CA certificate at {}",
                path.display()
            ),
            Self::NoSsh { detail } => write!(f, "cannot run `ssh`: {detail}"),
            Self::SshFailed { detail } => write!(f, "ssh forwarding failed: {detail}"),
            Self::NoAnswer { detail } => f.write_str(detail),
            Reason::Timeout { seconds } => write!(f, "no answer within {seconds} s"),
        }
    }
}

fn write_causes(out: &mut String, error: &Error, verbose: bool) {
    let mut cause = std::error::Error::source(error);
    let mut first = true;
    while let Some(c) = cause {
        if !first && !verbose {
            break;
        }
        let _ = writeln!(out, "Caused by: {c}");
        first = false;
        cause = c.source();
    }
}

/// The last lines of a server's log, indented under the error.
fn write_log(out: &mut String, log: &str) {
    if log.trim().is_empty() {
        return;
    }
    let _ = writeln!(out, "  last lines of its log:");
    for line in log.trim_end().lines() {
        let _ = writeln!(out, "  | {line}");
    }
}

#[cfg(test)]
mod tests {
    /// The hint names the parameter AWS named, and where the manifest sets it.
    #[test]
    fn invalid_parameter_hints_name_the_parameter() {
        use super::{aws_hint, named_parameter};
        let cases = [
            (
                "MasterUsername admin cannot be used as it is a reserved word used by the engine",
                Some("MasterUsername"),
            ),
            (
                "The parameter MasterUsername is not a valid identifier. Identifiers must begin with a letter",
                Some("MasterUsername"),
            ),
            (
                "Value: 2 is not a valid value for parameter rds.force_ssl",
                Some("rds.force_ssl"),
            ),
            (
                "The parameter group x-mysql8-0-tls with DBParameterGroupFamily mysql8.0 can't be used for this instance.",
                Some("DBParameterGroupFamily"),
            ),
            (
                "DBName must begin with a letter and contain only alphanumeric characters.",
                Some("DBName"),
            ),
            ("Invalid DB instance class: db.t9.huge", None),
            ("", None),
        ];
        for (message, want) in cases {
            assert_eq!(named_parameter(message).as_deref(), want, "{message}");
        }
        let hint = aws_hint(
            Some("InvalidParameterValue"),
            "MasterUsername admin cannot be used as it is a reserved word used by the engine",
        )
        .unwrap_or_default();
        assert!(
            hint.contains("`MasterUsername`") && hint.contains("x-provision.username"),
            "{hint}"
        );
        assert!(!hint.contains("class, version, storage"), "{hint}");
        let generic = aws_hint(
            Some("InvalidParameterCombination"),
            "Invalid DB instance class: db.t9.huge",
        )
        .unwrap_or_default();
        assert!(generic.contains("class, version, storage"), "{generic}");
    }

    use super::*;

    fn nested() -> Error {
        let os = std::io::Error::from_raw_os_error(13);
        Error::Native {
            resource: "db".into(),
            what: "create its directory".into(),
            source: Box::new(Because::new("cannot write `/srv/provision`", os)),
        }
    }

    #[test]
    fn the_first_cause_always_shows_and_the_chain_with_verbose() {
        let plain = nested().render();
        assert_eq!(
            plain,
            "error: db: could not create its directory\nCaused by: cannot write `/srv/provision`\n"
        );
        let verbose = nested().render_with(true);
        assert!(verbose.starts_with(&plain), "{verbose}");
        assert!(
            verbose.ends_with("Caused by: Permission denied (os error 13)\n"),
            "{verbose}"
        );
    }

    #[test]
    fn the_source_chain_is_reachable_through_std_error() {
        let error = nested();
        let first = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(first.as_deref(), Some("cannot write `/srv/provision`"));
        let second = std::error::Error::source(&error)
            .and_then(std::error::Error::source)
            .map(ToString::to_string);
        assert_eq!(second.as_deref(), Some("Permission denied (os error 13)"));
    }

    #[test]
    fn failures_of_several_databases_render_each_with_its_causes() {
        let error = Error::UpFailed {
            failures: vec![("db".into(), nested())],
            ok: 1,
            done: "ready",
        };
        assert!(error.render_with(true).contains("os error 13"));
        assert!(!error.render().contains("os error 13"));
    }
}
