"""AWS's name-length limits and API Gateway's MOCK integrations, in the local AWS as on AWS (docs/local-aws.md "Name limits",
"API Gateway methods"). Plain boto3 against the ``aws`` fixture (in-process moto and the server).

Each limit of ``local_aws.aws_limits.LIMITS``: a name at the limit is accepted, one past it refused with AWS's code, HTTP 400
and message, through the API and (for the resources the examples use) through a CloudFormation template.
"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any, Dict, Optional, Tuple

import pytest
from botocore.exceptions import ClientError

from local_aws.aws_limits import LIMITS, error_message

pytestmark = pytest.mark.integration

ASSUME_LAMBDA = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
# What CloudFormation may answer for a stack that cannot be created; moto 5.2.1 leaves it CREATE_IN_PROGRESS (see below).


def error_of(excinfo: pytest.ExceptionInfo) -> Tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def refused_as_aws(key: str, name: str, call: Any) -> None:
    """``call()`` is refused with the code, HTTP 400 and message of ``LIMITS[key]`` for ``name``."""
    with pytest.raises(ClientError) as refused:
        call()
    assert error_of(refused) == (LIMITS[key].code, 400, error_message(LIMITS[key], name))


def name_of(prefix: str, length: int) -> str:
    """A unique name of exactly ``length`` characters (letters, digits, hyphens: valid for every service here)."""
    import uuid

    base = f"{prefix}-{uuid.uuid4().hex}"
    return (base + "x" * length)[:length] if length >= len(base) else base[:length]


def zipped_handler() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def lambda_role(aws) -> str:
    return aws.client("iam").create_role(RoleName=aws.unique("fn-role"), AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA))["Role"]["Arn"]


def create_stack(aws, name: str, template: Dict[str, Any]) -> Tuple[Optional[Exception], Optional[str]]:
    """(the error CreateStack answered or None, the stack's status or None when there is no such stack)."""
    cfn = aws.client("cloudformation")
    error: Optional[Exception] = None
    try:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    except ClientError as exc:
        error = exc
    try:
        return error, cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError:
        return error, None


# -- IAM ------------------------------------------------------------------------------------------------------------------
def test_role_names_up_to_64_characters(aws):
    iam = aws.client("iam")
    ok, too_long = name_of("role", 64), name_of("role", 65)
    assert iam.create_role(RoleName=ok, AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA))["Role"]["RoleName"] == ok
    refused_as_aws("iam.role", too_long, lambda: iam.create_role(RoleName=too_long, AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA)))
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=too_long)


def test_policy_names_up_to_128_characters_managed_and_inline(aws):
    iam = aws.client("iam")
    role = aws.unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA))
    user = aws.unique("user")
    iam.create_user(UserName=user)
    ok, too_long = name_of("policy", 128), name_of("policy", 129)
    iam.create_policy(PolicyName=ok, PolicyDocument=json.dumps(POLICY))
    iam.put_role_policy(RoleName=role, PolicyName=ok, PolicyDocument=json.dumps(POLICY))
    refused_as_aws("iam.policy", too_long, lambda: iam.create_policy(PolicyName=too_long, PolicyDocument=json.dumps(POLICY)))
    refused_as_aws("iam.policy", too_long, lambda: iam.put_role_policy(RoleName=role, PolicyName=too_long, PolicyDocument=json.dumps(POLICY)))
    refused_as_aws("iam.policy", too_long, lambda: iam.put_user_policy(UserName=user, PolicyName=too_long, PolicyDocument=json.dumps(POLICY)))
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [ok]


# -- Lambda ---------------------------------------------------------------------------------------------------------------
def test_function_names_up_to_64_characters(aws):
    lam = aws.client("lambda")
    role = lambda_role(aws)

    def create(name: str) -> Dict[str, Any]:
        return lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="index.handler", Code={"ZipFile": zipped_handler()})

    ok, too_long = name_of("fn", 64), name_of("fn", 65)
    assert create(ok)["FunctionName"] == ok
    refused_as_aws("lambda.function", too_long, lambda: create(too_long))
    # the parameter itself takes up to 140 characters (ARNs); a longer one is refused before the name is looked at
    refused_as_aws("lambda.function_parameter", "f" * 141, lambda: create("f" * 141))
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=too_long)


