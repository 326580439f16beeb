//! The pure part of `serverless: true` on AWS's side: how its live scaling is compared with the
//! manifest's (`diff`). How its plan differs from an instance's is `plan::serverless_shape`.
//! The AWS calls are in `aws::aurora` and `aws::serverless_cache`.

use serde::Serialize;

use crate::cloud::diff::{Change, Desired, Field, Observed};
use crate::model::serverless::{Acu, Serverless, capacity_text};

/// What AWS reports of a serverless database beyond what `Observed` holds for every kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Live {
    /// Aurora: `ServerlessV2ScalingConfiguration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_acu: Option<Acu>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_acu: Option<Acu>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_pause_seconds: Option<u32>,
    /// Aurora: whether the cluster's `db.serverless` writer exists (an interrupted create
    /// leaves a cluster without one; `up` then makes it).
    pub writer: bool,
    /// ElastiCache Serverless: `MajorEngineVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major_version: Option<String>,
}

/// The serverless fields that differ: the Aurora scaling configuration and deletion
/// protection (ModifyDBCluster changes both in place, no restart:
/// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-administration.html),
/// a cache's major version (a person decides).
pub fn diff(desired: &Desired<'_>, current: &Observed) -> Vec<Change> {
    let mut out = Vec::new();
    let Some(live) = &current.serverless else {
        return out;
    };
    match &desired.config.serverless {
        Some(Serverless::Aurora(a)) => {
            if let (Some(min), Some(max)) = (live.min_acu, live.max_acu)
                && (min, max, live.auto_pause_seconds)
                    != (a.min_acu, a.max_acu, a.auto_pause_seconds)
            {
                out.push(Change {
                    field: Field::Capacity,
                    from: capacity_text(min, max, live.auto_pause_seconds),
                    to: a.capacity(),
                    safe: true,
                    why: None,
                });
            }
            if let Some(have) = current.deletion_protection
                && have != desired.config.deletion_protection
            {
                out.push(Change {
                    field: Field::DeletionProtection,
                    from: have.to_string(),
                    to: desired.config.deletion_protection.to_string(),
                    safe: true,
                    why: None,
                });
            }
        }
        Some(Serverless::Cache { major_version }) => {
            if let Some(have) = &live.major_version
                && have != major_version
            {
                out.push(Change {
                    field: Field::EngineVersion,
                    from: have.clone(),
                    to: major_version.clone(),
                    safe: false,
                    why: Some("a major version change of a serverless cache"),
                });
            }
        }
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CloudService;
    use crate::model::CloudConfig;
    use crate::model::serverless::Aurora;

    fn config(min: u32, max: u32, pause: Option<u32>) -> CloudConfig {
        CloudConfig {
            class: "db.serverless".into(),
            storage_gb: None,
            max_storage_gb: None,
            replicas: 0,
            multi_az: false,
            deletion_protection: true,
            backup_retention_days: 7,
            extended_support: false,
            iam_auth: false,
            from_snapshot: None,
            adopt: None,
            serverless: Some(Serverless::Aurora(Aurora {
                engine: "aurora-postgresql".into(),
                version: "16.6".into(),
                family: "aurora-postgresql16".into(),
                min_acu: Acu(min),
                max_acu: Acu(max),
                auto_pause_seconds: pause,
            })),
        }
    }

    fn desired(c: &CloudConfig) -> Desired<'_> {
        Desired {
            service: CloudService::AuroraServerless,
            engine: "aurora-postgresql",
            version: "16",
            line: "16",
            major_parts: 1,
            config: c,
            security_groups: &[],
            publicly_accessible: false,
            parameter_group: None,
        }
    }

    #[test]
    fn a_capacity_change_is_one_safe_change_and_equal_capacity_is_none() {
        let live = Observed {
            deletion_protection: Some(true),
            serverless: Some(Live {
                min_acu: Some(Acu(0)),
                max_acu: Some(Acu(8)),
                auto_pause_seconds: Some(300),
                writer: true,
                major_version: None,
            }),
            ..Observed::default()
        };
        let same = config(0, 8, Some(300));
        assert!(diff(&desired(&same), &live).is_empty());
        let more = config(1, 16, None);
        let changes = diff(&desired(&more), &live);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].field, Field::Capacity);
        assert!(changes[0].safe);
        assert_eq!(changes[0].from, "0-4 ACU, pause after 300s idle");
        assert_eq!(changes[0].to, "0.5-8 ACU");
    }
}
