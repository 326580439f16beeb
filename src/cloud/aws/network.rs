//! The network the databases land in, made explicit: the VPC (the manifest's `vpc_id`, else
//! the subnets' VPC, else the account's default VPC), and the security group provision creates
//! and owns, `{project}-provision`, admitting each database's port from exactly the manifest's
//! `allow_from` sources. A default security group admits only itself, so without
//! `allow_from` nothing but the listed `security_group_ids` can connect.
//!
//! EC2 API references: DescribeVpcs (`is-default` filter), DescribeSubnets, CreateSecurityGroup,
//! AuthorizeSecurityGroupIngress / RevokeSecurityGroupIngress
//! (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html).

use crate::plan::CloudPlan;
use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification, UserIdGroupPair,
};

use super::sdk_error;
use crate::error::Error;

/// What the manifest asks of the network, for the whole project.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub project: String,
    pub stage: crate::names::Stage,
    pub region: String,
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub allow_from: Vec<String>,
    /// The databases' ports (5432, 6379, ...).
    pub ports: BTreeSet<u16>,
    /// Whether any RDS instance is planned (RDS wants subnets in two zones).
    pub rds: bool,
}

/// What `prepare` settled.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The security group provision owns, when `allow_from` asks for one.
    pub security_group: Option<String>,
    /// Warnings to show (an open `0.0.0.0/0`).
    pub warnings: Vec<String>,
    /// The subnets of `vpc_id` when the manifest names the VPC but no subnets: the subnet
    /// groups are made from them (else the databases would land in the default VPC).
    pub subnet_ids: Vec<String>,
}

/// Where one database goes, as this run found the network: the plan's own subnets and
/// security groups, the security group provision owns (`allow_from`), and the subnets of a
/// VPC the manifest names without subnets. Made once the network is known and handed beside
/// the plan, which stays as the manifest made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub subnet_ids: Vec<String>,
    /// The DB or cache subnet group made from `subnet_ids`.
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
}

impl Placement {
    pub fn of(cloud: &CloudPlan, owned_group: Option<&str>, vpc_subnets: &[String]) -> Self {
        let mut placement = Self {
            subnet_ids: cloud.subnet_ids.clone(),
            subnet_group: cloud.subnet_group.clone(),
            security_group_ids: cloud.security_group_ids.clone(),
        };
        placement
            .security_group_ids
            .extend(owned_group.map(str::to_owned));
        if placement.subnet_ids.is_empty() && !vpc_subnets.is_empty() {
            placement.subnet_ids = vpc_subnets.to_vec();
            placement.subnet_group = Some(cloud.network.clone());
        }
        placement
    }

    /// The security groups to send: none at all lets AWS use the VPC's default group.
    pub fn security_groups(&self) -> Option<Vec<String>> {
        (!self.security_group_ids.is_empty()).then(|| self.security_group_ids.clone())
    }
}

#[cfg(test)]
mod placement_tests {
    use super::Placement;
    use crate::catalog::Catalog;
    use crate::plan::{Target, plan};

    fn cloud_plan(manifest: &str) -> crate::plan::CloudPlan {
        let m = crate::manifest::from_bytes(
            manifest.as_bytes(),
            "compose.yaml".into(),
            "shop".into(),
            &|_| None,
        )
        .unwrap();
        let p = plan(
            &m,
            &Catalog::builtin().unwrap(),
            Target::Cloud,
            Some("shop"),
        )
        .unwrap();
        p.resources[0].cloud.clone().unwrap()
    }

    #[test]
    fn the_plan_names_the_network_and_placement_adds_what_the_run_found() {
        let c = cloud_plan("services:\n  db: {image: 'postgres:16'}\n");
        assert_eq!(c.network, "shop-provision");
        assert_eq!(c.subnet_group, None);
        let p = Placement::of(
            &c,
            Some("sg-owned"),
            &["subnet-a".into(), "subnet-b".into()],
        );
        assert_eq!(p.security_group_ids, ["sg-owned"]);
        assert_eq!(p.subnet_ids, ["subnet-a", "subnet-b"]);
        assert_eq!(p.subnet_group.as_deref(), Some("shop-provision"));
        // The manifest's own subnets win over a named VPC's, and its groups are kept.
        let c = cloud_plan(
            "x-provision:\n  cloud: {subnet_ids: [subnet-1, subnet-2], security_group_ids: [sg-1]}\nservices:\n  db: {image: 'postgres:16'}\n",
        );
        let p = Placement::of(&c, Some("sg-owned"), &["subnet-a".into()]);
        assert_eq!(p.subnet_ids, ["subnet-1", "subnet-2"]);
        assert_eq!(p.security_group_ids, ["sg-1", "sg-owned"]);
        assert_eq!(Placement::of(&c, None, &[]).security_group_ids, ["sg-1"]);
    }
}

