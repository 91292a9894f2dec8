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
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils.common import (
    ACCOUNT_PATTERN,
    BUCKET_PATTERN,
    CATALOG_NAME_PATTERN,
    REGION_PATTERN,
    SSM_PREFIX_PATTERN,
    STAGE_PATTERN,
)

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None  # type: ignore

PROJECT_FILE = "project.yml"


class PlanError(ValueError):
    """A deploy input is wrong; the message is one line that says what to fix."""


def load_yaml_file(path: str, what: str) -> Any:
    if not os.path.isfile(path):
        raise PlanError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PlanError(f"{what} is not valid YAML{where}: {problem}: {path}") from None


def _require_mapping(value: Any, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise PlanError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _require_str_list(value: Any, what: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise PlanError(f"{what} must be a list of names")
    return list(value)


def parse_regions_argument(value: Any) -> Optional[List[str]]:
    """``-e regions=a,b`` (or a YAML list) as a list of region names; None when not given.

    Malformed values (empty items, spaces inside names, duplicates, non-strings) are refused.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list):
        items = [item.strip() if isinstance(item, str) else item for item in value]
    else:
        raise PlanError(f"regions must be a comma-separated list such as 'us-east-1,eu-west-1', got {value!r}")
    if any(not isinstance(item, str) or not item for item in items):
        raise PlanError(f"regions must be a comma-separated list such as 'us-east-1,eu-west-1' without empty items, got {value!r}")
    for item in items:
        if not REGION_PATTERN.match(item):
            raise PlanError(f"'{item}' is not an AWS region name (expected something like us-east-1)")
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise PlanError(f"regions lists {', '.join(duplicates)} more than once")
    return items


def load_project(project_dir: str) -> Dict[str, Any]:
    """The checked contents of ``<project_dir>/project.yml`` with paths made absolute."""
    if not project_dir or not os.path.isdir(project_dir):
        raise PlanError(f"project_dir is not a directory: {project_dir}")
    data = _require_mapping(load_yaml_file(os.path.join(project_dir, PROJECT_FILE), PROJECT_FILE), PROJECT_FILE)
    stages = _require_mapping(data.get("stages"), f"{PROJECT_FILE} 'stages'")
    if not stages:
        raise PlanError(f"{PROJECT_FILE} defines no stages")
    authorizer = data.get("authorizer") or {}
    _require_mapping(authorizer, f"{PROJECT_FILE} 'authorizer'")
    if authorizer.get("order", "first") not in ("first", "last"):
        raise PlanError(f"{PROJECT_FILE} 'authorizer.order' must be first or last, got {authorizer.get('order')!r}")
    project = {
        "project_dir": os.path.abspath(project_dir),
        "services_dir": os.path.join(os.path.abspath(project_dir), data.get("services_dir", "services")),
        "init_dir": os.path.join(os.path.abspath(project_dir), data.get("init_dir", "init")),
        "products_dir": os.path.join(os.path.abspath(project_dir), data.get("products_dir", "products")),
        "always_excluded_services": _require_str_list(data.get("always_excluded_services"), f"{PROJECT_FILE} 'always_excluded_services'"),
        "authorizer": {"service": authorizer.get("service"), "order": authorizer.get("order", "first")},
        "stages": stages,
    }
    return project


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
    account_id = str(settings.get("account_id", ""))
    if not ACCOUNT_PATTERN.match(account_id):
        raise PlanError(f"{what} account_id must be 12 digits, got {settings.get('account_id')!r}")
    regions = _require_str_list(settings.get("regions"), f"{what} regions")
    if not regions:
        raise PlanError(f"{what} lists no regions")
    for region in regions:
        if not REGION_PATTERN.match(region):
            raise PlanError(f"{what} region '{region}' is not an AWS region name")
    primary = settings.get("primary_region", regions[0])
    if primary not in regions:
        raise PlanError(f"{what} primary_region '{primary}' is not one of its regions ({', '.join(regions)})")
    bucket_pattern = settings.get("artifact_bucket")
    if not isinstance(bucket_pattern, str) or "{region}" not in bucket_pattern:
        raise PlanError(f"{what} artifact_bucket must be a name pattern containing {{region}}, got {bucket_pattern!r}")
    for region in regions:
        try:
            bucket = naming.artifact_bucket(bucket_pattern, region)
        except (KeyError, IndexError, ValueError):
            raise PlanError(f"{what} artifact_bucket may hold no placeholder but {{region}}, got {bucket_pattern!r}") from None
        if not BUCKET_PATTERN.match(bucket):
            raise PlanError(f"{what} artifact bucket '{bucket}' is not a valid S3 bucket name")
    ssm_prefix = settings.get("ssm_prefix", f"/multiregion/{stage}")
    if not isinstance(ssm_prefix, str) or not SSM_PREFIX_PATTERN.match(ssm_prefix):
        raise PlanError(f"{what} ssm_prefix must be an SSM path such as /multiregion/{stage}, got {ssm_prefix!r}")
    product_names = settings.get("product_names") or {}
    if not isinstance(product_names, dict) or not all(isinstance(key, str) and isinstance(value, str) for key, value in product_names.items()):
        raise PlanError(f"{what} product_names must map product names to Service Catalog product names, got {product_names!r}")
    return {
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


def discover_products(products_dir: str) -> List[str]:
    """Names of the product definitions (``<products_dir>/<name>.yml``), sorted.

    A definition's optional ``name:`` must be its file name: the stage's Service Catalog name is made from it
    (``catalog_names``), and the phases find a product's settings by it.
    """
    if not os.path.isdir(products_dir):
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


def build_plan(project_dir: str, stage: Any, regions: Any = None, inventory_regions: Iterable[str] = ()) -> Dict[str, Any]:
    """Everything the phases need to know about this run, or a PlanError saying what to fix."""
    project = load_project(project_dir)
    settings = check_stage(project, stage)
    selected = select_regions(stage, settings["regions"], parse_regions_argument(regions))
    inventory = list(inventory_regions)
    if inventory:
        missing = [region for region in selected if region not in inventory]
        if missing:
            raise PlanError(f"region {', '.join(missing)} has no host in the inventory (add it, or narrow with -e regions=...)")
    products = discover_products(project["products_dir"])
    names = catalog_names(stage, settings, products)
    check_stage_collisions(project, products)
    return {
        "project_dir": project["project_dir"],
        "services_dir": project["services_dir"],
        "init_dir": project["init_dir"],
        "products_dir": project["products_dir"],
        "always_excluded_services": project["always_excluded_services"],
        "authorizer": project["authorizer"],
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
        # The deploy targets of the run: (account, region) pairs; one account per stage today.
        "targets": [{"account_id": settings["account_id"], "region": region} for region in selected],
    }


def plan_run(project_dir: str, stage: Any, regions: Any = None, inventory_regions: Iterable[str] = (), resume: Optional[str] = None,
             runs_dir: Optional[str] = None, moment: Optional[datetime.datetime] = None) -> Dict[str, Any]:
    """The ``deploy_plan`` module's result: the checked plan, what the resumed run finished, and the run's id and start.

    The run id is new (naming.new_run_id) unless ``resume`` names an earlier run of the same stage, whose ledger
    in ``runs_dir`` (default ``<project_dir>/.deploy-runs``) says which phases it finished.
    """
    plan = build_plan(project_dir, stage, regions, inventory_regions)
    plan["runs_dir"] = runs_dir or naming.default_runs_dir(plan["project_dir"])
    resumed_phases: List[str] = []
    if resume:
        resumed_phases = check_resume(plan["runs_dir"], resume, plan)
    moment = moment or naming.utc_now()
    return {"plan": plan, "resumed_phases": resumed_phases, "run_id": resume or naming.new_run_id(moment), "started": naming.timestamp(moment)}
