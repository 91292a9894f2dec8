# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package-phase throughput: N services x R regions with a packager stand-in of known duration.

Each region runs in its own process (as each region host does under `forks: 8`), packaging with the
module's code (thread pool + machine-wide slots) and then publishing into moto (in-process, per region).
Prints wall time against the ideal bound: total packaging time / slots + the measured upload time.

    .venv/bin/python benchmarks/package.py [--services 24] [--regions 3] [--seconds 2] [--slots 8]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".collections"))
FAKE_SLS = str(REPO / "benchmarks" / "fake_sls" / "fake_sls")

SERVICE = """service: {name}
provider:
  name: aws
functions:
  main:
    handler: handler.main
"""


def make_project(root: Path, services: int) -> list:
    names = [f"svc{index:03d}" for index in range(services)]
    for name in names:
        folder = root / "services" / name
        folder.mkdir(parents=True)
        (folder / "serverless.yml").write_text(SERVICE.format(name=name))
        (folder / "handler.py").write_text(f"def main(event, context):\n    return {name!r}\n" + "# padding\n" * 2000)
    return names


def region_host(region: str, project: str, names: list, build: str, slots: int, seconds: float, queue) -> None:
    from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import runner as pk
    from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.serverless import ServerlessPackager
    from ansible_collections.multiregion.serverless.plugins.module_utils import s3_sync
    from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import S3Api
    from ansible_collections.multiregion.serverless.plugins.module_utils.concurrency import SlotPool
    from moto import mock_aws
    import boto3

    env = dict(os.environ, FAKE_SLS_SECONDS=str(seconds))
    ctx = pk.PackagingContext(stage="dev", region=region, project_dir=project, build_root=build,
                              slots=SlotPool(os.path.join(build, "slots"), slots), locks_dir=os.path.join(build, "slots"), env=env)
    started = time.monotonic()
    outcome = pk.package_services({name: os.path.join(project, "services", name) for name in names}, ServerlessPackager(FAKE_SLS), ctx, 8)
    packaged = time.monotonic()
    assert not outcome["failures"], outcome["failures"]
    with mock_aws():
        client = boto3.client("s3", region_name=region)
        bucket = f"mrs-artifacts-dev-{region}"
        client.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        upload_started = time.monotonic()
        synced = s3_sync.sync_objects(S3Api(client, region), bucket, "123456789012",
                                      s3_sync.dedupe_objects(s3_sync.objects_from_packages(outcome["results"])))
        uploaded = time.monotonic()
    queue.put({"region": region, "package_s": packaged - started, "upload_s": uploaded - upload_started,
               "uploads": len(synced["uploaded"]), "started": started, "finished": uploaded})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=24)
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of one stand-in packaging (real sls package: 3-5 s)")
    parser.add_argument("--slots", type=int, default=8, help="machine-wide packaging cap")
    args = parser.parse_args()
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1", "sa-east-1", "us-east-2"][: args.regions]
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        names = make_project(project, args.services)
        queue = multiprocessing.Queue()
        processes = [multiprocessing.Process(target=region_host, args=(region, str(project), names, str(Path(tmp) / "build"), args.slots, args.seconds, queue))
                     for region in regions]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        if any(process.exitcode != 0 for process in processes):
            raise SystemExit("a region process failed (see its traceback above)")
        reports = [queue.get() for _process in processes]
    # From the first packaging's start to the last upload's end (CLOCK_MONOTONIC is machine-wide), so
    # interpreter and moto start-up do not count.
    wall = max(report["finished"] for report in reports) - min(report["started"] for report in reports)
    total_packaging = args.services * len(regions) * args.seconds
    upload = max(report["upload_s"] for report in reports)
    ideal = total_packaging / args.slots + upload
    print(f"{args.services} services x {len(regions)} regions, stand-in {args.seconds:.2f} s per packaging, {args.slots} slots")
    for report in sorted(reports, key=lambda item: item["region"]):
        print(f"  {report['region']:<16} packaging {report['package_s']:6.2f} s  upload {report['upload_s']:5.2f} s ({report['uploads']} objects)")
    print(f"ideal bound: {total_packaging:.1f} s / {args.slots} + {upload:.2f} s upload = {ideal:.2f} s")
    print(f"wall time:   {wall:.2f} s")
    print(f"ratio:       {wall / ideal:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
