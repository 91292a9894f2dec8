"""plugin_utils/in_process.py: a module run in the controller's process reports what the module process reports.

The module path is the module's own ``main()`` (``patch_module_args``, its JSON on stdout); the in-process path is
``module_result`` with the module's ``MODULE_SPEC`` and ``run``: both against the in-process local AWS.
"""
from __future__ import annotations

import datetime
import json
import sys
import typing as t

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.modules import catalog_artifact_version, deploy_lock, sls_package
from ansible_collections.multiregion.serverless.plugins.plugin_utils import in_process

REGION = "us-east-1"
LOCK = {"ssm_prefix": "/unit/dev", "stage": "dev", "run_id": "20261203T000000Z-aaaaaa", "holder": "alice", "started": "2026-12-03T00:00:00Z"}


def as_module(module: t.Any, capsys: pytest.CaptureFixture[str], args: t.Dict[str, t.Any], check_mode: bool = False) -> t.Dict[str, t.Any]:
    name = module.__name__.rsplit(".", 1)[-1]
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_module_name=name)), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def in_controller(module: t.Any, args: t.Dict[str, t.Any], check_mode: bool = False, talks_to_aws: bool = True) -> t.Dict[str, t.Any]:
    return in_process.module_result(
        module.run, module.MODULE_SPEC, args, talks_to_aws=talks_to_aws, name=module.__name__.rsplit(".", 1)[-1], check_mode=check_mode, diff=False
    )


OTHER_RUN = dict(LOCK, region=REGION, run_id="20261203T000000Z-bbbbbb", holder="bob")
# case: (arguments, check mode, whether alice's run holds the lock before the call)
CASES = {
    "take, checked": (dict(LOCK, region=REGION), True, False),
    "take": (dict(LOCK, region=REGION), False, False),
    "take again": (dict(LOCK, region=REGION), False, True),
    "taken by another run": (OTHER_RUN, False, True),
    "release": (dict(LOCK, region=REGION, state="absent"), False, True),
    "no attempts": (dict(LOCK, region=REGION, max_attempts=0), False, False),
    "an unknown option": (dict(LOCK, region=REGION, bogus=True), False, False),
    "a required option missing": ({"region": REGION, "stage": "dev"}, False, False),
    "a secret given": (dict(OTHER_RUN, state="absent", secret_key="s3cr3t-value"), False, True),
}


def lock_held_by_alice(ssm: t.Any, held: bool) -> None:
    ssm.delete_parameters(Names=[f"{LOCK['ssm_prefix']}/deploy-lock"])
    if held:
        taken = in_controller(deploy_lock, dict(LOCK, region=REGION))
        assert taken["changed"], taken


