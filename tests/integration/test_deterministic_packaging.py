"""Packaging is byte-identical on any machine, path, umask, day and cache state, with the REAL serverless 3 and osls.

Two fresh copies of tests/integration/fixtures/deterministic_project (a REST API service with versioned
functions, layers and an exec-bit file) at different absolute paths, one checked out under umask 0002 and
one under 0022, each with an empty build root (no cache), are packaged a few seconds apart, the second one
with the packagers' clock a day ahead (fixtures/shift-clock.js), by the ``sls_package`` module through
ansible-playbook, with both packagers, and published into one bucket of the local AWS with
``s3_artifact_sync``. The second copy must give the same template and ZIP bytes, keys and
template sha256, so it uploads nothing. Then one REST route is added: the API deployment id and the
template change, nothing else does.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "integration" / "fixtures"
PROJECT = FIXTURES / "deterministic_project"
SERVICE = Path("services") / "bookshelf"
EXECUTABLES = {SERVICE / "bin" / "render-cover"}
PACKAGERS = {
    "serverless3": REPO / "node_modules" / "serverless" / "bin" / "serverless.js",
    "osls": REPO / "node_modules" / "osls" / "bin" / "serverless.js",
}
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account: it owns the buckets of the local AWS
SECONDS_APART = 2.0  # the second checkout packages at least this much later (the stamps are in milliseconds)
DAY_MS = 24 * 60 * 60 * 1000

PLAYBOOK = """
- name: Package the project with each packager and publish it
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/multiregion.serverless.aws:
      region: {region}
      endpoint_url: "{{{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}}}"
  tasks:
    - name: Package
      multiregion.serverless.sls_package:
        project_dir: "{{{{ project_dir }}}}"
        stage: dev
        region: {region}
        sls_binary: "{{{{ item.value }}}}"
        build_root: "{{{{ build_root }}}}/{{{{ item.key }}}}"
        environment:
          NODE_OPTIONS: "--require {stub} --require {clock}"
          CLOCK_SHIFT_DAYS: "{{{{ clock_shift_days }}}}"
      loop: "{{{{ packagers | dict2items }}}}"
      register: packaged

    - name: Publish
      multiregion.serverless.s3_artifact_sync:
        bucket: "{{{{ bucket }}}}"
        expected_bucket_owner: "{account}"
        packages: "{{{{ item.services }}}}"
      loop: "{{{{ packaged.results }}}}"
      register: published

    - name: Write what the modules returned
      ansible.builtin.copy:
        dest: "{{{{ results_file }}}}"
        mode: "0644"
        content: "{{{{ {{'packaged': packaged.results, 'published': published.results}} | to_json }}}}"
