# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validating a product version with a short-lived test tenant: the service behind ``catalog_test_tenant``.

``validate_version(apis, request)`` resolves the version (``rollout.resolve_target``: the product directory,
then SSM or ``target_version``), and unless in check mode provisions a test tenant from it (ProvisionProduct),
follows its record (``records.wait_for_record``), checks the stack outputs (``missing_outputs``) and
terminates the tenant again (TerminateProvisionedProduct, then its record), also when provisioning or the
check failed, unless asked to keep a failed one. It returns the module result, or raises ``ServiceFailure``
(message and result) or ``AwsApiError`` (with the result in its ``kwargs``).

The test tenant's parameters, when the request names the product's definition file, are
``test_tenant_parameters``: the definition's ``test_tenant.parameters``, a generated value of its tenant parameter
(``generated_tenant_id``: fits the parameter's own constraints, unique per product, region and run), then the
request's ``parameters``. Pure, like ``missing_outputs`` and ``fits_constraints``.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import from_params
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, ServiceCatalogApi
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.product_template import (
    ProductError,
    load_product,
    tenant_parameter,
    test_tenant,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.records import STACK_ARN_OUTPUT, PollPolicy, RecordTimeout, wait_for_record
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import RolloutError, Target, TargetOptions, resolve_target
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import ProductDirectory

PASSED = "passed"
FAILED = "failed"
WOULD_VALIDATE = "would_validate"
# The longest generated short tenant id (a hex digest cut to fit): 15 hex digits tell 2**60 runs apart, and short
# ids keep the names built from them (IAM roles, functions) within AWS's limits.
SHORT_TENANT_ID_LENGTH = 16
# What a parameter declared NoEcho is returned as.
HIDDEN_VALUE = "****"


@dataclass(frozen=True)
class ValidationRequest:
    """The options of ``catalog_test_tenant`` (its documentation says what each does)."""

    product: str
    name: str
    target: TargetOptions = field(default_factory=TargetOptions)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    product_definition: Optional[str] = None
    run_id: str = "manual"
    definition: Optional[Mapping[str, Any]] = None  # the loaded product_definition (with_definition)
    tags: Mapping[str, Any] = field(default_factory=dict)
    expected_outputs: Sequence[str] = field(default_factory=list)
    keep_on_failure: bool = False
    poll_delay: float = 5.0
    poll_max_delay: float = 30.0
    record_timeout: float = 1800.0
    check_mode: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], check_mode: bool = False) -> "ValidationRequest":
        return from_params(cls, params, target=from_params(TargetOptions, params), check_mode=check_mode)


def missing_outputs(outputs: Mapping[str, str], expected: Sequence[str]) -> List[str]:
    """Expected outputs absent or empty; with none expected, the stack ARN (the stack was made) and every output the
    record returned. A rendered product template has no outputs of its own, so the stack ARN is all it can show."""
    if expected:
        return [key for key in expected if not outputs.get(key)]
    return [key for key in [STACK_ARN_OUTPUT, *(key for key in outputs if key != STACK_ARN_OUTPUT)] if not outputs.get(key)]


def fits_constraints(slot: Mapping[str, Any], value: str) -> bool:
    """Whether CloudFormation takes ``value`` for a parameter declared as ``slot``: AllowedValues, AllowedPattern (the
    whole value, Python ``re``), MinLength/MaxLength, and for a Number, a number within MinValue/MaxValue.

    Raises ``re.error`` for an AllowedPattern Python cannot compile.
    """
    if "AllowedValues" in slot and value not in [str(allowed) for allowed in slot["AllowedValues"] or []]:
        return False
    if "AllowedPattern" in slot and re.fullmatch(str(slot["AllowedPattern"]), value) is None:
        return False
    if not int(slot.get("MinLength", 0)) <= len(value) <= int(slot.get("MaxLength", len(value))):
        return False
    if slot.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return False
        return float(slot.get("MinValue", number)) <= number <= float(slot.get("MaxValue", number))
    return True


