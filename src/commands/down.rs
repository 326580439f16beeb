//! `provision down [--volumes] [--yes]`: stop and remove the local databases, keeping their
//! data unless `--volumes`. The cloud's counterpart is `destroy`, which is never implied.

use crate::error::{Error, Exit};
use crate::local;
use crate::plan::Target;
use crate::session::{Session, block_on, confirmed};

pub fn run(session: &Session, target: Target, volumes: bool, yes: bool) -> Result<Exit, Error> {
    match target {
        Target::Cloud => Err(Error::LocalOnly {
            command: "down",
            cloud: "provision destroy --cloud",
        }),
        Target::Local => block_on(local::down(session, volumes, yes)).map(confirmed),
    }
}
