# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name the collection gives to something: SSM parameters, S3 keys and URLs, run ids, local paths.

One definition each (docs/project-layout.md describes the layout); modules, roles and tests take them from
here instead of building them again. A leaf apart from ``common``: nothing here needs to import back.
"""

from __future__ import annotations

import datetime
import os
import re
import secrets
from typing import Mapping, Optional

# ---------------------------------------------------------------------------------------------- SSM

LOCK_PARAMETER_SUFFIX = "/deploy-lock"
LATEST_ID_SUFFIX = "latest-artifact-id"
HIGHEST_VERSION_SUFFIX = "highest-version-number"


def lock_parameter_name(ssm_prefix: str) -> str:
    """``<ssm_prefix>/deploy-lock``: the stage-wide deploy lock (in the stage's primary region)."""
    return ssm_prefix.rstrip("/") + LOCK_PARAMETER_SUFFIX


def latest_id_parameter(ssm_prefix: str, catalog_name: str) -> str:
    """``<ssm_prefix>/products/<Service Catalog product name>/latest-artifact-id``."""
    return f"{ssm_prefix.rstrip('/')}/products/{catalog_name}/{LATEST_ID_SUFFIX}"


def highest_version_parameter(latest_id: str) -> str:
    """The high-water mark beside a latest-id parameter: ``<same folder>/highest-version-number``."""
    return f"{latest_id.rsplit('/', 1)[0]}/{HIGHEST_VERSION_SUFFIX}"


# ---------------------------------------------------------------------------------------------- Service Catalog


def catalog_product_name(product: str, stage: str, overrides: Optional[Mapping[str, str]] = None) -> str:
    """The Service Catalog name of the product definition ``product`` in ``stage``: the override, else ``<product>-<stage>``."""
    return (overrides or {}).get(product) or f"{product}-{stage}"


# ---------------------------------------------------------------------------------------------- S3

# Hex digits of a ZIP's sha256 in its content-addressed key.
CONTENT_HASH_LENGTH = 16
# The object prefix of a run's ledger and report.
RUNS_OBJECT_PREFIX = "runs"


def artifact_bucket(pattern: str, region: str) -> str:
    """A stage's artifact bucket in ``region``, from its ``artifact_bucket`` pattern (``...-{region}``)."""
    return pattern.format(region=region)


def artifact_prefix(service: str, stage: str) -> str:
    """``serverless/<service>/<stage>``: Serverless's own prefix of a service's artifacts (its default deploymentPrefix)."""
    return f"serverless/{service}/{stage}"


def sam_artifact_prefix(service: str, stage: str) -> str:
    """``sam/<service>/<stage>``: the prefix of a SAM service's ZIPs, nested templates and templates."""
    return f"sam/{service}/{stage}"


def artifact_key(prefix: str, zip_sha256: str, zip_name: str) -> str:
    """``<prefix>/<first 16 hex of the ZIP's sha256>/<zip name>``."""
    return f"{prefix}/{zip_sha256[:CONTENT_HASH_LENGTH]}/{zip_name}"


def service_template_key(prefix: str, template_sha256: str) -> str:
    """``serverless/<service>/<stage>/templates/<template sha256>.json``."""
    return f"{prefix}/templates/{template_sha256}.json"


def init_template_key(stack: str, stage: str, template_sha256: str) -> str:
    """``init/<stack>/<stage>/<template sha256>.json``."""
    return f"init/{stack}/{stage}/{template_sha256}.json"


def product_template_key(product: str, stage: str, template_sha256: str) -> str:
    """``products/<product>/<stage>/<template sha256>.json``."""
    return f"products/{product}/{stage}/{template_sha256}.json"


def run_object_prefix(stage: str, run_id: str) -> str:
    """``runs/<stage>/<run id>/``: where a run's ledger and report are copied in the primary bucket."""
    return f"{RUNS_OBJECT_PREFIX}/{stage}/{run_id}/"


def regional_s3_url(bucket: str, key: str, region: str) -> str:
    """The regional virtual-hosted URL CloudFormation and Service Catalog load templates from."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


# ---------------------------------------------------------------------------------------------- runs

RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
RUN_ID_EXAMPLE = "20261123T120000Z-1a2b3c"
_RUN_ID_TIME = "%Y%m%dT%H%M%SZ"
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
RUNS_FOLDER = ".deploy-runs"
LEDGER_FILE = "ledger.json"
REPORT_FILE = "report.md"
# The run's plan (run_plan.py): local only, never uploaded.
PLAN_FILE = "plan.json"
PLAN_REPORT_FILE = "plan.md"


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def timestamp(moment: Optional[datetime.datetime] = None) -> str:
    """ISO 8601 in UTC to the second (``2026-11-23T12:00:00Z``): a run's start and end."""
    return (moment or utc_now()).strftime(_TIMESTAMP)


def new_run_id(moment: Optional[datetime.datetime] = None, token: Optional[int] = None) -> str:
    """``<UTC time>-<6 random hex>`` (``20261123T120000Z-1a2b3c``), matching RUN_ID_PATTERN."""
    token = secrets.randbelow(1 << 24) if token is None else token
    return f"{(moment or utc_now()).strftime(_RUN_ID_TIME)}-{token:06x}"


def default_runs_dir(project_dir: str) -> str:
    """``<project_dir>/.deploy-runs``: one folder per run id."""
    return os.path.join(project_dir, RUNS_FOLDER)


def run_dir(runs_dir: str, run_id: str) -> str:
    return os.path.join(runs_dir, run_id)


def ledger_path(runs_dir: str, run_id: str) -> str:
    return os.path.join(runs_dir, run_id, LEDGER_FILE)


def report_path(runs_dir: str, run_id: str) -> str:
    return os.path.join(runs_dir, run_id, REPORT_FILE)


# ---------------------------------------------------------------------------------------------- local paths

PRODUCT_DEFINITION_SUFFIX = ".yml"


def product_definition_path(products_dir: str, product: str) -> str:
    """``<products_dir>/<product>.yml``."""
    return os.path.join(products_dir, product + PRODUCT_DEFINITION_SUFFIX)


BUILD_FOLDER = ".deploy-build"
# Written into the default build folder so git ignores it in any project, without touching the project's .gitignore.
BUILD_FOLDER_GITIGNORE = "# multiregion.serverless build output (working copies, packaged output, cache)\n*\n"


def default_build_root(project_dir: str) -> str:
    """``<project_dir>/.deploy-build``: inside the project, beside ``.deploy-runs``, ignored by git."""
    return os.path.join(os.path.abspath(project_dir), BUILD_FOLDER)


def target_build_dir(build_root: str, stage: str, region: str) -> str:
    """``<build_root>/<stage>/<region>``: everything one deploy target builds (working copies, output, products)."""
    return os.path.join(build_root, stage, region)


def default_slots_dir(build_root: str) -> str:
    """``<build_root>/slots``: the machine-wide packaging slots and locks."""
    return os.path.join(build_root, "slots")


def shared_build_dir(build_root: str, stage: str, packager: str, service: str) -> str:
    """``<build_root>/<stage>/_shared/<packager>/<service>``: a build every region of the stage publishes (SAM)."""
    return os.path.join(build_root, stage, "_shared", packager, service)


def shared_build_lock_name(stage: str, packager: str, service: str) -> str:
    """The machine-wide lock under which the first region builds a shared build and the others wait for it."""
    return f"build-{stage}-{packager}-{service}"


def serial_lock_name(stage: str, service: str) -> str:
    """The machine-wide lock a serial service (the authorizer) is packaged under, in every region."""
    return f"serial-{stage}-{service}"
