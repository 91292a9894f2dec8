# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's plan: per region, what the run writes (or, with ``--check``, would write), from the phases' results.

``build_plan(run, region_results)`` gathers, per region, the objects uploaded, the versions created (name and
fingerprint) and retired (deprecated, deleted), and the tenants updated, grouped by the same change (product,
from and to version: how many, the first names, what their stacks get, what the replacement guard found) and
refused. ``render_plan_markdown`` writes it for people; ``plan_summary`` is one line per region for the run's
last output. ``run_report`` writes ``plan.json`` and ``plan.md`` into the run's local folder only: never to AWS.

Pure: no AWS calls, nothing written.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

# How many uploaded keys the Markdown lists per region (plan.json has them all).
SHOWN_KEYS = 20


def _region_plan(target: Mapping[str, Any]) -> Dict[str, Any]:
    package = target.get("package") or {}
    catalog = target.get("catalog") or {}
    rollout = target.get("rollout") or {}
    products = [entry for _name, entry in sorted((catalog.get("products") or {}).items())]
    return {
        "uploads": sorted(package.get("uploaded_keys") or []),
        "versions": [
            {"product": entry.get("product_name"), "version": entry.get("artifact_name"), "fingerprint": entry.get("fingerprint"),
             "previous": entry.get("previous_artifact_name"), "product_created": bool(entry.get("product_created"))}
            for entry in products if entry.get("version_created")
        ],
        "retired": [
            {"product": entry.get("product_name"), "deprecated": [item.get("name") for item in entry.get("deprecated_artifacts") or []],
             "deleted": [item.get("name") for item in entry.get("pruned_artifacts") or []]}
            for entry in products if entry.get("deprecated_artifacts") or entry.get("pruned_artifacts")
        ],
        "rollout": {
            "ran": bool(rollout),
            "summary": rollout.get("summary") or {},
            "groups": rollout.get("version_changes") or [],
            "refusals": rollout.get("refusals") or [],
        },
    }


def build_plan(run: Mapping[str, Any], region_results: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """The plan of ``run`` (its ``run_id``, ``stage``, ``check_mode``) from ``run_report``'s ``region_results``."""
    return {
        "run": {"run_id": run.get("run_id"), "stage": run.get("stage"), "check_mode": bool(run.get("check_mode"))},
        "regions": {region: _region_plan(target) for region, target in sorted(region_results.items())},
    }


def _updates(rollout: Mapping[str, Any]) -> int:
    summary = rollout.get("summary") or {}
    return int(summary.get("would_update") or 0) + int(summary.get("updated") or 0)


def plan_summary(plan: Mapping[str, Any]) -> List[str]:
    """One line per region: ``plan us-east-1: 12 uploads, 1 new version (core-dev V3), 4 tenant updates, 1 refused``."""
    lines = []
    verb = "would be" if plan["run"]["check_mode"] else "were"
    for region, entry in plan["regions"].items():
        versions = ", ".join(f"{item['product']} {item['version']}" for item in entry["versions"])
        rollout = entry["rollout"]
        tenants = f", {_updates(rollout)} tenant update(s), {len(rollout['refusals'])} refusal(s)" if rollout["ran"] else ""
        lines.append(f"plan {region} ({verb} written): {len(entry['uploads'])} upload(s), {len(entry['versions'])} new version(s)"
                     + (f" ({versions})" if versions else "") + tenants)
    return lines


def render_plan_markdown(plan: Mapping[str, Any]) -> str:
    run = plan["run"]
    mode = "check mode: nothing was written" if run["check_mode"] else "what the run wrote"
    lines = [f"# Plan: stage {run['stage']}, run {run['run_id']} ({mode})", ""]
    for region, entry in plan["regions"].items():
        lines += [f"## {region}", "", f"### Uploads ({len(entry['uploads'])})", ""]
        lines += [f"- `{key}`" for key in entry["uploads"][:SHOWN_KEYS]] or ["none"]
        if len(entry["uploads"]) > SHOWN_KEYS:
            lines.append(f"- ... and {len(entry['uploads']) - SHOWN_KEYS} more (plan.json lists them all)")
        lines += ["", "### Versions", ""]
        lines += [f"- {item['product']}: {item['previous'] or ('(new product)' if item['product_created'] else '(no version)')} -> **{item['version']}** "
                  f"(`{item['fingerprint']}`)" for item in entry["versions"]] or ["no new version"]
        for item in entry["retired"]:
            if item["deprecated"]:
                lines.append(f"- {item['product']}: deprecate {', '.join(item['deprecated'])}")
            if item["deleted"]:
                lines.append(f"- {item['product']}: delete {', '.join(item['deleted'])}")
        rollout = entry["rollout"]
        if not rollout["ran"]:
            lines += ["", "### Tenants", "", "the rollout did not run"]
        else:
            lines += ["", f"### Tenants ({_updates(rollout)} update(s), {len(rollout['refusals'])} refusal(s))", ""]
            for group in rollout["groups"]:
                more = group["tenants"] - len(group["tenant_names"])
                names = ", ".join(group["tenant_names"]) + (f" and {more} more" if more > 0 else "")
                refused = f", {group['refused']} refused" if group.get("refused") else ""
                versions = f"{group.get('from_version') or group['from_artifact']} -> {group.get('to_version') or group['to_artifact']}"
                lines.append(f"- {group['product']} {versions}: {group['tenants']} tenant(s){refused} ({names})")
                lines += [f"  - {change}" for change in group.get("changes") or []]
                lines += [f"  - **{finding}**" for finding in group.get("replacements") or []]
            if not rollout["groups"]:
                lines.append("no tenant to update")
            if rollout["refusals"]:
                lines += ["", "Refused by the replacement guard:", ""] + [f"- {line}" for line in rollout["refusals"]]
        lines.append("")
    return "\n".join(lines)
