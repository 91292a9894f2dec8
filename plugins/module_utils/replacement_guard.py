# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replacement guard, pure: which stateful resources of a tenant's stack an update would replace or delete.

A rollout must not lose a tenant's data by accident. Before updating a tenant, the rollout compares the
template (and parameters) the tenant's stack has with the ones the update would give it; every stateful
resource the update would replace or delete refuses that tenant, unless ``allow_replacement`` names it.

* ``STATEFUL_TYPES`` - the one table: resource types that hold data, and per type the properties whose change
  means "Update requires: Replacement" (``replaces``), or replacement in some cases (``may_replace``).
* ``replacements(old, new, old_parameters, new_parameters, fetch)`` - the ``Finding`` s of one tenant: each
  stateful resource (down into nested stacks) that would be ``replaced``, ``removed``, ``may_be_replaced`` or
  ``may_be_removed``; ``retained`` ones (removed, but ``DeletionPolicy: Retain`` keeps the data) are info only.
* ``plan_findings(resource_changes)`` - the same findings from a Service Catalog plan's ``ResourceChanges``.
* ``kept_parameters(keys)`` - the parameter values of a rollout's ``UsePreviousValue`` update, not read.
* ``parse_allow_replacement(value)`` - ``allow_replacement`` as ``AllowRule`` s.
* ``refusals(tenant, product, findings, rules)`` - one line per finding no rule allows; ``notices`` - the
  retained and the allowed ones, for the report.

