"""``--check --diff`` against the run that follows (issue 18): the check run writes nothing, and what it says it
would do is what the real run then does: the objects uploaded, the versions created, each tenant's update (from
-> to, or refused by the replacement guard), the tasks that change.

A user's way in: ``ansible-playbook playbooks/deploy.yml`` with ``-e`` strings, first with ``--check --diff``,
then without, on a project with two stages' worth of shape (two regions, two services, a product whose orders
service keeps a DynamoDB table per tenant) packaged by the stand-in packager, two tenants per region. The local
AWS's call counts prove the check run wrote nothing. The tests run in order, each on the state the last left.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Set, Tuple

import pytest
import yaml

from chaos_helpers import bootstrap, change_service, deploy_variables, make_project
from deploy_helpers import DEPLOY_PLAYBOOK, REPO_ROOT, PlaybookRun, PlaybookRunner, entries, ledger, provision_tenants, run_id_of, tenants, writes

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGIONS = ["us-east-1", "eu-west-1"]
UPLOAD_TASK = "Upload templates and ZIPs to this region's bucket, then the rendered product templates"
CATALOG_TASK = "Create a version where a template changed, and point SSM at the current ones"
ROLLOUT_TASK = "Update every tenant of the products in this region"
TENANTS = ("acme", "globex")


def orders_table(key: str) -> Dict[str, Any]:
    """The orders service's table (serverless.yml ``resources:``), one per tenant, keyed by ``key``."""
    return {"Resources": {"OrdersTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": {"Fn::Sub": "orders-${TenantId}"},
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
    }}}}


def as_strings(variables: Dict[str, Any]) -> List[str]:
    """``-e key=value`` arguments, as a person types them (dicts as JSON)."""
    arguments: List[str] = []
    for key, value in variables.items():
        text = json.dumps({key: value}) if isinstance(value, (dict, list)) else f"{key}={str(value).lower() if isinstance(value, bool) else value}"
        arguments += ["-e", text]
    return arguments


def run_once_tasks() -> Set[str]:
    """The names of the tasks that run once for the run (``run_once: true``, in blocks too), read from the roles and
    playbooks: such a task runs on whichever host gets there first, so only its name compares across runs."""
    names: Set[str] = set()

    def walk(tasks: Any, once: bool = False) -> None:
        for task in tasks if isinstance(tasks, list) else []:
            if isinstance(task, dict):
                here = once or bool(task.get("run_once"))
                if here and "name" in task:
                    names.add(task["name"])
                for key in ("block", "rescue", "always", "tasks"):
                    walk(task.get(key), here)

    for path in list((REPO_ROOT / "roles").rglob("tasks/*.yml")) + list((REPO_ROOT / "playbooks").glob("*.yml")):
        walk(yaml.safe_load(path.read_text()))
    return names


RUN_ONCE = run_once_tasks()


def changed_set(run: PlaybookRun) -> Set[Tuple[str, str]]:
    return {(result.task, "(once)" if result.task in RUN_ONCE else result.host) for result in run.results if result.changed}


def uploads(run: PlaybookRun) -> Dict[str, List[str]]:
    return {result.host: sorted(result.result.get("uploaded", [])) for result in run.task(UPLOAD_TASK)}


def versions(run: PlaybookRun) -> Dict[str, Dict[str, Any]]:
    """Per region and product: the version the run made (or would make), and whether the product is new."""
    found: Dict[str, Dict[str, Any]] = {}
    for result in run.task(CATALOG_TASK):
        for product in result.result.get("products", []):
            found.setdefault(result.host, {})[product["product_name"]] = (product["version_created"], product["artifact_name"],
                                                                          product["product_created"], product["fingerprint"])
    return found


