#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: project_doctor
short_description: Find what would break on AWS in a project's packaged templates, before anything is uploaded
version_added: 0.2.0
description:
  - Reads the templates M(multiregion.serverless.sls_package) packaged for every region of a run, and the product
    definitions, and reports every problem at once, each naming the service, its file and the fix. A problem seen
    in several regions is listed once with its regions.
  - "Lambda code (and layer content) that is not in the stage's artifact bucket of the region: a service without
    C(provider.deploymentBucket) points its code at the bucket its own stack would create, empty."
  - Physical names (IAM role, Lambda function, DynamoDB table, SNS topic, SQS queue, S3 bucket, log group, event rule,
    CloudFormation export, ...) of a stack a product nests that would be the same for two tenants of a region, that is
    names that do not depend on the product's tenant parameter (I(product_definitions) C(tenant_parameter:), default
    C(TenantId)) or on something unique per stack. Account-wide (IAM) and global (S3) names must also hold the region.
    A resource every tenant should share belongs in an init stack, not in a per-tenant product; the message says so.
  - Names that can exceed AWS's limits (IAM role 64, Lambda function 64, S3 bucket 63, SQS queue 80, ...), with the
    tenant parameter at its longest (its C(MaxLength), or what its C(AllowedPattern) or C(AllowedValues) allow).
  - Templates over CloudFormation's limits (1 MB by URL, 500 resources), names built from a tenant parameter nothing
    bounds (no C(MaxLength)), and products without their tenant parameter.
  - The C(frameworkVersion) check runs earlier, in M(multiregion.serverless.sls_package), before any packaging.
  - Reads local files only; never talks to AWS.
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  project_dir:
    description: The project (its C(project.yml) folder); file names in the findings are relative to it.
    type: path
    required: true
  stage:
    description: The stage the templates were packaged for.
    type: str
    required: true
  services_dir:
    description: The services folder. Defaults to C(<project_dir>/services).
    type: path
  init_dir:
    description: The init stacks folder, if the project has one.
    type: path
  product_definitions:
    description: C(products/<name>.yml) of each product of the run, by product name (the plan's C(product_definitions)).
    type: dict
    default: {}
  targets:
    description:
      - One entry per region of the run, C(region), C(bucket) (the stage's artifact bucket there) and C(packages)
        (the C(services) and C(init_stacks) entries of that region's M(multiregion.serverless.sls_package) result).
      - The filter P(multiregion.serverless.doctor_targets#filter) builds them from the hosts of the package play.
    type: list
    elements: dict
    required: true
  fail_on_findings:
    description: Fail when there is any finding (the deploy does, so nothing is uploaded); with C(false) only report.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads only; a template packaging would only make in check mode is listed as not checked.
  diff_mode:
    support: none
    description: Nothing is compared.
notes:
  - Names are judged as far as they can be known before deployment; a name built with C(Fn::If), C(Fn::Select),
    C(Fn::ImportValue) or C(Fn::FindInMap) is not judged.
"""

EXAMPLES = r"""
- name: Check what every region packaged (once, for all regions)
  multiregion.serverless.project_doctor:
    project_dir: "{{ project_dir }}"
    stage: dev
    product_definitions: "{{ plan.product_definitions }}"
    targets: "{{ ansible_play_hosts | map('extract', hostvars) | multiregion.serverless.doctor_targets }}"
  run_once: true

- name: Only report the findings of one region's packaging
  multiregion.serverless.project_doctor:
    project_dir: /srv/monorepo
    stage: qa
    targets:
      - region: eu-west-1
        bucket: mrs-artifacts-qa-eu-west-1
        packages: "{{ packaged.services }}"
    fail_on_findings: false
  register: doctor
"""

RETURN = r"""
msg:
  description: On failure, the summary and one line per finding, C(- <file>) then its message and regions.
  returned: failure
  type: str
findings:
  description: Every problem, once.
  returned: success
  type: list
  elements: dict
  contains:
    check:
      description: C(code-bucket), C(shared-name), C(name-too-long), C(name-unbounded), C(template-size), C(template-resources) or C(tenant-parameter).
      type: str
      sample: shared-name
    unit:
      description: The service, init stack or product.
      type: str
      sample: payments
    file:
      description: Its file, relative to the project.
      type: str
      sample: services/payments/serverless.yml
    resource:
      description: The resource and property, C(template), or the parameter.
      type: str
      sample: IamRoleLambdaExecution (AWS::IAM::Role) RoleName
    regions:
      description: The regions it was seen in.
      type: list
      elements: str
      sample: [us-east-1, eu-west-1]
    message:
      description: What is wrong and the fix.
      type: str
      sample: "service payments (product platform-core): ... is the same for every tenant ..."
lines:
  description: One line per finding, its file, message and regions.
  returned: success
  type: list
  elements: str
summary:
  description: One line for people.
  returned: always
  type: str
  sample: "project doctor: no problem in 12 packaged template(s)"
checked:
  description: How many packaged templates were read.
  returned: always
  type: int
  sample: 12
not_checked:
  description: Services and init stacks without a packaged template yet (check mode).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiregion.serverless.plugins.module_utils.doctor import DOCTOR_ARGUMENT_SPEC, doctor_result


def main() -> None:
    module = AnsibleModule(argument_spec=DOCTOR_ARGUMENT_SPEC, supports_check_mode=True)
    result = doctor_result(module.params)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
