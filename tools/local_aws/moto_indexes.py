# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The replaced methods are adapted from moto 5.2.1 (https://github.com/getmoto/moto), Apache License 2.0.
"""Name indexes for moto's by-id dicts, so lookups by name or ARN stop scanning every resource of the account.

moto finds an IAM role by name or ARN, and a CloudFormation stack by name, by walking all of them: with
1,000 tenants (3,000 roles, 1,000 stacks a region) those walks cost more than the stack build itself, and
nested-stack updates do several of them per tenant. ``IndexedDict`` is the same dict (same keys, values and
order) that also keeps its values by some attributes that never change after creation (a role's name and
ARN, a stack's name); it sees every write because all of dict's mutating methods go through it.

The patched lookups answer exactly what moto's walks answer: the first resource in the dict's order with that
name (names are unique in both services, so there is at most one), and anything the index cannot answer
(a miss, for the lookups that raise) falls through to moto's own code, with moto's own error.

Three moto methods walk inline (a list comprehension in the middle of the method), so they are replaced by
copies that differ only in that line: ``IAMBackend.create_role`` and ``CloudFormationBackend.create_stack``
(duplicate-name checks) and ``Role.delete_from_cloudformation_json``. Two more pieces of moto's stack build
that no read can observe are made cheaper the same way (``patch_cloudformation_parsing``). A copy is installed only while the
source of moto's method is still the one it was copied from (``MOTO_SOURCES``, moto 5.2.1); otherwise
moto's own method stays, and ``tests/unit/tools/local_aws`` fails so the copy gets reviewed.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import sys
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Tuple

_MISSING = object()


class _IndexMixin:
    """The index part of ``IndexedDict``; the dict part is whichever dict class it is mixed into."""

    _attributes: Tuple[str, ...]
    _index: Dict[str, Dict[Any, Dict[Any, Any]]]

    def _init_index(self, attributes: Iterable[str], items: Any) -> None:
        self._attributes = tuple(attributes)
        self._index = {attribute: {} for attribute in self._attributes}
        for key, value in dict(items).items():
            self[key] = value  # type: ignore[index]

    def _add(self, key: Any, value: Any) -> None:
        for attribute in self._attributes:
            self._index[attribute].setdefault(getattr(value, attribute, None), {})[key] = value

    def _discard(self, key: Any, value: Any) -> None:
        for attribute in self._attributes:
            bucket = self._index[attribute].get(getattr(value, attribute, None))
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._index[attribute][getattr(value, attribute, None)]

    def lookup(self, attribute: str, wanted: Any) -> List[Any]:
        """The values whose ``attribute`` is ``wanted``, in the dict's order."""
        bucket = self._index[attribute].get(wanted)
        if not bucket:
            return []
        if len(bucket) == 1:
            return list(bucket.values())
        order = {key: position for position, key in enumerate(self)}  # type: ignore[call-overload]
        return [bucket[key] for key in sorted(bucket, key=order.__getitem__)]

    # -- every mutating method of dict (and OrderedDict) ----------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        old = self.get(key, _MISSING)  # type: ignore[attr-defined]
        super().__setitem__(key, value)  # type: ignore[misc]
        if old is not _MISSING:
            self._discard(key, old)
        self._add(key, value)

    def __delitem__(self, key: Any) -> None:
        value = self[key]  # type: ignore[index]
        super().__delitem__(key)  # type: ignore[misc]
        self._discard(key, value)

    def pop(self, key: Any, *default: Any) -> Any:
        value = self.get(key, _MISSING)  # type: ignore[attr-defined]
        if value is _MISSING:
            return super().pop(key, *default)  # type: ignore[misc]
        super().pop(key)  # type: ignore[misc]
        self._discard(key, value)
        return value

    def popitem(self, *args: Any, **kwargs: Any) -> Tuple[Any, Any]:
        key, value = super().popitem(*args, **kwargs)  # type: ignore[misc]
        self._discard(key, value)
        return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:  # type: ignore[operator]
            self[key] = default  # type: ignore[index]
        return self[key]  # type: ignore[index]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value  # type: ignore[index]

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self

    def clear(self) -> None:
        super().clear()  # type: ignore[misc]
        self._index = {attribute: {} for attribute in self._attributes}

    # Copies and pickles are the plain dict type moto made (the patched lookups then use moto's walks).
    def copy(self) -> Any:
        return self._plain_type(self)  # type: ignore[attr-defined]

    def __reduce__(self) -> Any:
        return (self._plain_type, (list(self.items()),))  # type: ignore[attr-defined]


