# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run ledger (JSON, one per run id) and the human report made from it.

The ledger holds one entry per service x target (packaging), product x target (version decision),
product x target (validation) and tenant (rollout), each with its status and times. A deploy target is
an (account, region) pair: every entry carries both (one account per stage today). A resumed run keeps its
run id and merges: what the new attempt did replaces the old entry of the same key, the rest is carried
over, so the ledger always says the latest word on every item.

``settle_run`` completes the run record from what the targets returned (status, error, the phases every
target finished); ``entries_from_target_results`` turns the phase roles' result facts into entries.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.naming import timestamp

LEDGER_VERSION = 1
PHASES = ("packaging", "catalog", "validation", "rollout")
# The playbook's phases, in order (what ``phases_done`` lists).
RUN_PHASES = ("package", "catalog", "validate", "rollout")

# The deploy target an entry belongs to, then the item within the phase: a newer entry with the same key
# replaces an older one.
TARGET_KEYS = ("account_id", "region")
ENTRY_KEYS: Dict[str, Tuple[str, ...]] = {
    "packaging": TARGET_KEYS + ("kind", "service"),
    "catalog": TARGET_KEYS + ("product",),
    "validation": TARGET_KEYS + ("product",),
    "rollout": TARGET_KEYS + ("product", "tenant_id"),
}

# Which statuses count as what, for the report and for set_stats.
FAILED = {"failed", "error"}
DONE = {
    "packaging": {"packaged", "cached", "published", "unchanged"},
    "catalog": {"created", "unchanged", "repaired"},
    "validation": {"passed"},
    "rollout": {"updated", "already_current"},
}


def entry_key(phase: str, entry: Dict[str, Any]) -> Tuple[Any, ...]:
    return tuple(entry.get(field) for field in ENTRY_KEYS[phase])


