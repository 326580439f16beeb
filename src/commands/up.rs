//! `provision up [--local|--cloud]` (the default command): every database up, and ready.

use crate::error::{DataError, Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on};
use crate::{cloud, local};

/// `upgrade`: first move local data of an older major to the manifest's (`up --upgrade`).
pub fn run(session: &Session, target: Target, upgrade: bool) -> Result<Exit, Error> {
    if upgrade && target == Target::Cloud {
        return Err(DataError::NotInCloud {
            command: "up --upgrade",
        }
        .into());
    }
    block_on(async {
        match target {
            Target::Local if upgrade => {
                local::upgrade::upgrade_all(session).await?;
                local::up(session).await
            }
            Target::Local => local::up(session).await,
            Target::Cloud => cloud::up(session).await,
        }
    })
    .map(|()| Exit::Success)
}
