"""Shared pieces of the chaos and security tests (tests/integration/test_chaos.py, test_security.py).

* ``make_project``: a SMALL project (two services and one product, no init stacks) packaged by the stand-in
  ``benchmarks/fake_sls`` in a fraction of a second, so a whole deploy with rollout costs seconds, not minutes.
* ``StreamedRun``: ``ansible-playbook`` with the console callback, read line by line while it runs, so a test
  can see which play (phase) is running and SIGKILL the whole process group in the middle of it.
* ``RecordingProxy``: a forwarding HTTP proxy in front of the local AWS that records every accepted
  ``UpdateProvisionedProduct`` (tenant, target artifact, record id): the local AWS has no ListRecordHistory, so
  this is how "no tenant updated twice to the same version" is observed across killed and re-run attempts.
* ``end_state``: what a deploy leaves behind, in a form that compares across independent runs (version names
  and their content-addressed template URLs instead of random ids).
* ``iam_actions`` / ``uncovered_calls``: the IAM actions behind each (service, Operation) the local AWS
  counted, and a small IAM evaluator for ``docs/iam-policy.json``.

Running ``playbooks/deploy.yml`` and reading the end state back reuses ``deploy_helpers``.
"""
from __future__ import annotations

import fnmatch
import http.client
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple
from urllib.parse import urlsplit

import yaml

from deploy_helpers import DEPLOY_PLAYBOOK, REPO_ROOT, VENV_BIN, PlaybookRunner, bucket_keys, product_versions, provision_tenants, tenants

FAKE_SLS = REPO_ROOT / "benchmarks" / "fake_sls" / "fake_sls"
IAM_POLICY = REPO_ROOT / "docs" / "iam-policy.json"
ACCOUNT_ID = "123456789012"  # moto's default account: what the local AWS maps any plain test key to
OTHER_ACCOUNT_ID = "210987654321"
SERVICES = ("authorizer", "orders")
PACKAGING_SECONDS = 0.3

# The play names of playbooks/deploy.yml, as the console prints them ("PLAY [<name>] ***"), by phase.
PHASE_PLAYS = {
    "inputs": "Check inputs, name the run, take the stage lock",
    "package": "Package every service for every region and publish the artifacts",
    "catalog": "Create new Service Catalog versions where templates changed",
    "validate": "Validate the new versions with a test tenant (opt-in)",
    "rollout": "Roll the latest versions out to tenants (opt-in)",
    "finish": "Write the ledger and report, release the stage lock",
}


# ---- A small project --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosProject:
    root: Path
    stage: str
    regions: List[str]
    product: str

    @property
    def primary(self) -> str:
        return self.regions[0]

    @property
    def catalog_name(self) -> str:
        """The product's Service Catalog name in the stage (docs/project-layout.md, stages own their products)."""
        return f"{self.product}-{self.stage}"

    @property
    def ssm_prefix(self) -> str:
        return f"/multiregion/{self.stage}"

    def bucket(self, region: str) -> str:
        return f"mrs-artifacts-{self.stage}-{region}"

    @property
    def runs_dir(self) -> Path:
        return self.root / ".deploy-runs"

    @property
    def build_root(self) -> Path:
        return self.root / ".deploy-build"


SERVICE_YML = """\
service: {name}
frameworkVersion: ">=3 <5"
provider:
  name: aws
  runtime: python3.11
  deploymentBucket:
    name: mrs-artifacts-${{opt:stage}}-${{opt:region}}
functions:
  main:
    handler: handler.main
"""


