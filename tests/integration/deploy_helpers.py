"""Running ``playbooks/deploy.yml`` (and ``bootstrap.yml``) from tests, and reading the end state back.

The playbook runs as a real ``ansible-playbook`` subprocess against a local AWS server, with the
``ansible.posix.json`` stdout callback so a test reads task results (changed, failed, msg) as data instead
of scraping the console. AWS writes are judged by the server's call counts (``writes``).
"""
from __future__ import annotations

import hashlib

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import yaml
from local_aws.catalog_access import grant_launch_path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO_ROOT / "examples"
DEPLOY_PLAYBOOK = REPO_ROOT / "playbooks" / "deploy.yml"
BOOTSTRAP_PLAYBOOK = REPO_ROOT / "playbooks" / "bootstrap.yml"
VENV_BIN = REPO_ROOT / ".venv" / "bin"

# What an operation name starts with when it only reads. Everything else counts as a write, so an
# operation nobody thought of is caught rather than waved through.
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Search", "Scan", "Select", "Lookup")
# STS calls (GetCallerIdentity, AssumeRole) change nothing in the account.
READ_ONLY_SERVICES = ("sts",)
# The run's own bookkeeping: lock taken and released, ledger.json and report.md uploaded.
BOOKKEEPING_WRITES = {"ssm:PutParameter": 1, "ssm:DeleteParameter": 1, "s3:PutObject": 2}
# Tasks of the deploy_run role that change something on every run that gets past the inputs (the report
# task also releases the lock; the separate release task runs only when it did not get that far).
BOOKKEEPING_TASKS = {
    "Take the stage lock in the primary region",
    "Write the run ledger and report",
}


def is_write(service: str, operation: str) -> bool:
    return service not in READ_ONLY_SERVICES and not operation.startswith(READ_PREFIXES)


def writes(calls: Dict[str, Dict[str, int]]) -> Dict[str, int]:
    """``{"service:Operation": count}`` of the write calls in a ``local_aws.calls()`` answer."""
    return {
        f"{service}:{operation}": count
        for service, operations in sorted(calls.items())
        for operation, count in sorted(operations.items())
        if count and is_write(service, operation)
    }


