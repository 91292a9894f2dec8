# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a project's ``project.yml`` and turning the deploy inputs into a checked plan; naming the run.

Everything here reads files and returns data or raises ``PlanError`` with one line that says what to
fix. Nothing here talks to AWS, so a bad input never writes anything. The plan lists the run's deploy
targets, (account, region) pairs; ``plan_run`` is the ``deploy_plan`` module's service (plan, resume
check, run id).
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import re
import string
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils.common import (
    ACCOUNT_PATTERN,
    BUCKET_PATTERN,
    PRINCIPAL_PATTERN,
    ROLE_PATTERN,
    InputError,
    did_you_mean,
    refusal,
    CATALOG_NAME_PATTERN,
    REGION_PATTERN,
    SSM_PREFIX_PATTERN,
    STAGE_PATTERN,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sources
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.compose import COMPOSE_NAMES, read_compose
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import PackagingError
from ansible_collections.multiregion.serverless.plugins.module_utils.product_template import ProductError, load_product, nested_stack_refs

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None  # type: ignore

PROJECT_FILE = "project.yml"


# The deploy_plan module's options; its action plugin validates the same ones.
DEPLOY_PLAN_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    project_dir=dict(type="path", required=True),
    stage=dict(type="str"),
    regions=dict(type="raw"),
    resume=dict(type="str"),
    runs_dir=dict(type="path"),
    inventory_regions=dict(type="list", elements="str", default=[]),
    check_run_inputs=dict(type="bool", default=False),
)


class PlanError(InputError):
    """A deploy input is wrong; the message is one line that says what to fix."""


class _SourceInt(int):
    """An integer read from YAML that remembers how it was written (``012345670123`` is octal to YAML 1.1)."""

    source = ""


