# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stage-wide deploy lock kept in one SSM parameter.

PutParameter with ``Overwrite=False`` is atomic: of two runs that try at once, exactly one creates the
parameter and the other gets ParameterAlreadyExists and reads who holds it. Release deletes the
parameter only when it still names our run, so a run never frees a lock it does not hold.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ClientError, error_code

LOCK_PARAMETER_SUFFIX = "/deploy-lock"


def lock_parameter_name(ssm_prefix: str) -> str:
    return ssm_prefix.rstrip("/") + LOCK_PARAMETER_SUFFIX


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


def read_owner(ssm: Any, parameter: str) -> Dict[str, Any]:
    """Who holds the lock; ``{}`` when nobody does. ``ssm`` is a retrying amazon.aws client."""
    try:
        value = ssm.get_parameter(Name=parameter, aws_retry=True)["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return {}
        raise
    return parse_lock_value(value)


def release(ssm: Any, parameter: str, run_id: str, check_mode: bool) -> Dict[str, Any]:
    """Free the lock when ``run_id`` holds it: ``{changed, owner}``; botocore errors propagate."""
    owner = read_owner(ssm, parameter)
    ours = bool(owner) and owner.get("run_id") == run_id
    if ours and not check_mode:
        ssm.delete_parameter(Name=parameter, aws_retry=True)
    return {"changed": ours, "owner": owner}
