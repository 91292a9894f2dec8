"""catalog_test_tenant in-process against ``aws_mock``: pass, failed provisioning, missing outputs; the test
tenant is gone at the end every time, and check mode writes nothing."""
from __future__ import annotations

import json
import re
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.modules import catalog_test_tenant
from rollout_seed import Seeder

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
PREFIX = "/multiregion/test"


def run_module(args: Dict[str, Any], capsys, check: bool = False) -> Dict[str, Any]:
    merged = {"region": REGION, "ssm_prefix": PREFIX, "product": "platform-core", "name": "validate-core",
              "parameters": {"TenantId": "validation"}, "poll_delay": 0.05, "poll_max_delay": 0.2, "record_timeout": 30, **args}
    if check:
        merged["_ansible_check_mode"] = True
    with patch_module_args(merged), pytest.raises(SystemExit):
        catalog_test_tenant.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def seeded(aws_mock):
    seeder = Seeder(aws_mock.session(REGION), None)
    return seeder, seeder.product(REGION, "platform-core", PREFIX)


def tenants_left(seeder: Seeder, product_id: str):
    sc = seeder.client("servicecatalog", REGION)
    return sc.search_provisioned_products(AccessLevelFilter={"Key": "Account", "Value": "self"},
                                          Filters={"SearchQuery": [f"productId:{product_id}"]})["ProvisionedProducts"]


def test_validation_passes_and_removes_the_test_tenant(aws_mock, seeded, capsys) -> None:
    seeder, region = seeded
    aws_mock.reset_calls()
    planned = run_module({}, capsys, check=True)
    assert planned["status"] == "would_validate" and planned["version"] == "V2"
    assert not {"ProvisionProduct", "TerminateProvisionedProduct"} & set(aws_mock.calls().get("servicecatalog", {}))

    aws_mock.set_faults(record_duration_s=0.2)
    out = run_module({"expected_outputs": ["TopicArn", "Feature2"]}, capsys)
    assert out["status"] == "passed" and out["terminated"] and out["artifact_id"] == region.versions["V2"]
    assert out["outputs"]["Feature2"] == "v2" and out["missing_outputs"] == []
    assert tenants_left(seeder, region.product_id) == []


def test_missing_outputs_fail_after_the_tenant_is_removed(aws_mock, seeded, capsys) -> None:
    seeder, region = seeded
    out = run_module({"expected_outputs": ["TopicArn", "ApiUrl"], "target_version": "V1"}, capsys)
    assert out["failed"] and out["missing_outputs"] == ["ApiUrl"] and out["terminated"]
    assert "stack outputs missing or empty: ApiUrl" in out["msg"]
    assert tenants_left(seeder, region.product_id) == []


def test_failed_provisioning_is_reported_and_cleaned_up(aws_mock, seeded, capsys) -> None:
    seeder, region = seeded
    aws_mock.set_faults(fail_provisioned_products=["validate-core"])
    out = run_module({}, capsys)
    assert out["failed"] and "provisioning platform-core V2 failed" in out["msg"] and "Injected failure" in out["msg"]
    assert out["terminated"] is True
    assert tenants_left(seeder, region.product_id) == []


def test_the_product_definition_alone_gives_the_test_tenant_a_tenant_id(aws_mock, seeded, capsys, tmp_path) -> None:
    """No parameters: the definition's TenantId pattern is met by a generated id, the test tenant passes and is gone."""
    seeder, region = seeded
    definition = tmp_path / "platform-core.yml"
    definition.write_text("nested_stacks: [{service: orders}]\n"
                          "parameters:\n  TenantId: {Type: String, AllowedPattern: '^[a-z0-9][a-z0-9-]{2,15}$'}\n"
                          "  TenantTier: {Type: String, Default: standard}\n"
                          "test_tenant: {parameters: {TenantTier: premium}, expected_outputs: [TopicArn, Tier]}\n")
    arguments = {"parameters": {}, "product_definition": str(definition), "run_id": "20261123T120000Z-1a2b3c"}
    planned = run_module(arguments, capsys, check=True)
    assert planned["status"] == "would_validate" and planned["parameters"]["TenantTier"] == "premium"
    out = run_module(arguments, capsys)
    assert out["status"] == "passed" and out["parameters"] == planned["parameters"], out
    tenant_id = out["parameters"]["TenantId"]
    assert re.fullmatch(r"v[0-9a-f]{15}", tenant_id) and out["outputs"]["Tier"] == "premium"
    assert out["outputs"]["TopicArn"].endswith(f":tenant-{tenant_id}-premium")
    assert tenants_left(seeder, region.product_id) == []

    definition.write_text(definition.read_text().replace("^[a-z0-9][a-z0-9-]{2,15}$", "^[A-Z]{20}$"))
    aws_mock.reset_calls()
    refused = run_module(arguments, capsys)
    assert refused["failed"] and refused["msg"] == (f"{definition}: no generated test tenant id fits the constraints of parameter TenantId; "
                                                    f"declare test_tenant.parameters.TenantId in {definition}")
    assert aws_mock.calls() == {}
