"""The local AWS server: moto's WSGI dispatcher behind our gate, plus the ``/_local_aws/`` control endpoints.

    POST   /_local_aws/faults     JSON fault settings, merged into the current ones (400 on a bad value)
    GET    /_local_aws/faults     the current fault settings
    DELETE /_local_aws/faults     back to no faults
    GET    /_local_aws/calls      {service: {operation: count}} since start or the last DELETE
    GET    /_local_aws/throttled  the same, for the calls answered with a throttling error
    DELETE /_local_aws/calls      resets both counts
    POST   /_local_aws/reset      wipes all moto state (moto's reset), faults and counts
    GET    /_local_aws/health     {"status": "ok"}
"""
from __future__ import annotations

import argparse
import io
import json
import signal
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional

from local_aws.extension import install
from local_aws.faults import CALLS, FAULTS, FaultError
from local_aws.gate import GATE, AwsRequest, Gate, decoded_path, split_query

StartResponse = Callable[..., Any]
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            429: "Too Many Requests", 503: "Slow Down"}


def _respond(start_response: StartResponse, status: int, headers: Dict[str, str], body: bytes) -> List[bytes]:
    header_list = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
    header_list.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_REASONS.get(status, 'Error')}", header_list)
    return [body]


def _json(start_response: StartResponse, status: int, payload: Any) -> List[bytes]:
    return _respond(start_response, status, {"Content-Type": "application/json"}, json.dumps(payload).encode())


def _request_from_environ(environ: Dict[str, Any]) -> AwsRequest:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    body = b""
    # Only the query protocol (CloudFormation, STS, ...) names its operation in the body; other bodies
    # (S3 uploads) stay unread and stream through to moto.
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
    return AwsRequest(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        host=environ.get("HTTP_HOST", ""),
        path=decoded_path(environ.get("PATH_INFO", "/")) or "/",
        query=split_query(environ.get("QUERY_STRING", "")),
        headers=headers,
        body=body,
    )


class LocalAwsApp:
    """WSGI: control endpoints, then the gate, then moto."""

    def __init__(self, moto_app: Callable[[Dict[str, Any], StartResponse], Iterable[bytes]], gate: Gate = GATE) -> None:
        self.moto_app = moto_app
        self.gate = gate

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_local_aws/"):
            return self.control(environ, start_response, path[len("/_local_aws/"):].strip("/"))
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        answer = self.gate.admit(_request_from_environ(environ))
        if answer is not None:
            return _respond(start_response, *answer)
        return self.moto_app(environ, start_response)

    def control(self, environ: Dict[str, Any], start_response: StartResponse, what: str) -> List[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if what == "faults":
            if method == "GET":
                return _json(start_response, 200, FAULTS.settings.as_dict())
            if method == "DELETE":
                FAULTS.clear()
                return _json(start_response, 200, FAULTS.settings.as_dict())
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    raw = json.loads(environ["wsgi.input"].read(length) or b"{}")
                    if not isinstance(raw, dict):
                        raise FaultError("the body must be a JSON object")
                    return _json(start_response, 200, FAULTS.update(raw).as_dict())
                except (ValueError, FaultError) as exc:
                    return _json(start_response, 400, {"error": str(exc)})
        elif what == "calls":
            if method == "GET":
                return _json(start_response, 200, CALLS.calls())
            if method == "DELETE":
                CALLS.reset()
                return _json(start_response, 200, {})
        elif what == "throttled" and method == "GET":
            return _json(start_response, 200, CALLS.throttled())
        elif what == "reset" and method == "POST":
            from moto.core.base_backend import BackendDict

            BackendDict.reset()
            FAULTS.clear()
            CALLS.reset()
            return _json(start_response, 200, {"status": "reset"})
        elif what == "health" and method == "GET":
            return _json(start_response, 200, {"status": "ok"})
        else:
            return _json(start_response, 404, {"error": f"unknown control endpoint /_local_aws/{what}"})
        return _json(start_response, 405, {"error": f"{method} not allowed on /_local_aws/{what}"})


def build_app() -> LocalAwsApp:
    install()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return LocalAwsApp(DomainDispatcherApplication(create_backend_app))


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="local-aws", description="moto plus the multiregion.serverless extension")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (printed on the ready line)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if args.verbose:
                super().log_request(code, size)

    server = make_server(args.host, args.port, build_app(), threaded=True, request_handler=Handler)
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    # The socket listens from here on; the line tells a parent (the pytest fixture) the port.
    sys.stdout.write(f"local-aws ready on http://{host}:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
