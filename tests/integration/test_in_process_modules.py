"""Our modules run in the controller's process for a local connection (plugins/plugin_utils/in_process.py): the
same task, run that way and run as a module (a task environment sends it there), must give the same result and
leave AWS in the same state, through ``ansible-playbook`` as users run it.

Each case runs twice on its own SSM prefix (``/in-process/...`` and ``/module/...``): results are compared with the
prefix put back, so a write in one path cannot make the other's result agree by accident.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from deploy_helpers import PlaybookRun, PlaybookRunner, lock_value

pytestmark = pytest.mark.integration

REGION = "us-east-1"
PATHS = {"in-process": "/in-process/dev", "module": "/module/dev"}
SECRET = "not-a-real-secret-but-never-printed-7f3a"
LOCK = {"stage": "dev", "run_id": "20261203T000000Z-aaaaaa", "holder": "alice", "started": "2026-12-03T00:00:00Z"}
OTHER_RUN = "20261203T000000Z-bbbbbb"

# (case, module arguments, check mode): in this order, against the same two prefixes.
CASES: List[Tuple[str, Dict[str, Any], bool]] = [
    ("take, checked", {}, True),
    ("take", {}, False),
    ("take again", {}, False),
    ("taken by another run", {"run_id": OTHER_RUN, "holder": "bob"}, False),
    ("zero attempts", {"max_attempts": 0}, False),
    ("unknown option", {"bogus": 1}, False),
    ("a secret given", {"state": "absent", "run_id": OTHER_RUN, "access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": SECRET}, False),
    ("release, checked", {"state": "absent"}, True),
    ("release", {"state": "absent"}, False),
]


def playbook(path: Path) -> Path:
    tasks = []
    for case, arguments, check in CASES:
        for how, prefix in PATHS.items():
            task: Dict[str, Any] = {
                "name": f"{how}: {case}",
                "multiregion.serverless.deploy_lock": {**LOCK, "ssm_prefix": prefix, **arguments},
                "check_mode": check,
                "ignore_errors": True,
            }
            if how == "module":
                task["environment"] = {"MULTIREGION_TEST": "run as a module"}
            tasks.append(task)
    play = {
        "name": "deploy_lock both ways",
        "hosts": REGION,
        "gather_facts": False,
        "module_defaults": {"group/multiregion.serverless.aws": {"region": REGION}},
        "tasks": tasks,
    }
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def result_of(run: PlaybookRun, how: str, case: str) -> Dict[str, Any]:
    (found,) = run.task(f"{how}: {case}")
    text = json.dumps(found.result, sort_keys=True).replace(PATHS[how], "<prefix>")
    return json.loads(text)


@pytest.fixture(scope="module")
def both_ways(local_aws, tmp_path_factory) -> PlaybookRun:
    runner = PlaybookRunner(local_aws.env)
    run = runner.run(playbook(tmp_path_factory.mktemp("in-process") / "deploy_lock.yml"), "-vvv")
    assert run.document, run.explain()
    return run


@pytest.mark.parametrize("case", [case for case, _arguments, _check in CASES])
def test_the_same_task_gives_the_same_result_in_process_and_as_a_module(both_ways: PlaybookRun, case: str) -> None:
    in_process, module = result_of(both_ways, "in-process", case), result_of(both_ways, "module", case)
    assert in_process == module, in_process.get("msg")


def test_what_each_case_reports(both_ways: PlaybookRun, local_aws) -> None:
    """The comparison above would pass if both paths were wrong together: what each case must say."""
    results = {case: result_of(both_ways, "in-process", case) for case, _arguments, _check in CASES}
    assert results["take, checked"]["changed"] is True
    assert results["take"]["changed"] is True and results["take again"]["changed"] is False
    assert results["taken by another run"]["failed"] and "is being deployed by alice" in results["taken by another run"]["msg"]
    assert re.match(r"Unsupported parameters for \(multiregion\.serverless\.deploy_lock\) module: bogus\. ", results["unknown option"]["msg"])
    assert results["zero attempts"] == {**results["zero attempts"], "failed": True, "msg": "max_attempts must be 1 or more, got 0"}
    assert results["a secret given"]["changed"] is False
    assert results["a secret given"]["invocation"]["module_args"]["secret_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert results["release, checked"]["changed"] is True and results["release"]["changed"] is True
    for prefix in PATHS.values():  # both released, nothing left behind
        assert lock_value(local_aws, REGION, prefix) is None


def test_only_the_tasks_with_an_environment_started_a_module(both_ways: PlaybookRun) -> None:
    started = re.findall(r"Using module file \S+/deploy_lock\.py", both_ways.stdout + both_ways.stderr)
    assert len(started) == len(CASES)  # one per module-path task, none for the in-process ones
    assert SECRET not in both_ways.stdout + both_ways.stderr