class IndexedDict(_IndexMixin, dict):  # type: ignore[type-arg]
    _plain_type = dict

    def __init__(self, items: Any, attributes: Iterable[str]) -> None:
        super().__init__()
        self._init_index(attributes, items)


class IndexedOrderedDict(_IndexMixin, OrderedDict):  # type: ignore[type-arg]
    _plain_type = OrderedDict

    def __init__(self, items: Any, attributes: Iterable[str]) -> None:
        super().__init__()
        self._init_index(attributes, items)


def indexed(mapping: Any, attributes: Iterable[str]) -> Any:
    """``mapping`` (a dict or OrderedDict, as moto made it) with indexes on ``attributes``."""
    if isinstance(mapping, _IndexMixin):
        return mapping
    if isinstance(mapping, OrderedDict):
        return IndexedOrderedDict(mapping, attributes)
    return IndexedDict(mapping, attributes)


# sha256 of inspect.getsource() of the moto methods replaced by copies below (moto 5.2.1).
MOTO_SOURCES = {
    "IAMBackend.create_role": "0c617708d31597446fa3f3f8877492ea9a35f04503f4ff68551e8ca2b35b8790",
    "Role.delete_from_cloudformation_json": "d88f04fdea9436562fc3c9d7f789d6affdeab99da695e7254ddc781306e77149",
    "CloudFormationBackend.create_stack": "dcb835c34772ed6c3a2785c44571cba7bea8a9edaf80bd4533428b093c3351a6",
    "ResourceMap.__get_resources_in_dependency_order": "b01b89e01e6f7e0feae83a6b0e89ee266ac922b1841e60f0b19f788217cc8349",
    "resource_name_property_from_type": "e67cac2719abc9e78af0b8e7c6e233292b5db7db7f913133c035d3042352fff3",
}


def source_digest(function: Any) -> str:
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):
        return ""


def replaceable(name: str, function: Any) -> bool:
    """Whether moto's ``name`` is still the code our copy was made from."""
    return source_digest(function) == MOTO_SOURCES[name]


def _wraps(original: Callable[..., Any], replacement: Callable[..., Any]) -> Callable[..., Any]:
    replacement.__name__ = original.__name__
    replacement.__doc__ = original.__doc__
    replacement.__wrapped__ = original  # type: ignore[attr-defined]
    replacement.local_aws_indexed = True  # type: ignore[attr-defined]
    return replacement


