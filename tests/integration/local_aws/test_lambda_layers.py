"""Lambda layers in CloudFormation as AWS builds them: ``Ref`` of a layer version is its ARN and a function keeps its layers.

Plain boto3 against the in-process mock and the server. Documented behaviour held to: the return value of
``Ref`` for ``AWS::Lambda::LayerVersion`` is the layer version's ARN (CloudFormation resource reference), and
``AWS::Lambda::Function.Layers`` are the function's layers after a create and after an update (what an AWS SAM
service with a layer is translated into).
"""
from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from catalog_fixtures import ASSUME, CODE_KEY, make_bucket, zip_of

pytestmark = pytest.mark.integration


def template(bucket: str, timeout: int) -> str:
    resources: Dict[str, Any] = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ASSUME}},
        "Helpers": {"Type": "AWS::Lambda::LayerVersion",
                    "Properties": {"Content": {"S3Bucket": bucket, "S3Key": CODE_KEY}, "CompatibleRuntimes": ["python3.11"]}},
        "Report": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": {"S3Bucket": bucket, "S3Key": CODE_KEY}, "Handler": "app.handler", "Runtime": "python3.11", "Timeout": timeout,
            "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Layers": [{"Ref": "Helpers"}]}},
    }
    return json.dumps({"Resources": resources, "Outputs": {"LayerArn": {"Value": {"Ref": "Helpers"}}}})


def test_a_layer_is_referenced_by_its_arn_through_create_and_update(aws) -> None:
    region = "eu-west-1"
    s3, cfn, awslambda = aws.client("s3", region), aws.client("cloudformation", region), aws.client("lambda", region)
    bucket = aws.unique("layers")
    make_bucket(s3, bucket, region)
    s3.put_object(Bucket=bucket, Key=CODE_KEY, Body=zip_of("app.py", "def handler(event, context):\n    return event\n"))
    name = aws.unique("layered")
    cfn.create_stack(StackName=name, TemplateBody=template(bucket, 10))
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    layer_arn = stack["Outputs"][0]["OutputValue"]
    assert layer_arn.startswith(f"arn:aws:lambda:{region}:") and ":layer:" in layer_arn
    function = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Report")["StackResourceDetail"]["PhysicalResourceId"]
    assert [layer["Arn"] for layer in awslambda.get_function(FunctionName=function)["Configuration"]["Layers"]] == [layer_arn]

    cfn.update_stack(StackName=name, TemplateBody=template(bucket, 20))
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    configuration = awslambda.get_function(FunctionName=function)["Configuration"]
    assert configuration["Timeout"] == 20 and [layer["Arn"] for layer in configuration["Layers"]] == [layer_arn]
