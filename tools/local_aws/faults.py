"""Fault settings and call counts of one local AWS process (the server, or a test process under mock_aws).

Both are plain thread-safe objects; the server exposes them on ``/_local_aws/faults`` and
``/_local_aws/calls``, the ``aws_mock`` fixture manipulates them directly.
"""
from __future__ import annotations

import random
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping


class FaultError(ValueError):
    """A fault setting that is out of range or unknown."""


@dataclass(frozen=True)
class FaultSettings:
    throttle_rate: float = 0.0
    latency_ms: float = 0.0
    fail_provisioned_products: FrozenSet[str] = frozenset()
    record_duration_s: float = 0.0
    # Logical ids of stack resources whose create or update fails (tools/local_aws/stack_updates.py).
    fail_stack_resources: FrozenSet[str] = frozenset()
    # Service Catalog quotas (AWS defaults), lowered by tests that exercise them.
    max_provisioning_artifacts: int = 100
    max_products_per_portfolio: int = 250

    def as_dict(self) -> Dict[str, Any]:
        return {
            "throttle_rate": self.throttle_rate,
            "latency_ms": self.latency_ms,
            "fail_provisioned_products": sorted(self.fail_provisioned_products),
            "record_duration_s": self.record_duration_s,
            "fail_stack_resources": sorted(self.fail_stack_resources),
            "max_provisioning_artifacts": self.max_provisioning_artifacts,
            "max_products_per_portfolio": self.max_products_per_portfolio,
        }


def parse_faults(raw: Mapping[str, Any], base: FaultSettings = FaultSettings()) -> FaultSettings:
    """``base`` with the keys of ``raw`` applied; unknown keys and out-of-range values raise FaultError."""
    unknown = set(raw) - set(FaultSettings.__dataclass_fields__)
    if unknown:
        raise FaultError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    values = base.as_dict()
    values.update(raw)
    try:
        throttle_rate = float(values["throttle_rate"])
        latency_ms = float(values["latency_ms"])
        record_duration_s = float(values["record_duration_s"])
    except (TypeError, ValueError) as exc:
        raise FaultError(f"fault settings must be numbers: {exc}") from exc
    names = _names(values, "fail_provisioned_products", "provisioned product names")
    logical_ids = _names(values, "fail_stack_resources", "logical resource ids")
    if not 0.0 <= throttle_rate <= 1.0:
        raise FaultError(f"throttle_rate must be between 0 and 1, got {throttle_rate}")
    if latency_ms < 0 or record_duration_s < 0:
        raise FaultError("latency_ms and record_duration_s must not be negative")
    quotas = {}
    for key in ("max_provisioning_artifacts", "max_products_per_portfolio"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FaultError(f"{key} must be a whole number of at least 1, got {value!r}")
        quotas[key] = value
    return FaultSettings(throttle_rate, latency_ms, names, record_duration_s, logical_ids, **quotas)


def _names(values: Mapping[str, Any], key: str, what: str) -> FrozenSet[str]:
    names = values[key]
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise FaultError(f"{key} must be a list of {what}")
    return frozenset(names)


class FaultState:
    """The current fault settings; replaced as a whole so readers never see half an update."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._random = random.Random()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, raw: Mapping[str, Any]) -> FaultSettings:
        """Apply the given keys on top of the current settings (POST semantics)."""
        with self._lock:
            self._settings = parse_faults(raw, self._settings)
            return self._settings

    def clear(self) -> None:
        with self._lock:
            self._settings = FaultSettings()

    def should_throttle(self) -> bool:
        rate = self._settings.throttle_rate
        if rate <= 0.0:
            return False
        with self._lock:
            return self._random.random() < rate


@dataclass
class CallCounter:
    """AWS calls by service and operation, and separately the ones answered with a throttling error."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _calls: Dict[str, Dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    _throttled: Dict[str, Dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count(self, service: str, operation: str, throttled: bool = False) -> None:
        with self._lock:
            self._calls[service][operation] += 1
            if throttled:
                self._throttled[service][operation] += 1

    def calls(self) -> Dict[str, Dict[str, int]]:
        with self._lock:
            return {service: dict(ops) for service, ops in self._calls.items()}

    def throttled(self) -> Dict[str, Dict[str, int]]:
        with self._lock:
            return {service: dict(ops) for service, ops in self._throttled.items()}

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._throttled.clear()


FAULTS = FaultState()
CALLS = CallCounter()
