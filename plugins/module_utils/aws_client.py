# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base every AWS-talking module of this collection is built on.

* ``create_aws_module`` adds the collection's shared options (``max_attempts``) to amazon.aws's
  ``AnsibleAWSModule``, which already brings credentials, profile, region and ``endpoint_url``
  (``AWS_ENDPOINT_URL`` is honoured by boto3 itself when no endpoint is passed).
* ``aws_client`` returns a client that retries in botocore's *adaptive* mode (``max_attempts``,
  3 by default) and, around that, with ``AWSRetry`` jittered backoff that also knows the
  throttling codes of the JSON protocol services (Service Catalog, SSM) and of S3.
* ``paginate`` lists through a paginator with ``build_full_result`` under the same retry.
* ``aws_error_message`` / ``fail_aws`` turn any botocore error into one line that names the call,
  the region and the resource.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

try:
    import botocore.config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # handled by AnsibleAWSModule, which reports missing botocore
    BotoCoreError = ClientError = Exception  # type: ignore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DEFAULT_MAX_ATTEMPTS = 3

# AWSRetry knows Throttling, RequestLimitExceeded, TooManyRequestsException, ...; JSON protocol services
# answer ThrottlingException and S3 answers SlowDown, which it does not retry by default. A throttled S3
# HEAD request has no body, so its error code is only the HTTP status: "503".
EXTRA_RETRY_CODES = ["ThrottlingException", "SlowDown", "503", "ThrottledException", "RequestThrottled"]

SHARED_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "max_attempts": {"type": "int", "default": DEFAULT_MAX_ATTEMPTS},
}


def create_aws_module(argument_spec: Dict[str, Any], **kwargs: Any) -> AnsibleAWSModule:
    """An ``AnsibleAWSModule`` with the collection's shared options merged into ``argument_spec``."""
    spec = dict(SHARED_ARGUMENT_SPEC)
    spec.update(argument_spec)
    module = AnsibleAWSModule(argument_spec=spec, **kwargs)
    if module.params["max_attempts"] < 1:
        module.fail_json(msg=f"max_attempts must be 1 or more, got {module.params['max_attempts']}")
    return module


def retry_decorator(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Callable:
    """Outer retry: jittered exponential backoff on throttling and transient server errors."""
    return AWSRetry.jittered_backoff(
        retries=max(max_attempts, 1) + 2,
        delay=1,
        max_delay=20,
        catch_extra_error_codes=EXTRA_RETRY_CODES,
    )


def botocore_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS, **extra: Any) -> "botocore.config.Config":
    """botocore client config: adaptive retry mode (client-side rate limiting on throttles).

    ``total_max_attempts`` counts the first try; botocore's ``max_attempts`` would count retries only
    (one call more than the documented ``max_attempts`` option says).
    """
    return botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts}, **extra)


def aws_client(module: AnsibleAWSModule, service: str, **config_extra: Any) -> Any:
    """A client whose calls retry when made with ``aws_retry=True``."""
    attempts = module.params.get("max_attempts") or DEFAULT_MAX_ATTEMPTS
    return module.client(
        service,
        retry_decorator=retry_decorator(attempts),
        config=botocore_config(attempts, **config_extra),
    )


def paginate(client: Any, operation: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS, **kwargs: Any) -> Dict[str, Any]:
    """All pages of ``operation`` merged by botocore's ``build_full_result``, retried as a whole.

    ``client`` may be a retrying wrapper or a plain boto3 client.
    """
    raw_client = getattr(client, "client", client)

    @retry_decorator(max_attempts)
    def _all_pages() -> Dict[str, Any]:
        return raw_client.get_paginator(operation).paginate(**kwargs).build_full_result()

    return _all_pages()


def error_code(exc: BaseException) -> Optional[str]:
    """The AWS error code of a ClientError, None for anything else."""
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


def fail_aws(module: AnsibleAWSModule, exc: BaseException, operation: str, resource: Optional[str] = None, **result: Any) -> None:
    """Fail the module with the one-line message plus amazon.aws's error details (SDK versions, response)."""
    message = aws_error_message(exc, operation, module.region, resource)
    response = getattr(exc, "response", None)
    extra: Dict[str, Any] = dict(result)
    if isinstance(response, dict):
        extra["error"] = response.get("Error", {})
        extra["response_metadata"] = response.get("ResponseMetadata", {})
    extra.update(module._gather_versions())
    module.fail_json(msg=message, **extra)


def collect(result: Dict[str, Any], key: str) -> List[Dict[str, Any]]:
    """The list under ``key`` of a ``paginate`` result, empty when absent."""
    return list(result.get(key) or [])


__all__ = [
    "AnsibleAWSModule",
    "AWSRetry",
    "BotoCoreError",
    "ClientError",
    "DEFAULT_MAX_ATTEMPTS",
    "EXTRA_RETRY_CODES",
    "SHARED_ARGUMENT_SPEC",
    "aws_client",
    "aws_error_message",
    "botocore_config",
    "collect",
    "create_aws_module",
    "error_code",
    "fail_aws",
    "paginate",
    "retry_decorator",
]
