//! The stages of a project on AWS, as their tags tell them (no state file): `provision stages
//! --cloud` lists them, `provision gc --cloud` deletes the expired ones. Only resources tagged
//! `provision:project` with this project are ever read as the project's; `gc` deletes only
//! those whose own `provision:expires-at` is past, never the default stage (it has no expiry).

use std::collections::BTreeMap;

use serde::Serialize;

use super::aws::{Cloud, Orphan};
use crate::error::Error;
use crate::model::stage::{now, parse_timestamp};
use crate::names::Stage;
use crate::plan::Target;
use crate::progress::Progress;
use crate::session::Session;

/// One stage, as AWS has it.
#[derive(Debug, Serialize)]
pub struct StageInfo {
    pub stage: Stage,
    pub resources: Vec<Orphan>,
    /// Seconds since its oldest resource was created, where AWS says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<i64>,
    /// The earliest `provision:expires-at` of its resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub expired: bool,
    /// What its resources cost, estimated from what AWS reports of each (class, nodes,
    /// storage) with the price table `plan` uses (`cloud::cost`).
    pub cost: super::cost::Estimate,
}

/// Groups the project's tagged resources by stage, the default stage first, each priced in
/// `region` from `table`.
pub fn group(
    found: Vec<Orphan>,
    now: i64,
    region: Option<&str>,
    table: &super::cost::PriceTable,
) -> Vec<StageInfo> {
    let mut by: BTreeMap<Stage, Vec<Orphan>> = BTreeMap::new();
    for f in found {
        by.entry(f.stage.clone()).or_default().push(f);
    }
    by.into_iter()
        .map(|(stage, resources)| {
            let created = resources
                .iter()
                .filter_map(|r| parse_timestamp(r.created.as_deref()?))
                .min();
            let expires_at = resources
                .iter()
                .filter_map(|r| r.expires_at.clone())
                .min_by_key(|t| parse_timestamp(t).unwrap_or(i64::MAX));
            let expired = !stage.is_default() && resources.iter().all(|r| is_expired(r, now));
            let cost = super::cost::estimate_billed(
                resources
                    .iter()
                    .filter_map(|r| Some((r.identifier.clone(), None, r.billed.clone()?))),
                region,
                table,
            );
            StageInfo {
                stage,
                resources,
                age_seconds: created.map(|c| now.saturating_sub(c)),
                expires_at,
                expired,
                cost,
            }
        })
        .collect()
}

/// Whether a resource's own tag says it has expired. A tag that does not parse, or none,
/// never expires: `gc` deletes only what proves it may.
pub fn is_expired(r: &Orphan, now: i64) -> bool {
    !r.stage.is_default()
        && r.expires_at
            .as_deref()
            .and_then(parse_timestamp)
            .is_some_and(|at| at <= now)
}

/// The `provision:expires-at` value `up` writes on a resource that already exists, if any.
/// A CI job re-runs `up --ttl 3d` on every push, so a preview lives three days after its last
/// push: the expiry moves later whenever the plan's is later. It moves earlier only when
/// `--ttl` was given (`given`), never from the profile's default alone, so a plain `up`
/// never brings a stage's collection closer. A tag that does not parse (one written by hand,
/// which `gc` never treats as expired) is replaced only when `--ttl` was given.
pub fn expiry_update(current: Option<&str>, wanted: Option<&str>, given: bool) -> Option<String> {
    let wanted = wanted?;
    let Some(current) = current else {
        return Some(wanted.to_owned());
    };
    let (Some(have), Some(want)) = (parse_timestamp(current), parse_timestamp(wanted)) else {
        return (given && current != wanted).then(|| wanted.to_owned());
    };
    (want > have || (given && want < have)).then(|| wanted.to_owned())
}

pub async fn list(session: &Session) -> Result<Vec<StageInfo>, Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    let cloud = super::connect(&plan, session.verbose > 0).await?;
    let found = cloud.tagged(&plan.project.name).await?;
    let table = super::cost::PriceTable::builtin().map_err(Error::Template)?;
    let region = super::cost::region(&plan);
    Ok(group(found, now(), region.as_deref(), &table))
}

/// What `gc` did or, with `--dry-run`, would do.
#[derive(Debug, Serialize)]
pub struct Collected {
    pub stage: Stage,
    pub resources: Vec<Orphan>,
}

