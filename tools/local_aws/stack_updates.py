# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFormation stack operations as CloudFormation runs them: updates in place, rollback on failure.

moto 5.2.1 updates a stack by deleting the resources the new template removed first, then creating the added
ones, then "updating" the changed ones, where a nested stack's update deletes and recreates it (every physical
id changes, a retained table named by the template collides with itself) and a resource type without an update
handler (a DynamoDB table) is dropped from the stack. A failure leaves everything half done. Tenant stacks
(a product's root stack and one nested stack per service) therefore behaved nothing like on AWS.

Here, as CloudFormation documents it (``Update behaviors of stack resources``, ``Monitor the progress of a
stack update``):

* One operation (a stack create or update, with every nested stack it touches) is a ``StackOperation``: each
  step it takes is logged with the way to undo it.
* Added resources are created; changed ones are updated in place, or replaced when a create-only property
  changed (``createOnlyProperties`` of the resource type's registry schema, as cfn-lint ships them). A
  replacement creates the new resource first and deletes the old one at cleanup; a custom-named resource that
  needs replacing without a new name fails the update, with CloudFormation's message. Nested stacks are
  updated in place (their resources go through the same rules). Unchanged resources are not touched.
* Removed resources and replaced old ones are deleted only at the end (cleanup), once the whole operation,
  nested stacks included, succeeded; ``DeletionPolicy`` / ``UpdateReplacePolicy: Retain`` keep them.
* A failure anywhere rolls the whole operation back: created resources deleted, in-place updates re-applied
  with the previous properties, replaced resources restored, every stack's template, parameters and outputs
  restored. The stacks end ``UPDATE_ROLLBACK_COMPLETE`` (a failed create: ``ROLLBACK_COMPLETE``) with a status
  reason and a ``*_FAILED`` event naming the resource and the reason; the data in resources that were kept is
  untouched. As on AWS, ``UpdateStack``/``CreateStack`` themselves answer success: the failure is in the
  stack's status.

The ``fail_stack_resources`` fault setting fails the create or update of resources by logical id, so tests can
fail an update at a chosen resource and clear it again.

Not emulated: resources a changed one depends on through ``Ref``/``GetAtt`` are not re-resolved when only the
referenced resource was replaced; a type whose moto model has no update handler keeps its physical resource
with the old properties (the template shows the new ones).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from local_aws.faults import FAULTS

# What each replaced moto function was when this module was written (moto 5.2.1): a moto upgrade that changes
# one of them fails tests/unit/tools/local_aws, so the replacement gets reviewed against moto's new code.
REPLACED_MOTO_SOURCES = {
    "ResourceMap.update": "e34b0c357f3c8e357e4e9446843985fd88c0dc52e828d17ef3e08e14dfb88c8a",
    "Stack.update": "fd488c7f43d4b5c8e6d85a255eb1e67a17859a57ffd053cecb44e9893280ce12",
    "Stack.create_resources": "a5f30450448a1d58ba3ffe05b0a545b8efa86633b47cfb0c8c4a2b269d447655",
    "Stack.update_from_cloudformation_json": "8e22cbcd61b3b9e95e8a808ac28ccd8462e3570150042469852fa6617f4391a3",
    "parse_and_create_resource": "ea3c10d68d2c03e6abde0de40aa57d2169c2fe7ce5dad71fda0dc5602da13463",
}

_RETAIN = "Retain"
# Policies that keep a resource its update removed (DeletionPolicy) or replaced (UpdateReplacePolicy).
_KEPT_ON_UPDATE = (_RETAIN, "RetainExceptOnCreate")
_CLEANUP_PASSES = 5  # deletions that fail on a dependency are retried, as moto's own removal loop does


class StackOperationFailed(RuntimeError):
    """A resource of the operation failed; the operation has been (or is being) rolled back."""


@dataclass
class Failure:
    stack_name: str
    logical_id: str
    resource_type: str
    status: str  # CREATE_FAILED or UPDATE_FAILED
    reason: str

    def describe(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) in stack {self.stack_name}: {self.status}: {self.reason}"


@dataclass
class StackOperation:
    """One create or update of a root stack, with the nested stacks it touches."""

    root: Any
    kind: str  # CREATE or UPDATE
    undo: List[Callable[[], None]] = field(default_factory=list)
    cleanup: List[Callable[[], None]] = field(default_factory=list)
    stacks: List[Tuple[Any, str]] = field(default_factory=list)  # (stack, CREATE/UPDATE) in the order touched
    failure: Optional[Failure] = None
    failed_top_level: List[str] = field(default_factory=list)

    def fail(self, resource_map: Any, logical_id: str, resource_type: str, status: str, exc: BaseException) -> None:
        """The innermost failure is the one that explains the others: keep the first one recorded."""
        innermost = self.failure is None
        if self.failure is None:
            self.failure = Failure(resource_map["AWS::StackName"], logical_id, resource_type, status, _reason(exc))
        if resource_map.stack_id == self.root.stack_id and logical_id not in self.failed_top_level:
            self.failed_top_level.append(logical_id)
        _add_resource_event(resource_map, logical_id, resource_type, status,
                            _reason(exc) if innermost else "Embedded stack or resource failed: " + self.failure.describe())

    def status_reason(self) -> str:
        verb = "create" if self.kind == "CREATE" else "update"
        names = ", ".join(self.failed_top_level) or (self.failure.logical_id if self.failure else "?")
        detail = f" {self.failure.describe()}" if self.failure else ""
        return f"The following resource(s) failed to {verb}: [{names}].{detail}"


_local = threading.local()


def current_operation() -> Optional[StackOperation]:
    return getattr(_local, "operation", None)


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    text = " ".join(str(message).split())
    return f"{code}: {text}" if isinstance(code, str) and code and code not in text else text


def _add_resource_event(resource_map: Any, logical_id: str, resource_type: str, status: str, reason: str) -> None:
    from moto.cloudformation.models import Event

    stack = _stack_of(resource_map)
    if stack is None:
        return
    resource = resource_map._parsed_resources.get(logical_id)
    physical = getattr(resource, "physical_resource_id", "") if resource is not None else ""
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                              physical_resource_id=physical or "", resource_type=resource_type, resource_status=status,
                              resource_status_reason=reason, resource_properties=None))


