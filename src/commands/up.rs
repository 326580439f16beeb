//! `provision up [--local|--cloud]` (the default command): every database up, and ready;
//! then the app services' migrations (`x-provision.migrate`), unless `--no-migrate`.

use super::migrate;
use crate::error::{DataError, Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

/// What `up` does besides bringing the databases up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// First move local data of an older major to the manifest's (`up --upgrade`).
    pub upgrade: bool,
    /// Run the app services' migrations afterwards (`--no-migrate` turns it off).
    pub migrate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            upgrade: false,
            migrate: true,
        }
    }
}

pub fn run(session: &Session, target: Target, options: Options) -> Result<Exit, Error> {
    if options.upgrade && target == Target::Cloud {
        return Err(DataError::NotInCloud {
            command: "up --upgrade",
        }
        .into());
    }
    block_on(async {
        match target {
            Target::Local if options.upgrade => {
                local::upgrade::upgrade_all(session).await?;
                local::up(session).await?;
            }
            Target::Local => local::up(session).await?,
            Target::Cloud => cloud::up(session).await?,
        }
        if options.migrate {
            migrate::after_up(session, target).await?;
        }
        Ok(())
    })
    .map(|()| Exit::Success)
}
