#!/usr/bin/env python3
"""AWS rules layer for provision's tests: an HTTP proxy in front of moto's server.

moto answers RDS, ElastiCache, EC2 and Secrets Manager calls, but checks few of AWS's rules:
every resource is `available` at once, any engine version string is kept, modifications are
accepted in any state, and some error texts differ from AWS's. A test that passes only because
the emulator is lenient proves nothing about AWS, so this layer sits on the port the tests use
(127.0.0.1:4566), forwards every request to moto (127.0.0.1:4567) and enforces, before or after
moto answers, the documented rules below. Each rule cites the AWS page it comes from.

Standard library only (Python 3.11). Started by localstack/moto.sh.

Isolation and configuration
---------------------------
Every request belongs to an *account*: the `x-moto-account-id` header if sent, else a 12-digit
access key id (LocalStack's convention; then the header is added for moto, so that account's
resources are its own), else `default`. Timings and injected faults are per account:

  POST /_rules/config    {"account": "111111111111", "creating_seconds": 2, ...}   (merged)
  POST /_rules/throttle  {"account": ..., "action": "DescribeDBInstances", "count": 3}
  POST /_rules/status    {"account": ..., "id": "shop-db", "status": "incompatible-network"}
  POST /_rules/version   {"account": ..., "id": "shop-db", "version": "16.9"}  (AWS's auto upgrade)
  POST /_rules/age       {"account": ..., "id": "shop-db", "seconds": 25000}   (ages the last
                          storage change, for the 6-hour rule)
  POST /_rules/endpoint  {"account": ..., "id": "shop-db", "address": "localhost", "port": 5432}
                          (a test injection, not an AWS rule: DescribeDBInstances then reports
                          that Endpoint for the instance, so that `dump`/`restore --cloud` reach
                          a real server the test runs; moto's endpoint is a name nothing serves)
  GET  /_rules/state?account=...      resources, credentials (which passwords open each
                                      database), recorded requests
  GET  /_rules/health                 200 when this layer answers
  POST /_rules/reset                  forgets every account's state (moto's own reset is
                                      /moto-api/reset, forwarded as is)

Defaults come from the environment: AWS_RULES_CREATING_SECONDS (1.0),
AWS_RULES_MODIFYING_SECONDS (1.0), AWS_RULES_STORAGE_OPTIMIZATION_SECONDS (1.0).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BACKEND = os.environ.get("AWS_RULES_BACKEND", "http://127.0.0.1:4567")
LISTEN_HOST = os.environ.get("AWS_RULES_HOST", "127.0.0.1")
LISTEN_PORT = int(os.environ.get("AWS_RULES_PORT", "4566"))

DEFAULTS = {
    "creating_seconds": float(os.environ.get("AWS_RULES_CREATING_SECONDS", "1.0")),
    "modifying_seconds": float(os.environ.get("AWS_RULES_MODIFYING_SECONDS", "1.0")),
    "storage_optimization_seconds": float(
        os.environ.get("AWS_RULES_STORAGE_OPTIMIZATION_SECONDS", "1.0")
    ),
}

# ---------------------------------------------------------------------------------------------
# Engine versions AWS offers.
#
# RDS: CreateDBInstance `EngineVersion` takes a version that DescribeDBEngineVersions lists
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html), or a
# major version alone, for which "Amazon RDS defaults to the latest release of the major
# version you specified" (RDS for PostgreSQL release notes, "Amazon RDS for PostgreSQL
# updates": https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html;
# MySQL's and MariaDB's major versions are two-part, `8.0`, `8.4`, `10.11`:
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MySQL.Concepts.VersionMgmt.html,
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MariaDB.Concepts.VersionMgmt.html).
# So `mysql` `8` is refused ("Cannot find version 8 for mysql").
#
# ElastiCache: Valkey and Redis OSS 6+ take `major.minor` (`7.1`, `8.0`; Redis 6 also `6.x`),
# Memcached a full version (`1.6.22`)
# (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html).
# Lists: the versions named on those pages, newest last.
RDS_VERSIONS = {
    "postgres": {
        "13": ["13.20", "13.21", "13.22"],
        "14": ["14.17", "14.18", "14.19"],
        "15": ["15.12", "15.13", "15.14"],
        "16": ["16.8", "16.9", "16.10"],
        "17": ["17.4", "17.5", "17.6"],
        "18": ["18.1"],
    },
    "mysql": {
        "8.0": ["8.0.41", "8.0.42", "8.0.43"],
        "8.4": ["8.4.4", "8.4.5", "8.4.6"],
    },
    "mariadb": {
        "10.5": ["10.5.27", "10.5.28", "10.5.29"],
        "10.6": ["10.6.20", "10.6.21", "10.6.22"],
        "10.11": ["10.11.11", "10.11.13", "10.11.14"],
        "11.4": ["11.4.5", "11.4.7", "11.4.8"],
        "11.8": ["11.8.3"],
    },
}
CACHE_VERSIONS = {
    "redis": {"6": ["6.0", "6.2"], "7": ["7.0", "7.1"]},
    "valkey": {"7": ["7.2"], "8": ["8.0", "8.1", "8.2"]},
    "memcached": {"1.6": ["1.6.6", "1.6.12", "1.6.17", "1.6.22"]},
}
# Parameter group families, as DescribeDBEngineVersions / DescribeCacheEngineVersions report them.
RDS_FAMILY = {"postgres": "postgres{line}", "mysql": "mysql{line}", "mariadb": "mariadb{line}"}
CACHE_FAMILY = {"redis": "redis{line}", "valkey": "valkey{line}", "memcached": "memcached{line}"}


def vkey(v: str):
    return [int(p) if p.isdigit() else -1 for p in v.split(".")]


def resolve_rds_version(engine: str, asked: str | None):
    """The version AWS would create for `asked`, or None when AWS refuses it."""
    lines = RDS_VERSIONS.get(engine)
    if lines is None:
        return asked  # an engine this table does not cover: not ours to judge
    if not asked:
        newest_line = max(lines, key=vkey)
        return lines[newest_line][-1]
    if asked in lines:
        return lines[asked][-1]
    for versions in lines.values():
        if asked in versions:
            return asked
    return None


def resolve_cache_version(engine: str, asked: str | None):
    lines = CACHE_VERSIONS.get(engine)
    if lines is None:
        return asked
    if not asked:
        newest_line = max(lines, key=vkey)
        return lines[newest_line][-1]
    if engine == "redis" and asked == "6.x":
        return "6.2"
    for versions in lines.values():
        if asked in versions:
            return asked
    return None


# ---------------------------------------------------------------------------------------------
# State

LOCK = threading.Lock()
# The identifier field of each create, and one lock per (account, service, identifier): see
# Handler.handle_any.
CREATE_KEYS = {
    ("rds", "CreateDBInstance"): "DBInstanceIdentifier",
    ("rds", "RestoreDBInstanceFromDBSnapshot"): "DBInstanceIdentifier",
    ("rds", "CreateDBParameterGroup"): "DBParameterGroupName",
    ("rds", "CreateDBSubnetGroup"): "DBSubnetGroupName",
    ("elasticache", "CreateReplicationGroup"): "ReplicationGroupId",
    ("elasticache", "CreateCacheCluster"): "CacheClusterId",
    ("elasticache", "CreateCacheSubnetGroup"): "CacheSubnetGroupName",
}
CREATE_GATES: dict[tuple[str, str, str], threading.Lock] = {}
CONFIG: dict[str, dict] = {}  # account -> overrides of DEFAULTS
THROTTLE: dict[str, dict[str, int]] = {}  # account -> action -> remaining throttled calls
DENY: dict[str, set[str]] = {}  # account -> actions answered with AccessDenied
RESOURCES: dict[tuple[str, str], dict] = {}  # (account, id) -> state
REQUESTS: dict[str, list] = {}  # account -> recorded mutating requests (no secrets)
# (account, "rds" | "elasticache", snapshot name) -> engine, version, storage, credentials, phases
SNAPSHOTS: dict[tuple[str, str, str], dict] = {}

SECRET_PARAMS = {"MasterUserPassword", "AuthToken", "SecretString", "SecretBinary"}


def config(account: str) -> dict:
    return {**DEFAULTS, **CONFIG.get(account, {})}


def status_of(res: dict) -> str:
    """What AWS would say now about a resource this layer has seen created or changed."""
    if res.get("forced"):
        return res["forced"]
    now = time.monotonic()
    for until, status in res.get("phases", []):
        if now < until:
            return status
    return "available"


def set_phases(res: dict, phases: list[tuple[float, str]]):
    """Statuses one after another for the given seconds, from now; then `available`."""
    at = time.monotonic()
    res["phases"] = []
    for seconds, status in phases:
        at += seconds
        res["phases"].append((at, status))


# ---------------------------------------------------------------------------------------------
# Errors in each protocol's shape

NS = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "elasticache": "http://elasticache.amazonaws.com/doc/2015-02-02/",
    "ec2": "http://ec2.amazonaws.com/doc/2016-11-15/",
}


def query_error(service: str, code: str, message: str, status: int = 400):
    body = (
        f'<ErrorResponse xmlns="{NS.get(service, NS["rds"])}"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{xml_escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, body.encode()


def json_error(code: str, message: str, status: int = 400):
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body


def xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------------------------
# Rules applied before moto sees a request. Each returns an error response, or None.


def before(service: str, action: str, params: dict, account: str, snapshot: dict | None = None):
    cfg = config(account)
    # Throttling on demand. AWS answers `Throttling` ("Rate exceeded", HTTP 400) for query APIs
    # and `ThrottlingException` for JSON ones; SDKs retry both
    # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html,
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html).
    with LOCK:
        left = THROTTLE.get(account, {})
        for key in (action, "*"):
            if left.get(key, 0) > 0:
                left[key] -= 1
                if service == "secretsmanager":
                    return json_error("ThrottlingException", "Rate exceeded")
                return query_error(service, "Throttling", "Rate exceeded")
    del cfg
    # A policy without the permission. AWS's message names the principal and the action
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
    if action in DENY.get(account, set()):
        message = f"User: arn:aws:iam::{account if account.isdigit() else '123456789012'}:user/ci is not authorized to perform: {service}:{action} on resource: * because no identity-based policy allows the {service}:{action} action"
        if service == "secretsmanager":
            return json_error("AccessDeniedException", message)
        code = "UnauthorizedOperation" if service == "ec2" else "AccessDenied"
        return query_error(service, code, message, 403)
    for alternatives in REQUIRED.get((service, action), []):
        if not any(params.get(a) for a in alternatives):
            return query_error(service, "MissingParameter", f"The request must contain the parameter {' or '.join(alternatives)}")
    refused = name_rules(service, action, params)
    if refused is not None:
        return refused
    if (service, action) in (("rds", "RestoreDBInstanceFromDBSnapshot"), ("rds", "CreateDBSnapshot"), ("elasticache", "CreateSnapshot")) or (
        service == "elasticache" and action == "CreateReplicationGroup" and params.get("SnapshotName")
    ):
        refused = snapshot_rules(service, action, params, account, snapshot)
        if refused is not None:
            return refused
    if service == "rds":
        refused = before_aurora(action, params, account)
        # A cluster's instance runs the cluster's version: the instance rules do not apply.
        if refused is not None or params.get("_cluster_member"):
            return refused
        return before_rds(action, params, account)
    if service == "elasticache":
        return before_elasticache(action, params, account)
    if service == "secretsmanager":
        return before_secrets(action, params, account)
    return None


# Identifier rules per kind, which moto does not check: letters, digits and hyphens, a letter
# first, no two hyphens together, none at the end, and a length limit of the kind's own.
#   DBInstanceIdentifier 1-63 (API_CreateDBInstance.html; the same for restores,
#     API_RestoreDBInstanceFromDBSnapshot.html):
#     https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
#   DBParameterGroupName 1-255: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html
#   ReplicationGroupId 1-40: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
#   CacheClusterId 1-50: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheCluster.html
#   CacheSubnetGroupName up to 255: https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateCacheSubnetGroup.html
# DBSubnetGroupName (up to 255 letters, digits, periods, underscores, spaces or hyphens:
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html) and
# a security group's GroupName (up to 255:
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html) only by length.
NAME_RULES = {
    ("rds", "CreateDBInstance"): ("DBInstanceIdentifier", 63, True),
    ("rds", "RestoreDBInstanceFromDBSnapshot"): ("DBInstanceIdentifier", 63, True),
    ("rds", "CreateDBParameterGroup"): ("DBParameterGroupName", 255, True),
    ("rds", "CreateDBSubnetGroup"): ("DBSubnetGroupName", 255, False),
    ("elasticache", "CreateReplicationGroup"): ("ReplicationGroupId", 40, True),
    ("elasticache", "CreateCacheCluster"): ("CacheClusterId", 50, True),
    ("elasticache", "CreateCacheSubnetGroup"): ("CacheSubnetGroupName", 255, True),
    ("ec2", "CreateSecurityGroup"): ("GroupName", 255, False),
    # DBSnapshotIdentifier: 1-255 letters, digits or hyphens, a letter first, no `--`, no
    # trailing `-` (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html).
    ("rds", "CreateDBSnapshot"): ("DBSnapshotIdentifier", 255, True),
}
# Parameters AWS requires, answered with MissingParameter when absent
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html):
#   RestoreDBInstanceFromDBSnapshot: DBInstanceIdentifier "Required: Yes"; DBSnapshotIdentifier
#     "Must be specified when DBClusterSnapshotIdentifier isn't specified"
#     (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html)
#   CreateDBSnapshot: DBInstanceIdentifier and DBSnapshotIdentifier "Required: Yes" (API_CreateDBSnapshot.html)
#   ElastiCache CreateSnapshot: SnapshotName "Required: Yes", and a ReplicationGroupId or CacheClusterId
#     (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateSnapshot.html)
REQUIRED = {
    ("rds", "RestoreDBInstanceFromDBSnapshot"): [("DBInstanceIdentifier",), ("DBSnapshotIdentifier", "DBClusterSnapshotIdentifier")],
    ("rds", "CreateDBSnapshot"): [("DBInstanceIdentifier",), ("DBSnapshotIdentifier",)],
    ("elasticache", "CreateSnapshot"): [("SnapshotName",), ("ReplicationGroupId", "CacheClusterId")],
}
# What RestoreDBInstanceFromDBSnapshot does not take: the restored instance keeps the snapshot's
# engine version, encryption, master user and master password; none of these is among the
# action's request parameters (API_RestoreDBInstanceFromDBSnapshot.html, "Request Parameters";
# the password is changed afterwards with ModifyDBInstance MasterUserPassword). AWS would not
# apply them; this layer refuses them, so a client that believes it set one fails loudly.
NOT_ON_RESTORE = ("MasterUserPassword", "MasterUsername", "EngineVersion", "StorageEncrypted", "KmsKeyId")
IDENTIFIER = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*")
# Tags: keys up to 128 characters, values up to 256, at most 50 per resource
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Tagging-Resources.html).
TAG_KEY_MAX, TAG_VALUE_MAX, TAGS_MAX = 128, 256, 50
# RDS and ElastiCache tag keys and values take "the set of Unicode letters, digits,
# white-space, '_', '.', ':', '/', '=', '+', '-', '@'" (Java regex
# "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$")
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Tag.html,
# https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_Tag.html); moto takes any.
TAG_CHARS = re.compile(r"[\w\s.:/=+\-@]*")


def name_rules(service: str, action: str, p: dict):
    rule = NAME_RULES.get((service, action))
    if rule is not None:
        field, limit, strict = rule
        name = p.get(field, "")
        bad = not name or len(name) > limit
        if strict and not bad:
            bad = not IDENTIFIER.fullmatch(name) or name.endswith("-")
        if bad:
            code = "InvalidParameterValue"
            return query_error(service, code, f"Invalid {field}: {name!r}. It must be 1 to {limit} letters, digits or hyphens, start with a letter, and not contain two consecutive hyphens or end with one.")
    tags = [t for key, t in tag_fields(p).items()]
    if len(tags) > TAGS_MAX:
        return query_error(service, "TagQuotaPerResourceExceeded", f"at most {TAGS_MAX} tags per resource")
    for t in tags:
        if len(t.get("Key", "")) > TAG_KEY_MAX or len(t.get("Value", "")) > TAG_VALUE_MAX:
            return query_error(service, "InvalidParameterValue", f"Tag {t.get('Key')!r}: keys are at most {TAG_KEY_MAX} characters, values {TAG_VALUE_MAX}")
        if service in ("rds", "elasticache") and not all(TAG_CHARS.fullmatch(t.get(k, "")) for k in ("Key", "Value")):
            return query_error(service, "InvalidParameterValue", f"Tag {t.get('Key')!r}: keys and values may contain only Unicode letters, digits, white space and _ . : / = + - @")
    return None


# Tag rules the adoption of existing resources relies on (`provision adopt` tags a resource it
# did not create, and keeps its record on a secret's tags); moto checks none of them:
#   RDS Tag: key 1-128, value 0-256 Unicode characters, neither "prefixed with aws: or rds:",
#     letters, digits, white space and _ . : / = + - @ only
#     (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Tag.html); up to 50 tags
#     per resource (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Tagging.html).
#   ElastiCache: key up to 128, value up to 256, keys not prefixed with `aws:`
#     (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Tagging-Resources.html);
#     AddTagsToResource fails with TagQuotaPerResourceExceeded when "the resource [would] have
#     more than the allowed number of tags. The maximum number of tags permitted on a resource
#     is 50" (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_AddTagsToResource.html).
#   Secrets Manager TagResource: at most 50 tags per secret, keys up to 127 and values up to 255
#     characters (the Tag type allows 128/256: the stricter is enforced), and "Do not use the
#     aws: prefix in your tag names or values because AWS reserves it"
#     (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_TagResource.html,
#     https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Tag.html).
RDS_TAG_TEXT = re.compile(r"[\w\s.:/=+\-@]*")
TAGGING = {("rds", "AddTagsToResource"), ("elasticache", "AddTagsToResource"), ("secretsmanager", "TagResource"), ("secretsmanager", "CreateSecret")}


def request_tags(service: str, p: dict) -> list[tuple[str, str]]:
    if service == "secretsmanager":
        return [(t.get("Key", ""), t.get("Value", "")) for t in (p.get("Tags") or []) if isinstance(t, dict)]
    return [(t.get("Key", ""), t.get("Value", "")) for t in tag_fields(p).values()]


def tag_rules(service: str, action: str, p: dict, existing: list[str] | None):
    """The rules above, for a request that adds tags; `existing`: the resource's tag keys now
    (None: unknown, or a create)."""
    tags = request_tags(service, p)
    if not tags:
        return None
    if service == "secretsmanager":
        for k, v in tags:
            if not 1 <= len(k) <= 127 or len(v) > 255:
                return json_error("ValidationException", f"Tag {k!r}: keys are 1 to 127 characters, values at most 255")
            if k.lower().startswith("aws:") or v.lower().startswith("aws:"):
                return json_error("InvalidParameterException", f"Tag {k!r}: the aws: prefix is reserved for AWS use")
        keys = {k for k, _ in tags if not k.lower().startswith("aws:")} | {k for k in (existing or []) if not k.lower().startswith("aws:")}
        if len(keys) > 50:
            return json_error("InvalidParameterException", "A secret can have at most 50 tags")
        return None
    for k, v in tags:
        if not 1 <= len(k) <= TAG_KEY_MAX or len(v) > TAG_VALUE_MAX:
            return query_error(service, "InvalidParameterValue", f"Tag {k!r}: keys are 1 to {TAG_KEY_MAX} characters, values at most {TAG_VALUE_MAX}")
        reserved = ("aws:", "rds:") if service == "rds" else ("aws:",)
        if k.lower().startswith(reserved) or (service == "rds" and v.lower().startswith(reserved)):
            return query_error(service, "InvalidParameterValue", f"Tag {k!r}: the prefixes {' and '.join(reserved)} are reserved")
        if service == "rds" and not (RDS_TAG_TEXT.fullmatch(k) and RDS_TAG_TEXT.fullmatch(v)):
            return query_error(service, "InvalidParameterValue", f"Tag {k!r}: letters, digits, white space and _ . : / = + - @ only")
    if existing is not None and len({k for k, _ in tags} | set(existing)) > TAGS_MAX:
        return query_error(service, "TagQuotaPerResourceExceeded", f"The maximum number of tags permitted on a resource is {TAGS_MAX}")
    return None


def tag_fields(p: dict) -> dict:
    """`Tags.Tag.N.Key` / `Tags.member.N.Key` (and EC2's `TagSpecification.1.Tag.N.Key`)."""
    out: dict[str, dict] = {}
    for key, value in p.items():
        m = re.fullmatch(r"(.*Tags?)\.(?:member\.|Tag\.)?(\d+)\.(Key|Value)", key)
        if m:
            out.setdefault(f"{m.group(1)}.{m.group(2)}", {})[m.group(3)] = value
    return out


DELETED_SECRETS: set[tuple[str, str]] = set()  # (account, secret name) scheduled for deletion


def secret_name(secret_id: str) -> str:
    """A secret's name from its name or ARN (`...:secret:NAME-AbCdEf`)."""
    m = re.match(r"arn:aws[\w-]*:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$", secret_id)
    return m.group(1) if m else secret_id


def before_secrets(action: str, p: dict, account: str):
    # A secret scheduled for deletion takes nothing but DescribeSecret, RestoreSecret and
    # DeleteSecret: "You can't perform this operation on the secret because it was marked for
    # deletion" (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html
    # and API_GetSecretValue.html: InvalidRequestException, "The secret is scheduled for
    # deletion"). moto lets PutSecretValue through.
    if action in ("DescribeSecret", "RestoreSecret", "DeleteSecret", "ListSecrets", "CreateSecret"):
        return None
    sid = p.get("SecretId")
    if sid and (account, secret_name(sid)) in DELETED_SECRETS:
        return json_error("InvalidRequestException", AWS_MARKED_FOR_DELETION)
    return None


def res_get(account: str, rid: str | None):
    if not rid:
        return None
    return RESOURCES.get((account, rid))


PARAMETER_GROUPS: dict[tuple[str, str], str] = {}  # (account, name) -> family

# The parameters provision sets, with the values RDS allows per engine: a value outside them is
# InvalidParameterValue. rds.force_ssl 0/1 (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html),
# MySQL's require_secure_transport 0/1 ("1 (ON)", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/mysql-ssl-connections.require-ssl.html),
# MariaDB's ON/OFF (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/mariadb-ssl-connections.require-ssl.html).
PARAMETER_VALUES = {
    ("postgres", "rds.force_ssl"): {"0", "1"},
    ("mysql", "require_secure_transport"): {"0", "1"},
    ("mariadb", "require_secure_transport"): {"ON", "OFF"},
}


def default_group_family(name: str) -> str | None:
    """The family of one of AWS's default DB parameter groups (`default.postgres16`), which
    exist in every account and Region without being created: an instance created without a
    group is in its family's ("If you create a DB instance without specifying a DB parameter
    group, the DB instance uses a default DB parameter group",
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/parameter-groups-overview.html).
    moto has none of them."""
    if not name.startswith("default."):
        return None
    family = name[len("default."):]
    known = {family_of(engine, v) for engine, lines in RDS_VERSIONS.items() for vs in lines.values() for v in vs}
    return family if family in known else None


# BackupRetentionPeriod: "Must be a value from 0 to 35"
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html,
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html);
# moto takes any number.
BACKUP_RETENTION_MAX = 35


