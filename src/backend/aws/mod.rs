//! The cloud runtime: RDS DB instances (Postgres, MySQL, MariaDB), ElastiCache replication
//! groups (Redis, Valkey) and cache clusters (Memcached), found by their deterministic
//! identifier `{project}-{resource}` and confirmed by their `provision:*` tags. No state file:
//! AWS is the state. Passwords live in Secrets Manager under `provision/{project}/{resource}`.

mod elasticache;
mod rds;
mod secrets;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

use super::Deadline;
use crate::catalog::CloudService;
use crate::error::Error;
use crate::links::Endpoint;
use crate::plan::{CloudPlan, PlannedResource};
use crate::plan::{TAG_PROJECT, TAG_RESOURCE};
use crate::progress::Progress;

/// What AWS says about one resource.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Observed {
    pub status: String,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub class: Option<String>,
    pub storage_gb: Option<u32>,
    pub replicas: Option<u32>,
    pub multi_az: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub backup_retention_days: Option<u32>,
    #[serde(skip)]
    pub arn: Option<String>,
    /// Its tags: who it belongs to.
    #[serde(skip)]
    pub tags: Vec<(String, String)>,
}

impl Observed {
    /// Why this resource is not ours to adopt, change or report on: the identifier is
    /// `{project}-{resource}`, so project `a` with service `b-c` and project `a-b` with
    /// service `c` would otherwise share one database.
    pub fn foreign(&self, cloud: &CloudPlan) -> Option<Error> {
        let tag = |key: &str| {
            self.tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let ours = tag(TAG_PROJECT) == Some(cloud.project.as_str())
            && tag(TAG_RESOURCE) == Some(cloud.resource.as_str());
        (!ours).then(|| Error::NotOurs {
            identifier: cloud.identifier.clone(),
            owner: tag(TAG_PROJECT)
                .map(|p| format!("{p}/{}", tag("provision:resource").unwrap_or("?"))),
        })
    }
}

/// One field that differs between the manifest and AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub from: String,
    pub to: String,
    /// Applied in place by `up`; an unsafe one (engine, major version, storage shrink) is
    /// reported and left to a person.
    pub safe: bool,
}

/// A resource tagged with this project that the manifest no longer has.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    pub identifier: String,
    pub kind: &'static str,
    pub resource: String,
    pub status: String,
    #[serde(skip)]
    pub deletion_protection: bool,
    #[serde(skip)]
    pub service: Option<CloudService>,
}

/// Counts and (with `-v`) prints every AWS call, so that a re-run's "no mutating call" can be
/// seen, and tested.
#[derive(Debug)]
struct CallLog {
    verbose: bool,
    calls: AtomicUsize,
}

