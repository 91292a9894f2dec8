"""The deploy inputs: every bad one is refused with one line that says what to fix."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_lock import (
    held_message,
    lock_parameter_name,
    lock_value,
    parse_lock_value,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_plan import (
    PlanError,
    build_plan,
    check_resume,
    check_run_id,
    parse_regions_argument,
)

PROJECT_YML = """
services_dir: services
products_dir: products
always_excluded_services: [legacy]
authorizer: {service: authorizer, order: first}
stages:
  dev:
    account_id: "123456789012"
    primary_region: us-east-1
    regions: [us-east-1, eu-west-1, ap-southeast-2]
    artifact_bucket: "mrs-artifacts-dev-{region}"
    excluded_services: []
    ssm_prefix: /multiregion/dev
  prod:
    account_id: "123456789012"
    regions: [us-east-1, us-west-2]
    artifact_bucket: "mrs-artifacts-prod-{region}"
    excluded_services: [e2e-fixtures]
"""


SERVICES = ("authorizer", "orders", "legacy", "e2e-fixtures")


def make_project(tmp_path: Path, text: str = PROJECT_YML) -> str:
    """A project with the services and the product PROJECT_YML names (each service a one-line serverless.yml)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "project.yml").write_text(textwrap.dedent(text))
    for service in SERVICES:
        (tmp_path / "services" / service).mkdir(parents=True)
        (tmp_path / "services" / service / "serverless.yml").write_text(f"service: {service}\n")
    (tmp_path / "products").mkdir()
    (tmp_path / "products" / "platform-core.yml").write_text("name: platform-core\nnested_stacks: [{service: orders}]\n")
    return str(tmp_path)


def test_plan_of_a_good_stage(tmp_path):
    plan = build_plan(make_project(tmp_path), "dev")
    assert plan["regions"] == ["us-east-1", "eu-west-1", "ap-southeast-2"]
    assert plan["primary_region"] == "us-east-1"
    assert plan["artifact_buckets"]["eu-west-1"] == "mrs-artifacts-dev-eu-west-1"
    assert plan["products"] == ["platform-core"]
    assert plan["always_excluded_services"] == ["legacy"]


def test_regions_narrow_in_stage_order(tmp_path):
    plan = build_plan(make_project(tmp_path), "dev", "ap-southeast-2,us-east-1")
    assert plan["regions"] == ["us-east-1", "ap-southeast-2"]


def test_prod_defaults(tmp_path):
    plan = build_plan(make_project(tmp_path), "prod", ["us-west-2"])
    assert plan["primary_region"] == "us-east-1"
    assert plan["ssm_prefix"] == "/multiregion/prod"
    assert plan["excluded_services"] == ["e2e-fixtures"]


@pytest.mark.parametrize(
    "stage, regions, inventory, message",
    [
        (None, None, (), "stage is required: run with -e stage=<stage> (one of: dev, prod)"),
        ("", None, (), "stage is required"),
        ("staging", None, (), "stage 'staging' is not defined in project.yml (defined: dev, prod)"),
        ("dev; rm -rf /", None, (), "stage must be a plain name"),
        ("dev", "us-east-1,,eu-west-1", (), "without empty items"),
        ("dev", "moon-base-1", (), "'moon-base-1' is not an AWS region name"),
        ("dev", "us-west-2", (), "region us-west-2 is not in stage 'dev' (its regions: us-east-1, eu-west-1, ap-southeast-2)"),
        ("dev", "us-east-1,us-east-1", (), "regions lists us-east-1 more than once"),
        ("dev", 42, (), "regions=42: expected region names such as 'us-east-1,eu-west-1'"),
        ("dev", "eu-west-1", ("us-east-1",), "region eu-west-1 has no host in the inventory"),
    ],
)
def test_bad_inputs_fail_with_one_line(tmp_path, stage, regions, inventory, message):
    with pytest.raises(PlanError) as info:
        build_plan(make_project(tmp_path), stage, regions, inventory)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "replace, message",
    [
        (('account_id: "123456789012"\n    primary_region', 'account_id: "1234"\n    primary_region'), "account_id must be 12 digits"),
        (('"mrs-artifacts-dev-{region}"', '"mrs-artifacts-dev"'), "artifact_bucket must be a name pattern containing {region}"),
        (('"mrs-artifacts-dev-{region}"', '"MRS_{region}"'), "is not a valid S3 bucket name"),
        (("ssm_prefix: /multiregion/dev", "ssm_prefix: multiregion dev"), "ssm_prefix must be an SSM path"),
        (("primary_region: us-east-1", "primary_region: us-west-2"), "primary_region 'us-west-2' is not one of its regions"),
        (("order: first", "order: sometimes"), "'authorizer.order' must be first or last"),
        (("regions: [us-east-1, eu-west-1, ap-southeast-2]", "regions: [us-east-1, mars-1]"), "region 'mars-1' is not an AWS region name"),
        (("stages:", "stages: [\n"), "project.yml is not valid YAML"),
    ],
)
def test_bad_project_settings(tmp_path, replace, message):
    old, new = replace
    assert old in PROJECT_YML
    with pytest.raises(PlanError) as info:
        build_plan(make_project(tmp_path, PROJECT_YML.replace(old, new, 1)), "dev")
    assert message in str(info.value)


