#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: catalog_test_tenant
short_description: Validate a Service Catalog product version with a short-lived test tenant
version_added: 0.1.0
description:
  - Provisions a test tenant (a provisioned product) from a version of a product, waits for its record, checks that
    the stack's outputs exist, and terminates it again, also when provisioning or the check failed.
  - The version is by default the one the catalog phase stored in SSM at
    C(<ssm_prefix>/products/<product>/latest-artifact-id); I(target_version) names another one.
  - Fails, after the test tenant is gone, when provisioning failed, an expected output is missing or empty, or a
    record did not finish within I(record_timeout). A tenant whose termination failed is reported by name so it can
    be removed by hand.
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  product:
    description: Name (or C(prod-...) id) of the product to validate.
    type: str
    required: true
  stage:
    description:
      - The stage that owns the product(s). A product that does not carry the tag C(multiregion:stage=<stage>) is
        refused before any change, with the command that adopts it explicitly (docs/project-layout.md). The deploy
        roles always set it. Without it, ownership is not checked.
    type: str
  ssm_prefix:
    description: The stage's SSM prefix; the version is read from C(<ssm_prefix>/products/<product>/latest-artifact-id).
    type: str
  ssm_parameter:
    description: The SSM parameter holding the artifact id to validate, instead of the one built from I(ssm_prefix).
    type: str
  target_version:
    description: Validate this version (id C(pa-...) or name C(V12)) instead of the one in SSM.
    type: str
  name:
    description: Name of the test tenant. A run id in it keeps two runs apart.
    type: str
    required: true
  parameters:
    description: Values for the product's parameters (those without a default must be given).
    type: dict
    default: {}
  tags:
    description: Tags of the test tenant.
    type: dict
    default: {}
  expected_outputs:
    description:
      - Stack outputs that must exist and not be empty. Empty list (default) means every output the record
        returns besides the stack ARN, and at least one.
    type: list
    elements: str
    default: []
  keep_on_failure:
    description: Leave a failed test tenant in place for inspection instead of terminating it.
    type: bool
    default: false
  poll_delay:
    description: Seconds before the first poll of a record, and the shortest interval between polls.
    type: float
    default: 5
  poll_max_delay:
    description: The longest interval between two polls (backoff x1.5 up to it).
    type: float
    default: 30
  record_timeout:
    description: Seconds to wait for the provisioning record, and again for the termination record.
    type: float
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - multiregion.serverless.aws
attributes:
  check_mode:
    support: full
    description: Resolves the version to validate and reports that a test tenant would be provisioned and removed; writes nothing.
  diff_mode:
    support: none
    description: Nothing to diff; the test tenant does not outlive the call.
"""

EXAMPLES = r"""
- name: Validate the version the catalog phase just created
  multiregion.serverless.catalog_test_tenant:
    product: platform-core
    ssm_prefix: /multiregion/prod
    name: "validate-platform-core-{{ deploy_run_id }}"
    parameters:
      TenantId: validation
    expected_outputs: [ApiUrl]
"""

RETURN = r"""
status:
  description: C(passed), C(failed), or in check mode C(would_validate).
  returned: always
  type: str
  sample: passed
product:
  description: The product name.
  returned: always
  type: str
  sample: platform-core
artifact_id:
  description: The version validated.
  returned: always
  type: str
  sample: pa-abcdefgh12345
version:
  description: Its name.
  returned: always
  type: str
  sample: V13
name:
  description: The test tenant's name.
  returned: always
  type: str
  sample: validate-platform-core-20261123T120000Z
outputs:
  description: The stack outputs the provisioning record returned.
  returned: always
  type: dict
  sample: {CloudformationStackARN: "arn:aws:cloudformation:...", ApiUrl: "https://..."}
missing_outputs:
  description: Expected outputs that were absent or empty.
  returned: always
  type: list
  elements: str
  sample: []
provision_record_id:
  description: The ProvisionProduct record.
  returned: always
  type: str
  sample: rec-abcdefgh12345
terminate_record_id:
  description: The TerminateProvisionedProduct record (empty when nothing was provisioned or it was kept).
  returned: always
  type: str
  sample: rec-abcdefgh67890
terminated:
  description: Whether the test tenant is gone at the end.
  returned: always
  type: bool
  sample: true
error:
  description: What failed (empty when the validation passed).
  returned: always
  type: str
  sample: ""
duration:
  description: Seconds for the whole validation.
  returned: always
  type: float
  sample: 182.4
