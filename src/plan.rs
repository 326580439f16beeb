//! The desired state for one target, computed without I/O. Backends consume it; `plan`
//! prints it.

use std::sync::Arc;

use serde::Serialize;

use crate::catalog::{Catalog, CloudService, Template};
use crate::error::Error;
use crate::manifest::{CloudSettings, Manifest};
use crate::model::{self, CloudConfig, Project};
use crate::problem::{Problem, Scope, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Local,
    Cloud,
}

impl Target {
    pub fn scope(self) -> Scope {
        match self {
            Self::Local => Scope::Local,
            Self::Cloud => Scope::Cloud,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Cloud => "cloud",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub project: Project,
    pub target: Target,
    pub resources: Vec<PlannedResource>,
    pub services: Vec<ServiceLinks>,
    /// Warnings for this target, for the caller to print on stderr.
    #[serde(skip)]
    pub warnings: Vec<Problem>,
    /// Every app service, linked or not (`services` lists only those with links).
    #[serde(skip)]
    pub apps: Vec<String>,
    /// The stage the cloud side works on (the default stage locally).
    #[serde(skip)]
    pub stage: StagePlan,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedResource {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Everything known about the type; backends read it here, never look it up again.
    #[serde(skip)]
    pub template: Arc<Template>,
    pub version: String,
    /// Locally, the tag names no version (`latest`, `alpine`, untagged): the version and
    /// where the data goes are the pulled image's, resolved at pull; `version` is then the
    /// cloud's default line, and only the cloud's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub version_resolved_at_pull: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalPlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudPlan>,
}

/// A container (or a native server) on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct LocalPlan {
    pub container: String,
    pub image: String,
    /// The image repository without registry or tag, which selects the env contract.
    pub repository: String,
    /// None for in-memory engines.
    pub volume: Option<String>,
    pub data_path: Option<String>,
    pub container_port: u16,
    /// A host port the manifest fixes; otherwise the backend picks one and keeps it.
    pub host_port: Option<u16>,
    /// The password the service's own Compose settings fix for this machine
    /// (`POSTGRES_PASSWORD`, `MYSQL_PASSWORD_FILE`, `--requirepass`, ...); none: the
    /// backend generates one and keeps it. Never serialized.
    #[serde(skip)]
    pub password: Option<crate::secret::Secret>,
    /// Where `password` comes from (a variable name), for `plan` and `status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_from: Option<String>,
    /// The service's `command:` (server flags), without any password flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The service's `volumes:`: bind mounts to pass on (init scripts, config files), and
    /// any volume on the data path, which then holds the data instead of ours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<crate::manifest::Mount>,
    /// Runs with TLS from the project's CA (`x-provision.local.tls`).
    pub tls: bool,
    /// `x-provision.seed`: the file or directory applied once when the data is first made
    /// (`src/local/seed.rs`), resolved against the manifest's directory. Not serialized: an
    /// absolute path differs per machine.
    #[serde(skip)]
    pub seed: Option<std::path::PathBuf>,
}

/// A DB parameter group provision owns: `{project}-{family}-tls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterGroup {
    pub name: String,
    pub family: String,
    pub parameters: Vec<(String, String)>,
}

/// An AWS resource, with every secure default spelt out.
#[derive(Debug, Clone, Serialize)]
pub struct CloudPlan {
    pub identifier: String,
    /// The project, stage and resource, as the `provision:*` tags name them: what makes an
    /// AWS resource with this identifier ours.
    pub project: String,
    pub stage: Stage,
    pub resource: String,
    /// `standard`, or `ephemeral` for a preview stage (its settings are already in `config`).
    pub profile: Profile,
    /// When `gc` may delete the stage (the `provision:expires-at` tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `--ttl` was given: `up` may then move an existing expiry earlier, not only later.
    #[serde(skip)]
    pub expiry_rule: crate::model::stage::ExpiryRule,
    pub service: CloudService,
    pub engine: String,
    /// The AWS engine version `up` sends when it creates the resource, resolved from the
    /// template's table (`up` asks AWS first where it can).
    pub engine_version: String,
    /// The version the manifest asked for (`16`, `16.8`) and its line (`16`): live versions
    /// are compared on these, so AWS's minor upgrades are no change.
    pub asked_version: String,
    pub version_line: String,
    #[serde(flatten)]
    pub config: CloudConfig,
    pub storage_encrypted: bool,
    pub publicly_accessible: bool,
    pub transit_encryption: bool,
    /// Secrets Manager name holding the generated password.
    pub secret_name: String,
    /// With `iam_auth`: the database user the links name, who logs in with a token
    /// (`cloud::iam_auth`); the master user keeps the stored password, for provision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub subnet_ids: Vec<String>,
    /// The name of the subnet groups and the security group provision owns for the project.
    pub network: String,
    /// The DB or cache subnet group made from `subnet_ids` (none without subnets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_group: Option<String>,
    /// The DB parameter group that makes the server refuse plaintext, with its family and
    /// parameters (RDS; see `cloud.tls_parameters` in the templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_group: Option<ParameterGroup>,
    pub security_group_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Sources admitted on the database's port by the security group provision owns
    /// (`{project}-provision`); empty: no such group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_from: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// What the first create restores from (`x-provision.cloud.from_snapshot`); none on the
    /// stage it names (the source) and without the setting. Once the resource exists it has
    /// no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_snapshot: Option<RestoreSource>,
    /// Set when the resource was adopted (`provision adopt`): `identifier` is then its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted: Option<Adopted>,
}

/// On a planned resource that was adopted (`cloud::adopt`): where its password is, when not
/// in provision's own secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adopted {
    /// The user's own secret (theirs: read, never written or deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_secret: Option<String>,
}

