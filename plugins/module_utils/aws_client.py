# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base every AWS-talking module of this collection is built on: one module class, one retry policy,
one error type.

**Retry policy (the only one).** Every client is made with botocore's *adaptive* retry mode and
``total_max_attempts = max_attempts`` (the shared option, ``DEFAULT_MAX_ATTEMPTS`` = 10 by default; the count
includes the first try). botocore then retries, inside each call, throttling errors (``Throttling``,
``ThrottlingException``, ``TooManyRequestsException``, ``RequestLimitExceeded``, S3 ``SlowDown``, ...),
transient errors (HTTP 500/502/503/504, ``RequestTimeout``, ``InternalError``) and connection errors, with
exponential backoff and full jitter (at most 20 s between tries), and its client-side rate limiter slows the
client down while AWS throttles. Nothing retries around it: no ``AWSRetry`` decorator, no retried
paginations, so a call is tried at most ``max_attempts`` times. Creates stay idempotent across those tries
through their idempotency tokens (``IdempotencyToken``, ``ProvisionToken``, ``UpdateToken``).
Ten attempts keep a deploy with 30 % of the calls throttled green (``tests/integration/test_chaos.py``): a
call then fails only when ten tries in a row are throttled (0.3^10, about 6 in a million).

**Error type.** ``AwsApiError`` (an amazon.aws ``AnsibleAWSError``) is the one exception for a failed AWS
call. It carries the operation, the resource, the region, the error code and the botocore exception, and
its ``str()`` is the one line ``<Operation> failed in <region> for <resource>: <Code>: <message>``. The
access layer (``aws_api.py``) raises it; modules fail with ``module.fail_json_aws_error(exc)``.

* ``create_aws_module`` builds an ``AwsModule`` (amazon.aws's ``AnsibleAWSModule`` plus ``max_attempts``,
  ``fail_json_aws_error`` in the one-line form, and ``run_service``: call one service function, exit or fail).
* ``botocore_client`` makes a plain client with the policy (what ``aws_api.AwsApis`` caches, one per service),
  from one boto3 session per process and credential source: amazon.aws's ``module.client`` makes a new session
  for every client, and a new session reads botocore's service models from disk again (about 0.2 s of CPU per
  client; a module makes several).
* ``aws_client`` is the same client for callers written in amazon.aws's style: it accepts (and ignores)
  ``aws_retry=True``, because botocore already retries every call.
* ``error_code``, ``aws_error_message`` and ``fail_aws`` read and report any botocore error or ``AwsApiError``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, NoReturn, Optional, Tuple

try:
    import boto3.session
    import botocore.config
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
except ImportError:  # handled by AnsibleAWSModule, which reports missing botocore
    BotoCoreError = ClientError = NoRegionError = Exception  # type: ignore

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

DEFAULT_MAX_ATTEMPTS = 10
RETRY_MODE = "adaptive"

SHARED_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "max_attempts": {"type": "int", "default": DEFAULT_MAX_ATTEMPTS},
}
REGION_REQUIRED = "region is required (set it with module_defaults for group/multiregion.serverless.aws)"
USER_AGENT_EXTRA = f"APN/1.0 Ansible/{ANSIBLE_VERSION} multiregion.serverless"


# ------------------------------------------------------------------------------------------------ errors


def error_code(exc: BaseException) -> Optional[str]:
    """The AWS error code of a ClientError (or of the one an ``AnsibleAWSError`` wraps), None for anything else."""
    if isinstance(exc, AnsibleAWSError):
        return error_code(exc.exception) if exc.exception is not None else None
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def aws_error_message(exc: BaseException, operation: str, region: Optional[str], resource: Optional[str] = None) -> str:
    """One line: ``<Operation> failed in <region> for <resource>: <Code>: <message>``."""
    where = f" in {region}" if region else ""
    what = f" for {resource}" if resource else ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        detail = f"{response['Error'].get('Code', 'Error')}: {response['Error'].get('Message', '')}".rstrip(": ")
    else:
        detail = str(exc) or type(exc).__name__
    return " ".join(f"{operation} failed{where}{what}: {detail}".split())


