//! `provision snapshot save|list|restore|rm`: local branches of one database's data.

use crate::cli::SnapshotAction;
use crate::error::{DataError, Error, Exit};
use crate::local::snapshot;
use crate::plan::Target;
use crate::session::{self, Session, block_on};

pub fn run(session: &Session, target: Target, action: &SnapshotAction) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud {
            command: "snapshot",
        }
        .into());
    }
    match action {
        SnapshotAction::Save { database, name } => {
            block_on(snapshot::save(session, database, name))?;
        }
        SnapshotAction::List { database, json } => {
            let list = snapshot::list(session, database.as_deref())?;
            let text = if *json {
                session::json(&list)?
            } else {
                snapshot::render(&list)
            };
            session::print(&text)?;
        }
        SnapshotAction::Restore { database, name } => {
            block_on(snapshot::restore(session, database, name))?;
        }
        SnapshotAction::Rm { database, name } => {
            block_on(snapshot::remove(session, database, name))?;
        }
    }
    Ok(Exit::Success)
}
