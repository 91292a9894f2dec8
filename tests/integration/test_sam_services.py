"""AWS SAM services beside Serverless ones in one monorepo, deployed as a platform team would, with the real SAM CLI.

The project: two Serverless services (packaged by the stand-in, benchmarks/fake_sls) and two SAM services written
here in the shapes of the public SAM examples (Globals, short-form intrinsics, a ``requirements.txt``, a layer
built by ``BuildMethod``, a Schedule event, SAM policy templates; a Node.js function behind SQS and a nested
application), all four nested in one product with a ``Tier`` parameter. Through ``ansible-playbook`` with ``-e``
strings, in three regions: the cold deploy publishes plain CloudFormation and the tenants provision from it; a
no-change run writes nothing but bookkeeping; a SAM handler change makes exactly one new version per region and
rolls it out keeping each tenant's ``Tier``; a fresh clone of the project at another path, with no build cache,
creates nothing. Everything is read back with boto3 and the local AWS's call counts.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Sequence

import pytest
import yaml

from chaos_helpers import FAKE_SLS, make_project
from test_check_mode_plan import assert_check_matches_real
from deploy_helpers import (
    BOOKKEEPING_WRITES,
    DEPLOY_PLAYBOOK,
    PlaybookRunner,
    bucket_keys,
    ledger,
    lock_value,
    product_versions,
    provision_tenants,
    run_id_of,
    tenants,
    writes,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGE = "dev"
DOCTOR_PLAYBOOK = DEPLOY_PLAYBOOK.parent / "doctor.yml"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
PRODUCT = "bookings"
CATALOG_NAME = f"{PRODUCT}-{STAGE}"
SSM_PREFIX = f"/multiregion/{STAGE}"
TENANTS_PER_REGION = 2
SAM_SERVICES = ("reports", "notifier")

REPORTS_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: Nightly booking reports per tenant

Parameters:
  TenantId:
    Type: String
    Default: shared
  Tier:
    Type: String
    Default: standard
    AllowedValues: [standard, premium]

Globals:
  Function:
    Runtime: python3.11
    Timeout: 30
    MemorySize: 256
    Environment:
      Variables:
        TENANT_ID: !Ref TenantId
        TIER: !Ref Tier

Resources:
  ReportsTable:
    Type: AWS::Serverless::SimpleTable

  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      Description: Formatting helpers of the reports
      ContentUri: layer/
      CompatibleRuntimes: [python3.11]
    Metadata:
      BuildMethod: python3.11

  NightlyReportFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.lambda_handler
      Layers: [!Ref SharedLayer]
      Policies:
        - AWSXrayWriteOnlyAccess
        - DynamoDBCrudPolicy:
            TableName: !Ref ReportsTable
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)

Outputs:
  ReportsTableName:
    Value: !Ref ReportsTable
"""

NOTIFIER_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: Booking notifications, queued per tenant

Parameters:
  TenantId:
    Type: String
    Default: shared

Resources:
  NotificationQueue:
    Type: AWS::SQS::Queue

  SendFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: send/
      Handler: index.handler
      Runtime: nodejs20.x
      Environment:
        Variables:
          TENANT_ID: !Ref TenantId
      Policies:
        - SQSPollerPolicy:
            QueueName: !GetAtt NotificationQueue.QueueName
      Events:
        Queued:
          Type: SQS
          Properties:
            Queue: !GetAtt NotificationQueue.Arn

  Audit:
    Type: AWS::Serverless::Application
    Properties:
      Location: audit/template.yaml
      Parameters:
        TenantId: !Ref TenantId
"""

AUDIT_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  TenantId:
    Type: String
Resources:
  RecordFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: record/
      Handler: record.handler
      Runtime: nodejs20.x
      Environment:
        Variables:
          TENANT_ID: !Ref TenantId
"""

SAM_FILES = {
    "reports/template.yaml": REPORTS_TEMPLATE,
    "reports/src/app.py": "from formatting import title\n\n\ndef lambda_handler(event, context):\n    return {'report': title('nightly')}\n",
    "reports/src/requirements.txt": "# no third-party packages: pip installs nothing, offline\n",
    "reports/layer/formatting.py": "def title(text):\n    return text.title()\n",
    "reports/layer/requirements.txt": "",
    "notifier/template.yaml": NOTIFIER_TEMPLATE,
    "notifier/send/index.js": "exports.handler = async (event) => ({ sent: event.Records.length, tenant: process.env.TENANT_ID });\n",
    "notifier/send/package.json": json.dumps({"name": "send", "version": "1.0.0", "private": True, "main": "index.js"}, indent=2) + "\n",
    "notifier/audit/template.yaml": AUDIT_TEMPLATE,
    "notifier/audit/record/record.js": "exports.handler = async () => ({ recorded: true });\n",
    "notifier/audit/record/package.json": json.dumps({"name": "record", "version": "1.0.0", "private": True}, indent=2) + "\n",
}