class AwsApiError(AnsibleAWSError):
    """An AWS call that failed after botocore's retries.

    Built by the access layer with ``exception`` (the botocore error), ``operation``, ``region`` and ``resource``;
    ``str()`` is then the one-line ``aws_error_message``. amazon.aws's ``AWSErrorHandler`` builds it with
    ``message`` and ``exception`` only; ``at()`` gives the located copy. ``kwargs`` (amazon.aws's convention)
    holds result keys a module adds when it fails with it.
    """

    def __init__(
        self,
        message: Optional[str] = None,
        exception: Optional[BaseException] = None,
        operation: Optional[str] = None,
        region: Optional[str] = None,
        resource: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        if exception is not None and operation:
            message = aws_error_message(exception, operation, region, resource)
        super().__init__(message=message, exception=exception, **kwargs)
        self.operation = operation
        self.region = region
        self.resource = resource

    @property
    def code(self) -> Optional[str]:
        return error_code(self)

    def __str__(self) -> str:
        return self.message or super().__str__()

    def at(self, operation: str, region: Optional[str], resource: Optional[str]) -> "AwsApiError":
        """This error, located: what failed, where, on what."""
        return AwsApiError(exception=self.exception, operation=operation, region=region, resource=resource, **self.kwargs)

    def with_note(self, note: str) -> "AwsApiError":
        """The same error with `` (<note>)`` after its message (what the caller makes of it)."""
        copy = AwsApiError(message=f"{self.message} ({note})", exception=self.exception, **self.kwargs)
        copy.operation, copy.region, copy.resource = self.operation, self.region, self.resource
        return copy

    def details(self) -> Dict[str, Any]:
        """The botocore error and response metadata, for a module's failure result."""
        response = getattr(self.exception, "response", None)
        if not isinstance(response, dict):
            return {}
        return {"error": response.get("Error", {}), "response_metadata": response.get("ResponseMetadata", {})}


class ServiceFailure(Exception):
    """A service function's failure that is not an AWS error: the one-line message and the result so far."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


# ---------------------------------------------------------------------------------------------- the module


# Constraints between options a module may declare beside its argument spec (AnsibleModule's keyword arguments).
MODULE_CONSTRAINTS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


def module_argument_spec(argument_spec: Dict[str, Any]) -> Dict[str, Any]:
    """A module's own options with the collection's shared ones (amazon.aws adds its connection options itself)."""
    spec = dict(SHARED_ARGUMENT_SPEC)
    spec.update(argument_spec)
    return spec


def shared_option_error(params: Dict[str, Any], region: Optional[str], require_region: bool) -> Optional[str]:
    """What is wrong with the shared options, in one line, or None."""
    if params["max_attempts"] < 1:
        return f"max_attempts must be 1 or more, got {params['max_attempts']}"
    if require_region and not region:
        return REGION_REQUIRED
    return None


class ServiceRunner:
    """Runs one service function and reports its result or failure through ``exit_json`` / ``fail_json``.

    Shared by ``AwsModule`` (a module process) and the in-process stand-in of ``plugin_utils/in_process.py`` (an
    action on the controller), so both report the same result and the same failure for the same call.
    """

    region: Optional[str]

    def exit_json(self, **result: Any) -> NoReturn:
        raise NotImplementedError

    def fail_json(self, msg: str, **result: Any) -> NoReturn:
        raise NotImplementedError

    def _gather_versions(self) -> Dict[str, Any]:
        raise NotImplementedError

    def fail_json_aws_error(self, exception: Any, **result: Any) -> NoReturn:
        """Fail with an ``AwsApiError`` (a plain botocore error is located as "AWS call" first): its one line, the
        botocore details, the SDK versions, ``result``."""
        if not isinstance(exception, AwsApiError):
            exception = AwsApiError(exception=exception, operation="AWS call", region=self.region)
        failure: Dict[str, Any] = dict(exception.kwargs)
        failure.update(result)
        failure.update(exception.details())
        failure.update(self._gather_versions())
        self.fail_json(msg=str(exception), **failure)

    def run_service(self, service: Callable[..., Dict[str, Any]], *args: Any, **kwargs: Any) -> NoReturn:
        """kubernetes.core's shape: call one service function, exit with its result or fail with its error."""
        try:
            result = service(*args, **kwargs)
        except AwsApiError as exc:
            self.fail_json_aws_error(exc)
        except ServiceFailure as exc:
            self.fail_json(msg=exc.msg, **exc.result)
        self.exit_json(**result)


class AwsModule(ServiceRunner, AnsibleAWSModule):  # type: ignore[misc]
    """``AnsibleAWSModule`` whose AWS failures read as one line, and which runs one service function."""

    def exit_json(self, **result: Any) -> NoReturn:  # pylint: disable=arguments-differ
        AnsibleAWSModule.exit_json(self, **result)

    def fail_json(self, msg: str, **result: Any) -> NoReturn:  # pylint: disable=arguments-differ
        AnsibleAWSModule.fail_json(self, msg=msg, **result)

    def _gather_versions(self) -> Dict[str, Any]:
        return AnsibleAWSModule._gather_versions(self)


def create_aws_module(argument_spec: Dict[str, Any], require_region: bool = False, **kwargs: Any) -> AwsModule:
    """An ``AwsModule`` with the collection's shared options merged into ``argument_spec``."""
    module = AwsModule(argument_spec=module_argument_spec(argument_spec), **kwargs)
    error = shared_option_error(module.params, module.region if require_region else None, require_region)
    if error:
        module.fail_json(msg=error)
    return module


# --------------------------------------------------------------------------------------------- the clients


def botocore_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS, **extra: Any) -> "botocore.config.Config":
    """The retry policy as a botocore client config.

    ``total_max_attempts`` counts the first try; botocore's ``max_attempts`` would count retries only
    (one call more than the documented ``max_attempts`` option says).
    """
    return botocore.config.Config(retries={"mode": RETRY_MODE, "total_max_attempts": max_attempts}, **extra)


