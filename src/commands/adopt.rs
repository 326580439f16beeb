//! `provision adopt --cloud DB --id ID` and `provision release --cloud DB`: bring a database
//! made outside provision under the manifest, and hand it back (`cloud::adopt`). Only for
//! the cloud: local databases are provision's own.

use crate::cloud;
use crate::cloud::adopt::AdoptArgs;
use crate::error::{AdoptError, Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on, confirmed};

pub fn adopt(session: &Session, target: Target, args: &AdoptArgs) -> Result<Exit, Error> {
    match target {
        Target::Local => Err(AdoptError::NeedsCloud { command: "adopt" }.into()),
        Target::Cloud => block_on(cloud::adopt::adopt(session, args)).map(confirmed),
    }
}

pub fn release(
    session: &Session,
    target: Target,
    database: &str,
    yes: bool,
) -> Result<Exit, Error> {
    match target {
        Target::Local => Err(AdoptError::NeedsCloud { command: "release" }.into()),
        Target::Cloud => block_on(cloud::adopt::release(session, database, yes)).map(confirmed),
    }
}