def _stack_of(resource_map: Any) -> Any:
    """The stack a resource map belongs to (set when the stack builds or updates it, else looked up: a stack
    made by a change set)."""
    stack = getattr(resource_map, "local_aws_stack", None)
    if stack is None:
        from moto.cloudformation.models import cloudformation_backends

        backend = cloudformation_backends[resource_map._account_id][resource_map._region_name]
        stack = backend.stacks.get(resource_map.stack_id)
        resource_map.local_aws_stack = stack
    return stack


def _injected_failure(logical_id: str) -> None:
    if logical_id in FAULTS.settings.fail_stack_resources:
        raise StackOperationFailed(f"Injected failure for resource {logical_id} (fail_stack_resources)")


# ---- resource type rules ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _schema_index() -> Dict[str, str]:
    from importlib import resources

    with resources.files("cfnlint.data.schemas.providers").joinpath("us-east-1.json").open("r", encoding="utf-8") as handle:
        return json.load(handle)


@functools.lru_cache(maxsize=None)
def _schema_paths(resource_type: str, key: str) -> Tuple[Tuple[str, ...], ...]:
    """The property paths a registry schema lists under ``key``; () for a type the schemas do not know."""
    from importlib import resources

    schema_id = _schema_index().get(resource_type)
    if not schema_id:
        return ()
    with resources.files("cfnlint.data.schemas.resources").joinpath(f"{schema_id}.json").open("r", encoding="utf-8") as handle:
        schema = json.load(handle)
    paths = []
    for pointer in schema.get(key) or []:
        parts = tuple(part for part in pointer.split("/")[2:] if part != "*")  # "/properties/A/B" -> (A, B)
        if parts:
            paths.append(parts)
    return tuple(paths)


