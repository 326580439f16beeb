//! `provision restore DB [FILE|-]`: a dump back into one database (local, or `--cloud` from
//! this machine over verified TLS), crash-safely.

use std::path::Path;

use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

pub fn run(
    session: &Session,
    target: Target,
    database: &str,
    input: Option<&Path>,
) -> Result<Exit, Error> {
    block_on(async {
        match target {
            Target::Local => local::workflows::restore(session, database, input).await,
            Target::Cloud => cloud::data::restore(session, database, input).await,
        }
    })
    .map(|()| Exit::Success)
}
