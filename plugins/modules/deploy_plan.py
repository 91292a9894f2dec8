#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_plan
short_description: Check the deploy inputs against a project's stage settings and return the run's plan
version_added: 0.1.0
description:
  - Reads C(project.yml) of a serverless monorepo (see C(docs/project-layout.md)), checks the stage, the
    optional narrowing of its regions and the stage's settings (account, buckets, SSM prefix), and returns
    everything the deploy phases need.
  - Refuses a project in which two stages would share an artifact bucket, or, in one account and region, an SSM
    prefix or a Service Catalog product name (one line naming both stages and the key to change).
  - Every bad input fails with one line that says what to fix. The module reads local files only and never
    talks to AWS, so a bad input writes nothing anywhere.
  - Names the run (RV(run_id)), a new id or the I(resume) id once its ledger is found to be this stage's.
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  project_dir:
    description: The project folder that holds C(project.yml).
    type: path
    required: true
  stage:
    description: The stage to deploy, one of the stages of C(project.yml).
    type: str
  regions:
    description:
      - Narrows the stage's regions. A comma-separated string (C(-e regions=us-east-1,eu-west-1)) or a list.
      - Every name must be a region of the stage.
    type: raw
  resume:
    description:
      - The id of an earlier run to resume (C(20261123T120000Z-1a2b3c)). Its form is checked (it becomes part of the
        ledger's path) and its ledger in I(runs_dir) must exist and record this stage, account and SSM prefix.
    type: str
  runs_dir:
    description:
      - The folder of the runs' ledgers (C(<runs_dir>/<run id>/ledger.json)), where I(resume) is looked up.
      - Defaults to C(<project_dir>/.deploy-runs).
    type: path
  inventory_regions:
    description:
      - The regions that have a host in the inventory. When given, every selected region must be among them.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: The module only reads (and names the run); it behaves the same in check mode.
  diff_mode:
    support: none
    description: The module only reads.
"""

EXAMPLES = r"""
- name: Check the inputs and build the plan
  multiregion.serverless.deploy_plan:
    project_dir: "{{ project_dir }}"
    stage: "{{ stage | default(omit) }}"
    regions: "{{ regions | default(omit) }}"
    inventory_regions: "{{ groups['regions'] }}"
  register: deploy_plan_result

- name: Use the run's id and plan
  ansible.builtin.set_fact:
    deploy_run_id: "{{ deploy_plan_result.run_id }}"
    deploy_run_plan: "{{ deploy_plan_result.plan }}"
"""

RETURN = r"""
plan:
  description: The checked plan of the run.
  returned: success
  type: dict
  contains:
    stage:
      description: The stage.
      type: str
      sample: dev
    account_id:
      description: The account that owns the artifact buckets.
      type: str
      sample: "123456789012"
    regions:
      description: The regions this run deploys to, in the stage's order.
      type: list
      elements: str
      sample: [us-east-1, eu-west-1]
    primary_region:
      description: Where stage-wide things live (lock, ledger).
      type: str
      sample: us-east-1
    artifact_buckets:
      description: Artifact bucket per region of the stage.
      type: dict
      sample: {us-east-1: mrs-artifacts-dev-us-east-1}
    excluded_services:
      description: Services the stage excludes.
      type: list
      elements: str
      sample: [e2e-fixtures]
    always_excluded_services:
      description: Services no stage deploys.
      type: list
      elements: str
      sample: [legacy-reports]
    authorizer:
      description: The Lambda authorizer service and whether it is packaged first or last.
      type: dict
      sample: {service: authorizer, order: first}
    ssm_prefix:
      description: Prefix of the stage's SSM parameters.
      type: str
      sample: /multiregion/dev
    products:
      description: Names of the product definitions under the products folder.
      type: list
      elements: str
      sample: [platform-core, tenant-analytics]
    product_definitions:
      description: The definition file of each product (C(<products_dir>/<product>.yml)).
      type: dict
      sample: {platform-core: /srv/monorepo/products/platform-core.yml}
    targets:
      description:
        - The deploy targets of the run, one per selected region, each an account and a region (one account per
          stage today). The phases' results and the run ledger's entries are keyed on them.
      type: list
      elements: dict
      sample: [{account_id: "123456789012", region: us-east-1}, {account_id: "123456789012", region: eu-west-1}]
    runs_dir:
      description: The folder of the runs' ledgers and reports.
      type: str
      sample: /srv/monorepo/.deploy-runs
    catalog_names:
      description:
        - The Service Catalog product name of each product in this stage, C(<product>-<stage>) unless the stage's
          C(product_names) in C(project.yml) names it.
      type: dict
      sample: {platform-core: platform-core-dev, tenant-analytics: tenant-analytics-dev}
    project_dir:
      description: Absolute project folder.
      type: str
      sample: /srv/monorepo
    services_dir:
      description: Absolute services folder.
      type: str
      sample: /srv/monorepo/services
    init_dir:
      description: Absolute init stacks folder.
      type: str
      sample: /srv/monorepo/init
    products_dir:
      description: Absolute product definitions folder.
      type: str
      sample: /srv/monorepo/products
run_id:
  description: The id of this run, C(<UTC time>-<6 hex>); the I(resume) id when resuming.
  returned: success
  type: str
  sample: 20261123T120000Z-1a2b3c
started:
  description: When this run (this attempt) started, ISO 8601 in UTC.
  returned: success
  type: str
  sample: "2026-11-23T12:00:00Z"
resumed_phases:
  description: The phases the resumed run (I(resume)) finished, as its ledger records them; empty without I(resume).
  returned: success
  type: list
  elements: str
  sample: [package, catalog]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_plan import PlanError, plan_run

ARGUMENT_SPEC = dict(
    project_dir=dict(type="path", required=True),
    stage=dict(type="str"),
    regions=dict(type="raw"),
    resume=dict(type="str"),
    runs_dir=dict(type="path"),
    inventory_regions=dict(type="list", elements="str", default=[]),
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(changed=False, **plan_run(**module.params))
    except PlanError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
