//! AWS behaviour that the emulator cannot show, with mocked responses (aws-smithy-mocks):
//! moto makes everything `available` at once and never throttles.

use std::time::Duration;

use aws_sdk_rds::operation::create_db_instance::CreateDbInstanceOutput;
use aws_sdk_rds::operation::describe_db_engine_versions::DescribeDbEngineVersionsOutput;
use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::types::DbEngineVersion;
use aws_sdk_rds::types::{
    DbInstance, Endpoint as RdsEndpoint, Tag, error::DbInstanceNotFoundFault,
};
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::Cloud;
use crate::catalog::Catalog;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::manifest;
use crate::plan::{self, Plan, Target};
use crate::progress::Progress;

fn plan() -> Plan {
    let catalog = Catalog::builtin().unwrap();
    let m = manifest::from_bytes(
        b"services:\n  db: {image: 'postgres:16'}\n",
        "compose.yaml".into(),
        "shop".into(),
        &|_| None,
    )
    .unwrap();
    plan::plan(&m, &catalog, Target::Cloud, None).unwrap()
}

fn instance(status: &str) -> DescribeDbInstancesOutput {
    let mut db = DbInstance::builder()
        .db_instance_identifier("shop-db")
        .db_instance_status(status)
        .engine("postgres")
        .engine_version("16")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .multi_az(false)
        .deletion_protection(true)
        .backup_retention_period(7)
        // Ours: provision adopts nothing else.
        .tag_list(
            Tag::builder()
                .key("provision:project")
                .value("shop")
                .build(),
        )
        .tag_list(Tag::builder().key("provision:resource").value("db").build());
    if status == "available" {
        db = db.endpoint(
            RdsEndpoint::builder()
                .address("shop-db.abc.us-east-1.rds.amazonaws.com")
                .port(5432)
                .build(),
        );
    }
    DescribeDbInstancesOutput::builder()
        .db_instances(db.build())
        .build()
}

fn secret_rules() -> aws_sdk_secretsmanager::Client {
    let describe = mock!(aws_sdk_secretsmanager::Client::describe_secret).then_output(|| {
        DescribeSecretOutput::builder()
            .name("provision/shop/db")
            .build()
    });
    let get = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(|| {
        GetSecretValueOutput::builder()
            .secret_string("s3cret-password")
            .build()
    });
    mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&describe, &get]
    )
}

/// A cloud whose RDS is `rds`, whose secret exists, and with no ElastiCache rules.
fn cloud_with(rds: aws_sdk_rds::Client) -> Cloud {
    let elasticache = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        Vec::<&aws_smithy_mocks::Rule>::new()
    );
    Cloud::from_clients(rds, elasticache, secret_rules())
}

/// XML error body of the RDS (awsQuery) protocol.
fn throttled() -> String {
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>".into()
}

