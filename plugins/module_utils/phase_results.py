# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result facts of the phase roles, and what the run's last play reads of every target, shaped in one place.

The roles register their modules' results and call these through the filters of ``plugins/filter/``
(``phase_results``, ``phase_report``, ``target_results``, ``wave_failed``), so no result shape or summary
line is built in Jinja. The shapes are documented in docs/{package,catalog,rollout}-phase.md; each fact
names its deploy target (``account_id`` beside ``region``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

# What catalog_results keeps of each catalog_artifact_version product result.
CATALOG_RESULT_KEYS = (
    "product_name", "product_id", "product_created", "previous_artifact_id", "previous_artifact_name", "artifact_id",
    "artifact_name", "version_created", "changed", "fingerprint", "template_url", "ssm_parameter", "ssm_parameter_version",
    "ssm_parameter_changed", "pruned_artifacts", "deprecated_artifacts",
)
# Validation statuses that are no failure.
VALIDATION_OK = ("passed", "would_validate")
PHASE_FACTS = {"package": "package_results", "catalog": "catalog_results", "validate": "validate_results", "rollout": "rollout_results"}


def _target(region: str, account_id: Optional[str]) -> Dict[str, Any]:
    return {"region": region, "account_id": account_id}


def package_results(packaged: Mapping[str, Any], region: str, account_id: Optional[str] = None, published: Optional[Mapping[str, Any]] = None,
                    stage: Optional[str] = None, bucket: Optional[str] = None) -> Dict[str, Any]:
    """``package_results`` from the ``sls_package`` (``packaged``) and ``s3_artifact_sync`` (``published``) results."""
    published = published or {}
    services, stacks = list(packaged.get("services") or []), list(packaged.get("init_stacks") or [])
    uploaded, skipped = list(published.get("uploaded") or []), list(published.get("skipped") or [])
    unknown = list(packaged.get("unknown_exclusions") or [])
    summary = (f"{region}: {len(packaged.get('packaged') or [])} of {len(services + stacks)} services and init stacks packaged "
               f"({len(packaged.get('cached') or [])} unchanged), {len(uploaded)} objects uploaded, {len(skipped)} already published"
               + (f", unknown exclusions: {', '.join(unknown)}" if unknown else ""))
    return {
        **_target(region, account_id),
        "stage": stage,
        "bucket": bucket,
        "changed": bool(packaged.get("changed") or published.get("changed")),
        "services": {item["name"]: item for item in services},
        "init_stacks": {item["name"]: item for item in stacks},
        "template_urls": published.get("template_urls"),
        "local_copies": published.get("local_copies") or {},
        "products": published.get("products"),
        "packaged": packaged.get("packaged"),
        "cached": packaged.get("cached"),
        "excluded": packaged.get("excluded"),
        "unknown_exclusions": packaged.get("unknown_exclusions"),
        "uploaded": len(uploaded),
        "uploaded_keys": published.get("uploaded"),
        "skipped": len(skipped),
        "summary": summary,
    }


def catalog_results(versions: Mapping[str, Any], region: str, account_id: Optional[str] = None) -> Dict[str, Any]:
    """``catalog_results`` from the ``catalog_artifact_version`` result (skipped when there was nothing to version)."""
    entries = [{key: value for key, value in item.items() if key in CATALOG_RESULT_KEYS} for item in versions.get("products") or []]
    created = [entry for entry in entries if entry.get("version_created")]
    summary = f"{region}: {len(entries)} product(s), {len(created)} new version(s)"
    if created:
        summary += ": " + ", ".join(f"{entry.get('product_name')} {entry.get('artifact_name')}" for entry in created)
    return {
        **_target(region, account_id),
        "changed": versions.get("changed", False),
        "products": {entry.get("product_name"): entry for entry in entries},
        "versions_created": [entry.get("product_name") for entry in created],
        "summary": summary,
    }


def validate_results(runs: Mapping[str, Any], region: str, account_id: Optional[str] = None) -> Dict[str, Any]:
    """``validate_results`` from the looped ``catalog_test_tenant`` results (one per product, failures kept)."""
    products = []
    for run in runs.get("results") or []:
        products.append({
            "product": run["product"] if "product" in run else run.get("item"),
            "status": run.get("status", "failed"),
            "version": run.get("version", ""),
            "artifact_id": run.get("artifact_id", ""),
            "name": run.get("name", ""),
            "terminated": run.get("terminated", False),
            "duration": run.get("duration", 0),
            "error": run.get("error") or run.get("msg", ""),
        })
    return {**_target(region, account_id), "products": products}


def rollout_results(update: Mapping[str, Any], region: str, account_id: Optional[str] = None) -> Dict[str, Any]:
    """``rollout_results`` from the ``provisioned_product_update`` result (registered with ``failed_when: false``).

    ``failed``: the module failed, i.e. a tenant failed or was refused, or it stopped before listing any tenant.
    """
    summary = update.get("summary", {})
    return {
        **_target(region, account_id),
        "failed": "tenants" not in update or any(int((summary or {}).get(status) or 0) > 0 for status in ("failed", "refused")),
        "msg": update.get("msg", ""),
        "targets": update.get("targets", []),
        "summary": summary,
        "tolerance": update.get("tolerance", {}),
        "tenants": update.get("tenants", []),
        "refusals": update.get("refusals", []),
        "version_changes": update.get("version_changes", []),
    }


def pending_versions(catalog: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The versions a check run's catalog step would create (``catalog_results``: created, no id yet), as the
    rollout's ``pending_versions``; none in a real run, where they exist and SSM names them."""
    return [
        {"product": name, "version": entry.get("artifact_name"), "template_url": entry.get("template_url")}
        for name, entry in sorted(((catalog or {}).get("products") or {}).items())
        if entry.get("version_created") and not entry.get("artifact_id")
    ]


PHASE_RESULTS: Dict[str, Callable[..., Dict[str, Any]]] = {
    "package": package_results,
    "catalog": catalog_results,
    "validate": validate_results,
    "rollout": rollout_results,
}


def phase_report(results: Mapping[str, Any], phase: str) -> Dict[str, Any]:
    """What a role shows and whether it fails the host: ``{line, failed, msg}`` of a phase's result fact."""
    region = results.get("region")
    if phase == "rollout":
        summary = results.get("summary") or {}
        versions = ", ".join(f"{target.get('product')} -> {target.get('version')}" for target in results.get("targets") or [])
        counts = [f"{summary.get(key, 0)} {label}" for key, label in (
            ("updated", "updated"), ("failed", "failed"), ("refused", "refused"), ("skipped", "skipped"), ("not_started", "not started"),
            ("already_current", "already current"))]
        if summary.get("would_update"):
            counts.insert(0, f"{summary['would_update']} would update")
        return {"line": f"{region}: {', '.join(counts)} ({versions})", "failed": bool(results.get("failed")), "msg": results.get("msg", "")}
    if phase == "validate":
        products = results.get("products") or []
        bad = [item for item in products if item.get("status") not in VALIDATION_OK]
        return {"line": [f"{item.get('product')}: {item.get('status')}" for item in products], "failed": bool(bad),
                "msg": f"validation failed in {region}: {'; '.join(str(item.get('error')) for item in bad)}" if bad else ""}
    return {"line": results.get("summary", ""), "failed": False, "msg": ""}


# ---------------------------------------------------------------------------------------------- the run's last play


def target_results(hosts: Sequence[Mapping[str, Any]], plan: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, Any]]:
    """``run_report``'s ``region_results``: per deploy target (keyed by region), what its host's phases returned.

    ``hosts`` are the hostvars of the run's target hosts; ``plan`` the run's plan, whose ``targets`` name each
    region's account.
    """
    accounts = {target["region"]: target.get("account_id") for target in (plan or {}).get("targets") or []}
    found: Dict[str, Dict[str, Any]] = {}
    for host in hosts:
        region = host.get("aws_region")
        entry: Dict[str, Any] = {"account_id": accounts.get(region, (plan or {}).get("account_id"))}
        for phase, fact in PHASE_FACTS.items():
            entry[phase] = host.get(fact)
        entry["phases_done"] = list(host.get("deploy_run_phases_done") or [])
        entry["rollout_failed"] = bool(host.get("deploy_run_rollout_failed", False))
        entry["error"] = host.get("deploy_run_region_error")
        found[region] = entry
    return found


def doctor_targets(hosts: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """``project_doctor``'s ``targets``: per host of the package play that packaged, its region, the stage's artifact
    bucket there and what ``sls_package`` returned (``package_settings`` and ``package_packaged`` of the package role).

    In the order of the stage's regions, not of the hosts: the play's host list follows how the hosts got there, and
    the doctor lists a problem's regions in the order of its targets.
    """
    targets, order = [], []
    for host in hosts:
        settings, packaged = host.get("package_settings") or {}, host.get("package_packaged") or {}
        if settings and packaged:
            order = order or list((settings.get("plan") or {}).get("regions") or [])
            targets.append({"region": settings.get("region"), "bucket": settings.get("bucket"),
                            "packages": list(packaged.get("services") or []) + list(packaged.get("init_stacks") or [])})
    return sorted(targets, key=lambda target: (order.index(target["region"]) if target["region"] in order else len(order), str(target["region"])))


def wave_failed(hosts: Sequence[Mapping[str, Any]], max_fail_percentage: Any = 0) -> bool:
    """Whether a rollout wave (the hostvars of its hosts) failed beyond ``rollout_max_fail_percentage``."""
    failed = sum(1 for host in hosts if host.get("deploy_run_rollout_failed"))
    return failed * 100 > int(max_fail_percentage or 0) * len(hosts)
