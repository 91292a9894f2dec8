# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-system benchmark (`make benchmarks`): the collection's deploy against the classic bash + AWS CLI
baseline (benchmarks/baseline/deploy.sh), side by side in one run, on the same generated project and the
same local AWS (a `tools/local-aws` server started for the run, wiped between the two approaches).

Scenarios, per approach: cold deploy, no-change re-run, one-service change, rollout to the tenants; for the
collection also `check`, the no-change re-run with `--check --diff` (its plan; at most 1.5 x the no-change run).
Printed per scenario: wall time, ratio to the ideal bound, ratio to the baseline, AWS calls by operation,
writes, peak memory (largest ru_maxrss of the scenario's processes), and an end-state check that reads both
approaches' results the same way (SSM -> version -> template -> nested templates -> Lambda ZIPs; tenants).

    .venv/bin/python benchmarks/run.py            # 24 services x 4 regions, 1,000 tenants (~15 min on 2 CPUs)
    .venv/bin/python benchmarks/run.py --quick    # 6 services x 2 regions, 40 tenants (smoke run)

The baseline updates tenants with 5+ AWS CLI processes each (~0.8 s of CPU apiece): its rollout is measured on
a sample (--baseline-rollout-sample tenants per region) and extrapolated linearly, which its fixed batches of
8 make exact up to noise; the output says so. --baseline-rollout-sample 0 measures every tenant.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tools"), str(REPO / "benchmarks")]

import botocore.config  # noqa: E402

from local_aws.catalog_access import grant_launch_path  # noqa: E402
from local_aws.pytest_plugin import LocalAwsServer  # noqa: E402
import project as bench_project  # noqa: E402

FAKE_SLS = REPO / "benchmarks" / "fake_sls" / "fake_sls"
BASELINE = REPO / "benchmarks" / "baseline" / "deploy.sh"
ALL_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1", "sa-east-1", "us-east-2"]
SLOTS = 8  # machine-wide packaging cap and tenant updates in flight per region: the same 8 as the baseline
WRITE_PREFIXES = ("Put", "Create", "Update", "Delete", "Copy", "Upload", "Complete", "Provision", "Terminate", "Associate")
# Runs `argv` and prints the largest resident set of it and its descendants, in a fresh process so scenarios
# do not share the maximum.
MEASURE = ("import json,resource,subprocess,sys,time; t=time.monotonic(); r=subprocess.run(sys.argv[2:], stdout=open(sys.argv[1],'w'),"
           " stderr=subprocess.STDOUT).returncode; print(json.dumps({'rc': r, 'wall': time.monotonic()-t,"
           " 'maxrss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}))")


@dataclass
class Measured:
    wall: float
    maxrss_mb: float
    calls: Dict[str, Dict[str, int]]
    log: Path
    server_cpu: float = 0.0  # CPU seconds the local AWS server spent during the scenario
    note: str = ""
    extrapolated_from: Optional[float] = None  # the measured wall time when `wall` is extrapolated

    @property
    def writes(self) -> Dict[str, int]:
        return {f"{service}:{op}": n for service, ops in self.calls.items() for op, n in ops.items() if op.startswith(WRITE_PREFIXES)}

    @property
    def total_calls(self) -> int:
        return sum(n for ops in self.calls.values() for n in ops.values())


@dataclass
class Approach:
    name: str
    project: bench_project.BenchProject
    results: Dict[str, Measured] = field(default_factory=dict)
    checks: Dict[str, str] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace, server: LocalAwsServer, work: Path) -> None:
        self.args, self.server, self.work = args, server, work
        self.regions = ALL_REGIONS[: args.regions]
        self.config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)

    def client(self, service: str, region: str) -> Any:
        return self.server.session(region).client(service, endpoint_url=self.server.endpoint_url, config=self.config)

    def env(self) -> Dict[str, str]:
        return {**os.environ, **self.server.env, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "SLS_TELEMETRY_DISABLED": "1",
                "SLS_NOTIFICATIONS_MODE": "off", "FAKE_SLS_TENANT_PARAMETER": "TenantId", "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}"}

    def server_cpu_seconds(self) -> float:
        """CPU time the local AWS server has used: what the emulator, not the orchestration, costs."""
        fields = Path(f"/proc/{self.server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(self, name: str, argv: List[str], env: Dict[str, str], failure_ok: bool = False) -> Measured:
        """failure_ok: a rollout whose tenants failed exits non-zero; the end-state check reports it instead."""
        log = self.work / f"{name}.log"
        self.server.reset_calls()
        server_cpu = self.server_cpu_seconds()
        done = subprocess.run([sys.executable, "-c", MEASURE, str(log), *argv], env=env, cwd=REPO, capture_output=True, text=True, check=True)
        outcome = json.loads(done.stdout)
        if outcome["rc"] != 0 and not failure_ok:
            raise SystemExit(f"{name} failed (exit {outcome['rc']}); last lines of {log}:\n" + "".join(log.read_text().splitlines(True)[-30:]))
        measured = Measured(outcome["wall"], outcome["maxrss_mb"], self.server.calls(), log, server_cpu=self.server_cpu_seconds() - server_cpu)
        if outcome["rc"] != 0:
            measured.note = f"exit {outcome['rc']} (see the end-state check) "
        print(f"  {name}: {measured.wall:.1f} s, {measured.total_calls} AWS calls, peak {measured.maxrss_mb:.0f} MB, "
              f"local AWS CPU {measured.server_cpu:.1f} s, exit {outcome['rc']}", flush=True)
        return measured

    # ---- preparing the local AWS -----------------------------------------------------------------------
    def fresh_aws(self) -> None:
        """Wipe the local AWS and create the stage's buckets the way playbooks/bootstrap.yml does (not timed)."""
        self.server.reset()
        for region in self.regions:
            s3 = self.client("s3", region)
            bucket = f"mrs-artifacts-{bench_project.STAGE}-{region}"
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=bucket, **extra)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def tenants_per_region(self) -> Dict[str, int]:
        count, regions = self.args.tenants, self.regions
        return {region: count // len(regions) + (1 if index < count % len(regions) else 0) for index, region in enumerate(regions)}

    def seed_tenants(self, product: str) -> None:
        """Provision the tenants on the current version with records completing at once (not timed)."""
        self.server.set_faults(record_duration_s=0)
        started = time.monotonic()

        def seed_region(region: str, count: int) -> None:
            catalog, ssm = self.client("servicecatalog", region), self.client("ssm", region)
            product_id = self.product_id(catalog, product)
            grant_launch_path(catalog, product_id)
            artifact = ssm.get_parameter(Name=self.ssm_name(product))["Parameter"]["Value"]

            def provision(index: int) -> str:
                return catalog.provision_product(
                    ProductId=product_id, ProvisioningArtifactId=artifact, ProvisionedProductName=f"tenant-{region}-{index:04d}",
                    ProvisioningParameters=[{"Key": "TenantId", "Value": f"t{index:04d}"}], ProvisionToken=uuid.uuid4().hex,
                )["RecordDetail"]["RecordId"]

            records = [provision(index) for index in range(count)]
            failed = [r for r in records if catalog.describe_record(Id=r)["RecordDetail"]["Status"] != "SUCCEEDED"]
            if failed:
                raise SystemExit(f"seeding {region}: {len(failed)} tenants failed, e.g. {catalog.describe_record(Id=failed[0])['RecordDetail']}")

        # One at a time: moto's CloudFormation is not thread-safe (IAM is shared by all regions), and the
        # records complete (stacks are built) inside these calls while record_duration_s is 0.
        for region, count in self.tenants_per_region().items():
            seed_region(region, count)
        print(f"  seeded {self.args.tenants} tenants in {time.monotonic() - started:.1f} s (not timed)", flush=True)

    @staticmethod
    def product_id(catalog: Any, name: str) -> str:
        found = catalog.search_products_as_admin(Filters={"FullTextSearch": [name]})["ProductViewDetails"]
        return next(view["ProductViewSummary"]["ProductId"] for view in found if view["ProductViewSummary"]["Name"] == name)

    @staticmethod
    def ssm_name(product: str) -> str:
        return f"{bench_project.SSM_PREFIX}/products/{product}/latest-artifact-id"

    # ---- the end state, read the same way for both approaches -----------------------------------------
    def published_state(self, project: bench_project.BenchProject) -> Dict[str, Any]:
        """Per region and product: the SSM version's template, its nested templates and their ZIPs must exist."""
        problems, versions, objects = [], 0, 0
        for region in self.regions:
            s3, catalog, ssm = self.client("s3", region), self.client("servicecatalog", region), self.client("ssm", region)
            bucket = f"mrs-artifacts-{bench_project.STAGE}-{region}"
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                objects += sum(1 for item in page.get("Contents", []) if not item["Key"].startswith("runs/"))
            for product, services in project.products.items():
                product_id = self.product_id(catalog, product)
                artifacts = catalog.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
                versions += len(artifacts)
                artifact = ssm.get_parameter(Name=self.ssm_name(product))["Parameter"]["Value"]
                url = catalog.describe_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=artifact)["Info"]["TemplateUrl"]
                template = self.fetch(s3, bucket, url)
                nested = [r["Properties"]["TemplateURL"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"]
                if len(nested) != len(services):
                    problems.append(f"{region} {product}: {len(nested)} nested stacks, expected {len(services)}")
                for nested_url in nested:
                    for resource in self.fetch(s3, bucket, nested_url)["Resources"].values():
                        code = resource.get("Properties", {}).get("Code", {}) if resource["Type"] == "AWS::Lambda::Function" else {}
                        if code and code.get("S3Bucket") != bucket:
                            problems.append(f"{region} {product}: a function's code is in {code.get('S3Bucket')}")
                        elif code:
                            s3.head_object(Bucket=bucket, Key=code["S3Key"])  # raises when the ZIP is missing
        return {"problems": problems, "versions": versions, "objects": objects}

    @staticmethod
    def fetch(s3: Any, bucket: str, url: str) -> Dict[str, Any]:
        prefix = f"https://{bucket}.s3."
        if not url.startswith(prefix):
            raise SystemExit(f"template URL outside the region's bucket: {url}")
        key = url.split(".amazonaws.com/", 1)[1]
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def tenant_state(self, product: str) -> Dict[str, int]:
        """How many tenants are AVAILABLE on the version SSM names, per region."""
        on_target = {}
        for region in self.regions:
            catalog, ssm = self.client("servicecatalog", region), self.client("ssm", region)
            target = ssm.get_parameter(Name=self.ssm_name(product))["Parameter"]["Value"]
            rows = catalog.get_paginator("scan_provisioned_products").paginate(AccessLevelFilter={"Key": "Account", "Value": "self"}).build_full_result()
            on_target[region] = sum(1 for row in rows["ProvisionedProducts"] if row["ProvisioningArtifactId"] == target and row["Status"] == "AVAILABLE")
        return on_target

    # ---- ideal bounds ----------------------------------------------------------------------------------
    def upload_seconds(self, project: bench_project.BenchProject) -> float:
        """Measured: upload objects of the sizes the cold deploy published, 8 at a time per region, regions side by side."""
        sizes: Dict[str, List[int]] = {}
        for region in self.regions:
            s3 = self.client("s3", region)
            bucket = f"mrs-artifacts-{bench_project.STAGE}-{region}"
            sizes[region] = [item["Size"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="serverless/")
                             for item in page.get("Contents", [])]
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"upload-probe-{region}", **extra)

        def upload_region(region: str) -> None:
            s3 = self.client("s3", region)
            with concurrent.futures.ThreadPoolExecutor(SLOTS) as pool:
                list(pool.map(lambda item: s3.put_object(Bucket=f"upload-probe-{region}", Key=f"o{item[0]}", Body=os.urandom(item[1])),
                              enumerate(sizes[region])))

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(self.regions)) as pool:
            list(pool.map(upload_region, self.regions))
        return time.monotonic() - started

    def packaging_bound(self, project: bench_project.BenchProject, services: List[str]) -> float:
        """The packagings alone: total stand-in time over the 8 slots, or the authorizer-first critical path."""
        total = sum(project.durations[s] for s in services) * len(self.regions)
        authorizer = project.durations.get(bench_project.AUTHORIZER, 0.0) if bench_project.AUTHORIZER in services else 0.0
        longest_other = max((project.durations[s] for s in services if s != bench_project.AUTHORIZER), default=0.0)
        return max(total / SLOTS, authorizer + longest_other)


