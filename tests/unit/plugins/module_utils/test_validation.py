"""The validation service (``validation.validate_version``) against the in-process local AWS (``aws_mock``): provision a
test tenant of the latest version, check its stack outputs, always terminate it.

Every test starts from product ``core`` seeded through plain boto3 (``catalog_seed``): V1 and V2, V2's id in SSM; V2's
stack (one queue) has the outputs QueueUrl and Feature.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import TargetOptions
from ansible_collections.multiregion.serverless.plugins.module_utils import validation
from ansible_collections.multiregion.serverless.plugins.module_utils.common import REGION_PATTERN
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import RUN_ID_EXAMPLE, RUN_ID_PATTERN
from ansible_collections.multiregion.serverless.plugins.module_utils.product_template import ProductError, load_product
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


def test_missing_outputs_with_none_expected_means_the_stack_arn_and_every_output() -> None:
    # A rendered product template has no outputs of its own: the stack ARN alone passes.
    assert missing_outputs({"CloudformationStackARN": "arn"}, []) == []
    assert missing_outputs({}, []) == ["CloudformationStackARN"]
    assert missing_outputs({"CloudformationStackARN": "arn", "A": "", "B": "b"}, []) == ["A"]
    assert missing_outputs({"A": "a"}, ["A", "C"]) == ["C"]


# ---- The test tenant's parameters from the product definition (validation.test_tenant_parameters), pure.

EXAMPLE_PATTERN = "^[a-z0-9][a-z0-9-]{2,15}$"  # examples/products/*.yml TenantId
RUN = RUN_ID_EXAMPLE  # 20261123T120000Z-1a2b3c


def product(tenant: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    return {"name": "platform-core", "nested_stacks": [{"service": "orders"}],
            "parameters": {"TenantId": tenant, "TenantTier": {"Type": "String", "Default": "standard"}}, **extra}


def every_aws_region() -> List[str]:
    """Every region botocore knows, in every partition (commercial, China, GovCloud, ISO, sovereign)."""
    session = botocore.session.get_session()
    return sorted({region for partition in session.get_available_partitions() for region in session.get_available_regions("ec2", partition)})


AWS_REGIONS = every_aws_region()


def test_an_unconstrained_tenant_parameter_gets_the_readable_form() -> None:
    assert validation.test_tenant_parameters(product({"Type": "String"}), "eu-west-1", RUN) == {
        "TenantId": "validate-platform-core-eu-west-1-20261123t120000z-1a2b3c"}


def test_the_examples_pattern_gets_a_short_deterministic_digest() -> None:
    values = validation.test_tenant_parameters(product({"Type": "String", "AllowedPattern": EXAMPLE_PATTERN}), "ap-southeast-2", RUN)
    assert list(values) == ["TenantId"] and re.fullmatch(r"v[0-9a-f]{15}", values["TenantId"])
    assert validation.test_tenant_parameters(product({"Type": "String", "AllowedPattern": EXAMPLE_PATTERN}), "ap-southeast-2", RUN) == values
    # Another region, run or product: another id (test tenants never share one).
    others = [validation.test_tenant_parameters(product({"Type": "String", "AllowedPattern": EXAMPLE_PATTERN}), "eu-west-1", RUN),
              validation.test_tenant_parameters(product({"Type": "String", "AllowedPattern": EXAMPLE_PATTERN}), "ap-southeast-2", "manual"),
              validation.test_tenant_parameters(dict(product({"Type": "String", "AllowedPattern": EXAMPLE_PATTERN}), name="analytics"),
                                                "ap-southeast-2", RUN)]
    assert len({values["TenantId"], *(other["TenantId"] for other in others)}) == 4


@pytest.mark.parametrize("slot, expected", [
    ({"Type": "String", "MaxLength": 8}, r"v[0-9a-f]{7}"),
    ({"Type": "String", "MaxLength": 40, "MinLength": 20}, r"v[0-9a-f]{19}"),  # MinLength above the short form's 16
    ({"Type": "String", "AllowedPattern": "[0-9]{6}"}, r"[0-9]{6}"),  # digits only: the digest's decimal form
    ({"Type": "Number", "MinValue": 1, "MaxValue": 999999}, r"[0-9]{1,6}"),
    ({"Type": "String", "AllowedPattern": "[a-z]+"}, r"[a-p]{16}"),  # letters only: the digest in letters
])
def test_the_generated_value_fits_the_parameters_own_constraints(slot: Dict[str, Any], expected: str) -> None:
    value = validation.test_tenant_parameters(product(slot), "us-east-1", RUN)["TenantId"]
    assert re.fullmatch(expected, value) and validation.fits_constraints(slot, value), value


@pytest.mark.parametrize("slot", [
    {"Type": "String", "AllowedPattern": "^[A-Z]{4}$"},
    {"Type": "String", "AllowedValues": ["alpha", "beta"]},
    {"Type": "String", "MinLength": 10, "MaxLength": 5},
])
def test_when_nothing_fits_one_line_says_what_to_declare_in_which_file(slot: Dict[str, Any]) -> None:
    with pytest.raises(ProductError) as refused:
        validation.test_tenant_parameters(product(slot), "us-east-1", RUN, source="/p/products/platform-core.yml")
    assert str(refused.value) == ("/p/products/platform-core.yml: no generated test tenant id fits the constraints of parameter TenantId; "
                                  "declare test_tenant.parameters.TenantId in /p/products/platform-core.yml")


def test_a_pattern_python_cannot_read_is_refused_with_the_same_advice() -> None:
    with pytest.raises(ProductError, match=r"^products/platform-core.yml: the constraints of parameter TenantId cannot be checked here "
                                           r"\(.*\); declare test_tenant.parameters.TenantId in products/platform-core.yml$"):
        validation.test_tenant_parameters(product({"Type": "String", "AllowedPattern": "[a-z"}), "us-east-1", RUN)


def test_declared_values_then_the_generated_id_then_overrides() -> None:
    declared = product({"Type": "String", "AllowedPattern": EXAMPLE_PATTERN}, test_tenant={"parameters": {"TenantTier": "premium"}})
    values = validation.test_tenant_parameters(declared, "eu-west-1", RUN)
    assert values["TenantTier"] == "premium" and re.fullmatch(EXAMPLE_PATTERN, values["TenantId"])
    # A declared tenant id is used as it is; an override wins over both (and needs no generated value).
    pinned = dict(declared, test_tenant={"parameters": {"TenantId": "qa-tenant", "TenantTier": "premium"}})
    assert validation.test_tenant_parameters(pinned, "eu-west-1", RUN) == {"TenantId": "qa-tenant", "TenantTier": "premium"}
    assert validation.test_tenant_parameters(pinned, "eu-west-1", RUN, {"TenantTier": "standard", "Extra": 3}) == {
        "TenantId": "qa-tenant", "TenantTier": "standard", "Extra": "3"}
    impossible = product({"Type": "String", "AllowedValues": ["x"]})
    assert validation.test_tenant_parameters(impossible, "eu-west-1", RUN, {"TenantId": "x"}) == {"TenantId": "x"}


def test_another_tenant_parameter_is_generated_and_tenant_id_left_alone() -> None:
    definition = {"name": "billing", "tenant_parameter": "CustomerId",
                  "parameters": {"CustomerId": {"Type": "String", "MaxLength": 12}, "TenantId": {"Type": "String", "Default": "shared"}}}
    values = validation.test_tenant_parameters(definition, "eu-west-1", RUN)
    assert list(values) == ["CustomerId"] and re.fullmatch(r"v[0-9a-f]{11}", values["CustomerId"])


def test_a_parameter_without_default_or_value_is_named_before_any_call() -> None:
    definition = product({"Type": "String"})
    definition["parameters"]["Region"] = {"Type": "String"}
    with pytest.raises(ProductError) as refused:
        validation.test_tenant_parameters(definition, "eu-west-1", RUN)
    assert str(refused.value) == ("products/platform-core.yml: parameter(s) Region have no Default and no value for the test tenant; "
                                  "declare test_tenant.parameters.Region in products/platform-core.yml (or pass validate_parameters)")
    assert validation.test_tenant_parameters(definition, "eu-west-1", RUN, {"Region": "eu"})["Region"] == "eu"


def test_a_product_without_parameters_gets_none() -> None:
    assert validation.test_tenant_parameters({"name": "plain", "nested_stacks": [{"service": "orders"}]}, "eu-west-1", RUN) == {}


def test_noecho_parameters_are_hidden_in_what_the_module_returns() -> None:
    definition = {"parameters": {"Secret": {"Type": "String", "NoEcho": True}, "TenantId": {"Type": "String"}}}
    assert validation.shown_parameters(definition, {"Secret": "s3cr3t", "TenantId": "t"}) == {"Secret": "****", "TenantId": "t"}
    assert validation.shown_parameters(None, {"Secret": 1}) == {"Secret": "1"}


@pytest.mark.parametrize("region", AWS_REGIONS)
def test_every_aws_region_gets_an_id_the_example_products_take(region: str) -> None:
    for definition in sorted((Path(__file__).resolve().parents[4] / "examples" / "products").glob("*.yml")):
        loaded = load_product(str(definition))
        value = validation.test_tenant_parameters(loaded, region, RUN)["TenantId"]
        assert validation.fits_constraints(loaded["parameters"]["TenantId"], value), (definition.name, region, value)


# What the generated id must fit, property-style: the examples' pattern and other plausible tenant id constraints.
SLOTS = [
    {"Type": "String", "AllowedPattern": EXAMPLE_PATTERN},
    {"Type": "String", "AllowedPattern": "^[a-z][a-z0-9]*$", "MaxLength": 12},
    {"Type": "String", "AllowedPattern": "[a-z0-9-]+", "MinLength": 3, "MaxLength": 63},
    {"Type": "String", "MaxLength": 24},
    {"Type": "String", "AllowedPattern": "^[0-9]{4,10}$"},
    {"Type": "String", "AllowedPattern": "^[a-z]{5,}$"},
    {"Type": "String"},
]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.sampled_from(AWS_REGIONS), st.from_regex(REGION_PATTERN, fullmatch=True)),
    st.one_of(st.just("manual"), st.from_regex(RUN_ID_PATTERN, fullmatch=True)),
    st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True),
    st.sampled_from(SLOTS),
)
def test_every_generated_id_fits_its_pattern_and_length_limits(region: str, run_id: str, name: str, slot: Dict[str, Any]) -> None:
    definition = {"name": name, "parameters": {"TenantId": slot}}
    value = validation.test_tenant_parameters(definition, region, run_id)["TenantId"]
    assert validation.fits_constraints(slot, value)
    if "AllowedPattern" in slot:
        assert re.fullmatch(slot["AllowedPattern"], value)
    assert int(slot.get("MinLength", 1)) <= len(value) <= int(slot.get("MaxLength", len(value)))
    assert value == validation.test_tenant_parameters(definition, region, run_id)["TenantId"]  # deterministic


def test_fits_constraints_reads_the_constraints_cloudformation_checks() -> None:
    assert validation.fits_constraints({"AllowedPattern": "[a-z]+"}, "abc") and not validation.fits_constraints({"AllowedPattern": "[a-z]+"}, "ab1")
    assert not validation.fits_constraints({"MinLength": "3"}, "ab") and not validation.fits_constraints({"MaxLength": 2}, "abc")
    assert validation.fits_constraints({"AllowedValues": [7, 30]}, "30") and not validation.fits_constraints({"AllowedValues": [7]}, "8")
    assert not validation.fits_constraints({"Type": "Number"}, "v12") and not validation.fits_constraints({"Type": "Number", "MaxValue": 9}, "10")


# ---- validate_version with the product definition: no parameters given, the tenant parameter generated.

CORE_DEFINITION = """\
nested_stacks: [{service: queue}]
parameters:
  TenantId: {Type: String, AllowedPattern: "^[a-z0-9][a-z0-9-]{2,15}$"}
