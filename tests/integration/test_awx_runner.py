"""AWX's way of running a job (issue 19): ``ansible-runner`` on a private data dir, as AWX runs it.

The project is a plain ``git clone`` of this repository (no ``make setup``, no ``.collections``); the collection
comes from the tarball ``scripts/release.sh`` builds, installed into an empty collections path (what the
execution environment does); the inventory is shaped like the AWX one (group ``regions``, one local host per
region, the project as an inventory variable); the extra vars are what the surveys send: strings. The packager
is found through ``MULTIREGION_SERVERLESS_NODE_MODULES``, the variable the image sets, naming a node_modules laid
out as the image's, whose ``serverless`` is the stand-in packager (fast, and tenant-safe names).

Jobs: deploy (creates the product in both regions), deploy after a handler change (one new version per region),
and the rollout job (``--tags rollout``) moving every tenant to it. Each job's ``set_stats`` numbers are read from
the runner's artifacts, and the local AWS is read with boto3.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from chaos_helpers import FAKE_SLS, ChaosProject, change_service, make_project, tenant_names
from deploy_helpers import REPO_ROOT, VENV_BIN, PlaybookRunner, latest_artifact_ids, provision_tenants, tenants

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STAGE = "awx"
REGIONS = ["us-east-1", "eu-west-1"]
TENANTS_PER_REGION = 3


class Awx:
    """A private data dir per job, sharing one project clone, one collections path and one inventory."""

    def __init__(self, root: Path, aws: Any, project: ChaosProject) -> None:
        self.root = root
        self.aws = aws
        self.project = project
        self.clone = root / "project"
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(self.clone)], check=True)
        assert not (self.clone / ".collections").exists() and not (self.clone / "node_modules").exists()
        self.env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.env.pop("ANSIBLE_CONFIG", None)  # AWX runs in the project, with the project's ansible.cfg
        tarball = subprocess.run(["bash", "scripts/release.sh"], cwd=self.clone, env=self.env, capture_output=True, text=True, check=True)
        self.collections = root / "collections"
        subprocess.run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(self.collections), str(self.clone / tarball.stdout.strip())],
                       cwd=root, env=self.env, capture_output=True, text=True, check=True)
        # The image's /opt/multiregion-serverless-node/node_modules, with the stand-in as its serverless.
        self.node_modules = root / "image" / "node_modules"
        (self.node_modules / "serverless" / "bin").mkdir(parents=True)
        entry = self.node_modules / "serverless" / "bin" / "serverless.js"
        entry.write_text(f'#!/bin/sh\nexec "{FAKE_SLS}" "$@"\n')
        entry.chmod(0o755)
        self.jobs = 0

    def inventory(self) -> Dict[str, Any]:
        return {"regions": {
            "hosts": {region: {} for region in REGIONS},
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "aws_region": "{{ inventory_hostname }}",
                "project_dir": str(self.project.root),
                "package_init_stacks": False,
                "package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"},
                "rollout_poll_delay": 0.2,
                "rollout_poll_max_delay": 1,
            },
        }}

    def job(self, extravars: Dict[str, str], cmdline: Optional[str] = None) -> Dict[str, Any]:
        """One job: ``ansible-runner run`` on a new private data dir; its status, rc, stats and stdout."""
        self.jobs += 1
        data = self.root / f"job-{self.jobs}"
        (data / "inventory").mkdir(parents=True)
        (data / "env").mkdir()
        os.symlink(self.clone, data / "project")
        (data / "inventory" / "hosts.yml").write_text(yaml.safe_dump(self.inventory()))
        assert all(isinstance(value, str) for value in extravars.values())  # what a survey sends
        (data / "env" / "extravars").write_text(json.dumps(extravars))
        (data / "env" / "envvars").write_text(yaml.safe_dump({
            **self.aws.env,
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "MULTIREGION_SERVERLESS_NODE_MODULES": str(self.node_modules),
            "SLS_TELEMETRY_DISABLED": "1",
            "USER": "awx",
        }))
        if cmdline:
            (data / "env" / "cmdline").write_text(cmdline)
        ident = f"job-{self.jobs}"
        done = subprocess.run([str(VENV_BIN / "ansible-runner"), "run", str(data), "-p", "playbooks/deploy.yml", "--ident", ident],
                              env=self.env, capture_output=True, text=True, timeout=900, check=False)
        artifacts = data / "artifacts" / ident
        events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
        stats = [event["event_data"].get("artifact_data", {}) for event in events if event.get("event") == "playbook_on_stats"]
        return {
            "rc": int((artifacts / "rc").read_text()),
            "status": (artifacts / "status").read_text().strip(),
            "stats": stats[0] if stats else {},
            "stdout": (artifacts / "stdout").read_text(),
            "runner": done.stdout[-3000:] + done.stderr[-3000:],
            "used": [event["event_data"].get("resolved_action") for event in events if event.get("event") == "runner_on_ok"],
        }


@pytest.fixture(scope="module")
def awx(local_aws, tmp_path_factory) -> Awx:
    root = tmp_path_factory.mktemp("awx")
    project = make_project(root / "monorepo", STAGE, REGIONS)
    done = PlaybookRunner(local_aws.env).bootstrap(project.root, STAGE, REGIONS)  # the stage's buckets, once, by an admin
    assert done.returncode == 0, done.explain()
    return Awx(root, local_aws, project)


DEPLOY_SURVEY = {"stage": STAGE, "regions": "", "update_product": "false", "resume": ""}
ROLLOUT_SURVEY = {"stage": STAGE, "regions": ""}
# The job template's own extra vars (not asked): AWX sends them as they are written; here as strings too.
JOB_TEMPLATE_VARS = {"create_missing_products": "true"}


def test_the_deploy_job_creates_the_product_in_every_region(awx: Awx) -> None:
    job = awx.job({**DEPLOY_SURVEY, **JOB_TEMPLATE_VARS})
    assert job["rc"] == 0 and job["status"] == "successful", job["stdout"][-4000:] + job["runner"]
    assert job["stats"]["deploy_status"] == "succeeded" and job["stats"]["deploy_versions_created"] == len(REGIONS), job["stats"]
    assert job["stats"]["deploy_tenants_updated"] == 0  # update_product "false" is false
    # The modules came from the installed tarball (the clone has no .collections to find them in).
    assert "multiregion.serverless.deploy_lock" in job["used"]
    versions = {region: latest_artifact_ids(awx.aws, region, awx.project.ssm_prefix, [awx.project.catalog_name]) for region in REGIONS}
    assert all(versions[region][awx.project.catalog_name][1] == 1 for region in REGIONS), versions


def test_a_handler_change_then_the_rollout_job_moves_every_tenant(awx: Awx) -> None:
    names: Dict[str, List[str]] = {}
    for region in REGIONS:
        names[region] = tenant_names(awx.project, region, TENANTS_PER_REGION)
        statuses = provision_tenants(awx.aws, region, awx.project.ssm_prefix, awx.project.catalog_name, names[region])
        assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    change_service(awx.project, "orders", "awx-job")
    deploy = awx.job({**DEPLOY_SURVEY, **JOB_TEMPLATE_VARS})
    assert deploy["rc"] == 0, deploy["stdout"][-4000:]
    assert deploy["stats"]["deploy_versions_created"] == len(REGIONS) and deploy["stats"]["deploy_tenants_updated"] == 0

    rollout = awx.job(ROLLOUT_SURVEY, cmdline="--tags rollout")
    assert rollout["rc"] == 0 and rollout["status"] == "successful", rollout["stdout"][-4000:] + rollout["runner"]
    assert rollout["stats"]["deploy_tenants_updated"] == TENANTS_PER_REGION * len(REGIONS), rollout["stats"]
    assert rollout["stats"]["deploy_versions_created"] == 0 and rollout["stats"]["deploy_packaged"] == 0  # the rollout alone
    for region in REGIONS:
        latest = latest_artifact_ids(awx.aws, region, awx.project.ssm_prefix, [awx.project.catalog_name])[awx.project.catalog_name]
        on = {name: detail["artifact"] for name, detail in tenants(awx.aws, region).items() if name in names[region]}
        assert on == {name: latest[0] for name in names[region]}, (region, on, latest)
