# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packaging services for one stage and region: discovery, working copies, the content cache, the packager seam.

* ``discover_services`` - folders of the services directory holding a Serverless config, minus exclusions.
* ``prepare_working_copy`` - a per-(stage, region, service) mirror of the project under the build root:
  the service's files hard-linked (copied across file systems), ``node_modules`` and every other entry of
  the project symlinked, so relative references (``${file(../shared.yml)}``) still resolve and the user's
  source tree is never written. Two regions never share a ``.serverless/`` folder.
* ``input_digest`` - the content cache key: every source file, stage, region, framework, post-processing version.
* ``ServerlessPackager`` / ``ComposePackager`` - the seam: how to run a packager and where its output is.
  A SAM packager (``sam build`` + ``sam package --region``) fits beside them: it runs a command in the
  working copy and names an output folder holding a template and artifacts.
* ``package_services`` - a thread pool whose packagings each hold a slot of a machine-wide ``SlotPool``.
"""

from __future__ import annotations

import concurrent.futures
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None  # type: ignore

from ansible_collections.multiregion.serverless.plugins.module_utils.concurrency import SlotPool, named_lock
from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl

# Bump when the post-processing (ZIP and template normalisation, key rewriting, template form, result shape)
# changes: every cache entry made by an older version is then stale. 2: ZIPs rewritten, Lambda versions,
# layer hashes and the REST API deployment derived from content, run-specific values refused.
POST_PROCESSING_VERSION = "2"

CONFIG_NAMES = ("serverless.yml", "serverless.yaml", "serverless.json", "serverless.js", "serverless.ts")
COMPOSE_NAMES = ("serverless-compose.yml", "serverless-compose.yaml")
SKIPPED_DIRS = (".serverless", ".git", "__pycache__", ".pytest_cache")
NPM_HIDDEN_LOCKFILE = os.path.join("node_modules", ".package-lock.json")
OUTPUT_TAIL_LINES = 25
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class PackagingError(Exception):
    """A packaging failed; ``str()`` names the service, the region and the last lines of the CLI's output."""

    def __init__(self, message: str, service: Optional[str] = None, region: Optional[str] = None, output_tail: Sequence[str] = ()) -> None:
        self.service = service
        self.region = region
        self.output_tail = list(output_tail)
        where = " ".join(part for part in (f"service {service}" if service else "", f"in {region}" if region else "") if part)
        text = f"{where}: {message}" if where else message
        if self.output_tail:
            text += "\n--- last lines of the packager's output ---\n" + "\n".join(self.output_tail)
        super().__init__(text)


# ---------------------------------------------------------------------------------------------- discovery


def find_config(service_dir: str, names: Sequence[str] = CONFIG_NAMES) -> Optional[str]:
    for name in names:
        path = os.path.join(service_dir, name)
        if os.path.isfile(path):
            return path
    return None


def discover_services(services_dir: str, always_excluded: Sequence[str] = (), stage_excluded: Sequence[str] = ()) -> Dict[str, List[str]]:
    """The deployable services of ``services_dir`` and what the exclusion lists did.

    Returns ``services`` (sorted), ``excluded`` (names of existing services the lists removed) and
    ``unknown_exclusions`` (names in the lists with no such service: most likely a typo).
    """
    if not os.path.isdir(services_dir):
        raise PackagingError(f"services directory not found: {services_dir}")
    found = sorted(
        name for name in os.listdir(services_dir)
        if not name.startswith(".") and os.path.isdir(os.path.join(services_dir, name)) and find_config(os.path.join(services_dir, name))
    )
    exclusions = list(dict.fromkeys(list(always_excluded) + list(stage_excluded)))
    return {
        "services": [name for name in found if name not in exclusions],
        "excluded": [name for name in exclusions if name in found],
        "unknown_exclusions": [name for name in exclusions if name not in found],
    }


class _TolerantLoader(yaml.SafeLoader if yaml else object):  # type: ignore[misc]
    """Reads serverless.yml with CloudFormation short forms (``!Ref``, ``!GetAtt``...) as plain values."""


