//! Drift: a live setting that differs from what provision last applied, because someone
//! changed it outside provision (the console, another tool). No state file: what `up` applied
//! is kept on the resource itself, in its `provision:applied` tag ([`Applied`]), written with
//! the create and after every change `up` makes. `plan` then tells the two reasons a live value
//! can differ from the manifest apart ([`Origin`]): the manifest changed (live = applied), or
//! AWS did (live != applied). Pure: `diff` builds the changes, this module only classifies them.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cloud::diff::{Change, Field, Observed};
use crate::names::TAG_APPLIED;

/// The record's format; a record of another version is ignored (every difference is then a
/// change, as for a resource without a record).
const VERSION: &str = "1";

/// Values longer than this are kept as a hash: RDS and ElastiCache tag values hold at most
/// 256 characters (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html,
/// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Tagging-Resources.html), and a
/// security group list or a parameter group name (up to 255) would not fit.
const LONGEST_PLAIN: usize = 24;

/// The short code of each field in the record, so that every field fits in one tag value.
/// `None`: not recorded (the engine and its version: AWS's own minor upgrades move the
/// version, and an engine change is never made by `up`; serverless capacity).
fn code(field: Field) -> Option<&'static str> {
    Some(match field {
        // Serverless capacity: serverless resources carry no record yet (`aws::applied`).
        Field::Engine | Field::EngineVersion | Field::Capacity => return None,
        Field::Class => "cl",
        Field::StorageGb => "st",
        Field::MaxStorageGb => "ms",
        Field::Replicas => "rp",
        Field::MultiAz => "ma",
        Field::BackupRetentionDays => "br",
        Field::DeletionProtection => "dp",
        Field::SecurityGroups => "sg",
        Field::IamAuth => "ia",
        Field::PubliclyAccessible => "pa",
        Field::ParameterGroup => "pg",
    })
}

/// Every field that can be recorded, for decoding.
const RECORDED: [Field; 11] = [
    Field::Class,
    Field::StorageGb,
    Field::MaxStorageGb,
    Field::Replicas,
    Field::MultiAz,
    Field::BackupRetentionDays,
    Field::DeletionProtection,
    Field::SecurityGroups,
    Field::IamAuth,
    Field::PubliclyAccessible,
    Field::ParameterGroup,
];

/// Whether RDS and ElastiCache take `c` in a tag value: "Unicode letters, digits, white
/// space, `_`, `.`, `:`, `/`, `=`, `+`, `-`, `@`"
/// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Tag.html,
/// https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_Tag.html). Space
/// separates the record's entries and `=` a code from its value, so neither is kept plain.
fn plain(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '+' | '-')
}

/// A value as the record holds it: itself when short and plain, else `@` and a 64-bit
/// FNV-1a hash (hex). Only equality is ever asked of it.
fn encode(value: &str) -> String {
    if value.len() <= LONGEST_PLAIN && !value.starts_with('@') && value.chars().all(plain) {
        return value.to_owned();
    }
    let hash = value.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("@{hash:016x}")
}

/// What `up` last applied to one resource, field by field (encoded values).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    values: Vec<(Field, String)>,
}

impl Applied {
    /// The record of these applied values (as `diff` spells them: its changes' `to`).
    pub fn of(values: &[(Field, String)]) -> Self {
        Self {
            values: values
                .iter()
                .filter(|(f, _)| code(*f).is_some())
                .map(|(f, v)| (*f, encode(v)))
                .collect(),
        }
    }

    /// The tag value: `1 cl=db.t4g.micro st=20 br=7 ...`.
    pub fn render(&self) -> String {
        let mut out = VERSION.to_owned();
        for (field, value) in &self.values {
            if let Some(code) = code(*field) {
                let _ = write!(out, " {code}={value}");
            }
        }
        out
    }

    /// A tag value back; `None` for one this version does not read.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        if parts.next() != Some(VERSION) {
            return None;
        }
        let mut values = Vec::new();
        for part in parts.filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=')?;
            let field = RECORDED.iter().find(|f| code(**f) == Some(key))?;
            values.push((*field, value.to_owned()));
        }
        Some(Self { values })
    }

    /// The record on a resource, from its tags (none: made before records, or by hand).
    pub fn read(observed: &Observed) -> Option<Self> {
        observed
            .tags
            .as_ref()?
            .iter()
            .find(|(k, _)| k == TAG_APPLIED)
            .and_then(|(_, v)| Self::parse(v))
    }

    /// The recorded (encoded) value of one field.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the record says `value` for `field`.
    fn says(&self, field: Field, value: &str) -> bool {
        self.get(field) == Some(encode(value).as_str())
    }
}

/// Why a live value differs from the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The manifest changed since `up` applied it (or nothing was recorded): `up` applies it.
    Manifest,
    /// Someone changed AWS: the live value is not what `up` applied, and the manifest still
    /// says what it applied. `up` puts it back.
    Drift,
    /// Both: changed outside provision, and the manifest now asks for a third value.
    Both,
}

