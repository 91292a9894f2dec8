# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running packagers for one deploy target: the content cache, machine-wide slots, serial services, init stacks.

Everything a packager does goes through the ``Packager`` interface (``packager.py``): ``package_services``
packages services each with its packager (serverless 3 / osls, SAM); ``package_init_stacks`` runs
serverless-compose over the init stacks.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl
from ansible_collections.multiregion.serverless.plugins.module_utils.common import sha256_file, write_fresh_file
from ansible_collections.multiregion.serverless.plugins.module_utils.concurrency import SlotPool, named_lock
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.compose import ComposePackager
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import Packager, PackagingError, output_tail, run_command
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.sources import input_digest, prepare_working_copy

CACHE_FILE = "cache.json"
BUILT_MARKER = "built.json"
COMPOSE_UNIT = "_compose"


@dataclass
class PackagingContext:
    """What every packaging of one module call shares: the deploy target (stage, region) and the machine."""

    stage: str
    region: str
    project_dir: str
    build_root: str
    slots: SlotPool
    locks_dir: str
    env: Dict[str, str]
    timeout: Optional[float] = None
    log: Callable[[str], None] = lambda _message: None
    extra_skip: List[str] = field(default_factory=list)
    extra_inputs: List[str] = field(default_factory=list)

    def service_root(self, kind: str, name: str) -> str:
        return os.path.join(naming.target_build_dir(self.build_root, self.stage, self.region), kind, name)

    def machine_paths(self) -> List[str]:
        """Paths of this machine a published template must not hold (the working copies live in the build root)."""
        paths = {self.project_dir, self.build_root}
        return sorted(paths | {os.path.realpath(path) for path in paths})


# ---------------------------------------------------------------------------------------------- the content cache