"""

import time
import uuid

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import aws_client, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.records import (
    STACK_ARN_OUTPUT,
    ApiCallFailed,
    CatalogCalls,
    PollPolicy,
    RecordTimeout,
    parameter_reader,
    wait_for_record,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import RolloutError, resolve_target


def missing_outputs(outputs, expected):
    """Expected outputs absent or empty; with none expected, every output but the stack ARN, and at least one."""
    if expected:
        return [key for key in expected if not outputs.get(key)]
    own = {key: value for key, value in outputs.items() if key != STACK_ARN_OUTPUT}
    if not own:
        return ["(the stack has no outputs)"]
    return [key for key, value in own.items() if not value]


def main() -> None:
    module = create_aws_module(
        argument_spec=dict(
            product=dict(type="str", required=True),
            ssm_prefix=dict(type="str"),
            stage=dict(type="str"),
            ssm_parameter=dict(type="str"),
            target_version=dict(type="str"),
            name=dict(type="str", required=True),
            parameters=dict(type="dict", default={}),
            tags=dict(type="dict", default={}),
            expected_outputs=dict(type="list", elements="str", default=[]),
            keep_on_failure=dict(type="bool", default=False),
            poll_delay=dict(type="float", default=5.0),
            poll_max_delay=dict(type="float", default=30.0),
            record_timeout=dict(type="float", default=1800.0),
        ),
        supports_check_mode=True,
        mutually_exclusive=[("ssm_parameter", "target_version")],
        required_one_of=[("ssm_prefix", "ssm_parameter", "target_version")],
    )
    params = module.params
    started = time.monotonic()
    try:
        policy = PollPolicy(params["poll_delay"], params["poll_max_delay"], params["record_timeout"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    calls = CatalogCalls(aws_client(module, "servicecatalog"), module.region)
    result = dict(changed=False, status="", product=params["product"], artifact_id="", version="", name=params["name"], outputs={},
                  missing_outputs=[], provision_record_id="", terminate_record_id="", terminated=False, error="", duration=0.0)
    try:
        target = resolve_target(calls, parameter_reader(aws_client(module, "ssm"), module.region), params["product"],
                                params["target_version"], params["ssm_parameter"], params["ssm_prefix"], params["stage"])
    except (ApiCallFailed, RolloutError) as exc:
        module.fail_json(msg=str(exc), **result)
    result.update(product=target.product, artifact_id=target.artifact_id, version=target.version)
    if module.check_mode:
        result.update(changed=True, status="would_validate")
        module.exit_json(**result)

    result["changed"] = True
    provisioned = provisioning_failed = False
    try:
        record_id = calls.provision(
            params["name"],
            target.product_id,
            target.artifact_id,
            [{"Key": str(key), "Value": str(value)} for key, value in params["parameters"].items()],
            [{"Key": str(key), "Value": str(value)} for key, value in params["tags"].items()],
            uuid.uuid4().hex,
        )
        provisioned = True
        result["provision_record_id"] = record_id
        state = wait_for_record(calls.describe_record, record_id, policy)
        result["outputs"] = state.outputs
        if not state.succeeded:
            provisioning_failed = True
            result["error"] = f"provisioning {target.product} {target.version} failed: {state.error or state.status}"
        else:
            result["missing_outputs"] = missing_outputs(state.outputs, params["expected_outputs"])
            if result["missing_outputs"]:
                result["error"] = f"stack outputs missing or empty: {', '.join(result['missing_outputs'])}"
    except (ApiCallFailed, RecordTimeout) as exc:
        result["error"] = str(exc)

    # Always remove the test tenant (unless asked to keep a failed one): it must not outlive the validation.
    if provisioned and not (result["error"] and params["keep_on_failure"]):
        try:
            # A failed provisioning already rolled its stack back; IgnoreErrors lets Service Catalog drop the
            # ERROR tenant instead of failing on a stack that is half gone.
            terminate_id = calls.terminate(params["name"], uuid.uuid4().hex, ignore_errors=provisioning_failed)
            result["terminate_record_id"] = terminate_id
            ended = wait_for_record(calls.describe_record, terminate_id, policy)
            result["terminated"] = ended.succeeded
            if not ended.succeeded:
                result["error"] = "; ".join(filter(None, [result["error"], f"terminating test tenant {params['name']} failed: {ended.error or ended.status}"]))
        except (ApiCallFailed, RecordTimeout) as exc:
            result["error"] = "; ".join(filter(None, [result["error"], f"test tenant {params['name']} may be left behind: {exc}"]))
    result["status"] = "failed" if result["error"] else "passed"
    result["duration"] = round(time.monotonic() - started, 3)
    if result["error"]:
        module.fail_json(msg=f"validation of {target.product} {target.version} in {module.region} failed: {result['error']}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