def a_case(aws_mock: t.Any, case: str, run: t.Callable[[t.Dict[str, t.Any], bool], t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    args, check_mode, held = CASES[case]
    lock_held_by_alice(aws_mock.client("ssm", REGION), held)
    result = run(args, check_mode)
    return dict(result, lock_after=aws_mock.client("ssm", REGION).describe_parameters()["Parameters"] != [])


@pytest.mark.parametrize("case", CASES)
def test_deploy_lock_reports_and_writes_the_same_both_ways(aws_mock: t.Any, capsys: pytest.CaptureFixture[str], case: str) -> None:
    module = a_case(aws_mock, case, lambda args, check_mode: as_module(deploy_lock, capsys, args, check_mode))
    assert a_case(aws_mock, case, lambda args, check_mode: in_controller(deploy_lock, args, check_mode)) == module


def test_what_the_cases_say(aws_mock: t.Any) -> None:
    """Equal could mean equally wrong: the messages users read."""
    results = {case: a_case(aws_mock, case, lambda args, check_mode: in_controller(deploy_lock, args, check_mode)) for case in CASES}
    assert results["take, checked"]["changed"] is True and not results["take, checked"]["lock_after"]
    assert results["take"]["changed"] is True and results["take"]["lock_after"] and results["take again"]["changed"] is False
    assert results["release"]["changed"] is True and not results["release"]["lock_after"]
    assert results["taken by another run"]["msg"].startswith("stage 'dev' is being deployed by alice")
    assert results["no attempts"]["msg"] == "max_attempts must be 1 or more, got 0"
    assert results["an unknown option"]["msg"].startswith("Unsupported parameters for (deploy_lock) module: bogus. Supported parameters include: ")
    assert results["a required option missing"]["msg"] == "missing required arguments: run_id, ssm_prefix"
    assert results["a secret given"]["invocation"]["module_args"]["secret_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "s3cr3t-value" not in json.dumps(results)


def test_a_module_that_requires_a_region_and_its_constraints(aws_mock: t.Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    both = {"product": "p", "template_url": "https://b.s3.amazonaws.com/t.json", "template_path": "/t.json", "ssm_prefix": "/unit/dev", "stage": "dev",
            "region": REGION}
    assert in_controller(catalog_artifact_version, both) == as_module(catalog_artifact_version, capsys, both)
    assert in_controller(catalog_artifact_version, both)["msg"] == "parameters are mutually exclusive: template_url|template_path"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    no_region = {key: value for key, value in both.items() if key not in ("region", "template_path")}
    assert in_controller(catalog_artifact_version, no_region) == as_module(catalog_artifact_version, capsys, no_region)
    assert in_controller(catalog_artifact_version, no_region)["msg"].startswith("region is required")


def test_a_module_that_does_not_talk_to_aws_gets_no_aws_options(capsys: pytest.CaptureFixture[str]) -> None:
    args = {"project_dir": "/nonexistent", "stage": "dev", "region": REGION, "aws_config": {}}
    result = in_controller(sls_package, args, talks_to_aws=False)
    assert result == as_module(sls_package, capsys, args)
    assert result["failed"] and "aws_config" in result["msg"] and result["msg"].startswith("Unsupported parameters for (sls_package) module")


def test_the_result_crosses_a_module_json_channel() -> None:
    class Secret:
        params = {"token": "t0ken-value"}

    def run(module: in_process.InProcessModule) -> t.NoReturn:
        module.warn("first")
        module.warn("first")
        module.exit_json(changed=False, when=datetime.datetime(2026, 12, 3, 12, 0), pair=("a", "b"), echo=module.params["token"])

    spec = {"argument_spec": {"token": {"type": "str", "no_log": True}}, "supports_check_mode": True}
    result = in_process.module_result(run, spec, Secret.params, talks_to_aws=False, name="probe", check_mode=False, diff=False)
    assert result["when"] == "2026-12-03T12:00:00" and result["pair"] == ["a", "b"] and result["warnings"] == ["first"]
    assert result["echo"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" and result["invocation"] == {"module_args": {"token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}


def test_a_run_that_neither_exits_nor_fails_is_a_bug_not_a_result() -> None:
    with pytest.raises(RuntimeError, match="probe returned without exit_json or fail_json"):
        in_process.module_result(lambda module: None, {"argument_spec": {}}, {}, talks_to_aws=False, name="probe", check_mode=False, diff=False)


@pytest.mark.parametrize(
    "where, expected",
    [
        ({}, True),
        ({"interpreter": sys.executable}, True),
        ({"interpreter": "auto_silent"}, True),
        ({"transport": "ssh"}, False),
        ({"become": True}, False),
        ({"async_val": 30}, False),
        ({"environment": {"HTTPS_PROXY": "http://proxy:3128"}}, False),
        ({"interpreter": "/opt/other/bin/python3"}, False),
        ({"debug_endpoint_logs": True}, False),
    ],
)
def test_when_a_module_runs_in_the_controller(where: t.Dict[str, t.Any], expected: bool) -> None:
    local = {"transport": "local", "become": False, "async_val": 0, "environment": {}, "interpreter": None, "debug_endpoint_logs": False}
    assert in_process.runs_in_process(**dict(local, **where)) is expected


def test_an_old_botocore_is_warned_about_both_ways(aws_mock: t.Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """amazon.aws's SDK check runs in-process too: a botocore older than amazon.aws supports is the same warning."""
    from ansible_collections.amazon.aws.plugins.module_utils import botocore as amazon_botocore

    monkeypatch.setattr(amazon_botocore, "MINIMUM_BOTOCORE_VERSION", "99.0.0")
    args, check_mode, _held = CASES["take, checked"]
    in_controller_result = in_controller(deploy_lock, args, check_mode)
    assert any("botocore" in warning and "99.0.0" in warning for warning in in_controller_result["warnings"]), in_controller_result
    assert in_controller_result == as_module(deploy_lock, capsys, args, check_mode)