class _StrictLoader(yaml.SafeLoader if yaml else object):  # type: ignore[misc]
    """project.yml's loader: a key given twice in one mapping is an error (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Dict[Any, Any]:
        seen: Dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int)) and key in seen:
                raise PlanError(
                    f"{PROJECT_FILE} line {key_node.start_mark.line + 1}: the key {key!r} is given twice in one mapping "
                    f"(first on line {seen[key]}); YAML would keep only the last"
                )
            if isinstance(key, (str, int)):
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: Any) -> int:
        number = _SourceInt(super().construct_yaml_int(node))
        number.source = str(node.value)
        return number


if yaml:
    _StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
    _StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)


def load_yaml_file(path: str, what: str, strict: bool = False) -> Any:
    """A YAML file; ``strict`` refuses duplicate keys and keeps how integers were written (project.yml)."""
    if not os.path.isfile(path):
        raise PlanError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_StrictLoader if strict else yaml.SafeLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PlanError(f"{what} is not valid YAML{where}: {problem}: {path}") from None


def _written(value: Any) -> str:
    """A project.yml value as its author wrote it (an unquoted number as written, not as YAML read it)."""
    return getattr(value, "source", None) or repr(value)


def _require_mapping(value: Any, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise PlanError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _require_known_keys(mapping: Dict[Any, Any], known: Iterable[str], what: str) -> None:
    """Refuse a key of ``mapping`` that is not in ``known``, with the closest known key when there is one."""
    known = list(known)
    for key in mapping:
        if key not in known:
            raise PlanError(f"{what} has an unknown key {key!r}: {did_you_mean(str(key), known)}(known: {', '.join(known)})")


def _require_str_list(value: Any, what: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise PlanError(f"{what} must be a list of names, got {_written(value)}")
    return list(value)


def _project_path(project_dir: str, key: str, value: Any, example: str) -> str:
    """``<project_dir>/<value>``, refused unless it is a relative path that stays inside the project."""
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{PROJECT_FILE} {key}={_written(value)}: expected a folder of the project, such as {example}")
    root = os.path.realpath(project_dir)
    path = os.path.realpath(os.path.join(root, value))
    if os.path.isabs(value) or os.path.commonpath([root, path]) != root:
        raise PlanError(f"{PROJECT_FILE} {key}={value!r}: expected a folder inside the project ({root}), such as {example}")
    return os.path.join(os.path.abspath(project_dir), value)


def _optional_project_folder(project_dir: str, data: Dict[str, Any], key: str, example: str) -> Optional[str]:
    """The folder ``data[key]`` names, or None when the key is absent or empty (the project does not use that part).

    A folder that is named but does not exist is refused: a typo must not silently turn a part of the project off.
    """
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    path = _project_path(project_dir, key, value, example)
    if not os.path.isdir(path):
        raise PlanError(f"{PROJECT_FILE} {key}={value!r}: no such folder: {path} (leave {key} out if the project has none)")
    return path


# What a run says once about the optional parts a project does not use (project.yml key -> note).
UNUSED_PART_NOTES = {
    "init_dir": "init stacks: not used (project.yml sets no init_dir)",
    "products_dir": "products: not used (project.yml sets no products_dir): services are packaged and published, no product is versioned",
    "authorizer": "authorizer: not used (project.yml names no authorizer.service): every service is packaged in parallel",
}


def unused_parts(project: Dict[str, Any]) -> List[str]:
    """The notes for the optional parts (init stacks, products, authorizer) the project leaves out."""
    unused = [key for key in ("init_dir", "products_dir") if project[key] is None]
    if not project["authorizer"]["service"]:
        unused.append("authorizer")
    return [UNUSED_PART_NOTES[key] for key in unused]


ALL_REGIONS = ""  # -e regions= (empty, the AWX survey's "empty for all"): every region of the stage
REGIONS_EXPECTED = "region names such as 'us-east-1,eu-west-1' (a comma-separated string or a list), or '' for all of the stage's"


def parse_regions_argument(value: Any) -> Optional[List[str]]:
    """``-e regions=a,b`` (or a YAML list) as a list of region names; None for every region of the stage (``''``).

    Refused: null, an empty list, whitespace or commas only, empty items, non-names, duplicates.
    """
    if value == ALL_REGIONS:
        return None
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list):
        items = [item.strip() if isinstance(item, str) else item for item in value]
    else:
        raise refusal("regions", value, REGIONS_EXPECTED, PlanError)
    if not items or any(not isinstance(item, str) or not item for item in items):
        raise refusal("regions", value, f"{REGIONS_EXPECTED}, without empty items", PlanError)
    for item in items:
        if not REGION_PATTERN.match(item):
            raise PlanError(f"'{item}' is not an AWS region name (expected something like us-east-1)")
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise PlanError(f"regions lists {', '.join(duplicates)} more than once")
    return items


# The keys project.yml and each of its stages may have (docs/project-layout.md).
PROJECT_KEYS = ("services_dir", "init_dir", "products_dir", "always_excluded_services", "authorizer", "service_packagers", "stages")
AUTHORIZER_KEYS = ("service", "order")
STAGE_KEYS = ("account_id", "primary_region", "regions", "artifact_bucket", "excluded_services", "ssm_prefix", "product_names", "portfolio")
PORTFOLIO_KEYS = ("name", "principals", "launch_role")


def load_project(project_dir: Any) -> Dict[str, Any]:
    """The checked contents of ``<project_dir>/project.yml`` with paths made absolute."""
    if not isinstance(project_dir, str) or not project_dir or not os.path.isdir(project_dir):
        raise PlanError(f"project_dir is not a directory: {project_dir}")
    data = _require_mapping(load_yaml_file(os.path.join(project_dir, PROJECT_FILE), PROJECT_FILE, strict=True), PROJECT_FILE)
    _require_known_keys(data, PROJECT_KEYS, PROJECT_FILE)
    stages = _require_mapping(data.get("stages"), f"{PROJECT_FILE} 'stages'")
    if not stages:
        raise PlanError(f"{PROJECT_FILE} defines no stages")
    for name in stages:
        if not isinstance(name, str) or not STAGE_PATTERN.match(name):
            raise PlanError(f"{PROJECT_FILE} stages key {_written(name)}: expected a stage name such as dev (letters, digits, - and _)")
    authorizer = data.get("authorizer") or {}  # absent, empty or null: no authorizer
    _require_mapping(authorizer, f"{PROJECT_FILE} 'authorizer'")
    _require_known_keys(authorizer, AUTHORIZER_KEYS, f"{PROJECT_FILE} 'authorizer'")
    if authorizer.get("order", "first") not in ("first", "last"):
        raise PlanError(f"{PROJECT_FILE} 'authorizer.order' must be first or last, got {authorizer.get('order')!r}")
    if authorizer.get("service") is not None and not isinstance(authorizer.get("service"), str):
        raise PlanError(f"{PROJECT_FILE} authorizer.service={_written(authorizer.get('service'))}: expected the name of a service")
    project = {
        "project_dir": os.path.abspath(project_dir),
        "services_dir": _project_path(project_dir, "services_dir", data.get("services_dir", "services"), "services"),
        # init stacks, products and the authorizer are optional: absent or empty means the project has none.
        "init_dir": _optional_project_folder(project_dir, data, "init_dir", "init"),
        "products_dir": _optional_project_folder(project_dir, data, "products_dir", "products"),
        "always_excluded_services": _require_str_list(data.get("always_excluded_services"), f"{PROJECT_FILE} 'always_excluded_services'"),
        "authorizer": {"service": authorizer.get("service"), "order": authorizer.get("order", "first")},
        "service_packagers": _service_packagers(data.get("service_packagers")),
        "stages": stages,
    }
    if not os.path.isdir(project["services_dir"]):
        raise PlanError(f"{PROJECT_FILE} services_dir: no such folder: {project['services_dir']}")
    return project


def _service_packagers(value: Any) -> Dict[str, str]:
    """project.yml's ``service_packagers``: ``{service: serverless|sam}`` for folders the config files do not decide."""
    packagers = _require_mapping(value or {}, f"{PROJECT_FILE} 'service_packagers'")
    for service, packager in packagers.items():
        if packager not in sources.PACKAGER_NAMES:
            raise PlanError(f"{PROJECT_FILE} service_packagers.{service}={_written(packager)}: expected one of {', '.join(sources.PACKAGER_NAMES)}")
    return dict(packagers)


