"""The local AWS: moto plus this project's Service Catalog extension, fault injection and call counting.

* ``install()`` registers the extension with moto (idempotent); it must run before the first request that
  reaches Service Catalog, which ``local_aws.server`` and the ``aws_mock`` fixture both guarantee.
* ``FAULTS`` / ``CALLS`` hold the fault settings and the call counts of this process.
See docs/local-aws.md.
"""
from __future__ import annotations

from local_aws.faults import CALLS, FAULTS
from local_aws.extension import install

__all__ = ["CALLS", "FAULTS", "install"]
