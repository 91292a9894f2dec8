# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""API Gateway (REST API) methods as CloudFormation and API Gateway make them, on moto's backend.

moto 5.2.1's ``AWS::ApiGateway::Method`` reads ``Integration.Uri`` and ``Integration.IntegrationHttpMethod`` as if
every integration had them, so the MOCK integration of a CORS ``OPTIONS`` method (what the Serverless Framework
generates for ``cors: true``) fails the stack with a KeyError, and so does a method without an ``Integration``. It
also drops the method's ``MethodResponses``, ``RequestParameters`` and the integration's templates and responses.

* ``Method.create_from_cloudformation_json`` is replaced: the method with every property moto's ``put_method`` takes,
  its ``MethodResponses``, then (if the template has one) its integration through the backend's ``put_integration``
  (so a template is checked like the API) and the ``IntegrationResponses``. ``Integration.Type`` is required (the
  resource schema); ``IntegrationHttpMethod`` and ``Uri`` are optional for MOCK only. An integration the backend
  refuses fails the resource (the method is removed again: CloudFormation does not create half a resource).
  Installed only while moto's method is the one it replaces (``MOTO_SOURCES``), as in ``moto_indexes``.
* ``APIGatewayBackend.put_integration``: a missing ``uri`` of an HTTP, HTTP_PROXY, AWS or AWS_PROXY integration is
  refused as AWS refuses an empty one ("Invalid HTTP endpoint specified for URI", "Invalid ARN specified in the
  request", BadRequestException); moto answered a server error (a ``TypeError`` on None).
* ``APIGatewayBackend.create_deployment``: a REST API with a method that has no integration is refused,
  BadRequestException "No integration defined for method", as AWS does; moto only refused when *no* method had one.
"""
from __future__ import annotations

from typing import Any, Dict

from local_aws.moto_indexes import source_digest

MODULES = ("moto.apigateway.models",)
_MARK = "local_aws_apigateway"
# sha256 of inspect.getsource() of the moto methods replaced here (moto 5.2.1).
MOTO_SOURCES = {
    "Method.create_from_cloudformation_json": "09f9d0e88b0df66a0f678e1252c2e25d95b35788c8f93d57436d8b09246233d5",
}
# Integration types that need IntegrationHttpMethod and a Uri (API Gateway's PutIntegration; CloudFormation's
# Integration: "For the Type property, if you specify MOCK, this property is optional").
NEEDS_URI = ("HTTP", "HTTP_PROXY", "AWS", "AWS_PROXY")


def replaceable(name: str, function: Any) -> bool:
    return source_digest(function) == MOTO_SOURCES[name]


def _mark(replacement: Any, original: Any) -> Any:
    replacement.__name__ = original.__name__
    replacement.__doc__ = original.__doc__
    replacement.__wrapped__ = original
    setattr(replacement, _MARK, True)
    return replacement


def _properties_error(logical_id: str, message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=f"Properties validation failed for resource {logical_id} with message: {message}")


def create_method(backend: Any, properties: Dict[str, Any], logical_id: str) -> Any:
    """``AWS::ApiGateway::Method``: the method, its responses, its integration and the integration's responses."""
    rest_api_id, resource_id, http_method = properties["RestApiId"], properties["ResourceId"], properties["HttpMethod"]
    integration = properties.get("Integration")
    if integration is not None and not (isinstance(integration, dict) and integration.get("Type")):
        raise _properties_error(logical_id, "#/Integration: required key [Type] not found")
    method = backend.put_method(
        function_id=rest_api_id,
        resource_id=resource_id,
        method_type=http_method,
        authorization_type=properties.get("AuthorizationType", "NONE"),
        api_key_required=properties.get("ApiKeyRequired"),
        request_parameters=properties.get("RequestParameters"),
        request_models=properties.get("RequestModels"),
        operation_name=properties.get("OperationName"),
        authorizer_id=properties.get("AuthorizerId"),
        authorization_scopes=properties.get("AuthorizationScopes"),
        request_validator_id=properties.get("RequestValidatorId"),
    )
    try:
        for response in properties.get("MethodResponses") or []:
            backend.put_method_response(
                rest_api_id, resource_id, http_method, str(response["StatusCode"]),
                response.get("ResponseModels"), response.get("ResponseParameters"),
            )
        if integration is not None:
            backend.put_integration(
                function_id=rest_api_id,
                resource_id=resource_id,
                method_type=http_method,
                integration_type=integration["Type"],
                uri=integration.get("Uri"),
                integration_method=integration.get("IntegrationHttpMethod"),
                credentials=integration.get("Credentials"),
                request_templates=integration.get("RequestTemplates"),
                passthrough_behavior=integration.get("PassthroughBehavior", "WHEN_NO_MATCH"),
                cache_namespace=integration.get("CacheNamespace"),
                timeout_in_millis=integration.get("TimeoutInMillis"),
                request_parameters=integration.get("RequestParameters"),
                content_handling=integration.get("ContentHandling"),
                connection_type=integration.get("ConnectionType"),
            )
            for response in integration.get("IntegrationResponses") or []:
                backend.put_integration_response(
                    rest_api_id, resource_id, http_method, str(response["StatusCode"]),
                    response.get("SelectionPattern"), response.get("ResponseTemplates"),
                    response.get("ResponseParameters"), response.get("ContentHandling"),
                )
    except Exception:
        backend.delete_method(rest_api_id, resource_id, http_method)
        raise
    return method


def patch_module(module: Any) -> None:
    """Install the fixes above on ``moto.apigateway.models`` (any other module is left alone). Idempotent."""
    if module.__name__ != "moto.apigateway.models":
        return
    backend_class = module.APIGatewayBackend

    original_put_integration = backend_class.put_integration
    if not getattr(original_put_integration, _MARK, False):

        def put_integration(self: Any, function_id: str, resource_id: str, method_type: str, integration_type: str,
                            uri: Any, *args: Any, **kwargs: Any) -> Any:
            if uri is None and integration_type in NEEDS_URI:
                uri = ""  # moto's checks then answer AWS's error for a missing endpoint or ARN
            return original_put_integration(self, function_id, resource_id, method_type, integration_type, uri, *args, **kwargs)

        backend_class.put_integration = _mark(put_integration, original_put_integration)

    original_create_deployment = backend_class.create_deployment
    if not getattr(original_create_deployment, _MARK, False):

        def create_deployment(self: Any, function_id: str, *args: Any, **kwargs: Any) -> Any:
            methods = [method for resource in self.get_resources(function_id) for method in resource.resource_methods.values()]
            if methods and any(method.method_integration is None for method in methods):
                raise module.BadRequestException("No integration defined for method")
            return original_create_deployment(self, function_id, *args, **kwargs)

        backend_class.create_deployment = _mark(create_deployment, original_create_deployment)

    method_class = module.Method
    original_create = method_class.create_from_cloudformation_json
    if not getattr(original_create, _MARK, False) and replaceable("Method.create_from_cloudformation_json", original_create):

        def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Dict[str, Any], account_id: str,
                                            region_name: str, **kwargs: Any) -> Any:
            backend = module.apigateway_backends[account_id][region_name]
            return create_method(backend, cloudformation_json["Properties"], kwargs.get("LogicalId", resource_name))

        method_class.create_from_cloudformation_json = classmethod(_mark(create_from_cloudformation_json, original_create.__func__))