def check_bucket_pattern(pattern: Any, what: str) -> str:
    """An artifact bucket pattern holding ``{region}`` and no other placeholder (refused in one line otherwise)."""
    expected = f"{what} artifact_bucket must be a name pattern containing {{region}} and no other placeholder, got {_written(pattern)}"
    if not isinstance(pattern, str):
        raise PlanError(expected)
    try:
        fields = [(name, spec, conversion) for _text, name, spec, conversion in string.Formatter().parse(pattern) if name is not None]
    except ValueError:
        raise PlanError(expected + " (a { or } without its pair)") from None
    if not fields or any(field != ("region", "", None) for field in fields):
        raise PlanError(expected)
    return pattern


def check_portfolio(value: Any, what: str) -> Optional[Dict[str, Any]]:
    """The stage's portfolio (``{name, principals, launch_role}``), checked; None when the stage names none."""
    if value is None:
        return None
    portfolio = _require_mapping(value, f"{what} portfolio")
    _require_known_keys(portfolio, PORTFOLIO_KEYS, f"{what} portfolio")
    name = portfolio.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        raise PlanError(f"{what} portfolio.name={_written(name)}: expected a portfolio name of 1 to 100 characters")
    principals = _require_str_list(portfolio.get("principals"), f"{what} portfolio.principals")
    for principal in principals:
        if not PRINCIPAL_PATTERN.match(principal):
            raise PlanError(f"{what} portfolio.principals has {principal!r}: expected IAM ARNs such as arn:aws:iam::123456789012:role/Deployer")
    role = portfolio.get("launch_role")
    if role is not None and not (isinstance(role, str) and ROLE_PATTERN.match(role)):
        raise PlanError(f"{what} portfolio.launch_role={_written(role)}: expected an IAM role ARN such as arn:aws:iam::123456789012:role/TenantStacks")
    return {"name": name, "principals": principals, "launch_role": role}


