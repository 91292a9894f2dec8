"""Rollout benchmark: 1,000 tenants over 4 regions through the real role/module (ansible-playbook, one host per
region, regions side by side as in the deploy playbook) against a local AWS server started for the run.

Prints, measured:
* wall time of the rollout play as a ratio to the ideal. Regions run in parallel, so the ideal is the slowest
  region's tenants x record duration / max_concurrent (target <= 1.2); the ratio to the literal
  all-tenants x duration / max_concurrent is printed too;
* Service Catalog + SSM calls per tenant, total and without the DescribeRecord polls (target <= 4 calls + polls);
* peak memory of the module process (its own ru_maxrss) and of any process of the run (target <= 300 MB).

    .venv/bin/python benchmarks/rollout.py [--tenants 1000] [--regions 4] [--record-duration 2] [--max-concurrent 8]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "tools"), str(REPO_ROOT / "tests" / "integration")]

from local_aws.pytest_plugin import LocalAwsServer  # noqa: E402
from rollout_seed import Seeder  # noqa: E402

ALL_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1", "sa-east-1", "us-east-2"]
PREFIX = "/multiregion/bench"

PLAYBOOK = """\
- name: Roll out
  hosts: regions
  gather_facts: false
  module_defaults:
    group/multiregion.serverless.aws:
      region: "{{ aws_region }}"
  tasks:
    - name: Roll the products out
      ansible.builtin.import_role:
        name: multiregion.serverless.rollout
    - name: Save the results
      ansible.builtin.copy:
        content: "{{ rollout_update | to_json }}"
        dest: "{{ results_dir }}/{{ aws_region }}.json"
        mode: "0644"
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--record-duration", type=float, default=2.0)
    parser.add_argument("--max-concurrent", type=int, default=8)
    args = parser.parse_args()
    regions = ALL_REGIONS[: args.regions]
    per_region = {region: args.tenants // len(regions) + (1 if i < args.tenants % len(regions) else 0) for i, region in enumerate(regions)}

    server = LocalAwsServer()
    try:
        seeder = Seeder(server.session(), server.endpoint_url)
        seeded = {}
        seed_started = time.monotonic()
        for region in regions:
            seeded[region] = seeder.product(region, "platform-core", PREFIX)
            seeder.tenants(seeded[region], [f"t-{region}-{i:04d}" for i in range(per_region[region])])
        print(f"seeded {args.tenants} tenants over {len(regions)} regions in {time.monotonic() - seed_started:.1f}s", flush=True)

        work = Path(tempfile.mkdtemp(prefix="rollout-bench-"))
        (work / "playbook.yml").write_text(PLAYBOOK)
        (work / "inventory.yml").write_text(
            "regions:\n  hosts:\n" + "".join(f"    {r}:\n      aws_region: {r}\n" for r in regions)
            + f"  vars:\n    ansible_connection: local\n    ansible_python_interpreter: {sys.executable}\n"
        )
        extra = {
            "results_dir": str(work),
            "rollout_products": ["platform-core"],
            "rollout_ssm_prefix": PREFIX,
            "rollout_max_concurrent": args.max_concurrent,
            "rollout_poll_delay": min(0.25, args.record_duration / 4),
            "rollout_poll_max_delay": max(args.record_duration, 1),
        }
        server.set_faults(record_duration_s=args.record_duration)
        server.reset_calls()
        env = {**os.environ, **server.env, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_FORKS": str(len(regions))}
        command = [str(REPO_ROOT / ".venv/bin/ansible-playbook"), "-i", str(work / "inventory.yml"), str(work / "playbook.yml"), "-e", json.dumps(extra)]
        started = time.monotonic()
        done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
        if done.returncode != 0:
            print(done.stdout[-4000:], done.stderr[-4000:])
            return 1
        calls = server.calls()
    finally:
        server.stop()

    results = {path.stem: json.loads(path.read_text()) for path in work.glob("*.json")}
    updated = sum(r["summary"]["updated"] for r in results.values())
    module_seconds = max(r["stats"]["seconds"] for r in results.values())
    module_rss = max(r["stats"]["peak_rss_mb"] for r in results.values())
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    sc_ssm = {f"{service}:{op}": n for service in ("servicecatalog", "ssm") for op, n in calls.get(service, {}).items()}
    total_calls = sum(sc_ssm.values())
    polls = sc_ssm.get("servicecatalog:DescribeRecord", 0)
    ideal_parallel = max(per_region.values()) * args.record_duration / args.max_concurrent
    ideal_literal = args.tenants * args.record_duration / args.max_concurrent

    print(f"tenants updated: {updated} of {args.tenants} "
          f"({len(regions)} regions, record duration {args.record_duration}s, max_concurrent {args.max_concurrent})")
    print(f"wall time (ansible-playbook): {wall:.1f}s; slowest region's module: {module_seconds:.1f}s")
    print(f"ratio to ideal, regions in parallel ({ideal_parallel:.1f}s): playbook {wall / ideal_parallel:.3f}, "
          f"module {module_seconds / ideal_parallel:.3f}  (target <= 1.2)")
    print(f"ratio to all-tenants ideal ({ideal_literal:.1f}s): {wall / ideal_literal:.3f}")
    print(f"API calls per tenant: {total_calls / args.tenants:.2f} (of which DescribeRecord polls {polls / args.tenants:.2f}, "
          f"others {(total_calls - polls) / args.tenants:.2f})  (target <= 4 + polls)")
    print("calls: " + ", ".join(f"{k}={v}" for k, v in sorted(sc_ssm.items())))
    print(f"peak memory: module {module_rss:.0f} MB, largest process of the run incl. the local AWS server {children_rss:.0f} MB  "
          "(target <= 300 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