def git(*arguments: str, cwd: Path) -> None:
    subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True)


class MixedMonorepo:
    def __init__(self, aws: Any, root: Path) -> None:
        self.aws = aws
        self.root = root
        self.runner = PlaybookRunner(aws.env, user="platform-team")
        self.calls: Dict[str, Dict[str, Dict[str, int]]] = {}

    def deploy(self, name: str, project: Path, *options: str, flags: Sequence[str] = ()) -> Any:
        """``ansible-playbook playbooks/deploy.yml [flags] -e k=v ...`` as typed; its AWS calls under ``name``."""
        arguments: List[str] = list(flags)
        for option in (f"project_dir={project}", f"stage={STAGE}", f"regions={','.join(REGIONS)}", f"package_sls_binary={FAKE_SLS}",
                       "catalog_create_missing_products=true", "rollout_poll_delay=0.2", "rollout_poll_max_delay=1", *options):
            arguments += ["-e", option]
        self.aws.reset_calls()
        plumbing = '{"package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"}, "package_init_stacks": false}'
        run = self.runner.run(DEPLOY_PLAYBOOK, *arguments, "-e", plumbing)
        self.calls[name] = self.aws.calls()
        assert run.returncode == 0, run.explain()
        return run

    def versions(self) -> Dict[str, List[str]]:
        return {region: [version for version, _id in product_versions(self.aws, region, CATALOG_NAME)] for region in REGIONS}

    def tenant_artifacts(self) -> Dict[str, str]:
        return {name: t["artifact"] for region in REGIONS for name, t in tenants(self.aws, region).items()}

    def published(self, region: str) -> Dict[str, Any]:
        """``{key: parsed template}`` of the SAM services' templates in the region's bucket."""
        s3 = self.aws.client("s3", region)
        bucket = f"mrs-artifacts-{STAGE}-{region}"
        keys = [key for key in bucket_keys(self.aws, bucket, region) if key.startswith("sam/") and key.endswith(".json")]
        return {key: json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys}

    def tiers(self, region: str) -> Dict[str, str]:
        """Each tenant's Tier as its CloudFormation stack has it (the rollout must keep it)."""
        catalog, cloudformation = self.aws.client("servicecatalog", region), self.aws.client("cloudformation", region)
        found = {}
        for name in tenants(self.aws, region):
            record = catalog.describe_provisioned_product(Name=name)["ProvisionedProductDetail"]["LastSuccessfulProvisioningRecordId"]
            outputs = catalog.describe_record(Id=record)["RecordOutputs"]
            stack = next(output["OutputValue"] for output in outputs if output["OutputKey"] == "CloudformationStackARN")
            parameters = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
            found[name] = next(p["ParameterValue"] for p in parameters if p["ParameterKey"] == "Tier")
        return found


@pytest.fixture(scope="module")
def monorepo(module_local_aws, tmp_path_factory) -> MixedMonorepo:
    root = tmp_path_factory.mktemp("mixed") / "bookings"
    project = make_project(root, STAGE, REGIONS, product=PRODUCT)
    for name, text in SAM_FILES.items():
        path = root / "services" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    product_file = root / "products" / f"{PRODUCT}.yml"
    product = yaml.safe_load(product_file.read_text())
    product["parameters"]["Tier"] = {"Type": "String", "Default": "standard", "AllowedValues": ["standard", "premium"]}
    product["nested_stacks"] += [{"service": name} for name in SAM_SERVICES]
    product_file.write_text(yaml.safe_dump(product, sort_keys=False))
    git("init", "--quiet", cwd=root)
    git("add", "-A", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "bookings", cwd=root)
    scenario = MixedMonorepo(module_local_aws, project.root)
    done = scenario.runner.bootstrap(root, STAGE, REGIONS)
    assert done.returncode == 0, done.explain()
    return scenario


