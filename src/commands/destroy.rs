//! `provision destroy --cloud [--yes] [--skip-final-snapshot]`: delete what AWS has tagged
//! with the project. Only for the cloud: locally that is `down --volumes`.

use crate::cloud;
use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{Session, block_on, confirmed};

pub fn run(
    session: &Session,
    target: Target,
    yes: bool,
    skip_final_snapshot: bool,
) -> Result<Exit, Error> {
    match target {
        Target::Local => Err(Error::NeedsCloud {
            command: "destroy",
            local: "provision down --volumes",
        }),
        Target::Cloud => block_on(cloud::destroy(session, yes, skip_final_snapshot)).map(confirmed),
    }
}
