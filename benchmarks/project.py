# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate a synthetic serverless monorepo of N services for the benchmarks (layout: docs/project-layout.md).

The services are copies of the example services (examples/services/*, renamed), so both the real
`serverless` CLI and the packager stand-in (benchmarks/fake_sls) can package them. Each service folder gets a
`fake-sls-seconds` file: the stand-in sleeps that long, so packaging durations are varied but known, and the
ideal bound of a deploy can be computed from them.

    .venv/bin/python benchmarks/project.py OUT_DIR [--services 24] [--regions us-east-1,eu-west-1,...]
                                                    [--min-seconds 0.5] [--max-seconds 3] [--seed 8]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
STAGE = "bench"
ACCOUNT_ID = "123456789012"
SSM_PREFIX = "/multiregion/bench"
AUTHORIZER = "authorizer"
# Copied round-robin to make up the N services (legacy-reports is never deployed; authorizer is copied once).
TEMPLATE_SERVICES = ("orders", "payments", "notifications", "inventory", "e2e-fixtures")
# The product every tenant has: the authorizer and the first services. Kept small on purpose: the local AWS
# builds a real CloudFormation stack per nested stack and tenant, and the rollout measures the orchestration.
TENANT_PRODUCT = "tenant-core"
TENANT_PRODUCT_SERVICES = 3
# The product holding every service (no tenants): its template is what the catalog diff works on.
PLATFORM_PRODUCT = "platform-all"
# Bounded, as the project doctor asks: the function names end in it.
TENANT_PARAMETERS = {"TenantId": {"Type": "String", "MaxLength": 16, "Description": "Lower-case tenant identifier"}}


@dataclass(frozen=True)
class BenchProject:
    root: Path
    services: List[str]
    durations: Dict[str, float]  # service -> stand-in seconds per packaging
    regions: List[str]
    products: Dict[str, List[str]]  # product -> nested services, in order

    @property
    def changed_service(self) -> str:
        """The service the one-service-change scenario edits: in the tenants' product, not the authorizer."""
        return self.products[TENANT_PRODUCT][1]


def service_names(count: int) -> List[str]:
    """`authorizer` first, then copies of the example services: orders-01, payments-02, ..."""
    return [AUTHORIZER] + [f"{TEMPLATE_SERVICES[index % len(TEMPLATE_SERVICES)]}-{index + 1:02d}" for index in range(count - 1)]


def copy_service(source: Path, target: Path, name: str, seconds: float) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".serverless", "node_modules"))
    config = target / "serverless.yml"
    config.write_text(re.sub(r"^service:.*$", f"service: {name}", config.read_text(), count=1, flags=re.M))
    (target / "fake-sls-seconds").write_text(f"{seconds:.3f}\n")


def durations_for(names: Sequence[str], low: float, high: float, seed: int) -> Dict[str, float]:
    generator = random.Random(seed)
    return {name: round(generator.uniform(low, high), 3) for name in names}


def product_document(name: str, services: Sequence[str]) -> dict:
    return {
        "name": name,
        "description": f"Benchmark product of {len(services)} services",
        "owner": "bench",
        "distributor": "Benchmarks",
        "support_email": "bench@example.com",
        "parameters": TENANT_PARAMETERS,
        "nested_stacks": [{"service": service} for service in services],
    }


def generate(root: Path, services: int, regions: Sequence[str], low: float = 0.5, high: float = 3.0, seed: int = 8) -> BenchProject:
    if services < TENANT_PRODUCT_SERVICES:
        raise ValueError(f"at least {TENANT_PRODUCT_SERVICES} services are needed")
    if root.exists():
        shutil.rmtree(root)
    (root / "services").mkdir(parents=True)
    shutil.copytree(EXAMPLES / "shared", root / "shared")
    names = service_names(services)
    durations = durations_for(names, low, high, seed)
    for name in names:
        source = AUTHORIZER if name == AUTHORIZER else name.rsplit("-", 1)[0]
        copy_service(EXAMPLES / "services" / source, root / "services" / name, name, durations[name])
    products = {TENANT_PRODUCT: names[:TENANT_PRODUCT_SERVICES], PLATFORM_PRODUCT: names}
    (root / "products").mkdir()
    for product, members in products.items():
        (root / "products" / f"{product}.yml").write_text(yaml.safe_dump(product_document(product, members), sort_keys=False))
    settings = {
        "services_dir": "services",
        "products_dir": "products",
        "always_excluded_services": [],
        "authorizer": {"service": AUTHORIZER, "order": "first"},
        "stages": {
            STAGE: {
                "account_id": ACCOUNT_ID,
                "primary_region": regions[0],
                "regions": list(regions),
                "artifact_bucket": f"mrs-artifacts-{STAGE}-{{region}}",
                "excluded_services": [],
                "ssm_prefix": SSM_PREFIX,
                # The stage is alone in its account, so its products keep the names the baseline gives them.
                "product_names": {product: product for product in products},
            }
        },
    }
    (root / "project.yml").write_text("# Generated by benchmarks/project.py (no init stacks: see docs/performance.md)\n"
                                      + yaml.safe_dump(settings, sort_keys=False))
    return BenchProject(root, names, durations, list(regions), products)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--services", type=int, default=24)
    parser.add_argument("--regions", default="us-east-1,eu-west-1,ap-southeast-2,us-west-2")
    parser.add_argument("--min-seconds", type=float, default=0.5)
    parser.add_argument("--max-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    project = generate(args.out_dir, args.services, args.regions.split(","), args.min_seconds, args.max_seconds, args.seed)
    print(json.dumps({"root": str(project.root), "durations": project.durations, "products": project.products}, indent=2))


if __name__ == "__main__":
    main()
