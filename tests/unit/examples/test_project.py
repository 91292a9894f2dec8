"""The example monorepo (examples/) keeps to docs/project-layout.md, so it cannot silently rot.

Also checks that the captured `sls package` output in tests/unit/fixtures/sls_output/ still matches the
example project (the bucket pattern, the ZIPs its templates name), because other tests read it as real
packager output.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import boto3
import pytest
import yaml

from ansible_collections.multiregion.serverless.plugins.module_utils import deploy_plan, sam_template

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"
SLS_OUTPUT = REPO_ROOT / "tests" / "unit" / "fixtures" / "sls_output"
PRODUCT_KEYS = {"name", "description", "owner", "distributor", "support_email", "parameters", "nested_stacks"}


class _CloudFormationLoader(yaml.SafeLoader):
    """Safe YAML that also reads CloudFormation short forms (!Ref, !Join ...) as plain values."""


def _short_form(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _short_form)


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506 - safe loader subclass


PROJECT = deploy_plan.load_project(str(EXAMPLES))
RAW_PROJECT = _load(EXAMPLES / "project.yml")
SERVICES = sorted(p.name for p in Path(PROJECT["services_dir"]).iterdir() if (p / "serverless.yml").is_file())
SAM_SERVICES = sorted(p.name for p in Path(PROJECT["services_dir"]).iterdir() if (p / "template.yaml").is_file() and p.name not in SERVICES)
COMPOSE = _load(Path(PROJECT["init_dir"]) / "serverless-compose.yml")
INIT_STACKS = sorted(COMPOSE["services"])
PRODUCTS = {name: _load(Path(PROJECT["products_dir"]) / f"{name}.yml") for name in deploy_plan.discover_products(PROJECT["products_dir"])}
AWS_REGIONS = set(boto3.session.Session().get_available_regions("lambda"))


def _service_config(service: str) -> Dict[str, Any]:
    return _load(Path(PROJECT["services_dir"]) / service / "serverless.yml")


def test_the_issue_shape_is_there() -> None:
    assert len(SERVICES) >= 6
    runtimes = {_service_config(s)["provider"].get("runtime", "")[:4] for s in SERVICES}
    assert {"pyth", "node"} <= runtimes
    assert len(INIT_STACKS) >= 1 and 1 <= len(PRODUCTS) <= 3
    assert set(RAW_PROJECT["stages"]) == {"dev", "qa", "prod"}


def test_a_python_and_a_node_sam_service_share_a_product_with_serverless_services() -> None:
    runtimes = {function.runtime[:4] for service in SAM_SERVICES
                for function in sam_template.functions(sam_template.load_template(str(Path(PROJECT["services_dir"]) / service / "template.yaml")))}
    assert {"pyth", "node"} <= runtimes, runtimes
    nested = {name: {entry.get("service") for entry in product["nested_stacks"]} for name, product in PRODUCTS.items()}
    assert [name for name, services in nested.items() if services & set(SAM_SERVICES) and services & set(SERVICES)], nested


@pytest.mark.parametrize("stage", sorted(RAW_PROJECT["stages"]))
def test_stage_passes_the_deploy_plan_checks(stage: str) -> None:
    settings = deploy_plan.check_stage(PROJECT, stage)
    assert "{region}" in settings["artifact_bucket_pattern"]
    assert settings["account_id"] == "123456789012"  # moto's default account: the local AWS owns the buckets
    assert len(set(settings["regions"])) == len(settings["regions"])


@pytest.mark.parametrize("stage", sorted(RAW_PROJECT["stages"]))
def test_stage_regions_are_real_aws_regions(stage: str) -> None:
    unknown = set(RAW_PROJECT["stages"][stage]["regions"]) - AWS_REGIONS
    assert not unknown, f"stage {stage} lists regions AWS does not have: {sorted(unknown)}"


def test_exclusions_name_real_services() -> None:
    named = set(PROJECT["always_excluded_services"])
    for settings in RAW_PROJECT["stages"].values():
        named.update(settings.get("excluded_services") or [])
    assert named, "the example is meant to exercise exclusions"
    assert named <= set(SERVICES), f"exclusions name missing services: {sorted(named - set(SERVICES))}"


def test_the_test_only_service_is_excluded_in_prod_only() -> None:
    excluded = {stage: set(s.get("excluded_services") or []) for stage, s in RAW_PROJECT["stages"].items()}
    assert excluded["prod"] - excluded["dev"] - excluded["qa"], "prod should exclude a service the other stages deploy"


def test_authorizer_is_a_real_service_and_not_excluded() -> None:
    authorizer = PROJECT["authorizer"]["service"]
    assert authorizer in SERVICES
    assert authorizer not in PROJECT["always_excluded_services"]


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_product_definition_follows_the_layout(product: str) -> None:
    definition = PRODUCTS[product]
    assert set(definition) == PRODUCT_KEYS, f"{product}: keys {sorted(set(definition) ^ PRODUCT_KEYS)} differ from the layout"
    assert definition["name"] == product
    assert "TenantId" in definition["parameters"], "every nested template takes TenantId; the product must pass it"
    for name, parameter in definition["parameters"].items():
        assert re.fullmatch(r"[A-Za-z0-9]+", name) and "Type" in parameter, f"{product}: parameter {name}"
    for entry in definition["nested_stacks"]:
        assert len(entry) == 1 and set(entry) <= {"service", "init"}, f"{product}: bad nested stack {entry}"


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_product_nested_stacks_exist_and_are_deployable(product: str) -> None:
    stacks = PRODUCTS[product]["nested_stacks"]
    services = [entry["service"] for entry in stacks if "service" in entry]
    inits = [entry["init"] for entry in stacks if "init" in entry]
    known = set(SERVICES) | set(SAM_SERVICES)
    assert set(services) <= known, f"{product}: no such service {sorted(set(services) - known)}"
    assert set(inits) <= set(INIT_STACKS), f"{product}: no such init stack {sorted(set(inits) - set(INIT_STACKS))}"
    assert not set(services) & set(PROJECT["always_excluded_services"]), f"{product} nests an always-excluded service"
    assert len(stacks) == len({json.dumps(entry, sort_keys=True) for entry in stacks}), f"{product} nests a stack twice"
    authorizer = PROJECT["authorizer"]["service"]
    if authorizer in services:
        # Services create permissions on the authorizer function, so it must exist first.
        assert services.index(authorizer) == 0


@pytest.mark.parametrize("product", sorted(PRODUCTS))
@pytest.mark.parametrize("stage", sorted(RAW_PROJECT["stages"]))
def test_every_product_keeps_a_service_in_every_stage(product: str, stage: str) -> None:
    excluded = set(PROJECT["always_excluded_services"]) | set(RAW_PROJECT["stages"][stage].get("excluded_services") or [])
    kept = [e for e in PRODUCTS[product]["nested_stacks"] if e.get("service") not in excluded]
    assert kept, f"{product} would be empty in {stage}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_bucket_is_the_stage_artifact_bucket_of_its_region(service: str) -> None:
    common = _load(EXAMPLES / "shared" / "serverless-common.yml")
    bucket = _service_config(service)["provider"]["deploymentBucket"]
    if isinstance(bucket, str) and bucket.startswith("${file("):
        bucket = common[bucket.rsplit(":", 1)[1].rstrip("}")]
    name = bucket["name"]
    for stage, settings in RAW_PROJECT["stages"].items():
        resolved = name.replace("${sls:stage}", stage).replace("${aws:region}", "{region}")
        assert resolved == settings["artifact_bucket"], f"{service} packages into {resolved} in {stage}"


@pytest.mark.parametrize("directory", ["services", "init"])
def test_every_serverless_config_packages_offline_with_both_packagers(directory: str) -> None:
    configs = sorted((EXAMPLES / directory).glob("*/serverless.yml"))
    assert configs
    for config in configs:
        data = _load(config)
        assert data["service"] == config.parent.name, f"{config}: service name differs from its folder"
        # osls 4 refuses frameworkVersion '3'; serverless 3.40 refuses anything not matching 3.x.
        assert data["frameworkVersion"] == ">=3 <5", f"{config}: frameworkVersion"
        assert data["provider"]["stage"] == "${opt:stage, 'dev'}" and data["provider"]["region"] == "${opt:region, 'us-east-1'}"


def test_compose_file_lists_every_init_stack_and_takes_the_region_from_the_environment() -> None:
    folders = sorted(p.name for p in Path(PROJECT["init_dir"]).iterdir() if (p / "serverless.yml").is_file())
    assert INIT_STACKS == folders
    for stack, entry in COMPOSE["services"].items():
        assert entry == {"path": stack, "region": "${env:MRS_REGION}"}, f"compose entry for {stack}"


def test_nothing_needs_an_aws_call_to_package() -> None:
    # ${aws:accountId} resolves through STS, ${ssm:...}, ${cf:...}, ${s3:...} through their services.
    offenders = []
    for path in EXAMPLES.rglob("*"):
        if path.is_file() and ".serverless" not in path.parts and path.suffix in {".yml", ".yaml", ".json", ".js", ".py"}:
            text = path.read_text(encoding="utf-8")
            if re.search(r"\$\{(aws:accountId|ssm:|cf(\.[a-z0-9-]+)?:|s3:)", text):
                offenders.append(str(path.relative_to(EXAMPLES)))
    assert offenders == [], f"these need AWS to package: {offenders}"


def _fixture_dirs() -> List[Path]:
    return sorted(p for p in SLS_OUTPUT.glob("*/*") if p.is_dir())


def test_captured_output_covers_both_packagers_and_two_regions() -> None:
    captured = _fixture_dirs()
    assert {p.parent.name for p in captured} == {"serverless3", "osls"}
    for packager in ("serverless3", "osls"):
        regions_by_service: Dict[str, set] = {}
        for path in captured:
            if path.parent.name == packager:
                service, region = _split_fixture_name(path.name)
                regions_by_service.setdefault(service, set()).add(region)
        assert len(regions_by_service) >= 2 and all(len(r) >= 2 for r in regions_by_service.values())


def _split_fixture_name(name: str) -> tuple:
    for region in sorted(AWS_REGIONS, key=len, reverse=True):
        if name.endswith("-" + region):
            return name[: -len(region) - 1], region
    raise AssertionError(f"fixture folder {name} does not end in a region")


@pytest.mark.parametrize("fixture", _fixture_dirs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_captured_output_matches_the_example(fixture: Path) -> None:
    service, region = _split_fixture_name(fixture.name)
    assert service in SERVICES
    template = json.loads((fixture / "cloudformation-template-update-stack.json").read_text())
    state = json.loads((fixture / "serverless-state.json").read_text())
    bucket = RAW_PROJECT["stages"]["dev"]["artifact_bucket"].format(region=region)
    codes = [r["Properties"]["Code"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert codes
    prefix = state["package"]["artifactDirectoryName"]
    for code in codes:
        assert code["S3Bucket"] == bucket
        assert code["S3Key"].startswith(prefix + "/")
        assert (fixture / code["S3Key"].rsplit("/", 1)[1]).is_file(), f"{fixture.name}: template names a ZIP not captured"
    assert sorted(p.name for p in fixture.glob("*.zip")) == sorted({c["S3Key"].rsplit("/", 1)[1] for c in codes})
