# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is packaged and from what: discovery, config checks, the content cache key, working copies.

* ``discover_services`` - folders of the services directory holding a packager config, minus exclusions.
* ``check_config`` - a Serverless config's mistakes that the CLI reports badly, caught first.
* ``input_digest`` - the content cache key: every source file, the files the config reads, stage, region,
  the packager (``Packager.cache_context``) and the post-processing version.
* ``prepare_working_copy`` - a per-(stage, region, service) mirror of the project under the build root:
  the service's files hard-linked (copied across file systems), ``node_modules`` and every other entry of
  the project symlinked, so relative references (``${file(../shared.yml)}``) still resolve and the user's
  source tree is never written. Two regions never share a ``.serverless/`` folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Sequence

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None  # type: ignore

from ansible_collections.multiregion.serverless.plugins.module_utils.common import sha256_file
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import PackagingError

# Bump when the post-processing (ZIP and template normalisation, key rewriting, template form, result shape)
# changes: every cache entry made by an older version is then stale. 2: ZIPs rewritten, Lambda versions,
# layer hashes and the REST API deployment derived from content, run-specific values refused.
POST_PROCESSING_VERSION = "2"

CONFIG_NAMES = ("serverless.yml", "serverless.yaml", "serverless.json", "serverless.js", "serverless.ts")
# An AWS SAM service (packaging/sam.py); a folder holding both is a Serverless one unless project.yml says otherwise.
SAM_CONFIG_NAMES = ("template.yaml", "template.yml")
SERVICE_CONFIG_NAMES = CONFIG_NAMES + SAM_CONFIG_NAMES
# The packagers a service may name in project.yml's service_packagers.
PACKAGER_NAMES = ("serverless", "sam")
SKIPPED_DIRS = (".serverless", ".aws-sam", ".git", "__pycache__", ".pytest_cache")
NPM_HIDDEN_LOCKFILE = os.path.join("node_modules", ".package-lock.json")
FILE_REFERENCE = re.compile(r"\$\{file\(([^)~:\s]+)\)")


# ---------------------------------------------------------------------------------------------- discovery


def find_config(service_dir: str, names: Sequence[str] = CONFIG_NAMES) -> Optional[str]:
    for name in names:
        path = os.path.join(service_dir, name)
        if os.path.isfile(path):
            return path
    return None


def discover_services(services_dir: str, always_excluded: Sequence[str] = (), stage_excluded: Sequence[str] = (),
                      config_names: Sequence[str] = CONFIG_NAMES) -> Dict[str, List[str]]:
    """The deployable services of ``services_dir`` and what the exclusion lists did.

    Returns ``services`` (sorted), ``excluded`` (names of existing services the lists removed) and
    ``unknown_exclusions`` (names in the lists with no such service: most likely a typo).
    """
    if not os.path.isdir(services_dir):
        raise PackagingError(f"services directory not found: {services_dir}")
    found = sorted(
        name for name in os.listdir(services_dir)
        if not name.startswith(".") and os.path.isdir(os.path.join(services_dir, name))
        and find_config(os.path.join(services_dir, name), config_names)
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


def load_tolerant_yaml(handle: Any) -> Any:
    """A Serverless or compose YAML document, short forms read as plain values."""
    return yaml.load(handle, Loader=_TolerantLoader)  # noqa: S506 - SafeLoader subclass


def names_own_role(service_dir: str) -> bool:
    """Whether the service's Serverless config names its Lambda role (``provider.iam.role`` as a name or ARN, or
    ``provider.iam.role.name``), so the default ``<service>-<stage>-<region>-lambdaRole`` is not used. A JS/TS/JSON
    config, or one that cannot be read, counts as naming it: the packager judges those."""
    config = find_config(service_dir)
    if config is None or not config.endswith((".yml", ".yaml")):
        return True
    try:
        with open(config, encoding="utf-8") as handle:
            document = load_tolerant_yaml(handle)
    except (OSError, yaml.YAMLError):
        return True
    provider = document.get("provider") if isinstance(document, dict) else None
    if not isinstance(provider, dict):
        return False
    iam = provider.get("iam") if isinstance(provider.get("iam"), dict) else {}
    role = iam.get("role", provider.get("role"))
    return isinstance(role, str) or (isinstance(role, dict) and "name" in role)


def framework_version(config: Optional[str]) -> Any:
    """The ``frameworkVersion`` a YAML Serverless config asks for; None without one (or for a JS/TS/JSON config)."""
    if not config or not config.endswith((".yml", ".yaml")):
        return None
    try:
        with open(config, encoding="utf-8") as handle:
            document = load_tolerant_yaml(handle)
    except (OSError, yaml.YAMLError):
        return None  # the packager reports an unreadable config itself
    return document.get("frameworkVersion") if isinstance(document, dict) else None


def check_config(service: str, service_dir: str, stage: str) -> str:
    """The service's config file, after catching the mistakes the CLI reports badly; raises PackagingError."""
    config = find_config(service_dir)
    if config is None:
        raise PackagingError(f"no serverless.yml in {service_dir}", service)
    if not config.endswith((".yml", ".yaml")):
        return config  # JS/TS/JSON configs are left to the packager
    try:
        with open(config, encoding="utf-8") as handle:
            document = load_tolerant_yaml(handle)
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


# ---------------------------------------------------------------------------------------------- the cache key


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
                digest.update(sha256_file(path).encode())
    lockfile = os.path.join(root, NPM_HIDDEN_LOCKFILE)
    if os.path.isfile(lockfile):
        digest.update(b"N " + sha256_file(lockfile).encode())


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
        digest.update(f"X {path}\0".encode() + (sha256_file(path).encode() if os.path.isfile(path) else b"missing"))
    return digest.hexdigest()


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
