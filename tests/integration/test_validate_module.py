"""catalog_test_tenant in-process against ``aws_mock``: pass, failed provisioning, missing outputs; the test
tenant is gone at the end every time, and check mode writes nothing."""
from __future__ import annotations

import json
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