def family_engine(family: str) -> str:
    return re.sub(r"[\d.]+$", "", family)


def family_of(engine: str, version: str) -> str:
    """The parameter group family of an engine version: postgres16, mysql8.0, mariadb10.11
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html)."""
    parts = version.split(".")
    return engine + (parts[0] if engine == "postgres" else ".".join(parts[:2]))


def members(p: dict, field: str) -> list[dict]:
    """`Parameters.member.N.X` query fields as a list of dicts, in N's order."""
    out: dict[int, dict] = {}
    for key, value in p.items():
        m = re.fullmatch(rf"{field}\.(?:member|Parameter)\.(\d+)\.(\w+)", key)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [out[k] for k in sorted(out)]


def before_rds(action: str, p: dict, account: str):
    if action in ("CreateDBInstance", "ModifyDBInstance", "RestoreDBInstanceFromDBSnapshot") and "BackupRetentionPeriod" in p:
        days = p["BackupRetentionPeriod"]
        if not days.lstrip("-").isdigit() or not 0 <= int(days) <= BACKUP_RETENTION_MAX:
            return query_error("rds", "InvalidParameterValue", f"Invalid backup retention period: {days}. It must be a value from 0 to {BACKUP_RETENTION_MAX}.")
    if action == "ModifyDBParameterGroup":
        name = p.get("DBParameterGroupName", "")
        family = PARAMETER_GROUPS.get((account, name))
        for m in members(p, "Parameters"):
            # ParameterName, ParameterValue and ApplyMethod are required per parameter
            # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBParameterGroup.html).
            if m.get("ApplyMethod") not in ("immediate", "pending-reboot"):
                return query_error("rds", "InvalidParameterValue", f"ApplyMethod is required for parameter {m.get('ParameterName')}")
            if family is None:
                continue
            allowed = PARAMETER_VALUES.get((family_engine(family), m.get("ParameterName")))
            if allowed is not None and m.get("ParameterValue") not in allowed:
                return query_error("rds", "InvalidParameterValue", f"Value: {m.get('ParameterValue')} is not a valid value for parameter {m.get('ParameterName')}")
            if allowed is None and any(k[1] == m.get("ParameterName") for k in PARAMETER_VALUES):
                return query_error("rds", "InvalidParameterValue", f"Could not find parameter with name: {m.get('ParameterName')}")
        return None
    if action == "DeleteDBParameterGroup":
        name = p.get("DBParameterGroupName", "")
        in_use = [rid for (acc, rid), res in RESOURCES.items() if acc == account and res.get("kind") == "rds" and res.get("parameter_group") == name]
        if in_use:
            return query_error("rds", "InvalidDBParameterGroupState", f"One or more database instances are still members of this parameter group {name}, so the group cannot be deleted")
        return None
    if action == "CreateDBInstance":
        engine, asked = p.get("Engine", ""), p.get("EngineVersion")
        resolved = resolve_rds_version(engine, asked)
        if resolved is None:
            # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
            # (EngineVersion: "For a list of valid engine versions, use DescribeDBEngineVersions")
            return query_error("rds", "InvalidParameterCombination", f"Cannot find version {asked} for {engine}")
        p["EngineVersion"] = resolved
        # MasterUsername: MySQL/MariaDB 1-16, PostgreSQL 1-63 letters, digits, underscores,
        # starting with a letter, not a reserved word
        # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
        user = p.get("MasterUsername", "")
        limit = 63 if engine == "postgres" else 16
        if user and (not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", user) or len(user) > limit):
            return query_error("rds", "InvalidParameterValue", f"The parameter MasterUsername is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and underscores; and must not exceed {limit} characters.")
        if user.lower() in RESERVED_USERNAMES.get(engine, set()):
            return query_error("rds", "InvalidParameterValue", f"MasterUsername {user} cannot be used as it is a reserved word used by the engine")
        for prefix in RESERVED_USERNAME_PREFIXES.get(engine, ()):
            if user.lower().startswith(prefix):
                return query_error("rds", "InvalidParameterValue", f'MasterUsername {user} cannot be used because role names starting with "{prefix}" are reserved by the PostgreSQL engine')
        group = p.get("DBParameterGroupName")
        have = PARAMETER_GROUPS.get((account, group)) if group else None
        want = family_of(engine, resolved)
        if have is not None and have != want:
            # A group of another family cannot serve the instance
            # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html).
            return query_error("rds", "InvalidParameterCombination", f"The parameter group {group} with DBParameterGroupFamily {have} can't be used for this instance. Use a parameter group with DBParameterGroupFamily {want}.")
        return None
    if action == "ModifyDBInstance":
        rid = p.get("DBInstanceIdentifier")
        res = res_get(account, rid)
        if res is None:
            return None
        status = status_of(res)
        # ModifyDBInstance on an instance that is not `available` fails with
        # InvalidDBInstanceState; `storage-optimization` is usable and takes every change but
        # storage (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html,
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html).
        if status not in ("available", "storage-optimization"):
            return query_error("rds", "InvalidDBInstanceState", f"Database instance is not in available state.")
        if "AllocatedStorage" in p:
            new = int(p["AllocatedStorage"])
            old = res.get("storage") or new
            if new != old:
                # Storage grows by at least 10 percent, never shrinks, and not again within 6
                # hours of the last change or while it is being optimized
                # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html).
                if new < old:
                    return query_error("rds", "InvalidParameterCombination", f"Invalid storage size for engine name {res.get('engine')} and storage type gp3: {new}")
                if new < old * 1.1:
                    return query_error("rds", "InvalidParameterCombination", "The AllocatedStorage value must be increased by at least 10 percent.")
                last = res.get("storage_changed")
                if status == "storage-optimization" or (last is not None and time.time() - last < 6 * 3600):
                    return query_error("rds", "InvalidParameterCombination", "You can't currently modify the storage of this DB instance because storage was modified less than six hours ago or is being optimized.")
        if "EngineVersion" in p:
            cur = res.get("version")
            want = p["EngineVersion"]
            if resolve_rds_version(res.get("engine", ""), want) is None:
                return query_error("rds", "InvalidParameterCombination", f"Cannot find version {want} for {res.get('engine')}")
            # No downgrades (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Upgrading.html).
            if cur and vkey(want) < vkey(cur)[: len(vkey(want))]:
                return query_error("rds", "InvalidParameterCombination", f"Cannot upgrade {res.get('engine')} from {cur} to {want}")
        if "MaxAllocatedStorage" in p and int(p["MaxAllocatedStorage"]) <= (res.get("storage") or 0):
            return query_error("rds", "InvalidParameterCombination", "Max storage size must be greater than storage size")
        if "DBParameterGroupName" in p:
            # "The DB parameter group must be in the same DB parameter group family as this DB
            # instance" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html:
            # DBParameterGroupName); one that does not exist is DBParameterGroupNotFound (moto
            # checks that, once the layer has made AWS's default groups exist for it).
            group = p["DBParameterGroupName"]
            have = PARAMETER_GROUPS.get((account, group)) or default_group_family(group)
            want = family_of(res.get("engine", ""), res.get("version") or "")
            if have is not None and have != want:
                return query_error("rds", "InvalidParameterCombination", f"The parameter group {group} with DBParameterGroupFamily {have} can't be used for this instance. Use a parameter group with DBParameterGroupFamily {want}.")
    if action == "CreateDBInstance" and "MaxAllocatedStorage" in p:
        pass
    return None


