//! What a plan's cloud databases cost, estimated from the dated price table in
//! `templates/prices.yml` (on-demand, copied by hand from AWS's public pages; the file says
//! which and when). Pure: the plan and the region come in, an [`Estimate`] comes out. A class
//! or region the table does not list has no price; nothing is guessed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{CloudService, TemplateError};
use crate::plan::Plan;

const SOURCE: &str = include_str!("../../templates/prices.yml");

/// The price table, as `templates/prices.yml` has it.
#[derive(Debug, Deserialize)]
pub struct PriceTable {
    /// When the figures were copied (`YYYY-MM-DD`).
    pub date: String,
    pub currency: String,
    pub hours_per_month: f64,
    /// How much less ElastiCache for Valkey costs than for Redis OSS (fractions), for the
    /// `doctor --cloud` hint; absent: no hint with a figure.
    #[serde(default)]
    pub valkey_saving: Option<ValkeySaving>,
    pub regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValkeySaving {
    /// Per node, node-based clusters ("up to").
    pub node: f64,
    /// ElastiCache Serverless (data stored and ECPUs).
    pub serverless: f64,
}

#[derive(Debug, Default, Deserialize)]
pub struct RegionPrices {
    /// RDS, Single-AZ, per instance-hour, by instance class.
    #[serde(default)]
    pub rds_instance_hour: BTreeMap<String, f64>,
    /// RDS gp3 storage, Single-AZ, per GB-month.
    #[serde(default)]
    pub rds_gp3_gb_month: Option<f64>,
    /// ElastiCache, per node-hour, by node type.
    #[serde(default)]
    pub cache_node_hour: BTreeMap<String, f64>,
}

impl PriceTable {
    /// The table built into the binary.
    pub fn builtin() -> Result<Self, TemplateError> {
        serde_saphyr::from_str(SOURCE).map_err(|e| TemplateError {
            file: "prices.yml",
            message: e.to_string(),
        })
    }
}

/// One database's estimated cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseCost {
    pub resource: String,
    pub class: String,
    /// Billed instances or nodes: a Multi-AZ standby counts, as do replicas.
    pub nodes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_gb: Option<u32>,
    pub multi_az: bool,
    /// In the table's currency; none when the table has no price for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily: Option<f64>,
    /// Why there is no price (the class or region the table does not list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_price: Option<String>,
}

/// The estimate for a plan: per database and in total, with the table's date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Always `true`: these are figures copied from public pages, not a quote.
    pub estimate: bool,
    pub prices_date: String,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub databases: Vec<DatabaseCost>,
    /// The sum over the databases that have a price.
    pub monthly_total: f64,
    pub daily_total: f64,
    /// Databases left out of the total for want of a price.
    pub unpriced: usize,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What one resource is billed on: a plan's settings, or what AWS reports of a live resource
/// (`provision stages`). Both are priced by [`estimate_billed`], so `plan` and `stages` can
/// never disagree on the arithmetic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Billed {
    pub service: CloudService,
    pub class: String,
    /// Billed instances or nodes: a Multi-AZ standby counts, as do replicas.
    pub nodes: u32,
    pub storage_gb: Option<u32>,
    /// RDS's storage type; only gp3 has a price in the table (what `up` creates).
    pub storage_type: Option<String>,
    pub multi_az: bool,
}

/// The estimate of every cloud database of `plan`, in `region` (the plan's, else the
/// environment's; none: nothing has a price).
pub fn estimate(plan: &Plan, region: Option<&str>, table: &PriceTable) -> Estimate {
    let items = plan.resources.iter().filter_map(|r| {
        let cloud = r.cloud.as_ref()?;
        let c = &cloud.config;
        let (nodes, storage_gb, multi_az) = match cloud.service {
            CloudService::Rds => (if c.multi_az { 2 } else { 1 }, c.storage_gb, c.multi_az),
            CloudService::ElasticacheReplicationGroup => (1 + c.replicas, None, c.multi_az),
            CloudService::ElasticacheCluster => (1, None, false),
            // Billed per use (ACU-hours; data stored and ECPUs): `price` has none.
            CloudService::AuroraServerless | CloudService::ElasticacheServerless => {
                (1, None, false)
            }
        };
        let billed = Billed {
            service: cloud.service,
            class: c.class.clone(),
            nodes,
            storage_gb,
            storage_type: None,
            multi_az,
        };
        Some((r.name.clone(), cloud.region.clone(), billed))
    });
    estimate_billed(items, region, table)
}

