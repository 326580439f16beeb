//! Every fixed name that is a resource's identity, built here and nowhere else: AWS
//! identifiers, group and secret names, tags, Docker container, volume, network names and
//! labels. Ownership is decided by these names and tags (there is no state file), so two
//! spellings of one name would mean a resource that one command finds and another does not.

/// Tag keys on every AWS resource provision makes; `provision:project` + `provision:resource`
/// prove ownership, since the identifier alone could belong to another project
/// (`a` + `b-c` and `a-b` + `c` share `a-b-c`).
pub const TAG_PROJECT: &str = "provision:project";
pub const TAG_RESOURCE: &str = "provision:resource";
pub const TAG_TYPE: &str = "provision:type";
/// On a secret whose password is not yet the database's (a reset in flight), so that a re-run
/// finishes the reset instead of trusting the secret.
pub const TAG_PASSWORD_PENDING: &str = "provision:password-pending";
/// The prefix of every provision tag: the user's own `tags:` may not use it.
pub const TAG_PREFIX: &str = "provision:";
/// The stage a resource belongs to; absent on the default stage's resources (they predate
/// stages, and keep their identifiers and tags).
pub const TAG_STAGE: &str = "provision:stage";
/// When `gc` may delete a stage (RFC 3339, UTC), from `--ttl` or the ephemeral profile.
pub const TAG_EXPIRES_AT: &str = "provision:expires-at";
/// What `up` last applied to a resource, field by field (`cloud::drift::Applied`): what tells
/// a change made outside provision (drift) from a manifest change, with no state file.
pub const TAG_APPLIED: &str = "provision:applied";

/// On our secret record of an adopted resource (`provision adopt`): the identifier it has in
/// AWS, kept as it was (never renamed); there is no state file, so this is how every command
/// finds it.
pub const TAG_IDENTIFIER: &str = "provision:identifier";
/// On that record when the user linked a secret of their own: its ARN (theirs: never deleted).
pub const TAG_LINKED_SECRET: &str = "provision:linked-secret";
/// On that record once `provision release` handed the resource back: kept, so that no
/// credential is lost, and no longer followed.
pub const TAG_RELEASED: &str = "provision:released";

/// Docker labels on the database containers and volumes provision makes.
pub const LABEL_PROJECT: &str = "dev.provision.project";
pub const LABEL_RESOURCE: &str = "dev.provision.resource";
pub const LABEL_IMAGE: &str = "dev.provision.image";
pub const LABEL_PORT: &str = "dev.provision.port";
pub const LABEL_PASSWORD: &str = "dev.provision.password";
/// On the volume: the major version line whose server initialised the data.
pub const LABEL_MAJOR: &str = "dev.provision.major";
/// On a volume an upgrade made: the volume whose data it was made from.
pub const LABEL_UPGRADE_OF: &str = "dev.provision.upgrade-of";
/// On the container: the image's real version, read from its configuration.
pub const LABEL_VERSION: &str = "dev.provision.version";
/// On the container: the fingerprint of the server certificate it runs TLS with.
pub const LABEL_TLS: &str = "dev.provision.tls";
/// On the volume: `pending` when provision made it for new data, whose seed is then due
/// until a marker in the data says it was applied (`src/local/seed.rs`).
pub const LABEL_SEED: &str = "dev.provision.seed";
/// On a snapshot's volume: the snapshot's name (`src/local/snapshot.rs`).
pub const LABEL_SNAPSHOT: &str = "dev.provision.snapshot";
/// Marks an app container of `start --containers` (the databases carry `LABEL_RESOURCE`).
pub const LABEL_APP: &str = "dev.provision.app";

