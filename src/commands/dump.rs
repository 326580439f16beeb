//! `provision dump DB [-o FILE]`: the engine's own dump of one database, streamed (local, or
//! `--cloud` from this machine over verified TLS).

use std::path::Path;

use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

pub fn run(
    session: &Session,
    target: Target,
    database: &str,
    output: Option<&Path>,
) -> Result<Exit, Error> {
    block_on(async {
        match target {
            Target::Local => local::workflows::dump(session, database, output).await,
            Target::Cloud => cloud::data::dump(session, database, output).await,
        }
    })
    .map(|()| Exit::Success)
}
