//! `provision snapshot save|list|restore|rm`: local branches of one database's data.

use crate::error::{DataError, Error, Exit};
use crate::local::snapshot;
use crate::plan::Target;
use crate::session::{self, Session, block_on};

/// `provision snapshot ...`: copies of one local database's data, kept beside it.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Copy the database's data (stopped for the copy, then started again) under NAME
    Save {
        /// The database service
        database: String,
        /// Letters, digits, `.`, `_`, `-`
        name: String,
    },
    /// List the project's snapshots (of one database)
    List {
        /// Only this database's
        database: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Put a snapshot's copy back in place of the data (crash-safe; same major version only)
    Restore {
        /// The database service
        database: String,
        name: String,
    },
    /// Delete a snapshot
    Rm {
        /// The database service
        database: String,
        name: String,
    },
}

pub fn run(session: &Session, target: Target, action: &Action) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud {
            command: "snapshot",
        }
        .into());
    }
    match action {
        Action::Save { database, name } => {
            block_on(snapshot::save(session, database, name))?;
        }
        Action::List { database, json } => {
            let list = snapshot::list(session, database.as_deref())?;
            let text = if *json {
                session::json(&list)?
            } else {
                snapshot::render(&list)
            };
            session::print(&text)?;
        }
        Action::Restore { database, name } => {
            block_on(snapshot::restore(session, database, name))?;
        }
        Action::Rm { database, name } => {
            block_on(snapshot::remove(session, database, name))?;
        }
    }
    Ok(Exit::Success)
}
