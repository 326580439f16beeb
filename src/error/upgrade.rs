//! The wording of `provision upgrade`'s errors: a local database moved to a newer major
//! version by dump and restore into new data beside the old.

use std::fmt::Write as _;

use super::{Error, Exit};

/// What stopped an upgrade, and what became of the data.
#[derive(Debug)]
pub enum UpgradeError {
    /// The manifest's major is older than the data's.
    Downgrade {
        resource: String,
        type_name: String,
        from: String,
        to: String,
    },
    /// A step failed; the old database was brought back as it was (`restored`), or could not
    /// be (`restored` false: the old data is still intact in `old_data`).
    Failed {
        resource: String,
        step: &'static str,
        old_data: String,
        restored: bool,
        cause: Box<Error>,
    },
    /// The row (or key) counts of the new server differ from the old one's.
    CountsDiffer {
        resource: String,
        /// Table (or logical database), old count, new count; `None`: absent on that side.
        differences: Vec<(String, Option<u64>, Option<u64>)>,
    },
    /// Data under the upgrade's name exists, but no record says how it got there.
    Leftover {
        resource: String,
        volume: String,
        old_volume: String,
    },
    /// `--cleanup` before an upgrade has been verified and switched to.
    NothingVerified { resource: String },
    /// Natively only one major of each server is installed here; see the hint.
    Native { resource: String, title: String },
    /// The data lives in the Compose file's own volume or bind mount on the data path.
    TheirVolume { resource: String, location: String },
    /// The database's volume is gone (`--cleanup` deleted it) and so is the upgrade record
    /// that pointed at the volume holding its data now; provision wrote the record again
    /// from the volumes' labels rather than make an empty database under the old name.
    RecordRecovered {
        resource: String,
        volume: String,
        record: String,
    },
}

/// Orders two major lines (`15` < `18`, `10.11` < `11.4`, `8.0` < `8.4`) by their numbers.
pub fn compare_majors(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b))
}

impl From<UpgradeError> for Error {
    fn from(e: UpgradeError) -> Self {
        Self::Upgrade(Box::new(e))
    }
}

impl UpgradeError {
    pub(super) fn exit(&self) -> Exit {
        match self {
            Self::Downgrade { .. }
            | Self::NothingVerified { .. }
            | Self::Native { .. }
            | Self::TheirVolume { .. } => Exit::Usage,
            Self::Failed { .. }
            | Self::CountsDiffer { .. }
            | Self::Leftover { .. }
            | Self::RecordRecovered { .. } => Exit::Failure,
        }
    }
}