/// `redis` -> `REDIS`, `my-cache.v2` -> `MY_CACHE_V2`.
pub fn link_prefix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Lower case letters, digits and `-` for everything else: the alphabet RDS and ElastiCache
/// identifiers and group names share.
fn fold(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The AWS identifier of a resource: `{project}-{service}`, with the service name folded to
/// the identifiers' alphabet. The rules it must still meet are checked by the model.
pub fn cloud_identifier(project: &str, service: &str) -> String {
    format!("{project}-{}", fold(service))
}

/// The database user the links name when `x-provision.cloud.iam_auth` is on: the master
/// user's name with `_iam`. Apart from the master user on purpose: a PostgreSQL user granted
/// `rds_iam` can no longer log in with a password
/// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html),
/// and provision itself logs in as the master user to make this one. Cut to `max` characters
/// (32 for MySQL and MariaDB user names, 63 for PostgreSQL).
pub fn iam_user(master: &str, max: usize) -> String {
    let keep = max.saturating_sub(4);
    let base: String = master.chars().take(keep).collect();
    format!("{base}_iam")
}

/// The project's DB parameter group of `family` (`shop-mysql8-0-tls`), which turns on the
/// server's refusal of plaintext.
pub fn parameter_group(project: &str, family: &str) -> String {
    format!("{project}-{}-tls", fold(family))
}

/// A final snapshot `destroy` keeps of a database, unique per second.
pub fn final_snapshot(identifier: &str, unix_seconds: u64) -> String {
    format!("{identifier}-final-{unix_seconds}")
}

/// Every parameter group of the project, as an IAM resource pattern.
pub fn parameter_group_pattern(project: &str) -> String {
    format!("{project}-*-tls")
}

/// Whether `name` is one of the project's parameter groups (`destroy` deletes those).
pub fn is_parameter_group(project: &str, name: &str) -> bool {
    name.strip_prefix(project)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| rest.ends_with("-tls"))
}

/// The project's DB and cache subnet groups, its security group, and the Docker network of
/// `start --containers`: one name for the project's network on each side.
pub fn network(project: &str) -> String {
    format!("{project}-provision")
}

/// The Secrets Manager secret that holds a cloud database's password.
pub fn secret(project: &str, resource: &str) -> String {
    format!("provision/{project}/{resource}")
}

/// The prefix every secret of the project shares (for listing them).
pub fn secret_prefix(project: &str) -> String {
    format!("provision/{project}/")
}

/// A stage: one isolated set of a project's cloud resources (a branch's, a pull request's).
/// The default stage (`None` inside) has the names and tags from before stages existed, so
/// existing resources stay where they are. Any other is a slug: lower-case letters, digits
/// and single `-`, at most [`MAX_STAGE`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stage(Option<String>);

/// `x-provision.cloud.from_snapshot: latest-of:STAGE`: the newest snapshot of that stage's
/// instance of the same database.
pub const LATEST_OF: &str = "latest-of:";

/// What `--stage default` (and the default stage in listings) is called.
pub const DEFAULT_STAGE: &str = "default";
/// A longer stage name is shortened (with a hash) so that it stays readable in identifiers.
pub const MAX_STAGE: usize = 40;

impl Stage {
    /// The stage a name the user (or CI) gave selects: slugged (`feature/Login_v2` ->
    /// `feature-login-v2`); `default` is the default stage. `None`: nothing usable was left.
    pub fn named(raw: &str) -> Option<Self> {
        let slug = slug(raw);
        if slug.is_empty() {
            None
        } else if slug == DEFAULT_STAGE {
            Some(Self(None))
        } else {
            let key = slug.clone();
            Some(Self(Some(fit(slug, &key, MAX_STAGE, ""))))
        }
    }

    /// The stage a `provision:stage` tag names (absent: the default stage).
    pub fn of_tag(tag: Option<&str>) -> Self {
        Self(tag.filter(|t| *t != DEFAULT_STAGE).map(str::to_owned))
    }

    pub fn is_default(&self) -> bool {
        self.0.is_none()
    }

    /// The value of the `provision:stage` tag: none on the default stage.
    pub fn tag(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn name(&self) -> &str {
        self.0.as_deref().unwrap_or(DEFAULT_STAGE)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Lower-case letters and digits, every run of anything else one `-`, none at either end.
pub fn slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The kinds of AWS name provision makes, each with its own length limit. All share the
/// alphabet letters, digits and `-`, a letter first, no `--`, no trailing `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// DBInstanceIdentifier: 1-63
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
    RdsInstance,
    /// ReplicationGroupId: 1-40
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html).
    ReplicationGroup,
    /// CacheClusterId: 1-50
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheCluster.html).
    CacheCluster,
    /// DBParameterGroupName 1-255
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html);
    /// DBSubnetGroupName and CacheSubnetGroupName at most 255
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html,
    /// https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheSubnetGroup.html);
    /// a security group's GroupName up to 255
    /// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html).
    Group,
    /// DBClusterIdentifier 1-63
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html).
    AuroraCluster,
    /// ServerlessCacheName at most 40
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateServerlessCache.html).
    ServerlessCache,
}

