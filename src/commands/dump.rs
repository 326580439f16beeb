//! `provision dump DB [-o FILE]`: the engine's own dump of one local database, streamed.

use std::path::Path;

use crate::error::{DataError, Error, Exit};
use crate::local;
use crate::plan::Target;
use crate::session::{Session, block_on};

pub fn run(
    session: &Session,
    target: Target,
    database: &str,
    output: Option<&Path>,
) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud { command: "dump" }.into());
    }
    block_on(local::workflows::dump(session, database, output)).map(|()| Exit::Success)
}
