//! Which stage a cloud command works on, and when a stage expires. Pure: the environment and
//! the clock come in as arguments, so every rule here is tested without either.
//!
//! `--stage auto` reads the CI system's own variables (README, "CI and preview
//! environments"):
//!
//! | CI | detected by | stage |
//! |---|---|---|
//! | GitHub Actions | `GITHUB_ACTIONS` | `GITHUB_HEAD_REF` (a pull request's branch), else `GITHUB_REF_NAME` |
//! | GitLab CI | `GITLAB_CI` | `mr-{CI_MERGE_REQUEST_IID}`, else `CI_COMMIT_REF_SLUG` |
//! | Buildkite | `BUILDKITE` | `pr-{BUILDKITE_PULL_REQUEST}` (unless `false`), else `BUILDKITE_BRANCH` |
//! | CircleCI | `CIRCLECI` | `pr-{N}` from `CIRCLE_PULL_REQUEST`'s URL, else `CIRCLE_BRANCH` |

use crate::error::Error;
use crate::names::Stage;

/// The stage: `--stage` (or `PROVISION_STAGE`, which clap folds into it) over
/// `x-provision.cloud.stage`, else the default stage. `auto` asks the CI environment.
pub fn resolve(
    flag: Option<&str>,
    manifest: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Stage, Error> {
    let Some(given) = flag.or(manifest).map(str::trim) else {
        return Ok(Stage::default());
    };
    let raw = if given == "auto" {
        from_ci(env).ok_or(Error::NoCiStage)?
    } else {
        given.to_owned()
    };
    Stage::named(&raw).ok_or_else(|| Error::InvalidStage { given: raw })
}

/// The stage name the CI environment gives, before slugging; none outside a known CI.
pub fn from_ci(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if set("GITHUB_ACTIONS").is_some() {
        return set("GITHUB_HEAD_REF").or_else(|| set("GITHUB_REF_NAME"));
    }
    if set("GITLAB_CI").is_some() {
        return set("CI_MERGE_REQUEST_IID")
            .map(|iid| format!("mr-{iid}"))
            .or_else(|| set("CI_COMMIT_REF_SLUG"));
    }
    if set("BUILDKITE").is_some() {
        return set("BUILDKITE_PULL_REQUEST")
            .filter(|n| n != "false")
            .map(|n| format!("pr-{n}"))
            .or_else(|| set("BUILDKITE_BRANCH"));
    }
    if set("CIRCLECI").is_some() {
        return set("CIRCLE_PULL_REQUEST")
            .and_then(|url| {
                let n = url.trim_end_matches('/').rsplit('/').next()?.to_owned();
                n.chars()
                    .all(|c| c.is_ascii_digit())
                    .then(|| format!("pr-{n}"))
            })
            .or_else(|| set("CIRCLE_BRANCH"));
    }
    None
}

pub use crate::names::parse_ttl;

/// A `provision:expires-at` value: RFC 3339 in UTC, to the second (`2026-12-05T10:00:00Z`).
pub fn timestamp(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::new(),
    }
}

/// Reads back what [`timestamp`] writes (and RFC 3339 in UTC generally, fractions ignored);
/// none for anything else, which `gc` then never treats as expired.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if !text.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        month,
        u8::try_from(num(8..10)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Now, in seconds since the epoch (the one clock `--ttl`, `gc` and `stages` read).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What the plan needs to know of the stage: which one, when it expires, its profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StagePlan {
    pub stage: Stage,
    /// The `provision:expires-at` value (RFC 3339), for a stage with a time to live.
    pub expires_at: Option<String>,
    /// Whether `--ttl` was given: only then may `up` move an existing expiry earlier.
    pub ttl_given: bool,
    pub profile: Profile,
}

/// The settings a stage's databases get, whatever their own `x-provision.cloud` says
/// (README, "CI and preview environments"). The default stage is always `Standard`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The manifest's settings and the templates' safe defaults.
    #[default]
    Standard,
    /// A preview: the smallest Graviton class, single-AZ, no replicas, 1-day backups, no
    /// deletion protection, no final snapshot on destroy, an expiry.
    Ephemeral,
}

/// How `up` may move the expiry of a resource that has one: later only (the profile's ttl),
/// or to exactly what `--ttl` asked, earlier too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpiryRule {
    #[default]
    LaterOnly,
    AsGiven,
}

/// The preview's classes: the smallest Graviton burstable ones
/// (https://aws.amazon.com/rds/instance-types/, https://aws.amazon.com/elasticache/pricing/).
pub const EPHEMERAL_RDS_CLASS: &str = "db.t4g.micro";
pub const EPHEMERAL_CACHE_CLASS: &str = "cache.t4g.micro";
/// How long an ephemeral stage lives after its last `up` unless told (`--ttl`, `stages.ttl`).
pub const EPHEMERAL_TTL: &str = "3d";

impl Profile {
    /// `config` as this profile has it, for a database of `service`.
    pub fn apply(
        self,
        mut config: crate::model::CloudConfig,
        service: crate::catalog::CloudService,
    ) -> crate::model::CloudConfig {
        if self == Self::Ephemeral {
            config.class = match service {
                crate::catalog::CloudService::Rds => EPHEMERAL_RDS_CLASS,
                _ => EPHEMERAL_CACHE_CLASS,
            }
            .to_owned();
            config.multi_az = false;
            config.replicas = 0;
            config.backup_retention_days = 1;
            config.deletion_protection = false;
            config.max_storage_gb = None;
        }
        config
    }