/// Where a restore's snapshot comes from, as identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RestoreSource {
    /// The newest available snapshot (manual or automated) of `identifier`: the same
    /// database of the same project on `stage`.
    LatestOf { stage: Stage, identifier: String },
    /// This snapshot.
    Snapshot { identifier: String },
}

impl RestoreSource {
    /// What `plan` says a create does with it.
    pub fn describe(&self) -> String {
        match self {
            Self::LatestOf { stage, identifier } => {
                format!("restore from the newest snapshot of {identifier} (stage {stage})")
            }
            Self::Snapshot { identifier } => format!("restore from snapshot {identifier}"),
        }
    }
}

/// The restore source of a resource on `stage`, from the manifest's `from_snapshot`.
fn restore_source(
    project: &str,
    stage: &Stage,
    r: &model::Resource<'_>,
    kind: crate::names::Kind,
) -> Option<RestoreSource> {
    match r.cloud.from_snapshot.as_ref()? {
        crate::model::SnapshotSpec::LatestOf(source) if source == stage => None,
        crate::model::SnapshotSpec::LatestOf(source) => Some(RestoreSource::LatestOf {
            stage: source.clone(),
            identifier: crate::names::stage_identifier(project, source, &r.name, kind),
        }),
        crate::model::SnapshotSpec::Named(id) => Some(RestoreSource::Snapshot {
            identifier: id.clone(),
        }),
    }
}

pub use crate::model::stage::{Profile, StagePlan};
/// The tags that mark an AWS resource as provision's, for one project and resource.
use crate::names::{Stage, TAG_EXPIRES_AT, TAG_PROJECT, TAG_RESOURCE, TAG_STAGE, TAG_TYPE};

