# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling a product version out to its provisioned products (tenants), pure: who, in which order, how many at once.

* ``Tenant.from_search_row`` reads one SearchProvisionedProducts row.
* ``decide`` says per tenant: ``update``, ``already_current`` or ``skipped`` (UNDER_CHANGE, TAINTED, ERROR,
  PLAN_IN_PROGRESS: not touched, with the reason). A TAINTED tenant whose last record is a failed update to the
  target itself is what an earlier attempt of this rollout left behind; it is updated again, so a re-run after a
  partial failure finishes the job.
* ``update_parameters`` keeps every parameter with ``UsePreviousValue=true``; a parameter the target adds and
  the tenant never had takes the target's default, and one without a default fails that tenant before any call.
* ``FailureTolerance`` (``3`` or ``10%``), ``order_groups`` (name globs and ``tag:Key=Value`` selectors first,
  the rest by name) and ``RolloutRunner``, the sliding window: at most ``max_concurrent`` records in flight, a
  new update starts as soon as any finishes (no batch barrier), records are polled in rounds (``records.PollPolicy``);
  once failures exceed the tolerance, ``mode=stop`` starts nothing new (in-flight ones finish, the rest are
  ``not_started``) and ``mode=continue`` only reports it. With ``order``, each group starts once the previous
  group has finished, so a canary group's failure stops the rest before they start.

The runner calls AWS only through the ``RolloutApi`` it is handed, so it runs the same against boto3 and
against the fakes of the unit tests (with a fake clock). The walk that feeds it (targets, tenants, versions,
plan, run, summary) is ``rollout_service.py``'s.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import latest_id_parameter
from ansible_collections.multiregion.serverless.plugins.module_utils.portfolio import LaunchPathError, launch_path_id
from ansible_collections.multiregion.serverless.plugins.module_utils.records import FAILED as RECORD_FAILED
from ansible_collections.multiregion.serverless.plugins.module_utils.records import PollPolicy, RecordState
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout_options import FailureTolerance, RolloutError, Selector  # noqa: F401 (re-exported)
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import OwnershipError, ProductDirectory

# Per-tenant outcomes. ``updated``/``already_current``/``failed`` are what the run ledger counts.
UPDATED = "updated"
ALREADY_CURRENT = "already_current"
FAILED = "failed"
SKIPPED = "skipped"
NOT_STARTED = "not_started"
WOULD_UPDATE = "would_update"
# The replacement guard refused the update (it would replace or delete a stateful resource): no update started.
REFUSED = "refused"
STATUSES = (UPDATED, ALREADY_CURRENT, FAILED, SKIPPED, NOT_STARTED, WOULD_UPDATE, REFUSED)

UPDATE = "update"
MODES = ("continue", "stop")
# Provisioned product states the rollout leaves alone (AVAILABLE is the only one it updates unasked).
UNSAFE_STATES = ("UNDER_CHANGE", "TAINTED", "ERROR", "PLAN_IN_PROGRESS")
UPDATE_RECORD_TYPE = "UPDATE_PROVISIONED_PRODUCT"
_TOKEN_NAMESPACE = uuid.UUID("5b1c0e2a-8a53-4b7e-9b8e-6a0f0d3c2a11")


# ---------------------------------------------------------------------------------------------- tenants


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    product_id: str
    product: str
    status: str
    artifact_id: str
    last_record_id: str = ""
    status_message: str = ""
    artifact_name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_search_row(cls, row: Mapping[str, Any], product: str) -> "Tenant":
        return cls(
            id=str(row.get("Id", "")),
            name=str(row.get("Name", "")),
            product_id=str(row.get("ProductId", "")),
            product=product,
            status=str(row.get("Status", "")),
            artifact_id=str(row.get("ProvisioningArtifactId", "")),
            last_record_id=str(row.get("LastRecordId", "")),
            status_message=str(row.get("StatusMessage", "") or ""),
            artifact_name=str(row.get("ProvisioningArtifactName", "") or ""),
            tags={str(tag.get("Key")): str(tag.get("Value", "")) for tag in row.get("Tags") or []},
        )


