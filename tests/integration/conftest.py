"""How the integration tests share the pytest-xdist workers (scripts/test.sh: ``--dist loadgroup --no-loadscope-reorder``).

* A file's tests build on each other in order, so each file is one group, run by one worker.
* The chaos and security tests read the same expensive full scenario (chaos_helpers.full_scenario, once per
  process): they are one group, so the scenario runs once in the suite instead of once on each worker.
* Groups start longest first, so no long file is left to run alone at the end while the other worker idles.
  The order comes from measured durations (scripts/test.sh's JUnit report); a stale order only costs balance.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

SHARED_GROUPS = {
    "test_chaos.py": "full-scenario",
    "test_security.py": "full-scenario",
}
LONGEST_FIRST = [
    "test_deploy_e2e.py",
    "full-scenario",
    "test_stage_isolation.py",
    "test_package_role.py",
    "test_fresh_clone_deploy.py",
    "test_sam_services.py",
    "test_retail_monorepo.py",
    "test_check_mode_plan.py",
    "test_deploy_bad_inputs.py",
    "test_catalog_role.py",
]


def group_of(path: Path, here: Path) -> str:
    return SHARED_GROUPS.get(path.name, path.relative_to(here).as_posix())


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the marks into the node ids
def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    here = Path(__file__).parent
    rank: Dict[int, int] = {}
    for item in items:
        path = Path(item.fspath)
        if here not in path.parents:
            continue
        group = group_of(path, here)
        item.add_marker(pytest.mark.xdist_group(group))
        rank[id(item)] = LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)
    # A stable sort: the tests of a group keep their order.
    items.sort(key=lambda item: rank.get(id(item), len(LONGEST_FIRST)))