def create_only_properties(resource_type: str) -> Tuple[Tuple[str, ...], ...]:
    """The property paths whose change means "Update requires: Replacement" for ``resource_type``, from the
    resource type's registry schema (``createOnlyProperties``); () for a type the schemas do not know."""
    return _schema_paths(resource_type, "createOnlyProperties")


def conditional_create_only_properties(resource_type: str) -> Tuple[Tuple[str, ...], ...]:
    """The property paths whose change replaces the resource only when it cannot be updated in place (the
    registry schema's ``conditionalCreateOnlyProperties``, e.g. a DynamoDB table's ``KeySchema``)."""
    return _schema_paths(resource_type, "conditionalCreateOnlyProperties")


def value_at(properties: Any, path: Tuple[str, ...]) -> Any:
    """The value at ``path``; a list on the way (a schema's ``/A/*/B``, stored as (A, B)) gives the list of its
    items' values, so a change inside one item shows."""
    if not path:
        return properties
    if isinstance(properties, list):
        return [value_at(item, path) for item in properties]
    if not isinstance(properties, dict):
        return None
    return value_at(properties.get(path[0]), path[1:])


def _changed(old: Any, new: Any, changed_parameters: List[str]) -> bool:
    from moto.cloudformation.parsing import get_references_from_template

    if old != new:
        return True
    return any(name in changed_parameters for name in get_references_from_template(new))


def replacement_properties(resource_type: str, old_json: Dict[str, Any], new_json: Dict[str, Any], changed_parameters: List[str]) -> List[str]:
    """The create-only properties (dotted) that differ between two versions of a resource."""
    old_properties, new_properties = old_json.get("Properties") or {}, new_json.get("Properties") or {}
    return [".".join(path) for path in create_only_properties(resource_type)
            if _changed(value_at(old_properties, path), value_at(new_properties, path), changed_parameters)]


# ---- the operation --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def stack_operation(stack: Any, kind: str) -> Iterator[StackOperation]:
    """Run a stack create/update as part of the current operation, or as a new root operation that commits
    (cleanup) or rolls back at its end. A root operation never raises its resources' failures: like the API,
    it leaves them in the stack's status."""
    operation = current_operation()
    if operation is not None:
        operation.stacks.append((stack, kind))
        yield operation
        return
    operation = StackOperation(root=stack, kind=kind)
    operation.stacks.append((stack, kind))
    _local.operation = operation
    try:
        yield operation
    except Exception as exc:  # noqa: BLE001 - any failure of any resource rolls the whole operation back
        if operation.failure is None:
            operation.failure = Failure(stack.name, stack.name, "AWS::CloudFormation::Stack", f"{kind}_FAILED", _reason(exc))
        _rollback(operation)
    else:
        _commit(operation)
    finally:
        _local.operation = None


def _run_all(steps: List[Callable[[], None]]) -> List[BaseException]:
    errors = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - an undo or cleanup step that fails does not stop the others
            errors.append(exc)
    return errors


def _commit(operation: StackOperation) -> None:
    pending = list(reversed(operation.cleanup))
    for _attempt in range(_CLEANUP_PASSES):  # a deletion refused on a dependency is retried after the others
        if not pending:
            break
        failed = []
        for step in pending:
            try:
                step()
            except Exception:  # noqa: BLE001 - CloudFormation ignores cleanup failures too (DELETE_FAILED, stack complete)
                failed.append(step)
        pending = failed
    for stack, kind in operation.stacks:
        if stack.status in ("DELETE_COMPLETE",):
            continue
        if kind == "UPDATE":
            stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            stack._add_stack_event("UPDATE_COMPLETE")
            stack.status = "UPDATE_COMPLETE"
        stack.local_aws_status_reason = None