#[derive(Debug, Clone, Serialize)]
pub struct ServiceLinks {
    pub service: String,
    pub links: Vec<PlannedLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedLink {
    pub resource: String,
    pub prefix: String,
    /// The spelling of `P_URL` (`x-provision.url`), when not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flavour: Option<String>,
    pub variables: Vec<String>,
}

impl PlannedLink {
    /// (database, prefix, flavour), as [`crate::links::render_links`] takes them.
    pub fn parts(&self) -> (&str, &str, Option<&str>) {
        (&self.resource, &self.prefix, self.flavour.as_deref())
    }
}

/// Where `x-provision.seed` of `service` points, against the manifest's directory.
fn seed_path(manifest: &Manifest, service: &str) -> Option<std::path::PathBuf> {
    let seed = manifest
        .services
        .iter()
        .find(|s| s.name == service)?
        .ext
        .seed
        .as_ref()?;
    let base = manifest.file.parent().unwrap_or(std::path::Path::new("."));
    Some(base.join(&seed.value))
}

/// Computes the plan, or every error in the manifest that matters for `target`, on the
/// default stage.
pub fn plan(
    manifest: &Manifest,
    catalog: &Catalog,
    target: Target,
    project_flag: Option<&str>,
) -> Result<Plan, Error> {
    plan_staged(
        manifest,
        catalog,
        target,
        project_flag,
        &StagePlan::default(),
    )
}

/// [`plan`] on a stage: the cloud side's identifiers, names, tags and settings are the stage's.
pub fn plan_staged(
    manifest: &Manifest,
    catalog: &Catalog,
    target: Target,
    project_flag: Option<&str>,
    stage: &StagePlan,
) -> Result<Plan, Error> {
    let model = model::resolve(manifest, catalog, project_flag)?;
    let relevant: Vec<Problem> = model
        .problems
        .iter()
        .filter(|p| p.scope == Scope::Both || p.scope == target.scope())
        .cloned()
        .collect();
    if relevant.iter().any(|p| p.severity == Severity::Error) {
        return Err(Error::ManifestInvalid {
            file: manifest.file.clone(),
            problems: relevant,
        });
    }
    let project = model.project.name.clone();
    let resources = model
        .resources
        .iter()
        .map(|r| PlannedResource {
            name: r.name.clone(),
            type_name: r.template.name.clone(),
            template: Arc::clone(r.template),
            version: r.version.clone(),
            version_resolved_at_pull: target == Target::Local && r.floating,
            database: r.database.clone(),
            username: match target {
                Target::Local => r.username.clone(),
                Target::Cloud => r.template.cloud_username(r.username.as_deref()),
            },
            local: (target == Target::Local).then(|| {
                // Where this image family keeps the data of this version; the backend
                // decides again from the image's real version once it has the image.
                let family = r.template.family(&r.repository);
                let data_path = family.data_path(&r.version).map(str::to_owned);
                let has_volume = data_path.is_some();
                // A floating tag's data path is the pulled image's when it depends on the
                // version (Postgres 18 moved it): unknown until then, never a guess.
                let data_path = data_path.filter(|_| !(r.floating && family.data_path_varies()));
                LocalPlan {
                    container: crate::names::container(&project, &r.name),
                    image: r.image.clone(),
                    repository: r.repository.clone(),
                    volume: has_volume.then(|| crate::names::volume(&project, &r.name)),
                    data_path,
                    container_port: r.template.port,
                    host_port: r.local_port,
                    password: r.local_password.clone(),
                    password_from: r.password_from.clone(),
                    command: r.command.clone(),
                    mounts: r.mounts.clone(),
                    tls: r.local_tls,
                    seed: seed_path(manifest, &r.name),
                }
            }),
            cloud: (target == Target::Cloud)
                .then(|| cloud_plan(&project, stage, r, &manifest.cloud)),
        })
        .collect();
    // By name, once: manifests may have thousands of links.
    let by_name: std::collections::HashMap<&str, &model::Resource<'_>> = model
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let services = model
        .apps
        .iter()
        .filter(|a| !a.links.is_empty())
        .map(|a| ServiceLinks {
            service: a.name.clone(),
            links: a
                .links
                .iter()
                .map(|l| {
                    let mut variables = crate::links::variables(&l.prefix);
                    // A CA file when the server's certificate chains to a CA of its own:
                    // RDS's, or the project's for local TLS (ElastiCache's are public).
                    let own_ca = by_name
                        .get(l.resource.as_str())
                        .is_some_and(|r| match target {
                            Target::Local => r.local_tls,
                            Target::Cloud => {
                                r.template.cloud.service == crate::catalog::CloudService::Rds
                            }
                        });
                    if own_ca {
                        variables.push(crate::links::variable(&l.prefix, crate::links::CA_FILE));
                    }
                    PlannedLink {
                        resource: l.resource.clone(),
                        prefix: l.prefix.clone(),
                        flavour: l.flavour.clone(),
                        variables,
                    }
                })
                .collect(),
        })
        .collect();
    Ok(Plan {
        project: model.project,
        target,
        resources,
        services,
        warnings: relevant,
        apps: model.apps.iter().map(|a| a.name.clone()).collect(),
        stage: stage.clone(),
    })
}

/// The database user IAM authentication logs in as, when the manifest asks for it.
fn iam_user(r: &model::Resource<'_>) -> Option<String> {
    if !r.cloud.iam_auth {
        return None;
    }
    let max = match r.template.probe {
        // PostgreSQL names: 63 bytes; MySQL user names: 32 characters
        // (https://dev.mysql.com/doc/refman/8.4/en/user-names.html).
        crate::catalog::Probe::Postgres => 63,
        crate::catalog::Probe::Mysql => 32,
        crate::catalog::Probe::Redis | crate::catalog::Probe::Memcached => return None,
    };
    Some(crate::names::iam_user(r.username.as_deref()?, max))
}

fn cloud_plan(
    project: &str,
    stage: &StagePlan,
    r: &model::Resource<'_>,
    settings: &CloudSettings,
) -> CloudPlan {
    let mut tags = vec![
        (TAG_PROJECT.to_owned(), project.to_owned()),
        (TAG_RESOURCE.to_owned(), r.name.clone()),
        (TAG_TYPE.to_owned(), r.template.name.clone()),
    ];
    // The default stage's resources carry no stage tag: they predate stages.
    if let Some(s) = stage.stage.tag() {
        tags.push((TAG_STAGE.to_owned(), s.to_owned()));
    }
    if let Some(at) = &stage.expires_at {
        tags.push((TAG_EXPIRES_AT.to_owned(), at.clone()));
    }
    let service = r.template.cloud.service;
    let kind = match service {
        CloudService::Rds => crate::names::Kind::RdsInstance,
        CloudService::ElasticacheReplicationGroup => crate::names::Kind::ReplicationGroup,
        CloudService::ElasticacheCluster => crate::names::Kind::CacheCluster,
        CloudService::AuroraServerless => crate::names::Kind::AuroraCluster,
        CloudService::ElasticacheServerless => crate::names::Kind::ServerlessCache,
    };
    let st = &stage.stage;
    let network = crate::names::stage_network(project, st);
    tags.extend(
        settings
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with(crate::names::TAG_PREFIX))
            .cloned(),
    );
    let mut plan = CloudPlan {
        from_snapshot: restore_source(project, st, r, kind),
        adopted: None,
        // `x-provision.cloud.adopt` names the default stage's resource; a stage makes its own.
        identifier: match (&r.cloud.adopt, st.is_default()) {
            (Some(adopted), true) => adopted.clone(),
            _ => crate::names::stage_identifier(project, st, &r.name, kind),
        },
        project: project.to_owned(),
        stage: st.clone(),
        resource: r.name.clone(),
        profile: stage.profile,
        expires_at: stage.expires_at.clone(),
        expiry_rule: if stage.ttl_given {
            crate::model::stage::ExpiryRule::AsGiven
        } else {
            crate::model::stage::ExpiryRule::LaterOnly
        },
        subnet_group: (!settings.subnet_ids.is_empty()).then(|| network.clone()),
        network,
        parameter_group: (!r.template.cloud.tls_parameters.is_empty()).then(|| {
            let family = r.template.cloud.family_of(&r.version_line);
            ParameterGroup {
                name: crate::names::stage_parameter_group(project, st, &family),
                family,
                parameters: r
                    .template
                    .cloud
                    .tls_parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }
        }),
        service: r.template.cloud.service,
        engine: r.template.cloud.engine.clone(),
        engine_version: r
            .template
            .cloud
            .aws_version(&r.version, &r.version_line)
            .unwrap_or_else(|| r.version.clone()),
        asked_version: r.version.clone(),
        version_line: r.version_line.clone(),
        config: stage.profile.apply(r.cloud.clone(), service),
        storage_encrypted: true,
        publicly_accessible: false,
        transit_encryption: true,
        secret_name: crate::names::stage_secret(project, st, &r.name),
        iam_user: iam_user(r),
        region: settings.region.as_ref().map(|r| r.value.clone()),
        subnet_ids: settings.subnet_ids.clone(),
        security_group_ids: settings.security_group_ids.clone(),
        vpc_id: settings.vpc_id.as_ref().map(|v| v.value.clone()),
        allow_from: settings
            .allow_from
            .iter()
            .map(|a| a.value.clone())
            .collect(),
        tags,
    };
    serverless_shape(&mut plan);
    plan
}