def tenant_id_candidates(product: str, region: str, run_id: str, slot: Mapping[str, Any]) -> Iterator[str]:
    """Values to try for a test tenant's id, the most readable first: ``validate-<product>-<region>-<run id>`` in
    lower case, then for each length from the longest the parameter allows (at most SHORT_TENANT_ID_LENGTH, unless
    its MinLength asks for more) down to its MinLength, ``v`` and a hex digest, the digest in letters only (``a``-``p``)
    and in decimal digits. The digest is of product, region and run id, so the forms are deterministic and tell test
    tenants apart."""
    yield f"validate-{product}-{region}-{run_id}".lower()
    digest = hashlib.sha256(f"{product}\n{region}\n{run_id}".encode("utf-8")).hexdigest()
    letters = "".join(chr(ord("a") + int(digit, 16)) for digit in digest)
    digits = str(int(digest, 16))
    shortest = max(int(slot.get("MinLength", 1)), 1)
    longest = min(int(slot.get("MaxLength", SHORT_TENANT_ID_LENGTH)), max(SHORT_TENANT_ID_LENGTH, shortest), len(digits))
    for length in range(longest, shortest - 1, -1):
        if length > 1:
            yield "v" + digest[:length - 1]
        yield letters[:length]
        yield digits[:length]


def generated_tenant_id(product: str, region: str, run_id: str, slot: Mapping[str, Any]) -> Optional[str]:
    """The first ``tenant_id_candidates`` value that fits the parameter's constraints, or None when none does."""
    return next((value for value in tenant_id_candidates(product, region, run_id, slot) if fits_constraints(slot, value)), None)


def test_tenant_parameters(product: Mapping[str, Any], region: str, run_id: str, overrides: Optional[Mapping[str, Any]] = None,
                           source: Optional[str] = None) -> Dict[str, str]:
    """The test tenant's parameter values: the definition's ``test_tenant.parameters``, then a generated value of its
    tenant parameter when neither those nor ``overrides`` give one (``generated_tenant_id``), then ``overrides``.

    ``product`` is a loaded definition (``product_template.load_product``), ``source`` its file (named in errors;
    default ``products/<name>.yml``). Raises ``ProductError`` (one line, what to declare where) when no value fits the
    tenant parameter, or a parameter without a Default is left without a value.
    """
    source = source or f"products/{product.get('name')}.yml"
    slots: Mapping[str, Any] = product.get("parameters") or {}
    overrides = {str(name): value for name, value in (overrides or {}).items()}
    values: Dict[str, Any] = dict(test_tenant(dict(product))["parameters"])
    tenant = tenant_parameter(dict(product))
    if tenant in slots and tenant not in values and tenant not in overrides:
        slot = slots[tenant] if isinstance(slots[tenant], dict) else {}
        try:
            generated = generated_tenant_id(str(product.get("name")), region, run_id, slot)
        except (re.error, TypeError, ValueError) as exc:
            raise ProductError(f"{source}: the constraints of parameter {tenant} cannot be checked here ({exc}); "
                               f"declare test_tenant.parameters.{tenant} in {source}") from None
        if generated is None:
            raise ProductError(f"{source}: no generated test tenant id fits the constraints of parameter {tenant}; "
                               f"declare test_tenant.parameters.{tenant} in {source}")
        values[tenant] = generated
    values.update(overrides)
    missing = [name for name, slot in slots.items() if name not in values and not (isinstance(slot, dict) and "Default" in slot)]
    if missing:
        raise ProductError(f"{source}: parameter(s) {', '.join(missing)} have no Default and no value for the test tenant; "
                           f"declare test_tenant.parameters.{missing[0]} in {source} (or pass validate_parameters)")
    return {name: str(value) for name, value in values.items()}


test_tenant_parameters.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when a test module imports it


def shown_parameters(product: Optional[Mapping[str, Any]], values: Mapping[str, Any]) -> Dict[str, str]:
    """``values`` as the module returns them: a parameter the product declares NoEcho is hidden."""
    slots: Mapping[str, Any] = (product or {}).get("parameters") or {}
    return {name: HIDDEN_VALUE if str((slots.get(name) or {}).get("NoEcho", "")).lower() == "true" else str(value)
            for name, value in values.items()}


def key_values(values: Mapping[str, Any]) -> List[Dict[str, str]]:
    return [{"Key": str(key), "Value": str(value)} for key, value in values.items()]


