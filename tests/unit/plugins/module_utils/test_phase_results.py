"""The phase roles' result facts and summary lines, and the run's last-play inputs (plugins/filter/deploy_results.py)."""
from __future__ import annotations

import pytest

from ansible_collections.multiregion.serverless.plugins.filter.deploy_results import FilterModule
from ansible_collections.multiregion.serverless.plugins.module_utils import phase_results as shapes
from ansible_collections.multiregion.serverless.plugins.module_utils.run_ledger import settle_run

FILTERS = FilterModule().filters()
ACCOUNT = "123456789012"


def test_package_results():
    packaged = {
        "changed": True,
        "services": [{"name": "orders", "status": "packaged"}, {"name": "payments", "status": "cached"}],
        "init_stacks": [{"name": "network-baseline", "status": "cached"}],
        "packaged": ["orders"], "cached": ["payments", "network-baseline"], "excluded": ["legacy-reports"], "unknown_exclusions": ["typo"],
    }
    published = {"changed": True, "uploaded": ["a", "b", "c"], "skipped": ["d"], "template_urls": {"service/orders": "https://x"},
                 "local_copies": {"https://x": "/build/orders/out/template.json"},
                 "products": {"platform-core": {"key": "products/platform-core/dev/x.json"}}}
    results = FILTERS["phase_results"](packaged, "package", "eu-west-1", ACCOUNT, published=published, stage="dev", bucket="b")
    assert results == {
        "region": "eu-west-1", "account_id": ACCOUNT, "stage": "dev", "bucket": "b", "changed": True,
        "services": {"orders": packaged["services"][0], "payments": packaged["services"][1]},
        "init_stacks": {"network-baseline": packaged["init_stacks"][0]},
        "template_urls": published["template_urls"], "local_copies": published["local_copies"], "products": published["products"],
        "packaged": ["orders"], "cached": ["payments", "network-baseline"], "excluded": ["legacy-reports"], "unknown_exclusions": ["typo"],
        "uploaded": 3, "uploaded_keys": ["a", "b", "c"], "skipped": 1,
        "summary": "eu-west-1: 1 of 3 services and init stacks packaged (2 unchanged), 3 objects uploaded, 1 already published, "
                   "unknown exclusions: typo",
    }
    assert FILTERS["phase_report"](results, "package") == {"line": results["summary"], "failed": False, "msg": ""}


def test_catalog_results():
    versions = {"changed": True, "products": [
        {"product_name": "platform-core-dev", "artifact_name": "V13", "version_created": True, "changed": True, "diff": "x", "extra": 1},
        {"product_name": "tenant-analytics-dev", "artifact_name": "V2", "version_created": False, "changed": False},
    ]}
    results = FILTERS["phase_results"](versions, "catalog", "eu-west-1", ACCOUNT)
    assert results["summary"] == "eu-west-1: 2 product(s), 1 new version(s): platform-core-dev V13"
    assert results["versions_created"] == ["platform-core-dev"] and results["changed"] is True
    kept = {"product_name": "platform-core-dev", "artifact_name": "V13", "version_created": True, "changed": True}
    assert results["products"]["platform-core-dev"] == kept
    assert (results["region"], results["account_id"]) == ("eu-west-1", ACCOUNT)
    skipped = FILTERS["phase_results"]({"changed": False, "skipped": True}, "catalog", "us-east-1")
    assert skipped == {"region": "us-east-1", "account_id": None, "changed": False, "products": {}, "versions_created": [],
                       "summary": "us-east-1: 0 product(s), 0 new version(s)"}


def test_validate_results_and_report():
    runs = {"results": [
        {"item": "platform-core", "product": "platform-core-dev", "status": "passed", "version": "V3", "name": "validate-x", "duration": 4},
        {"item": "tenant-analytics", "status": "failed", "msg": "no such product", "error": ""},
    ]}
    results = FILTERS["phase_results"](runs, "validate", "us-east-1", ACCOUNT)
    assert results["products"] == [
        {"product": "platform-core-dev", "status": "passed", "version": "V3", "artifact_id": "", "name": "validate-x", "terminated": False,
         "duration": 4, "error": ""},
        {"product": "tenant-analytics", "status": "failed", "version": "", "artifact_id": "", "name": "", "terminated": False,
         "duration": 0, "error": "no such product"},
    ]
    report = FILTERS["phase_report"](results, "validate")
    assert report == {"line": ["platform-core-dev: passed", "tenant-analytics: failed"], "failed": True,
                      "msg": "validation failed in us-east-1: no such product"}
    checked = FILTERS["phase_results"]({"results": [{"item": "p", "product": "p", "status": "would_validate"}]}, "validate", "us-east-1")
    assert FILTERS["phase_report"](checked, "validate")["failed"] is False


