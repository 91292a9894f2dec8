"""The pure pieces of the local AWS: fault parsing, parameter resolution, paging, URL parsing, classification."""
from __future__ import annotations

import json

import pytest

from local_aws.faults import CallCounter, FaultError, FaultSettings, parse_faults
from local_aws.gate import AwsRequest, classify, throttling_response
from local_aws.servicecatalog import InvalidParametersException, page, resolve_parameters
from local_aws.templates import TemplateNotFound, parse_s3_url, parse_template

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20250101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=x"


def request(
    service: str, method: str = "POST", path: str = "/", host: str = "127.0.0.1:5000", query=None, headers=None, body=b"", region="eu-west-1"
) -> AwsRequest:
    all_headers = {"authorization": AUTH.format(region=region, service=service)}
    all_headers.update(headers or {})
    return AwsRequest(method, host, path, query or {}, all_headers, body)


def test_parse_faults_merges_and_validates():
    settings = parse_faults({"throttle_rate": 0.5, "fail_provisioned_products": ["t1"]})
    assert settings == FaultSettings(0.5, 0.0, frozenset({"t1"}), 0.0)
    assert parse_faults({"latency_ms": 5}, settings).throttle_rate == 0.5
    assert (settings.max_provisioning_artifacts, settings.max_products_per_portfolio) == (100, 250)  # AWS's default quotas
    assert parse_faults({"max_provisioning_artifacts": 3}).max_provisioning_artifacts == 3
    for bad in ({"throttle_rate": 1.5}, {"latency_ms": -1}, {"nope": 1}, {"fail_provisioned_products": "t1"},
                {"max_provisioning_artifacts": 0}, {"max_provisioning_artifacts": 2.5}, {"max_products_per_portfolio": "9"}):
        with pytest.raises(FaultError):
            parse_faults(bad)


def test_call_counter_counts_throttled_separately():
    counter = CallCounter()
    counter.count("s3", "PutObject")
    counter.count("s3", "PutObject", throttled=True)
    assert counter.calls() == {"s3": {"PutObject": 2}}
    assert counter.throttled() == {"s3": {"PutObject": 1}}
    counter.reset()
    assert counter.calls() == {} and counter.throttled() == {}


DECLARED = {"TenantId": {"Type": "String"}, "Tier": {"Type": "String", "Default": "standard", "AllowedValues": ["standard", "premium"]}}


def test_resolve_parameters_defaults_previous_and_errors():
    assert resolve_parameters(DECLARED, [{"Key": "TenantId", "Value": "a"}]) == {"TenantId": "a", "Tier": "standard"}
    previous = {"TenantId": "a", "Tier": "premium"}
    given = [{"Key": "TenantId", "UsePreviousValue": True}, {"Key": "Tier", "UsePreviousValue": True}]
    assert resolve_parameters(DECLARED, given, previous) == previous
    with pytest.raises(InvalidParametersException, match="TenantId is required"):
        resolve_parameters(DECLARED, [])
    with pytest.raises(InvalidParametersException, match="must be one of"):
        resolve_parameters(DECLARED, [{"Key": "TenantId", "Value": "a"}, {"Key": "Tier", "Value": "gold"}])
    with pytest.raises(InvalidParametersException, match="not defined"):
        resolve_parameters(DECLARED, [{"Key": "Other", "Value": "x"}, {"Key": "TenantId", "Value": "a"}])
    with pytest.raises(InvalidParametersException, match="Cannot specify usePreviousValue as true for a parameter key the provisioned product does not have"):
        resolve_parameters(DECLARED, [{"Key": "TenantId", "UsePreviousValue": True}], previous={})
    with pytest.raises(InvalidParametersException, match="Cannot specify usePreviousValue as true for a parameter key that the provisioning"):
        resolve_parameters(DECLARED, [{"Key": "Gone", "UsePreviousValue": True}, {"Key": "TenantId", "Value": "a"}], previous={"Gone": "x"})