impl Intercept for CallLogInterceptor {
    fn name(&self) -> &'static str {
        "provision-call-log"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        if self.0.verbose
            && let Some(m) = cfg.load::<Metadata>()
        {
            crate::progress::eprintln(&format!("aws: {}.{}", m.service(), m.name()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct CallLogInterceptor(Arc<CallLog>);

#[derive(Debug)]
pub struct Cloud {
    rds: aws_sdk_rds::Client,
    elasticache: aws_sdk_elasticache::Client,
    secrets: aws_sdk_secretsmanager::Client,
    pub region: String,
    log: Arc<CallLog>,
}

/// Throttling and transient errors are retried with exponential backoff and jitter (the SDK's
/// standard mode), a little more patiently than its default three attempts.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
}

/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`; an empty value counts as unset (the
/// SDK would otherwise try to use it).
fn endpoint_for(service_env: &str) -> Option<String> {
    [service_env, "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

impl Cloud {
    /// Loads credentials and region through aws-config's standard chain (environment,
    /// profiles, SSO, web identity); the manifest's region wins over the environment's.
    pub async fn connect(region: Option<&str>, verbose: bool) -> Result<Self, Error> {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(ToString::to_string)
            .ok_or(Error::AwsUnavailable {
                what: "a region".into(),
                reason: "no region in the manifest (`x-provision.cloud.region`) or the environment"
                    .into(),
                hint: "set `x-provision: {cloud: {region: eu-west-1}}`, or `AWS_REGION`",
            })?;
        if config.credentials_provider().is_none() {
            return Err(Error::AwsUnavailable {
                what: "AWS credentials".into(),
                reason: "no credentials provider is configured".into(),
                hint: "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`",
            });
        }
        let log = Arc::new(CallLog {
            verbose,
            calls: AtomicUsize::new(0),
        });
        let interceptor = CallLogInterceptor(log.clone());
        // The endpoint is decided here rather than by the SDK, so that an empty variable
        // means "unset" instead of an unusable URL.
        let mut rds = aws_sdk_rds::config::Builder::from(&config);
        rds.set_endpoint_url(endpoint_for("AWS_ENDPOINT_URL_RDS"));
        let rds = rds.interceptor(interceptor.clone()).build();
        let mut elasticache = aws_sdk_elasticache::config::Builder::from(&config);
        elasticache.set_endpoint_url(endpoint_for("AWS_ENDPOINT_URL_ELASTICACHE"));
        let elasticache = elasticache.interceptor(interceptor.clone()).build();
        let mut secrets = aws_sdk_secretsmanager::config::Builder::from(&config);
        secrets.set_endpoint_url(endpoint_for("AWS_ENDPOINT_URL_SECRETS_MANAGER"));
        let secrets = secrets.interceptor(interceptor).build();
        Ok(Self {
            rds: aws_sdk_rds::Client::from_conf(rds),
            elasticache: aws_sdk_elasticache::Client::from_conf(elasticache),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
            region,
            log,
        })
    }

    /// A cloud over given clients: for tests with mocked AWS responses.
    #[cfg(test)]
    fn from_clients(
        rds: aws_sdk_rds::Client,
        elasticache: aws_sdk_elasticache::Client,
        secrets: aws_sdk_secretsmanager::Client,
    ) -> Self {
        Self {
            rds,
            elasticache,
            secrets,
            region: "us-east-1".into(),
            log: Arc::new(CallLog {
                verbose: false,
                calls: AtomicUsize::new(0),
            }),
        }
    }

    /// How many AWS calls this process made.
    pub fn calls(&self) -> usize {
        self.log.calls.load(Ordering::Relaxed)
    }

    /// The resource as AWS has it, or `None`.
    pub async fn observe(&self, cloud: &CloudPlan) -> Result<Option<Observed>, Error> {
        match cloud.service {
            CloudService::Rds => rds::observe(&self.rds, &cloud.identifier).await,
            CloudService::ElasticacheReplicationGroup => {
                elasticache::observe_group(&self.elasticache, &cloud.identifier).await
            }
            CloudService::ElasticacheCluster => {
                elasticache::observe_cluster(&self.elasticache, &cloud.identifier).await
            }
        }
    }

    /// Creates what is missing, applies safe changes, and waits until available.
    pub async fn converge(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<Observed, Error> {
        let name = resource.name.as_str();
        let observed = self.observe(cloud).await?;
        if let Some(foreign) = observed.as_ref().and_then(|o| o.foreign(cloud)) {
            return Err(foreign);
        }
        let has_password = cloud.service != CloudService::ElasticacheCluster;
        let password = if has_password {
            let (secret, created) = secrets::get_or_create(&self.secrets, cloud).await?;
            if created && observed.is_some() {
                // The database kept its old password, which nobody has any more: reset it.
                progress.say(
                    name,
                    &format!(
                        "warning: secret {} was missing; recreated it and reset the password of {}",
                        cloud.secret_name, cloud.identifier
                    ),
                );
                match cloud.service {
                    CloudService::Rds => {
                        rds::reset_password(&self.rds, &cloud.identifier, &secret).await?;
                    }
                    _ => {
                        elasticache::reset_token(&self.elasticache, &cloud.identifier, &secret)
                            .await?;
                    }
                }
            }
            Some(secret)
        } else {
            None
        };
        match &observed {
            None => {
                progress.say(
                    name,
                    &format!("creating {} {}", kind(cloud.service), cloud.identifier),
                );
                match cloud.service {
                    CloudService::Rds => {
                        rds::create(&self.rds, resource, cloud, password.as_ref()).await?;
                    }
                    CloudService::ElasticacheReplicationGroup => {
                        elasticache::create_group(
                            &self.elasticache,
                            resource,
                            cloud,
                            password.as_ref(),
                        )
                        .await?;
                    }
                    CloudService::ElasticacheCluster => {
                        elasticache::create_cluster(&self.elasticache, resource, cloud).await?;
                    }
                }
            }
            Some(current) => {
                let changes = diff(cloud, current);
                let unsafe_changes: Vec<Change> =
                    changes.iter().filter(|c| !c.safe).cloned().collect();
                if !unsafe_changes.is_empty() {
                    return Err(Error::UnsafeChange {
                        resource: name.to_owned(),
                        identifier: cloud.identifier.clone(),
                        changes: unsafe_changes,
                    });
                }
                if changes.is_empty() {
                    progress.say(
                        name,
                        &format!(
                            "{} {} exists ({})",
                            kind(cloud.service),
                            cloud.identifier,
                            current.status
                        ),
                    );
                    // Nothing to do and nothing to wait for: no second describe.
                    if current.status == "available" {
                        return Ok(current.clone());
                    }
                } else {
                    let list: Vec<String> = changes
                        .iter()
                        .map(|c| format!("{} {} -> {}", c.field, c.from, c.to))
                        .collect();
                    progress.say(
                        name,
                        &format!("modifying {}: {}", cloud.identifier, list.join(", ")),
                    );
                    match cloud.service {
                        CloudService::Rds => rds::modify(&self.rds, cloud, &changes).await?,
                        CloudService::ElasticacheReplicationGroup => {
                            elasticache::modify_group(&self.elasticache, cloud, current, &changes)
                                .await?;
                        }
                        CloudService::ElasticacheCluster => {}
                    }
                }
            }
        }
        self.wait_available(name, cloud, progress, deadline).await
    }

    /// Polls until `available`, with AWS's status shown as it changes. Bounded by the
    /// deadline; real RDS takes 5-15 minutes to create.
    async fn wait_available(
        &self,
        name: &str,
        cloud: &CloudPlan,
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<Observed, Error> {
        let mut last = String::new();
        let mut pause = Duration::from_millis(500);
        loop {
            let observed = self.observe(cloud).await?.ok_or_else(|| Error::Aws {
                op: "find",
                target: cloud.identifier.clone(),
                code: None,
                message: "it disappeared while provision waited for it".into(),
            })?;
            if observed.status != last {
                progress.say(name, &format!("status: {}", observed.status));
                last.clone_from(&observed.status);
            }
            if observed.status == "available" {
                return Ok(observed);
            }
            if matches!(
                observed.status.as_str(),
                "failed"
                    | "incompatible-parameters"
                    | "incompatible-network"
                    | "storage-full"
                    | "create-failed"
            ) {
                return Err(Error::Aws {
                    op: "create",
                    target: cloud.identifier.clone(),
                    code: None,
                    message: format!("AWS reports status `{}`", observed.status),
                });
            }
            let left = deadline
                .at
                .saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::CloudTimeout {
                    resource: name.to_owned(),
                    identifier: cloud.identifier.clone(),
                    status: observed.status,
                    minutes: deadline.total.as_secs() / 60,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }

    /// The live endpoint and stored password, for `env` and `run`.
    pub async fn endpoint(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
    ) -> Result<Endpoint, Error> {
        let observed = self.observe(cloud).await?.ok_or_else(|| Error::NotUp {
            resource: resource.name.clone(),
            cloud: true,
        })?;
        if let Some(foreign) = observed.foreign(cloud) {
            return Err(foreign);
        }
        let (Some(host), Some(port)) = (observed.address, observed.port) else {
            return Err(Error::Aws {
                op: "read the endpoint of",
                target: cloud.identifier.clone(),
                code: None,
                message: format!("no endpoint yet (status `{}`)", observed.status),
            });
        };
        let password = if cloud.service == CloudService::ElasticacheCluster {
            None
        } else {
            Some(
                secrets::get(&self.secrets, cloud)
                    .await?
                    .ok_or_else(|| Error::Aws {
                        op: "read the secret",
                        target: cloud.secret_name.clone(),
                        code: None,
                        message: "it is missing".into(),
                    })?,
            )
        };
        Ok(Endpoint {
            host,
            port,
            tls: true,
            username: resource.username.clone(),
            password,
            database: resource.database.clone(),
        })
    }

    /// Every resource tagged `provision:project=project`, as (identifier, kind, resource tag).
    pub async fn tagged(&self, project: &str) -> Result<Vec<Orphan>, Error> {
        let (mut found, caches) = futures_util::future::join(
            rds::tagged(&self.rds, project),
            elasticache::tagged(&self.elasticache, project),
        )
        .await;
        if let Ok(found) = &mut found {
            found.extend(caches?);
        }
        found
    }

    /// Deletes one tagged resource, with a final snapshot unless told otherwise.
    pub async fn delete(
        &self,
        found: &Orphan,
        final_snapshot: Option<String>,
    ) -> Result<(), Error> {
        match found.service {
            Some(CloudService::Rds) => {
                rds::delete(&self.rds, &found.identifier, final_snapshot).await
            }
            Some(CloudService::ElasticacheReplicationGroup) => {
                elasticache::delete_group(&self.elasticache, &found.identifier, final_snapshot)
                    .await
            }
            Some(CloudService::ElasticacheCluster) => {
                elasticache::delete_cluster(&self.elasticache, &found.identifier).await
            }
            None => Ok(()),
        }
    }

    pub async fn delete_secret(&self, project: &str, resource: &str) -> Result<bool, Error> {
        secrets::delete(&self.secrets, &crate::plan::secret_name(project, resource)).await
    }
}

pub fn kind(service: CloudService) -> &'static str {
    match service {
        CloudService::Rds => "RDS instance",
        CloudService::ElasticacheReplicationGroup => "ElastiCache replication group",
        CloudService::ElasticacheCluster => "ElastiCache cluster",
    }
}

/// `16.3` -> `16`, `8.0.35` -> `8.0`, `10.11.6` -> `10.11`: the part a major upgrade changes.
fn major(engine: &str, version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    let n = if matches!(engine, "mysql" | "mariadb") {
        2
    } else {
        1
    };
    parts.iter().take(n).copied().collect::<Vec<_>>().join(".")
}

/// What differs, field by field, and whether `up` may apply it in place.
pub fn diff(desired: &CloudPlan, current: &Observed) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |field, from: String, to: String, safe| {
        changes.push(Change {
            field,
            from,
            to,
            safe,
        });
    };
    let c = &desired.config;
    if let Some(engine) = &current.engine
        && *engine != desired.engine
    {
        push("engine", engine.clone(), desired.engine.clone(), false);
    }
    if let Some(version) = &current.engine_version {
        let (have, want) = (
            major(&desired.engine, version),
            major(&desired.engine, &desired.engine_version),
        );
        if have != want {
            push(
                "engine_version",
                version.clone(),
                desired.engine_version.clone(),
                false,
            );
        } else if desired.engine_version.matches('.').count() > have.matches('.').count()
            && *version != desired.engine_version
        {
            // A pinned minor version that differs: a minor upgrade (or downgrade, which AWS refuses).
            push(
                "engine_version",
                version.clone(),
                desired.engine_version.clone(),
                true,
            );
        }
    }
    if let Some(class) = &current.class {
        if *class != c.class && desired.service != CloudService::ElasticacheCluster {
            push("class", class.clone(), c.class.clone(), true);
        } else if *class != c.class {
            push("class", class.clone(), c.class.clone(), false);
        }
    }
    if let (Some(have), Some(want)) = (current.storage_gb, c.storage_gb)
        && have != want
    {
        push(
            "storage_gb",
            have.to_string(),
            want.to_string(),
            want > have,
        );
    }
    if desired.service == CloudService::ElasticacheReplicationGroup
        && let Some(have) = current.replicas
        && have != c.replicas
    {
        push("replicas", have.to_string(), c.replicas.to_string(), true);
    }
    if desired.service != CloudService::ElasticacheCluster {
        if let Some(have) = current.multi_az
            && have != c.multi_az
        {
            push("multi_az", have.to_string(), c.multi_az.to_string(), true);
        }
        if let Some(have) = current.backup_retention_days
            && have != c.backup_retention_days
        {
            push(
                "backup_retention_days",
                have.to_string(),
                c.backup_retention_days.to_string(),
                true,
            );
        }
    }
    if desired.service == CloudService::Rds
        && let Some(have) = current.deletion_protection
        && have != c.deletion_protection
    {
        push(
            "deletion_protection",
            have.to_string(),
            c.deletion_protection.to_string(),
            true,
        );
    }
    changes
}

/// Maps an SDK error to ours: no connection or no credentials is "unavailable" (exit 69); an
/// AWS error keeps its code.
pub(crate) fn sdk_error<E, R>(
    op: &'static str,
    target: &str,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Error + use<E, R>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let target = target.to_owned();
    move |e| match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::AwsUnavailable {
            what: "the AWS endpoint".into(),
            reason: chain(&e),
            hint: "check the network; for an emulator, AWS_ENDPOINT_URL (see localstack/README.md)",
        },
        SdkError::ConstructionFailure(_) => Error::AwsUnavailable {
            what: "AWS credentials".into(),
            reason: chain(&e),
            hint: "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`",
        },
        _ => {
            let (code, message) = match e.as_service_error() {
                Some(service) => (
                    service.code().map(str::to_owned),
                    service.message().unwrap_or_default().to_owned(),
                ),
                None => (None, chain(&e)),
            };
            if matches!(
                code.as_deref(),
                Some(
                    "InvalidClientTokenId"
                        | "UnrecognizedClientException"
                        | "ExpiredToken"
                        | "ExpiredTokenException"
                        | "SignatureDoesNotMatch"
                        | "AuthFailure"
                        | "InvalidSignatureException"
                )
            ) {
                return Error::AwsUnavailable {
                    what: "valid AWS credentials".into(),
                    reason: format!("{}: {message}", code.unwrap_or_default()),
                    hint: "refresh or fix the credentials (`aws sts get-caller-identity` shows who you are)",
                };
            }
            Error::Aws {
                op,
                target,
                code,
                message,
            }
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(crate) fn project_tags(cloud: &CloudPlan) -> impl Iterator<Item = (&str, &str)> {
    cloud.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}
