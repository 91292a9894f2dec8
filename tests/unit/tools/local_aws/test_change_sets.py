"""The pure change-set diff behind Service Catalog plans (tools/local_aws/change_sets.py): references, conditions,
RequiresRecreation from the registry schemas cfn-lint ships, Replacement, dynamic propagation, nested stacks."""
from __future__ import annotations

import copy
from typing import Any, Dict, List

import pytest

from local_aws.change_sets import (NO_CHANGES, ChangeSetFailed, Reference, StackState, change_set, condition_holds, present_resources,
                                   references, replacement, resource_changes)
from local_aws.stack_updates import conditional_create_only_properties, create_only_properties, value_at

TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {
    "TableName": {"Fn::Sub": "orders-${TenantId}"}, "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}
FUNCTION = {"Type": "AWS::Lambda::Function", "Properties": {
    "Handler": "app.handler", "Runtime": "python3.12", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
    "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}}}}
ROLE = {"Type": "AWS::IAM::Role", "Properties": {"Path": "/"}}
TEMPLATE: Dict[str, Any] = {"Parameters": {"TenantId": {"Type": "String"}}, "Resources": {"Table": TABLE, "Function": FUNCTION, "Role": ROLE}}
PHYSICAL = {"Table": "orders-a", "Function": "orders-fn-a", "Role": "role-a"}


def edited(change) -> Dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    change(template["Resources"])
    return template


def diff(new_template: Dict[str, Any], new_parameters=None, old_template=None, old_parameters=None) -> Dict[str, Dict[str, Any]]:
    old = StackState(old_template or TEMPLATE, old_parameters or {"TenantId": "a"}, PHYSICAL)
    changes = resource_changes(old, StackState(new_template, new_parameters or {"TenantId": "a"}))
    return {change["LogicalResourceId"]: change for change in changes}


def targets(change: Dict[str, Any]) -> List[tuple]:
    return [(d["Target"]["Attribute"], d["Target"].get("Name"), d["Target"]["RequiresRecreation"], d["Evaluation"], d.get("CausingEntity"))
            for d in change["Details"]]


def test_the_schemas_cfn_lint_ships_answer_what_replaces():
    assert ("TableName",) in create_only_properties("AWS::DynamoDB::Table")
    assert ("KeySchema",) in conditional_create_only_properties("AWS::DynamoDB::Table")
    assert ("FunctionName",) in create_only_properties("AWS::Lambda::Function")
    assert create_only_properties("Custom::Unknown") == () == conditional_create_only_properties("Custom::Unknown")


def test_value_at_walks_dicts_and_lists():
    properties = {"A": {"B": 1}, "L": [{"X": 1}, {"X": 2}], "S": "text"}
    assert value_at(properties, ("A", "B")) == 1 and value_at(properties, ("L", "X")) == [1, 2]
    assert value_at(properties, ("S", "B")) is None and value_at(properties, ("Missing", "B")) is None


def test_references_find_ref_getatt_sub_and_conditions():
    conditions = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}, "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "Tier"}, "x"]}]}}
    value = {
        "A": {"Ref": "Param"}, "B": {"Fn::GetAtt": ["Res", "Arn"]}, "C": {"Fn::GetAtt": "Other.Name"},
        "D": {"Fn::Sub": "x-${Tenant}-${Res2.Arn}-${!Literal}-${AWS::Region}"},
        "E": {"Fn::Sub": ["${Local}-${Outer}", {"Local": {"Ref": "Mapped"}}]},
        "F": {"Fn::If": ["Both", {"Ref": "Yes"}, "no"]},
        "G": {"Statement": [{"Condition": {"StringEquals": {"k": {"Ref": "InPolicy"}}}}]},  # an IAM Condition, not a template condition
    }
    assert references(value, conditions) == {
        Reference("Ref", "Param"), Reference("GetAtt", "Res", "Arn"), Reference("GetAtt", "Other", "Name"), Reference("Ref", "Tenant"),
        Reference("GetAtt", "Res2", "Arn"), Reference("Ref", "AWS::Region"), Reference("Ref", "Mapped"), Reference("Ref", "Outer"),
        Reference("Ref", "Stage"), Reference("Ref", "Tier"), Reference("Ref", "Yes"), Reference("Ref", "InPolicy"),
    }
    assert Reference("GetAtt", "Res", "Arn").entity == "Res.Arn" and Reference("Ref", "Param").entity == "Param"


def test_conditions_are_evaluated_from_parameters():
    template = {"Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}, "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]}, "Mapped": {"Fn::Equals": [{"Fn::FindInMap": ["M", "k", "v"]}, "x"]},
        "Loop": {"Condition": "Loop"}}}
    assert condition_holds(template, "IsProd", {"Stage": "prod"}) and not condition_holds(template, "IsProd", {"Stage": "dev"})
    assert condition_holds(template, "NotProd", {"Stage": "dev"}) and condition_holds(template, "Either", {"Stage": "prod"})
    # What needs more than parameter values counts as true (the resource is assumed to exist).
    assert condition_holds(template, "Mapped", {}) and condition_holds(template, "Loop", {}) and condition_holds(template, "IsProd", {})
    resources = {"Always": ROLE, "OnlyProd": dict(ROLE, Condition="IsProd")}
    assert list(present_resources(StackState({**template, "Resources": resources}, {"Stage": "dev"}))) == ["Always"]


