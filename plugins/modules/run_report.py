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
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  run:
    description: The run (C(run_id), C(stage), C(regions), C(started), C(finished), C(status), C(phases_done)).
    type: dict
    required: true
  region_results:
    description:
      - Per region, what each phase's role returned (C(package), C(catalog), C(validate), C(rollout) keys holding the
        roles' result facts); turned into ledger entries.
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
        holds it, once the ledger is written, and also when writing it failed (one task instead of two at the end of
        every run).
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
    description: Builds and returns the report without writing a file or an object.
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
      regions: [us-east-1, eu-west-1]
      started: "{{ deploy_run_started }}"
      status: succeeded
      phases_done: [package, catalog]
    region_results: "{{ deploy_run_region_results }}"
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
  description: The whole ledger.
  returned: always
  type: dict
  sample: {ledger_version: 1, run: {}, entries: {}, totals: {}}
"""

import json
import os

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import (
    BotoCoreError,
    ClientError,
    aws_client,
    create_aws_module,
    fail_aws,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_lock import lock_parameter_name, release
from ansible_collections.multiregion.serverless.plugins.module_utils.run_ledger import (
    awx_stats,
    build_ledger,
    entries_from_region_results,
    failures,
    render_markdown,
    summary_table,
)


def read_previous(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_atomically(path, text):
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def main() -> None:
    module = create_aws_module(
        argument_spec=dict(
            run=dict(type="dict", required=True),
            region_results=dict(type="dict", default={}),
            runs_dir=dict(type="path", required=True),
            bucket=dict(type="str"),
            expected_bucket_owner=dict(type="str"),
            lock_ssm_prefix=dict(type="str"),
        ),
        supports_check_mode=True,
        required_by=dict(bucket=["expected_bucket_owner"]),
    )
    params = module.params
    run = params["run"]
    for field in ("run_id", "stage"):
        if not run.get(field):
            module.fail_json(msg=f"run.{field} is required")
    run_dir = os.path.join(params["runs_dir"], run["run_id"])
    ledger_path = os.path.join(run_dir, "ledger.json")
    report_path = os.path.join(run_dir, "report.md")
    try:
        previous = read_previous(ledger_path)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the earlier ledger of run {run['run_id']} at {ledger_path}: {exc}")
    ledger = build_ledger(run, entries_from_region_results(params["region_results"]), previous)
    report = render_markdown(ledger)
    result = dict(
        changed=not module.check_mode,
        ledger_path=ledger_path,
        report_path=report_path,
        summary=summary_table(ledger),
        failures=failures(ledger),
        stats=awx_stats(ledger),
        ledger=ledger,
    )
    failure = None if module.check_mode else write_ledger(module, run, run_dir, ledger, report, result)
    if params["lock_ssm_prefix"]:
        parameter = lock_parameter_name(params["lock_ssm_prefix"])
        try:
            result["lock_released"] = release(aws_client(module, "ssm"), parameter, run["run_id"], module.check_mode)["changed"]
        except (BotoCoreError, ClientError) as exc:
            fail_aws(module, exc, "DeleteParameter", f"deploy lock {parameter}", **result)
    if failure:
        if failure.get("exception"):
            fail_aws(module, failure["exception"], "PutObject", failure["resource"], **result)
        module.fail_json(msg=failure["msg"], **result)
    module.exit_json(**result)


def write_ledger(module, run, run_dir, ledger, report, result):
    """Write the ledger and report locally and to the bucket; a dict describing the failure, or None."""
    params = module.params
    ledger_text = json.dumps(ledger, indent=2, sort_keys=True) + "\n"
    try:
        os.makedirs(run_dir, exist_ok=True)
        write_atomically(result["ledger_path"], ledger_text)
        write_atomically(result["report_path"], report)
    except OSError as exc:
        return {"msg": f"cannot write the ledger of run {run['run_id']} to {run_dir}: {exc}"}
    if not params["bucket"]:
        return None
    prefix = f"runs/{run['stage']}/{run['run_id']}/"
    s3 = aws_client(module, "s3")
    for name, body, content_type in (("ledger.json", ledger_text, "application/json"), ("report.md", report, "text/markdown")):
        try:
            s3.put_object(
                Bucket=params["bucket"],
                Key=prefix + name,
                Body=body.encode("utf-8"),
                ContentType=content_type,
                ServerSideEncryption="AES256",
                ExpectedBucketOwner=params["expected_bucket_owner"],
                aws_retry=True,
            )
        except (BotoCoreError, ClientError) as exc:
            return {"exception": exc, "resource": f"s3://{params['bucket']}/{prefix + name}"}
    result["s3_prefix"] = f"s3://{params['bucket']}/{prefix}"
    return None


if __name__ == "__main__":
    main()
