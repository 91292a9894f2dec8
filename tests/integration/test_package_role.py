"""The package role through ansible-playbook against the local AWS server, with the REAL serverless.

The example project (copied, its buckets renamed so no other test shares them) is packaged for 3 regions in
one playbook run (forks 8): check -> apply -> idempotent check -> idempotent apply, then one handler changes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import fingerprint_tree, parse_template

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
# Each Run gets buckets of its own: the local AWS server is shared by the whole session.
BUCKET_PREFIX = "mrs-pkgit-"

INVENTORY = """
regions:
  hosts:
{hosts}
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    aws_region: "{{{{ inventory_hostname }}}}"
    # This checkout's serverless 3 and serverless-compose, as inventories/local names them (on PATH, the
    # checkout's node_modules/.bin/serverless is osls, which compose refuses).
    package_node_modules: "{node_modules}"
"""

PLAYBOOK = """
- name: Package phase under test
  hosts: regions
  gather_facts: false
  module_defaults:
    group/multiregion.serverless.aws:
      region: "{{ aws_region }}"
      endpoint_url: "{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}"
  roles:
    - role: multiregion.serverless.package
  post_tasks:
    - name: Print the results
      ansible.builtin.debug:
        var: package_results
"""


def copy_project(prefix: str, destination: Path) -> Path:
    """The examples with their artifact buckets renamed (project.yml and the services' shared settings)."""
    shutil.copytree(REPO / "examples", destination, ignore=shutil.ignore_patterns(".serverless", "node_modules", "__pycache__"))
    for relative in ("project.yml", "shared/serverless-common.yml"):
        path = destination / relative
        path.write_text(path.read_text().replace("mrs-artifacts-", prefix))
    return destination


class Run:
    def __init__(self, local_aws, tmp: Path, regions=REGIONS, extra_vars=None):
        self.aws, self.tmp, self.regions = local_aws, tmp, regions
        self.prefix = f"{BUCKET_PREFIX}{uuid.uuid4().hex[:8]}-"
        self.project = copy_project(self.prefix, tmp / "project")
        self.build = tmp / "build"
        hosts = "\n".join(f"    {region}:" for region in regions)
        (tmp / "inventory.yml").write_text(INVENTORY.format(hosts=hosts, node_modules=REPO / "node_modules"))
        (tmp / "package.yml").write_text(PLAYBOOK)
        self.extra_vars = {"project_dir": str(self.project), "stage": "dev", "package_build_root": str(self.build), **(extra_vars or {})}
        for region in regions:
            s3 = self.s3(region)
            arguments = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            try:
                s3.create_bucket(Bucket=self.bucket(region), **arguments)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass

    def bucket(self, region):
        return f"{self.prefix}dev-{region}"

    def s3(self, region):
        return self.aws.client("s3", region)

    def keys(self, region):
        pages = self.s3(region).get_paginator("list_objects_v2").paginate(Bucket=self.bucket(region))
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def play(self, *args):
        env = {**os.environ, **self.aws.env, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
               "ANSIBLE_FORKS": "8"}
        command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", str(self.tmp / "inventory.yml"), str(self.tmp / "package.yml"),
                   "-e", json.dumps(self.extra_vars), *args]
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
        report = json_report(completed.stdout)
        results = {}
        for task in report["plays"][0]["tasks"]:
            if task["task"]["name"] == "Print the results":
                results = {host: value.get("package_results") for host, value in task["hosts"].items()}
        return report["stats"], results


def json_report(stdout: str) -> dict:
    """The json callback's document (ansible.cfg's profile_tasks prints its own lines around it)."""
    lines = stdout.splitlines()
    start = lines.index("{")
    end = lines.index("}", start)
    return json.loads("\n".join(lines[start:end + 1]))


@pytest.fixture(scope="module")
def example_run(local_aws, tmp_path_factory):
    return Run(local_aws, tmp_path_factory.mktemp("package-role"))


def assert_published_closure(run: Run, region: str, results: dict) -> None:
    """Every template in the region's bucket, every ZIP under the key its template names, products pointing there."""
    s3, bucket, keys = run.s3(region), run.bucket(region), run.keys(region)
    for name, service in {**results["services"], **results["init_stacks"]}.items():
        assert service["template_key"] in keys, name
        template = json.loads(s3.get_object(Bucket=bucket, Key=service["template_key"], ExpectedBucketOwner="123456789012")["Body"].read())
        for resource in template["Resources"].values():
            code = (resource.get("Properties") or {}).get("Code") or {}
            if "S3Key" in code:
                assert code["S3Bucket"] == bucket, (region, name)  # region-correct: serverless named this region's bucket
                assert code["S3Key"] in keys, (region, name, code["S3Key"])
                assert s3.head_object(Bucket=bucket, Key=code["S3Key"])["ServerSideEncryption"] == "AES256"
    assert set(results["products"]) == {"platform-core", "tenant-analytics"}

    def fetch(url: str) -> dict:
        body = s3.get_object(Bucket=bucket, Key=url.split(".amazonaws.com/", 1)[1], ExpectedBucketOwner="123456789012")["Body"].read()
        return parse_template(body.decode("utf-8"), url)

    for product in results["products"].values():
        assert product["key"] in keys and product["url"] == f"https://{bucket}.s3.{region}.amazonaws.com/{product['key']}"
        for url in product["nested_template_urls"].values():
            assert url.startswith(f"https://{bucket}.s3.{region}.amazonaws.com/") and url.split(".amazonaws.com/", 1)[1] in keys
        # The fingerprint handed to the catalog is the one it would get by reading the published tree back.
        assert product["fingerprint"] == fingerprint_tree(fetch(product["url"]), fetch, product["url"])[0]