/// The estimate of `items` (a name, its own region if it has one, what it is billed on), in
/// `region` where an item names none.
pub fn estimate_billed(
    items: impl IntoIterator<Item = (String, Option<String>, Billed)>,
    region: Option<&str>,
    table: &PriceTable,
) -> Estimate {
    let mut databases = Vec::new();
    let mut raw = Vec::new();
    for (name, own_region, b) in items {
        let region = own_region.as_deref().or(region);
        let prices = region.and_then(|r| table.regions.get(r));
        let storage_priced = b
            .storage_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("gp3"));
        let figure = if storage_priced {
            price(b.service, &b.class, b.nodes, b.storage_gb, prices, table)
        } else {
            None
        };
        let no_price = match (&figure, region) {
            (Some(_), _) => None,
            (None, None) => Some("no region to price in".to_owned()),
            (None, Some(_))
                if matches!(
                    b.service,
                    CloudService::AuroraServerless | CloudService::ElasticacheServerless
                ) =>
            {
                Some("no price: billed per use (see the README's Serverless section)".to_owned())
            }
            (None, Some(_)) if !storage_priced => Some(format!(
                "no price for {} storage in templates/prices.yml",
                b.storage_type.as_deref().unwrap_or("?")
            )),
            (None, Some(region)) => Some(format!(
                "no price for {} in {region} in templates/prices.yml",
                b.class
            )),
        };
        raw.push(figure);
        databases.push(DatabaseCost {
            resource: name,
            class: b.class,
            nodes: b.nodes,
            storage_gb: b.storage_gb,
            multi_az: b.multi_az,
            monthly: figure.map(round2),
            daily: figure.map(|m| round2(daily(m, table))),
            no_price,
        });
    }
    // The unrounded figures are summed, so the total does not drift by rounding.
    // `+ 0.0`: an empty float sum is -0.0, which would print as `-0.00`.
    let monthly: f64 = raw.iter().flatten().sum::<f64>() + 0.0;
    Estimate {
        estimate: true,
        prices_date: table.date.clone(),
        currency: table.currency.clone(),
        region: region.map(str::to_owned),
        unpriced: databases.iter().filter(|d| d.monthly.is_none()).count(),
        databases,
        monthly_total: round2(monthly),
        daily_total: round2(daily(monthly, table)),
    }
}

/// A month's figure per day: a month is `hours_per_month` hours, a day 24.
fn daily(monthly: f64, table: &PriceTable) -> f64 {
    monthly * 24.0 / table.hours_per_month
}

/// The region an estimate is in: the plan's (`x-provision.cloud.region`), else the
/// environment's (`AWS_REGION`, `AWS_DEFAULT_REGION`), as the SDK picks it.
pub fn region(plan: &Plan) -> Option<String> {
    let from_env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    plan.resources
        .iter()
        .find_map(|r| r.cloud.as_ref()?.region.clone())
        .or(from_env)
}

/// The monthly figure: instance or node hours (each billed instance: a Multi-AZ standby, each
/// replica), plus RDS storage (a Multi-AZ standby's as well).
fn price(
    service: CloudService,
    class: &str,
    nodes: u32,
    storage_gb: Option<u32>,
    prices: Option<&RegionPrices>,
    table: &PriceTable,
) -> Option<f64> {
    let prices = prices?;
    let hours = table.hours_per_month;
    match service {
        CloudService::Rds => {
            let hourly = prices.rds_instance_hour.get(class)?;
            let storage = match storage_gb {
                Some(gb) => f64::from(gb) * prices.rds_gp3_gb_month? * f64::from(nodes),
                None => 0.0,
            };
            Some(hourly * hours * f64::from(nodes) + storage)
        }
        CloudService::ElasticacheReplicationGroup | CloudService::ElasticacheCluster => {
            let hourly = prices.cache_node_hour.get(class)?;
            Some(hourly * hours * f64::from(nodes))
        }
        // What a serverless database costs depends on its use, not on the plan: no price
        // (see the README's Serverless section for AWS's rates).
        CloudService::AuroraServerless | CloudService::ElasticacheServerless => None,
    }
}