impl Kind {
    pub fn max_len(self) -> usize {
        match self {
            Self::RdsInstance => 63,
            Self::ReplicationGroup => 40,
            Self::CacheCluster => 50,
            Self::Group => 255,
            Self::AuroraCluster => 63,
            Self::ServerlessCache => 40,
        }
    }
}

/// Eight hex digits of SHA-256 of `key`: what tells two shortened names apart.
fn short_hash(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest.iter().take(4).fold(String::new(), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `full` + `suffix` when that fits in `max`; otherwise the head of `full`, `-`, a hash of
/// `key` (the unshortened parts, so distinct inputs stay distinct), then `suffix`. Always the
/// same for the same input; never a `-` before the hash doubled or left trailing.
fn fit(full: String, key: &str, max: usize, suffix: &str) -> String {
    if full.len() + suffix.len() <= max {
        return full + suffix;
    }
    let hash = short_hash(key);
    let keep = max.saturating_sub(hash.len() + 1 + suffix.len());
    let head = full.get(..keep).unwrap_or(&full).trim_end_matches('-');
    format!("{head}-{hash}{suffix}")
}

/// The key a shortened name's hash is taken of: unambiguous, unlike the joined name.
fn key(project: &str, stage: &str, rest: &str) -> String {
    format!("{project}\n{stage}\n{rest}")
}

/// A database's AWS identifier on a stage: the default stage's is [`cloud_identifier`]
/// (unchanged); another's is `{project}-{stage}-{service}`, shortened with a hash to fit
/// `kind`'s limit.
pub fn stage_identifier(project: &str, stage: &Stage, service: &str, kind: Kind) -> String {
    match stage.tag() {
        None => cloud_identifier(project, service),
        Some(s) => fit(
            format!("{project}-{s}-{}", fold(service)),
            &key(project, s, service),
            kind.max_len(),
            "",
        ),
    }
}

/// The stage's DB parameter group of `family`: `{project}-{stage}-{family}-tls`.
pub fn stage_parameter_group(project: &str, stage: &Stage, family: &str) -> String {
    match stage.tag() {
        None => parameter_group(project, family),
        Some(s) => fit(
            format!("{project}-{s}-{}", fold(family)),
            &key(project, s, family),
            Kind::Group.max_len(),
            "-tls",
        ),
    }
}

/// The stage's subnet groups and security group: `{project}-{stage}-provision`.
pub fn stage_network(project: &str, stage: &Stage) -> String {
    match stage.tag() {
        None => network(project),
        Some(s) => fit(
            format!("{project}-{s}"),
            &key(project, s, ""),
            Kind::Group.max_len(),
            "-provision",
        ),
    }
}

/// The stage's secret of a database: `provision/{project}/{stage}/{database}` (the default
/// stage's is [`secret`], unchanged).
pub fn stage_secret(project: &str, stage: &Stage, resource: &str) -> String {
    match stage.tag() {
        None => secret(project, resource),
        Some(s) => format!("provision/{project}/{s}/{resource}"),
    }
}

/// Whether a secret name of the project (under [`secret_prefix`]) is one of `stage`'s:
/// the default stage's have no `/` after the prefix, a stage's one.
pub fn is_stage_secret(project: &str, stage: &Stage, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(&secret_prefix(project)) else {
        return false;
    };
    match stage.tag() {
        None => !rest.contains('/'),
        Some(s) => rest
            .strip_prefix(s)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|db| !db.is_empty() && !db.contains('/')),
    }
}

/// Whether a resource's tags prove it is `project`'s on `stage` (the default stage's carry
/// no stage tag).
pub fn owned<'t>(tag: impl Fn(&str) -> Option<&'t str>, project: &str, stage: &Stage) -> bool {
    tag(TAG_PROJECT) == Some(project) && Stage::of_tag(tag(TAG_STAGE)) == *stage
}

