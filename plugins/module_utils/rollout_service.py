# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout of one region, end to end: the service behind ``provisioned_product_update``.

``roll_out(apis, request)`` walks: refuse bad options (no call yet) -> resolve each product's target version
(``rollout.resolve_target``: the product directory, then SSM or ``target_version``) -> list every tenant
(SearchProvisionedProducts, all pages) -> describe the versions the plan needs (DescribeProvisioningArtifact,
one call per version; a deleted version is skipped by its error code) -> read the last record of TAINTED
tenants -> plan (``rollout.plan_rollout``) -> in check/diff mode, what each version change does to a stack
(``version_changes``) -> run the sliding window (``rollout.RolloutRunner``), or in check mode only report
it -> summarize, tolerance, stats, diff. It returns the module result, or raises ``ServiceFailure`` (message
and result) or ``AwsApiError``.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import from_params
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, S3Api, ServiceCatalogApi
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import TemplateError, parse_s3_url, parse_template
from ansible_collections.multiregion.serverless.plugins.module_utils.records import PollPolicy
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import (
    FAILED,
    UPDATED,
    WOULD_UPDATE,
    CatalogRolloutApi,
    FailureTolerance,
    ParameterSpec,
    RolloutError,
    RolloutOutcome,
    RolloutPlan,
    RolloutRunner,
    Target,
    TargetOptions,
    Tenant,
    TenantResult,
    artifacts_to_describe,
    order_groups,
    plan_rollout,
    resolve_target,
    summarize,
    tainted_tenants,
    template_changes,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import ProductDirectory

# At most this many failed tenants are named in the failure message.
SHOWN_FAILURES = 5


@dataclass(frozen=True)
class RolloutRequest:
    """The options of ``provisioned_product_update`` (its documentation says what each does)."""

    products: Sequence[str]
    target: TargetOptions = field(default_factory=TargetOptions)
    max_concurrent: int = 8
    failure_tolerance: str = "10%"
    mode: str = "stop"
    order: Sequence[str] = field(default_factory=list)
    poll_delay: float = 5.0
    poll_max_delay: float = 60.0
    record_timeout: float = 3600.0
    progress_file: Optional[str] = None
    check_mode: bool = False
    diff: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], check_mode: bool = False, diff: bool = False) -> "RolloutRequest":
        return from_params(cls, params, target=from_params(TargetOptions, params), check_mode=check_mode, diff=diff)


class Progress:
    """Progress lines to the optional file (flushed, for ``tail -f``) and to ``log`` (the module log)."""

    def __init__(self, path: Optional[str], region: Optional[str], log: Callable[[str], None]) -> None:
        self.region = region
        self.log = log
        self.handle = None
        if path:
            # The folder may not exist yet (a fresh progress dir per run).
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.handle = open(path, "a", encoding="utf-8")  # pylint: disable=consider-using-with

    def __call__(self, line: str) -> None:
        text = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {self.region}: {line}"
        if self.handle:
            self.handle.write(text + "\n")
            self.handle.flush()
        self.log(text)

    def close(self) -> None:
        if self.handle:
            self.handle.close()
            self.handle = None