def make_project(root: Path, stage: str, regions: Sequence[str], product: str = "chaos-core", account_id: str = ACCOUNT_ID) -> ChaosProject:
    """``root``/project.yml with one stage, services ``SERVICES`` and one product nesting all of them.

    The package role builds into ``<root>/.deploy-build``.
    """
    for name in SERVICES:
        service = root / "services" / name
        service.mkdir(parents=True)
        (service / "serverless.yml").write_text(SERVICE_YML.format(name=name))
        (service / "handler.py").write_text(f"def main(event, context):\n    return {{'service': '{name}'}}\n")
        (service / "fake-sls-seconds").write_text(f"{PACKAGING_SECONDS}\n")
    (root / "products").mkdir()
    (root / "products" / f"{product}.yml").write_text(yaml.safe_dump({
        "name": product,
        "description": "Chaos and security test product",
        "owner": "chaos-tests",
        "distributor": "Chaos Tests",
        "support_email": "chaos@example.com",
        # Bounded, as the project doctor asks: the function names end in it (Lambda allows 64 characters).
        "parameters": {"TenantId": {"Type": "String", "MaxLength": 16, "Description": "Tenant identifier"}},
        "nested_stacks": [{"service": name} for name in SERVICES],
    }, sort_keys=False))
    (root / "project.yml").write_text(yaml.safe_dump({
        "services_dir": "services",
        "products_dir": "products",
        "always_excluded_services": [],
        "authorizer": {"service": "authorizer", "order": "first"},
        "stages": {stage: {
            "account_id": account_id,
            "primary_region": regions[0],
            "regions": list(regions),
            "artifact_bucket": f"mrs-artifacts-{stage}-{{region}}",
            "excluded_services": [],
            "ssm_prefix": f"/multiregion/{stage}",
            # Tenants are provisioned and updated through the stage's portfolio (the launch path).
            "portfolio": {"name": f"multiregion-{stage}", "launch_role": f"arn:aws:iam::{account_id}:role/TenantStackLaunch"},
        }},
    }, sort_keys=False))
    return ChaosProject(root, stage, list(regions), product)


def change_service(project: ChaosProject, service: str, marker: str) -> None:
    """A code change: the service's ZIP, template and keys change, so the product gets a new version."""
    with (project.root / "services" / service / "handler.py").open("a") as handle:
        handle.write(f"# change: {marker}\n")


def deploy_variables(project: ChaosProject, **overrides: Any) -> Dict[str, Any]:
    """Extra vars of a deploy of the small project: stand-in packager, fast polling, validation it can pass."""
    variables: Dict[str, Any] = {
        "project_dir": str(project.root),
        "stage": project.stage,
        "regions": ",".join(project.regions),
        "package_sls_binary": str(FAKE_SLS),
        "package_init_stacks": False,
        "package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"},
        "catalog_create_missing_products": True,
        "rollout_poll_delay": 0.2,
        "rollout_poll_max_delay": 1,
        "validate_poll_delay": 0.2,
        "validate_poll_max_delay": 1,
        "validate_parameters": {project.product: {"TenantId": "validate"}},
        # The stand-in's stacks have no outputs of their own; the record's stack ARN is what is left to check.
        "validate_expected_outputs": {project.product: ["CloudformationStackARN"]},
    }
    variables.update(overrides)
    return variables


def bootstrap(runner: PlaybookRunner, project: ChaosProject) -> None:
    done = runner.bootstrap(project.root, project.stage, project.regions)
    assert done.returncode == 0, done.explain()


def tenant_names(project: ChaosProject, region: str, count: int) -> List[str]:
    return [f"{project.stage}-{region}-{number:02d}" for number in range(1, count + 1)]


V1_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "The tenants' first version, made by hand before any deploy",
    "Parameters": {"TenantId": {"Type": "String"}},
    "Resources": {"Marker": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": {"Fn::Join": ["", ["/tenants/", {"Ref": "TenantId"}, "/marker"]]}, "Type": "String", "Value": "v1"}}},
}


