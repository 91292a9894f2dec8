# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that give the roles their result facts and the run's last play its inputs, shaped in Python.

The logic lives in ``module_utils/phase_results.py``; each filter is documented in the ``<filter>.yml``
beside this file.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.multiregion.serverless.plugins.module_utils import phase_results as shapes


def phase_results(raw: Mapping[str, Any], phase: str, region: str, account_id: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    """A phase role's result fact from its module's registered result."""
    if phase not in shapes.PHASE_RESULTS:
        raise AnsibleFilterError(f"phase_results: phase must be one of {', '.join(shapes.PHASE_RESULTS)}, got {phase!r}")
    return shapes.PHASE_RESULTS[phase](raw, region, account_id, **extra)


def phase_report(results: Mapping[str, Any], phase: str) -> Dict[str, Any]:
    """``{line, failed, msg}``: what a phase role shows for its region and whether it fails the host."""
    return shapes.phase_report(results, phase)


def target_results(hosts: Sequence[Mapping[str, Any]], plan: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, Any]]:
    """``run_report``'s ``region_results`` from the hostvars of the run's target hosts."""
    return shapes.target_results(list(hosts), plan)


def doctor_targets(hosts: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """``project_doctor``'s ``targets`` from the hostvars of the package play's hosts."""
    return shapes.doctor_targets(list(hosts))


def pending_versions(catalog: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The rollout's ``pending_versions`` from ``catalog_results``: the versions a check run's catalog step would create."""
    return shapes.pending_versions(catalog)


def wave_failed(hosts: Sequence[Mapping[str, Any]], max_fail_percentage: Any = 0) -> bool:
    """Whether a rollout wave (hostvars of its hosts) failed beyond the allowed percentage."""
    return shapes.wave_failed(list(hosts), max_fail_percentage)


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {
            "phase_results": phase_results,
            "phase_report": phase_report,
            "target_results": target_results,
            "doctor_targets": doctor_targets,
            "wave_failed": wave_failed,
            "pending_versions": pending_versions,
        }
