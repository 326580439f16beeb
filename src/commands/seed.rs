//! `provision seed DB`: apply the database's `x-provision.seed` files now.

use crate::error::{DataError, Error, Exit};
use crate::local;
use crate::plan::Target;
use crate::session::{Session, block_on};

pub fn run(session: &Session, target: Target, database: &str) -> Result<Exit, Error> {
    if target == Target::Cloud {
        return Err(DataError::NotInCloud { command: "seed" }.into());
    }
    block_on(local::seed::seed(session, database)).map(|()| Exit::Success)
}