def snapshot_of(account: str, service: str, name: str, backend: dict | None) -> dict | None:
    """A snapshot as AWS would describe it now: what this layer recorded when it was taken
    (its `creating` phase included), else what moto has (an automated snapshot moto made)."""
    with LOCK:
        rec = SNAPSHOTS.get((account, service, name))
        if rec is not None:
            return {**rec, "status": status_of(rec)}
    return backend


def snapshot_rules(service: str, action: str, p: dict, account: str, backend: dict | None):
    if (service, action) == ("rds", "CreateDBSnapshot"):
        res = res_get(account, p.get("DBInstanceIdentifier"))
        # "InvalidDBInstanceState: The DB instance isn't in a valid state" (a snapshot is taken
        # of an available instance) (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html).
        if res is not None and status_of(res) not in ("available", "storage-optimization"):
            return query_error("rds", "InvalidDBInstanceState", f"Cannot create a snapshot because the database instance {p.get('DBInstanceIdentifier')} is not currently in the available state.")
        return None
    if (service, action) == ("elasticache", "CreateSnapshot"):
        rid = p.get("ReplicationGroupId") or p.get("CacheClusterId")
        res = res_get(account, rid)
        if res is not None:
            # "This operation is valid for Valkey or Redis OSS only"; the cache must be
            # available: InvalidReplicationGroupState / InvalidCacheClusterState
            # (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateSnapshot.html).
            if res.get("engine") == "memcached":
                return query_error("elasticache", "InvalidParameterCombination", "Snapshots are supported for Valkey and Redis OSS only.")
            if status_of(res) != "available":
                code = "InvalidReplicationGroupState" if p.get("ReplicationGroupId") else "InvalidCacheClusterState"
                return query_error("elasticache", code, f"{rid} is not in the available state.")
        return None
    if (service, action) == ("rds", "RestoreDBInstanceFromDBSnapshot"):
        for key in NOT_ON_RESTORE:
            if key in p:
                return query_error("rds", "InvalidParameterCombination", f"{key} cannot be set when restoring from a DB snapshot: the restored instance keeps the snapshot's; change it with ModifyDBInstance once the instance is available.")
        sid = p.get("DBSnapshotIdentifier", "")
        name = sid.rsplit(":snapshot:", 1)[-1] if sid.startswith("arn:") else sid
        snap = snapshot_of(account, "rds", name, backend)
        if snap is None:
            # DBSnapshotNotFound (404): "DBSnapshotIdentifier doesn't refer to an existing DB
            # snapshot" (API_RestoreDBInstanceFromDBSnapshot.html, Errors).
            return query_error("rds", "DBSnapshotNotFound", f"DBSnapshot {sid} not found.", 404)
        if snap["status"] != "available":
            # InvalidDBSnapshotState (400) (API_RestoreDBInstanceFromDBSnapshot.html, Errors):
            # only an available snapshot is restored.
            return query_error("rds", "InvalidDBSnapshotState", f"DBSnapshot {sid} is not in the available state (it is {snap['status']}).")
        engine = p.get("Engine")
        # Engine: "Must be compatible with the engine of the source. For example, you can
        # restore a MariaDB 10.1 DB instance from a MySQL 5.6 snapshot." (API page, Engine).
        if engine and engine != snap.get("engine") and not (snap.get("engine") == "mysql" and engine == "mariadb"):
            return query_error("rds", "InvalidParameterCombination", f"The engine {engine} is not compatible with the snapshot's engine {snap.get('engine')}.")
        if "AllocatedStorage" in p and snap.get("storage") and int(p["AllocatedStorage"]) < int(snap["storage"]):
            # AllocatedStorage follows CreateDBInstance's allocation rules and must hold the
            # snapshot's data ("Be sure to allocate enough storage for your new DB instance so
            # that the restore operation can succeed", API page, AllocatedStorage); storage never
            # shrinks (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html).
            return query_error("rds", "InvalidParameterValue", "The allocated storage size can't be less than the source snapshot or backup size.")
        group = p.get("DBParameterGroupName")
        have = PARAMETER_GROUPS.get((account, group)) if group else None
        want = family_of(snap.get("engine") or "", snap.get("version") or "") if snap.get("version") else None
        if have is not None and want is not None and have != want:
            return query_error("rds", "InvalidParameterCombination", f"The parameter group {group} with DBParameterGroupFamily {have} can't be used for this instance. Use a parameter group with DBParameterGroupFamily {want}.")
        p["_snapshot"] = snap
        return None
    if service == "elasticache" and action == "CreateReplicationGroup":
        name = p.get("SnapshotName", "")
        snap = snapshot_of(account, "elasticache", name, backend)
        # SnapshotName: "The name of a snapshot from which to restore data into the new
        # replication group" (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html):
        # it must exist (SnapshotNotFoundFault, 404) and be available; moto accepts any name.
        if snap is None:
            return query_error("elasticache", "SnapshotNotFoundFault", f"Snapshot {name} not found.", 404)
        if snap["status"] != "available":
            return query_error("elasticache", "InvalidSnapshotState", f"Snapshot {name} is not in the available state (it is {snap['status']}).")
        # A Valkey or Redis OSS backup seeds a Valkey or Redis OSS cache, Redis OSS into Valkey
        # included (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/backups-restoring.html).
        engine = p.get("Engine", "redis")
        if snap.get("engine") and engine != snap["engine"] and not (snap["engine"] == "redis" and engine == "valkey"):
            return query_error("elasticache", "InvalidParameterCombination", f"A {snap['engine']} snapshot cannot seed a {engine} replication group.")
        p["_snapshot"] = snap
        return None
    return None


RESERVED_USERNAMES = {
    # MasterUsername "Can't be a reserved word for the chosen database engine"
    # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.Constraints).
    # Which words, from AWS's own refusals and the users RDS keeps on each engine:
    # - `rdsadmin` on every engine, `admin` on PostgreSQL (and not on MySQL): checked against real
    #   deployments in https://github.com/aws-cloudformation/cfn-lint/pull/4425; AWS's answer,
    #   "MasterUsername admin cannot be used as it is a reserved word used by the engine"
    #   (InvalidParameterValue), in https://github.com/aws/aws-cdk/issues/10579.
    # - PostgreSQL's `rdsrepladmin`, `rds_superuser`, `rdstopmgr`: roles RDS keeps on the instance
    #   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.html).
    # - MySQL's and MariaDB's `rdsrepladmin`: a predefined user RDS creates ("Understanding
    #   predefined users": https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.CommonDBATasks.html#Appendix.MySQL.CommonDBATasks.users).
    #   (The engines' own `mysql.sys`, `mariadb.sys`... already fail the shape rule above.)
    "postgres": {"rdsadmin", "admin", "rdsrepladmin", "rds_superuser", "rdstopmgr"},
    "mysql": {"rdsadmin", "rdsrepladmin", "mysql.sys", "mysql.session", "mysql.infoschema"},
    "mariadb": {"rdsadmin", "rdsrepladmin", "mariadb.sys"},
}
# PostgreSQL reserves role names starting with `pg_` since 9.6 ("Reserve the "pg_" namespace for
# roles": https://postgresql.org/message-id/E1aodSE-0007Jp-22%40gemulon.postgresql.org); AWS refuses such a master
# user: "MasterUsername pg_dba cannot be used because role names starting with "pg_" are
# reserved by the PostgreSQL engine" (https://github.com/DataShades/ckan-aws-templates/issues/6).
RESERVED_USERNAME_PREFIXES = {"postgres": ("pg_",)}


AUTH_TOKEN = re.compile(r"[A-Za-z0-9!&#$^<>\-]{16,128}")


