# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option specs several modules take, defined once (as kubernetes.core's ``args_common.py``).

Each has a doc fragment of the same options in ``plugins/doc_fragments`` (``multiregion.serverless.<name>``):

* ``STAGE_ARG_SPEC`` (fragment ``stage``): ``stage``, ``ssm_prefix``, ``ssm_parameter`` - which stage owns the
  product and where its latest version id lives in SSM (catalog_artifact_version, provisioned_product_update,
  catalog_test_tenant).
* ``PORTFOLIO_ARG_SPEC`` (fragment ``portfolio``): ``portfolio`` - the stage's portfolio, its principals and launch
  role (catalog_artifact_version keeps the products in it; provisioned_product_update and catalog_test_tenant pick
  their launch path by it).
* ``TARGET_ARG_SPEC`` (fragment ``target``): ``target_version``, with ``TARGET_CONSTRAINTS`` (ssm_parameter and
  target_version exclude each other; one of ssm_prefix, ssm_parameter, target_version) - the version a rollout or
  a validation goes to.
* ``poll_arg_spec`` (fragment ``poll``): ``poll_delay``, ``poll_max_delay``, ``record_timeout`` - how Service
  Catalog records are followed (``records.PollPolicy``); each module has its own defaults.

The shared AWS option ``max_attempts`` (fragment ``aws``) is ``aws_client.SHARED_ARGUMENT_SPEC``, merged by
``create_aws_module``. ``from_params`` turns a module's parameters into the typed request its service takes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Tuple, Type, TypeVar

Request = TypeVar("Request")

ArgSpec = Dict[str, Dict[str, Any]]

STAGE_ARG_SPEC: ArgSpec = dict(
    stage=dict(type="str"),
    ssm_prefix=dict(type="str"),
    ssm_parameter=dict(type="str"),
)

# The stage's portfolio: the catalog keeps its products in it, the rollout and validation pick their launch path by it.
PORTFOLIO_ARG_SPEC: ArgSpec = dict(
    portfolio=dict(
        type="dict",
        options=dict(
            name=dict(type="str", required=True),
            principals=dict(type="list", elements="str", default=[]),
            launch_role=dict(type="str"),
        ),
    ),
)

TARGET_ARG_SPEC: ArgSpec = dict(
    target_version=dict(type="str"),
)
TARGET_MUTUALLY_EXCLUSIVE: List[Tuple[str, ...]] = [("ssm_parameter", "target_version")]
TARGET_REQUIRED_ONE_OF: List[Tuple[str, ...]] = [("ssm_prefix", "ssm_parameter", "target_version")]
# The two as keyword arguments of create_aws_module.
TARGET_CONSTRAINTS: Dict[str, Any] = dict(mutually_exclusive=TARGET_MUTUALLY_EXCLUSIVE, required_one_of=TARGET_REQUIRED_ONE_OF)

# The defaults of the rollout; a validation follows fewer, shorter records.
ROLLOUT_POLL = (5.0, 60.0, 3600.0)
VALIDATION_POLL = (5.0, 30.0, 1800.0)


def poll_arg_spec(defaults: Tuple[float, float, float]) -> ArgSpec:
    """``poll_delay``, ``poll_max_delay`` and ``record_timeout`` with ``defaults`` (in that order)."""
    delay, max_delay, timeout = defaults
    return dict(
        poll_delay=dict(type="float", default=delay),
        poll_max_delay=dict(type="float", default=max_delay),
        record_timeout=dict(type="float", default=timeout),
    )


def merged(*specs: ArgSpec, **options: Dict[str, Any]) -> ArgSpec:
    """One argument spec from shared ``specs`` and a module's own ``options``."""
    spec: ArgSpec = {}
    for part in specs:
        spec.update(part)
    spec.update(options)
    return spec


def from_params(kind: Type[Request], params: Mapping[str, Any], **values: Any) -> Request:
    """The dataclass ``kind`` with ``values`` and, for its other fields, the module parameters of the same name."""
    names = {item.name for item in dataclasses.fields(kind)} - set(values)  # type: ignore[arg-type]
    return kind(**{name: params[name] for name in names if name in params}, **values)