/// The parameters that make Aurora refuse plaintext, set in the cluster parameter group:
/// `rds.force_ssl` for Aurora PostgreSQL
/// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html#AuroraPostgreSQL.Security.SSL.RequiringSSL),
/// `require_secure_transport` for Aurora MySQL, a cluster-level parameter
/// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Security.html#AuroraMySQL.Security.SSL.RequireSSL).
fn tls_parameters(engine: &str) -> Vec<(String, String)> {
    if engine == "aurora-mysql" {
        vec![("require_secure_transport".into(), "ON".into())]
    } else {
        vec![("rds.force_ssl".into(), "1".into())]
    }
}

/// Turns an instance's or a replication group's plan into the serverless one the manifest
/// asks for: the service, the Aurora engine and version, the TLS cluster parameter group, and
/// no class, storage or Multi-AZ (Aurora spreads storage over three AZs; a serverless cache
/// runs in several AZs by itself).
fn serverless_shape(plan: &mut CloudPlan) {
    match plan.config.serverless.clone() {
        Some(crate::model::serverless::Serverless::Aurora(a)) => {
            plan.service = CloudService::AuroraServerless;
            plan.engine.clone_from(&a.engine);
            plan.engine_version.clone_from(&a.version);
            plan.parameter_group = Some(ParameterGroup {
                name: crate::names::stage_parameter_group(&plan.project, &plan.stage, &a.family),
                parameters: tls_parameters(&a.engine),
                family: a.family,
            });
            plan.iam_user = None;
            plan.from_snapshot = None;
            let c = &mut plan.config;
            "db.serverless".clone_into(&mut c.class);
            c.storage_gb = None;
            c.max_storage_gb = None;
            c.multi_az = false;
            c.replicas = 0;
            // Aurora keeps continuous backups of 1 to 35 days: there is no 0
            // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html:
            // BackupRetentionPeriod).
            c.backup_retention_days = c.backup_retention_days.max(1);
        }
        Some(crate::model::serverless::Serverless::Cache { .. }) => {
            plan.service = CloudService::ElasticacheServerless;
            plan.parameter_group = None;
            plan.subnet_group = None;
            plan.from_snapshot = None;
            let c = &mut plan.config;
            "serverless".clone_into(&mut c.class);
            c.storage_gb = None;
            c.max_storage_gb = None;
            c.multi_az = false;
            c.replicas = 0;
            // SnapshotRetentionLimit: at most 35
            // (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateServerlessCache.html).
            c.backup_retention_days = c.backup_retention_days.min(35);
        }
        None => {}
    }
}

