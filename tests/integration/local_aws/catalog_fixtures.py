"""Templates and a product in S3 for the Service Catalog scenarios, and the service templates (a role, a function,
a retained table named per tenant) the stack update and plan tests build tenants from."""
from __future__ import annotations

import io
import json
import zipfile
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


CODE_KEY = "orders/code.zip"
ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def zip_of(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def function(handler: str, name: Any = None) -> Dict[str, Any]:
    """A function whose code is a ZIP in the template bucket, as packaged services have it (``CODE_KEY``)."""
    properties: Dict[str, Any] = {"Runtime": "python3.12", "Handler": handler, "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                                  "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": CODE_KEY}}
    if name is not None:
        properties["FunctionName"] = name
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def service_template(handler: str = "app.handler") -> Dict[str, Any]:
    """A service as Serverless packages one: a role, a function, and a retained table named per tenant."""
    return {
        "Parameters": {"TenantId": {"Type": "String"}, "CodeBucket": {"Type": "String"}},
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ASSUME}},
            "OrdersFunction": function(handler, {"Fn::Sub": "orders-${TenantId}"}),
            "OrdersTable": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "TableName": {"Fn::Sub": "orders-${TenantId}"},
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
        },
        "Outputs": {"TableName": {"Value": {"Ref": "OrdersTable"}}, "FunctionArn": {"Value": {"Fn::GetAtt": ["OrdersFunction", "Arn"]}}},
    }


def root_template(service_url: str, bucket: str) -> Dict[str, Any]:
    return {
        "Parameters": {"TenantId": {"Type": "String"}},
        "Resources": {"OrdersStack": {"Type": "AWS::CloudFormation::Stack",
                                      "Properties": {"TemplateURL": service_url, "Parameters": {"TenantId": {"Ref": "TenantId"}, "CodeBucket": bucket}}}},
        "Outputs": {"TableName": {"Value": {"Fn::GetAtt": ["OrdersStack", "Outputs.TableName"]}}},
    }


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