#[tokio::test(start_paused = true)]
async fn creating_then_available_is_waited_for_and_adopted() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .error(|| {
            DescribeDBInstancesError::DbInstanceNotFoundFault(
                DbInstanceNotFoundFault::builder().build(),
            )
        })
        .output(|| instance("creating"))
        .times(3)
        .output(|| instance("backing-up"))
        .output(|| instance("available"))
        .build();
    // The instance joins the project's parameter group that refuses plaintext.
    let create = mock!(aws_sdk_rds::Client::create_db_instance)
        .match_requests(|r| {
            r.engine_version() == Some("16.7")
                && r.db_parameter_group_name() == Some("shop-postgres16-tls")
        })
        .then_output(|| CreateDbInstanceOutput::builder().build());
    let groups = mock!(aws_sdk_rds::Client::describe_db_parameter_groups).then_output(|| {
        aws_sdk_rds::operation::describe_db_parameter_groups::DescribeDbParameterGroupsOutput::builder()
            .db_parameter_groups(
                aws_sdk_rds::types::DbParameterGroup::builder()
                    .db_parameter_group_name("shop-postgres16-tls")
                    .build(),
            )
            .build()
    });
    let force_ssl = mock!(aws_sdk_rds::Client::modify_db_parameter_group)
        .match_requests(|r| {
            r.parameters().iter().any(|p| {
                p.parameter_name() == Some("rds.force_ssl") && p.parameter_value() == Some("1")
            })
        })
        .then_output(|| {
            aws_sdk_rds::operation::modify_db_parameter_group::ModifyDbParameterGroupOutput::builder()
                .build()
        });
    // AWS's own list wins over the template's table (which says 16.10 here).
    let versions = mock!(aws_sdk_rds::Client::describe_db_engine_versions).then_output(|| {
        DescribeDbEngineVersionsOutput::builder()
            .db_engine_versions(DbEngineVersion::builder().engine_version("16.6").build())
            .db_engine_versions(DbEngineVersion::builder().engine_version("16.7").build())
            .build()
    });
    let rds = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe, &create, &versions, &groups, &force_ssl]
    );
    let cloud = cloud_with(rds);
    let p = plan();
    let r = &p.resources[0];
    let observed = cloud
        .converge(
            r,
            r.cloud.as_ref().unwrap(),
            &super::Placement::of(r.cloud.as_ref().unwrap(), None, &[]),
            &super::Prefetched::default(),
            &Progress::new(true, &[]),
            Deadline::after(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert_eq!(observed.status, "available");
    assert_eq!(
        observed.address.as_deref(),
        Some("shop-db.abc.us-east-1.rds.amazonaws.com")
    );
    assert_eq!(create.num_calls(), 1);
    assert_eq!(force_ssl.num_calls(), 1);
    assert_eq!(
        describe.num_calls(),
        6,
        "not found, creating x3, backing-up, available"
    );
}

#[tokio::test]
async fn a_resource_still_creating_at_the_deadline_is_a_timeout_that_names_its_status() {
    let describe =
        mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| instance("creating"));
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe]);
    let cloud = cloud_with(rds);
    let p = plan();
    let r = &p.resources[0];
    let err = cloud
        .converge(
            r,
            r.cloud.as_ref().unwrap(),
            &super::Placement::of(r.cloud.as_ref().unwrap(), None, &[]),
            &super::Prefetched::default(),
            &Progress::new(true, &[]),
            Deadline::after(Duration::ZERO),
        )
        .await
        .unwrap_err();
    match &err {
        Error::CloudTimeout {
            status, identifier, ..
        } => assert_eq!(
            (status.as_str(), identifier.as_str()),
            ("creating", "shop-db")
        ),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        err.render()
            .contains("run `provision --cloud` again to keep waiting")
    );
}

#[tokio::test(start_paused = true)]
async fn a_terminal_status_ends_the_wait_at_once_with_awss_word_and_a_hint() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances)
        .then_output(|| instance("incompatible-network"));
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe]);
    let cloud = cloud_with(rds);
    let p = plan();
    let r = &p.resources[0];
    let err = cloud
        .converge(
            r,
            r.cloud.as_ref().unwrap(),
            &super::Placement::of(r.cloud.as_ref().unwrap(), None, &[]),
            &super::Prefetched::default(),
            &Progress::new(true, &[]),
            Deadline::after(Duration::from_secs(3600)),
        )
        .await
        .unwrap_err();
    let text = err.render();
    assert!(
        text.contains("`incompatible-network`") && text.contains("hint: the subnets"),
        "{text}"
    );
    assert_eq!(
        describe.num_calls(),
        2,
        "one to find it, one to see the status"
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_with_backoff() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .http_status(400, Some(throttled()))
        .times(3)
        .output(|| instance("available"))
        .build();
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, [&describe], |c| c
        .retry_config(super::retry_config()));
    let cloud = cloud_with(rds);
    let p = plan();
    let observed = cloud
        .observe(p.resources[0].cloud.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.status, "available");
    assert_eq!(
        describe.num_calls(),
        4,
        "three throttled attempts, then success"
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_that_persists_is_reported_with_its_code_and_a_hint() {
    let describe = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .http_status(400, Some(throttled()))
        .repeatedly()
        .build();
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, [&describe], |c| c
        .retry_config(super::retry_config()));
    let cloud = cloud_with(rds);
    let p = plan();
    let err = cloud
        .observe(p.resources[0].cloud.as_ref().unwrap())
        .await
        .unwrap_err();
    let text = err.render();
    assert!(
        text.contains("(Throttling)")
            && text.contains("shop-db")
            && text.contains("hint: AWS is throttling"),
        "{text}"
    );
    assert_eq!(
        describe.num_calls(),
        5,
        "the standard retry mode's five attempts"
    );
}