impl Plan {
    pub fn resource(&self, name: &str) -> Option<&PlannedResource> {
        self.resources.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::manifest::from_bytes;

    const SHOP: &str = "x-provision:\n  cloud: {region: eu-west-1, subnet_ids: [subnet-1, subnet-2], tags: {team: core, 'provision:project': spoof}}\nservices:\n  web: {build: ., links: [db, 'cache:sessions']}\n  db: {image: 'postgres:16', ports: ['15432:5432'], x-provision: {database: shop, cloud: {class: db.m7g.large, multi_az: true}}}\n  cache: {image: 'redis:7'}\n  mc: {image: 'memcached:1.6'}\n";

    fn plan_of(text: &str, target: Target) -> Result<Plan, Error> {
        let catalog = Catalog::builtin().unwrap();
        let manifest = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        plan(&manifest, &catalog, target, None)
    }

    #[test]
    fn local_plan() {
        let p = plan_of(SHOP, Target::Local).unwrap();
        let db = p.resource("db").unwrap();
        assert!(db.cloud.is_none());
        let local = db.local.as_ref().unwrap();
        assert_eq!(local.container, "shop-db");
        assert_eq!(local.volume.as_deref(), Some("shop-db-data"));
        assert_eq!(local.data_path.as_deref(), Some("/var/lib/postgresql/data"));
        assert_eq!((local.container_port, local.host_port), (5432, Some(15432)));
        let mc = p.resource("mc").unwrap().local.as_ref().unwrap();
        assert_eq!(mc.volume, None, "memcached keeps nothing on disk");
        assert_eq!(p.services.len(), 1);
        let links: Vec<_> = p.services[0]
            .links
            .iter()
            .map(|l| {
                (
                    l.resource.as_str(),
                    l.prefix.as_str(),
                    l.variables[0].as_str(),
                )
            })
            .collect();
        assert_eq!(
            links,
            [
                ("db", "DB", "DB_URL"),
                ("cache", "SESSIONS", "SESSIONS_URL")
            ]
        );
        assert_eq!(
            p.warnings.len(),
            1,
            "mc is linked by nobody: {:?}",
            p.warnings
        );
    }

    #[test]
    fn cloud_plan_has_secure_defaults_and_our_tags() {
        let p = plan_of(SHOP, Target::Cloud).unwrap();
        let db = p.resource("db").unwrap().cloud.as_ref().unwrap();
        assert_eq!(db.identifier, "shop-db");
        assert_eq!(db.service, CloudService::Rds);
        assert_eq!(
            (
                db.engine.as_str(),
                db.engine_version.as_str(),
                db.version_line.as_str()
            ),
            ("postgres", "16.10", "16")
        );
        assert_eq!(db.config.class, "db.m7g.large");
        assert!(db.config.multi_az && db.config.deletion_protection);
        assert!(db.storage_encrypted && !db.publicly_accessible && db.transit_encryption);
        assert_eq!(db.secret_name, "provision/shop/db");
        assert_eq!(db.region.as_deref(), Some("eu-west-1"));
        assert_eq!(db.subnet_ids, ["subnet-1", "subnet-2"]);
        let tags: Vec<_> = db.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            tags,
            [
                "provision:project=shop",
                "provision:resource=db",
                "provision:type=postgres",
                "team=core"
            ]
        );
        let cache = p.resource("cache").unwrap().cloud.as_ref().unwrap();
        assert_eq!(cache.service, CloudService::ElasticacheReplicationGroup);
        assert_eq!(cache.config.storage_gb, None);
        assert_eq!(
            p.resource("mc").unwrap().cloud.as_ref().unwrap().service,
            CloudService::ElasticacheCluster
        );
    }

