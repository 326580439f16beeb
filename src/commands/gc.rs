//! `provision gc --cloud [--dry-run] [--skip-final-snapshot]`: delete the project's expired
//! stages (their resources' `provision:expires-at` tags are past). Only for the cloud.

use std::fmt::Write as _;

use crate::cloud;
use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{self, Session, block_on};

pub fn run(
    session: &Session,
    target: Target,
    dry_run: bool,
    skip_final_snapshot: bool,
) -> Result<Exit, Error> {
    if target == Target::Local {
        return Err(Error::NeedsCloud {
            command: "gc",
            local: "provision down --volumes",
        });
    }
    let collected = block_on(cloud::stage::gc(session, dry_run, skip_final_snapshot))?;
    let mut out = String::new();
    if collected.is_empty() {
        out.push_str("no stage of this project has expired\n");
    }
    for c in &collected {
        for r in &c.resources {
            let _ = writeln!(
                out,
                "{} stage {}: {} {} (expired {})",
                if dry_run { "would delete" } else { "deleted" },
                c.stage,
                r.kind,
                r.identifier,
                r.expires_at.as_deref().unwrap_or("?")
            );
        }
    }
    session::print(&out)?;
    Ok(Exit::Success)
}