Where the table comes from
    The CloudFormation resource reference's "Update requires" of each property: the last published source of
    the reference (github.com/awsdocs/aws-cloudformation-user-guide, doc_source/, 2023-09-19) and, for
    properties and types added since, the resource provider schemas the reference pages are generated from
    (``createOnlyProperties``; cfn-lint ships them). Where the 2023 reference and today's schema disagree, the
    schema wins (CloudFormation and today's reference go by it: RDS ``Port`` now updates in place), except
    where the schema marks the property create-only under conditions (``conditionalCreateOnlyProperties``):
    then the reference's "Replacement" stands (DynamoDB ``KeySchema``). tests/unit/plugins/module_utils/
    test_replacement_guard.py compares the table with cfn-lint's schemas and lists every deliberate difference
    with its reason: a property the schema says is create-only and the table lacks fails that test. Only
    top-level properties are listed; a change anywhere inside one counts. ``replaced`` is what a change set
    reports as ``Replacement: True``, ``may_be_replaced`` as ``Conditional``.

What counts as stateful
    A resource whose deletion loses data the stack cannot recreate: items, objects, messages, log events, files,
    records, users, secret values, key material, images, recovery points. Not listed, on purpose:
    ``AWS::SNS::Topic`` (it stores no messages: a message is delivered or goes to the subscriber's dead-letter
    queue; replacing a topic loses only subscriptions made outside the stack - a FIFO topic with an
    ``ArchivePolicy`` does keep messages; add the type if tenants use that), ``AWS::SSM::Parameter`` (its value
    is in the template), functions, roles, APIs and other resources the template fully describes.

How values are compared
    Property values are evaluated as far as the templates allow: literals, ``Ref`` to parameters (the values
    given, else the template's ``Default``), ``Fn::Sub``, ``Fn::Join``, ``Fn::If`` with ``Conditions``,
    ``Fn::Select``, ``Fn::Split``, ``Fn::FindInMap``, ``Fn::Base64``. Scalars compare as CloudFormation passes
    them (``5`` equals ``"5"``, ``true`` equals ``"true"``). What cannot be evaluated before the update (pseudo
    parameters, ``Fn::GetAtt``, ``Ref`` to a resource, ``Fn::ImportValue``, the value behind an
    ``AWS::SSM::Parameter::Value<...>`` parameter) is kept as its expression: the same expression on both sides
    counts as unchanged, a different one as "may be replaced" (so an export or SSM value that changed between
    two deployments is not seen; templates with a ``Transform`` are compared as written). A property that
    refers to a resource which this update itself replaces may change too (a new physical id): that counts as
    "may be replaced". A nested stack's resources are compared with the parameters its parent passes,
    evaluated the same way.

Removal and policies
    A stateful resource whose logical id is gone from the new template (or whose ``Condition`` turns false) is
    deleted, unless its ``DeletionPolicy`` (the deployed one: the old template's) is ``Retain`` or
    ``RetainExceptOnCreate``: then the data stays in the account, the finding is ``retained`` and not refused.
    ``Snapshot`` is refused: the live resource is gone, only a final snapshot remains. Renaming a logical id
    is a removal and an addition: refused like a removal. A removed nested stack removes everything in it
    (unless the stack resource itself is retained). A replacement is refused even with
    ``UpdateReplacePolicy: Retain``: the old resource is kept, but outside the stack, and the tenant's stack
    continues with a new, empty one; the reason says so.

Resource paths and ``allow_replacement``
    A resource's path is its logical id, and for a resource in a nested stack the nested stack's logical id
    first: ``OrdersTable``, ``Orders/OrdersTable``, ``Orders/Archive/ArchiveBucket``. ``allow_replacement``
    takes ``product/Path`` (every tenant of the product) or ``tenant:product/Path`` (one tenant), as a list or
    a comma-separated string: ``orders/Orders/OrdersTable, acme:orders/AuditLog``. ``product`` is the name the
    rollout reports the tenant's product by, ``tenant`` the provisioned product's name. The path names exactly
    one resource (no wildcards, no prefix of a nested stack): what is let through is what was read.

Pure: no AWS calls, nothing written. The caller loads the templates; ``fetch(url)`` loads a nested one.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union, cast

from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import MAX_NESTING_DEPTH, NESTED_STACK_TYPE
from ansible_collections.multiregion.serverless.plugins.module_utils.common import CATALOG_NAME_PATTERN, PROVISIONED_PRODUCT_NAME_PATTERN


class GuardError(ValueError):
    """An ``allow_replacement`` value, or a template tree, the guard cannot work with."""


# ---------------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class StatefulType:
    """A resource type that holds data: what it is called, what it holds, and which property changes replace it."""

    noun: str
    holds: str
    replaces: Tuple[str, ...] = ()
    # Replacement in some cases: the schema's conditionalCreateOnlyProperties, or the reference's own words.
    may_replace: Tuple[str, ...] = ()
    # What happens instead of a replacement, when the reference says the update does something else.
    instead: str = ""


# Every type that holds data, with the properties whose change replaces it ("Update requires: Replacement").
# Deliberate differences from the registry schemas are listed, with their reasons, in the unit test.
STATEFUL_TYPES: Mapping[str, StatefulType] = MappingProxyType(
    {
        "AWS::DynamoDB::Table": StatefulType(
            "DynamoDB table",
            "its items",
            replaces=("ImportSourceSpecification", "KeySchema", "TableName"),
            # LSIs exist only from a table's creation; their fields say "Updates are not supported".
            may_replace=("LocalSecondaryIndexes",),
        ),
        "AWS::DynamoDB::GlobalTable": StatefulType(
            "DynamoDB global table",
            "its items in every replica",
            replaces=("KeySchema", "LocalSecondaryIndexes", "TableName"),
            may_replace=("GlobalTableSourceArn",),
        ),
        "AWS::S3::Bucket": StatefulType("S3 bucket", "its objects", replaces=("BucketName", "BucketNamePrefix", "BucketNamespace")),
        "AWS::S3Express::DirectoryBucket": StatefulType("S3 directory bucket", "its objects", replaces=("BucketName", "DataRedundancy", "LocationName")),
        "AWS::SQS::Queue": StatefulType("SQS queue", "the messages in it", replaces=("FifoQueue", "QueueName")),
        "AWS::Logs::LogGroup": StatefulType("log group", "its log events", replaces=("LogGroupName",)),
        "AWS::Kinesis::Stream": StatefulType("Kinesis stream", "the records in it", replaces=("Name",)),
        "AWS::RDS::DBInstance": StatefulType(
            "RDS DB instance",
            "its databases",
            replaces=(
                "BackupTarget",
                "CharacterSetName",
                "CustomIAMInstanceProfile",
                "DBClusterIdentifier",
                "DBInstanceIdentifier",
                "DBName",
                "DBSubnetGroupName",
                "DBSystemId",
                "KmsKeyId",
                "MasterUsername",
                "NcharCharacterSetName",
                "PerformanceInsightsKMSKeyId",
                "SourceRegion",
                "StorageEncrypted",
                "Timezone",
            ),
            # What the instance is created or restored from: another source is another database. The reference
            # on DBSnapshotIdentifier: leaving it out after a restore creates an empty instance and deletes the old.
            may_replace=(
                "DBClusterSnapshotIdentifier",
                "DBSnapshotIdentifier",
                "Engine",
                "RestoreTime",
                "SourceDBClusterIdentifier",
                "SourceDBInstanceAutomatedBackupsArn",
                "SourceDBInstanceIdentifier",
                "SourceDbiResourceId",
                "UseLatestRestorableTime",
            ),
        ),
        "AWS::RDS::DBCluster": StatefulType(
            "RDS DB cluster",
            "its databases",
            replaces=(
                "AvailabilityZones",
                "ClusterScalabilityType",
                "DBClusterIdentifier",
                "DBSubnetGroupName",
                "DBSystemId",
                "DatabaseName",
                "EngineMode",
                "KmsKeyId",
                "PubliclyAccessible",
                "RestoreToTime",
                "RestoreType",
                "SnapshotIdentifier",
                "SourceDBClusterIdentifier",
                "SourceDbClusterResourceId",
                "SourceRegion",
                "StorageEncrypted",
                "UseLatestRestorableTime",
            ),
            may_replace=("Engine", "MasterUsername"),
        ),
        "AWS::DocDB::DBCluster": StatefulType(
            "DocumentDB cluster",
            "its databases",
            replaces=(
                "AvailabilityZones",
                "DBClusterIdentifier",
                "DBSubnetGroupName",
                "KmsKeyId",
                "MasterUsername",
                "SnapshotIdentifier",
                "SourceDBClusterIdentifier",
                "StorageEncrypted",
            ),
        ),
        "AWS::Neptune::DBCluster": StatefulType(
            "Neptune cluster",
            "its graph data",
            replaces=(
                "AvailabilityZones",
                "DBClusterIdentifier",
                "DBSubnetGroupName",
                "GlobalClusterIdentifier",
                "KmsKeyId",
                "RestoreToTime",
                "RestoreType",
                "SnapshotIdentifier",
                "SourceDBClusterIdentifier",
                "StorageEncrypted",
                "UseLatestRestorableTime",
            ),
        ),
        "AWS::EFS::FileSystem": StatefulType("EFS file system", "its files", replaces=("AvailabilityZoneName", "Encrypted", "KmsKeyId", "PerformanceMode")),
        # Since late 2019 the reference marks no user pool property "Replacement" (AliasAttributes, Schema,
        # UsernameAttributes and UserPoolName were before); the pool is listed for its removal.
        "AWS::Cognito::UserPool": StatefulType("Cognito user pool", "its users"),
        "AWS::SecretsManager::Secret": StatefulType("Secrets Manager secret", "its secret value", replaces=("Name",)),
        # The reference: changing these fails the update "regardless of the UpdateReplacePolicy" (to protect the
        # key); refusing up front beats a failed update.
        "AWS::KMS::Key": StatefulType(
            "KMS key",
            "its key material (what is encrypted under it can no longer be decrypted)",
            replaces=("KeySpec", "KeyUsage", "MultiRegion"),
            instead="CloudFormation fails the update rather than replace a KMS key (the resource reference), and the stack rolls back",
        ),
        "AWS::ElastiCache::CacheCluster": StatefulType(
            "ElastiCache cluster",
            "its cached data",
            replaces=("CacheSubnetGroupName", "ClusterName", "Engine", "NetworkType", "Port", "SnapshotArns", "SnapshotName"),
        ),
        "AWS::ElastiCache::ReplicationGroup": StatefulType(
            "ElastiCache replication group",
            "its data",
            replaces=(
                "AtRestEncryptionEnabled",
                "CacheSubnetGroupName",
                "DataTieringEnabled",
                "GlobalReplicationGroupId",
                "KmsKeyId",
                "NetworkType",
                "Port",
                "PreferredCacheClusterAZs",
                "ReplicationGroupId",
                "SnapshotArns",
                "SnapshotName",
            ),
        ),
        "AWS::ElastiCache::ServerlessCache": StatefulType(
            "ElastiCache serverless cache",
            "its data",
            replaces=("ConnectionType", "KmsKeyId", "NetworkType", "ServerlessCacheName", "SnapshotArnsToRestore", "SubnetIds"),
        ),
        "AWS::OpenSearchService::Domain": StatefulType("OpenSearch domain", "its indices", replaces=("DomainName", "EngineMode")),
        "AWS::Elasticsearch::Domain": StatefulType("Elasticsearch domain", "its indices", replaces=("DomainName",)),
        "AWS::Backup::BackupVault": StatefulType("backup vault", "its recovery points", replaces=("BackupVaultName", "EncryptionKeyArn")),
        "AWS::ECR::Repository": StatefulType("ECR repository", "its images", replaces=("EncryptionConfiguration", "RepositoryName")),
        "AWS::Timestream::Database": StatefulType("Timestream database", "its tables", replaces=("DatabaseName",)),
        "AWS::Timestream::Table": StatefulType("Timestream table", "its records", replaces=("DatabaseName", "TableName")),
    }
)

# ---------------------------------------------------------------------------------------------- findings

REPLACED = "replaced"
MAY_BE_REPLACED = "may_be_replaced"
REMOVED = "removed"
MAY_BE_REMOVED = "may_be_removed"
RETAINED = "retained"
KINDS = (REPLACED, MAY_BE_REPLACED, REMOVED, MAY_BE_REMOVED, RETAINED)
REFUSED_KINDS = frozenset((REPLACED, MAY_BE_REPLACED, REMOVED, MAY_BE_REMOVED))
# DeletionPolicy values that keep a removed resource (and its data) in the account.
RETAIN_POLICIES = ("Retain", "RetainExceptOnCreate")

_VERBS = {
    REPLACED: "would be replaced",
    MAY_BE_REPLACED: "may be replaced",
    REMOVED: "would be deleted",
    MAY_BE_REMOVED: "may be deleted",
    RETAINED: "leaves the stack but is kept",
}


@dataclass(frozen=True)
class Finding:
    """One stateful resource an update replaces or removes: where, what, which property, how, and why (one line)."""

    path: str
    resource_type: str
    property_name: str  # "" when the resource is removed as a whole
    kind: str
    reason: str

    @property
    def refused(self) -> bool:
        """Whether this finding refuses the tenant (unless allowed); ``retained`` ones are info."""
        return self.kind in REFUSED_KINDS

    def describe(self) -> str:
        """``Orders/OrdersTable (AWS::DynamoDB::Table, KeySchema) would be replaced: <reason>``."""
        what = f"{self.resource_type}, {self.property_name}" if self.property_name else self.resource_type
        return f"{self.path} ({what}) {_VERBS[self.kind]}: {self.reason}"


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Unknown:
    """A value known only as its (partly evaluated) expression, in canonical text, and the resources it reads."""

    text: str
    refs: FrozenSet[str] = frozenset()


class _NoValue:
    """``Ref: AWS::NoValue``: the property, or list item, is left out."""


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SHOWN_VALUE = 100
Condition = Union[bool, Unknown]


def _scalar(value: Any) -> Any:
    """A scalar as CloudFormation passes it to the resource: booleans and numbers as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


@dataclass(frozen=True)
class _Shape:
    """A value in canonical text (sorted keys, scalars as strings, unknown parts as their expression), with
    whether it has unknown parts and which resources they read."""

    text: str
    refs: FrozenSet[str]
    unknown: bool


def _shape(value: Any) -> _Shape:
    refs: Set[str] = set()
    unknown = False

    def render(item: Any) -> str:
        nonlocal unknown
        if isinstance(item, Unknown):
            unknown = True
            refs.update(item.refs)
            return item.text
        if isinstance(item, dict):
            pairs = sorted((str(key), inner) for key, inner in item.items() if inner is not NO_VALUE)
            return "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{render(inner)}" for key, inner in pairs) + "}"
        if isinstance(item, list):
            return "[" + ",".join(render(inner) for inner in item if inner is not NO_VALUE) + "]"
        return json.dumps(_scalar(item), ensure_ascii=False, default=str)

    text = render(value)
    return _Shape(text, frozenset(refs), unknown)


def _unknown(function: str, argument: Any) -> Unknown:
    """``function(argument)`` as an unknown value (``Fn::ImportValue("shared-vpc")``)."""
    shape = _shape(argument)
    return Unknown(f"{function}({shape.text})", shape.refs)


class _Evaluator:
    """Evaluates one template's values with one set of parameter values, as far as that is possible before an update."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
        self.resources: Mapping[str, Any] = _mapping(template.get("Resources"))
        self.mappings: Mapping[str, Any] = _mapping(template.get("Mappings"))
        self.conditions: Mapping[str, Any] = _mapping(template.get("Conditions"))
        self.parameters = _parameter_values(_mapping(template.get("Parameters")), parameters)
        self._condition_values: Dict[str, Condition] = {}

    # -- values

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function evaluated that can be; the rest as ``Unknown``."""
        if isinstance(value, list):
            return [item for item in (self.resolve(inner) for inner in value) if item is not NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self._ref(argument)
                if key.startswith("Fn::"):
                    handler = _FUNCTIONS.get(key)
                    return getattr(self, handler)(argument) if handler else _unknown(key, self.resolve(argument))
            resolved = {key: self.resolve(inner) for key, inner in value.items()}
            return {key: inner for key, inner in resolved.items() if inner is not NO_VALUE}
        return value

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            return _unknown("Ref", self.resolve(name))
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        refs = frozenset((name,)) if name in self.resources else frozenset()
        return Unknown(f"Ref({name})", refs)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            resource, _dot, attribute = argument.partition(".")
            argument = [resource, attribute]
        if not isinstance(argument, list) or len(argument) != 2 or not isinstance(argument[0], str):
            return _unknown("Fn::GetAtt", self.resolve(argument))
        attribute = self.resolve(argument[1])
        shown = attribute if isinstance(attribute, str) else _shape(attribute).text
        return Unknown(f"GetAtt({argument[0]}.{shown})", frozenset((argument[0],)) | _shape(attribute).refs)

    def _sub(self, argument: Any) -> Any:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str) and isinstance(argument[1], dict):
            text, variables = argument[0], {name: self.resolve(inner) for name, inner in argument[1].items()}
        else:
            return _unknown("Fn::Sub", self.resolve(argument))
        refs: Set[str] = set()
        unknown = False

        def substitute(match: "re.Match[str]") -> str:
            nonlocal unknown
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".", 1)[0] in self.resources:
                value = self._get_att(name)
            else:
                value = self._ref(name)
            value = _scalar(value)
            if isinstance(value, str):
                return value
            unknown = True
            shape = _shape(value)
            refs.update(shape.refs)
            return "${" + shape.text + "}"

        result = _SUB_VARIABLE.sub(substitute, text)
        return Unknown(f"Sub({result})", frozenset(refs)) if unknown else result

    def _join(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            return _unknown("Fn::Join", self.resolve(argument))
        delimiter, items = self.resolve(argument[0]), self.resolve(argument[1])
        if isinstance(delimiter, str) and isinstance(items, list):
            parts = [_scalar(item) for item in items]
            if all(isinstance(part, str) for part in parts):
                return delimiter.join(parts)
        return _unknown("Fn::Join", [delimiter, items])

    def _select(self, argument: Any) -> Any:
        if isinstance(argument, list) and len(argument) == 2:
            index, items = _scalar(self.resolve(argument[0])), self.resolve(argument[1])
            if isinstance(index, str) and index.isdigit() and isinstance(items, list) and int(index) < len(items):
                return items[int(index)]
        return _unknown("Fn::Select", self.resolve(argument))

    def _split(self, argument: Any) -> Any:
        if isinstance(argument, list) and len(argument) == 2:
            delimiter, text = self.resolve(argument[0]), _scalar(self.resolve(argument[1]))
            if isinstance(delimiter, str) and delimiter and isinstance(text, str):
                return text.split(delimiter)
        return _unknown("Fn::Split", self.resolve(argument))

    def _find_in_map(self, argument: Any) -> Any:
        if isinstance(argument, list) and len(argument) >= 3:
            keys = [_scalar(self.resolve(key)) for key in argument[:3]]
            if all(isinstance(key, str) for key in keys):
                value: Any = self.mappings
                for key in keys:
                    value = value.get(key) if isinstance(value, dict) else None
                if value is not None:
                    return value
        return _unknown("Fn::FindInMap", self.resolve(argument))

    def _base64(self, argument: Any) -> Any:
        value = _scalar(self.resolve(argument))
        if isinstance(value, str):
            return base64.b64encode(value.encode("utf-8")).decode("ascii")
        return _unknown("Fn::Base64", value)

    def _if(self, argument: Any) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            return _unknown("Fn::If", self.resolve(argument))
        condition = self.named_condition(argument[0]) if isinstance(argument[0], str) else self.condition(argument[0])
        if condition is True:
            return self.resolve(argument[1])
        if condition is False:
            return self.resolve(argument[2])
        condition = cast(Unknown, condition)  # neither True nor False: not known before the update
        when_true, when_false = _shape(self.resolve(argument[1])), _shape(self.resolve(argument[2]))
        return Unknown(f"If({condition.text},{when_true.text},{when_false.text})", condition.refs | when_true.refs | when_false.refs)

    # -- conditions

    def condition(self, expression: Any) -> Condition:
        """True, False, or Unknown when it depends on what cannot be evaluated before the update."""
        if isinstance(expression, bool):
            return expression
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key == "Condition" and isinstance(argument, str):
                return self.named_condition(argument)
            if key == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
                left, right = _shape(self.resolve(argument[0])), _shape(self.resolve(argument[1]))
                if left.text == right.text:
                    return True
                if not left.unknown and not right.unknown:
                    return False
                return Unknown(f"Equals({left.text},{right.text})", left.refs | right.refs)
            if key == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
                inner = self.condition(argument[0])
                return (not inner) if isinstance(inner, bool) else Unknown(f"Not({inner.text})", inner.refs)
            if key in ("Fn::And", "Fn::Or") and isinstance(argument, list) and argument:
                return self._junction(key, [self.condition(inner) for inner in argument])
        return _unknown("Condition", self.resolve(expression))

    @staticmethod
    def _junction(key: str, values: List[Condition]) -> Condition:
        decisive = key == "Fn::Or"  # the value that decides an Or (True) or an And (False) alone
        if any(value is decisive for value in values):
            return decisive
        unknowns = [value for value in values if isinstance(value, Unknown)]
        if not unknowns:
            return not decisive
        refs: FrozenSet[str] = frozenset().union(*(value.refs for value in unknowns))
        return Unknown(f"{key[4:]}({','.join(value.text for value in unknowns)})", refs)

    def named_condition(self, name: str) -> Condition:
        if name not in self._condition_values:
            self._condition_values[name] = Unknown(f"Condition({name})")  # a cycle stays unknown
            if name in self.conditions:
                self._condition_values[name] = self.condition(self.conditions[name])
        return self._condition_values[name]

    def present(self, logical_id: str) -> Condition:
        """Whether the resource exists with these parameters (its ``Condition``)."""
        name = _mapping(self.resources.get(logical_id)).get("Condition")
        return True if name is None else self.named_condition(str(name))


# The functions _Evaluator evaluates (by method name); any other one stays unknown.
_FUNCTIONS: Mapping[str, str] = MappingProxyType(
    {
        "Fn::GetAtt": "_get_att",
        "Fn::Sub": "_sub",
        "Fn::Join": "_join",
        "Fn::Select": "_select",
        "Fn::Split": "_split",
        "Fn::FindInMap": "_find_in_map",
        "Fn::Base64": "_base64",
        "Fn::If": "_if",
    }
)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _parameter_values(declared: Mapping[str, Any], given: Mapping[str, Any]) -> Dict[str, Any]:
    """Each declared parameter's value: the one given, else its Default, else unknown (the same on both sides)."""
    values: Dict[str, Any] = {}
    for name, spec in declared.items():
        spec = _mapping(spec)
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            value = Unknown(f"Ref({name})")
        kind = str(spec.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            # CloudFormation reads the SSM parameter at each update: only its name is known here.
            value = _unknown("resolve:ssm", value)
        elif isinstance(value, str) and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            value = [part.strip() for part in value.split(",")]
        values[name] = value
    return values


def _show(value: Any) -> str:
    if value is None or value is NO_VALUE:
        return "(not set)"
    shown = value if isinstance(value, str) else _shape(value).text
    return shown if len(shown) <= _SHOWN_VALUE else shown[: _SHOWN_VALUE - 3] + "..."


# How a value compares: the same, changed, maybe changed (unknown parts differ), or the same expression of a
# resource this update replaces (moved).
SAME, CHANGED, MAYBE, MOVED = "same", "changed", "maybe", "moved"


def _compare(old: Any, new: Any, replaced_ids: Iterable[str] = ()) -> str:
    old_shape, new_shape = _shape(None if old is NO_VALUE else old), _shape(None if new is NO_VALUE else new)
    if old_shape.text == new_shape.text:
        return MOVED if new_shape.refs & frozenset(replaced_ids) else SAME
    if not old_shape.unknown and not new_shape.unknown:
        return CHANGED
    return MAYBE


# ---------------------------------------------------------------------------------------------- comparison

Fetch = Callable[[str], Mapping[str, Any]]


@dataclass
class _Walk:
    """What one ``replacements`` call shares down the tree: the loader (each URL fetched once)."""

    fetch: Optional[Fetch]
    templates: Dict[str, Mapping[str, Any]]

    def load(self, url: str, path: str) -> Mapping[str, Any]:
        if url not in self.templates:
            if self.fetch is None:
                raise GuardError(f"{path} is a nested stack and no fetch was given to load its template {url}")
            self.templates[url] = self.fetch(url)
        return self.templates[url]


def plan_findings(resource_changes: Iterable[Mapping[str, Any]]) -> List[Finding]:
    """The findings of a Service Catalog provisioned product plan (its ``ResourceChanges``, CloudFormation's change
    set in Service Catalog's words: ``Action`` ADD | MODIFY | REMOVE, ``Replacement`` TRUE | FALSE | CONDITIONAL,
    ``RequiresRecreation`` NEVER | CONDITIONALLY | ALWAYS): each stateful resource the plan removes or replaces
    (``CONDITIONAL`` is "may be").

    A plan sees the product template's own resources only: a nested stack is one MODIFY of
    ``AWS::CloudFormation::Stack`` (what is inside is not listed), which ``replacements`` opens instead.
    """
    findings = []
    for change in resource_changes:
        resource_type, path = str(change.get("ResourceType") or ""), str(change.get("LogicalResourceId") or "")
        action, replacement = str(change.get("Action") or "").upper(), str(change.get("Replacement") or "").upper()
        if resource_type not in STATEFUL_TYPES:
            continue
        if action == "REMOVE":
            findings.append(Finding(path, resource_type, "", REMOVED, "Service Catalog's plan removes it: its data goes with it"))
            continue
        kind = {"TRUE": REPLACED, "CONDITIONAL": MAY_BE_REPLACED}.get(replacement)
        if action != "MODIFY" or kind is None:
            continue
        targets = [detail.get("Target") or {} for detail in change.get("Details") or []]
        recreated = sorted({str(target.get("Name") or "") for target in targets if str(target.get("Attribute") or "").upper() == "PROPERTIES"
                            and str(target.get("RequiresRecreation") or "").upper() in ("ALWAYS", "CONDITIONALLY")} - {""})
        findings.append(Finding(path, resource_type, ", ".join(recreated), kind,
                                f"Service Catalog's plan (a CloudFormation change set) says Replacement: {replacement}"))
    return sorted(findings, key=lambda finding: (finding.path, finding.property_name, finding.kind))


def kept_parameters(keys: Iterable[str]) -> Dict[str, Unknown]:
    """Parameter values a stack keeps through an update (``UsePreviousValue``) and the caller did not read: each is
    its own unknown, the same on both sides, so a value built only from them counts as unchanged."""
    return {key: Unknown(f"Ref({key})") for key in keys}


def replacements(
    old_template: Mapping[str, Any],
    new_template: Mapping[str, Any],
    old_parameters: Optional[Mapping[str, Any]] = None,
    new_parameters: Optional[Mapping[str, Any]] = None,
    fetch: Optional[Fetch] = None,
) -> List[Finding]:
    """The stateful resources an update from ``old_template`` to ``new_template`` replaces or removes.

    ``old_parameters`` are the stack's current parameter values, ``new_parameters`` the ones of the update
    (a parameter left out takes the template's Default). ``fetch(url)`` returns the parsed template of a nested
    stack's TemplateURL; it is called once per URL (memoize it across tenants: templates are shared). Findings
    are sorted by path and property; ``retained`` ones are info, the others refuse the tenant.
    """
    walk = _Walk(fetch, {})
    findings, _changed = _compare_templates(walk, old_template, new_template, old_parameters or {}, new_parameters or {}, "", 0)
    return sorted(findings, key=lambda finding: (finding.path, finding.property_name, finding.kind))


def _compare_templates(
    walk: _Walk,
    old_template: Mapping[str, Any],
    new_template: Mapping[str, Any],
    old_parameters: Mapping[str, Any],
    new_parameters: Mapping[str, Any],
    prefix: str,
    depth: int,
) -> Tuple[List[Finding], bool]:
    """The findings of one stack and the stacks below it; whether anything in it may be replaced."""
    if depth > MAX_NESTING_DEPTH:
        raise GuardError(f"{prefix.rstrip('/')}: nested stacks deeper than {MAX_NESTING_DEPTH} levels (or a cycle of TemplateURLs)")
    old, new = _Evaluator(old_template, old_parameters), _Evaluator(new_template, new_parameters)
    replaced_ids: Set[str] = set()
    # A property that refers to a replaced resource may change: repeat until no new replacement turns up.
    for _round in range(len(old.resources) + 1):
        findings: List[Finding] = []
        now_replaced: Set[str] = set()
        for logical_id in sorted(old.resources):
            found, replaced = _compare_resource(walk, old, new, logical_id, replaced_ids, prefix, depth)
            findings.extend(found)
            if replaced:
                now_replaced.add(logical_id)
        if now_replaced <= replaced_ids:
            break
        replaced_ids |= now_replaced
    return findings, bool(replaced_ids)


def _compare_resource(
    walk: _Walk, old: _Evaluator, new: _Evaluator, logical_id: str, replaced_ids: Set[str], prefix: str, depth: int
) -> Tuple[List[Finding], bool]:
    old_resource = _mapping(old.resources[logical_id])
    resource_type = str(old_resource.get("Type", ""))
    if resource_type not in STATEFUL_TYPES and resource_type != NESTED_STACK_TYPE:
        return [], False
    old_present = old.present(logical_id)
    if old_present is False:
        return [], False  # not deployed with the stack's current parameters
    path = prefix + logical_id
    new_resource = new.resources.get(logical_id)
    new_present: Condition = new.present(logical_id) if isinstance(new_resource, dict) else False
    if new_present is False:
        why = "its Condition is false with the new parameters" if isinstance(new_resource, dict) else _gone(old, new, logical_id, resource_type)
        return list(_removed(walk, old, logical_id, path, why, maybe=isinstance(old_present, Unknown), depth=depth)), False
    if isinstance(new_present, Unknown) and not (isinstance(old_present, Unknown) and old_present.text == new_present.text):
        why = "its Condition cannot be evaluated before the update"
        return list(_removed(walk, old, logical_id, path, why, maybe=True, depth=depth)), False
    new_resource = cast(Dict[str, Any], new_resource)  # present: the cases above returned
    new_type = str(new_resource.get("Type", ""))
    if new_type != resource_type:
        reason = f"its Type changes to {new_type}; CloudFormation cannot change a resource's type in place"
        return [Finding(path, resource_type, "Type", MAY_BE_REPLACED, reason)], True
    if resource_type == NESTED_STACK_TYPE:
        return _compare_nested(walk, old, new, logical_id, replaced_ids, path, depth)
    findings = list(_compare_properties(old, new, logical_id, replaced_ids, path))
    return findings, bool(findings)


def _gone(old: _Evaluator, new: _Evaluator, logical_id: str, resource_type: str) -> str:
    added = sorted(other for other, resource in new.resources.items() if other not in old.resources and _mapping(resource).get("Type") == resource_type)
    why = f"logical id {logical_id} is gone from the new template"
    if added:
        why += f" (it adds {', '.join(added)} of the same type: renaming a logical id deletes the resource and creates another)"
    return why


def _compare_properties(old: _Evaluator, new: _Evaluator, logical_id: str, replaced_ids: Set[str], path: str) -> Iterator[Finding]:
    old_resource, new_resource = _mapping(old.resources[logical_id]), _mapping(new.resources[logical_id])
    resource_type = str(old_resource["Type"])
    spec = STATEFUL_TYPES[resource_type]
    old_properties, new_properties = old.resolve(old_resource.get("Properties") or {}), new.resolve(new_resource.get("Properties") or {})
    kept = all(side.resolve(resource.get("UpdateReplacePolicy")) in RETAIN_POLICIES for side, resource in ((old, old_resource), (new, new_resource)))
    outcome = spec.instead or f"a new, empty {spec.noun} takes its place" + (
        f" and UpdateReplacePolicy Retain keeps the old one, with {spec.holds}, outside the stack" if kept else f" and the old one is deleted with {spec.holds}"
    )
    for name in spec.replaces + spec.may_replace:
        before, after = _property(old_properties, name), _property(new_properties, name)
        verdict = _compare(before, after, replaced_ids)
        if verdict == SAME:
            continue
        change = f"{name} {'changes' if verdict == CHANGED else 'may change'} from {_show(before)} to {_show(after)}"
        if verdict == MOVED:
            moved = ", ".join(sorted(_shape(after).refs & replaced_ids))
            yield Finding(
                path, resource_type, name, MAY_BE_REPLACED, f"{name} may change: it refers to {moved}, which this update replaces; if it does, {outcome}"
            )
        elif verdict == MAYBE:
            yield Finding(path, resource_type, name, MAY_BE_REPLACED, f"{change} (it cannot be evaluated before the update); if it does, {outcome}")
        elif name in spec.replaces:
            yield Finding(path, resource_type, name, REPLACED, f"{change}, which requires replacement: {outcome}")
        else:
            yield Finding(path, resource_type, name, MAY_BE_REPLACED, f"{change}, which requires replacement in some cases: then {outcome}")


def _property(properties: Any, name: str) -> Any:
    if isinstance(properties, Unknown):  # Properties as a whole is an intrinsic function
        return Unknown(properties.text + "." + name, properties.refs)
    return _mapping(properties).get(name)


def _compare_nested(
    walk: _Walk, old: _Evaluator, new: _Evaluator, logical_id: str, replaced_ids: Set[str], path: str, depth: int
) -> Tuple[List[Finding], bool]:
    old_properties = old.resolve(_mapping(old.resources[logical_id]).get("Properties") or {})
    new_properties = new.resolve(_mapping(new.resources[logical_id]).get("Properties") or {})
    old_url, new_url = _property(old_properties, "TemplateURL"), _property(new_properties, "TemplateURL")
    old_parameters = _property(old_properties, "Parameters") or {}
    new_parameters = _after_replacements(_property(new_properties, "Parameters") or {}, replaced_ids)
    if not (isinstance(old_url, str) and isinstance(new_url, str) and isinstance(old_parameters, dict) and isinstance(new_parameters, dict)):
        if _compare(old_url, new_url) == SAME and _compare(old_parameters, new_parameters) == SAME:
            return [], False  # neither the template nor its parameters change: nothing in it does
        reason = f"its TemplateURL ({_show(new_url)}) or Parameters cannot be evaluated before the update, so the resources in it were not compared"
        return [Finding(path, NESTED_STACK_TYPE, "TemplateURL", MAY_BE_REPLACED, reason)], True
    old_child, new_child = walk.load(old_url, path), walk.load(new_url, path)
    return _compare_templates(walk, old_child, new_child, _forget_refs(old_parameters), _forget_refs(new_parameters), path + "/", depth + 1)


def _after_replacements(value: Any, replaced_ids: Set[str]) -> Any:
    """``value`` with every unknown part that reads a replaced resource marked as changed (for a nested stack)."""
    if isinstance(value, Unknown) and value.refs & replaced_ids:
        return Unknown(value.text + " after replacing " + ",".join(sorted(value.refs & replaced_ids)), value.refs)
    if isinstance(value, dict):
        return {key: _after_replacements(inner, replaced_ids) for key, inner in value.items()}
    if isinstance(value, list):
        return [_after_replacements(inner, replaced_ids) for inner in value]
    return value


def _forget_refs(parameters: Mapping[str, Any]) -> Dict[str, Any]:
    """Parameters for a nested stack: the parent's logical ids mean nothing there (only the text compares)."""

    def forget(value: Any) -> Any:
        if isinstance(value, Unknown):
            return Unknown(value.text)
        if isinstance(value, dict):
            return {key: forget(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [forget(inner) for inner in value]
        return value

    return {name: forget(value) for name, value in parameters.items()}


def _removed(walk: _Walk, old: _Evaluator, logical_id: str, path: str, why: str, maybe: bool, depth: int) -> Iterator[Finding]:
    """The findings of a resource the update removes: the resource itself, or what a removed nested stack holds."""
    resource = _mapping(old.resources[logical_id])
    resource_type = str(resource.get("Type", ""))
    policy = old.resolve(resource.get("DeletionPolicy"))
    if policy in RETAIN_POLICIES:
        kept = (
            "the nested stack and every resource in it"
            if resource_type == NESTED_STACK_TYPE
            else f"the {STATEFUL_TYPES[resource_type].noun} and {STATEFUL_TYPES[resource_type].holds}"
        )
        yield Finding(path, resource_type, "", RETAINED, f"{why}; DeletionPolicy {policy} keeps {kept} in the account, outside the stack")
        return
    kind = MAY_BE_REMOVED if maybe else REMOVED
    if resource_type != NESTED_STACK_TYPE:
        spec = STATEFUL_TYPES[resource_type]
        snapshot = " (DeletionPolicy Snapshot keeps only a final snapshot)" if policy == "Snapshot" else ""
        yield Finding(path, resource_type, "", kind, f"{why}, so CloudFormation deletes the {spec.noun} with {spec.holds}{snapshot}")
        return
    properties = _mapping(old.resolve(resource.get("Properties") or {}))
    url = properties.get("TemplateURL")
    if not isinstance(url, str):
        yield Finding(
            path, resource_type, "", kind, f"{why}, so CloudFormation deletes the nested stack; its TemplateURL cannot be evaluated to list what it holds"
        )
        return
    if depth >= MAX_NESTING_DEPTH:
        raise GuardError(f"{path}: nested stacks deeper than {MAX_NESTING_DEPTH} levels (or a cycle of TemplateURLs)")
    child = _Evaluator(walk.load(url, path), _forget_refs(_mapping(properties.get("Parameters"))))
    inner_why = why if why.startswith("its nested stack ") else f"its nested stack {path} is removed ({why})"
    for inner_id in sorted(child.resources):
        inner_type = _mapping(child.resources[inner_id]).get("Type")
        present = child.present(inner_id)
        if (inner_type in STATEFUL_TYPES or inner_type == NESTED_STACK_TYPE) and present is not False:
            yield from _removed(walk, child, inner_id, f"{path}/{inner_id}", inner_why, maybe or isinstance(present, Unknown), depth + 1)


# ---------------------------------------------------------------------------------------------- allow_replacement

_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
ALLOW_FORMS = "product/LogicalId or tenant:product/LogicalId (in a nested stack: product/NestedStackLogicalId/LogicalId)"


@dataclass(frozen=True)
class AllowRule:
    """One ``allow_replacement`` item: the resource at ``path`` of ``product``, for ``tenant`` or (None) every tenant."""

    product: str
    path: str
    tenant: Optional[str] = None

    def allows(self, tenant: str, product: str, path: str) -> bool:
        return self.product == product and self.path == path and self.tenant in (None, tenant)

    def __str__(self) -> str:
        return f"{self.tenant}:{self.product}/{self.path}" if self.tenant else f"{self.product}/{self.path}"


def allow_value(product: str, path: str, tenant: Optional[str] = None) -> str:
    """The ``allow_replacement`` item that lets exactly this resource through (for one tenant, or all)."""
    return str(AllowRule(product, path, tenant))


def parse_allow_replacement(value: Any) -> List[AllowRule]:
    """``allow_replacement`` (a list, a comma-separated string, or nothing) as rules; GuardError naming a bad item."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if not isinstance(item, str):
                raise GuardError(f"allow_replacement item {_shown_item(item)} is not a string; expected {ALLOW_FORMS}")
            items.extend(item.split(","))
    else:
        raise GuardError(f"allow_replacement must be a list or a comma-separated string of {ALLOW_FORMS}, not {type(value).__name__}")
    rules: List[AllowRule] = []
    for item in (item.strip() for item in items):
        if item:
            rule = _parse_rule(item)
            if rule not in rules:
                rules.append(rule)
    return rules


def _shown_item(item: Any) -> str:
    try:
        return json.dumps(item, sort_keys=True)
    except (TypeError, ValueError):
        return repr(item)


def _parse_rule(item: str) -> AllowRule:
    def refuse(detail: str) -> GuardError:
        return GuardError(f"allow_replacement item {item!r} is not {ALLOW_FORMS}: {detail}")

    scope, colon, rest = item.partition(":")
    if not colon:
        scope, rest = "", item
    product, slash, path = rest.partition("/")
    if colon and not PROVISIONED_PRODUCT_NAME_PATTERN.match(scope):
        raise refuse(f"{scope!r} is not a tenant (provisioned product) name")
    if not slash or not path:
        raise refuse("no /LogicalId after the product")
    if not CATALOG_NAME_PATTERN.match(product):
        raise refuse(f"{product!r} is not a product name")
    for segment in path.split("/"):
        if not _LOGICAL_ID.match(segment):
            raise refuse(f"{segment!r} is not a logical id (letters and digits only)")
    return AllowRule(product, path, scope if colon else None)


# ---------------------------------------------------------------------------------------------- refusals


def refusals(tenant: str, product: str, findings: Iterable[Finding], allow_rules: Sequence[AllowRule]) -> List[str]:
    """One line per finding that refuses ``tenant`` (no rule allows it), ending with the item that would allow it."""
    return [
        f"tenant {tenant}: {product}/{finding.describe()}; to allow it: allow_replacement={allow_value(product, finding.path, tenant)}"
        for finding in findings
        if finding.refused and not any(rule.allows(tenant, product, finding.path) for rule in allow_rules)
    ]


def notices(tenant: str, product: str, findings: Iterable[Finding], allow_rules: Sequence[AllowRule]) -> List[str]:
    """One line per finding that does not refuse ``tenant``: retained resources, and the ones a rule allows."""
    lines = []
    for finding in findings:
        rule = next((rule for rule in allow_rules if rule.allows(tenant, product, finding.path)), None)
        if not finding.refused:
            lines.append(f"tenant {tenant}: {product}/{finding.describe()}")
        elif rule is not None:
            lines.append(f"tenant {tenant}: {product}/{finding.describe()}; allowed by allow_replacement={rule}")
    return lines
