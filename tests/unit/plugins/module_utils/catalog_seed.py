"""Seeding for the service tests under ``aws_mock``, through plain boto3: a stage-owned product with two versions whose
templates live in an S3 bucket of the mock, the latest version's id in SSM (as the catalog phase writes it), and
tenants provisioned from it. ``ServiceClients`` gives the service its clients and keeps the requests they sent.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import ACCOUNT_WIDE, AwsApis
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import botocore_config
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import STAGE_TAG_KEY
from local_aws.catalog_access import grant_launch_path

REGION = "eu-west-1"
BUCKET = "service-test-templates"
SSM_PREFIX = "/ms/dev"


_SESSION: Dict[str, Any] = {}


def client(aws_mock: Any, service: str, **kwargs: Any) -> Any:
    """A boto3 client of the mock, made from one session for the whole run: a session loads botocore's data files once,
    a fresh session per client (``aws_mock.client``) costs about 0.1 s each."""
    if "session" not in _SESSION:
        _SESSION["session"] = aws_mock.session(REGION)
    return _SESSION["session"].client(service, **kwargs)


def tenant_template(version: int) -> Dict[str, Any]:
    """V1: one queue named after the tenant, its URL as output; V2 adds the output ``Feature``."""
    outputs: Dict[str, Any] = {"QueueUrl": {"Value": {"Ref": "Queue"}}}
    if version > 1:
        outputs["Feature"] = {"Value": "x"}
    return {
        "Parameters": {"TenantId": {"Type": "String"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "tenant-${TenantId}"}}}},
        "Outputs": outputs,
    }


@dataclass
class Seeded:
    product: str
    product_id: str
    versions: Dict[str, str]  # V1, V2 -> artifact id
    parameter: str  # the SSM parameter holding the latest artifact id (V2's)
    tenants: Dict[str, Dict[str, str]] = field(default_factory=dict)  # name -> {"id": provisioned product id, "record": its last record}


def seed_product(aws_mock: Any, product: str = "core", stage: str = "dev") -> Seeded:
    s3 = client(aws_mock, "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    urls = []
    for version in (1, 2):
        key = f"{product}/v{version}.json"
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(tenant_template(version)).encode())
        urls.append(f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}")
    sc = client(aws_mock, "servicecatalog")
    created = sc.create_product(
        Name=product, Owner="platform", ProductType="CLOUD_FORMATION_TEMPLATE", Tags=[{"Key": STAGE_TAG_KEY, "Value": stage}],
        ProvisioningArtifactParameters={"Name": "V1", "Info": {"LoadTemplateFromURL": urls[0]}, "Type": "CLOUD_FORMATION_TEMPLATE"},
    )
    product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    grant_launch_path(sc, product_id)
    second = sc.create_provisioning_artifact(
        ProductId=product_id, Parameters={"Name": "V2", "Info": {"LoadTemplateFromURL": urls[1]}, "Type": "CLOUD_FORMATION_TEMPLATE"}
    )
    versions = {"V1": created["ProvisioningArtifactDetail"]["Id"], "V2": second["ProvisioningArtifactDetail"]["Id"]}
    parameter = f"{SSM_PREFIX}/products/{product}/latest-artifact-id"
    client(aws_mock, "ssm").put_parameter(Name=parameter, Value=versions["V2"], Type="String")
    return Seeded(product, product_id, versions, parameter)


def template_url(product: str, name: str) -> str:
    return f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{product}/{name}.json"


def add_version(aws_mock: Any, seeded: Seeded, name: str, template: Dict[str, Any]) -> str:
    """Version ``name`` of ``template`` (its file in the bucket), its id in SSM as the catalog phase writes it; its id."""
    client(aws_mock, "s3").put_object(Bucket=BUCKET, Key=f"{seeded.product}/{name}.json", Body=json.dumps(template).encode())
    created = client(aws_mock, "servicecatalog").create_provisioning_artifact(
        ProductId=seeded.product_id,
        Parameters={"Name": name, "Info": {"LoadTemplateFromURL": template_url(seeded.product, name)}, "Type": "CLOUD_FORMATION_TEMPLATE"},
    )
    seeded.versions[name] = created["ProvisioningArtifactDetail"]["Id"]
    client(aws_mock, "ssm").put_parameter(Name=seeded.parameter, Value=seeded.versions[name], Type="String", Overwrite=True)
    return seeded.versions[name]


def provision(aws_mock: Any, seeded: Seeded, name: str, version: str, in_progress: bool = False) -> None:
    """Tenant ``name`` (TenantId ``name``) on ``version``; ``in_progress`` leaves it UNDER_CHANGE for the rest of the test."""
    aws_mock.set_faults(record_duration_s=3600 if in_progress else 0)
    record = client(aws_mock, "servicecatalog").provision_product(
        ProductId=seeded.product_id, ProvisioningArtifactId=seeded.versions[version], ProvisionedProductName=name,
        ProvisioningParameters=[{"Key": "TenantId", "Value": name}], ProvisionToken=uuid.uuid4().hex,
    )["RecordDetail"]
    aws_mock.set_faults(record_duration_s=0)
    seeded.tenants[name] = {"id": record["ProvisionedProductId"], "record": record["RecordId"]}


def tenant_states(aws_mock: Any, product_id: str) -> Dict[str, Dict[str, Any]]:
    """name -> status, artifact id and the stack's parameters and outputs, read back through Service Catalog and CloudFormation."""
    rows = client(aws_mock, "servicecatalog").search_provisioned_products(
        AccessLevelFilter=ACCOUNT_WIDE, Filters={"SearchQuery": [f"productId:{product_id}"]}, PageSize=100
    )["ProvisionedProducts"]
    cfn = client(aws_mock, "cloudformation")
    states = {}
    for row in rows:
        stack = cfn.describe_stacks(StackName=row["PhysicalId"])["Stacks"][0] if row.get("PhysicalId") else {}
        states[row["Name"]] = {
            "status": row["Status"],
            "artifact": row["ProvisioningArtifactId"],
            "parameters": {item["ParameterKey"]: item["ParameterValue"] for item in stack.get("Parameters", [])},
            "outputs": sorted(item["OutputKey"] for item in stack.get("Outputs", [])),
        }
    return states


class ServiceClients:
    """The service's clients: the mock's boto3 clients with the modules' retry configuration at one attempt (an injected
    error surfaces at once). ``requests`` are the (operation, parameters) sent; ``before[operation]`` runs just before
    that operation is sent (to start a fault at an exact point of the walk)."""

    def __init__(self, aws_mock: Any) -> None:
        self.aws_mock = aws_mock
        self.requests: List[Tuple[str, Dict[str, Any]]] = []
        self.before: Dict[str, Callable[[], Any]] = {}
        self.apis = AwsApis(self.client, REGION)

    def client(self, service: str) -> Any:
        made = client(self.aws_mock, service, config=botocore_config(1))
        made.meta.events.register("before-parameter-build", self._sending)
        return made

    def _sending(self, params: Dict[str, Any], model: Any, **_kwargs: Any) -> None:
        self.requests.append((model.name, dict(params)))
        if model.name in self.before:
            self.before[model.name]()

    def sent(self, operation: str) -> List[Dict[str, Any]]:
        return [params for name, params in self.requests if name == operation]
