"""The rollout service (``rollout_service.roll_out``) against the in-process local AWS (``aws_mock``): the walk, the calls
it makes, its results, and what it leaves in Service Catalog and CloudFormation.

Every test starts from the same region, seeded through plain boto3 (``catalog_seed``): product ``core`` of stage dev with
V1 and V2 (V2 adds an output), V2's id in SSM, and four tenants: t-a and t-d on V1, t-b on V2, t-c on V1 with its
provisioning still running (UNDER_CHANGE).
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import TargetOptions, update_token
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout_service import RolloutRequest, roll_out
from catalog_seed import REGION, Seeded, ServiceClients, add_version, provision, seed_product, template_url, tenant_states, tenant_template
from catalog_seed import client as catalog_client


def client_of(aws_mock: Any) -> Any:
    return catalog_client(aws_mock, "servicecatalog")


# What a rollout of core to V2 reads: the product (listing, then the product), its launch path, the target in SSM,
# the tenants, and one DescribeProvisioningArtifact per version (V2, and V1 that t-a, t-c and t-d are on).
PLANNING_CALLS = {"SearchProductsAsAdmin": 1, "DescribeProductAsAdmin": 1, "ListLaunchPaths": 1, "SearchProvisionedProducts": 1,
                  "DescribeProvisioningArtifact": 2}


@pytest.fixture(name="region")
def fixture_region(aws_mock: Any) -> Seeded:
    seeded = seed_product(aws_mock)
    for name, version in (("t-a", "V1"), ("t-b", "V2"), ("t-d", "V1")):
        provision(aws_mock, seeded, name, version)
    provision(aws_mock, seeded, "t-c", "V1", in_progress=True)
    aws_mock.reset_calls()
    return seeded


def request(**values: Any) -> RolloutRequest:
    values.setdefault("target", TargetOptions(stage="dev", ssm_prefix="/ms/dev"))
    values.setdefault("poll_delay", 0.01)
    values.setdefault("poll_max_delay", 0.05)
    return RolloutRequest(products=values.pop("products", ["core"]), **values)


def run(clients: ServiceClients, **values: Any) -> Dict[str, Any]:
    return roll_out(clients.apis, request(**values))


def statuses(result: Dict[str, Any]) -> Dict[str, str]:
    return {item["name"]: item["status"] for item in result["tenants"]}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"products": []}, "products must name at least one product"),
        ({"products": ["a", "b"], "target": TargetOptions(ssm_parameter="/p")}, "ssm_parameter holds the target of one product"),
        ({"failure_tolerance": "lots"}, "failure_tolerance must be a count (3) or a percentage (10%)"),
        ({"order": ["tag:oops"]}, "must read tag:Key=Value"),
        ({"poll_delay": 0}, "poll delays must satisfy"),
        ({"max_concurrent": 0}, "max_concurrent must be 1 or more"),
    ],
)
def test_bad_options_fail_before_any_call(aws_mock: Any, region: Seeded, values: Dict[str, Any], message: str) -> None:
    with pytest.raises(ServiceFailure) as refused:
        run(ServiceClients(aws_mock), **values)
    assert message in refused.value.msg and refused.value.result == {}
    assert aws_mock.calls() == {}
    assert {name: state["status"] for name, state in tenant_states(aws_mock, region.product_id).items()} == {
        "t-a": "AVAILABLE", "t-b": "AVAILABLE", "t-c": "UNDER_CHANGE", "t-d": "AVAILABLE"}


def test_apply_updates_the_tenants_behind_and_reports_the_rest(aws_mock: Any, region: Seeded) -> None:
    clients = ServiceClients(aws_mock)
    result = run(clients)
    assert statuses(result) == {"t-a": "updated", "t-b": "already_current", "t-c": "skipped", "t-d": "updated"}
    assert result["changed"] is True and "diff" not in result
    assert [(entry["from_version"], entry["to_version"], entry["tenant_names"]) for entry in result["version_changes"]] == [("V1", "V2", ["t-a", "t-d"])]
    assert result["summary"] == {"updated": 2, "already_current": 1, "failed": 0, "skipped": 1, "not_started": 0, "would_update": 0, "refused": 0,
                                 "total": 4}
    v1, v2 = region.versions["V1"], region.versions["V2"]
    assert result["targets"] == [{"product": "core", "product_id": region.product_id, "artifact_id": v2, "version": "V2", "source": f"ssm:{region.parameter}"}]
    assert result["tolerance"] == {"failure_tolerance": "10%", "allowed": 0, "failed": 0, "exceeded": False, "stopped": False, "mode": "stop"}
    skipped = next(item for item in result["tenants"] if item["name"] == "t-c")
    assert skipped["reason"] == "status UNDER_CHANGE"
    # One listing, one describe per version (not per tenant), one update per tenant behind, one poll each; the replacement
    # guard reads each version's template once.
    assert aws_mock.calls() == {"servicecatalog": dict(PLANNING_CALLS, UpdateProvisionedProduct=2, DescribeRecord=2), "ssm": {"GetParameter": 1},
                                "s3": {"GetObject": 2}}
    assert result["refusals"] == [] and result["replacement_notices"] == []
    t_a = region.tenants["t-a"]
    update = next(params for params in clients.sent("UpdateProvisionedProduct") if params["ProvisionedProductId"] == t_a["id"])
    path = client_of(aws_mock).list_launch_paths(ProductId=region.product_id)["LaunchPathSummaries"][0]["Id"]  # the deployer's only path
    assert update == {"ProvisionedProductId": t_a["id"], "ProductId": region.product_id, "ProvisioningArtifactId": v2, "PathId": path,
                      "ProvisioningParameters": [{"Key": "TenantId", "UsePreviousValue": True}],
                      "UpdateToken": update_token(t_a["id"], t_a["record"], v2)}
    # What AWS now holds: the two updated stacks run V2 (its output) with their own TenantId kept; t-c was not touched.
    states = tenant_states(aws_mock, region.product_id)
    assert {name: (state["status"], state["artifact"]) for name, state in states.items()} == {
        "t-a": ("AVAILABLE", v2), "t-b": ("AVAILABLE", v2), "t-c": ("UNDER_CHANGE", v1), "t-d": ("AVAILABLE", v2)}
    assert states["t-a"]["parameters"] == {"TenantId": "t-a"} and states["t-a"]["outputs"] == ["Feature", "QueueUrl"]
    assert states["t-d"]["parameters"] == {"TenantId": "t-d"} and states["t-d"]["outputs"] == ["Feature", "QueueUrl"]


def test_check_and_diff_mode_read_only_and_compare_each_version_pair_once(aws_mock: Any, region: Seeded) -> None:
    result = run(ServiceClients(aws_mock), check_mode=True, diff=True)
    assert statuses(result) == {"t-a": "would_update", "t-b": "already_current", "t-c": "skipped", "t-d": "would_update"}
    v1, v2 = region.versions["V1"], region.versions["V2"]
    assert result["changed"] is True
    assert result["version_changes"] == [{"product": "core", "from_artifact": v1, "from_version": "V1", "to_artifact": v2, "to_version": "V2", "tenants": 2,
                                          "tenant_names": ["t-a", "t-d"], "refused": 0, "changes": ["Outputs.Feature: added"], "replacements": []}]
    assert result["diff"] == {"prepared": "eu-west-1: core V1 -> V2: 2 tenant(s): t-a, t-d\n    Outputs.Feature: added\n"}
    assert result["stats"]["polls"] == 0
    # Reads only: no Update/Provision/Terminate, no PutParameter; each template read once (V1 and V2) for two tenants.
    assert aws_mock.calls() == {"servicecatalog": PLANNING_CALLS, "ssm": {"GetParameter": 1}, "s3": {"GetObject": 2}}
    assert {name: state["artifact"] for name, state in tenant_states(aws_mock, region.product_id).items()} == {"t-a": v1, "t-b": v2, "t-c": v1, "t-d": v1}


def test_a_failed_tenant_fails_the_call_after_the_others_finished(aws_mock: Any, region: Seeded) -> None:
    aws_mock.set_faults(fail_provisioned_products=["t-a"])
    with pytest.raises(ServiceFailure) as failed:
        run(ServiceClients(aws_mock), failure_tolerance="1")
    assert failed.value.msg == (
        "1 of 4 tenants failed in eu-west-1: core/t-a: ProvisioningFailed: Injected failure for provisioned product t-a (fail_provisioned_products)"
    )
    result = failed.value.result
    assert result["changed"] is True and statuses(result)["t-d"] == "updated" and result["summary"]["failed"] == 1
    states = tenant_states(aws_mock, region.product_id)
    # The failed update leaves t-a TAINTED on its previous version; t-d went on to V2.
    assert (states["t-a"]["status"], states["t-a"]["artifact"]) == ("TAINTED", region.versions["V1"])
    assert (states["t-d"]["status"], states["t-d"]["artifact"]) == ("AVAILABLE", region.versions["V2"])


def test_an_aws_error_while_planning_is_the_layers_one_line_error(aws_mock: Any, region: Seeded) -> None:
    clients = ServiceClients(aws_mock)
    # From the tenant listing on, every call is throttled (the clients make one attempt, so it surfaces at once).
    clients.before["SearchProvisionedProducts"] = lambda: aws_mock.set_faults(throttle_rate=1.0)
    with pytest.raises(AwsApiError) as failed:
        run(clients)
    assert str(failed.value) == f"SearchProvisionedProducts failed in eu-west-1 for product core ({region.product_id}): ThrottlingException: Rate exceeded"
    assert aws_mock.throttled() == {"servicecatalog": {"SearchProvisionedProducts": 1}}
    assert "UpdateProvisionedProduct" not in aws_mock.calls()["servicecatalog"]


@pytest.mark.usefixtures("region")
def test_an_unknown_product_and_an_unreadable_target_are_refused(aws_mock: Any) -> None:
    clients = ServiceClients(aws_mock)
    with pytest.raises(ServiceFailure) as unknown:
        run(clients, products=["nope"])
    assert unknown.value.msg == "product nope does not exist in eu-west-1"
    with pytest.raises(ServiceFailure) as by_id:
        run(clients, products=["prod-missing1"])
    assert by_id.value.msg == "product prod-missing1 does not exist in eu-west-1"
    with pytest.raises(AwsApiError) as unset:
        run(clients, target=TargetOptions(stage="dev", ssm_prefix="/other"))
    assert str(unset.value).startswith("GetParameter failed in eu-west-1 for /other/products/core/latest-artifact-id: ParameterNotFound")
    assert "UpdateProvisionedProduct" not in aws_mock.calls()["servicecatalog"]


def test_a_target_version_rolls_back_without_reading_ssm(aws_mock: Any, region: Seeded, tmp_path: Any) -> None:
    progress = tmp_path / "progress" / "rollout.log"
    result = run(ServiceClients(aws_mock), target=TargetOptions(stage="dev", target_version="V1"), progress_file=str(progress))
    v1 = region.versions["V1"]
    assert result["targets"][0]["source"] == "target_version" and result["targets"][0]["artifact_id"] == v1
    assert statuses(result) == {"t-a": "already_current", "t-b": "updated", "t-c": "skipped", "t-d": "already_current"}
    assert "ssm" not in aws_mock.calls()
    lines = progress.read_text().splitlines()
    assert f"{REGION}: 4 tenants, 1 to update, core -> V1 ({v1})" in lines[0]
    assert any(f"[1/1] core t-b ({region.tenants['t-b']['id']}): updated" in line for line in lines)
    t_b = tenant_states(aws_mock, region.product_id)["t-b"]
    assert (t_b["artifact"], t_b["outputs"], t_b["parameters"]) == (v1, ["QueueUrl"], {"TenantId": "t-b"})


def test_with_several_launch_paths_the_stages_portfolio_is_named_and_without_it_nothing_starts(aws_mock: Any, region: Seeded) -> None:
    from local_aws.catalog_access import grant_launch_path  # the administrator's step, through plain boto3

    catalog = catalog_client(aws_mock, "servicecatalog")
    grant_launch_path(catalog, region.product_id, portfolio_name="multiregion-dev")
    grant_launch_path(catalog, region.product_id, portfolio_name="shared-platform")
    paths = {path["Name"]: path["Id"] for path in catalog.list_launch_paths(ProductId=region.product_id)["LaunchPathSummaries"]}
    assert len(paths) >= 2

    refused = ServiceClients(aws_mock)
    with pytest.raises(ServiceFailure, match=r"product core has \d launch paths in eu-west-1 .*: set the stage's portfolio in project.yml to pick one"):
        run(refused)
    assert not refused.sent("UpdateProvisionedProduct")

    clients = ServiceClients(aws_mock)
    result = run(clients, target=TargetOptions(stage="dev", ssm_prefix="/ms/dev", portfolio={"name": "multiregion-dev"}))
    assert statuses(result)["t-a"] == "updated"
    sent = clients.sent("UpdateProvisionedProduct")
    assert sent and {request["PathId"] for request in sent} == {paths["multiregion-dev"]}
    assert tenant_states(aws_mock, region.product_id)["t-a"]["artifact"] == region.versions["V2"]


# ---------------------------------------------------------------- the replacement guard


def renamed_queue(version: int) -> Dict[str, Any]:
    """A version whose queue gets another name: SQS replaces a queue whose QueueName changes (its messages are lost)."""
    template = tenant_template(2)
    template["Resources"]["Queue"]["Properties"]["QueueName"] = {"Fn::Sub": f"tenant-${{TenantId}}-v{version}"}
    return template


def test_a_version_that_would_replace_a_queue_is_refused_for_every_tenant_before_any_update(aws_mock: Any, region: Seeded) -> None:
    add_version(aws_mock, region, "V3", renamed_queue(3))
    aws_mock.reset_calls()
    with pytest.raises(ServiceFailure) as refused:
        run(ServiceClients(aws_mock), failure_tolerance="0")
    result = refused.value.result
    assert statuses(result) == {"t-a": "refused", "t-b": "refused", "t-c": "skipped", "t-d": "refused"}
    assert result["summary"]["refused"] == 3 and result["tolerance"]["failed"] == 0 and result["changed"] is False
    line = result["refusals"][0]
    # The name is built from the tenant id, which the guard does not read: "may be" replaced, refused all the same.
    assert line.startswith("tenant t-a: core/Queue (AWS::SQS::Queue, QueueName) may be replaced: QueueName may change")
    assert line.endswith("; to allow it: allow_replacement=t-a:core/Queue")
    assert refused.value.msg.startswith("3 of 4 tenants refused by the replacement guard in eu-west-1: core/t-a: tenant t-a: core/Queue")
    assert "UpdateProvisionedProduct" not in aws_mock.calls()["servicecatalog"]
    # V1 -> V3 and V2 -> V3: each template read once, whatever the number of tenants.
    assert aws_mock.calls()["s3"] == {"GetObject": 3}
    assert {name: state["artifact"] for name, state in tenant_states(aws_mock, region.product_id).items()} == {
        "t-a": region.versions["V1"], "t-b": region.versions["V2"], "t-c": region.versions["V1"], "t-d": region.versions["V1"]}


def test_allow_replacement_lets_named_tenants_or_the_whole_product_through(aws_mock: Any, region: Seeded) -> None:
    v3 = add_version(aws_mock, region, "V3", renamed_queue(3))
    with pytest.raises(ServiceFailure) as partly:
        run(ServiceClients(aws_mock), allow_replacement="t-a:core/Queue")
    assert statuses(partly.value.result) == {"t-a": "updated", "t-b": "refused", "t-c": "skipped", "t-d": "refused"}
    assert partly.value.result["replacement_notices"][0].endswith("allowed by allow_replacement=t-a:core/Queue")
    result = run(ServiceClients(aws_mock), allow_replacement=["core/Queue"])
    assert statuses(result) == {"t-a": "already_current", "t-b": "updated", "t-c": "skipped", "t-d": "updated"}
    states = tenant_states(aws_mock, region.product_id)
    assert {name: state["artifact"] for name, state in states.items() if name != "t-c"} == {"t-a": v3, "t-b": v3, "t-d": v3}


def test_a_bad_allow_replacement_item_is_refused_before_any_call(aws_mock: Any, region: Seeded) -> None:
    with pytest.raises(ServiceFailure, match=r"allow_replacement item 'core' is not product/LogicalId"):
        run(ServiceClients(aws_mock), allow_replacement="core")
    assert aws_mock.calls() == {}


def test_without_the_guard_the_replacement_goes_ahead(aws_mock: Any, region: Seeded) -> None:
    add_version(aws_mock, region, "V3", renamed_queue(3))
    result = run(ServiceClients(aws_mock), replacement_guard=False)
    assert statuses(result)["t-a"] == "updated" and "refusals" not in result


def test_check_mode_refuses_the_same_tenants_and_groups_them(aws_mock: Any, region: Seeded) -> None:
    add_version(aws_mock, region, "V3", renamed_queue(3))
    aws_mock.reset_calls()
    with pytest.raises(ServiceFailure) as refused:
        run(ServiceClients(aws_mock), check_mode=True, diff=True)
    result = refused.value.result
    assert statuses(result) == {"t-a": "refused", "t-b": "refused", "t-c": "skipped", "t-d": "refused"}
    from_v1 = next(entry for entry in result["version_changes"] if entry["from_version"] == "V1")
    assert (from_v1["tenants"], from_v1["tenant_names"], from_v1["refused"]) == (2, ["t-a", "t-d"], 2)
    assert from_v1["changes"] == ["Resources.Queue: modified (Properties.QueueName)", "Outputs.Feature: added"]
    assert from_v1["replacements"][0].startswith("Queue (AWS::SQS::Queue, QueueName) may be replaced")
    assert "core V1 -> V3: 2 tenant(s), 2 refused by the replacement guard: t-a, t-d" in result["diff"]["prepared"]
    assert set(aws_mock.calls()) == {"servicecatalog", "ssm", "s3"} and "UpdateProvisionedProduct" not in aws_mock.calls()["servicecatalog"]


# ---------------------------------------------------------------- check mode: the versions this run's catalog step would create


def test_check_mode_rolls_out_to_the_version_the_catalog_step_would_create(aws_mock: Any, region: Seeded, tmp_path: Any) -> None:
    pending_template = tenant_template(2)
    pending_template["Parameters"]["Tier"] = {"Type": "String", "Default": "standard"}
    local = tmp_path / "v3.json"
    local.write_text(json.dumps(pending_template))
    url = template_url("core", "V3")  # not uploaded: a check run writes nothing
    aws_mock.reset_calls()
    result = run(ServiceClients(aws_mock), check_mode=True, diff=True, pending_versions=[{"product": "core", "version": "V3", "template_url": url}],
                 template_local_copies={url: str(local)})
    assert result["targets"][0]["version"] == "V3" and result["targets"][0]["artifact_id"] == "(new V3)"
    assert result["targets"][0]["source"] == "this run's catalog step (check mode: not created yet)"
    assert statuses(result) == {"t-a": "would_update", "t-b": "would_update", "t-c": "skipped", "t-d": "would_update"}
    assert {(entry["from_version"], entry["to_version"], entry["tenants"]) for entry in result["version_changes"]} == {("V1", "V3", 2), ("V2", "V3", 1)}
    from_v2 = next(entry for entry in result["version_changes"] if entry["from_version"] == "V2")
    assert from_v2["changes"] == ["Parameters.Tier: added"]
    # The pending version is neither described nor read from S3 (it is in neither); V1's and V2's templates are.
    assert aws_mock.calls()["servicecatalog"]["DescribeProvisioningArtifact"] == 2 and aws_mock.calls()["s3"] == {"GetObject": 2}
    # Outside check mode the pending versions are ignored: SSM names the target.
    assert run(ServiceClients(aws_mock), check_mode=False, pending_versions=[{"product": "core", "version": "V3", "template_url": url}])[
        "targets"][0]["version"] == "V2"


@pytest.mark.usefixtures("region")
def test_check_mode_on_a_product_the_catalog_step_would_create_has_no_tenants(aws_mock: Any) -> None:
    result = run(ServiceClients(aws_mock), products=["core", "orders"], check_mode=True,
                 pending_versions=[{"product": "orders", "version": "V1", "template_url": template_url("orders", "V1")}])
    assert [target["product"] for target in result["targets"]] == ["core"]
    assert result["summary"]["would_update"] == 2


# ---------------------------------------------------------------- Service Catalog's own plans (replacement_plans)


def plans_left(aws_mock: Any) -> list:
    return client_of(aws_mock).list_provisioned_product_plans(AccessLevelFilter={"Key": "Account", "Value": "self"})["ProvisionedProductPlans"]


def test_replacement_plans_ask_service_catalog_once_per_tenant_and_leave_no_plan(aws_mock: Any, region: Seeded) -> None:
    aws_mock.reset_calls()
    result = run(ServiceClients(aws_mock), replacement_plans=True)
    assert statuses(result) == {"t-a": "updated", "t-b": "already_current", "t-c": "skipped", "t-d": "updated"}
    calls = aws_mock.calls()["servicecatalog"]
    # t-a and t-d: one plan each, read until made, deleted; V2 only adds an output, so nothing is refused.
    assert (calls["CreateProvisionedProductPlan"], calls["DeleteProvisionedProductPlan"]) == (2, 2)
    assert calls["DescribeProvisionedProductPlan"] >= 2 and plans_left(aws_mock) == []


def test_check_mode_never_makes_a_plan(aws_mock: Any, region: Seeded) -> None:
    aws_mock.reset_calls()
    run(ServiceClients(aws_mock), replacement_plans=True, check_mode=True)
    assert "CreateProvisionedProductPlan" not in aws_mock.calls()["servicecatalog"]


def test_a_plan_that_replaces_the_queue_refuses_the_tenant_and_the_template_guard_agrees(aws_mock: Any, region: Seeded) -> None:
    from ansible_collections.multiregion.serverless.plugins.module_utils.rollout_service import (
        PlanAsker, ReplacementGuard, TemplateReader, plan_region)

    add_version(aws_mock, region, "V3", renamed_queue(3))
    clients = ServiceClients(aws_mock)
    asked = request(replacement_plans=True)
    reader = TemplateReader(clients.apis.s3, {})
    _targets, _tenants, plan, versions = plan_region(clients.apis, asked, reader)
    guard = ReplacementGuard(reader, versions, [])
    # Service Catalog's answer alone (the local AWS computes Replacement from cfn-lint's resource schemas): QueueName
    # is create-only, so the plan says Replacement True, a certain replacement where the template guard says "may be".
    by_plans = guard.ask_service_catalog(plan, PlanAsker(clients.apis.servicecatalog, asked, time.monotonic, time.sleep))
    assert {result.name for result in by_plans.settled if result.status == "refused"} == {"t-a", "t-b", "t-d"}
    assert guard.refusals[0].startswith("tenant t-a: core/Queue (AWS::SQS::Queue, QueueName) would be replaced: Service Catalog's plan")
    assert plans_left(aws_mock) == []
    by_templates = ReplacementGuard(reader, versions, []).apply(plan)
    assert {r.name for r in by_templates.settled if r.status == "refused"} == {r.name for r in by_plans.settled if r.status == "refused"}
