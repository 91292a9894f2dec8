# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop the local AWS (tools/local-aws) for a molecule scenario, and read what it holds.

    local_aws.py start STATE_DIR     start it on a free port in the background, wait until it is ready,
                                     write STATE_DIR/local-aws.json ({"pid", "endpoint_url"}); prints it
    local_aws.py stop STATE_DIR      stop the server recorded there (SIGTERM, then SIGKILL) and remove the file
    local_aws.py artifacts ENDPOINT REGION PRODUCT...
                                     prints {product: {"product_id", "artifacts"}} (JSON) as boto3 sees them

``start`` and ``stop`` print ``changed`` or ``unchanged`` as their last line, for ``changed_when``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import typing as t

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SERVER = os.path.join(REPO_ROOT, "tools", "local-aws")
STATE_FILE = "local-aws.json"
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(state_dir: str) -> t.Optional[t.Dict[str, t.Any]]:
    try:
        with open(os.path.join(state_dir, STATE_FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def start(state_dir: str) -> int:
    state = read_state(state_dir)
    if state and running(int(state["pid"])):
        print(json.dumps(state))
        print("unchanged")
        return 0
    os.makedirs(state_dir, exist_ok=True)
    log_path = os.path.join(state_dir, "local-aws.log")
    port = free_port()
    with open(log_path, "wb") as log:
        # A session of its own: the server outlives this helper and the ansible task that ran it.
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [SERVER, "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as log_text:
            ready = [line for line in log_text if "ready on " in line]
        if ready:
            state = {"pid": process.pid, "endpoint_url": ready[0].strip().rsplit(" ", 1)[-1], "log": log_path}
            with open(os.path.join(state_dir, STATE_FILE), "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            print(json.dumps(state))
            print("changed")
            return 0
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    with open(log_path, encoding="utf-8", errors="replace") as log_text:
        sys.stderr.write(f"tools/local-aws did not become ready (exit code {process.poll()}):\n{log_text.read()}\n")
    return 1


def stop(state_dir: str) -> int:
    state = read_state(state_dir)
    if state is None:
        print("unchanged")
        return 0
    pid = int(state["pid"])
    if running(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    os.remove(os.path.join(state_dir, STATE_FILE))
    print("changed")
    return 0


def artifacts(endpoint_url: str, region: str, products: t.List[str]) -> int:
    import boto3  # pylint: disable=import-outside-toplevel

    catalog = boto3.client(
        "servicecatalog", region_name=region, endpoint_url=endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    found: t.Dict[str, t.Any] = {}
    for product in products:
        product_id = catalog.describe_product_as_admin(Name=product)["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        details = catalog.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
        found[product] = {"product_id": product_id, "artifacts": details}
    print(json.dumps(found, default=str))
    return 0


def main(argv: t.List[str]) -> int:
    if len(argv) == 3 and argv[1] == "start":
        return start(argv[2])
    if len(argv) == 3 and argv[1] == "stop":
        return stop(argv[2])
    if len(argv) >= 5 and argv[1] == "artifacts":
        return artifacts(argv[2], argv[3], argv[4:])
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
