//! `provision iam-policy [--json]`: the least-privilege policy this manifest needs on AWS,
//! built by `cloud::iam_policy` from the cloud plan.

use crate::cloud::iam_policy;
use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{self, Session};

pub fn run(session: &Session, json: bool) -> Result<Exit, Error> {
    let (_, plan) = session.plan(Target::Cloud)?;
    let policy = iam_policy::policy(&plan);
    let text = if json {
        session::json(&policy)?
    } else {
        iam_policy::render(&policy, &plan.project.name)
    };
    session::print(&text)?;
    Ok(Exit::Success)
}
