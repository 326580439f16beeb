//! The text forms of what commands print: plans, live diffs, status tables. Kept together so
//! that the local and the cloud side read alike; JSON forms come from `serde` directly.

use std::fmt::Write as _;

pub mod markdown;

use crate::catalog::CloudService;
use crate::cloud::LiveState;
use crate::cloud::diff::Action;
use crate::local::State;
use crate::local::{LiveActions, StatusRow};
use crate::plan::{Plan, Target};

/// The text form of a plan: one line per database, then the links.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Project `{}` ({}), {} target: desired state",
        plan.project.name,
        plan.project.source.describe(),
        plan.target.label()
    );
    let width = plan
        .resources
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\nDatabases");
    for r in &plan.resources {
        // A floating tag runs whatever the registry has: say so, never a default.
        let kind = if r.version_resolved_at_pull {
            format!("{} (version resolved at pull)", r.type_name)
        } else {
            format!("{} {}", r.type_name, r.version)
        };
        let detail = database_detail(r);
        let _ = writeln!(out, "  {:width$}  {kind:14} {detail}", r.name);
    }
    if plan.target == Target::Cloud && !plan.resources.is_empty() {
        let _ = writeln!(
            out,
            "  passwords: generated, kept in Secrets Manager as {}",
            crate::names::secret(&plan.project.name, "<database>")
        );
    }
    links(&mut out, plan);
    out
}

/// What one database of the plan is on its target, in a line.
fn database_detail(r: &crate::plan::PlannedResource) -> String {
    if let Some(local) = &r.local {
        let port = local.host_port.map_or_else(
            || {
                format!(
                    "127.0.0.1:{} or the next free port, kept across runs",
                    local.container_port
                )
            },
            |p| format!("127.0.0.1:{p}"),
        );
        let volume = local.volume.as_ref().map_or_else(
            || "no volume (in memory)".to_owned(),
            |v| format!("volume {v}"),
        );
        format!(
            "container {}, image {}, {volume}, {port}",
            local.container, local.image
        )
    } else if let Some(cloud) = &r.cloud {
        let detail = cloud_detail(cloud);
        match &cloud.from_snapshot {
            Some(source) => format!("{detail}; first create: {}", source.describe()),
            None => detail,
        }
    } else {
        String::new()
    }
}

