"""AWS's name-length limits, in one table (``LIMITS``), enforced on moto's backends.

moto 5.2.1 takes an IAM role name of any length, a Lambda function name of any length, a DynamoDB table name of
2 or 256 characters, a CloudFormation stack name of any length or with any character: a template that AWS refuses
deploys locally, and the bug shows on the first real run. Each limit is checked in the moto method that every path
goes through (the API and the resources of CloudFormation templates alike), by a thin wrapper that checks, then
calls moto's own method; the error is AWS's (code, HTTP 400, message).

* ``enforced_by="moto"``: moto 5.2.1 already refuses these (S3 bucket, SQS queue, SNS topic, log group names);
  they are in the table so that tests, docs and CloudFormation's generated names have one source.
* CloudFormation generates a name for a resource whose template gives none; moto's ``{stack}-{logical id}-{suffix}``
  can be longer than the limit (a nested stack's resources especially), where CloudFormation's own generated names
  always fit. Generated names are shortened to the limit, keeping moto's random suffix (``generated_name``).
* An explicit SQS ``QueueName`` over 80 characters in a template is refused (moto cut it to 80 silently).

``MODULES`` are the moto modules this patches; ``patch_module`` is called by ``local_aws.extension`` when one of
them is imported (idempotent). See docs/local-aws.md "Name limits".
"""
from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

MOTO = "moto"
LOCAL = "local_aws"


@dataclass(frozen=True)
class NameLimit:
    what: str
    operation: str  # the API operation (and member) the error is about, as AWS names them
    member: str  # the member's name in AWS's validation message ("roleName")
    min_length: int
    max_length: int
    code: str  # AWS's error code (HTTP 400 for all of them)
    source: str
    message: Optional[str] = None  # AWS's own message, where it is not the "N validation error(s) detected" format
    pattern: Optional[str] = None  # a pattern checked with the length, reported in the same message
    enforced_by: str = LOCAL


# The one table. ``source``: where the limit and AWS's error come from.
LIMITS: Dict[str, NameLimit] = {
    "iam.role": NameLimit(
        "IAM role name", "CreateRole RoleName", "roleName", 1, 64, "ValidationError",
        "IAM quotas (role name 64); botocore iam model roleNameType max 64; AWS's answer quoted in serverless/examples#405, "
        "NixOS/nixops#328 (ValidationError, HTTP 400)"),
    "iam.policy": NameLimit(
        "IAM policy name (managed and inline)", "CreatePolicy / PutRolePolicy / PutUserPolicy / PutGroupPolicy PolicyName",
        "policyName", 1, 128, "ValidationError",
        "IAM quotas (policy name 128); botocore iam model policyNameType max 128; AWS's validation message format"),
    "lambda.function": NameLimit(
        "Lambda function name (the name part of FunctionName)", "CreateFunction FunctionName", "functionName", 1, 64,
        "InvalidParameterValueException",
        "Lambda API reference CreateFunction (name up to 64 characters, the parameter up to 140 for ARNs); AWS's answer "
        "quoted in cloud-custodian/cloud-custodian#3352, dailyidea/dailyidea.com---ARCHIVE#419 (InvalidParameterValueException)"),
    "lambda.function_parameter": NameLimit(
        "Lambda FunctionName parameter (a name or an ARN)", "CreateFunction FunctionName", "functionName", 1, 140,
        "ValidationException", "botocore lambda model FunctionName max 140; AWS's validation message format"),
    "dynamodb.table": NameLimit(
        "DynamoDB table name", "CreateTable TableName", "tableName", 3, 255, "ValidationException",
        "DynamoDB naming rules (3 to 255 characters); ValidationException for 2 and 256 characters: scylladb "
        "test/alternator/test_table.py (run against DynamoDB); AWS's validation message format"),
    "cloudformation.stack": NameLimit(
        "CloudFormation stack name", "CreateStack / CreateChangeSet (CREATE) StackName", "stackName", 1, 128, "ValidationError",
        "CloudFormation user guide (letters, digits, hyphens, starts with a letter, up to 128 characters); the pattern "
        "message quoted in hashicorp/terraform-provider-aws#42668 (ValidationError)",
        pattern=r"[a-zA-Z][-a-zA-Z0-9]*"),
    "s3.bucket": NameLimit(
        "S3 bucket name", "CreateBucket Bucket", "bucket", 3, 63, "InvalidBucketName",
        "S3 bucket naming rules (3 to 63 characters)", message="The specified bucket is not valid.", enforced_by=MOTO),
    "sqs.queue": NameLimit(
        "SQS queue name (a FIFO queue's .fifo suffix included)", "CreateQueue QueueName", "queueName", 1, 80,
        "InvalidParameterValue", "SQS API reference CreateQueue QueueName (up to 80 characters)",
        message="Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length", enforced_by=MOTO),
    "sns.topic": NameLimit(
        "SNS topic name", "CreateTopic Name", "name", 1, 256, "InvalidParameter", "SNS API reference CreateTopic Name",
        message="Topic names must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and "
                "hyphens, and must be between 1 and 256 characters long.", enforced_by=MOTO),
    "logs.log_group": NameLimit(
        "CloudWatch Logs log group name", "CreateLogGroup logGroupName", "logGroupName", 1, 512, "InvalidParameterException",
        "CloudWatch Logs API reference CreateLogGroup (1 to 512 characters)", enforced_by=MOTO),
}

