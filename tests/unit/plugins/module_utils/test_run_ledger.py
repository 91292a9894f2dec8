"""The run ledger: merging on resume, totals, the report and AWX's numbers."""
from __future__ import annotations

from ansible_collections.multiregion.serverless.plugins.module_utils.run_ledger import (
    awx_stats,
    build_ledger,
    failures,
    render_markdown,
    summary_table,
)

RUN = {
    "run_id": "20261123T120000Z-1a2b3c",
    "stage": "dev",
    "regions": ["us-east-1", "eu-west-1"],
    "started": "2026-11-23T12:00:00Z",
    "finished": "2026-11-23T12:05:00Z",
    "status": "failed",
    "phases_done": ["package", "catalog"],
}


def first_attempt():
    return build_ledger(
        RUN,
        {
            "packaging": [
                {"region": "us-east-1", "service": "orders", "status": "packaged", "uploaded": 2, "changed": True},
                {"region": "eu-west-1", "service": "orders", "status": "cached", "uploaded": 0},
            ],
            "catalog": [
                {"region": "us-east-1", "product": "platform-core", "status": "created", "version": "V2", "artifact_id": "pa-1", "changed": True},
                {"region": "eu-west-1", "product": "platform-core", "status": "unchanged", "version": "V1", "artifact_id": "pa-2"},
            ],
            "rollout": [
                {"region": "us-east-1", "product": "platform-core", "tenant_id": "pp-1", "tenant": "acme", "status": "updated"},
                {"region": "us-east-1", "product": "platform-core", "tenant_id": "pp-2", "tenant": "globex", "status": "failed", "error": "stack rolled back"},
                {"region": "us-east-1", "product": "platform-core", "tenant_id": "pp-3", "tenant": "initech", "status": "skipped", "reason": "TAINTED"},
            ],
        },
    )


def test_totals_and_failures():
    ledger = first_attempt()
    assert ledger["totals"]["packaging"] == {"done": 2, "failed": 0, "other": 0, "changed": 1}
    assert ledger["totals"]["rollout"] == {"done": 1, "failed": 1, "other": 1, "changed": 0}
    assert failures(ledger) == ["rollout us-east-1 platform-core, pp-2: stack rolled back"]


def test_a_refused_tenant_is_named_among_the_failures_and_counted_apart():
    refused = {"region": "eu-west-1", "product": "platform-core", "tenant_id": "pp-9", "tenant": "umbrella", "status": "refused",
               "error": "tenant umbrella: platform-core/Orders/OrdersTable (AWS::DynamoDB::Table, KeySchema) would be replaced: ..."}
    ledger = build_ledger(RUN, {"rollout": [refused]})
    assert failures(ledger) == ["rollout eu-west-1 platform-core, pp-9: refused: tenant umbrella: platform-core/Orders/OrdersTable "
                                "(AWS::DynamoDB::Table, KeySchema) would be replaced: ..."]
    row = next(line for line in summary_table(ledger) if line.startswith("eu-west-1"))
    # updated, refused, skipped, failed: a refusal is neither a failure of AWS nor a skip
    assert row.split()[-4:] == ["0", "1", "0", "0"]


def test_resume_replaces_only_what_the_new_attempt_did():
    previous = first_attempt()
    resumed = build_ledger(
        dict(RUN, status="succeeded", phases_done=["rollout"], started="2026-11-23T13:00:00Z"),
        {"rollout": [{"region": "us-east-1", "product": "platform-core", "tenant_id": "pp-2", "tenant": "globex", "status": "updated"}]},
        previous=previous,
    )
    assert resumed["attempts"] == 2
    assert resumed["run"]["first_started"] == "2026-11-23T12:00:00Z"
    assert resumed["run"]["phases_done"] == ["package", "catalog", "rollout"]
    statuses = {entry["tenant_id"]: entry["status"] for entry in resumed["entries"]["rollout"]}
    assert statuses == {"pp-1": "updated", "pp-2": "updated", "pp-3": "skipped"}
    assert len(resumed["entries"]["packaging"]) == 2
    assert failures(resumed) == []


def test_report_and_table_agree():
    ledger = first_attempt()
    table = summary_table(ledger)
    assert table[0].split()[0] == "region"
    us_row = next(line for line in table if line.startswith("us-east-1"))
    # packaged, cached, uploaded, new versions, unchanged, validated, updated, refused, skipped, failed
    assert us_row.split()[1:] == ["1", "0", "2", "1", "0", "0", "1", "0", "1", "1"]
    report = render_markdown(ledger)
    assert "| us-east-1 | 1 | 0 | 2 | 1 | 0 | 0 | 1 | 0 | 1 | 1 |" in report
    assert "- rollout us-east-1 platform-core, pp-2: stack rolled back" in report
    assert "| eu-west-1 | platform-core | unchanged | V1 | pa-2 |" in report


