"""A new version only on change, from any checkout: the examples deployed again from fresh clones change nothing.

What an AWX execution environment or a new CI runner does: the repository cloned anew at another path, under
another umask, with no build cache, the packager either serverless 3 or osls. A deploy from clone A (serverless
3, umask 0022) creates the products and the tenants get them; a deploy with the rollout from clone B, where
everything that could leak into the output differs at once (another path, osls, umask 0002, the packagers' clock
a day ahead), must then write nothing but the run's bookkeeping: no object, no version, no tenant update (the
local AWS's call counts), although every service, REST API ones included, is packaged again. (Each of those
differences alone is test_deterministic_packaging.py's.) Then a new REST route in clone B gives the payments
service a new API Gateway deployment id and exactly one new version of the one product holding it, rolled out
to its tenants.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from deploy_helpers import (
    BOOKKEEPING_WRITES,
    DEPLOY_PLAYBOOK,
    REPO_ROOT,
    PlaybookRunner,
    bucket_keys,
    ledger,
    product_versions,
    provision_tenants,
    run_id_of,
    tenants,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGE = "dev"
REGION = "us-east-1"
BUCKET = f"mrs-artifacts-{STAGE}-{REGION}"
SSM_PREFIX = f"/multiregion/{STAGE}"
PRODUCTS = {"platform-core": "platform-core-dev", "tenant-analytics": "tenant-analytics-dev"}
NODE_MODULES = REPO_ROOT / "node_modules"
PACKAGERS = {"serverless3": NODE_MODULES / "serverless" / "bin" / "serverless.js", "osls": NODE_MODULES / "osls" / "bin" / "serverless.js"}
# The packagers' clock a day ahead (written by the deterministic packaging test's author, shared here).
SHIFT_CLOCK = REPO_ROOT / "tests" / "integration" / "fixtures" / "shift-clock.js"
NEW_ROUTE = "      - http:\n          method: get\n          path: payments/{paymentId}/refund\n"


def fresh_clone(destination: Path, umask: int) -> Path:
    """``git clone`` of this repository under ``umask``; returns the clone's examples/ (the project to deploy)."""
    previous = os.umask(umask)
    try:
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(destination)], check=True)
    finally:
        os.umask(previous)
    return destination / "examples"


class Clones:
    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.runner = PlaybookRunner(aws.env, user="awx")
        self.calls: Dict[str, Dict[str, Dict[str, int]]] = {}

    def deploy(self, name: str, project: Path, packager: str, umask: int, *options: str, clock_a_day_ahead: bool = False) -> Any:
        arguments: List[str] = []
        for option in (f"project_dir={project}", f"stage={STAGE}", f"regions={REGION}", f"package_sls_binary={PACKAGERS[packager]}",
                       "rollout_poll_delay=0.2", "rollout_poll_max_delay=1", *options):
            arguments += ["-e", option]
        if clock_a_day_ahead:
            arguments += ["-e", json.dumps({"package_environment": {"NODE_OPTIONS": f"--require {SHIFT_CLOCK}"}})]
        self.aws.reset_calls()
        previous = os.umask(umask)  # the packagers write their output under the checkout's umask
        try:
            run = self.runner.run(DEPLOY_PLAYBOOK, *arguments)
        finally:
            os.umask(previous)
        self.calls[name] = self.aws.calls()
        assert run.returncode == 0, run.explain()
        return run

    def versions(self) -> Dict[str, List[str]]:
        return {name: [version for version, _id in product_versions(self.aws, REGION, name)] for name in PRODUCTS.values()}

    def tenant_versions(self) -> Dict[str, str]:
        return {name: tenant["artifact"] for name, tenant in tenants(self.aws, REGION).items()}

    def keys(self) -> Set[str]:
        """The published objects (the runs' ledgers and reports left out)."""
        return {key for key in bucket_keys(self.aws, BUCKET, REGION) if not key.startswith("runs/")}


def deployment_ids(aws: Any, key: str) -> Set[str]:
    body = aws.client("s3", REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    resources = json.loads(body)["Resources"]
    return {logical_id for logical_id, resource in resources.items() if resource["Type"] == "AWS::ApiGateway::Deployment"}


def test_fresh_clones_with_either_packager_change_nothing_and_a_new_route_makes_one_version(module_local_aws, tmp_path: Path) -> None:
    clones = Clones(module_local_aws)
    first = fresh_clone(tmp_path / "runner-a" / "checkout", 0o022)
    bootstrap = clones.runner.bootstrap(first, STAGE, [REGION])
    assert bootstrap.returncode == 0, bootstrap.explain()
    clones.deploy("clone-a", first, "serverless3", 0o022, "catalog_create_missing_products=true")
    for product, name in PRODUCTS.items():
        names = [f"{product}-{number}" for number in (1, 2)]
        assert set(provision_tenants(module_local_aws, REGION, SSM_PREFIX, name, names).values()) == {"SUCCEEDED"}
    versions, tenants_before, keys = clones.versions(), clones.tenant_versions(), clones.keys()
    assert all(found == ["V1"] for found in versions.values()), versions

    second = fresh_clone(tmp_path / "elsewhere" / "deeper" / "runner-b", 0o002)
    run = clones.deploy("clone-b", second, "osls", 0o002, "update_product=true", clock_a_day_ahead=True)
    packaged = [entry for entry in ledger(second, run_id_of(run))["entries"]["packaging"] if entry["status"] == "packaged"]
    assert {entry["service"] for entry in packaged} >= {"payments", "orders", "authorizer"}, "an empty cache packages everything again"
    assert writes(clones.calls["clone-b"]) == BOOKKEEPING_WRITES, "clone B wrote more than its bookkeeping"
    assert clones.versions() == versions and clones.tenant_versions() == tenants_before and clones.keys() == keys

    # A new REST route in clone B: a new API deployment id, one new version of platform-core only, rolled out.
    definition = second / "services" / "payments" / "serverless.yml"
    text = definition.read_text()
    anchor = "          path: payments/{paymentId}/refund\n"
    assert anchor in text
    definition.write_text(text.replace(anchor, anchor + NEW_ROUTE, 1))
    clones.deploy("new-route", second, "osls", 0o002, "update_product=true")
    added = clones.keys() - keys
    old_template = next(key for key in keys if key.startswith("serverless/payments/dev/templates/"))
    new_template = next(key for key in added if key.startswith("serverless/payments/dev/templates/"))
    assert deployment_ids(module_local_aws, old_template) != deployment_ids(module_local_aws, new_template)
    assert {key.split("/")[1] for key in added if key.startswith("serverless/")} == {"payments"}, added
    after = clones.versions()
    assert after == {"platform-core-dev": ["V1", "V2"], "tenant-analytics-dev": ["V1"]}
    counted = writes(clones.calls["new-route"])
    assert counted["servicecatalog:CreateProvisioningArtifact"] == 1
    assert counted["servicecatalog:UpdateProvisionedProduct"] == 2  # platform-core's two tenants
    moved = {name for name, artifact in clones.tenant_versions().items() if artifact != tenants_before[name]}
    assert moved == {"platform-core-1", "platform-core-2"}
