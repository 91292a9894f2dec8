"""Throttling, call counts and S3 ExpectedBucketOwner under mock_aws and on the server; server-only control,
AWS CLI and concurrency checks."""
from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from catalog_fixtures import make_bucket

pytestmark = pytest.mark.integration

AWS_CLI = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "aws"


def test_throttling_uses_each_protocols_real_error_and_is_counted(aws):
    clients = {
        "servicecatalog": (aws.client("servicecatalog"), lambda c: c.scan_provisioned_products(), ("ThrottlingException", 400)),
        "ssm": (aws.client("ssm"), lambda c: c.describe_parameters(), ("ThrottlingException", 400)),
        "s3": (aws.client("s3"), lambda c: c.list_buckets(), ("SlowDown", 503)),
        "cloudformation": (aws.client("cloudformation"), lambda c: c.list_stacks(), ("Throttling", 400)),
        "sts": (aws.client("sts"), lambda c: c.get_caller_identity(), ("Throttling", 400)),
    }
    aws.handle.reset_calls()
    aws.handle.set_faults(throttle_rate=1.0)
    for service, (client, call, expected) in clients.items():
        with pytest.raises(ClientError) as throttled:
            call(client)
        error = throttled.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == expected, service
    aws.handle.clear_faults()
    for client, call, expected in clients.values():
        call(client)
    expected_ops = {"servicecatalog": "ScanProvisionedProducts", "ssm": "DescribeParameters", "s3": "ListBuckets",
                    "cloudformation": "ListStacks", "sts": "GetCallerIdentity"}
    calls, throttled_calls = aws.handle.calls(), aws.handle.throttled()
    for service, operation in expected_ops.items():
        assert calls[service][operation] == 2, service
        assert throttled_calls[service][operation] == 1, service


def test_retrying_clients_get_through_partial_throttling(aws):
    ssm = aws.client("ssm", attempts=10)
    aws.handle.reset_calls()
    aws.handle.set_faults(throttle_rate=0.2, latency_ms=1)
    for n in range(10):
        ssm.put_parameter(Name=f"/local-aws/{aws.unique('p')}/{n}", Value="v", Type="String")
    calls = aws.handle.calls()["ssm"]["PutParameter"]
    throttled = aws.handle.throttled().get("ssm", {}).get("PutParameter", 0)
    assert calls == 10 + throttled


def test_s3_operations_are_counted_by_api_name(aws):
    s3 = aws.client("s3")
    bucket = aws.unique("counted")
    make_bucket(s3, bucket)
    aws.handle.reset_calls()
    s3.put_object(Bucket=bucket, Key="a/one.zip", Body=b"1")
    s3.head_object(Bucket=bucket, Key="a/one.zip")
    s3.get_object(Bucket=bucket, Key="a/one.zip")["Body"].read()
    s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    s3.copy_object(Bucket=bucket, Key="a/two.zip", CopySource={"Bucket": bucket, "Key": "a/one.zip"})
    assert aws.handle.calls()["s3"] == {"PutObject": 1, "HeadObject": 1, "GetObject": 1, "ListObjectsV2": 1, "CopyObject": 1}


def test_expected_bucket_owner_is_enforced(aws):
    other_account = "210987654321"
    foreign_s3 = aws.handle.session_for_account(other_account).client("s3", endpoint_url=aws.handle.endpoint_url)
    s3 = aws.client("s3")
    mine, theirs = aws.unique("mine"), aws.unique("theirs")
    make_bucket(s3, mine)
    make_bucket(foreign_s3, theirs)
    s3.put_object(Bucket=mine, Key="k", Body=b"x", ExpectedBucketOwner=aws.account_id)
    assert s3.head_object(Bucket=mine, Key="k", ExpectedBucketOwner=aws.account_id)["ContentLength"] == 1
    for call in (
        lambda: s3.put_object(Bucket=theirs, Key="k", Body=b"x", ExpectedBucketOwner=aws.account_id),
        lambda: s3.list_objects_v2(Bucket=theirs, ExpectedBucketOwner=aws.account_id),
        lambda: s3.head_object(Bucket=mine, Key="k", ExpectedBucketOwner=other_account),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as denied_copy:
        s3.copy_object(Bucket=mine, Key="k2", CopySource={"Bucket": mine, "Key": "k"}, ExpectedSourceBucketOwner=other_account)
    assert denied_copy.value.response["Error"]["Code"] == "AccessDenied"


def test_control_endpoints_reject_bad_faults(local_aws):
    request = urllib.request.Request(f"{local_aws.endpoint_url}/_local_aws/faults", data=b'{"throttle_rate": 2}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(request, timeout=10)
    assert bad.value.code == 400
    assert local_aws.set_faults(latency_ms=0)["throttle_rate"] == 0.0


def test_aws_cli_works_against_the_server(local_aws):
    env = {**os.environ, **local_aws.env}
    bucket = f"cli-{os.getpid()}"
    subprocess.run([str(AWS_CLI), "s3api", "create-bucket", "--bucket", bucket], env=env, check=True, capture_output=True)
    out = subprocess.run([str(AWS_CLI), "servicecatalog", "scan-provisioned-products", "--output", "json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    assert "ProvisionedProducts" in json.loads(out)
    listed = subprocess.run([str(AWS_CLI), "s3api", "list-buckets", "--query", "Buckets[].Name", "--output", "json"],
                            env=env, check=True, capture_output=True, text=True).stdout
    assert bucket in json.loads(listed)


def test_server_answers_64_concurrent_clients(local_aws):
    prefix = f"/concurrency/{os.getpid()}"
    ssm = local_aws.client("ssm")  # boto3 clients are thread-safe; sessions are not cheap to build

    def work(n: int) -> str:
        ssm.put_parameter(Name=f"{prefix}/{n}", Value=str(n), Type="String", Overwrite=True)
        return ssm.get_parameter(Name=f"{prefix}/{n}")["Parameter"]["Value"]

    with ThreadPoolExecutor(max_workers=64) as pool:
        assert sorted(pool.map(work, range(128)), key=int) == [str(n) for n in range(128)]
