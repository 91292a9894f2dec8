"""Seeding for the rollout/validate tests: a product with two versions (V1, V2) per region, the V2 id in SSM the
way the catalog phase writes it, and tenants provisioned on V1 straight through boto3 (fast, no Ansible)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import botocore.config
from local_aws.catalog_access import grant_launch_path

TENANT_PARAMETERS = {
    "TenantId": {"Type": "String"},
    "TenantTier": {"Type": "String", "Default": "standard", "AllowedValues": ["standard", "premium"]},
}


def tenant_template(version: int) -> Dict[str, Any]:
    """V<n> of the tenant stack: each version adds an output, so an update really changes the stack."""
    outputs: Dict[str, Any] = {
        "TopicArn": {"Value": {"Ref": "Topic"}},
        "Tier": {"Value": {"Ref": "TenantTier"}},
    }
    for number in range(2, version + 1):
        outputs[f"Feature{number}"] = {"Value": f"v{number}"}
    return {
        "Parameters": dict(TENANT_PARAMETERS),
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "tenant-${TenantId}-${TenantTier}"}}}},
        "Outputs": outputs,
    }


@dataclass
class SeededRegion:
    region: str
    product: str
    product_id: str
    versions: Dict[str, str]  # name -> artifact id
    bucket: str
    ssm_prefix: str
    tenants: Dict[str, Dict[str, str]] = field(default_factory=dict)  # name -> parameters


class Seeder:
    """boto3 clients for one account of the local AWS (``endpoint_url`` None under aws_mock)."""

    def __init__(self, session: Any, endpoint_url: Optional[str]) -> None:
        self.session = session
        self.endpoint_url = endpoint_url

    def client(self, service: str, region: str) -> Any:
        config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=20)
        return self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=config)

    def product(self, region: str, product: str, ssm_prefix: str, versions: int = 2, latest: Optional[int] = None) -> SeededRegion:
        s3 = self.client("s3", region)
        bucket = f"mrs-rollout-{uuid.uuid4().hex[:10]}-{region}"
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        urls = []
        for number in range(1, versions + 1):
            key = f"products/{product}/test/v{number}.json"
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(tenant_template(number)).encode())
            urls.append(f"https://{bucket}.s3.{region}.amazonaws.com/{key}")
        sc = self.client("servicecatalog", region)
        created = sc.create_product(
            Name=product,
            Owner="platform-team",
            ProductType="CLOUD_FORMATION_TEMPLATE",
            ProvisioningArtifactParameters={"Name": "V1", "Info": {"LoadTemplateFromURL": urls[0]}, "Type": "CLOUD_FORMATION_TEMPLATE"},
        )
        product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        grant_launch_path(sc, product_id)
        ids = {"V1": created["ProvisioningArtifactDetail"]["Id"]}
        for number, url in enumerate(urls[1:], start=2):
            answer = sc.create_provisioning_artifact(
                ProductId=product_id,
                Parameters={"Name": f"V{number}", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
            )
            ids[f"V{number}"] = answer["ProvisioningArtifactDetail"]["Id"]
        seeded = SeededRegion(region, product, product_id, ids, bucket, ssm_prefix)
        self.set_latest(seeded, f"V{latest or versions}")
        return seeded

    def set_latest(self, seeded: SeededRegion, version: str) -> None:
        """What the catalog phase does: the latest artifact id in SSM."""
        self.client("ssm", seeded.region).put_parameter(
            Name=f"{seeded.ssm_prefix}/products/{seeded.product}/latest-artifact-id",
            Value=seeded.versions[version],
            Type="String",
            Overwrite=True,
        )

    def tenants(self, seeded: SeededRegion, names: Sequence[str], version: str = "V1", tags: Optional[Dict[str, Dict[str, str]]] = None) -> None:
        """Provision ``names`` on ``version`` (record_duration_s must be 0) with distinct parameter values."""
        sc = self.client("servicecatalog", seeded.region)
        path_id = grant_launch_path(sc, seeded.product_id)  # the seed's own path (a stage portfolio may be a second one)
        for index, name in enumerate(names):
            parameters = {"TenantId": f"{name}-id", "TenantTier": "premium" if index % 3 == 0 else "standard"}
            sc.provision_product(
                ProductId=seeded.product_id,
                PathId=path_id,
                ProvisioningArtifactId=seeded.versions[version],
                ProvisionedProductName=name,
                ProvisioningParameters=[{"Key": k, "Value": v} for k, v in parameters.items()],
                Tags=[{"Key": k, "Value": v} for k, v in ((tags or {}).get(name) or {}).items()],
                ProvisionToken=uuid.uuid4().hex,
            )
            seeded.tenants[name] = parameters

    def tenant_states(self, seeded: SeededRegion) -> Dict[str, Dict[str, Any]]:
        """name -> {status, artifact, stack_parameters} read back through Service Catalog and CloudFormation."""
        sc = self.client("servicecatalog", seeded.region)
        cfn = self.client("cloudformation", seeded.region)
        rows: List[Dict[str, Any]] = []
        token = None
        while True:
            page = sc.search_provisioned_products(
                AccessLevelFilter={"Key": "Account", "Value": "self"},
                Filters={"SearchQuery": [f"productId:{seeded.product_id}"]},
                PageSize=100,
                **({"PageToken": token} if token else {}),
            )
            rows.extend(page["ProvisionedProducts"])
            token = page.get("NextPageToken")
            if not token:
                break
        states = {}
        for row in rows:
            stack = cfn.describe_stacks(StackName=row["PhysicalId"])["Stacks"][0] if row.get("PhysicalId") else {}
            states[row["Name"]] = {
                "status": row["Status"],
                "artifact": row["ProvisioningArtifactId"],
                "stack_parameters": {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
                "stack_outputs": {o["OutputKey"] for o in stack.get("Outputs", [])},
            }
        return states