def test_missing_project(tmp_path):
    with pytest.raises(PlanError, match="project_dir is not a directory"):
        build_plan(str(tmp_path / "nope"), "dev")
    with pytest.raises(PlanError, match="project.yml not found"):
        build_plan(str(tmp_path), "dev")


def test_regions_argument_forms():
    assert parse_regions_argument("") is None  # the AWX survey's "empty for all"
    for refused in (None, [], " ", ",", " , "):
        with pytest.raises(PlanError, match="expected region names"):
            parse_regions_argument(refused)
    assert parse_regions_argument(" us-east-1 , eu-west-1 ") == ["us-east-1", "eu-west-1"]
    assert parse_regions_argument(["us-gov-west-1"]) == ["us-gov-west-1"]


def test_run_id():
    assert check_run_id("20261123T120000Z-1a2b3c") == "20261123T120000Z-1a2b3c"
    with pytest.raises(PlanError, match="resume must be a run id"):
        check_run_id("../../etc/passwd")


def test_lock_value_round_trip_and_message():
    owner = parse_lock_value(lock_value("20261123T120000Z-1a2b3c", "ci@runner", "2026-11-23T12:00:00Z"))
    assert owner == {"run_id": "20261123T120000Z-1a2b3c", "holder": "ci@runner", "started": "2026-11-23T12:00:00Z"}
    assert lock_parameter_name("/multiregion/dev/") == "/multiregion/dev/deploy-lock"
    message = held_message("dev", "/multiregion/dev/deploy-lock", owner)
    assert "ci@runner" in message and "2026-11-23T12:00:00Z" in message and "break_lock=true" in message
    assert parse_lock_value("hand made")["holder"] == "hand made"


# ------------------------------------------------------------------------------------ stages own their products


def test_each_stage_gets_its_own_catalog_names(tmp_path):
    project = make_project(tmp_path, PROJECT_YML + "    product_names: {platform-core: platform-core}\n")
    assert build_plan(project, "dev")["catalog_names"] == {"platform-core": "platform-core-dev"}
    assert build_plan(project, "prod")["catalog_names"] == {"platform-core": "platform-core"}


@pytest.mark.parametrize(
    "prod_extra, message",
    [
        # dev's default name, chosen by hand for prod: one product for two stages in us-east-1.
        ("product_names: {platform-core: platform-core-dev}",
         "stages 'dev' and 'prod' collide: both would use the Service Catalog product 'platform-core-dev' in account 123456789012, "
         "region us-east-1 (key: stages.prod.product_names.platform-core); give each stage its own"),
        ("ssm_prefix: /multiregion/dev", "their SSM prefixes /multiregion/dev and /multiregion/dev overlap in account 123456789012, region us-east-1"),
        ("ssm_prefix: /multiregion/dev/sub", "their SSM prefixes /multiregion/dev and /multiregion/dev/sub overlap"),
        ("artifact_bucket: \"mrs-artifacts-dev-{region}\"", "both use the artifact bucket mrs-artifacts-dev-us-east-1 (key: stages.prod.artifact_bucket)"),
    ],
)
def test_stages_that_would_collide_are_refused_in_one_line_naming_both(tmp_path, prod_extra, message):
    text = PROJECT_YML.replace('    artifact_bucket: "mrs-artifacts-prod-{region}"\n', "") if "artifact_bucket" in prod_extra else PROJECT_YML
    project = make_project(tmp_path, text + f"    {prod_extra}\n")
    for stage in ("dev", "prod"):  # whichever stage runs, the pair is refused
        with pytest.raises(PlanError) as refused:
            build_plan(project, stage)
        assert message in str(refused.value) and "\n" not in str(refused.value)