@dataclass(frozen=True)
class TargetOptions:
    """Where a product's target version comes from: the options ``stage``, ``ssm_prefix``, ``ssm_parameter`` and
    ``target_version`` of the rollout and the validation (arg_specs.STAGE_ARG_SPEC, TARGET_ARG_SPEC)."""

    stage: Optional[str] = None
    ssm_prefix: Optional[str] = None
    ssm_parameter: Optional[str] = None
    target_version: Optional[str] = None
    portfolio: Optional[Mapping[str, Any]] = None  # the stage's portfolio: with several launch paths, the one through it


@dataclass(frozen=True)
class Target:
    """The version a product's tenants go to."""

    product: str
    product_id: str
    artifact_id: str
    version: str
    source: str  # where the target came from: "ssm:<parameter>", "target_version" or PENDING_SOURCE
    path_id: Optional[str] = None  # the launch path every update and provisioning names (portfolio.launch_path_id)
    path_problem: Optional[str] = None  # why there is none: refused only once an update or a provisioning needs one


@dataclass(frozen=True)
class Decision:
    action: str  # update | already_current | skipped
    reason: str = ""


def decide(tenant: Tenant, target_artifact_id: str, last_record: Optional[RecordState] = None) -> Decision:
    """What the rollout does with ``tenant``. ``last_record`` is only needed (and only read) for TAINTED tenants."""
    if tenant.status == "TAINTED" and last_record is not None and is_failed_update_to(last_record, target_artifact_id):
        return Decision(UPDATE, f"retrying the failed update to {target_artifact_id} (record {last_record.record_id})")
    if tenant.status in UNSAFE_STATES:
        detail = f": {tenant.status_message}" if tenant.status_message else ""
        return Decision(SKIPPED, f"status {tenant.status}{detail}")
    if tenant.status != "AVAILABLE":
        return Decision(SKIPPED, f"status {tenant.status or 'unknown'}")
    if tenant.artifact_id == target_artifact_id:
        return Decision(ALREADY_CURRENT, "")
    return Decision(UPDATE, "")


def is_failed_update_to(record: RecordState, target_artifact_id: str) -> bool:
    return record.status == RECORD_FAILED and record.record_type == UPDATE_RECORD_TYPE and record.artifact_id == target_artifact_id


def resolve_version(summaries: Sequence[Mapping[str, Any]], wanted: str, product: str) -> Tuple[str, str]:
    """(artifact id, name) of ``wanted``, an artifact id (``pa-...``) or a version name (``V12``) of ``product``.

    ``summaries`` are DescribeProductAsAdmin's ProvisioningArtifactSummaries; a name that repeats resolves to
    the newest artifact carrying it, as Service Catalog does.
    """
    for summary in summaries:
        if summary.get("Id") == wanted:
            return str(summary["Id"]), str(summary.get("Name") or "")
    named = [summary for summary in summaries if summary.get("Name") == wanted]
    if named:
        newest = max(named, key=lambda summary: str(summary.get("CreatedTime") or ""))
        return str(newest["Id"]), wanted
    known = ", ".join(f"{s.get('Name')} ({s.get('Id')})" for s in summaries) or "none"
    raise RolloutError(f"product {product} has no version {wanted!r} (versions: {known})")


PENDING_SOURCE = "this run's catalog step (check mode: not created yet)"


def pending_artifact_id(version: str) -> str:
    """The stand-in id of a version the catalog step of a check run would create (it has no id yet)."""
    return f"(new {version})"


