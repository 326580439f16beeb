//! The cloud runtime: RDS DB instances (Postgres, MySQL, MariaDB), ElastiCache replication
//! groups (Redis, Valkey) and cache clusters (Memcached), found by their deterministic
//! identifier `{project}-{resource}` and confirmed by their `provision:*` tags. No state file:
//! AWS is the state. Passwords live in Secrets Manager under `provision/{project}/{resource}`.

mod adopt;
mod applied;
mod aurora;
mod elasticache;
mod expiry;
pub mod iam_auth;
pub mod network;
mod rds;
mod restore;
mod secrets;
mod serverless_cache;
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

use std::collections::HashMap;

use aws_sdk_elasticache::types::AuthTokenUpdateStrategyType;

use crate::catalog::CloudService;
use crate::cloud::diff::{Desired, Field, Ownership, Readiness, diff};
use crate::deadline::Deadline;
use crate::error::{AwsMissing, Error};
use crate::links::Endpoint;
use crate::plan::{CloudPlan, PlannedResource};
use crate::progress::Progress;
use crate::secret::Secret;
use secrets::SecretState;

pub use crate::cloud::diff::{Change, Observed};
pub use network::Placement;
pub use serverless_cache::APP_USER as SERVERLESS_CACHE_USER;

/// The desired state `diff` compares AWS with, from the plan.
pub fn desired<'a>(
    resource: &'a PlannedResource,
    cloud: &'a CloudPlan,
    placement: &'a Placement,
) -> Desired<'a> {
    Desired {
        service: cloud.service,
        engine: &cloud.engine,
        version: &cloud.asked_version,
        line: &cloud.version_line,
        major_parts: resource.template.cloud.major_parts,
        config: &cloud.config,
        security_groups: &placement.security_group_ids,
        publicly_accessible: cloud.publicly_accessible,
        parameter_group: cloud.parameter_group.as_ref().map(|g| g.name.as_str()),
    }
}

/// Not ours to adopt, change or report on: the identifier is `{project}-{resource}`, so
/// project `a` with service `b-c` and project `a-b` with service `c` would otherwise share one
/// database.
pub fn foreign(observed: &Observed, cloud: &CloudPlan) -> Option<Error> {
    match observed.ownership(&cloud.project, &cloud.stage, &cloud.resource) {
        Ownership::Foreign(owner) => Some(Error::NotOurs {
            identifier: cloud.identifier.clone(),
            owner,
        }),
        Ownership::Ours | Ownership::Unknown => None,
    }
}

/// A resource tagged with this project that the manifest no longer has.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    pub identifier: String,
    pub kind: &'static str,
    pub resource: String,
    /// Its `provision:stage` tag (absent: the default stage).
    pub stage: crate::names::Stage,
    /// Its `provision:expires-at` tag, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When AWS says it was created (RFC 3339), where it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub status: String,
    #[serde(skip)]
    pub deletion_protection: bool,
    #[serde(skip)]
    pub service: Option<CloudService>,
    /// What AWS reports it is billed on (class, nodes, storage), for `stages`' estimate.
    #[serde(skip)]
    pub billed: Option<crate::cloud::cost::Billed>,
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
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    elasticache: aws_sdk_elasticache::Client,
    secrets: aws_sdk_secretsmanager::Client,
    pub region: String,
    /// Credentials and clock, for signing IAM database authentication tokens.
    sdk: aws_config::SdkConfig,
    log: Arc<CallLog>,
    /// Versions AWS offers per parameter group family, asked once per run (held across the
    /// call, so that parallel creates of one type ask once).
    offered: tokio::sync::Mutex<HashMap<String, Option<Vec<String>>>>,
    /// The project-wide groups (DB parameter and subnet groups) creates of this run share.
    groups: std::sync::Mutex<RunGroups>,
}

/// The DB parameter and subnet groups this run made, and how many of its creates are using
/// each right now: a create AWS refuses removes a group only when this run made it and no
/// other create of this run still needs it (never one an earlier run made).
#[derive(Debug, Default)]
struct RunGroups {
    made: std::collections::HashSet<String>,
    users: HashMap<String, usize>,
}

/// AWS answered the request with a refusal, so it created nothing: a service error, not a
/// server fault (after which the resource may exist).
fn refused(e: &Error) -> bool {
    matches!(e, Error::Aws { code: Some(code), .. }
        if !matches!(code.as_str(), "InternalFailure" | "InternalError" | "ServiceUnavailable" | "ServiceUnavailableException"))
}