def test_a_mixed_monorepo_deploys_to_three_regions_and_tenants_provision(monorepo: MixedMonorepo) -> None:
    run = monorepo.deploy("cold", monorepo.root)
    packaging = ledger(monorepo.root, run_id_of(run))["entries"]["packaging"]
    sam_entries = [entry for entry in packaging if entry["service"] in SAM_SERVICES]
    assert len(sam_entries) == len(SAM_SERVICES) * len(REGIONS) and {entry["status"] for entry in sam_entries} == {"packaged"}
    # sam build ran once per service for the three regions (the build does not depend on the region).
    builds = sorted(path.parent.parent.name for path in (monorepo.root / ".deploy-build" / STAGE / "_shared" / "sam").glob("*/*/built.json"))
    assert builds == sorted(SAM_SERVICES)
    for region in REGIONS:
        templates = monorepo.published(region)
        assert {key.split("/")[1] for key in templates} == set(SAM_SERVICES)
        for key, template in templates.items():
            types = {resource["Type"] for resource in template["Resources"].values()}
            assert "Transform" not in template and not [t for t in types if t.startswith("AWS::Serverless::")], key
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::Lambda::Function":
                    assert resource["Properties"]["Code"]["S3Bucket"] == f"mrs-artifacts-{STAGE}-{region}"
        names = [f"{region}-{number}" for number in range(1, TENANTS_PER_REGION + 1)]
        statuses = provision_tenants(monorepo.aws, region, SSM_PREFIX, CATALOG_NAME, names, parameters={"Tier": "premium"})
        assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    assert monorepo.versions() == {region: ["V1"] for region in REGIONS}
    stack_types = {r["ResourceType"] for region in REGIONS[:1] for r in all_tenant_resources(monorepo, region)}
    assert {"AWS::Lambda::Function", "AWS::Lambda::LayerVersion", "AWS::SQS::Queue", "AWS::DynamoDB::Table"} <= stack_types


def all_tenant_resources(monorepo: MixedMonorepo, region: str) -> List[Dict[str, Any]]:
    """Every resource of every stack of the region (tenants' root, service and nested application stacks)."""
    cloudformation = monorepo.aws.client("cloudformation", region)
    found = []
    for stack in cloudformation.list_stacks()["StackSummaries"]:
        if stack["StackStatus"] != "DELETE_COMPLETE":
            found += [r for r in cloudformation.describe_stack_resources(StackName=stack["StackId"])["StackResources"] if "ResourceType" in r]
    return found


def test_a_no_change_run_writes_only_bookkeeping(monorepo: MixedMonorepo) -> None:
    before = (monorepo.versions(), monorepo.tenant_artifacts())
    monorepo.deploy("no-change", monorepo.root, "update_product=true")
    assert writes(monorepo.calls["no-change"]) == BOOKKEEPING_WRITES
    assert (monorepo.versions(), monorepo.tenant_artifacts()) == before


def test_a_sam_handler_change_makes_one_version_per_region_and_rolls_out_keeping_parameters(monorepo: MixedMonorepo) -> None:
    before = monorepo.tenant_artifacts()
    handler = monorepo.root / "services" / "reports" / "src" / "app.py"
    handler.write_text(handler.read_text().replace("'nightly'", "'nightly bookings'"))
    git("commit", "--quiet", "-am", "reports: a better title", cwd=monorepo.root)
    # What --check --diff says first is what the run then does: the same uploads, versions and tenant updates.
    check = monorepo.deploy("handler-change-check", monorepo.root, "update_product=true", flags=("--check", "--diff"))
    real = monorepo.deploy("handler-change", monorepo.root, "update_product=true")
    assert_check_matches_real(check, writes(monorepo.calls["handler-change-check"]), real)
    counted = writes(monorepo.calls["handler-change"])
    assert counted["servicecatalog:CreateProvisioningArtifact"] == len(REGIONS)
    assert counted["servicecatalog:UpdateProvisionedProduct"] == len(REGIONS) * TENANTS_PER_REGION
    assert monorepo.versions() == {region: ["V1", "V2"] for region in REGIONS}
    after = monorepo.tenant_artifacts()
    assert len(after) == len(REGIONS) * TENANTS_PER_REGION and all(after[name] != before[name] for name in after)
    for region in REGIONS:
        assert set(monorepo.tiers(region).values()) == {"premium"}, region
        # Only the reports function's ZIP is new; the notifier's keys are the ones of the first deploy.
        new_zips = {key for key in bucket_keys(monorepo.aws, f"mrs-artifacts-{STAGE}-{region}", region) if key.endswith(".zip")}
        assert len([key for key in new_zips if key.endswith("/NightlyReportFunction.zip")]) == 2
        assert len([key for key in new_zips if key.endswith("/SendFunction.zip")]) == 1


