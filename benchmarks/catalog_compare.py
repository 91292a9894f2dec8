"""What the fingerprint in the version description saves on a run where nothing changed.

In-process local AWS (moto + our extension): a product of N nested services, then the catalog step run on an
unchanged template twice per case:
  * fingerprinted: the current version carries ``[fingerprint:...]`` (made by this collection);
  * hand-made: the same template, but the version has no marker, so its template and nested templates are fetched.
Prints AWS calls and wall time per run, and the ratios. Usage: .venv/bin/python benchmarks/catalog_compare.py [N]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".collections"), str(REPO / "tools")]

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis  # noqa: E402
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import botocore_config  # noqa: E402
from local_aws import CALLS, install  # noqa: E402
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog_versioner import (  # noqa: E402
    CatalogRequest,
    CatalogVersioner,
)

REGION, BUCKET, ACCOUNT = "us-east-1", "bench-artifacts", "123456789012"
ROUNDS = 5


def main(services: int) -> None:
    install()
    with mock_aws():
        session = boto3.session.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        apis = AwsApis(lambda name: session.client(name, config=botocore_config()), REGION)
        s3 = apis.s3.client
        s3.create_bucket(Bucket=BUCKET)
        resources = {}
        for index in range(services):
            key = f"serverless/svc{index}/dev/templates/t.json"
            body = {"Resources": {f"Fn{n}": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": f"h{n}.main", "MemorySize": 128}} for n in range(40)}}
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
            template_url = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}"
            resources[f"Svc{index}Stack"] = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": template_url}}
        s3.put_object(Bucket=BUCKET, Key="products/p.json", Body=json.dumps({"Resources": resources}).encode())
        url = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/products/p.json"

        def step(product: str) -> dict:
            request = CatalogRequest(product=product, ssm_parameter=f"/bench/products/{product}/latest-artifact-id", region=REGION,
                                     template_url=url, expected_bucket_owner=ACCOUNT, create_missing_product=True, product_owner="bench")
            return CatalogVersioner(request, apis, lambda message: None).run()

        step("fingerprinted")  # creates V1 with the marker, and the SSM parameter
        apis.servicecatalog.client.create_product(
            Name="hand-made", Owner="bench", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="hand",
            ProvisioningArtifactParameters={"Name": "V1", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
        )
        step("hand-made")  # writes the SSM parameter once; the version stays without a marker

        measured = {}
        for product in ("fingerprinted", "hand-made"):
            CALLS.reset()
            started = time.perf_counter()
            for round_number in range(ROUNDS):
                assert not step(product)["changed"]
            seconds = (time.perf_counter() - started) / ROUNDS
            calls = sum(sum(ops.values()) for ops in CALLS.calls().values()) / ROUNDS
            measured[product] = (calls, seconds)
            print(f"{product:14s} {calls:5.1f} AWS calls/run  {seconds * 1000:7.1f} ms/run  ({services} nested templates)")
        (fp_calls, fp_s), (hm_calls, hm_s) = measured["fingerprinted"], measured["hand-made"]
        print(f"hand-made / fingerprinted: calls x{hm_calls / fp_calls:.2f}, time x{hm_s / fp_s:.2f}")
        print("(the fingerprinted run still reads the NEW template tree: the fingerprint saves the download of the CURRENT one)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
