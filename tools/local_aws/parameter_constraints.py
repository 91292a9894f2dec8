# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFormation parameter constraints, which moto 5.2.1 does not check.

A stack parameter may declare ``AllowedPattern`` (the whole value must match), ``AllowedValues``, ``MinLength`` /
``MaxLength`` (String) and ``MinValue`` / ``MaxValue`` (Number). CloudFormation refuses a value outside them with a
``ValidationError`` ("Parameter 'TenantId' must match pattern ^[a-z0-9-]{3,16}$"; with a
``ConstraintDescription``, "Parameter TenantId failed to satisfy constraint: <description>"), for the root stack
at CreateStack and for a nested stack as that resource's failure. Without the check, a tenant id the product
forbids was provisioned here and made IAM role names longer than AWS accepts.

``check_parameters`` runs after moto resolves a stack's parameters (``ResourceMap.load_parameters``), so it covers
root and nested stacks, creates and updates.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, Optional


def violation(name: str, slot: Dict[str, Any], value: Any) -> Optional[str]:
    """CloudFormation's message for ``value`` of parameter ``name`` declared as ``slot``, or None when it fits."""
    if value is None or isinstance(value, list):
        return None  # no value (moto reports a missing one itself) or a list type: not constrained here
    kind = slot.get("Type", "String")
    text = str(value)
    described = slot.get("ConstraintDescription")
    problem = None
    if "AllowedValues" in slot and text not in [str(allowed) for allowed in slot["AllowedValues"]]:
        problem = f"Parameter '{name}' must be one of AllowedValues"
    elif kind == "String" and "AllowedPattern" in slot and re.fullmatch(str(slot["AllowedPattern"]), text) is None:
        problem = f"Parameter '{name}' must match pattern {slot['AllowedPattern']}"
    elif kind == "String" and "MaxLength" in slot and len(text) > int(slot["MaxLength"]):
        problem = f"Parameter '{name}' must contain at most {slot['MaxLength']} characters"
    elif kind == "String" and "MinLength" in slot and len(text) < int(slot["MinLength"]):
        problem = f"Parameter '{name}' must contain at least {slot['MinLength']} characters"
    elif kind == "Number" and "MaxValue" in slot and float(text) > float(slot["MaxValue"]):
        problem = f"Parameter '{name}' must be a number not greater than {slot['MaxValue']}"
    elif kind == "Number" and "MinValue" in slot and float(text) < float(slot["MinValue"]):
        problem = f"Parameter '{name}' must be a number not less than {slot['MinValue']}"
    if problem and described:
        return f"Parameter {name} failed to satisfy constraint: {described}"
    return problem


def check_parameters(resource_map: Any) -> None:
    """Raise moto's ValidationError for the first parameter of the map's template whose value breaks a constraint."""
    from moto.cloudformation.exceptions import ValidationError

    for name, slot in (resource_map._template.get("Parameters") or {}).items():
        message = violation(name, slot or {}, resource_map.resolved_parameters.get(name))
        if message:
            raise ValidationError(message=message)


def install(parsing: Any) -> None:
    """Check the constraints whenever moto has resolved a stack's parameters (idempotent)."""
    original: Callable[[Any], None] = parsing.ResourceMap.load_parameters
    if getattr(original, "local_aws_constraints", False):
        return

    def load_parameters(resource_map: Any) -> None:
        original(resource_map)
        check_parameters(resource_map)

    load_parameters.local_aws_constraints = True  # type: ignore[attr-defined]
    load_parameters.__wrapped__ = original  # type: ignore[attr-defined]
    parsing.ResourceMap.load_parameters = load_parameters
