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

/// Docker labels on the database containers and volumes provision makes.
pub const LABEL_PROJECT: &str = "dev.provision.project";
pub const LABEL_RESOURCE: &str = "dev.provision.resource";
pub const LABEL_IMAGE: &str = "dev.provision.image";
pub const LABEL_PORT: &str = "dev.provision.port";
pub const LABEL_PASSWORD: &str = "dev.provision.password";
/// On the volume: the major version line whose server initialised the data.
pub const LABEL_MAJOR: &str = "dev.provision.major";
/// On the container: the image's real version, read from its configuration.
pub const LABEL_VERSION: &str = "dev.provision.version";
/// On the container: the fingerprint of the server certificate it runs TLS with.
pub const LABEL_TLS: &str = "dev.provision.tls";
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

/// The image `start --containers` builds for an app service with `build:`.
pub fn app_image(project: &str, service: &str) -> String {
    format!("{project}-{service}:provision")
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
        assert!(TAG_PASSWORD_PENDING.starts_with(TAG_PREFIX));
    }

    #[test]
    fn parameter_groups_of_the_project_only() {
        assert!(is_parameter_group("shop", "shop-postgres16-tls"));
        assert!(!is_parameter_group("shop", "shopping-postgres16-tls"));
        assert!(!is_parameter_group("shop", "shop-postgres16"));
        assert!(!is_parameter_group("shop", "other-postgres16-tls"));
        assert_eq!(parameter_group_pattern("shop"), "shop-*-tls");
    }
}