"""


def checkout(destination: Path, umask: int, bucket_prefix: str) -> Path:
    """A fresh copy of the fixture project with the modes a git checkout under ``umask`` gives it.

    Its artifact bucket gets a name of this test's own (the local AWS is shared by the session).
    """
    shutil.copytree(PROJECT, destination)
    for path in sorted(destination.rglob("*")):
        if path.is_dir():
            path.chmod(0o777 & ~umask)
        else:
            executable = path.relative_to(destination) in EXECUTABLES
            path.chmod((0o777 if executable else 0o666) & ~umask)
    destination.chmod(0o777 & ~umask)
    config = destination / SERVICE / "serverless.yml"
    config.write_text(config.read_text().replace("bookshelf-artifacts-", bucket_prefix))
    return destination


def run_playbook(local_aws, work: Path, project: Path, bucket: str, umask: int, clock_shift_days: int = 0) -> dict:
    """Package ``project`` with both packagers into ``<work>/build``, their clock ``clock_shift_days`` ahead, and publish.

    Returns ``{packager: {"service": its sls_package result, "files": {path: bytes}, "uploaded": [...], "skipped": [...]}}``;
    the files are read at once, since the next packaging in the same build root replaces them.
    """
    playbook = work / "package.yml"
    playbook.write_text(PLAYBOOK.format(region=REGION, account=ACCOUNT, stub=FIXTURES / "no-deployed-stack.js", clock=FIXTURES / "shift-clock.js"))
    results_file = work / "results.json"
    extra_vars = {"project_dir": str(project), "build_root": str(work / "build"), "bucket": bucket, "results_file": str(results_file),
                  "packagers": {name: str(path) for name, path in PACKAGERS.items()}, "clock_shift_days": clock_shift_days}
    env = {**os.environ, **local_aws.env, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    completed = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
                                "-e", json.dumps(extra_vars)], cwd=work, env=env, capture_output=True, text=True, check=False, umask=umask)
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    results = json.loads(results_file.read_text())
    outcome = {}
    for packaged, published in zip(results["packaged"], results["published"]):
        service = packaged["services"][0]
        paths = [service["template_path"]] + [item["path"] for item in service["artifacts"]]
        outcome[packaged["item"]["key"]] = {"service": service, "files": {path: Path(path).read_bytes() for path in paths},
                                            "uploaded": published["uploaded"], "skipped": published["skipped"]}
    return outcome


def raw_template(work: Path, packager: str) -> str:
    """What the packager itself wrote, in the working copy under the build root."""
    output = work / "build" / packager / "dev" / REGION / "services" / "bookshelf" / "src" / SERVICE / ".serverless"
    return (output / "cloudformation-template-update-stack.json").read_text()


def run_stamps(raw: str) -> list:
    """The epoch milliseconds a packager wrote: its start (deployment id) and its artifact folder."""
    return [int(stamp) for pair in re.findall(r"ApiGatewayDeployment(\d{13})|/(\d{13})-\d{4}-\d{2}-\d{2}T", raw) for stamp in pair if stamp]


def published_state(packaging: dict) -> dict:
    """Everything of a packaging that ends up in the bucket: keys, sha256 and the bytes themselves."""
    service, files = packaging["service"], packaging["files"]
    return {
        "template": (service["template_key"], service["template_sha256"], files[service["template_path"]]),
        "artifacts": [(item["name"], item["s3_key"], item["sha256"], item["size"], files[item["path"]]) for item in service["artifacts"]],
    }


def template_of(packaging: dict) -> dict:
    return json.loads(packaging["files"][packaging["service"]["template_path"]])


def deployment_ids(template: dict) -> list:
    return sorted(key for key, resource in template["Resources"].items() if resource["Type"] == "AWS::ApiGateway::Deployment")


def version_ids(template: dict) -> list:
    return sorted(key for key, resource in template["Resources"].items() if resource["Type"] == "AWS::Lambda::Version")


@pytest.fixture
def bucket(local_aws):
    name = f"dpk-{uuid.uuid4().hex[:10]}-dev-{REGION}"
    local_aws.client("s3", REGION).create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def test_two_fresh_checkouts_publish_identical_bytes_and_a_new_route_a_new_deployment(local_aws, bucket, tmp_path):
    bucket_prefix = bucket[:-len(f"dev-{REGION}")]
    first_work = tmp_path / "a"
    second_work = tmp_path / "runner-7" / "workspace" / "checkout-with-a-longer-path"
    first_work.mkdir()
    second_work.mkdir(parents=True)
    first_project = checkout(first_work / "project", 0o022, bucket_prefix)
    second_project = checkout(second_work / "project", 0o002, bucket_prefix)
    assert (second_project / SERVICE / "src" / "books.js").stat().st_mode & 0o777 == 0o664

    first = run_playbook(local_aws, first_work, first_project, bucket, 0o022)
    time.sleep(SECONDS_APART)
    second = run_playbook(local_aws, second_work, second_project, bucket, 0o002, clock_shift_days=1)

    for packager in PACKAGERS:
        one, two = first[packager]["service"], second[packager]["service"]
        assert one["status"] == two["status"] == "packaged", packager  # empty build roots: nothing cached
        assert one["framework"].startswith("serverless@3" if packager == "serverless3" else "osls@")
        # The packagers' own output differs (start time in the deployment id and the artifact folder, a day later)...
        earlier, later = (run_stamps(raw_template(work, packager)) for work in (first_work, second_work))
        assert earlier and later and min(later) - max(earlier) >= DAY_MS + SECONDS_APART * 1000, (packager, earlier, later)
        # ... what is published does not: same bytes, keys and sha256, so the second checkout uploads nothing.
        assert published_state(first[packager]) == published_state(second[packager]), packager
        assert second[packager]["uploaded"] == [] and sorted(second[packager]["skipped"]) == sorted(
            [one["template_key"]] + [item["s3_key"] for item in one["artifacts"]]), packager

        body = second[packager]["files"][two["template_path"]].decode("utf-8")
        # No epoch milliseconds left anywhere: neither the packagers' stamps nor any other 13-digit number outside
        # the hex hashes (a random bucket name makes the hashes differ per test run, and a hash may hold 13 digits).
        assert not any(str(stamp) in body for stamp in earlier + later), packager
        assert not re.search(r"\d{13}", re.sub(r"[0-9a-f]{16,}", "", body)), packager
        assert str(tmp_path) not in body and "/.serverless" not in body, packager
        template = json.loads(body)
        assert re.fullmatch(r"ApiGatewayDeployment[0-9a-f]{32}", deployment_ids(template)[0])
        assert len(version_ids(template)) == 6  # versionFunctions at its default
        code = next(item for item in two["artifacts"] if item["name"] == "bookshelf.zip")
        with zipfile.ZipFile(io.BytesIO(second[packager]["files"][code["path"]])) as archive:
            modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
            assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            assert [info.filename for info in archive.infolist()] == sorted(modes)
        assert modes["bin/render-cover"] == 0o100755 and modes["src/books.js"] == 0o100644, modes

    # One new REST route (GET /books/{bookId}/reviews on an existing function) in the second checkout.
    config = second_project / SERVICE / "serverless.yml"
    text = config.read_text()
    route = "      - http:\n          path: books/{bookId}\n          method: get\n          cors: true\n          authorizer: authorize\n"
    assert text.count(route) == 1
    config.write_text(text.replace(route, route + route.replace("books/{bookId}", "books/{bookId}/reviews")))
    changed = run_playbook(local_aws, second_work, second_project, bucket, 0o002, clock_shift_days=1)
    for packager in PACKAGERS:
        before, after = second[packager]["service"], changed[packager]["service"]
        assert after["status"] == "packaged" and after["template_sha256"] != before["template_sha256"], packager
        old, new = template_of(second[packager]), template_of(changed[packager])
        assert deployment_ids(new) != deployment_ids(old), packager  # AWS deploys the new route
        assert "ApiGatewayMethodBooksBookidVarReviewsGet" in new["Resources"]
        assert version_ids(new) == version_ids(old), packager  # no function's code or settings changed
        assert [item["s3_key"] for item in after["artifacts"]] == [item["s3_key"] for item in before["artifacts"]]
        assert after["template_key"] in changed[packager]["uploaded"] + changed[packager]["skipped"]
    assert changed["serverless3"]["uploaded"] == [changed["serverless3"]["service"]["template_key"]]  # only the new template
