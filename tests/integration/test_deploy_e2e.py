"""``playbooks/deploy.yml`` end to end, from the command line, against a local AWS server of this module.

One scenario on a copy of examples/ (stage dev narrowed to two of its three regions, the real Serverless
CLI): the cold run happens once in the ``scenario`` fixture, then the tests build on it in file order:
no-change re-run, a stale lock refused and broken, a failing package phase, a change to one service (validated
with ``-e validate_product=true`` and no validate_parameters: test tenants with generated ids), ``--tags rollout``
alone, a failing tenant and the resume of that run. Each test states which earlier steps it needs and is skipped
(not failed) when one of them failed, so the first real failure stands out.

The server is this module's own (``tools/local-aws --port 0``): the example project owns moto's default
account, and its call counts must not mix with other tests'.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest
import yaml

from deploy_helpers import (
    BOOKKEEPING_TASKS,
    BOOKKEEPING_WRITES,
    DEPLOY_PLAYBOOK,
    EXAMPLES_DIR,
    REPO_ROOT,
    VENV_BIN,
    PlaybookRun,
    PlaybookRunner,
    bucket_exists,
    bucket_keys,
    copy_project,
    entries,
    latest_artifact_ids,
    ledger,
    lock_value,
    product_versions,
    provision_tenants,
    run_id_of,
    service_of_key,
    tenant_resources,
    tenants,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGE = "dev"
REGIONS = ["us-east-1", "eu-west-1"]  # the stage has ap-southeast-2 too: -e regions= narrows
LEFT_OUT_REGION = "ap-southeast-2"
PRIMARY = "us-east-1"
DEFINITIONS = ["platform-core", "tenant-analytics"]  # products/<name>.yml, the names in S3 keys
PRODUCTS = [f"{name}-{STAGE}" for name in DEFINITIONS]  # the stage's Service Catalog products (docs/project-layout.md)
SSM_PREFIX = "/multiregion/dev"
BUCKETS = {region: f"mrs-artifacts-dev-{region}" for region in REGIONS}
# What the stage packages per region: every service but the always-excluded legacy-reports, and the init stacks.
SERVICES = {"authorizer", "e2e-fixtures", "inventory", "notifications", "orders", "payments"}
# The examples' AWS SAM services (published under sam/, docs/sam.md), nested in tenant-analytics.
SAM_SERVICES = {"usage-reports", "webhooks"}
INIT_STACKS = {"network-baseline", "shared-observability"}
TENANTS_PER_PRODUCT = 2
FAILING_TENANT = "platform-core-dev-eu-west-1-1"
RACE_PREFIX = "/multiregion/e2e-race"  # a lock of its own for the race of two lock takers
# Seconds between record polls of the rollout and the validation (default 5): the local AWS completes records at once.
FAST_POLLING = {"rollout_poll_delay": 0.2, "rollout_poll_max_delay": 1, "validate_poll_delay": 0.2, "validate_poll_max_delay": 1}
# What the examples' products allow as TenantId (examples/products/*.yml), which the test tenants' generated ids must fit.
EXAMPLE_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,15}$")


class Scenario:
    def __init__(self, aws: Any, project: Path, runner: PlaybookRunner) -> None:
        self.aws = aws
        self.project = project
        self.runner = runner
        self.done: Set[str] = set()
        self.runs: Dict[str, PlaybookRun] = {}
        self.calls: Dict[str, Dict[str, Dict[str, int]]] = {}

    def require(self, *steps: str) -> None:
        missing = [step for step in steps if step not in self.done]
        if missing:
            pytest.skip(f"needs the earlier step(s) {', '.join(missing)}, which failed")

    def deploy(self, name: str, *args: str, **variables: Any) -> PlaybookRun:
        """A deploy of the scenario's stage and regions; the call counts of exactly this run are kept."""
        self.aws.reset_calls()
        run = self.runner.deploy(self.project, STAGE, *args, **{"regions": ",".join(REGIONS), **FAST_POLLING, **variables})
        self.runs[name] = run
        self.calls[name] = self.aws.calls()
        return run

    def all_keys(self) -> Dict[str, Set[str]]:
        return {region: bucket_keys(self.aws, BUCKETS[region], region) for region in REGIONS}

    def versions(self) -> Dict[str, Dict[str, List[str]]]:
        """{region: {product: [artifact ids, oldest first]}}"""
        return {
            region: {product: [pair[1] for pair in product_versions(self.aws, region, product)] for product in PRODUCTS}
            for region in REGIONS
        }

    def latest(self) -> Dict[str, Dict[str, Any]]:
        return {region: latest_artifact_ids(self.aws, region, SSM_PREFIX, PRODUCTS) for region in REGIONS}

    def tenants(self) -> Dict[str, Dict[str, Dict[str, str]]]:
        return {region: tenants(self.aws, region) for region in REGIONS}