def test_a_fresh_clone_at_another_path_creates_nothing(monorepo: MixedMonorepo, tmp_path: Path) -> None:
    clone = tmp_path / "elsewhere" / "deeper" / "bookings"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(monorepo.root), str(clone)], check=True)
    assert not (clone / ".deploy-build").exists()
    before = (monorepo.versions(), monorepo.tenant_artifacts())
    run = monorepo.deploy("fresh-clone", clone, "update_product=true")
    packaged = {entry["service"] for entry in ledger(clone, run_id_of(run))["entries"]["packaging"] if entry["status"] == "packaged"}
    assert set(SAM_SERVICES) <= packaged, "an empty build cache builds the SAM services again"
    assert writes(monorepo.calls["fresh-clone"]) == BOOKKEEPING_WRITES, "the clone wrote more than its bookkeeping"
    assert (monorepo.versions(), monorepo.tenant_artifacts()) == before


def test_the_project_doctor_reads_sam_services_too_and_writes_nothing(monorepo: MixedMonorepo) -> None:
    """A fixed FunctionName in a SAM service: every tenant of a region would share it; the doctor names file and fix."""
    template = monorepo.root / "services" / "reports" / "template.yaml"
    original = template.read_text()
    template.write_text(original.replace("      Handler: app.lambda_handler\n", "      Handler: app.lambda_handler\n      FunctionName: nightly-report\n", 1))
    monorepo.aws.reset_calls()
    try:
        run = monorepo.runner.run(DOCTOR_PLAYBOOK, "-e", f"project_dir={monorepo.root}", "-e", f"stage={STAGE}", "-e", f"package_sls_binary={FAKE_SLS}",
                                  "-e", '{"package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"}, "package_init_stacks": false}')
    finally:
        template.write_text(original)
    assert run.returncode != 0, run.explain()
    [message] = {result.msg for result in run.failures if "project doctor" in result.task}
    lines = message.splitlines()
    assert lines[0] == f"project doctor: 1 problem(s) in {4 * len(REGIONS)} packaged template(s); nothing was uploaded:", lines
    assert lines[1].startswith("- services/reports/template.yaml: service reports (product bookings): NightlyReportFunction (AWS::Lambda::Function)"), lines
    assert "nightly-report" in lines[1] and lines[1].endswith(f" [{', '.join(REGIONS)}]"), lines
    assert writes(monorepo.aws.calls()) == {}


def test_a_runtime_this_machine_cannot_build_is_refused_in_one_line_before_anything_is_packaged(monorepo: MixedMonorepo) -> None:
    billing = monorepo.root / "services" / "billing"
    (billing / "src").mkdir(parents=True)
    (billing / "src" / "Billing.cs").write_text("namespace Billing { public class Function { } }\n")
    (billing / "template.yaml").write_text(NOTIFIER_TEMPLATE.split("Resources:", maxsplit=1)[0] + "Resources:\n  InvoiceFunction:\n"
                                           "    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n"
                                           "      Handler: Billing::Billing.Function::Handle\n      Runtime: dotnet8\n")
    keys = {region: bucket_keys(monorepo.aws, f"mrs-artifacts-{STAGE}-{region}", region) for region in REGIONS}
    monorepo.aws.reset_calls()
    run = monorepo.runner.run(DEPLOY_PLAYBOOK, "-e", f"project_dir={monorepo.root}", "-e", f"stage={STAGE}", "-e", f"package_sls_binary={FAKE_SLS}",
                              "-e", '{"package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"}, "package_init_stacks": false}')
    assert run.returncode != 0, run.explain()
    reasons = {result.msg for result in run.failures if "cannot be built" in result.msg}
    assert reasons, run.explain()
    for reason in reasons:
        assert reason.splitlines() == [reason] and "service billing" in reason and "InvoiceFunction (dotnet8)" in reason, reason
        assert "sam build needs dotnet on PATH" in reason and "nothing was packaged" in reason, reason
    # Only the run's bookkeeping (lock taken and released, ledger and report): no object, no version, no lock left.
    assert writes(monorepo.aws.calls()) == BOOKKEEPING_WRITES
    for region in REGIONS:
        added = bucket_keys(monorepo.aws, f"mrs-artifacts-{STAGE}-{region}", region) - keys[region]
        assert all(key.startswith(f"runs/{STAGE}/") for key in added), added
    assert lock_value(monorepo.aws, REGIONS[0], SSM_PREFIX) is None
    assert not list((monorepo.root / ".deploy-build" / STAGE / "_shared" / "sam").glob("billing/*"))