_SESSIONS: Dict[Tuple[Any, ...], "boto3.session.Session"] = {}
# boto3 sessions are not thread-safe (clients are): s3_sync and the rollout make clients from worker threads.
_SESSIONS_LOCK = threading.Lock()


def _session_key(profile: Optional[str]) -> Tuple[Any, ...]:
    """What a session's credential resolution reads: the profile and the ``AWS_*`` environment (tests change it)."""
    return (profile, tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_"))))


def botocore_client(module: AnsibleAWSModule, service: str, **config_extra: Any) -> Any:
    """A plain boto3 client of ``service`` for the module's credentials and region, with the retry policy.

    Built like amazon.aws's ``module.client`` (same options: profile, keys, endpoint, ``validate_certs``,
    ``aws_ca_bundle``, ``aws_config``), but from a session kept for the process, as boto3's own default session is.
    """
    attempts = module.params.get("max_attempts") or DEFAULT_MAX_ATTEMPTS
    region, endpoint_url, connect = get_aws_connection_info(module)
    profile = connect.pop("profile_name", None)
    config = botocore_config(attempts, user_agent_extra=USER_AGENT_EXTRA, **config_extra)
    user_config = connect.pop("aws_config", None)
    if user_config is not None:
        config = config.merge(user_config)
    try:
        with _SESSIONS_LOCK:
            key = _session_key(profile)
            if key not in _SESSIONS:
                _SESSIONS[key] = boto3.session.Session(profile_name=profile)
            return _SESSIONS[key].client(service, config=config, region_name=region, endpoint_url=endpoint_url, **connect)
    except (ValueError, BotoCoreError) as exc:
        if isinstance(exc, NoRegionError):
            module.fail_json(msg=REGION_REQUIRED)
        module.fail_json_aws(exc, msg="Couldn't connect to AWS")


def _botocore_retries_only(function: Callable) -> Callable:
    """The ``retry_decorator`` of ``aws_client``: no retry of its own (botocore's retries are the policy)."""
    return function


def aws_client(module: AnsibleAWSModule, service: str, **config_extra: Any) -> Any:
    """``botocore_client`` for code written in amazon.aws's style: calls may pass ``aws_retry=True`` (ignored)."""
    return RetryingBotoClientWrapper(botocore_client(module, service, **config_extra), _botocore_retries_only)


def fail_aws(module: ServiceRunner, exc: BaseException, operation: Optional[str] = None, resource: Optional[str] = None, **result: Any) -> NoReturn:
    """Fail the module on ``exc``, an ``AwsApiError`` or a botocore error of ``operation`` on ``resource``."""
    if not isinstance(exc, AwsApiError):
        exc = AwsApiError(exception=exc, operation=operation or "AWS call", region=module.region, resource=resource)
    module.fail_json_aws_error(exc, **result)


__all__ = [
    "AnsibleAWSModule",
    "AwsApiError",
    "AwsModule",
    "BotoCoreError",
    "ClientError",
    "DEFAULT_MAX_ATTEMPTS",
    "SHARED_ARGUMENT_SPEC",
    "MODULE_CONSTRAINTS",
    "ServiceFailure",
    "ServiceRunner",
    "aws_client",
    "aws_error_message",
    "botocore_client",
    "botocore_config",
    "create_aws_module",
    "error_code",
    "fail_aws",
    "module_argument_spec",
    "shared_option_error",
]
