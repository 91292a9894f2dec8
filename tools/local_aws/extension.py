"""Registers the extension with moto: call ``install()`` once before the first request (idempotent).

* Service Catalog: moto resolves a service's backends through ``moto.servicecatalog.servicecatalog_backends``
  and its handlers through ``moto.servicecatalog.urls.url_paths``; both are pointed at our subclasses.
* CloudFormation: nested-stack ``TemplateURL`` resolves every S3 URL form against moto's S3
  (moto's own resolver misreads path-style URLs on a local endpoint); JSON templates are parsed as JSON,
  not by PyYAML's pure-Python loader.
* IAM roles and CloudFormation stacks are indexed by name (``moto_indexes``), so lookups do not walk them all.
* Stack creates and updates run as CloudFormation runs them: in place, cleanup last, rollback on failure
  (``stack_updates``).
* The gate (counts, latency, throttling, S3 expected owner) wraps moto's in-process request handler, so
  ``mock_aws`` behaves like the server.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import sys
import threading
from typing import Any, Optional, Sequence
from urllib.parse import urlsplit

from local_aws import apigateway_methods, aws_limits, lambda_layers

_lock = threading.Lock()
_installed = False


def _gated_process_request(original: Any) -> Any:
    from local_aws.gate import GATE, AwsRequest, decoded_path, split_query

    def process_request(request: Any) -> Optional[Any]:
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray)):
            body = b""  # a stream (S3 uploads): classification never needs it
        headers = {str(k).lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()}
        aws_request = AwsRequest(
            method=request.method.upper(),
            host=parts.netloc,
            path=decoded_path(parts.path) or "/",
            query=split_query(parts.query),
            headers=headers,
            body=bytes(body),
        )
        answer = GATE.admit(aws_request)
        if answer is not None:
            return answer
        return original(request)

    process_request.local_aws_gate = True  # type: ignore[attr-defined]
    return process_request


_CFN_MODULES = ("moto.cloudformation.utils", "moto.cloudformation.models", "moto.cloudformation.responses")


def _nested_stack_attribute(stack: Any, attribute_name: str) -> Any:
    """``Fn::GetAtt [Nested, Outputs.Name]``, which moto's nested Stack resource does not answer."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name.startswith("Outputs."):
        wanted = attribute_name.split(".", 1)[1]
        for output in stack.output_map.values():
            if output and output.key == wanted:
                return output.value
    raise UnformattedGetAttTemplateException()


def _json_first_parse_template(moto_parse: Any) -> Any:
    """moto's ``Stack.parse_template`` runs every template, JSON included, through PyYAML's pure-Python
    ``yaml.Loader``: ~90% of a stack build's CPU for our (JSON) templates. A template that is a JSON object
    is read with ``json`` (what CloudFormation does with a JSON template; it also reads ``1e5`` as a number
    where YAML 1.1 makes it a string); anything else still goes through moto's own parser."""

    def parse_template(template: Any) -> Any:
        if isinstance(template, (str, bytes, bytearray)):
            try:
                parsed = json.loads(template)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        return moto_parse(template)

    parse_template.local_aws_json_first = True  # type: ignore[attr-defined]
    return parse_template


def _patch_template_resolver(module: Any) -> None:
    from local_aws.templates import moto_stack_from_s3_url

    if hasattr(module, "get_stack_from_s3_url"):
        module.get_stack_from_s3_url = moto_stack_from_s3_url
    stack_class = getattr(module, "Stack", None) if module.__name__ == "moto.cloudformation.models" else None
    if stack_class is not None and not hasattr(stack_class, "get_cfn_attribute"):
        stack_class.get_cfn_attribute = _nested_stack_attribute
    if stack_class is not None and not getattr(stack_class.parse_template, "local_aws_json_first", False):
        stack_class.parse_template = staticmethod(_json_first_parse_template(stack_class.parse_template))
    if module.__name__ == "moto.cloudformation.models":
        from local_aws import parameter_constraints, stack_updates
        from local_aws.moto_indexes import patch_cloudformation

        patch_cloudformation(module)
        stack_updates.install(module, sys.modules["moto.cloudformation.parsing"])
        parameter_constraints.install(sys.modules["moto.cloudformation.parsing"])


_PATCHED_MODULES = tuple(dict.fromkeys(
    _CFN_MODULES + ("moto.iam.models",) + aws_limits.MODULES + apigateway_methods.MODULES + lambda_layers.MODULES))


def _patch_module(module: Any) -> None:
    if module.__name__ == "moto.iam.models":
        from local_aws.moto_indexes import patch_iam

        patch_iam(module)
    elif module.__name__ in _CFN_MODULES:
        _patch_template_resolver(module)
    aws_limits.patch_module(module)  # after moto_indexes: the checks wrap its copies
    apigateway_methods.patch_module(module)
    lambda_layers.patch_module(module)


class _PatchCloudFormationOnImport(importlib.abc.MetaPathFinder):
    """Patches moto's CloudFormation (and IAM) modules when they are first imported: importing them costs
    ~2 s (cfn-lint), which the server and most tests never pay unless they use CloudFormation."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Any = None) -> Any:
        if fullname not in _PATCHED_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        real_exec = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            real_exec(module)
            _patch_module(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        import moto.servicecatalog as sc_package
        import moto.servicecatalog.models as sc_models
        import moto.servicecatalog.responses as sc_responses
        import moto.servicecatalog.urls as sc_urls
        from moto.core.models import botocore_stubber

        from local_aws import servicecatalog

        sc_package.servicecatalog_backends = servicecatalog.servicecatalog_backends  # type: ignore[attr-defined]
        sc_models.servicecatalog_backends = servicecatalog.servicecatalog_backends  # type: ignore[attr-defined]
        sc_responses.servicecatalog_backends = servicecatalog.servicecatalog_backends  # type: ignore[attr-defined]
        for path, handler in list(sc_urls.url_paths.items()):
            if getattr(handler, "__self__", None) is sc_responses.ServiceCatalogResponse:
                sc_urls.url_paths[path] = servicecatalog.ExtendedServiceCatalogResponse.dispatch

        for name in _PATCHED_MODULES:
            if name in sys.modules:
                _patch_module(sys.modules[name])
        sys.meta_path.insert(0, _PatchCloudFormationOnImport())

        if not getattr(botocore_stubber.process_request, "local_aws_gate", False):
            botocore_stubber.process_request = _gated_process_request(botocore_stubber.process_request)  # type: ignore[method-assign]
        _installed = True
