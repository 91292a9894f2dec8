"""The rollout role through ansible-playbook against the local AWS server: 300 tenants over 3 regions, records
that take time, injected failures, a re-run, idempotence, check mode (by the call counts) and a rollback."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest

from rollout_seed import Seeder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
TENANTS_PER_REGION = 100
PREFIX = "/multiregion/rollouttest"
FAILING = ["tenant-us-east-1-007", "tenant-eu-west-1-042", "tenant-eu-west-1-043", "tenant-ap-southeast-2-099"]

PLAYBOOK = textwrap.dedent(
    """\
    - name: Roll out
      hosts: regions
      gather_facts: false
      module_defaults:
        group/multiregion.serverless.aws:
          region: "{{ aws_region }}"
      tasks:
        - name: Roll out, keep the results even when the role fails the host
          block:
            - name: Roll the products out
              ansible.builtin.import_role:
                name: multiregion.serverless.rollout
          always:
            - name: Save what the role returned
              ansible.builtin.copy:
                content: "{{ rollout_results | to_json }}"
                dest: "{{ results_dir }}/{{ aws_region }}.json"
                mode: "0644"
              check_mode: false
    """
)


@pytest.fixture(scope="module")
def rollout_env(local_aws, tmp_path_factory) -> Dict[str, Any]:
    # An account of its own on the shared server, so nothing here meets another test's state.
    account_id = str(random.randint(10**11, 10**12 - 1))
    session = local_aws.session_for_account(account_id)
    credentials = session.get_credentials()
    seeder = Seeder(session, local_aws.endpoint_url)
    local_aws.clear_faults()
    seeded = {}
    for region in REGIONS:
        seeded[region] = seeder.product(region, "platform-core", PREFIX)
        seeder.tenants(seeded[region], [f"tenant-{region}-{i:03d}" for i in range(TENANTS_PER_REGION)])
    work = tmp_path_factory.mktemp("rollout")
    (work / "playbook.yml").write_text(PLAYBOOK)
    (work / "inventory.yml").write_text(
        "regions:\n  hosts:\n" + "".join(f"    {r}:\n      aws_region: {r}\n" for r in REGIONS)
        + "  vars:\n    ansible_connection: local\n    ansible_python_interpreter: " + sys.executable + "\n"
    )
    env = {
        **os.environ,
        **local_aws.env,
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token,
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
    }
    return {"seeder": seeder, "seeded": seeded, "work": work, "env": env, "server": local_aws}


def play(env: Dict[str, Any], *extra: str, check: bool = False, **variables: Any) -> Dict[str, Any]:
    results_dir = env["work"] / f"results-{random.randint(0, 10**9)}"
    results_dir.mkdir()
    extra_vars = {
        "results_dir": str(results_dir),
        "rollout_products": ["platform-core"],
        "rollout_ssm_prefix": PREFIX,
        "rollout_poll_delay": 0.1,
        "rollout_poll_max_delay": 1,
        "rollout_record_timeout": 120,
        "rollout_progress_dir": str(env["work"]),
        **variables,
    }
    command = [str(REPO_ROOT / ".venv/bin/ansible-playbook"), "-i", str(env["work"] / "inventory.yml"), str(env["work"] / "playbook.yml"),
               "-e", json.dumps(extra_vars), *extra] + (["--check"] if check else [])
    done = subprocess.run(command, env=env["env"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    results = {p.stem: json.loads(p.read_text()) for p in results_dir.glob("*.json")}
    return {"rc": done.returncode, "stdout": done.stdout + done.stderr, "results": results}


def update_calls(env: Dict[str, Any]) -> int:
    return env["server"].calls().get("servicecatalog", {}).get("UpdateProvisionedProduct", 0)


def writes(calls: Dict[str, Dict[str, int]]) -> List[str]:
    read_prefixes = ("Describe", "Get", "List", "Search", "Scan", "Head")
    return [f"{service}:{op}" for service, ops in calls.items() for op in ops if not op.startswith(read_prefixes) and service != "sts"]


def test_rollout_of_300_tenants_over_3_regions(rollout_env) -> None:
    env, server, seeder, seeded = rollout_env, rollout_env["server"], rollout_env["seeder"], rollout_env["seeded"]

    # Check mode: a plan, and not one write (counted by the server).
    server.reset_calls()
    planned = play(env, check=True)
    assert planned["rc"] == 0, planned["stdout"][-3000:]
    assert writes(server.calls()) == []
    assert {r: planned["results"][r]["summary"]["would_update"] for r in REGIONS} == {r: TENANTS_PER_REGION for r in REGIONS}

    # Apply with records that take time and four injected failures: the others all finish, the play fails.
    server.set_faults(record_duration_s=0.3, fail_provisioned_products=FAILING)
    server.reset_calls()
    applied = play(env, rollout_failure_tolerance="5", rollout_mode="stop")
    assert applied["rc"] != 0
    for region in REGIONS:
        result = applied["results"][region]
        failed = sorted(t["name"] for t in result["tenants"] if t["status"] == "failed")
        assert failed == sorted(name for name in FAILING if region in name)
        assert all("Injected failure" in t["error"] for t in result["tenants"] if t["status"] == "failed")
        assert result["summary"]["updated"] == TENANTS_PER_REGION - len(failed)
        assert result["failed"] is True if failed else result["failed"] is False
        states = seeder.tenant_states(seeded[region])
        for name, parameters in seeded[region].tenants.items():
            assert states[name]["stack_parameters"] == parameters  # parameters preserved exactly
            expected = seeded[region].versions["V1" if name in FAILING else "V2"]
            assert states[name]["artifact"] == expected
    assert update_calls(env) == len(REGIONS) * TENANTS_PER_REGION
    assert "4 of" not in applied["stdout"]  # one message per region, not a global count
    assert "tenant-eu-west-1-042" in applied["stdout"]

    # The fault cleared, a re-run updates exactly the failed tenants.
    server.clear_faults()
    server.set_faults(record_duration_s=0.3)
    server.reset_calls()
    rerun = play(env)
    assert rerun["rc"] == 0, rerun["stdout"][-3000:]
    assert update_calls(env) == len(FAILING)
    assert sum(rerun["results"][r]["summary"]["updated"] for r in REGIONS) == len(FAILING)

    # Idempotent: nothing left to do, nothing written.
    server.reset_calls()
    again = play(env)
    assert again["rc"] == 0 and update_calls(env) == 0
    assert {rerun_region["summary"]["already_current"] for rerun_region in again["results"].values()} == {TENANTS_PER_REGION}

    # Rollback of one region to the previous version; the others stay.
    rollback = play(env, "--limit", "eu-west-1", rollout_target_version="V1")
    assert rollback["rc"] == 0, rollback["stdout"][-3000:]
    states = seeder.tenant_states(seeded["eu-west-1"])
    assert {s["artifact"] for s in states.values()} == {seeded["eu-west-1"].versions["V1"]}
    assert all(states[n]["stack_parameters"] == p for n, p in seeded["eu-west-1"].tenants.items())
    assert {s["artifact"] for s in seeder.tenant_states(seeded["us-east-1"]).values()} == {seeded["us-east-1"].versions["V2"]}
    assert (env["work"] / "rollout-eu-west-1.log").read_text().count("updated") >= TENANTS_PER_REGION
    server.clear_faults()