def test_a_create_only_change_is_true_a_conditional_one_conditional_another_false():
    renamed = diff(edited(lambda r: r["Table"]["Properties"].update(TableName="fixed-name")))
    assert (renamed["Table"]["Replacement"], targets(renamed["Table"])) == ("TRUE", [("PROPERTIES", "TableName", "ALWAYS", "STATIC", None)])
    assert renamed["Table"]["PhysicalResourceId"] == "orders-a" and renamed["Table"]["Scope"] == ["PROPERTIES"]
    rekeyed = diff(edited(lambda r: r["Table"]["Properties"].update(KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])))
    assert (rekeyed["Table"]["Replacement"], targets(rekeyed["Table"])) == ("CONDITIONAL", [("PROPERTIES", "KeySchema", "CONDITIONALLY", "STATIC", None)])
    handler = diff(edited(lambda r: r["Function"]["Properties"].update(Handler="app.other")))
    assert list(handler) == ["Function"]
    assert (handler["Function"]["Action"], handler["Function"]["Replacement"]) == ("MODIFY", "FALSE")
    assert targets(handler["Function"]) == [("PROPERTIES", "Handler", "NEVER", "STATIC", None)]


def test_only_a_change_under_a_create_only_path_recreates():
    old = {"Resources": {"C": {"Type": "AWS::Glue::Connection", "Properties": {"CatalogId": "1", "ConnectionInput": {"Name": "a", "Description": "x"}}}}}
    assert ("ConnectionInput", "Name") in create_only_properties("AWS::Glue::Connection")
    described = copy.deepcopy(old)
    described["Resources"]["C"]["Properties"]["ConnectionInput"]["Description"] = "y"
    assert targets(diff(described, old_template=old)["C"]) == [("PROPERTIES", "ConnectionInput", "NEVER", "STATIC", None)]
    named = copy.deepcopy(old)
    named["Resources"]["C"]["Properties"]["ConnectionInput"]["Name"] = "b"
    assert diff(named, old_template=old)["C"]["Replacement"] == "TRUE"
    # A create-only path through a list (ReplicationInfoList/*/SourceKafkaClusterArn): a change inside one item.
    replicator = {"Resources": {"R": {"Type": "AWS::MSK::Replicator", "Properties": {"ReplicationInfoList": [{"SourceKafkaClusterArn": "a", "X": 1}]}}}}
    moved = copy.deepcopy(replicator)
    moved["Resources"]["R"]["Properties"]["ReplicationInfoList"][0]["SourceKafkaClusterArn"] = "b"
    assert diff(moved, old_template=replicator)["R"]["Replacement"] == "TRUE"
    tweaked = copy.deepcopy(replicator)
    tweaked["Resources"]["R"]["Properties"]["ReplicationInfoList"][0]["X"] = 2
    assert diff(tweaked, old_template=replicator)["R"]["Replacement"] == "FALSE"


def test_a_changed_parameter_is_the_causing_entity_and_replacements_propagate():
    changes = diff(TEMPLATE, {"TenantId": "b"})
    assert targets(changes["Table"]) == [("PROPERTIES", "TableName", "ALWAYS", "STATIC", "TenantId")]
    # The function refers to the table being replaced: a dynamic change, not a replacement of the function.
    assert (changes["Function"]["Replacement"], targets(changes["Function"])) == ("FALSE", [("PROPERTIES", "Environment", "NEVER", "DYNAMIC", "Table")])
    assert "Role" not in changes


