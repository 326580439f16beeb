//! `provision status [--local|--cloud] [--json]`: each database's state as the target
//! reports it.

use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{self, Session, block_on};
use crate::{cloud, local, render};

/// `status`: the target's databases as a table, or JSON.
pub fn run(session: &Session, target: Target, as_json: bool) -> Result<Exit, Error> {
    let text = block_on(async {
        match target {
            Target::Local => {
                let rows = local::status(session).await?;
                if as_json {
                    session::json(&rows)
                } else {
                    Ok(render::local_status(&rows))
                }
            }
            Target::Cloud => {
                let live = cloud::status(session).await?;
                if as_json {
                    session::json(&live)
                } else {
                    Ok(render::cloud_status(&live))
                }
            }
        }
    })?;
    session::print(&text)?;
    Ok(Exit::Success)
}