    /// Whether `destroy` keeps a final snapshot by default.
    pub fn final_snapshot(self) -> bool {
        self == Self::Standard
    }
}

/// The stage plan for `stage`: the profile from `x-provision.cloud.stages` (a stage other than
/// the default gets `ephemeral` once the block is there, unless it says `standard`), the
/// expiry from `ttl` (`--ttl`), else the profile's. `now`: seconds since the epoch.
pub fn stage_plan(
    stage: Stage,
    stages: Option<&crate::manifest::StagesSettings>,
    ttl: Option<&str>,
    now: i64,
) -> Result<StagePlan, Error> {
    if stage.is_default() {
        if let Some(given) = ttl {
            return Err(Error::TtlOnDefaultStage {
                given: given.to_owned(),
            });
        }
        return Ok(StagePlan::default());
    }
    let profile = match stages {
        Some(s) if s.profile.as_ref().is_none_or(|p| p.value == "ephemeral") => Profile::Ephemeral,
        _ => Profile::Standard,
    };
    let ttl_given = ttl.is_some();
    let ttl = ttl.map(str::to_owned).or_else(|| {
        let own = stages.and_then(|s| s.ttl.as_ref()).map(|t| t.value.clone());
        own.or_else(|| (profile == Profile::Ephemeral).then(|| EPHEMERAL_TTL.to_owned()))
    });
    let expires_at = match ttl {
        None => None,
        Some(t) => {
            let secs = parse_ttl(&t).ok_or(Error::InvalidTtl { given: t })?;
            Some(timestamp(
                now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)),
            ))
        }
    };
    Ok(StagePlan {
        stage,
        expires_at,
        ttl_given,
        profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn flag_over_manifest_over_default() {
        let none = env_of(&[]);
        assert_eq!(resolve(None, None, &none).unwrap(), Stage::default());
        assert_eq!(resolve(None, Some("qa"), &none).unwrap().name(), "qa");
        assert_eq!(
            resolve(Some("PR 7"), Some("qa"), &none).unwrap().name(),
            "pr-7"
        );
        assert_eq!(
            resolve(Some("default"), Some("qa"), &none).unwrap(),
            Stage::default()
        );
        assert!(matches!(
            resolve(Some("//"), None, &none),
            Err(Error::InvalidStage { .. })
        ));
        assert!(matches!(
            resolve(Some("auto"), None, &none),
            Err(Error::NoCiStage)
        ));
    }

    #[test]
    fn auto_reads_each_ci() {
        let cases: &[(&'static [(&'static str, &'static str)], &str)] = &[
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_HEAD_REF", "feature/Login"),
                    ("GITHUB_REF_NAME", "12/merge"),
                ],
                "feature-login",
            ),
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_HEAD_REF", ""),
                    ("GITHUB_REF_NAME", "main"),
                ],
                "main",
            ),
            (
                &[
                    ("GITLAB_CI", "true"),
                    ("CI_MERGE_REQUEST_IID", "42"),
                    ("CI_COMMIT_REF_SLUG", "fix-it"),
                ],
                "mr-42",
            ),
            (
                &[("GITLAB_CI", "true"), ("CI_COMMIT_REF_SLUG", "fix-it")],
                "fix-it",
            ),
            (
                &[
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_PULL_REQUEST", "false"),
                    ("BUILDKITE_BRANCH", "dev"),
                ],
                "dev",
            ),
            (
                &[
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_PULL_REQUEST", "9"),
                    ("BUILDKITE_BRANCH", "dev"),
                ],
                "pr-9",
            ),
            (
                &[
                    ("CIRCLECI", "true"),
                    ("CIRCLE_PULL_REQUEST", "https://github.com/o/r/pull/77"),
                    ("CIRCLE_BRANCH", "x"),
                ],
                "pr-77",
            ),
            (
                &[("CIRCLECI", "true"), ("CIRCLE_BRANCH", "Release/2.0")],
                "release-2-0",
            ),
        ];
        for (pairs, want) in cases {
            let env = env_of(pairs);
            assert_eq!(
                resolve(Some("auto"), None, &env).unwrap().name(),
                *want,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn ttls_and_timestamps() {
        assert_eq!(parse_ttl("3d"), Some(3 * 86_400));
        assert_eq!(parse_ttl("12h"), Some(43_200));
        assert_eq!(parse_ttl("30m"), Some(1800));
        assert_eq!(parse_ttl("1w"), Some(604_800));
        for bad in ["", "3", "d", "0d", "-1d", "3x", "1.5d"] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_796_464_800), "2026-12-05T10:00:00Z");
        assert_eq!(parse_timestamp("2026-12-05T10:00:00Z"), Some(1_796_464_800));
        assert_eq!(
            parse_timestamp("2026-12-05T10:00:00.5Z"),
            Some(1_796_464_800)
        );
        assert_eq!(parse_timestamp("tomorrow"), None);
        assert_eq!(parse_timestamp("2026-13-05T10:00:00Z"), None);
    }
}