def roll_out(
    apis: AwsApis,
    request: RolloutRequest,
    log: Callable[[str], None] = lambda line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """Roll ``request.products`` out to their tenants in ``apis.region``; the module result."""
    tolerance, runner, progress = prepare(apis, request, log, clock, sleep)
    started = clock()
    try:
        targets, tenants, plan, template_urls = plan_region(apis, request)
        result: Dict[str, Any] = dict(changed=bool(plan.updates), targets=[target_summary(target) for target in targets.values()])
        progress(
            f"{len(tenants)} tenants, {len(plan.updates)} to update, "
            + ", ".join(f"{t.product} -> {t.version} ({t.artifact_id})" for t in targets.values())
        )
        if request.check_mode or request.diff:
            result["version_changes"] = version_changes(apis.s3, plan, template_urls)
        if request.check_mode:
            outcome = None
            results = plan.settled + [update.result(WOULD_UPDATE) for update in plan.updates]
        else:
            outcome = runner.run(plan.updates)
            results = plan.settled + outcome.results
    finally:
        progress.close()
    results.sort(key=lambda r: (r.product, r.name))
    result.update(report(results, outcome, tolerance, len(plan.updates), request.mode, clock() - started))
    if request.diff:
        result["diff"] = version_diff(results)
    if request.check_mode:
        return result
    # changed: an update was started (AWS was written), whatever its outcome.
    result["changed"] = any(r.record_id for r in results)
    failure = failure_message(results, result["summary"], tolerance, apis.region)
    if failure:
        raise ServiceFailure(failure, **result)
    return result


def prepare(
    apis: AwsApis, request: RolloutRequest, log: Callable[[str], None], clock: Callable[[], float], sleep: Callable[[float], None]
) -> Tuple[FailureTolerance, RolloutRunner, Progress]:
    """Every option checked before any AWS call; ServiceFailure with the reason otherwise."""
    if not request.products:
        raise ServiceFailure("products must name at least one product")
    if request.target.ssm_parameter and len(request.products) > 1:
        raise ServiceFailure("ssm_parameter holds the target of one product; with several products use ssm_prefix")
    try:
        tolerance = FailureTolerance.parse(request.failure_tolerance)
        order_groups([], request.order)  # refuses a malformed selector before any call
        policy = PollPolicy(request.poll_delay, request.poll_max_delay, request.record_timeout)
        progress = Progress(request.progress_file, apis.region, log)
        api = CatalogRolloutApi(apis.servicecatalog)
        runner = RolloutRunner(api, request.max_concurrent, tolerance, request.mode, policy, clock=clock, sleep=sleep, progress=progress)
    except (ValueError, OSError) as exc:  # RolloutError is a ValueError
        raise ServiceFailure(str(exc)) from None
    return tolerance, runner, progress


def plan_region(apis: AwsApis, request: RolloutRequest) -> Tuple[Dict[str, Target], List[Tenant], RolloutPlan, Dict[str, str]]:
    """Targets by product id, every tenant, the plan, and the template URL of each version described."""
    catalog = apis.servicecatalog
    directory = ProductDirectory(catalog)
    try:
        targets: Dict[str, Target] = {}
        for wanted in request.products:
            target = resolve_target(directory, apis.ssm.read_value, wanted, request.target)
            targets[target.product_id] = target
        tenants: List[Tenant] = []
        for target in targets.values():
            rows = catalog.search_provisioned_products(target.product_id, f"product {target.product} ({target.product_id})")
            tenants.extend(Tenant.from_search_row(row, target.product) for row in rows)
        parameters, template_urls = describe_versions(catalog, artifacts_to_describe(tenants, targets))
        last_records = {tenant.id: catalog.describe_record(tenant.last_record_id) for tenant in tainted_tenants(tenants)}
        plan = plan_rollout(tenants, targets, parameters, last_records, request.order)
        problems = sorted({update.target.path_problem for update in plan.updates if update.target.path_problem})
        if problems:
            raise RolloutError(problems[0])  # before any update starts
        return targets, tenants, plan, template_urls
    except RolloutError as exc:
        raise ServiceFailure(str(exc)) from None


def describe_versions(catalog: ServiceCatalogApi, wanted: Sequence[Tuple[str, str]]) -> Tuple[Dict[str, List[ParameterSpec]], Dict[str, str]]:
    """Parameters (by artifact id) and template URLs of the versions the plan needs; a deleted version is left out
    (its tenants keep the target's keys)."""
    parameters: Dict[str, List[ParameterSpec]] = {}
    template_urls: Dict[str, str] = {}
    for product_id, artifact_id in wanted:
        answer = catalog.call(
            "DescribeProvisioningArtifact",
            f"version {artifact_id} of {product_id}",
            missing_ok=True,
            ProductId=product_id,
            ProvisioningArtifactId=artifact_id,
            Verbose=True,
            IncludeProvisioningArtifactParameters=True,
        )
        if answer is None:
            continue
        parameters[artifact_id] = [ParameterSpec.from_api(item) for item in answer.get("ProvisioningArtifactParameters") or []]
        template_urls[artifact_id] = (answer.get("Info") or {}).get("TemplateUrl", "")
    return parameters, template_urls


Template = Union[Dict[str, Any], Exception]


def read_template(s3: S3Api, url: str, cache: Dict[str, Template]) -> Template:
    """The parsed template at ``url``, or the error that kept it from being read (each URL read once)."""
    if url not in cache:
        try:
            location = parse_s3_url(url)
            cache[url] = parse_template(s3.get_bytes(location.bucket, location.key, None, resource=url).decode("utf-8"), url)
        except (TemplateError, AwsApiError) as exc:
            cache[url] = exc
    return cache[url]


def version_changes(s3: S3Api, plan: RolloutPlan, template_urls: Mapping[str, str]) -> List[Dict[str, Any]]:
    """What each (current version -> target) update changes, from the two templates (read once per version)."""
    counts: Dict[Tuple[str, str, str], int] = {}
    for update in plan.updates:
        key = (update.target.product, update.tenant.artifact_id, update.target.artifact_id)
        counts[key] = counts.get(key, 0) + 1
    cache: Dict[str, Template] = {}
    changes = []
    for (product, from_artifact, to_artifact), tenants in sorted(counts.items()):
        entry: Dict[str, Any] = dict(product=product, from_artifact=from_artifact, to_artifact=to_artifact, tenants=tenants, changes=[])
        old = read_template(s3, template_urls.get(from_artifact, ""), cache) if from_artifact in template_urls else None
        new = read_template(s3, template_urls.get(to_artifact, ""), cache)
        problem = next((item for item in (old, new) if isinstance(item, Exception)), None)
        if old is None:
            entry["error"] = f"version {from_artifact} no longer exists"
        elif problem is not None:
            entry["error"] = f"templates not readable: {problem}"
        else:
            entry["changes"] = template_changes(old, new)  # type: ignore[arg-type]
        changes.append(entry)
    return changes


def target_summary(target: Target) -> Dict[str, str]:
    return dict(product=target.product, product_id=target.product_id, artifact_id=target.artifact_id, version=target.version, source=target.source)


def report(
    results: List[TenantResult], outcome: Optional[RolloutOutcome], tolerance: FailureTolerance, updates: int, mode: str, seconds: float
) -> Dict[str, Any]:
    """The ``tenants``, ``summary``, ``tolerance`` and ``stats`` of the result."""
    return dict(
        tenants=[r.as_dict() for r in results],
        summary=summarize(results),
        tolerance=dict(
            failure_tolerance=str(tolerance),
            allowed=tolerance.allowed(updates),
            failed=sum(1 for r in results if r.status == FAILED),
            exceeded=bool(outcome and outcome.tolerance_exceeded),
            stopped=bool(outcome and outcome.stopped),
            mode=mode,
        ),
        stats=dict(
            polls=outcome.polls if outcome else 0,
            peak_in_flight=outcome.peak_in_flight if outcome else 0,
            seconds=round(seconds, 3),
            # kilobytes on Linux: the module's own peak memory, whatever the number of tenants
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        ),
    )


def version_diff(results: Sequence[TenantResult]) -> Dict[str, Dict[str, str]]:
    """Diff mode: the moving tenants' versions before and after."""
    moving = [r for r in results if r.status in (UPDATED, WOULD_UPDATE)]
    return dict(
        before={r.name: r.from_version or r.from_artifact for r in moving},
        after={r.name: r.to_version or r.to_artifact for r in moving},
    )


def failure_message(results: Sequence[TenantResult], summary: Mapping[str, int], tolerance: FailureTolerance, region: Optional[str]) -> Optional[str]:
    """The module's failure message when a tenant failed (up to five named), None when none did."""
    failed = [r for r in results if r.status == FAILED]
    if not failed:
        return None
    shown = "; ".join(f"{r.product}/{r.name}: {r.error}" for r in failed[:SHOWN_FAILURES]) + ("; ..." if len(failed) > SHOWN_FAILURES else "")
    stopped = f", {summary['not_started']} not started (failure tolerance {tolerance} exceeded)" if summary["not_started"] else ""
    return f"{len(failed)} of {summary['total']} tenants failed in {region}{stopped}: {shown}"