def ours_deploy(bench: Bench, project: bench_project.BenchProject, rollout: bool = False) -> List[str]:
    extra: Dict[str, Any] = {
        "catalog_create_missing_products": True,
        "package_sls_binary": str(FAKE_SLS),
        "package_init_stacks": False,
        "package_environment": {"FAKE_SLS_TENANT_PARAMETER": "TenantId"},
    }
    argv = [str(REPO / ".venv/bin/ansible-playbook"), str(REPO / "playbooks/deploy.yml"), "-e", f"stage={bench_project.STAGE}",
            "-e", f"regions={','.join(bench.regions)}", "-e", f"project_dir={project.root}"]
    if rollout:
        extra.update(rollout_max_concurrent=SLOTS, rollout_poll_delay=round(bench.args.record_duration / 5, 3),
                     rollout_poll_max_delay=max(bench.args.record_duration, 1))
        argv += ["--tags", "rollout"]
    return argv + ["-e", json.dumps(extra)]


def baseline_deploy(bench: Bench, rollout: bool = False) -> List[str]:
    return ["bash", str(BASELINE), "--stage", bench_project.STAGE, "--regions", ",".join(bench.regions)] + (["--rollout-only"] if rollout else [])


def change_one_service(project: bench_project.BenchProject) -> None:
    folder = project.root / "services" / project.changed_service
    source = next(path for path in sorted(folder.rglob("*")) if path.suffix in (".py", ".js"))
    with source.open("a", encoding="utf-8") as handle:
        handle.write(f"\n# benchmark change {uuid.uuid4().hex}\n")