def _load_cache(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def _cached_result_intact(result: Dict[str, Any]) -> bool:
    """The files a cached result names are still there (the template is re-hashed, ZIPs size-checked)."""
    template = result.get("template_path")
    if not template or not os.path.isfile(template) or sha256_file(template) != result.get("template_sha256"):
        return False
    return all(os.path.isfile(item["path"]) and os.path.getsize(item["path"]) == item["size"] for item in result.get("artifacts", []))


def _save_cache(path: str, digest: str, result: Dict[str, Any]) -> None:
    write_fresh_file(path, json.dumps({"input_digest": digest, "result": result}, indent=2, sort_keys=True).encode())


def _cached(entry: Dict[str, Any]) -> Dict[str, Any]:
    return dict(entry, status="cached", changed=False, packaging_seconds=0.0, waited_seconds=0.0)


def _base_result(name: str, kind: str, ctx: PackagingContext, packager: Packager, digest: str) -> Dict[str, Any]:
    return {"name": name, "kind": kind, "stage": ctx.stage, "region": ctx.region, "packager": packager.name,
            "framework": packager.version, "input_digest": digest}


# ---------------------------------------------------------------------------------------------- one packager run


def _run(packager: Packager, ctx: PackagingContext, workdir: str, env: Dict[str, str], slots: int, who: str) -> Tuple[Any, float, float]:
    """Run the packager in ``workdir`` holding ``slots`` machine-wide slots: ``(completed, seconds, waited)``."""
    command = packager.command(ctx.stage, ctx.region)
    with ctx.slots.slots(slots) as waited:
        started = time.monotonic()
        try:
            completed = run_command(command, workdir, env, ctx.timeout)
        except subprocess.TimeoutExpired as exc:
            raise PackagingError(f"packaging timed out after {ctx.timeout} s", who, ctx.region, output_tail(exc.output or b"")) from None
        if completed.returncode != 0:
            raise PackagingError(f"'{' '.join(command)}' exited with {completed.returncode}", who, ctx.region, output_tail(completed.stdout))
        seconds = time.monotonic() - started
    return completed, seconds, waited


def _collect(packager: Packager, ctx: PackagingContext, name: str, kind: str, output_dir: str, out_dir: str, completed: Any,
             who: str) -> Dict[str, Any]:
    try:
        return packager.collect(name, kind, ctx.stage, output_dir, out_dir, ctx.machine_paths())
    except tpl.TemplateError as exc:
        raise PackagingError(str(exc), who, ctx.region, output_tail(completed.stdout) if completed is not None else ()) from None


def _shared_build(name: str, source_dir: str, inputs: List[str], packager: Packager, ctx: PackagingContext) -> Tuple[str, Any, float, float]:
    """Build ``name`` once per stage and content for every region: ``(output folder, completed or None, seconds, waited)``.

    For packagers whose build does not depend on the region (``Packager.region_independent``: SAM). The first
    region to get the machine-wide lock builds; the others wait for it and reuse the build (``completed`` None).
    Only the newest build of a service is kept.
    """
    build_digest = input_digest(source_dir, inputs, stage=ctx.stage, service=name, **packager.cache_context())
    service_dir = naming.shared_build_dir(ctx.build_root, ctx.stage, packager.name, name)
    build_dir = os.path.join(service_dir, build_digest[:16])
    marker = os.path.join(build_dir, BUILT_MARKER)
    with named_lock(ctx.locks_dir, naming.shared_build_lock_name(ctx.stage, packager.name, name)):
        built = _load_cache(marker)
        if built and isinstance(built.get("output_dir"), str) and os.path.isdir(built["output_dir"]):
            ctx.log(f"{name} ({ctx.region}): built for another region, reused")
            return built["output_dir"], None, 0.0, 0.0
        if os.path.isdir(service_dir):
            for older in os.listdir(service_dir):
                shutil.rmtree(os.path.join(service_dir, older), ignore_errors=True)
        workdir = prepare_working_copy(ctx.project_dir, source_dir, os.path.join(build_dir, "src"), ctx.extra_skip)
        completed, seconds, waited = _run(packager, ctx, workdir, packager.environment(ctx.env, ctx.build_root), 1, name)
        output_dir = os.path.join(workdir, packager.output_folder)
        write_fresh_file(marker, json.dumps({"input_digest": build_digest, "output_dir": output_dir, "seconds": round(seconds, 3)}).encode())
    return output_dir, completed, seconds, waited


# ---------------------------------------------------------------------------------------------- services


def package_service(name: str, source_dir: str, packager: Packager, ctx: PackagingContext, serial: bool = False) -> Dict[str, Any]:
    """Package one service for the context's stage and region, or return the cached result.

    ``serial`` services (the Lambda authorizer) additionally hold a machine-wide lock named after them, so
    no two regions package them at the same time.
    """
    config = packager.check_config(name, source_dir, ctx.stage)
    inputs = packager.inputs(config) + list(ctx.extra_inputs)
    digest = input_digest(source_dir, inputs, stage=ctx.stage, region=ctx.region, service=name, **packager.cache_context())
    root = ctx.service_root("services", name)
    cache_path = os.path.join(root, CACHE_FILE)
    cached = _load_cache(cache_path)
    if cached and cached.get("input_digest") == digest and _cached_result_intact(cached.get("result", {})):
        ctx.log(f"{name} ({ctx.region}): unchanged, cached packaging reused")
        return _cached(cached["result"])
    result = _base_result(name, "service", ctx, packager, digest)

    def _package() -> Dict[str, Any]:
        if packager.region_independent:
            output_dir, completed, seconds, waited = _shared_build(name, source_dir, inputs, packager, ctx)
        else:
            # The copy is only links, made before taking a slot: slots bound the packager runs, not file work.
            workdir = prepare_working_copy(ctx.project_dir, source_dir, os.path.join(root, "src"), ctx.extra_skip)
            completed, seconds, waited = _run(packager, ctx, workdir, packager.environment(ctx.env, ctx.build_root), 1, name)
            output_dir = os.path.join(workdir, packager.output_folder)
        output = _collect(packager, ctx, name, "service", output_dir, os.path.join(root, "out"), completed, name)
        return dict(result, **output, status="packaged", changed=True, packaging_seconds=round(seconds, 3), waited_seconds=round(waited, 3))

    if serial:
        with named_lock(ctx.locks_dir, naming.serial_lock_name(ctx.stage, name)):
            packaged = _package()
    else:
        packaged = _package()
    _save_cache(cache_path, digest, packaged)
    ctx.log(f"{name} ({ctx.region}): packaged in {packaged['packaging_seconds']:.1f} s")
    return packaged


def order_services(services: Sequence[str], serial: Sequence[str], serial_order: str) -> Dict[str, List[str]]:
    """Split into the serial ones and the rest, keeping the given order: ``{"before": [...], "parallel": [...], "after": [...]}``."""
    serial_present = [name for name in services if name in serial]
    parallel = [name for name in services if name not in serial]
    if serial_order == "first":
        return {"before": serial_present, "parallel": parallel, "after": []}
    return {"before": [], "parallel": parallel, "after": serial_present}


def package_services(services: Dict[str, str], packagers: Union[Packager, Mapping[str, Packager]], ctx: PackagingContext, concurrency: int,
                     serial: Sequence[str] = (), serial_order: str = "first") -> Dict[str, Any]:
    """Package ``{name: source_dir}``; returns ``{"results": [...], "failures": [...]}`` in the given order.

    ``packagers`` is one packager for every service or ``{name: packager}`` (a monorepo of Serverless and SAM services).

    After a failure no new packaging starts (those running finish and are cached), so a rerun resumes.
    """
    groups = order_services(list(services), serial, serial_order)
    packager_of = packagers if isinstance(packagers, Mapping) else {name: packagers for name in services}
    results: Dict[str, Dict[str, Any]] = {}
    failures: List[Dict[str, Any]] = []

    def _one(name: str, is_serial: bool) -> None:
        try:
            results[name] = package_service(name, services[name], packager_of[name], ctx, serial=is_serial)
        except PackagingError as exc:
            failures.append({"service": name, "region": ctx.region, "msg": str(exc), "output_tail": exc.output_tail})
            ctx.log(f"{name} ({ctx.region}): FAILED")

    for name in groups["before"]:
        if not failures:
            _one(name, True)
    if groups["parallel"] and not failures:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(groups["parallel"])))) as pool:
            pending = {pool.submit(_one, name, False) for name in groups["parallel"]}
            for future in concurrent.futures.as_completed(pending):
                future.result()
                if failures:
                    for other in pending:
                        other.cancel()
    for name in groups["after"]:
        if not failures:
            _one(name, True)
    return {"results": [results[name] for name in services if name in results], "failures": failures}


