//! The wording of `provision adopt` and `provision release`: bringing a database made outside
//! provision under the manifest, and handing one back.

use std::fmt::Write as _;

use super::{Error, Exit};

/// What stopped an adoption or a release (nothing was changed in AWS when it is returned
/// before the confirmation; see each variant).
#[derive(Debug)]
pub enum AdoptError {
    /// `adopt`/`release` without `--cloud`: local databases are provision's own.
    NeedsCloud { command: &'static str },
    /// Adoption is for the default stage: a stage's resources are its own copies.
    NotDefaultStage { stage: String },
    /// Memcached keeps no credentials and no data worth adopting.
    Unsupported {
        resource: String,
        kind: &'static str,
    },
    /// `--secret-arn` is not a Secrets Manager secret ARN.
    BadSecretArn { given: String },
    /// Neither `--id` nor `x-provision.cloud.adopt` says what to adopt.
    NoIdentifier { resource: String },
    /// Nothing in AWS under that identifier.
    Missing {
        resource: String,
        identifier: String,
        kind: &'static str,
    },
    /// It runs another engine than the manifest's service asks for.
    EngineDiffers {
        resource: String,
        identifier: String,
        found: String,
        wanted: String,
    },
    /// Tagged for another project, stage or database.
    Foreign { identifier: String, owner: String },
    /// The database already has a resource in AWS (its own, or another adopted one).
    AlreadyHas {
        resource: String,
        identifier: String,
    },
    /// No `--secret-arn`, no `--reset-password`, and no credential provision could find.
    NoCredential {
        resource: String,
        identifier: String,
    },
    /// The linked secret cannot be read, or holds no password.
    SecretUnusable { arn: String, reason: String },
    /// `plan`/`up` on a database that `release` handed back.
    Released {
        resource: String,
        identifier: String,
        secret: String,
    },
    /// An adopted resource that is gone: `up` will not make a new one under its name.
    Vanished {
        resource: String,
        identifier: String,
    },
    /// `release` of a database that is not provision's in AWS.
    NotOurs {
        resource: String,
        identifier: String,
    },
}

impl AdoptError {
    pub(super) fn exit(&self) -> Exit {
        match self {
            Self::NeedsCloud { .. }
            | Self::NotDefaultStage { .. }
            | Self::Unsupported { .. }
            | Self::BadSecretArn { .. }
            | Self::NoIdentifier { .. }
            | Self::NoCredential { .. } => Exit::Usage,
            Self::Missing { .. }
            | Self::EngineDiffers { .. }
            | Self::Foreign { .. }
            | Self::AlreadyHas { .. }
            | Self::SecretUnusable { .. }
            | Self::Released { .. }
            | Self::Vanished { .. }
            | Self::NotOurs { .. } => Exit::Failure,
        }
    }
}

impl From<AdoptError> for Error {
    fn from(e: AdoptError) -> Self {
        Error::Adopt(Box::new(e))
    }
}

pub(super) fn render(error: &Error, _verbose: bool, out: &mut String) {
    let Error::Adopt(e) = error else { return };
    let (message, hint): (String, String) = match &**e {
        AdoptError::NeedsCloud { command } => (
            format!("`{command}` works on cloud databases: add `--cloud`"),
            "local databases are provision's own: there is nothing to adopt or release".into(),
        ),
        AdoptError::NotDefaultStage { stage } => (
            format!("`adopt` and `release` work on the default stage only (this is stage `{stage}`)"),
            "run without `--stage` (and without `PROVISION_STAGE`); a stage's databases are its own copies".into(),
        ),
        AdoptError::Unsupported { resource, kind } => (
            format!("{resource}: an {kind} cannot be adopted"),
            "adopt RDS instances (Postgres, MySQL, MariaDB) and ElastiCache replication groups (Redis, Valkey)".into(),
        ),
        AdoptError::BadSecretArn { given } => (
            format!("`--secret-arn {given}` is not a Secrets Manager secret ARN"),
            "give the whole ARN, `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf` (`aws secretsmanager describe-secret --secret-id NAME` prints it)".into(),
        ),
        AdoptError::NoIdentifier { resource } => (
            format!("{resource}: which resource to adopt?"),
            "give `--id IDENTIFIER`, or set `x-provision.cloud.adopt: IDENTIFIER` on the service".into(),
        ),
        AdoptError::Missing {
            resource,
            identifier,
            kind,
        } => (
            format!("{resource}: no {kind} `{identifier}` in this account and region"),
            "check the identifier and the region (`x-provision.cloud.region`, `AWS_REGION`)".into(),
        ),
        AdoptError::EngineDiffers {
            resource,
            identifier,
            found,
            wanted,
        } => (
            format!("{resource}: `{identifier}` runs `{found}`, but the manifest's service asks for `{wanted}`"),
            "adopt it for a service of its own type, or fix the service's image".into(),
        ),
        AdoptError::Foreign { identifier, owner } => (
            format!("`{identifier}` is already tagged as provision's `{owner}`"),
            "`provision release --cloud` it from that project first, or adopt another resource".into(),
        ),
        AdoptError::AlreadyHas {
            resource,
            identifier,
        } => (
            format!("{resource} already has `{identifier}` in AWS"),
            "`provision release --cloud` (or `destroy`) it first; one database has one resource".into(),
        ),
        AdoptError::NoCredential {
            resource,
            identifier,
        } => (
            format!("{resource}: no credential found for `{identifier}`"),
            "give `--secret-arn ARN` (a secret holding its password), or `--reset-password` to set a new one".into(),
        ),
        AdoptError::SecretUnusable { arn, reason } => (
            format!("cannot use secret `{arn}`: {reason}"),
            "the secret must be readable and hold the password, as a string or as JSON `{\"username\": ..., \"password\": ...}`".into(),
        ),
        AdoptError::Released {
            resource,
            identifier,
            secret,
        } => (
            format!("{resource} was released: `{identifier}` is yours now (its credentials are kept in secret `{secret}`)"),
            format!("drop `{resource}` from the manifest, `provision adopt --cloud {resource}` again, or delete secret `{secret}` (keep its password first) to have `up` create a new one"),
        ),
        AdoptError::Vanished {
            resource,
            identifier,
        } => (
            format!("{resource}: the adopted `{identifier}` no longer exists"),
            format!("`provision release --cloud {resource}` forgets it (then `up` creates a new one), or adopt another"),
        ),
        AdoptError::NotOurs {
            resource,
            identifier,
        } => (
            format!("{resource}: `{identifier}` is not provision's (not tagged for this project and database)"),
            "nothing to release".into(),
        ),
    };
    let _ = writeln!(out, "error: {message}");
    let _ = writeln!(out, "hint: {hint}");
}