def before_elasticache(action: str, p: dict, account: str):
    if action in ("CreateReplicationGroup", "CreateCacheCluster"):
        engine, asked = p.get("Engine", "redis"), p.get("EngineVersion")
        resolved = resolve_cache_version(engine, asked)
        if resolved is None:
            # https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html
            return query_error("elasticache", "InvalidParameterCombination", f"Cannot find version {asked} for {engine}")
        p["EngineVersion"] = resolved
        token = p.get("AuthToken")
        # AUTH: 16-128 printable characters, non-alphanumerics only !&#$^<>-, and only with
        # in-transit encryption (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html).
        if token is not None:
            if not AUTH_TOKEN.fullmatch(token):
                return query_error("elasticache", "InvalidParameterValue", "The AuthToken is not valid: 16-128 characters, alphanumerics and !&#$^<>- only.")
            if p.get("TransitEncryptionEnabled", "false").lower() != "true":
                return query_error("elasticache", "InvalidParameterCombination", "AuthToken can only be used with TransitEncryptionEnabled.")
        return None
    if action in ("ModifyReplicationGroup", "IncreaseReplicaCount", "DecreaseReplicaCount"):
        rid = p.get("ReplicationGroupId")
        res = res_get(account, rid)
        if res is None:
            return None
        # Changes to a replication group need it `available`
        # (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html,
        # https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_IncreaseReplicaCount.html:
        # InvalidReplicationGroupState "The requested replication group is not in the available state.").
        if status_of(res) != "available":
            return query_error("elasticache", "InvalidReplicationGroupState", "Replication group must be in available state")
        if action == "ModifyReplicationGroup" and "AuthToken" in p:
            strategy = p.get("AuthTokenUpdateStrategy", "ROTATE").upper()
            # AuthTokenUpdateStrategy: ROTATE (the default) adds a token, both stay valid; SET
            # is "allowed only after ROTATE"
            # (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html).
            if strategy == "SET" and not res.get("rotated"):
                return query_error("elasticache", "InvalidParameterValue", "SET is allowed only after ROTATE: rotate the AUTH token first.")
            if not AUTH_TOKEN.fullmatch(p["AuthToken"]):
                return query_error("elasticache", "InvalidParameterValue", "The AuthToken is not valid: 16-128 characters, alphanumerics and !&#$^<>- only.")
        if action == "ModifyReplicationGroup" and "EngineVersion" in p:
            cur = res.get("version")
            want = p["EngineVersion"]
            # No downgrades (API_ModifyReplicationGroup.html, EngineVersion).
            if cur and vkey(want) < vkey(cur):
                return query_error("elasticache", "InvalidParameterCombination", f"Cannot downgrade from {cur} to {want}")
        return None
    if action == "ModifyCacheCluster":
        res = res_get(account, p.get("CacheClusterId"))
        if res is not None and status_of(res) != "available":
            return query_error("elasticache", "InvalidCacheClusterState", "Cache cluster must be in available state")
        return None
    if action == "ListTagsForResource":
        arn = p.get("ResourceName", "")
        m = re.match(r"arn:aws[\w-]*:elasticache:[^:]*:[^:]*:(replicationgroup|cluster):(.+)$", arn)
        if m:
            res = res_get(account, m.group(2))
            if res is not None and status_of(res) != "available":
                # "If the cluster is not in the available state, ListTagsForResource returns an
                # error" (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ListTagsForResource.html).
                if m.group(1) == "replicationgroup":
                    return query_error("elasticache", "InvalidReplicationGroupState", f"Replication group {m.group(2)} is not in available state")
                return query_error("elasticache", "InvalidCacheClusterState", f"Cache cluster {m.group(2)} is not in available state")
        return None
    return None


# ---------------------------------------------------------------------------------------------
# After moto answered: record state, rewrite what AWS would say differently.


def record(account: str, service: str, action: str, params: dict):
    if not re.match(r"(Create|Modify|Delete|Put|Restore|Increase|Decrease|Add|Remove|Authorize|Revoke|Rotate)", action):
        return
    safe = {k: ("[redacted]" if k in SECRET_PARAMS or k.startswith("Passwords.") else v) for k, v in params.items() if not k.startswith("_")}
    REQUESTS.setdefault(account, []).append({"service": service, "action": action, "params": safe})


def after_ok(service: str, action: str, p: dict, account: str):
    cfg = config(account)
    with LOCK:
        if service == "rds":
            rid = p.get("DBInstanceIdentifier")
            after_ok_aurora(action, p, account, cfg)
            if action == "CreateDBParameterGroup":
                PARAMETER_GROUPS[(account, p.get("DBParameterGroupName", ""))] = p.get("DBParameterGroupFamily", "")
            elif action == "DeleteDBParameterGroup":
                PARAMETER_GROUPS.pop((account, p.get("DBParameterGroupName", "")), None)
            elif action == "CreateDBInstance":
                res = RESOURCES[(account, rid)] = {
                    "kind": "rds",
                    "parameter_group": p.get("DBParameterGroupName"),
                    "engine": p.get("Engine"),
                    "version": p.get("EngineVersion"),
                    "storage": int(p.get("AllocatedStorage", "0") or 0),
                    "passwords": [p["MasterUserPassword"]] if "MasterUserPassword" in p else [],
                    # An Aurora cluster's member (`before_aurora`).
                    "cluster": p.get("DBClusterIdentifier"),
                }
                set_phases(res, [(cfg["creating_seconds"], "creating"), (0.3, "backing-up")])
            elif action == "ModifyDBInstance" and (res := res_get(account, rid)) is not None:
                phases = [(cfg["modifying_seconds"], "modifying")]
                if "MasterUserPassword" in p:
                    # The new password applies at once with ApplyImmediately; it replaces the old.
                    res["passwords"] = [p["MasterUserPassword"]]
                    phases = [(cfg["modifying_seconds"], "resetting-master-credentials")]
                if "AllocatedStorage" in p and int(p["AllocatedStorage"]) != res.get("storage"):
                    res["storage"] = int(p["AllocatedStorage"])
                    res["storage_changed"] = time.time()
                    phases.append((cfg["storage_optimization_seconds"], "storage-optimization"))
                if "EngineVersion" in p:
                    res["version"] = resolve_rds_version(res.get("engine", ""), p["EngineVersion"]) or p["EngineVersion"]
                if "DBParameterGroupName" in p:
                    res["parameter_group"] = p["DBParameterGroupName"]
                set_phases(res, phases)
            elif action == "DeleteDBInstance":
                RESOURCES.pop((account, rid), None)
            elif action == "CreateDBSnapshot":
                src = res_get(account, rid) or {}
                snap = SNAPSHOTS[(account, "rds", p.get("DBSnapshotIdentifier", ""))] = {
                    "instance": rid,
                    "engine": src.get("engine"),
                    "version": src.get("version"),
                    "storage": src.get("storage"),
                    # The data, and with it the master user's password at this moment.
                    "passwords": list(src.get("passwords", [])),
                }
                # A snapshot is `creating` before it is `available`
                # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CreateSnapshot.html).
                set_phases(snap, [(cfg["creating_seconds"], "creating")])
            elif action == "RestoreDBInstanceFromDBSnapshot":
                snap = p.get("_snapshot") or {}
                source = res_get(account, snap.get("instance")) or {}
                res = RESOURCES[(account, rid)] = {
                    "kind": "rds",
                    "parameter_group": p.get("DBParameterGroupName"),
                    "engine": snap.get("engine"),
                    "version": snap.get("version"),
                    "storage": int(p.get("AllocatedStorage") or snap.get("storage") or 0),
                    # A restore keeps the snapshot's master password.
                    "passwords": list(snap.get("passwords") or source.get("passwords", [])),
                    "restored_from": p.get("DBSnapshotIdentifier"),
                }
                set_phases(res, [(cfg["creating_seconds"], "creating")])
        elif service == "secretsmanager" and p.get("SecretId"):
            key = (account, secret_name(p["SecretId"]))
            if action == "DeleteSecret" and not p.get("ForceDeleteWithoutRecovery"):
                DELETED_SECRETS.add(key)
            elif action in ("DeleteSecret", "RestoreSecret"):
                DELETED_SECRETS.discard(key)
        elif service == "elasticache":
            if action == "CreateSnapshot":
                rid = p.get("ReplicationGroupId") or p.get("CacheClusterId")
                src = res_get(account, rid) or {}
                snap = SNAPSHOTS[(account, "elasticache", p.get("SnapshotName", ""))] = {
                    "group": rid,
                    "engine": src.get("engine"),
                    "version": src.get("version"),
                }
                # `creating`, then `available` (API_Snapshot.html: SnapshotStatus).
                set_phases(snap, [(cfg["creating_seconds"], "creating")])
            if action in ("CreateReplicationGroup", "CreateCacheCluster"):
                rid = p.get("ReplicationGroupId") or p.get("CacheClusterId")
                res = RESOURCES[(account, rid)] = {
                    "kind": "replicationgroup" if action == "CreateReplicationGroup" else "cluster",
                    "engine": p.get("Engine"),
                    "version": p.get("EngineVersion"),
                    # A snapshot holds data, not the AUTH token: the new group's token is its own.
                    "tokens": [p["AuthToken"]] if "AuthToken" in p else [],
                    "rotated": False,
                    "restored_from": p.get("SnapshotName"),
                }
                set_phases(res, [(cfg["creating_seconds"], "creating")])
            elif action in ("ModifyReplicationGroup", "IncreaseReplicaCount", "DecreaseReplicaCount"):
                res = res_get(account, p.get("ReplicationGroupId"))
                if res is not None:
                    if action == "ModifyReplicationGroup" and "AuthToken" in p:
                        strategy = p.get("AuthTokenUpdateStrategy", "ROTATE").upper()
                        if strategy == "ROTATE":
                            # The new token is added; at most two are valid at once.
                            res["tokens"] = (res["tokens"] + [p["AuthToken"]])[-2:]
                            res["rotated"] = True
                        elif strategy == "SET":
                            res["tokens"] = [p["AuthToken"]]
                            res["rotated"] = False
                    if "EngineVersion" in p:
                        res["version"] = p["EngineVersion"]
                    if action in ("IncreaseReplicaCount", "DecreaseReplicaCount"):
                        res["replicas"] = int(p.get("NewReplicaCount", "0"))
                    set_phases(res, [(cfg["modifying_seconds"], "modifying")])
            elif action == "ModifyCacheCluster":
                res = res_get(account, p.get("CacheClusterId"))
                if res is not None:
                    set_phases(res, [(cfg["modifying_seconds"], "modifying")])
            elif action in ("DeleteReplicationGroup", "DeleteCacheCluster"):
                rid = p.get("ReplicationGroupId") or p.get("CacheClusterId")
                if (res := res_get(account, rid)) is not None:
                    res["forced"] = "deleting"


SNAPSHOT_BLOCKS = {"rds": ("DBSnapshot", "DBSnapshotIdentifier", "Status"), "elasticache": ("Snapshot", "SnapshotName", "SnapshotStatus")}


def rewrite_snapshots(service: str, body: str, account: str) -> str:
    """Snapshot statuses as AWS would report them now (moto's are `available` at once)."""
    if service not in SNAPSHOT_BLOCKS:
        return body
    block, id_tag, status_tag = SNAPSHOT_BLOCKS[service]

    def one(m: re.Match) -> str:
        inner = m.group(1)
        idm = re.search(rf"<{id_tag}>([^<]*)</{id_tag}>", inner)
        with LOCK:
            rec = SNAPSHOTS.get((account, service, idm.group(1))) if idm else None
            status = status_of(rec) if rec is not None else None
        if status is None:
            return m.group(0)
        return f"<{block}>" + re.sub(rf"<{status_tag}>[^<]*</{status_tag}>", f"<{status_tag}>{status}</{status_tag}>", inner) + f"</{block}>"

    return re.sub(rf"<{block}>(.*?)</{block}>", one, body, flags=re.S)


BLOCKS = {
    "rds": [
        ("DBInstance", "DBInstanceIdentifier", "DBInstanceStatus", "EngineVersion"),
        ("DBCluster", "DBClusterIdentifier", "Status", "EngineVersion"),
    ],
    "elasticache": [
        ("ReplicationGroup", "ReplicationGroupId", "Status", None),
        ("CacheCluster", "CacheClusterId", "CacheClusterStatus", "EngineVersion"),
    ],
}