# -- DynamoDB -------------------------------------------------------------------------------------------------------------
def test_table_names_of_3_to_255_characters(aws):
    ddb = aws.client("dynamodb")

    def create(name: str) -> Any:
        return ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")

    for ok in (name_of("t", 255), "t" + aws.unique("")[-2:]):
        assert create(ok)["TableDescription"]["TableName"] == ok
    for bad in (name_of("t", 256), "tt"):
        refused_as_aws("dynamodb.table", bad, lambda: create(bad))


# -- what moto 5.2.1 already enforced: tested, not patched ----------------------------------------------------------------
def test_limits_moto_already_enforces(aws):
    s3, sqs, sns, logs = aws.client("s3"), aws.client("sqs"), aws.client("sns"), aws.client("logs")
    for ok in (name_of("b", 63), name_of("b", 3)):
        s3.create_bucket(Bucket=ok)
    for bad in (name_of("b", 64), "bb"):
        refused_as_aws("s3.bucket", bad, lambda: s3.create_bucket(Bucket=bad))
    sqs.create_queue(QueueName=name_of("q", 80))
    sqs.create_queue(QueueName=name_of("q", 75) + ".fifo", Attributes={"FifoQueue": "true"})
    too_long = name_of("q", 81)
    refused_as_aws("sqs.queue", too_long, lambda: sqs.create_queue(QueueName=too_long))
    fifo = name_of("q", 76) + ".fifo"
    refused_as_aws("sqs.queue", fifo, lambda: sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"}))
    sns.create_topic(Name=name_of("t", 256))
    too_long = name_of("t", 257)
    refused_as_aws("sns.topic", too_long, lambda: sns.create_topic(Name=too_long))
    logs.create_log_group(logGroupName="/" + name_of("g", 511))
    too_long = "/" + name_of("g", 512)
    refused_as_aws("logs.log_group", too_long, lambda: logs.create_log_group(logGroupName=too_long))


# -- CloudFormation -------------------------------------------------------------------------------------------------------
def test_stack_names_up_to_128_characters_of_letters_digits_and_hyphens(aws):
    cfn = aws.client("cloudformation")
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    ok = name_of("s", 128)
    cfn.create_stack(StackName=ok, TemplateBody=template)
    assert cfn.describe_stacks(StackName=ok)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    for bad in (name_of("s", 129), "with_underscore", "1-starts-with-a-digit"):
        refused_as_aws("cloudformation.stack", bad, lambda: cfn.create_stack(StackName=bad, TemplateBody=template))
        with pytest.raises(ClientError):
            cfn.describe_stacks(StackName=bad)
    refused_as_aws("cloudformation.stack", "with_underscore",
                   lambda: cfn.create_change_set(StackName="with_underscore", ChangeSetName="c1", TemplateBody=template, ChangeSetType="CREATE"))


def role_template(role_name: Optional[str] = None, logical_id: str = "Role") -> Dict[str, Any]:
    properties: Dict[str, Any] = {"AssumeRolePolicyDocument": ASSUME_LAMBDA}
    if role_name is not None:
        properties["RoleName"] = role_name
    return {"Resources": {logical_id: {"Type": "AWS::IAM::Role", "Properties": properties}}}


def test_a_template_with_a_name_over_a_limit_does_not_create_its_stack(aws):
    """As on AWS: CreateStack answers with the StackId, the resource fails with the service's error (its event's
    ResourceStatusReason), and the stack rolls back to ROLLBACK_COMPLETE."""
    iam, cfn = aws.client("iam"), aws.client("cloudformation")
    ok = name_of("role", 64)
    assert create_stack(aws, aws.unique("ok"), role_template(ok)) == (None, "CREATE_COMPLETE")
    assert iam.get_role(RoleName=ok)["Role"]["RoleName"] == ok

    def refused(name: str, template: Dict[str, Any]) -> str:
        """The reason of the stack's one failed resource, once CreateStack succeeded and the stack rolled back."""
        assert create_stack(aws, name, template) == (None, "ROLLBACK_COMPLETE")
        [event] = [e for e in cfn.describe_stack_events(StackName=name)["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
        return event["ResourceStatusReason"]

    too_long = name_of("role", 65)
    assert refused(aws.unique("long-role"), role_template(too_long)) == f"ValidationError: {error_message(LIMITS['iam.role'], too_long)}"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=too_long)

    inline = role_template()
    inline["Resources"]["Role"]["Properties"]["Policies"] = [{"PolicyName": name_of("p", 129), "PolicyDocument": POLICY}]
    assert "at 'policyName' failed to satisfy constraint" in refused(aws.unique("long-policy"), inline)

    function = name_of("fn", 65)
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": function, "Runtime": "python3.11", "Handler": "index.handler", "Role": lambda_role(aws),
        "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"}}}}}
    assert refused(aws.unique("long-fn"), template).startswith("InvalidParameterValueException: 1 validation error detected")
    with pytest.raises(ClientError):
        aws.client("lambda").get_function(FunctionName=function)

    queue = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name_of("q", 81)}}}}
    assert refused(aws.unique("long-queue"), queue)  # moto cut the name to 80 and created it


