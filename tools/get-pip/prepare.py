# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put the offline get-pip stand-in where ansible-test looks before it downloads one.

Usage: ``.venv/bin/python tools/get-pip/prepare.py HOME_DIR`` (HOME_DIR is the HOME ansible-test runs
with). Writes ``HOME_DIR/.ansible/test/cache/get_pip_<version>.py`` (the version ansible-test asks for)
and, beside it, ``bootstrap-pip/`` with a copy of the pip package of the interpreter running this script.
Idempotent; prints the path of the stand-in.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
import types

import pip
from ansible_test._internal.python_requirements import get_venv_packages

STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "get_pip.py")


def requested_pip_version(python_version: str) -> str:
    """The pip version ansible-test bootstraps into its virtual environments for ``python_version``."""
    return get_venv_packages(types.SimpleNamespace(version=python_version))["pip"]


def copy_bootstrap_pip(cache_dir: str) -> None:
    """Copy this interpreter's pip package to ``cache_dir/bootstrap-pip/pip`` unless that version is there."""
    target = os.path.join(cache_dir, "bootstrap-pip")
    version_file = os.path.join(target, "VERSION")
    if os.path.exists(version_file):
        with open(version_file, encoding="utf-8") as handle:
            if handle.read().strip() == pip.__version__:
                return
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.dirname(pip.__file__), os.path.join(target, "pip"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(version_file, "w", encoding="utf-8") as handle:
        handle.write(pip.__version__ + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: prepare.py HOME_DIR\n")
        return 2
    python_version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    cache_dir = os.path.join(os.path.abspath(argv[1]), ".ansible", "test", "cache")
    os.makedirs(cache_dir, exist_ok=True)
    copy_bootstrap_pip(cache_dir)
    version = requested_pip_version(python_version)
    script = os.path.join(cache_dir, f"get_pip_{version.replace('.', '_')}.py")
    if not (os.path.exists(script) and filecmp.cmp(STAND_IN, script, shallow=False)):
        shutil.copyfile(STAND_IN, script)
    sys.stdout.write(script + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
