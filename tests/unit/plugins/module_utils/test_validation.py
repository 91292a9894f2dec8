"""The validation service (``validation.validate_version``) against the in-process local AWS (``aws_mock``): provision a
test tenant of the latest version, check its stack outputs, always terminate it.

Every test starts from product ``core`` seeded through plain boto3 (``catalog_seed``): V1 and V2, V2's id in SSM; V2's
stack (one queue) has the outputs QueueUrl and Feature.
"""
from __future__ import annotations

from typing import Any, Dict

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import TargetOptions
from ansible_collections.multiregion.serverless.plugins.module_utils.validation import ValidationRequest, missing_outputs, validate_version
from catalog_seed import Seeded, ServiceClients, client, seed_product, tenant_states

INJECTED = "ProvisioningFailed: Injected failure for provisioned product validate-core (fail_provisioned_products)"


@pytest.fixture(name="product")
def fixture_product(aws_mock: Any) -> Seeded:
    seeded = seed_product(aws_mock)
    aws_mock.reset_calls()
    return seeded


def run(clients: ServiceClients, **values: Any) -> Dict[str, Any]:
    values.setdefault("target", TargetOptions(ssm_prefix="/ms/dev"))
    values.setdefault("parameters", {"TenantId": "validation"})
    values.setdefault("poll_delay", 0.01)
    values.setdefault("poll_max_delay", 0.05)
    return validate_version(clients.apis, ValidationRequest(product="core", name="validate-core", **values))


def record(aws_mock: Any, record_id: str) -> Any:
    detail = client(aws_mock, "servicecatalog").describe_record(Id=record_id)["RecordDetail"]
    return detail["RecordType"], detail["Status"]


def test_a_passing_version_is_provisioned_checked_and_removed(aws_mock: Any, product: Seeded) -> None:
    clients = ServiceClients(aws_mock)
    result = run(clients, expected_outputs=["QueueUrl"])
    assert result["status"] == "passed" and result["changed"] is True and result["terminated"] is True
    assert (result["product"], result["artifact_id"], result["version"]) == ("core", product.versions["V2"], "V2")
    outputs = result["outputs"]
    assert sorted(outputs) == ["CloudformationStackARN", "Feature", "QueueUrl"] and result["missing_outputs"] == []
    assert outputs["QueueUrl"].endswith("/tenant-validation") and ":stack/SC-" in outputs["CloudformationStackARN"]
    assert record(aws_mock, result["provision_record_id"]) == ("PROVISION_PRODUCT", "SUCCEEDED")
    assert record(aws_mock, result["terminate_record_id"]) == ("TERMINATE_PROVISIONED_PRODUCT", "SUCCEEDED")
    provision = clients.sent("ProvisionProduct")[0]
    assert provision["ProvisioningParameters"] == [{"Key": "TenantId", "Value": "validation"}] and provision["ProvisioningArtifactId"] == product.versions["V2"]
    assert clients.sent("TerminateProvisionedProduct")[0]["IgnoreErrors"] is False
    assert tenant_states(aws_mock, product.product_id) == {}  # removed


def test_check_mode_resolves_the_version_and_writes_nothing(aws_mock: Any, product: Seeded) -> None:
    result = run(ServiceClients(aws_mock), check_mode=True)
    assert result["status"] == "would_validate" and result["changed"] is True and result["version"] == "V2"
    assert result["artifact_id"] == product.versions["V2"]
    assert aws_mock.calls() == {"servicecatalog": {"SearchProductsAsAdmin": 1, "DescribeProductAsAdmin": 1, "ListLaunchPaths": 1}, "ssm": {"GetParameter": 1}}


def test_a_failed_provisioning_is_terminated_with_ignore_errors_and_fails(aws_mock: Any, product: Seeded) -> None:
    aws_mock.set_faults(fail_provisioned_products=["validate-core"])
    clients = ServiceClients(aws_mock)
    with pytest.raises(ServiceFailure) as failed:
        run(clients)
    assert failed.value.msg == f"validation of core V2 in eu-west-1 failed: provisioning core V2 failed: {INJECTED}"
    assert failed.value.result["status"] == "failed" and failed.value.result["terminated"] is True
    assert clients.sent("TerminateProvisionedProduct")[0]["IgnoreErrors"] is True
    # The fault still names the tenant: only IgnoreErrors let its termination succeed, and it is gone.
    assert tenant_states(aws_mock, product.product_id) == {}