/// What one cloud database of the plan is, in a line.
fn cloud_detail(cloud: &crate::plan::CloudPlan) -> String {
    let c = &cloud.config;
    match cloud.service {
        CloudService::Rds => format!(
            "RDS instance {} ({} {}): {}, {} GiB gp3 encrypted, backups {} days, deletion protection {}, Multi-AZ {}, not public, Database Insights standard{}{}",
            cloud.identifier,
            cloud.engine,
            cloud.engine_version,
            c.class,
            c.storage_gb.unwrap_or_default(),
            c.backup_retention_days,
            on_off(c.deletion_protection),
            on_off(c.multi_az),
            cloud
                .iam_user
                .as_ref()
                .map(|u| format!(", IAM auth as {u}"))
                .unwrap_or_default(),
            // The parameters provision sets, so that a reader sees every default it chose.
            cloud
                .parameter_group
                .as_ref()
                .map(|g| format!(
                    ", parameter group {} ({})",
                    g.name,
                    g.parameters
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .unwrap_or_default()
        ),
        CloudService::AuroraServerless => {
            let capacity = match &c.serverless {
                Some(crate::model::serverless::Serverless::Aurora(a)) => a.capacity(),
                _ => String::new(),
            };
            format!(
                "Aurora Serverless v2 cluster {} ({} {}): {capacity}, one db.serverless writer, storage encrypted, backups {} days, deletion protection {}, not public{}",
                cloud.identifier,
                cloud.engine,
                cloud.engine_version,
                c.backup_retention_days,
                on_off(c.deletion_protection),
                cloud
                    .parameter_group
                    .as_ref()
                    .map(|g| format!(
                        ", cluster parameter group {} ({})",
                        g.name,
                        g.parameters
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .unwrap_or_default()
            )
        }
        CloudService::ElasticacheServerless => format!(
            "ElastiCache serverless cache {} ({} {}): TLS only, RBAC user `{}` (user group {}), encrypted at rest, snapshots {} days",
            cloud.identifier,
            cloud.engine,
            match &c.serverless {
                Some(crate::model::serverless::Serverless::Cache { major_version }) => {
                    major_version.as_str()
                }
                _ => cloud.engine_version.as_str(),
            },
            crate::cloud::aws::SERVERLESS_CACHE_USER,
            crate::names::cache_user_group(&cloud.identifier),
            c.backup_retention_days
        ),
        CloudService::ElasticacheReplicationGroup => format!(
            "ElastiCache replication group {} ({} {}): {}, {} replicas, TLS and AUTH token, encrypted at rest, backups {} days",
            cloud.identifier,
            cloud.engine,
            cloud.engine_version,
            c.class,
            c.replicas,
            c.backup_retention_days
        ),
        CloudService::ElasticacheCluster => {
            format!(
                "ElastiCache cluster {} ({} {}): {}, TLS in transit",
                cloud.identifier, cloud.engine, cloud.engine_version, c.class
            )
        }
    }
}

/// The plan's links: each app service's prefixes, and the variables every prefix gets.
fn links(out: &mut String, plan: &Plan) {
    if plan.services.is_empty() {
        return;
    }
    let width = plan
        .services
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\nLinks");
    for s in &plan.services {
        let links: Vec<String> = s
            .links
            .iter()
            .map(|l| match &l.flavour {
                Some(f) => format!("{}_* -> {} ({f} URL)", l.prefix, l.resource),
                None => format!("{}_* -> {}", l.prefix, l.resource),
            })
            .collect();
        let _ = writeln!(out, "  {:width$}  {}", s.service, links.join(", "));
    }
    let _ = writeln!(
        out,
        "  each prefix P gets {}",
        crate::links::variables("P").join(", ")
    );
    let ca = crate::links::CA_FILE;
    let with_ca = plan
        .services
        .iter()
        .flat_map(|s| &s.links)
        .any(|l| l.variables.iter().any(|v| v.ends_with(ca)));
    if with_ca {
        let _ = writeln!(
            out,
            "  and P_{ca} where the server has a CA of its own (RDS, local TLS), with the client variables PGSSLROOTCERT, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE"
        );
    }
}

/// The live part of `plan --local`.
pub fn local_live(live: &LiveActions) -> String {
    let mut out = format!("\nLive state ({})\n", live.runtime);
    let width = live
        .actions
        .iter()
        .map(|a| a.resource.len())
        .max()
        .unwrap_or(0);
    for a in &live.actions {
        let _ = writeln!(
            out,
            "  {:width$}  {:9}  {}",
            a.resource,
            a.action.label(),
            a.detail
        );
    }
    out
}

/// The live part of `plan --cloud`.
pub fn cloud_live(live: &LiveState) -> String {
    use std::fmt::Write as _;
    let mut out = format!("\nLive state (AWS, {})\n", live.region);
    let width = live
        .resources
        .iter()
        .map(|r| r.resource.len())
        .chain(live.orphaned.iter().map(|o| o.identifier.len()))
        .max()
        .unwrap_or(0);
    for r in &live.resources {
        let detail = match r.action {
            Action::Create => match &r.restore {
                Some(restore) => format!("new {} {}, {restore}", r.kind, r.identifier),
                None => format!("new {} {}", r.kind, r.identifier),
            },
            Action::Conflict => format!(
                "{} {} exists but belongs to another project or to no one; provision will not touch it",
                r.kind, r.identifier
            ),
            Action::NoChange => format!(
                "{} {} is {}",
                r.kind,
                r.identifier,
                r.status.as_deref().unwrap_or("?")
            ),
            // Drift has lines of its own, below.
            _ if r
                .changes
                .iter()
                .all(|c| r.drift.iter().any(|d| d.field == c.field)) =>
            {
                if r.action == Action::Blocked {
                    "cannot put back what changed outside provision".to_owned()
                } else {
                    "puts back what changed outside provision".to_owned()
                }
            }
            _ => r
                .changes
                .iter()
                .filter(|c| !r.drift.iter().any(|d| d.field == c.field))
                .map(|c| {
                    format!(
                        "{} {} -> {}{}",
                        c.field,
                        c.from,
                        c.to,
                        match (c.safe, c.why) {
                            (true, _) => String::new(),
                            (false, Some(why)) => format!(" (not applied by up: {why})"),
                            (false, None) => " (not applied by up: needs a migration)".into(),
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = writeln!(out, "  {:width$}  {:9}  {detail}", r.resource, r.action);
        for d in &r.drift {
            let _ = writeln!(
                out,
                "  {:width$}  {:9}  {}",
                r.resource,
                "drift",
                d.describe()
            );
        }
    }
    for o in &live.orphaned {
        let _ = writeln!(
            out,
            "  {:width$}  {:9}  {} tagged with this project but not in the manifest (kept; `provision destroy --cloud` deletes it)",
            o.identifier, "orphaned", o.kind
        );
    }
    out
}

/// `status --local` as a table.
pub fn local_status(rows: &[StatusRow]) -> String {
    let mut out = String::new();
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:w$}  {:14} {:7} {:8} {:16} {:3} {:5}  DATA",
        "NAME", "TYPE", "RUNTIME", "STATE", "ADDRESS", "TLS", "READY"
    );
    for r in rows {
        let state = match r.state {
            State::Running => "running",
            State::Stopped => "stopped",
            State::Missing => "missing",
        };
        let _ = writeln!(
            out,
            "{:w$}  {:14} {:7} {:8} {:16} {:3} {:5}  {}",
            r.name,
            r.type_name,
            r.runtime.to_string(),
            state,
            r.address.as_deref().unwrap_or("-"),
            if r.tls { "yes" } else { "no" },
            if r.ready { "yes" } else { "no" },
            r.data.as_deref().unwrap_or("-")
        );
    }
    out
}

/// `status --cloud` as a table.
pub fn cloud_status(live: &LiveState) -> String {
    let mut out = String::new();
    let w = live
        .resources
        .iter()
        .map(|r| r.resource.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:w$}  {:30} {:13} {:24} ENDPOINT",
        "NAME", "KIND", "STATE", "IDENTIFIER"
    );
    for r in &live.resources {
        let _ = writeln!(
            out,
            "{:w$}  {:30} {:13} {:24} {}",
            r.resource,
            r.kind,
            r.status.as_deref().unwrap_or("missing"),
            r.identifier,
            r.endpoint.as_deref().unwrap_or("-")
        );
    }
    for o in &live.orphaned {
        let _ = writeln!(
            out,
            "{:w$}  {:30} {:13} {:24} orphaned: tagged with this project, not in the manifest",
            "-", o.kind, o.status, o.identifier
        );
    }
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}