def run_approach(bench: Bench, approach: Approach) -> None:
    project, baseline = approach.project, approach.name == "baseline"
    print(f"\n== {approach.name}", flush=True)
    bench.fresh_aws()
    env = bench.env()
    if baseline:
        env.update(PROJECT_DIR=str(project.root), SLS=str(FAKE_SLS), BASELINE_WORK=str(bench.work / "baseline-work"),
                   BASELINE_POLL_SECONDS=str(round(bench.args.record_duration / 2, 3)))
    deploy = baseline_deploy(bench) if baseline else ours_deploy(bench, project)
    approach.results["cold"] = bench.measure(f"{approach.name}-cold", deploy, env)
    cold_state = bench.published_state(project)
    if not baseline:
        bench.upload_probe = bench.upload_seconds(project)  # type: ignore[attr-defined]
    approach.results["no-change"] = bench.measure(f"{approach.name}-no-change", deploy, env)
    if not baseline:
        # The plan of the same no-change run (issue 18: at most 1.5 x the run it predicts); it writes nothing.
        approach.results["check"] = bench.measure(f"{approach.name}-no-change-check", deploy + ["--check", "--diff"], env)
    state = bench.published_state(project)
    approach.checks["no-change"] = (f"new objects {state['objects'] - cold_state['objects']}, new versions {state['versions'] - cold_state['versions']}")
    bench.seed_tenants(bench_project.TENANT_PRODUCT)
    change_one_service(project)
    approach.results["one-service"] = bench.measure(f"{approach.name}-one-service", deploy, env)
    state = bench.published_state(project)
    approach.checks["published"] = "ok" if not state["problems"] else "; ".join(state["problems"])

    bench.server.set_faults(record_duration_s=bench.args.record_duration)
    per_region = bench.tenants_per_region()
    sample = bench.args.baseline_rollout_sample if baseline else 0
    if sample:
        env["BASELINE_TENANT_LIMIT"] = str(sample)
    rollout = baseline_deploy(bench, rollout=True) if baseline else ours_deploy(bench, project, rollout=True)
    measured = bench.measure(f"{approach.name}-rollout", rollout, env, failure_ok=True)
    if sample and sample < max(per_region.values()):
        # Batches of 8 one after the other: the time is linear in the tenant count per region.
        batches_measured = sum(-(-min(sample, n) // SLOTS) for n in per_region.values())
        batches_all = sum(-(-n // SLOTS) for n in per_region.values())
        measured.extrapolated_from = measured.wall
        measured.wall = measured.wall * batches_all / batches_measured
        measured.note += (
            f"measured on {min(sample, max(per_region.values()))} tenants per region ({measured.extrapolated_from:.1f} s), "
            f"extrapolated x{batches_all / batches_measured:.1f}"
        )
    approach.results["rollout"] = measured
    on_target = bench.tenant_state(bench_project.TENANT_PRODUCT)
    expected = {region: min(n, sample) if sample else n for region, n in per_region.items()}
    approach.checks["tenants"] = ("ok" if on_target == expected else "MISMATCH") + f": on the new version {on_target}, expected {expected}"
    bench.server.set_faults(record_duration_s=0)


def report(bench: Bench, approaches: Dict[str, Approach]) -> None:
    ours, base = approaches["collection"], approaches.get("baseline")
    project = ours.project
    upload = getattr(bench, "upload_probe", 0.0)
    every = project.services
    per_region = bench.tenants_per_region()
    ideal = {
        "cold": bench.packaging_bound(project, every) + upload,
        "one-service": bench.packaging_bound(project, [project.changed_service]) + upload * 2 / max(1, len(every) * 2),
        "rollout": max(per_region.values()) * bench.args.record_duration / SLOTS,
    }
    print("\n" + "=" * 100)
    print(f"{len(every)} services x {len(bench.regions)} regions ({', '.join(bench.regions)}), stand-in packaging "
          f"{min(project.durations.values()):.2f}-{max(project.durations.values()):.2f} s "
          f"(total {sum(project.durations.values()) * len(bench.regions):.1f} s), "
          f"{bench.args.tenants} tenants, record duration {bench.args.record_duration} s")
    print(f"ideal bounds: cold = packaging {bench.packaging_bound(project, every):.1f} s + measured upload {upload:.1f} s; "
          f"rollout = {max(per_region.values())} tenants x {bench.args.record_duration} s / {SLOTS}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    header = f"{'scenario':<12} {'approach':<10} {'wall s':>8} {'/ideal':>7} {'/base':>7} {'calls':>6} {'writes':>6} {'peak MB':>8} {'AWS CPU s':>9}"
    print(header + "\n" + "-" * len(header))
    for scenario in ("cold", "no-change", "check", "one-service", "rollout"):
        for approach in [ours] + ([base] if base else []):
            if scenario not in approach.results:
                continue  # the baseline has no check mode
            result = approach.results[scenario]
            to_ideal = f"{result.wall / ideal[scenario]:.2f}" if scenario in ideal else "-"
            to_base = f"{base.results[scenario].wall / result.wall:.2f}x" if base and approach is ours and scenario in base.results else ""
            print(f"{scenario:<12} {approach.name:<10} {result.wall:8.1f} {to_ideal:>7} {to_base:>7} {result.total_calls:6d} "
                  f"{sum(result.writes.values()):6d} {result.maxrss_mb:8.0f} {result.server_cpu:9.1f}  {result.note}")
    print("\n/base = baseline wall time / collection wall time (how many times faster the collection is); "
          "AWS CPU s = CPU the local AWS server used (2 CPUs in all)")
    cold, again = ours.results["cold"].wall, ours.results["no-change"].wall
    checks = [
        ("cold <= 1.25 x ideal", ours.results["cold"].wall / ideal["cold"] <= 1.25, f"{ours.results['cold'].wall / ideal['cold']:.2f}"),
        ("cold >= 1.5 x faster than the baseline", bool(base) and base.results["cold"].wall / cold >= 1.5,
         f"{base.results['cold'].wall / cold:.2f}x" if base else "no baseline"),
        ("no-change <= 10 % of cold", again <= 0.10 * cold, f"{100 * again / cold:.0f} %"),
        ("no-change writes no artifact/version", ours.checks["no-change"].startswith("new objects 0, new versions 0"), ours.checks["no-change"]),
        ("no-change --check --diff <= 1.5 x the no-change run", ours.results["check"].wall <= 1.5 * again,
         f"{ours.results['check'].wall / again:.2f} x, {sum(ours.results['check'].writes.values())} writes"),
        ("rollout <= 1.2 x ideal", ours.results["rollout"].wall / ideal["rollout"] <= 1.2, f"{ours.results['rollout'].wall / ideal['rollout']:.2f}"),
    ]
    print("\ntargets:")
    for name, met, value in checks:
        print(f"  {'MET   ' if met else 'MISSED'} {name}: {value}")
    print("\nend state (read the same way for both):")
    for approach in [ours] + ([base] if base else []):
        checks = approach.checks
        print(f"  {approach.name}: published {checks['published']}; no-change run: {checks['no-change']}; tenants {checks['tenants']}")
    print("\nAWS calls by operation:")
    for approach in [ours] + ([base] if base else []):
        for scenario, result in approach.results.items():
            ops = ", ".join(f"{s}:{op}={n}" for s, o in sorted(result.calls.items()) for op, n in sorted(o.items()))
            print(f"  {approach.name} {scenario}: {ops}")
    print(f"\nlogs: {bench.work}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 services x 2 regions, 40 tenants, short packagings")
    parser.add_argument("--services", type=int)
    parser.add_argument("--regions", type=int)
    parser.add_argument("--tenants", type=int)
    parser.add_argument("--min-seconds", type=float, help="shortest stand-in packaging")
    parser.add_argument("--max-seconds", type=float, help="longest stand-in packaging")
    parser.add_argument("--record-duration", type=float, default=0.5, help="seconds a tenant update record stays IN_PROGRESS")
    parser.add_argument("--baseline-rollout-sample", type=int, help="tenants per region the baseline really updates (0: all)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, projects)")
    args = parser.parse_args()
    defaults = dict(services=6, regions=2, tenants=40, min_seconds=0.2, max_seconds=0.8, baseline_rollout_sample=8) if args.quick else \
        dict(services=24, regions=4, tenants=1000, min_seconds=0.5, max_seconds=3.0, baseline_rollout_sample=16)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    work = Path(tempfile.mkdtemp(prefix="mrs-bench-"))
    server = LocalAwsServer()
    finished = False
    try:
        bench = Bench(args, server, work)
        approaches: Dict[str, Approach] = {}
        names = ["collection"] + ([] if args.skip_baseline else ["baseline"])
        for name in names:
            project = bench_project.generate(work / name / "project", args.services, bench.regions, args.min_seconds, args.max_seconds)
            approaches[name] = Approach(name, project)
            run_approach(bench, approaches[name])
        report(bench, approaches)
        finished = True
    finally:
        server.stop()
        if finished and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
