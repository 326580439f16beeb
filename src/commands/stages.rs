//! `provision stages --cloud [--json]`: the project's stages on AWS, with their resources,
//! age and expiry. Only for the cloud.

use std::fmt::Write as _;

use crate::cloud;
use crate::error::{Error, Exit};
use crate::plan::Target;
use crate::session::{self, Session, block_on};

pub fn run(session: &Session, target: Target, json: bool) -> Result<Exit, Error> {
    if target == Target::Local {
        return Err(Error::NeedsCloud {
            command: "stages",
            local: "provision status",
        });
    }
    let stages = block_on(cloud::stage::list(session))?;
    let text = if json {
        session::json(&stages)?
    } else {
        render(&stages)
    };
    session::print(&text)?;
    Ok(Exit::Success)
}

/// `3d 4h`, `2h 5m`, `40s`.
pub fn age(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{}s", seconds.max(0))
    }
}

fn render(stages: &[cloud::stage::StageInfo]) -> String {
    if stages.is_empty() {
        return "no stage of this project exists on AWS\n".to_owned();
    }
    let mut out = String::new();
    for s in stages {
        let _ = writeln!(
            out,
            "{}  {} resource{}  age {}  {}  {}",
            s.stage,
            s.resources.len(),
            if s.resources.len() == 1 { "" } else { "s" },
            s.age_seconds.map_or_else(|| "?".to_owned(), age),
            match (&s.expires_at, s.expired) {
                (Some(at), true) => format!("expired {at}"),
                (Some(at), false) => format!("expires {at}"),
                (None, _) => "no expiry".to_owned(),
            },
            stage_cost(&s.cost, s.resources.len()),
        );
        for r in &s.resources {
            let price = s
                .cost
                .databases
                .iter()
                .find(|d| d.resource == r.identifier)
                .map_or_else(
                    || "no price".to_owned(),
                    |d| match d.monthly {
                        Some(m) => format!("{m:.2}/month"),
                        None => d.no_price.clone().unwrap_or_else(|| "no price".into()),
                    },
                );
            let _ = writeln!(
                out,
                "  {} {} ({}) {}  {price}",
                r.kind, r.identifier, r.resource, r.status
            );
        }
    }
    if let Some(first) = stages.first() {
        let e = &first.cost;
        let _ = writeln!(
            out,
            "(estimates: on-demand {} prices copied on {}, {}; see templates/prices.yml)",
            e.region.as_deref().unwrap_or("no region"),
            e.prices_date,
            e.currency
        );
    }
    out
}

/// A stage's estimated cost: per month and per day, and how many of its resources have no
/// price (never a guess for them).
fn stage_cost(e: &crate::cloud::cost::Estimate, resources: usize) -> String {
    // Resources AWS reported nothing billable for (no class) have no entry at all.
    let unpriced = e.unpriced + resources.saturating_sub(e.databases.len());
    if unpriced == resources {
        return "no price".to_owned();
    }
    let mut text = format!(
        "est. {:.2}/month ({:.2}/day)",
        e.monthly_total, e.daily_total
    );
    if unpriced > 0 {
        let _ = write!(text, ", {unpriced} without a price");
    }
    text
}
