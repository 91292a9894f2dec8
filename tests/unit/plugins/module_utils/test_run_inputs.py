"""The first play's whole input check (``run_inputs.check_run``), fed the way the deploy_plan action feeds it: the
values of our variables as the run has them, the names given with -e, the tags, the hosts --limit left.

The table holds the bad inputs of the outside sweep, by kind; each must be refused with one line that names the key
and the value. The check is pure (it reads the project's files and writes nothing), so the table runs in seconds;
tests/integration/test_deploy_bad_inputs.py runs representative cases through ansible-playbook and counts the AWS
writes.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import pytest
import yaml

from ansible_collections.multiregion.serverless.plugins.module_utils import run_inputs
from ansible_collections.multiregion.serverless.plugins.module_utils.common import InputError

REPO_ROOT = Path(__file__).resolve().parents[4]
EXAMPLES = REPO_ROOT / "examples"
ROLE_SPECS = run_inputs.role_input_specs(str(REPO_ROOT / "roles"))
INVENTORY = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"]
LONG_SERVICE = "s" + "x" * 119


def check(project: Path, values: Dict[str, Any], extra_var_names: Optional[Sequence[str]] = None, run_tags: Sequence[str] = ("all",),
          skip_tags: Sequence[str] = (), play_hosts: Sequence[str] = tuple(INVENTORY)) -> Dict[str, Any]:
    """What the deploy_plan action does with a run given ``values`` (by default all of them with -e)."""
    values = dict({"project_dir": str(project)}, **values)
    given = run_inputs.RunVariables(
        values=values,
        extra_var_names=list(values) if extra_var_names is None else list(extra_var_names),
        run_tags=run_tags,
        skip_tags=skip_tags,
    )
    return run_inputs.check_run(
        given, ROLE_SPECS, project_dir=values["project_dir"], stage=values.get("stage", ""), regions=values.get("regions", ""),
        resume=values.get("resume", ""), inventory_regions=INVENTORY, play_hosts=play_hosts,
    )


# ---- project edits: each takes the copied project folder


def project_yml(edit: Callable[[Dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(project: Path) -> None:
        document = yaml.safe_load((project / "project.yml").read_text())
        edit(document)
        (project / "project.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    return apply


def stage_setting(**settings: Any) -> Callable[[Path], None]:
    return project_yml(lambda document: document["stages"]["dev"].update(settings))


def raw_text(old: str, new: str) -> Callable[[Path], None]:
    """Edits project.yml as text (for what a YAML round trip cannot write: duplicate keys, unquoted numbers)."""
    def apply(project: Path) -> None:
        text = (project / "project.yml").read_text()
        assert old in text, old
        (project / "project.yml").write_text(text.replace(old, new, 1))

    return apply


def write_file(relative: str, text: str) -> Callable[[Path], None]:
    def apply(project: Path) -> None:
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)

    return apply


def remove(relative: str) -> Callable[[Path], None]:
    return lambda project: shutil.rmtree(project / relative)


def service_folder(name: str) -> Callable[[Path], None]:
    return write_file(f"services/{name}/serverless.yml", f"service: {name}\nprovider: {{name: aws}}\n")


def product_with_services(name: str, *services: str) -> Callable[[Path], None]:
    stacks = "".join(f"  - service: {service}\n" for service in services)
    return write_file(f"products/{name}.yml", f"nested_stacks:\n{stacks}")


@dataclass
class Bad:
    name: str
    message: str  # the part of the one-line refusal that names what is wrong
    values: Dict[str, Any] = field(default_factory=dict)
    edit: Optional[Callable[[Path], None]] = None
    extra_var_names: Optional[List[str]] = None
    run_tags: Sequence[str] = ("all",)
    skip_tags: Sequence[str] = ()
    play_hosts: Sequence[str] = tuple(INVENTORY)


def line_of(text: str) -> int:
    """The line of the example project.yml that starts with ``text``."""
    return next(number for number, line in enumerate((EXAMPLES / "project.yml").read_text().splitlines(), 1) if line.startswith(text))


def dev(**values: Any) -> Dict[str, Any]:
    return dict({"stage": "dev"}, **values)


BOOLEAN = "expected true or false (also yes/no, 1/0, in any case)"
WAVES = "expected region waves such as 1,50%,100%"

BAD = [
    # -- booleans: every one of the playbook's and the roles', as a survey or -e sends them
    Bad("update_product maybe", f"update_product='maybe': {BOOLEAN}", dev(update_product="maybe")),
    Bad("update_product empty", f"update_product='': {BOOLEAN}", dev(update_product="")),
    Bad("validate_product 2", f"validate_product=2: {BOOLEAN}", dev(validate_product=2)),
    Bad("break_lock on", f"break_lock='on': {BOOLEAN}", dev(break_lock="on")),
    Bad("create_missing_products list", f"create_missing_products=[true]: {BOOLEAN}", dev(create_missing_products=[True])),
    Bad("accept_unknown_vars sure", f"accept_unknown_vars='sure': {BOOLEAN}", dev(accept_unknown_vars="sure")),
    Bad("package_init_stacks maybe", f"package_init_stacks='maybe': {BOOLEAN}", dev(package_init_stacks="maybe")),
    Bad("package_products nah", f"package_products='nah': {BOOLEAN}", dev(package_products="nah")),
    Bad("validate_keep_on_failure T", f"validate_keep_on_failure='T': {BOOLEAN}", dev(validate_keep_on_failure="T")),
    Bad("catalog_create_missing_products null", f"catalog_create_missing_products=null: {BOOLEAN}", dev(catalog_create_missing_products=None)),
    # -- the rollout play's keywords and options
    Bad("waves with an empty item", f"rollout_waves='1,,2': {WAVES}", dev(rollout_waves="1,,2")),
    Bad("waves zero", f"rollout_waves='0': {WAVES}", dev(rollout_waves="0")),
    Bad("waves over 100%", f"rollout_waves='1,150%': {WAVES}", dev(rollout_waves="1,150%")),
    Bad("waves 0%", f"rollout_waves='0%': {WAVES}", dev(rollout_waves="0%")),
    Bad("waves words", f"rollout_waves='canary,rest': {WAVES}", dev(rollout_waves="canary,rest")),
    Bad("waves empty list", f"rollout_waves=[]: {WAVES}", dev(rollout_waves=[])),
    Bad("waves fraction", f"rollout_waves=[1.5]: {WAVES}", dev(rollout_waves=[1.5])),
    Bad("waves negative", f"rollout_waves='-1': {WAVES}", dev(rollout_waves="-1")),
    Bad("waves null", f"rollout_waves=null: {WAVES}", dev(rollout_waves=None)),
    Bad("fail percentage word", "rollout_max_fail_percentage='abc': expected a whole number, 0 to 100", dev(rollout_max_fail_percentage="abc")),
    Bad("fail percentage over 100", "rollout_max_fail_percentage=101: expected a whole number, 0 to 100", dev(rollout_max_fail_percentage=101)),
    Bad("fail percentage negative", "rollout_max_fail_percentage='-1': expected", dev(rollout_max_fail_percentage="-1")),
    Bad("fail percentage fraction", "rollout_max_fail_percentage=1.5: expected", dev(rollout_max_fail_percentage=1.5)),
    Bad("fail percentage boolean", "rollout_max_fail_percentage=true: expected", dev(rollout_max_fail_percentage=True)),
    Bad("tolerance banana", "rollout_failure_tolerance='banana': expected a count of failed tenants (3) or a percentage",
        dev(rollout_failure_tolerance="banana")),
    Bad("tolerance over 100%", "rollout_failure_tolerance='110%': expected", dev(rollout_failure_tolerance="110%")),
    Bad("tolerance negative", "rollout_failure_tolerance='-3': expected", dev(rollout_failure_tolerance="-3")),
    Bad("rollout mode", "rollout_mode='halt': expected one of stop, continue", dev(rollout_mode="halt")),
    Bad("order tag without value", "rollout_order='tag:tier': expected tenant name globs and tag:Key=Value selectors ('tag:tier' is neither)",
        dev(rollout_order="tag:tier")),
    Bad("order empty entry", "rollout_order=[\"\"]: expected a list of tenant name globs", dev(rollout_order=[""])),
    Bad("allow replacement without a resource", "rollout_allow_replacement='orders-dev': expected a list or a comma-separated string of "
        "product/LogicalId or tenant:product/LogicalId", dev(rollout_allow_replacement="orders-dev")),
    Bad("max concurrent zero", "rollout_max_concurrent=0: expected a whole number, 1 or more", dev(rollout_max_concurrent=0)),
    Bad("package concurrency word", "package_concurrency='abc': expected a whole number, 1 or more", dev(package_concurrency="abc")),
    Bad("package timeout negative", "package_timeout='-5': expected a whole number, 1 or more", dev(package_timeout="-5")),
    Bad("keep active versions negative", "catalog_keep_active_versions=-1: expected a whole number, 0 or more", dev(catalog_keep_active_versions=-1)),
    Bad("poll delay word", "rollout_poll_delay='fast': expected a number of seconds", dev(rollout_poll_delay="fast")),
    Bad("encryption", "package_server_side_encryption='DES': expected one of AES256, aws:kms", dev(package_server_side_encryption="DES")),
    Bad("kms key without kms", "package_kms_key_id='alias/deploy': expected no key unless package_server_side_encryption is aws:kms",
        dev(package_kms_key_id="alias/deploy")),
    Bad("version scheme", "catalog_version_scheme='Version': expected a version name pattern holding <n>", dev(catalog_version_scheme="Version")),
    Bad("validate parameters", "validate_parameters='TenantId=x': expected a mapping", dev(validate_parameters="TenantId=x")),
    Bad("package environment", "package_environment=[1]: expected a mapping", dev(package_environment=[1])),
    # -- regions
    Bad("regions empty list", "regions=[]: expected region names", dev(regions=[])),
    Bad("regions null", "regions=null: expected region names", dev(regions=None)),
    Bad("regions whitespace", "regions='  ': expected region names", dev(regions="  ")),
    Bad("regions commas only", "regions=',,': expected region names", dev(regions=",,")),
    Bad("regions empty item", "without empty items", dev(regions="us-east-1,,eu-west-1")),
    Bad("regions repeated", "regions lists us-east-1 more than once", dev(regions="us-east-1,eu-west-1,us-east-1")),
    Bad("regions a number", "regions=5: expected region names", dev(regions=5)),
    Bad("regions a mapping", "regions={\"us-east-1\": true}: expected region names", dev(regions={"us-east-1": True})),
    Bad("region not a region", "'mars-north-1' is not an AWS region name", dev(regions="us-east-1,mars-north-1")),
    Bad("region outside the stage", "region us-west-2 is not in stage 'dev' (its regions: us-east-1, eu-west-1, ap-southeast-2)", dev(regions="us-west-2")),
    # -- stage and resume
    Bad("stage missing", "stage is required: run with -e stage=<stage> (one of: dev, prod, qa)", {}),
    Bad("stage unknown", "stage 'staging' is not defined in project.yml (defined: dev, prod, qa)", {"stage": "staging"}),
    Bad("stage not a plain name", "stage must be a plain name such as dev or prod, got 'dev/../prod'", {"stage": "dev/../prod"}),
    Bad("resume malformed", "resume must be a run id such as 20261123T120000Z-1a2b3c, got '../x'", dev(resume="../x")),
    Bad("resume unknown", "resume=20261123T120000Z-1a2b3c: no such run", dev(resume="20261123T120000Z-1a2b3c")),
    # -- near-misses given with -e (command line, @file, an AWX survey or extra vars)
    Bad("region for regions", "-e region: not a variable of this playbook; did you mean regions?", dev(region="us-east-1")),
    Bad("update_products", "-e update_products: not a variable of this playbook; did you mean update_product?", dev(update_products="true")),
    Bad("stages", "-e stages: not a variable of this playbook; did you mean stage?", {"stage": "dev", "stages": "dev"}),
    Bad("rolout_waves", "did you mean rollout_waves?", dev(rolout_waves="1")),
    Bad("package_init_stack", "did you mean package_init_stacks?", dev(package_init_stack="false")),
    Bad("validate_products for validate_product", "did you mean", dev(validat_product="true")),
    Bad("a fact of the run", "-e deploy_run_plan: the run sets deploy_run_plan itself", dev(deploy_run_plan={})),
    # -- tags
    Bad("tag rolout", "--tags rolout: not a tag of this playbook; did you mean rollout?", dev(), run_tags=["rolout"]),
    Bad("tag packge", "--tags packge: not a tag of this playbook; did you mean package?", dev(), run_tags=["catalog", "packge"]),
    Bad("skip tag catalgo", "--skip-tags catalgo: not a tag of this playbook; did you mean catalog?", dev(), skip_tags=["catalgo"]),
    Bad("tag unrelated", "--tags deploy: not a tag of this playbook; (its phases: package, catalog, validate, rollout)", dev(), run_tags=["deploy"]),
    # -- --limit
    Bad("limit outside the stage", "--limit leaves no region of this run: it selects us-west-2, stage 'dev' deploys to us-east-1, eu-west-1, ap-southeast-2",
        dev(), play_hosts=["us-west-2"]),
    Bad("limit outside the narrowed regions", "--limit leaves no region of this run", dev(regions="eu-west-1"), play_hosts=["us-east-1"]),
    # -- project.yml
    Bad("duplicate stage key",
        f"project.yml line {line_of('  qa:')}: the key 'dev' is given twice in one mapping (first on line {line_of('  dev:')}); "
        "YAML would keep only the last", dev(),
        edit=raw_text("  qa:\n", "  dev:\n")),
    Bad("integer stage key", "project.yml stages key 7: expected a stage name", dev(), edit=raw_text("  qa:\n", "  7:\n")),
    Bad("unknown top-level key", "project.yml has an unknown key 'service_dir': did you mean services_dir?", dev(),
        edit=raw_text("services_dir: services", "service_dir: services")),
    Bad("unknown stage key", "stage 'dev' has an unknown key 'primary-region': did you mean primary_region?", dev(),
        edit=raw_text("primary_region: us-east-1\n    regions: [us-east-1, eu-west-1, ap-southeast-2]",
                      "primary-region: us-east-1\n    regions: [us-east-1, eu-west-1, ap-southeast-2]")),
    Bad("octal-looking account id",
        "account_id=012345670123: expected 12 digits in quotes (account_id: \"012345670123\"); unquoted, YAML reads it as the number 1402433619",
        dev(), edit=raw_text('account_id: "123456789012"', "account_id: 012345670123")),
    Bad("short account id", "stage 'dev' account_id=12345: expected 12 digits in quotes", dev(),
        edit=raw_text('account_id: "123456789012"', "account_id: 12345")),
    Bad("regions a number in project.yml", "stage 'dev' regions must be a list of names, got 5", dev(), edit=stage_setting(regions=5)),
    Bad("regions null in project.yml", "stage 'dev' lists no regions", dev(), edit=stage_setting(regions=None)),
    Bad("regions empty in project.yml", "stage 'dev' lists no regions", dev(), edit=stage_setting(regions=[])),
    Bad("region repeated in project.yml", "stage 'dev' regions lists eu-west-1 more than once", dev(),
        edit=stage_setting(regions=["us-east-1", "eu-west-1", "eu-west-1"])),
    Bad("bucket with {stage}", "artifact_bucket must be a name pattern containing {region} and no other placeholder, got 'mrs-{stage}-{region}'", dev(),
        edit=stage_setting(artifact_bucket="mrs-{stage}-{region}")),
    Bad("bucket with a stray brace", "got 'mrs-dev-{region' (a { or } without its pair)", dev(), edit=stage_setting(artifact_bucket="mrs-dev-{region")),
    Bad("bucket with {0}", "no other placeholder, got 'mrs-{0}-{region}'", dev(), edit=stage_setting(artifact_bucket="mrs-{0}-{region}")),
    Bad("bucket with a format spec", "no other placeholder, got 'mrs-{region:>20}'", dev(), edit=stage_setting(artifact_bucket="mrs-{region:>20}")),
    Bad("bucket without {region}", "artifact_bucket must be a name pattern containing {region}", dev(),
        edit=stage_setting(artifact_bucket="mrs-artifacts-dev")),
    Bad("bucket name invalid", "artifact bucket 'MRS_Artifacts_us-east-1' is not a valid S3 bucket name", dev(),
        edit=stage_setting(artifact_bucket="MRS_Artifacts_{region}")),
    Bad("services_dir a number", "project.yml services_dir=42: expected a folder of the project", dev(),
        edit=raw_text("services_dir: services", "services_dir: 42")),
    Bad("services_dir outside", "project.yml services_dir='../services': expected a folder inside the project", dev(),
        edit=raw_text("services_dir: services", "services_dir: ../services")),
    Bad("services_dir absolute", "project.yml services_dir='/etc': expected a folder inside the project", dev(),
        edit=raw_text("services_dir: services", "services_dir: /etc")),
    Bad("services_dir missing", "project.yml services_dir: no such folder", dev(), edit=raw_text("services_dir: services", "services_dir: src")),
    Bad("products_dir outside", "project.yml products_dir='../../products': expected a folder inside the project", dev(),
        edit=raw_text("products_dir: products", "products_dir: ../../products")),
    Bad("authorizer unknown", "project.yml authorizer.service names 'authoriser', which is not one of the project's services; did you mean authorizer?", dev(),
        edit=project_yml(lambda document: document["authorizer"].update(service="authoriser"))),
    Bad("authorizer order", "'authorizer.order' must be first or last, got 'middle'", dev(),
        edit=project_yml(lambda document: document["authorizer"].update(order="middle"))),
    Bad("always excluded unknown",
        "project.yml always_excluded_services names 'legacy-report', which is not one of the project's services; did you mean legacy-reports?",
        dev(), edit=project_yml(lambda document: document.update(always_excluded_services=["legacy-report"]))),
    Bad("stage excluded unknown",
        "project.yml stages.dev.excluded_services names 'e2e-fixture', which is not one of the project's services; did you mean e2e-fixtures?",
        dev(), edit=stage_setting(excluded_services=["e2e-fixture"])),
    Bad("ssm prefix", "ssm_prefix must be an SSM path such as /multiregion/dev, got 'multiregion/dev'", dev(),
        edit=stage_setting(ssm_prefix="multiregion/dev")),
    Bad("primary region", "primary_region 'us-west-2' is not one of its regions", dev(), edit=stage_setting(primary_region="us-west-2")),
    Bad("product_names unknown product", "stage 'dev' product_names names platform, which is not a product", dev(),
        edit=stage_setting(product_names={"platform": "p-dev"})),
    Bad("product_names with a space", "would be the Service Catalog product 'platform core', which is not a name", dev(),
        edit=stage_setting(product_names={"platform-core": "platform core"})),
    Bad("portfolio not a mapping", "stage 'dev' portfolio must be a mapping, got str", dev(), edit=stage_setting(portfolio="multiregion-dev")),
    Bad("portfolio without a name", "stage 'dev' portfolio.name=None: expected a portfolio name of 1 to 100 characters", dev(),
        edit=stage_setting(portfolio={})),
    Bad("portfolio unknown key", "stage 'dev' portfolio has an unknown key 'launch_roles': did you mean launch_role?", dev(),
        edit=stage_setting(portfolio={"name": "p", "launch_roles": "x"})),
    Bad("portfolio principal not an ARN", "stage 'dev' portfolio.principals has 'deployer': expected IAM ARNs", dev(),
        edit=stage_setting(portfolio={"name": "p", "principals": ["deployer"]})),
    Bad("portfolio launch role a user", "stage 'dev' portfolio.launch_role='arn:aws:iam::123456789012:user/bob': expected an IAM role ARN", dev(),
        edit=stage_setting(portfolio={"name": "p", "launch_role": "arn:aws:iam::123456789012:user/bob"})),
    # -- products and services
    Bad("product file name with a space", "product 'my product' of stage 'dev' would be the Service Catalog product 'my product-dev'", dev(),
        edit=product_with_services("my product", "orders")),
    Bad("product nests an unknown service",
        "products/billing.yml nested_stacks names 'order', which is not one of the project's services; did you mean orders?",
        dev(), edit=product_with_services("billing", "order")),
    Bad("product nests an unknown init stack", "products/billing.yml nested_stacks names 'network', which is not one of the project's init stacks", dev(),
        edit=write_file("products/billing.yml", "nested_stacks:\n  - init: network\n")),
    Bad("product without nested stacks", "product billing: nested_stacks must be a non-empty list", dev(),
        edit=write_file("products/billing.yml", "description: x\n")),
    Bad("product named otherwise", "products/billing.yml names itself 'invoicing'", dev(),
        edit=write_file("products/billing.yml", "name: invoicing\nnested_stacks: [{service: orders}]\n")),
    Bad("120-character service name", f"service folder '{LONG_SERVICE}' (120 characters): expected a Serverless service name", dev(),
        edit=service_folder(LONG_SERVICE)),
    Bad("service name with an underscore", "service folder 'billing_v2' (10 characters): expected a Serverless service name", dev(),
        edit=service_folder("billing_v2")),
    Bad("init stacks off while products nest them",
        "package_init_stacks=false: expected true while the products nest init stacks (network-baseline, shared-observability)",
        dev(package_init_stacks="false")),
    # -- the project folder itself
    Bad("project_dir missing", "project_dir is not a directory", {"stage": "dev", "project_dir": "/nonexistent/project"}),
    Bad("project_dir a number", "project_dir is not a directory: 42", {"stage": "dev", "project_dir": 42}),
    Bad("project.yml missing", "project.yml not found", dev(), edit=lambda project: (project / "project.yml").unlink()),
    Bad("project.yml broken", "project.yml is not valid YAML (line", dev(), edit=write_file("project.yml", "stages:\n  dev: [us-east-1\n")),
]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "project"
    shutil.copytree(EXAMPLES, copy)
    yield copy


def test_the_table_covers_the_sweep() -> None:
    assert len(BAD) >= 60
    assert len({case.name for case in BAD}) == len(BAD)


@pytest.mark.parametrize("case", BAD, ids=[case.name for case in BAD])
def test_bad_input_is_refused_in_one_line(case: Bad, project: Path) -> None:
    if case.edit:
        case.edit(project)
    with pytest.raises(InputError) as refused:
        check(project, case.values, case.extra_var_names, case.run_tags, case.skip_tags, case.play_hosts)
    message = str(refused.value)
    assert case.message in message
    assert "\n" not in message
    assert "Traceback" not in message


@pytest.mark.parametrize("word, expected", [
    ("true", True), ("TRUE", True), ("Yes", True), ("1", True), (" yes ", True), (True, True), (1, True),
    ("false", False), ("False", False), ("NO", False), ("0", False), (False, False), (0, False),
])
def test_booleans_accept_the_six_words_in_any_case(word: Any, expected: bool, project: Path) -> None:
    inputs = check(project, dev(update_product=word, package_products=word, validate_keep_on_failure=word))["inputs"]
    assert inputs["update_product"] is expected
    assert inputs["package_products"] is expected
    assert inputs["validate_keep_on_failure"] is expected


@pytest.mark.parametrize("given, waves", [
    ("1,50%,100%", [1, "50%", "100%"]),  # what an AWX survey text answer sends
    (" 2 , 100% ", [2, "100%"]),
    ([1, "50%", "100%"], [1, "50%", "100%"]),
    ("3", [3]),
    (2, [2]),
    ("", ["100%"]),
])
def test_waves_from_a_survey_string_or_a_list(given: Any, waves: List[Any], project: Path) -> None:
    assert check(project, dev(rollout_waves=given))["inputs"]["rollout_waves"] == waves


def test_defaults_and_conversions(project: Path) -> None:
    checked = check(project, dev(rollout_max_fail_percentage="25%", rollout_failure_tolerance=" 3 ", rollout_max_concurrent="4",
                                 rollout_order="canary-*,tag:tier=gold", rollout_allow_replacement="orders-dev/Orders/Table, acme:orders-dev/Log",
                                 package_environment='{"NODE_OPTIONS": "--max-old-space-size=2048"}'))
    inputs = checked["inputs"]
    assert inputs["update_product"] is False and inputs["validate_product"] is False and inputs["break_lock"] is False
    assert inputs["rollout_waves"] == ["100%"]
    assert inputs["rollout_max_fail_percentage"] == 25
    assert inputs["rollout_failure_tolerance"] == "3"
    assert inputs["rollout_max_concurrent"] == 4
    assert inputs["rollout_order"] == ["canary-*", "tag:tier=gold"]
    assert inputs["rollout_allow_replacement"] == ["orders-dev/Orders/Table", "acme:orders-dev/Log"]
    assert inputs["package_environment"] == {"NODE_OPTIONS": "--max-old-space-size=2048"}
    assert "package_timeout" not in inputs  # a role variable nobody set keeps its role default


def test_empty_regions_mean_every_region_and_say_so(project: Path) -> None:
    checked = check(project, dev(regions=""))
    assert checked["plan"]["regions"] == ["us-east-1", "eu-west-1", "ap-southeast-2"]
    assert checked["notes"] == ["regions: every region of stage 'dev' (us-east-1, eu-west-1, ap-southeast-2)"]


def test_a_limit_narrows_the_run_and_keeps_the_primary_region(project: Path) -> None:
    checked = check(project, dev(), play_hosts=["eu-west-1", "us-west-2"])
    assert checked["plan"]["regions"] == ["eu-west-1"]
    assert [target["region"] for target in checked["plan"]["targets"]] == ["eu-west-1"]
    assert checked["plan"]["primary_region"] == "us-east-1"  # the lock and the ledger stay in the stage's primary region
    assert "--limit: only eu-west-1 (of us-east-1, eu-west-1, ap-southeast-2)" in checked["notes"]


def test_names_that_are_not_near_ours_pass_and_the_opt_out_accepts_near_misses(project: Path) -> None:
    check(project, dev(team_ticket="OPS-1234", awx_job_template_name="deploy", tower_user_name="ops", ansible_python_interpreter="python3"))
    accepted = check(project, dev(update_products="true", accept_unknown_vars="yes"), run_tags=["rolout"])
    assert accepted["inputs"]["accept_unknown_vars"] is True


def test_a_variable_from_the_inventory_is_checked_but_not_taken_for_a_near_miss(project: Path) -> None:
    with pytest.raises(InputError, match="rollout_mode='contnue': expected one of stop, continue"):
        check(project, dev(rollout_mode="contnue"), extra_var_names=["stage"])  # set in group_vars, not with -e


def test_credentials_are_never_shown(project: Path) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    checked = check(project, dev(aws_access_key="AKIAEXAMPLE", aws_secret_key=secret, aws_session_token=secret))
    assert not {"aws_access_key", "aws_secret_key", "aws_session_token"} & set(checked["inputs"])
    with pytest.raises(InputError) as refused:
        check(project, dev(aws_secret_key=[secret]))
    assert secret not in str(refused.value)
    assert "aws_secret_key='(hidden)'" in str(refused.value)


def test_init_stacks_may_be_off_when_products_are_off_too(project: Path) -> None:
    inputs = check(project, dev(package_init_stacks="false", package_products="false"))["inputs"]
    assert inputs["package_init_stacks"] is False and inputs["package_products"] is False


def test_a_service_that_names_its_role_may_have_a_longer_name(project: Path) -> None:
    name = "tenant-notification-preferences-api"  # 35 characters: the default role would pass IAM's 64 only without the region
    write_file(f"services/{name}/serverless.yml", f"service: {name}\nprovider:\n  name: aws\n  iam:\n    role:\n      name: ${{self:service}}-role\n")(project)
    check(project, dev())
    service_folder(name)(project)
    with pytest.raises(InputError, match=f"service folder '{name}'"):
        check(project, dev())


# ---- every name the run reads is one of ours, and every fact it sets is protected from -e


def _tasks(node: Any) -> Iterator[Dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


def _task_files() -> List[Path]:
    return sorted(REPO_ROOT.glob("roles/*/tasks/*.yml")) + sorted(REPO_ROOT.glob("playbooks/*.yml"))


def test_every_fact_the_run_sets_is_refused_as_an_extra_var() -> None:
    set_by_the_run = set()
    for path in _task_files():
        for task in _tasks(yaml.safe_load(path.read_text())):
            if "register" in task:
                set_by_the_run.add(task["register"])
            facts = task.get("ansible.builtin.set_fact") or {}
            set_by_the_run.update(key for key in facts if key != "cacheable")
    assert set_by_the_run - set(run_inputs.RUN_FACTS) == set()


def test_every_variable_the_roles_default_from_is_ours() -> None:
    """A role default that reads a playbook variable (``{{ stage | default('') }}``) reads one of PLAYBOOK_INPUTS, so a near-miss of it
    is caught; the rest it may read are the run's facts, the roles' own variables and Ansible's."""
    import re

    ours = {item.name for item in run_inputs.PLAYBOOK_INPUTS} | set(run_inputs.RUN_FACTS) | set(ROLE_SPECS)
    ansible_names = {"inventory_hostname", "role_path", "groups", "ansible_play_hosts_all", "lookup"}
    for path in sorted(REPO_ROOT.glob("roles/*/defaults/main.yml")):
        for expression in re.findall(r"\{\{(.*?)\}\}", path.read_text(), flags=re.S):
            first = re.match(r"[\s(]*([a-z_]+)", expression)
            if first is None:
                continue  # starts with a literal
            first = first.group(1)
            assert first in ours | ansible_names, f"{path.parent.parent.name} defaults read {first!r}, which PLAYBOOK_INPUTS does not list"