def copy_project(destination: Path, source: Path = EXAMPLES_DIR) -> Path:
    """A copy of a project to change freely; without earlier runs' ledgers and build output."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".deploy-runs", ".serverless", "__pycache__", "node_modules"))
    return destination


def edit_project_settings(project_dir: Path, edit) -> None:
    """Apply ``edit(settings)`` to ``project.yml`` (a dict, changed in place)."""
    path = project_dir / "project.yml"
    settings = yaml.safe_load(path.read_text())
    edit(settings)
    path.write_text(yaml.safe_dump(settings, sort_keys=False))


@dataclass
class TaskResult:
    task: str  # the task name without its role prefix
    host: str
    result: Dict[str, Any]

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))


@dataclass
class PlaybookRun:
    """One ``ansible-playbook`` run: exit code, the json callback's document, stderr."""

    command: List[str]
    returncode: int
    document: Dict[str, Any]
    stdout: str
    stderr: str
    results: List[TaskResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        for play in self.document.get("plays", []):
            for task in play.get("tasks", []):
                name = task["task"]["name"].split(" : ", 1)[-1]
                for host, result in task.get("hosts", {}).items():
                    self.results.append(TaskResult(name, host, result))

    @property
    def failures(self) -> List[TaskResult]:
        return [result for result in self.results if result.failed and not result.result.get("ignore_errors")]

    @property
    def failure_messages(self) -> List[str]:
        return [result.msg for result in self.failures]

    @property
    def changed_tasks(self) -> Set[str]:
        return {result.task for result in self.results if result.changed}

    @property
    def stats(self) -> Dict[str, Any]:
        """What the run gave AWX through set_stats."""
        return self.document.get("global_custom_stats", {})

    def task(self, name: str) -> List[TaskResult]:
        return [result for result in self.results if result.task == name]

    def explain(self) -> str:
        """For assertion messages: the exit code, the failures and the end of stderr."""
        lines = [f"rc={self.returncode}: {' '.join(self.command)}"]
        lines += [f"FAILED {f.task} [{f.host}]: {f.msg[:2000]}" for f in self.failures]
        if not self.document:
            lines.append("stdout: " + self.stdout[-3000:])
        lines.append("stderr: " + self.stderr[-3000:])
        return "\n".join(lines)


def parse_json_callback(stdout: str) -> Dict[str, Any]:
    """The ansible.posix.json document: the first line that opens a JSON object that parses to the end."""
    offset = 0
    for line in stdout.splitlines(keepends=True):
        if line.rstrip() == "{":
            try:
                return json.JSONDecoder().raw_decode(stdout[offset:])[0]
            except ValueError:
                pass
        offset += len(line)
    return {}


class PlaybookRunner:
    """Runs playbooks against one local AWS server (``.env``) as a given user (shown as the lock holder)."""

    def __init__(self, aws_env: Dict[str, str], user: str = "e2e-tester") -> None:
        self.env = {
            **os.environ,
            **aws_env,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            # Results as data; the json callback also replaces profile_tasks' timing lines on stdout.
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
            # The json callback only reports set_stats (what AWX shows) when asked to.
            "ANSIBLE_SHOW_CUSTOM_STATS": "1",
            "ANSIBLE_NOCOLOR": "1",
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "USER": user,
        }
        self.env.pop("AWX_JOB_ID", None)

    def run(
        self,
        playbook: Path,
        *args: str,
        extra_vars: Optional[Dict[str, Any]] = None,
        user: Optional[str] = None,
        timeout: float = 1200,
    ) -> PlaybookRun:
        command = [str(VENV_BIN / "ansible-playbook"), str(playbook)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        command += list(args)
        env = dict(self.env, USER=user) if user else self.env
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        return PlaybookRun(command, done.returncode, parse_json_callback(done.stdout), done.stdout, done.stderr)

    def deploy(self, project_dir: Path, stage: str, *args: str, **variables: Any) -> PlaybookRun:
        return self.run(DEPLOY_PLAYBOOK, *args, extra_vars={"project_dir": str(project_dir), "stage": stage, **variables})

    def bootstrap(self, project_dir: Path, stage: str, regions: Sequence[str]) -> PlaybookRun:
        return self.run(BOOTSTRAP_PLAYBOOK, extra_vars={"project_dir": str(project_dir), "stage": stage, "regions": ",".join(regions)})


# ---- Reading the end state back through boto3 (``aws`` is a local AWS handle with ``.client``).


def run_id_of(run: PlaybookRun) -> str:
    """The run id the deploy_run role chose (the fact its "Name this run" task set)."""
    named = [result.result["ansible_facts"]["deploy_run_id"] for result in run.task("Name this run")]
    assert named, "the run never got an id:\n" + run.explain()
    return named[0]


def ledger(project_dir: Path, run_id: str) -> Dict[str, Any]:
    return json.loads((project_dir / ".deploy-runs" / run_id / "ledger.json").read_text())


def entries(ledger_document: Dict[str, Any], phase: str, **match: Any) -> List[Dict[str, Any]]:
    return [entry for entry in ledger_document["entries"][phase] if all(entry.get(k) == v for k, v in match.items())]


def lock_value(aws, region: str, ssm_prefix: str) -> Optional[Dict[str, Any]]:
    """The stage lock's JSON value, or None when nobody holds it."""
    ssm = aws.client("ssm", region)
    try:
        return json.loads(ssm.get_parameter(Name=f"{ssm_prefix}/deploy-lock")["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def bucket_keys(aws, bucket: str, region: str) -> Set[str]:
    s3 = aws.client("s3", region)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def bucket_exists(aws, bucket: str, region: str) -> bool:
    s3 = aws.client("s3", region)
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except s3.exceptions.ClientError:
        return False


def service_of_key(key: str) -> str:
    """``serverless/<service>/...``, ``sam/<service>/...``, ``init/<stack>/...``, ``products/<product>/...``, ``runs/...`` -> what it belongs to."""
    parts = key.split("/")
    return "/".join(parts[:2]) if parts[0] in ("serverless", "sam", "init", "products") else parts[0]


def product_versions(aws, region: str, product: str) -> List[Tuple[str, str]]:
    """``[(artifact name, artifact id)]`` of a product, oldest first; [] when the product does not exist."""
    catalog = aws.client("servicecatalog", region)
    found = catalog.search_products_as_admin(Filters={"FullTextSearch": [product]})["ProductViewDetails"]
    ids = [view["ProductViewSummary"]["ProductId"] for view in found if view["ProductViewSummary"]["Name"] == product]
    if not ids:
        return []
    assert len(ids) == 1, f"{len(ids)} products named {product} in {region}"
    details = catalog.list_provisioning_artifacts(ProductId=ids[0])["ProvisioningArtifactDetails"]
    return [(detail["Name"], detail["Id"]) for detail in sorted(details, key=lambda detail: detail["CreatedTime"])]


def latest_artifact_ids(aws, region: str, ssm_prefix: str, products: Iterable[str]) -> Dict[str, Tuple[str, int]]:
    """``{product: (artifact id in SSM, parameter version)}``: the version number shows any rewrite."""
    ssm = aws.client("ssm", region)
    found = {}
    for product in products:
        parameter = ssm.get_parameter(Name=f"{ssm_prefix}/products/{product}/latest-artifact-id")["Parameter"]
        found[product] = (parameter["Value"], parameter["Version"])
    return found


def tenants(aws, region: str) -> Dict[str, Dict[str, str]]:
    """``{provisioned product name: {artifact, status, product}}`` of a region."""
    catalog = aws.client("servicecatalog", region)
    pages = catalog.get_paginator("scan_provisioned_products").paginate(AccessLevelFilter={"Key": "Account", "Value": "self"})
    return {
        item["Name"]: {"artifact": item.get("ProvisioningArtifactId"), "status": item["Status"], "product": item.get("ProductId")}
        for page in pages
        for item in page["ProvisionedProducts"]
    }


def tenant_resources(aws, region: str, tenant: str) -> Dict[str, Tuple[str, str]]:
    """``{"<nested stack logical id>/<logical id>": (type, physical id)}`` of a tenant's stack and its nested ones,
    read through CloudFormation from the stack its provisioned product's last successful record names."""
    catalog, cloudformation = aws.client("servicecatalog", region), aws.client("cloudformation", region)
    record_id = catalog.describe_provisioned_product(Name=tenant)["ProvisionedProductDetail"]["LastSuccessfulProvisioningRecordId"]
    outputs = catalog.describe_record(Id=record_id)["RecordOutputs"]
    root = next(output["OutputValue"] for output in outputs if output["OutputKey"] == "CloudformationStackARN")
    found: Dict[str, Tuple[str, str]] = {}

    def resources(stack: str) -> List[Dict[str, Any]]:
        # moto lists the types its CloudFormation does not build (ApiGatewayV2) as empty entries, and API Gateway
        # methods without a physical id: the first are left out, the second read as "".
        return [r for r in cloudformation.describe_stack_resources(StackName=stack)["StackResources"] if "LogicalResourceId" in r]

    for nested in resources(root):
        found[nested["LogicalResourceId"]] = (nested["ResourceType"], nested.get("PhysicalResourceId", ""))
        if nested["ResourceType"] == "AWS::CloudFormation::Stack":
            for resource in resources(nested["PhysicalResourceId"]):
                found[f"{nested['LogicalResourceId']}/{resource['LogicalResourceId']}"] = (resource["ResourceType"], resource.get("PhysicalResourceId", ""))
    return found


def tenant_id_of(name: str) -> str:
    """A TenantId for the provisioned product ``name``, unique per name and within the examples' 16 characters
    (the names themselves, e.g. platform-core-dev-eu-west-1-1, would make IAM role names over 64)."""
    return "t-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def provision_tenants(
    aws, region: str, ssm_prefix: str, product: str, names: Sequence[str], timeout: float = 300, tenant_ids: Optional[Mapping[str, str]] = None,
    parameters: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    """Provision ``names`` on the product's version in SSM; ``{name: record status}`` once every record ended.

    Each tenant's TenantId is its own (``tenant_id_of``): the same TenantId in two products collides on the export
    names of the services both products nest (see the report of tests/integration/test_deploy_e2e.py).
    ``tenant_ids`` (``{name: TenantId}``) gives them instead, for a project whose TenantId allows fewer characters.
    ``parameters`` are more provisioning parameters every tenant gets (``{key: value}``).
    """
    catalog = aws.client("servicecatalog", region)
    ssm = aws.client("ssm", region)
    artifact_id = ssm.get_parameter(Name=f"{ssm_prefix}/products/{product}/latest-artifact-id")["Parameter"]["Value"]
    product_id = catalog.describe_product_as_admin(Name=product)["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    path_id = grant_launch_path(catalog, product_id)
    records = {
        name: catalog.provision_product(
            ProductId=product_id,
            PathId=path_id,
            ProvisioningArtifactId=artifact_id,
            ProvisionedProductName=name,
            ProvisioningParameters=[{"Key": "TenantId", "Value": tenant_ids[name] if tenant_ids else tenant_id_of(name)}]
            + [{"Key": key, "Value": value} for key, value in (parameters or {}).items()],
        )["RecordDetail"]["RecordId"]
        for name in names
    }
    statuses: Dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(statuses) < len(records) and time.monotonic() < deadline:
        for name, record_id in records.items():
            if name not in statuses:
                detail = catalog.describe_record(Id=record_id)["RecordDetail"]
                if detail["Status"] in ("SUCCEEDED", "FAILED"):
                    statuses[name] = detail["Status"] + "".join(f": {e.get('Description')}" for e in detail.get("RecordErrors", []))
        if len(statuses) < len(records):
            time.sleep(0.2)  # poll interval, not a synchronisation: the loop ends on the records' status
    return {name: statuses.get(name, "TIMEOUT") for name in records}
