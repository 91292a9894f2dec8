"""The replacement guard's pure core: the stateful table (against cfn-lint's schemas), template comparison down into
nested stacks, ``allow_replacement`` rules and the refusal lines."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.multiregion.serverless.plugins.module_utils import replacement_guard as guard
from ansible_collections.multiregion.serverless.plugins.module_utils.replacement_guard import (
    MAY_BE_REMOVED,
    MAY_BE_REPLACED,
    REMOVED,
    REPLACED,
    RETAINED,
    STATEFUL_TYPES,
    AllowRule,
    Finding,
    GuardError,
    StatefulType,
    notices,
    parse_allow_replacement,
    refusals,
    replacements,
)

TENANT, PRODUCT = "acme", "orders"
PK = [{"AttributeName": "pk", "KeyType": "HASH"}]
PK_SK = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ORDERS_URL = "https://bucket.s3.us-east-1.amazonaws.com/orders/v1.json"
ORDERS_URL_2 = "https://bucket.s3.us-east-1.amazonaws.com/orders/v2.json"


def table(key_schema: Any = None, **properties: Any) -> Dict[str, Any]:
    resource: Dict[str, Any] = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": key_schema or PK,
        },
    }
    resource["Properties"].update(properties)
    return resource


def function(handler: str = "index.handler") -> Dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {"Handler": handler, "Runtime": "python3.12", "Role": {"Fn::GetAtt": ["Role", "Arn"]}}}


def template(resources: Dict[str, Any], parameters: Optional[Dict[str, Any]] = None, conditions: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    document: Dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    if parameters:
        document["Parameters"] = parameters
    if conditions:
        document["Conditions"] = conditions
    return document


def stack(url: str, **parameters: Any) -> Dict[str, Any]:
    properties: Dict[str, Any] = {"TemplateURL": url}
    if parameters:
        properties["Parameters"] = parameters
    return {"Type": "AWS::CloudFormation::Stack", "Properties": properties}


class Fetch:
    """``fetch`` over a dict of templates, counting the calls."""

    def __init__(self, templates: Mapping[str, Dict[str, Any]]) -> None:
        self.templates = templates
        self.calls: List[str] = []

    def __call__(self, url: str) -> Dict[str, Any]:
        self.calls.append(url)
        return self.templates[url]


def kinds(findings: List[Finding]) -> List[Tuple[str, str, str]]:
    return [(finding.path, finding.property_name, finding.kind) for finding in findings]


# ---------------------------------------------------------------------------------------------- replacements


def test_a_key_schema_change_refuses_the_tenant_with_one_line_naming_everything() -> None:
    old = template({"OrdersTable": table(PK), "Handler": function()})
    new = template({"OrdersTable": table(PK_SK), "Handler": function()})

    findings = replacements(old, new)

    assert kinds(findings) == [("OrdersTable", "KeySchema", REPLACED)]
    (line,) = refusals(TENANT, PRODUCT, findings, [])
    assert line.startswith("tenant acme: orders/OrdersTable (AWS::DynamoDB::Table, KeySchema) would be replaced: KeySchema changes from ")
    assert "the old one is deleted with its items" in line and '"sk"' in line
    assert line.endswith("; to allow it: allow_replacement=acme:orders/OrdersTable")
    assert "\n" not in line


def test_a_lambda_handler_change_is_no_finding() -> None:
    old = template({"OrdersTable": table(), "Handler": function("index.handler")})
    new = template({"OrdersTable": table(), "Handler": function("app.main")})

    assert replacements(old, new) == []


def test_a_property_that_updates_in_place_is_no_finding() -> None:
    old = template({"OrdersTable": table(BillingMode="PAY_PER_REQUEST", Tags=[{"Key": "a", "Value": "1"}])})
    new = template({"OrdersTable": table(BillingMode="PROVISIONED", Tags=[{"Key": "a", "Value": "2"}], ProvisionedThroughput={"ReadCapacityUnits": 5})})

    assert replacements(old, new) == []


def test_a_removed_table_is_refused() -> None:
    old = template({"OrdersTable": table(), "Handler": function()})
    new = template({"Handler": function()})

    findings = replacements(old, new)

    assert kinds(findings) == [("OrdersTable", "", REMOVED)]
    assert findings[0].reason == "logical id OrdersTable is gone from the new template, so CloudFormation deletes the DynamoDB table with its items"
    (line,) = refusals(TENANT, PRODUCT, findings, [])
    assert line.startswith("tenant acme: orders/OrdersTable (AWS::DynamoDB::Table) would be deleted: logical id OrdersTable is gone")


def test_a_retained_table_that_is_removed_is_info_not_a_refusal() -> None:
    old = template({"OrdersTable": dict(table(), DeletionPolicy="Retain")})
    new = template({"Handler": function()})

    findings = replacements(old, new)

    assert kinds(findings) == [("OrdersTable", "", RETAINED)]
    assert not findings[0].refused
    assert refusals(TENANT, PRODUCT, findings, []) == []
    assert notices(TENANT, PRODUCT, findings, []) == [
        "tenant acme: orders/OrdersTable (AWS::DynamoDB::Table) leaves the stack but is kept: logical id OrdersTable is gone from the new template;"
        " DeletionPolicy Retain keeps the DynamoDB table and its items in the account, outside the stack"
    ]


def test_the_deployed_deletion_policy_counts_not_the_one_the_new_template_would_have() -> None:
    # Retain only in the new template says nothing: the resource is not in it. Snapshot keeps no live table.
    old = template({"OrdersTable": dict(table(), DeletionPolicy="Snapshot"), "Db": {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot"}})
    findings = replacements(old, template({"Handler": function()}))

    assert kinds(findings) == [("Db", "", REMOVED), ("OrdersTable", "", REMOVED)]
    assert findings[0].reason.endswith("(DeletionPolicy Snapshot keeps only a final snapshot)")


def test_renaming_a_logical_id_is_a_removal_and_says_so() -> None:
    old = template({"OrdersTable": table()})
    new = template({"OrdersTableV2": table()})

    (finding,) = replacements(old, new)

    assert (finding.path, finding.kind) == ("OrdersTable", REMOVED)
    assert "it adds OrdersTableV2 of the same type: renaming a logical id deletes the resource and creates another" in finding.reason


def test_a_condition_that_turns_false_removes_the_resource() -> None:
    parameters = {"WithArchive": {"Type": "String", "AllowedValues": ["yes", "no"], "Default": "yes"}}
    conditions = {"Archive": {"Fn::Equals": [{"Ref": "WithArchive"}, "yes"]}}
    both = template({"Archive": dict(table(), Condition="Archive")}, parameters, conditions)

    assert replacements(both, both, {"WithArchive": "yes"}, {"WithArchive": "yes"}) == []
    assert replacements(both, both, {"WithArchive": "no"}, {"WithArchive": "yes"}) == []  # created, not removed
    findings = replacements(both, both, {"WithArchive": "yes"}, {"WithArchive": "no"})
    assert kinds(findings) == [("Archive", "", REMOVED)]
    assert findings[0].reason.startswith("its Condition is false with the new parameters")


def test_a_condition_that_cannot_be_evaluated_may_remove() -> None:
    old = template({"Archive": table()})
    new = template({"Archive": dict(table(), Condition="East")}, conditions={"East": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}})

    assert kinds(replacements(old, new)) == [("Archive", "", MAY_BE_REMOVED)]


def test_a_table_name_driven_by_a_parameter_through_ref() -> None:
    both = template({"OrdersTable": table(TableName={"Ref": "OrdersTableName"})}, {"OrdersTableName": {"Type": "String", "Default": "orders"}})

    assert replacements(both, both, {"OrdersTableName": "acme-orders"}, {"OrdersTableName": "acme-orders"}) == []
    assert replacements(both, both, {}, {"OrdersTableName": "orders"}) == []  # the default is the value
    findings = replacements(both, both, {"OrdersTableName": "acme-orders"}, {"OrdersTableName": "acme-orders-v2"})
    assert kinds(findings) == [("OrdersTable", "TableName", REPLACED)]
    assert findings[0].reason.startswith("TableName changes from acme-orders to acme-orders-v2, which requires replacement")


def test_sub_and_join_are_evaluated_with_the_parameters() -> None:
    parameters = {"TenantId": {"Type": "String"}, "Suffix": {"Type": "String", "Default": "orders"}}
    old = template({"OrdersTable": table(TableName={"Fn::Sub": "${TenantId}-${Suffix}"})}, parameters)
    joined = template({"OrdersTable": table(TableName={"Fn::Join": ["-", [{"Ref": "TenantId"}, "orders"]]})}, parameters)
    renamed = template({"OrdersTable": table(TableName={"Fn::Sub": ["${TenantId}-${Name}", {"Name": "archive"}]})}, parameters)

    assert replacements(old, joined, {"TenantId": "acme"}, {"TenantId": "acme"}) == []
    (finding,) = replacements(old, renamed, {"TenantId": "acme"}, {"TenantId": "acme"})
    assert (finding.kind, finding.reason.split(",")[0]) == (REPLACED, "TableName changes from acme-orders to acme-archive")


def test_what_cannot_be_evaluated_counts_only_when_it_differs_textually() -> None:
    old = template({"OrdersTable": table(TableName={"Fn::Sub": "${AWS::StackName}-orders"})})
    same = copy.deepcopy(old)
    new = template({"OrdersTable": table(TableName={"Fn::Sub": "${AWS::StackName}-archive"})})

    assert replacements(old, same) == []
    (finding,) = replacements(old, new)
    assert (finding.property_name, finding.kind) == ("TableName", MAY_BE_REPLACED)
    assert "(it cannot be evaluated before the update); if it does, a new, empty DynamoDB table takes its place" in finding.reason
    assert refusals(TENANT, PRODUCT, [finding], [])[0].startswith("tenant acme: orders/OrdersTable (AWS::DynamoDB::Table, TableName) may be replaced: ")


def test_if_find_in_map_select_lists_and_no_value_are_evaluated() -> None:
    parameters = {
        "Env": {"Type": "String", "Default": "prod"},
        "Zones": {"Type": "CommaDelimitedList", "Default": "us-east-1a,us-east-1b"},
    }
    conditions = {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}, "Named": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "test"]}]}}
    both = template(
        {
            "Named": table(TableName={"Fn::If": ["Named", {"Fn::FindInMap": ["Names", {"Ref": "Env"}, "table"]}, {"Ref": "AWS::NoValue"}]}),
            "Db": {"Type": "AWS::RDS::DBCluster", "Properties": {"AvailabilityZones": [{"Fn::Select": [0, {"Ref": "Zones"}]}], "Engine": "aurora-mysql"}},
        },
        parameters,
        conditions,
    )
    both["Mappings"] = {"Names": {"prod": {"table": "orders"}, "dev": {"table": "orders"}, "stage": {"table": "orders-stage"}}}

    assert replacements(both, both, {"Env": "prod"}, {"Env": "dev"}) == []  # the same name through the map
    assert kinds(replacements(both, both, {"Env": "prod"}, {"Env": "stage"})) == [("Named", "TableName", REPLACED)]
    (finding,) = replacements(both, both, {"Env": "prod"}, {"Env": "test"})
    assert finding.reason.startswith("TableName changes from orders to (not set)")
    assert kinds(replacements(both, both, {}, {"Zones": "us-east-1c, us-east-1b"})) == [("Db", "AvailabilityZones", REPLACED)]
    assert replacements(both, both, {}, {"Zones": "us-east-1a,us-east-1c"}) == []  # only the first zone is used


def test_an_ssm_parameter_compares_by_name_its_value_is_unknown() -> None:
    both = template({"OrdersTable": table(TableName={"Ref": "Name"})}, {"Name": {"Type": "AWS::SSM::Parameter::Value<String>"}})

    assert replacements(both, both, {"Name": "/acme/table"}, {"Name": "/acme/table"}) == []
    assert kinds(replacements(both, both, {"Name": "/acme/table"}, {"Name": "/acme/table-v2"})) == [("OrdersTable", "TableName", MAY_BE_REPLACED)]


def test_scalars_compare_as_cloudformation_passes_them() -> None:
    old = template({"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "QueueName": "q.fifo"}}})
    new = template({"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": "true", "QueueName": "q.fifo"}}})

    assert replacements(old, new) == []


def test_setting_a_name_that_was_generated_replaces() -> None:
    old = template({"Bucket": {"Type": "AWS::S3::Bucket"}})
    new = template({"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "acme-data"}}})

    (finding,) = replacements(old, new)
    assert (finding.property_name, finding.kind) == ("BucketName", REPLACED)
    assert finding.reason.startswith("BucketName changes from (not set) to acme-data")


def test_a_property_reading_a_replaced_resource_may_be_replaced_too() -> None:
    key = {"Type": "AWS::KMS::Key", "Properties": {"KeySpec": "SYMMETRIC_DEFAULT"}}
    files = {"Type": "AWS::EFS::FileSystem", "Properties": {"Encrypted": True, "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}}
    old = template({"Key": key, "Files": files})
    new = template({"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeySpec": "RSA_2048"}}, "Files": files})

    findings = replacements(old, new)

    assert kinds(findings) == [("Files", "KmsKeyId", MAY_BE_REPLACED), ("Key", "KeySpec", REPLACED)]
    assert findings[0].reason.startswith("KmsKeyId may change: it refers to Key, which this update replaces; if it does, a new, empty EFS file system")
    assert findings[1].reason == (
        "KeySpec changes from SYMMETRIC_DEFAULT to RSA_2048, which requires replacement: CloudFormation fails the update rather than replace"
        " a KMS key (the resource reference), and the stack rolls back"
    )


def test_update_replace_policy_retain_does_not_let_a_replacement_through_but_is_said() -> None:
    old = template({"OrdersTable": dict(table(PK), UpdateReplacePolicy="Retain")})
    new = template({"OrdersTable": dict(table(PK_SK), UpdateReplacePolicy="Retain")})

    (finding,) = replacements(old, new)
    assert finding.kind == REPLACED
    assert finding.reason.endswith("and UpdateReplacePolicy Retain keeps the old one, with its items, outside the stack")


def test_a_conditionally_replacing_property_may_replace() -> None:
    old = template({"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "mysql", "DBInstanceClass": "db.t3.micro"}}})
    new = template({"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres", "DBInstanceClass": "db.t3.small"}}})

    (finding,) = replacements(old, new)
    assert (finding.property_name, finding.kind) == ("Engine", MAY_BE_REPLACED)
    assert "which requires replacement in some cases" in finding.reason


def test_a_type_change_under_the_same_logical_id() -> None:
    old = template({"Data": table()})
    new = template({"Data": {"Type": "AWS::S3::Bucket"}})

    assert kinds(replacements(old, new)) == [("Data", "Type", MAY_BE_REPLACED)]


def test_a_resource_in_a_nested_stack_is_found_with_its_nested_path() -> None:
    parent_old = template({"Orders": stack(ORDERS_URL), "Api": function()})
    parent_new = template({"Orders": stack(ORDERS_URL_2), "Api": function("app.main")})
    fetch = Fetch({ORDERS_URL: template({"OrdersTable": table(PK)}), ORDERS_URL_2: template({"OrdersTable": table(PK_SK)})})

    findings = replacements(parent_old, parent_new, fetch=fetch)

    assert kinds(findings) == [("Orders/OrdersTable", "KeySchema", REPLACED)]
    assert sorted(fetch.calls) == [ORDERS_URL, ORDERS_URL_2]
    assert refusals(TENANT, PRODUCT, findings, [])[0].endswith("allow_replacement=acme:orders/Orders/OrdersTable")
    assert refusals(TENANT, PRODUCT, findings, parse_allow_replacement("orders/Orders/OrdersTable")) == []
    assert len(refusals(TENANT, PRODUCT, findings, parse_allow_replacement("orders/Orders"))) == 1  # no prefix matching


def test_a_nested_stack_sees_its_parents_parameters() -> None:
    child = template({"OrdersTable": table(TableName={"Fn::Sub": "${Tenant}-orders"})}, {"Tenant": {"Type": "String"}})
    parent = template({"Orders": stack(ORDERS_URL, Tenant={"Ref": "TenantId"})}, {"TenantId": {"Type": "String"}})
    fetch = Fetch({ORDERS_URL: child})

    assert replacements(parent, parent, {"TenantId": "acme"}, {"TenantId": "acme"}, fetch) == []
    (finding,) = replacements(parent, parent, {"TenantId": "acme"}, {"TenantId": "acme2"}, fetch)
    assert (finding.path, finding.property_name, finding.kind) == ("Orders/OrdersTable", "TableName", REPLACED)
    assert fetch.calls == [ORDERS_URL, ORDERS_URL]  # once per call of replacements


def test_a_nested_stack_fed_by_a_replaced_resource_may_change() -> None:
    child = template({"Files": {"Type": "AWS::EFS::FileSystem", "Properties": {"KmsKeyId": {"Ref": "KeyArn"}}}}, {"KeyArn": {"Type": "String"}})
    old = template(
        {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyUsage": "ENCRYPT_DECRYPT"}}, "Storage": stack(ORDERS_URL, KeyArn={"Fn::GetAtt": ["Key", "Arn"]})}
    )
    new = copy.deepcopy(old)
    new["Resources"]["Key"]["Properties"]["KeyUsage"] = "SIGN_VERIFY"

    assert replacements(old, copy.deepcopy(old), fetch=Fetch({ORDERS_URL: child})) == []  # the same GetAtt: unchanged
    findings = replacements(old, new, fetch=Fetch({ORDERS_URL: child}))

    assert kinds(findings) == [("Key", "KeyUsage", REPLACED), ("Storage/Files", "KmsKeyId", MAY_BE_REPLACED)]


def test_a_removed_nested_stack_removes_what_it_holds() -> None:
    child = template({"OrdersTable": table(), "Kept": dict(table(), DeletionPolicy="Retain"), "Api": function()})
    old = template({"Orders": stack(ORDERS_URL), "Api": function()})
    new = template({"Api": function()})

    findings = replacements(old, new, fetch=Fetch({ORDERS_URL: child}))

    assert kinds(findings) == [("Orders/Kept", "", RETAINED), ("Orders/OrdersTable", "", REMOVED)]
    assert findings[1].reason.startswith("its nested stack Orders is removed (logical id Orders is gone from the new template)")
    retained = replacements(template({"Orders": dict(stack(ORDERS_URL), DeletionPolicy="Retain")}), new, fetch=Fetch({}))
    assert kinds(retained) == [("Orders", "", RETAINED)]


def test_a_nested_stack_without_fetch_is_an_error_not_a_silent_pass() -> None:
    old = template({"Orders": stack(ORDERS_URL)})
    with pytest.raises(GuardError, match="Orders is a nested stack and no fetch was given"):
        replacements(old, old)


def test_a_cycle_of_nested_templates_is_an_error() -> None:
    looping = template({"Again": stack(ORDERS_URL)})
    with pytest.raises(GuardError, match="nested stacks deeper than"):
        replacements(looping, looping, fetch=Fetch({ORDERS_URL: looping}))


def test_an_unevaluable_template_url_is_compared_textually() -> None:
    old = template({"Orders": stack({"Fn::Sub": "https://${AWS::AccountId}.s3.amazonaws.com/orders/v1.json"})})
    new = template({"Orders": stack({"Fn::Sub": "https://${AWS::AccountId}.s3.amazonaws.com/orders/v2.json"})})

    assert replacements(old, copy.deepcopy(old)) == []
    assert kinds(replacements(old, new)) == [("Orders", "TemplateURL", MAY_BE_REPLACED)]


# ---------------------------------------------------------------------------------------------- allow_replacement


def test_allow_rules_in_both_forms_from_a_list_or_a_comma_string() -> None:
    expected = [AllowRule("orders", "OrdersTable"), AllowRule("orders", "Orders/OrdersTable", "acme")]

    assert parse_allow_replacement(["orders/OrdersTable", "acme:orders/Orders/OrdersTable"]) == expected
    assert parse_allow_replacement(" orders/OrdersTable , acme:orders/Orders/OrdersTable,") == expected
    assert parse_allow_replacement(["orders/OrdersTable,acme:orders/Orders/OrdersTable", "orders/OrdersTable"]) == expected
    assert [str(rule) for rule in expected] == ["orders/OrdersTable", "acme:orders/Orders/OrdersTable"]
    assert parse_allow_replacement(None) == parse_allow_replacement("") == parse_allow_replacement([]) == []


def test_a_tenant_rule_allows_only_that_tenant_and_a_product_rule_every_tenant() -> None:
    findings = replacements(template({"OrdersTable": table(PK)}), template({"OrdersTable": table(PK_SK)}))
    tenant_rule = parse_allow_replacement("acme:orders/OrdersTable")

    assert refusals("acme", PRODUCT, findings, tenant_rule) == []
    assert len(refusals("globex", PRODUCT, findings, tenant_rule)) == 1
    assert len(refusals("acme", "billing", findings, parse_allow_replacement("orders/OrdersTable"))) == 1
    assert refusals("globex", PRODUCT, findings, parse_allow_replacement("orders/OrdersTable")) == []
    assert notices("acme", PRODUCT, findings, tenant_rule)[0].endswith("; allowed by allow_replacement=acme:orders/OrdersTable")


@pytest.mark.parametrize(
    "value, detail",
    [
        ("orders", "no /LogicalId after the product"),
        ("orders/", "no /LogicalId after the product"),
        ("/OrdersTable", "'' is not a product name"),
        ("acme:orders", "no /LogicalId after the product"),
        ("orders/Orders-Table", "'Orders-Table' is not a logical id (letters and digits only)"),
        ("orders/Orders//OrdersTable", "'' is not a logical id"),
        ("acme:eu:orders/OrdersTable", "'eu:orders' is not a product name"),
        (":orders/OrdersTable", "'' is not a tenant (provisioned product) name"),
        ("orders/OrdersTable, orders OrdersTable", "no /LogicalId after the product"),
    ],
)
def test_a_malformed_allow_item_is_refused_in_one_line_naming_it_and_the_forms(value: str, detail: str) -> None:
    with pytest.raises(GuardError) as raised:
        parse_allow_replacement(value)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert message.startswith("allow_replacement item '")
    assert "is not product/LogicalId or tenant:product/LogicalId (in a nested stack: product/NestedStackLogicalId/LogicalId): " + detail in message
    assert "\n" not in message


def test_allow_replacement_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(GuardError, match=r"^allow_replacement item 5 is not a string; expected product/LogicalId"):
        parse_allow_replacement(["orders/OrdersTable", 5])
    with pytest.raises(GuardError, match=r"^allow_replacement must be a list or a comma-separated string of .*, not dict$"):
        parse_allow_replacement({"orders": "OrdersTable"})


# ---------------------------------------------------------------------------------------------- properties

LOGICAL_IDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
SCALARS = st.one_of(st.text(max_size=12), st.integers(-5, 5), st.booleans())
# Literal values only: a key "Ref" would make an intrinsic function (compared as an expression).
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(LOGICAL_IDS.filter(lambda key: key != "Ref"), inner, max_size=3), max_leaves=6
)


@st.composite
def stateful_resources(draw: Any) -> Tuple[str, str, Dict[str, Any]]:
    resource_type = draw(st.sampled_from(sorted(STATEFUL_TYPES)))
    spec = STATEFUL_TYPES[resource_type]
    names = spec.replaces + spec.may_replace + ("Tags", "Description")
    properties = draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=4))
    return draw(LOGICAL_IDS), resource_type, properties


@settings(max_examples=50, deadline=None)
@given(st.lists(stateful_resources(), min_size=1, max_size=4, unique_by=lambda r: r[0]), st.data())
def test_property_an_unchanged_template_has_no_finding_and_a_changed_replacing_literal_exactly_one(resources_drawn: Any, data: Any) -> None:
    old = template({logical_id: {"Type": resource_type, "Properties": properties} for logical_id, resource_type, properties in resources_drawn})
    assert replacements(old, copy.deepcopy(old)) == []

    logical_id, resource_type, properties = data.draw(st.sampled_from(resources_drawn))
    spec = STATEFUL_TYPES[resource_type]
    if not spec.replaces:
        return
    name = data.draw(st.sampled_from(spec.replaces))
    new = copy.deepcopy(old)
    new["Resources"][logical_id]["Properties"][name] = ["a value no draw makes", properties.get(name)]
    new["Resources"][logical_id]["Properties"]["Tags"] = [{"Key": "changed", "Value": "in place"}]

    assert kinds(replacements(old, new)) == [(logical_id, name, REPLACED)]


EXPRESSIONS = st.recursive(
    SCALARS | st.sampled_from([{"Ref": "Tenant"}, {"Ref": "AWS::Region"}, {"Ref": "Other"}, {"Ref": "AWS::NoValue"}, {"Fn::GetAtt": ["Other", "Arn"]}]),
    lambda inner: st.lists(inner, max_size=3)
    | st.builds(lambda a, b: {"Fn::If": ["IsProd", a, b]}, inner, inner)
    | st.builds(lambda a: {"Fn::Sub": ["${Tenant}-${AWS::StackName}-${X}", {"X": a}]}, inner)
    | st.builds(lambda a: {"Fn::Join": ["-", [a, {"Ref": "Tenant"}]]}, inner)
    | st.builds(lambda a: {"Fn::ImportValue": a}, inner),
    max_leaves=6,
)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(LOGICAL_IDS.filter(lambda key: key != "Other"), st.sampled_from(sorted(STATEFUL_TYPES)), min_size=1, max_size=3), st.data())
def test_property_the_same_template_and_parameters_never_find_anything(types: Dict[str, str], data: Any) -> None:
    parameters = {"Tenant": {"Type": "String"}, "Env": {"Type": "String", "Default": "prod"}}
    resources: Dict[str, Any] = {"Other": {"Type": "AWS::SNS::Topic"}}
    for logical_id, resource_type in types.items():
        spec = STATEFUL_TYPES[resource_type]
        names = spec.replaces + spec.may_replace or ("Tags",)
        resources[logical_id] = {"Type": resource_type, "Properties": data.draw(st.dictionaries(st.sampled_from(names), EXPRESSIONS, max_size=3))}
    document = template(resources, parameters, {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}})
    values = data.draw(st.fixed_dictionaries({}, optional={"Tenant": NAMES, "Env": st.sampled_from(["prod", "dev"])}))

    assert replacements(document, copy.deepcopy(document), values, dict(values)) == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), NAMES), NAMES, st.lists(LOGICAL_IDS, min_size=1, max_size=3)), max_size=5))
def test_property_allow_rules_read_back_from_their_own_text_in_either_form(drawn: List[Tuple[Optional[str], str, List[str]]]) -> None:
    rules = [AllowRule(product, "/".join(path), tenant) for tenant, product, path in drawn]
    unique = list(dict.fromkeys(rules))

    assert parse_allow_replacement([str(rule) for rule in rules]) == unique
    assert parse_allow_replacement(", ".join(str(rule) for rule in rules)) == unique


# ---------------------------------------------------------------------------------------------- the table against cfn-lint

# In the table although cfn-lint's schema does not list them in createOnlyProperties: (type, property) -> why.
NOT_CREATE_ONLY_IN_SCHEMA: Dict[Tuple[str, str], str] = {
    ("AWS::DynamoDB::Table", "KeySchema"): "reference: Update requires: Replacement; schema: conditionalCreateOnlyProperties",
    ("AWS::DynamoDB::Table", "LocalSecondaryIndexes"): "LSIs exist only from creation (reference: 'Updates are not supported' on each field); may_replace",
    ("AWS::DynamoDB::GlobalTable", "KeySchema"): "reference: Replacement; schema: conditionalCreateOnlyProperties",
    ("AWS::DynamoDB::GlobalTable", "LocalSecondaryIndexes"): "reference: Replacement; schema: conditionalCreateOnlyProperties",
    ("AWS::DynamoDB::GlobalTable", "GlobalTableSourceArn"): "schema: conditionalCreateOnlyProperties; may_replace",
    ("AWS::RDS::DBInstance", "PerformanceInsightsKMSKeyId"): "reference: Replacement; schema: conditionalCreateOnlyProperties",
    ("AWS::RDS::DBCluster", "AvailabilityZones"): "reference: Replacement; schema: conditionalCreateOnlyProperties",
    ("AWS::RDS::DBCluster", "Engine"): "another engine is another database; schema: conditionalCreateOnlyProperties; may_replace",
    ("AWS::RDS::DBCluster", "MasterUsername"): "schema: conditionalCreateOnlyProperties; may_replace",
    ("AWS::KMS::Key", "KeySpec"): "reference: Replacement, and the update fails to protect the key; the schema lists none",
    ("AWS::KMS::Key", "KeyUsage"): "reference: Replacement, and the update fails to protect the key; the schema lists none",
    ("AWS::KMS::Key", "MultiRegion"): "reference: Replacement, and the update fails to protect the key; the schema lists none",
    **{
        ("AWS::RDS::DBInstance", name): "what the instance is created or restored from; schema: conditionalCreateOnlyProperties; may_replace"
        for name in (
            "DBClusterSnapshotIdentifier",
            "DBSnapshotIdentifier",
            "Engine",
            "RestoreTime",
            "SourceDBClusterIdentifier",
            "SourceDBInstanceAutomatedBackupsArn",
            "SourceDBInstanceIdentifier",
            "SourceDbiResourceId",
            "UseLatestRestorableTime",
        )
    },
}
# In the schema's conditionalCreateOnlyProperties of a stateful type and not in the table: (type, property) -> why.
CONDITIONAL_NOT_IN_TABLE: Dict[Tuple[str, str], str] = {
    **{
        ("AWS::RDS::DBInstance", name): "an operational setting the reference updates in place (Some interruptions); refusing it would be noise"
        for name in ("AutoMinorVersionUpgrade", "AvailabilityZone", "BackupRetentionPeriod", "DBParameterGroupName", "MultiAZ", "PreferredMaintenanceWindow")
    },
    ("AWS::RDS::DBCluster", "GlobalClusterIdentifier"): "reference: Some interruptions (joining or leaving a global cluster keeps the data)",
    ("AWS::ElastiCache::CacheCluster", "IpDiscovery"): "reference: No interruption",
    ("AWS::ElastiCache::CacheCluster", "PreferredAvailabilityZones"): "reference: Some interruptions",
    ("AWS::ElastiCache::ReplicationGroup", "AuthToken"): "reference: Some interruptions",
    ("AWS::ElastiCache::ReplicationGroup", "NodeGroupConfiguration"): "reference: Some interruptions (resharding keeps the data)",
    ("AWS::OpenSearchService::Domain", "AdvancedSecurityOptions"): "reference: No interruption",
    ("AWS::OpenSearchService::Domain", "EncryptionAtRestOptions"): "reference: No interruption",
}
# Marked "Replacement" by the 2023 reference, updated in place by the newer schema: deliberately not in the table.
REFERENCE_2023_ONLY: Dict[Tuple[str, str], str] = {
    ("AWS::S3::Bucket", "ObjectLockEnabled"): "Object Lock can be enabled on an existing bucket since November 2023",
    ("AWS::RDS::DBInstance", "Port"): "RDS changes an instance's port in place (ModifyDBInstance DBPortNumber)",
    ("AWS::ElastiCache::ReplicationGroup", "Engine"): "redis -> valkey is an in-place engine upgrade",
    ("AWS::ElastiCache::ReplicationGroup", "ReplicasPerNodeGroup"): "replicas are added and removed in place",
    ("AWS::DocDB::DBCluster", "EngineVersion"): "DocumentDB upgrades major versions in place",
}


@functools.lru_cache(maxsize=None)
def schema_index() -> Dict[str, str]:
    return json.loads(resources.files("cfnlint.data.schemas.providers").joinpath("us-east-1.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def schema(resource_type: str) -> Dict[str, Any]:
    index = schema_index()
    assert resource_type in index, f"{resource_type} is not a resource type cfn-lint knows (a typo in STATEFUL_TYPES?)"
    return json.loads(resources.files("cfnlint.data.schemas.resources").joinpath(f"{index[resource_type]}.json").read_text(encoding="utf-8"))


def top_level(pointers: Optional[List[str]]) -> Set[str]:
    """``/properties/A/B`` -> ``A``: the table lists top-level properties, a change anywhere inside counts."""
    return {pointer.split("/")[2] for pointer in pointers or []}


def differences(table_: Mapping[str, StatefulType]) -> List[str]:
    """Every undocumented difference between ``table_`` and cfn-lint's schemas, one line each."""
    found = []
    for resource_type, spec in sorted(table_.items()):
        document = schema(resource_type)
        listed = set(spec.replaces) | set(spec.may_replace)
        create_only, conditional = top_level(document.get("createOnlyProperties")), top_level(document.get("conditionalCreateOnlyProperties"))
        found += [f"{resource_type}: {name} is not a property of the type" for name in sorted(listed - set(document["properties"]))]
        found += [f"{resource_type}: the schema's create-only {name} is not in the table" for name in sorted(create_only - listed)]
        extra = {name for (kind, name) in NOT_CREATE_ONLY_IN_SCHEMA if kind == resource_type}
        found += [
            f"{resource_type}: {name} is in the table, not create-only in the schema, and not documented" for name in sorted(listed - create_only - extra)
        ]
        found += [f"{resource_type}: documented {name} is create-only in the schema now or not in the table" for name in sorted(extra - (listed - create_only))]
        left_out = {name for (kind, name) in CONDITIONAL_NOT_IN_TABLE if kind == resource_type}
        found += [
            f"{resource_type}: the schema's conditionally create-only {name} is neither in the table nor documented"
            for name in sorted(conditional - listed - left_out)
        ]
        found += [
            f"{resource_type}: documented {name} is no longer conditional in the schema, or in the table" for name in sorted(left_out - (conditional - listed))
        ]
    for (resource_type, name), _why in sorted(REFERENCE_2023_ONLY.items()):
        document = schema(resource_type)
        if (
            name in top_level(document.get("createOnlyProperties")) | top_level(document.get("conditionalCreateOnlyProperties"))
            or name in table_.get(resource_type, StatefulType("", "")).replaces
        ):
            found.append(f"{resource_type}: {name}, left out as updated in place, is create-only in the schema or in the table")
    return found


