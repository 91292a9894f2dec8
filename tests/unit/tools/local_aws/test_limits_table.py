"""The pure parts of local_aws.aws_limits: AWS's messages, Lambda name parts, CloudFormation's generated names."""
from __future__ import annotations

import pytest

from local_aws.aws_limits import LIMITS, RESOURCE_TYPES, error_message, generated_name, lambda_name_part, violations


def test_messages_are_aws_validation_messages():
    role = LIMITS["iam.role"]
    assert error_message(role, "r" * 64) is None
    assert error_message(role, "r" * 65) == (
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    assert error_message(LIMITS["dynamodb.table"], "tt") == (
        "1 validation error detected: Value 'tt' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
    )
    both = error_message(LIMITS["cloudformation.stack"], "1" + "s" * 128)
    assert both is not None and both.startswith("2 validation errors detected: ") and both.count("failed to satisfy constraint") == 2
    assert error_message(LIMITS["sqs.queue"], "q" * 81) == "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    assert violations(LIMITS["cloudformation.stack"], "a-Stack-1") == []


def test_the_table_is_complete():
    for key, limit in LIMITS.items():
        assert 1 <= limit.min_length < limit.max_length and limit.code and limit.source, key
        assert limit.enforced_by in ("moto", "local_aws"), key
    assert set(RESOURCE_TYPES.values()) <= set(LIMITS)


@pytest.mark.parametrize("value,name", [
    ("my-function", "my-function"),
    ("arn:aws:lambda:us-east-1:123456789012:function:my-function", "my-function"),
    ("arn:aws:lambda:us-east-1:123456789012:function:my-function:live", "my-function"),
    ("123456789012:function:my-function", "my-function"),
])
def test_lambda_name_part(value, name):
    assert lambda_name_part(value) == name


def test_generated_names_fit_like_cloudformations():
    stack, logical = "s" * 60, "ARoleWithAVeryLongLogicalId"
    name = generated_name("AWS::IAM::Role", stack, logical, f"{stack}-{logical}-ABCDEFGHIJKL")
    assert len(name) == 64 and name.endswith("-ABCDEFGHIJKL") and "-ARoleWith" in name and name.startswith("sssss")
    short = "st-Role-ABCDEFGHIJKL"
    assert generated_name("AWS::IAM::Role", "st", "Role", short) == short  # within the limit: moto's name
    assert generated_name("AWS::EC2::VPC", stack, logical, f"{stack}-{logical}-ABCDEFGHIJKL") == f"{stack}-{logical}-ABCDEFGHIJKL"
    long_stack = generated_name("AWS::CloudFormation::Stack", "p" * 120, "Nested", f"{'p' * 120}-Nested-ABCDEFGHIJKL")
    assert len(long_stack) == 128 and long_stack.endswith("-Nested-ABCDEFGHIJKL")