def _construct_tagged(loader: Any, _suffix: str, node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


if yaml:
    _TolerantLoader.add_multi_constructor("!", _construct_tagged)


def check_config(service: str, service_dir: str, stage: str) -> str:
    """The service's config file, after catching the mistakes the CLI reports badly; raises PackagingError."""
    config = find_config(service_dir)
    if config is None:
        raise PackagingError(f"no serverless.yml in {service_dir}", service)
    if not config.endswith((".yml", ".yaml")):
        return config  # JS/TS/JSON configs are left to the packager
    try:
        with open(config, encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=_TolerantLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackagingError(f"{config} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}", service) from None
    if not isinstance(document, dict):
        raise PackagingError(f"{config} must be a mapping with service, provider and functions", service)
    for key in ("service", "provider"):
        if key not in document:
            raise PackagingError(f"{config} has no '{key}'", service)
    params = document.get("params")
    if isinstance(params, dict) and params and "default" not in params and stage not in params:
        raise PackagingError(f"stage '{stage}' is unknown to {config}: its params define only {', '.join(sorted(map(str, params)))}", service)
    return config


# ---------------------------------------------------------------------------------------------- inputs


def file_tree_digest(root: str, digest: "hashlib._Hash") -> None:
    """Feed every file under ``root`` (relative path, exec bit, content) into ``digest``, in a stable order.

    ``node_modules`` is represented by npm's hidden lockfile (what is installed, with integrity hashes)
    rather than read in full.
    """
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if name not in SKIPPED_DIRS and name != "node_modules")
        for name in sorted(files):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            digest.update(f"F {relative}\0{int(os.access(path, os.X_OK))}\0".encode())
            if os.path.islink(path):
                digest.update(f"L {os.readlink(path)}\0".encode())
            elif os.path.isfile(path):
                digest.update(tpl.sha256_file(path).encode())
    lockfile = os.path.join(root, NPM_HIDDEN_LOCKFILE)
    if os.path.isfile(lockfile):
        digest.update(b"N " + tpl.sha256_file(lockfile).encode())


FILE_REFERENCE = re.compile(r"\$\{file\(([^)~:\s]+)\)")


def referenced_files(config_path: str) -> List[str]:
    """Files outside the service folder that its config reads with ``${file(...)}`` (they are inputs too)."""
    service_dir = os.path.dirname(os.path.abspath(config_path))
    try:
        with open(config_path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return []
    found = set()
    for reference in FILE_REFERENCE.findall(text):
        path = os.path.normpath(os.path.join(service_dir, reference))
        if os.path.isfile(path) and not path.startswith(service_dir + os.sep):
            found.add(path)
    return sorted(found)


def input_digest(source_dir: str, extra_files: Sequence[str] = (), **context: Any) -> str:
    """The content cache key of one packaging: the source tree, ``extra_files`` and ``context`` (stage, region, framework...)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"post_processing": POST_PROCESSING_VERSION, **context}, sort_keys=True).encode())
    file_tree_digest(source_dir, digest)
    for path in sorted(extra_files):
        digest.update(f"X {path}\0".encode() + (tpl.sha256_file(path).encode() if os.path.isfile(path) else b"missing"))
    return digest.hexdigest()


def framework_version(binary: str) -> str:
    """``<package name>@<version>`` of the CLI at ``binary``, read from its package.json (no Node start-up)."""
    directory = os.path.dirname(os.path.realpath(binary))
    for _level in range(4):
        manifest = os.path.join(directory, "package.json")
        if os.path.isfile(manifest):
            try:
                with open(manifest, encoding="utf-8") as handle:
                    data = json.load(handle)
                return f"{data.get('name', 'unknown')}@{data.get('version', 'unknown')}"
            except (OSError, ValueError):
                break
        directory = os.path.dirname(directory)
    # A standalone binary: its size and mtime stand for its version.
    stat = os.stat(binary)
    return f"{os.path.basename(binary)}@{stat.st_size}-{int(stat.st_mtime)}"


def resolve_binary(binary: str, what: str) -> str:
    path = binary if os.sep in binary else (shutil.which(binary) or binary)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise PackagingError(f"{what} binary not found or not executable: {binary}")
    return os.path.abspath(path)


# ---------------------------------------------------------------------------------------------- working copies


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
            raise
        shutil.copy2(source, destination)


def _hard_link_tree(source: str, destination: str) -> None:
    """Mirror ``source`` into ``destination``: files hard-linked, ``node_modules`` and symlinks as symlinks."""
    os.makedirs(destination, exist_ok=True)
    for name in sorted(os.listdir(source)):
        if name in SKIPPED_DIRS:
            continue
        src = os.path.join(source, name)
        dst = os.path.join(destination, name)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            if name == "node_modules":
                os.symlink(os.path.abspath(src), dst)  # never copied: it can be huge and is only read
            else:
                _hard_link_tree(src, dst)
        elif os.path.isfile(src):
            _link_or_copy(src, dst)


def prepare_working_copy(project_dir: str, source_dir: str, copy_root: str, skip: Sequence[str] = ()) -> str:
    """A fresh mirror of ``project_dir`` under ``copy_root`` in which ``source_dir`` is a real (hard-linked) tree.

    Every other entry along the way is a symlink to the original, so the copy costs a few links per file of
    the service and nothing for the rest. ``skip`` lists absolute paths left out (the build root itself when
    it lives inside the project). Returns the path of the service inside the copy.
    """
    project_dir = os.path.abspath(project_dir)
    source_dir = os.path.abspath(source_dir)
    if os.path.lexists(copy_root):
        shutil.rmtree(copy_root)
    skipped = {os.path.abspath(path) for path in skip}
    relative = os.path.relpath(source_dir, project_dir)
    if relative.startswith(os.pardir):  # the service lives outside the project: copy it alone
        target = os.path.join(copy_root, os.path.basename(source_dir))
        _hard_link_tree(source_dir, target)
        return target
    current_src, current_dst = project_dir, copy_root
    for part in relative.split(os.sep) if relative != os.curdir else []:
        os.makedirs(current_dst, exist_ok=True)
        for name in sorted(os.listdir(current_src)):
            path = os.path.join(current_src, name)
            if name == part or path in skipped or name == ".serverless":
                continue
            os.symlink(path, os.path.join(current_dst, name))
        current_src, current_dst = os.path.join(current_src, part), os.path.join(current_dst, part)
    _hard_link_tree(source_dir, current_dst)
    return current_dst


def write_fresh_file(path: str, data: bytes) -> None:
    """Write ``path`` as a new inode: a hard-linked copy of a user's file must never be written through."""
    if os.path.lexists(path):
        os.unlink(path)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------------------- packagers


def run_command(command: Sequence[str], cwd: str, env: Dict[str, str], timeout: Optional[float]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - the command is an argument list, never a shell string
        list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False
    )


def output_tail(output: bytes, lines: int = OUTPUT_TAIL_LINES) -> List[str]:
    text = output.decode("utf-8", errors="replace")
    # Serverless colours its output; the report should be plain text.
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return kept[-lines:]


@dataclass
class ServerlessPackager:
    """``sls package --stage S --region R`` (serverless 3.x or osls) writing into ``.serverless/``."""

    binary: str
    name: str = "serverless"
    output_folder: str = ".serverless"

    def __post_init__(self) -> None:
        self.binary = resolve_binary(self.binary, "serverless")
        self.version = framework_version(self.binary)

    def command(self, stage: str, region: str) -> List[str]:
        return [self.binary, "package", "--stage", stage, "--region", region]


@dataclass
class ComposePackager:
    """``serverless-compose package --stage S``; the region is written per service into the compose file.

    Compose starts ``serverless`` from PATH, so a folder holding a ``serverless`` link to ``sls_binary`` is
    put first on PATH.
    """

    binary: str
    sls_binary: str
    name: str = "serverless-compose"

    def __post_init__(self) -> None:
        self.binary = resolve_binary(self.binary, "serverless-compose")
        self.sls_binary = resolve_binary(self.sls_binary, "serverless")
        self.version = f"{framework_version(self.binary)}+{framework_version(self.sls_binary)}"

    def command(self, stage: str) -> List[str]:
        return [self.binary, "package", "--stage", stage]


# ---------------------------------------------------------------------------------------------- packaging


@dataclass
class PackagingContext:
    """What every packaging of one module call shares."""

    stage: str
    region: str
    project_dir: str
    build_root: str
    slots: SlotPool
    locks_dir: str
    env: Dict[str, str]
    timeout: Optional[float] = None
    check_mode: bool = False
    log: Callable[[str], None] = lambda _message: None
    extra_skip: List[str] = field(default_factory=list)
    extra_inputs: List[str] = field(default_factory=list)

    def service_root(self, kind: str, name: str) -> str:
        return os.path.join(self.build_root, self.stage, self.region, kind, name)

    def machine_paths(self) -> List[str]:
        """Paths of this machine a published template must not hold (the working copies live in the build root)."""
        paths = {self.project_dir, self.build_root}
        return sorted(paths | {os.path.realpath(path) for path in paths})


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
    if not template or not os.path.isfile(template) or tpl.sha256_file(template) != result.get("template_sha256"):
        return False
    return all(os.path.isfile(item["path"]) and os.path.getsize(item["path"]) == item["size"] for item in result.get("artifacts", []))


def _save_cache(path: str, digest: str, result: Dict[str, Any]) -> None:
    write_fresh_file(path, json.dumps({"input_digest": digest, "result": result}, indent=2, sort_keys=True).encode())


def collect_output(name: str, kind: str, stage: str, output_dir: str, out_dir: str, machine_paths: Sequence[str] = ()) -> Dict[str, Any]:
    """Turn a packager's output folder into the normalised template and ZIPs of ``out_dir``.

    Every ZIP the template names is rewritten into ``out_dir`` by ``normalize_zip`` and the template by
    ``normalize_template`` (content-addressed keys, versions, layer hashes and the REST API deployment from
    content; values of the run or of ``machine_paths`` refused), so the same sources give the same bytes on
    any machine, path, umask, day and cache state. The result stays valid while the working copy is rebuilt
    for the next packaging. A TemplateError leaves no ``out_dir`` behind.
    """
    template = tpl.read_template(os.path.join(output_dir, tpl.UPDATE_TEMPLATE_FILE))
    prefix = tpl.artifact_prefix(template) or f"serverless/{tpl.state_service_name(output_dir) or name}/{stage}"
    if os.path.lexists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    try:
        zip_sha256 = {}
        for zip_name in sorted({parts["name"] for parts in tpl.timestamped_artifact_keys(template).values()}):
            source = os.path.join(output_dir, zip_name)
            if os.path.isfile(source):  # a missing one is reported by normalize_template, with its key
                tpl.normalize_zip(source, os.path.join(out_dir, zip_name))
                zip_sha256[zip_name] = tpl.sha256_file(os.path.join(out_dir, zip_name))
        rewritten, keys_by_zip = tpl.normalize_template(template, zip_sha256, time.time(), machine_paths)
    except tpl.TemplateError:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    body = tpl.canonical_json(rewritten)
    template_sha256 = tpl.sha256_bytes(body)
    template_path = os.path.join(out_dir, "template.json")
    write_fresh_file(template_path, body)
    artifacts = []
    for zip_name, key in sorted(keys_by_zip.items()):
        path = os.path.join(out_dir, zip_name)
        artifacts.append({"name": zip_name, "path": path, "sha256": zip_sha256[zip_name], "size": os.path.getsize(path), "s3_key": key})
    template_key = tpl.init_template_key(name, stage, template_sha256) if kind == "init" else tpl.service_template_key(prefix, template_sha256)
    buckets = tpl.artifact_buckets(rewritten)
    return {
        "template_path": template_path,
        "template_sha256": template_sha256,
        "template_key": template_key,
        "artifacts": artifacts,
        "artifact_bucket": buckets[0] if len(buckets) == 1 else None,
        "function_logical_ids": tpl.function_logical_ids(rewritten),
        "parameters": tpl.parameter_names(rewritten),
    }


def _base_result(name: str, kind: str, ctx: PackagingContext, packager: Any, digest: str) -> Dict[str, Any]:
    return {"name": name, "kind": kind, "stage": ctx.stage, "region": ctx.region, "packager": packager.name,
            "framework": packager.version, "input_digest": digest}


def package_service(name: str, source_dir: str, packager: ServerlessPackager, ctx: PackagingContext, serial: bool = False) -> Dict[str, Any]:
    """Package one service for the context's stage and region, or return the cached result.

    ``serial`` services (the Lambda authorizer) additionally hold a machine-wide lock named after them, so
    no two regions package them at the same time.
    """
    config = check_config(name, source_dir, ctx.stage)
    digest = input_digest(source_dir, referenced_files(config) + list(ctx.extra_inputs), stage=ctx.stage, region=ctx.region, framework=packager.version,
                          binary=packager.binary, packager=packager.name, service=name)
    root = ctx.service_root("services", name)
    cache_path = os.path.join(root, "cache.json")
    cached = _load_cache(cache_path)
    if cached and cached.get("input_digest") == digest and _cached_result_intact(cached.get("result", {})):
        ctx.log(f"{name} ({ctx.region}): unchanged, cached packaging reused")
        return dict(cached["result"], status="cached", changed=False, packaging_seconds=0.0, waited_seconds=0.0)
    result = _base_result(name, "service", ctx, packager, digest)
    if ctx.check_mode:
        ctx.log(f"{name} ({ctx.region}): would be packaged")
        return dict(result, status="would_package", changed=True)

    def _run() -> Dict[str, Any]:
        # The copy is only links, made before taking a slot: slots bound the packager runs, not file work.
        workdir = prepare_working_copy(ctx.project_dir, source_dir, os.path.join(root, "src"), ctx.extra_skip)
        with ctx.slots.slots(1) as waited:
            started = time.monotonic()
            try:
                completed = run_command(packager.command(ctx.stage, ctx.region), workdir, ctx.env, ctx.timeout)
            except subprocess.TimeoutExpired as exc:
                raise PackagingError(f"packaging timed out after {ctx.timeout} s", name, ctx.region, output_tail(exc.output or b"")) from None
            if completed.returncode != 0:
                raise PackagingError(f"'{' '.join(packager.command(ctx.stage, ctx.region))}' exited with {completed.returncode}",
                                     name, ctx.region, output_tail(completed.stdout))
            seconds = time.monotonic() - started
        try:
            output = collect_output(name, "service", ctx.stage, os.path.join(workdir, packager.output_folder), os.path.join(root, "out"),
                                    ctx.machine_paths())
        except tpl.TemplateError as exc:
            raise PackagingError(str(exc), name, ctx.region, output_tail(completed.stdout)) from None
        return dict(result, **output, status="packaged", changed=True, packaging_seconds=round(seconds, 3), waited_seconds=round(waited, 3))

    if serial:
        with named_lock(ctx.locks_dir, f"serial-{ctx.stage}-{name}"):
            packaged = _run()
    else:
        packaged = _run()
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


def package_services(services: Dict[str, str], packager: ServerlessPackager, ctx: PackagingContext, concurrency: int,
                     serial: Sequence[str] = (), serial_order: str = "first") -> Dict[str, Any]:
    """Package ``{name: source_dir}``; returns ``{"results": [...], "failures": [...]}`` in the given order.

    After a failure no new packaging starts (those running finish and are cached), so a rerun resumes.
    """
    groups = order_services(list(services), serial, serial_order)
    results: Dict[str, Dict[str, Any]] = {}
    failures: List[Dict[str, Any]] = []

    def _one(name: str, is_serial: bool) -> None:
        try:
            results[name] = package_service(name, services[name], packager, ctx, serial=is_serial)
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


# ---------------------------------------------------------------------------------------------- compose (init stacks)


def read_compose(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.load(handle, Loader=_TolerantLoader)  # noqa: S506 - SafeLoader subclass
    except OSError:
        raise PackagingError(f"compose file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise PackagingError(f"{path} is not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict) or not document["services"]:
        raise PackagingError(f"{path} must define services")
    for stack, settings in document["services"].items():
        if not isinstance(settings, dict) or not isinstance(settings.get("path"), str):
            raise PackagingError(f"{path}: service '{stack}' needs a path")
    return document


def compose_for_region(document: Dict[str, Any], region: str) -> Dict[str, Any]:
    """The compose document with ``region`` set on every service (``--region`` is no compose option)."""
    services = {stack: dict(settings, region=region) for stack, settings in document["services"].items()}
    return dict(document, services=services)


def package_init_stacks(init_dir: str, packager: ComposePackager, ctx: PackagingContext) -> List[Dict[str, Any]]:
    """Package every stack of ``<init_dir>/serverless-compose.yml`` for the context's region in one compose run."""
    compose_file = find_config(init_dir, COMPOSE_NAMES)
    if compose_file is None:
        raise PackagingError(f"no serverless-compose.yml in {init_dir}", "init")
    document = read_compose(compose_file)
    stacks = {stack: os.path.normpath(os.path.join(init_dir, settings["path"])) for stack, settings in document["services"].items()}
    references = list(ctx.extra_inputs)
    for stack, path in stacks.items():
        references += referenced_files(check_config(stack, path, ctx.stage))
    digest = input_digest(init_dir, references, stage=ctx.stage, region=ctx.region, framework=packager.version, packager=packager.name,
                          binary=packager.binary, sls_binary=packager.sls_binary)
    root = ctx.service_root("init", "_compose")
    cache_path = os.path.join(root, "cache.json")
    cached = _load_cache(cache_path)
    cached_results = (cached or {}).get("result", {}).get("stacks", [])
    if cached and cached.get("input_digest") == digest and cached_results and all(_cached_result_intact(item) for item in cached_results):
        ctx.log(f"init stacks ({ctx.region}): unchanged, cached packaging reused")
        return [dict(item, status="cached", changed=False, packaging_seconds=0.0, waited_seconds=0.0) for item in cached_results]
    if ctx.check_mode:
        return [dict(_base_result(stack, "init", ctx, packager, digest), status="would_package", changed=True) for stack in stacks]

    shim_dir = os.path.join(ctx.build_root, "bin", hashlib.sha256(packager.sls_binary.encode()).hexdigest()[:12])
    shim = os.path.join(shim_dir, "serverless")
    os.makedirs(shim_dir, exist_ok=True)
    if os.path.realpath(shim) != os.path.realpath(packager.sls_binary):
        temporary = f"{shim}.tmp-{os.getpid()}"
        os.symlink(packager.sls_binary, temporary)
        os.replace(temporary, shim)
    env = dict(ctx.env, PATH=shim_dir + os.pathsep + ctx.env.get("PATH", os.environ.get("PATH", "")))

    workdir = prepare_working_copy(ctx.project_dir, init_dir, os.path.join(root, "src"), ctx.extra_skip)
    generated = compose_for_region(document, ctx.region)
    write_fresh_file(os.path.join(workdir, os.path.basename(compose_file)), yaml.safe_dump(generated, sort_keys=False).encode())
    # Compose packages its stacks side by side: it holds one slot per stack.
    with ctx.slots.slots(len(stacks)) as waited:
        started = time.monotonic()
        try:
            completed = run_command(packager.command(ctx.stage), workdir, env, ctx.timeout)
        except subprocess.TimeoutExpired as exc:
            raise PackagingError(f"packaging timed out after {ctx.timeout} s", "init", ctx.region, output_tail(exc.output or b"")) from None
        if completed.returncode != 0:
            raise PackagingError(f"'{' '.join(packager.command(ctx.stage))}' exited with {completed.returncode}", "init",
                                 ctx.region, output_tail(completed.stdout))
        seconds = time.monotonic() - started
    results = []
    for stack in stacks:
        relative = os.path.relpath(stacks[stack], init_dir)
        try:
            output = collect_output(stack, "init", ctx.stage, os.path.join(workdir, relative, ".serverless"), os.path.join(root, "out", stack),
                                    ctx.machine_paths())
        except tpl.TemplateError as exc:
            raise PackagingError(str(exc), f"init/{stack}", ctx.region, output_tail(completed.stdout)) from None
        results.append(dict(_base_result(stack, "init", ctx, packager, digest), **output, status="packaged", changed=True,
                            packaging_seconds=round(seconds, 3), waited_seconds=round(waited, 3)))
    _save_cache(cache_path, digest, {"stacks": results})
    ctx.log(f"init stacks ({ctx.region}): {len(results)} packaged in {seconds:.1f} s")
    return results
