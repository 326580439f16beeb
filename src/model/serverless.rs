//! `x-provision.cloud.serverless: true`: Aurora Serverless v2 for Postgres and MySQL,
//! ElastiCache Serverless for Redis and Valkey. What AWS allows is decided here, from the
//! manifest alone, so that a bad capacity or an engine AWS has no serverless form of is a
//! manifest error with its place, before any AWS call.

use serde::{Serialize, Serializer};

use crate::catalog::Template;
use crate::manifest::{Located, Service};
use crate::problem::{Problem, ProblemKind, Scope};

/// Aurora capacity units, counted in halves (AWS takes half-step increments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acu(pub u32);

impl Acu {
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 2.0
    }

    /// From what AWS reports (a double); none for a value off the half-step grid.
    pub fn from_f64(v: f64) -> Option<Self> {
        let halves = v * 2.0;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a whole number of halves between 0 and 512, checked first"
        )]
        ((0.0..=512.0).contains(&halves) && halves.fract() == 0.0).then_some(Self(halves as u32))
    }
}

impl std::fmt::Display for Acu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_multiple_of(2) {
            write!(f, "{}", self.0 / 2)
        } else {
            write!(f, "{}.5", self.0 / 2)
        }
    }
}

impl Serialize for Acu {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

/// What a serverless database is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Serverless {
    /// An Aurora Serverless v2 cluster with one `db.serverless` writer.
    Aurora(Aurora),
    /// An ElastiCache Serverless cache (`MajorEngineVersion`).
    Cache { major_version: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aurora {
    /// `aurora-postgresql` or `aurora-mysql`.
    pub engine: String,
    /// The Aurora engine version `up` creates with.
    pub version: String,
    /// The cluster parameter group family (`aurora-postgresql16`, `aurora-mysql8.0`).
    pub family: String,
    pub min_acu: Acu,
    pub max_acu: Acu,
    /// `SecondsUntilAutoPause`: only with a minimum of 0 ACUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_pause_seconds: Option<u32>,
}

impl Aurora {
    /// How `plan` and the diff show the scaling configuration.
    pub fn capacity(&self) -> String {
        capacity_text(self.min_acu, self.max_acu, self.auto_pause_seconds)
    }
}

pub fn capacity_text(min: Acu, max: Acu, pause: Option<u32>) -> String {
    let pause = pause.map_or(String::new(), |s| format!(", pause after {s}s idle"));
    format!("{min}-{max} ACU{pause}")
}

/// One Aurora line: its engine, the version provision creates, and the first version of the
/// line whose Serverless v2 instances scale to 0 ACUs and pause. Aurora PostgreSQL 16.3+,
/// 15.7+, 14.12+, 13.15+ and Aurora MySQL 3.08.0+
/// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html,
/// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.requirements.html).
/// The versions created are Aurora releases on those lines (Aurora PostgreSQL release notes,
/// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/AuroraPostgreSQL.Updates.html;
/// Aurora MySQL 3.08.0, https://docs.aws.amazon.com/AmazonRDS/latest/AuroraMySQLReleaseNotes/AuroraMySQL.Updates.3080.html).
struct Release {
    engine: &'static str,
    line: &'static str,
    aurora: &'static str,
    version: &'static str,
    pause_from: &'static str,
}

const LINES: &[Release] = &[
    Release {
        engine: "postgres",
        line: "13",
        aurora: "aurora-postgresql",
        version: "13.18",
        pause_from: "13.15",
    },
    Release {
        engine: "postgres",
        line: "14",
        aurora: "aurora-postgresql",
        version: "14.15",
        pause_from: "14.12",
    },
    Release {
        engine: "postgres",
        line: "15",
        aurora: "aurora-postgresql",
        version: "15.10",
        pause_from: "15.7",
    },
    Release {
        engine: "postgres",
        line: "16",
        aurora: "aurora-postgresql",
        version: "16.6",
        pause_from: "16.3",
    },
    Release {
        engine: "postgres",
        line: "17",
        aurora: "aurora-postgresql",
        version: "17.4",
        pause_from: "17.4",
    },
    Release {
        engine: "mysql",
        line: "8.0",
        aurora: "aurora-mysql",
        version: "8.0.mysql_aurora.3.08.0",
        pause_from: "8.0.mysql_aurora.3.08.0",
    },
];

/// Default capacity: down to 0 (paused, no instance charge) where the version allows it, else
/// AWS's floor of 0.5; up to 4 ACUs, which keeps a runaway bill bounded.
const DEFAULT_MAX: Acu = Acu(8);
/// AWS's own default for `SecondsUntilAutoPause` (five minutes).
const DEFAULT_PAUSE: u32 = 300;

/// Numeric comparison of dotted versions (`16.10` after `16.3`); non-numeric parts
/// (`mysql_aurora`) compare equal.
fn version_at_least(have: &str, from: &str) -> bool {
    let key =
        |v: &str| -> Vec<u64> { v.split('.').filter_map(|p| p.parse::<u64>().ok()).collect() };
    key(have) >= key(from)
}

fn error(at: &Located<impl Sized>, value: String, expected: String) -> Problem {
    Problem::error(
        Some(at.at),
        at.path.clone(),
        ProblemKind::InvalidValue { value, expected },
    )
    .scoped(Scope::Cloud)
}

/// The serverless form the manifest asks for, or none; what cannot be is a problem where it
/// is written.
pub(super) fn config(
    service: &Service,
    template: &Template,
    version: &str,
    line: &str,
    problems: &mut Vec<Problem>,
) -> Option<Serverless> {
    let given = &service.ext.cloud;
    let knobs = [&given.min_acu, &given.max_acu]
        .into_iter()
        .flatten()
        .map(|l| (l.at, l.path.clone()))
        .chain(
            given
                .auto_pause_seconds
                .as_ref()
                .map(|l| (l.at, l.path.clone())),
        );
    let Some(flag) = given.serverless.as_ref().filter(|s| s.value) else {
        for (at, path) in knobs {
            problems.push(
                Problem::error(
                    Some(at),
                    path,
                    ProblemKind::InvalidValue {
                        value: "(set)".into(),
                        expected: "`serverless: true` next to it (capacity is for Aurora Serverless v2 only)".into(),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
        return None;
    };
    let engine = template.cloud.engine.as_str();
    let before = problems.len();
    // Settings of an instance or a node that a serverless database does not have.
    let not_serverless: [(&str, Option<(crate::problem::Pos, &str)>); 6] = [
        (
            "class",
            given.class.as_ref().map(|l| (l.at, l.path.as_str())),
        ),
        (
            "storage_gb",
            given.storage_gb.as_ref().map(|l| (l.at, l.path.as_str())),
        ),
        (
            "max_storage_gb",
            given
                .max_storage_gb
                .as_ref()
                .map(|l| (l.at, l.path.as_str())),
        ),
        (
            "replicas",
            given.replicas.as_ref().map(|l| (l.at, l.path.as_str())),
        ),
        (
            "iam_auth",
            given
                .iam_auth
                .as_ref()
                .filter(|l| l.value)
                .map(|l| (l.at, l.path.as_str())),
        ),
        (
            "from_snapshot",
            given
                .from_snapshot
                .as_ref()
                .map(|l| (l.at, l.path.as_str())),
        ),
    ];
    for (key, at) in not_serverless {
        if let Some((at, path)) = at {
            problems.push(
                Problem::error(
                    Some(at),
                    path,
                    ProblemKind::InvalidValue {
                        value: key.to_owned(),
                        expected: format!(
                            "no `{key}` with `serverless: true` (provision does not support it on a serverless {})",
                            template.title
                        ),
                    },
                )
                .scoped(Scope::Cloud),
            );
        }
    }
    let made = match engine {
        "postgres" | "mysql" => aurora(given, template, version, line, flag, problems),
        "redis" | "valkey" => cache(template, line, flag, problems),
        _ => {
            // Aurora has PostgreSQL and MySQL only; ElastiCache Serverless does run
            // Memcached, but TLS-only, and the Memcached link provision hands out is
            // plaintext (most Memcached clients speak no TLS): refused rather than broken.
            let why = if engine == "memcached" {
                "ElastiCache Serverless for Memcached accepts TLS connections only, and provision's Memcached links are plaintext; leave `serverless` out (a cache cluster)".to_owned()
            } else {
                format!(
                    "Aurora Serverless v2 runs PostgreSQL and MySQL only, not {}; leave `serverless` out (an RDS instance), or use `type: mysql`",
                    template.title
                )
            };
            problems.push(error(flag, "true".into(), why));
            None
        }
    };
    (problems.len() == before).then_some(made).flatten()
}

fn aurora(
    given: &crate::manifest::CloudOptions,
    template: &Template,
    version: &str,
    line: &str,
    flag: &Located<bool>,
    problems: &mut Vec<Problem>,
) -> Option<Serverless> {
    let engine = template.cloud.engine.as_str();
    let Some(known) = LINES.iter().find(|l| l.engine == engine && l.line == line) else {
        let lines: Vec<&str> = LINES
            .iter()
            .filter(|l| l.engine == engine)
            .map(|l| l.line)
            .collect();
        problems.push(error(
            flag,
            "true".into(),
            format!(
                "a {} version Aurora Serverless v2 has ({}); {line} has no Aurora release provision knows",
                template.title,
                lines.join(", ")
            ),
        ));
        return None;
    };
    // A pinned PostgreSQL minor is an Aurora minor of the same number; MySQL's minors are
    // not Aurora's (Aurora MySQL 3.08.0 is MySQL 8.0.39), so a pin there cannot be kept.
    let pinned = version != line;
    let aurora_version = match (pinned, engine) {
        (false, _) => known.version.to_owned(),
        (true, "postgres") => version.to_owned(),
        _ => {
            problems.push(error(
                flag,
                version.to_owned(),
                format!(
                    "version `{line}` (Aurora MySQL versions are not MySQL's: provision creates {})",
                    known.version
                ),
            ));
            return None;
        }
    };
    let pauses = version_at_least(&aurora_version, known.pause_from);
    let min = given.min_acu.as_ref();
    let max = given.max_acu.as_ref();
    let min_acu = min.map_or(if pauses { Acu(0) } else { Acu(1) }, |m| Acu(m.value));
    let max_acu = max.map_or(DEFAULT_MAX.max(min_acu), |m| Acu(m.value));
    if let Some(m) = min
        && m.value == 0
        && !pauses
    {
        problems.push(error(
            m,
            "0".into(),
            format!(
                "at least 0.5: {} {aurora_version} cannot pause (scaling to 0 ACUs needs {} or later)",
                known.aurora, known.pause_from
            ),
        ));
    }
    // MaxCapacity: at least 1, at most 256, and not below the minimum
    // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html).
    if let Some(m) = max {
        if m.value < 2 {
            problems.push(error(
                m,
                Acu(m.value).to_string(),
                "at least 1 ACU (Aurora's smallest maximum)".into(),
            ));
        } else if Acu(m.value) < min_acu {
            problems.push(error(
                m,
                Acu(m.value).to_string(),
                format!("at least `min_acu` ({min_acu})"),
            ));
        }
    }
    let auto_pause_seconds = match &given.auto_pause_seconds {
        Some(s) if min_acu.0 != 0 => {
            problems.push(error(
                s,
                s.value.to_string(),
                "no `auto_pause_seconds` unless `min_acu` is 0 (only an instance at 0 ACUs pauses)"
                    .into(),
            ));
            None
        }
        Some(s) => Some(s.value),
        None => (min_acu.0 == 0).then_some(DEFAULT_PAUSE),
    };
    Some(Serverless::Aurora(Aurora {
        engine: known.aurora.to_owned(),
        version: aurora_version,
        family: format!("{}{}", known.aurora, line),
        min_acu,
        max_acu,
        auto_pause_seconds,
    }))
}

/// ElastiCache Serverless runs Redis OSS 7 and Valkey 7 and 8, chosen by major version
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateServerlessCache.html:
/// MajorEngineVersion; https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/engine-versions.html).
fn cache(
    template: &Template,
    line: &str,
    flag: &Located<bool>,
    problems: &mut Vec<Problem>,
) -> Option<Serverless> {
    let major = line.split('.').next().unwrap_or(line).to_owned();
    let offered: &[&str] = match template.cloud.engine.as_str() {
        "redis" => &["7"],
        _ => &["7", "8"],
    };
    if !offered.contains(&major.as_str()) {
        problems.push(error(
            flag,
            "true".into(),
            format!(
                "a {} major version ElastiCache Serverless runs ({}), not {line}",
                template.title,
                offered.join(", ")
            ),
        ));
        return None;
    }
    Some(Serverless::Cache {
        major_version: major,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acus_print_and_parse_in_halves() {
        assert_eq!(Acu(1).to_string(), "0.5");
        assert_eq!(Acu(8).to_string(), "4");
        assert_eq!(Acu::from_f64(2.5), Some(Acu(5)));
        assert_eq!(Acu::from_f64(0.25), None);
        assert_eq!(
            capacity_text(Acu(0), Acu(8), Some(300)),
            "0-4 ACU, pause after 300s idle"
        );
    }

    /// The cloud errors of a manifest: (line, column, path, expected).
    fn errors(text: &str) -> Vec<(u32, u32, String, String)> {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            text.as_bytes(),
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let model = crate::model::resolve(&m, &catalog, None).unwrap();
        model
            .problems
            .iter()
            .filter(|p| p.is_error())
            .map(|p| {
                let at = p.at.unwrap_or(crate::problem::Pos::at(0, 0));
                let expected = match &p.kind {
                    ProblemKind::InvalidValue { expected, .. } => expected.clone(),
                    other => format!("{other:?}"),
                };
                (at.line, at.col, p.path.clone(), expected)
            })
            .collect()
    }

    fn serverless_of(text: &str) -> Option<Serverless> {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = crate::manifest::from_bytes(
            text.as_bytes(),
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let model = crate::model::resolve(&m, &catalog, None).unwrap();
        model.resources[0].cloud.serverless.clone()
    }

    #[test]
    fn defaults_scale_to_zero_where_the_version_pauses() {
        let Some(Serverless::Aurora(a)) = serverless_of(
            "services:\n  db: {image: 'postgres:16', x-provision: {cloud: {serverless: true}}}\n",
        ) else {
            panic!("aurora")
        };
        assert_eq!(
            (a.engine.as_str(), a.version.as_str(), a.family.as_str()),
            ("aurora-postgresql", "16.6", "aurora-postgresql16")
        );
        assert_eq!(
            (a.min_acu, a.max_acu, a.auto_pause_seconds),
            (Acu(0), Acu(8), Some(300))
        );
        // A pinned minor before 16.3 cannot pause: the floor is 0.5, and no pause.
        let Some(Serverless::Aurora(old)) = serverless_of(
            "services:\n  db: {image: 'postgres:16.1', x-provision: {cloud: {serverless: true}}}\n",
        ) else {
            panic!("aurora")
        };
        assert_eq!(
            (old.version.as_str(), old.min_acu, old.auto_pause_seconds),
            ("16.1", Acu(1), None)
        );
        let Some(Serverless::Aurora(my)) = serverless_of(
            "services:\n  db: {image: 'mysql:8.0', x-provision: {cloud: {serverless: true, min_acu: 2, max_acu: 16.5}}}\n",
        ) else {
            panic!("aurora")
        };
        assert_eq!(
            (my.min_acu, my.max_acu, my.auto_pause_seconds),
            (Acu(4), Acu(33), None)
        );
        assert_eq!(
            serverless_of(
                "services:\n  kv: {image: 'valkey/valkey:8', x-provision: {cloud: {serverless: true}}}\n"
            ),
            Some(Serverless::Cache {
                major_version: "8".into()
            })
        );
    }

    #[test]
    fn what_aws_would_refuse_is_a_manifest_error_where_it_is_written() {
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16.1'\n    x-provision: {cloud: {serverless: true, min_acu: 0}}\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(
            (e[0].0, e[0].2.as_str()),
            (4, "services.db.x-provision.cloud.min_acu")
        );
        assert!(e[0].3.contains("16.3 or later"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {serverless: true, min_acu: 1, auto_pause_seconds: 600}}\n",
        );
        assert!(e[0].3.contains("unless `min_acu` is 0"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {serverless: true, min_acu: 0.25}}\n",
        );
        assert!(e[0].3.contains("steps of 0.5"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {serverless: true, min_acu: 4, max_acu: 2}}\n",
        );
        assert!(e[0].3.contains("at least `min_acu`"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {serverless: true, auto_pause_seconds: 60}}\n",
        );
        assert!(e[0].3.contains("300-86400"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {min_acu: 1}}\n",
        );
        assert!(e[0].3.contains("`serverless: true` next to it"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'postgres:16'\n    x-provision: {cloud: {serverless: true, storage_gb: 50}}\n",
        );
        assert!(e[0].3.contains("no `storage_gb`"), "{e:?}");
        // Engines with no serverless form provision supports: the reason, at `serverless`.
        let e = errors(
            "services:\n  db:\n    image: 'mariadb:11.4'\n    x-provision: {cloud: {serverless: true}}\n",
        );
        assert_eq!(e[0].2, "services.db.x-provision.cloud.serverless");
        assert!(e[0].3.contains("PostgreSQL and MySQL only"), "{e:?}");
        let e = errors(
            "services:\n  mc:\n    image: 'memcached:1.6'\n    x-provision: {cloud: {serverless: true}}\n",
        );
        assert!(e[0].3.contains("TLS connections only"), "{e:?}");
        let e = errors(
            "services:\n  kv:\n    image: 'redis:6'\n    x-provision: {cloud: {serverless: true}}\n",
        );
        assert!(e[0].3.contains("ElastiCache Serverless runs (7)"), "{e:?}");
        let e = errors(
            "services:\n  db:\n    image: 'mysql:8.4'\n    x-provision: {cloud: {serverless: true}}\n",
        );
        assert!(e[0].3.contains("Aurora Serverless v2 has (8.0)"), "{e:?}");
    }

    #[test]
    fn pausing_starts_at_the_documented_versions() {
        assert!(version_at_least("16.6", "16.3"));
        assert!(version_at_least("16.10", "16.3"));
        assert!(!version_at_least("16.2", "16.3"));
        assert!(version_at_least(
            "8.0.mysql_aurora.3.08.0",
            "8.0.mysql_aurora.3.08.0"
        ));
        assert!(!version_at_least(
            "8.0.mysql_aurora.3.07.1",
            "8.0.mysql_aurora.3.08.0"
        ));
    }
}