def test_page_walks_all_items_once():
    items = list(range(45))
    seen, token = [], None
    while True:
        chunk, token = page(items, token, 20)
        seen += chunk
        if token is None:
            break
    assert seen == items
    with pytest.raises(InvalidParametersException):
        page(items, None, 101)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://my.bucket.s3.eu-west-1.amazonaws.com/a/b.json", ("my.bucket", "a/b.json")),
        ("https://bkt.s3.amazonaws.com/a%20b.json", ("bkt", "a b.json")),
        ("https://s3.eu-west-1.amazonaws.com/bkt/k/x.json", ("bkt", "k/x.json")),
        ("https://s3.amazonaws.com/bkt/x.json", ("bkt", "x.json")),
        ("http://127.0.0.1:4566/bkt/dir/x.json", ("bkt", "dir/x.json")),
    ],
)
def test_parse_s3_url_forms(url, expected):
    assert parse_s3_url(url) == expected


def test_parse_s3_url_rejects_non_objects():
    for url in ("ftp://bkt/x", "https://s3.amazonaws.com/bkt", "not a url"):
        with pytest.raises(TemplateNotFound):
            parse_s3_url(url)


def test_parse_template_json_and_yaml_with_short_intrinsics():
    assert parse_template(json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}))["Resources"]
    yaml_body = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub 'x-${AWS::Region}'\n"
    assert parse_template(yaml_body)["Resources"]["T"]["Properties"]["TopicName"] == {"Fn::Sub": "x-${AWS::Region}"}
    with pytest.raises(ValueError):
        parse_template(json.dumps({"Resources": {}}))


@pytest.mark.parametrize(
    "req, operation",
    [
        (request("servicecatalog", headers={"x-amz-target": "AWS242ServiceCatalogService.ProvisionProduct"}), "ProvisionProduct"),
        (request("ssm", headers={"x-amz-target": "AmazonSSM.PutParameter"}), "PutParameter"),
        (
            request("cloudformation", headers={"content-type": "application/x-www-form-urlencoded"}, body=b"Action=DescribeStacks&Version=2010-05-15"),
            "DescribeStacks",
        ),
        (request("s3", "PUT", "/bkt/a/b.zip"), "PutObject"),
        (request("s3", "PUT", "/bkt/a/b.zip", headers={"x-amz-copy-source": "src/k"}), "CopyObject"),
        (request("s3", "PUT", "/bkt/k", query={"partNumber": ["1"], "uploadId": ["u"]}), "UploadPart"),
        (request("s3", "HEAD", "/bkt/a/b.zip"), "HeadObject"),
        (request("s3", "GET", "/bkt", query={"list-type": ["2"], "prefix": ["a/"]}), "ListObjectsV2"),
        (request("s3", "GET", "/bkt"), "ListObjects"),
        (request("s3", "PUT", "/bkt"), "CreateBucket"),
        (request("s3", "GET", "/"), "ListBuckets"),
        (request("s3", "GET", "/k.json", host="bkt.s3.eu-west-1.amazonaws.com"), "GetObject"),
        (request("lambda", "GET", "/2015-03-31/functions/f"), "GetFunction"),
    ],
)
def test_classify_names_operations_like_the_api(req, operation):
    info = classify(req)
    assert info.operation == operation
    assert info.region == "eu-west-1"


def test_classify_s3_virtual_host_bucket():
    assert classify(request("s3", "GET", "/k.json", host="bkt.s3.eu-west-1.amazonaws.com")).bucket == "bkt"


@pytest.mark.parametrize(
    "service, status, code",
    [("servicecatalog", 400, "ThrottlingException"), ("ssm", 400, "ThrottlingException"), ("s3", 503, "SlowDown"),
     ("cloudformation", 400, "Throttling"), ("sts", 400, "Throttling"), ("lambda", 429, "TooManyRequestsException")],
)
def test_throttling_answer_per_protocol(service, status, code):
    answer_status, answer_headers, body = throttling_response(classify(request(service)))
    assert answer_status == status
    assert code.encode() in body
