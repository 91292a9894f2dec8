"""The catalog role through ansible-playbook against the local AWS server, two regions, two products.

The package phase is stood in for by its published objects (nested templates and product templates in each
region's bucket, uploaded here through boto3) and its ``package_results`` fact (set by the test playbook in the
shape of docs/package-phase.md); everything the catalog phase does is real.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGIONS = ["us-east-1", "eu-west-1"]
PRODUCTS = {"platform-core": ["authorizer", "orders"], "tenant-analytics": ["inventory"]}
SSM_PREFIX = "/catalog-it/dev"

PLAYBOOK = """
- name: Catalog phase under test
  hosts: regions
  gather_facts: false
  module_defaults:
    group/multiregion.serverless.aws:
      region: "{{ aws_region }}"
      endpoint_url: "{{ aws_endpoint_url }}"
      access_key: "{{ aws_access_key }}"
      secret_key: "{{ aws_secret_key }}"
  tasks:
    - name: Stand in for the package phase's fact
      ansible.builtin.set_fact:
        package_results: "{{ published[inventory_hostname] }}"
      when: inventory_hostname in published
    - name: Run the catalog role
      ansible.builtin.import_role:
        name: multiregion.serverless.catalog
    - name: Print the results
      ansible.builtin.debug:
        var: catalog_results
