# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``serverless-compose package --stage S`` over the init stacks, as a ``Packager``.

Compose has no ``--region``: the working copy's compose file is regenerated with ``region: <region>`` on
every stack (``compose_file_for_region``). Compose starts ``serverless`` from PATH, so a folder holding a
``serverless`` link to ``sls_binary`` is put first on PATH (``environment``).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, List, Tuple

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None  # type: ignore

from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sources
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import (
    Packager,
    PackagingError,
    framework_version,
    resolve_binary,
)

COMPOSE_NAMES = ("serverless-compose.yml", "serverless-compose.yaml")


def read_compose(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = sources.load_tolerant_yaml(handle)
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


class ComposePackager(Packager):
    """``serverless-compose package --stage S``: every init stack of the compose file in one run."""

    name = "serverless-compose"
    output_folder = ".serverless"
    config_names = COMPOSE_NAMES

    def __init__(self, binary: str, sls_binary: str) -> None:
        self.binary = resolve_binary(binary, "serverless-compose")
        self.sls_binary = resolve_binary(sls_binary, "serverless")
        self.version = f"{framework_version(self.binary)}+{framework_version(self.sls_binary)}"

    def check_config(self, name: str, source_dir: str, stage: str) -> str:
        compose_file = sources.find_config(source_dir, COMPOSE_NAMES)
        if compose_file is None:
            raise PackagingError(f"no serverless-compose.yml in {source_dir}", name)
        return compose_file

    def stacks(self, compose_file: str, stage: str) -> Tuple[Dict[str, Any], Dict[str, str], List[str]]:
        """The compose document, ``{stack: its folder}`` and the files the stacks' configs read (each config checked)."""
        document = read_compose(compose_file)
        init_dir = os.path.dirname(compose_file)
        stacks = {stack: os.path.normpath(os.path.join(init_dir, settings["path"])) for stack, settings in document["services"].items()}
        references: List[str] = []
        for stack, path in stacks.items():
            references += sources.referenced_files(sources.check_config(stack, path, stage))
        return document, stacks, references

    def cache_context(self) -> Dict[str, str]:
        return dict(super().cache_context(), sls_binary=self.sls_binary)

    def environment(self, env: Dict[str, str], build_root: str) -> Dict[str, str]:
        shim_dir = os.path.join(build_root, "bin", hashlib.sha256(self.sls_binary.encode()).hexdigest()[:12])
        shim = os.path.join(shim_dir, "serverless")
        os.makedirs(shim_dir, exist_ok=True)
        if os.path.realpath(shim) != os.path.realpath(self.sls_binary):
            temporary = f"{shim}.tmp-{os.getpid()}"
            os.symlink(self.sls_binary, temporary)
            os.replace(temporary, shim)
        return dict(env, PATH=shim_dir + os.pathsep + env.get("PATH", os.environ.get("PATH", "")))

    def command(self, stage: str, region: str) -> List[str]:
        return [self.binary, "package", "--stage", stage]

    @staticmethod
    def compose_file_for_region(document: Dict[str, Any], region: str) -> bytes:
        return yaml.safe_dump(compose_for_region(document, region), sort_keys=False).encode()
