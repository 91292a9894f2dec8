"""Bad inputs to ``playbooks/deploy.yml`` through the door users use: ``ansible-playbook`` with ``-e key=value`` strings
(what a terminal and an AWX survey send), ``-e @file`` (AWX's extra vars), ``--tags``, ``--skip-tags`` and ``--limit``.

Each run must fail in the first play with one line that names the key, the value and what is expected; the local AWS
server must count zero writes (so no lock was taken, nothing uploaded, no version created), and no ledger is left.
The full table of bad inputs runs against the check itself in tests/unit/plugins/module_utils/test_run_inputs.py;
these are the representatives of each kind, plus the two the check cannot see because it never runs (--skip-tags
always) or because the input only matters to Ansible (--limit).

The cases share the session's ``local_aws`` server and need nothing of their own there: none may touch it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from deploy_helpers import (
    DEPLOY_PLAYBOOK,
    REPO_ROOT,
    PlaybookRunner,
    bucket_keys,
    copy_project,
    entries,
    ledger,
    lock_value,
    run_id_of,
    writes,
)

pytestmark = [pytest.mark.integration]

INPUT_CHECK = "Check every input of the run and the project (nothing is written on a bad input)"
SKIP_ALWAYS_GUARDS = {f"Refuse --skip-tags always ({phase})" for phase in ("package", "catalog", "validate", "rollout")}
LONG_SERVICE = "s" + "x" * 119


def text_edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(project: Path) -> None:
        path = project / relative
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return apply


def new_file(relative: str, text: str) -> Callable[[Path], None]:
    def apply(project: Path) -> None:
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)

    return apply


@dataclass
class Case:
    name: str
    message: str  # the part of the one-line refusal that says what is wrong
    args: List[str] = field(default_factory=lambda: ["-e", "stage=dev"])  # after -e project_dir=...
    edit: Optional[Callable[[Path], None]] = None  # changes the copied project
    extra_vars_file: Optional[str] = None  # an AWX-style extra vars file, passed as -e @file
    task: str = INPUT_CHECK


def dev(*more: str) -> List[str]:
    return ["-e", "stage=dev", *more]


CASES = [
    Case("stage missing", "stage is required: run with -e stage=<stage> (one of: dev, prod, qa)", args=[]),
    Case("regions an empty list", "regions=[]: expected region names", args=dev("-e", '{"regions": []}')),
    Case("update_product maybe", "update_product='maybe': expected true or false (also yes/no, 1/0, in any case)", args=dev("-e", "update_product=maybe")),
    Case("package_init_stacks maybe", "package_init_stacks='maybe': expected true or false", args=dev("-e", "package_init_stacks=maybe")),
    Case("waves with an empty item", "rollout_waves='1,,2': expected region waves such as 1,50%,100%", args=dev("-e", "rollout_waves=1,,2")),
    Case("fail percentage word", "rollout_max_fail_percentage='abc': expected a whole number, 0 to 100", args=dev("-e", "rollout_max_fail_percentage=abc")),
    Case("tolerance banana", "rollout_failure_tolerance='banana': expected a count of failed tenants", args=dev("-e", "rollout_failure_tolerance=banana")),
    Case("near-miss update_products", "-e update_products: not a variable of this playbook; did you mean update_product?",
         args=dev("-e", "update_products=true")),
    Case("near-miss region", "-e region: not a variable of this playbook; did you mean regions?", args=dev("-e", "region=us-east-1")),
    Case("near-miss in an AWX extra vars file", "-e update_prodcut: not a variable of this playbook; did you mean update_product?",
         args=[], extra_vars_file="stage: dev\nupdate_prodcut: 'true'\n"),
    Case("tag rolout", "--tags rolout: not a tag of this playbook; did you mean rollout?", args=dev("--tags", "rolout")),
    Case("skip always", "--skip-tags always: the input check, the stage lock and the report run under the tag always",
         args=dev("--skip-tags", "always"), task="Refuse --skip-tags always (package)"),
    Case("skip always beside a phase", "--skip-tags always", args=dev("--skip-tags", "always,package"), task="Refuse --skip-tags always (catalog)"),
    Case("limit outside the stage", "--limit leaves no region of this run: it selects us-west-2, stage 'dev' deploys to",
         args=dev("--limit", "us-west-2")),
    Case("duplicate stage key", "the key 'dev' is given twice in one mapping", edit=text_edit("project.yml", "  qa:\n", "  dev:\n")),
    Case("bucket with {stage}", "artifact_bucket must be a name pattern containing {region} and no other placeholder, got 'mrs-{stage}-{region}'",
         edit=text_edit("project.yml", '"mrs-artifacts-dev-{region}"', '"mrs-{stage}-{region}"')),
    Case("octal-looking account id", "account_id=012345670123: expected 12 digits in quotes",
         edit=text_edit("project.yml", 'account_id: "123456789012"', "account_id: 012345670123")),
    Case("services_dir outside the project", "services_dir='../services': expected a folder inside the project",
         edit=text_edit("project.yml", "services_dir: services", "services_dir: ../services")),
    Case("unknown authorizer", "authorizer.service names 'authoriser', which is not one of the project's services; did you mean authorizer?",
         edit=text_edit("project.yml", "service: authorizer", "service: authoriser")),
    Case("120-character service name", f"service folder '{LONG_SERVICE}' (120 characters): expected a Serverless service name",
         edit=new_file(f"services/{LONG_SERVICE}/serverless.yml", f"service: {LONG_SERVICE}\nprovider: {{name: aws}}\n")),
    Case("product name with a space", "product 'tenant billing' of stage 'dev' would be the Service Catalog product 'tenant billing-dev'",
         edit=new_file("products/tenant billing.yml", "description: Billing add-on\nnested_stacks:\n  - service: payments\n")),
]


@pytest.fixture(scope="module")
def runner(local_aws) -> PlaybookRunner:
    return PlaybookRunner(local_aws.env)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_in_one_line_with_nothing_written(case: Case, runner: PlaybookRunner, local_aws, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    if case.edit:
        case.edit(project)
    args = ["-e", f"project_dir={project}", *case.args]
    if case.extra_vars_file:
        (tmp_path / "extravars").write_text(case.extra_vars_file)
        args += ["-e", f"@{tmp_path / 'extravars'}"]
    local_aws.reset_calls()

    run = runner.run(DEPLOY_PLAYBOOK, *args)

    assert run.returncode != 0, run.explain()
    assert len(run.failures) == 1, run.explain()  # refused once, by the first play, for the whole run
    failure = run.failures[0]
    assert failure.task == case.task, run.explain()
    assert case.message in failure.msg, run.explain()
    assert "\n" not in failure.msg
    assert writes(local_aws.calls()) == {}  # nothing uploaded, versioned or locked: the server's count, not ours
    assert lock_value(local_aws, "us-east-1", "/multiregion/dev") is None
    assert not (project / ".deploy-runs").exists(), "a refused run leaves no ledger"
    assert "deploy_run_id" not in run.stats


def survey_extra_vars(path: Path, **answers: str) -> Path:
    """The extra vars file AWX hands ansible-runner for a launch of the deploy template: every survey question's default,
    overridden by ``answers``, all of them strings (AWX sends a multiple choice "false" as the string "false")."""
    survey = json.loads((REPO_ROOT / "awx" / "surveys" / "deploy.json").read_text())
    values = {question["variable"]: str(question.get("default", "")) for question in survey["spec"]}
    values.update(answers)
    path.write_text(json.dumps(values))
    return path


def test_survey_strings_are_booleans_and_a_limit_keeps_the_lock_in_the_primary_region(runner: PlaybookRunner, local_aws, tmp_path: Path) -> None:
    """A launch of the AWX deploy template (survey answers and template extra vars, all strings, as -e @file), with
    --limit to one region that is not the primary one.

    The survey's empty regions mean all of the stage's (and the run says so), "false" turns the init stacks off (it used
    to be truthy), the survey's "false" keeps the rollout off; the lock and the ledger still go to the stage's primary
    region, once, and the run covers the limited region only.
    """
    project = copy_project(tmp_path / "project")
    assert runner.bootstrap(project, "qa", ["us-east-1", "eu-west-1"]).returncode == 0
    extra_vars = survey_extra_vars(tmp_path / "extravars", stage="qa", project_dir=str(project), package_init_stacks="false", package_products="FALSE")
    local_aws.reset_calls()

    run = runner.run(DEPLOY_PLAYBOOK, "-e", f"@{extra_vars}", "--limit", "eu-west-1", "--tags", "package")

    assert run.returncode == 0, run.explain()
    assert "deploy plan: regions: every region of stage 'qa' (us-east-1, eu-west-1)" in run.stdout
    assert "deploy plan: --limit: only eu-west-1 (of us-east-1, eu-west-1)" in run.stdout
    run_ledger = ledger(project, run_id_of(run))
    assert run_ledger["run"]["regions"] == ["eu-west-1"]
    packaged = {entry["service"] for entry in entries(run_ledger, "packaging")}
    assert packaged and not packaged & {"network-baseline", "shared-observability"}, packaged  # the init stacks stayed off
    assert not any(key.startswith("init/") for key in bucket_keys(local_aws, "mrs-artifacts-qa-eu-west-1", "eu-west-1"))
    assert bucket_keys(local_aws, "mrs-artifacts-qa-us-east-1", "us-east-1") == {f"runs/qa/{run_id_of(run)}/ledger.json", f"runs/qa/{run_id_of(run)}/report.md"}
    calls = writes(local_aws.calls())
    assert calls["ssm:PutParameter"] == 1 and calls["ssm:DeleteParameter"] == 1  # the lock, taken and released once
    assert lock_value(local_aws, "us-east-1", "/multiregion/qa") is None
    assert not run.task("Update every tenant of every product to the version in SSM")
