"""pytest fixtures for the local AWS (registered by tests/conftest.py).

* ``local_aws`` (session): a ``tools/local-aws`` server on a free port (``module_local_aws``: one of a test module's
  own, for scenarios whose state and call counts are theirs alone). ``.endpoint_url``, ``.env`` (merge into
  a subprocess environment: ``{**os.environ, **local_aws.env}``), ``.client(service, region)``,
  ``.set_faults(**faults)``, ``.clear_faults()``, ``.calls()``, ``.throttled()``, ``.reset_calls()``,
  ``.reset()`` (wipes all state), ``.session_for_account(account_id)``.
* ``aws_mock`` (function): moto's ``mock_aws`` in-process with the extension; the same methods, no server.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

TOOLS_DIR = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = TOOLS_DIR / "local-aws"
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_REGION = "us-east-1"
READY_TIMEOUT_S = 60


class _Common:
    """What both fixtures offer on top of their own fault/count plumbing."""

    endpoint_url: Optional[str] = None

    def session(self, region: str = DEFAULT_REGION, **credentials: str) -> Any:
        import boto3

        creds = {"aws_access_key_id": TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
        creds.update(credentials)
        return boto3.session.Session(region_name=region, **creds)

    def client(self, service: str, region: str = DEFAULT_REGION, **kwargs: Any) -> Any:
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return self.session(region).client(service, **kwargs)

    def session_for_account(self, account_id: str, region: str = DEFAULT_REGION) -> Any:
        """A boto3 session acting as another account: moto maps the keys of an assumed role to the role's account."""
        sts = self.client("sts", region)
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/local-aws-other-account", RoleSessionName="local-aws")["Credentials"]
        return self.session(
            region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )


class LocalAwsServer(_Common):
    """A running ``tools/local-aws`` process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.process = subprocess.Popen(
            [str(SERVER_SCRIPT), "--host", host, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        line = ""
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if "ready on " in line or not line:
                break
        if "ready on " not in line:
            self.stop()
            raise RuntimeError(f"tools/local-aws did not start (exit code {self.process.poll()}): {line!r}")
        self.endpoint_url = line.strip().rsplit(" ", 1)[-1]
        self.env: Dict[str, str] = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **TEST_CREDENTIALS,
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
            # Never pick up a developer's real profile or an instance role.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }

    def _control(self, method: str, what: str, payload: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.endpoint_url}/_local_aws/{what}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def set_faults(self, **faults: Any) -> Dict[str, Any]:
        return self._control("POST", "faults", faults)

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def calls(self) -> Dict[str, Dict[str, int]]:
        return self._control("GET", "calls")

    def throttled(self) -> Dict[str, Dict[str, int]]:
        return self._control("GET", "throttled")

    def reset_calls(self) -> None:
        self._control("DELETE", "calls")

    def reset(self) -> None:
        self._control("POST", "reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


class LocalAwsMock(_Common):
    """moto's ``mock_aws`` with the extension, in this process: boto3 clients need no endpoint."""

    endpoint_url = None

    def __init__(self) -> None:
        from local_aws import CALLS, FAULTS

        self._faults = FAULTS
        self._calls = CALLS
        self.env = {**TEST_CREDENTIALS, "AWS_DEFAULT_REGION": DEFAULT_REGION}

    def set_faults(self, **faults: Any) -> Dict[str, Any]:
        return self._faults.update(faults).as_dict()

    def clear_faults(self) -> None:
        self._faults.clear()

    def calls(self) -> Dict[str, Dict[str, int]]:
        return self._calls.calls()

    def throttled(self) -> Dict[str, Dict[str, int]]:
        return self._calls.throttled()

    def reset_calls(self) -> None:
        self._calls.reset()

    def reset(self) -> None:
        from moto.core.base_backend import BackendDict

        BackendDict.reset()
        self.clear_faults()
        self.reset_calls()


def _served() -> Iterator[LocalAwsServer]:
    server = LocalAwsServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAwsServer]:
    yield from _served()


@pytest.fixture(scope="module")
def module_local_aws() -> Iterator[LocalAwsServer]:
    """A server of the test module's own: its scenario's state and call counts are no other module's."""
    yield from _served()


@pytest.fixture
def aws_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAwsMock]:
    from local_aws import install

    install()
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**TEST_CREDENTIALS, "AWS_DEFAULT_REGION": DEFAULT_REGION}.items():
        monkeypatch.setenv(name, value)
    handle = LocalAwsMock()
    handle.clear_faults()
    handle.reset_calls()
    with mock_aws():
        try:
            yield handle
        finally:
            handle.clear_faults()
            handle.reset_calls()
