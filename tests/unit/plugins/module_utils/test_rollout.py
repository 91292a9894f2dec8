"""The rollout's pure core: eligibility, parameters, tolerance, order and the sliding window (on a fake clock)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.multiregion.serverless.plugins.module_utils import records, rollout
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError
from ansible_collections.multiregion.serverless.plugins.module_utils.records import PollPolicy, RecordState
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import (
    FailureTolerance,
    ParameterSpec,
    PlannedUpdate,
    RolloutApi,
    RolloutError,
    RolloutRunner,
    Target,
    Tenant,
)

TARGET = Target(product="core", product_id="prod-1", artifact_id="pa-new", version="V2", source="ssm:/x")


def tenant(name: str, status: str = "AVAILABLE", artifact: str = "pa-old", tags: Optional[Dict[str, str]] = None, last_record: str = "rec-0") -> Tenant:
    return Tenant(id=f"pp-{name}", name=name, product_id="prod-1", product="core", status=status, artifact_id=artifact,
                  last_record_id=last_record, artifact_name="V1", tags=tags or {})


def planned(name: str, group: int = 0) -> PlannedUpdate:
    return PlannedUpdate(tenant=tenant(name), target=TARGET, parameters=(("TenantId", True),), group=group)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class FakeCatalog(RolloutApi):
    """Records that end ``durations[name]`` seconds after their start, FAILED for names in ``failing``."""

    def __init__(self, clock: FakeClock, durations: Dict[str, float], failing=(), refusing=(), never_ending=()) -> None:
        self.clock = clock
        self.durations = durations
        self.failing = set(failing)
        self.refusing = set(refusing)
        self.never_ending = set(never_ending)
        self.records: Dict[str, Tuple[str, float]] = {}
        self.starts: List[Tuple[float, str]] = []
        self.ends: Dict[str, float] = {}
        self.describes = 0

    def in_flight_at(self, moment: float) -> int:
        return sum(1 for start, name in self.starts if start <= moment < self.ends.get(name, float("inf")))

    def start_update(self, update: PlannedUpdate) -> str:
        name = update.tenant.name
        if name in self.refusing:
            raise AwsApiError(f"UpdateProvisionedProduct failed for {name}: InvalidParametersException: nope")
        assert update.provisioning_parameters() == [{"Key": "TenantId", "UsePreviousValue": True}]
        record_id = f"rec-{name}"
        due = float("inf") if name in self.never_ending else self.clock.now + self.durations.get(name, 1.0)
        self.records[record_id] = (name, due)
        self.starts.append((self.clock.now, name))
        if due != float("inf"):
            self.ends[name] = due
        return record_id

    def describe_record(self, record_id: str) -> RecordState:
        self.describes += 1
        name, due = self.records[record_id]
        if self.clock.now < due:
            return RecordState(record_id, "IN_PROGRESS", "UPDATE_PROVISIONED_PRODUCT", "pa-new")
        if name in self.failing:
            return RecordState(record_id, "FAILED", "UPDATE_PROVISIONED_PRODUCT", "pa-new", errors=[f"ProvisioningFailed: {name} broke"])
        return RecordState(record_id, "SUCCEEDED", "UPDATE_PROVISIONED_PRODUCT", "pa-new", outputs={"CloudformationStackARN": f"arn:stack/{name}"})


def runner(api: FakeCatalog, clock: FakeClock, max_concurrent: int = 8, tolerance: str = "0", mode: str = "continue",
           delay: float = 0.5, max_delay: float = 4.0, timeout: float = 3600.0) -> RolloutRunner:
    return RolloutRunner(api, max_concurrent, FailureTolerance.parse(tolerance), mode, PollPolicy(delay, max_delay, timeout),
                         clock=clock, sleep=clock.sleep)


def by_name(outcome: rollout.RolloutOutcome) -> Dict[str, rollout.TenantResult]:
    return {result.name: result for result in outcome.results}


# ----------------------------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    "status, artifact, expected",
    [
        ("AVAILABLE", "pa-old", "update"),
        ("AVAILABLE", "pa-new", "already_current"),
        ("UNDER_CHANGE", "pa-old", "skipped"),
        ("TAINTED", "pa-old", "skipped"),
        ("ERROR", "pa-old", "skipped"),
        ("PLAN_IN_PROGRESS", "pa-old", "skipped"),
    ],
)
def test_decide_by_status(status: str, artifact: str, expected: str) -> None:
    decision = rollout.decide(tenant("a", status=status, artifact=artifact), "pa-new")
    assert decision.action == expected
    if expected == "skipped":
        assert status in decision.reason


def test_skipped_reason_carries_the_status_message() -> None:
    decision = rollout.decide(Tenant("pp-1", "a", "prod-1", "core", "ERROR", "pa-old", status_message="stack CREATE_FAILED"), "pa-new")
    assert decision.reason == "status ERROR: stack CREATE_FAILED"


def test_tainted_by_a_failed_update_to_the_target_is_retried_other_tainted_are_not() -> None:
    ours = RecordState("rec-9", "FAILED", "UPDATE_PROVISIONED_PRODUCT", "pa-new")
    other_version = RecordState("rec-9", "FAILED", "UPDATE_PROVISIONED_PRODUCT", "pa-other")
    terminate = RecordState("rec-9", "FAILED", "TERMINATE_PROVISIONED_PRODUCT", "pa-new")
    tainted = tenant("a", status="TAINTED")
    assert rollout.decide(tainted, "pa-new", ours).action == "update"
    assert rollout.decide(tainted, "pa-new", other_version).action == "skipped"
    assert rollout.decide(tainted, "pa-new", terminate).action == "skipped"
    assert rollout.decide(tainted, "pa-new", None).action == "skipped"


# ---------------------------------------------------------------------------------------------- parameters


def test_update_parameters_keep_every_existing_value_and_let_new_ones_default() -> None:
    target = [ParameterSpec("TenantId", False), ParameterSpec("TenantTier", True), ParameterSpec("NewFlag", True)]
    assert rollout.update_parameters(target, ["TenantId", "TenantTier", "Dropped"]) == [
        {"Key": "TenantId", "UsePreviousValue": True},
        {"Key": "TenantTier", "UsePreviousValue": True},
    ]


def test_update_parameters_refuse_a_new_parameter_without_default() -> None:
    with pytest.raises(RolloutError, match="without a default: Region, Zone"):
        rollout.update_parameters([ParameterSpec("Zone", False), ParameterSpec("Region", False)], [])


def test_parameter_spec_from_the_api_shape() -> None:
    assert rollout.ParameterSpec.from_api({"ParameterKey": "A", "DefaultValue": "x"}) == ParameterSpec("A", True)
    assert rollout.ParameterSpec.from_api({"ParameterKey": "B"}) == ParameterSpec("B", False)


def test_update_token_is_stable_per_attempt_and_new_per_attempt() -> None:
    first = rollout.update_token("pp-1", "rec-1", "pa-2")
    assert first == rollout.update_token("pp-1", "rec-1", "pa-2")
    assert first != rollout.update_token("pp-1", "rec-5", "pa-2")
    assert first != rollout.update_token("pp-1", "rec-1", "pa-3")


# ------------------------------------------------------------------------------------------ tolerance/order


@pytest.mark.parametrize("value, total, allowed", [(3, 100, 3), ("3", 1, 3), ("10%", 100, 10), ("10%", 19, 1), ("10%", 9, 0), ("0", 5, 0), ("100%", 7, 7)])
def test_failure_tolerance(value, total: int, allowed: int) -> None:
    assert FailureTolerance.parse(value).allowed(total) == allowed


@pytest.mark.parametrize("value", ["-1", "ten", "101%", "", "5.5", True, None])
def test_failure_tolerance_refuses(value) -> None:
    with pytest.raises(RolloutError):
        FailureTolerance.parse(value)


def test_order_groups_take_selectors_first_then_the_rest_by_name() -> None:
    tenants = [
        tenant("zeta"),
        tenant("canary-2"),
        tenant("alpha", tags={"ring": "early"}),
        tenant("canary-1", tags={"ring": "early"}),
        tenant("beta"),
    ]
    groups = rollout.order_groups(tenants, ["canary-*", "tag:ring=ear*"])
    assert [[t.name for t in group] for group in groups] == [["canary-1", "canary-2"], ["alpha"], ["beta", "zeta"]]


def test_order_groups_drop_empty_groups_and_refuse_bad_selectors() -> None:
    assert [[t.name for t in g] for g in rollout.order_groups([tenant("b"), tenant("a")], ["nobody-*"])] == [["a", "b"]]
    with pytest.raises(RolloutError):
        rollout.order_groups([], ["tag:novalue"])
    with pytest.raises(RolloutError):
        rollout.order_groups([], [""])


# -------------------------------------------------------------------------------------------------- plan


def test_plan_sorts_tenants_into_updates_and_settled_results() -> None:
    tenants = [
        tenant("current", artifact="pa-new"),
        tenant("busy", status="UNDER_CHANGE"),
        tenant("retry", status="TAINTED", last_record="rec-r"),
        tenant("plain"),
        tenant("canary"),
        tenant("from-deleted", artifact="pa-gone"),
        Tenant("pp-x", "other-product", "prod-9", "other", "AVAILABLE", "pa-old"),
    ]
    parameters = {"pa-new": [ParameterSpec("TenantId", False)], "pa-old": [ParameterSpec("TenantId", False)]}
    last = {"pp-retry": RecordState("rec-r", "FAILED", "UPDATE_PROVISIONED_PRODUCT", "pa-new")}
    plan = rollout.plan_rollout(tenants, {"prod-1": TARGET}, parameters, last, order=["canary"])
    assert [(u.tenant.name, u.group) for u in plan.updates] == [("canary", 0), ("from-deleted", 1), ("plain", 1), ("retry", 1)]
    settled = {r.name: (r.status, r.reason) for r in plan.settled}
    assert settled == {"current": ("already_current", ""), "busy": ("skipped", "status UNDER_CHANGE")}
    assert all(u.provisioning_parameters() == [{"Key": "TenantId", "UsePreviousValue": True}] for u in plan.updates)
    assert rollout.artifacts_to_describe(tenants, {"prod-1": TARGET}) == [("prod-1", "pa-gone"), ("prod-1", "pa-new"), ("prod-1", "pa-old")]
    assert [t.name for t in rollout.tainted_tenants(tenants)] == ["retry"]


def test_plan_fails_a_tenant_whose_target_adds_a_required_parameter() -> None:
    parameters = {"pa-new": [ParameterSpec("TenantId", False), ParameterSpec("Owner", False)], "pa-old": [ParameterSpec("TenantId", False)]}
    plan = rollout.plan_rollout([tenant("a")], {"prod-1": TARGET}, parameters, {})
    assert plan.updates == []
    assert plan.settled[0].status == "failed" and "Owner" in plan.settled[0].error


# ------------------------------------------------------------------------------------------- the window


def test_sliding_window_starts_the_next_update_when_any_slot_frees() -> None:
    clock = FakeClock()
    api = FakeCatalog(clock, {"a": 10, "b": 1, "c": 1, "d": 1})
    outcome = runner(api, clock, max_concurrent=2).run([planned(n) for n in "abcd"])
    starts = dict((name, at) for at, name in api.starts)
    # With batches of 2, c and d would wait for a (10 s); the window starts them as b and c finish.
    assert starts["c"] < 10 and starts["d"] < 10
    assert outcome.peak_in_flight == 2
    assert max(api.in_flight_at(at) for at, name in api.starts) <= 2
    assert {r.status for r in outcome.results} == {"updated"}
    assert by_name(outcome)["a"].stack_arn == "arn:stack/a"


def test_wall_time_stays_near_the_ideal_and_polls_stay_near_one_per_tenant() -> None:
    clock = FakeClock()
    names = [f"t{i:03d}" for i in range(200)]
    api = FakeCatalog(clock, {name: 30.0 for name in names})
    outcome = runner(api, clock, max_concurrent=8, delay=5, max_delay=60).run([planned(n) for n in names])
    ideal = len(names) * 30.0 / 8
    assert clock.now <= 1.2 * ideal
    assert outcome.polls / len(names) <= 2.0
    assert outcome.peak_in_flight == 8


def test_a_failed_tenant_never_stops_the_others_within_the_tolerance() -> None:
    clock = FakeClock()
    names = [f"t{i}" for i in range(10)]
    api = FakeCatalog(clock, {}, failing={"t1", "t4"}, refusing={"t7"})
    outcome = runner(api, clock, max_concurrent=3, tolerance="3", mode="stop").run([planned(n) for n in names])
    results = by_name(outcome)
    assert {n for n, r in results.items() if r.status == "failed"} == {"t1", "t4", "t7"}
    assert results["t1"].error == "ProvisioningFailed: t1 broke" and results["t1"].record_id == "rec-t1"
    assert "InvalidParametersException" in results["t7"].error and results["t7"].record_id == ""
    assert sum(r.status == "updated" for r in outcome.results) == 7
    assert not outcome.tolerance_exceeded and not outcome.stopped


def test_mode_stop_lets_in_flight_finish_and_starts_nothing_new() -> None:
    clock = FakeClock()
    names = [f"t{i}" for i in range(10)]
    durations = {name: 1.0 for name in names}
    durations["t0"] = 0.5  # fails first, while t1 and t2 are still in flight
    api = FakeCatalog(clock, durations, failing={"t0"})
    outcome = runner(api, clock, max_concurrent=3, tolerance="0", mode="stop").run([planned(n) for n in names])
    statuses = {r.name: r.status for r in outcome.results}
    assert statuses["t0"] == "failed"
    assert statuses["t1"] == statuses["t2"] == "updated"  # were in flight: they finish
    assert {statuses[n] for n in names[3:]} == {"not_started"}
    assert {name for at, name in api.starts} == {"t0", "t1", "t2"}
    assert outcome.tolerance_exceeded and outcome.stopped
    assert "tolerance 0 exceeded" in by_name(outcome)["t9"].reason


def test_mode_continue_reports_the_exceeded_tolerance_and_goes_on() -> None:
    clock = FakeClock()
    names = [f"t{i}" for i in range(10)]
    api = FakeCatalog(clock, {}, failing={"t0", "t1", "t2"})
    outcome = runner(api, clock, max_concurrent=3, tolerance="10%", mode="continue").run([planned(n) for n in names])
    assert outcome.tolerance_exceeded and not outcome.stopped and outcome.allowed_failures == 1
    assert sum(r.status == "updated" for r in outcome.results) == 7
    assert not any(r.status == "not_started" for r in outcome.results)


def test_order_groups_run_one_after_the_other_and_a_failed_canary_stops_the_rest() -> None:
    clock = FakeClock()
    api = FakeCatalog(clock, {"canary": 5.0}, failing={"canary"})
    updates = [planned("canary", group=0)] + [planned(f"t{i}", group=1) for i in range(4)]
    outcome = runner(api, clock, max_concurrent=8, tolerance="0", mode="stop").run(updates)
    assert [name for at, name in api.starts] == ["canary"]
    assert sorted(r.status for r in outcome.results) == ["failed"] + ["not_started"] * 4

    clock = FakeClock()
    api = FakeCatalog(clock, {"canary": 5.0})
    outcome = runner(api, clock, max_concurrent=8).run(updates)
    starts = {name: at for at, name in api.starts}
    assert all(starts[f"t{i}"] >= 5.0 for i in range(4))  # after the canary ended
    assert {r.status for r in outcome.results} == {"updated"}


def test_a_record_that_never_ends_is_given_up_after_the_timeout() -> None:
    clock = FakeClock()
    api = FakeCatalog(clock, {}, never_ending={"stuck"})
    outcome = runner(api, clock, max_concurrent=2, timeout=30).run([planned("stuck"), planned("ok")])
    stuck = by_name(outcome)["stuck"]
    assert stuck.status == "failed" and "gave up after 30s" in stuck.error and "still IN_PROGRESS" in stuck.error
    assert 30 <= stuck.duration < 35
    assert by_name(outcome)["ok"].status == "updated"


def test_runner_refuses_bad_settings() -> None:
    clock = FakeClock()
    with pytest.raises(RolloutError):
        runner(FakeCatalog(clock, {}), clock, max_concurrent=0)
    with pytest.raises(RolloutError):
        runner(FakeCatalog(clock, {}), clock, mode="sometimes")
    with pytest.raises(ValueError):
        PollPolicy(delay=0)


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.floats(min_value=0.1, max_value=50), min_size=1, max_size=40),
    failing=st.sets(st.integers(min_value=0, max_value=39), max_size=10),
    max_concurrent=st.integers(min_value=1, max_value=10),
    tolerance=st.integers(min_value=0, max_value=5),
    mode=st.sampled_from(["stop", "continue"]),
)
def test_window_invariants(durations, failing, max_concurrent, tolerance, mode) -> None:
    clock = FakeClock()
    names = [f"t{i:02d}" for i in range(len(durations))]
    failing_names = {names[i] for i in failing if i < len(names)}
    api = FakeCatalog(clock, dict(zip(names, durations)), failing=failing_names)
    outcome = runner(api, clock, max_concurrent=max_concurrent, tolerance=str(tolerance), mode=mode).run([planned(n) for n in names])
    assert sorted(r.name for r in outcome.results) == names  # every tenant reported exactly once
    assert max(api.in_flight_at(at) for at, name in api.starts) <= max_concurrent
    failed = [r for r in outcome.results if r.status == "failed"]
    assert outcome.tolerance_exceeded == (len(failed) > tolerance)
    if mode == "continue" or not outcome.tolerance_exceeded:
        assert not any(r.status == "not_started" for r in outcome.results)
    else:
        # nothing started after the poll that saw the failure exceeding the tolerance
        started = {name: at for at, name in api.starts}
        ends = sorted(started[r.name] + r.duration for r in failed)
        assert all(at <= ends[tolerance] for at, name in api.starts)


# -------------------------------------------------------------------------------------------- check mode


# ---------------------------------------------------------------------------------------------- records


def test_record_state_from_a_describe_record_answer() -> None:
    state = RecordState.from_response(
        {
            "RecordDetail": {"RecordId": "rec-1", "Status": "FAILED", "RecordType": "UPDATE_PROVISIONED_PRODUCT",
                             "ProvisioningArtifactId": "pa-2", "RecordErrors": [{"Code": "ProvisioningFailed", "Description": "boom"}, {}]},
            "RecordOutputs": [{"OutputKey": "CloudformationStackARN", "OutputValue": "arn:x"}, {"OutputKey": "Url", "OutputValue": "https://u"}],
        }
    )
    assert state.done and not state.succeeded
    assert state.error == "ProvisioningFailed: boom"
    assert state.stack_arn == "arn:x" and state.outputs["Url"] == "https://u"
    assert not RecordState.from_response({"RecordDetail": {"Status": "IN_PROGRESS_IN_ERROR"}}).done


def test_poll_policy_backs_off_to_the_cap_and_learns_the_first_delay() -> None:
    policy = PollPolicy(delay=2, max_delay=5, timeout=60)
    assert policy.first_delay() == 2
    assert [policy.next_delay(None), policy.next_delay(2), policy.next_delay(3), policy.next_delay(4.5)] == [2, 3, 4.5, 5]
    policy.learn(8, 12)  # seen running at 8 s, done at 12 s: about 10
    policy.learn(0, 13)  # done at the first poll: at most 13, aim one delay lower
    policy.learn(10, 14)
    assert policy.first_delay() == 11


def test_wait_for_record_follows_one_record_and_times_out() -> None:
    clock = FakeClock()
    answers = iter(["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])
    state = records.wait_for_record(lambda rid: RecordState(rid, next(answers)), "rec-1", PollPolicy(1, 4, 60), clock, clock.sleep)
    assert state.succeeded and clock.now == pytest.approx(1 + 1 + 1.5)

    clock = FakeClock()
    with pytest.raises(records.RecordTimeout, match="rec-2 did not finish within 10s"):
        records.wait_for_record(lambda rid: RecordState(rid, "IN_PROGRESS"), "rec-2", PollPolicy(1, 4, 10), clock, clock.sleep)
    assert clock.now == pytest.approx(10)