def change_handler(project: Path, relative: str, marker: str) -> None:
    """A real code change: the handler's ZIP, so the service's template and keys, change."""
    with (project / relative).open("a") as handle:
        handle.write(f"\n# e2e change: {marker}\n")


def new_keys(before: Dict[str, Set[str]], after: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    return {region: after[region] - before[region] for region in after}


def assert_run_published(scenario: Scenario, run_id: str) -> Dict[str, Any]:
    """The ledger and report exist locally and, byte for byte, in the primary bucket; returns the ledger."""
    local = scenario.project / ".deploy-runs" / run_id
    assert (local / "ledger.json").is_file() and (local / "report.md").is_file()
    s3 = scenario.aws.client("s3", PRIMARY)
    for name in ("ledger.json", "report.md"):
        body = s3.get_object(Bucket=BUCKETS[PRIMARY], Key=f"runs/{STAGE}/{run_id}/{name}")["Body"].read()
        assert body == (local / name).read_bytes(), f"{name} in the bucket differs from the local one"
    assert run_id in (local / "report.md").read_text()
    return ledger(scenario.project, run_id)


@pytest.fixture(scope="module")
def scenario(module_local_aws, tmp_path_factory) -> Scenario:
    # The package phase builds into <project_dir>/.deploy-build (git-ignored by the .gitignore it writes there).
    project = copy_project(tmp_path_factory.mktemp("deploy-e2e") / "project")
    state = Scenario(module_local_aws, project, PlaybookRunner(module_local_aws.env, user="alice"))
    bootstrap = state.runner.bootstrap(project, STAGE, REGIONS)
    assert bootstrap.returncode == 0, bootstrap.explain()
    state.deploy("cold", catalog_create_missing_products=True)
    return state


# ---- The scenario, in order.


def assert_one_host_gives_the_reason(run: Any, *needles: str) -> None:
    """The run's stop: one host's last line holds every needle (whichever host wrote the run's report, any of them
    in any run), every other host points at that one."""
    stops = {result.host: result.msg for result in run.task("Stop the run before any later phase") if result.failed}
    reasons = [host for host, msg in stops.items() if all(needle in msg for needle in needles)]
    assert len(reasons) == 1 and set(stops) == set(REGIONS), run.explain()
    assert all(stops[host] == f"stopped with the run (the reason is on {reasons[0]})" for host in set(REGIONS) - set(reasons)), run.explain()


def test_cold_run_packages_publishes_and_versions_every_product(scenario: Scenario) -> None:
    run = scenario.runs["cold"]
    assert run.returncode == 0, run.explain()
    run_id = run_id_of(run)
    document = assert_run_published(scenario, run_id)

    assert document["run"]["status"] == "succeeded"
    assert document["run"]["regions"] == REGIONS
    assert document["run"]["phases_done"] == ["package", "catalog"]
    for region in REGIONS:
        packaged = [e for e in entries(document, "packaging", region=region) if e["kind"] != "product"]
        assert {e["service"] for e in packaged} == SERVICES | SAM_SERVICES | INIT_STACKS  # legacy-reports never deployed
        assert {e["status"] for e in packaged} == {"packaged"}
        assert all(e["uploaded"] > 0 and e["template_url"].startswith(f"https://{BUCKETS[region]}.s3.") for e in packaged), packaged
        published = {e["service"]: e["uploaded"] for e in entries(document, "packaging", region=region, kind="product")}
        assert published == {p: 1 for p in DEFINITIONS}
        # The ledger counts every object the run wrote to the region's bucket (the run's own records aside).
        written = [key for key in bucket_keys(scenario.aws, BUCKETS[region], region) if not key.startswith("runs/")]
        assert sum(e["uploaded"] for e in entries(document, "packaging", region=region)) == len(written)
        assert {e["product"]: e["status"] for e in entries(document, "catalog", region=region)} == {p: "created" for p in PRODUCTS}
    assert run.stats["deploy_versions_created"] == len(PRODUCTS) * len(REGIONS)
    assert run.stats["deploy_packaged"] == len(SERVICES | SAM_SERVICES | INIT_STACKS) * len(REGIONS)

    versions, latest = scenario.versions(), scenario.latest()
    for region in REGIONS:
        for product in PRODUCTS:
            assert len(versions[region][product]) == 1
            assert latest[region][product][0] == versions[region][product][0]
        keys = {service_of_key(key) for key in bucket_keys(scenario.aws, BUCKETS[region], region)}
        published = {f"serverless/{s}" for s in SERVICES} | {f"sam/{s}" for s in SAM_SERVICES} | {f"init/{s}" for s in INIT_STACKS}
        assert published | {f"products/{p}" for p in DEFINITIONS} <= keys
        assert "serverless/legacy-reports" not in keys

    # -e regions= narrowed the stage: nothing at all in its third region.
    assert not bucket_exists(scenario.aws, f"mrs-artifacts-dev-{LEFT_OUT_REGION}", LEFT_OUT_REGION)
    assert all(product_versions(scenario.aws, LEFT_OUT_REGION, product) == [] for product in PRODUCTS)
    # -e project_dir= was used for everything: no ledger went into the checkout's examples/.
    assert not (EXAMPLES_DIR / ".deploy-runs" / run_id).exists()
    assert lock_value(scenario.aws, PRIMARY, SSM_PREFIX) is None, "the lock is released on success"
    scenario.done.add("cold")


def tenant_names(region: str, product: str) -> List[str]:
    return [f"{product}-{region}-{number}" for number in range(1, TENANTS_PER_PRODUCT + 1)]


def test_tenants_provisioned_on_the_first_versions(scenario: Scenario) -> None:
    scenario.require("cold")
    for region in REGIONS:
        for product in PRODUCTS:
            statuses = provision_tenants(scenario.aws, region, SSM_PREFIX, product, tenant_names(region, product))
            assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    latest = scenario.latest()
    for region, found in scenario.tenants().items():
        assert len(found) == len(PRODUCTS) * TENANTS_PER_PRODUCT
        assert {t["artifact"] for t in found.values()} == {latest[region][p][0] for p in PRODUCTS}
    scenario.done.add("tenants")


def test_no_change_rerun_changes_nothing_and_writes_only_its_own_records(scenario: Scenario) -> None:
    scenario.require("cold")
    keys_before, latest_before = scenario.all_keys(), scenario.latest()

    run = scenario.deploy("no-change")

    assert run.returncode == 0, run.explain()
    # 0 changed: the only tasks that report a change are the lock and the run's ledger.
    assert run.changed_tasks == BOOKKEEPING_TASKS
    # 0 writes by the server's count, apart from the lock and the two run records.
    assert writes(scenario.calls["no-change"]) == BOOKKEEPING_WRITES
    run_id = run_id_of(run)
    added = new_keys(keys_before, scenario.all_keys())
    assert added == {PRIMARY: {f"runs/{STAGE}/{run_id}/ledger.json", f"runs/{STAGE}/{run_id}/report.md"}, "eu-west-1": set()}
    assert scenario.latest() == latest_before  # same ids and SSM parameter versions: not even rewritten

    document = assert_run_published(scenario, run_id)
    assert {(e["kind"], e["status"]) for e in document["entries"]["packaging"]} == {("service", "cached"), ("init", "cached"), ("product", "unchanged")}
    assert sum(e["uploaded"] for e in document["entries"]["packaging"]) == 0
    assert {e["status"] for e in document["entries"]["catalog"]} == {"unchanged"}
    assert run.stats["deploy_uploaded"] == 0 and run.stats["deploy_versions_created"] == 0
    assert lock_value(scenario.aws, PRIMARY, SSM_PREFIX) is None
    scenario.done.add("no-change")


def test_a_concurrent_run_is_refused_and_a_stale_lock_is_only_broken_on_request(scenario: Scenario) -> None:
    scenario.require("cold")
    holder = {"run_id": "20261123T080000Z-0a1b2c", "holder": "bob", "started": "2026-11-23T08:00:00Z"}
    ssm = scenario.aws.client("ssm", PRIMARY)
    ssm.put_parameter(Name=f"{SSM_PREFIX}/deploy-lock", Value=json.dumps(holder), Type="String", Overwrite=False)
    runs_before = set((scenario.project / ".deploy-runs").iterdir())

    refused = scenario.deploy("refused")

    assert refused.returncode != 0
    expected = "stage 'dev' is being deployed by bob (run 20261123T080000Z-0a1b2c, started 2026-11-23T08:00:00Z)"
    assert [m for m in refused.failure_messages if expected in m and "break_lock=true" in m], refused.explain()
    assert writes(scenario.calls["refused"]) == {}
    assert lock_value(scenario.aws, PRIMARY, SSM_PREFIX) == holder, "nothing breaks a lock silently"
    assert set((scenario.project / ".deploy-runs").iterdir()) == runs_before, "a refused run leaves no ledger"

    # The holder is known to be dead: break it, narrowed to one region to keep this short.
    broken = scenario.runner.deploy(scenario.project, STAGE, regions=PRIMARY, break_lock=True)
    assert broken.returncode == 0, broken.explain()
    assert broken.task("Take the stage lock in the primary region")[0].result["broken"] is True
    assert lock_value(scenario.aws, PRIMARY, SSM_PREFIX) is None
    document = assert_run_published(scenario, run_id_of(broken))
    assert document["run"]["regions"] == [PRIMARY]
    assert {e["region"] for e in document["entries"]["packaging"]} == {PRIMARY}
    scenario.done.add("lock")


def test_a_failing_package_phase_stops_the_run_records_why_and_releases_the_lock(scenario: Scenario) -> None:
    scenario.require("cold")
    definition = scenario.project / "services" / "orders" / "serverless.yml"
    original = definition.read_text()
    versions_before = scenario.versions()
    # An unclosed list: the service's definition no longer parses, so its packaging fails in every region.
    definition.write_text(original + "\nunclosed: [\n")
    try:
        run = scenario.deploy("package-failure")
    finally:
        definition.write_text(original)

    assert run.returncode != 0
    # The reason is shown once, by one region; the other regions stop pointing at it.
    reasons = [message for message in run.failure_messages if "(ledger: " in message]
    assert len(reasons) == 1, run.explain()
    final = reasons[0]
    assert "orders" in final, run.explain()
    run_id = run_id_of(run)
    document = assert_run_published(scenario, run_id)
    assert document["run"]["status"] == "failed"
    assert document["run"]["phases_done"] == []
    # The recorded reason names every region that failed and what failed there, not a placeholder; a reason that is
    # the same everywhere is said once, after its regions.
    error = document["run"]["error"]
    assert all(region in error for region in REGIONS) and "services/orders/serverless.yml" in error, error
    assert error.count("services/orders/serverless.yml") <= len(REGIONS)
    assert f"(ledger: {scenario.project / '.deploy-runs' / run_id / 'ledger.json'})" in final
    assert lock_value(scenario.aws, PRIMARY, SSM_PREFIX) is None, "the lock is released on failure"
    assert scenario.versions() == versions_before, "no catalog phase after a failed package phase"
    assert not [w for w in writes(scenario.calls["package-failure"]) if w.startswith("servicecatalog:")]
    scenario.done.add("package-failure")


def test_a_change_to_one_service_makes_one_new_version_per_product_and_region(scenario: Scenario) -> None:
    """... and -e validate_product=true, with no validate_parameters, validates each new version with a test tenant."""
    scenario.require("cold")
    keys_before, versions_before = scenario.all_keys(), scenario.versions()
    tenants_before = scenario.tenants()
    # inventory is in both products, so both get a new version in both regions.
    change_handler(scenario.project, "services/inventory/inventory/jobs.py", "inventory v2")

    run = scenario.deploy("one-service", validate_product=True)

    assert run.returncode == 0, run.explain()
    versions_after, latest = scenario.versions(), scenario.latest()
    for region in REGIONS:
        for product in PRODUCTS:
            assert versions_after[region][product][:-1] == versions_before[region][product]
            assert len(versions_after[region][product]) == len(versions_before[region][product]) + 1
            assert latest[region][product][0] == versions_after[region][product][-1]
    # Only that service was re-uploaded (and the product templates that point at it, and the run records).
    added = new_keys(keys_before, scenario.all_keys())
    for region in REGIONS:
        owners = {service_of_key(key) for key in added[region]}
        assert owners - {"runs"} == {"serverless/inventory"} | {f"products/{p}" for p in DEFINITIONS}, added[region]
    document = assert_run_published(scenario, run_id_of(run))
    for region in REGIONS:
        packaging = {e["service"]: e for e in entries(document, "packaging", region=region)}
        assert {name for name, e in packaging.items() if e["status"] == "packaged"} == {"inventory"}
        assert {name for name, e in packaging.items() if e["uploaded"]} == {"inventory"} | set(DEFINITIONS)
        assert {e["status"] for e in entries(document, "catalog", region=region)} == {"created"}
    counted = writes(scenario.calls["one-service"])
    assert counted.get("servicecatalog:CreateProvisioningArtifact") == len(PRODUCTS) * len(REGIONS)
    assert scenario.tenants() == tenants_before, "no rollout without update_product or --tags rollout, no test tenant left"
    assert_validated_with_generated_tenant_ids(scenario, run, document, counted)
    scenario.done.add("one-service")


def assert_validated_with_generated_tenant_ids(scenario: Scenario, run: PlaybookRun, document: Dict[str, Any], counted: Dict[str, int]) -> None:
    """Each region's new versions passed a test tenant that got a generated TenantId and is gone again."""
    run_id = run_id_of(run)
    assert document["run"]["phases_done"] == ["package", "catalog", "validate"]
    for region in REGIONS:
        validated = {e["product"]: (e["status"], e["tenant"]) for e in entries(document, "validation", region=region)}
        assert validated == {f"{name}-{STAGE}": ("passed", f"validate-{name}-{run_id}") for name in DEFINITIONS}, validated
    # One test tenant per product and region, each provisioned and terminated.
    assert counted.get("servicecatalog:ProvisionProduct") == len(PRODUCTS) * len(REGIONS)
    assert counted.get("servicecatalog:TerminateProvisionedProduct") == len(PRODUCTS) * len(REGIONS)
    for region in REGIONS:
        assert not [name for name in tenants(scenario.aws, region) if name.startswith("validate-")], f"a test tenant is left in {region}"
    # The generated ids fit the products' pattern and differ per product and region (the module returns them).
    tested = [item for result in run.results if result.task.startswith("Validate each product with a test tenant")
              for item in result.result.get("results", [])]
    tenant_ids = [item["parameters"]["TenantId"] for item in tested]
    assert len(tenant_ids) == len(PRODUCTS) * len(REGIONS) and len(set(tenant_ids)) == len(tenant_ids), tested
    assert all(EXAMPLE_TENANT_ID.fullmatch(tenant_id) for tenant_id in tenant_ids), tenant_ids
    assert all(item["status"] == "passed" and item["terminated"] for item in tested)


def test_rollout_alone_updates_every_tenant_to_the_version_in_ssm(scenario: Scenario) -> None:
    scenario.require("tenants", "one-service")
    # Two launch paths per product: the stage's portfolio (the catalog phase made it) and the one the tenants were
    # provisioned through (an administrator's, tests/integration/deploy_helpers.provision_tenants). AWS then needs a
    # PathId on every update; the rollout names the stage's.
    for region in REGIONS:
        catalog = scenario.aws.client("servicecatalog", region)
        for product in PRODUCTS:
            views = catalog.search_products_as_admin(Filters={"FullTextSearch": [product]})["ProductViewDetails"]
            product_id = next(view["ProductViewSummary"]["ProductId"] for view in views if view["ProductViewSummary"]["Name"] == product)
            paths = catalog.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"]
            assert sorted(path["Name"] for path in paths) == sorted([f"multiregion-{STAGE}", f"{product_id}-launch"]), paths

    run = scenario.deploy("rollout", "--tags", "rollout")

    assert run.returncode == 0, run.explain()
    latest, found = scenario.latest(), scenario.tenants()
    tenant_count = len(PRODUCTS) * TENANTS_PER_PRODUCT * len(REGIONS)
    for region in REGIONS:
        assert {t["artifact"] for t in found[region].values()} == {latest[region][p][0] for p in PRODUCTS}
        assert {t["status"] for t in found[region].values()} == {"AVAILABLE"}
    counted = writes(scenario.calls["rollout"])
    assert counted.pop("servicecatalog:UpdateProvisionedProduct") == tenant_count
    assert counted == BOOKKEEPING_WRITES, "--tags rollout packages and versions nothing"
    document = assert_run_published(scenario, run_id_of(run))
    assert document["run"]["phases_done"] == ["rollout"]
    assert document["entries"]["packaging"] == [] and document["entries"]["catalog"] == []
    assert {e["status"] for e in document["entries"]["rollout"]} == {"updated"}
    assert len(document["entries"]["rollout"]) == tenant_count
    assert run.stats["deploy_tenants_updated"] == tenant_count
    scenario.done.add("rollout")


def test_a_failing_tenant_fails_the_run_at_the_end_and_resume_finishes_only_it(scenario: Scenario) -> None:
    scenario.require("tenants", "rollout")
    aws = scenario.aws
    # orders is only in platform-core: tenant-analytics's tenants are already current.
    change_handler(scenario.project, "services/orders/orders/handlers.py", "orders v2")
    aws.set_faults(fail_provisioned_products=[FAILING_TENANT])
    try:
        run = scenario.deploy("failing-tenant", update_product=True)
    finally:
        aws.clear_faults()

    assert run.returncode != 0
    # The run ends failing with the region, the tenant and why (the fault's reason), after the others finished.
    assert_one_host_gives_the_reason(run, "eu-west-1", FAILING_TENANT, "Injected failure")
    latest, found = scenario.latest(), scenario.tenants()
    for region in REGIONS:
        for name, tenant in found[region].items():
            product = "platform-core-dev" if name.startswith("platform-core-dev-") else "tenant-analytics-dev"
            if name == FAILING_TENANT:
                assert tenant["artifact"] != latest[region][product][0] and tenant["status"] == "TAINTED"
            else:
                assert tenant["artifact"] == latest[region][product][0] and tenant["status"] == "AVAILABLE", (name, tenant)
    updates = writes(scenario.calls["failing-tenant"])["servicecatalog:UpdateProvisionedProduct"]
    assert updates == TENANTS_PER_PRODUCT * len(REGIONS)  # platform-core's tenants; tenant-analytics is current

    run_id = run_id_of(run)
    document = assert_run_published(scenario, run_id)
    assert document["run"]["status"] == "failed"
    assert "eu-west-1" in document["run"]["error"]
    failed = entries(document, "rollout", status="failed")
    assert [(e["region"], e["product"], e["tenant"]) for e in failed] == [("eu-west-1", "platform-core-dev", FAILING_TENANT)]
    assert failed[0]["error"], "the ledger says why the tenant failed"
    assert len(entries(document, "rollout", status="updated")) == TENANTS_PER_PRODUCT * len(REGIONS) - 1
    assert lock_value(aws, PRIMARY, SSM_PREFIX) is None, "the lock is released when a tenant failed"

    # The fault is gone: resume the run under its id; only the failed tenant is left to do.
    resumed = scenario.deploy("resume", update_product=True, resume=run_id)

    assert resumed.returncode == 0, resumed.explain()
    assert run_id_of(resumed) == run_id
    counted = writes(scenario.calls["resume"])
    assert counted.pop("servicecatalog:UpdateProvisionedProduct") == 1
    assert counted == BOOKKEEPING_WRITES, "a resumed run redoes nothing that was done"
    tenant = scenario.tenants()["eu-west-1"][FAILING_TENANT]
    assert tenant == {**tenant, "artifact": latest["eu-west-1"]["platform-core-dev"][0], "status": "AVAILABLE"}
    document = assert_run_published(scenario, run_id)
    assert document["attempts"] == 2
    assert document["run"]["status"] == "succeeded"
    assert entries(document, "rollout", status="failed") == []
    assert [e["status"] for e in entries(document, "rollout", tenant=FAILING_TENANT)] == ["updated"]
    assert len(entries(document, "catalog", status="created")) == len(REGIONS)  # carried over from the first attempt
    scenario.done.add("failing-tenant")


# Resources whose physical id a code change must not touch (a Lambda version or an API deployment is new by design).
KEPT_TYPES = {"AWS::CloudFormation::Stack", "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Logs::LogGroup"}


def test_an_update_failing_inside_the_tenant_stacks_rolls_each_back_with_its_data(scenario: Scenario) -> None:
    """A rollout whose stack update fails at a resource, as it can on AWS after the version was published: every
    tenant of the product rolls back (TAINTED on its version, same tables and items), the run fails at the end,
    and the resumed run, once the cause is gone, updates them in place."""
    scenario.require("failing-tenant")
    aws = scenario.aws
    core = {region: sorted(name for name in tenants(aws, region) if name.startswith("platform-core-dev-")) for region in REGIONS}
    kept_before = {(region, name): {k: v for k, v in tenant_resources(aws, region, name).items() if v[0] in KEPT_TYPES}
                   for region in REGIONS for name in core[region]}
    table = {key: physical for key, (kind, physical) in kept_before[(PRIMARY, core[PRIMARY][0])].items() if key.endswith("/OrdersTable")}
    [(table_key, table_name)] = table.items()
    aws.client("dynamodb", PRIMARY).put_item(TableName=table_name, Item={"orderId": {"S": "kept-through-rollback"}})
    versions_before = scenario.tenants()
    change_handler(scenario.project, "services/orders/orders/handlers.py", "orders v3")
    aws.set_faults(fail_stack_resources=["CreateOrderLambdaFunction"])
    try:
        run = scenario.deploy("failing-stacks", update_product=True)
    finally:
        aws.clear_faults()

    assert run.returncode != 0
    assert_one_host_gives_the_reason(run, "CreateOrderLambdaFunction")
    found = scenario.tenants()
    for region in REGIONS:
        for name in core[region]:
            assert found[region][name] == {**versions_before[region][name], "status": "TAINTED"}, (name, found[region][name])
            kept = {k: v for k, v in tenant_resources(aws, region, name).items() if v[0] in KEPT_TYPES}
            assert kept == kept_before[(region, name)], name
    item = aws.client("dynamodb", PRIMARY).get_item(TableName=table_name, Key={"orderId": {"S": "kept-through-rollback"}})
    assert "Item" in item, f"{table_key} lost its data in the rollback"

    resumed = scenario.deploy("failing-stacks-resumed", update_product=True, resume=run_id_of(run))

    assert resumed.returncode == 0, resumed.explain()
    latest, found = scenario.latest(), scenario.tenants()
    for region in REGIONS:
        for name in core[region]:
            assert found[region][name]["artifact"] == latest[region]["platform-core-dev"][0] and found[region][name]["status"] == "AVAILABLE"
            kept = {k: v for k, v in tenant_resources(aws, region, name).items() if v[0] in KEPT_TYPES}
            assert kept == kept_before[(region, name)], f"{name}: updated in place, nothing replaced"
    assert "Item" in aws.client("dynamodb", PRIMARY).get_item(TableName=table_name, Key={"orderId": {"S": "kept-through-rollback"}})


def take_lock(aws_env: Dict[str, str], run_id: str, holder: str, state: str = "present") -> subprocess.Popen:
    """The deploy_lock module as the first play runs it, started without waiting."""
    arguments = {"region": PRIMARY, "ssm_prefix": RACE_PREFIX, "stage": "race", "run_id": run_id, "holder": holder,
                 "started": "2026-11-23T09:00:00Z", "state": state}
    return subprocess.Popen(
        [str(VENV_BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", "multiregion.serverless.deploy_lock", "-a", json.dumps(arguments)],
        cwd=REPO_ROOT, env={**os.environ, **aws_env, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def outcome(process: subprocess.Popen) -> Tuple[int, str]:
    output = process.communicate(timeout=300)[0]
    return process.returncode, output


def test_of_two_runs_taking_the_lock_at_once_exactly_one_wins(module_local_aws) -> None:
    contenders = {"20261123T090000Z-00000a": "carol", "20261123T090000Z-00000b": "dave"}
    started = {run_id: take_lock(module_local_aws.env, run_id, holder) for run_id, holder in contenders.items()}
    outcomes = {run_id: outcome(process) for run_id, process in started.items()}

    winners = [run_id for run_id, outcome in outcomes.items() if outcome[0] == 0]
    assert len(winners) == 1, outcomes
    winner = winners[0]
    loser = next(run_id for run_id in contenders if run_id != winner)
    assert f"stage 'race' is being deployed by {contenders[winner]} (run {winner}" in " ".join(outcomes[loser][1].split()), outcomes[loser][1]
    assert lock_value(module_local_aws, PRIMARY, RACE_PREFIX)["run_id"] == winner

    # The loser's release (its finish/abort path) never frees a lock it does not hold; the winner's does.
    assert outcome(take_lock(module_local_aws.env, loser, contenders[loser], state="absent"))[0] == 0
    assert lock_value(module_local_aws, PRIMARY, RACE_PREFIX)["run_id"] == winner
    assert outcome(take_lock(module_local_aws.env, winner, contenders[winner], state="absent"))[0] == 0
    assert lock_value(module_local_aws, PRIMARY, RACE_PREFIX) is None


# ---- Static inputs of the deploy: the real-AWS inventory, the AWX surveys and configuration.


def run_quietly(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(command), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")},
    )


def example_stages() -> Dict[str, Any]:
    return yaml.safe_load((EXAMPLES_DIR / "project.yml").read_text())["stages"]


def test_aws_example_inventory_parses_and_serves_every_stage() -> None:
    inventory = str(REPO_ROOT / "inventories" / "aws-example")
    syntax = run_quietly(str(VENV_BIN / "ansible-playbook"), "-i", inventory, str(DEPLOY_PLAYBOOK), "--syntax-check")
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    listed = run_quietly(str(VENV_BIN / "ansible-inventory"), "-i", inventory, "--list")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    hosts = set(document["regions"]["hosts"])
    for name, stage in example_stages().items():
        assert set(stage["regions"]) <= hosts, f"stage {name} has regions without a host"
    for host in hosts:
        variables = document["_meta"]["hostvars"][host]
        assert variables["ansible_connection"] == "local"
        assert "aws_endpoint_url" not in variables, "the real-AWS inventory must not point at an emulator"
        assert not {"aws_access_key", "aws_secret_key"} & set(variables), "no keys in an inventory"


@pytest.mark.parametrize("survey", sorted((REPO_ROOT / "awx" / "surveys").glob("*.json")), ids=lambda path: path.stem)
def test_awx_survey_is_valid_and_offers_the_example_stages(survey: Path) -> None:
    document = json.loads(survey.read_text())
    assert document["name"] and document["description"] and document["spec"]
    playbook_inputs = {"stage", "regions", "update_product", "resume", "break_lock", "validate_product"}
    seen = set()
    for question in document["spec"]:
        assert {"question_name", "variable", "type", "required"} <= set(question), question
        assert question["variable"] in playbook_inputs, question["variable"]
        assert question["variable"] not in seen, "a variable asked twice"
        seen.add(question["variable"])
        assert question["type"] in {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
        if question["type"] == "multiplechoice":
            assert question.get("default", question["choices"][0]) in question["choices"]
        if question["type"] == "text":
            assert 0 <= question.get("min", 0) <= question.get("max", 1024)
    stage = next(q for q in document["spec"] if q["variable"] == "stage")
    assert stage["type"] == "multiplechoice" and stage["required"]
    assert sorted(stage["choices"]) == sorted(example_stages())


def test_awx_configure_playbook_passes_syntax_check() -> None:
    done = run_quietly(str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(REPO_ROOT / "awx" / "configure.yml"), "--syntax-check")
    assert done.returncode == 0, done.stdout + done.stderr