def resolve_target(
    directory: ProductDirectory, read_parameter: Callable[[str], str], wanted: str, options: TargetOptions, pending: Optional[str] = None
) -> Optional[Target]:
    """The Target of product ``wanted`` (a name or ``prod-`` id): ``options.target_version``, else the id in SSM
    (``options.ssm_parameter``, else the one named after ``options.ssm_prefix``).

    ``directory`` finds the product; ``read_parameter`` reads an SSM value (``aws_api.SsmApi.read_value``). With
    ``options.stage``, a product that stage does not own is refused (stage_ownership.py).

    ``pending`` is the name of the version the catalog step of this check run would create: when the product
    does not have it yet, it is the target (with ``pending_artifact_id``), and a product that does not exist yet
    has no tenants (None).
    """
    target_version, parameter, ssm_prefix = options.target_version, options.ssm_parameter, options.ssm_prefix
    try:
        answer = directory.describe(wanted, options.stage)
    except OwnershipError as exc:
        raise RolloutError(str(exc)) from None
    if answer is None:
        if pending:
            return None
        raise RolloutError(f"product {wanted} does not exist in {directory.region}")
    summary = answer["ProductViewDetail"]["ProductViewSummary"]
    product_id, name = summary["ProductId"], summary["Name"]
    versions = answer.get("ProvisioningArtifactSummaries") or []
    path_id, path_problem = None, None
    try:
        path_id = launch_path_id(directory.api, product_id, name, (options.portfolio or {}).get("name"))
    except LaunchPathError as exc:
        path_problem = str(exc)  # a product without tenants to update needs no launch path
    if pending and not target_version and all(summary.get("Name") != pending for summary in versions):
        return Target(product=name, product_id=product_id, artifact_id=pending_artifact_id(pending), version=pending, source=PENDING_SOURCE,
                      path_id=path_id, path_problem=path_problem)
    if target_version:
        artifact_id, version = resolve_version(versions, target_version, name)
        return Target(product=name, product_id=product_id, artifact_id=artifact_id, version=version, source="target_version", path_id=path_id,
                      path_problem=path_problem)
    if not parameter:
        if not ssm_prefix:
            raise RolloutError("the target needs target_version, ssm_parameter or ssm_prefix")
        parameter = latest_id_parameter(ssm_prefix, name)
    value = read_parameter(parameter).strip()
    try:
        artifact_id, version = resolve_version(versions, value, name)
    except RolloutError as exc:
        raise RolloutError(f"SSM parameter {parameter} names {value!r}, which is not a version of product {name}: {exc}") from exc
    return Target(product=name, product_id=product_id, artifact_id=artifact_id, version=version, source=f"ssm:{parameter}", path_id=path_id,
                  path_problem=path_problem)


# ------------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParameterSpec:
    key: str
    has_default: bool

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> "ParameterSpec":
        """From a ProvisioningArtifactParameter (DescribeProvisioningArtifact / DescribeProvisioningParameters)."""
        return cls(key=str(item["ParameterKey"]), has_default="DefaultValue" in item)

    @classmethod
    def of_template(cls, template: Mapping[str, Any]) -> List["ParameterSpec"]:
        """A template's own parameters (what Service Catalog would list for a version made from it)."""
        declared = template.get("Parameters") or {}
        return [cls(key=str(key), has_default=isinstance(spec, dict) and "Default" in spec) for key, spec in declared.items()]


def update_parameters(target: Sequence[ParameterSpec], current_keys: Iterable[str]) -> List[Dict[str, Any]]:
    """ProvisioningParameters that keep every value: ``UsePreviousValue`` for each key the tenant already has.

    A key the target version adds is left out so it takes its default; RolloutError when it has none (the
    update would fail on AWS after a round trip, this says which parameter before any call).
    """
    have = set(current_keys)
    missing = [spec.key for spec in target if spec.key not in have and not spec.has_default]
    if missing:
        raise RolloutError(f"the target version adds parameter(s) without a default: {', '.join(sorted(missing))}")
    return [{"Key": spec.key, "UsePreviousValue": True} for spec in target if spec.key in have]


