# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stage-wide deploy lock kept in one SSM parameter: taken, released and broken here, and only here.

PutParameter with ``Overwrite=False`` is atomic: of two runs that try at once, exactly one creates the
parameter and the other gets ParameterAlreadyExists and reads who holds it. Release deletes the
parameter only when it still names our run, so a run never frees a lock it does not hold.

``take`` is the ``deploy_lock`` module's ``state=present``; ``release`` its ``state=absent`` and what
``run_report`` calls once the ledger is written (or failed to be). ``ssm`` is a client of
``aws_client.aws_client`` (retried by botocore, the collection's one policy); a failed call raises the
collection's one AWS error, ``AwsApiError``, naming the operation, the region and the lock; another run's lock
raises ``LockHeld``, a ``ServiceFailure``. The module runs ``run_lock`` with ``AwsModule.run_service``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Dict, Iterator, Mapping, Optional

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import (
    AwsApiError,
    BotoCoreError,
    ClientError,
    ServiceFailure,
    error_code,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import lock_parameter_name


class LockHeld(ServiceFailure):
    """Another run holds the lock: the message names it and how to break the lock; ``result`` is the module's result."""


@contextlib.contextmanager
def _call(operation: str, parameter: str, region: Optional[str]) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise AwsApiError(exception=exc, operation=operation, region=region, resource=f"deploy lock {parameter}") from exc


def lock_value(run_id: str, holder: str, started: str) -> str:
    return json.dumps({"run_id": run_id, "holder": holder, "started": started}, sort_keys=True)


def parse_lock_value(value: Optional[str]) -> Dict[str, Any]:
    """The lock's owner; a value that is not ours (hand-made) still gives a readable holder."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return {"run_id": None, "holder": value or "unknown", "started": "unknown"}
    if not isinstance(data, dict):
        return {"run_id": None, "holder": str(data), "started": "unknown"}
    return {"run_id": data.get("run_id"), "holder": data.get("holder", "unknown"), "started": data.get("started", "unknown")}


def held_message(stage: str, parameter: str, owner: Dict[str, Any]) -> str:
    return (
        f"stage '{stage}' is being deployed by {owner['holder']} (run {owner['run_id']}, started {owner['started']}); "
        f"wait for it to finish, or if that run is dead break the lock with -e break_lock=true (SSM parameter {parameter})"
    )


def read_owner(ssm: Any, parameter: str, region: Optional[str] = None) -> Dict[str, Any]:
    """Who holds the lock; ``{}`` when nobody does."""
    with _call("GetParameter", parameter, region):
        try:
            value = ssm.get_parameter(Name=parameter, aws_retry=True)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return {}
            raise
    return parse_lock_value(value)


def release(ssm: Any, parameter: str, run_id: str, check_mode: bool, region: Optional[str] = None) -> Dict[str, Any]:
    """Free the lock when ``run_id`` holds it: ``{changed, owner}``; AwsApiError when SSM fails."""
    owner = read_owner(ssm, parameter, region)
    ours = bool(owner) and owner.get("run_id") == run_id
    if ours and not check_mode:
        with _call("DeleteParameter", parameter, region):
            ssm.delete_parameter(Name=parameter, aws_retry=True)
    return {"changed": ours, "owner": owner}


def take(ssm: Any, parameter: str, stage: str, run_id: str, holder: str, started: str, break_lock: bool, check_mode: bool,
         region: Optional[str] = None) -> Dict[str, Any]:
    """Take the lock for ``run_id`` (again: a no-op when it already holds it); LockHeld when another run holds it.

    A lock held by another run is replaced only with ``break_lock``. The result is the module's:
    ``{changed, parameter, owner (before this call), broken}``.
    """
    owner = read_owner(ssm, parameter, region)
    result = {"changed": False, "parameter": parameter, "owner": owner, "broken": False}
    if owner and owner.get("run_id") == run_id:
        return result
    if owner and not break_lock:
        raise LockHeld(held_message(stage, parameter, owner), **result)
    result.update(changed=True, broken=bool(owner))
    if check_mode:
        return result
    if owner:
        with _call("DeleteParameter", parameter, region):
            ssm.delete_parameter(Name=parameter, aws_retry=True)
    with _call("PutParameter", parameter, region):
        try:
            ssm.put_parameter(Name=parameter, Value=lock_value(run_id, holder, started), Type="String", Overwrite=False, aws_retry=True)
        except ClientError as exc:
            if error_code(exc) != "ParameterAlreadyExists":
                raise
            # Another run took it between our read and our write: it won, we stop.
            raise LockHeld(held_message(stage, parameter, read_owner(ssm, parameter, region)), **result) from None
    return result


def run_lock(ssm: Any, params: Mapping[str, Any], check_mode: bool, region: Optional[str] = None) -> Dict[str, Any]:
    """The ``deploy_lock`` module: take (``state=present``) or release (``state=absent``) the lock of ``params``."""
    parameter = lock_parameter_name(params["ssm_prefix"])
    if params["state"] == "absent":
        return dict(parameter=parameter, broken=False, **release(ssm, parameter, params["run_id"], check_mode, region))
    return take(ssm, parameter, params["stage"], params["run_id"], params["holder"], params["started"], params["break_lock"], check_mode,
                region)