def rollout_plan(run: PlaybookRun) -> Dict[str, Dict[str, Tuple[str, str, str]]]:
    """Per region, each tenant's (status, from version, to version) as the rollout said; a check run's
    ``would_update`` reads as the ``updated`` it predicts."""
    found: Dict[str, Dict[str, Tuple[str, str, str]]] = {}
    for result in run.results:
        if result.task.startswith(ROLLOUT_TASK):
            found[result.host] = {tenant["name"]: ("updated" if tenant["status"] == "would_update" else tenant["status"], tenant["from_version"],
                                                   tenant["to_version"]) for tenant in result.result.get("tenants", [])}
    return found


def refusals(run: PlaybookRun) -> Dict[str, List[str]]:
    return {result.host: result.result.get("refusals", []) for result in run.results if result.task.startswith(ROLLOUT_TASK)}


class Pair:
    """A check run, then the real run, of the same command; the local AWS's writes of each."""

    def __init__(self, aws: Any, project: Any) -> None:
        self.aws, self.project = aws, project
        self.runner = PlaybookRunner(aws.env, user="planner")
        self.refusal = ""  # a refusal line of the key schema change, for the test that allows it

    def run(self, *options: str, succeeds: bool = True, **overrides: Any) -> Tuple[PlaybookRun, Dict[str, int], PlaybookRun, Dict[str, int]]:
        arguments = as_strings(deploy_variables(self.project, **overrides))
        self.aws.reset_calls()
        check = self.runner.run(DEPLOY_PLAYBOOK, "--check", "--diff", *options, *arguments)
        check_writes = writes(self.aws.calls())
        assert (check.returncode == 0) is succeeds, check.explain()
        self.aws.reset_calls()
        real = self.runner.run(DEPLOY_PLAYBOOK, *options, *arguments)
        assert (real.returncode == 0) is succeeds, real.explain()
        return check, check_writes, real, writes(self.aws.calls())


@pytest.fixture(scope="module")
def pair(module_local_aws, tmp_path_factory) -> Pair:
    project = make_project(tmp_path_factory.mktemp("plan") / "project", "plan", REGIONS)
    (project.root / "services" / "orders" / "fake-sls-resources.json").write_text(json.dumps(orders_table("pk")))
    state = Pair(module_local_aws, project)
    bootstrap(state.runner, project)
    return state


def assert_check_matches_real(check: PlaybookRun, check_writes: Dict[str, int], real: PlaybookRun) -> None:
    assert check_writes == {}, f"the check run wrote {check_writes}"
    assert uploads(check) == uploads(real)
    assert versions(check) == versions(real)
    assert rollout_plan(check) == rollout_plan(real)
    assert refusals(check) == refusals(real)
    assert changed_set(check) == changed_set(real), (
        f"only in check: {sorted(changed_set(check) - changed_set(real))}; only in the run: {sorted(changed_set(real) - changed_set(check))}")


def test_a_fresh_stage_check_run_says_what_the_first_run_does(pair: Pair) -> None:
    check, check_writes, real, _real_writes = pair.run()
    assert all(len(keys) > 0 for keys in uploads(real).values()) and set(uploads(real)) == set(REGIONS)
    assert {region: {name: made[:3] for name, made in products.items()} for region, products in versions(real).items()} == {
        region: {pair.project.catalog_name: (True, "V1", True)} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)


def test_a_no_change_check_run_says_nothing_changes(pair: Pair) -> None:
    check, check_writes, real, _real_writes = pair.run()
    assert uploads(real) == {region: [] for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)


def test_a_handler_change_check_run_names_the_new_version(pair: Pair) -> None:
    change_service(pair.project, "orders", "plan")
    check, check_writes, real, _real_writes = pair.run()
    assert {region: {name: made[:2] for name, made in products.items()} for region, products in versions(real).items()} == {
        region: {pair.project.catalog_name: (True, "V2")} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)


def test_a_handler_change_with_the_rollout_check_run_names_each_tenant_update(pair: Pair) -> None:
    for region in REGIONS:
        names = [f"{tenant}-{region}" for tenant in TENANTS]
        assert set(provision_tenants(pair.aws, region, pair.project.ssm_prefix, pair.project.catalog_name, names).values()) == {"SUCCEEDED"}
    change_service(pair.project, "orders", "rollout")
    check, check_writes, real, _real_writes = pair.run(update_product=True)
    assert rollout_plan(real) == {region: {f"{tenant}-{region}": ("updated", "V2", "V3") for tenant in TENANTS} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)


