//! The wording of the errors of the data workflows: `dump`, `restore`, `seed`, `reset`.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{Error, Exit};

/// What went wrong working with a database's data, with what it was and where.
#[derive(Debug)]
pub enum DataError {
    /// The engine keeps no data (Memcached).
    NoData { resource: String, title: String },
    /// An engine tool exited with a failure.
    ToolFailed {
        resource: String,
        what: String,
        program: String,
        code: i64,
        stderr: String,
    },
    /// Streaming to or from a tool failed.
    Stream {
        resource: String,
        program: String,
        what: String,
        source: std::io::Error,
    },
    /// A dump file (or a seed file) could not be opened, read or written.
    File {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `dump` with stdout on a terminal and no `-o`.
    DumpToTerminal { resource: String, suffix: String },
    /// A seed file failed; the database is left unseeded (and emptied) for the next try.
    SeedFailed {
        resource: String,
        file: PathBuf,
        code: i64,
        detail: String,
    },
    /// A seed file of a kind the engine cannot run.
    SeedKind { resource: String, file: PathBuf },
    /// The restored server did not come back; the previous data was put back.
    RolledBack { resource: String, cause: Box<Error> },
    /// The command works on local databases only.
    NotInCloud { command: &'static str },
    /// A snapshot name that cannot be one.
    SnapshotName { name: String },
    /// `snapshot save` under a name already taken.
    SnapshotExists { resource: String, name: String },
    /// No snapshot of that name; `known` are the database's.
    SnapshotMissing {
        resource: String,
        name: String,
        known: Vec<String>,
    },
    /// The snapshot cannot go back into this database: another engine, runtime or major
    /// version (`what` says which, `snapshot` and `now` the two values).
    SnapshotMismatch {
        resource: String,
        name: String,
        what: &'static str,
        snapshot: String,
        now: String,
    },
    /// `dump`/`restore --cloud` of Redis or Valkey: ElastiCache refuses replication to clients.
    CloudRedis { resource: String },
    /// `dump`/`restore --cloud`: the tool could not verify the server's certificate against
    /// the CA file (or the system's roots, `None`).
    CloudTls {
        resource: String,
        program: String,
        host: String,
        port: u16,
        ca_file: Option<PathBuf>,
        stderr: String,
    },
    /// An app service's `x-provision.migrate` ended with a failure: nothing after it ran.
    MigrationFailed {
        service: String,
        command: String,
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// An app service's `x-provision.migrate` could not be started.
    MigrationSpawn {
        service: String,
        program: String,
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl From<DataError> for Error {
    fn from(e: DataError) -> Self {
        Self::Data(Box::new(e))
    }
}

impl DataError {
    pub(super) fn exit(&self) -> Exit {
        match self {
            Self::NoData { .. }
            | Self::DumpToTerminal { .. }
            | Self::NotInCloud { .. }
            | Self::CloudRedis { .. }
            | Self::SeedKind { .. }
            | Self::SnapshotName { .. }
            | Self::SnapshotExists { .. }
            | Self::SnapshotMissing { .. } => Exit::Usage,
            Self::File { .. } => Exit::Manifest,
            Self::ToolFailed { .. }
            | Self::CloudTls { .. }
            | Self::Stream { .. }
            | Self::SeedFailed { .. }
            | Self::RolledBack { .. }
            | Self::MigrationFailed { .. }
            | Self::MigrationSpawn { .. }
            | Self::SnapshotMismatch { .. } => Exit::Failure,
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one arm per data error: the wording of each in one place"
)]
pub(super) fn render(error: &Error, verbose: bool, out: &mut String) {
    let Error::Data(e) = error else { return };
    match &**e {
        DataError::NoData { resource, title } => {
            let _ = writeln!(
                out,
                "error: {resource}: {title} keeps no data to dump, restore or seed"
            );
        }
        DataError::ToolFailed {
            resource,
            what,
            program,
            code,
            stderr,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: `{program}` failed to {what} (exit code {code})"
            );
            for line in stderr
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                let _ = writeln!(out, "  {line}");
            }
        }
        DataError::Stream {
            resource,
            program,
            what,
            source,
        } => {
            let _ = writeln!(out, "error: {resource}: `{program}`: cannot {what}");
            let _ = writeln!(out, "Caused by: {source}");
        }
        DataError::File { op, path, source } => {
            let _ = writeln!(out, "error: cannot {op} `{}`", path.display());
            let _ = writeln!(out, "Caused by: {source}");
        }
        DataError::DumpToTerminal { resource, suffix } => {
            let _ = writeln!(
                out,
                "error: {resource}: a dump is binary and stdout is a terminal"
            );
            let _ = writeln!(
                out,
                "hint: write it to a file with `-o {resource}.{suffix}`, or pipe it: `provision dump {resource} > {resource}.{suffix}`"
            );
        }
        DataError::SeedFailed {
            resource,
            file,
            code,
            detail,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: seed file `{}` failed (exit code {code})",
                file.display()
            );
            for line in detail.lines().take(12) {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(
                out,
                "hint: the database was emptied and stays unseeded: fix the file and run `provision up` again (or `provision seed {resource}`)"
            );
        }
        DataError::SeedKind { resource, file } => {
            let _ = writeln!(
                out,
                "error: {resource}: cannot seed from `{}`: this engine takes .sql, .sql.gz and .sh files (Redis and Valkey: .redis)",
                file.display()
            );
        }
        DataError::RolledBack { resource, cause } => {
            let _ = writeln!(
                out,
                "error: {resource}: the server did not come up on the restored data; the previous data is back in place and serving"
            );
            let _ = write!(out, "Caused by: {}", cause.render_with(verbose));
        }
        DataError::SnapshotName { .. }
        | DataError::SnapshotExists { .. }
        | DataError::SnapshotMissing { .. }
        | DataError::SnapshotMismatch { .. } => render_snapshot(e, out),
        DataError::NotInCloud { command } => {
            let _ = writeln!(
                out,
                "error: `provision {command}` works on local databases only"
            );
            let _ = writeln!(out, "hint: drop `--cloud`");
        }
        DataError::CloudRedis { .. }
        | DataError::CloudTls { .. }
        | DataError::MigrationFailed { .. }
        | DataError::MigrationSpawn { .. } => render_more(e, out),
    }
}

/// The wording of `--cloud` data refusals and of `x-provision.migrate` failures.
fn render_more(e: &DataError, out: &mut String) {
    match e {
        DataError::CloudRedis { resource } => {
            let _ = writeln!(
                out,
                "error: {resource}: ElastiCache cannot be dumped or restored over the wire: it makes `sync`, `bgsave` and `replicaof` unavailable"
            );
            let _ = writeln!(
                out,
                "hint: use ElastiCache's snapshots (export one to S3, or seed a new cache from an RDB file in S3); see https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ClientConfig.RestrictedCommands.html"
            );
        }
        DataError::CloudTls {
            resource,
            program,
            host,
            port,
            ca_file,
            stderr,
        } => {
            let against = ca_file.as_ref().map_or_else(
                || "the system's roots".to_owned(),
                |ca| format!("`{}`", ca.display()),
            );
            let _ = writeln!(
                out,
                "error: {resource}: `{program}` could not verify the TLS certificate of `{host}:{port}` against {against}"
            );
            for line in stderr
                .lines()
                .rev()
                .take(6)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(
                out,
                "hint: the server's certificate must chain to a CA in that file and carry the name `{host}` (the password was not sent). For RDS in another partition (AWS China, GovCloud) or behind a proxy that re-signs TLS, name that CA bundle in `PROVISION_RDS_CA_BUNDLE`"
            );
        }
        DataError::MigrationFailed {
            service,
            command,
            code,
            signal,
        } => {
            let how = match (code, signal) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(s)) => format!("was killed by signal {s}"),
                (None, None) => "failed".to_owned(),
            };
            let _ = writeln!(out, "error: {service}: migration `{command}` {how}");
            let _ = writeln!(
                out,
                "hint: its output is above, prefixed `{service}:migrate |`; fix it and run again, or skip migrations with `--no-migrate`"
            );
        }
        DataError::MigrationSpawn {
            service,
            program,
            dir,
            source,
        } => {
            let _ = writeln!(
                out,
                "error: {service}: cannot start the migration `{program}` in `{}`",
                dir.display()
            );
            let _ = writeln!(out, "Caused by: {source}");
            let _ = writeln!(
                out,
                "hint: `x-provision.migrate` runs on this machine, in the service's `working_dir:` or `build:` directory"
            );
        }
        _ => {}
    }
}

/// The snapshot errors' wording (`provision snapshot ...`).
fn render_snapshot(e: &DataError, out: &mut String) {
    match e {
        DataError::SnapshotName { name } => {
            let _ = writeln!(
                out,
                "error: `{name}` cannot name a snapshot: a letter or digit first, then letters, digits, `.`, `_` or `-`, at most {} characters",
                crate::names::MAX_SNAPSHOT
            );
        }
        DataError::SnapshotExists { resource, name } => {
            let _ = writeln!(out, "error: {resource}: a snapshot `{name}` exists already");
            let _ = writeln!(
                out,
                "hint: choose another name, or remove it first: `provision snapshot rm {resource} {name}`"
            );
        }
        DataError::SnapshotMissing {
            resource,
            name,
            known,
        } => {
            let _ = writeln!(out, "error: {resource}: no snapshot `{name}`");
            if known.is_empty() {
                let _ = writeln!(
                    out,
                    "hint: make one with `provision snapshot save {resource} NAME`"
                );
            } else {
                let _ = writeln!(out, "hint: {resource} has {}", known.join(", "));
            }
        }
        DataError::SnapshotMismatch {
            resource,
            name,
            what,
            snapshot,
            now,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: snapshot `{name}` holds data of {what} {snapshot}, the database runs {now}: refused, the data is unchanged"
            );
            if *what == "major version" {
                let _ = writeln!(
                    out,
                    "hint: a server cannot read another major version's files: go back to the snapshot's version to restore it, or move data across versions with `provision dump` and `provision restore`"
                );
            }
        }
        _ => {}
    }
}
