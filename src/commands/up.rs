//! `provision up [--local|--cloud]` (the default command): every database up, and ready.

use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

pub fn run(session: &Session, target: Target) -> Result<Exit, Error> {
    block_on(async {
        match target {
            Target::Local => local::up(session).await,
            Target::Cloud => cloud::up(session).await,
        }
    })
    .map(|()| Exit::Success)
}
