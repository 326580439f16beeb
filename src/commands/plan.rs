//! `provision plan [--local|--cloud] [--json] [--detailed-exitcode]`: the desired state,
//! then what `up` would change, read from the target's live state by its own module.

use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{self, Session, block_on};
use crate::{cloud, local, render};

/// What the live state of a plan's target says `up` would do.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum Live {
    Local(local::LiveActions),
    Cloud(cloud::LiveState),
}

impl Live {
    fn has_changes(&self) -> bool {
        match self {
            Self::Local(l) => l.has_changes(),
            Self::Cloud(l) => l.has_changes(),
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Local(l) => render::local_live(l),
            Self::Cloud(l) => render::cloud_live(l),
        }
    }
}

/// `plan`: the desired state, then what `up` would change where the target can be read.
pub fn run(
    session: &Session,
    target: Target,
    as_json: bool,
    detailed_exitcode: bool,
) -> Result<Exit, Error> {
    let (_, plan) = session.plan(target)?;
    let live = block_on(async {
        Ok(match target {
            Target::Local => local::live(session, &plan, detailed_exitcode)
                .await?
                .map(Live::Local),
            Target::Cloud => cloud::live(session, &plan, detailed_exitcode)
                .await?
                .map(Live::Cloud),
        })
    })?;
    let text = if as_json {
        let mut value = serde_json::to_value(&plan).map_err(|e| Error::Output(e.into()))?;
        if let (Some(live), Some(object)) = (&live, value.as_object_mut()) {
            let live = serde_json::to_value(live).map_err(|e| Error::Output(e.into()))?;
            object.insert("live".into(), live);
        }
        session::json(&value)?
    } else {
        let mut text = render::plan(&plan);
        if let Some(live) = &live {
            text.push_str(&live.render());
        }
        text
    };
    session::print(&text)?;
    let changes = live.as_ref().is_some_and(Live::has_changes);
    Ok(if detailed_exitcode && changes {
        Exit::ChangesPresent
    } else {
        Exit::Success
    })
}
