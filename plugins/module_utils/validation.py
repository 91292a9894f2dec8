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
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Sequence

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import from_params
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, ServiceCatalogApi
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.records import STACK_ARN_OUTPUT, PollPolicy, RecordTimeout, wait_for_record
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import RolloutError, Target, TargetOptions, resolve_target
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import ProductDirectory

PASSED = "passed"
FAILED = "failed"
WOULD_VALIDATE = "would_validate"


@dataclass(frozen=True)
class ValidationRequest:
    """The options of ``catalog_test_tenant`` (its documentation says what each does)."""

    product: str
    name: str
    target: TargetOptions = field(default_factory=TargetOptions)
    parameters: Mapping[str, Any] = field(default_factory=dict)
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
    """Expected outputs absent or empty; with none expected, every output but the stack ARN, and at least one."""
    if expected:
        return [key for key in expected if not outputs.get(key)]
    own = {key: value for key, value in outputs.items() if key != STACK_ARN_OUTPUT}
    if not own:
        return ["(the stack has no outputs)"]
    return [key for key, value in own.items() if not value]


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
                                  outputs={}, missing_outputs=[], provision_record_id="", terminate_record_id="", terminated=False,
                                  error="", duration=0.0)
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