/// What one batch of reads found for every planned resource, so that a run where nothing
/// changes makes a call or two per kind rather than several per database.
#[derive(Debug, Default)]
pub struct Prefetched {
    /// RDS instances by identifier (absent: none).
    rds: Option<HashMap<String, Observed>>,
    /// The project's secrets by name (absent: none).
    secrets: Option<HashMap<String, SecretState>>,
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
                missing: AwsMissing::Region,
                reason: "no region in the manifest (`x-provision.cloud.region`) or the environment"
                    .into(),
            })?;
        if config.credentials_provider().is_none() {
            return Err(Error::AwsUnavailable {
                missing: AwsMissing::Credentials,
                reason: "no credentials provider is configured".into(),
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
        let secrets = secrets.interceptor(interceptor.clone()).build();
        let mut ec2 = aws_sdk_ec2::config::Builder::from(&config);
        ec2.set_endpoint_url(endpoint_for("AWS_ENDPOINT_URL_EC2"));
        let ec2 = ec2.interceptor(interceptor).build();
        Ok(Self {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            rds: aws_sdk_rds::Client::from_conf(rds),
            elasticache: aws_sdk_elasticache::Client::from_conf(elasticache),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
            region,
            sdk: config,
            log,
            offered: tokio::sync::Mutex::default(),
            groups: std::sync::Mutex::default(),
        })
    }

    /// A cloud over given clients: for tests with mocked AWS responses.
    #[cfg(test)]
    fn from_clients(
        rds: aws_sdk_rds::Client,
        elasticache: aws_sdk_elasticache::Client,
        secrets: aws_sdk_secretsmanager::Client,
    ) -> Self {
        // Never called by these tests: a closed local port.
        let ec2 = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Self {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            rds,
            elasticache,
            secrets,
            region: "us-east-1".into(),
            sdk: aws_config::SdkConfig::builder().build(),
            log: Arc::new(CallLog {
                verbose: false,
                calls: AtomicUsize::new(0),
            }),
            offered: tokio::sync::Mutex::default(),
            groups: std::sync::Mutex::default(),
        }
    }

    /// A fresh IAM database authentication token for `user` at `host:port` (signed here: no
    /// AWS call), for `run` to refresh a long-lived program's token file.
    pub async fn iam_token(&self, host: &str, port: u16, user: &str) -> Result<Secret, Error> {
        iam_auth::token(&self.sdk, &self.region, host, port, user).await
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
            CloudService::AuroraServerless => aurora::observe(&self.rds, &cloud.identifier).await,
            CloudService::ElasticacheServerless => {
                serverless_cache::observe(&self.elasticache, &cloud.identifier).await
            }
        }
    }

    /// As `observe`, from what `prefetch` read where it has the answer.
    pub async fn observe_with(
        &self,
        cloud: &CloudPlan,
        prefetched: &Prefetched,
    ) -> Result<Option<Observed>, Error> {
        match (&prefetched.rds, cloud.service) {
            (Some(found), CloudService::Rds) => Ok(found.get(&cloud.identifier).cloned()),
            _ => self.observe(cloud).await,
        }
    }

    /// Reads every planned RDS instance (one paginated describe) and the project's secrets
    /// (one paginated list) at once. A failure here is not fatal: `converge` then reads each
    /// resource on its own.
    pub async fn prefetch(&self, project: &str, clouds: &[&CloudPlan]) -> Prefetched {
        let rds_ids: Vec<String> = clouds
            .iter()
            .filter(|c| c.service == CloudService::Rds)
            .map(|c| c.identifier.clone())
            .collect();
        let with_secrets = clouds
            .iter()
            .filter(|c| c.service != CloudService::ElasticacheCluster)
            .count();
        let (rds, secrets) = futures_util::future::join(
            async {
                if rds_ids.len() < 2 {
                    return None;
                }
                rds::observe_many(&self.rds, &rds_ids).await.ok()
            },
            async {
                if with_secrets < 2 {
                    return None;
                }
                secrets::project_states(&self.secrets, project).await.ok()
            },
        )
        .await;
        Prefetched { rds, secrets }
    }

    /// The AWS version to create with: what AWS offers on the manifest's line
    /// (DescribeDBEngineVersions / DescribeCacheEngineVersions, once per family and run),
    /// else the template's table (the plan's `engine_version`).
    async fn version_for(&self, resource: &PlannedResource, cloud: &CloudPlan) -> String {
        // Serverless kinds are created with the plan's version (`model::serverless`).
        if matches!(
            cloud.service,
            CloudService::AuroraServerless | CloudService::ElasticacheServerless
        ) {
            return cloud.engine_version.clone();
        }
        let family = resource.template.cloud.family_of(&cloud.version_line);
        let mut known = self.offered.lock().await;
        let offered = match known.get(&family) {
            Some(o) => o.clone(),
            None => {
                let o = match cloud.service {
                    CloudService::Rds => {
                        rds::offered_versions(&self.rds, &cloud.engine, &family).await
                    }
                    _ => {
                        elasticache::offered_versions(&self.elasticache, &cloud.engine, &family)
                            .await
                    }
                };
                known.insert(family, o.clone());
                o
            }
        };
        drop(known);
        offered
            .and_then(|o| {
                crate::catalog::pick_version(&o, &cloud.asked_version, &cloud.version_line)
            })
            .unwrap_or_else(|| cloud.engine_version.clone())
    }

    /// The state of the resource's secret (from the prefetched list when there is one);
    /// `None` for a kind without a password (Memcached).
    async fn secret_state(
        &self,
        cloud: &CloudPlan,
        prefetched: &Prefetched,
    ) -> Result<Option<SecretState>, Error> {
        if cloud.service == CloudService::ElasticacheCluster {
            return Ok(None);
        }
        Ok(Some(match &prefetched.secrets {
            Some(all) => all
                .get(&cloud.secret_name)
                .copied()
                .unwrap_or(SecretState::Missing),
            None => secrets::state(&self.secrets, &cloud.secret_name).await?,
        }))
    }

    /// Creates what is missing, applies safe changes in an order AWS accepts (waiting for
    /// `available` between them), finishes any password reset, and waits until available.
    pub async fn converge(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
        placement: &Placement,
        prefetched: &Prefetched,
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<Observed, Error> {
        let name = resource.name.as_str();
        let observed = self.observe_with(cloud, prefetched).await?;
        if let Some(foreign) = observed.as_ref().and_then(|o| foreign(o, cloud)) {
            return Err(foreign);
        }
        crate::cloud::adopt::still_there(name, cloud, observed.as_ref())?;
        let secret = self.secret_state(cloud, prefetched).await?;
        // A password the database must be given (a lost secret, an interrupted reset).
        let (acted, reset, restored) = match &observed {
            None => {
                let reset = self
                    .create(resource, cloud, placement, secret, progress)
                    .await?;
                let restored = reset.is_some();
                (true, reset, restored)
            }
            Some(current) => {
                let reset = self
                    .password_to_restore(name, cloud, secret, progress)
                    .await?;
                self.refresh_expiry(name, cloud, current, progress).await?;
                // An Aurora cluster an interrupted create left without its writer.
                if current.serverless.as_ref().is_some_and(|s| !s.writer) {
                    progress.say(name, "creating the missing db.serverless writer instance");
                    aurora::create_writer(&self.rds, cloud).await?;
                }
                let changes = diff(&desired(resource, cloud, placement), current);
                applied::say_drift(name, &changes, current, progress);
                let unsafe_changes: Vec<Change> =
                    changes.iter().filter(|c| !c.safe).cloned().collect();
                if !unsafe_changes.is_empty() {
                    return Err(Error::UnsafeChange {
                        resource: name.to_owned(),
                        identifier: cloud.identifier.clone(),
                        changes: unsafe_changes.iter().map(Change::held).collect(),
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
                    // Nothing to do and nothing to wait for: no second describe. The IAM
                    // user is still made, so that a run from where the database is
                    // reachable finishes what an earlier run could not (its SQL is idempotent).
                    if current.readiness() == Readiness::Available && reset.is_none() {
                        // A resource made before the record existed gets it now.
                        self.write_applied(resource, cloud, placement, current)
                            .await?;
                        if current.iam_auth == Some(true) {
                            self.ensure_iam_user(resource, cloud, current, progress)
                                .await?;
                        }
                        return Ok(current.clone());
                    }
                    (false, reset, false)
                } else {
                    self.modify(
                        name, cloud, placement, current, &changes, progress, deadline,
                    )
                    .await?;
                    (true, reset, false)
                }
            }
        };
        let mut ready = self
            .wait_available(name, cloud, progress, deadline, acted)
            .await?;
        if restored {
            restore::crash_point("restore-available");
            ready = self
                .settle_restored(name, resource, cloud, placement, ready, progress, deadline)
                .await?;
        }
        if let Some(password) = reset {
            self.reset_password(name, cloud, &password, progress, deadline)
                .await?;
            secrets::mark_pending(&self.secrets, &cloud.secret_name, false).await?;
            ready = self
                .wait_available(name, cloud, progress, deadline, true)
                .await?;
        }
        if let Some(foreign) = foreign(&ready, cloud) {
            return Err(foreign);
        }
        // In the same run that changed it: what it now has is what provision applied.
        self.write_applied(resource, cloud, placement, &ready)
            .await?;
        if ready.iam_auth == Some(true) {
            self.ensure_iam_user(resource, cloud, &ready, progress)
                .await?;
        }
        Ok(ready)
    }

    /// Makes the database user IAM authentication logs in as, as the master user. Where
    /// provision cannot reach the database (a VPC it is not in), it says so with the
    /// statements to run, and goes on: the database itself is in place.
    async fn ensure_iam_user(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
        ready: &Observed,
        progress: &Progress,
    ) -> Result<(), Error> {
        let (Some(host), Some(port)) = (ready.address.clone(), ready.port) else {
            return Ok(());
        };
        let password = secrets::get(&self.secrets, cloud).await?;
        let store = crate::tls::Store::of(&cloud.project);
        store.ensure_rds_bundle()?;
        let master = Endpoint {
            host,
            port,
            tls: true,
            ca_file: Some(store.rds_ca_file()),
            username: resource.username.clone(),
            password,
            database: resource.database.clone(),
        };
        match iam_auth::ensure_user(resource, cloud, master).await? {
            Some(iam_auth::UserSetup::Done { user }) => {
                progress.say(
                    &resource.name,
                    &format!("IAM database user {user} is in place (role rds_iam / AWSAuthenticationPlugin)"),
                );
            }
            Some(iam_auth::UserSetup::NotDone {
                user,
                reason,
                statements,
            }) => {
                progress.say(
                    &resource.name,
                    &format!(
                        "warning: could not make IAM database user {user} on {} as the master user ({reason}); run `provision --cloud` where the database is reachable (inside its VPC), or run as the master user:\n    {}",
                        cloud.identifier,
                        statements.join(";\n    ")
                    ),
                );
            }
            None => {}
        }
        Ok(())
    }

    /// Creates a missing resource: the password first (stored in its secret, or the stored one
    /// reused), then the resource with the groups its plan names. A create AWS refuses undoes
    /// what this run made for it. With `from_snapshot`, the snapshot is found (and checked)
    /// before anything is made; an RDS restore keeps the snapshot's password, so the stored
    /// one is marked pending first and returned: the caller gives it to the instance once it
    /// is `available`.
    #[allow(
        clippy::too_many_lines,
        reason = "one create per kind of resource, each with the groups and secret it needs"
    )]
    async fn create(
        &self,
        resource: &PlannedResource,
        cloud: &CloudPlan,
        placement: &Placement,
        secret: Option<SecretState>,
        progress: &Progress,
    ) -> Result<Option<Secret>, Error> {
        let name = resource.name.as_str();
        // The record of what is applied goes with the create's own tags: no second call.
        let recorded = applied::with_record(resource, cloud, placement);
        let cloud = &recorded;
        let snapshot = self.snapshot_for(resource, cloud).await?;
        let restoring_rds = snapshot.is_some() && cloud.service == CloudService::Rds;
        // The secret's state before this run stored a password in it, when it did.
        let mut stored = None;
        let password = match secret {
            None => None,
            Some(SecretState::Present { pending }) => {
                if restoring_rds && !pending {
                    secrets::mark_pending(&self.secrets, &cloud.secret_name, true).await?;
                }
                Some(secrets::value(&self.secrets, &cloud.secret_name).await?)
            }
            Some(state) => {
                let password =
                    secrets::store_new(&self.secrets, cloud, state, restoring_rds).await?;
                stored = Some(state);
                Some(password)
            }
        };
        if restoring_rds {
            restore::crash_point("restore-secret-stored");
        }
        let version = self.version_for(resource, cloud).await;
        progress.say(
            name,
            &match &snapshot {
                Some(s) => format!(
                    "creating {} {} from snapshot {}",
                    kind(cloud.service),
                    cloud.identifier,
                    s.describe()
                ),
                None => format!(
                    "creating {} {} ({} {version})",
                    kind(cloud.service),
                    cloud.identifier,
                    cloud.engine
                ),
            },
        );
        let groups = self.claim_groups(cloud, placement);
        let mut made = Vec::new();
        let created = match cloud.service {
            CloudService::Rds if let Some(s) = &snapshot => {
                rds::restore(&self.rds, cloud, placement, &s.identifier, &mut made).await
            }
            CloudService::Rds => {
                rds::create(
                    &self.rds,
                    resource,
                    cloud,
                    placement,
                    &version,
                    password.as_ref(),
                    &mut made,
                )
                .await
            }
            CloudService::ElasticacheReplicationGroup => {
                elasticache::create_group(
                    &self.elasticache,
                    resource,
                    cloud,
                    placement,
                    &version,
                    password.as_ref(),
                    snapshot.as_ref().map(|s| s.identifier.as_str()),
                )
                .await
            }
            CloudService::ElasticacheCluster => {
                elasticache::create_cluster(&self.elasticache, cloud, placement, &version).await
            }
            CloudService::AuroraServerless => {
                aurora::create(
                    &self.rds,
                    resource,
                    cloud,
                    placement,
                    password.as_ref(),
                    &mut made,
                )
                .await
            }
            CloudService::ElasticacheServerless => {
                serverless_cache::create(&self.elasticache, cloud, placement, password.as_ref())
                    .await
            }
        };
        let unused = self.release_groups(&groups, &made);
        if let Err(e) = created {
            if refused(&e) {
                self.undo_refused_create(name, cloud, placement, stored, &unused, progress)
                    .await;
            }
            return Err(e);
        }
        if restoring_rds {
            restore::crash_point("restore-requested");
            return Ok(password);
        }
        if secret == Some(SecretState::Present { pending: true }) {
            // Created with the stored password: nothing left to reset.
            secrets::mark_pending(&self.secrets, &cloud.secret_name, false).await?;
        }
        Ok(None)
    }

    /// The password an existing resource must be given, from its secret's state: a secret that
    /// was lost or scheduled for deletion is made anew (the password reset follows), an
    /// interrupted reset is finished.
    async fn password_to_restore(
        &self,
        name: &str,
        cloud: &CloudPlan,
        secret: Option<SecretState>,
        progress: &Progress,
    ) -> Result<Option<Secret>, Error> {
        Ok(match secret {
            Some(state @ (SecretState::Missing | SecretState::Scheduled)) => {
                progress.say(
                    name,
                    &format!(
                        "warning: secret {} was {}; recreated it and reset the password of {}",
                        cloud.secret_name,
                        if state == SecretState::Missing {
                            "missing"
                        } else {
                            "scheduled for deletion"
                        },
                        cloud.identifier
                    ),
                );
                Some(secrets::store_new(&self.secrets, cloud, state, true).await?)
            }
            Some(SecretState::Present { pending: true }) => {
                progress.say(
                    name,
                    &format!(
                        "warning: finishing an interrupted password reset of {} (secret {})",
                        cloud.identifier, cloud.secret_name
                    ),
                );
                Some(secrets::value(&self.secrets, &cloud.secret_name).await?)
            }
            _ => None,
        })
    }

    /// Applies safe changes in an order AWS accepts, waiting for `available` before each.
    #[allow(
        clippy::too_many_arguments,
        reason = "one resource's plan, placement, live state and changes, and the run's progress and deadline"
    )]
    async fn modify(
        &self,
        name: &str,
        cloud: &CloudPlan,
        placement: &Placement,
        current: &Observed,
        changes: &[Change],
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<(), Error> {
        let list: Vec<String> = changes
            .iter()
            .map(|c| format!("{} {} -> {}", c.field, c.from, c.to))
            .collect();
        progress.say(
            name,
            &format!("modifying {}: {}", cloud.identifier, list.join(", ")),
        );
        // AWS takes changes only from an available resource.
        if current.readiness() != Readiness::Available {
            self.wait_available(name, cloud, progress, deadline, false)
                .await?;
        }
        match cloud.service {
            CloudService::Rds => {
                rds::modify(&self.rds, cloud, placement, changes).await?;
            }
            CloudService::ElasticacheReplicationGroup => {
                if changes.iter().any(|c| c.field == Field::Replicas) {
                    elasticache::change_replicas(&self.elasticache, cloud, current).await?;
                    if elasticache::modifies_group(changes) {
                        self.wait_available(name, cloud, progress, deadline, false)
                            .await?;
                    }
                }
                if elasticache::modifies_group(changes) {
                    elasticache::modify_group(&self.elasticache, cloud, changes).await?;
                }
            }
            CloudService::AuroraServerless => aurora::modify(&self.rds, cloud, changes).await?,
            CloudService::ElasticacheServerless => {
                serverless_cache::modify(&self.elasticache, cloud).await?;
            }
            CloudService::ElasticacheCluster => {}
        }
        Ok(())
    }

    /// Counts this create as a user of the project-wide groups its plan names.
    fn claim_groups(&self, cloud: &CloudPlan, placement: &Placement) -> Vec<String> {
        let names: Vec<String> = cloud
            .parameter_group
            .iter()
            .map(|g| g.name.clone())
            .chain(placement.subnet_group.clone())
            .filter(|_| cloud.service == CloudService::Rds)
            .collect();
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for name in &names {
            *groups.users.entry(name.clone()).or_default() += 1;
        }
        names
    }

    /// Ends this create's use of its groups (`made`: those it created); returns the groups
    /// this run made that no create of this run uses any more.
    fn release_groups(&self, claimed: &[String], made: &[String]) -> Vec<String> {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        groups.made.extend(made.iter().cloned());
        let mut unused = Vec::new();
        for name in claimed {
            let users = groups.users.entry(name.clone()).or_default();
            *users = users.saturating_sub(1);
            if *users == 0 && groups.made.contains(name) {
                unused.push(name.clone());
            }
        }
        unused
    }

    /// After AWS refused a create: removes what this run made for it (the secret it stored a
    /// password in, the groups this run made that nothing else of this run uses), and says
    /// what it removed. What an earlier run made stays.
    async fn undo_refused_create(
        &self,
        name: &str,
        cloud: &CloudPlan,
        placement: &Placement,
        stored: Option<SecretState>,
        groups: &[String],
        progress: &Progress,
    ) {
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        match stored {
            // Made by this run and never given to a database: gone at once, not scheduled.
            Some(SecretState::Missing) => {
                match secrets::forget(&self.secrets, &cloud.secret_name).await {
                    Ok(()) => removed.push(format!("secret {}", cloud.secret_name)),
                    Err(e) => kept.push(format!("secret {} ({})", cloud.secret_name, e.summary())),
                }
            }
            // Restored by this run: scheduled for deletion again, as it was.
            Some(SecretState::Scheduled) => {
                match secrets::delete(&self.secrets, &cloud.secret_name).await {
                    Ok(_) => removed.push(format!(
                        "secret {} (scheduled for deletion again, as before)",
                        cloud.secret_name
                    )),
                    Err(e) => kept.push(format!("secret {} ({})", cloud.secret_name, e.summary())),
                }
            }
            Some(SecretState::Present { .. }) | None => {}
        }
        for group in groups {
            let (what, result) = if placement.subnet_group.as_deref() == Some(group.as_str()) {
                (
                    "DB subnet group",
                    rds::delete_subnet_group(&self.rds, group, &cloud.project, &cloud.stage)
                        .await
                        .map(|_| ()),
                )
            } else {
                (
                    "DB parameter group",
                    rds::delete_parameter_group(&self.rds, group).await,
                )
            };
            match result {
                Ok(()) => {
                    self.groups
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .made
                        .remove(group);
                    removed.push(format!("{what} {group}"));
                }
                Err(e) => kept.push(format!("{what} {group} ({})", e.summary())),
            }
        }
        if !removed.is_empty() {
            progress.say(
                name,
                &format!(
                    "AWS refused to create {}; removed what this run made for it: {}",
                    cloud.identifier,
                    removed.join(", ")
                ),
            );
        }
        if !kept.is_empty() {
            progress.say(
                name,
                &format!(
                    "warning: AWS refused to create {}; could not remove what this run made for it: {}",
                    cloud.identifier,
                    kept.join(", ")
                ),
            );
        }
    }

    /// Gives the database the stored password: RDS takes it at once; ElastiCache takes it in
    /// two steps (ROTATE, then SET), each from `available`.
    async fn reset_password(
        &self,
        name: &str,
        cloud: &CloudPlan,
        password: &Secret,
        progress: &Progress,
        deadline: Deadline,
    ) -> Result<(), Error> {
        match cloud.service {
            CloudService::Rds => rds::reset_password(&self.rds, &cloud.identifier, password).await,
            CloudService::ElasticacheReplicationGroup => {
                elasticache::token_step(
                    &self.elasticache,
                    &cloud.identifier,
                    password,
                    AuthTokenUpdateStrategyType::Rotate,
                )
                .await?;
                self.wait_available(name, cloud, progress, deadline, true)
                    .await?;
                elasticache::token_step(
                    &self.elasticache,
                    &cloud.identifier,
                    password,
                    AuthTokenUpdateStrategyType::Set,
                )
                .await
            }
            CloudService::AuroraServerless => {
                aurora::reset_password(&self.rds, &cloud.identifier, password).await
            }
            CloudService::ElasticacheServerless => {
                serverless_cache::set_password(
                    &self.elasticache,
                    &crate::names::cache_app_user(&cloud.identifier),
                    password,
                )
                .await
            }
            CloudService::ElasticacheCluster => Ok(()),
        }
    }

    /// Polls until `available` (or usable: `storage-optimization`), with AWS's status shown
    /// as it changes. Bounded by the deadline (real RDS takes 5-15 minutes to create); a
    /// terminal status ends it at once with AWS's word and a hint. `changed`: a call was just
    /// made, so the first describe may still show the old state: it waits a moment first.
    async fn wait_available(
        &self,
        name: &str,
        cloud: &CloudPlan,
        progress: &Progress,
        deadline: Deadline,
        changed: bool,
    ) -> Result<Observed, Error> {
        let mut last = String::new();
        let mut pause = Duration::from_millis(500);
        if changed {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        loop {
            let observed = self.observe(cloud).await?.ok_or_else(|| Error::Aws {
                op: "find",
                target: cloud.identifier.clone(),
                code: None,
                message: "it disappeared while provision waited for it".into(),
                source: None,
            })?;
            if observed.status != last {
                progress.say(name, &format!("status: {}", observed.status));
                last.clone_from(&observed.status);
            }
            match observed.readiness() {
                Readiness::Available => return Ok(observed),
                Readiness::Usable => {
                    progress.say(
                        name,
                        "usable while AWS optimizes its storage (that may take hours; nothing waits for it)",
                    );
                    return Ok(observed);
                }
                Readiness::Terminal(hint) => {
                    return Err(Error::CloudTerminal {
                        resource: name.to_owned(),
                        identifier: cloud.identifier.clone(),
                        status: observed.status,
                        hint,
                    });
                }
                Readiness::Deleting => {
                    return Err(Error::CloudTerminal {
                        resource: name.to_owned(),
                        identifier: cloud.identifier.clone(),
                        status: observed.status,
                        hint: "it is being deleted: once it is gone, `provision --cloud` creates it anew",
                    });
                }
                Readiness::Transitional => {}
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
        if let Some(foreign) = foreign(&observed, cloud) {
            return Err(foreign);
        }
        let (Some(host), Some(port)) = (observed.address, observed.port) else {
            return Err(Error::Aws {
                op: "read the endpoint of",
                target: cloud.identifier.clone(),
                code: None,
                message: format!("no endpoint yet (status `{}`)", observed.status),
                source: None,
            });
        };
        if cloud.config.iam_auth
            && let Some(user) = &cloud.iam_user
        {
            // Until `up` has turned it on, a token would open nothing.
            if observed.iam_auth != Some(true) {
                return Err(Error::Aws {
                    op: "hand out an IAM token for",
                    target: cloud.identifier.clone(),
                    code: None,
                    message: "IAM database authentication is not enabled on it yet: run `provision --cloud` first".into(),
                    source: None,
                });
            }
            let token = iam_auth::token(&self.sdk, &self.region, &host, port, user).await?;
            return Ok(Endpoint {
                host,
                port,
                tls: true,
                ca_file: Some(crate::tls::Store::of(&cloud.project).rds_ca_file()),
                username: Some(user.clone()),
                password: Some(token),
                database: resource.database.clone(),
            });
        }
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
                        source: None,
                    })?,
            )
        };
        Ok(Endpoint {
            host,
            port,
            tls: true,
            // RDS certificates chain to AWS's RDS CAs; ElastiCache's to public roots.
            ca_file: matches!(
                cloud.service,
                CloudService::Rds | CloudService::AuroraServerless
            )
            .then(|| crate::tls::Store::of(&cloud.project).rds_ca_file()),
            // A serverless cache's clients log in as its RBAC user; a replication group's
            // (AUTH token) and Memcached's name none.
            username: match cloud.service {
                CloudService::ElasticacheServerless => Some(serverless_cache::APP_USER.to_owned()),
                CloudService::ElasticacheReplicationGroup | CloudService::ElasticacheCluster => {
                    None
                }
                CloudService::Rds | CloudService::AuroraServerless => resource.username.clone(),
            },
            password,
            database: resource.database.clone(),
        })
    }

    /// Every resource tagged `provision:project=project`, as (identifier, kind, resource tag).
    pub async fn tagged(&self, project: &str) -> Result<Vec<Orphan>, Error> {
        self.tagged_on(project, None, &[]).await
    }

    /// As `tagged`, for one stage's search: with `only`, caches whose description says they
    /// belong to another stage are passed over without reading their tags (see
    /// `elasticache::tagged`); `known` identifiers (read already) are skipped. What is
    /// returned is still proven by tags.
    pub async fn tagged_on(
        &self,
        project: &str,
        only: Option<&crate::names::Stage>,
        known: &[String],
    ) -> Result<Vec<Orphan>, Error> {
        let (mut found, caches, clusters, serverless) = futures_util::future::join4(
            rds::tagged(&self.rds, project),
            elasticache::tagged(&self.elasticache, project, only, known),
            aurora::tagged(&self.rds, project),
            serverless_cache::tagged(&self.elasticache, project),
        )
        .await;
        if let Ok(found) = &mut found {
            found.extend(caches?);
            found.extend(clusters?);
            found.extend(serverless?);
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
            Some(CloudService::AuroraServerless) => {
                aurora::delete(&self.rds, &found.identifier, final_snapshot).await
            }
            Some(CloudService::ElasticacheServerless) => {
                serverless_cache::delete(&self.elasticache, &found.identifier, final_snapshot).await
            }
            None => Ok(()),
        }
    }

    pub async fn delete_secret(
        &self,
        project: &str,
        stage: &crate::names::Stage,
        resource: &str,
    ) -> Result<bool, Error> {
        secrets::delete(
            &self.secrets,
            &crate::names::stage_secret(project, stage, resource),
        )
        .await
    }

    pub async fn delete_secret_named(&self, name: &str) -> Result<bool, Error> {
        secrets::delete(&self.secrets, name).await
    }

    /// The stage's secrets that are not scheduled for deletion.
    pub async fn live_secrets(
        &self,
        project: &str,
        stage: &crate::names::Stage,
    ) -> Result<Vec<String>, Error> {
        // A released database's record keeps its credentials: never swept up here.
        let released: Vec<String> = if stage.is_default() {
            self.adoption_records(project)
                .await?
                .into_iter()
                .filter(|r| r.released)
                .map(|r| r.secret_name)
                .collect()
        } else {
            Vec::new()
        };
        let mut names: Vec<String> = secrets::project_states(&self.secrets, project)
            .await?
            .into_iter()
            .filter(|(n, s)| {
                *s != SecretState::Scheduled
                    && crate::names::is_stage_secret(project, stage, n)
                    && !released.contains(n)
            })
            .map(|(n, _)| n)
            .collect();
        names.sort();
        Ok(names)
    }

    /// The security group provision owns for the project, if it exists (no call creates it).
    pub async fn owned_security_group(
        &self,
        project: &str,
        stage: &crate::names::Stage,
    ) -> Result<Option<String>, Error> {
        network::find_owned(&self.ec2, project, stage).await
    }

    /// Checks and makes the network (see `network`): before anything is created.
    pub async fn prepare_network(
        &self,
        wanted: &network::Wanted,
    ) -> Result<network::Prepared, Error> {
        network::prepare(&self.ec2, wanted).await
    }

    /// Deletes the DB and cache subnet groups named after the project (`{project}-provision`).
    /// AWS refuses while a database still uses one (real deletes take minutes): that is
    /// reported, and `destroy` run again finishes it. Each: (what, deleted?).
    pub async fn delete_network(
        &self,
        project: &str,
        stage: &crate::names::Stage,
    ) -> Vec<(String, Result<bool, Error>)> {
        let name = crate::names::stage_network(project, stage);
        let (db, cache) = futures_util::future::join(
            rds::delete_subnet_group(&self.rds, &name, project, stage),
            elasticache::delete_subnet_group(&self.elasticache, &name, project, stage),
        )
        .await;
        let group = network::delete_group(&self.ec2, project, stage).await;
        let mut out = vec![
            (format!("DB subnet group {name}"), db),
            (format!("cache subnet group {name}"), cache),
            (format!("security group {name}"), group),
        ];
        out.extend(rds::delete_parameter_groups(&self.rds, project, stage).await);
        out.extend(aurora::delete_parameter_groups(&self.rds, project, stage).await);
        out
    }
}

