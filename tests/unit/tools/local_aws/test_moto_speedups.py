"""The local AWS's speed-ups of moto (JSON-first template parsing, name indexes) answer what moto answers."""
from __future__ import annotations

import json
from collections import OrderedDict

import pytest

from local_aws.moto_indexes import MOTO_SOURCES, IndexedDict, indexed, replaceable, source_digest


class Thing:
    def __init__(self, name: str) -> None:
        self.name = name


def test_indexed_dict_follows_every_write():
    things = indexed({"1": Thing("a")}, ("name",))
    things["2"] = Thing("b")
    things["3"] = Thing("a")
    assert [t is things[k] for k, t in zip(("1", "3"), things.lookup("name", "a"))] == [True, True]
    things["1"] = Thing("c")  # replaced in place: leaves "a", keeps its position
    assert [t.name for t in things.lookup("name", "a")] == ["a"] and things.lookup("name", "c") == [things["1"]]
    del things["2"]
    assert things.lookup("name", "b") == []
    assert things.pop("3").name == "a" and things.lookup("name", "a") == []
    assert things.pop("missing", None) is None
    things.update({"4": Thing("d")}, **{"5": Thing("e")})
    things.setdefault("6", Thing("f"))
    things |= {"7": Thing("g")}
    assert [things.lookup("name", n)[0].name for n in "defg"] == list("defg")
    key, value = things.popitem()
    assert things.lookup("name", value.name) == []
    things.clear()
    assert things.lookup("name", "d") == [] and dict(things) == {}
    assert things.copy().__class__ is dict  # a plain dict, without the index


def test_indexed_ordered_dict_keeps_its_type_and_order():
    stacks = indexed(OrderedDict([("s1", Thing("x")), ("s2", Thing("y"))]), ("name",))
    assert isinstance(stacks, OrderedDict) and list(stacks) == ["s1", "s2"]
    stacks["s3"] = Thing("x")
    stacks.move_to_end("s1")  # s2, s3, s1: the lookup follows the dict's order
    assert [t is stacks[k] for k, t in zip(("s3", "s1"), stacks.lookup("name", "x"))] == [True, True]
    assert not isinstance(IndexedDict({}, ("name",)), OrderedDict)


def test_copies_of_moto_methods_match_the_installed_moto():
    """A moto upgrade that changes one of these methods switches our copy off; review and re-copy it."""
    from moto.cloudformation import parsing
    import moto.iam.models as iam_models
    from moto.cloudformation.models import CloudFormationBackend

    originals = {
        "IAMBackend.create_role": iam_models.IAMBackend.create_role,
        "Role.delete_from_cloudformation_json": iam_models.Role.delete_from_cloudformation_json,
        "CloudFormationBackend.create_stack": CloudFormationBackend.create_stack,
        "ResourceMap.__get_resources_in_dependency_order": parsing.ResourceMap._ResourceMap__get_resources_in_dependency_order,
        "resource_name_property_from_type": parsing.resource_name_property_from_type,
    }
    assert set(originals) == set(MOTO_SOURCES)
    for name, function in originals.items():
        assert replaceable(name, getattr(function, "__wrapped__", function)), name


def test_json_first_template_parsing_matches_moto_and_keeps_yaml():
    from local_aws import install

    install()
    from moto.cloudformation.models import Stack

    template = {"Parameters": {"T": {"Type": "String", "Default": "x"}},
                "Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/", "N": 3, "L": [True, None, 1.5]}}}}
    body = json.dumps(template, indent=2)
    assert Stack.parse_template(body) == template
    assert getattr(Stack.parse_template, "local_aws_json_first", False)
    yaml_body = "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Ref T\n"
    assert Stack.parse_template(yaml_body) == {"Resources": {"R": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "T"}}}}}


ROLE_TEMPLATE = {
    "Parameters": {"TenantId": {"Type": "String"}},
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
        "Log": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Join": ["-", ["/marker", {"Ref": "TenantId"}]]}}},
    },
    "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}},
}


