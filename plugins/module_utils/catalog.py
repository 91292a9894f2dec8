# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service Catalog versioning decisions, pure: version names, fingerprints in descriptions, SSM names, lifecycle.

* ``VersionScheme`` parses and formats version names (``V<n>`` by default). The next version is one more than
  the highest number ever issued: the highest among ALL the product's artifacts (active or not) and the
  high-water mark kept in SSM beside the latest-id parameter, so a deleted ``V13`` is never issued again.
* The fingerprint of an artifact's template lives at the end of its description,
  ``... [fingerprint:sha256:<hex>]``, so a run compares without downloading the active template.
* ``choose_active`` picks the product's current version: the highest-numbered active artifact named by the
  scheme, or the most recently created active one when none is.
* ``plan_lifecycle`` picks the versions to mark inactive and DEPRECATED: older than the newest K, never one a
  provisioned product uses, never one the scheme does not name.
* ``plan_version_quota`` decides what the per-product version quota (100 by default on AWS) allows before a new
  version is created: nothing when it fits; else the versions that could go, oldest first (never the newest,
  never one a provisioned product uses, never one of ``keep_ids``: the current version and the one SSM names).
  ``quota_refusal`` words the one-line refusal when pruning is off or cannot free enough.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

DEFAULT_VERSION_SCHEME = "V<n>"
VERSION_PLACEHOLDER = "<n>"

# Service Catalog: artifact names and descriptions are at most 8192 characters.
MAX_DESCRIPTION_LENGTH = 8192
FINGERPRINT_MARKER = re.compile(r"\s*\[fingerprint:(sha256:[0-9a-f]{64})\]\s*$")

# SSM parameter names: https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
SSM_NAME_MAX_LENGTH = 1011
SSM_MAX_LEVELS = 15
_SSM_NAME_CHARACTERS = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_RESERVED_SSM_PREFIXES = ("aws", "ssm")


class CatalogError(ValueError):
    """An input the catalog phase refuses before any AWS call: one line, nothing written."""


# ---------------------------------------------------------------------------------------------- versions


class VersionScheme:
    """Version names built from a pattern with one ``<n>``: ``V<n>`` gives V1, V2, ... V13."""

    def __init__(self, pattern: str = DEFAULT_VERSION_SCHEME) -> None:
        if not isinstance(pattern, str) or pattern.count(VERSION_PLACEHOLDER) != 1:
            raise CatalogError(f"version scheme '{pattern}' must contain '{VERSION_PLACEHOLDER}' exactly once (for example V<n>)")
        prefix, suffix = pattern.split(VERSION_PLACEHOLDER)
        if suffix[:1].isdigit() or prefix[-1:].isdigit():
            raise CatalogError(f"version scheme '{pattern}' puts a digit next to '{VERSION_PLACEHOLDER}', so names would be ambiguous")
        self.pattern = pattern
        self._prefix = prefix
        self._suffix = suffix
        self._regex = re.compile(rf"^{re.escape(prefix)}(0|[1-9][0-9]*){re.escape(suffix)}$")

    def number(self, name: Optional[str]) -> Optional[int]:
        """The version number a name carries, None when the name does not follow the scheme."""
        match = self._regex.match(name or "")
        return int(match.group(1)) if match else None

    def name(self, number: int) -> str:
        if number < 0:
            raise CatalogError(f"version numbers are not negative, got {number}")
        return f"{self._prefix}{number}{self._suffix}"


class NextVersion(NamedTuple):
    number: int
    name: str
    highest_listed: int
    ignored_names: List[str]


def next_version(artifact_names: Iterable[Optional[str]], scheme: VersionScheme, highest_issued: int = 0) -> NextVersion:
    """One more than the highest number among ``artifact_names`` and ``highest_issued``.

    Names that do not follow the scheme are ignored and returned in ``ignored_names`` (sorted) so the caller can say so.
    """
    highest = 0
    ignored = set()
    for name in artifact_names:
        number = scheme.number(name)
        if number is None:
            ignored.add(name or "")
        else:
            highest = max(highest, number)
    number = max(highest, highest_issued) + 1
    return NextVersion(number, scheme.name(number), highest, sorted(ignored))


def parse_highest_issued(value: Optional[str], product_id: str) -> int:
    """The high-water mark stored in SSM for ``product_id``; 0 when absent, unreadable or about another product.

    The value is ``{"product_id": ..., "highest_version": n}``: a product deleted and created again under the
    same name starts again at 1 rather than inheriting the old product's numbers.
    """
    try:
        data = json.loads(value or "")
    except ValueError:
        return 0
    if not isinstance(data, dict) or data.get("product_id") != product_id:
        return 0
    highest = data.get("highest_version")
    return highest if isinstance(highest, int) and not isinstance(highest, bool) and highest > 0 else 0