def update_token(tenant_id: str, last_record_id: str, target_artifact_id: str) -> str:
    """The UpdateToken: the same for retries of one call (no double update), new for each new attempt."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, f"{tenant_id}/{last_record_id}/{target_artifact_id}"))


# ---------------------------------------------------------------------------------- tolerance and order


def order_groups(tenants: Iterable[Tenant], order: Sequence[str]) -> List[List[Tenant]]:
    """Tenants grouped by the first selector they match, in selector order, the rest last; each group by name.

    Empty groups are dropped; with no selectors there is one group.
    """
    selectors = [Selector.parse(text) for text in order]
    groups: List[List[Tenant]] = [[] for _index in range(len(selectors) + 1)]
    for tenant in tenants:
        index = next((i for i, selector in enumerate(selectors) if selector.matches(tenant)), len(selectors))
        groups[index].append(tenant)
    return [sorted(group, key=lambda t: (t.name, t.product, t.id)) for group in groups if group]


# ------------------------------------------------------------------------------------------------ results


@dataclass
class TenantResult:
    name: str
    id: str
    product: str
    from_artifact: str
    to_artifact: str
    status: str
    from_version: str = ""
    to_version: str = ""
    record_id: str = ""
    stack_arn: str = ""
    duration: float = 0.0
    error: str = ""
    reason: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "product": self.product,
            "from_artifact": self.from_artifact,
            "from_version": self.from_version,
            "to_artifact": self.to_artifact,
            "to_version": self.to_version,
            "record_id": self.record_id,
            "stack_arn": self.stack_arn,
            "status": self.status,
            "duration": round(self.duration, 3),
            "error": self.error,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PlannedUpdate:
    tenant: Tenant
    target: Target
    parameters: Tuple[Tuple[str, bool], ...]  # (key, use previous value): hashable, turned into the API list on start
    group: int = 0
    reason: str = ""

    def provisioning_parameters(self) -> List[Dict[str, Any]]:
        return [{"Key": key, "UsePreviousValue": keep} for key, keep in self.parameters]

    def result(self, status: str, **values: Any) -> TenantResult:
        return TenantResult(
            name=self.tenant.name,
            id=self.tenant.id,
            product=self.tenant.product,
            from_artifact=self.tenant.artifact_id,
            from_version=self.tenant.artifact_name,
            to_artifact=self.target.artifact_id,
            to_version=self.target.version,
            status=status,
            reason=values.pop("reason", self.reason),
            **values,
        )


def summarize(results: Iterable[TenantResult]) -> Dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    counts["total"] = sum(counts[status] for status in STATUSES)
    return counts


# ------------------------------------------------------------------------------------------------- runner


class RolloutApi:
    """What the runner needs from AWS; both raise AwsApiError with a one-line reason."""

    def start_update(self, update: PlannedUpdate) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def describe_record(self, record_id: str) -> RecordState:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class _InFlight:
    update: PlannedUpdate
    record_id: str
    started: float
    next_poll: float
    interval: Optional[float] = None
    running_at: float = 0.0  # seconds after the start at which a poll last saw it still running


@dataclass
class RolloutOutcome:
    results: List[TenantResult]
    tolerance_exceeded: bool
    stopped: bool
    allowed_failures: int
    peak_in_flight: int
    polls: int


class RolloutRunner:
    """The sliding window over ``groups`` (lists of PlannedUpdate, in order)."""

    def __init__(
        self,
        api: RolloutApi,
        max_concurrent: int,
        tolerance: FailureTolerance,
        mode: str,
        policy: PollPolicy,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        if max_concurrent < 1:
            raise RolloutError(f"max_concurrent must be 1 or more, got {max_concurrent}")
        if mode not in MODES:
            raise RolloutError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.api = api
        self.max_concurrent = max_concurrent
        self.tolerance = tolerance
        self.mode = mode
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.progress = progress

    def run(self, updates: Sequence[PlannedUpdate]) -> RolloutOutcome:
        pending: Deque[PlannedUpdate] = deque(sorted(updates, key=lambda u: u.group))
        unfinished_per_group: Dict[int, int] = {}
        for update in pending:
            unfinished_per_group[update.group] = unfinished_per_group.get(update.group, 0) + 1
        total = len(pending)
        allowed = self.tolerance.allowed(total)
        in_flight: Dict[str, _InFlight] = {}
        results: List[TenantResult] = []
        failures = 0
        exceeded = stopped = False
        peak = polls = 0

        def finish(result: TenantResult, group: int) -> None:
            nonlocal failures, exceeded, stopped
            results.append(result)
            unfinished_per_group[group] -= 1
            if result.status == FAILED:
                failures += 1
                if failures > allowed and not exceeded:
                    exceeded = True
                    stopped = self.mode == "stop"
                    self.progress(
                        f"failure tolerance {self.tolerance} exceeded ({failures} failed, {allowed} allowed of {total}): "
                        + ("no new update starts" if stopped else "continuing (mode=continue)")
                    )
            done = len(results)
            self.progress(
                f"[{done}/{total}] {result.product} {result.name} ({result.id}): {result.status}"
                + (f" in {result.duration:.1f}s" if result.record_id else "")
                + (f": {result.error}" if result.error else "")
            )

        while True:
            # Fill the window: the next update starts as soon as a slot is free and its group may start.
            while pending and not stopped and len(in_flight) < self.max_concurrent:
                update = pending[0]
                if any(count > 0 for group, count in unfinished_per_group.items() if group < update.group):
                    break  # an earlier order group is still running
                pending.popleft()
                before = self.clock()
                try:
                    record_id = self.api.start_update(update)
                except AwsApiError as exc:
                    finish(update.result(FAILED, error=str(exc), duration=self.clock() - before), update.group)
                    continue
                # Timed from the answer: the record is due record-duration after AWS received the call.
                started = self.clock()
                in_flight[record_id] = _InFlight(update, record_id, started, started + self.policy.first_delay())
                peak = max(peak, len(in_flight))
            if not in_flight:
                break
            wake = min(flight.next_poll for flight in in_flight.values())
            now = self.clock()
            if wake > now:
                self.sleep(wake - now)
            now = self.clock()
            for flight in sorted((f for f in in_flight.values() if f.next_poll <= now), key=lambda f: f.next_poll):
                polls += 1
                try:
                    state = self.api.describe_record(flight.record_id)
                except AwsApiError as exc:
                    state = None
                    error = str(exc)
                seen = self.clock()
                elapsed = seen - flight.started
                if state is not None and state.done:
                    del in_flight[flight.record_id]
                    self.policy.learn(flight.running_at, elapsed)
                    status = UPDATED if state.succeeded else FAILED
                    error = "" if state.succeeded else (state.error or f"record {flight.record_id} ended {state.status}")
                    finish(
                        flight.update.result(status, record_id=flight.record_id, stack_arn=state.stack_arn, duration=elapsed, error=error),
                        flight.update.group,
                    )
                    continue
                if elapsed >= self.policy.timeout:
                    del in_flight[flight.record_id]
                    last = f" (last error reading it: {error})" if state is None else f" (still {state.status})"
                    finish(
                        flight.update.result(
                            FAILED,
                            record_id=flight.record_id,
                            duration=elapsed,
                            error=f"gave up after {self.policy.timeout:g}s waiting for record {flight.record_id}{last}",
                        ),
                        flight.update.group,
                    )
                    continue
                if state is not None:
                    flight.running_at = elapsed
                flight.interval = self.policy.next_delay(flight.interval)
                flight.next_poll = min(seen + flight.interval, flight.started + self.policy.timeout)

        for update in pending:
            results.append(update.result(NOT_STARTED, reason=f"not started: failure tolerance {self.tolerance} exceeded (mode=stop)"))
        return RolloutOutcome(results, exceeded, stopped, allowed, peak, polls)


class CatalogRolloutApi(RolloutApi):
    """The runner's AWS side: UpdateProvisionedProduct and DescribeRecord through an ``aws_api.ServiceCatalogApi``."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog

    def start_update(self, update: PlannedUpdate) -> str:
        tenant = update.tenant
        return self.catalog.record_of(
            "UpdateProvisionedProduct",
            f"provisioned product {tenant.name} ({tenant.id})",
            ProvisionedProductId=tenant.id,
            ProductId=update.target.product_id,
            ProvisioningArtifactId=update.target.artifact_id,
            **({"PathId": update.target.path_id} if update.target.path_id else {}),
            ProvisioningParameters=update.provisioning_parameters(),
            UpdateToken=update_token(tenant.id, tenant.last_record_id, update.target.artifact_id),
        )

    def describe_record(self, record_id: str) -> RecordState:
        return self.catalog.describe_record(record_id)


