# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package every example service with a real packager and report what docs/examples.md relies on.

For each service and each of two regions it runs `sls package --stage <stage> --region <r>` twice, in a
copy of examples/ (so nothing here races with other runs in the checkout), with every AWS_* variable
removed and HOME pointing at an empty folder (no credentials, no config files). It then reports:

* whether packaging worked offline without credentials,
* whether the ZIPs of the two runs are byte-identical,
* which template paths differ between the two runs (expected: only the package timestamp),
* which template paths differ between the two regions (expected: region-specific values),
* with --capture DIR, copies one run's template, state and ZIPs to DIR/<packager>/<service>-<region>/.

Also packages the init stacks once per region through serverless-compose (the recipe of docs/examples.md).

Usage (from the repo root):
  .venv/bin/python examples/tools/check_packaging.py --packager serverless3 --packager osls
  .venv/bin/python examples/tools/check_packaging.py --packager osls --service payments \
      --capture tests/unit/fixtures/sls_output
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
PACKAGERS = {
    "serverless3": REPO_ROOT / "node_modules" / "serverless" / "bin" / "serverless.js",
    "osls": REPO_ROOT / "node_modules" / "osls" / "bin" / "serverless.js",
}
COMPOSE = REPO_ROOT / "node_modules" / "@serverless" / "compose" / "bin" / "serverless-compose"
OUTPUT_FILES = ("cloudformation-template-update-stack.json", "serverless-state.json")


def offline_env(home: Path, extra: Dict[str, str] | None = None) -> Dict[str, str]:
    """The environment minus every AWS_* variable, with an empty HOME: packaging must not need them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(HOME=str(home), SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off", SLS_DISABLE_AUTO_UPDATE="1")
    env.update(extra or {})
    return env


def run(args: List[str], cwd: Path, env: Dict[str, str]) -> Tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} in {cwd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout + result.stderr


def package(packager: str, service_dir: Path, stage: str, region: str, env: Dict[str, str]) -> Tuple[float, Dict[str, bytes]]:
    """One clean `sls package`; returns the seconds it took and the bytes of every file it wrote."""
    shutil.rmtree(service_dir / ".serverless", ignore_errors=True)
    elapsed, output = run(["node", str(PACKAGERS[packager]), "package", "--stage", stage, "--region", region], service_dir, env)
    out = service_dir / ".serverless"
    return elapsed, {path.name: path.read_bytes() for path in sorted(out.iterdir()) if path.is_file()}


def leaves(value: Any, path: str = "") -> Iterator[Tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def differing_paths(first: bytes, second: bytes) -> List[Tuple[str, Any, Any]]:
    """(path, first value, second value) of every JSON leaf that differs, keys present in one only included."""
    a, b = dict(leaves(json.loads(first))), dict(leaves(json.loads(second)))
    return [(path, a.get(path), b.get(path)) for path in sorted(set(a) | set(b)) if a.get(path) != b.get(path)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def check_service(packager: str, workdir: Path, service: str, stage: str, regions: List[str], capture: Path | None) -> Dict[str, Any]:
    service_dir = workdir / "services" / service
    env = offline_env(workdir / "home")
    report: Dict[str, Any] = {"service": service, "packager": packager, "seconds": [], "zips_identical": True,
                              "run_to_run": {}, "region_to_region": []}
    templates = {}
    for region in regions:
        first_seconds, first = package(packager, service_dir, stage, region, env)
        if capture is not None:
            target = capture / packager / f"{service}-{region}"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for name, data in first.items():
                (target / name).write_bytes(data)
        second_seconds, second = package(packager, service_dir, stage, region, env)
        report["seconds"] += [round(first_seconds, 2), round(second_seconds, 2)]
        zips = sorted(name for name in first if name.endswith(".zip"))
        report.setdefault("zips", {})[region] = {name: sha(first[name]) for name in zips}
        if any(first[name] != second.get(name) for name in zips):
            report["zips_identical"] = False
        for name in OUTPUT_FILES:
            report["run_to_run"].setdefault(name, set()).update(
                generalise(path) for path, first_value, second_value in differing_paths(first[name], second[name])
            )
        templates[region] = first["cloudformation-template-update-stack.json"]
    report["run_to_run"] = {name: sorted(paths) for name, paths in report["run_to_run"].items()}
    first_region, second_region = regions[:2]
    report["region_to_region"] = [
        (path, left, right)
        for path, left, right in differing_paths(templates[first_region], templates[second_region])
        if not path.endswith(".S3Key")  # the timestamp differs anyway; reported run to run
    ]
    return report


def generalise(path: str) -> str:
    """Paths that only differ by the package timestamp in a logical id read as one (ApiGatewayDeployment<ms>)."""
    return re.sub(r"\d{13}", "<ms>", path)


def check_compose(workdir: Path, stage: str, regions: List[str]) -> Dict[str, Any]:
    """serverless-compose 1.3.0 runs `serverless` from PATH; it must be Framework v3 (see docs/examples.md)."""
    shim = workdir / "bin"
    shim.mkdir(exist_ok=True)
    link = shim / "serverless"
    if not link.exists():
        link.symlink_to(PACKAGERS["serverless3"])
    init_dir = workdir / "init"
    report: Dict[str, Any] = {}
    for region in regions:
        shutil.rmtree(init_dir / ".serverless", ignore_errors=True)
        env = offline_env(workdir / "home", {"PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "MRS_REGION": region})
        seconds, output = run(["node", str(COMPOSE), "package", "--stage", stage], init_dir, env)
        outputs = sorted(str(path.relative_to(init_dir)) for path in init_dir.glob("*/.serverless/*") if path.is_file())
        buckets = sorted({
            json.loads((init_dir / stack / ".serverless" / "serverless-state.json").read_text())["service"]["provider"]["deploymentBucket"]
            for stack in (path.split("/")[0] for path in outputs)
        })
        report[region] = {"seconds": round(seconds, 2), "outputs": outputs, "deployment_buckets": buckets}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packager", action="append", choices=sorted(PACKAGERS), help="default: both")
    parser.add_argument("--service", action="append", help="default: every folder of examples/services")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--region", action="append", help="two regions; default us-east-1 and eu-west-1")
    parser.add_argument("--capture", type=Path, help="copy the first run of each service and region here")
    parser.add_argument("--no-compose", action="store_true", help="skip the init stacks")
    parser.add_argument("--compose-only", action="store_true", help="only the init stacks")
    args = parser.parse_args()
    packagers = args.packager or sorted(PACKAGERS)
    services = args.service or sorted(p.name for p in (EXAMPLES / "services").iterdir() if (p / "serverless.yml").is_file())
    regions = args.region or ["us-east-1", "eu-west-1"]
    if len(regions) < 2:
        parser.error("give two regions to compare")
    with tempfile.TemporaryDirectory(prefix="mrs-examples-") as tmp:
        workdir = Path(tmp) / "examples"
        shutil.copytree(EXAMPLES, workdir, ignore=shutil.ignore_patterns(".serverless", "__pycache__"))
        (workdir / "home").mkdir()
        results: Dict[str, Any] = {"services": []}
        for packager in [] if args.compose_only else packagers:
            for service in services:
                results["services"].append(check_service(packager, workdir, service, args.stage, regions, args.capture))
                print(json.dumps(results["services"][-1], default=str), flush=True)
        if not args.no_compose:
            results["compose"] = check_compose(workdir, args.stage, regions)
            print(json.dumps({"compose": results["compose"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
