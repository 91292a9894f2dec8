# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout's options as values, without AWS: ``FailureTolerance`` (``3`` or ``10%``) and ``Selector`` (a name
glob or ``tag:Key=Value`` of ``order``). The deploy playbook's input check (``run_inputs``) parses them up front
with the same code the rollout uses, without importing the AWS layer.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

_TOLERANCE = re.compile(r"^\s*(\d+)\s*(%?)\s*$")
_TAG_SELECTOR = re.compile(r"^tag:(?P<key>[^=]+)=(?P<value>.*)$")


class RolloutError(ValueError):
    """An option the rollout refuses before any AWS call."""


@dataclass(frozen=True)
class FailureTolerance:
    """How many failed tenants a rollout accepts before it stops starting new updates (StackSets semantics)."""

    count: Optional[int] = None
    percent: Optional[int] = None

    @classmethod
    def parse(cls, value: Any) -> "FailureTolerance":
        match = _TOLERANCE.match(str(value)) if not isinstance(value, bool) else None
        if match is None:
            raise RolloutError(f"failure_tolerance must be a count (3) or a percentage (10%), got {value!r}")
        number = int(match.group(1))
        if match.group(2):
            if number > 100:
                raise RolloutError(f"failure_tolerance percentage must be 0% to 100%, got {value!r}")
            return cls(percent=number)
        return cls(count=number)

    def allowed(self, total: int) -> int:
        """Failures accepted among ``total`` updates; a percentage rounds down, as in StackSets."""
        if self.count is not None:
            return self.count
        return int(math.floor(total * (self.percent or 0) / 100.0))

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)


@dataclass(frozen=True)
class Selector:
    text: str
    tag_key: Optional[str] = None
    pattern: str = ""

    @classmethod
    def parse(cls, text: str) -> "Selector":
        if not isinstance(text, str) or not text.strip():
            raise RolloutError(f"order entries must be name globs or tag:Key=Value, got {text!r}")
        tag = _TAG_SELECTOR.match(text)
        if tag:
            return cls(text=text, tag_key=tag.group("key"), pattern=tag.group("value"))
        if text.startswith("tag:"):
            raise RolloutError(f"order entry {text!r} must read tag:Key=Value")
        return cls(text=text, pattern=text)

    def matches(self, tenant: Any) -> bool:
        """Whether ``tenant`` (a ``rollout.Tenant``: ``name``, ``tags``) is one this selector picks."""
        if self.tag_key is not None:
            value = tenant.tags.get(self.tag_key)
            return value is not None and fnmatch.fnmatchcase(value, self.pattern)
        return fnmatch.fnmatchcase(tenant.name, self.pattern)
