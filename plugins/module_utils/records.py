# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service Catalog records followed to their end: how to read one, when to poll it again, how long to wait.

A ProvisionProduct, UpdateProvisionedProduct or TerminateProvisionedProduct answers at once with a record
that stays ``CREATED``/``IN_PROGRESS``/``IN_PROGRESS_IN_ERROR`` until the CloudFormation work is done and
then ends ``SUCCEEDED`` or ``FAILED``. ``DescribeRecord`` is the only way to follow it.

* ``RecordState.from_response`` turns a DescribeRecord answer into status, error text and outputs.
* ``PollPolicy`` says when to look again: the first look after the record's expected duration (learned from
  the records that finished so far in this run, so a run of 1,000 similar updates polls once or twice each),
  then a backoff from ``delay`` by x1.5 up to ``max_delay``; a record older than ``timeout`` is given up on.
* ``wait_for_record`` follows one record (the validate phase); the rollout follows many at once with the
  same policy (``rollout.RolloutRunner``).

Pure: the calls themselves (DescribeRecord with all its output pages) are ``aws_api.ServiceCatalogApi``'s.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TERMINAL_STATUSES = frozenset((SUCCEEDED, FAILED))
STACK_ARN_OUTPUT = "CloudformationStackARN"
BACKOFF_FACTOR = 1.5
# The learned first-poll delay only looks at the latest finished records, so it follows a change of pace.
LEARNING_WINDOW = 16


class RecordTimeout(Exception):
    """A record did not reach SUCCEEDED or FAILED within the timeout."""


@dataclass(frozen=True)
class RecordState:
    record_id: str
    status: str
    record_type: str = ""
    artifact_id: str = ""
    errors: List[str] = field(default_factory=list)
    outputs: Dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def error(self) -> str:
        """The record's errors in one line ('' when it has none)."""
        return "; ".join(self.errors)

    @property
    def stack_arn(self) -> str:
        return self.outputs.get(STACK_ARN_OUTPUT, "")

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> "RecordState":
        """From a DescribeRecord answer (RecordDetail + RecordOutputs)."""
        detail = response.get("RecordDetail") or {}
        errors = []
        for item in detail.get("RecordErrors") or []:
            text = ": ".join(part for part in (item.get("Code"), item.get("Description")) if part)
            if text:
                errors.append(text)
        outputs = {str(item.get("OutputKey")): str(item.get("OutputValue", "")) for item in response.get("RecordOutputs") or [] if item.get("OutputKey")}
        return cls(
            record_id=str(detail.get("RecordId", "")),
            status=str(detail.get("Status", "")),
            record_type=str(detail.get("RecordType", "")),
            artifact_id=str(detail.get("ProvisioningArtifactId", "")),
            errors=errors,
            outputs=outputs,
        )


@dataclass
class PollPolicy:
    """When to poll a record: ``delay`` first (until records have finished), backoff up to ``max_delay``."""

    delay: float = 5.0
    max_delay: float = 60.0
    timeout: float = 3600.0
    observed: List[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.delay <= 0 or self.max_delay < self.delay or self.timeout <= 0:
            raise ValueError(
                f"poll delays must satisfy 0 < delay <= max_delay and timeout > 0, got delay={self.delay}, "
                f"max_delay={self.max_delay}, timeout={self.timeout}"
            )

    def learn(self, running_at: float, done_at: float) -> None:
        """Remember a finished record: seen still running ``running_at`` s after its start (0: never), ended by ``done_at``.

        The sample aims just below the true duration: the middle of the bracket when there is one, and one
        ``delay`` less than ``done_at`` when the first poll already found it done (it may have ended long
        before). So the first poll converges to within about one ``delay`` after the typical end: about one or
        two polls per record and an overshoot of at most ``delay``.
        """
        if running_at > 0:
            sample = (running_at + done_at) / 2.0
        else:
            sample = max(done_at - self.delay, done_at / 2.0)
        self.observed.append(sample)
        if len(self.observed) > LEARNING_WINDOW:
            del self.observed[0]

    def first_delay(self) -> float:
        """The median duration of the records finished so far, ``delay`` before any finished."""
        if not self.observed:
            return self.delay
        return max(statistics.median(self.observed), 0.01)

    def next_delay(self, previous: Optional[float]) -> float:
        """The delay after a poll that found the record still running."""
        if previous is None:
            return self.delay
        return min(max(previous * BACKOFF_FACTOR, self.delay), self.max_delay)


def wait_for_record(
    describe: Callable[[str], RecordState],
    record_id: str,
    policy: PollPolicy,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RecordState:
    """Poll ``describe(record_id)`` until the record ends; RecordTimeout after ``policy.timeout`` seconds."""
    started = clock()
    wait = policy.first_delay()
    interval: Optional[float] = None
    running_at = 0.0
    while True:
        remaining = policy.timeout - (clock() - started)
        if remaining <= 0:
            raise RecordTimeout(f"record {record_id} did not finish within {policy.timeout:g}s")
        sleep(min(wait, remaining))
        state = describe(record_id)
        if state.done:
            policy.learn(running_at, clock() - started)
            return state
        running_at = clock() - started
        interval = policy.next_delay(interval)
        wait = interval