def check_stage(project: Dict[str, Any], stage: Any) -> Dict[str, Any]:
    """The stage's settings, checked; raises with the list of known stages when it is not defined."""
    if stage is None or stage == "":
        raise PlanError("stage is required: run with -e stage=<stage> (one of: " + ", ".join(sorted(project["stages"])) + ")")
    if not isinstance(stage, str) or not STAGE_PATTERN.match(stage):
        raise PlanError(f"stage must be a plain name such as dev or prod, got {stage!r}")
    if stage not in project["stages"]:
        raise PlanError(f"stage '{stage}' is not defined in {PROJECT_FILE} (defined: {', '.join(sorted(project['stages']))})")
    settings = _require_mapping(project["stages"][stage], f"stage '{stage}'")
    what = f"stage '{stage}'"
    _require_known_keys(settings, STAGE_KEYS, what)
    account_id = settings.get("account_id", "")
    if isinstance(account_id, int):
        raise PlanError(
            f"{what} account_id={_written(account_id)}: expected 12 digits in quotes (account_id: \"{_written(account_id)}\"); "
            f"unquoted, YAML reads it as the number {int(account_id)}"
        )
    if not isinstance(account_id, str) or not ACCOUNT_PATTERN.match(account_id):
        raise PlanError(f"{what} account_id must be 12 digits, got {_written(account_id)}")
    if "regions" not in settings or settings["regions"] is None:
        raise PlanError(f"{what} lists no regions (regions: [us-east-1, ...])")
    regions = _require_str_list(settings.get("regions"), f"{what} regions")
    if not regions:
        raise PlanError(f"{what} lists no regions")
    for region in regions:
        if not REGION_PATTERN.match(region):
            raise PlanError(f"{what} region '{region}' is not an AWS region name")
    duplicates = sorted({region for region in regions if regions.count(region) > 1})
    if duplicates:
        raise PlanError(f"{what} regions lists {', '.join(duplicates)} more than once")
    primary = settings.get("primary_region", regions[0])
    if primary not in regions:
        raise PlanError(f"{what} primary_region '{primary}' is not one of its regions ({', '.join(regions)})")
    bucket_pattern = check_bucket_pattern(settings.get("artifact_bucket"), what)
    for region in regions:
        bucket = naming.artifact_bucket(bucket_pattern, region)
        if not BUCKET_PATTERN.match(bucket) or ".." in bucket:
            raise PlanError(f"{what} artifact bucket '{bucket}' is not a valid S3 bucket name")
    ssm_prefix = settings.get("ssm_prefix", f"/multiregion/{stage}")
    if not isinstance(ssm_prefix, str) or not SSM_PREFIX_PATTERN.match(ssm_prefix):
        raise PlanError(f"{what} ssm_prefix must be an SSM path such as /multiregion/{stage}, got {_written(ssm_prefix)}")
    product_names = settings.get("product_names") or {}
    if not isinstance(product_names, dict) or not all(isinstance(key, str) and isinstance(value, str) for key, value in product_names.items()):
        raise PlanError(f"{what} product_names must map product names to Service Catalog product names, got {product_names!r}")
    return {
        "portfolio": check_portfolio(settings.get("portfolio"), what),
        "account_id": account_id,
        "regions": regions,
        "primary_region": primary,
        "artifact_bucket_pattern": bucket_pattern,
        "excluded_services": _require_str_list(settings.get("excluded_services"), f"{what} excluded_services"),
        "ssm_prefix": ssm_prefix,
        "product_names": dict(product_names),
    }


def select_regions(stage_name: str, stage_regions: List[str], requested: Optional[List[str]]) -> List[str]:
    """The stage's regions, narrowed by ``-e regions``, in the stage's order."""
    if requested is None:
        return list(stage_regions)
    unknown = [region for region in requested if region not in stage_regions]
    if unknown:
        raise PlanError(
            f"region {', '.join(unknown)} is not in stage '{stage_name}' (its regions: {', '.join(stage_regions)})"
        )
    return [region for region in stage_regions if region in requested]


def discover_products(products_dir: Optional[str]) -> List[str]:
    """Names of the product definitions (``<products_dir>/<name>.yml``), sorted.

    A definition's optional ``name:`` must be its file name: the stage's Service Catalog name is made from it
    (``catalog_names``), and the phases find a product's settings by it.
    """
    if products_dir is None:
        return []
    suffix = naming.PRODUCT_DEFINITION_SUFFIX
    products = sorted(name[: -len(suffix)] for name in os.listdir(products_dir) if name.endswith(suffix))
    for product in products:
        definition = load_yaml_file(naming.product_definition_path(products_dir, product), f"product definition {product}{suffix}")
        declared = definition.get("name", product) if isinstance(definition, dict) else product
        if declared != product:
            raise PlanError(
                f"products/{product}.yml names itself {declared!r}: a product's name is its file name "
                "(set product_names in a stage to change its Service Catalog name)"
            )
    return products


