"""Provision demo tenants (provisioned products) on the current version of every product of a stage.

Only the demo uses this: real tenants are provisioned by whoever onboards them. It talks to whatever
AWS_ENDPOINT_URL points at (the local AWS in the demo).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import boto3
import yaml

# The collection itself says what a product is called in a stage (scripts/setup.sh links .collections).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".collections"))
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import catalog_product_name  # noqa: E402


def tenant_parameters(product: dict, stage: str, index: int) -> list[dict]:
    """A value for every product parameter without a default: TenantId-like ones get the tenant's name.

    The name carries the product's initials and the stage: the example products share a service (inventory)
    whose resource names derive from TenantId, and stages may share an account, so one TenantId in both
    products or in two stages would collide.
    """
    initials = "".join(word[0] for word in product["name"].split("-"))
    parameters = []
    for key, spec in (product.get("parameters") or {}).items():
        if "Default" in (spec or {}):
            continue
        allowed = (spec or {}).get("AllowedValues")
        parameters.append({"Key": key, "Value": allowed[0] if allowed else f"{initials}-{stage}-{index:03d}"})
    return parameters


def tenant_name(stage_product_name: str, region: str, index: int) -> str:
    """The provisioned product's name: unique per account and region in AWS, so it carries the stage's product
    name (not the project's), which keeps two stages' demo tenants in one account apart."""
    return f"demo-{stage_product_name}-{region}-{index:03d}"


def wait_for(client, record_ids: list[str], timeout: float = 300) -> list[str]:
    """Record ids that did not succeed (each failure is printed with its reason)."""
    pending, failed = set(record_ids), []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for record_id in sorted(pending):
            detail = client.describe_record(Id=record_id)["RecordDetail"]
            if detail["Status"] in ("SUCCEEDED", "FAILED"):
                pending.discard(record_id)
                if detail["Status"] == "FAILED":
                    failed.append(record_id)
                    reasons = "; ".join(error.get("Description", "") for error in detail.get("RecordErrors", []))
                    print(f"{detail.get('ProvisionedProductName')}: FAILED: {reasons}", file=sys.stderr)
        if pending:
            time.sleep(0.5)
    return failed + sorted(pending)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project-dir", required=True)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--regions", required=True, help="comma-separated")
    parser.add_argument("--count", type=int, default=4, help="tenants per product and region")
    args = parser.parse_args()

    project_dir = Path(args.project_dir)
    settings = yaml.safe_load((project_dir / "project.yml").read_text())
    stage = settings["stages"][args.stage]
    ssm_prefix = stage.get("ssm_prefix", f"/multiregion/{args.stage}")
    products_dir = project_dir / settings.get("products_dir", "products")
    products = [yaml.safe_load(path.read_text()) for path in sorted(products_dir.glob("*.yml"))]

    problems = 0
    for region in args.regions.split(","):
        catalog = boto3.client("servicecatalog", region_name=region)
        ssm = boto3.client("ssm", region_name=region)
        for product in products:
            name = catalog_product_name(product["name"], args.stage, stage.get("product_names"))
            found = catalog.search_products_as_admin(Filters={"FullTextSearch": [name]})["ProductViewDetails"]
            matches = [view for view in found if view["ProductViewSummary"]["Name"] == name]
            if not matches:
                print(f"{region}: product {name} not found", file=sys.stderr)
                problems += 1
                continue
            product_id = matches[0]["ProductViewSummary"]["ProductId"]
            artifact_id = ssm.get_parameter(Name=f"{ssm_prefix}/products/{name}/latest-artifact-id")["Parameter"]["Value"]
            records = []
            for index in range(1, args.count + 1):
                response = catalog.provision_product(
                    ProductId=product_id,
                    ProvisioningArtifactId=artifact_id,
                    ProvisionedProductName=tenant_name(name, region, index),
                    ProvisioningParameters=tenant_parameters(product, args.stage, index),
                    Tags=[{"Key": "tenant", "Value": f"demo-tenant-{index:03d}"}],
                )
                records.append(response["RecordDetail"]["RecordId"])
            failed = wait_for(catalog, records)
            problems += len(failed)
            print(f"{region}: {name}: {len(records) - len(failed)} of {len(records)} demo tenants provisioned on {artifact_id}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
