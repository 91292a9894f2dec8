# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/aws_client.py, offline.

Retries are counted on real functions and real botocore clients; only ``time.sleep`` is replaced so the
backoff costs no time. AWS answers come from botocore's own ``before-send`` / ``before-call`` hooks or
from moto's in-process ``mock_aws``.
"""
from __future__ import annotations

import json
import time
import typing as t

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from ansible.module_utils.testing import patch_module_args
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


class FlakyCall:
    """A real function that fails with ``code`` for its first ``failures`` calls, then returns."""

    def __init__(self, code: str, failures: int) -> None:
        self.code = code
        self.failures = failures
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise client_error(self.code, "try later")
        return "done"


class CannedBody:
    """The raw body botocore reads from an ``AWSResponse``."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs: t.Any) -> t.Iterator[bytes]:
        yield self.body


@pytest.fixture(name="sleeps")
def fixture_sleeps(monkeypatch: pytest.MonkeyPatch) -> t.List[float]:
    """Every ``time.sleep`` of the backoff, recorded instead of slept."""
    recorded: t.List[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


@pytest.fixture(name="aws_env")
def fixture_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override, so clients reach moto's interception (or nothing)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


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


# ---------------------------------------------------------------- the outer retry (AWSRetry)


@pytest.mark.parametrize("code", ["ThrottlingException", "SlowDown", "503", "Throttling", "RequestLimitExceeded", "InternalError"])
def test_retry_decorator_retries_throttling_until_success(code: str, sleeps: t.List[float]) -> None:
    call = FlakyCall(code, failures=2)
    assert aws_client.retry_decorator(3)(call)() == "done"
    assert call.attempts == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException", "ValidationException", "NoSuchKey"])
def test_retry_decorator_does_not_retry_other_errors(code: str, sleeps: t.List[float]) -> None:
    call = FlakyCall(code, failures=1)
    with pytest.raises(ClientError) as raised:
        aws_client.retry_decorator(3)(call)()
    assert aws_client.error_code(raised.value) == code
    assert call.attempts == 1
    assert not sleeps


def test_retry_decorator_gives_up_after_its_budget(sleeps: t.List[float]) -> None:
    call = FlakyCall("ThrottlingException", failures=100)
    with pytest.raises(ClientError):
        aws_client.retry_decorator(2)(call)()
    # max_attempts + 2 outer attempts, each botocore call already retried max_attempts times inside
    assert call.attempts == 4
    assert len(sleeps) == 3
    assert all(0 <= delay <= 20 for delay in sleeps)


def test_retry_decorator_with_one_attempt_still_backs_off_on_throttling(sleeps: t.List[float]) -> None:
    call = FlakyCall("SlowDown", failures=2)
    assert aws_client.retry_decorator(1)(call)() == "done"
    assert call.attempts == 3


def test_client_wrapper_retries_only_calls_made_with_aws_retry(aws_env: None, sleeps: t.List[float]) -> None:
    raw = boto3.client("ssm", region_name=REGION, config=aws_client.botocore_config(1))
    answers = [client_error("ThrottlingException", "Rate exceeded"), client_error("ThrottlingException", "Rate exceeded")]
    calls: t.List[str] = []

    def answer_from_list(**_kwargs: t.Any) -> t.Tuple[AWSResponse, t.Dict[str, t.Any]]:
        calls.append("GetParameter")
        if answers:
            return short_circuit(answers.pop(0))
        return short_circuit(Parameter={"Name": "/p", "Value": "v"})

    raw.meta.events.register("before-call.ssm.GetParameter", answer_from_list)
    wrapped = RetryingBotoClientWrapper(raw, aws_client.retry_decorator(1))

    with pytest.raises(ClientError):
        wrapped.get_parameter(Name="/p")
    assert len(calls) == 1

    assert wrapped.get_parameter(Name="/p", aws_retry=True)["Parameter"]["Value"] == "v"
    assert len(calls) == 3  # one more throttle, then the answer
    assert len(sleeps) == 1


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


# ---------------------------------------------------------------- paginate


@pytest.fixture(name="ssm_with_parameters")
def fixture_ssm_with_parameters(aws_env: None) -> t.Iterator[t.Any]:
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        for index in range(23):
            ssm.put_parameter(Name=f"/multiregion/dev/products/p{index:02d}/latest-artifact-id", Value=f"pa-{index}", Type="String")
        ssm.put_parameter(Name="/elsewhere/other", Value="x", Type="String")
        yield ssm


def count_pages(client: t.Any, operation: str) -> t.List[int]:
    pages: t.List[int] = []
    client.meta.events.register(f"after-call.ssm.{operation}", lambda **_kwargs: pages.append(1))
    return pages


def test_paginate_merges_all_pages(ssm_with_parameters: t.Any) -> None:
    pages = count_pages(ssm_with_parameters, "GetParametersByPath")
    result = aws_client.paginate(
        ssm_with_parameters, "get_parameters_by_path", Path="/multiregion/dev", Recursive=True, PaginationConfig={"PageSize": 10},
    )
    names = sorted(parameter["Name"] for parameter in aws_client.collect(result, "Parameters"))
    assert names == [f"/multiregion/dev/products/p{index:02d}/latest-artifact-id" for index in range(23)]
    assert len(pages) == 3
    assert "NextToken" not in result


def test_paginate_accepts_the_retrying_wrapper(ssm_with_parameters: t.Any) -> None:
    wrapped = RetryingBotoClientWrapper(ssm_with_parameters, aws_client.retry_decorator(3))
    result = aws_client.paginate(wrapped, "describe_parameters", PaginationConfig={"PageSize": 10})
    assert len(aws_client.collect(result, "Parameters")) == 24


def test_paginate_retries_a_throttled_page(ssm_with_parameters: t.Any, sleeps: t.List[float]) -> None:
    requests: t.List[int] = []

    def throttle_second_page(**_kwargs: t.Any) -> t.Optional[t.Tuple[AWSResponse, t.Dict[str, t.Any]]]:
        requests.append(1)
        if len(requests) == 2:
            return short_circuit(client_error("ThrottlingException", "Rate exceeded", "GetParametersByPath"))
        return None

    ssm_with_parameters.meta.events.register("before-call.ssm.GetParametersByPath", throttle_second_page)
    result = aws_client.paginate(
        ssm_with_parameters, "get_parameters_by_path", Path="/multiregion/dev", Recursive=True, PaginationConfig={"PageSize": 10},
    )
    assert len(aws_client.collect(result, "Parameters")) == 23
    assert len(sleeps) == 1
    assert len(requests) == 5  # page 1, the throttled page 2, then the whole listing again


def test_paginate_does_not_retry_access_denied(ssm_with_parameters: t.Any, sleeps: t.List[float]) -> None:
    def deny(**_kwargs: t.Any) -> t.Tuple[AWSResponse, t.Dict[str, t.Any]]:
        return short_circuit(client_error("AccessDeniedException", "not allowed", "DescribeParameters"))

    ssm_with_parameters.meta.events.register("before-call.ssm.DescribeParameters", deny)
    with pytest.raises(ClientError):
        aws_client.paginate(ssm_with_parameters, "describe_parameters")
    assert not sleeps


def test_collect_of_a_missing_key_is_empty() -> None:
    assert not aws_client.collect({}, "Parameters")
    assert aws_client.collect({"Parameters": None}, "Parameters") == []