def test_awx_stats_sum_regions():
    stats = awx_stats(first_attempt())
    assert stats["deploy_packaged"] == 1
    assert stats["deploy_cached"] == 1
    assert stats["deploy_tenants_updated"] == 1
    assert stats["deploy_failed"] == 1
    assert stats["deploy_status"] == "failed"


def test_entries_from_the_roles_result_facts():
    from ansible_collections.multiregion.serverless.plugins.module_utils.run_ledger import entries_from_target_results

    entries = entries_from_target_results(
        {
            "eu-west-1": {
                "account_id": "123456789012",
                "package": {
                    # The folder orders holds the service shop-orders: its keys carry the service name, the ledger the folder's.
                    "services": {"orders": {"packaging_seconds": 3.2, "template_key": "serverless/shop-orders/dev/templates/x.json",
                                            "artifacts": [{"s3_key": "serverless/shop-orders/dev/abc/orders.zip"}]},
                                 "payments": {"template_key": "serverless/payments/dev/templates/p.json"}},
                    "init_stacks": {"network-baseline": {"template_key": "init/network-baseline/dev/n.json"}},
                    "products": {"platform-core": {"key": "products/platform-core/dev/y.json", "url": "https://b/products/platform-core/dev/y.json"}},
                    "template_urls": {"service/orders": "https://b/serverless/shop-orders/dev/templates/x.json"},
                    "packaged": ["orders"],
                    "cached": ["payments", "network-baseline"],
                    "uploaded_keys": ["serverless/shop-orders/dev/abc/orders.zip", "serverless/shop-orders/dev/templates/x.json",
                                      "products/platform-core/dev/y.json"],
                },
                "catalog": {"products": {"platform-core": {"version_created": True, "artifact_name": "V3", "artifact_id": "pa-3", "changed": True}}},
                "validate": {"products": [{"product": "platform-core", "status": "passed", "name": "validate-x"}]},
                "rollout": {"tenants": [
                    {"name": "acme", "id": "pp-1", "product": "platform-core", "status": "failed", "error": "boom", "from_version": "V2", "to_version": "V3"},
                ]},
            },
            "us-east-1": {"package": None, "catalog": None, "validate": None, "rollout": None},
        },
        account_id="210987654321",
    )
    packaging = {entry["service"]: entry for entry in entries["packaging"]}
    assert packaging["orders"]["status"] == "packaged" and packaging["orders"]["uploaded"] == 2 and packaging["orders"]["seconds"] == 3.2
    assert packaging["orders"]["template_url"] == "https://b/serverless/shop-orders/dev/templates/x.json"
    assert packaging["platform-core"]["kind"] == "product" and packaging["platform-core"]["uploaded"] == 1
    # Every object the region wrote is counted once, on the service, init stack or product it belongs to.
    assert sum(entry["uploaded"] for entry in entries["packaging"]) == 3
    assert packaging["payments"]["status"] == "cached" and packaging["payments"]["uploaded"] == 0
    assert packaging["network-baseline"]["kind"] == "init"
    assert entries["catalog"] == [
        {"account_id": "123456789012", "region": "eu-west-1", "product": "platform-core", "status": "created", "changed": True, "version": "V3",
         "artifact_id": "pa-3", "previous_version": None, "fingerprint": None}
    ]
    assert entries["validation"][0]["status"] == "passed" and entries["validation"][0]["account_id"] == "123456789012"
    assert entries["rollout"][0]["tenant_id"] == "pp-1" and entries["rollout"][0]["from"] == "V2" and entries["rollout"][0]["error"] == "boom"


def test_entries_are_keyed_on_the_target_and_older_ledgers_merge_into_the_runs_account():
    # A ledger written before entries named their account: its entries belong to the run's account.
    previous = first_attempt()
    resumed = build_ledger(
        dict(RUN, account_id="123456789012", status="succeeded", phases_done=["rollout"]),
        {"rollout": [{"account_id": "123456789012", "region": "us-east-1", "product": "platform-core", "tenant_id": "pp-2",
                      "status": "updated"}]},
        previous=previous,
    )
    rollout = resumed["entries"]["rollout"]
    assert len(rollout) == 3 and {entry["account_id"] for entry in rollout} == {"123456789012"}
    assert {entry["tenant_id"]: entry["status"] for entry in rollout}["pp-2"] == "updated"
    assert failures(resumed) == []


def test_a_reason_every_region_gave_is_said_once_after_its_regions():
    from ansible_collections.multiregion.serverless.plugins.module_utils.run_ledger import settle_run

    same = "product platform-core: init 'network-baseline' has no published template"
    settled = settle_run({"status": "failed"}, {
        "us-east-1": {"region": "us-east-1", "error": same},
        "eu-west-1": {"region": "eu-west-1", "error": "tenant acme: stack rolled back"},
        "ap-southeast-2": {"region": "ap-southeast-2", "error": same},
        "us-west-2": {"region": "us-west-2", "error": None},
    })
    assert settled["error"] == f"us-east-1, ap-southeast-2: {same}; eu-west-1: tenant acme: stack rolled back"
