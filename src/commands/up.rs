//! `provision up [--local|--cloud]` (the default command): every database up, and ready;
//! then the app services' migrations (`x-provision.migrate`), unless `--no-migrate`.

use super::migrate;
use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

pub fn run(session: &Session, target: Target, migrate: bool) -> Result<Exit, Error> {
    block_on(async {
        match target {
            Target::Local => local::up(session).await?,
            Target::Cloud => cloud::up(session).await?,
        }
        if migrate {
            migrate::after_up(session, target).await?;
        }
        Ok(())
    })
    .map(|()| Exit::Success)
}
