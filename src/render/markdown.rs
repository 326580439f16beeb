//! `plan --cloud --format markdown`: the plan as a pull-request comment. Changes (from AWS
//! when it could be read), the cost estimate, and the names of the variables each app gets.
//! Never a value: a comment is public to everyone who can read the pull request, so nothing
//! here reads a secret, an endpoint or a URL.

use std::fmt::Write as _;

use crate::cloud::LiveState;
use crate::cloud::cost::Estimate;
use crate::plan::Plan;

/// Inline code, with the backticks a name cannot contain anyway taken out.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// The change column's entries: the manifest's changes, then what changed outside provision.
fn changes(l: &crate::cloud::LiveResource) -> Vec<String> {
    l.changes
        .iter()
        .filter(|c| !l.drift.iter().any(|d| d.field == c.field))
        .map(|c| {
            let held = if c.safe { "" } else { " (held)" };
            format!("{} {} → {}{held}", c.field, c.from, c.to)
        })
        .chain(l.drift.iter().map(|d| format!("drift: {}", d.describe())))
        .collect()
}

pub fn plan(plan: &Plan, live: Option<&LiveState>, cost: Option<&Estimate>) -> String {
    let mut out = String::new();
    let stage = plan
        .resources
        .iter()
        .find_map(|r| r.cloud.as_ref())
        .map(|c| c.stage.name().to_owned());
    let _ = write!(out, "### provision plan: {}", code(&plan.project.name));
    if let Some(stage) = &stage {
        let _ = write!(out, ", stage {}", code(stage));
    }
    let _ = writeln!(out, "\n");
    let _ = writeln!(out, "| database | type | AWS resource | class | change |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for r in &plan.resources {
        let Some(cloud) = &r.cloud else { continue };
        let live_row = live.and_then(|l| l.resources.iter().find(|x| x.resource == r.name));
        let change = match live_row {
            None => "unknown (AWS not read)".to_owned(),
            Some(l) if l.changes.is_empty() => match &l.restore {
                Some(restore) => format!("{} ({restore})", l.action),
                None => l.action.to_string(),
            },
            Some(l) => format!("{}: {}", l.action, changes(l).join(", ")),
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {} {} | {} | {change} |",
            code(&r.name),
            r.type_name,
            r.version,
            crate::cloud::aws::kind(cloud.service),
            code(&cloud.identifier),
            code(&cloud.config.class),
        );
    }
    if let Some(live) = live {
        for o in &live.orphaned {
            let _ = writeln!(
                out,
                "| | | {} {} | | orphaned (kept) |",
                o.kind,
                code(&o.identifier)
            );
        }
    }
    if let Some(e) = cost {
        let region = e.region.as_deref().unwrap_or("no region");
        let _ = writeln!(
            out,
            "\n**Estimated cost** (on-demand {region} prices copied on {}, {}; an estimate, not a quote)\n",
            e.prices_date, e.currency
        );
        let _ = writeln!(out, "| database | per month | per day |");
        let _ = writeln!(out, "|---|---:|---:|");
        for d in &e.databases {
            let (m, day) = match (d.monthly, d.daily) {
                (Some(m), Some(day)) => (format!("{m:.2}"), format!("{day:.2}")),
                _ => ("no price".to_owned(), "no price".to_owned()),
            };
            let _ = writeln!(out, "| {} | {m} | {day} |", code(&d.resource));
        }
        let _ = writeln!(
            out,
            "| **total** | **{:.2}** | **{:.2}** |",
            e.monthly_total, e.daily_total
        );
        if e.unpriced > 0 {
            let _ = writeln!(
                out,
                "\n{} without a price in `templates/prices.yml` left out of the total.",
                e.unpriced
            );
        }
    }
    if !plan.services.is_empty() {
        let _ = writeln!(
            out,
            "\n**Link variables** (names only; values are never shown)\n"
        );
        for s in &plan.services {
            let names: Vec<String> = s
                .links
                .iter()
                .flat_map(|l| l.variables.iter().map(|v| code(v)))
                .collect();
            let _ = writeln!(out, "- {}: {}", code(&s.service), names.join(", "));
        }
    }
    out
}