/// One ingress source: a security group or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Group(String),
    V4(String),
    V6(String),
}

fn source(text: &str) -> Source {
    if text.starts_with("sg-") {
        Source::Group(text.to_owned())
    } else if text.contains(':') {
        Source::V6(text.to_owned())
    } else {
        Source::V4(text.to_owned())
    }
}

/// Checks and makes the network before anything else is created: no network at all is an
/// error (exit 65) before any call that creates anything.
pub(super) async fn prepare(client: &Client, wanted: &Wanted) -> Result<Prepared, Error> {
    let mut prepared = Prepared::default();
    let vpc = match (&wanted.vpc_id, wanted.subnet_ids.first()) {
        (Some(vpc), _) => Some(vpc.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(default_vpc(client, wanted).await?),
    };
    let vpc = if wanted.subnet_ids.is_empty() {
        if let Some(vpc_id) = &wanted.vpc_id {
            prepared.subnet_ids = subnets_of(client, vpc_id).await?;
            if prepared.subnet_ids.is_empty() {
                return Err(Error::NoNetwork {
                    region: format!("{} (VPC {vpc_id} has no subnets)", wanted.region),
                });
            }
        }
        vpc
    } else {
        let (subnet_vpc, zones) = subnets(client, &wanted.subnet_ids).await?;
        // A DB subnet group needs subnets in at least two Availability Zones
        // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html).
        if wanted.rds && zones < 2 {
            return Err(Error::Aws {
                op: "use the subnets of",
                target: wanted.project.clone(),
                code: Some("DBSubnetGroupDoesNotCoverEnoughAZs".into()),
                message: format!(
                    "`subnet_ids` lie in {zones} availability zone(s); RDS needs subnets in at least two"
                ),
                source: None,
            });
        }
        vpc.or(subnet_vpc)
    };
    if wanted.allow_from.is_empty() {
        return Ok(prepared);
    }
    for open in wanted
        .allow_from
        .iter()
        .filter(|a| *a == "0.0.0.0/0" || *a == "::/0")
    {
        prepared.warnings.push(format!(
            "warning: `allow_from` has {open}: the databases' ports are open to the whole internet wherever the subnets route to it"
        ));
    }
    let vpc = match vpc {
        Some(v) => v,
        None => default_vpc(client, wanted).await?,
    };
    let name = crate::names::stage_network(&wanted.project, &wanted.stage);
    let group = owned_group(client, &name, &vpc, &wanted.project, &wanted.stage).await?;
    converge_ingress(client, &group, wanted).await?;
    prepared.security_group = Some(group);
    Ok(prepared)
}

async fn default_vpc(client: &Client, wanted: &Wanted) -> Result<String, Error> {
    let out = client
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(sdk_error("find the default VPC of", &wanted.region))?;
    out.vpcs()
        .first()
        .and_then(|v| v.vpc_id())
        .map(str::to_owned)
        .ok_or_else(|| Error::NoNetwork {
            region: wanted.region.clone(),
        })
}

/// The subnets of a VPC.
async fn subnets_of(client: &Client, vpc: &str) -> Result<Vec<String>, Error> {
    let out = client
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(sdk_error("describe the subnets of", vpc))?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect())
}

/// The subnets' VPC and how many zones they cover.
async fn subnets(client: &Client, ids: &[String]) -> Result<(Option<String>, usize), Error> {
    let out = client
        .describe_subnets()
        .set_subnet_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(sdk_error("describe subnets", &ids.join(", ")))?;
    let zones: BTreeSet<&str> = out
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    let vpc = out
        .subnets()
        .first()
        .and_then(|s| s.vpc_id())
        .map(str::to_owned);
    Ok((vpc, zones.len()))
}

