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
    record did not finish within I(record_timeout) (which applies to the provisioning record, and again to the
    termination record). A tenant whose termination failed is reported by name so it can be removed by hand.
  - The test tenant's parameters come from I(parameters) and, with I(product_definition), from the product's
    definition file, whose tenant parameter gets a generated value (C(test_tenant_parameters)).
  - The work is done by C(plugins/module_utils/validation.py) (C(validate_version)).
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  product:
    description: Name (or C(prod-...) id) of the product to validate.
    type: str
    required: true
  name:
    description: Name of the test tenant. A run id in it keeps two runs apart.
    type: str
    required: true
  parameters:
    description:
      - Values for the product's parameters. Without I(product_definition), these are all the test tenant gets (each
        parameter without a default must be in them).
      - With I(product_definition), they override what the definition gives.
    type: dict
    default: {}
  product_definition:
    description:
      - The product's definition file (C(products/<name>.yml) of the project; the deploy plan's C(product_definitions)).
      - The test tenant's parameters are then the definition's C(test_tenant.parameters); its tenant parameter
        (C(tenant_parameter), default C(TenantId)) gets a generated value when none is declared; I(parameters)
        override both.
      - The generated value fits the parameter's C(AllowedPattern), C(MinLength), C(MaxLength) (and C(AllowedValues),
        a Number's range). It is C(validate-<product>-<region>-<run_id>) in lower case when that fits, else C(v) and a
        hex digest of product, region and I(run_id) cut to fit (at most 16 characters), else the digest in letters or
        in decimal digits.
      - When nothing fits, or a parameter without a default is left without a value, the module fails before any AWS
        call, naming the C(test_tenant.parameters.<name>) to declare in that file.
      - Its C(test_tenant.expected_outputs) are checked when I(expected_outputs) is empty.
    type: path
  run_id:
    description: The run the test tenant belongs to; part of the generated tenant parameter value (see I(product_definition)).
    type: str
    default: manual
  tags:
    description: Tags of the test tenant.
    type: dict
    default: {}
  expected_outputs:
    description:
      - Stack outputs that must exist and not be empty. Empty list (default) means the definition's
        C(test_tenant.expected_outputs) with I(product_definition), else the stack ARN (C(CloudformationStackARN), so
        the stack was created) and every other output the record returns. A product template the package phase
        renders has no outputs of its own.
    type: list
    elements: str
    default: []
  keep_on_failure:
    description: Leave a failed test tenant in place for inspection instead of terminating it.
    type: bool
    default: false
  poll_max_delay:
    default: 30
  record_timeout:
    default: 1800
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3,
  multiregion.serverless.aws, multiregion.serverless.stage, multiregion.serverless.portfolio, multiregion.serverless.target, multiregion.serverless.poll]
attributes:
  check_mode:
    support: full
    description: Resolves the version to validate and reports that a test tenant would be provisioned and removed; writes nothing.
  diff_mode:
    support: none
    description: Nothing to diff; the test tenant does not outlive the call.
"""

EXAMPLES = r"""
- name: Validate the version the catalog phase just created, with what the product definition says
  multiregion.serverless.catalog_test_tenant:
    product: platform-core-prod
    ssm_prefix: /multiregion/prod
    name: "validate-platform-core-{{ deploy_run_id }}"
    product_definition: "{{ project_dir }}/products/platform-core.yml"
    run_id: "{{ deploy_run_id }}"

- name: Validate with explicit parameter values and outputs only
  multiregion.serverless.catalog_test_tenant:
    product: platform-core-prod
    ssm_prefix: /multiregion/prod
    name: "validate-platform-core-{{ deploy_run_id }}"
    parameters:
      TenantId: validation
    expected_outputs: [CloudformationStackARN]
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
parameters:
  description:
    - The parameter values the test tenant was (or in check mode would be) provisioned with; a parameter the product
      definition declares C(NoEcho) is shown as C(****).
  returned: always
  type: dict
  sample: {TenantId: v3f9a1c2b7d4e5f6, TenantTier: premium}
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

from typing import Any, Dict, NoReturn

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import (
    PORTFOLIO_ARG_SPEC,
    STAGE_ARG_SPEC,
    TARGET_ARG_SPEC,
    TARGET_CONSTRAINTS,
    VALIDATION_POLL,
    merged,
    poll_arg_spec,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceRunner, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.validation import ValidationRequest, validate_version

ARGUMENT_SPEC = merged(
    STAGE_ARG_SPEC,
    PORTFOLIO_ARG_SPEC,
    TARGET_ARG_SPEC,
    poll_arg_spec(VALIDATION_POLL),
    product=dict(type="str", required=True),
    name=dict(type="str", required=True),
    parameters=dict(type="dict", default={}),
    product_definition=dict(type="path"),
    run_id=dict(type="str", default="manual"),
    tags=dict(type="dict", default={}),
    expected_outputs=dict(type="list", elements="str", default=[]),
    keep_on_failure=dict(type="bool", default=False),
)


MODULE_SPEC: Dict[str, Any] = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **TARGET_CONSTRAINTS)


def run(module: ServiceRunner) -> NoReturn:
    module.run_service(validate_version, AwsApis.of_module(module), ValidationRequest.from_params(module.params, module.check_mode))


def main() -> None:
    run(create_aws_module(**MODULE_SPEC))


if __name__ == "__main__":
    main()