"""


def test_a_definition_alone_gives_the_test_tenant_its_parameters_and_outputs(aws_mock: Any, product: Seeded, tmp_path: Path) -> None:
    definition = tmp_path / "core.yml"
    definition.write_text(CORE_DEFINITION + "test_tenant: {expected_outputs: [QueueUrl, Feature]}\n")
    clients = ServiceClients(aws_mock)
    result = run(clients, parameters={}, product_definition=str(definition), run_id=RUN)
    tenant_id = result["parameters"]["TenantId"]
    assert result["status"] == "passed" and re.fullmatch(r"v[0-9a-f]{15}", tenant_id)
    assert result["missing_outputs"] == [] and result["outputs"]["QueueUrl"].endswith(f"/tenant-{tenant_id}")
    assert clients.sent("ProvisionProduct")[0]["ProvisioningParameters"] == [{"Key": "TenantId", "Value": tenant_id}]
    assert tenant_states(aws_mock, product.product_id) == {}


def test_a_definition_nothing_fits_fails_before_any_call(aws_mock: Any, product: Seeded, tmp_path: Path) -> None:
    definition = tmp_path / "core.yml"
    definition.write_text(CORE_DEFINITION.replace("^[a-z0-9][a-z0-9-]{2,15}$", "^[A-Z]{2}$"))
    aws_mock.reset_calls()
    with pytest.raises(ServiceFailure) as failed:
        run(ServiceClients(aws_mock), parameters={}, product_definition=str(definition), check_mode=True)
    assert failed.value.msg == (f"{definition}: no generated test tenant id fits the constraints of parameter TenantId; "
                                f"declare test_tenant.parameters.TenantId in {definition}")
    assert failed.value.result["status"] == "failed" and failed.value.result["error"] == failed.value.msg
    assert aws_mock.calls() == {} and tenant_states(aws_mock, product.product_id) == {}
