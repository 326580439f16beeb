//! `provision plan [--local|--cloud] [--json] [--detailed-exitcode|--drift]`: the desired
//! state, then what `up` would change, read from the target's live state by its own module.

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

/// `plan --format`: the forms other than text and `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// A pull-request comment: changes, costs, link variable names (never a value)
    Markdown,
}

/// `plan`: the desired state, then what `up` would change where the target can be read.
pub fn run(
    session: &Session,
    target: Target,
    as_json: bool,
    format: Option<PlanFormat>,
    detailed_exitcode: bool,
    drift: bool,
) -> Result<Exit, Error> {
    if format == Some(PlanFormat::Markdown) && target != Target::Cloud {
        return Err(Error::MarkdownNeedsCloud);
    }
    if drift && target != Target::Cloud {
        return Err(Error::DriftNeedsCloud);
    }
    // Either verdict needs AWS read: never "no changes" (or "no drift") when it could not look.
    let detailed_exitcode = detailed_exitcode || drift;
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
    let cost = match target {
        Target::Cloud => Some(estimate(&plan)?),
        Target::Local => None,
    };
    let text = if format == Some(PlanFormat::Markdown) {
        let live = match &live {
            Some(Live::Cloud(l)) => Some(l),
            _ => None,
        };
        render::markdown::plan(&plan, live, cost.as_ref())
    } else if as_json {
        let mut value = serde_json::to_value(&plan).map_err(|e| Error::Output(e.into()))?;
        if let (Some(live), Some(object)) = (&live, value.as_object_mut()) {
            let live = serde_json::to_value(live).map_err(|e| Error::Output(e.into()))?;
            object.insert("live".into(), live);
        }
        if let (Some(cost), Some(object)) = (&cost, value.as_object_mut()) {
            let cost = serde_json::to_value(cost).map_err(|e| Error::Output(e.into()))?;
            object.insert("cost".into(), cost);
        }
        session::json(&value)?
    } else {
        let mut text = render::plan(&plan);
        if let Some(cost) = &cost {
            text.push_str(&cloud::cost::render(cost, previews(&plan)));
        }
        if let Some(live) = &live {
            text.push_str(&live.render());
        }
        text
    };
    session::print(&text)?;
    let changes = if drift {
        matches!(&live, Some(Live::Cloud(l)) if l.has_drift())
    } else {
        live.as_ref().is_some_and(Live::has_changes)
    };
    Ok(if detailed_exitcode && changes {
        Exit::ChangesPresent
    } else {
        Exit::Success
    })
}

/// The cost estimate of a cloud plan, in the plan's region, else the environment's.
fn estimate(plan: &crate::plan::Plan) -> Result<cloud::cost::Estimate, Error> {
    let table = cloud::cost::PriceTable::builtin().map_err(Error::Template)?;
    let region = cloud::cost::region(plan);
    Ok(cloud::cost::estimate(plan, region.as_deref(), &table))
}

/// Whether the plan is a preview's (a stage that expires): its cost is shown per day as well.
fn previews(plan: &crate::plan::Plan) -> bool {
    plan.resources
        .iter()
        .filter_map(|r| r.cloud.as_ref())
        .any(|c| c.expires_at.is_some())
}