def highest_issued_value(product_id: str, number: int) -> str:
    return json.dumps({"product_id": product_id, "highest_version": number}, sort_keys=True)


# ------------------------------------------------------------------------------------------ fingerprints


def fingerprint_from_description(description: Optional[str]) -> Optional[str]:
    """The ``sha256:<hex>`` stored at the end of an artifact description, None for a hand-made artifact."""
    match = FINGERPRINT_MARKER.search(description or "")
    return match.group(1) if match else None


def description_with_fingerprint(description: Optional[str], fingerprint: str) -> str:
    """``description`` (any old marker removed, cut to fit) followed by ``[fingerprint:<fingerprint>]``."""
    marker = f"[fingerprint:{fingerprint}]"
    text = FINGERPRINT_MARKER.sub("", description or "").strip()
    room = MAX_DESCRIPTION_LENGTH - len(marker) - 1
    if len(text) > room:
        text = text[: max(room - 3, 0)].rstrip() + "..."
    return f"{text} {marker}" if text else marker


# ------------------------------------------------------------------------------------------------- SSM


def check_ssm_parameter_name(name: Any, what: str = "SSM parameter name") -> str:
    """``name`` when it is a valid hierarchical SSM parameter path; CatalogError with the reason otherwise."""
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{what} is empty")
    if not name.startswith("/"):
        raise CatalogError(f"{what} '{name}' is not a path: it must start with '/'")
    if len(name) > SSM_NAME_MAX_LENGTH:
        raise CatalogError(f"{what} is {len(name)} characters long, more than the {SSM_NAME_MAX_LENGTH} SSM allows")
    if not _SSM_NAME_CHARACTERS.match(name):
        bad = sorted({char for char in name if not _SSM_NAME_CHARACTERS.match(char)})
        raise CatalogError(f"{what} '{name}' has characters SSM does not allow: {' '.join(repr(char) for char in bad)} (allowed: a-z A-Z 0-9 _ . - /)")
    levels = name[1:].split("/")
    if name.endswith("/") or "" in levels:
        raise CatalogError(f"{what} '{name}' has an empty level ('//' or a trailing '/')")
    if len(levels) > SSM_MAX_LEVELS:
        raise CatalogError(f"{what} '{name}' has {len(levels)} levels, more than the {SSM_MAX_LEVELS} SSM allows")
    if levels[0].lower().startswith(_RESERVED_SSM_PREFIXES):
        raise CatalogError(f"{what} '{name}' starts with a reserved prefix (aws or ssm)")
    return name


# --------------------------------------------------------------------------------------------- artifacts


def _created_key(artifact: Mapping[str, Any]) -> str:
    # CreatedTime is a datetime from boto3; isoformat keeps the order and also works for strings.
    created = artifact.get("CreatedTime")
    return created.isoformat() if hasattr(created, "isoformat") else str(created or "")


def choose_active(artifacts: Sequence[Mapping[str, Any]], scheme: VersionScheme) -> Optional[Mapping[str, Any]]:
    """The product's current version: the highest-numbered active artifact the scheme names, else the newest active one."""
    active = [artifact for artifact in artifacts if artifact.get("Active", True)]
    numbered = [(scheme.number(artifact.get("Name")), artifact) for artifact in active]
    numbered = [(number, artifact) for number, artifact in numbered if number is not None]
    if numbered:
        return max(numbered, key=lambda pair: (pair[0], _created_key(pair[1])))[1]
    if active:
        return max(active, key=_created_key)
    return None


class LifecyclePlan(NamedTuple):
    deprecate: List[Dict[str, Any]]
    kept_in_use: List[Dict[str, Any]]