def test_same_names_in_other_accounts_or_regions_do_not_collide(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    prod_account = '    account_id: "123456789012"\n    regions: [us-east-1, us-west-2]'
    other_account = PROJECT_YML.replace(prod_account, prod_account.replace("123456789012", "210987654321"))
    build_plan(make_project(tmp_path / "a", other_account + "    product_names: {platform-core: platform-core-dev}\n    ssm_prefix: /multiregion/dev\n"), "dev")
    other_regions = PROJECT_YML.replace("regions: [us-east-1, us-west-2]", "regions: [us-west-2]")
    build_plan(make_project(tmp_path / "b", other_regions + "    product_names: {platform-core: platform-core-dev}\n"), "prod")


@pytest.mark.parametrize(
    "extra, message",
    [
        ("product_names: {nope: x}", "stage 'prod' product_names names nope, which is not a product"),
        ("product_names: [platform-core]", "stage 'prod' product_names must map product names to Service Catalog product names"),
        ("product_names: {platform-core: 'core platform'}", "would be the Service Catalog product 'core platform', which is not a name"),
    ],
)
def test_bad_product_names(tmp_path, extra, message):
    with pytest.raises(PlanError, match=message):
        build_plan(make_project(tmp_path, PROJECT_YML + f"    {extra}\n"), "prod")


def test_a_definition_naming_itself_differently_is_refused(tmp_path):
    project = make_project(tmp_path)
    (tmp_path / "products" / "analytics.yml").write_text("name: tenant-analytics\n")
    with pytest.raises(PlanError, match="products/analytics.yml names itself 'tenant-analytics'"):
        build_plan(project, "dev")


def test_bucket_pattern_with_another_placeholder_is_one_line(tmp_path):
    expected = r"artifact_bucket must be a name pattern containing \{region\} and no other placeholder, got 'mrs-\{stage\}-\{region\}'"
    with pytest.raises(PlanError, match=expected):
        build_plan(make_project(tmp_path, PROJECT_YML.replace('"mrs-artifacts-dev-{region}"', '"mrs-{stage}-{region}"')), "dev")


def write_ledger(runs_dir: Path, run_id: str, **run) -> None:
    (runs_dir / run_id).mkdir(parents=True)
    (runs_dir / run_id / "ledger.json").write_text(json.dumps({"run": dict(run_id=run_id, phases_done=["package"], **run)}))


def test_resume_takes_only_a_run_of_the_same_stage_account_and_prefix(tmp_path):
    plan = build_plan(make_project(tmp_path), "dev")
    runs = tmp_path / ".deploy-runs"
    write_ledger(runs, "20261201T100000Z-aaaaaa", stage="dev", account_id="123456789012", ssm_prefix="/multiregion/dev")
    assert check_resume(str(runs), "20261201T100000Z-aaaaaa", plan) == ["package"]
    write_ledger(runs, "20261201T100000Z-bbbbbb", stage="prod", account_id="123456789012", ssm_prefix="/multiregion/prod")
    with pytest.raises(PlanError) as refused:
        check_resume(str(runs), "20261201T100000Z-bbbbbb", plan)
    assert str(refused.value) == (
        "resume=20261201T100000Z-bbbbbb is a run of stage 'prod' (account 123456789012, ssm_prefix /multiregion/prod), not of this stage "
        "'dev' (account 123456789012, ssm_prefix /multiregion/dev); nothing was written"
    )
    # Same stage name, but the project now points it at another prefix: not the same stage's run any more.
    write_ledger(runs, "20261201T100000Z-cccccc", stage="dev", account_id="123456789012", ssm_prefix="/other/dev")
    with pytest.raises(PlanError, match="not of this stage 'dev'"):
        check_resume(str(runs), "20261201T100000Z-cccccc", plan)
    # A ledger from before the account and prefix were recorded is judged by its stage.
    write_ledger(runs, "20261201T100000Z-dddddd", stage="dev")
    assert check_resume(str(runs), "20261201T100000Z-dddddd", plan) == ["package"]
    with pytest.raises(PlanError, match="no such run"):
        check_resume(str(runs), "20261201T100000Z-eeeeee", plan)
    # A check run's ledger is its plan, not work done: never resumed.
    write_ledger(runs, "20261201T100000Z-ffffff", stage="dev", account_id="123456789012", ssm_prefix="/multiregion/dev", check_mode=True)
    with pytest.raises(PlanError, match=r"^resume=20261201T100000Z-ffffff is a check run \(--check\)"):
        check_resume(str(runs), "20261201T100000Z-ffffff", plan)


# ---- init stacks, products and the authorizer are optional parts of a project


def _without_optional_parts(text: str = PROJECT_YML) -> str:
    return text.replace("products_dir: products\n", "").replace("authorizer: {service: authorizer, order: first}\n", "")


def test_a_project_without_init_stacks_products_or_authorizer_plans_and_says_so_once(tmp_path):
    from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_plan import plan_run

    result = plan_run(make_project(tmp_path, _without_optional_parts()), "dev")
    plan = result["plan"]
    assert plan["init_dir"] is None and plan["products_dir"] is None and plan["authorizer"]["service"] is None
    assert plan["products"] == [] and plan["nested_init_stacks"] == []
    notes = "\n".join(result["notes"])
    for part in ("init stacks: not used", "products: not used", "authorizer: not used"):
        assert notes.count(part) == 1, notes


@pytest.mark.parametrize("empty", ['""', "''", "null", "~", "  "])
def test_an_empty_optional_folder_key_means_not_used(tmp_path, empty):
    text = _without_optional_parts().replace("services_dir: services\n", f"services_dir: services\ninit_dir: {empty}\nproducts_dir: {empty}\n")
    plan = build_plan(make_project(tmp_path, text), "dev")
    assert plan["init_dir"] is None and plan["products_dir"] is None


@pytest.mark.parametrize("key", ["init_dir", "products_dir"])
def test_an_optional_folder_that_does_not_exist_is_refused_in_one_line(tmp_path, key):
    text = _without_optional_parts().replace("services_dir: services\n", f"services_dir: services\n{key}: stacks\n")
    with pytest.raises(PlanError) as refused:
        build_plan(make_project(tmp_path, text), "dev")
    message = str(refused.value)
    assert message.startswith(f"project.yml {key}='stacks': no such folder: ") and f"leave {key} out" in message and "\n" not in message


def test_an_init_folder_that_exists_is_used(tmp_path):
    project = make_project(tmp_path, PROJECT_YML.replace("services_dir: services\n", "services_dir: services\ninit_dir: init\n"))
    (tmp_path / "init").mkdir()
    assert build_plan(project, "dev")["init_dir"] == str(tmp_path / "init")


def test_sam_services_are_services_and_service_packagers_is_checked(tmp_path):
    text = PROJECT_YML.replace("stages:", "service_packagers: {reports: sam}\nstages:", 1)
    project = Path(make_project(tmp_path / "good", text))
    (project / "services" / "reports").mkdir()
    (project / "services" / "reports" / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources: {}\n")
    (project / "products" / "platform-core.yml").write_text("name: platform-core\nnested_stacks: [{service: orders}, {service: reports}]\n")
    plan = build_plan(str(project), "dev")
    assert plan["service_packagers"] == {"reports": "sam"} and plan["products"] == ["platform-core"]

    for replacement, message in (("{reports: cdk}", "service_packagers.reports='cdk': expected one of serverless, sam"),
                                 ("{report: sam}", "project.yml service_packagers names 'report', which is not one of the project's services")):
        bad = Path(make_project(tmp_path / replacement.strip("{}").replace(": ", "-"), PROJECT_YML.replace(
            "stages:", f"service_packagers: {replacement}\nstages:", 1)))
        (bad / "services" / "reports").mkdir()
        (bad / "services" / "reports" / "template.yaml").write_text("Resources: {}\n")
        with pytest.raises(PlanError) as info:
            build_plan(str(bad), "dev")
        assert message in str(info.value) and "\n" not in str(info.value)