def rewrite(service: str, body: str, account: str) -> str:
    """Statuses (and versions) as AWS would report them right now."""
    for block, id_tag, status_tag, version_tag in BLOCKS.get(service, []):
        pattern = re.compile(rf"<{block}>(.*?)</{block}>", re.S)

        def one(m: re.Match) -> str:
            inner = m.group(1)
            idm = re.search(rf"<{id_tag}>([^<]*)</{id_tag}>", inner)
            if not idm:
                return m.group(0)
            with LOCK:
                res = res_get(account, idm.group(1))
                if res is None:
                    return m.group(0)
                status = status_of(res)
                version = res.get("version")
            inner = re.sub(
                rf"<{status_tag}>[^<]*</{status_tag}>", f"<{status_tag}>{status}</{status_tag}>", inner
            )
            if version_tag and version:
                inner = re.sub(
                    rf"<{version_tag}>[^<]*</{version_tag}>", f"<{version_tag}>{version}</{version_tag}>", inner, count=1
                )
            if (
                block == "CacheCluster"
                and status == "available"
                and "<Engine>memcached</Engine>" in inner
                and "<ConfigurationEndpoint>" not in inner
            ):
                # AWS gives a Memcached cluster a configuration endpoint; moto gives none
                # (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CacheCluster.html:
                # ConfigurationEndpoint).
                inner += (
                    f"<ConfigurationEndpoint><Address>{idm.group(1)}.abc123.cfg.use1.cache.amazonaws.com</Address>"
                    "<Port>11211</Port></ConfigurationEndpoint>"
                )
            if block == "ReplicationGroup" and res.get("replicas") is not None:
                # IncreaseReplicaCount / DecreaseReplicaCount, which moto does not implement:
                # the group's members are the primary and its replicas.
                members = "".join(
                    f"<ClusterId>{idm.group(1)}-{i:03d}</ClusterId>" for i in range(1, res["replicas"] + 2)
                )
                inner = re.sub(r"<MemberClusters>.*?</MemberClusters>", f"<MemberClusters>{members}</MemberClusters>", inner, flags=re.S)
            if block == "DBInstance" and res.get("endpoint") and status != "creating":
                address, port = res["endpoint"]
                inner = re.sub(
                    r"<Endpoint>(.*?)</Endpoint>",
                    lambda e: "<Endpoint>"
                    + re.sub(r"<Port>[^<]*</Port>", f"<Port>{port}</Port>",
                             re.sub(r"<Address>[^<]*</Address>", f"<Address>{xml_escape(address)}</Address>", e.group(1)))
                    + "</Endpoint>",
                    inner,
                    count=1,
                    flags=re.S,
                )
            if status == "creating":
                # No endpoint until the resource exists
                # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html: Endpoint).
                for tag in ("Endpoint", "PrimaryEndpoint", "ReaderEndpoint", "ConfigurationEndpoint"):
                    inner = re.sub(rf"<{tag}>.*?</{tag}>", "", inner, flags=re.S)
            return f"<{block}>{inner}</{block}>"

        body = pattern.sub(one, body)
    return body


# Secrets Manager's answer for a secret scheduled for deletion. AWS:
# "InvalidRequestException: You can't perform this operation on the secret because it was
# marked for deletion." (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html:
# InvalidRequestException, "The secret is scheduled for deletion."). moto words it differently;
# clients must decide on the code and DescribeSecret's DeletedDate, never on the text.
AWS_MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."


def rewrite_secrets_error(status: int, body: bytes) -> bytes:
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if doc.get("__type", "").endswith("InvalidRequestException") and "delet" in doc.get("message", doc.get("Message", "")).lower():
        doc.pop("Message", None)
        doc["message"] = AWS_MARKED_FOR_DELETION
        return json.dumps(doc).encode()
    return body


# ---------------------------------------------------------------------------------------------
# Engine version listings moto does not implement.


def describe_db_engine_versions(p: dict):
    engine = p.get("Engine")
    family = None
    i = 1
    while f"Filters.Filter.{i}.Name" in p:
        if p[f"Filters.Filter.{i}.Name"] == "db-parameter-group-family":
            family = p.get(f"Filters.Filter.{i}.Values.Value.1")
        i += 1
    want_version = p.get("EngineVersion")
    default_only = p.get("DefaultOnly", "false").lower() == "true"
    items = []
    for eng, lines in RDS_VERSIONS.items():
        if engine and eng != engine:
            continue
        for line, versions in lines.items():
            fam = RDS_FAMILY[eng].format(line=line)
            if family and fam != family:
                continue
            for v in versions:
                if want_version and v != want_version and line != want_version:
                    continue
                if default_only and v != versions[-1]:
                    continue
                items.append(
                    f"<DBEngineVersion><Engine>{eng}</Engine><EngineVersion>{v}</EngineVersion>"
                    f"<DBParameterGroupFamily>{fam}</DBParameterGroupFamily><MajorEngineVersion>{line}</MajorEngineVersion>"
                    f"<Status>available</Status></DBEngineVersion>"
                )
    body = (
        f'<DescribeDBEngineVersionsResponse xmlns="{NS["rds"]}"><DescribeDBEngineVersionsResult>'
        f"<DBEngineVersions>{''.join(items)}</DBEngineVersions></DescribeDBEngineVersionsResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></DescribeDBEngineVersionsResponse>"
    )
    return 200, {"Content-Type": "text/xml"}, body.encode()


def describe_cache_engine_versions(p: dict):
    engine = p.get("Engine")
    family = p.get("CacheParameterGroupFamily")
    want_version = p.get("EngineVersion")
    items = []
    for eng, lines in CACHE_VERSIONS.items():
        if engine and eng != engine:
            continue
        for line, versions in lines.items():
            fam = CACHE_FAMILY[eng].format(line=line)
            if family and fam != family:
                continue
            for v in versions:
                if want_version and v != want_version:
                    continue
                items.append(
                    f"<CacheEngineVersion><Engine>{eng}</Engine><EngineVersion>{v}</EngineVersion>"
                    f"<CacheParameterGroupFamily>{fam}</CacheParameterGroupFamily></CacheEngineVersion>"
                )
    body = (
        f'<DescribeCacheEngineVersionsResponse xmlns="{NS["elasticache"]}"><DescribeCacheEngineVersionsResult>'
        f"<CacheEngineVersions>{''.join(items)}</CacheEngineVersions></DescribeCacheEngineVersionsResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></DescribeCacheEngineVersionsResponse>"
    )
    return 200, {"Content-Type": "text/xml"}, body.encode()


# ---------------------------------------------------------------------------------------------
# Aurora Serverless v2 (moto answers; these rules are AWS's, which moto does not check)
#
# moto 5.2.5 keeps DB clusters, their ServerlessV2ScalingConfiguration, db.serverless instances
# and cluster parameter groups, but accepts any capacity, any version and any instance class.
# The rules, from ServerlessV2ScalingConfiguration
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html),
# the capacity page (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html)
# and the auto-pause page (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html):
#   - MinCapacity 0..256 and MaxCapacity 1..256, in half-step increments; Max >= Min;
#   - MinCapacity 0 only on versions with auto-pause: Aurora PostgreSQL 16.3+, 15.7+, 14.12+,
#     13.15+ (and 17), Aurora MySQL 3.08.0+; below them the floor is 0.5;
#   - SecondsUntilAutoPause 300..86400, and only with MinCapacity 0;
#   - a db.serverless instance only in a cluster with a ServerlessV2ScalingConfiguration
#     (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.requirements.html);
#   - a cluster's instance takes the cluster's engine and no storage or master password of its
#     own (API_CreateDBInstance.html: AllocatedStorage, MasterUserPassword "Not applicable" for
#     Aurora);
#   - EngineVersion one Aurora offers (API_CreateDBCluster.html: "To list all of the available
#     engine versions for Aurora PostgreSQL, use ... describe-db-engine-versions");
#   - a cluster is deleted only once it has no instance left that is not being deleted, and not
#     with DeletionProtection on (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_DeleteCluster.html);
#   - ModifyDBCluster only on an `available` cluster (InvalidDBClusterStateFault).
# Versions: Aurora PostgreSQL and MySQL release notes; (version, pauses) per line, newest last.
AURORA_VERSIONS = {
    "aurora-postgresql": {
        "13": ["13.12", "13.15", "13.18"],
        "14": ["14.9", "14.12", "14.15"],
        "15": ["15.4", "15.7", "15.10"],
        "16": ["16.1", "16.3", "16.6"],
        "17": ["17.4"],
    },
    "aurora-mysql": {
        "8.0": ["8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.07.1", "8.0.mysql_aurora.3.08.0"],
    },
}
AURORA_PAUSE_FROM = {
    "aurora-postgresql": {"13": "13.15", "14": "14.12", "15": "15.7", "16": "16.3", "17": "17.4"},
    "aurora-mysql": {"8.0": "8.0.mysql_aurora.3.08.0"},
}
# Cluster parameters provision sets and the values Aurora takes: rds.force_ssl 0/1
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Security.html),
# require_secure_transport ON/OFF (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Security.html).
CLUSTER_PARAMETER_VALUES = {
    ("aurora-postgresql", "rds.force_ssl"): {"0", "1"},
    ("aurora-mysql", "require_secure_transport"): {"ON", "OFF"},
}
CLUSTER_PARAMETER_GROUPS: dict[tuple[str, str], str] = {}  # (account, name) -> family


def aurora_line(engine: str, version: str) -> str | None:
    for line, versions in AURORA_VERSIONS.get(engine, {}).items():
        if version in versions:
            return line
    return None


def aurora_pauses(engine: str, version: str) -> bool:
    line = aurora_line(engine, version)
    start = AURORA_PAUSE_FROM.get(engine, {}).get(line or "")
    return start is not None and vkey(version) >= vkey(start)


def scaling_of(p: dict) -> dict | None:
    prefix = "ServerlessV2ScalingConfiguration."
    keys = {k[len(prefix):]: v for k, v in p.items() if k.startswith(prefix)}
    return keys or None


def scaling_rules(engine: str, version: str, s: dict):
    def half_steps(v: float) -> bool:
        return (v * 2) == int(v * 2)

    try:
        lo = float(s["MinCapacity"]) if "MinCapacity" in s else None
        hi = float(s["MaxCapacity"]) if "MaxCapacity" in s else None
        pause = int(s["SecondsUntilAutoPause"]) if "SecondsUntilAutoPause" in s else None
    except ValueError:
        return query_error("rds", "InvalidParameterValue", "ServerlessV2ScalingConfiguration values must be numbers")
    if lo is None or hi is None:
        return query_error("rds", "InvalidParameterCombination", "ServerlessV2ScalingConfiguration needs MinCapacity and MaxCapacity")
    if not (0 <= lo <= 256) or not half_steps(lo):
        return query_error("rds", "InvalidParameterValue", f"Invalid MinCapacity {lo}: specify ACU values from 0 to 256 in half-step increments")
    if not (1 <= hi <= 256) or not half_steps(hi):
        return query_error("rds", "InvalidParameterValue", f"Invalid MaxCapacity {hi}: specify ACU values from 1 to 256 in half-step increments")
    if hi < lo:
        return query_error("rds", "InvalidParameterCombination", f"MaxCapacity {hi} must be greater than or equal to MinCapacity {lo}")
    if lo == 0 and not aurora_pauses(engine, version):
        return query_error("rds", "InvalidParameterCombination", f"Serverless v2 minimum capacity 0 isn't supported for {engine} {version}: the smallest value is 0.5. Upgrade to a version that supports automatic pause.")
    if pause is not None:
        if lo != 0:
            return query_error("rds", "InvalidParameterCombination", "SecondsUntilAutoPause can only be set when MinCapacity is 0")
        if not (300 <= pause <= 86400):
            return query_error("rds", "InvalidParameterValue", f"Invalid SecondsUntilAutoPause {pause}: specify a value between 300 and 86400")
    return None


