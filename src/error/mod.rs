//! Errors as data. All wording lives here: `Error::render` prints `error:`, `Caused by:` and
//! `hint:` lines once, at the edge; everything else just returns values.

mod adopt;
mod cloud;
mod commands;
mod data;
pub mod engine;
mod local;
mod manifest;
mod upgrade;

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::problem::Problem;

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

/// What AWS access lacks; each has its own wording and hint (in `error/cloud.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsMissing {
    Region,
    /// No credentials at all.
    Credentials,
    /// Credentials AWS does not accept (expired, wrong key, wrong signature).
    ValidCredentials,
    /// The endpoint does not answer.
    Endpoint,
}

/// A change the cloud diff found that `up` will not make on its own: the field as the
/// manifest names it, AWS's value, the manifest's, and why it is held back.
#[derive(Debug, Clone)]
pub struct HeldChange {
    pub field: &'static str,
    pub from: String,
    pub to: String,
    pub why: Option<&'static str>,
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
    /// `--stage` (or `PROVISION_STAGE`, `x-provision.cloud.stage`) slugs to nothing.
    InvalidStage { given: String },
    /// `--stage auto` outside a CI system provision knows.
    NoCiStage,
    /// `--ttl` (or `x-provision.cloud.ttl`) is not `N` + `m`, `h`, `d` or `w`.
    InvalidTtl { given: String },
    /// `--ttl` without a stage: the default stage never expires.
    TtlOnDefaultStage { given: String },
    /// `plan --format markdown` without `--cloud`: the comment describes cloud resources.
    MarkdownNeedsCloud,
    /// `plan --drift` without `--cloud`: drift is a change made on AWS outside provision.
    DriftNeedsCloud,
    /// `env --format github` with no `GITHUB_ENV` to write to: not in a GitHub Actions step.
    GithubEnvUnset,
    /// `env --format github >> "$GITHUB_ENV"`: the masks would land in the file, where the
    /// runner cannot read them (and would refuse the file).
    GithubEnvIsStdout { path: PathBuf },
    /// Appending to the file `GITHUB_ENV` names failed.
    WriteGithubEnv {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A variable `GITHUB_ENV` cannot carry safely; names it, never its value.
    GithubEnvRefused {
        name: String,
        reason: crate::env_format::GithubRefusal,
    },
    /// A template built into the binary is broken: a bug, never the user's doing.
    Template(crate::catalog::TemplateError),
    /// Writing to stdout failed (for example a closed pipe).
    Output(std::io::Error),
    /// The async runtime could not start (threads or the I/O driver).
    AsyncRuntime(std::io::Error),
    /// `--runtime docker` and no engine answers: every place looked, in order, and why not.
    DockerUnavailable { tried: Vec<engine::Tried> },
    /// `--runtime auto`: neither a Docker engine nor native servers.
    NoRuntime {
        /// Why Docker was not used: kept whole, so its own wording and causes show.
        docker: Box<Error>,
        missing: Vec<String>,
    },
    /// `--runtime auto`: the project's data is in Docker, and Docker does not answer.
    DataInDocker { project: String, docker: Box<Error> },
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
        missing: AwsMissing,
        /// What said so: the SDK's error (its chain shows with `-v`), or our own words.
        reason: Cause,
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
        changes: Vec<HeldChange>,
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
    /// A stage's first create cannot be restored from what `from_snapshot` names.
    Restore {
        resource: String,
        identifier: String,
        problem: Box<SnapshotProblem>,
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
    /// `PROVISION_RDS_CA_BUNDLE` names a file that is not a bundle of CA certificates.
    RdsBundle { path: PathBuf, problem: String },
    /// `dump`, `restore`, `seed`, `reset`: see `data.rs`.
    Data(Box<DataError>),
    /// `upgrade`: see `upgrade.rs`.
    Upgrade(Box<UpgradeError>),
    /// `adopt`, `release`: see `adopt.rs`.
    Adopt(Box<AdoptError>),
}

pub use adopt::AdoptError;
pub use cloud::SnapshotProblem;
pub use data::DataError;
pub use upgrade::{UpgradeError, compare_majors};

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Self::ManifestNotFound { .. }
            | Self::ReadManifest { .. }
            | Self::ReadEnvFile { .. }
            | Self::ManifestInvalid { .. }
            | Self::NoNetwork { .. } => Exit::Manifest,
            Self::InvalidProjectFlag { .. }
            | Self::InvalidStage { .. }
            | Self::NoCiStage
            | Self::InvalidTtl { .. }
            | Self::TtlOnDefaultStage { .. }
            | Self::MarkdownNeedsCloud
            | Self::DriftNeedsCloud
            | Self::GithubEnvUnset
            | Self::GithubEnvIsStdout { .. } => Exit::Usage,
            Self::WriteGithubEnv { .. } | Self::GithubEnvRefused { .. } => Exit::Failure,
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
            Self::TlsUnsupported { .. } | Self::RdsBundle { .. } => Exit::Usage,
            Self::Data(e) => e.exit(),
            Self::Upgrade(e) => e.exit(),
            Self::Adopt(e) => e.exit(),
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
            | Self::Restore { .. }
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
        // Which area words it; each area's file has the wording and the hints.
        let area: fn(&Error, bool, &mut String) = match self {
            Self::ManifestNotFound { .. }
            | Self::ReadManifest { .. }
            | Self::ReadEnvFile { .. }
            | Self::ManifestInvalid { .. }
            | Self::InvalidProjectFlag { .. }
            | Self::Template(_) => manifest::render,
            Self::DockerUnavailable { .. }
            | Self::NoRuntime { .. }
            | Self::DataInDocker { .. }
            | Self::BinaryMissing { .. }
            | Self::Docker { .. }
            | Self::ImageUnavailable { .. }
            | Self::MajorVersionChange(_)
            | Self::PasswordChanged { .. }
            | Self::PortTaken { .. }
            | Self::Exited { .. }
            | Self::Refused { .. }
            | Self::NotReady { .. }
            | Self::Native { .. }
            | Self::TlsFiles { .. }
            | Self::TlsUnsupported { .. }
            | Self::NoLogs { .. } => local::render,
            Self::Data(_) => data::render,
            Self::Upgrade(_) => upgrade::render,
            Self::Adopt(_) => adopt::render,
            Self::AwsUnavailable { .. }
            | Self::Aws { .. }
            | Self::CloudTerminal { .. }
            | Self::NoNetwork { .. }
            | Self::UnsafeChange { .. }
            | Self::CloudTimeout { .. }
            | Self::DeletionProtected { .. }
            | Self::Restore { .. }
            | Self::RdsBundle { .. }
            | Self::NotOurs { .. } => cloud::render,
            Self::Output(_)
            | Self::InvalidStage { .. }
            | Self::NoCiStage
            | Self::InvalidTtl { .. }
            | Self::TtlOnDefaultStage { .. }
            | Self::MarkdownNeedsCloud
            | Self::DriftNeedsCloud
            | Self::GithubEnvUnset
            | Self::GithubEnvIsStdout { .. }
            | Self::WriteGithubEnv { .. }
            | Self::GithubEnvRefused { .. }
            | Self::AsyncRuntime(_)
            | Self::NotUp { .. }
            | Self::UpFailed { .. }
            | Self::UnknownService { .. }
            | Self::NeedsConfirmation { .. }
            | Self::RunCommand { .. }
            | Self::LocalOnly { .. }
            | Self::NeedsCloud { .. }
            | Self::Interrupted
            | Self::StartContainersNative
            | Self::BuildFailed { .. }
            | Self::StartCloud
            | Self::AppWithoutCommand { .. }
            | Self::NoApps { .. }
            | Self::AppEnvFile { .. }
            | Self::SpawnApp { .. }
            | Self::ClientMissing { .. }
            | Self::NoClient { .. }
            | Self::Client { .. }
            | Self::UnknownDatabase { .. } => commands::render,
        };
        area(self, verbose, &mut out);
        out
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
            | Self::RunCommand { source, .. }
            | Self::WriteGithubEnv { source, .. } => Some(source),
            Self::Output(source) | Self::AsyncRuntime(source) => Some(source),
            Self::Docker { source, .. } | Self::Native { source, .. } => Some(&**source),
            Self::TlsFiles { source, .. } => Some(&**source),
            Self::NoRuntime { docker, .. } | Self::DataInDocker { docker, .. } => Some(&**docker),
            Self::AwsUnavailable { reason, .. } => Some(&**reason),
            Self::Aws {
                source: Some(source),
                ..
            } => Some(&**source),
            _ => None,
        }
    }
}

/// An error and its causes on one line, for a cause recorded as text (a discovery attempt's
/// reason, an AWS message without a service error): the innermost (the OS's) says the most,
/// and a cause that repeats its parent's words is said once.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// Prints `error`'s causes, one `Caused by:` line each: the first always, the deeper ones
/// (library and OS errors under ours) with `-v`.
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
        use super::cloud::{aws_hint, named_parameter};
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
