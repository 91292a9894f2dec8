"""A second monorepo of our own, deployed end to end the way a new user would: ``tests/integration/fixtures/retail-monorepo``.

Unlike examples/, the project has no init stacks, no authorizer and no shared settings files, and its service folders
are not its service names (``catalog-api`` is ``service: retail-catalog``, ``order-events`` is ``service: retail-orders``):
a Python REST API with CORS over a retained DynamoDB table, a Node REST API with CORS, two schedules and an SNS topic
with a subscriber. Its TenantId allows 12 characters.

One module-scoped scenario on a copy of the fixture and a local AWS server of this module: bootstrap the stage dev,
``ansible-playbook playbooks/deploy.yml -e project_dir=... -e stage=dev -e create_missing_products=true`` and nothing
else (the inventory and the local AWS endpoint are what every test here uses), two tenants per region (one TenantId
in both regions, 12 characters long), each tenant's resources read back with boto3 under its own names, and a second
run that writes nothing but the run's bookkeeping. The ledger's upload counts match the objects written although
the S3 keys carry the ``service:`` names and the ledger the folders.

Then the same project with the problems a new user brings put back (no deploymentBucket, a fixed table and topic
name, an IAM role name over 64 characters) is refused by the project doctor after packaging and before any upload,
every problem listed once: on its own (playbooks/doctor.yml, nothing written at all) and inside a deploy (only the
run's lock and records written). And osls, which refuses the fixture's ``frameworkVersion: "3"``, is refused before
anything is packaged.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest

from deploy_helpers import (
    BOOKKEEPING_WRITES,
    DEPLOY_PLAYBOOK,
    REPO_ROOT,
    PlaybookRun,
    PlaybookRunner,
    bucket_keys,
    copy_project,
    entries,
    ledger,
    lock_value,
    product_versions,
    provision_tenants,
    run_id_of,
    service_of_key,
    tenant_resources,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCTOR_PLAYBOOK = REPO_ROOT / "playbooks" / "doctor.yml"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "retail-monorepo"
STAGE = "dev"
REGIONS = ["us-east-1", "eu-west-1"]  # the whole stage dev of the fixture's project.yml
SSM_PREFIX = "/retail/dev"
PRODUCT = "storefront-dev"  # products/storefront.yml in stage dev
BUCKETS = {region: f"retail-artifacts-{STAGE}-{region}" for region in REGIONS}
# Service folder -> its serverless.yml's `service:` (the name in S3 keys and in every resource name).
SERVICES = {"catalog-api": "retail-catalog", "order-events": "retail-orders"}
FUNCTIONS = {"retail-catalog": ["listProducts", "getProduct", "putProduct"], "retail-orders": ["placeOrder", "quoteOrder", "fulfilOrder", "expireCarts"]}
# Two tenants per region; "acme-market1" (12 characters, the most TenantId allows) in both regions: its regional
# names may repeat, its IAM roles (global) must not.
TENANTS = {
    "us-east-1": {"acme-us-east-1": "acme-market1", "globex-us-east-1": "globex"},
    "eu-west-1": {"acme-eu-west-1": "acme-market1", "initech-eu-west-1": "initech-eu"},
}


class Retail:
    def __init__(self, aws: Any, project: Path) -> None:
        self.aws = aws
        self.project = project
        self.runner = PlaybookRunner(aws.env, user="retail-team")
        self.runs: Dict[str, PlaybookRun] = {}
        self.calls: Dict[str, Dict[str, Dict[str, int]]] = {}
        self.seconds: Dict[str, float] = {}
        self.cold_keys: Dict[str, Set[str]] = {}

    def deploy(self, name: str, *options: str) -> PlaybookRun:
        """``ansible-playbook playbooks/deploy.yml -e project_dir=<copy> -e stage=dev -e <option> ...``"""
        arguments: List[str] = []
        for option in (f"project_dir={self.project}", f"stage={STAGE}", *options):
            arguments += ["-e", option]
        self.aws.reset_calls()
        started = time.monotonic()
        run = self.runner.run(DEPLOY_PLAYBOOK, *arguments)
        self.seconds[name] = round(time.monotonic() - started, 1)
        self.runs[name] = run
        self.calls[name] = self.aws.calls()
        return run


@pytest.fixture(scope="module")
def retail(module_local_aws, tmp_path_factory) -> Retail:
    # The package phase builds into <project_dir>/.deploy-build.
    project = copy_project(tmp_path_factory.mktemp("retail") / "project", source=FIXTURE)
    scenario = Retail(module_local_aws, project)
    started = time.monotonic()
    bootstrap = scenario.runner.bootstrap(project, STAGE, REGIONS)
    assert bootstrap.returncode == 0, bootstrap.explain()
    scenario.seconds["bootstrap"] = round(time.monotonic() - started, 1)
    # validate_product with no validate_parameters: the test tenant's TenantId is generated to fit the product's
    # pattern and MaxLength (12 here, not the examples' 16).
    scenario.deploy("cold", "create_missing_products=true", "validate_product=true", "validate_poll_delay=0.2", "validate_poll_max_delay=1")
    scenario.cold_keys = {region: bucket_keys(module_local_aws, BUCKETS[region], region) for region in REGIONS}
    return scenario


def test_cold_deploy_publishes_both_services_and_creates_the_product(retail: Retail) -> None:
    run = retail.runs["cold"]
    assert run.returncode == 0, run.explain()
    # The parts this project leaves out are said once, at the start, not discovered by failing.
    for note in ("deploy plan: init stacks: not used", "deploy plan: authorizer: not used"):
        assert run.stdout.count(note) == 1, run.stdout[:3000]
    assert (retail.project / ".deploy-build" / ".gitignore").read_text().splitlines()[-1] == "*"
    for region in REGIONS:
        owners = {service_of_key(key) for key in bucket_keys(retail.aws, BUCKETS[region], region)}
        # S3 keys carry the `service:` names, never the folders; no init stack was packaged.
        assert {f"serverless/{name}" for name in SERVICES.values()} | {"products/storefront"} <= owners, owners
        assert not {f"serverless/{folder}" for folder in SERVICES} & owners
        assert not any(owner.startswith("init/") for owner in owners)
        assert [name for name, _id in product_versions(retail.aws, region, PRODUCT)] == ["V1"]
        ssm = retail.aws.client("ssm", region)
        assert ssm.get_parameter(Name=f"{SSM_PREFIX}/products/{PRODUCT}/latest-artifact-id")["Parameter"]["Value"]
        catalog = retail.aws.client("servicecatalog", region)
        assert {"Key": "multiregion:stage", "Value": STAGE} in catalog.describe_product_as_admin(Name=PRODUCT)["Tags"]
        portfolios = {detail["DisplayName"] for detail in catalog.list_portfolios()["PortfolioDetails"]}
        assert "retail-dev" in portfolios
    document = ledger(retail.project, run_id_of(run))
    assert document["run"]["status"] == "succeeded"
    assert {(entry["region"], entry["status"]) for entry in entries(document, "validation")} == {(region, "passed") for region in REGIONS}
    for region in REGIONS:
        left = retail.aws.client("servicecatalog", region).scan_provisioned_products(AccessLevelFilter={"Key": "Account", "Value": "self"})
        assert not [item["Name"] for item in left["ProvisionedProducts"] if item["Name"].startswith("validate-")]
    for region in REGIONS:
        packaged = entries(document, "packaging", region=region, kind="service")
        assert {entry["service"]: entry["status"] for entry in packaged} == {folder: "packaged" for folder in SERVICES}


def test_tenants_get_their_own_table_topic_functions_and_roles(retail: Retail) -> None:
    assert retail.runs["cold"].returncode == 0, "needs the cold deploy"
    for region, names in TENANTS.items():
        statuses = provision_tenants(retail.aws, region, SSM_PREFIX, PRODUCT, list(names), tenant_ids=names)
        assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    for region, names in TENANTS.items():
        dynamodb, sns = retail.aws.client("dynamodb", region), retail.aws.client("sns", region)
        lambdas, logs = retail.aws.client("lambda", region), retail.aws.client("logs", region)
        iam = retail.aws.client("iam", region)
        topics = {arn["TopicArn"].rsplit(":", 1)[-1] for page in sns.get_paginator("list_topics").paginate() for arn in page["Topics"]}
        for name, tenant in names.items():
            physical = {logical.split("/", 1)[-1]: found for logical, found in tenant_resources(retail.aws, region, name).items() if "/" in logical}
            table = f"retail-catalog-{STAGE}-products-{tenant}"
            assert physical["ProductsTable"][1] == table
            assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
            topic = f"retail-orders-{STAGE}-order-events-{tenant}"
            assert topic in topics and physical["OrderEventsTopic"][1].endswith(f":{topic}")
            for service, functions in FUNCTIONS.items():
                role = f"{service}-{STAGE}-{region}-{tenant}"
                assert len(role) <= 64 and iam.get_role(RoleName=role)["Role"]["RoleName"] == role
                for function in functions:
                    function_name = f"{service}-{STAGE}-{function}-{tenant}"
                    configuration = lambdas.get_function(FunctionName=function_name)["Configuration"]
                    assert configuration["Role"].endswith(f"/{role}"), configuration["Role"]
                    group = f"/aws/lambda/{function_name}"
                    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]] == [group]


def test_a_second_run_writes_nothing_but_its_bookkeeping(retail: Retail) -> None:
    assert retail.runs["cold"].returncode == 0, "needs the cold deploy"
    keys = {region: bucket_keys(retail.aws, BUCKETS[region], region) for region in REGIONS}
    again = retail.deploy("no-change")
    assert again.returncode == 0, again.explain()
    assert writes(retail.calls["no-change"]) == BOOKKEEPING_WRITES
    for region in REGIONS:
        added = bucket_keys(retail.aws, BUCKETS[region], region) - keys[region]
        assert all(key.startswith("runs/") for key in added), added
        assert [name for name, _id in product_versions(retail.aws, region, PRODUCT)] == ["V1"]
    print(f"\nretail-monorepo seconds: {retail.seconds}")


def test_the_ledger_counts_the_uploads_of_services_named_unlike_their_folders(retail: Retail) -> None:
    run = retail.runs["cold"]
    assert run.returncode == 0, "needs the cold deploy"
    document = ledger(retail.project, run_id_of(run))
    for region in REGIONS:
        services = entries(document, "packaging", region=region, kind="service")
        uploaded = {entry["service"]: entry["uploaded"] for entry in services}
        assert set(uploaded) == set(SERVICES) and all(count > 0 for count in uploaded.values()), (region, uploaded)
        for entry in services:
            assert f"/serverless/{SERVICES[entry['service']]}/{STAGE}/templates/" in entry["template_url"], entry
        # Every object the cold run wrote to the region's bucket is counted once (the run records aside): the
        # bucket held nothing before it.
        written = {key for key in retail.cold_keys[region] if not key.startswith("runs/")}
        assert sum(entry["uploaded"] for entry in entries(document, "packaging", region=region)) == len(written), region


# ---- The same project with a new user's problems put back: refused after packaging, before any upload.

# (file, text as the fixture has it, the problem put back), and the line the doctor must print for it, once.
PROBLEMS = [
    ("services/catalog-api/serverless.yml", "  deploymentBucket:\n    name: retail-artifacts-${sls:stage}-${aws:region}\n", ""),
    ("services/catalog-api/serverless.yml", '"products", {Ref: TenantId}]]}', '"products"]]}'),
    ("services/order-events/serverless.yml", '"order-events", {Ref: TenantId}]]}', '"order-events"]]}'),
    ("services/order-events/serverless.yml", 'RoleName: {"Fn::Join": ["-", ["${self:service}", "${sls:stage}", {Ref: "AWS::Region"}',
     'RoleName: {"Fn::Join": ["-", ["${self:service}", "${sls:stage}", "order-pipeline-execution-role", {Ref: "AWS::Region"}'),
]
EXPECTED_FINDINGS = [
    "services/catalog-api/serverless.yml: service catalog-api: the code of GetProductLambdaFunction, ListProductsLambdaFunction, "
    "PutProductLambdaFunction is in ServerlessDeploymentBucket, a bucket this stack would create empty",
    "services/catalog-api/serverless.yml: service catalog-api (product storefront): ProductsTable (AWS::DynamoDB::Table) TableName "
    "'retail-catalog-dev-products' is the same for every tenant",
    "services/order-events/serverless.yml: service order-events (product storefront): OrderEventsTopic (AWS::SNS::Topic) TopicName "
    "'retail-orders-dev-order-events' is the same for every tenant",
    "services/order-events/serverless.yml: service order-events: IamRoleLambdaExecution (AWS::IAM::Role) RoleName "
    "'retail-orders-dev-order-pipeline-execution-role-us-east-1-${TenantId}' can be 70 characters with TenantId at its longest (12); "
    "AWS allows 64",
]


@pytest.fixture(scope="module")
def problems(retail: Retail, tmp_path_factory) -> Path:
    """A fresh copy of the fixture with the problems put back (after the good project's scenario)."""
    project = copy_project(tmp_path_factory.mktemp("retail-problems") / "project", source=FIXTURE)
    for file, good, bad in PROBLEMS:
        path = project / file
        text = path.read_text()
        assert text.count(good) == 1, (file, good)
        path.write_text(text.replace(good, bad))
    return project


def _doctor_lines(run: PlaybookRun) -> List[str]:
    [failure] = [result for result in run.failures if "project doctor" in result.task]
    return failure.msg.splitlines()


def test_the_doctor_alone_lists_every_problem_once_and_writes_nothing(retail: Retail, problems: Path) -> None:
    retail.aws.reset_calls()
    run = retail.runner.run(DOCTOR_PLAYBOOK, "-e", f"project_dir={problems}", "-e", f"stage={STAGE}")
    assert run.returncode != 0, run.explain()
    lines = _doctor_lines(run)
    assert lines[0] == "project doctor: 4 problem(s) in 4 packaged template(s); nothing was uploaded:", lines
    for expected in EXPECTED_FINDINGS:
        assert sum(1 for line in lines if line.startswith(f"- {expected}")) == 1, (expected, lines)
    # Each is one problem of both regions, listed once with them.
    assert all(line.endswith(" [us-east-1, eu-west-1]") for line in lines[1:]), lines
    assert writes(retail.aws.calls()) == {}


def test_a_deploy_of_the_same_project_stops_before_any_upload_or_catalog_write(retail: Retail, problems: Path) -> None:
    retail.aws.reset_calls()
    keys = {region: bucket_keys(retail.aws, BUCKETS[region], region) for region in REGIONS}
    run = retail.runner.run(DEPLOY_PLAYBOOK, "-e", f"project_dir={problems}", "-e", f"stage={STAGE}", "-e", "update_product=true")
    assert run.returncode != 0, run.explain()
    assert len(_doctor_lines(run)) == 1 + len(EXPECTED_FINDINGS)
    # The lock taken and released, the ledger and report: nothing else, no object, no version, no tenant touched.
    assert writes(retail.aws.calls()) == BOOKKEEPING_WRITES
    for region in REGIONS:
        added = bucket_keys(retail.aws, BUCKETS[region], region) - keys[region]
        assert all(key.startswith(f"runs/{STAGE}/") for key in added), added
    assert lock_value(retail.aws, "us-east-1", SSM_PREFIX) is None


def test_osls_is_refused_before_packaging_for_a_framework_version_it_does_not_admit(retail: Retail, problems: Path) -> None:
    retail.aws.reset_calls()
    osls = REPO_ROOT / "node_modules" / "osls" / "bin" / "serverless.js"
    run = retail.runner.run(DOCTOR_PLAYBOOK, "-e", f"project_dir={problems}", "-e", f"stage={STAGE}", "-e", f"package_sls_binary={osls}")
    assert run.returncode != 0, run.explain()
    [message] = {result.msg for result in run.failures}
    lines = message.splitlines()
    assert lines[0].startswith("project doctor: 2 service(s) ask for a frameworkVersion osls@") and "nothing was packaged" in lines[0]
    assert [line.split(":", 1)[0] for line in lines[1:]] == ["- services/catalog-api/serverless.yml", "- services/order-events/serverless.yml"]
    assert writes(retail.aws.calls()) == {}