/// Classifies one change (live `from`, manifest `to`) against the record.
pub fn origin(change: &Change, applied: Option<&Applied>) -> Origin {
    let Some(applied) = applied else {
        return Origin::Manifest;
    };
    if applied.get(change.field).is_none() || applied.says(change.field, &change.from) {
        Origin::Manifest
    } else if applied.says(change.field, &change.to) {
        Origin::Drift
    } else {
        Origin::Both
    }
}

/// One field changed outside provision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub field: Field,
    /// What provision applied (`None`: recorded only as a hash, and not the manifest's value).
    pub applied: Option<String>,
    /// What AWS has now.
    pub live: String,
    /// What the manifest says, which `up` sets.
    pub manifest: String,
    /// The manifest changed as well (`up` sets its new value, not the one it applied).
    pub manifest_changed: bool,
    /// `up` can put it back in place; when not, why.
    pub puts_back: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'static str>,
}

impl Drift {
    /// `backup_retention_days 7 -> 1 (changed outside provision; up puts back 7)`.
    pub fn describe(&self) -> String {
        let applied = self.applied.as_deref().unwrap_or("(recorded)");
        let tail = match (self.puts_back, self.manifest_changed) {
            (false, _) => format!(
                "up cannot set {} in place: {}",
                self.manifest,
                self.why.unwrap_or("needs a person")
            ),
            (true, false) => format!("up puts back {}", self.manifest),
            (true, true) => format!("the manifest now says {}; up sets that", self.manifest),
        };
        format!(
            "{} {applied} -> {} (changed outside provision; {tail})",
            self.field, self.live
        )
    }

    /// What `up` says before it puts a field back. A parameter group's parameters apply at
    /// the next reboot: "When you associate a new DB parameter group with a DB instance, the
    /// modified static and dynamic parameters are applied only after the DB instance is
    /// rebooted" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.Associating.html).
    /// `up` does not reboot a database behind anyone's back; it says so.
    pub fn putting_back(&self) -> String {
        let reboot = if self.field == Field::ParameterGroup {
            " (its parameters apply at the instance's next reboot: `aws rds reboot-db-instance`)"
        } else {
            ""
        };
        format!(
            "drift: {} is {} (changed outside provision); putting back {}{reboot}",
            self.field, self.live, self.manifest
        )
    }
}

/// The changes that are drift (or drift and a manifest change), as drift.
pub fn drifts(changes: &[Change], applied: Option<&Applied>) -> Vec<Drift> {
    changes
        .iter()
        .filter_map(|c| {
            let origin = origin(c, applied);
            let applied = applied?;
            let recorded = applied.get(c.field)?;
            // With storage autoscaling on, AWS grows the disk by itself: that is not someone
            // changing it (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html).
            if c.field == Field::StorageGb && applied.get(Field::MaxStorageGb).is_some() {
                return None;
            }
            let shown = if applied.says(c.field, &c.to) {
                Some(c.to.clone())
            } else {
                (!recorded.starts_with('@')).then(|| recorded.to_owned())
            };
            (origin != Origin::Manifest).then(|| Drift {
                field: c.field,
                applied: shown,
                live: c.from.clone(),
                manifest: c.to.clone(),
                manifest_changed: origin == Origin::Both,
                puts_back: c.safe,
                why: c.why,
            })
        })
        .collect()
}

/// The tag `up` writes: `(key, value)`.
pub fn tag(applied: &Applied) -> (String, String) {
    (TAG_APPLIED.to_owned(), applied.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_fits_a_tag_value_and_hashes_what_would_not() {
        let long_groups = (0..5)
            .map(|i| format!("sg-0123456789abcdef{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let long_group = "p".repeat(200);
        let values = vec![
            (Field::Engine, "postgres".to_owned()),
            (Field::Class, "db.r7g.16xlarge".to_owned()),
            (Field::StorageGb, "65536".to_owned()),
            (Field::MaxStorageGb, "65536".to_owned()),
            (Field::Replicas, "5".to_owned()),
            (Field::MultiAz, "false".to_owned()),
            (Field::BackupRetentionDays, "35".to_owned()),
            (Field::DeletionProtection, "true".to_owned()),
            (Field::SecurityGroups, long_groups.clone()),
            (Field::IamAuth, "false".to_owned()),
            (Field::PubliclyAccessible, "false".to_owned()),
            (Field::ParameterGroup, long_group.clone()),
        ];
        let applied = Applied::of(&values);
        let text = applied.render();
        assert!(text.len() <= 256, "{} characters: {text}", text.len());
        assert!(
            text.chars()
                .all(|c| plain(c) || c == ' ' || c == '=' || c == '@'),
            "{text}"
        );
        assert_eq!(Applied::parse(&text), Some(applied.clone()));
        // The engine is never recorded; long values only as a hash, which still compares.
        assert_eq!(applied.get(Field::Engine), None);
        assert!(applied.get(Field::SecurityGroups).unwrap().starts_with('@'));
        assert!(applied.says(Field::SecurityGroups, &long_groups));
        assert!(applied.says(Field::ParameterGroup, &long_group));
        assert!(!applied.says(Field::ParameterGroup, "default.postgres16"));
        // Another version, or garbage, is no record.
        assert_eq!(Applied::parse("2 cl=x"), None);
        assert_eq!(Applied::parse("1 zz=x"), None);
        assert_eq!(Applied::parse("1"), Some(Applied::default()));
    }
}