def test_three_regions_check_apply_idempotent_then_one_handler_changes(example_run):
    run = example_run
    # Check mode: packages locally (the build folder is not the managed system), reports the uploads, writes no AWS.
    stats, checked = run.play("--check")
    assert all(stats[region]["changed"] > 0 for region in REGIONS)
    assert all(run.keys(region) == set() for region in REGIONS)
    assert all(checked[region]["uploaded"] > 0 for region in REGIONS)

    # Apply: the check run's packages come from the cache, and exactly the objects it named are uploaded.
    stats, results = run.play()
    assert all(stats[region]["changed"] > 0 for region in REGIONS)
    for region in REGIONS:
        assert results[region]["excluded"] == ["legacy-reports"]
        assert results[region]["packaged"] == [] and sorted(results[region]["cached"]) == sorted(checked[region]["packaged"])
        assert sorted(checked[region]["packaged"]) == sorted(["authorizer", "e2e-fixtures", "inventory", "notifications", "orders",
                                                              "payments", "usage-reports", "webhooks", "network-baseline", "shared-observability"])
        assert results[region]["uploaded_keys"] == checked[region]["uploaded_keys"] and run.keys(region) == set(checked[region]["uploaded_keys"])
        assert_published_closure(run, region, results[region])
    # Same source, different regions: same ZIP keys, region-specific templates.
    orders = {region: results[region]["services"]["orders"] for region in REGIONS}
    assert len({item["artifacts"][0]["s3_key"] for item in orders.values()}) == 1
    assert len({item["template_sha256"] for item in orders.values()}) == 3
    before = {region: run.keys(region) for region in REGIONS}

    # Idempotent check, then idempotent apply: nothing packaged, nothing uploaded.
    stats, _results = run.play("--check")
    assert all(stats[region]["changed"] == 0 for region in REGIONS), stats
    stats, again = run.play()
    assert all(stats[region]["changed"] == 0 for region in REGIONS), stats
    for region in REGIONS:
        assert again[region]["packaged"] == [] and again[region]["uploaded"] == 0
        assert again[region]["products"] == results[region]["products"]
    assert {region: run.keys(region) for region in REGIONS} == before

    # One handler changes: only that service re-packages and re-uploads (plus the product templates holding it).
    handler = run.project / "services" / "orders" / "orders" / "handlers.py"
    handler.write_text(handler.read_text() + "\n# changed by the integration test\n")
    stats, changed = run.play()
    for region in REGIONS:
        assert changed[region]["packaged"] == ["orders"]
        new_keys = run.keys(region) - before[region]
        orders_now = changed[region]["services"]["orders"]
        assert new_keys == {orders_now["template_key"], orders_now["artifacts"][0]["s3_key"], changed[region]["products"]["platform-core"]["key"]}
        assert before[region] <= run.keys(region)  # the previous version stays fetchable
        assert changed[region]["products"]["tenant-analytics"] == results[region]["products"]["tenant-analytics"]
        assert_published_closure(run, region, changed[region])


def test_osls_packages_one_service_check_apply_idempotent(local_aws, tmp_path):
    """The fork osls behind the same role (one region, one service, no init stacks or products)."""
    run = Run(local_aws, tmp_path, regions=["eu-west-1"], extra_vars={
        "package_sls_binary": str(REPO / "node_modules/osls/bin/serverless.js"), "package_services": ["orders"],
        "package_init_stacks": False, "package_products": False})
    stats, checked = run.play("--check")
    assert stats["eu-west-1"]["changed"] > 0 and run.keys("eu-west-1") == set()
    assert checked["eu-west-1"]["services"]["orders"]["status"] == "packaged"  # locally, by osls
    stats, results = run.play()
    orders = results["eu-west-1"]["services"]["orders"]
    assert orders["framework"].startswith("osls@") and orders["status"] == "cached"
    assert {orders["template_key"], orders["artifacts"][0]["s3_key"]} <= run.keys("eu-west-1")
    for args in (["--check"], []):
        stats, again = run.play(*args)
        assert stats["eu-west-1"]["changed"] == 0, stats
    assert again["eu-west-1"]["services"]["orders"]["status"] == "cached"
