"""Unit tests of plugins/module_utils/run_plan.py: the run's plan from the phases' results, as JSON and Markdown."""
from __future__ import annotations

from typing import Any, Dict

from ansible_collections.multiregion.serverless.plugins.module_utils.run_plan import build_plan, plan_summary, render_plan_markdown

RUN = {"run_id": "20261203T120000Z-abcdef", "stage": "prod", "check_mode": True}


def region_results() -> Dict[str, Any]:
    """Two regions as the roles leave them: one with a new version and 1,000 tenants in two groups, one unchanged."""
    names = [f"tenant-{number:04d}" for number in range(1000)]
    return {
        "us-east-1": {
            "package": {"uploaded_keys": [f"serverless/orders/prod/{number}.zip" for number in range(25)]},
            "catalog": {"products": {"core-prod": {
                "product_name": "core-prod", "version_created": True, "artifact_name": "V13", "previous_artifact_name": "V12",
                "fingerprint": "sha256:" + "a" * 64, "deprecated_artifacts": [{"name": "V10"}], "pruned_artifacts": [{"name": "V1"}]}}},
            "rollout": {
                "summary": {"would_update": 998, "refused": 2},
                "version_changes": [
                    {"product": "core-prod", "from_version": "V12", "from_artifact": "pa-12", "to_version": "V13", "to_artifact": "(new V13)",
                     "tenants": 990, "tenant_names": names[:10], "refused": 0, "changes": ["Resources.Orders/Handler: modified (Properties.Handler)"],
                     "replacements": []},
                    {"product": "core-prod", "from_version": "V11", "from_artifact": "pa-11", "to_version": "V13", "to_artifact": "(new V13)",
                     "tenants": 10, "tenant_names": names[990:], "refused": 2, "changes": ["Resources.Orders/Table: modified (Properties.KeySchema)"],
                     "replacements": ["Orders/Table (AWS::DynamoDB::Table, KeySchema) would be replaced: ..."]},
                ],
                "refusals": ["tenant tenant-0990: core-prod/Orders/Table (AWS::DynamoDB::Table, KeySchema) would be replaced: ...",
                             "tenant tenant-0991: core-prod/Orders/Table (AWS::DynamoDB::Table, KeySchema) would be replaced: ..."],
            },
        },
        "eu-west-1": {"package": {"uploaded_keys": []}, "catalog": {"products": {"core-prod": {"product_name": "core-prod", "version_created": False}}}},
    }


def test_the_plan_gathers_each_regions_writes_and_tenant_groups() -> None:
    plan = build_plan(RUN, region_results())
    assert list(plan["regions"]) == ["eu-west-1", "us-east-1"]
    east = plan["regions"]["us-east-1"]
    assert len(east["uploads"]) == 25
    assert east["versions"] == [{"product": "core-prod", "version": "V13", "fingerprint": "sha256:" + "a" * 64, "previous": "V12", "product_created": False}]
    assert east["retired"] == [{"product": "core-prod", "deprecated": ["V10"], "deleted": ["V1"]}]
    assert [group["tenants"] for group in east["rollout"]["groups"]] == [990, 10] and len(east["rollout"]["refusals"]) == 2
    assert plan["regions"]["eu-west-1"]["rollout"] == {"ran": False, "summary": {}, "groups": [], "refusals": []}
    assert plan_summary(plan) == [
        "plan eu-west-1 (would be written): 0 upload(s), 0 new version(s)",
        "plan us-east-1 (would be written): 25 upload(s), 1 new version(s) (core-prod V13), 998 tenant update(s), 2 refusal(s)",
    ]


def test_the_markdown_stays_short_for_a_thousand_tenants() -> None:
    text = render_plan_markdown(build_plan(RUN, region_results()))
    assert text.startswith("# Plan: stage prod, run 20261203T120000Z-abcdef (check mode: nothing was written)")
    assert "- ... and 5 more (plan.json lists them all)" in text
    assert "- core-prod: V12 -> **V13** (`sha256:" in text and "- core-prod: deprecate V10" in text and "- core-prod: delete V1" in text
    assert "- core-prod V12 -> V13: 990 tenant(s) (tenant-0000, tenant-0001" in text and "and 980 more)" in text
    assert "- core-prod V11 -> V13: 10 tenant(s), 2 refused (" in text
    assert "  - **Orders/Table (AWS::DynamoDB::Table, KeySchema) would be replaced: ...**" in text
    assert "- tenant tenant-0991: core-prod/Orders/Table" in text
    assert "the rollout did not run" in text
    assert len(text.splitlines()) < 80


def test_a_real_runs_plan_says_what_was_written() -> None:
    plan = build_plan(dict(RUN, check_mode=False), {"us-east-1": {"package": {"uploaded_keys": ["a"]}}})
    assert plan_summary(plan) == ["plan us-east-1 (were written): 1 upload(s), 0 new version(s)"]
    assert "(what the run wrote)" in render_plan_markdown(plan)