# A service is named by its folder: Serverless's service name rule. Its stack is <service>-<stage> and its default
# Lambda role <service>-<stage>-<region>-lambdaRole, which IAM caps at 64 characters.
SERVICE_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
IAM_ROLE_NAME_LIMIT = 64


def _unknown_name(what: str, name: str, known: List[str], noun: str) -> PlanError:
    hint = did_you_mean(name, known)
    return PlanError(f"{what} names {name!r}, which is not one of the project's {noun}s; {hint}({noun}s: {', '.join(known) or 'none'})")


def project_init_stacks(init_dir: Optional[str]) -> List[str]:
    """The init stacks the project's compose file defines (none without an init folder or compose file)."""
    if init_dir is None:
        return []
    compose_file = sources.find_config(init_dir, COMPOSE_NAMES)
    if compose_file is None:
        return []
    try:
        return sorted(read_compose(compose_file)["services"])
    except PackagingError as exc:
        raise PlanError(str(exc)) from None


def check_sources(project: Dict[str, Any], stage: str, settings: Dict[str, Any], products: List[str]) -> List[str]:
    """The init stacks the products nest, after checking that every name project.yml and the products use exists.

    Refused: a service name Serverless or IAM would refuse for this stage, an exclusion or an authorizer that is not a
    service, a product whose nested stacks name a service or init stack that does not exist.
    """
    services = sources.discover_services(project["services_dir"], config_names=sources.SERVICE_CONFIG_NAMES)["services"]
    longest_region = max(settings["regions"], key=len)
    for service in services:
        role = f"{service}-{stage}-{longest_region}-lambdaRole"
        too_long = len(role) > IAM_ROLE_NAME_LIMIT and not sources.names_own_role(os.path.join(project["services_dir"], service))
        if not SERVICE_NAME_PATTERN.match(service) or too_long:
            raise PlanError(
                f"service folder {service!r} ({len(service)} characters): expected a Serverless service name (a letter, then letters, "
                f"digits and -) short enough that its Lambda role {service}-{stage}-<region>-lambdaRole fits IAM's "
                f"{IAM_ROLE_NAME_LIMIT} characters (at most {IAM_ROLE_NAME_LIMIT - len(role) + len(service)} here)"
            )
    for key, names in (("always_excluded_services", project["always_excluded_services"]),
                       (f"stages.{stage}.excluded_services", settings["excluded_services"])):
        for name in names:
            if name not in services:
                raise _unknown_name(f"{PROJECT_FILE} {key}", name, services, "service")
    for name in project["service_packagers"]:
        if name not in services:
            raise _unknown_name(f"{PROJECT_FILE} service_packagers", name, services, "service")
    authorizer = project["authorizer"]["service"]
    if authorizer and authorizer not in services:
        raise _unknown_name(f"{PROJECT_FILE} authorizer.service", authorizer, services, "service")
    init_stacks = project_init_stacks(project["init_dir"])
    nested_init_stacks = set()
    for product in products:
        try:
            refs = nested_stack_refs(load_product(naming.product_definition_path(project["products_dir"], product)))
        except ProductError as exc:
            raise PlanError(str(exc)) from None
        for kind, name in refs:
            known = services if kind == "service" else init_stacks
            if name not in known:
                raise _unknown_name(f"products/{product}.yml nested_stacks", name, known, "service" if kind == "service" else "init stack")
            if kind == "init":
                nested_init_stacks.add(name)
    return sorted(nested_init_stacks)


def catalog_names(stage: str, settings: Dict[str, Any], products: List[str]) -> Dict[str, str]:
    """``{product: Service Catalog name}`` of the stage (naming.catalog_product_name), each name checked."""
    unknown = sorted(set(settings["product_names"]) - set(products))
    if unknown:
        raise PlanError(f"stage '{stage}' product_names names {', '.join(unknown)}, which is not a product (products: {', '.join(products) or 'none'})")
    names = {product: naming.catalog_product_name(product, stage, settings["product_names"]) for product in products}
    for product, name in names.items():
        if not CATALOG_NAME_PATTERN.match(name):
            raise PlanError(
                f"product '{product}' of stage '{stage}' would be the Service Catalog product '{name}', which is not a name of 1-100 "
                "characters from A-Z a-z 0-9 _ . - (it is also part of SSM parameter names); rename it or set stages."
                f"{stage}.product_names.{product}"
            )
    return names


