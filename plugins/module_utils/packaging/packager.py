# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The packager seam: what the runner needs from a packager CLI, and the errors it raises.

A packager runs a command in a working copy of a unit (a service folder, or the init folder for compose)
and leaves, per stack, an output folder holding a CloudFormation template and artifacts. ``Packager`` is
what the runner (``runner.py``) uses of it and nothing more: a config check, the files the config reads,
the command, the output folder, the version (part of the cache key), extra environment, and the reader
that turns an output folder into the published template and ZIPs.

``ServerlessPackager`` (``serverless.py``), ``ComposePackager`` (``compose.py``) and ``SamPackager``
(``sam.py``: ``sam build``, then a ``collect`` of its own that publishes and transforms) implement it.
"""

from __future__ import annotations

import abc
import json
import os
import re
import shutil
import subprocess
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.output import collect_output

OUTPUT_TAIL_LINES = 25


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


class Packager(abc.ABC):
    """A packager CLI as the runner uses it (see the module docstring)."""

    name: str = ""  # in every result and in the cache key
    binary: str = ""  # the resolved CLI
    version: str = ""  # "<package>@<version>", in the cache key
    output_folder: str = ".serverless"  # a stack's output, relative to its folder in the working copy
    config_names: Tuple[str, ...] = ()  # a folder holding one of these is something this packager packages
    # The build is the same for every region (only collect() depends on it): the runner builds once per stage.
    region_independent: bool = False

    @abc.abstractmethod
    def check_config(self, name: str, source_dir: str, stage: str) -> str:
        """The config file of ``source_dir``, after catching the mistakes the CLI reports badly; raises PackagingError."""

    @abc.abstractmethod
    def command(self, stage: str, region: str) -> List[str]:
        """The argument list run in the working copy."""

    def inputs(self, config: str) -> List[str]:
        """Files outside the unit's folder that its config reads: they are part of the cache key."""
        return []

    def cache_context(self) -> Dict[str, str]:
        """What besides the sources, stage and region makes this packager's output differ."""
        return {"framework": self.version, "binary": self.binary, "packager": self.name}

    def environment(self, env: Dict[str, str], build_root: str) -> Dict[str, str]:
        """The environment the command runs with (``env`` is the module's, with the CLI settings)."""
        return env

    def collect(self, name: str, kind: str, stage: str, output_dir: str, out_dir: str, machine_paths: Sequence[str] = ()) -> Dict[str, Any]:
        """The normalised template and ZIPs of one stack's output folder (``output.collect_output``)."""
        return collect_output(name, kind, stage, output_dir, out_dir, machine_paths)


def resolve_binary(binary: str, what: str) -> str:
    path = binary if os.sep in binary else (shutil.which(binary) or binary)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise PackagingError(f"{what} binary not found or not executable: {binary}")
    return os.path.abspath(path)


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
    return unversioned_binary(binary)


def unversioned_binary(binary: str) -> str:
    """``<name>@<size>-<mtime>``: what stands for the version of a CLI whose package metadata cannot be found."""
    stat = os.stat(binary)
    return f"{os.path.basename(binary)}@{stat.st_size}-{int(stat.st_mtime)}"


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