/// The project's security group in `vpc`, created (tagged) when missing; one with that name
/// that is not tagged with the project is refused.
async fn owned_group(
    client: &Client,
    name: &str,
    vpc: &str,
    project: &str,
    stage: &crate::names::Stage,
) -> Result<String, Error> {
    let found = client
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(sdk_error("describe security group", name))?;
    if let Some(g) = found.security_groups().first() {
        if !crate::names::owned(|k| tag_of(g.tags(), k), project, stage) {
            return Err(Error::NotOurs {
                identifier: name.to_owned(),
                owner: None,
            });
        }
        return g.group_id().map(str::to_owned).ok_or_else(|| Error::Aws {
            op: "read the id of security group",
            target: name.to_owned(),
            code: None,
            message: "AWS returned no id".into(),
            source: None,
        });
    }
    let mut tags = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroup)
        .tags(
            Tag::builder()
                .key(crate::names::TAG_PROJECT)
                .value(project)
                .build(),
        )
        .tags(Tag::builder().key("Name").value(name).build());
    if let Some(s) = stage.tag() {
        tags = tags.tags(Tag::builder().key(crate::names::TAG_STAGE).value(s).build());
    }
    let out = client
        .create_security_group()
        .group_name(name)
        .description(format!("provision: database access for project {project}"))
        .vpc_id(vpc)
        .tag_specifications(tags.build())
        .send()
        .await
        .map_err(sdk_error("create security group", name))?;
    out.group_id().map(str::to_owned).ok_or_else(|| Error::Aws {
        op: "create security group",
        target: name.to_owned(),
        code: None,
        message: "AWS returned no id".into(),
        source: None,
    })
}

/// Makes the group's ingress exactly: each port from each source. Missing rules are added,
/// others removed.
async fn converge_ingress(client: &Client, group: &str, wanted: &Wanted) -> Result<(), Error> {
    let found = client
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .map_err(sdk_error("describe security group", group))?;
    let mut have: BTreeSet<(u16, Source)> = BTreeSet::new();
    for g in found.security_groups() {
        for p in g.ip_permissions() {
            let (Some(from), Some(to)) = (p.from_port(), p.to_port()) else {
                continue;
            };
            if from != to || p.ip_protocol() != Some("tcp") {
                continue;
            }
            let Ok(port) = u16::try_from(from) else {
                continue;
            };
            for r in p.ip_ranges() {
                if let Some(c) = r.cidr_ip() {
                    have.insert((port, Source::V4(c.to_owned())));
                }
            }
            for r in p.ipv6_ranges() {
                if let Some(c) = r.cidr_ipv6() {
                    have.insert((port, Source::V6(c.to_owned())));
                }
            }
            for pair in p.user_id_group_pairs() {
                if let Some(id) = pair.group_id() {
                    have.insert((port, Source::Group(id.to_owned())));
                }
            }
        }
    }
    let want: BTreeSet<(u16, Source)> = wanted
        .ports
        .iter()
        .flat_map(|port| wanted.allow_from.iter().map(|a| (*port, source(a))))
        .collect();
    let add: Vec<IpPermission> = want.difference(&have).map(permission).collect();
    let remove: Vec<IpPermission> = have.difference(&want).map(permission).collect();
    if !add.is_empty() {
        client
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(add))
            .send()
            .await
            .map_err(sdk_error("allow access in security group", group))?;
    }
    if !remove.is_empty() {
        client
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(remove))
            .send()
            .await
            .map_err(sdk_error("remove access from security group", group))?;
    }
    Ok(())
}

fn permission((port, source): &(u16, Source)) -> IpPermission {
    let p = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(*port))
        .to_port(i32::from(*port));
    match source {
        Source::Group(id) => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build()),
        Source::V4(cidr) => p.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
        Source::V6(cidr) => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()),
    }
    .build()
}

/// The ids of the project's security groups: named `{project}-provision` and tagged with the
/// project (one per VPC it was made in).
async fn owned_groups(
    client: &Client,
    project: &str,
    stage: &crate::names::Stage,
) -> Result<Vec<String>, Error> {
    let name = crate::names::stage_network(project, stage);
    let found = client
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(&name).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{}", crate::names::TAG_PROJECT))
                .values(project)
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error("describe security group", &name))?;
    Ok(found
        .security_groups()
        .iter()
        .filter(|g| crate::names::owned(|k| tag_of(g.tags(), k), project, stage))
        .filter_map(|g| g.group_id())
        .map(str::to_owned)
        .collect())
}

/// The id of the project's security group.
pub(super) async fn find_owned(
    client: &Client,
    project: &str,
    stage: &crate::names::Stage,
) -> Result<Option<String>, Error> {
    Ok(owned_groups(client, project, stage)
        .await?
        .into_iter()
        .next())
}

fn tag_of<'t>(tags: &'t [Tag], key: &str) -> Option<&'t str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Deletes the project's security group (tagged with it), for `destroy`. AWS refuses while a
/// database still uses it: reported, and `destroy` run again finishes it.
pub(super) async fn delete_group(
    client: &Client,
    project: &str,
    stage: &crate::names::Stage,
) -> Result<bool, Error> {
    let name = crate::names::stage_network(project, stage);
    let mut deleted = false;
    for id in owned_groups(client, project, stage).await? {
        client
            .delete_security_group()
            .group_id(&id)
            .send()
            .await
            .map_err(sdk_error("delete security group", &name))?;
        deleted = true;
    }
    Ok(deleted)
}