def test_names_cloudformation_generates_fit_the_limits(aws):
    """Without a name in the template, the generated one (stack name, logical id, random suffix) fits the limit."""
    stack = "s" + name_of("", 100)[1:]
    template = role_template(logical_id="AnExecutionRoleWithAVeryLongLogicalIdentifier")
    template["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue"}
    template["Resources"]["Table"] = {"Type": "AWS::DynamoDB::Table", "Properties": {
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST"}}
    assert create_stack(aws, stack, template) == (None, "CREATE_COMPLETE")
    rows = aws.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in rows}
    role = resources["AnExecutionRoleWithAVeryLongLogicalIdentifier"]
    assert len(role) == 64 and role.startswith(stack[:20]) and "-AnExecutionRole" in role
    assert aws.client("iam").get_role(RoleName=role)["Role"]["RoleName"] == role
    assert len(resources["Queue"].rsplit("/", 1)[-1]) <= 80


# -- API Gateway: MOCK integrations (CORS) --------------------------------------------------------------------------------
def rest_api_template(options_integration: Optional[Dict[str, Any]] = None, deployment: bool = True) -> Dict[str, Any]:
    """What the Serverless Framework generates for an `http` event with `cors: true`: a GET to a Lambda (AWS_PROXY) and an
    OPTIONS answered by API Gateway itself (MOCK, without Uri or IntegrationHttpMethod)."""
    api = {"Ref": "Api"}
    resources: Dict[str, Any] = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ASSUME_LAMBDA}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.11", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"}}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "orders-api"}},
        "Orders": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": api, "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}, "PathPart": "orders"}},
        "GetOrders": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": api, "ResourceId": {"Ref": "Orders"}, "HttpMethod": "GET", "AuthorizationType": "NONE", "MethodResponses": [],
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": {"Fn::Join": ["", [
                "arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"}, ":lambda:path/2015-03-31/functions/",
                {"Fn::GetAtt": ["Fn", "Arn"]}, "/invocations"]]}}}},
        "OptionsOrders": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": api, "ResourceId": {"Ref": "Orders"}, "HttpMethod": "OPTIONS", "AuthorizationType": "NONE", "RequestParameters": {},
            "MethodResponses": [{"StatusCode": "200", "ResponseModels": {}, "ResponseParameters": {
                "method.response.header.Access-Control-Allow-Origin": True, "method.response.header.Access-Control-Allow-Methods": True}}],
            "Integration": options_integration if options_integration is not None else {
                "Type": "MOCK", "RequestTemplates": {"application/json": "{statusCode:200}"}, "ContentHandling": "CONVERT_TO_TEXT",
                "IntegrationResponses": [{"StatusCode": "200", "ResponseTemplates": {"application/json": ""}, "ResponseParameters": {
                    "method.response.header.Access-Control-Allow-Origin": "'*'", "method.response.header.Access-Control-Allow-Methods": "'OPTIONS,GET'"}}]}}},
    }
    if deployment:
        resources["Deployment"] = {"Type": "AWS::ApiGateway::Deployment", "DependsOn": ["GetOrders", "OptionsOrders"],
                                   "Properties": {"RestApiId": api, "StageName": "dev"}}
    return {"Resources": resources}


def api_and_resource(aws, stack: str) -> Tuple[str, str]:
    rows = aws.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    api_id = next(r["PhysicalResourceId"] for r in rows if r["LogicalResourceId"] == "Api")
    resource_id = next(r["id"] for r in aws.client("apigateway").get_resources(restApiId=api_id)["items"] if r["path"] == "/orders")
    return api_id, resource_id