def test_the_table_agrees_with_cfn_lints_schemas_but_for_the_documented_differences() -> None:
    assert differences(STATEFUL_TYPES) == []


def test_the_cross_check_catches_a_missing_or_an_undocumented_property() -> None:
    without_table_name = dict(STATEFUL_TYPES)
    spec = STATEFUL_TYPES["AWS::DynamoDB::Table"]
    without_table_name["AWS::DynamoDB::Table"] = StatefulType(
        spec.noun, spec.holds, tuple(name for name in spec.replaces if name != "TableName"), spec.may_replace
    )
    with_port = dict(STATEFUL_TYPES)
    spec = STATEFUL_TYPES["AWS::RDS::DBInstance"]
    with_port["AWS::RDS::DBInstance"] = StatefulType(spec.noun, spec.holds, spec.replaces + ("Port",), spec.may_replace)

    assert differences(without_table_name) == ["AWS::DynamoDB::Table: the schema's create-only TableName is not in the table"]
    assert differences(with_port) == [
        "AWS::RDS::DBInstance: Port is in the table, not create-only in the schema, and not documented",
        "AWS::RDS::DBInstance: Port, left out as updated in place, is create-only in the schema or in the table",
    ]
    with pytest.raises(AssertionError, match="AWS::DynamoDB::Tabel is not a resource type cfn-lint knows"):
        differences({"AWS::DynamoDB::Tabel": spec})


