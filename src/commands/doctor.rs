//! `provision doctor [--local|--cloud] [--json]`: every check of the manifest for both
//! targets (or the one named), and which engine `up --local` would use. The checks are in
//! `crate::doctor`; this file reads the manifest and prints.

use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{self, Session, block_on};

/// `doctor`: every check, for both targets or the one named.
pub fn run(session: &Session, target: Option<Target>, as_json: bool) -> Result<Exit, Error> {
    let targets = target.map_or_else(|| vec![Target::Local, Target::Cloud], |t| vec![t]);
    let report = match session.load() {
        Ok(manifest) => {
            let mut report = crate::doctor::run(
                &manifest,
                &session.catalog,
                &targets,
                session.project.as_deref(),
            )?;
            // Which engine `up --local` would use, unless told to run native servers.
            if targets.contains(&Target::Local)
                && session.runtime != crate::local::RuntimeChoice::Native
            {
                let engine = block_on(async { Ok(crate::local::engine::connect().await) })?;
                crate::doctor::add_engine(&mut report, engine.as_ref().map(|e| &e.found));
            }
            report
        }
        Err(Error::ManifestInvalid { file, problems }) => crate::doctor::unreadable(
            &file,
            &Error::ManifestInvalid {
                file: file.clone(),
                problems,
            },
        ),
        Err(other) => return Err(other),
    };
    session::print(&if as_json {
        session::json(&report)?
    } else {
        report.render_text()
    })?;
    Ok(if report.ok {
        Exit::Success
    } else {
        Exit::Manifest
    })
}