# ------------------------------------------------------------------------------------------------- planning


@dataclass
class RolloutPlan:
    updates: List[PlannedUpdate]
    settled: List[TenantResult]  # already current, skipped, or refused before any call


def artifacts_to_describe(tenants: Iterable[Tenant], targets: Mapping[str, Target]) -> List[Tuple[str, str]]:
    """(product id, artifact id) whose parameters the plan needs: every target, and every version a tenant
    would be updated from (one call per version, never per tenant)."""
    wanted = {(target.product_id, target.artifact_id) for target in targets.values()}
    for tenant in tenants:
        target = targets.get(tenant.product_id)
        if target is not None and tenant.artifact_id and tenant.artifact_id != target.artifact_id:
            wanted.add((tenant.product_id, tenant.artifact_id))
    return sorted(wanted)


def tainted_tenants(tenants: Iterable[Tenant]) -> List[Tenant]:
    """TAINTED tenants: their last record says whether an earlier attempt of this rollout left them so."""
    return [tenant for tenant in tenants if tenant.status == "TAINTED" and tenant.last_record_id]


def plan_rollout(
    tenants: Iterable[Tenant],
    targets: Mapping[str, Target],
    parameters: Mapping[str, Sequence[ParameterSpec]],
    last_records: Mapping[str, RecordState],
    order: Sequence[str] = (),
) -> RolloutPlan:
    """Who is updated (in order groups), who is already current or skipped, and with which parameters.

    ``targets`` by product id; ``parameters`` by artifact id (a version missing there, e.g. deleted, is taken to
    have the target's keys); ``last_records`` by tenant id (read for TAINTED tenants only).
    """
    settled: List[TenantResult] = []
    to_update: List[Tuple[Tenant, Target, Decision]] = []
    for tenant in tenants:
        target = targets.get(tenant.product_id)
        if target is None:
            continue
        decision = decide(tenant, target.artifact_id, last_records.get(tenant.id))
        if decision.action != UPDATE:
            settled.append(_settled(tenant, target, decision.action, reason=decision.reason))
        else:
            to_update.append((tenant, target, decision))
    by_tenant = {tenant.id: (target, decision) for tenant, target, decision in to_update}
    updates: List[PlannedUpdate] = []
    for group_index, group in enumerate(order_groups([planned[0] for planned in to_update], order)):
        for tenant in group:
            target, decision = by_tenant[tenant.id]
            target_specs = parameters.get(target.artifact_id, ())
            current = parameters.get(tenant.artifact_id)
            current_keys = [spec.key for spec in (current if current is not None else target_specs)]
            try:
                keep = update_parameters(target_specs, current_keys)
            except RolloutError as exc:
                settled.append(_settled(tenant, target, FAILED, error=str(exc)))
                continue
            updates.append(
                PlannedUpdate(
                    tenant=tenant,
                    target=target,
                    parameters=tuple((item["Key"], True) for item in keep),
                    group=group_index,
                    reason=decision.reason,
                )
            )
    return RolloutPlan(updates, settled)


def _settled(tenant: Tenant, target: Target, status: str, **values: Any) -> TenantResult:
    return PlannedUpdate(tenant=tenant, target=target, parameters=()).result(status, **values)