def _collision(first: Tuple[str, Dict[str, Any]], second: Tuple[str, Dict[str, Any]], products: List[str]) -> Optional[str]:
    """What two stages would share that must be each stage's own, as the end of a sentence; None when nothing."""
    (name_a, a), (name_b, b) = first, second
    buckets_a = {region: naming.artifact_bucket(a["artifact_bucket_pattern"], region) for region in a["regions"]}
    for region in b["regions"]:
        bucket = naming.artifact_bucket(b["artifact_bucket_pattern"], region)
        if bucket in buckets_a.values():
            return f"both use the artifact bucket {bucket} (key: stages.{name_b}.artifact_bucket)"
    if a["account_id"] != b["account_id"]:
        return None
    shared_regions = [region for region in a["regions"] if region in b["regions"]]
    if not shared_regions:
        return None
    where = f"account {a['account_id']}, region {shared_regions[0]}"
    prefix_a, prefix_b = a["ssm_prefix"].rstrip("/") + "/", b["ssm_prefix"].rstrip("/") + "/"
    if prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a):
        return f"their SSM prefixes {a['ssm_prefix']} and {b['ssm_prefix']} overlap in {where} (key: stages.{name_b}.ssm_prefix)"
    names_a = catalog_names(name_a, a, products)
    names_b = catalog_names(name_b, b, products)
    for product in products:
        if names_a[product] in names_b.values():
            other = next(key for key, value in names_b.items() if value == names_a[product])
            return f"both would use the Service Catalog product '{names_a[product]}' in {where} (key: stages.{name_b}.product_names.{other})"
    return None


def check_stage_collisions(project: Dict[str, Any], products: List[str]) -> None:
    """Refuse a project in which two stages would share a product, an SSM prefix or a bucket (one line naming both)."""
    stages = []
    for name in sorted(project["stages"], key=str):
        try:
            stages.append((name, check_stage(project, name)))
        except PlanError:
            continue  # a stage that cannot run cannot collide; its own run says what is wrong with it
    for first, second in itertools.combinations(stages, 2):
        problem = _collision(first, second, products)
        if problem:
            raise PlanError(f"stages '{first[0]}' and '{second[0]}' collide: {problem}; give each stage its own")


def check_run_id(run_id: Any) -> str:
    """``run_id`` when it has the form of a run id (it becomes part of the ledger's path), else a PlanError."""
    if not isinstance(run_id, str) or not naming.RUN_ID_PATTERN.match(run_id):
        raise PlanError(f"resume must be a run id such as {naming.RUN_ID_EXAMPLE}, got {run_id!r}")
    return run_id


def check_resume(runs_dir: str, run_id: Any, plan: Dict[str, Any]) -> List[str]:
    """The phases the run ``run_id`` finished, when its ledger is of this plan's stage, account and SSM prefix."""
    check_run_id(run_id)
    path = naming.ledger_path(runs_dir, run_id)
    try:
        with open(path, encoding="utf-8") as handle:
            run = json.load(handle).get("run") or {}
    except OSError:
        raise PlanError(f"resume={run_id}: no such run (no ledger at {path})") from None
    except (ValueError, AttributeError):
        raise PlanError(f"resume={run_id}: the ledger at {path} is not a run ledger") from None
    if run.get("check_mode"):
        raise PlanError(f"resume={run_id} is a check run (--check): it did nothing to resume; run without resume")
    for key in ("stage", "account_id", "ssm_prefix"):
        recorded = run.get(key)
        # Ledgers written before the account and prefix were recorded carry the stage only.
        if (recorded is not None or key == "stage") and recorded != plan[key]:
            raise PlanError(
                f"resume={run_id} is a run of stage '{run.get('stage')}' (account {run.get('account_id', '?')}, ssm_prefix "
                f"{run.get('ssm_prefix', '?')}), not of this stage '{plan['stage']}' (account {plan['account_id']}, ssm_prefix "
                f"{plan['ssm_prefix']}); nothing was written"
            )
    return list(run.get("phases_done") or [])


