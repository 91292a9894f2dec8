"""Templates and a product in S3 for the Service Catalog scenarios."""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

from local_aws.catalog_access import grant_launch_path

TENANT_TEMPLATE: Dict[str, Any] = {
    "Parameters": {
        "TenantId": {"Type": "String"},
        "TenantTier": {"Type": "String", "Default": "standard", "AllowedValues": ["standard", "premium"]},
    },
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "tenant-${TenantId}-${TenantTier}"}}}},
    "Outputs": {"QueueName": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}, "Tier": {"Value": {"Ref": "TenantTier"}}},
}

LIGHT_TEMPLATE: Dict[str, Any] = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}


def put_template(s3: Any, bucket: str, key: str, template: Dict[str, Any], region: str = "us-east-1") -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(template).encode())
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def make_bucket(s3: Any, bucket: str, region: str = "us-east-1") -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def make_product(aws: Any, template: Optional[Dict[str, Any]] = None, region: str = "us-east-1", launch_path: bool = True) -> Tuple[Any, str, str, str]:
    """(servicecatalog client, product id, first artifact id, bucket); ``launch_path``: the caller may provision it
    (a portfolio with the product and the caller, ``grant_launch_path``)."""
    s3 = aws.client("s3", region)
    bucket = aws.unique("artifacts")
    make_bucket(s3, bucket, region)
    url = put_template(s3, bucket, "products/tenant/v1.json", template or TENANT_TEMPLATE, region)
    sc = aws.client("servicecatalog", region)
    created = sc.create_product(
        Name=aws.unique("tenant"),
        Owner="platform-team",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        ProvisioningArtifactParameters={"Name": "v1", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
    )
    product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    if launch_path:
        grant_launch_path(sc, product_id)
    return sc, product_id, created["ProvisioningArtifactDetail"]["Id"], bucket
