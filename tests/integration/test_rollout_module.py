"""provisioned_product_update run in-process against ``aws_mock`` (moto + the Service Catalog extension):
check -> apply -> idempotent check -> idempotent apply, failures, TAINTED retry, order, rollback."""
from __future__ import annotations

import json
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.modules import provisioned_product_update
from rollout_seed import Seeder, SeededRegion

pytestmark = pytest.mark.integration

REGION = "us-east-1"
PREFIX = "/multiregion/test"
FAST = {"poll_delay": 0.05, "poll_max_delay": 0.2, "record_timeout": 30}


def run_module(args: Dict[str, Any], check: bool = False, diff: bool = False, capsys=None) -> Dict[str, Any]:
    merged = {"region": REGION, "ssm_prefix": PREFIX, **FAST, **args}
    if check:
        merged["_ansible_check_mode"] = True
    if diff:
        merged["_ansible_diff"] = True
    with patch_module_args(merged), pytest.raises(SystemExit):
        provisioned_product_update.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def seeded(aws_mock) -> SeededRegion:
    seeder = Seeder(aws_mock.session(REGION), None)
    region = seeder.product(REGION, "platform-core", PREFIX)
    seeder.tenants(region, [f"tenant-{i:02d}" for i in range(12)] + ["canary-a"], tags={"tenant-05": {"ring": "early"}})
    region.seeder = seeder  # type: ignore[attr-defined]
    return region


def sc_calls(aws_mock) -> Dict[str, int]:
    return aws_mock.calls().get("servicecatalog", {})


def test_check_apply_check_apply(aws_mock, seeded, capsys) -> None:
    aws_mock.reset_calls()
    plan = run_module({"products": ["platform-core"]}, check=True, diff=True, capsys=capsys)
    assert plan["changed"] is True and plan["summary"]["would_update"] == 13
    assert {t["from_version"] for t in plan["tenants"]} == {"V1"} and {t["to_version"] for t in plan["tenants"]} == {"V2"}
    assert plan["version_changes"][0]["changes"] == ["Outputs.Feature2: added"]
    assert plan["diff"]["prepared"].startswith(f"{REGION}: platform-core V1 -> V2: 13 tenant(s): canary-a, tenant-00, tenant-01,")
    assert "... (3 more)" in plan["diff"]["prepared"]
    calls = sc_calls(aws_mock)
    assert "UpdateProvisionedProduct" not in calls and "ProvisionProduct" not in calls  # check mode writes nothing
    assert not {op for op in aws_mock.calls().get("ssm", {}) if not op.startswith("Get")}

    applied = run_module({"products": ["platform-core"], "max_concurrent": 4}, capsys=capsys)
    assert applied["changed"] is True and applied["summary"]["updated"] == 13, applied.get("msg")
    assert applied["stats"]["peak_in_flight"] == 4
    states = seeded.seeder.tenant_states(seeded)  # type: ignore[attr-defined]
    for name, parameters in seeded.tenants.items():
        assert states[name]["artifact"] == seeded.versions["V2"]
        assert states[name]["stack_parameters"] == parameters  # UsePreviousValue kept every value
        assert "Feature2" in states[name]["stack_outputs"]

    aws_mock.reset_calls()
    again = run_module({"products": ["platform-core"]}, check=True, capsys=capsys)
    assert again["changed"] is False and again["summary"]["already_current"] == 13
    again = run_module({"products": ["platform-core"]}, capsys=capsys)
    assert again["changed"] is False and again["summary"]["already_current"] == 13
    assert "UpdateProvisionedProduct" not in sc_calls(aws_mock)