def test_nested_stacks_build_update_and_delete_through_the_indexes(aws_mock):
    """Nested templates come from S3 at each build (a changed object at the same key is not served stale),
    roles and stacks are found by name after updates, and duplicates are still refused."""
    region = "us-east-1"
    s3, cfn, iam = aws_mock.client("s3", region), aws_mock.client("cloudformation", region), aws_mock.client("iam", region)
    s3.create_bucket(Bucket="tpl")
    s3.put_object(Bucket="tpl", Key="svc.json", Body=json.dumps(ROLE_TEMPLATE).encode())
    parent = {
        "Parameters": {"TenantId": {"Type": "String"}},
        "Resources": {"Svc": {"Type": "AWS::CloudFormation::Stack", "Properties": {
            "TemplateURL": "https://tpl.s3.us-east-1.amazonaws.com/svc.json", "Parameters": {"TenantId": {"Ref": "TenantId"}}}}},
    }
    cfn.create_stack(StackName="parent", TemplateBody=json.dumps(parent), Parameters=[{"ParameterKey": "TenantId", "ParameterValue": "t1"}])
    logs = aws_mock.client("logs", region)
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/marker")["logGroups"]] == ["/marker-t1"]
    roles_before = {r["RoleName"] for r in iam.list_roles()["Roles"]}

    changed = json.loads(json.dumps(ROLE_TEMPLATE))
    changed["Resources"]["Log"]["Properties"]["LogGroupName"]["Fn::Join"][1][0] = "/changed"
    s3.put_object(Bucket="tpl", Key="svc.json", Body=json.dumps(changed).encode())  # same key, new content
    parent["Resources"]["Svc"]["Properties"]["Parameters"]["Unused"] = "x"  # the parent changes, so Svc is updated
    parent["Parameters"]["Unused"] = {"Type": "String", "Default": "x"}
    cfn.update_stack(StackName="parent", TemplateBody=json.dumps(parent), Parameters=[{"ParameterKey": "TenantId", "UsePreviousValue": True}])
    assert logs.describe_log_groups(logGroupNamePrefix="/changed")["logGroups"][0]["logGroupName"] == "/changed-t1"

    assert logs.describe_log_groups(logGroupNamePrefix="/marker")["logGroups"] == []  # replaced: the old one went at cleanup
    roles_after = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert roles_after and roles_after == roles_before  # the nested stack was updated in place: its unchanged role kept
    for name in roles_after:
        assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=sorted(roles_after)[0], AssumeRolePolicyDocument="{}")
    with pytest.raises(cfn.exceptions.AlreadyExistsException):
        cfn.create_stack(StackName="parent", TemplateBody=json.dumps(ROLE_TEMPLATE), Parameters=[{"ParameterKey": "TenantId", "ParameterValue": "t"}])
    assert cfn.describe_stacks(StackName="parent")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    cfn.delete_stack(StackName="parent")
    for name in roles_before:
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName=name)
    assert [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "parent"] == ["DELETE_COMPLETE"]


def test_stack_operations_replace_the_moto_functions_they_were_written_against():
    """tools/local_aws/stack_updates.py replaces these moto functions with CloudFormation's behaviour; a moto
    upgrade that changes one of them must be reviewed against that module (its docstring says what it relies on)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Stack

    from local_aws.stack_updates import REPLACED_MOTO_SOURCES

    def moto_original(function: object) -> object:
        return getattr(function, "__wrapped__", function)

    originals = {
        "ResourceMap.update": getattr(parsing.ResourceMap.update, "local_aws_original", parsing.ResourceMap.update),
        "Stack.update": getattr(Stack.update, "local_aws_original", Stack.update),
        "Stack.create_resources": moto_original(Stack.create_resources),
        "Stack.update_from_cloudformation_json": getattr(Stack.update_from_cloudformation_json.__func__, "local_aws_original",
                                                         Stack.update_from_cloudformation_json.__func__),
        "parse_and_create_resource": moto_original(parsing.parse_and_create_resource),
    }
    assert set(originals) == set(REPLACED_MOTO_SOURCES)
    for name, function in originals.items():
        assert source_digest(function) == REPLACED_MOTO_SOURCES[name], f"moto's {name} changed: review tools/local_aws/stack_updates.py"