/// Deletes every expired resource of the project's stages (a stage whose every resource has
/// expired goes whole: secrets, groups). With `dry_run`, only says what it would delete.
/// Failures are gathered; the other stages go on.
pub async fn gc(
    session: &Session,
    dry_run: bool,
    skip_final_snapshot: bool,
) -> Result<Vec<Collected>, Error> {
    let (manifest, plan) = session.plan(Target::Cloud)?;
    let project = plan.project.name.clone();
    let cloud = super::connect(&plan, session.verbose > 0).await?;
    let found = cloud.tagged(&project).await?;
    let at = now();
    // `gc` decides on tags alone; the estimate is for `stages`.
    let table = super::cost::PriceTable::builtin().map_err(Error::Template)?;
    let progress = Progress::new(session.quiet, &[]);
    let mut out = Vec::new();
    let mut failures = Vec::new();
    let mut done = 0;
    // A preview (the manifest's `stages:` profile) keeps no final snapshot.
    let skip_final_snapshot = skip_final_snapshot || ephemeral_previews(&manifest);
    for info in group(found, at, None, &table) {
        if info.stage.is_default() {
            continue;
        }
        let whole = info.expired;
        let expired: Vec<Orphan> = info
            .resources
            .into_iter()
            .filter(|r| is_expired(r, at))
            .collect();
        if expired.is_empty() {
            continue;
        }
        if !dry_run {
            match delete(
                &cloud,
                &project,
                &info.stage,
                expired.clone(),
                skip_final_snapshot,
                whole,
                &progress,
            )
            .await
            {
                Ok(n) => done += n,
                Err(Error::UpFailed {
                    failures: f, ok, ..
                }) => {
                    done += ok;
                    failures.extend(f);
                }
                Err(e) => failures.push((format!("stage {}", info.stage), e)),
            }
        }
        out.push(Collected {
            stage: info.stage,
            resources: expired,
        });
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(Error::UpFailed {
            failures,
            ok: done,
            done: "deleted",
        })
    }
}

/// Whether the manifest gives the stages the ephemeral profile (which keeps no final snapshot).
fn ephemeral_previews(manifest: &crate::manifest::Manifest) -> bool {
    let preview = Stage::named("preview").unwrap_or_default();
    crate::model::stage::stage_plan(preview, manifest.cloud.stages.as_ref(), None, now())
        .is_ok_and(|p| !p.profile.final_snapshot())
}

async fn delete(
    cloud: &Cloud,
    project: &str,
    stage: &Stage,
    found: Vec<Orphan>,
    skip_final_snapshot: bool,
    whole: bool,
    progress: &Progress,
) -> Result<usize, Error> {
    super::delete_stage(
        cloud,
        project,
        stage,
        found,
        skip_final_snapshot,
        whole,
        progress,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(stage: Option<&str>, expires: Option<&str>) -> Orphan {
        Orphan {
            identifier: "x".into(),
            kind: "RDS instance",
            resource: "db".into(),
            stage: Stage::of_tag(stage),
            expires_at: expires.map(str::to_owned),
            created: Some("2026-12-01T00:00:00Z".into()),
            status: "available".into(),
            deletion_protection: false,
            service: None,
            billed: None,
        }
    }

    #[test]
    fn an_expiry_moves_later_on_every_up_and_earlier_only_when_asked() {
        let (early, late) = ("2026-12-04T00:00:00Z", "2026-12-07T00:00:00Z");
        // Each push re-runs `up --ttl 3d`: the preview lives on.
        assert_eq!(
            expiry_update(Some(early), Some(late), true).as_deref(),
            Some(late)
        );
        assert_eq!(
            expiry_update(Some(early), Some(late), false).as_deref(),
            Some(late)
        );
        // A shorter `--ttl` was asked for; the profile's default alone never shortens.
        assert_eq!(
            expiry_update(Some(late), Some(early), true).as_deref(),
            Some(early)
        );
        assert_eq!(expiry_update(Some(late), Some(early), false), None);
        // The same value: no call.
        assert_eq!(expiry_update(Some(late), Some(late), true), None);
        // No expiry wanted: the tag stays; none yet: it is written.
        assert_eq!(expiry_update(Some(late), None, true), None);
        assert_eq!(
            expiry_update(None, Some(late), false).as_deref(),
            Some(late)
        );
        // A hand-written tag (never collected) is replaced only on request.
        assert_eq!(expiry_update(Some("never"), Some(late), false), None);
        assert_eq!(
            expiry_update(Some("never"), Some(late), true).as_deref(),
            Some(late)
        );
    }

    #[test]
    fn only_a_stage_whose_tag_is_past_expires() {
        let now = parse_timestamp("2026-12-05T00:00:00Z").unwrap();
        assert!(is_expired(
            &res(Some("pr-1"), Some("2026-12-04T00:00:00Z")),
            now
        ));
        assert!(!is_expired(
            &res(Some("pr-1"), Some("2026-12-06T00:00:00Z")),
            now
        ));
        assert!(!is_expired(&res(Some("pr-1"), None), now));
        assert!(!is_expired(&res(Some("pr-1"), Some("soon")), now));
        // The default stage never expires, whatever its tags say.
        assert!(!is_expired(&res(None, Some("2026-12-04T00:00:00Z")), now));
        let table = crate::cloud::cost::PriceTable::builtin().unwrap();
        let stages = group(
            vec![
                res(None, None),
                res(Some("pr-1"), Some("2026-12-04T00:00:00Z")),
                res(Some("pr-1"), Some("2026-12-07T00:00:00Z")),
                res(Some("pr-2"), Some("2026-12-04T00:00:00Z")),
            ],
            now,
            Some("us-east-1"),
            &table,
        );
        let summary: Vec<_> = stages
            .iter()
            .map(|s| (s.stage.name(), s.resources.len(), s.expired, s.age_seconds))
            .collect();
        assert_eq!(
            summary,
            [
                ("default", 1, false, Some(4 * 86_400)),
                ("pr-1", 2, false, Some(4 * 86_400)),
                ("pr-2", 1, true, Some(4 * 86_400))
            ]
        );
        assert_eq!(
            stages[1].expires_at.as_deref(),
            Some("2026-12-04T00:00:00Z")
        );
    }
}