    #[test]
    fn a_stage_plans_its_own_names_tags_and_profile() {
        let catalog = Catalog::builtin().unwrap();
        let manifest = from_bytes(
            SHOP.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let default = plan(&manifest, &catalog, Target::Cloud, None).unwrap();
        let stage = StagePlan {
            stage: Stage::named("feature/Login").unwrap(),
            expires_at: Some("2026-12-05T10:00:00Z".into()),
            ttl_given: false,
            profile: Profile::Ephemeral,
        };
        let staged = plan_staged(&manifest, &catalog, Target::Cloud, None, &stage).unwrap();
        let (d, s) = (
            default.resource("db").unwrap().cloud.as_ref().unwrap(),
            staged.resource("db").unwrap().cloud.as_ref().unwrap(),
        );
        // The default stage: today's names, no stage tag, the manifest's own settings.
        assert_eq!(
            (d.identifier.as_str(), d.secret_name.as_str()),
            ("shop-db", "provision/shop/db")
        );
        assert_eq!(d.network, "shop-provision");
        assert_eq!(
            d.parameter_group.as_ref().unwrap().name,
            "shop-postgres16-tls"
        );
        assert!(
            !d.tags
                .iter()
                .any(|(k, _)| k == TAG_STAGE || k == TAG_EXPIRES_AT)
        );
        assert_eq!(d.config.class, "db.m7g.large");
        // The stage: its own names, tags, and the ephemeral profile over the manifest's class.
        assert_eq!(s.identifier, "shop-feature-login-db");
        assert_eq!(s.secret_name, "provision/shop/feature-login/db");
        assert_eq!(s.network, "shop-feature-login-provision");
        assert_eq!(
            s.subnet_group.as_deref(),
            Some("shop-feature-login-provision")
        );
        assert_eq!(
            s.parameter_group.as_ref().unwrap().name,
            "shop-feature-login-postgres16-tls"
        );
        assert!(s.tags.contains(&(TAG_STAGE.into(), "feature-login".into())));
        assert!(
            s.tags
                .contains(&(TAG_EXPIRES_AT.into(), "2026-12-05T10:00:00Z".into()))
        );
        assert_eq!(s.config.class, "db.t4g.micro");
        assert!(!s.config.multi_az && !s.config.deletion_protection);
        assert_eq!(s.config.backup_retention_days, 1);
        let cache = staged.resource("cache").unwrap().cloud.as_ref().unwrap();
        assert_eq!(
            (cache.identifier.as_str(), cache.config.class.as_str()),
            ("shop-feature-login-cache", "cache.t4g.micro")
        );
    }

    #[test]
    fn errors_for_one_target_only_block_that_target() {
        let text = "name: a-project-name-that-is-long\nservices:\n  a-cache-with-a-long-name: {image: redis}\n";
        assert!(plan_of(text, Target::Local).is_ok());
        let Err(Error::ManifestInvalid { problems, .. }) = plan_of(text, Target::Cloud) else {
            panic!("expected errors")
        };
        assert!(
            problems
                .iter()
                .any(|p| matches!(p.kind, crate::problem::ProblemKind::CloudIdentifier { .. }))
        );
    }

    fn staged(text: &str, stage: &str) -> Result<Plan, Error> {
        let catalog = Catalog::builtin().unwrap();
        let manifest = from_bytes(
            text.as_bytes(),
            PathBuf::from("compose.yaml"),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let stage = StagePlan {
            stage: Stage::named(stage).unwrap(),
            ..StagePlan::default()
        };
        plan_staged(&manifest, &catalog, Target::Cloud, None, &stage)
    }

    #[test]
    fn from_snapshot_names_the_source_stages_identifier_and_not_on_the_source_itself() {
        let text = "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {from_snapshot: 'latest-of:Main'}}}\n  kv: {image: 'redis:7', x-provision: {cloud: {from_snapshot: automatic.shop-kv-2026-12-01}}}\n";
        let pr = staged(text, "pr-7").unwrap();
        let db = pr.resource("db").unwrap().cloud.as_ref().unwrap();
        assert_eq!(
            db.from_snapshot,
            Some(RestoreSource::LatestOf {
                stage: Stage::named("main").unwrap(),
                identifier: "shop-main-db".into(),
            })
        );
        assert_eq!(
            db.from_snapshot.as_ref().unwrap().describe(),
            "restore from the newest snapshot of shop-main-db (stage main)"
        );
        let kv = pr.resource("kv").unwrap().cloud.as_ref().unwrap();
        assert_eq!(
            kv.from_snapshot,
            Some(RestoreSource::Snapshot {
                identifier: "automatic.shop-kv-2026-12-01".into()
            })
        );
        // The source stage is created as usual: it is what the others are seeded from.
        let main = staged(text, "main").unwrap();
        let db = main.resource("db").unwrap().cloud.as_ref().unwrap();
        assert_eq!(db.from_snapshot, None);
        // Seeding from the default stage.
        let text = "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {from_snapshot: 'latest-of:default'}}}\n";
        let db = staged(text, "pr-7").unwrap();
        let db = db.resource("db").unwrap().cloud.as_ref().unwrap();
        assert_eq!(
            db.from_snapshot,
            Some(RestoreSource::LatestOf {
                stage: Stage::default(),
                identifier: "shop-db".into(),
            })
        );
        assert!(
            plan_of(text, Target::Cloud).unwrap().resources[0]
                .cloud
                .as_ref()
                .unwrap()
                .from_snapshot
                .is_none()
        );
    }

    #[test]
    fn bad_from_snapshot_values_are_problems_where_they_are_written() {
        for (value, line_col) in [
            ("'latest-of:'", "3:67"),
            ("'latest-of://'", "3:67"),
            ("'my snapshot'", "3:67"),
            ("'-starts-with-a-hyphen'", "3:67"),
            ("12", "3:67"),
        ] {
            let text = format!(
                "services:\n  web: {{build: .}}\n  db: {{image: 'postgres:16', x-provision: {{cloud: {{from_snapshot: {value}}}}}}}\n"
            );
            let Err(Error::ManifestInvalid { problems, file }) = plan_of(&text, Target::Cloud)
            else {
                panic!("{value}: expected a problem")
            };
            let shown: Vec<String> = problems.iter().map(|p| p.render(&file)).collect();
            assert!(
                shown
                    .iter()
                    .any(|p| p.contains(&format!("compose.yaml:{line_col}"))
                        && p.contains("from_snapshot")
                        && p.contains("latest-of:STAGE")),
                "{value}: {shown:?}"
            );
        }
        // Memcached keeps no data to snapshot.
        let text = "services:\n  mc: {image: 'memcached:1.6', x-provision: {cloud: {from_snapshot: 'latest-of:main'}}}\n";
        let Err(Error::ManifestInvalid { problems, .. }) = plan_of(text, Target::Cloud) else {
            panic!("expected a problem")
        };
        assert!(
            problems.iter().any(|p| matches!(
                &p.kind,
                crate::problem::ProblemKind::OptionNotForType { option, .. } if option == "from_snapshot"
            )),
            "{problems:?}"
        );
    }
}
