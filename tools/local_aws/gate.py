"""What every AWS request passes before moto sees it: classification, counting, latency, throttling and the
S3 expected-bucket-owner check. Works on a protocol-neutral ``AwsRequest`` so the server (WSGI) and the
in-process mock (botocore's prepared request) share it.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qs, unquote

from local_aws.faults import CALLS, FAULTS, CallCounter, FaultState
from local_aws.s3_owner import EXPECTED_OWNER_HEADERS, bucket_owner_mismatch

Response = Tuple[int, Dict[str, str], bytes]

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
_S3_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?::\d+)?$")
_S3_HOST = re.compile(r"^s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?::\d+)?$")


@dataclass(frozen=True)
class AwsRequest:
    method: str
    host: str
    path: str  # percent-decoded
    query: Mapping[str, List[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class CallInfo:
    service: str  # signing name: s3, servicecatalog, ssm, cloudformation, sts, lambda, ...
    region: str
    operation: str  # API operation name: PutObject, ProvisionProduct, ...
    bucket: Optional[str] = None  # S3 only


def _service_and_region(request: AwsRequest) -> Tuple[str, str]:
    for source in (request.headers.get("authorization", ""), ",".join(request.query.get("X-Amz-Credential", []))):
        credential = source if "Credential=" in source else f"Credential={source}"
        match = _SCOPE.search(credential)
        if match:
            return match.group("service"), match.group("region")
    if _S3_VIRTUAL_HOST.match(request.host) or _S3_HOST.match(request.host):
        return "s3", "us-east-1"
    return "unknown", "us-east-1"


@lru_cache(maxsize=None)
def _service_model(service: str):  # type: ignore[no-untyped-def]
    import botocore.session

    session = botocore.session.get_session()
    for name in (service, {"monitoring": "cloudwatch", "email": "ses", "execute-api": "apigateway"}.get(service, "")):
        if name:
            try:
                return session.get_service_model(name)
            except Exception:  # noqa: BLE001 - an unknown name just means no model
                continue
    return None


def protocol_of(service: str) -> str:
    model = _service_model(service)
    return model.metadata.get("protocol", "json") if model is not None else "json"


@dataclass(frozen=True)
class _Route:
    method: str
    path: "re.Pattern[str]"
    query: Dict[str, Optional[str]]  # name -> required value (None: any value)
    headers: Tuple[str, ...]  # required header members (CopyObject's x-amz-copy-source, ...)
    specificity: int
    operation: str


@lru_cache(maxsize=None)
def _rest_routes(service: str) -> List[_Route]:
    """The REST operations of a service, most specific first. Operations sharing a method and URI
    (PutObject / CopyObject / UploadPart) differ by their required query-string and header members."""
    model = _service_model(service)
    routes: List[_Route] = []
    if model is None:
        return routes
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = operation.http.get("requestUri", "/")
        path, separator, query = uri.partition("?")
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                pattern += ".+" if piece.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(piece)
        required: Dict[str, Optional[str]] = {}
        for item in filter(None, query.split("&")):
            key, eq, value = item.partition("=")
            required[key] = value if eq else None
        headers: List[str] = []
        shape = operation.input_shape
        for member in (shape.required_members if shape is not None else []):
            location = shape.members[member].serialization.get("location")
            location_name = shape.members[member].serialization.get("name", member)
            if location == "querystring":
                required.setdefault(location_name, None)
            elif location == "header":
                headers.append(location_name.lower())
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        specificity = (len(required) + len(headers)) * 1000 + literal
        routes.append(_Route(operation.http.get("method", "POST"), re.compile(f"^{pattern}/?$"), required, tuple(headers), specificity, name))
    routes.sort(key=lambda route: -route.specificity)
    return routes


def _rest_operation(service: str, request: AwsRequest, path: str) -> Optional[str]:
    for route in _rest_routes(service):
        if route.method != request.method or not route.path.match(path):
            continue
        if not all(header in request.headers for header in route.headers):
            continue
        if all(key in request.query and (value is None or value in request.query[key]) for key, value in route.query.items()):
            return route.operation
    return None


def classify(request: AwsRequest) -> CallInfo:
    service, region = _service_and_region(request)
    target = request.headers.get("x-amz-target")
    if target:
        return CallInfo(service, region, target.rsplit(".", 1)[-1])
    action = request.query.get("Action")
    if not action and request.method == "POST" and request.body and request.headers.get(
        "content-type", ""
    ).startswith("application/x-www-form-urlencoded"):
        action = parse_qs(request.body.decode("utf-8", "replace")).get("Action")
    if action:
        return CallInfo(service, region, action[0])
    path, bucket = request.path, None
    if service == "s3":
        virtual = _S3_VIRTUAL_HOST.match(request.host)
        if virtual:
            path = f"/{virtual.group('bucket')}{path if path.startswith('/') else '/' + path}"
        bucket = path.lstrip("/").split("/", 1)[0] or None
    operation = _rest_operation(service, request, path) or f"{request.method} {request.path}"
    return CallInfo(service, region, operation, bucket)


def throttling_response(info: CallInfo) -> Response:
    """The throttling answer AWS gives for ``info.service``'s protocol."""
    request_id = str(uuid.uuid4())
    protocol = protocol_of(info.service)
    if info.service == "s3":
        body = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
            f"<Message>Please reduce your request rate.</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return 503, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    if protocol in ("query", "rest-xml"):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if protocol == "ec2":
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return 503, {"Content-Type": "text/xml"}, body.encode()
    if protocol == "rest-json":
        code, status = "TooManyRequestsException", 429
    else:
        code, status = "ThrottlingException", 400
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"__type": code, "message": "Rate exceeded"}).encode()


def access_denied_response() -> Response:
    request_id = str(uuid.uuid4())
    body = (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return 403, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()


class Gate:
    """Counts the call, sleeps the configured latency, then answers a throttle or an owner mismatch itself
    (returning the response) or lets the request through to moto (returning None)."""

    def __init__(self, faults: FaultState = FAULTS, calls: CallCounter = CALLS) -> None:
        self.faults = faults
        self.calls = calls
        self._local = threading.local()

    def admit(self, request: AwsRequest) -> Optional[Response]:
        info = classify(request)
        settings = self.faults.settings
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000.0)
        throttled = self.faults.should_throttle()
        self.calls.count(info.service, info.operation, throttled=throttled)
        if throttled:
            return throttling_response(info)
        if info.service == "s3" and any(header in request.headers for header in EXPECTED_OWNER_HEADERS):
            if bucket_owner_mismatch(request.headers, info.bucket, request.path, request.host):
                return access_denied_response()
        return None


def split_query(raw_query: str) -> Dict[str, List[str]]:
    return parse_qs(raw_query, keep_blank_values=True)


def decoded_path(raw_path: str) -> str:
    return unquote(raw_path)


GATE = Gate()