# CloudFormation resource type -> the limit its name (given or generated) is under.
RESOURCE_TYPES: Dict[str, str] = {
    "AWS::IAM::Role": "iam.role",
    "AWS::IAM::ManagedPolicy": "iam.policy",
    "AWS::Lambda::Function": "lambda.function",
    "AWS::DynamoDB::Table": "dynamodb.table",
    "AWS::CloudFormation::Stack": "cloudformation.stack",
    "AWS::SQS::Queue": "sqs.queue",
    "AWS::SNS::Topic": "sns.topic",
    "AWS::Logs::LogGroup": "logs.log_group",
    "AWS::S3::Bucket": "s3.bucket",
}


def violations(limit: NameLimit, value: str) -> List[str]:
    """The constraints ``value`` fails, in AWS's words ("Member must have length less than or equal to 64")."""
    failed = []
    if limit.pattern is not None and not re.fullmatch(limit.pattern, value):
        failed.append(f"Member must satisfy regular expression pattern: {limit.pattern}")
    if len(value) > limit.max_length:
        failed.append(f"Member must have length less than or equal to {limit.max_length}")
    if len(value) < limit.min_length:
        failed.append(f"Member must have length greater than or equal to {limit.min_length}")
    return failed


def error_message(limit: NameLimit, value: str) -> Optional[str]:
    """AWS's message for ``value`` under ``limit``, None when it is within it."""
    failed = violations(limit, value)
    if not failed:
        return None
    if limit.message is not None:
        return limit.message
    count = f"{len(failed)} validation error{'s' if len(failed) > 1 else ''} detected: "
    return count + "; ".join(f"Value '{value}' at '{limit.member}' failed to satisfy constraint: {text}" for text in failed)


def lambda_name_part(function_name: str) -> str:
    """The function's name in a FunctionName that may be an ARN or a partial ARN (``123456789012:function:name``)."""
    if ":" not in function_name:
        return function_name
    name = function_name.split("function:", 1)[1] if "function:" in function_name else function_name.rsplit(":", 1)[-1]
    return name.split(":", 1)[0]


# -- errors, as each service's moto raises them -------------------------------------------------------------------------
def _iam_error(message: str) -> Exception:
    from moto.iam.exceptions import ValidationError

    return ValidationError(message)


def _lambda_error(message: str, code: str) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    return LambdaClientError(code, message)


def _dynamodb_error(message: str) -> Exception:
    from moto.dynamodb.exceptions import MockValidationException

    return MockValidationException(message)


def _cloudformation_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _sqs_error(message: str) -> Exception:
    from moto.sqs.exceptions import InvalidParameterValue

    return InvalidParameterValue(message)


def check(key: str, value: Any, error: Callable[[str], Exception]) -> None:
    """Raise ``error(AWS's message)`` when ``value`` is outside the limit ``key``."""
    if not isinstance(value, str):
        return  # moto's own code answers a missing or non-string name
    message = error_message(LIMITS[key], value)
    if message is not None:
        raise error(message)


# -- wrappers -----------------------------------------------------------------------------------------------------------
_MARK = "local_aws_limits"
Checker = Callable[[Dict[str, Any]], None]