def _rollback(operation: StackOperation) -> None:
    reason = operation.status_reason()
    rolling = "ROLLBACK_IN_PROGRESS" if operation.kind == "CREATE" else "UPDATE_ROLLBACK_IN_PROGRESS"
    operation.root._add_stack_event(rolling, resource_status_reason=reason)
    errors = _run_all(list(reversed(operation.undo)))
    for stack, kind in operation.stacks:
        if stack.status == "DELETE_COMPLETE":
            continue  # a nested stack the operation created, deleted again by the rollback
        if stack is operation.root and kind == "CREATE":
            status = "ROLLBACK_FAILED" if errors else "ROLLBACK_COMPLETE"
            _forget_resources(stack)
        else:
            status = "UPDATE_ROLLBACK_FAILED" if errors else "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event(status, resource_status_reason=reason if stack is operation.root else None)
        stack.status = status
        stack.local_aws_status_reason = reason


def _forget_resources(stack: Any) -> None:
    """A stack whose creation rolled back has no resources and no outputs. moto's resource map creates a
    resource of its template whenever something reads it (describing the stack's resources or outputs), so the
    template goes from the map, not only the resources."""
    from moto.cloudformation.parsing import OutputMap

    stack.resource_map._resource_json_map = {}
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)


# ---- what each step logs ------------------------------------------------------------------------------------
def _delete_resource(resource_map: Any, resource: Any, resource_json: Dict[str, Any]) -> None:
    if resource is None or isinstance(resource, (str, int, float, list)):
        return
    resource_map._delete_resource(resource, resource_json)


def _map_state(resource_map: Any) -> Dict[str, Any]:
    return {
        "_template": resource_map._template,
        "_resource_json_map": resource_map._resource_json_map,
        "_parsed_resources": dict(resource_map._parsed_resources),
        "input_parameters": resource_map.input_parameters,
        "resolved_parameters": dict(resource_map.resolved_parameters),
        "lazy_condition_map": getattr(resource_map, "lazy_condition_map", None),
        "no_echo_parameter_keys": list(getattr(resource_map, "no_echo_parameter_keys", [])),
    }


def _restore(target: Any, state: Dict[str, Any]) -> Callable[[], None]:
    def restore() -> None:
        for name, value in state.items():
            setattr(target, name, value)

    return restore


def logged_create(original: Callable[..., Any]) -> Callable[..., Any]:
    """``parsing.parse_and_create_resource``, logging each resource it creates (and each failure) in the
    current operation so a rollback can delete it."""

    def parse_and_create_resource(logical_id: str, resource_json: Dict[str, Any], resources_map: Any, account_id: str, region_name: str) -> Any:
        operation = current_operation()
        if operation is None:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        resource_type = resource_json.get("Type", "")
        try:
            _injected_failure(logical_id)
            resource = original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            operation.fail(resources_map, logical_id, resource_type, "CREATE_FAILED", exc)
            raise
        if resource is not None:
            raw = copy.deepcopy(resources_map._resource_json_map.get(logical_id, resource_json))

            def undo() -> None:
                if resources_map._parsed_resources.get(logical_id) is resource:
                    resources_map._parsed_resources.pop(logical_id, None)
                if raw.get("DeletionPolicy") != _RETAIN:  # a rollback keeps even new resources marked Retain
                    _delete_resource(resources_map, resource, raw)

            operation.undo.append(undo)
        return resource

    parse_and_create_resource.__wrapped__ = original  # type: ignore[attr-defined]
    return parse_and_create_resource