def patch_iam(module: Any) -> None:
    """``IAMBackend``: roles indexed by name and ARN; get_role / get_role_by_arn use them."""
    backend = module.IAMBackend
    if getattr(backend.get_role, "local_aws_indexed", False):
        return
    original_init, original_get_role, original_get_role_by_arn = backend.__init__, backend.get_role, backend.get_role_by_arn

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.roles = indexed(self.roles, ("name", "arn"))

    def get_role(self: Any, role_name: str) -> Any:
        roles = self.roles
        if isinstance(roles, _IndexMixin):
            for role in roles.lookup("name", role_name):
                return role
        return original_get_role(self, role_name)  # not found: moto's walk and its NotFoundException

    def get_role_by_arn(self: Any, arn: str) -> Any:
        roles = self.roles
        if isinstance(roles, _IndexMixin):
            for role in roles.lookup("arn", arn):
                return role
        return original_get_role_by_arn(self, arn)

    backend.__init__ = _wraps(original_init, __init__)
    backend.get_role = _wraps(original_get_role, get_role)
    backend.get_role_by_arn = _wraps(original_get_role_by_arn, get_role_by_arn)

    original_create_role = backend.create_role
    if replaceable("IAMBackend.create_role", original_create_role):

        def create_role(
            self: Any, role_name: str, assume_role_policy_document: str, path: str, permissions_boundary: Any,
            description: str, tags: Any, max_session_duration: Any, linked_service: Any = None,
        ) -> Any:
            if not isinstance(self.roles, _IndexMixin):
                return original_create_role(self, role_name, assume_role_policy_document, path, permissions_boundary,
                                            description, tags, max_session_duration, linked_service)
            # moto 5.2.1's create_role, with the duplicate-name walk answered by the index.
            role_id = module.random_role_id(self.account_id)
            if permissions_boundary and not self.policy_arn_regex.match(permissions_boundary):
                raise module.RESTError(
                    "InvalidParameterValue",
                    f"Value ({permissions_boundary}) for parameter PermissionsBoundary is invalid.",
                )
            if self.roles.lookup("name", role_name):
                raise module.EntityAlreadyExists(f"Role with name {role_name} already exists.")

            clean_tags = self._tag_verification(tags)
            role = module.Role(
                account_id=self.account_id,
                partition=self.partition,
                role_id=role_id,
                name=role_name,
                assume_role_policy_document=assume_role_policy_document,
                path=path,
                permissions_boundary=permissions_boundary,
                description=description,
                tags=[clean_tags[tag] for tag in clean_tags],
                max_session_duration=max_session_duration,
                linked_service=linked_service,
            )
            self.roles[role_id] = role
            return role

        backend.create_role = _wraps(original_create_role, create_role)

    role_class = module.Role
    original_delete = role_class.delete_from_cloudformation_json
    if replaceable("Role.delete_from_cloudformation_json", original_delete):

        def delete_from_cloudformation_json(
            cls: Any, resource_name: str, cloudformation_json: Dict[str, Any], account_id: str, region_name: str
        ) -> None:
            backend_: Any = module.iam_backends[account_id][module.get_partition(region_name)]
            if not isinstance(backend_.roles, _IndexMixin):
                return original_delete.__func__(cls, resource_name, cloudformation_json, account_id, region_name)
            # moto 5.2.1's, with the walk over every role for the one of that name answered by the index.
            for profile in backend_.instance_profiles.values():
                profile.delete_role(role_name=resource_name)

            for role in backend_.roles.lookup("name", resource_name):
                for arn in list(role.policies.keys()):
                    role.delete_policy(arn)

            for policy in backend_.inline_policies.values():
                policy.role_names = [n for n in policy.role_names if n != resource_name]

            backend_.delete_role(resource_name)
            return None

        role_class.delete_from_cloudformation_json = classmethod(_wraps(original_delete.__func__, delete_from_cloudformation_json))


