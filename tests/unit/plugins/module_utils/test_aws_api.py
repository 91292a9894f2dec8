"""The AWS access layer (plugins/module_utils/aws_api.py): one call path, one error type, the code tables, paging.

Real botocore clients against moto (in-process) or answered by botocore hooks; fakes only where a test is about
the PageToken loop itself.
"""
from __future__ import annotations

import json
import typing as t

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import is_ansible_aws_error_code
from ansible_collections.multiregion.serverless.plugins.module_utils import aws_api
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, botocore_config

REGION = "us-east-1"


class CannedBody:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs: t.Any) -> t.Iterator[bytes]:
        yield self.body


@pytest.fixture(name="ssm")
def fixture_ssm(aws_env: None) -> t.Iterator[aws_api.SsmApi]:
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION, config=botocore_config(3))
        for index in range(23):
            client.put_parameter(Name=f"/multiregion/dev/products/p{index:02d}/latest-artifact-id", Value=f"pa-{index}", Type="String")
        yield aws_api.SsmApi(client, REGION)


def requests_of(api: aws_api.ServiceApi, operation: str) -> t.List[t.Dict[str, t.Any]]:
    """Every request of ``operation`` that reaches the wire (retries included)."""
    sent: t.List[t.Dict[str, t.Any]] = []
    api.client.meta.events.register_first(f"before-send.{api.SERVICE}.{operation}", lambda request, **_kw: sent.append({"url": request.url}))
    return sent


# ---------------------------------------------------------------- one call path, one error type


def test_a_failed_call_is_an_aws_api_error_naming_operation_region_and_resource(ssm: aws_api.SsmApi) -> None:
    with pytest.raises(AwsApiError) as raised:
        ssm.read_value("/multiregion/dev/missing")
    error = raised.value
    assert str(error).startswith("GetParameter failed in us-east-1 for /multiregion/dev/missing: ParameterNotFound")
    assert (error.operation, error.region, error.resource, error.code) == ("GetParameter", REGION, "/multiregion/dev/missing", "ParameterNotFound")
    assert "\n" not in str(error)


def test_missing_ok_turns_only_the_services_not_found_codes_into_none(ssm: aws_api.SsmApi) -> None:
    assert ssm.get_parameter("/multiregion/dev/missing") is None
    assert ssm.get_parameter("/multiregion/dev/products/p01/latest-artifact-id")["Value"] == "pa-1"

    def deny(request: t.Any, **_kwargs: t.Any) -> AWSResponse:
        body = json.dumps({"__type": "AccessDeniedException", "message": "not allowed"}).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, CannedBody(body))

    ssm.client.meta.events.register_first("before-send.ssm.GetParameter", deny)
    with pytest.raises(AwsApiError) as raised:  # access denied is not "missing"
        ssm.get_parameter("/multiregion/dev/missing")
    assert raised.value.code == "AccessDeniedException"
    assert str(raised.value) == "GetParameter failed in us-east-1 for parameter /multiregion/dev/missing: AccessDeniedException: not allowed"


def test_put_parameter_returns_its_version(ssm: aws_api.SsmApi) -> None:
    assert ssm.put_parameter("/multiregion/dev/x", "a") == 1
    assert ssm.put_parameter("/multiregion/dev/x", "b") == 2
    assert ssm.read_value("/multiregion/dev/x") == "b"


def test_each_service_has_one_table_of_codes() -> None:
    assert aws_api.ServiceCatalogApi.MISSING_CODES == ("ResourceNotFoundException",)
    assert aws_api.SsmApi.MISSING_CODES == ("ParameterNotFound",)
    assert "404" in aws_api.S3Api.MISSING_CODES and "NoSuchKey" in aws_api.S3Api.MISSING_CODES
    assert "403" in aws_api.S3Api.DENIED_CODES and "AccessDenied" in aws_api.S3Api.DENIED_CODES
    for api in (aws_api.ServiceCatalogApi, aws_api.SsmApi, aws_api.S3Api):
        # the error handler (amazon.aws's AWSErrorHandler) is made from the service's table
        assert issubclass(api.ERRORS, aws_api.ServiceErrors)
        assert (api.ERRORS.MISSING_CODES, api.ERRORS.DENIED_CODES) == (api.MISSING_CODES, api.DENIED_CODES)


def test_s3_head_object_is_none_when_missing_and_a_foreign_bucket_is_denied_by_code(aws_mock: t.Any) -> None:
    client = aws_mock.client("s3", REGION)
    client.create_bucket(Bucket="ours")
    client.put_object(Bucket="ours", Key="k", Body=b"x")
    s3 = aws_api.S3Api(client, REGION)
    assert s3.head_object("ours", "absent", "123456789012") is None
    assert s3.head_object("ours", "k", "123456789012")["ContentLength"] == 1
    assert s3.get_bytes("ours", "k", None) == b"x"
    with pytest.raises(AwsApiError) as raised:
        try:
            s3.head_object("ours", "k", "210987654321")
        except is_ansible_aws_error_code(aws_api.S3Api.DENIED_CODES) as denied:
            raise denied
    assert str(raised.value) == "HeadObject failed in us-east-1 for s3://ours/k: AccessDenied: Access Denied"
    assert raised.value.code in aws_api.S3Api.DENIED_CODES


# ---------------------------------------------------------------- paging


def test_paginate_merges_every_page_of_a_botocore_paginator(ssm: aws_api.SsmApi) -> None:
    sent = requests_of(ssm, "GetParametersByPath")
    result = ssm.paginate("GetParametersByPath", "/multiregion/dev", Path="/multiregion/dev", Recursive=True, PaginationConfig={"PageSize": 10})
    names = sorted(parameter["Name"] for parameter in result["Parameters"])
    assert names == [f"/multiregion/dev/products/p{index:02d}/latest-artifact-id" for index in range(23)]
    assert len(sent) == 3 and "NextToken" not in result


