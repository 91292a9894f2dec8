#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_report
short_description: Write a deploy run's ledger (JSON) and report (Markdown), locally and to the primary artifact bucket
version_added: 0.1.0
description:
  - Turns what the phases of a run returned into the run ledger (one entry per service x region, product x region
    and tenant, with statuses and times) and a human report, and returns a short table and the numbers for AWX.
  - The ledger is written to C(<runs_dir>/<run_id>/ledger.json) beside C(report.md); when a ledger of the same
    run id exists (a resumed run), the new entries replace the old ones of the same item and the rest is kept.
  - With I(bucket), both files are also uploaded to C(s3://<bucket>/runs/<stage>/<run_id>/), encrypted, with
    C(ExpectedBucketOwner).
  - The run's plan is written beside them, C(plan.json) and C(plan.md), and never uploaded; per region the objects
    uploaded, the versions created and retired, the tenant updates grouped by change, and the replacement guard's
    refusals. In check mode it is what the run would do, and the ledger and report are local only too.
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  run:
    description:
      - The run (C(run_id), C(stage), C(account_id), C(ssm_prefix), C(regions), C(started), C(finished), C(status),
        C(phases_done), C(error)).
      - Left out, C(phases_done) is what every target of I(region_results) finished, C(status) is C(failed) when a
        target's rollout failed (else C(succeeded)), C(error) joins the targets' errors when failed, and C(finished)
        is now.
    type: dict
    required: true
  region_results:
    description:
      - Per deploy target, keyed by its region, what each phase's role returned (C(package), C(catalog), C(validate),
        C(rollout) keys holding the roles' result facts); turned into ledger entries, each with the target's
        C(account_id) (the key C(account_id), else C(run.account_id)) beside the region.
      - Also C(phases_done) (the phases the target finished), C(rollout_failed) and C(error), read when I(run) leaves
        C(phases_done), C(status) or C(error) out. The filter P(multiregion.serverless.target_results#filter) builds this
        from the hosts' facts.
    type: dict
    default: {}
  runs_dir:
    description: Local folder of the run ledgers.
    type: path
    required: true
  bucket:
    description: The primary region's artifact bucket to copy the ledger and report to. Omit to keep them local only.
    type: str
  expected_bucket_owner:
    description: The account that must own I(bucket).
    type: str
  lock_ssm_prefix:
    description:
      - Release the stage lock that M(multiregion.serverless.deploy_lock) keeps under this SSM prefix, if C(run.run_id)
        holds it, once the ledger is written, and also when reading, writing or uploading it failed (one task instead
        of two at the end of every run).
      - Omit to leave the lock alone.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - multiregion.serverless.aws
attributes:
  check_mode:
    support: full
    description: >-
      Builds the ledger and report and writes them to the local runs folder only (the check run's plan, marked
      C(run.check_mode), never resumable); no object is written and the lock is not released. Reports C(changed) as
      the run would.
  diff_mode:
    support: none
    description: The report is the output; there is no before and after to diff.
"""

EXAMPLES = r"""
- name: Write the ledger and the report
  multiregion.serverless.run_report:
    run:
      run_id: "{{ deploy_run_id }}"
      stage: dev
      account_id: "123456789012"
      regions: [us-east-1, eu-west-1]
      started: "{{ deploy_run_started }}"
      status: succeeded
      phases_done: [package, catalog]
    region_results: "{{ groups['deploy_targets'] | map('extract', hostvars) | multiregion.serverless.target_results(deploy_run_plan) }}"
    runs_dir: "{{ project_dir }}/.deploy-runs"
    bucket: mrs-artifacts-dev-us-east-1
    expected_bucket_owner: "123456789012"
    region: us-east-1
  register: deploy_run_report
"""

RETURN = r"""
ledger_path:
  description: The local ledger file.
  returned: always
  type: str
  sample: /srv/monorepo/.deploy-runs/20261123T120000Z-1a2b3c/ledger.json
report_path:
  description: The local Markdown report.
  returned: always
  type: str
  sample: /srv/monorepo/.deploy-runs/20261123T120000Z-1a2b3c/report.md
plan_path:
  description:
    - The run's plan in Markdown (C(plan.md), beside C(plan.json)), local only, never uploaded; per region the objects
      uploaded, the versions created and retired, the tenant updates grouped by change and the refusals. In check mode
      what the run would do.
  returned: when the ledger could be written
  type: str
  sample: /srv/monorepo/.deploy-runs/20261123T120000Z-1a2b3c/plan.md
plan_summary:
  description: One line per region of the plan.
  returned: when the ledger could be written
  type: list
  elements: str
  sample: ["plan us-east-1 (would be written): 12 upload(s), 1 new version(s) (platform-core-dev V3), 40 tenant update(s), 0 refusal(s)"]
s3_prefix:
  description: Where the ledger and the report were uploaded, when I(bucket) was given.
  returned: when bucket is given
  type: str
  sample: s3://mrs-artifacts-dev-us-east-1/runs/dev/20261123T120000Z-1a2b3c/
summary:
  description: A short table, one line per region.
  returned: always
  type: list
  elements: str
  sample: ["region     packaged  cached ...", "us-east-1  6         0 ..."]
failures:
  description: One line per failed item.
  returned: always
  type: list
  elements: str
  sample: ["rollout us-east-1 platform-core, pp-2: stack rolled back"]
stats:
  description: The run's numbers, flat, for C(ansible.builtin.set_stats) (AWX shows them on the job).
  returned: always
  type: dict
  sample: {deploy_run_id: 20261123T120000Z-1a2b3c, deploy_packaged: 6, deploy_failed: 0}
lock_released:
  description: Whether the stage lock of the run was released (would be, in check mode).
  returned: when lock_ssm_prefix is given and the lock could be read
  type: bool
  sample: true
ledger:
  description: The whole ledger. Every entry names its deploy target, C(account_id) and C(region).
  returned: always
  type: dict
  sample: {ledger_version: 1, run: {}, entries: {}, totals: {}}
"""

from typing import Any, Dict, NoReturn

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceRunner, aws_client, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.run_report import report_run

ARGUMENT_SPEC = dict(
    run=dict(type="dict", required=True),
    region_results=dict(type="dict", default={}),
    runs_dir=dict(type="path", required=True),
    bucket=dict(type="str"),
    expected_bucket_owner=dict(type="str"),
    lock_ssm_prefix=dict(type="str"),
)


MODULE_SPEC: Dict[str, Any] = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_by=dict(bucket=["expected_bucket_owner"]))


def run(module: ServiceRunner) -> NoReturn:
    module.run_service(report_run, module.params, module.check_mode, lambda service: aws_client(module, service), module.region)


def main() -> None:
    run(create_aws_module(**MODULE_SPEC))


if __name__ == "__main__":
    main()
