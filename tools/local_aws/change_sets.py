# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource changes CloudFormation's change set shows for a stack update, in the shape Service Catalog's
DescribeProvisionedProductPlan answers them (pure: two templates with their parameters in, ResourceChanges out).

What CloudFormation documents and is mirrored here (CloudFormation API reference: ``ResourceChange``,
``ResourceChangeDetail``, ``ResourceTargetDefinition``):

* ``ADD`` for a resource only the new template has, ``REMOVE`` for one only the current stack has (with its
  physical id), ``MODIFY`` for one whose ``Properties`` (per top-level property), ``Metadata``,
  ``CreationPolicy``, ``UpdatePolicy`` or ``DeletionPolicy`` changed. A resource whose ``Condition`` is false
  is not in the stack. Changing a resource's ``Type`` fails the change set with CloudFormation's reason
  (``UPDATE_OF_TYPE``).
* Each change is a detail: ``Target`` (Attribute, Name for a property, RequiresRecreation), ``Evaluation`` and
  ``CausingEntity``. A direct edit of the template is ``STATIC`` without a causing entity; an unchanged
  property that uses a parameter whose value changed (``Ref``, or ``${Name}`` in ``Fn::Sub``, or a condition of
  ``Fn::If`` that does) is ``STATIC`` with the parameter as causing entity.
* ``RequiresRecreation`` comes from the resource type's registry schema as cfn-lint ships it, not from any
  list of the collection: ``ALWAYS`` when a ``createOnlyProperties`` path under the property changes,
  ``CONDITIONALLY`` for ``conditionalCreateOnlyProperties`` (replaced only if it cannot be updated in place:
  e.g. ``AWS::DynamoDB::Table`` ``KeySchema``), ``NEVER`` otherwise.
* ``Replacement`` is the detail with the most impact: ``ALWAYS`` with ``STATIC`` -> ``TRUE``; ``ALWAYS`` with
  ``DYNAMIC``, or ``CONDITIONALLY`` -> ``CONDITIONAL``; else ``FALSE``.
* ``DYNAMIC`` details (the value may change, known only when the update runs), kept simple: a property that
  ``Ref``s a resource being replaced (``TRUE`` or ``CONDITIONAL``: its physical id changes), or ``Fn::GetAtt``s
  any modified resource (its attributes may change), with ``Logical`` / ``Logical.Attribute`` as causing
  entity; repeated until nothing more is affected.