def test_key_schema_is_not_create_only_in_cfn_lints_schema_only_conditional() -> None:
    # Why the DynamoDB entries are documented differences: the reference says Replacement, the schema says "conditional".
    document = schema("AWS::DynamoDB::Table")
    assert "KeySchema" not in top_level(document["createOnlyProperties"])
    assert top_level(document["conditionalCreateOnlyProperties"]) == {"KeySchema"}


def test_every_type_in_the_table_is_described() -> None:
    for resource_type, spec in STATEFUL_TYPES.items():
        assert resource_type.startswith("AWS::") and spec.noun and spec.holds.startswith(("its ", "the ")), resource_type
        assert len(set(spec.replaces + spec.may_replace)) == len(spec.replaces + spec.may_replace), resource_type
    assert "AWS::SNS::Topic" not in STATEFUL_TYPES and "AWS::SSM::Parameter" not in STATEFUL_TYPES
    assert guard.REFUSED_KINDS == {REPLACED, MAY_BE_REPLACED, REMOVED, MAY_BE_REMOVED}


def test_plan_findings_read_a_service_catalog_plans_resource_changes():
    from ansible_collections.multiregion.serverless.plugins.module_utils.replacement_guard import plan_findings

    def detail(name, recreation):
        return {"Target": {"Attribute": "PROPERTIES", "Name": name, "RequiresRecreation": recreation}, "Evaluation": "STATIC"}

    # Service Catalog's ResourceChange shape (upper-case enums, unlike CloudFormation's DescribeChangeSet).
    changes = [
        {"Action": "MODIFY", "LogicalResourceId": "OrdersTable", "ResourceType": "AWS::DynamoDB::Table", "Replacement": "CONDITIONAL",
         "Details": [detail("KeySchema", "CONDITIONALLY"), detail("BillingMode", "NEVER")]},
        {"Action": "MODIFY", "LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue", "Replacement": "TRUE",
         "Details": [detail("QueueName", "ALWAYS")]},
        {"Action": "REMOVE", "LogicalResourceId": "Logs", "ResourceType": "AWS::Logs::LogGroup"},
        {"Action": "MODIFY", "LogicalResourceId": "Bucket", "ResourceType": "AWS::S3::Bucket", "Replacement": "FALSE",
         "Details": [detail("Tags", "NEVER")]},
        {"Action": "ADD", "LogicalResourceId": "NewTable", "ResourceType": "AWS::DynamoDB::Table"},
        {"Action": "MODIFY", "LogicalResourceId": "Fn", "ResourceType": "AWS::Lambda::Function", "Replacement": "TRUE"},
        {"Action": "MODIFY", "LogicalResourceId": "OrdersStack", "ResourceType": "AWS::CloudFormation::Stack", "Replacement": "CONDITIONAL"},
    ]
    assert [(f.path, f.property_name, f.kind) for f in plan_findings(changes)] == [
        ("Logs", "", "removed"), ("OrdersTable", "KeySchema", "may_be_replaced"), ("Queue", "QueueName", "replaced")]
