"""Fixtures of the AWS layer's tests (test_aws_client.py, test_aws_api.py)."""
from __future__ import annotations

import time
import typing as t

import pytest

REGION = "us-east-1"


@pytest.fixture(name="sleeps")
def fixture_sleeps(monkeypatch: pytest.MonkeyPatch) -> t.List[float]:
    """Every ``time.sleep`` of the backoff, recorded instead of slept."""
    recorded: t.List[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


@pytest.fixture(name="aws_env")
def fixture_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override, so clients reach moto's interception (or nothing)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