def test_a_cors_options_method_with_a_mock_integration_creates_its_stack(aws):
    stack = aws.unique("cors")
    assert create_stack(aws, stack, rest_api_template()) == (None, "CREATE_COMPLETE")
    apigw = aws.client("apigateway")
    api_id, resource_id = api_and_resource(aws, stack)

    options = apigw.get_integration(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS")
    assert options["type"] == "MOCK" and "uri" not in options and "httpMethod" not in options
    assert options["requestTemplates"] == {"application/json": "{statusCode:200}"}
    assert options["contentHandling"] == "CONVERT_TO_TEXT"
    response = apigw.get_integration_response(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS", statusCode="200")
    assert response["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] == "'*'"
    method_response = apigw.get_method_response(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS", statusCode="200")
    assert method_response["responseParameters"] == {"method.response.header.Access-Control-Allow-Origin": True,
                                                     "method.response.header.Access-Control-Allow-Methods": True}

    get = apigw.get_integration(restApiId=api_id, resourceId=resource_id, httpMethod="GET")
    function_arn = aws.client("cloudformation").describe_stack_resources(StackName=stack, LogicalResourceId="Fn")["StackResources"][0]["PhysicalResourceId"]
    assert (get["type"], get["httpMethod"]) == ("AWS_PROXY", "POST")
    assert get["uri"].startswith("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:")
    assert get["uri"].endswith(f":function:{function_arn.rsplit(':', 1)[-1]}/invocations")
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]] == ["dev"]


def test_a_method_without_an_integration_is_created_but_not_deployed(aws):
    template = rest_api_template(deployment=False)
    del template["Resources"]["OptionsOrders"]["Properties"]["Integration"]
    stack = aws.unique("no-integration")
    assert create_stack(aws, stack, template) == (None, "CREATE_COMPLETE")
    apigw = aws.client("apigateway")
    api_id, resource_id = api_and_resource(aws, stack)
    method = apigw.get_method(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS")
    assert "methodIntegration" not in method and set(method["methodResponses"]) == {"200"}
    with pytest.raises(ClientError) as refused:  # as on AWS: every method needs an integration before a deployment
        apigw.create_deployment(restApiId=api_id, stageName="dev")
    assert error_of(refused) == ("BadRequestException", 400, "No integration defined for method")
    apigw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod="OPTIONS", type="MOCK")
    assert apigw.create_deployment(restApiId=api_id, stageName="dev")["id"]


@pytest.mark.parametrize("integration,message", [
    ({"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST"}, "Invalid ARN specified in the request"),
    ({"Type": "HTTP", "IntegrationHttpMethod": "GET"}, "Invalid HTTP endpoint specified for URI"),
    ({"Type": "AWS_PROXY", "Uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/x/invocations"},
     "Enumeration value for HttpMethod must be non-empty"),
    ({"IntegrationHttpMethod": "POST"}, None),  # no Type: the resource's properties are invalid
], ids=["aws-proxy-without-uri", "http-without-uri", "without-integration-method", "without-type"])
def test_integrations_that_need_a_uri_and_a_method_are_refused_without_them(aws, integration, message):
    stack = aws.unique("bad-integration")
    assert create_stack(aws, stack, rest_api_template(options_integration=integration, deployment=False)) == (None, "ROLLBACK_COMPLETE")
    cfn = aws.client("cloudformation")
    [event] = [e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    if message is not None:
        assert event["ResourceStatusReason"] == f"BadRequestException: {message}"
    if message is None or "Type" not in integration:
        return
    # the same through the API: API Gateway's answer, not a server error
    apigw = aws.client("apigateway")
    api_id = apigw.create_rest_api(name="api")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="POST", authorizationType="NONE")
    arguments = {"type": integration["Type"]}
    if "Uri" in integration:
        arguments["uri"] = integration["Uri"]
    if "IntegrationHttpMethod" in integration:
        arguments["integrationHttpMethod"] = integration["IntegrationHttpMethod"]
    with pytest.raises(ClientError) as refused:
        apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="POST", **arguments)
    assert error_of(refused) == ("BadRequestException", 400, message)


def test_the_project_doctor_and_the_local_aws_agree_on_every_limit_both_know() -> None:
    """Two tables from two sources (the collection's doctor, the local AWS's enforcement): a disagreement is a bug in one."""
    from ansible_collections.multiregion.serverless.plugins.module_utils.doctor import PHYSICAL_NAMES
    from local_aws.aws_limits import RESOURCE_TYPES

    shared = sorted(set(PHYSICAL_NAMES) & set(RESOURCE_TYPES))
    assert len(shared) >= 7, shared  # role, policy, function, table, queue, topic, log group, bucket
    assert {resource: PHYSICAL_NAMES[resource].limit for resource in shared} == {
        resource: LIMITS[RESOURCE_TYPES[resource]].max_length for resource in shared}