pub(super) fn render(error: &Error, verbose: bool, out: &mut String) {
    let Error::Upgrade(e) = error else { return };
    match &**e {
        UpgradeError::Downgrade {
            resource,
            type_name,
            from,
            to,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: the data was written by {type_name} {from}; the manifest asks for {to}, an older major"
            );
            let _ = writeln!(
                out,
                "  servers do not read data of a newer major: a downgrade is not done; nothing was changed"
            );
            let _ = writeln!(
                out,
                "hint: keep the image at {from} or newer; to go back for good, `provision dump {resource}` with {from}, then load the dump into an empty {to} database"
            );
        }
        UpgradeError::Failed {
            resource,
            step,
            old_data,
            restored,
            cause,
        } => failed(out, verbose, resource, step, old_data, *restored, cause),
        UpgradeError::CountsDiffer {
            resource,
            differences,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: the new server does not hold what the old one held"
            );
            let count = |c: &Option<u64>| c.map_or_else(|| "absent".to_owned(), |n| n.to_string());
            for (name, old, new) in differences.iter().take(12) {
                let _ = writeln!(out, "  {name}: {} before, {} after", count(old), count(new));
            }
        }
        UpgradeError::Leftover {
            resource,
            volume,
            old_volume,
        } => {
            let _ = writeln!(
                out,
                "error: {resource}: volume `{volume}` exists, but no upgrade record says it is complete"
            );
            let _ = writeln!(
                out,
                "  provision's record of the upgrade (in its home directory) is gone; the data in `{old_volume}` is untouched"
            );
            let _ = writeln!(
                out,
                "hint: look at it (`docker run --rm -v {volume}:/d alpine ls /d`), then remove it (`docker volume rm {volume}`) to upgrade again from `{old_volume}`"
            );
        }
        UpgradeError::NothingVerified { resource } => {
            let _ = writeln!(
                out,
                "error: {resource}: no upgrade of this database has been verified and switched to; nothing to clean up"
            );
            let _ = writeln!(
                out,
                "hint: `provision upgrade {resource}` first; `--cleanup` then deletes the old data it kept"
            );
        }
        UpgradeError::Native { resource, title } => {
            let _ = writeln!(
                out,
                "error: {resource}: `upgrade` moves data between two {title} images; native servers run the one version installed"
            );
            let _ = writeln!(
                out,
                "  an upgrade needs the old and the new server's binaries side by side, and this machine's packages carry one major of each"
            );
            let _ = writeln!(
                out,
                "hint: with the old server running, `provision dump {resource} -o {resource}.dump`; `provision down`, move its data directory aside, install the new major, `provision up`, then `provision restore {resource} {resource}.dump`; or use `--runtime docker`"
            );
        }
        UpgradeError::RecordRecovered {
            resource,
            volume,
            record,
        } => recovered(out, resource, volume, record),
        UpgradeError::TheirVolume { resource, location } => {
            let _ = writeln!(
                out,
                "error: {resource}: the data is in {location}, which the Compose file mounts on the data path; provision upgrades only data it keeps"
            );
            let _ = writeln!(
                out,
                "hint: `provision dump {resource}` with the old image, point the file at a new volume, `provision up`, then `provision restore {resource}`"
            );
        }
    }
}

/// `UpgradeError::RecordRecovered`: where the data is, and that a re-run finds it.
fn recovered(out: &mut String, resource: &str, volume: &str, record: &str) {
    let _ = writeln!(
        out,
        "error: {resource}: its data was moved by `provision upgrade` to volume `{volume}`, and the record of that upgrade ({record}) was gone"
    );
    let _ = writeln!(
        out,
        "  provision wrote the record again from the volumes' labels; nothing was created or deleted"
    );
    let _ = writeln!(out, "hint: run the command again: it uses `{volume}`");
}

/// `UpgradeError::Failed`: the step, what became of the data, and the cause below it.
fn failed(
    out: &mut String,
    verbose: bool,
    resource: &str,
    step: &str,
    old_data: &str,
    restored: bool,
    cause: &Error,
) {
    let _ = writeln!(out, "error: {resource}: the upgrade failed to {step}");
    if restored {
        let _ = writeln!(
            out,
            "  the old database serves again as before, on its data in {old_data}; the partial new data was removed"
        );
    } else {
        let _ = writeln!(
            out,
            "  the old data is intact in {old_data}, but the old server could not be started again"
        );
    }
    let _ = write!(out, "Caused by: ");
    let inner = cause.render_with(verbose);
    let inner = inner.strip_prefix("error: ").unwrap_or(&inner);
    for line in inner.lines() {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "hint: fix the cause and run `provision upgrade {resource}` again{}",
        if restored {
            ""
        } else {
            ", or `provision up` with the old image"
        }
    );
}

#[cfg(test)]
mod tests {
    use super::compare_majors;

    #[test]
    fn majors_compare_by_their_numbers() {
        assert!(compare_majors("15", "18").is_lt());
        assert!(compare_majors("9", "10").is_lt(), "not as text");
        assert!(compare_majors("10.11", "11.4").is_lt());
        assert!(compare_majors("8.4", "8.0").is_gt());
        assert!(compare_majors("7", "7").is_eq());
    }
}
