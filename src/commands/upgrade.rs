//! `provision upgrade DB [--cleanup]`: one local database moved to the manifest's newer major
//! version, its old data kept until `--cleanup` (`local::upgrade`).

use crate::error::{DataError, Error, Exit};
use crate::local;
use crate::plan::Target;
use crate::session::{Session, block_on};

pub fn run(
    session: &Session,
    target: Target,
    database: &str,
    cleanup: bool,
) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud { command: "upgrade" }.into());
    }
    block_on(local::upgrade::upgrade(session, database, cleanup)).map(|()| Exit::Success)
}