def test_rollout_results_and_report():
    update = {"changed": True, "msg": "1 of 3 tenants failed in us-east-1", "targets": [{"product": "platform-core-dev", "version": "V3"}],
              "summary": {"updated": 2, "failed": 1, "skipped": 0, "not_started": 0, "already_current": 4}, "tolerance": {"allowed": 0},
              "tenants": [{"name": "acme"}]}
    results = FILTERS["phase_results"](update, "rollout", "us-east-1", ACCOUNT)
    assert results == {"region": "us-east-1", "account_id": ACCOUNT, "failed": True, "msg": update["msg"], "targets": update["targets"],
                       "summary": update["summary"], "tolerance": {"allowed": 0}, "tenants": [{"name": "acme"}], "refusals": [],
                       "version_changes": []}
    assert FILTERS["phase_report"](results, "rollout") == {
        "line": "us-east-1: 2 updated, 1 failed, 0 refused, 0 skipped, 0 not started, 4 already current (platform-core-dev -> V3)",
        "failed": True, "msg": update["msg"]}
    # The module failed before listing any tenant: the region failed.
    early = FILTERS["phase_results"]({"failed": True, "msg": "no such product"}, "rollout", "us-east-1")
    assert early["failed"] is True and early["tenants"] == [] and early["summary"] == {}
    done = FILTERS["phase_results"](dict(update, summary=dict(update["summary"], failed=0)), "rollout", "us-east-1")
    assert done["failed"] is False
    # A tenant the replacement guard refused fails the region too (the module failed), though none failed.
    refused = FILTERS["phase_results"](dict(update, summary=dict(update["summary"], failed=0, refused=1)), "rollout", "us-east-1")
    assert refused["failed"] is True


def test_a_check_runs_rollout_line_says_how_many_tenants_would_update():
    check = {"summary": {"would_update": 5, "already_current": 1}, "targets": [{"product": "core-dev", "version": "V4"}], "tenants": []}
    line = FILTERS["phase_report"](FILTERS["phase_results"](check, "rollout", "eu-west-1"), "rollout")["line"]
    assert line == "eu-west-1: 5 would update, 0 updated, 0 failed, 0 refused, 0 skipped, 0 not started, 1 already current (core-dev -> V4)"


def test_pending_versions_are_the_versions_a_check_run_would_create():
    catalog = {"products": {
        "core-dev": {"version_created": True, "artifact_id": None, "artifact_name": "V4", "template_url": "https://b.s3.eu-west-1.amazonaws.com/core.json"},
        "orders-dev": {"version_created": False, "artifact_id": "pa-1", "artifact_name": "V2", "template_url": "https://b/o.json"},
        "billing-dev": {"version_created": True, "artifact_id": "pa-9", "artifact_name": "V7", "template_url": "https://b/x.json"},  # a real run's
    }}
    assert FILTERS["pending_versions"](catalog) == [
        {"product": "core-dev", "version": "V4", "template_url": "https://b.s3.eu-west-1.amazonaws.com/core.json"}]
    assert FILTERS["pending_versions"](None) == [] and FILTERS["pending_versions"]({}) == []


def test_an_unknown_phase_is_refused():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="phase must be one of"):
        FILTERS["phase_results"]({}, "deploy", "us-east-1")


def host(region, **facts):
    return {"aws_region": region, **facts}


def test_wave_failed_follows_max_fail_percentage():
    wave = [host("a", deploy_run_rollout_failed=True), host("b"), host("c", deploy_run_rollout_failed=False), host("d")]
    assert FILTERS["wave_failed"](wave) is True  # 0 %: any failure stops the later waves
    assert FILTERS["wave_failed"](wave, 25) is False and FILTERS["wave_failed"](wave, "24") is True
    assert FILTERS["wave_failed"]([host("a"), host("b")], 0) is False


def test_target_results_and_the_settled_run():
    plan = {"account_id": ACCOUNT, "targets": [{"account_id": ACCOUNT, "region": "us-east-1"}, {"account_id": ACCOUNT, "region": "eu-west-1"}]}
    hosts = [
        host("us-east-1", package_results={"region": "us-east-1"}, deploy_run_phases_done=["package", "catalog", "rollout"]),
        host("eu-west-1", package_results={"region": "eu-west-1"}, deploy_run_phases_done=["package", "catalog"], deploy_run_rollout_failed=True,
             deploy_run_region_error="1 of 2 tenants failed in eu-west-1"),
    ]
    targets = FILTERS["target_results"](hosts, plan)
    assert targets["us-east-1"] == {"account_id": ACCOUNT, "package": {"region": "us-east-1"}, "catalog": None, "validate": None, "rollout": None,
                                    "phases_done": ["package", "catalog", "rollout"], "rollout_failed": False, "error": None}
    run = settle_run({"run_id": "x", "stage": "dev"}, targets)
    assert run["phases_done"] == ["package", "catalog"]  # the rollout is not done for the run until every region did it
    assert run["status"] == "failed" and run["error"] == "eu-west-1: 1 of 2 tenants failed in eu-west-1" and run["finished"]
    aborted = settle_run({"run_id": "x", "stage": "dev", "status": "failed"}, {"us-east-1": targets["us-east-1"]})
    assert aborted["error"] == "failed" and aborted["status"] == "failed"
    given = settle_run({"run_id": "x", "status": "succeeded", "phases_done": [], "finished": "then"}, targets)
    assert (given["status"], given["phases_done"], given["finished"]) == ("succeeded", [], "then") and "error" not in given
    assert shapes.PHASE_FACTS["rollout"] == "rollout_results"


def test_doctor_targets_follow_the_stage_regions_whatever_order_the_hosts_come_in():
    plan = {"regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}

    def host(region):
        return {"package_settings": {"plan": plan, "region": region, "bucket": f"b-{region}"},
                "package_packaged": {"services": [{"name": "orders"}], "init_stacks": []}}

    hosts = [host("ap-southeast-2"), {"package_settings": {}}, host("eu-west-1"), host("us-east-1")]
    targets = shapes.doctor_targets(hosts)
    assert [target["region"] for target in targets] == plan["regions"]
    assert targets[0] == {"region": "us-east-1", "bucket": "b-us-east-1", "packages": [{"name": "orders"}]}
