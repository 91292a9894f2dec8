# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout of one region, end to end: the service behind ``provisioned_product_update``.

``roll_out(apis, request)`` walks: refuse bad options (no call yet) -> resolve each product's target version
(``rollout.resolve_target``: the product directory, then SSM or ``target_version``) -> list every tenant
(SearchProvisionedProducts, all pages) -> describe the versions the plan needs (DescribeProvisioningArtifact,
one call per version; a deleted version is skipped by its error code) -> read the last record of TAINTED
tenants -> plan (``rollout.plan_rollout``) -> the replacement guard (``ReplacementGuard``: a tenant whose
update would replace or delete a stateful resource is ``refused``, before any update) -> what each version
change does to a stack, tenants grouped (``version_changes``) -> run the sliding window
(``rollout.RolloutRunner``), or in check mode only report it -> summarize, tolerance, stats, diff. It returns
the module result, or raises ``ServiceFailure`` (message and result) or ``AwsApiError``.

In check mode, ``pending_versions`` are the versions the catalog step of the same run would create: a product
that does not have its pending version yet rolls out to it (its template read from the run's local copy).
"""

from __future__ import annotations

import os
import resource
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import from_params
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, S3Api, ServiceCatalogApi
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import (
    TemplateError,
    local_copy,
    parse_s3_url,
    parse_template,
    template_changes,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.records import PollPolicy
from ansible_collections.multiregion.serverless.plugins.module_utils.replacement_guard import (
    AllowRule,
    Finding,
    GuardError,
    kept_parameters,
    notices,
    parse_allow_replacement,
    plan_findings,
    refusals,
    replacements,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import (
    FAILED,
    PENDING_SOURCE,
    REFUSED,
    WOULD_UPDATE,
    CatalogRolloutApi,
    FailureTolerance,
    ParameterSpec,
    RolloutError,
    RolloutOutcome,
    RolloutPlan,
    PlannedUpdate,
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
)
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import ProductDirectory

# At most this many failed (or refused) tenants are named in the failure message, and tenant names per group of
# the same version change in version_changes (the count is always complete).
SHOWN_FAILURES = 5
SHOWN_TENANTS = 10


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
    replacement_guard: bool = True
    replacement_plans: bool = False  # also ask Service Catalog (a provisioned product plan per tenant), real runs only
    allow_replacement: Any = None  # a list or a comma-separated string (replacement_guard.parse_allow_replacement)
    pending_versions: Sequence[Mapping[str, Any]] = ()  # [{product, version, template_url}], check mode only
    template_local_copies: Mapping[str, str] = field(default_factory=dict)  # {S3 URL: local file}
    check_mode: bool = False
    diff: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], check_mode: bool = False, diff: bool = False) -> "RolloutRequest":
        return from_params(cls, params, target=from_params(TargetOptions, params), check_mode=check_mode, diff=diff)


class TemplateReader:
    """Templates by URL, each read once: a check run's local copy first (it is not uploaded), else S3."""

    def __init__(self, s3: S3Api, local_copies: Mapping[str, str]) -> None:
        self.s3 = s3
        self.local_copies = local_copies
        self.cache: Dict[str, Template] = {}

    def get(self, url: str) -> "Template":
        """The parsed template at ``url``, or the error that kept it from being read."""
        if url not in self.cache:
            try:
                body = local_copy(self.local_copies, url)
                if body is None:
                    location = parse_s3_url(url)
                    body = self.s3.get_bytes(location.bucket, location.key, None, resource=url)
                self.cache[url] = parse_template(body.decode("utf-8"), url)
            except UnicodeDecodeError:
                self.cache[url] = TemplateError(f"{url} is not UTF-8 text")
            except (TemplateError, AwsApiError) as exc:
                self.cache[url] = exc
        return self.cache[url]

    def fetch(self, url: str) -> Dict[str, Any]:
        """``get`` for callers that take a template or an exception raised (the guard's and the diff's nested reads)."""
        template = self.get(url)
        if isinstance(template, Exception):
            raise template
        return template


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
    tolerance, runner, progress, allow_rules = prepare(apis, request, log, clock, sleep)
    reader = TemplateReader(apis.s3, request.template_local_copies)
    started = clock()
    try:
        targets, tenants, plan, versions = plan_region(apis, request, reader)
        guard = ReplacementGuard(reader, versions, allow_rules) if request.replacement_guard else None
        if guard is not None:
            plan = guard.apply(plan)
            if request.replacement_plans and not request.check_mode:  # a plan is a write: never in check mode
                plan = guard.ask_service_catalog(plan, PlanAsker(apis.servicecatalog, request, clock, sleep))
        result: Dict[str, Any] = dict(changed=bool(plan.updates), targets=[target_summary(target) for target in targets.values()])
        if guard is not None:
            result.update(refusals=guard.refusals, replacement_notices=guard.notices)
        progress(
            f"{len(tenants)} tenants, {len(plan.updates)} to update"
            + (f", {len(guard.refused)} refused by the replacement guard" if guard and guard.refused else "")
            + ", "
            + ", ".join(f"{t.product} -> {t.version} ({t.artifact_id})" for t in targets.values())
        )
        # Every template it reads the guard has read already (the reader keeps them): the run's plan file lists them.
        result["version_changes"] = version_changes(plan, versions, reader, guard)
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
        result["diff"] = version_diff(result["version_changes"], apis.region)
    if not request.check_mode:
        # changed: an update was started (AWS was written), whatever its outcome.
        result["changed"] = any(r.record_id for r in results)
    failure = failure_message(results, result["summary"], tolerance, apis.region)
    if failure:
        raise ServiceFailure(failure, **result)
    return result


def prepare(
    apis: AwsApis, request: RolloutRequest, log: Callable[[str], None], clock: Callable[[], float], sleep: Callable[[float], None]
) -> Tuple[FailureTolerance, RolloutRunner, Progress, List[AllowRule]]:
    """Every option checked before any AWS call; ServiceFailure with the reason otherwise."""
    if not request.products:
        raise ServiceFailure("products must name at least one product")
    if request.target.ssm_parameter and len(request.products) > 1:
        raise ServiceFailure("ssm_parameter holds the target of one product; with several products use ssm_prefix")
    try:
        tolerance = FailureTolerance.parse(request.failure_tolerance)
        allow_rules = parse_allow_replacement(request.allow_replacement)
        order_groups([], request.order)  # refuses a malformed selector before any call
        policy = PollPolicy(request.poll_delay, request.poll_max_delay, request.record_timeout)
        progress = Progress(request.progress_file, apis.region, log)
        api = CatalogRolloutApi(apis.servicecatalog)
        runner = RolloutRunner(api, request.max_concurrent, tolerance, request.mode, policy, clock=clock, sleep=sleep, progress=progress)
    except (ValueError, OSError) as exc:  # RolloutError and GuardError are ValueErrors
        raise ServiceFailure(str(exc)) from None
    return tolerance, runner, progress, allow_rules


@dataclass
class Versions:
    """What the plan knows of each version (by artifact id): its parameters and its template's URL."""

    parameters: Dict[str, List[ParameterSpec]] = field(default_factory=dict)
    template_urls: Dict[str, str] = field(default_factory=dict)


def plan_region(apis: AwsApis, request: RolloutRequest, reader: TemplateReader) -> Tuple[Dict[str, Target], List[Tenant], RolloutPlan, Versions]:
    """Targets by product id, every tenant, the plan, and the versions it involves."""
    catalog = apis.servicecatalog
    directory = ProductDirectory(catalog)
    pending = {str(entry["product"]): entry for entry in request.pending_versions} if request.check_mode else {}
    try:
        targets: Dict[str, Target] = {}
        pending_templates: Dict[str, str] = {}
        for wanted in request.products:
            entry = pending.get(wanted)
            target = resolve_target(directory, apis.ssm.read_value, wanted, request.target, str(entry["version"]) if entry else None)
            if target is None:
                continue  # created by this check run's catalog step: no tenant yet
            targets[target.product_id] = target
            if target.source == PENDING_SOURCE and entry is not None:
                pending_templates[target.artifact_id] = str(entry["template_url"])
        tenants: List[Tenant] = []
        for target in targets.values():
            rows = catalog.search_provisioned_products(target.product_id, f"product {target.product} ({target.product_id})")
            tenants.extend(Tenant.from_search_row(row, target.product) for row in rows)
        existing = [(product_id, artifact_id) for product_id, artifact_id in artifacts_to_describe(tenants, targets) if artifact_id not in pending_templates]
        versions = Versions(*describe_versions(catalog, existing))
        for artifact_id, url in pending_templates.items():
            template = reader.get(url)
            if isinstance(template, Exception):
                raise RolloutError(f"the template of the version this run would create cannot be read: {template}")
            versions.parameters[artifact_id] = ParameterSpec.of_template(template)
            versions.template_urls[artifact_id] = url
        last_records = {tenant.id: catalog.describe_record(tenant.last_record_id) for tenant in tainted_tenants(tenants)}
        plan = plan_rollout(tenants, targets, versions.parameters, last_records, request.order)
        problems = sorted({update.target.path_problem for update in plan.updates if update.target.path_problem})
        if problems:
            raise RolloutError(problems[0])  # before any update starts
        return targets, tenants, plan, versions
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


def version_templates(update: PlannedUpdate, versions: Versions, reader: TemplateReader) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The current and the target template of ``update``; GuardError saying why one cannot be read."""
    old_url, new_url = versions.template_urls.get(update.tenant.artifact_id), versions.template_urls.get(update.target.artifact_id)
    if old_url is None:
        raise GuardError(f"version {update.tenant.artifact_id} no longer exists")
    templates = [reader.get(url or "") for url in (old_url, new_url)]
    problem = next((item for item in templates if isinstance(item, Exception)), None)
    if problem is not None:
        raise GuardError(f"templates not readable: {problem}")
    return templates[0], templates[1]  # type: ignore[return-value]


class ReplacementGuard:
    """Refuses, before any update, each tenant whose update would replace or delete a stateful resource
    (``replacement_guard.replacements``) that ``allow_replacement`` does not name, or whose templates cannot be
    compared. The comparison is made once per product, current version, target and kept parameters, whatever
    the number of tenants."""

    def __init__(self, reader: TemplateReader, versions: Versions, allow_rules: Sequence[AllowRule]) -> None:
        self.reader = reader
        self.versions = versions
        self.allow_rules = allow_rules
        self.findings: Dict[Tuple[str, str, str, Tuple[str, ...]], Union[List[Finding], GuardError]] = {}
        self.refusals: List[str] = []
        self.notices: List[str] = []
        self.refused: List[TenantResult] = []
        self.refused_updates: List[PlannedUpdate] = []

    def compare(self, update: PlannedUpdate) -> Union[List[Finding], GuardError]:
        """The findings of ``update`` (shared by every tenant with the same change), or why there are none."""
        kept = tuple(key for key, _keep in update.parameters)
        key = (update.target.product, update.tenant.artifact_id, update.target.artifact_id, kept)
        if key not in self.findings:
            current = [spec.key for spec in self.versions.parameters.get(update.tenant.artifact_id, ())]
            try:
                old, new = version_templates(update, self.versions, self.reader)
                self.findings[key] = replacements(old, new, kept_parameters(current), kept_parameters(kept), self.reader.fetch)
            except (GuardError, TemplateError, AwsApiError) as exc:
                self.findings[key] = GuardError(str(exc))
        return self.findings[key]

    def apply(self, plan: RolloutPlan) -> RolloutPlan:
        """``plan`` without the refused updates, which are settled as ``refused``."""
        return self._judge(plan, self.compare, "the replacement guard cannot compare the templates", "replacement_guard=false")

    def ask_service_catalog(self, plan: RolloutPlan, asker: "PlanAsker") -> RolloutPlan:
        """``plan`` without the updates Service Catalog's own plan refuses (one provisioned product plan per tenant)."""
        return self._judge(plan, asker.findings, "Service Catalog's plan failed", "replacement_plans=false")

    def _judge(self, plan: RolloutPlan, find: Callable[[PlannedUpdate], Union[List[Finding], GuardError]], unknown: str, escape: str) -> RolloutPlan:
        allowed, refused = [], []
        for update in plan.updates:
            tenant, product = update.tenant.name, update.target.product
            findings = find(update)
            if isinstance(findings, GuardError):
                lines = [f"tenant {tenant}: {product}: {unknown} ({findings}); to roll out without it: {escape}"]
            else:
                lines = refusals(tenant, product, findings, self.allow_rules)
                self.notices.extend(notices(tenant, product, findings, self.allow_rules))
            if lines:
                self.refusals.extend(lines)
                refused.append(update.result(REFUSED, error="; ".join(lines)))
                self.refused_updates.append(update)
            else:
                allowed.append(update)
        self.refused.extend(refused)
        return RolloutPlan(allowed, plan.settled + refused)


class PlanAsker:
    """Service Catalog's own answer for one tenant: CreateProvisionedProductPlan (the update as the rollout would
    make it), DescribeProvisionedProductPlan until it is made, its ResourceChanges, DeleteProvisionedProductPlan.

    AWS keeps one plan per provisioned product, and a plan of a stack the update would not change fails with
    CloudFormation's "didn't contain changes": that is no finding. The plan is deleted whatever happened.
    """

    NO_CHANGES = "didn't contain changes"

    def __init__(self, catalog: ServiceCatalogApi, request: RolloutRequest, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.catalog = catalog
        self.policy = PollPolicy(request.poll_delay, request.poll_max_delay, request.record_timeout)
        self.clock = clock
        self.sleep = sleep

    def findings(self, update: PlannedUpdate) -> Union[List[Finding], GuardError]:
        tenant = update.tenant
        resource = f"plan of tenant {tenant.name} ({tenant.id})"
        try:
            created = self.catalog.call(
                "CreateProvisionedProductPlan", resource, PlanName=f"replacement-guard-{tenant.id}"[:128], PlanType="CLOUDFORMATION",
                ProductId=update.target.product_id, ProvisionedProductName=tenant.name, ProvisioningArtifactId=update.target.artifact_id,
                ProvisioningParameters=update.provisioning_parameters(), IdempotencyToken=uuid.uuid4().hex,
                **({"PathId": update.target.path_id} if update.target.path_id else {}),
            )
            plan_id = created["PlanId"]
            try:
                details, changes = self._made(plan_id, resource)
            finally:
                self.catalog.call("DeleteProvisionedProductPlan", resource, PlanId=plan_id, IgnoreErrors=True)
        except AwsApiError as exc:  # this tenant's plan only: the others are asked all the same
            return GuardError(str(exc))
        status, message = details.get("Status"), str(details.get("StatusMessage") or "")
        if status == "CREATE_FAILED":
            return [] if self.NO_CHANGES in message else GuardError(f"plan {plan_id}: {message or 'CREATE_FAILED'}")
        if status != "CREATE_SUCCESS":
            return GuardError(f"plan {plan_id} still {status} after {self.policy.timeout:g} s")
        return plan_findings(changes)

    def _made(self, plan_id: str, resource: str) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
        started, delay = self.clock(), self.policy.delay
        while True:
            answer, changes = self.catalog.token_pages("DescribeProvisionedProductPlan", resource, "ResourceChanges", PlanId=plan_id)
            details = answer.get("ProvisionedProductPlanDetails") or {}
            if details.get("Status") != "CREATE_IN_PROGRESS" or self.clock() - started >= self.policy.timeout:
                return details, changes
            self.sleep(delay)
            delay = min(delay * 1.5, self.policy.max_delay)


def version_changes(plan: RolloutPlan, versions: Versions, reader: TemplateReader, guard: Optional[ReplacementGuard]) -> List[Dict[str, Any]]:
    """What each (current version -> target) update changes, grouped: the tenants with the same change share one
    entry (their count, the first names), its template changes down into nested stacks, and the replacement
    guard's findings (refused tenants included)."""
    groups: Dict[Tuple[str, str, str], List[PlannedUpdate]] = {}
    refused_updates = guard.refused_updates if guard else []
    refused = {update.tenant.id for update in refused_updates}
    for update in plan.updates + refused_updates:
        groups.setdefault((update.target.product, update.tenant.artifact_id, update.target.artifact_id), []).append(update)
    changes = []
    for (product, from_artifact, to_artifact), members in sorted(groups.items()):
        names = sorted(update.tenant.name for update in members)
        first = members[0]
        entry: Dict[str, Any] = dict(product=product, from_artifact=from_artifact, from_version=first.tenant.artifact_name, to_artifact=to_artifact,
                                     to_version=first.target.version, tenants=len(members), tenant_names=names[:SHOWN_TENANTS],
                                     refused=sum(1 for update in members if update.tenant.id in refused), changes=[], replacements=[])
        try:
            old, new = version_templates(first, versions, reader)
            entry["changes"] = template_changes(old, new, reader.fetch)
        except GuardError as exc:
            entry["error"] = str(exc)
        if guard is not None:
            found = guard.compare(first)
            entry["replacements"] = [finding.describe() for finding in found] if isinstance(found, list) else []
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


def version_diff(changes: Sequence[Mapping[str, Any]], region: Optional[str]) -> Dict[str, str]:
    """Diff mode: the tenants that move, grouped by the same change (1,000 tenants stay a few lines), each group
    with what its stacks get and what the replacement guard found, as Ansible's ``prepared`` diff text."""
    lines = []
    for entry in changes:
        more = entry["tenants"] - len(entry["tenant_names"])
        names = ", ".join(entry["tenant_names"]) + (f", ... ({more} more)" if more > 0 else "")
        refused = f", {entry['refused']} refused by the replacement guard" if entry["refused"] else ""
        lines.append(f"{region}: {entry['product']} {entry['from_version'] or entry['from_artifact']} -> {entry['to_version'] or entry['to_artifact']}: "
                     f"{entry['tenants']} tenant(s){refused}: {names}")
        lines.extend(f"    {line}" for line in entry["changes"])
        lines.extend(f"    ! {line}" for line in entry["replacements"])
        if entry.get("error"):
            lines.append(f"    (changes unknown: {entry['error']})")
    return dict(prepared="\n".join(lines) + "\n" if lines else "")


def failure_message(results: Sequence[TenantResult], summary: Mapping[str, int], tolerance: FailureTolerance, region: Optional[str]) -> Optional[str]:
    """The module's failure message when a tenant failed or was refused (up to five of each named), None otherwise."""
    parts = []
    failed = [r for r in results if r.status == FAILED]
    if failed:
        stopped = f", {summary['not_started']} not started (failure tolerance {tolerance} exceeded)" if summary["not_started"] else ""
        parts.append(f"{len(failed)} of {summary['total']} tenants failed in {region}{stopped}: {_shown(failed)}")
    refused = [r for r in results if r.status == REFUSED]
    if refused:
        parts.append(f"{len(refused)} of {summary['total']} tenants refused by the replacement guard in {region}: {_shown(refused)}")
    return "; ".join(parts) or None


def _shown(results: Sequence[TenantResult]) -> str:
    return "; ".join(f"{r.product}/{r.name}: {r.error}" for r in results[:SHOWN_FAILURES]) + ("; ..." if len(results) > SHOWN_FAILURES else "")
