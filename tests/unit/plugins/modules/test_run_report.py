"""run_report in-process against the local AWS (``aws_mock``): the ledger is written and the stage lock freed in one call."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_lock import lock_parameter_name, lock_value
from ansible_collections.multiregion.serverless.plugins.modules import run_report

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "/multiregion/dev"
LOCK = lock_parameter_name(PREFIX)


def run(capsys, tmp_path, check=False, **args):
    base = {"run": {"run_id": "20261123T000000Z-abcdef", "stage": "dev", "regions": [REGION], "status": "succeeded"},
            "runs_dir": str(tmp_path / "runs"), "region": REGION, "lock_ssm_prefix": PREFIX, "_ansible_check_mode": check}
    base.update(args)
    with patch_module_args(base), pytest.raises(SystemExit):
        run_report.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def ssm(aws_mock):
    return aws_mock.client("ssm", REGION)


def hold_lock(ssm, run_id):
    ssm.put_parameter(Name=LOCK, Value=lock_value(run_id, "someone", "now"), Type="String")


def test_the_lock_of_this_run_is_released_after_the_ledger_is_written(ssm, capsys, tmp_path):
    hold_lock(ssm, "20261123T000000Z-abcdef")
    checked = run(capsys, tmp_path, check=True)
    assert checked["lock_released"] and ssm.get_parameter(Name=LOCK)  # check mode: would release, did not
    # The check run's ledger and report are its plan: written locally, marked so no run resumes them.
    assert checked["changed"] and json.loads(Path(checked["ledger_path"]).read_text())["run"]["check_mode"] is True
    assert Path(checked["report_path"]).is_file()
    plan = json.loads((Path(checked["plan_path"]).parent / "plan.json").read_text())
    assert plan["run"] == {"run_id": "20261123T000000Z-abcdef", "stage": "dev", "check_mode": True} and Path(checked["plan_path"]).name == "plan.md"
    assert checked["plan_summary"] == []  # no region results
    done = run(capsys, tmp_path)
    assert done["lock_released"] and (tmp_path / "runs" / "20261123T000000Z-abcdef" / "ledger.json").is_file()
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=LOCK)
    assert run(capsys, tmp_path)["lock_released"] is False


def test_a_failed_ledger_upload_still_releases_the_lock(ssm, capsys, tmp_path):
    hold_lock(ssm, "20261123T000000Z-abcdef")
    failed = run(capsys, tmp_path, bucket="no-such-bucket", expected_bucket_owner=ACCOUNT)
    assert failed["failed"] and "PutObject" in failed["msg"] and "\n" not in failed["msg"]
    assert failed["lock_released"]
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=LOCK)


def test_another_runs_lock_is_left_alone(ssm, capsys, tmp_path):
    hold_lock(ssm, "20261124T000000Z-other")
    assert run(capsys, tmp_path)["lock_released"] is False
    assert "20261124T000000Z-other" in ssm.get_parameter(Name=LOCK)["Parameter"]["Value"]
