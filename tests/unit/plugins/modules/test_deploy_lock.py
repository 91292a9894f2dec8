"""deploy_lock in-process against the local AWS (``aws_mock``): take, take again, refuse, break, release."""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.module_utils.naming import lock_parameter_name
from ansible_collections.multiregion.serverless.plugins.modules import deploy_lock

REGION = "us-east-1"
PREFIX = "/multiregion/locktest"
LOCK = lock_parameter_name(PREFIX)
MINE, OTHER = "20261123T000000Z-aaaaaa", "20261123T000000Z-bbbbbb"


def call(capsys, run_id=MINE, check=False, **args):
    base = {"ssm_prefix": PREFIX, "stage": "dev", "run_id": run_id, "holder": "alice", "started": "2026-11-23T00:00:00Z", "region": REGION,
            "_ansible_check_mode": check}
    base.update(args)
    with patch_module_args(base), pytest.raises(SystemExit):
        deploy_lock.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def ssm(aws_mock):
    return aws_mock.client("ssm", REGION)


def holder(ssm):
    try:
        return json.loads(ssm.get_parameter(Name=LOCK)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def test_take_check_mode_writes_nothing_then_take_is_idempotent(ssm, capsys):
    checked = call(capsys, check=True)
    assert checked["changed"] and checked["parameter"] == LOCK and holder(ssm) is None
    taken = call(capsys)
    assert taken["changed"] and not taken["broken"] and taken["owner"] == {}
    assert holder(ssm) == {"run_id": MINE, "holder": "alice", "started": "2026-11-23T00:00:00Z"}
    again = call(capsys)
    assert again["changed"] is False and again["owner"]["run_id"] == MINE


def test_another_runs_lock_is_refused_and_broken_only_on_request(ssm, capsys):
    call(capsys, run_id=OTHER, holder="bob")
    refused = call(capsys)
    assert refused["failed"] and refused["msg"].startswith(f"stage 'dev' is being deployed by bob (run {OTHER}") and "break_lock=true" in refused["msg"]
    assert refused["owner"]["run_id"] == OTHER and holder(ssm)["run_id"] == OTHER
    broken = call(capsys, break_lock=True)
    assert broken["changed"] and broken["broken"] and holder(ssm)["run_id"] == MINE


def test_release_frees_only_the_lock_of_this_run(ssm, capsys):
    call(capsys)
    assert call(capsys, run_id=OTHER, state="absent")["changed"] is False and holder(ssm)["run_id"] == MINE
    assert call(capsys, state="absent", check=True)["changed"] is True and holder(ssm)["run_id"] == MINE
    released = call(capsys, state="absent")
    assert released["changed"] and released["owner"]["run_id"] == MINE and holder(ssm) is None
    assert call(capsys, state="absent")["changed"] is False
