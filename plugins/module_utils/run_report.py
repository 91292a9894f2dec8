# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service behind the ``run_report`` module: the run's ledger and report, written locally and to the
primary bucket, its plan (``run_plan.py``, local only), and the stage lock released whatever happened to them.

``report_run(params, check_mode, client, region)`` returns the module's result, or raises ``ServiceFailure``
(a local failure) or ``AwsApiError`` (a failed upload or lock release), each holding the result so far; the
module runs it with ``AwsModule.run_service``. ``client(service)`` gives a client of ``aws_client.aws_client``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, Mapping, Optional

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, BotoCoreError, ClientError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.common import write_fresh_file
from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_lock import release
from ansible_collections.multiregion.serverless.plugins.module_utils.run_plan import build_plan, plan_summary, render_plan_markdown
from ansible_collections.multiregion.serverless.plugins.module_utils.run_ledger import (
    awx_stats,
    build_ledger,
    entries_from_target_results,
    failures,
    render_markdown,
    settle_run,
    summary_table,
)

OBJECTS = ((naming.LEDGER_FILE, "application/json"), (naming.REPORT_FILE, "text/markdown"))
Failure = Callable[[Dict[str, Any]], Exception]  # the result so far -> the exception the module fails with


def _with_result(error: AwsApiError, result: Dict[str, Any]) -> AwsApiError:
    """``error`` carrying the module's result so far (AwsModule.fail_json_aws_error returns its ``kwargs``)."""
    return AwsApiError(exception=error.exception, operation=error.operation, region=error.region, resource=error.resource, **result)


def read_previous(path: str) -> Optional[Dict[str, Any]]:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write(params: Mapping[str, Any], run: Mapping[str, Any], ledger_text: str, report: str, result: Dict[str, Any],
           client: Callable[[str], Any], region: Optional[str], check_mode: bool = False) -> Optional[Failure]:
    """Write the ledger and report locally and (unless in check mode) to the bucket; the failure, or None."""
    run_dir = naming.run_dir(params["runs_dir"], run["run_id"])
    plan = build_plan(dict(run, check_mode=check_mode), params["region_results"])
    result.update(plan_path=os.path.join(run_dir, naming.PLAN_REPORT_FILE), plan_summary=plan_summary(plan))
    try:
        os.makedirs(run_dir, exist_ok=True)
        write_fresh_file(result["ledger_path"], ledger_text.encode("utf-8"))
        write_fresh_file(result["report_path"], report.encode("utf-8"))
        write_fresh_file(os.path.join(run_dir, naming.PLAN_FILE), (json.dumps(plan, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        write_fresh_file(result["plan_path"], render_plan_markdown(plan).encode("utf-8"))
    except OSError as exc:
        message = f"cannot write the ledger of run {run['run_id']} to {run_dir}: {exc}"
        return lambda result: ServiceFailure(message, **result)
    if not params["bucket"] or check_mode:
        return None
    prefix = naming.run_object_prefix(run["stage"], run["run_id"])
    s3 = client("s3")
    for (name, content_type), body in zip(OBJECTS, (ledger_text, report)):
        try:
            s3.put_object(Bucket=params["bucket"], Key=prefix + name, Body=body.encode("utf-8"), ContentType=content_type,
                          ServerSideEncryption="AES256", ExpectedBucketOwner=params["expected_bucket_owner"], aws_retry=True)
        except (BotoCoreError, ClientError) as exc:
            error = AwsApiError(exception=exc, operation="PutObject", region=region, resource=f"s3://{params['bucket']}/{prefix + name}")
            return lambda result: _with_result(error, result)
    result["s3_prefix"] = f"s3://{params['bucket']}/{prefix}"
    return None


def _ledger(params: Mapping[str, Any], run: Dict[str, Any], result: Dict[str, Any], check_mode: bool,
            client: Callable[[str], Any], region: Optional[str]) -> Optional[Failure]:
    """Build the ledger into ``result`` and write it; the failure, or None.

    A check run writes its ledger and report to the local runs folder only (they are its plan, and local files are
    not the managed system), marked ``run.check_mode`` so that no run ever resumes it.
    """
    try:
        previous = read_previous(result["ledger_path"])
    except (OSError, ValueError) as exc:
        message = f"cannot read the earlier ledger of run {run['run_id']} at {result['ledger_path']}: {exc}"
        return lambda result: ServiceFailure(message, **result)
    if previous and (previous.get("run") or {}).get("check_mode"):
        previous = None  # a check run's plan is not work done: nothing of it carries over
    ledger = build_ledger(run, entries_from_target_results(params["region_results"], run.get("account_id")), previous)
    if check_mode:
        ledger["run"]["check_mode"] = True
    report = render_markdown(ledger)
    result.update(summary=summary_table(ledger), failures=failures(ledger), stats=awx_stats(ledger), ledger=ledger)
    return _write(params, run, json.dumps(ledger, indent=2, sort_keys=True) + "\n", report, result, client, region, check_mode)


def report_run(params: Mapping[str, Any], check_mode: bool, client: Callable[[str], Any], region: Optional[str] = None) -> Dict[str, Any]:
    """Write the run's ledger and report, then release the stage lock (``lock_ssm_prefix``) even when writing failed."""
    for field in ("run_id", "stage"):
        if not params["run"].get(field):
            raise ServiceFailure(f"run.{field} is required")
    run = settle_run(params["run"], params["region_results"])
    # changed in check mode too: the run would write the ledger and report objects and release the lock.
    result: Dict[str, Any] = dict(changed=True, ledger_path=naming.ledger_path(params["runs_dir"], run["run_id"]),
                                  report_path=naming.report_path(params["runs_dir"], run["run_id"]))
    failure = _ledger(params, run, result, check_mode, client, region)
    if params["lock_ssm_prefix"]:
        parameter = naming.lock_parameter_name(params["lock_ssm_prefix"])
        try:
            result["lock_released"] = release(client("ssm"), parameter, run["run_id"], check_mode, region)["changed"]
        except AwsApiError as exc:
            raise _with_result(exc, result) from exc.exception
    if failure:
        raise failure(result)
    return result
