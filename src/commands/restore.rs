//! `provision restore DB [FILE|-]`: a dump back into one local database, crash-safely.

use std::path::Path;

use crate::error::{DataError, Error, Exit};
use crate::local;
use crate::plan::Target;
use crate::session::{Session, block_on};

pub fn run(
    session: &Session,
    target: Target,
    database: &str,
    input: Option<&Path>,
) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud { command: "restore" }.into());
    }
    block_on(local::workflows::restore(session, database, input)).map(|()| Exit::Success)
}