def validate_version(
    apis: AwsApis,
    request: ValidationRequest,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Provision, check and remove a test tenant of the product's version; the module result."""
    started = clock()
    try:
        policy = PollPolicy(request.poll_delay, request.poll_max_delay, request.record_timeout)
    except ValueError as exc:
        raise ServiceFailure(str(exc)) from None
    result: Dict[str, Any] = dict(changed=False, status="", product=request.product, artifact_id="", version="", name=request.name,
                                  parameters={}, outputs={}, missing_outputs=[], provision_record_id="", terminate_record_id="",
                                  terminated=False, error="", duration=0.0)
    try:
        request = with_definition(request, apis.region or "")
    except ProductError as exc:
        result.update(status=FAILED, error=str(exc))
        raise ServiceFailure(str(exc), **result) from None
    result["parameters"] = shown_parameters(request.definition, request.parameters)
    catalog = apis.servicecatalog
    try:
        target = resolve_target(ProductDirectory(catalog), apis.ssm.read_value, request.product, request.target)
    except RolloutError as exc:
        raise ServiceFailure(str(exc), **result) from None
    except AwsApiError as exc:
        exc.kwargs.update(result)
        raise
    result.update(product=target.product, artifact_id=target.artifact_id, version=target.version)
    if target.path_problem:
        raise ServiceFailure(target.path_problem, **result)
    if request.check_mode:
        result.update(changed=True, status=WOULD_VALIDATE)
        return result

    result["changed"] = True
    tenant = TestTenant(catalog, request, policy, clock, sleep)
    tenant.provision_and_check(target, result)
    tenant.remove(result)
    result["status"] = FAILED if result["error"] else PASSED
    result["duration"] = round(clock() - started, 3)
    if result["error"]:
        raise ServiceFailure(f"validation of {target.product} {target.version} in {apis.region} failed: {result['error']}", **result)
    return result


def with_definition(request: ValidationRequest, region: str) -> ValidationRequest:
    """``request`` with the parameters and expected outputs its product definition file gives (when it names one)."""
    if not request.product_definition:
        return request
    product = load_product(request.product_definition)
    parameters = test_tenant_parameters(product, region, request.run_id, request.parameters, request.product_definition)
    expected = list(request.expected_outputs) or test_tenant(product)["expected_outputs"]
    return replace(request, parameters=parameters, expected_outputs=expected, definition=product)


@dataclass
class TestTenant:
    """The test tenant's two steps; each records what happened in the result, never raises."""

    __test__ = False  # not a pytest test class

    catalog: ServiceCatalogApi
    request: ValidationRequest
    policy: PollPolicy
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    provisioned: bool = False
    provisioning_failed: bool = False

    def wait(self, record_id: str) -> Any:
        return wait_for_record(self.catalog.describe_record, record_id, self.policy, self.clock, self.sleep)

    def provision_and_check(self, target: Target, result: Dict[str, Any]) -> None:
        request = self.request
        try:
            record_id = self.catalog.record_of(
                "ProvisionProduct",
                f"provisioned product {request.name}",
                ProvisionedProductName=request.name,
                ProductId=target.product_id,
                ProvisioningArtifactId=target.artifact_id,
                **({"PathId": target.path_id} if target.path_id else {}),
                ProvisioningParameters=key_values(request.parameters),
                Tags=key_values(request.tags),
                ProvisionToken=uuid.uuid4().hex,
            )
            self.provisioned = True
            result["provision_record_id"] = record_id
            state = self.wait(record_id)
            result["outputs"] = state.outputs
            if not state.succeeded:
                self.provisioning_failed = True
                result["error"] = f"provisioning {target.product} {target.version} failed: {state.error or state.status}"
            else:
                result["missing_outputs"] = missing_outputs(state.outputs, request.expected_outputs)
                if result["missing_outputs"]:
                    result["error"] = f"stack outputs missing or empty: {', '.join(result['missing_outputs'])}"
        except (AwsApiError, RecordTimeout) as exc:
            result["error"] = str(exc)

    def remove(self, result: Dict[str, Any]) -> None:
        """Always remove the test tenant (unless asked to keep a failed one): it must not outlive the validation."""
        name = self.request.name
        if not self.provisioned or (result["error"] and self.request.keep_on_failure):
            return
        try:
            # A failed provisioning already rolled its stack back; IgnoreErrors lets Service Catalog drop the
            # ERROR tenant instead of failing on a stack that is half gone.
            terminate_id = self.catalog.record_of(
                "TerminateProvisionedProduct",
                f"provisioned product {name}",
                ProvisionedProductName=name,
                TerminateToken=uuid.uuid4().hex,
                IgnoreErrors=self.provisioning_failed,
            )
            result["terminate_record_id"] = terminate_id
            ended = self.wait(terminate_id)
            result["terminated"] = ended.succeeded
            if not ended.succeeded:
                result["error"] = "; ".join(filter(None, [result["error"], f"terminating test tenant {name} failed: {ended.error or ended.status}"]))
        except (AwsApiError, RecordTimeout) as exc:
            result["error"] = "; ".join(filter(None, [result["error"], f"test tenant {name} may be left behind: {exc}"]))