def test_a_key_schema_change_is_refused_for_every_tenant_in_the_check_and_the_run(pair: Pair) -> None:
    (pair.project.root / "services" / "orders" / "fake-sls-resources.json").write_text(json.dumps(orders_table("orderId")))
    before = {region: tenants(pair.aws, region) for region in REGIONS}
    check, check_writes, real, _real_writes = pair.run(update_product=True, succeeds=False)
    assert rollout_plan(real) == {region: {f"{tenant}-{region}": ("refused", "V3", "V4") for tenant in TENANTS} for region in REGIONS}
    for region, lines in refusals(real).items():
        assert len(lines) == len(TENANTS), lines
        for tenant, line in zip(TENANTS, lines):
            assert line.startswith(f"tenant {tenant}-{region}: {pair.project.catalog_name}/"), line
            assert "/OrdersTable (AWS::DynamoDB::Table, KeySchema) would be replaced" in line, line
    assert_check_matches_real(check, check_writes, real)
    # No tenant moved (the catalog made V4: versions are not the guard's business); the ledger says refused.
    assert {region: tenants(pair.aws, region) for region in REGIONS} == before
    recorded = entries(ledger(pair.project.root, run_id_of(real)), "rollout")
    assert sorted(entry["status"] for entry in recorded) == ["refused"] * (len(TENANTS) * len(REGIONS))
    assert any("refused by the replacement guard" in message for message in real.failure_messages)
    # The run stops with a message naming every refused tenant with its reason.
    assert any(all(f"tenant {tenant}-{region}: " in message for tenant in TENANTS for region in REGIONS) for message in real.failure_messages), (
        real.failure_messages)
    pair.refusal = refusals(real)[REGIONS[0]][0]


def test_allow_replacement_lets_the_table_through_and_a_rollout_alone_check_matches_it(pair: Pair) -> None:
    assert pair.refusal, "runs after the key schema change"
    allow = pair.refusal.rsplit("allow_replacement=", 1)[1].split(":", 1)[1]  # the product-wide item: product/Path
    # With Service Catalog's plans asked too: one per tenant in the run, none in the check (a plan is a write).
    check, check_writes, real, real_writes = pair.run("--tags", "rollout", rollout_allow_replacement=allow, rollout_replacement_plans=True)
    assert rollout_plan(real) == {region: {f"{tenant}-{region}": ("updated", "V3", "V4") for tenant in TENANTS} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)
    plans = len(TENANTS) * len(REGIONS)
    assert (real_writes["servicecatalog:CreateProvisionedProductPlan"], real_writes["servicecatalog:DeleteProvisionedProductPlan"]) == (plans, plans)


def test_a_product_parameter_change_check_run_names_the_version_and_each_tenant_update(pair: Pair) -> None:
    """A product parameter added with a default (a tenant setting): a new version, and every tenant keeps its own
    TenantId (UsePreviousValue) and takes the new default."""
    path = pair.project.root / "products" / f"{pair.project.product}.yml"
    product = yaml.safe_load(path.read_text())
    product["parameters"]["TenantTier"] = {"Type": "String", "Default": "standard", "AllowedValues": ["standard", "premium"]}
    path.write_text(yaml.safe_dump(product, sort_keys=False))
    check, check_writes, real, _real_writes = pair.run(update_product=True)
    assert {region: {name: made[:2] for name, made in products.items()} for region, products in versions(real).items()} == {
        region: {pair.project.catalog_name: (True, "V5")} for region in REGIONS}
    assert rollout_plan(real) == {region: {f"{tenant}-{region}": ("updated", "V4", "V5") for tenant in TENANTS} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)
    changes = [result.result["version_changes"] for result in check.results if result.task.startswith(ROLLOUT_TASK)]
    assert all(group["changes"][0] == "Parameters.TenantTier: added" for groups in changes for group in groups), changes