# ---------------------------------------------------------------------------------------------- init stacks (compose)


def package_init_stacks(init_dir: str, packager: ComposePackager, ctx: PackagingContext) -> List[Dict[str, Any]]:
    """Package every stack of ``<init_dir>/serverless-compose.yml`` for the context's region in one compose run."""
    compose_file = packager.check_config("init", init_dir, ctx.stage)
    document, stacks, references = packager.stacks(compose_file, ctx.stage)
    digest = input_digest(init_dir, list(ctx.extra_inputs) + references, stage=ctx.stage, region=ctx.region, **packager.cache_context())
    root = ctx.service_root("init", COMPOSE_UNIT)
    cache_path = os.path.join(root, CACHE_FILE)
    cached = _load_cache(cache_path)
    cached_results = (cached or {}).get("result", {}).get("stacks", [])
    if cached and cached.get("input_digest") == digest and cached_results and all(_cached_result_intact(item) for item in cached_results):
        ctx.log(f"init stacks ({ctx.region}): unchanged, cached packaging reused")
        return [_cached(item) for item in cached_results]

    env = packager.environment(ctx.env, ctx.build_root)
    workdir = prepare_working_copy(ctx.project_dir, init_dir, os.path.join(root, "src"), ctx.extra_skip)
    write_fresh_file(os.path.join(workdir, os.path.basename(compose_file)), packager.compose_file_for_region(document, ctx.region))
    # Compose packages its stacks side by side: it holds one slot per stack.
    completed, seconds, waited = _run(packager, ctx, workdir, env, len(stacks), "init")
    results = []
    for stack, path in stacks.items():
        output_dir = os.path.join(workdir, os.path.relpath(path, init_dir), packager.output_folder)
        output = _collect(packager, ctx, stack, "init", output_dir, os.path.join(root, "out", stack), completed, f"init/{stack}")
        results.append(dict(_base_result(stack, "init", ctx, packager, digest), **output, status="packaged", changed=True,
                            packaging_seconds=round(seconds, 3), waited_seconds=round(waited, 3)))
    _save_cache(cache_path, digest, {"stacks": results})
    ctx.log(f"init stacks ({ctx.region}): {len(results)} packaged in {seconds:.1f} s")
    return results