"""


def bucket(region):
    return f"mrs-catalog-it-{region}"


class Stage:
    def __init__(self, local_aws, tmp_path):
        self.aws = local_aws
        self.tmp = tmp_path
        self.playbook = tmp_path / "catalog.yml"
        self.playbook.write_text(PLAYBOOK)
        for region in REGIONS:
            s3 = self.s3(region)
            if region == "us-east-1":
                s3.create_bucket(Bucket=bucket(region))
            else:
                s3.create_bucket(Bucket=bucket(region), CreateBucketConfiguration={"LocationConstraint": region})

    def s3(self, region):
        return self.aws.client("s3", region)

    def sc(self, region):
        return self.aws.client("servicecatalog", region)

    def ssm(self, region):
        return self.aws.client("ssm", region)

    def publish(self, handlers):
        """Publish every service and product template per region, as the package phase does; returns package_results."""
        results = {}
        for region in REGIONS:
            s3, products = self.s3(region), {}

            def put(key, document):
                s3.put_object(Bucket=bucket(region), Key=key, Body=json.dumps(document).encode())
                return f"https://{bucket(region)}.s3.{region}.amazonaws.com/{key}"

            for product, services in PRODUCTS.items():
                resources = {}
                for service in services:
                    handler = handlers.get(service, "handler.main")
                    function = {"Type": "AWS::Lambda::Function", "Properties": {"Handler": handler, "Code": {"S3Bucket": bucket(region)}}}
                    template = {"Resources": {"Fn": function}}
                    url = put(f"serverless/{service}/dev/templates/{service}-{handler}.json", template)
                    resources[f"{service.capitalize()}Stack"] = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}
                document = {"Parameters": {"TenantId": {"Type": "String"}}, "Resources": resources}
                digest = "-".join(f"{s}-{handlers.get(s, 'handler.main')}" for s in services)
                url = put(f"products/{product}/dev/{digest}.json", document)
                products[product] = {"key": f"products/{product}/dev/{digest}.json", "url": url, "sha256": digest}
            results[region] = {"region": region, "stage": "dev", "bucket": bucket(region), "account_id": ACCOUNT, "products": products}
        return results

    def play(self, published, check=False, diff=False, create=True, limit=None, expect_failure=False):
        extra = {
            "published": published,
            # As deploy_plan returns it: the definitions are read when a product is created.
            "catalog_plan": {"account_id": ACCOUNT, "ssm_prefix": SSM_PREFIX,
                             "product_definitions": {name: str(REPO / "examples" / "products" / f"{name}.yml") for name in PRODUCTS}},
            "catalog_create_missing_products": create,
        }
        extra_file = self.tmp / "extra.json"
        extra_file.write_text(json.dumps(extra))
        command = [str(REPO / ".venv/bin/ansible-playbook"), str(self.playbook), "-i", str(REPO / "inventories/local"),
                   "--limit", ",".join(REGIONS if limit is None else limit), "-e", f"@{extra_file}"]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        # profile_tasks (ansible.cfg) would print into the JSON; naming the stdout callback instead leaves it out.
        env = {**os.environ, **self.aws.env, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
               "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.json"}
        run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        if expect_failure:
            assert run.returncode != 0, run.stdout[-3000:]
        else:
            assert run.returncode == 0, (run.stdout[-6000:], run.stderr[-3000:])
        return json.loads(run.stdout)

    def versions(self, region, product):
        sc = self.sc(region)
        product_id = sc.describe_product_as_admin(Name=product)["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        details = sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
        return {detail["Name"]: detail["Id"] for detail in details}

    def latest_id(self, region, product):
        return self.ssm(region).get_parameter(Name=f"{SSM_PREFIX}/products/{product}/latest-artifact-id")["Parameter"]["Value"]

    def snapshot(self):
        state = {}
        for region in REGIONS:
            for product in PRODUCTS:
                try:
                    state[(region, product)] = (self.versions(region, product), self.latest_id(region, product))
                except Exception as exc:  # noqa: BLE001 - a product or parameter that does not exist yet
                    state[(region, product)] = type(exc).__name__
        return state


def catalog_results(output):
    for play in output["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith("Print the results"):
                return {host: result["catalog_results"] for host, result in task["hosts"].items()}
    raise AssertionError("no catalog_results printed")


def changed_hosts(output):
    return {host: stats["changed"] for host, stats in output["stats"].items() if stats["changed"]}


@pytest.fixture
def stage(local_aws, tmp_path):
    local_aws.reset()
    return Stage(local_aws, tmp_path)


def seed_foreign_versions(stage, region, url):
    """platform-core in one region made by hand: V1, V2, V5, a foreign name, V12; a later V13 deleted."""
    sc = stage.sc(region)
    product = sc.create_product(
        Name="platform-core", Owner="platform-team", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="seed",
        ProvisioningArtifactParameters={"Name": "V1", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
    )["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    for name in ["V2", "V5", "hotfix-2024", "V12"]:
        sc.create_provisioning_artifact(ProductId=product, IdempotencyToken=f"seed-{name}",
                                        Parameters={"Name": name, "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"})


def test_check_apply_idempotent_then_one_version_per_changed_product_and_region(stage):
    first = stage.publish({})
    seed_foreign_versions(stage, "eu-west-1", first["eu-west-1"]["products"]["tenant-analytics"]["url"])
    before = stage.snapshot()

    checked = stage.play(first, check=True)
    assert stage.snapshot() == before
    planned = catalog_results(checked)
    assert planned["us-east-1"]["products"]["platform-core"]["artifact_name"] == "V1"
    assert planned["eu-west-1"]["products"]["platform-core"]["artifact_name"] == "V13"

    applied = stage.play(first)
    results = catalog_results(applied)
    for region in REGIONS:
        for product in PRODUCTS:
            entry = results[region]["products"][product]
            assert entry["version_created"] and entry["artifact_id"] == stage.latest_id(region, product)
    assert sorted(stage.versions("eu-west-1", "platform-core")) == ["V1", "V12", "V13", "V2", "V5", "hotfix-2024"]
    assert list(stage.versions("us-east-1", "platform-core")) == ["V1"]
    assert set(changed_hosts(applied)) == set(REGIONS)

    settled = stage.snapshot()
    assert changed_hosts(stage.play(first, check=True)) == {}
    assert changed_hosts(stage.play(first)) == {}
    assert stage.snapshot() == settled

    # A handler change in the orders service: exactly one new version of platform-core per region, SSM follows;
    # tenant-analytics (which does not include orders) is untouched.
    second = stage.publish({"orders": "handler.v2"})
    diffed = stage.play(second, check=True, diff=True)
    assert stage.snapshot() == settled
    diff_task = next(task for play in diffed["plays"] for task in play["tasks"] if "Create a version" in task["task"]["name"])
    diffs = [diff for diff in diff_task["hosts"]["us-east-1"]["diff"] if diff["before_header"].startswith("platform-core ")]
    assert "orders-handler.main" in diffs[0]["before"] and "orders-handler.v2" in diffs[0]["after"]

    stage.play(second)
    after = stage.snapshot()
    for region in REGIONS:
        old_versions, _old_latest = settled[(region, "platform-core")]
        new_versions, new_latest = after[(region, "platform-core")]
        assert set(new_versions) - set(old_versions) == {"V2" if region == "us-east-1" else "V14"}
        assert new_latest == new_versions["V2" if region == "us-east-1" else "V14"]
        assert after[(region, "tenant-analytics")] == settled[(region, "tenant-analytics")]
    assert changed_hosts(stage.play(second)) == {}


def test_a_region_without_package_results_stops_the_run_before_any_write(stage):
    published = stage.publish({})
    only_one = {"us-east-1": published["us-east-1"]}
    output = stage.play(only_one, expect_failure=True)
    messages = [result.get("msg", "") for play in output["plays"] for task in play["tasks"] for result in task["hosts"].values()]
    assert any("no package results for region(s) eu-west-1" in message for message in messages)
    assert all(value == "ResourceNotFoundException" for value in stage.snapshot().values())


def test_missing_products_are_an_error_unless_allowed(stage):
    published = stage.publish({})
    output = stage.play(published, create=False, limit=["us-east-1"], expect_failure=True)
    failures = [result.get("msg", "") for play in output["plays"] for task in play["tasks"] for result in task["hosts"].values()]
    assert any("product 'platform-core' does not exist in us-east-1" in message and "-e create_missing_products=true" in message for message in failures)
    assert all(value == "ResourceNotFoundException" for value in stage.snapshot().values())