def test_a_dynamic_change_to_a_create_only_property_is_conditional_and_chains():
    def rename_role(resources: Dict[str, Any]) -> None:
        resources["Role"]["Properties"]["RoleName"] = "new-name"  # create-only: the role is replaced
        resources["Named"] = {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": {"Fn::GetAtt": ["Role", "RoleId"]}}}
        resources["Reader"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Named"}}}

    old = edited(lambda r: r.update(Named={"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": {"Fn::GetAtt": ["Role", "RoleId"]}}},
                                    Reader={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Named"}}}))
    changes = diff(edited(rename_role), old_template=old)
    assert changes["Role"]["Replacement"] == "TRUE"
    assert (changes["Named"]["Replacement"], targets(changes["Named"])) == ("CONDITIONAL", [("PROPERTIES", "FunctionName", "ALWAYS", "DYNAMIC", "Role.RoleId")])
    # Named may be replaced, so the queue named after it may be too.
    assert (changes["Reader"]["Replacement"], targets(changes["Reader"])) == ("CONDITIONAL", [("PROPERTIES", "QueueName", "ALWAYS", "DYNAMIC", "Named")])
    assert targets(changes["Function"]) == [("PROPERTIES", "Role", "NEVER", "DYNAMIC", "Role.Arn")]


def test_added_removed_policies_and_retyped_resources():
    def reshape(resources: Dict[str, Any]) -> None:
        del resources["Role"]
        resources["Function"]["Properties"]["Role"] = "arn:aws:iam::123456789012:role/fixed"
        resources["Topic"] = {"Type": "AWS::SNS::Topic"}
        resources["Table"]["DeletionPolicy"] = "Retain"
        resources["Table"]["Metadata"] = {"note": "x"}

    changes = diff(edited(reshape))
    assert changes["Topic"] == {"Action": "ADD", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic", "Scope": [], "Details": []}
    assert changes["Role"] == {"Action": "REMOVE", "LogicalResourceId": "Role", "PhysicalResourceId": "role-a", "ResourceType": "AWS::IAM::Role",
                               "Scope": [], "Details": []}
    assert (changes["Table"]["Scope"], changes["Table"]["Replacement"]) == (["METADATA", "DELETIONPOLICY"], "FALSE")
    assert [change["Action"] for change in changes.values()] == ["MODIFY", "MODIFY", "ADD", "REMOVE"]
    with pytest.raises(ChangeSetFailed, match=r"^Update of resource type is not permitted\. .*following resources: \[Role\]$"):
        diff(edited(lambda r: r["Role"].update(Type="AWS::IAM::User")))


def test_a_condition_flip_adds_or_removes():
    conditional = edited(lambda r: r["Role"].update(Condition="IsProd"))
    conditional["Conditions"] = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}
    dev, prod = {"TenantId": "a", "Stage": "dev"}, {"TenantId": "a", "Stage": "prod"}
    assert diff(conditional, dev, old_template=conditional, old_parameters=prod)["Role"]["Action"] == "REMOVE"
    assert diff(conditional, prod, old_template=conditional, old_parameters=dev)["Role"]["Action"] == "ADD"


def test_nested_stacks_are_root_resources_always_modified():
    stack = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://b.s3.amazonaws.com/v1.json"}}
    user = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::GetAtt": ["Nested", "Outputs.Name"]}}}
    template = {"Resources": {"Nested": stack, "User": user}}
    same = {change["LogicalResourceId"]: change for change in change_set(StackState(template, {}), StackState(template, {}))}
    assert targets(same["Nested"]) == [("PROPERTIES", None, "NEVER", "DYNAMIC", None)] and same["Nested"]["Replacement"] == "FALSE"
    # Its outputs may change, so what reads them may be replaced.
    assert (same["User"]["Replacement"], targets(same["User"])) == ("CONDITIONAL", [("PROPERTIES", "QueueName", "ALWAYS", "DYNAMIC", "Nested.Outputs.Name")])
    moved = copy.deepcopy(template)
    moved["Resources"]["Nested"]["Properties"]["TemplateURL"] = "https://b.s3.amazonaws.com/v2.json"
    nested = {change["LogicalResourceId"]: change for change in change_set(StackState(template, {}), StackState(moved, {}))}["Nested"]
    assert targets(nested) == [("PROPERTIES", "TemplateURL", "NEVER", "STATIC", None)]


def test_no_changes_fail_the_change_set_and_a_new_stack_adds_everything():
    with pytest.raises(ChangeSetFailed) as nothing:
        change_set(StackState(TEMPLATE, {"TenantId": "a"}), StackState(copy.deepcopy(TEMPLATE), {"TenantId": "a"}))
    assert str(nothing.value) == NO_CHANGES
    # An output or an unused parameter changes no resource: an empty change set, not a failed one.
    with_output = dict(TEMPLATE, Outputs={"Name": {"Value": {"Ref": "Table"}}})
    assert change_set(StackState(TEMPLATE, {"TenantId": "a"}), StackState(with_output, {"TenantId": "a"})) == []
    assert change_set(StackState(TEMPLATE, {"TenantId": "a"}), StackState(TEMPLATE, {"TenantId": "a", "Unused": "x"})) == []
    fresh = change_set(StackState({"Resources": {}}, {}), StackState(TEMPLATE, {"TenantId": "a"}))
    assert [(c["Action"], c["LogicalResourceId"]) for c in fresh] == [("ADD", "Table"), ("ADD", "Function"), ("ADD", "Role")]


def test_replacement_takes_the_detail_with_the_most_impact():
    def detail(recreates: str, evaluation: str) -> Dict[str, Any]:
        return {"Target": {"Attribute": "PROPERTIES", "Name": "P", "RequiresRecreation": recreates}, "Evaluation": evaluation}

    assert replacement([detail("NEVER", "STATIC"), detail("ALWAYS", "STATIC")]) == "TRUE"
    assert replacement([detail("NEVER", "STATIC"), detail("ALWAYS", "DYNAMIC")]) == "CONDITIONAL"
    assert replacement([detail("CONDITIONALLY", "STATIC")]) == "CONDITIONAL"
    assert replacement([detail("NEVER", "DYNAMIC")]) == "FALSE"