* Nested stacks: a change set made without ``IncludeNestedStacks`` (CloudFormation's default; Service Catalog's
  CreateProvisionedProductPlan has no such option, and its ResourceChange has no ``ChangeSetId`` that could point
  to a nested change set, unlike CloudFormation's) shows only the root stack's resources. A nested
  ``AWS::CloudFormation::Stack`` appears as one ``MODIFY`` resource; one whose properties did not change is
  still ``MODIFY`` with a ``DYNAMIC`` detail and no causing entity (CloudFormation's ``Automatic`` change source:
  "the nested stack's template might have changed"), so a stack with nested stacks always has changes, and
  what happens inside a nested stack (a table replaced there) is not in the plan.

Our choices where AWS documents no detail: the ``Automatic`` detail targets ``PROPERTIES`` without a name; a
non-property attribute's detail has ``RequiresRecreation`` ``NEVER``; a condition that cannot be evaluated from
parameters (``Fn::FindInMap``, pseudo parameters) counts as true; resources keep template order (``ADD`` and
``MODIFY`` in the new template's, then ``REMOVE`` in the current one's).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from local_aws.stack_updates import conditional_create_only_properties, create_only_properties, value_at

NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
UPDATE_OF_TYPE = "Update of resource type is not permitted. The new template modifies resource type of the following resources: [{}]"
NESTED_STACK = "AWS::CloudFormation::Stack"
# Non-property attributes a plan reports (Service Catalog's ResourceAttribute enum) and their template keys.
POLICY_ATTRIBUTES = (("METADATA", "Metadata"), ("CREATIONPOLICY", "CreationPolicy"), ("UPDATEPOLICY", "UpdatePolicy"),
                     ("DELETIONPOLICY", "DeletionPolicy"))
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")  # ${Name} or ${Logical.Attribute}; ${!Literal} is text
_MAX_CONDITION_DEPTH = 32

Detail = Dict[str, Any]


class ChangeSetFailed(ValueError):
    """CloudFormation cannot make the change set: it ends FAILED with this reason."""


@dataclass(frozen=True)
class StackState:
    """A stack as a change set sees it: its template, its parameter values and its resources' physical ids."""

    template: Dict[str, Any]
    parameters: Dict[str, str]
    physical_ids: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class Reference:
    kind: str  # "Ref" or "GetAtt"
    target: str  # a parameter or a logical id
    attribute: str = ""

    @property
    def entity(self) -> str:
        """CloudFormation's CausingEntity: ``Logical`` for a Ref, ``Logical.Attribute`` for a GetAtt."""
        return f"{self.target}.{self.attribute}" if self.attribute else self.target


# ---- references -----------------------------------------------------------------------------------------------
def references(value: Any, conditions: Optional[Dict[str, Any]] = None) -> Set[Reference]:
    """Every Ref / GetAtt in ``value``, ``Fn::Sub`` variables included; a condition named by ``Fn::If`` adds the
    references of its definition in ``conditions`` (the template's Conditions)."""
    found: Set[Reference] = set()
    _collect(value, conditions or {}, found, set())
    return found


def _collect(value: Any, conditions: Dict[str, Any], found: Set[Reference], expanded: Set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, conditions, found, expanded)
        return
    if not isinstance(value, dict):
        return
    for key, inner in value.items():
        if key == "Ref" and isinstance(inner, str):
            found.add(Reference("Ref", inner))
        elif key == "Fn::GetAtt":
            found.update(_get_att(inner))
            _collect(inner, conditions, found, expanded)
        elif key == "Fn::Sub":
            found.update(_sub_references(inner))
            _collect(inner[1:] if isinstance(inner, list) else [], conditions, found, expanded)
        elif key == "Fn::If" and isinstance(inner, list) and inner:
            _expand_condition(inner[0], conditions, found, expanded)
            _collect(inner[1:], conditions, found, expanded)
        elif key == "Condition" and isinstance(inner, str):  # a condition naming another one
            _expand_condition(inner, conditions, found, expanded)
        else:
            _collect(inner, conditions, found, expanded)


def _expand_condition(name: Any, conditions: Dict[str, Any], found: Set[Reference], expanded: Set[str]) -> None:
    if isinstance(name, str) and name in conditions and name not in expanded:
        expanded.add(name)  # conditions may name each other: each is read once
        _collect(conditions[name], conditions, found, expanded)


def _get_att(inner: Any) -> Set[Reference]:
    if isinstance(inner, str) and "." in inner:
        target, attribute = inner.split(".", 1)
        return {Reference("GetAtt", target, attribute)}
    if isinstance(inner, list) and len(inner) == 2 and isinstance(inner[0], str):
        return {Reference("GetAtt", inner[0], inner[1] if isinstance(inner[1], str) else "")}
    return set()


def _sub_references(inner: Any) -> Set[Reference]:
    text, variables = (inner[0], inner[1]) if isinstance(inner, list) and len(inner) == 2 else (inner, {})
    if not isinstance(text, str):
        return set()
    found = set()
    for name in _SUB_VARIABLE.findall(text):
        name = name.strip()
        if name in (variables or {}):
            continue  # a variable of the Sub's own map, not a template entity
        target, dot, attribute = name.partition(".")
        found.add(Reference("GetAtt", target, attribute) if dot else Reference("Ref", name))
    return found


# ---- conditions -----------------------------------------------------------------------------------------------
class _Unresolved(Exception):
    """A condition needs more than parameter values."""


def condition_holds(template: Dict[str, Any], name: str, parameters: Dict[str, str]) -> bool:
    """Whether the template's condition ``name`` is true for ``parameters``; true when it cannot be worked out."""
    try:
        return _evaluate({"Condition": name}, template.get("Conditions") or {}, parameters, 0)
    except _Unresolved:
        return True


def _evaluate(expression: Any, conditions: Dict[str, Any], parameters: Dict[str, str], depth: int) -> bool:
    if isinstance(expression, bool):
        return expression
    if depth > _MAX_CONDITION_DEPTH or not isinstance(expression, dict) or len(expression) != 1:
        raise _Unresolved()
    function, argument = next(iter(expression.items()))
    if function == "Condition" and argument in conditions:
        return _evaluate(conditions[argument], conditions, parameters, depth + 1)
    if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
        return _scalar(argument[0], parameters) == _scalar(argument[1], parameters)
    if function == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
        return not _evaluate(argument[0], conditions, parameters, depth + 1)
    if function in ("Fn::And", "Fn::Or") and isinstance(argument, list):
        outcomes = [_evaluate(item, conditions, parameters, depth + 1) for item in argument]
        return all(outcomes) if function == "Fn::And" else any(outcomes)
    raise _Unresolved()


def _scalar(value: Any, parameters: Dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return str(parameters[value["Ref"]])
    if isinstance(value, (str, int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise _Unresolved()


def present_resources(state: StackState) -> Dict[str, Dict[str, Any]]:
    """The template's resources that exist for the state's parameters (those whose Condition holds)."""
    resources = state.template.get("Resources") or {}
    return {logical_id: resource for logical_id, resource in resources.items()
            if "Condition" not in resource or condition_holds(state.template, resource["Condition"], state.parameters)}


# ---- details --------------------------------------------------------------------------------------------------
def _detail(attribute: str, name: Optional[str], recreates: str, evaluation: str, cause: Optional[str] = None) -> Detail:
    target: Dict[str, Any] = {"Attribute": attribute}
    if name is not None:
        target["Name"] = name
    target["RequiresRecreation"] = recreates
    detail: Detail = {"Target": target, "Evaluation": evaluation}
    if cause:
        detail["CausingEntity"] = cause
    return detail


def recreation(resource_type: str, name: str, affected: Callable[[Tuple[str, ...]], bool]) -> str:
    """RequiresRecreation of a change to property ``name``: whether an affected path under it is create-only
    (ALWAYS) or conditionally create-only (CONDITIONALLY) in the type's registry schema."""
    for level, paths in (("ALWAYS", create_only_properties(resource_type)), ("CONDITIONALLY", conditional_create_only_properties(resource_type))):
        if any(path[0] == name and affected(path) for path in paths):
            return level
    return "NEVER"


def _uses(value: Any, names: Set[str], conditions: Dict[str, Any]) -> List[str]:
    """The parameters among ``names`` that ``value`` refers to."""
    return sorted({ref.target for ref in references(value, conditions) if ref.kind == "Ref" and ref.target in names})


def _property_details(resource_type: str, name: str, before: Dict[str, Any], after: Dict[str, Any], changed: Set[str],
                      conditions: Dict[str, Any]) -> List[Detail]:
    if before.get(name) != after.get(name):
        def edited(path: Tuple[str, ...]) -> bool:
            return value_at(before, path) != value_at(after, path) or bool(_uses(value_at(after, path), changed, conditions))

        return [_detail("PROPERTIES", name, recreation(resource_type, name, edited), "STATIC")]
    details = []
    for parameter in _uses(after.get(name), changed, conditions):
        def through(path: Tuple[str, ...], parameter: str = parameter) -> bool:
            return parameter in _uses(value_at(after, path), {parameter}, conditions)

        details.append(_detail("PROPERTIES", name, recreation(resource_type, name, through), "STATIC", parameter))
    return details


def direct_details(old_json: Dict[str, Any], new_json: Dict[str, Any], changed: Set[str], conditions: Dict[str, Any]) -> List[Detail]:
    """The STATIC details of one resource present before and after (and a nested stack's Automatic one)."""
    resource_type = new_json.get("Type", "")
    before, after = old_json.get("Properties") or {}, new_json.get("Properties") or {}
    details = []
    for name in list(after) + [name for name in before if name not in after]:
        details.extend(_property_details(resource_type, name, before, after, changed, conditions))
    for attribute, key in POLICY_ATTRIBUTES:
        if old_json.get(key) != new_json.get(key):
            details.append(_detail(attribute, None, "NEVER", "STATIC"))
    if resource_type == NESTED_STACK and not details:
        details.append(_detail("PROPERTIES", None, "NEVER", "DYNAMIC"))
    return details


def _dynamic_details(new_json: Dict[str, Any], replaced: Set[str], modified: Set[str], conditions: Dict[str, Any]) -> Iterator[Detail]:
    properties = new_json.get("Properties") or {}
    for name, value in properties.items():
        for ref in sorted(references(value, conditions)):
            if not ((ref.kind == "Ref" and ref.target in replaced) or (ref.kind == "GetAtt" and ref.target in modified)):
                continue

            def carries(path: Tuple[str, ...], ref: Reference = ref) -> bool:
                return ref in references(value_at(properties, path), conditions)

            yield _detail("PROPERTIES", name, recreation(new_json.get("Type", ""), name, carries), "DYNAMIC", ref.entity)


def replacement(details: List[Detail]) -> str:
    """The resource's Replacement: the detail with the most impact decides."""
    if any(d["Target"]["RequiresRecreation"] == "ALWAYS" and d["Evaluation"] == "STATIC" for d in details):
        return "TRUE"
    if any(d["Target"]["RequiresRecreation"] != "NEVER" for d in details):
        return "CONDITIONAL"
    return "FALSE"


def _propagate(details: Dict[str, List[Detail]], after: Dict[str, Dict[str, Any]], conditions: Dict[str, Any]) -> None:
    """Add the DYNAMIC details until no resource gains one (a dynamic replacement can make others dynamic)."""
    while True:
        modified = {logical_id for logical_id, found in details.items() if found}
        replaced = {logical_id for logical_id in modified if replacement(details[logical_id]) != "FALSE"}
        grew = False
        for logical_id, found in details.items():
            for detail in _dynamic_details(after[logical_id], replaced, modified, conditions):
                if detail not in found:
                    found.append(detail)
                    grew = True
        if not grew:
            return


# ---- the change set -------------------------------------------------------------------------------------------
def _changed_parameters(old: Dict[str, str], new: Dict[str, str]) -> Set[str]:
    return {name for name in set(old) | set(new) if old.get(name) != new.get(name)}


def _modify(logical_id: str, resource: Dict[str, Any], details: List[Detail], physical_ids: Dict[str, str]) -> Dict[str, Any]:
    scope = list(dict.fromkeys(detail["Target"]["Attribute"] for detail in details))
    change = {"Action": "MODIFY", "LogicalResourceId": logical_id, "ResourceType": resource.get("Type", ""),
              "Replacement": replacement(details), "Scope": scope, "Details": details}
    return _with_physical_id(change, physical_ids)


def _with_physical_id(change: Dict[str, Any], physical_ids: Dict[str, str]) -> Dict[str, Any]:
    """A resource that exists has its physical id (one moto could not create has none)."""
    if physical_ids.get(change["LogicalResourceId"]):
        change["PhysicalResourceId"] = physical_ids[change["LogicalResourceId"]]
    return change


def resource_changes(old: StackState, new: StackState) -> List[Dict[str, Any]]:
    """The ResourceChanges of updating ``old`` to ``new`` (``old`` with no resources: a new stack, all ADD).
    Raises ChangeSetFailed where CloudFormation fails the change set."""
    before, after = present_resources(old), present_resources(new)
    retyped = [logical_id for logical_id in after if logical_id in before and before[logical_id].get("Type") != after[logical_id].get("Type")]
    if retyped:
        raise ChangeSetFailed(UPDATE_OF_TYPE.format(", ".join(retyped)))
    conditions = new.template.get("Conditions") or {}
    changed = _changed_parameters(old.parameters, new.parameters)
    details = {logical_id: direct_details(before[logical_id], resource, changed, conditions) for logical_id, resource in after.items() if logical_id in before}
    _propagate(details, after, conditions)
    changes = []
    for logical_id, resource in after.items():
        if logical_id not in before:
            changes.append({"Action": "ADD", "LogicalResourceId": logical_id, "ResourceType": resource.get("Type", ""), "Scope": [], "Details": []})
        elif details[logical_id]:
            changes.append(_modify(logical_id, resource, details[logical_id], old.physical_ids))
    for logical_id, resource in before.items():
        if logical_id not in after:
            removed = {"Action": "REMOVE", "LogicalResourceId": logical_id, "ResourceType": resource.get("Type", ""), "Scope": [], "Details": []}
            changes.append(_with_physical_id(removed, old.physical_ids))
    return changes


def change_set(old: StackState, new: StackState) -> List[Dict[str, Any]]:
    """``resource_changes``, failing as CloudFormation does when nothing at all changed (same template, same
    parameter values). A template or parameter change that touches no resource (an output, an unused
    parameter) makes an empty, successful change set."""
    changes = resource_changes(old, new)
    if not changes and old.template == new.template and old.parameters == new.parameters:
        raise ChangeSetFailed(NO_CHANGES)
    return changes