/// A time to live (`--ttl`, `x-provision.cloud.stages.ttl`), for the `provision:expires-at` tag:
/// `30m`, `12h`, `3d`, `2w` as seconds; none for anything else (or zero).
pub fn parse_ttl(text: &str) -> Option<u64> {
    let text = text.trim();
    let unit = match text.chars().last()? {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let n: u64 = text.get(..text.len() - 1)?.parse().ok()?;
    (n > 0).then_some(n.checked_mul(unit)?)
}

/// What every identifier of the project's starts with, on any stage (a shortened one keeps
/// at least this much of `{project}-`): the cheap filter before tags are read.
pub fn identifier_prefix(project: &str) -> String {
    let full = format!("{project}-");
    let keep = Kind::ReplicationGroup.max_len() - 9;
    full.get(..keep.min(full.len())).unwrap_or(&full).to_owned()
}

/// Every name of the project's stages' networks, as an IAM resource pattern.
pub fn stage_network_pattern(project: &str) -> String {
    format!("{project}-*-provision")
}

/// A local database's container, and an app's under `start --containers` (a service name is
/// either a database or an app, never both).
pub fn container(project: &str, resource: &str) -> String {
    format!("{project}-{resource}")
}

/// A local database's data volume.
pub fn volume(project: &str, resource: &str) -> String {
    format!("{project}-{resource}-data")
}

/// The short-lived container that works on a stopped database's volume (a Redis restore).
pub fn data_helper(container: &str) -> String {
    format!("{container}-provision-data")
}

/// A local snapshot's Docker volume: `{project}-{resource}-snapshot-{name}` (owned by its
/// labels, like the data volume).
pub fn snapshot_volume(project: &str, resource: &str, snapshot: &str) -> String {
    format!("{project}-{resource}-snapshot-{snapshot}")
}

/// The longest snapshot name: Docker volume names and file names stay readable.
pub const MAX_SNAPSHOT: usize = 63;

/// Whether `name` can name a snapshot: a letter or digit first, then letters, digits, `.`,
/// `_` and `-` (what a Docker volume name and a file name both take), at most
/// [`MAX_SNAPSHOT`] characters.
pub fn valid_snapshot(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= MAX_SNAPSHOT
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The data volume a major version upgrade writes (`shop-db-data-v18`): a new volume beside
/// the old one, which stays until `upgrade --cleanup`. The major in the name keeps a later
/// upgrade (18 -> 19) from meeting the leftovers of this one.
pub fn upgraded_volume(project: &str, resource: &str, major: &str) -> String {
    format!("{project}-{resource}-data-v{}", fold(major))
}

/// The short-lived servers of an upgrade, on ports apps do not use: `side` is `from` (the old
/// image on the old data, to dump it) or `to` (the new image on the new data, to restore).
pub fn upgrade_container(container: &str, side: &str) -> String {
    format!("{container}-provision-upgrade-{side}")
}

/// The image `start --containers` builds for an app service with `build:`.
pub fn app_image(project: &str, service: &str) -> String {
    format!("{project}-{service}:provision")
}

/// A name made from a resource's identifier and a suffix, kept within `max` characters (the
/// identifier is cut, never the suffix, and never left ending in `-`).
fn suffixed(identifier: &str, suffix: &str, max: usize) -> String {
    let keep = max.saturating_sub(suffix.len());
    let base: String = identifier.chars().take(keep).collect();
    format!("{}{suffix}", base.trim_end_matches('-'))
}

/// The `db.serverless` writer instance of an Aurora Serverless v2 cluster: `{cluster}-1`
/// (DBInstanceIdentifier 1-63).
pub fn aurora_writer(cluster: &str) -> String {
    suffixed(cluster, "-1", Kind::RdsInstance.max_len())
}

/// The ElastiCache users and user group of a serverless cache: the app's user, the disabled
/// `default` user every user group must hold, and the group. UserId and UserGroupId: a letter
/// first, then letters, digits and hyphens, at most 40 here
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUser.html,
/// https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUserGroup.html).
pub fn cache_app_user(cache: &str) -> String {
    suffixed(cache, "-app", 40)
}

pub fn cache_default_user(cache: &str) -> String {
    suffixed(cache, "-default", 40)
}

pub fn cache_user_group(cache: &str) -> String {
    suffixed(cache, "-users", 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() {
        // These are identities of resources that exist: changing one strands them.
        assert_eq!(cloud_identifier("shop", "db"), "shop-db");
        assert_eq!(cloud_identifier("shop", "Cache_1.a"), "shop-cache-1-a");
        assert_eq!(parameter_group("shop", "mysql8.0"), "shop-mysql8-0-tls");
        assert_eq!(parameter_group("shop", "postgres16"), "shop-postgres16-tls");
        assert_eq!(network("shop"), "shop-provision");
        assert_eq!(secret("shop", "db"), "provision/shop/db");
        assert!(secret("shop", "db").starts_with(&secret_prefix("shop")));
        assert_eq!(container("shop", "db"), "shop-db");
        assert_eq!(volume("shop", "db"), "shop-db-data");
        assert_eq!(upgraded_volume("shop", "db", "18"), "shop-db-data-v18");
        assert_eq!(upgraded_volume("shop", "db", "8.0"), "shop-db-data-v8-0");
        assert_eq!(
            upgrade_container("shop-db", "from"),
            "shop-db-provision-upgrade-from"
        );
        assert_eq!(
            snapshot_volume("shop", "db", "before"),
            "shop-db-snapshot-before"
        );
        assert!(valid_snapshot("before-migration.2"));
        for bad in ["", "-x", ".x", "a/b", "a b", "..", &"x".repeat(64)] {
            assert!(!valid_snapshot(bad), "{bad}");
        }
        assert!(TAG_PASSWORD_PENDING.starts_with(TAG_PREFIX));
    }

    fn stage(name: &str) -> Stage {
        Stage::named(name).unwrap()
    }

    #[test]
    fn the_default_stage_keeps_todays_names() {
        let d = Stage::default();
        assert_eq!(stage("default"), d);
        assert_eq!(stage("Default"), d);
        assert_eq!(d.tag(), None);
        for kind in [
            Kind::RdsInstance,
            Kind::ReplicationGroup,
            Kind::CacheCluster,
        ] {
            assert_eq!(stage_identifier("shop", &d, "db", kind), "shop-db");
            assert_eq!(
                stage_identifier("shop", &d, "Cache_1.a", kind),
                "shop-cache-1-a"
            );
        }
        assert_eq!(
            stage_parameter_group("shop", &d, "postgres16"),
            "shop-postgres16-tls"
        );
        assert_eq!(stage_network("shop", &d), "shop-provision");
        assert_eq!(stage_secret("shop", &d, "db"), "provision/shop/db");
    }

    #[test]
    fn stage_names_are_slugs() {
        assert_eq!(stage("feature/Login_v2").name(), "feature-login-v2");
        assert_eq!(stage("--PR  42--").name(), "pr-42");
        assert_eq!(stage("42").name(), "42");
        assert_eq!(Stage::named("///"), None);
        assert_eq!(Stage::named(""), None);
        let long = stage(&"very-long-branch-name-".repeat(5));
        assert!(long.name().len() <= MAX_STAGE, "{long}");
        assert_ne!(
            long,
            stage(&format!("{}x", "very-long-branch-name-".repeat(5)))
        );
    }

    #[test]
    fn a_stage_has_names_of_its_own() {
        let s = stage("pr-7");
        assert_eq!(
            stage_identifier("shop", &s, "db", Kind::RdsInstance),
            "shop-pr-7-db"
        );
        assert_eq!(
            stage_parameter_group("shop", &s, "postgres16"),
            "shop-pr-7-postgres16-tls"
        );
        assert_eq!(stage_network("shop", &s), "shop-pr-7-provision");
        assert_eq!(stage_secret("shop", &s, "db"), "provision/shop/pr-7/db");
        assert!(is_parameter_group(
            "shop",
            &stage_parameter_group("shop", &s, "mysql8.0")
        ));
    }

    fn valid(name: &str, max: usize) -> bool {
        name.len() <= max
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.contains("--")
            && !name.ends_with('-')
    }

    #[test]
    fn long_identifiers_are_shortened_stable_distinct_and_within_each_limit() {
        let project = "a-rather-long-project-name";
        let stages = [
            stage("feature/add-the-new-checkout-flow-for-europe"),
            stage("feature/add-the-new-checkout-flow-for-europe-2"),
            stage("renovate/all-minor-and-patch"),
            stage("pr-1234"),
        ];
        let services = ["orders-database", "orders-database-2", "sessions", "db"];
        for kind in [
            Kind::RdsInstance,
            Kind::ReplicationGroup,
            Kind::CacheCluster,
        ] {
            let mut seen = std::collections::HashSet::new();
            for s in &stages {
                for service in services {
                    let id = stage_identifier(project, s, service, kind);
                    assert!(valid(&id, kind.max_len()), "{id} ({kind:?})");
                    assert!(id.starts_with(project), "{id}");
                    assert_eq!(id, stage_identifier(project, s, service, kind), "stable");
                    assert!(seen.insert(id.clone()), "{id} collides");
                }
            }
        }
        // The hash is of the parts, so it is the same on every machine and release: pinned.
        assert_eq!(
            stage_identifier(
                project,
                &stages[0],
                "orders-database",
                Kind::ReplicationGroup
            ),
            format!(
                "a-rather-long-project-name-feat-{}",
                short_hash(&key(project, stages[0].name(), "orders-database"))
            )
        );
        // Short enough: not shortened at all.
        assert_eq!(
            stage_identifier("shop", &stage("pr-1234"), "db", Kind::ReplicationGroup),
            "shop-pr-1234-db"
        );
        for s in &stages {
            let g = stage_parameter_group(project, s, "postgres16");
            assert!(valid(&g, 255) && g.ends_with("-tls"), "{g}");
            let n = stage_network(project, s);
            assert!(valid(&n, 255) && n.ends_with("-provision"), "{n}");
        }
    }

    #[test]
    fn secrets_belong_to_one_stage() {
        let d = Stage::default();
        let s = stage("pr-7");
        assert!(is_stage_secret("shop", &d, "provision/shop/db"));
        assert!(!is_stage_secret("shop", &d, "provision/shop/pr-7/db"));
        assert!(is_stage_secret("shop", &s, "provision/shop/pr-7/db"));
        assert!(!is_stage_secret("shop", &s, "provision/shop/pr-70/db"));
        assert!(!is_stage_secret("shop", &s, "provision/shop/db"));
        assert!(!is_stage_secret("shop", &s, "provision/shopping/pr-7/db"));
    }

    #[test]
    fn ownership_includes_the_stage() {
        let tags = |stage: Option<&'static str>| {
            move |k: &str| match k {
                TAG_PROJECT => Some("shop"),
                TAG_STAGE => stage,
                _ => None,
            }
        };
        assert!(owned(tags(None), "shop", &Stage::default()));
        assert!(!owned(tags(None), "shop", &stage("pr-7")));
        assert!(owned(tags(Some("pr-7")), "shop", &stage("pr-7")));
        assert!(!owned(tags(Some("pr-7")), "shop", &Stage::default()));
        assert!(!owned(tags(Some("pr-7")), "other", &stage("pr-7")));
    }

    #[test]
    fn parameter_groups_of_the_project_only() {
        assert!(is_parameter_group("shop", "shop-postgres16-tls"));
        assert!(!is_parameter_group("shop", "shopping-postgres16-tls"));
        assert!(!is_parameter_group("shop", "shop-postgres16"));
        assert!(!is_parameter_group("shop", "other-postgres16-tls"));
        assert_eq!(parameter_group_pattern("shop"), "shop-*-tls");
    }

    #[test]
    fn iam_users_are_the_master_user_with_a_suffix_within_the_engines_limit() {
        assert_eq!(iam_user("app", 32), "app_iam");
        let long = "u".repeat(63);
        assert_eq!(iam_user(&long, 63).len(), 63);
        assert!(iam_user(&long, 63).ends_with("_iam"));
        assert_eq!(
            iam_user(&"m".repeat(16), 32),
            format!("{}_iam", "m".repeat(16))
        );
    }
}