def patch_cloudformation(module: Any) -> None:
    """``CloudFormationBackend``: live stacks indexed by name; get_stack and delete_stack by name use it,
    and get_stack by id no longer copies every live and deleted stack into a new dict first."""
    backend = module.CloudFormationBackend
    if getattr(backend.get_stack, "local_aws_indexed", False):
        return
    original_init, original_get_stack, original_delete_stack = backend.__init__, backend.get_stack, backend.delete_stack

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.stacks = indexed(self.stacks, ("name",))

    def get_stack(self: Any, name_or_stack_id: str) -> Any:
        stacks = self.stacks
        if not isinstance(stacks, _IndexMixin):
            return original_get_stack(self, name_or_stack_id)
        # moto: dict(deleted_stacks, **stacks)[id] (a live stack wins), else the first live stack of that name.
        stack = stacks.get(name_or_stack_id)
        if stack is None:
            stack = self.deleted_stacks.get(name_or_stack_id)
        if stack is None:
            for stack in stacks.lookup("name", name_or_stack_id):
                break
        if stack is None:
            return original_get_stack(self, name_or_stack_id)  # moto's ValidationError
        return stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        stacks = self.stacks
        if not isinstance(stacks, _IndexMixin) or name_or_stack_id in stacks:
            return original_delete_stack(self, name_or_stack_id)
        # moto: delete every live stack of that name, by id (nothing when there is none).
        for stack in stacks.lookup("name", name_or_stack_id):
            original_delete_stack(self, stack.stack_id)

    patch_cloudformation_parsing(sys.modules["moto.cloudformation.parsing"])
    backend.__init__ = _wraps(original_init, __init__)
    backend.get_stack = _wraps(original_get_stack, get_stack)
    backend.delete_stack = _wraps(original_delete_stack, delete_stack)

    original_create_stack = backend.create_stack
    if replaceable("CloudFormationBackend.create_stack", original_create_stack):

        def create_stack(
            self: Any, name: str, template: str, parameters: Dict[str, Any], notification_arns: Any = None,
            tags: Any = None, role_arn: Any = None, enable_termination_protection: Any = False,
            timeout_in_mins: Any = None, stack_policy_body: Any = None,
        ) -> Any:
            if not isinstance(self.stacks, _IndexMixin):
                return original_create_stack(self, name, template, parameters, notification_arns, tags, role_arn,
                                             enable_termination_protection, timeout_in_mins, stack_policy_body)
            # moto 5.2.1's create_stack, with the duplicate-name walk answered by the index.
            if self.stacks.lookup("name", name):
                raise module.AlreadyExistsException(f"Stack {name} already exists")
            stack_id = module.generate_stack_id(name, self.region_name, self.account_id)
            new_stack = module.Stack(
                stack_id=stack_id,
                name=name,
                template=template,
                parameters=parameters,
                account_id=self.account_id,
                region_name=self.region_name,
                notification_arns=notification_arns,
                tags=tags,
                role_arn=role_arn,
                cross_stack_resources=self.exports,
                enable_termination_protection=enable_termination_protection,
                timeout_in_mins=timeout_in_mins,
                stack_policy_body=stack_policy_body,
            )
            self.stacks[stack_id] = new_stack
            self._validate_export_uniqueness(new_stack)
            for export in new_stack.exports:
                self.exports[export.name] = export
            new_stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
            new_stack.create_resources()
            return new_stack

        backend.create_stack = _wraps(original_create_stack, create_stack)


def patch_cloudformation_parsing(module: Any) -> None:
    """``moto.cloudformation.parsing``: per resource of every stack build, moto deep-copies the whole template's
    Resources only to take their keys off one by one while ordering them by DependsOn, and walks every
    CloudFormation model class to find a resource type's name property. Same answers, less work."""
    resource_map = module.ResourceMap
    name = "_ResourceMap__get_resources_in_dependency_order"
    original_order = getattr(resource_map, name)
    if not getattr(original_order, "local_aws_indexed", False) and replaceable("ResourceMap.__get_resources_in_dependency_order", original_order):

        def get_resources_in_dependency_order(self: Any) -> List[str]:
            # moto 5.2.1's, but a shallow copy: the walk only deletes top-level keys and reads DependsOn.
            resource_map_: Dict[str, Any] = dict(self._resource_json_map)
            resources_in_dependency_order: List[str] = []

            def recursively_get_dependencies(resource: str) -> None:
                resource_info = resource_map_[resource]

                if "DependsOn" not in resource_info:
                    resources_in_dependency_order.append(resource)
                    del resource_map_[resource]
                    return

                dependencies = resource_info["DependsOn"]
                if isinstance(dependencies, str):  # Dependencies may be a string or list
                    dependencies = [dependencies]

                for dependency in dependencies:
                    if dependency in resource_map_:
                        recursively_get_dependencies(dependency)

                resources_in_dependency_order.append(resource)
                del resource_map_[resource]

            while resource_map_:
                recursively_get_dependencies(list(resource_map_.keys())[0])

            return resources_in_dependency_order

        setattr(resource_map, name, _wraps(original_order, get_resources_in_dependency_order))

    original_name_property = module.resource_name_property_from_type
    if not getattr(original_name_property, "local_aws_indexed", False) and replaceable("resource_name_property_from_type", original_name_property):
        # A pure function of the type and of the model classes, which moto itself caches (get_model_map,
        # get_name_type_map: lru_cache) once parsing.py has imported every model module.
        cached = functools.lru_cache(maxsize=None)(original_name_property)
        module.resource_name_property_from_type = _wraps(original_name_property, cached)