/// The cost lines of a plan's text form.
pub fn render(e: &Estimate, per_day: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let region = e.region.as_deref().unwrap_or("no region");
    let _ = writeln!(
        out,
        "\nCost (estimate: on-demand {region} prices copied on {}, {}; see templates/prices.yml)",
        e.prices_date, e.currency
    );
    let width = e
        .databases
        .iter()
        .map(|d| d.resource.len())
        .max()
        .unwrap_or(0);
    for d in &e.databases {
        let mut what = d.class.clone();
        if d.nodes > 1 {
            let _ = write!(what, " x{}", d.nodes);
        }
        if let Some(gb) = d.storage_gb {
            let _ = write!(what, ", {gb} GB gp3");
        }
        if d.multi_az {
            what.push_str(", Multi-AZ");
        }
        let figure = match (d.monthly, d.daily) {
            (Some(m), Some(day)) if per_day => format!("{m:.2}/month ({day:.2}/day)"),
            (Some(m), _) => format!("{m:.2}/month"),
            _ => d.no_price.clone().unwrap_or_else(|| "no price".into()),
        };
        let _ = writeln!(out, "  {:width$}  {what:32} {figure}", d.resource);
    }
    let mut total = format!("{:.2}/month", e.monthly_total);
    if per_day {
        let _ = write!(total, " ({:.2}/day)", e.daily_total);
    }
    if e.unpriced > 0 {
        let n = e.unpriced;
        let noun = if n == 1 { "database" } else { "databases" };
        let _ = write!(total, ", leaving out {n} {noun} without a price");
    }
    let _ = writeln!(out, "  total: {total}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PriceTable {
        serde_saphyr::from_str(
            "date: '2026-12-03'\ncurrency: USD\nhours_per_month: 730\nregions:\n  r1:\n    rds_instance_hour: {db.a: 0.02}\n    rds_gp3_gb_month: 0.1\n    cache_node_hour: {cache.a: 0.01}\n",
        )
        .unwrap()
    }

    #[test]
    fn the_builtin_table_parses_and_is_dated() {
        let t = PriceTable::builtin().unwrap();
        assert_eq!(t.date.len(), 10);
        assert!(t.regions.contains_key("us-east-1"));
        let us = &t.regions["us-east-1"];
        assert_eq!(us.rds_instance_hour.get("db.t4g.micro"), Some(&0.016));
    }

    #[test]
    fn instances_standbys_replicas_and_storage_add_up() {
        let t = table();
        let r1 = t.regions.get("r1");
        // 0.02 * 730 = 14.6, plus 20 GB * 0.1 = 2.
        let single = price(CloudService::Rds, "db.a", 1, Some(20), r1, &t).unwrap();
        assert!((single - 16.6).abs() < 1e-9, "{single}");
        // Multi-AZ: the standby's hours and its storage too.
        let multi = price(CloudService::Rds, "db.a", 2, Some(20), r1, &t).unwrap();
        assert!((multi - 33.2).abs() < 1e-9, "{multi}");
        // A primary and two replicas: three nodes.
        let group = price(
            CloudService::ElasticacheReplicationGroup,
            "cache.a",
            3,
            None,
            r1,
            &t,
        )
        .unwrap();
        assert!((group - 21.9).abs() < 1e-9, "{group}");
        // Unknown class or region: no price, never a guess.
        assert_eq!(price(CloudService::Rds, "db.b", 1, Some(20), r1, &t), None);
        assert_eq!(
            price(
                CloudService::Rds,
                "db.a",
                1,
                Some(20),
                t.regions.get("r2"),
                &t
            ),
            None
        );
        assert!((round2(16.6 * 24.0 / 730.0) - 0.55).abs() < 1e-9);
    }

    fn billed(service: CloudService, class: &str, nodes: u32, gb: Option<u32>) -> Billed {
        Billed {
            service,
            class: class.into(),
            nodes,
            storage_gb: gb,
            storage_type: None,
            multi_az: nodes > 1 && service == CloudService::Rds,
        }
    }

    #[test]
    fn a_stages_estimate_adds_up_per_month_and_per_day_and_names_what_has_no_price() {
        let t = table();
        let e = estimate_billed(
            [
                // 0.02 * 730 + 20 * 0.1 = 16.6 a month; 16.6 * 24 / 730 = 0.5458 a day.
                (
                    "shop-pr-7-db".to_owned(),
                    None,
                    billed(CloudService::Rds, "db.a", 1, Some(20)),
                ),
                // 2 nodes * 0.01 * 730 = 14.6 a month; 0.48 a day.
                (
                    "shop-pr-7-kv".to_owned(),
                    None,
                    billed(
                        CloudService::ElasticacheReplicationGroup,
                        "cache.a",
                        2,
                        None,
                    ),
                ),
                // Not in the table: left out of the total, said so.
                (
                    "shop-pr-7-mc".to_owned(),
                    None,
                    billed(CloudService::ElasticacheCluster, "cache.zz", 1, None),
                ),
                // gp2 storage: the table prices gp3 only, so no figure rather than a wrong one.
                (
                    "shop-pr-7-old".to_owned(),
                    None,
                    Billed {
                        storage_type: Some("gp2".into()),
                        ..billed(CloudService::Rds, "db.a", 1, Some(20))
                    },
                ),
                // Its own region, which the table lacks.
                (
                    "shop-pr-7-eu".to_owned(),
                    Some("r2".to_owned()),
                    billed(CloudService::Rds, "db.a", 1, Some(20)),
                ),
            ],
            Some("r1"),
            &t,
        );
        let figures: Vec<_> = e
            .databases
            .iter()
            .map(|d| (d.monthly, d.daily, d.no_price.as_deref()))
            .collect();
        assert_eq!(
            figures,
            [
                (Some(16.6), Some(0.55), None),
                (Some(14.6), Some(0.48), None),
                (
                    None,
                    None,
                    Some("no price for cache.zz in r1 in templates/prices.yml")
                ),
                (
                    None,
                    None,
                    Some("no price for gp2 storage in templates/prices.yml")
                ),
                (
                    None,
                    None,
                    Some("no price for db.a in r2 in templates/prices.yml")
                ),
            ]
        );
        // Totals from the unrounded figures: 31.2 a month, 31.2 * 24 / 730 = 1.0257 a day.
        assert!((e.monthly_total - 31.2).abs() < 1e-9, "{}", e.monthly_total);
        assert!((e.daily_total - 1.03).abs() < 1e-9, "{}", e.daily_total);
        assert_eq!(e.unpriced, 3);
        assert_eq!(e.prices_date, "2026-12-03");
        // No region at all: nothing is priced, and each says why.
        let none = estimate_billed(
            [(
                "x".to_owned(),
                None,
                billed(CloudService::Rds, "db.a", 1, None),
            )],
            None,
            &t,
        );
        assert_eq!(
            none.databases[0].no_price.as_deref(),
            Some("no region to price in")
        );
        assert!(none.monthly_total.abs() < 1e-12);
    }

    #[test]
    fn a_preview_costs_a_thirtieth_and_a_bit_of_a_month_per_day() {
        let t = table();
        // 730 hours a month: a day is 24/730 of it, whatever the month.
        assert!((daily(730.0, &t) - 24.0).abs() < 1e-9);
        let e = estimate_billed(
            [(
                "db".to_owned(),
                None,
                billed(CloudService::Rds, "db.a", 1, None),
            )],
            Some("r1"),
            &t,
        );
        // 0.02 an hour: 14.60 a month, 0.48 a day (24 hours).
        assert_eq!(e.databases[0].monthly, Some(14.6));
        assert_eq!(e.databases[0].daily, Some(0.48));
    }
}