def test_a_failed_page_is_retried_by_botocore_alone(ssm: aws_api.SsmApi, sleeps: t.List[float]) -> None:
    sent: t.List[str] = []

    def fail_second_request(request: t.Any, **_kwargs: t.Any) -> t.Optional[AWSResponse]:
        sent.append(request.url)
        if len(sent) == 2:  # a 500: retried by the policy without the adaptive rate limiter's real-time waits
            body = json.dumps({"__type": "InternalServerError", "message": "try again"}).encode()
            return AWSResponse(request.url, 500, {"Content-Type": "application/x-amz-json-1.1"}, CannedBody(body))
        return None  # moto answers

    ssm.client.meta.events.register_first("before-send.ssm.GetParametersByPath", fail_second_request)
    result = ssm.paginate("GetParametersByPath", "/multiregion/dev", Path="/multiregion/dev", Recursive=True, PaginationConfig={"PageSize": 10})
    assert len(result["Parameters"]) == 23
    assert len(sent) == 4  # page 1, page 2 failed, page 2 again, page 3: no listing starts over
    assert len(sleeps) == 1


def test_paginate_errors_are_located_and_not_retried(ssm: aws_api.SsmApi, sleeps: t.List[float]) -> None:
    def deny(request: t.Any, **_kwargs: t.Any) -> AWSResponse:
        body = json.dumps({"__type": "AccessDeniedException", "message": "not allowed"}).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, CannedBody(body))

    ssm.client.meta.events.register_first("before-send.ssm.DescribeParameters", deny)
    with pytest.raises(AwsApiError) as raised:
        ssm.paginate("DescribeParameters", "parameters of dev")
    assert str(raised.value) == "DescribeParameters failed in us-east-1 for parameters of dev: AccessDeniedException: not allowed"
    assert not sleeps


class PagedCatalog:
    """A Service Catalog client that pages by PageToken and records every request."""

    def __init__(self, pages: t.Dict[t.Optional[str], t.Dict[str, t.Any]]) -> None:
        self.pages = pages
        self.requests: t.List[t.Dict[str, t.Any]] = []

    def _answer(self, **kwargs: t.Any) -> t.Dict[str, t.Any]:
        self.requests.append(kwargs)
        return self.pages[kwargs.get("PageToken")]

    search_provisioned_products = describe_record = _answer


def test_token_pages_follows_page_tokens_and_keeps_the_first_answer() -> None:
    client = PagedCatalog({None: {"Items": [1, 2], "Head": "h", "NextPageToken": "p2"}, "p2": {"Items": [3], "NextPageToken": None}})
    first, items = aws_api.ServiceCatalogApi(client, REGION).token_pages("SearchProvisionedProducts", "x", "Items", Filter="x")
    assert items == [1, 2, 3] and first["Head"] == "h"
    assert client.requests == [{"Filter": "x"}, {"Filter": "x", "PageToken": "p2"}]


def test_search_provisioned_products_lists_the_whole_account_by_name() -> None:
    client = PagedCatalog({None: {"ProvisionedProducts": [{"Id": "pp-1"}], "NextPageToken": "t"}, "t": {"ProvisionedProducts": [{"Id": "pp-2"}]}})
    rows = aws_api.ServiceCatalogApi(client, REGION).search_provisioned_products("prod-abcdef", "product core (prod-abcdef)")
    assert [row["Id"] for row in rows] == ["pp-1", "pp-2"]
    assert client.requests[0] == {"AccessLevelFilter": {"Key": "Account", "Value": "self"}, "Filters": {"SearchQuery": ["productId:prod-abcdef"]},
                                  "SortBy": "name", "PageSize": 100}


def test_describe_record_reads_every_page_of_outputs() -> None:
    detail = {"RecordId": "rec-1", "Status": "SUCCEEDED"}
    client = PagedCatalog({
        None: {"RecordDetail": detail, "RecordOutputs": [{"OutputKey": "A", "OutputValue": "1"}], "NextPageToken": "o2"},
        "o2": {"RecordDetail": detail, "RecordOutputs": [{"OutputKey": "B", "OutputValue": "2"}]},
    })
    state = aws_api.ServiceCatalogApi(client, REGION).describe_record("rec-1")
    assert state.succeeded and state.outputs == {"A": "1", "B": "2"}
    assert client.requests == [{"Id": "rec-1", "PageSize": 20}, {"Id": "rec-1", "PageSize": 20, "PageToken": "o2"}]


def test_one_page_of_outputs_is_one_call() -> None:
    client = PagedCatalog({None: {"RecordDetail": {"RecordId": "rec-1", "Status": "IN_PROGRESS"}, "RecordOutputs": []}})
    assert not aws_api.ServiceCatalogApi(client, REGION).describe_record("rec-1").done
    assert len(client.requests) == 1


# ---------------------------------------------------------------- clients


def test_aws_apis_makes_each_client_once_on_first_use() -> None:
    made: t.List[str] = []

    def make(service: str) -> object:
        made.append(service)
        return object()

    apis = aws_api.AwsApis(make, "eu-west-1")
    assert not made
    assert apis.servicecatalog is apis.servicecatalog and apis.ssm is apis.ssm and apis.s3.region == "eu-west-1"
    assert made == ["servicecatalog", "ssm", "s3"]


def test_snake_case_gives_boto3_method_names() -> None:
    assert aws_api.snake_case("DescribeProductAsAdmin") == "describe_product_as_admin"
    assert aws_api.snake_case("GetParametersByPath") == "get_parameters_by_path"