def update_resource_map(resource_map: Any, template: Dict[str, Any], parameters: Optional[Dict[str, Any]] = None) -> None:
    """``ResourceMap.update`` as CloudFormation orders it: create added, update or replace changed, and leave
    the removed ones (and the replaced old ones) to the operation's cleanup."""
    from moto.cloudformation import parsing

    operation = current_operation()
    if operation is None:  # an update outside any stack operation (change sets): run it as one
        stack = _stack_of(resource_map)
        with stack_operation(stack, "UPDATE"):
            update_resource_map(resource_map, template, parameters)
        return
    diff = resource_map.build_resource_diff(template, parameters)
    changed_parameters = [name for name in (parameters or {}) if resource_map.input_parameters.get(name) != (parameters or {})[name]]
    old_json_map = resource_map._resource_json_map
    # Each changed resource's previous properties, resolved while the previous template is in force: what a
    # rollback of an in-place update re-applies.
    previous = {name: parsing.parse_resource(copy.deepcopy(old_json_map[name]), resource_map) for name in diff["Modify"]
                if _updatable(resource_map._parsed_resources.get(name))}
    operation.undo.append(_restore(resource_map, _map_state(resource_map)))

    resource_map._template = template
    if parameters:
        resource_map.input_parameters = parameters
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    resource_map._resource_json_map = template["Resources"]

    order = [name for name in resource_map._ResourceMap__get_resources_in_dependency_order() if name in diff["Add"] or name in diff["Modify"]]
    for logical_id in order:
        if logical_id in diff["Add"]:
            _build(resource_map, logical_id)
        else:
            _modify(operation, resource_map, logical_id, old_json_map[logical_id], changed_parameters, previous.get(logical_id))
    for logical_id in diff["Remove"]:
        old_json = old_json_map[logical_id]
        resource = resource_map._parsed_resources.get(logical_id)
        if resource is None:
            continue
        resource_map._parsed_resources.pop(logical_id, None)
        operation.undo.append(functools.partial(resource_map._parsed_resources.__setitem__, logical_id, resource))
        if old_json.get("DeletionPolicy") not in _KEPT_ON_UPDATE:
            operation.cleanup.append(functools.partial(_delete_resource, resource_map, resource, old_json))


def _build(resource_map: Any, logical_id: str) -> Any:
    """Create a resource of the map's template: moto's map creates one whenever it is first read (the creation is
    logged by ``parse_and_create_resource``)."""
    return resource_map[logical_id]


def _modify(operation: StackOperation, resource_map: Any, logical_id: str, old_json: Dict[str, Any], changed_parameters: List[str],
            previous: Any) -> None:
    from moto.cloudformation import parsing

    new_json = resource_map._resource_json_map[logical_id]
    resource_type = new_json["Type"]
    original = resource_map._parsed_resources.get(logical_id)
    try:
        _injected_failure(logical_id)
        replacing = replacement_properties(resource_type, old_json, new_json, changed_parameters)
        if original is None or replacing:
            name_property = parsing.resource_name_property_from_type(resource_type)
            if original is not None and name_property and name_property in (new_json.get("Properties") or {}) \
                    and not _changed(value_at(old_json.get("Properties") or {}, (name_property,)), new_json["Properties"][name_property], changed_parameters):
                raise StackOperationFailed(
                    f"CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename "
                    f"{getattr(original, 'physical_resource_id', logical_id)} and update the stack again.")
            resource_map._parsed_resources.pop(logical_id, None)
            _build(resource_map, logical_id)  # the replacement, created (and logged) like an added resource
            operation.undo.append(functools.partial(resource_map._parsed_resources.__setitem__, logical_id, original))
            if original is not None and old_json.get("UpdateReplacePolicy") not in _KEPT_ON_UPDATE:
                operation.cleanup.append(functools.partial(_delete_resource, resource_map, original, old_json))
            return
        if isinstance(original, _stack_class()) or _updatable(original):
            updated = parsing.parse_and_update_resource(logical_id, new_json, resource_map, resource_map._account_id, resource_map._region_name)
        else:
            updated = None
    except Exception as exc:
        operation.fail(resource_map, logical_id, resource_type, "UPDATE_FAILED", exc)
        raise
    if updated is None:
        return  # moto cannot change this type's properties: the physical resource stays as it was
    resource_map._parsed_resources[logical_id] = updated
    if not isinstance(original, _stack_class()):  # a nested stack undoes its own steps
        operation.undo.append(functools.partial(_reapply, resource_map, logical_id, original, previous))


def _updatable(resource: Any) -> bool:
    """A resource moto can update in place (its model has an update handler), nested stacks aside."""
    update = getattr(type(resource), "update_from_cloudformation_json", None)
    return resource is not None and update is not None and not hasattr(update, "__isabstractmethod__") and not isinstance(resource, _stack_class())