def test_missing_outputs_fail_after_the_tenant_is_removed_unless_it_is_kept(aws_mock: Any, product: Seeded) -> None:
    with pytest.raises(ServiceFailure) as failed:
        run(ServiceClients(aws_mock), expected_outputs=["QueueUrl", "TopicArn"])
    assert failed.value.result["missing_outputs"] == ["TopicArn"] and failed.value.result["terminated"] is True
    assert tenant_states(aws_mock, product.product_id) == {}
    aws_mock.reset_calls()
    with pytest.raises(ServiceFailure) as kept:
        run(ServiceClients(aws_mock), expected_outputs=["TopicArn"], keep_on_failure=True)
    assert kept.value.result["terminated"] is False and "TerminateProvisionedProduct" not in aws_mock.calls()["servicecatalog"]
    kept_tenant = tenant_states(aws_mock, product.product_id)["validate-core"]
    assert (kept_tenant["status"], kept_tenant["artifact"]) == ("AVAILABLE", product.versions["V2"])


def test_a_failed_termination_names_the_tenant_left_behind(aws_mock: Any, product: Seeded) -> None:
    clients = ServiceClients(aws_mock)
    # The provisioning succeeds; the fault starts with the termination (it counts from a record's start).
    clients.before["TerminateProvisionedProduct"] = lambda: aws_mock.set_faults(fail_provisioned_products=["validate-core"])
    with pytest.raises(ServiceFailure) as failed:
        run(clients)
    assert failed.value.result["error"] == f"terminating test tenant validate-core failed: {INJECTED}"
    assert failed.value.result["terminated"] is False and "\n" not in failed.value.msg
    # It is left behind: TAINTED, its stack still there.
    left = tenant_states(aws_mock, product.product_id)["validate-core"]
    assert left["status"] == "TAINTED" and left["outputs"] == ["Feature", "QueueUrl"]


def test_a_refused_provisioning_call_is_reported_and_nothing_is_terminated(aws_mock: Any, product: Seeded) -> None:
    with pytest.raises(ServiceFailure) as failed:
        run(ServiceClients(aws_mock), parameters={})  # V2's TenantId has no default
    assert failed.value.result["error"] == (
        "ProvisionProduct failed in eu-west-1 for provisioned product validate-core: "
        "InvalidParametersException: Parameter TenantId is required and has no value"
    )
    assert failed.value.result["terminated"] is False and "TerminateProvisionedProduct" not in aws_mock.calls()["servicecatalog"]
    assert tenant_states(aws_mock, product.product_id) == {}


@pytest.mark.usefixtures("product")
def test_an_unreadable_version_fails_with_the_aws_error_and_the_result(aws_mock: Any) -> None:
    with pytest.raises(AwsApiError) as failed:
        run(ServiceClients(aws_mock), target=TargetOptions(ssm_prefix="/ms/qa"))
    assert str(failed.value).startswith("GetParameter failed in eu-west-1 for /ms/qa/products/core/latest-artifact-id: ParameterNotFound")
    assert "\n" not in str(failed.value)
    assert failed.value.kwargs["name"] == "validate-core" and failed.value.kwargs["changed"] is False
    assert "ProvisionProduct" not in aws_mock.calls()["servicecatalog"]


@pytest.mark.usefixtures("product")
def test_bad_poll_options_fail_before_any_call(aws_mock: Any) -> None:
    with pytest.raises(ServiceFailure, match="poll delays must satisfy"):
        run(ServiceClients(aws_mock), poll_max_delay=1, poll_delay=5)
    assert aws_mock.calls() == {}


def test_missing_outputs_with_none_expected_means_every_output_and_at_least_one() -> None:
    assert missing_outputs({"CloudformationStackARN": "arn"}, []) == ["(the stack has no outputs)"]
    assert missing_outputs({"CloudformationStackARN": "arn", "A": "", "B": "b"}, []) == ["A"]
    assert missing_outputs({"A": "a"}, ["A", "C"]) == ["C"]
