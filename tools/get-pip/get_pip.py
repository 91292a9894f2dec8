# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for ansible-test's ``get-pip-<version>.py`` download.

``ansible-test sanity --venv`` bootstraps pip into every virtual environment it creates by running
``https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py``, which cannot be fetched here.
It first looks for the script in its cache (``~/.ansible/test/cache/get_pip_<version>.py``), where
``prepare.py`` puts this file next to a copy of the pip that runs ansible-test (``bootstrap-pip/``).

Like the real get-pip, it runs that pip from its sys.path entry to install the requested packages
(``pip==<version>`` from PyPI) into the interpreter that runs it, and understands get-pip's own
``--no-setuptools`` / ``--no-wheel`` options.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing as t

BOOTSTRAP_PIP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap-pip")


def pip_install_arguments(argv: t.List[str]) -> t.List[str]:
    """The ``pip install`` command line the real get-pip would run for ``argv``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--no-setuptools", action="store_true")
    parser.add_argument("--no-wheel", action="store_true")
    options, pip_args = parser.parse_known_args(argv)
    pip_args.append("pip")
    if not options.no_setuptools:
        pip_args.append("setuptools")
    if not options.no_wheel:
        pip_args.append("wheel")
    return ["install", "--upgrade", "--force-reinstall"] + pip_args


def main() -> int:
    if not os.path.isdir(os.path.join(BOOTSTRAP_PIP_DIR, "pip")):
        sys.stderr.write(f"get-pip stand-in: no pip found in {BOOTSTRAP_PIP_DIR}; run tools/get-pip/prepare.py\n")
        return 1
    sys.path.insert(0, BOOTSTRAP_PIP_DIR)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    return pip_main(pip_install_arguments(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