def merge_entries(phase: str, previous: Iterable[Dict[str, Any]], current: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Previous entries updated by the current ones, in a stable order (by key)."""
    merged: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for entry in previous:
        merged[entry_key(phase, entry)] = entry
    for entry in current:
        merged[entry_key(phase, entry)] = entry
    return [merged[key] for key in sorted(merged, key=lambda key: tuple(str(part) for part in key))]


def build_ledger(
    run: Dict[str, Any],
    entries: Dict[str, List[Dict[str, Any]]],
    previous: Dict[str, Any] = None,
) -> Dict[str, Any]:
    """The ledger of ``run`` (run_id, stage, regions, started, finished, status, phases_done) with ``entries``."""
    ledger = {
        "ledger_version": LEDGER_VERSION,
        "run": copy.deepcopy(run),
        "attempts": 1,
    }
    old_entries = (previous or {}).get("entries", {})
    if previous:
        # Entries of ledgers written before the account was recorded belong to the run's account.
        account = previous.get("run", {}).get("account_id") or run.get("account_id")
        old_entries = {phase: [_with_account(entry, account) for entry in items] for phase, items in old_entries.items()}
        ledger["attempts"] = int(previous.get("attempts", 1)) + 1
        ledger["run"]["first_started"] = previous.get("run", {}).get("first_started") or previous.get("run", {}).get("started")
        done_before = set(previous.get("run", {}).get("phases_done", []))
        ledger["run"]["phases_done"] = sorted(done_before | set(run.get("phases_done", [])), key=_phase_order)
    ledger["entries"] = {phase: merge_entries(phase, old_entries.get(phase, []), entries.get(phase, [])) for phase in PHASES}
    ledger["totals"] = totals(ledger["entries"])
    return ledger


def _with_account(entry: Dict[str, Any], account: Optional[str]) -> Dict[str, Any]:
    if entry.get("account_id") is not None or not account:
        return entry
    return {"account_id": account, **entry}


def _phase_order(name: str) -> int:
    return RUN_PHASES.index(name) if name in RUN_PHASES else len(RUN_PHASES)


def _grouped_errors(target_results: Mapping[str, Mapping[str, Any]]) -> str:
    """``<regions>: <reason>`` per distinct reason, in the targets' order: one cause hit in every region is said once."""
    regions_by_reason: Dict[str, List[str]] = {}
    for region, target in target_results.items():
        reason = (target or {}).get("error")
        if reason:
            regions_by_reason.setdefault(str(reason), []).append(str((target or {}).get("region") or region))
    return "; ".join(f"{', '.join(regions)}: {reason}" for reason, regions in regions_by_reason.items())


def settle_run(run: Mapping[str, Any], target_results: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """The run record with what was not given taken from the targets' results (``target_results`` values:
    ``phases_done``, ``rollout_failed``, ``error`` besides the phases' results):

    * ``phases_done``: the phases every target finished (a resume must redo a target's failed rollout even
      though the others finished theirs);
    * ``status``: failed when a target's rollout failed, else succeeded;
    * ``error``: when failed, each distinct reason the targets gave, once, after the regions that gave it
      (``us-east-1, eu-west-1: <reason>``), joined by ``; `` (``failed`` when none says more);
    * ``finished``: now.
    """
    settled = dict(run)
    targets = [value or {} for value in (target_results or {}).values()]
    if settled.get("phases_done") is None:
        settled["phases_done"] = [phase for phase in RUN_PHASES if all(phase in (target.get("phases_done") or []) for target in targets)]
    if not settled.get("status"):
        settled["status"] = "failed" if any(target.get("rollout_failed") for target in targets) else "succeeded"
    if settled["status"] == "failed" and settled.get("error") is None:
        settled["error"] = _grouped_errors(target_results or {}) or "failed"
    if not settled.get("finished"):
        settled["finished"] = timestamp()
    return settled


def totals(entries: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Dict[str, int]]:
    """Counts per phase: done, failed, other (skipped, not started, untouched...)."""
    result: Dict[str, Dict[str, int]] = {}
    for phase in PHASES:
        counts = {"done": 0, "failed": 0, "other": 0, "changed": 0}
        for entry in entries.get(phase, []):
            status = entry.get("status")
            if status in FAILED:
                counts["failed"] += 1
            elif status in DONE[phase]:
                counts["done"] += 1
            else:
                counts["other"] += 1
            if entry.get("changed"):
                counts["changed"] += 1
        result[phase] = counts
    return result


def region_summary(ledger: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per region: what was packaged, uploaded, versioned, rolled out, skipped and failed."""
    regions = list(ledger["run"].get("regions", []))
    for phase in PHASES:
        for entry in ledger["entries"].get(phase, []):
            if entry.get("region") not in regions:
                regions.append(entry.get("region"))
    rows = []
    for region in regions:
        def of(phase: str) -> List[Dict[str, Any]]:
            return [entry for entry in ledger["entries"].get(phase, []) if entry.get("region") == region]

        packaging, catalog, rollout, validation = of("packaging"), of("catalog"), of("rollout"), of("validation")
        rows.append(
            {
                "region": region,
                "packaged": sum(1 for entry in packaging if entry.get("status") == "packaged"),
                "cached": sum(1 for entry in packaging if entry.get("status") == "cached"),
                "uploaded": sum(int(entry.get("uploaded", 0) or 0) for entry in packaging),
                "versions_created": sum(1 for entry in catalog if entry.get("status") == "created"),
                "products_unchanged": sum(1 for entry in catalog if entry.get("status") in ("unchanged", "repaired")),
                "validated": sum(1 for entry in validation if entry.get("status") == "passed"),
                "tenants_updated": sum(1 for entry in rollout if entry.get("status") == "updated"),
                "tenants_refused": sum(1 for entry in rollout if entry.get("status") == "refused"),
                "tenants_skipped": sum(1 for entry in rollout if entry.get("status") not in FAILED | {"updated", "refused"}),
                "failed": sum(1 for phase_entries in (packaging, catalog, validation, rollout) for entry in phase_entries if entry.get("status") in FAILED),
            }
        )
    return rows


SUMMARY_COLUMNS = (
    ("region", "region"),
    ("packaged", "packaged"),
    ("cached", "cached"),
    ("uploaded", "uploaded"),
    ("versions_created", "new versions"),
    ("products_unchanged", "unchanged"),
    ("validated", "validated"),
    ("tenants_updated", "tenants updated"),
    ("tenants_refused", "tenants refused"),
    ("tenants_skipped", "tenants skipped"),
    ("failed", "failed"),
)
SUMMARY_KEYS = [key for key, title in SUMMARY_COLUMNS]
SUMMARY_TITLES = [title for key, title in SUMMARY_COLUMNS]


def summary_table(ledger: Dict[str, Any]) -> List[str]:
    """A short fixed-width table for the end of the run."""
    rows = region_summary(ledger)
    header = SUMMARY_TITLES
    body = [[str(row[key]) for key in SUMMARY_KEYS] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in body)
    return lines


def failures(ledger: Dict[str, Any]) -> List[str]:
    """One line per failed item, and per tenant the replacement guard refused (it fails the run too)."""
    lines = []
    for phase in PHASES:
        for entry in ledger["entries"].get(phase, []):
            status = entry.get("status")
            if status in FAILED or status == "refused":
                what = ", ".join(str(entry[field]) for field in ENTRY_KEYS[phase][len(TARGET_KEYS):] if entry.get(field) is not None)
                lines.append(f"{phase} {entry.get('region')} {what}: {'refused: ' if status == 'refused' else ''}{entry.get('error') or 'failed'}")
    return lines


def render_markdown(ledger: Dict[str, Any]) -> str:
    run = ledger["run"]
    lines = [
        f"# Deploy report: stage {run.get('stage')}, run {run.get('run_id')}",
        "",
        f"- status: **{run.get('status')}**",
        f"- started: {run.get('started')}, finished: {run.get('finished')}" + (f" (attempt {ledger['attempts']})" if ledger.get("attempts", 1) > 1 else ""),
        f"- regions: {', '.join(run.get('regions', []))}",
        f"- phases done: {', '.join(run.get('phases_done', [])) or 'none'}",
        "",
        "## Per region",
        "",
        "| " + " | ".join(SUMMARY_TITLES) + " |",
        "|" + "|".join(" --- " for title in SUMMARY_TITLES) + "|",
    ]
    for row in region_summary(ledger):
        lines.append("| " + " | ".join(str(row[key]) for key in SUMMARY_KEYS) + " |")
    failed = failures(ledger)
    lines += ["", "## Failures", ""] + ([f"- {line}" for line in failed] if failed else ["none"])
    catalog = ledger["entries"].get("catalog", [])
    if catalog:
        lines += ["", "## Product versions", "", "| region | product | decision | version | artifact id |", "| --- | --- | --- | --- | --- |"]
        for entry in catalog:
            lines.append(
                f"| {entry.get('region')} | {entry.get('product')} | {entry.get('status')} | {entry.get('version') or ''} | {entry.get('artifact_id') or ''} |"
            )
    packaging = ledger["entries"].get("packaging", [])
    if packaging:
        lines += ["", "## Services", "", "| region | kind | name | result | uploaded | seconds | template |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for entry in packaging:
            seconds = "" if entry.get("seconds") is None else entry["seconds"]
            lines.append(
                f"| {entry.get('region')} | {entry.get('kind', 'service')} | {entry.get('service')} | {entry.get('status')} | {entry.get('uploaded', 0)} "
                f"| {seconds} | {entry.get('template_url') or ''} |"
            )
    return "\n".join(lines) + "\n"


def awx_stats(ledger: Dict[str, Any]) -> Dict[str, Any]:
    """The numbers AWX shows for the job (set_stats): flat, small."""
    rows = region_summary(ledger)
    stats: Dict[str, Any] = {"deploy_run_id": ledger["run"].get("run_id"), "deploy_status": ledger["run"].get("status")}
    for key in SUMMARY_KEYS[1:]:
        stats[f"deploy_{key}"] = sum(row[key] for row in rows)
    return stats


# ---- From what the phase roles return (package_results, catalog_results, validate_results, rollout_results)
# to ledger entries. The shapes are documented in docs/{package,catalog,rollout}-phase.md.


def _package_keys(info: Mapping[str, Any]) -> List[str]:
    """The S3 keys a packaged service or init stack publishes: its template and every ZIP it names.

    Read from the package result, not parsed out of the key: a service's keys carry its ``service:`` name,
    which need not be its folder's (the name the ledger uses).
    """
    keys = [info["template_key"]] if info.get("template_key") else []
    return keys + [artifact["s3_key"] for artifact in info.get("artifacts") or [] if artifact.get("s3_key")]


def package_entries(target: Mapping[str, Any], results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One entry per service, init stack and product template of a region; their ``uploaded`` add up to every object
    the region's publishing wrote."""
    packaged = set(results.get("packaged") or [])
    cached = set(results.get("cached") or [])
    uploaded = set(results.get("uploaded_keys") or [])
    template_urls = results.get("template_urls") or {}
    entries = []
    for kind, entry_kind in (("services", "service"), ("init_stacks", "init")):
        for name, info in sorted((results.get(kind) or {}).items()):
            info = info or {}
            status = "packaged" if name in packaged else "cached" if name in cached else info.get("status", "skipped")
            count = len(uploaded.intersection(_package_keys(info)))
            entries.append(
                {
                    **target,
                    "service": name,
                    "kind": entry_kind,
                    "status": status,
                    "changed": name in packaged or count > 0,
                    "uploaded": count,
                    "seconds": info.get("packaging_seconds"),
                    "template_url": template_urls.get(f"{entry_kind}/{name}"),
                }
            )
    for name, info in sorted((results.get("products") or {}).items()):
        count = 1 if (info or {}).get("key") in uploaded else 0
        entries.append({**target, "service": name, "kind": "product", "status": "published" if count else "unchanged",
                        "changed": bool(count), "uploaded": count, "seconds": None, "template_url": (info or {}).get("url")})
    return entries


def catalog_entries(target: Mapping[str, Any], results: Dict[str, Any]) -> List[Dict[str, Any]]:
    entries = []
    for name, info in sorted((results.get("products") or {}).items()):
        info = info or {}
        if info.get("version_created"):
            status = "created"
        elif info.get("ssm_parameter_changed"):
            status = "repaired"
        else:
            status = "unchanged"
        entries.append(
            {
                **target,
                "product": name,
                "status": status,
                "changed": bool(info.get("changed")),
                "version": info.get("artifact_name"),
                "artifact_id": info.get("artifact_id"),
                "previous_version": info.get("previous_artifact_name"),
                "fingerprint": info.get("fingerprint"),
            }
        )
    return entries


def validation_entries(target: Mapping[str, Any], results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """``validate_results``: ``{region, products: [{product, status, version, name, error, ...}]}``."""
    return [
        {
            **target,
            "product": item.get("product"),
            "status": item.get("status"),
            "changed": True,
            "version": item.get("version"),
            "tenant": item.get("name"),
            "seconds": item.get("duration"),
            "error": item.get("error"),
        }
        for item in results.get("products") or []
    ]


def rollout_entries(target: Mapping[str, Any], results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """``rollout_results``: ``{region, failed, tenants: [{name, id, product, from_*, to_*, status, ...}]}``."""
    return [
        {
            **target,
            "product": tenant.get("product"),
            "tenant_id": tenant.get("id"),
            "tenant": tenant.get("name"),
            "status": tenant.get("status"),
            "changed": tenant.get("status") == "updated",
            "from": tenant.get("from_version") or tenant.get("from_artifact"),
            "to": tenant.get("to_version") or tenant.get("to_artifact"),
            "record_id": tenant.get("record_id"),
            "seconds": tenant.get("duration"),
            "error": tenant.get("error") or tenant.get("reason"),
        }
        for tenant in results.get("tenants") or []
    ]


ADAPTERS = {
    "packaging": ("package", package_entries),
    "catalog": ("catalog", catalog_entries),
    "validation": ("validate", validation_entries),
    "rollout": ("rollout", rollout_entries),
}


def target_of(region: str, results: Optional[Mapping[str, Any]], account_id: Optional[str] = None) -> Dict[str, Any]:
    """The deploy target ``{account_id, region}`` of one region's results (their account, else the run's)."""
    return {"account_id": (results or {}).get("account_id") or account_id, "region": region}


def entries_from_target_results(target_results: Mapping[str, Mapping[str, Any]], account_id: Optional[str] = None) -> Dict[str, List[Dict[str, Any]]]:
    """Ledger entries of every phase from ``{region: {account_id, package: ..., catalog: ..., validate: ..., rollout: ...}}``.

    Each entry names its target: the results' ``account_id``, else ``account_id`` (the run's).
    """
    entries: Dict[str, List[Dict[str, Any]]] = {phase: [] for phase in PHASES}
    for region, phases in sorted((target_results or {}).items()):
        target = target_of(region, phases, account_id)
        for phase, (result_key, adapter) in ADAPTERS.items():
            results = (phases or {}).get(result_key)
            if isinstance(results, dict):
                entries[phase].extend(adapter(target, results))
    return entries
