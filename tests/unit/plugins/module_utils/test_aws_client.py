# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/aws_client.py, offline: the error type, the module, the one retry policy.

Retries are counted on real botocore clients; only ``time.sleep`` is replaced so the backoff costs no time.
AWS answers come from botocore's own ``before-send`` / ``before-call`` hooks.
"""
from __future__ import annotations

import json
import typing as t

import boto3
import botocore.loaders
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.multiregion.serverless.plugins.module_utils import aws_client

REGION = "us-east-1"


def client_error(code: str, message: str = "", operation: str = "GetParameter") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def short_circuit(exc: t.Optional[ClientError] = None, **body: t.Any) -> t.Tuple[AWSResponse, t.Dict[str, t.Any]]:
    """What a ``before-call`` hook returns to answer a call without HTTP (as botocore's Stubber does)."""
    if exc is not None:
        return AWSResponse(None, 400, {}, None), exc.response
    return AWSResponse(None, 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


class CannedBody:
    """The raw body botocore reads from an ``AWSResponse``."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs: t.Any) -> t.Iterator[bytes]:
        yield self.body


# ---------------------------------------------------------------- the one-line error message


def test_error_message_names_operation_region_resource_and_code() -> None:
    message = aws_client.aws_error_message(
        client_error("AccessDenied", "User is not authorized", "CreateProvisioningArtifact"),
        "CreateProvisioningArtifact", "eu-west-1", "product platform-core",
    )
    assert message == "CreateProvisioningArtifact failed in eu-west-1 for product platform-core: AccessDenied: User is not authorized"


def test_error_message_is_one_line_even_for_multi_line_messages() -> None:
    exc = client_error("ValidationError", "Template format error:\n  Unresolved resource\n\tdependencies [Foo]")
    message = aws_client.aws_error_message(exc, "PutObject", "ap-southeast-2")
    assert "\n" not in message and "\t" not in message
    assert message == "PutObject failed in ap-southeast-2: ValidationError: Template format error: Unresolved resource dependencies [Foo]"


def test_error_message_without_region_resource_or_aws_message() -> None:
    assert aws_client.aws_error_message(client_error("NoSuchBucket"), "HeadBucket", None) == "HeadBucket failed: NoSuchBucket"


def test_error_message_of_a_botocore_error_without_response() -> None:
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
    message = aws_client.aws_error_message(exc, "ListBuckets", REGION)
    assert message == 'ListBuckets failed in us-east-1: Could not connect to the endpoint URL: "http://127.0.0.1:1/"'


def test_error_message_of_an_exception_without_text_uses_its_type() -> None:
    assert aws_client.aws_error_message(TimeoutError(), "GetParameter", REGION, "/p") == "GetParameter failed in us-east-1 for /p: TimeoutError"


def test_error_code_only_for_client_errors() -> None:
    assert aws_client.error_code(client_error("ThrottlingException")) == "ThrottlingException"
    assert aws_client.error_code(ValueError("boom")) is None


# ---------------------------------------------------------------- the error type


def test_aws_api_error_is_an_ansible_aws_error_whose_str_is_the_one_line() -> None:
    exc = aws_client.AwsApiError(
        exception=client_error("AccessDenied", "User is not authorized", "CreateProvisioningArtifact"),
        operation="CreateProvisioningArtifact", region="eu-west-1", resource="product platform-core",
    )
    assert isinstance(exc, AnsibleAWSError)
    assert str(exc) == exc.message == "CreateProvisioningArtifact failed in eu-west-1 for product platform-core: AccessDenied: User is not authorized"
    assert (exc.operation, exc.region, exc.resource, exc.code) == ("CreateProvisioningArtifact", "eu-west-1", "product platform-core", "AccessDenied")
    assert aws_client.error_code(exc) == "AccessDenied"
    assert exc.details() == {"error": {"Code": "AccessDenied", "Message": "User is not authorized"}, "response_metadata": {"HTTPStatusCode": 400}}


def test_aws_api_error_located_and_noted() -> None:
    # amazon.aws's AWSErrorHandler builds it with a message and the exception only; the layer locates it.
    raw = aws_client.AwsApiError(message="Failed to HeadObject", exception=client_error("403", "", "HeadObject"))
    located = raw.at("HeadObject", REGION, "s3://b/k")
    assert str(located) == "HeadObject failed in us-east-1 for s3://b/k: 403"
    noted = located.with_note("is bucket b owned by account 1? nothing was uploaded")
    assert str(noted) == "HeadObject failed in us-east-1 for s3://b/k: 403 (is bucket b owned by account 1? nothing was uploaded)"
    assert noted.code == "403" and noted.operation == "HeadObject"
    assert str(aws_client.AwsApiError(message="no exception")) == "no exception" and aws_client.AwsApiError(message="x").code is None


def test_fail_json_aws_error_keeps_the_one_line_and_adds_the_details(aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    exc = aws_client.AwsApiError(exception=client_error("ThrottlingException", "Rate exceeded", "GetParameter"),
                                 operation="GetParameter", region=REGION, resource="parameter /p", changed=False)
    with patch_module_args({"region": REGION}), pytest.raises(SystemExit):
        aws_client.create_aws_module({}, supports_check_mode=True).fail_json_aws_error(exc, ssm_parameter="/p")
    result = json.loads(capsys.readouterr().out)
    assert result["msg"] == "GetParameter failed in us-east-1 for parameter /p: ThrottlingException: Rate exceeded"
    assert result["error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"} and result["ssm_parameter"] == "/p"
    assert result["changed"] is False and "botocore_version" in result


def test_fail_aws_of_a_botocore_error_reads_the_same(aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with patch_module_args({"region": REGION}), pytest.raises(SystemExit):
        module = aws_client.create_aws_module({})
        aws_client.fail_aws(module, client_error("ParameterNotFound", "", "GetParameter"), "GetParameter", "deploy lock /x", changed=False)
    result = json.loads(capsys.readouterr().out)
    assert result["msg"] == "GetParameter failed in us-east-1 for deploy lock /x: ParameterNotFound" and result["changed"] is False


def test_run_service_exits_with_the_result_or_fails_with_the_error(aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(reason: str) -> t.Dict[str, t.Any]:
        raise aws_client.ServiceFailure(reason, changed=False, products=[])

    with patch_module_args({"region": REGION}), pytest.raises(SystemExit):
        aws_client.create_aws_module({}).run_service(lambda value: {"changed": True, "value": value}, 3)
    done = json.loads(capsys.readouterr().out)
    assert done["changed"] is True and done["value"] == 3 and "failed" not in done
    with patch_module_args({"region": REGION}), pytest.raises(SystemExit):
        aws_client.create_aws_module({}).run_service(refuse, "no such product")
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and result["msg"] == "no such product" and result["products"] == []


def test_create_aws_module_can_require_a_region(aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with patch_module_args({}), pytest.raises(SystemExit):
        aws_client.create_aws_module({}, require_region=True)
    assert json.loads(capsys.readouterr().out)["msg"] == "region is required (set it with module_defaults for group/multiregion.serverless.aws)"


# ---------------------------------------------------------------- no retry around botocore's


def test_aws_client_accepts_aws_retry_but_adds_no_retry_of_its_own(aws_env: None, sleeps: t.List[float]) -> None:
    with patch_module_args({"max_attempts": 1, "region": REGION}):
        module = aws_client.create_aws_module({})
    wrapped = aws_client.aws_client(module, "ssm")
    calls: t.List[str] = []

    def throttle(**_kwargs: t.Any) -> t.Tuple[AWSResponse, t.Dict[str, t.Any]]:
        calls.append("GetParameter")
        return short_circuit(client_error("ThrottlingException", "Rate exceeded"))

    wrapped.client.meta.events.register("before-call.ssm.GetParameter", throttle)
    with pytest.raises(ClientError):
        wrapped.get_parameter(Name="/p", aws_retry=True)
    assert len(calls) == 1 and not sleeps


# ---------------------------------------------------------------- botocore's own retries


def test_botocore_config_is_adaptive_with_total_attempts() -> None:
    config = aws_client.botocore_config(5, connect_timeout=7)
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 5}
    assert config.connect_timeout == 7
    assert aws_client.botocore_config().retries == {"mode": "adaptive", "total_max_attempts": aws_client.DEFAULT_MAX_ATTEMPTS}


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_botocore_makes_exactly_max_attempts_calls(max_attempts: int, aws_env: None, sleeps: t.List[float]) -> None:
    client = boto3.client("ssm", region_name=REGION, config=aws_client.botocore_config(max_attempts))
    sent: t.List[str] = []

    def server_error(request: t.Any, **_kwargs: t.Any) -> AWSResponse:
        # a 500 is retried by botocore's standard policy without the adaptive rate limiter's real-time waits
        sent.append(request.url)
        body = json.dumps({"__type": "InternalServerError", "message": "try again"}).encode()
        return AWSResponse(request.url, 500, {"Content-Type": "application/x-amz-json-1.1"}, CannedBody(body))

    client.meta.events.register("before-send", server_error)
    with pytest.raises(ClientError) as raised:
        client.get_parameter(Name="/p")
    assert aws_client.error_code(raised.value) == "InternalServerError"
    assert len(sent) == max_attempts
    assert len(sleeps) == max_attempts - 1


def test_botocore_retries_throttling_until_it_succeeds(aws_env: None, sleeps: t.List[float]) -> None:
    client = boto3.client("ssm", region_name=REGION, config=aws_client.botocore_config())
    sent: t.List[str] = []

    def throttle_twice(request: t.Any, **_kwargs: t.Any) -> AWSResponse:
        sent.append(request.url)
        if len(sent) <= 2:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, CannedBody(body))
        body = json.dumps({"Parameter": {"Name": "/p", "Value": "v", "Type": "String"}}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, CannedBody(body))

    client.meta.events.register("before-send", throttle_twice)
    assert client.get_parameter(Name="/p")["Parameter"]["Value"] == "v"
    assert len(sent) == 3 and len(sleeps) >= 2
    assert aws_client.DEFAULT_MAX_ATTEMPTS == 10


def test_aws_client_of_a_module_has_the_options_retry_config(aws_env: None) -> None:
    with patch_module_args({"max_attempts": 4, "region": "eu-west-1"}):
        module = aws_client.create_aws_module({}, supports_check_mode=True)
    client = aws_client.aws_client(module, "ssm")
    assert isinstance(client, RetryingBotoClientWrapper)
    assert client.client.meta.region_name == "eu-west-1"
    assert client.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}


def test_create_aws_module_refuses_zero_attempts(aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with patch_module_args({"max_attempts": 0, "region": REGION}), pytest.raises(SystemExit):
        aws_client.create_aws_module({})
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"] == "max_attempts must be 1 or more, got 0"


# ---------------------------------------------------------------- one session per process and credential source


def module_with(**params: t.Any) -> aws_client.AwsModule:
    with patch_module_args({"region": REGION, **params}):
        return aws_client.create_aws_module({}, supports_check_mode=True)


def test_a_second_client_reads_no_service_model_from_disk(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    module = module_with()
    aws_client.botocore_client(module, "ssm")
    files_read: t.List[str] = []
    read_file = botocore.loaders.JSONFileLoader.load_file
    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", lambda self, path: files_read.append(path) or read_file(self, path))
    second = aws_client.botocore_client(module_with(), "ssm")
    assert second.meta.region_name == REGION
    assert files_read == []  # amazon.aws's module.client reads the ssm model, endpoints and partitions again


def test_new_aws_credentials_in_the_environment_get_a_new_session(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRSTFIRSTFIRST1")
    first = aws_client.botocore_client(module_with(), "ssm")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECONDSECONDSEC2")
    second = aws_client.botocore_client(module_with(), "ssm")
    assert first._request_signer._credentials.access_key == "AKIAFIRSTFIRSTFIRST1"  # pylint: disable=protected-access
    assert second._request_signer._credentials.access_key == "AKIASECONDSECONDSEC2"  # pylint: disable=protected-access


def test_the_module_connection_options_reach_the_client(aws_env: None) -> None:
    module = module_with(max_attempts=3, endpoint_url="http://127.0.0.1:4999", access_key="AKIAOPTIONOPTIONOPT1", secret_key="s",
                         validate_certs=False, aws_config={"connect_timeout": 7})
    client = aws_client.botocore_client(module, "servicecatalog", read_timeout=11)
    assert client.meta.endpoint_url == "http://127.0.0.1:4999"
    assert client._request_signer._credentials.access_key == "AKIAOPTIONOPTIONOPT1"  # pylint: disable=protected-access
    assert client._endpoint.http_session._verify is False  # pylint: disable=protected-access
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries) == (7, 11, {"mode": "adaptive", "total_max_attempts": 3})
    assert config.user_agent_extra.startswith("APN/1.0 Ansible/") and config.user_agent_extra.endswith(" multiregion.serverless")


def test_an_unknown_profile_fails_in_one_line(aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # keys and a profile together are refused before any session
    with patch_module_args({"region": REGION, "profile": "no-such-profile"}), pytest.raises(SystemExit):
        aws_client.botocore_client(aws_client.create_aws_module({}), "ssm")
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"] == "Couldn't connect to AWS: The config profile (no-such-profile) could not be found"


def test_a_client_without_a_region_fails_with_the_region_message(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    with patch_module_args({}), pytest.raises(SystemExit):
        aws_client.botocore_client(aws_client.create_aws_module({}), "ssm")
    assert json.loads(capsys.readouterr().out)["msg"] == aws_client.REGION_REQUIRED
