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
  - With O(check_run_inputs), its action plugin also checks what only the controller knows, before the plan and in one
    place (C(run_inputs.py)) - every variable of the deploy playbook and of the collection's roles that the run sets
    (converted once, returned in RV(inputs)), the names given with C(-e) (a near-miss of one of ours is refused with
    "did you mean"), the tags (unknown ones are refused) and the hosts C(--limit) left (the run's regions are narrowed
    to them; none left is refused).
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
      - Every name must be a region of the stage. An empty string, or leaving the option out, means all of them;
        null, an empty list and a string of commas or spaces only are refused.
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
  check_run_inputs:
    description:
      - Also check what the controller knows of the run (the deploy playbook's first task sets it) - every variable of
        the deploy playbook and of the collection's roles that the run sets, the names given with C(-e), the tags, and
        the hosts C(--limit) left (the run's regions are narrowed to them). See C(docs/deploy.md), "What is checked".
      - Only the action plugin (the module run as a task) does this; the module run on its own ignores it.
    type: bool
    default: false
attributes:
  action:
    support: full
    description: The action plugin checks the run's variables, tags and limit on the controller, then plans in-process.
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
    portfolio:
      description:
        - The stage's Service Catalog portfolio (C(name), C(principals), C(launch_role)), or null when C(project.yml) names none.
      type: dict
      sample: {name: platform-dev, principals: [], launch_role: null}
    nested_init_stacks:
      description: The init stacks the stage's products nest (their templates must be packaged for the products).
      type: list
      elements: str
      sample: [network-baseline, shared-observability]
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
notes:
  description: How the regions were chosen (all of the stage's; narrowed by C(--limit)); the action plugin shows them.
  returned: success
  type: list
  elements: str
  sample: ["regions: every region of stage 'dev' (us-east-1, eu-west-1)"]
inputs:
  description:
    - Every variable of the deploy playbook (with its default when not set) and each role variable the run sets,
      converted once (booleans are booleans, C(rollout_waves) a list). Credentials are left out.
  returned: success, with O(check_run_inputs)
  type: dict
  sample: {update_product: true, rollout_waves: [1, "50%", "100%"], rollout_max_fail_percentage: 0, package_init_stacks: false}
resumed_phases:
  description: The phases the resumed run (I(resume)) finished, as its ledger records them; empty without I(resume).
  returned: success
  type: list
  elements: str
  sample: [package, catalog]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_plan import ALL_REGIONS, DEPLOY_PLAN_ARGUMENT_SPEC, PlanError, plan_run


def main() -> None:
    module = AnsibleModule(argument_spec=DEPLOY_PLAN_ARGUMENT_SPEC, supports_check_mode=True)
    # Omitted regions: every region of the stage (the action plugin refuses an explicit null).
    regions = ALL_REGIONS if module.params["regions"] is None else module.params["regions"]
    params = {name: value for name, value in module.params.items() if name != "check_run_inputs"}  # the action plugin's
    try:
        module.exit_json(changed=False, **plan_run(**dict(params, regions=regions)))
    except PlanError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