def _reapply(resource_map: Any, logical_id: str, original: Any, previous: Any) -> None:
    """Undo an in-place update: the resource's previous (resolved) properties applied again."""
    if previous is None:
        return
    resource_class, resource_json, _name = previous
    current = resource_map._parsed_resources.get(logical_id)
    name = getattr(original, "physical_resource_id", logical_id)
    restored = resource_class.update_from_cloudformation_json(original_resource=current, new_resource_name=name, cloudformation_json=resource_json,
                                                              account_id=resource_map._account_id, region_name=resource_map._region_name)
    restored.cf_resource_type = resource_json["Type"]
    restored.logical_resource_id = logical_id
    resource_map._parsed_resources[logical_id] = restored


@functools.lru_cache(maxsize=None)
def _stack_class() -> type:
    from moto.cloudformation.models import Stack

    return Stack


# ---- the Stack methods ----------------------------------------------------------------------------------------
def stack_update(stack: Any, template: str, role_arn: Optional[str] = None, parameters: Optional[Dict[str, Any]] = None,
                 tags: Optional[Dict[str, str]] = None) -> None:
    """``Stack.update``: the template, parameters and outputs switch only as part of an operation that can undo it."""
    with stack_operation(stack, "UPDATE") as operation:
        operation.undo.append(_restore(stack, {name: getattr(stack, name) for name in (
            "template", "template_dict", "parameters", "role_arn", "tags", "output_map", "description", "status")}))
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.status = "UPDATE_IN_PROGRESS"
        stack.template = template
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.resource_map.local_aws_stack = stack
        stack.resource_map.update(stack.template_dict, parameters)
        stack.output_map = stack._create_output_map()
        stack.role_arn = role_arn
        if parameters:
            stack.parameters = parameters
        if tags is not None:
            stack.tags = tags
        if operation.root is not stack:
            stack._add_stack_event("UPDATE_COMPLETE")
            stack.status = "UPDATE_COMPLETE"


def stack_create_resources(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def create_resources(stack: Any) -> None:
        stack.resource_map.local_aws_stack = stack
        with stack_operation(stack, "CREATE") as operation:
            if operation.root is not stack:  # a nested stack: a rollback deletes it, even half created
                operation.undo.append(functools.partial(_delete_stack, stack))
            original(stack)

    create_resources.local_aws_operation = True  # type: ignore[attr-defined]
    create_resources.__wrapped__ = original  # type: ignore[attr-defined]
    return create_resources


def _delete_stack(stack: Any) -> None:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[stack.account_id][stack.region_name]
    if stack.stack_id in backend.stacks:
        backend.delete_stack(stack.stack_id)


def nested_stack_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Dict[str, Any], account_id: str,
                        region_name: str) -> Any:
    """``AWS::CloudFormation::Stack`` update: the nested stack is updated in place (same name, same id)."""
    from moto.cloudformation import models
    from moto.utilities.utils import get_partition

    properties = cloudformation_json["Properties"]
    body = models.get_stack_from_s3_url(properties["TemplateURL"], account_id=account_id, partition=get_partition(region_name))
    parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in (properties.get("Parameters") or {}).items()]
    models.cloudformation_backends[account_id][region_name].update_stack(
        name=original_resource.stack_id, template=body, role_arn=original_resource.role_arn, parameters=parameters, tags=None)
    return original_resource


def _replacing(original: Callable[..., Any], replacement: Callable[..., Any]) -> Callable[..., Any]:
    replacement.local_aws_original = original  # type: ignore[attr-defined]
    return replacement


def install(models: Any, parsing: Any) -> None:
    """Replace moto's stack create/update with the ones above (idempotent)."""
    stack = models.Stack
    if getattr(stack.create_resources, "local_aws_operation", False):
        return
    parsing.parse_and_create_resource = logged_create(parsing.parse_and_create_resource)
    parsing.ResourceMap.update = _replacing(parsing.ResourceMap.update, update_resource_map)
    stack.update = _replacing(stack.update, stack_update)
    stack.create_resources = stack_create_resources(stack.create_resources)
    stack.update_from_cloudformation_json = classmethod(_replacing(stack.update_from_cloudformation_json.__func__, nested_stack_update))
