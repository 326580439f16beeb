//! `provision reset DB [--yes]`: empty one local database (then seed it), keeping its port,
//! password and TLS. Refused for `--cloud`.

use crate::error::{DataError, Error, Exit};
use crate::local;
use crate::plan::Target;
use crate::session::{Session, block_on, confirmed};

pub fn run(session: &Session, target: Target, database: &str, yes: bool) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud { command: "reset" }.into());
    }
    block_on(local::workflows::reset(session, database, yes)).map(confirmed)
}
