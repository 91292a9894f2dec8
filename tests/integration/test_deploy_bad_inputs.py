"""Bad inputs to ``playbooks/deploy.yml``: each run fails in the first play with one line that says what to fix,
and the local AWS server counts zero writes (it counts every call, so "zero" is the server's word, not ours).

The cases run one after another against the shared ``local_aws`` server; none of them may get far enough to
touch it, so they need no state of their own there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import pytest

from deploy_helpers import DEPLOY_PLAYBOOK, PlaybookRunner, copy_project, edit_project_settings, writes

pytestmark = [pytest.mark.integration]

# Tasks of the first play that may refuse an input: the plan check and the resume check.
INPUT_CHECKS = {
    "Check the stage, regions and project settings (nothing is written on a bad input)",
    "Refuse an unknown run id",
}


def set_stage(**settings: Any) -> Callable[[Dict[str, Any]], None]:
    def edit(project: Dict[str, Any]) -> None:
        project["stages"]["dev"].update(settings)

    return edit


@dataclass
class Case:
    name: str
    message: str  # the part of the one-line message that says what is wrong
    variables: Dict[str, Any] = field(default_factory=lambda: {"stage": "dev"})
    edit: Optional[Callable[[Dict[str, Any]], None]] = None  # changes project.yml of a copy
    project: Optional[Callable[[Path], Path]] = None  # replaces the project folder altogether


def missing_folder(tmp: Path) -> Path:
    return tmp / "no-such-project"


def folder_without_project_yml(tmp: Path) -> Path:
    path = tmp / "empty-project"
    path.mkdir()
    return path


def folder_with_broken_yaml(tmp: Path) -> Path:
    path = copy_project(tmp / "broken-yaml")
    (path / "project.yml").write_text("stages:\n  dev: [us-east-1\n")
    return path


CASES = [
    Case("stage missing", "stage is required: run with -e stage=<stage> (one of: dev, prod, qa)", variables={}),
    Case("stage unknown", "stage 'staging' is not defined in project.yml (defined: dev, prod, qa)", {"stage": "staging"}),
    Case("stage not a plain name", "stage must be a plain name such as dev or prod, got 'dev/../prod'", {"stage": "dev/../prod"}),
    Case("regions with an empty item", "without empty items, got 'us-east-1,,eu-west-1'", {"stage": "dev", "regions": "us-east-1,,eu-west-1"}),
    Case("regions repeated", "regions lists us-east-1 more than once", {"stage": "dev", "regions": "us-east-1,eu-west-1,us-east-1"}),
    Case("regions not a list", "regions must be a comma-separated list such as 'us-east-1,eu-west-1'", {"stage": "dev", "regions": {"us-east-1": True}}),
    Case("region name not a region", "'mars-north-1' is not an AWS region name", {"stage": "dev", "regions": "us-east-1,mars-north-1"}),
    Case(
        "region not in the stage",
        "region us-west-2 is not in stage 'dev' (its regions: us-east-1, eu-west-1, ap-southeast-2)",
        {"stage": "dev", "regions": "us-west-2"},
    ),
    Case(
        "region without an inventory host",
        "region ca-central-1 has no host in the inventory",
        edit=set_stage(regions=["us-east-1", "eu-west-1", "ca-central-1"]),
    ),
    Case("project_dir missing", "project_dir is not a directory:", project=missing_folder),
    Case("project_dir without project.yml", "project.yml not found:", project=folder_without_project_yml),
    Case("project.yml not YAML", "project.yml is not valid YAML (line", project=folder_with_broken_yaml),
    Case("project.yml without stages", "project.yml defines no stages", edit=lambda project: project.update(stages={})),
    Case("authorizer order", "'authorizer.order' must be first or last, got 'middle'", edit=lambda project: project["authorizer"].update(order="middle")),
    Case("account id not 12 digits", "stage 'dev' account_id must be 12 digits, got '12345'", edit=set_stage(account_id="12345")),
    Case("stage without regions", "stage 'dev' lists no regions", edit=set_stage(regions=[])),
    Case(
        "bucket pattern without {region}",
        "stage 'dev' artifact_bucket must be a name pattern containing {region}",
        edit=set_stage(artifact_bucket="mrs-artifacts-dev"),
    ),
    Case(
        "bucket pattern giving an invalid name",
        "artifact bucket 'MRS_Artifacts_us-east-1' is not a valid S3 bucket name",
        edit=set_stage(artifact_bucket="MRS_Artifacts_{region}"),
    ),
    Case(
        "ssm prefix not a path",
        "ssm_prefix must be an SSM path such as /multiregion/dev, got 'multiregion/dev'",
        edit=set_stage(ssm_prefix="multiregion/dev"),
    ),
    Case(
        "primary region outside the stage",
        "primary_region 'us-west-2' is not one of its regions (us-east-1, eu-west-1, ap-southeast-2)",
        edit=set_stage(primary_region="us-west-2"),
    ),
    Case("resume id malformed", "resume must be a run id such as 20261123T120000Z-1a2b3c, got '../x'", {"stage": "dev", "resume": "../x"}),
    Case("resume of an unknown run", "resume=20261123T120000Z-1a2b3c: no such run (no ledger at", {"stage": "dev", "resume": "20261123T120000Z-1a2b3c"}),
]


@pytest.fixture(scope="module")
def runner(local_aws) -> PlaybookRunner:
    return PlaybookRunner(local_aws.env)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_with_one_line_and_no_aws_write(case: Case, runner: PlaybookRunner, local_aws, tmp_path: Path) -> None:
    if case.project:
        project = case.project(tmp_path)
    else:
        project = copy_project(tmp_path / "project")
        if case.edit:
            edit_project_settings(project, case.edit)
    local_aws.reset_calls()

    run = runner.run(DEPLOY_PLAYBOOK, extra_vars={"project_dir": str(project), **case.variables})

    assert run.returncode != 0, run.explain()
    assert len(run.failures) == 1, run.explain()  # refused once, by the first play, for the whole run
    failure = run.failures[0]
    assert failure.task in INPUT_CHECKS, run.explain()
    assert case.message in failure.msg, run.explain()
    assert "\n" not in failure.msg
    assert writes(local_aws.calls()) == {}
    assert not (project / ".deploy-runs").exists(), "a refused run leaves no ledger"
    assert "deploy_run_id" not in run.stats
