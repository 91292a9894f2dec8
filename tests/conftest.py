"""Shared pytest setup: the collection's FQCN imports, the local AWS fixtures, common paths."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# `ansible_collections.multiregion.serverless` resolves through the link that scripts/setup.sh makes.
for extra in (REPO_ROOT / ".collections", REPO_ROOT / "tools"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

# The local AWS (moto + our Service Catalog extension): `local_aws` (a server for the session),
# `aws_mock` (in-process under moto.mock_aws), see tools/local_aws/pytest_plugin.py.
pytest_plugins = ["local_aws.pytest_plugin"]

os.environ.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
