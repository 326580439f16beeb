//! IAM database authentication on AWS: the token `env` and `run` hand out instead of a
//! password, and the database user `up` makes for it.
//!
//! The token is a SigV4-presigned `connect` request for the `rds-db` service, signed with the
//! caller's credentials and valid 15 minutes
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html).
//! The SDK's own `aws_sdk_rds::auth_token::AuthTokenGenerator` signs it (aws-sigv4 under it):
//! no hand-written signing here. Signing is local: it makes no AWS call, and needs no
//! permission but `rds-db:connect` when the database checks it.

use std::time::Duration;

use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};

use crate::catalog::Probe;
use crate::cloud::iam_auth::{Dialect, user_statements};
use crate::error::Error;
use crate::links::Endpoint;
use crate::plan::{CloudPlan, PlannedResource};
use crate::secret::Secret;

/// Seconds a token is valid: the most RDS allows (the page above: "The authentication token
/// has a lifetime of 15 minutes").
pub const TOKEN_LIFETIME: u64 = 900;

/// How long `up` gives the master user's session that makes the IAM user: the database is
/// `available`, so an answer comes at once where the network lets provision through.
const USER_SETUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A token for `user` at `host:port` in `region`, signed with the SDK config's credentials
/// and clock.
pub async fn token(
    sdk: &aws_config::SdkConfig,
    region: &str,
    host: &str,
    port: u16,
    user: &str,
) -> Result<Secret, Error> {
    let target = format!("{user}@{host}:{port}");
    let failed = |e: aws_smithy_runtime_api::box_error::BoxError| Error::Aws {
        op: "sign an IAM database authentication token for",
        target: target.clone(),
        code: None,
        message: crate::error::one_line(&*e),
        source: Some(e),
    };
    let config = Config::builder()
        .hostname(host)
        .port(u64::from(port))
        .username(user)
        .region(aws_config::Region::new(region.to_owned()))
        .expires_in(TOKEN_LIFETIME)
        .build()
        .map_err(failed)?;
    let token = AuthTokenGenerator::new(config)
        .auth_token(sdk)
        .await
        .map_err(failed)?;
    Ok(Secret::new(token.as_str()))
}

/// What became of the IAM user's setup.
#[derive(Debug)]
pub enum UserSetup {
    Done {
        user: String,
    },
    /// provision could not log in as the master user from here (a private network, most
    /// often): the statements for a person, or a run from inside the VPC.
    NotDone {
        user: String,
        reason: String,
        statements: Vec<String>,
    },
}

/// Makes the IAM user (idempotent), logged in as the master user with the stored password,
/// over TLS verified against the RDS CA bundle, connected to the app's database.
pub async fn ensure_user(
    resource: &PlannedResource,
    cloud: &CloudPlan,
    master: Endpoint,
) -> Result<Option<UserSetup>, Error> {
    let (Some(user), Some(dialect)) = (&cloud.iam_user, Dialect::of(resource.template.probe))
    else {
        return Ok(None);
    };
    let statements = user_statements(dialect, user, resource.database.as_deref());
    let kind = match dialect {
        Dialect::Postgres => Probe::Postgres,
        Dialect::Mysql => Probe::Mysql,
    };
    Ok(Some(
        match crate::probe::run_sql(kind, &master, &statements, USER_SETUP_TIMEOUT).await {
            Ok(()) => UserSetup::Done { user: user.clone() },
            Err(e) => UserSetup::NotDone {
                user: user.clone(),
                reason: e.0,
                statements,
            },
        },
    ))
}
