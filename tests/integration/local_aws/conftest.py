"""``aws``: the same scenario against moto in-process (``aws_mock``) and against the server (``local_aws``).

Both parametrizations carry the ``integration`` mark through the test modules' ``pytestmark``, the in-process
one included: scripts/test.sh runs tests/integration only with ``-m integration``."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import botocore.config
import pytest


@dataclass
class Aws:
    handle: Any  # LocalAwsMock or LocalAwsServer: set_faults, calls, ...
    account_id: str
    session: Any
    kind: str

    def client(self, service: str, region: str = "us-east-1", attempts: int = 1) -> Any:
        """A client that makes at most ``attempts`` attempts per call (1: no retries, so faults show)."""
        config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts})
        return self.session.client(service, region_name=region, endpoint_url=self.handle.endpoint_url, config=config)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["mock", "server"])
def aws(request: pytest.FixtureRequest) -> Iterator[Aws]:
    if request.param == "mock":
        handle = request.getfixturevalue("aws_mock")
        yield Aws(handle, "123456789012", handle.session(), "mock")
        return
    handle = request.getfixturevalue("local_aws")
    # The server is shared by the whole session: each test works in an account of its own instead of
    # wiping state other tests may rely on.
    account_id = str(random.randint(10**11, 10**12 - 1))
    handle.clear_faults()
    try:
        yield Aws(handle, account_id, handle.session_for_account(account_id), "server")
    finally:
        handle.clear_faults()
