"""``--check --diff`` against the run that follows (issue 18): the check run writes nothing, and what it says it
would do is what the real run then does: the objects uploaded, the versions created, the tasks that change.

A user's way in: ``ansible-playbook playbooks/deploy.yml`` with ``-e`` strings, first with ``--check --diff``,
then without, on a project with two stages' worth of shape (two regions, two services, a product) packaged by the
stand-in packager. The local AWS's call counts prove the check run wrote nothing.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Set, Tuple

import pytest

from chaos_helpers import bootstrap, change_service, deploy_variables, make_project
from deploy_helpers import DEPLOY_PLAYBOOK, PlaybookRun, PlaybookRunner, writes

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGIONS = ["us-east-1", "eu-west-1"]
UPLOAD_TASK = "Upload templates and ZIPs to this region's bucket, then the rendered product templates"
CATALOG_TASK = "Create a version where a template changed, and point SSM at the current ones"


def as_strings(variables: Dict[str, Any]) -> List[str]:
    """``-e key=value`` arguments, as a person types them (dicts as JSON)."""
    arguments: List[str] = []
    for key, value in variables.items():
        text = json.dumps({key: value}) if isinstance(value, (dict, list)) else f"{key}={str(value).lower() if isinstance(value, bool) else value}"
        arguments += ["-e", text]
    return arguments


def changed_set(run: PlaybookRun) -> Set[Tuple[str, str]]:
    return {(result.task, result.host) for result in run.results if result.changed}


def uploads(run: PlaybookRun) -> Dict[str, List[str]]:
    return {result.host: sorted(result.result.get("uploaded", [])) for result in run.task(UPLOAD_TASK)}


def versions(run: PlaybookRun) -> Dict[str, Dict[str, Any]]:
    """Per region and product: the version the run made (or would make), and whether the product is new."""
    found: Dict[str, Dict[str, Any]] = {}
    for result in run.task(CATALOG_TASK):
        for product in result.result.get("products", []):
            found.setdefault(result.host, {})[product["product_name"]] = (product["version_created"], product["artifact_name"],
                                                                          product["product_created"], product["fingerprint"])
    return found


class Pair:
    """A check run, then the real run, of the same command; the local AWS's writes of each."""

    def __init__(self, aws: Any, project: Any) -> None:
        self.aws, self.project = aws, project
        self.runner = PlaybookRunner(aws.env, user="planner")

    def run(self, *options: str, **overrides: Any) -> Tuple[PlaybookRun, Dict[str, int], PlaybookRun, Dict[str, int]]:
        arguments = as_strings(deploy_variables(self.project, **overrides))
        self.aws.reset_calls()
        check = self.runner.run(DEPLOY_PLAYBOOK, "--check", "--diff", *options, *arguments)
        check_writes = writes(self.aws.calls())
        assert check.returncode == 0, check.explain()
        self.aws.reset_calls()
        real = self.runner.run(DEPLOY_PLAYBOOK, *options, *arguments)
        assert real.returncode == 0, real.explain()
        return check, check_writes, real, writes(self.aws.calls())


@pytest.fixture(scope="module")
def pair(module_local_aws, tmp_path_factory) -> Pair:
    project = make_project(tmp_path_factory.mktemp("plan") / "project", "plan", REGIONS)
    state = Pair(module_local_aws, project)
    bootstrap(state.runner, project)
    return state


def assert_check_matches_real(check: PlaybookRun, check_writes: Dict[str, int], real: PlaybookRun) -> None:
    assert check_writes == {}, f"the check run wrote {check_writes}"
    assert uploads(check) == uploads(real)
    assert versions(check) == versions(real)
    assert changed_set(check) == changed_set(real), (
        f"only in check: {sorted(changed_set(check) - changed_set(real))}; only in the run: {sorted(changed_set(real) - changed_set(check))}")


def test_a_fresh_stage_check_run_says_what_the_first_run_does(pair: Pair) -> None:
    check, check_writes, real, _real_writes = pair.run()
    assert all(len(keys) > 0 for keys in uploads(real).values()) and set(uploads(real)) == set(REGIONS)
    assert {region: {name: made[:3] for name, made in products.items()} for region, products in versions(real).items()} == {
        region: {pair.project.catalog_name: (True, "V1", True)} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)


def test_a_no_change_check_run_says_nothing_changes(pair: Pair) -> None:
    check, check_writes, real, _real_writes = pair.run()
    assert uploads(real) == {region: [] for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)


def test_a_handler_change_check_run_names_the_new_version(pair: Pair) -> None:
    change_service(pair.project, "orders", "plan")
    check, check_writes, real, _real_writes = pair.run()
    assert {region: {name: made[:2] for name, made in products.items()} for region, products in versions(real).items()} == {
        region: {pair.project.catalog_name: (True, "V2")} for region in REGIONS}
    assert_check_matches_real(check, check_writes, real)