pub fn kind(service: CloudService) -> &'static str {
    match service {
        CloudService::Rds => "RDS instance",
        CloudService::ElasticacheReplicationGroup => "ElastiCache replication group",
        CloudService::ElasticacheCluster => "ElastiCache cluster",
        CloudService::AuroraServerless => "Aurora Serverless v2 cluster",
        CloudService::ElasticacheServerless => "ElastiCache serverless cache",
    }
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
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let target = target.to_owned();
    move |e| match &e {
        // Credentials are resolved when the request is sent: a chain that found none fails
        // there, and must not read as a network problem.
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
            if mentions_credentials(&e) =>
        {
            Error::AwsUnavailable {
                missing: AwsMissing::Credentials,
                reason: Box::new(e),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::AwsUnavailable {
            missing: AwsMissing::Endpoint,
            reason: Box::new(e),
        },
        SdkError::ConstructionFailure(_) => Error::AwsUnavailable {
            missing: AwsMissing::Credentials,
            reason: Box::new(e),
        },
        _ => {
            let (code, message) = match e.as_service_error() {
                Some(service) => (
                    service.code().map(str::to_owned),
                    service.message().unwrap_or_default().to_owned(),
                ),
                None => (None, crate::error::one_line(&e)),
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
                    missing: AwsMissing::ValidCredentials,
                    reason: crate::error::Because::new(
                        format!("{}: {message}", code.unwrap_or_default()),
                        e,
                    )
                    .into(),
                };
            }
            Error::Aws {
                op,
                target,
                code,
                message,
                source: Some(Box::new(e)),
            }
        }
    }
}

/// An error that is not the SDK's, on the way to AWS (generating a password, say).
pub(crate) fn aws_error(
    op: &'static str,
    target: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Aws {
        op,
        target: target.to_owned(),
        code: None,
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// Whether a credentials chain that found nothing is behind a failure to send: it must not
/// read as a network problem.
fn mentions_credentials(e: &dyn std::error::Error) -> bool {
    crate::error::one_line(e)
        .to_ascii_lowercase()
        .contains("credential")
}

pub(crate) fn project_tags(cloud: &CloudPlan) -> impl Iterator<Item = (&str, &str)> {
    cloud.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}