def test_failures_are_listed_and_a_rerun_retries_only_them(aws_mock, seeded, capsys) -> None:
    aws_mock.set_faults(fail_provisioned_products=["tenant-03", "tenant-07"])
    failed = run_module({"products": ["platform-core"], "failure_tolerance": "2", "mode": "stop"}, capsys=capsys)
    assert failed["failed"] is True and failed["changed"] is True
    assert "2 of 13 tenants failed in us-east-1" in failed["msg"]
    by_name = {t["name"]: t for t in failed["tenants"]}
    assert {n for n, t in by_name.items() if t["status"] == "failed"} == {"tenant-03", "tenant-07"}
    assert "Injected failure" in by_name["tenant-03"]["error"] and by_name["tenant-03"]["record_id"].startswith("rec-")
    assert failed["summary"]["updated"] == 11 and failed["tolerance"]["exceeded"] is False

    aws_mock.clear_faults()
    aws_mock.reset_calls()
    rerun = run_module({"products": ["platform-core"]}, capsys=capsys)
    assert rerun["summary"]["updated"] == 2 and rerun["summary"]["already_current"] == 11, rerun.get("msg")
    assert sc_calls(aws_mock)["UpdateProvisionedProduct"] == 2
    retried = {f"retrying the failed update to {seeded.versions['V2']} (record {by_name[n]['record_id']})" for n in ("tenant-03", "tenant-07")}
    assert {t["reason"] for t in rerun["tenants"] if t["status"] == "updated"} == retried


def test_tolerance_stop_and_canary_order(aws_mock, seeded, capsys) -> None:
    aws_mock.set_faults(fail_provisioned_products=["canary-a"])
    out = run_module({"products": ["platform-core"], "failure_tolerance": "0", "mode": "stop", "order": ["canary-*", "tag:ring=early"]}, capsys=capsys)
    statuses = {t["name"]: t["status"] for t in out["tenants"]}
    assert statuses["canary-a"] == "failed"
    assert {s for n, s in statuses.items() if n != "canary-a"} == {"not_started"}
    assert out["tolerance"]["exceeded"] and out["tolerance"]["stopped"]
    assert "12 not started" in out["msg"]
    assert sc_calls(aws_mock)["UpdateProvisionedProduct"] == 1


def test_rollback_to_the_previous_version_by_name(aws_mock, seeded, capsys) -> None:
    run_module({"products": ["platform-core"]}, capsys=capsys)
    back = run_module({"products": ["platform-core"], "target_version": "V1"}, capsys=capsys)
    assert back["summary"]["updated"] == 13 and back["targets"][0]["source"] == "target_version"
    states = seeded.seeder.tenant_states(seeded)  # type: ignore[attr-defined]
    assert {s["artifact"] for s in states.values()} == {seeded.versions["V1"]}
    assert all("Feature2" not in s["stack_outputs"] for s in states.values())


def test_unsafe_tenants_are_skipped_with_the_reason(aws_mock, seeded, capsys) -> None:
    aws_mock.set_faults(record_duration_s=60)
    sc = seeded.seeder.client("servicecatalog", REGION)  # type: ignore[attr-defined]
    sc.update_provisioned_product(ProvisionedProductName="tenant-01", ProductId=seeded.product_id,
                                  ProvisioningArtifactId=seeded.versions["V1"], UpdateToken="manual-1",
                                  ProvisioningParameters=[{"Key": "TenantId", "UsePreviousValue": True}])
    aws_mock.set_faults(record_duration_s=0)
    out = run_module({"products": ["platform-core"]}, capsys=capsys)
    skipped = [t for t in out["tenants"] if t["status"] == "skipped"]
    assert [(t["name"], t["reason"]) for t in skipped] == [("tenant-01", "status UNDER_CHANGE")]
    assert out["summary"]["updated"] == 12 and not out.get("failed")


def test_bad_inputs_fail_before_any_call(aws_mock, seeded, capsys) -> None:
    aws_mock.reset_calls()
    out = run_module({"products": ["platform-core"], "failure_tolerance": "lots"}, capsys=capsys)
    assert out["failed"] and "failure_tolerance" in out["msg"]
    out = run_module({"products": ["platform-core"], "order": ["tag:oops"]}, capsys=capsys)
    assert out["failed"] and "tag:Key=Value" in out["msg"]
    assert aws_mock.calls() == {}
    out = run_module({"products": ["platform-core"], "target_version": "V9"}, capsys=capsys)
    assert out["failed"] and "has no version 'V9'" in out["msg"]