def limit_regions(stage: str, selected: List[str], play_hosts: Optional[Iterable[str]]) -> List[str]:
    """The selected regions that ``--limit`` left in the play (``play_hosts``: the first play's hosts); all when None."""
    if play_hosts is None:
        return selected
    hosts = list(play_hosts)
    limited = [region for region in selected if region in hosts]
    if not limited:
        raise PlanError(
            f"--limit leaves no region of this run: it selects {', '.join(hosts) or 'no host'}, stage '{stage}' deploys to "
            f"{', '.join(selected)}; nothing was written"
        )
    return limited


def build_plan(project_dir: str, stage: Any, regions: Any = ALL_REGIONS, inventory_regions: Iterable[str] = (),
               play_hosts: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """Everything the phases need to know about this run, or a PlanError saying what to fix.

    ``play_hosts`` (the hosts ``--limit`` left) narrows the regions further; ``notes`` says how the regions were chosen.
    """
    project = load_project(project_dir)
    settings = check_stage(project, stage)
    requested = parse_regions_argument(regions)
    selected = select_regions(stage, settings["regions"], requested)
    inventory = list(inventory_regions)
    if inventory:
        missing = [region for region in selected if region not in inventory]
        if missing:
            raise PlanError(f"region {', '.join(missing)} has no host in the inventory (add it, or narrow with -e regions=...)")
    narrowed = limit_regions(stage, selected, play_hosts)
    notes = []
    if requested is None:
        notes.append(f"regions: every region of stage '{stage}' ({', '.join(selected)})")
    notes += unused_parts(project)
    if narrowed != selected:
        notes.append(f"--limit: only {', '.join(narrowed)} (of {', '.join(selected)})")
    products = discover_products(project["products_dir"])
    names = catalog_names(stage, settings, products)
    nested_init_stacks = check_sources(project, stage, settings, products)
    check_stage_collisions(project, products)
    selected = narrowed
    return {
        "notes": notes,
        "project_dir": project["project_dir"],
        "services_dir": project["services_dir"],
        "init_dir": project["init_dir"],
        "products_dir": project["products_dir"],
        "always_excluded_services": project["always_excluded_services"],
        "authorizer": project["authorizer"],
        "service_packagers": project["service_packagers"],
        "stage": stage,
        "account_id": settings["account_id"],
        "regions": selected,
        "primary_region": settings["primary_region"],
        "artifact_buckets": {region: naming.artifact_bucket(settings["artifact_bucket_pattern"], region) for region in settings["regions"]},
        "excluded_services": settings["excluded_services"],
        "ssm_prefix": settings["ssm_prefix"],
        "products": products,
        "product_definitions": {product: naming.product_definition_path(project["products_dir"], product) for product in products},
        "catalog_names": names,
        "portfolio": settings["portfolio"],
        "nested_init_stacks": nested_init_stacks,
        # The deploy targets of the run: (account, region) pairs; one account per stage today.
        "targets": [{"account_id": settings["account_id"], "region": region} for region in selected],
    }


def plan_run(project_dir: str, stage: Any, regions: Any = ALL_REGIONS, inventory_regions: Iterable[str] = (), resume: Optional[str] = None,
             runs_dir: Optional[str] = None, moment: Optional[datetime.datetime] = None, play_hosts: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """The ``deploy_plan`` module's result: the checked plan, what the resumed run finished, and the run's id and start.

    The run id is new (naming.new_run_id) unless ``resume`` names an earlier run of the same stage, whose ledger
    in ``runs_dir`` (default ``<project_dir>/.deploy-runs``) says which phases it finished.
    """
    plan = build_plan(project_dir, stage, regions, inventory_regions, play_hosts)
    notes = plan.pop("notes")
    plan["runs_dir"] = runs_dir or naming.default_runs_dir(plan["project_dir"])
    resumed_phases: List[str] = []
    if resume:
        resumed_phases = check_resume(plan["runs_dir"], resume, plan)
    moment = moment or naming.utc_now()
    return {"plan": plan, "resumed_phases": resumed_phases, "run_id": resume or naming.new_run_id(moment), "started": naming.timestamp(moment),
            "notes": notes}
