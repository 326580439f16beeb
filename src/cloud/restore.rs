//! Seeding a stage's first create from a snapshot (`x-provision.cloud.from_snapshot`), the pure
//! part: which of the snapshots AWS lists is taken, and whether it can become this database.
//! The AWS calls are in `aws::restore`.
//!
//! Which snapshot: the newest `available` one, manual or automated alike. Both are complete,
//! consistent copies of the instance at one moment (RDS: "DB snapshots", automated ones taken
//! in the backup window, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html;
//! ElastiCache: `SnapshotSource` `automated` or `manual`,
//! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_Snapshot.html), so the
//! newest carries the most recent data: a manual snapshot taken an hour ago wins over last
//! night's automated one, and a fresh automated one over last week's manual one. Snapshots
//! still being made are never taken (RDS restores only from an `available` snapshot).

use crate::error::SnapshotProblem;
use crate::names::Stage;
use crate::plan::{CloudPlan, PlannedResource, RestoreSource};

/// One snapshot as AWS lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub identifier: String,
    pub automated: bool,
    pub status: String,
    /// When it was taken, seconds since the epoch (where AWS says).
    pub created: Option<i64>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    /// RDS: the storage it needs (a restore cannot allocate less).
    pub storage_gb: Option<u32>,
    /// RDS: whether its storage is encrypted (a restore keeps the snapshot's encryption).
    pub encrypted: Option<bool>,
    /// RDS: the master user the restored instance keeps.
    pub master_username: Option<String>,
    /// Its own tags, where AWS lists them (RDS copies the instance's with
    /// `CopyTagsToSnapshot`, which provision always sets).
    pub tags: Vec<(String, String)>,
}

impl SnapshotInfo {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `manual, taken 2026-12-03T10:00:00Z`.
    pub fn describe(&self) -> String {
        let kind = if self.automated {
            "automated"
        } else {
            "manual"
        };
        match self.created {
            Some(at) => format!(
                "{} ({kind}, taken {})",
                self.identifier,
                crate::model::stage::timestamp(at)
            ),
            None => format!("{} ({kind})", self.identifier),
        }
    }
}

/// What is known of the source stage's instance of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// It does not exist (never made, or destroyed).
    Missing,
    /// It exists and its tags prove it is this project's, on the source stage.
    Ours,
    /// It exists and is someone else's (`Some(project)`) or no one's.
    Foreign(Option<String>),
}

/// The snapshot a `latest-of:` restore takes, from every snapshot AWS lists for the source
/// identifier. A snapshot whose own `provision:` tags name another project or stage is never
/// taken (the identifier alone does not prove whose it is); one without such tags only when
/// the instance it came from is there and proven ours.
pub fn choose(
    project: &str,
    stage: &Stage,
    source_identifier: &str,
    source: &Source,
    snapshots: Vec<SnapshotInfo>,
) -> Result<SnapshotInfo, SnapshotProblem> {
    if let Source::Foreign(owner) = source {
        return Err(SnapshotProblem::SourceNotOurs {
            source: source_identifier.to_owned(),
            owner: owner.clone(),
        });
    }
    let ours: Vec<SnapshotInfo> = snapshots
        .into_iter()
        .filter(|s| match s.tag(crate::names::TAG_PROJECT) {
            Some(_) => crate::names::owned(|k| s.tag(k), project, stage),
            None => *source == Source::Ours,
        })
        .collect();
    if ours.is_empty() && *source == Source::Missing {
        return Err(SnapshotProblem::SourceMissing {
            stage: stage.name().to_owned(),
            source: source_identifier.to_owned(),
        });
    }
    let pending: Vec<String> = ours
        .iter()
        .filter(|s| s.status != "available")
        .map(|s| format!("{} ({})", s.identifier, s.status))
        .collect();
    ours.into_iter()
        .filter(|s| s.status == "available")
        // Newest first; among equal times the identifier decides, so the choice is stable.
        .max_by(|a, b| {
            a.created
                .unwrap_or(i64::MIN)
                .cmp(&b.created.unwrap_or(i64::MIN))
                .then_with(|| a.identifier.cmp(&b.identifier))
        })
        .ok_or_else(|| SnapshotProblem::NoneAvailable {
            stage: stage.name().to_owned(),
            source: source_identifier.to_owned(),
            pending,
        })
}