def _bound(signature: inspect.Signature, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    try:
        return dict(signature.bind_partial(*args, **kwargs).arguments)
    except TypeError:
        return {}  # a call moto itself refuses with its own TypeError


def _wrap(owner: Any, method_name: str, checker: Checker) -> None:
    """``owner.method_name`` runs ``checker`` on its arguments (by name), then what was there. ``__wrapped__`` is
    moto's own function, whatever else wraps it (what the source checks of ``moto_indexes`` compare)."""
    original = getattr(owner, method_name)
    if getattr(original, _MARK, False):
        return
    signature = inspect.signature(original)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        checker(_bound(signature, args, kwargs))
        return original(*args, **kwargs)

    wrapper.__name__ = original.__name__
    wrapper.__qualname__ = getattr(original, "__qualname__", original.__name__)
    wrapper.__doc__ = original.__doc__
    wrapper.__wrapped__ = inspect.unwrap(original)  # type: ignore[attr-defined]
    setattr(wrapper, _MARK, True)
    if getattr(original, "local_aws_indexed", False):  # the marker moto_indexes looks for
        wrapper.local_aws_indexed = True  # type: ignore[attr-defined]
    setattr(owner, method_name, wrapper)


def _wrap_classmethod(owner: Any, method_name: str, checker: Checker) -> None:
    function = getattr(owner, method_name).__func__
    if getattr(function, _MARK, False):
        return
    signature = inspect.signature(function)

    def wrapper(cls: Any, *args: Any, **kwargs: Any) -> Any:
        checker(_bound(signature, (cls,) + args, kwargs))
        return function(cls, *args, **kwargs)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    wrapper.__wrapped__ = inspect.unwrap(function)  # type: ignore[attr-defined]
    setattr(wrapper, _MARK, True)
    setattr(owner, method_name, classmethod(wrapper))


def _patch_iam(module: Any) -> None:
    def role_name(arguments: Dict[str, Any]) -> None:
        check("iam.role", arguments.get("role_name"), _iam_error)

    def policy_name(arguments: Dict[str, Any]) -> None:
        check("iam.policy", arguments.get("policy_name"), _iam_error)

    _wrap(module.IAMBackend, "create_role", role_name)
    _wrap(module.IAMBackend, "create_policy", policy_name)
    # PutRolePolicy / PutUserPolicy / PutGroupPolicy, AWS::IAM::Policy and a role's inline Policies all end here.
    for owner in (module.Role, module.User, module.Group):
        _wrap(owner, "put_policy", policy_name)


def _patch_lambda(module: Any) -> None:
    def function_name(arguments: Dict[str, Any]) -> None:
        spec = arguments.get("spec")
        value = spec.get("FunctionName") if isinstance(spec, dict) else None
        if isinstance(value, str):
            for key, name in (("lambda.function_parameter", value), ("lambda.function", lambda_name_part(value))):
                check(key, name, lambda message, code=LIMITS[key].code: _lambda_error(message, code))

    _wrap(module.LambdaBackend, "create_function", function_name)


def _patch_dynamodb(module: Any) -> None:
    def table_name(arguments: Dict[str, Any]) -> None:
        check("dynamodb.table", arguments.get("name"), _dynamodb_error)

    _wrap(module.DynamoDBBackend, "create_table", table_name)


def _patch_cloudformation(module: Any) -> None:
    def stack_name(arguments: Dict[str, Any]) -> None:
        check("cloudformation.stack", arguments.get("name"), _cloudformation_error)

    def change_set_stack_name(arguments: Dict[str, Any]) -> None:
        if arguments.get("change_set_type") != "UPDATE":  # CREATE (and IMPORT) make a new stack of that name
            check("cloudformation.stack", arguments.get("stack_name"), _cloudformation_error)

    _wrap(module.CloudFormationBackend, "create_stack", stack_name)
    _wrap(module.CloudFormationBackend, "create_change_set", change_set_stack_name)
    _patch_generated_names(module.__name__.rsplit(".", 1)[0] + ".parsing")


def generated_name(resource_type: str, stack_name: str, logical_id: str, name: str) -> str:
    """``name`` as moto generated it (``{stack}-{logical id}-{suffix}``), shortened to the type's limit as
    CloudFormation's generated names are: the stack name and the logical id share what the random suffix leaves."""
    key = RESOURCE_TYPES.get(resource_type)
    if key is None or len(name) <= LIMITS[key].max_length:
        return name
    limit = LIMITS[key].max_length
    head = f"{stack_name}-{logical_id}-"
    if not name.startswith(head) or not name[len(head):]:
        return name[:limit]  # not moto's usual form: cut it
    suffix = name[len(head):]
    room = limit - len(suffix) - 2
    logical_room = min(len(logical_id), max(room // 2, room - len(stack_name)))
    stack_part = stack_name[: room - logical_room].rstrip("-")
    return f"{stack_part}-{logical_id[:logical_room]}-{suffix}"


def _patch_generated_names(parsing_name: str) -> None:
    parsing = sys.modules.get(parsing_name)
    if parsing is None:
        return
    original = parsing.generate_resource_name
    if getattr(original, _MARK, False):
        return

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        return generated_name(resource_type, stack_name, logical_id, original(resource_type, stack_name, logical_id))

    generate_resource_name.__doc__ = original.__doc__
    generate_resource_name.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(generate_resource_name, _MARK, True)
    parsing.generate_resource_name = generate_resource_name


def _patch_sqs(module: Any) -> None:
    def queue_name(arguments: Dict[str, Any]) -> None:
        # moto cuts any name to 80 characters; a generated one already fits (generated_name), a given one must.
        check("sqs.queue", str(arguments.get("resource_name")), _sqs_error)

    _wrap_classmethod(module.Queue, "create_from_cloudformation_json", queue_name)


_PATCHES: Dict[str, Callable[[Any], None]] = {
    "moto.iam.models": _patch_iam,
    "moto.awslambda.models": _patch_lambda,
    "moto.dynamodb.models": _patch_dynamodb,
    "moto.cloudformation.models": _patch_cloudformation,
    "moto.sqs.models": _patch_sqs,
}
MODULES: Tuple[str, ...] = tuple(_PATCHES)


def patch_module(module: Any) -> None:
    """Install the checks of ``module`` (one of ``MODULES``; any other is left alone). Idempotent."""
    patch = _PATCHES.get(module.__name__)
    if patch is not None:
        patch(module)