def plan_lifecycle(
    artifacts: Sequence[Mapping[str, Any]],
    scheme: VersionScheme,
    keep_active: int,
    in_use_ids: Set[str],
) -> LifecyclePlan:
    """Versions older than the newest ``keep_active`` (by number) to mark ``Active=false`` and ``DEPRECATED``.

    Only artifacts the scheme names are considered (a hand-made one is not ours to retire); one that a
    provisioned product uses is left as it is and listed in ``kept_in_use``; one already inactive and
    DEPRECATED needs nothing.
    """
    if keep_active < 1:
        raise CatalogError(f"keep_active_versions must be 1 or more, got {keep_active}")
    numbered: List[Tuple[int, Mapping[str, Any]]] = []
    for artifact in artifacts:
        number = scheme.number(artifact.get("Name"))
        if number is not None:
            numbered.append((number, artifact))
    numbered.sort(key=lambda pair: (pair[0], _created_key(pair[1])), reverse=True)
    deprecate: List[Dict[str, Any]] = []
    kept: List[Dict[str, Any]] = []
    for _number, artifact in numbered[keep_active:]:
        summary = {"id": artifact.get("Id"), "name": artifact.get("Name")}
        if artifact.get("Id") in in_use_ids:
            kept.append(summary)
        elif artifact.get("Active", True) or artifact.get("Guidance", "DEFAULT") != "DEPRECATED":
            deprecate.append(summary)
    return LifecyclePlan(deprecate, kept)


class VersionQuota(NamedTuple):
    """What the version quota allows before one more version: ``excess`` versions must go first (0: it fits)."""

    count: int  # the product's versions now, active or not (the quota counts them all)
    limit: int
    excess: int
    prunable: List[Dict[str, Optional[str]]]  # every version that may be deleted, oldest first

    @property
    def fits(self) -> bool:
        return self.excess == 0

    @property
    def enough(self) -> bool:
        """Whether deleting prunable versions can make room."""
        return len(self.prunable) >= self.excess

    @property
    def prune(self) -> List[Dict[str, Optional[str]]]:
        """Just enough of the oldest prunable versions to make room (none when it fits or when that is not enough)."""
        return self.prunable[: self.excess] if self.enough else []


def plan_version_quota(artifacts: Sequence[Mapping[str, Any]], in_use_ids: Set[str], keep_ids: Set[Optional[str]], limit: int) -> VersionQuota:
    """What ``limit`` versions per product allow before one more is created.

    Prunable: every version no provisioned product uses (not in ``in_use_ids``), not in ``keep_ids`` (the current
    version, the one SSM names) and not the newest by ``CreatedTime``, oldest first. Hand-made names count and may
    go like any other: the quota counts every version.
    """
    if limit < 1:
        raise CatalogError(f"version_limit must be 1 or more, got {limit}")
    excess = max(0, len(artifacts) + 1 - limit)
    if not excess:
        return VersionQuota(len(artifacts), limit, 0, [])
    oldest_first = sorted(artifacts, key=_created_key)  # stable: equal times keep the listing's order
    newest = oldest_first[-1].get("Id") if oldest_first else None
    prunable = [
        artifact_summary(artifact)
        for artifact in oldest_first
        if artifact.get("Id") not in in_use_ids and artifact.get("Id") not in keep_ids and artifact.get("Id") != newest
    ]
    return VersionQuota(len(artifacts), limit, excess, prunable)


def _listed(summaries: Sequence[Mapping[str, Optional[str]]], most: int) -> str:
    shown = ", ".join(f"{item.get('name')} {item.get('id')}" for item in summaries[:most])
    return shown + (f" and {len(summaries) - most} more" if len(summaries) > most else "")


def quota_refusal(product: str, quota: VersionQuota, pruning: bool, most_listed: int = 10) -> str:
    """The one-line refusal of a version that does not fit, naming the versions that could go (oldest first)."""
    head = f"product {product} has {quota.count} of {quota.limit} versions"
    some = "one" if quota.excess == 1 else str(quota.excess)
    way_out = "move tenants to a newer version or raise the quota and version_limit (role: catalog_version_limit)"
    if not quota.prunable:
        return f"{head}: no version can go (tenants are on all the others, or they are the newest or current one); {way_out}"
    listed = _listed(quota.prunable, max(quota.excess, most_listed))
    if pruning:  # pruning is on, so it cannot free enough
        return f"{head}: {quota.excess} must go but only {len(quota.prunable)} can ({listed}); {way_out}"
    if not quota.enough:
        return f"{head}: {quota.excess} must go but only {len(quota.prunable)} can ({listed}); delete those and {way_out}"
    return f"{head}: delete {some} ({listed}) or set prune_versions=true (role: catalog_prune_versions)"


def artifact_summary(artifact: Optional[Mapping[str, Any]]) -> Dict[str, Optional[str]]:
    if not artifact:
        return {"id": None, "name": None}
    return {"id": artifact.get("Id"), "name": artifact.get("Name")}


def content_addressed_key(prefix: str, content_sha256: str, extension: str = ".json") -> str:
    """``<prefix>/<sha256 of the bytes><extension>``: a template read from a local file is published once, never overwritten."""
    folder = prefix.strip("/")
    name = f"{content_sha256}{extension}"
    return f"{folder}/{name}" if folder else name