/// Whether `snapshot` can become this database as the manifest describes it: the same engine
/// and major version (a restore keeps the snapshot's version, and `up` never changes a major),
/// encrypted storage (a restore keeps the snapshot's encryption), the manifest's master user
/// (a restore keeps the snapshot's), and no more storage than the manifest asks for (a
/// restore cannot allocate less than the snapshot has, and `up` never shrinks storage).
pub fn check(
    snapshot: &SnapshotInfo,
    resource: &PlannedResource,
    cloud: &CloudPlan,
) -> Result<(), SnapshotProblem> {
    let mismatch = |what: &'static str, have: String, want: String| SnapshotProblem::Mismatch {
        snapshot: snapshot.identifier.clone(),
        what,
        have,
        want,
    };
    if let Some(engine) = &snapshot.engine
        && *engine != cloud.engine
    {
        return Err(mismatch("engine", engine.clone(), cloud.engine.clone()));
    }
    if let Some(version) = &snapshot.engine_version {
        let parts = resource.template.cloud.major_parts;
        let line: Vec<&str> = version.split('.').take(parts).collect();
        let want: Vec<&str> = cloud.version_line.split('.').take(parts).collect();
        if line != want {
            return Err(mismatch(
                "major version",
                version.clone(),
                cloud.version_line.clone(),
            ));
        }
    }
    if snapshot.encrypted == Some(false) && cloud.storage_encrypted {
        return Err(mismatch(
            "storage encryption",
            "not encrypted".into(),
            "encrypted".into(),
        ));
    }
    if let (Some(have), Some(want)) = (&snapshot.master_username, &resource.username)
        && have != want
    {
        return Err(mismatch("master user", have.clone(), want.clone()));
    }
    if let (Some(have), Some(want)) = (snapshot.storage_gb, cloud.config.storage_gb)
        && have > want
    {
        return Err(mismatch(
            "storage",
            format!("{have} GiB"),
            format!("{want} GiB (`storage_gb`)"),
        ));
    }
    Ok(())
}

/// The source stage and identifier of a `latest-of:` restore, or the named snapshot.
pub fn source_of(source: &RestoreSource) -> (Option<&Stage>, &str) {
    match source {
        RestoreSource::LatestOf { stage, identifier } => (Some(stage), identifier),
        RestoreSource::Snapshot { identifier } => (None, identifier),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, status: &str, created: i64, tags: &[(&str, &str)]) -> SnapshotInfo {
        SnapshotInfo {
            identifier: id.into(),
            status: status.into(),
            created: Some(created),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..SnapshotInfo::default()
        }
    }

    fn main() -> Stage {
        Stage::named("main").unwrap()
    }

    const OURS: &[(&str, &str)] = &[("provision:project", "shop"), ("provision:stage", "main")];

    #[test]
    fn the_newest_available_of_ours_is_taken_manual_or_automated() {
        let mut auto = snap("rds:shop-main-db-1", "available", 300, OURS);
        auto.automated = true;
        let all = vec![
            snap("old", "available", 100, OURS),
            auto.clone(),
            snap("newer-but-creating", "creating", 400, OURS),
            snap(
                "other-project",
                "available",
                500,
                &[("provision:project", "else")],
            ),
            snap(
                "other-stage",
                "available",
                600,
                &[("provision:project", "shop"), ("provision:stage", "pr-1")],
            ),
        ];
        let chosen = choose("shop", &main(), "shop-main-db", &Source::Ours, all).unwrap();
        assert_eq!(chosen, auto);
        assert!(chosen.describe().contains("automated"));
    }

    #[test]
    fn untagged_snapshots_count_only_while_our_instance_is_there() {
        let untagged = vec![snap("by-hand", "available", 100, &[])];
        assert_eq!(
            choose(
                "shop",
                &main(),
                "shop-main-db",
                &Source::Ours,
                untagged.clone()
            )
            .unwrap()
            .identifier,
            "by-hand"
        );
        assert!(matches!(
            choose("shop", &main(), "shop-main-db", &Source::Missing, untagged),
            Err(SnapshotProblem::SourceMissing { .. })
        ));
        // A destroyed stage's final snapshot still carries its tags: it is found.
        let kept = vec![snap("final", "available", 100, OURS)];
        assert!(choose("shop", &main(), "shop-main-db", &Source::Missing, kept).is_ok());
    }

    #[test]
    fn none_available_says_which_are_still_being_made() {
        let err = choose(
            "shop",
            &main(),
            "shop-main-db",
            &Source::Ours,
            vec![snap("s1", "creating", 1, OURS)],
        )
        .unwrap_err();
        assert_eq!(
            err,
            SnapshotProblem::NoneAvailable {
                stage: "main".into(),
                source: "shop-main-db".into(),
                pending: vec!["s1 (creating)".into()],
            }
        );
        assert!(matches!(
            choose(
                "shop",
                &main(),
                "shop-main-db",
                &Source::Foreign(Some("else".into())),
                vec![]
            ),
            Err(SnapshotProblem::SourceNotOurs { .. })
        ));
    }
}