def before_aurora(action: str, p: dict, account: str):
    """Aurora rules, or None. Runs before `before_rds`, which knows no clusters."""
    if action == "CreateDBCluster":
        engine, asked = p.get("Engine", ""), p.get("EngineVersion", "")
        if engine not in AURORA_VERSIONS:
            return None
        if aurora_line(engine, asked) is None:
            return query_error("rds", "InvalidParameterCombination", f"Cannot find version {asked} for {engine}")
        if (account, p.get("DBClusterIdentifier", "")) in RESOURCES:
            return query_error("rds", "DBClusterAlreadyExistsFault", "DB Cluster already exists")
        s = scaling_of(p)
        if s is not None:
            refused = scaling_rules(engine, asked, s)
            if refused is not None:
                return refused
        group = p.get("DBClusterParameterGroupName")
        have = CLUSTER_PARAMETER_GROUPS.get((account, group)) if group else None
        want = engine + aurora_line(engine, asked)
        if have is not None and have != want:
            return query_error("rds", "InvalidParameterCombination", f"The parameter group {group} with DBParameterGroupFamily {have} can't be used for this cluster. Use a parameter group with DBParameterGroupFamily {want}.")
        # BackupRetentionPeriod 1-35 (API_CreateDBCluster.html).
        if "BackupRetentionPeriod" in p and not (1 <= int(p["BackupRetentionPeriod"]) <= 35):
            return query_error("rds", "InvalidParameterValue", "The backup retention period must be between 1 and 35 days.")
        return None
    if action == "ModifyDBCluster":
        res = res_get(account, p.get("DBClusterIdentifier"))
        if res is None or res.get("kind") != "cluster":
            return None
        if status_of(res) != "available":
            return query_error("rds", "InvalidDBClusterStateFault", "DB cluster is not available for modification")
        s = scaling_of(p)
        if s is not None:
            merged = {"MinCapacity": res["scaling"].get("MinCapacity"), "MaxCapacity": res["scaling"].get("MaxCapacity"), **s} if res.get("scaling") else s
            merged = {k: v for k, v in merged.items() if v is not None}
            return scaling_rules(res["engine"], res["version"], merged)
        return None
    if action == "CreateDBInstance" and p.get("DBClusterIdentifier"):
        cid = p["DBClusterIdentifier"]
        cluster = res_get(account, cid)
        if cluster is None or cluster.get("kind") != "cluster":
            return query_error("rds", "DBClusterNotFoundFault", f"DBCluster {cid} not found.", 404)
        if p.get("Engine") != cluster["engine"]:
            return query_error("rds", "InvalidParameterCombination", f"The engine name requested for your DB instance ({p.get('Engine')}) doesn't match the engine name of your DB cluster ({cluster['engine']}).")
        for field in ("AllocatedStorage", "MasterUserPassword", "MasterUsername", "StorageType"):
            if field in p:
                return query_error("rds", "InvalidParameterCombination", f"The requested DB Instance will be a member of a DB Cluster. Don't set {field}.")
        if p.get("DBInstanceClass") == "db.serverless" and not cluster.get("scaling"):
            return query_error("rds", "InvalidParameterCombination", "Set the Serverless v2 scaling configuration on the parent DB cluster before creating a Serverless v2 DB instance.")
        # The instance runs the cluster's version; the layer's instance rules do not apply.
        p["_cluster_member"] = True
        return None
    if action == "DeleteDBCluster":
        cid = p.get("DBClusterIdentifier", "")
        cluster = res_get(account, cid)
        if cluster is None or cluster.get("kind") != "cluster":
            return None
        if cluster.get("deletion_protection"):
            return query_error("rds", "InvalidParameterCombination", "Cannot delete protected Cluster, please disable deletion protection and try again.")
        instances = [rid for (acc, rid), r in RESOURCES.items() if acc == account and r.get("cluster") == cid]
        if instances:
            return query_error("rds", "InvalidDBClusterStateFault", "Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
        return None
    if action == "ModifyDBClusterParameterGroup":
        family = CLUSTER_PARAMETER_GROUPS.get((account, p.get("DBClusterParameterGroupName", "")))
        for m in members(p, "Parameters"):
            if m.get("ApplyMethod") not in ("immediate", "pending-reboot"):
                return query_error("rds", "InvalidParameterValue", f"ApplyMethod is required for parameter {m.get('ParameterName')}")
            if family is None:
                continue
            allowed = CLUSTER_PARAMETER_VALUES.get((family_engine(family), m.get("ParameterName")))
            if allowed is not None and m.get("ParameterValue") not in allowed:
                return query_error("rds", "InvalidParameterValue", f"Value: {m.get('ParameterValue')} is not a valid value for parameter {m.get('ParameterName')}")
            if allowed is None and any(k[1] == m.get("ParameterName") for k in CLUSTER_PARAMETER_VALUES):
                return query_error("rds", "InvalidParameterValue", f"Could not find parameter with name: {m.get('ParameterName')}")
        return None
    if action == "DeleteDBClusterParameterGroup":
        name = p.get("DBClusterParameterGroupName", "")
        if any(acc == account and r.get("kind") == "cluster" and r.get("parameter_group") == name for (acc, _), r in RESOURCES.items()):
            return query_error("rds", "InvalidDBParameterGroupState", f"One or more database clusters are still members of this parameter group {name}, so the group cannot be deleted")
    return None


def after_ok_aurora(action: str, p: dict, account: str, cfg: dict):
    """State of clusters and their members (called under LOCK)."""
    if action == "CreateDBClusterParameterGroup":
        CLUSTER_PARAMETER_GROUPS[(account, p.get("DBClusterParameterGroupName", ""))] = p.get("DBParameterGroupFamily", "")
    elif action == "DeleteDBClusterParameterGroup":
        CLUSTER_PARAMETER_GROUPS.pop((account, p.get("DBClusterParameterGroupName", "")), None)
    elif action == "CreateDBCluster" and p.get("Engine") in AURORA_VERSIONS:
        res = RESOURCES[(account, p["DBClusterIdentifier"])] = {
            "kind": "cluster",
            "engine": p.get("Engine"),
            "version": p.get("EngineVersion"),
            "scaling": scaling_of(p),
            "parameter_group": p.get("DBClusterParameterGroupName"),
            "deletion_protection": p.get("DeletionProtection", "false").lower() == "true",
            "passwords": [p["MasterUserPassword"]] if "MasterUserPassword" in p else [],
        }
        set_phases(res, [(cfg["creating_seconds"], "creating")])
    elif action == "ModifyDBCluster" and (res := res_get(account, p.get("DBClusterIdentifier"))) is not None:
        s = scaling_of(p)
        if s is not None:
            res["scaling"] = {**(res.get("scaling") or {}), **s}
            if float(res["scaling"].get("MinCapacity", 1)) != 0:
                res["scaling"].pop("SecondsUntilAutoPause", None)
        if "DeletionProtection" in p:
            res["deletion_protection"] = p["DeletionProtection"].lower() == "true"
        if "MasterUserPassword" in p:
            res["passwords"] = [p["MasterUserPassword"]]
        set_phases(res, [(cfg["modifying_seconds"], "modifying")])
    elif action == "DeleteDBCluster":
        RESOURCES.pop((account, p.get("DBClusterIdentifier", "")), None)


# ---------------------------------------------------------------------------------------------
# ElastiCache Serverless, users and user groups: an EMULATION, not moto.
#
# moto 5.2.5 has no serverless caches (CreateServerlessCache, DescribeServerlessCaches,
# ModifyServerlessCache, DeleteServerlessCache) and no user groups; its users (CreateUser,
# DescribeUsers, DeleteUser) have no ModifyUser and no link to groups. So this layer answers all
# of these itself, per account, never forwarding them to moto, in the ElastiCache Query API's
# XML (shapes as in the API reference: list members `<member>`, `SecurityGroupIds` members
# `<SecurityGroupId>`, `SubnetIds` members `<SubnetId>`, `TagList` members `<Tag>`), with AWS's
# error codes. Pages:
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateServerlessCache.html
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeServerlessCaches.html
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyServerlessCache.html
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteServerlessCache.html
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUser.html,
#     API_ModifyUser.html, API_DeleteUser.html, API_DescribeUsers.html
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateUserGroup.html,
#     API_DeleteUserGroup.html, API_DescribeUserGroups.html
#   RBAC: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html
# Rules enforced:
#   - names: ServerlessCacheName, UserId, UserGroupId a letter first, letters, digits and
#     hyphens, no `--`, no trailing `-` (ServerlessCacheName at most 40);
#   - CreateServerlessCache: Engine redis | valkey | memcached with MajorEngineVersion 7 (redis),
#     7 or 8 (valkey), 1.6 (memcached); UserGroupId must exist (UserGroupNotFound) and be
#     `active` (InvalidUserGroupState), not with memcached; SnapshotRetentionLimit at most 35;
#     a name in use: ServerlessCacheAlreadyExistsFault; statuses creating -> available (the
#     layer's creating_seconds), no endpoint while creating; TLS is the only transport;
#   - Modify/Delete: not found -> ServerlessCacheNotFoundFault (404); only `available`
#     (InvalidServerlessCacheStateFault); deleting lasts modifying_seconds, then it is gone;
#   - CreateUser: UserId, UserName, Engine (redis | valkey) and AccessString required;
#     passwords 16-128 characters, at most two, not with NoPasswordRequired
#     (InvalidParameterCombination); UserId in use: UserAlreadyExists;
#   - CreateUserGroup: its users must exist (UserNotFound), one of them named `default`
#     (DefaultUserRequired), no two with one name (DuplicateUserName); creating -> active;
#   - DeleteUserGroup while a cache that is not gone uses it: InvalidUserGroupState;
#     DeleteUser while in a user group: InvalidUserState;
#   - ListTagsForResource / AddTagsToResource for these ARNs.
SERVERLESS_ACTIONS = {
    "CreateServerlessCache", "DescribeServerlessCaches", "ModifyServerlessCache", "DeleteServerlessCache",
    "CreateUser", "DescribeUsers", "ModifyUser", "DeleteUser",
    "CreateUserGroup", "DescribeUserGroups", "DeleteUserGroup",
}
SERVERLESS_MAJORS = {"redis": ["7"], "valkey": ["7", "8"], "memcached": ["1.6"]}
SERVERLESS_FULL = {("redis", "7"): "7.1", ("valkey", "7"): "7.2", ("valkey", "8"): "8.0", ("memcached", "1.6"): "1.6.22"}
CACHES: dict[tuple[str, str], dict] = {}
USERS: dict[tuple[str, str], dict] = {}
USER_GROUPS: dict[tuple[str, str], dict] = {}
ARN_TAGS: dict[tuple[str, str], list] = {}  # (account, arn) -> [(key, value)]


def listed(p: dict, field: str) -> list[str]:
    """`Field.member.N` / `Field.Item.N` query lists, in N's order."""
    out = {}
    for key, value in p.items():
        m = re.fullmatch(rf"{field}\.(?:\w+\.)?(\d+)", key)
        if m:
            out[int(m.group(1))] = value
    return [out[k] for k in sorted(out)]


def tags_in(p: dict) -> list[tuple[str, str]]:
    return [(t.get("Key", ""), t.get("Value", "")) for _, t in sorted(tag_fields(p).items(), key=lambda kv: int(kv[0].rsplit(".", 1)[1]))]


def ec_arn(account: str, kind: str, name: str) -> str:
    acc = account if account.isdigit() else "123456789012"
    return f"arn:aws:elasticache:us-east-1:{acc}:{kind}:{name}"


def ec_ok(action: str, inner: str):
    body = (
        f'<{action}Response xmlns="{NS["elasticache"]}"><{action}Result>{inner}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
    )
    return 200, {"Content-Type": "text/xml"}, body.encode()


def x(tag: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{xml_escape(str(value))}</{tag}>"


def cache_status(c: dict) -> str:
    return status_of(c)


def cache_xml(c: dict) -> str:
    status = cache_status(c)
    endpoint = ""
    if status != "creating":
        host = f"{c['name']}-x1y2z3.serverless.use1.cache.amazonaws.com"
        endpoint = f"<Endpoint>{x('Address', host)}{x('Port', 6379 if c['engine'] != 'memcached' else 11211)}</Endpoint>"
        endpoint += f"<ReaderEndpoint>{x('Address', host)}{x('Port', 6380 if c['engine'] != 'memcached' else 11212)}</ReaderEndpoint>"
    sgs = "".join(x("SecurityGroupId", s) for s in c["security_groups"])
    subnets = "".join(x("SubnetId", s) for s in c["subnets"])
    return (
        "<ServerlessCache>"
        + x("ServerlessCacheName", c["name"]) + x("Description", c.get("description"))
        + x("CreateTime", c["created"]) + x("Status", status) + x("Engine", c["engine"])
        + x("MajorEngineVersion", c["major"]) + x("FullEngineVersion", c["full"])
        + f"<SecurityGroupIds>{sgs}</SecurityGroupIds>" + endpoint + x("ARN", c["arn"])
        + x("UserGroupId", c.get("user_group")) + f"<SubnetIds>{subnets}</SubnetIds>"
        + x("SnapshotRetentionLimit", c.get("snapshots")) + x("DailySnapshotTime", "03:00")
        + "</ServerlessCache>"
    )


def user_xml(u: dict) -> str:
    groups = "".join(x("member", g) for (acc, g), grp in USER_GROUPS.items() if acc == u["account"] and u["id"] in grp["users"])
    auth = "no-password" if u["nopass"] else "password"
    return (
        x("UserId", u["id"]) + x("UserName", u["name"]) + x("Status", status_of(u) if status_of(u) != "available" else "active")
        + x("Engine", u["engine"]) + x("MinimumEngineVersion", "6.0") + x("AccessString", u["access"])
        + f"<UserGroupIds>{groups}</UserGroupIds>"
        + f"<Authentication>{x('Type', auth)}{x('PasswordCount', len(u['passwords']))}</Authentication>"
        + x("ARN", u["arn"])
    )


def group_xml(g: dict) -> str:
    users = "".join(x("member", u) for u in g["users"])
    caches = "".join(x("member", n) for (acc, n), c in CACHES.items() if acc == g["account"] and c.get("user_group") == g["id"])
    status = status_of(g)
    return (
        x("UserGroupId", g["id"]) + x("Status", "active" if status == "available" else status) + x("Engine", g["engine"])
        + f"<UserIds>{users}</UserIds>" + x("MinimumEngineVersion", "6.0")
        + f"<ReplicationGroups></ReplicationGroups><ServerlessCaches>{caches}</ServerlessCaches>" + x("ARN", g["arn"])
    )


def gone(c: dict) -> bool:
    return c.get("deleted_at") is not None and time.monotonic() >= c["deleted_at"]


def sweep(account: str):
    for key in [k for k, c in CACHES.items() if k[0] == account and gone(c)]:
        CACHES.pop(key)


def ec_err(code: str, message: str, status: int = 400):
    return query_error("elasticache", code, message, status)


def strict_name(field: str, name: str, limit: int):
    if not name or len(name) > limit or not IDENTIFIER.fullmatch(name) or name.endswith("-"):
        return ec_err("InvalidParameterValue", f"Invalid {field}: {name!r}. It must be 1 to {limit} letters, digits or hyphens, start with a letter, and not contain two consecutive hyphens or end with one.")
    return None


def serverless_api(action: str, p: dict, account: str):
    """Answers one emulated call (an HTTP response tuple)."""
    cfg = config(account)
    with LOCK:
        sweep(account)
        record(account, "elasticache", action, p)
        if action == "CreateUser":
            uid, name, engine = p.get("UserId", ""), p.get("UserName", ""), p.get("Engine", "").lower()
            for field in ("UserId", "UserName", "Engine", "AccessString"):
                if not p.get(field):
                    return ec_err("MissingParameter", f"The request must contain the parameter {field}")
            refused = strict_name("UserId", uid, 40)
            if refused:
                return refused
            if engine not in ("redis", "valkey"):
                return ec_err("InvalidParameterValue", f"Unknown parameter for Engine: \"{engine}\", must be one of: redis, valkey")
            passwords = listed(p, "Passwords")
            nopass = p.get("NoPasswordRequired", "false").lower() == "true"
            if nopass and passwords:
                return ec_err("InvalidParameterCombination", "No password required flag is true but password is provided")
            if not nopass and not passwords:
                return ec_err("InvalidParameterCombination", "A user must have a password or NoPasswordRequired")
            if len(passwords) > 2:
                return ec_err("InvalidParameterValue", "A user can have at most two passwords")
            if any(not (16 <= len(pw) <= 128) for pw in passwords):
                return ec_err("InvalidParameterValue", "Passwords length must be between 16-128 characters.")
            if uid == "default" or (account, uid) in USERS:
                return ec_err("UserAlreadyExists", f"User {uid} already exists.")
            u = USERS[(account, uid)] = {"account": account, "id": uid, "name": name, "engine": engine, "access": p["AccessString"], "passwords": passwords, "nopass": nopass, "arn": ec_arn(account, "user", uid)}
            ARN_TAGS[(account, u["arn"])] = tags_in(p)
            return ec_ok(action, user_xml(u))
        if action == "ModifyUser":
            u = USERS.get((account, p.get("UserId", "")))
            if u is None:
                return ec_err("UserNotFound", f"User {p.get('UserId')} not found.", 404)
            passwords = listed(p, "Passwords")
            if passwords:
                if len(passwords) > 2 or any(not (16 <= len(pw) <= 128) for pw in passwords):
                    return ec_err("InvalidParameterValue", "Passwords length must be between 16-128 characters, at most two.")
                u["passwords"], u["nopass"] = passwords, False
            if p.get("AccessString"):
                u["access"] = p["AccessString"]
            set_phases(u, [(cfg["modifying_seconds"] / 4, "modifying")])
            return ec_ok(action, user_xml(u))
        if action == "DescribeUsers":
            uid = p.get("UserId")
            found = [u for (acc, i), u in USERS.items() if acc == account and (not uid or i == uid)]
            if uid and not found:
                return ec_err("UserNotFound", f"User {uid} not found.", 404)
            return ec_ok(action, "<Users>" + "".join(f"<member>{user_xml(u)}</member>" for u in found) + "</Users>")
        if action == "DeleteUser":
            uid = p.get("UserId", "")
            u = USERS.get((account, uid))
            if u is None:
                return ec_err("UserNotFound", f"User {uid} not found.", 404)
            if any(acc == account and uid in g["users"] for (acc, _), g in USER_GROUPS.items()):
                return ec_err("InvalidUserState", f"User {uid} is associated with a user group and cannot be deleted.")
            USERS.pop((account, uid))
            return ec_ok(action, user_xml({**u, "phases": [(time.monotonic() + 1, "deleting")]}))
        if action == "CreateUserGroup":
            gid, engine = p.get("UserGroupId", ""), p.get("Engine", "").lower()
            for field in ("UserGroupId", "Engine"):
                if not p.get(field):
                    return ec_err("MissingParameter", f"The request must contain the parameter {field}")
            refused = strict_name("UserGroupId", gid, 40)
            if refused:
                return refused
            if engine not in ("redis", "valkey"):
                return ec_err("InvalidParameterValue", f"Unknown parameter for Engine: \"{engine}\", must be one of: redis, valkey")
            if (account, gid) in USER_GROUPS:
                return ec_err("UserGroupAlreadyExists", f"User Group {gid} already exists.")
            ids = listed(p, "UserIds")
            users = []
            for uid in ids:
                u = USERS.get((account, uid))
                if u is None:
                    return ec_err("UserNotFound", f"User {uid} not found.", 404)
                users.append(u)
            names = [u["name"] for u in users]
            if "default" not in names:
                return ec_err("DefaultUserRequired", "You must add default user to a user group.")
            if len(set(names)) != len(names):
                return ec_err("DuplicateUserName", "A user with this username already exists in the user group.")
            g = USER_GROUPS[(account, gid)] = {"account": account, "id": gid, "engine": engine, "users": ids, "arn": ec_arn(account, "usergroup", gid)}
            set_phases(g, [(cfg["creating_seconds"], "creating")])
            ARN_TAGS[(account, g["arn"])] = tags_in(p)
            return ec_ok(action, group_xml(g))
        if action == "DescribeUserGroups":
            gid = p.get("UserGroupId")
            found = [g for (acc, i), g in USER_GROUPS.items() if acc == account and (not gid or i == gid)]
            if gid and not found:
                return ec_err("UserGroupNotFound", f"User Group {gid} not found.", 404)
            return ec_ok(action, "<UserGroups>" + "".join(f"<member>{group_xml(g)}</member>" for g in found) + "</UserGroups>")
        if action == "DeleteUserGroup":
            gid = p.get("UserGroupId", "")
            g = USER_GROUPS.get((account, gid))
            if g is None:
                return ec_err("UserGroupNotFound", f"User Group {gid} not found.", 404)
            if any(acc == account and c.get("user_group") == gid for (acc, _), c in CACHES.items()):
                return ec_err("InvalidUserGroupState", f"User group {gid} is associated with a serverless cache and cannot be deleted.")
            USER_GROUPS.pop((account, gid))
            return ec_ok(action, group_xml({**g, "phases": [(time.monotonic() + 1, "deleting")]}))
        if action == "CreateServerlessCache":
            name, engine, major = p.get("ServerlessCacheName", ""), p.get("Engine", "").lower(), p.get("MajorEngineVersion")
            for field in ("ServerlessCacheName", "Engine"):
                if not p.get(field):
                    return ec_err("MissingParameter", f"The request must contain the parameter {field}")
            refused = strict_name("ServerlessCacheName", name, 40)
            if refused:
                return refused
            if engine not in SERVERLESS_MAJORS:
                return ec_err("InvalidParameterValue", f"Invalid engine {engine}: serverless caches run redis, valkey or memcached")
            major = major or SERVERLESS_MAJORS[engine][-1]
            if major not in SERVERLESS_MAJORS[engine]:
                return ec_err("InvalidParameterValue", f"Invalid MajorEngineVersion {major} for {engine}: one of {', '.join(SERVERLESS_MAJORS[engine])}")
            if (account, name) in CACHES:
                return ec_err("ServerlessCacheAlreadyExistsFault", f"Serverless cache {name} already exists.")
            gid = p.get("UserGroupId")
            if gid:
                if engine == "memcached":
                    return ec_err("InvalidParameterCombination", "UserGroupId is not supported for the memcached engine")
                g = USER_GROUPS.get((account, gid))
                if g is None:
                    return ec_err("UserGroupNotFound", f"User Group {gid} not found.", 404)
                if status_of(g) != "available":
                    return ec_err("InvalidUserGroupState", f"User group {gid} is not in active state.")
            sgs, subnets = listed(p, "SecurityGroupIds"), listed(p, "SubnetIds")
            if any(not s.startswith("sg-") for s in sgs):
                return ec_err("InvalidParameterValue", "Invalid SecurityGroupIds: each must be a security group id (sg-...)")
            if any(not s.startswith("subnet-") for s in subnets):
                return ec_err("InvalidParameterValue", "Invalid SubnetIds: each must be a subnet id (subnet-...)")
            keep = int(p.get("SnapshotRetentionLimit", "0") or 0)
            if not (0 <= keep <= 35):
                return ec_err("InvalidParameterValue", "SnapshotRetentionLimit must be between 0 and 35")
            c = CACHES[(account, name)] = {
                "name": name, "engine": engine, "major": major, "full": SERVERLESS_FULL[(engine, major)],
                "description": p.get("Description"), "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "security_groups": sgs or ["sg-default0"], "subnets": subnets or ["subnet-default1", "subnet-default2"],
                "user_group": gid, "snapshots": keep, "arn": ec_arn(account, "serverlesscache", name),
            }
            set_phases(c, [(cfg["creating_seconds"], "creating")])
            ARN_TAGS[(account, c["arn"])] = tags_in(p)
            return ec_ok(action, cache_xml(c))
        if action == "DescribeServerlessCaches":
            name = p.get("ServerlessCacheName")
            found = [c for (acc, n), c in CACHES.items() if acc == account and (not name or n == name)]
            if name and not found:
                return ec_err("ServerlessCacheNotFoundFault", f"Serverless cache {name} not found.", 404)
            return ec_ok(action, "<ServerlessCaches>" + "".join(cache_xml(c).replace("<ServerlessCache>", "<member>", 1).rsplit("</ServerlessCache>", 1)[0] + "</member>" for c in found) + "</ServerlessCaches>")
        if action in ("ModifyServerlessCache", "DeleteServerlessCache"):
            name = p.get("ServerlessCacheName", "")
            c = CACHES.get((account, name))
            if c is None:
                return ec_err("ServerlessCacheNotFoundFault", f"Serverless cache {name} not found.", 404)
            if cache_status(c) != "available":
                return ec_err("InvalidServerlessCacheStateFault", f"Serverless cache {name} is not in available state.")
            if action == "ModifyServerlessCache":
                if "SnapshotRetentionLimit" in p:
                    keep = int(p["SnapshotRetentionLimit"])
                    if not (0 <= keep <= 35):
                        return ec_err("InvalidParameterValue", "SnapshotRetentionLimit must be between 0 and 35")
                    c["snapshots"] = keep
                set_phases(c, [(cfg["modifying_seconds"], "modifying")])
            else:
                c["final_snapshot"] = p.get("FinalSnapshotName")
                c["forced"] = "deleting"
                c["deleted_at"] = time.monotonic() + cfg["modifying_seconds"]
            return ec_ok(action, cache_xml(c))
    return ec_err("InvalidAction", f"{action} is not emulated")


def serverless_tags(action: str, p: dict, account: str):
    """ListTagsForResource / AddTagsToResource for the emulated ARNs, else None (moto's)."""
    arn = p.get("ResourceName", "")
    if not re.search(r":(serverlesscache|user|usergroup):", arn):
        return None
    with LOCK:
        sweep(account)
        if (account, arn) not in ARN_TAGS:
            kind = arn.split(":")[-2]
            code = {"serverlesscache": ("ServerlessCacheNotFoundFault", 404), "user": ("UserNotFound", 404), "usergroup": ("UserGroupNotFound", 404)}[kind]
            return ec_err(code[0], f"{arn} not found.", code[1])
        if action == "AddTagsToResource":
            have = dict(ARN_TAGS[(account, arn)])
            have.update(dict(tags_in(p)))
            ARN_TAGS[(account, arn)] = list(have.items())
            record(account, "elasticache", action, p)
        tags = "".join(f"<Tag>{x('Key', k)}{x('Value', v)}</Tag>" for k, v in ARN_TAGS[(account, arn)])
        return ec_ok(action, f"<TagList>{tags}</TagList>")


def serverless_state(account: str) -> dict:
    """For /_rules/state: the emulated caches and users (passwords: which open each cache)."""
    out = {}
    for (acc, name), c in CACHES.items():
        if acc != account or gone(c):
            continue
        g = USER_GROUPS.get((acc, c.get("user_group") or ""))
        users = [USERS[(acc, u)] for u in (g["users"] if g else []) if (acc, u) in USERS]
        out[name] = {
            "status": cache_status(c), "engine": c["engine"], "major": c["major"], "user_group": c.get("user_group"),
            "snapshots": c.get("snapshots"), "final_snapshot": c.get("final_snapshot"),
            "users": {u["name"]: {"access": u["access"], "credentials": list(u["passwords"]), "nopass": u["nopass"]} for u in users},
        }
    return out


# ---------------------------------------------------------------------------------------------
# HTTP


def account_of(headers) -> tuple[str, bool]:
    """The account a request belongs to, and whether moto must be told (header added)."""
    explicit = headers.get("x-moto-account-id")
    if explicit:
        return explicit, False
    m = re.search(r"Credential=([^/,\s]+)/", headers.get("Authorization", ""))
    if m and re.fullmatch(r"\d{12}", m.group(1)):
        return m.group(1), True
    return "default", False


def service_of(headers, params: dict) -> str:
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
    if m:
        return m.group(1)
    target = headers.get("X-Amz-Target", "")
    if target.startswith("secretsmanager."):
        return "secretsmanager"
    return "unknown"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add tens of milliseconds to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: the tests print what matters
        if os.environ.get("AWS_RULES_VERBOSE"):
            sys.stderr.write("aws_rules: " + (fmt % args) + "\n")

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status: int, headers: dict, body: bytes):
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/_rules/"):
            return self.control(body)
        if self.path.startswith("/moto-api/reset"):
            with LOCK:
                CONFIG.clear()
                DENY.clear()
                THROTTLE.clear()
                RESOURCES.clear()
                SNAPSHOTS.clear()
                REQUESTS.clear()
                DELETED_SECRETS.clear()
                for emulated in (CACHES, USERS, USER_GROUPS, ARN_TAGS, CLUSTER_PARAMETER_GROUPS):
                    emulated.clear()
        account, tell_moto = account_of(self.headers)
        ctype = self.headers.get("Content-Type", "")
        params: dict = {}
        action = ""
        if "x-www-form-urlencoded" in ctype and body:
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
            action = params.get("Action", "")
        elif self.headers.get("X-Amz-Target"):
            action = self.headers["X-Amz-Target"].split(".")[-1]
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
        service = service_of(self.headers, params)

        # ElastiCache Serverless, users and user groups: emulated here, never sent to moto.
        if service == "elasticache" and action in ("ListTagsForResource", "AddTagsToResource"):
            answered = serverless_tags(action, params, account)
            if answered is not None:
                return self.send(*answered)
        if service == "elasticache" and action in SERVERLESS_ACTIONS:
            refused = before(service, action, params, account)
            if refused is not None:
                return self.send(*refused)
            return self.send(*serverless_api(action, params, account))

        if service == "rds" and action == "DescribeDBEngineVersions":
            return self.send(*describe_db_engine_versions(params))
        if service == "elasticache" and action == "DescribeCacheEngineVersions":
            return self.send(*describe_cache_engine_versions(params))

        # AWS makes a resource atomically: of two concurrent creates of one identifier, one
        # succeeds and the other gets `...AlreadyExists`
        # (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html,
        # Errors: DBInstanceAlreadyExists). moto's server handles the two in parallel threads
        # and may fail the loser half way (a clashing automated snapshot name), so the layer
        # lets one create of an identifier through at a time.
        key_field = CREATE_KEYS.get((service, action))
        if key_field and params.get(key_field):
            with LOCK:
                gate = CREATE_GATES.setdefault((account, service, params[key_field].lower()), threading.Lock())
            with gate:
                return self.forward(service, action, params, account, tell_moto, ctype, body)
        return self.forward(service, action, params, account, tell_moto, ctype, body)

    def forward(self, service: str, action: str, params: dict, account: str, tell_moto: bool, ctype: str, body: bytes):
        """The rules before, moto's answer, the rules after."""
        original = dict(params)
        backend_snapshot = None
        if (service, action) == ("rds", "RestoreDBInstanceFromDBSnapshot") or (
            service == "elasticache" and action == "CreateReplicationGroup" and params.get("SnapshotName")
        ):
            backend_snapshot = self.backend_snapshot(service, params, account, tell_moto)
        refused = before(service, action, params, account, backend_snapshot)
        if refused is None and (service, action) in TAGGING:
            existing = None if action == "CreateSecret" else self.backend_tag_keys(service, params, account, tell_moto)
            refused = tag_rules(service, action, params, existing)
        if refused is not None:
            return self.send(*refused)
        if service == "rds" and action == "ModifyDBInstance" and default_group_family(params.get("DBParameterGroupName", "")):
            self.ensure_default_group(params["DBParameterGroupName"], account, tell_moto)
        if params != original and "x-www-form-urlencoded" in ctype:
            body = urllib.parse.urlencode({k: v for k, v in params.items() if not k.startswith("_")}).encode()

        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "transfer-encoding", "connection", "expect")}
        if tell_moto:
            headers["x-moto-account-id"] = account
        if service == "elasticache" and action in ("IncreaseReplicaCount", "DecreaseReplicaCount"):
            return self.send(*self.replica_count(action, params, account, headers))
        req = urllib.request.Request(BACKEND + self.path, data=body if self.command not in ("GET", "HEAD") else None, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, rheaders, rbody = r.status, dict(r.headers.items()), r.read()
        except urllib.error.HTTPError as e:
            status, rheaders, rbody = e.code, dict(e.headers.items()), e.read()
        except (urllib.error.URLError, OSError) as e:
            return self.send(502, {"Content-Type": "text/plain"}, f"aws_rules: moto at {BACKEND} did not answer: {e}".encode())

        if 200 <= status < 300 and action:
            after_ok(service, action, params, account)
            with LOCK:
                record(account, service, action, params)
        if service in ("rds", "elasticache") and rbody:
            text = rewrite(service, rbody.decode("utf-8", "replace"), account)
            rbody = rewrite_snapshots(service, text, account).encode()
        if service == "secretsmanager" and status >= 400:
            rbody = rewrite_secrets_error(status, rbody)
        self.send(status, rheaders, rbody)

    def ensure_default_group(self, name: str, account: str, tell_moto: bool):
        """Makes one of AWS's default DB parameter groups exist in moto (which has none), as
        it does on AWS, before a request names it. Straight to moto: its name is AWS's own,
        one no client may create (the layer's name rule refuses it)."""
        with LOCK:
            if (account, name) in PARAMETER_GROUPS:
                return
            PARAMETER_GROUPS[(account, name)] = default_group_family(name) or ""
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "x-amz-date", "user-agent")}
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if tell_moto:
            headers["x-moto-account-id"] = account
        query = {"Action": "CreateDBParameterGroup", "Version": "2014-10-31", "DBParameterGroupName": name,
                 "DBParameterGroupFamily": default_group_family(name) or "", "Description": f"Default parameter group for {default_group_family(name)}"}
        req = urllib.request.Request(BACKEND + "/", data=urllib.parse.urlencode(query).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
        except (urllib.error.URLError, OSError):
            pass
    def backend_tag_keys(self, service: str, params: dict, account: str, tell_moto: bool) -> list[str] | None:
        """The tag keys moto has on the resource a tagging request names (None: unknown)."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "transfer-encoding", "connection", "expect")}
        if tell_moto:
            headers["x-moto-account-id"] = account
        if service == "secretsmanager":
            headers["X-Amz-Target"] = "secretsmanager.DescribeSecret"
            data = json.dumps({"SecretId": params.get("SecretId", "")}).encode()
        else:
            version = "2014-10-31" if service == "rds" else "2015-02-02"
            data = urllib.parse.urlencode({"Action": "ListTagsForResource", "Version": version, "ResourceName": params.get("ResourceName", "")}).encode()
        req = urllib.request.Request(BACKEND + "/", data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                body = r.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        if service == "secretsmanager":
            try:
                return [t.get("Key", "") for t in json.loads(body).get("Tags") or []]
            except ValueError:
                return None
        return re.findall(r"<Key>([^<]*)</Key>", body)

    def backend_snapshot(self, service: str, params: dict, account: str, tell_moto: bool) -> dict | None:
        """The snapshot a restore names, as moto has it (None: moto has none)."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "transfer-encoding", "connection", "expect")}
        if tell_moto:
            headers["x-moto-account-id"] = account
        if service == "rds":
            sid = params.get("DBSnapshotIdentifier", "")
            query = {"Action": "DescribeDBSnapshots", "Version": "2014-10-31", "DBSnapshotIdentifier": sid.rsplit(":snapshot:", 1)[-1]}
            block, fields = "DBSnapshot", {"status": "Status", "engine": "Engine", "version": "EngineVersion", "storage": "AllocatedStorage", "instance": "DBInstanceIdentifier"}
        else:
            query = {"Action": "DescribeSnapshots", "Version": "2015-02-02", "SnapshotName": params.get("SnapshotName", "")}
            block, fields = "Snapshot", {"status": "SnapshotStatus", "engine": "Engine", "version": "EngineVersion", "group": "ReplicationGroupId"}
        req = urllib.request.Request(BACKEND + "/", data=urllib.parse.urlencode(query).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                body = r.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        m = re.search(rf"<{block}>(.*?)</{block}>", body, re.S)
        if not m:
            return None
        out = {}
        for key, tag in fields.items():
            v = re.search(rf"<{tag}>([^<]*)</{tag}>", m.group(1))
            out[key] = v.group(1) if v else None
        return out

    def replica_count(self, action: str, params: dict, account: str, headers: dict):
        """IncreaseReplicaCount / DecreaseReplicaCount, which moto answers with HTTP 500
        (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_IncreaseReplicaCount.html):
        the new count is kept here and shown in describes."""
        rid = params.get("ReplicationGroupId", "")
        describe = urllib.parse.urlencode({"Action": "DescribeReplicationGroups", "Version": "2015-02-02", "ReplicationGroupId": rid}).encode()
        req = urllib.request.Request(BACKEND + "/", data=describe, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                body = r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items()), e.read()
        m = re.search(r"<ReplicationGroup>.*?</ReplicationGroup>", body, re.S)
        if not m:
            return query_error("elasticache", "ReplicationGroupNotFoundFault", f"ReplicationGroup {rid} not found.", 404)
        after_ok("elasticache", action, params, account)
        with LOCK:
            record(account, "elasticache", action, params)
        group = rewrite("elasticache", m.group(0), account)
        out = (
            f'<{action}Response xmlns="{NS["elasticache"]}"><{action}Result>{group}</{action}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
        )
        return 200, {"Content-Type": "text/xml"}, out.encode()

    def control(self, body: bytes):
        url = urllib.parse.urlparse(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        try:
            doc = json.loads(body) if body else {}
        except ValueError:
            return self.send(400, {"Content-Type": "text/plain"}, b"aws_rules: the body is not JSON")
        account = doc.get("account") or query.get("account") or "default"
        with LOCK:
            if url.path == "/_rules/health":
                out = {"ok": True, "backend": BACKEND, "defaults": DEFAULTS}
            elif url.path == "/_rules/config":
                CONFIG.setdefault(account, {}).update({k: float(v) for k, v in doc.items() if k in DEFAULTS})
                out = config(account)
            elif url.path == "/_rules/throttle":
                THROTTLE.setdefault(account, {})[doc.get("action", "*")] = int(doc.get("count", 1))
                out = THROTTLE[account]
            elif url.path == "/_rules/deny":
                DENY.setdefault(account, set()).add(doc["action"])
                out = sorted(DENY[account])
            elif url.path == "/_rules/status":
                res = RESOURCES.setdefault((account, doc["id"]), {"kind": "unknown"})
                res["forced"] = doc.get("status") or None
                out = {"id": doc["id"], "status": status_of(res)}
            elif url.path == "/_rules/version":
                res = RESOURCES.setdefault((account, doc["id"]), {"kind": "unknown"})
                res["version"] = doc["version"]
                out = {"id": doc["id"], "version": res["version"]}
            elif url.path == "/_rules/endpoint":
                res = RESOURCES.setdefault((account, doc["id"]), {"kind": "unknown"})
                res["endpoint"] = (str(doc["address"]), int(doc["port"]))
                out = {"id": doc["id"], "address": res["endpoint"][0], "port": res["endpoint"][1]}
            elif url.path == "/_rules/age":
                res = RESOURCES.get((account, doc["id"]))
                if res is not None and res.get("storage_changed") is not None:
                    res["storage_changed"] -= float(doc.get("seconds", 0))
                    res["phases"] = []
                out = {"id": doc["id"]}
            elif url.path == "/_rules/state":
                out = {
                    "config": config(account),
                    "resources": {
                        rid: {
                            "status": status_of(r),
                            "version": r.get("version"),
                            "storage": r.get("storage"),
                            "credentials": r.get("passwords", r.get("tokens", [])),
                            "rotated": r.get("rotated"),
                            "restored_from": r.get("restored_from"),
                        }
                        for (acc, rid), r in RESOURCES.items()
                        if acc == account
                    },
                    "requests": REQUESTS.get(account, []),
                    "serverless_caches": serverless_state(account),
                    "snapshots": {
                        f"{svc}:{name}": {"status": status_of(r), "credentials": r.get("passwords", [])}
                        for (acc, svc, name), r in SNAPSHOTS.items()
                        if acc == account
                    },
                }
            elif url.path == "/_rules/reset":
                CONFIG.clear()
                DENY.clear()
                THROTTLE.clear()
                RESOURCES.clear()
                SNAPSHOTS.clear()
                REQUESTS.clear()
                DELETED_SECRETS.clear()
                for emulated in (CACHES, USERS, USER_GROUPS, ARN_TAGS, CLUSTER_PARAMETER_GROUPS):
                    emulated.clear()
                out = {"ok": True}
            else:
                return self.send(404, {"Content-Type": "text/plain"}, f"aws_rules: no control endpoint {url.path}".encode())
        self.send(200, {"Content-Type": "application/json"}, json.dumps(out).encode())


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server((LISTEN_HOST, LISTEN_PORT), Handler)
    sys.stderr.write(f"aws_rules: listening on {LISTEN_HOST}:{LISTEN_PORT}, forwarding to {BACKEND}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