def seed_catalog(aws: Any, project: ChaosProject, tenants_per_region: int) -> Dict[str, List[str]]:
    """The state a deploy starts from, made with boto3 (cheaper than a first deploy): per region the artifact
    bucket, the product with a hand-made V1 in SSM, and ``tenants_per_region`` tenants on it.

    Returns the tenant names per region.
    """
    names = {}
    for region in project.regions:
        s3 = aws.client("s3", region)
        bucket = project.bucket(region)
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        key = f"products/{project.product}/{project.stage}/v1.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(V1_TEMPLATE).encode())
        catalog = aws.client("servicecatalog", region)
        created = catalog.create_product(
            Name=project.catalog_name, Owner="chaos-tests", ProductType="CLOUD_FORMATION_TEMPLATE",
            Tags=[{"Key": "multiregion:stage", "Value": project.stage}],  # as the stage's deploy makes it
            ProvisioningArtifactParameters={"Name": "V1", "Type": "CLOUD_FORMATION_TEMPLATE",
                                            "Info": {"LoadTemplateFromURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}},
        )
        aws.client("ssm", region).put_parameter(
            Name=f"{project.ssm_prefix}/products/{project.catalog_name}/latest-artifact-id",
            Value=created["ProvisioningArtifactDetail"]["Id"], Type="String", Overwrite=True)
        names[region] = tenant_names(project, region, tenants_per_region)
        statuses = provision_tenants(aws, region, project.ssm_prefix, project.catalog_name, names[region])
        assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    return names


# ---- The end state of a deploy, comparable across independent runs ----------------------------------


def end_state(aws: Any, project: ChaosProject) -> Dict[str, Any]:
    """Per region: the product's versions as (name, template URL), the version SSM names, each tenant's version.

    Artifact ids are random per run; names and content-addressed template URLs are not, so two runs that did
    the same work give equal end states.
    """
    state: Dict[str, Any] = {}
    for region in project.regions:
        catalog = aws.client("servicecatalog", region)
        versions = product_versions(aws, region, project.catalog_name)
        names_by_id = {artifact_id: name for name, artifact_id in versions}
        product_id = catalog.describe_product_as_admin(Name=project.catalog_name)["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        described = [
            (name, catalog.describe_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=artifact_id)["Info"]["TemplateUrl"])
            for name, artifact_id in versions
        ]
        latest = aws.client("ssm", region).get_parameter(Name=f"{project.ssm_prefix}/products/{project.catalog_name}/latest-artifact-id")
        state[region] = {
            "versions": described,
            "ssm_latest": names_by_id.get(latest["Parameter"]["Value"], latest["Parameter"]["Value"]),
            "tenants": {
                name: (names_by_id.get(found["artifact"], found["artifact"]), found["status"])
                for name, found in sorted(tenants(aws, region).items())
            },
        }
    return state


# ---- A playbook run read while it runs, and killed on purpose --------------------------------------


class StreamedRun:
    """``ansible-playbook`` in a process group of its own, console output collected line by line."""

    def __init__(self, runner: PlaybookRunner, extra_vars: Dict[str, Any], *args: str, playbook: Path = DEPLOY_PLAYBOOK,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.command = [str(VENV_BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(extra_vars), *args]
        # The console callback streams task by task (the json callback prints only at the end).
        environment = {key: value for key, value in runner.env.items() if key != "ANSIBLE_CALLBACKS_ENABLED"}
        environment.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", **(env or {}))
        self.lines: List[Tuple[float, str]] = []
        self.killed_in: Optional[str] = None
        self._changed = threading.Condition()
        self._kill_at: Optional[Callable[[str], bool]] = None
        self.killed_by_reader = False
        self.process = subprocess.Popen(
            self.command, cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group: SIGKILL reaches the forks and module processes too
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                text = line.rstrip("\n")
                if self._kill_at is not None and self._kill_at(text):
                    # Killed before this line is kept: what the run printed after the decision is not its state.
                    self._kill_group()
                    self.killed_by_reader = True
                    self._changed.notify_all()
                    return
                self.lines.append((time.monotonic(), text))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def kill_at(self, decide: Callable[[str], bool]) -> None:
        """SIGKILL the run from the reader, the moment a console line makes ``decide`` true (before that line is kept).

        Polling from another thread reacts too late under load: a phase's last quick tasks and the next play's
        banner can all be printed between two polls."""
        with self._changed:
            self._kill_at = decide

    def _kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @property
    def output(self) -> str:
        return "\n".join(line for _stamp, line in self.lines)

    def current_phase(self) -> Optional[str]:
        """The phase whose play the console announced last."""
        phase = None
        for _stamp, line in list(self.lines):
            for name, play in PHASE_PLAYS.items():
                if line.startswith(f"PLAY [{play}]"):
                    phase = name
        return phase

    def wait_for_phase(self, phase: str, timeout: float = 300) -> bool:
        """True once the phase's play started; False when the run ended (or timed out) before."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while time.monotonic() < deadline:
                if any(line.startswith(f"PLAY [{PHASE_PLAYS[phase]}]") for _stamp, line in self.lines):
                    return True
                if self.process.poll() is not None and not self._reader.is_alive():
                    return False
                self._changed.wait(0.1)
        return False

    def kill(self) -> None:
        """SIGKILL the whole process group, as a lost AWX node or an OOM kill would."""
        self.killed_in = self.current_phase()
        self._kill_group()
        self.wait()

    def wait(self, timeout: float = 900) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return code

    def phase_seconds(self) -> Dict[str, float]:
        """Seconds from each phase's PLAY line to the next PLAY line (or the end of the output)."""
        starts = []
        for stamp, line in self.lines:
            for name, play in PHASE_PLAYS.items():
                if line.startswith(f"PLAY [{play}]"):
                    starts.append((name, stamp))
        end = self.lines[-1][0] if self.lines else 0.0
        return {name: (starts[i + 1][1] if i + 1 < len(starts) else end) - stamp for i, (name, stamp) in enumerate(starts)}


# ---- Observing tenant updates: a recording proxy ---------------------------------------------------


@dataclass
class TenantUpdate:
    region: str
    tenant: str  # ProvisionedProductName or Id, as the caller named it
    artifact_id: str
    record_id: str


@dataclass
class RecordingProxy:
    """Forwards every request to ``upstream`` unchanged and records accepted ``UpdateProvisionedProduct`` calls."""

    upstream: str
    updates: List[TenantUpdate] = field(default_factory=list)

    def __post_init__(self) -> None:
        target = urlsplit(self.upstream)
        proxy = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # the test output stays readable
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
                if body or self.command in ("POST", "PUT"):
                    headers["Content-Length"] = str(len(body))
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    payload = answer.read()
                finally:
                    connection.close()
                if self.headers.get("X-Amz-Target", "").endswith(".UpdateProvisionedProduct") and answer.status == 200:
                    request, detail = json.loads(body or b"{}"), json.loads(payload or b"{}").get("RecordDetail", {})
                    region = self.headers.get("Authorization", "").split("/")[2] if "/" in self.headers.get("Authorization", "") else ""
                    with lock:
                        proxy.updates.append(TenantUpdate(
                            region, request.get("ProvisionedProductName") or request.get("ProvisionedProductId", ""),
                            request.get("ProvisioningArtifactId") or request.get("ProvisioningArtifactName", ""), detail.get("RecordId", "")))
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def distinct_updates(self) -> Dict[Tuple[str, str, str], Set[str]]:
        """``{(region, tenant, target artifact): {record ids}}``: a retried call with the same UpdateToken
        answers the same record, so more than one record id means the tenant really was updated twice."""
        found: Dict[Tuple[str, str, str], Set[str]] = {}
        for update in self.updates:
            found.setdefault((update.region, update.tenant, update.artifact_id), set()).add(update.record_id)
        return found

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- IAM: the actions behind the calls, and a small evaluator for the policy document ---------------

# The signing names the local AWS counts by are IAM's service prefixes, and most operations are IAM actions
# of the same name. These are the exceptions (docs: "Actions defined by Amazon S3", "... by AWS STS").
ACTION_EXCEPTIONS: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetPublicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "PutPublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "GetBucketOwnershipControls"): ("s3:GetBucketOwnershipControls",),
    ("s3", "GetBucketAcl"): ("s3:GetBucketAcl",),
    # sts:GetCallerIdentity needs no permission: it works even when an explicit deny names it.
    ("sts", "GetCallerIdentity"): (),
}


def iam_actions(service: str, operation: str) -> Tuple[str, ...]:
    return ACTION_EXCEPTIONS.get((service, operation), (f"{service}:{operation}",))


def _matches(pattern: str, value: str, case_sensitive: bool) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards are * and ?; fnmatch's [] classes do not occur in ARNs or action names.
    return fnmatch.fnmatchcase(value, pattern)


def _as_list(value: Any) -> List[str]:
    return [value] if isinstance(value, str) else list(value or [])


def allowed(policy: Dict[str, Any], action: str, resource: str) -> bool:
    """Whether an identity policy allows ``action`` on ``resource`` (Allow statements, no Deny, no conditions)."""
    decision = False
    for statement in policy["Statement"]:
        assert "NotAction" not in statement and "NotResource" not in statement, "the evaluator knows Action/Resource only"
        if not any(_matches(p, action, False) for p in _as_list(statement["Action"])):
            continue
        if not any(_matches(p, resource, True) for p in _as_list(statement["Resource"])):
            continue
        if statement["Effect"] == "Deny":
            return False
        decision = True
    return decision


def load_policy(path: Path = IAM_POLICY) -> Dict[str, Any]:
    return json.loads(path.read_text())


def uncovered_calls(policy: Dict[str, Any], calls: Dict[str, Dict[str, int]], resources: Dict[str, Iterable[str]]) -> List[str]:
    """``service:Operation -> action on resource`` for every counted call the policy does not allow.

    ``resources`` gives, per IAM action, the ARNs the scenario touched with it (``*`` when the action takes
    no resource or the test cannot tell which one): every one of them must be allowed.
    """
    missing = []
    for service, operations in sorted(calls.items()):
        for operation, count in sorted(operations.items()):
            if not count:
                continue
            for action in iam_actions(service, operation):
                for resource in resources.get(action, ["*"]):
                    if not allowed(policy, action, resource):
                        missing.append(f"{service}:{operation} ({count} calls) needs {action} on {resource}")
    return missing


def policy_actions(policy: Dict[str, Any]) -> Set[str]:
    return {action for statement in policy["Statement"] if statement["Effect"] == "Allow" for action in _as_list(statement["Action"])}


# ---- Secrets ---------------------------------------------------------------------------------------


def files_containing(root: Path, secrets: Dict[str, str]) -> List[str]:
    """``path: secret name`` for each file under ``root`` that holds one of the secret values."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        found += [f"{path}: {name}" for name, value in secrets.items() if value.encode() in data]
    return found


# ---- The full scenario shared by test_chaos.py (throttling) and test_security.py (IAM, secrets) ------

FULL_REGIONS = ["us-east-1", "eu-west-1"]
FULL_TENANTS_PER_REGION = 10
FULL_THROTTLE_RATE = 0.3
# Fake credentials, recognisable in any output: one set in the environment, another in -e variables.
SECRETS = {
    "env access key": "AKIACHAOSENVKEY00001",
    "env secret key": "chaosEnvSecretKey/0123456789abcdefghijABCD",
    "env session token": "FwoGZXIvY2hhb3MtZW52LXNlc3Npb24tdG9rZW4tMDEyMzQ1Njc4OQ==",
    "vars access key": "AKIACHAOSVARSKEY0002",
    "vars secret key": "chaosVarsSecretKey/9876543210zyxwvutsrqZYXW",
    "vars session token": "FwoGZXIvY2hhb3MtdmFycy1zZXNzaW9uLXRva2VuLTk4NzY1NDMyMQ==",
}


@dataclass
class FullScenario:
    """One throttled deploy with validation and rollout, and everything the tests read from it."""

    aws: Any
    project: ChaosProject
    run: StreamedRun
    calls: Dict[str, Dict[str, int]]
    throttled: Dict[str, Dict[str, int]]
    end_state: Dict[str, Any]
    updates: Dict[Tuple[str, str, str], Set[str]]
    run_id: str
    ledger: Dict[str, Any]
    report: str
    published: Dict[str, bytes]  # ledger.json / report.md as uploaded to the primary bucket
    keys: Dict[str, Set[str]]  # region -> object keys of its artifact bucket after the run
    seconds: float


_SHARED: Dict[str, Any] = {}


def chaos_server() -> Any:
    """A local AWS server of the chaos/security tests' own, shared by both modules, stopped at exit.

    Their own because they set faults (30 % throttling) and reset state, which must not reach other tests.
    """
    if "server" not in _SHARED:
        import atexit

        from local_aws.pytest_plugin import LocalAwsServer

        server = LocalAwsServer()
        atexit.register(server.stop)
        _SHARED["server"] = server
    return _SHARED["server"]


def full_scenario(workdir: Path) -> FullScenario:
    """Runs once per pytest process (the first caller's ``workdir``); later callers get the same result."""
    if "full" in _SHARED:
        return _SHARED["full"]
    aws = chaos_server()
    aws.reset()
    project = make_project(workdir / "project", "chaos", FULL_REGIONS)
    seed_catalog(aws, project, FULL_TENANTS_PER_REGION)
    proxy = RecordingProxy(aws.endpoint_url)
    runner = PlaybookRunner({**aws.env, "AWS_ENDPOINT_URL": proxy.endpoint_url}, user="chaos")
    credentials_env = {
        "AWS_ACCESS_KEY_ID": SECRETS["env access key"],
        "AWS_SECRET_ACCESS_KEY": SECRETS["env secret key"],
        "AWS_SESSION_TOKEN": SECRETS["env session token"],
    }
    variables = deploy_variables(
        project, update_product=True, validate_product=True,
        aws_access_key=SECRETS["vars access key"], aws_secret_key=SECRETS["vars secret key"],
        aws_session_token=SECRETS["vars session token"],
    )
    aws.reset_calls()
    aws.set_faults(throttle_rate=FULL_THROTTLE_RATE, record_duration_s=0.5)
    started = time.monotonic()
    try:
        # -vvv: every task result in full (module arguments included), the most a log could ever show.
        run = StreamedRun(runner, variables, "-vvv", env=credentials_env)
        run.wait()
    finally:
        aws.clear_faults()
        proxy.stop()
    (workdir / "full-deploy.log").write_text(run.output)
    seconds = time.monotonic() - started
    calls, throttled = aws.calls(), aws.throttled()
    run_ids = sorted(path.name for path in project.runs_dir.iterdir()) if project.runs_dir.is_dir() else []
    assert len(run_ids) == 1, f"expected one run folder, found {run_ids}; rc={run.process.returncode}\n{run.output[-5000:]}"
    run_id = run_ids[0]
    s3 = aws.client("s3", project.primary)
    published = {
        name: s3.get_object(Bucket=project.bucket(project.primary), Key=f"runs/{project.stage}/{run_id}/{name}")["Body"].read()
        for name in ("ledger.json", "report.md")
    }
    _SHARED["full"] = FullScenario(
        aws=aws, project=project, run=run, calls=calls, throttled=throttled, end_state=end_state(aws, project),
        updates=proxy.distinct_updates(), run_id=run_id,
        ledger=json.loads((project.runs_dir / run_id / "ledger.json").read_text()),
        report=(project.runs_dir / run_id / "report.md").read_text(), published=published, seconds=seconds,
        keys={region: bucket_keys(aws, project.bucket(region), region) for region in project.regions},
    )
    return _SHARED["full"]


def retry_report(calls: Dict[str, Dict[str, int]], throttled: Dict[str, Dict[str, int]]) -> str:
    """One line per operation: calls made, of which throttled (each throttled call was retried)."""
    lines = []
    for service, operations in sorted(calls.items()):
        for operation, count in sorted(operations.items()):
            hit = throttled.get(service, {}).get(operation, 0)
            lines.append(f"{service}:{operation:<32} calls {count:>4}  throttled (retried) {hit:>4}  succeeded {count - hit:>4}")
    return "\n".join(lines)
