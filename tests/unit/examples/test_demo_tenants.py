"""The demo's tenants (scripts/demo_tenants.py) for every example stage and product: valid, and apart.

Stages may share an account (the example's do), and AWS keeps provisioned product names unique per account
and region, so a second stage's demo tenants must not reuse the first stage's names or TenantIds.
"""
from __future__ import annotations

import importlib.util
import itertools
import re
from pathlib import Path

import yaml

from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import catalog_product_name

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"


def _demo_tenants():
    spec = importlib.util.spec_from_file_location("demo_tenants", REPO_ROOT / "scripts" / "demo_tenants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_stage_gets_its_own_valid_tenant_names_and_ids():
    demo_tenants = _demo_tenants()
    stages = yaml.safe_load((EXAMPLES / "project.yml").read_text())["stages"]
    products = [yaml.safe_load(path.read_text()) for path in sorted((EXAMPLES / "products").glob("*.yml"))]
    names, tenant_ids = set(), set()
    for stage, product, index in itertools.product(stages, products, (1, 2)):
        for parameter in demo_tenants.tenant_parameters(product, stage, index):
            spec = product["parameters"][parameter["Key"]]
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], parameter["Value"]), (stage, product["name"], parameter)
            if parameter["Key"] == "TenantId":
                assert parameter["Value"] not in tenant_ids, (stage, product["name"], parameter)
                tenant_ids.add(parameter["Value"])
        name = demo_tenants.tenant_name(catalog_product_name(product["name"], stage, None), "us-east-1", index)
        assert name not in names, (stage, product["name"], index)
        names.add(name)
    assert len(tenant_ids) == len(names) == len(stages) * len(products) * 2
