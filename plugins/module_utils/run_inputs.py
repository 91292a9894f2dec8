# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy playbook's own variables and everything a run is given besides ``project.yml``, checked in one place.

``check_run_inputs`` runs in the first play, before the stage lock: it converts every variable of ours that the run
sets (the playbook's, in ``PLAYBOOK_INPUTS``, and the roles', described by their ``meta/argument_specs.yml``) once,
refuses near-misses of our names given with ``-e``, unknown tags and a skipped ``always`` tag, and returns the
converted values. Every refusal is an ``InputError`` of one line naming the key, the value and what is expected.
Pure functions: no AWS, no files (the caller reads the role specs), no Ansible objects.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.common import InputError, did_you_mean, refusal
from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_plan import plan_run
from ansible_collections.multiregion.serverless.plugins.module_utils.replacement_guard import ALLOW_FORMS, GuardError, parse_allow_replacement
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout_options import FailureTolerance, RolloutError, Selector


TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
BOOLEAN_EXPECTED = "true or false (also yes/no, 1/0, in any case)"

# Names anyone may pass with -e without being taken for a near-miss of ours: AWX/Tower's own, and Ansible's.
ALWAYS_ALLOWED_PREFIXES = ("awx_", "tower_", "ansible_")
# How close an unknown -e name must be to one of ours to be taken for a typo of it (difflib ratio).
NEAR_MISS_CUTOFF = 0.8

# The tags of the deploy playbook's plays; Ansible's special tags are accepted as well.
PHASE_TAGS = ("package", "catalog", "validate", "rollout")
SPECIAL_TAGS = ("all", "always", "never", "tagged", "untagged")


def to_bool(value: Any, key: str) -> bool:
    """``true/false/yes/no/1/0`` in any case, as YAML booleans, integers or strings (an AWX survey sends strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise refusal(key, value, BOOLEAN_EXPECTED)


def to_int(value: Any, key: str, minimum: int = 0, maximum: Optional[int] = None, percent_sign: bool = False) -> int:
    """A whole number from an integer or its digits (a trailing ``%`` allowed when ``percent_sign``)."""
    text = value.strip() if isinstance(value, str) else value
    if percent_sign and isinstance(text, str) and text.endswith("%"):
        text = text[:-1]
    if isinstance(text, str) and re.fullmatch(r"-?\d+", text):
        number = int(text)
    elif isinstance(text, int) and not isinstance(text, bool):
        number = text
    else:
        number = None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f"{minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        raise refusal(key, value, f"a whole number, {bounds}")
    return number


def to_float(value: Any, key: str, minimum: float = 0.0) -> float:
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or math.isnan(number) or number < minimum:
        raise refusal(key, value, f"a number of seconds, {minimum:g} or more")
    return number


def to_name_list(value: Any, key: str, what: str = "names") -> List[str]:
    """A YAML list of non-empty strings, or a comma-separated string of them (what a survey sends)."""
    items = [item.strip() for item in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item.strip() for item in items):
        raise refusal(key, value, f"a list of {what} or a comma-separated string of them, without empty items")
    return [item.strip() for item in items]


def parse_waves(value: Any, key: str = "rollout_waves") -> List[Any]:
    """Region waves for the rollout play's ``serial``: ``1,50%,100%`` or ``[1, "50%", "100%"]``."""
    expected = "region waves such as 1,50%,100% or [1, \"50%\", \"100%\"]: counts of 1 or more and percentages of 1% to 100%"
    if isinstance(value, str) and not value.strip():
        return ["100%"]
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    if not items:
        raise refusal(key, value, expected)
    waves: List[Any] = []
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if isinstance(text, str) and re.fullmatch(r"\d+%", text) and 1 <= int(text[:-1]) <= 100:
            waves.append(f"{int(text[:-1])}%")
        elif isinstance(text, str) and re.fullmatch(r"\d+", text) and int(text) >= 1:
            waves.append(int(text))
        elif isinstance(text, int) and not isinstance(text, bool) and text >= 1:
            waves.append(text)
        else:
            raise refusal(key, value, expected)
    return waves


def _fail_percentage(value: Any, key: str) -> int:
    return to_int(value, key, minimum=0, maximum=100, percent_sign=True)


def _tolerance(value: Any, key: str) -> str:
    try:
        return str(FailureTolerance.parse(value))
    except RolloutError:
        raise refusal(key, value, "a count of failed tenants (3) or a percentage of them (10%, at most 100%)") from None


def _order(value: Any, key: str) -> List[str]:
    entries = to_name_list(value, key, "tenant name globs and tag:Key=Value selectors")
    for entry in entries:
        try:
            Selector.parse(entry)
        except RolloutError:
            raise refusal(key, value, f"tenant name globs and tag:Key=Value selectors ({entry!r} is neither)") from None
    return entries


def _allow_replacement(value: Any, key: str) -> List[str]:
    try:
        return [str(rule) for rule in parse_allow_replacement(value)]
    except GuardError as exc:
        raise refusal(key, value, f"a list or a comma-separated string of {ALLOW_FORMS} ({exc})") from None


def _version_scheme(value: Any, key: str) -> str:
    if not isinstance(value, str) or "<n>" not in value:
        raise refusal(key, value, "a version name pattern holding <n>, such as V<n>")
    return value


def _text(value: Any, key: str) -> str:
    if isinstance(value, (dict, list, bool)) or value is None:
        raise refusal(key, value, "a string")
    return str(value)


@dataclass(frozen=True)
class PlaybookInput:
    """A variable of the deploy playbook itself (the roles' own variables are described by their argument specs)."""

    name: str
    default: Any
    convert: Callable[[Any, str], Any]
    secret: bool = False


# Every variable the deploy playbook reads, one place. stage, regions, resume and project_dir are checked against
# project.yml by deploy_plan; here they are only named, so their near-misses are caught as well.
PLAYBOOK_INPUTS: Tuple[PlaybookInput, ...] = (
    PlaybookInput("project_dir", None, lambda value, key: value),
    PlaybookInput("stage", "", lambda value, key: value),
    PlaybookInput("regions", "", lambda value, key: value),
    PlaybookInput("resume", "", lambda value, key: value),
    PlaybookInput("build_dir", "", _text),
    PlaybookInput("break_lock", False, to_bool),
    PlaybookInput("update_product", False, to_bool),
    PlaybookInput("validate_product", False, to_bool),
    PlaybookInput("create_missing_products", False, to_bool),
    PlaybookInput("rollout_waves", ["100%"], parse_waves),
    PlaybookInput("rollout_max_fail_percentage", 0, _fail_percentage),
    PlaybookInput("accept_unknown_vars", False, to_bool),
    PlaybookInput("aws_region", None, _text),
    PlaybookInput("aws_endpoint_url", None, _text),
    PlaybookInput("aws_profile", None, _text),
    PlaybookInput("aws_access_key", None, _text, secret=True),
    PlaybookInput("aws_secret_key", None, _text, secret=True),
    PlaybookInput("aws_session_token", None, _text, secret=True),
)

# What a role variable's value must be beyond its argument spec's type.
ROLE_INPUT_FORMS: Dict[str, Callable[[Any, str], Any]] = {
    "rollout_failure_tolerance": _tolerance,
    "rollout_order": _order,
    "rollout_allow_replacement": _allow_replacement,
    "catalog_version_scheme": _version_scheme,
}
# Counts and durations that must be at least this (the rest of the role numbers: 0 or more).
ROLE_INPUT_MINIMUMS: Dict[str, float] = {
    "package_concurrency": 1,
    "package_max_parallel_packagings": 1,
    "package_timeout": 1,
    "package_upload_concurrency": 1,
    "rollout_max_concurrent": 1,
    "rollout_poll_delay": 0.1,
    "rollout_poll_max_delay": 0.1,
    "rollout_record_timeout": 1,
    "validate_poll_delay": 0.1,
    "validate_poll_max_delay": 0.1,
    "validate_record_timeout": 1,
}

# Facts and results the run sets itself: a value given with -e would win over them (extra vars beat set_fact) and
# silently change what the run does, so giving one is refused. tests/unit checks this list against the roles' tasks.
RUN_FACTS = (
    "deploy_run_plan", "deploy_run_plan_result", "deploy_run_id", "deploy_run_started", "deploy_run_resumed_phases",
    "deploy_run_inputs", "deploy_run_lock", "deploy_run_report", "deploy_run_phases_done", "deploy_run_rollout_failed",
    "deploy_run_region_error", "deploy_run_status", "deploy_run_wave_inputs",
    "package_settings", "package_plan_result", "package_packaged", "package_doctor", "package_published", "package_results",
    "catalog_product_list", "catalog_versions", "catalog_results",
    "validate_runs", "validate_results",
    "rollout_update", "rollout_results",
    "bootstrap_plan",
)


def convert_role_input(name: str, spec: Mapping[str, Any], value: Any) -> Any:
    """A role variable's value converted to its argument spec's type, its range and form checked."""
    kind = spec.get("type", "str")
    if name in ROLE_INPUT_FORMS:
        return ROLE_INPUT_FORMS[name](value, name)
    if kind == "bool":
        return to_bool(value, name)
    if kind == "int":
        return to_int(value, name, minimum=int(ROLE_INPUT_MINIMUMS.get(name, 0)))
    if kind == "float":
        return to_float(value, name, minimum=ROLE_INPUT_MINIMUMS.get(name, 0.0))
    if kind == "list":
        return to_name_list(value, name) if spec.get("elements", "str") in ("str", "path") else value
    if kind == "dict":
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if not isinstance(value, dict):
            raise refusal(name, value, "a mapping (YAML, or JSON in -e)")
        return value
    if kind in ("str", "path"):
        converted = _text(value, name)
        choices = spec.get("choices")
        if choices and converted not in choices:
            raise refusal(name, value, "one of " + ", ".join(str(choice) for choice in choices))
        return converted
    return value


@dataclass
class RunVariables:
    """What the run was given: the values of our variables that are set, the names given with -e, tags, hosts."""

    values: Mapping[str, Any] = field(default_factory=dict)
    extra_var_names: Sequence[str] = ()
    run_tags: Sequence[str] = ("all",)
    skip_tags: Sequence[str] = ()


def check_extra_var_names(names: Sequence[str], ours: Sequence[str], accept_unknown: bool) -> None:
    """Refuse an -e name that is one of the run's own facts, or (unless accepted) a near-miss of one of our names."""
    for name in names:
        if name in RUN_FACTS:
            raise InputError(f"-e {name}: the run sets {name} itself and a value given with -e would replace it; leave it out")
        if name in ours or name.startswith(ALWAYS_ALLOWED_PREFIXES) or accept_unknown:
            continue
        hint = did_you_mean(name, ours, NEAR_MISS_CUTOFF)
        if hint:
            raise InputError(f"-e {name}: not a variable of this playbook; {hint}(pass -e accept_unknown_vars=true if {name} is yours)")


def check_tags(run_tags: Sequence[str], skip_tags: Sequence[str], accept_unknown: bool) -> None:
    """Refuse a tag that is not one of the playbook's (``--skip-tags always`` is refused by the first play's guards: with
    it, this check itself does not run)."""
    known = PHASE_TAGS + SPECIAL_TAGS
    for option, tags in (("--tags", run_tags), ("--skip-tags", skip_tags)):
        for tag in tags:
            if tag in known or accept_unknown:
                continue
            hint = did_you_mean(tag, known, NEAR_MISS_CUTOFF)
            raise InputError(f"{option} {tag}: not a tag of this playbook; {hint}(its phases: {', '.join(PHASE_TAGS)})")


def check_run_inputs(given: RunVariables, role_specs: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Every variable of ours converted once: the playbook's (with their defaults) and the roles' that are set.

    ``role_specs`` maps each role variable to its argument spec option (``type``, ``choices``, ``elements``).
    """
    values = given.values
    accept_unknown = to_bool(values.get("accept_unknown_vars", False), "accept_unknown_vars")
    ours = [item.name for item in PLAYBOOK_INPUTS] + sorted(role_specs)
    check_extra_var_names(given.extra_var_names, ours, accept_unknown)
    check_tags(given.run_tags, given.skip_tags, accept_unknown)
    inputs: Dict[str, Any] = {}
    for item in PLAYBOOK_INPUTS:
        if item.name not in values:
            inputs[item.name] = item.default
            continue
        try:
            inputs[item.name] = item.convert(values[item.name], item.name)
        except InputError:
            if not item.secret:
                raise
            raise refusal(item.name, "(hidden)", "a string") from None
    for name in sorted(role_specs):
        if name in values:
            inputs[name] = convert_role_input(name, role_specs[name], values[name])
    kms_key = inputs.get("package_kms_key_id")
    if kms_key and inputs.get("package_server_side_encryption", "AES256") != "aws:kms":
        raise refusal("package_kms_key_id", kms_key, "no key unless package_server_side_encryption is aws:kms")
    return {name: value for name, value in inputs.items() if not _is_secret(name)}


def _is_secret(name: str) -> bool:
    return any(item.secret for item in PLAYBOOK_INPUTS if item.name == name)


def role_input_specs(roles_dir: str) -> Dict[str, Dict[str, Any]]:
    """Every role variable of the collection (``<roles_dir>/*/meta/argument_specs.yml``) and its argument spec option."""
    import yaml  # pylint: disable=import-outside-toplevel  # PyYAML ships with ansible-core; only the controller reads specs

    specs: Dict[str, Dict[str, Any]] = {}
    for path in sorted(glob.glob(os.path.join(roles_dir, "*", "meta", "argument_specs.yml"))):
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle) or {}
        for entry in (document.get("argument_specs") or {}).values():
            specs.update(entry.get("options") or {})
    return specs


def check_run(given: RunVariables, role_specs: Mapping[str, Mapping[str, Any]], **plan_args: Any) -> Dict[str, Any]:
    """The first play's whole check, in order: the run's variables, names and tags, then the project and the plan
    (``deploy_plan.plan_run`` with ``plan_args``). Returns the plan's result with ``inputs``; raises InputError."""
    inputs = check_run_inputs(given, role_specs)
    planned = plan_run(**plan_args)
    nested = planned["plan"]["nested_init_stacks"]
    if nested and inputs.get("package_init_stacks") is False and inputs.get("package_products", True):
        raise refusal("package_init_stacks", False, f"true while the products nest init stacks ({', '.join(nested)}), or package_products=false as well")
    return dict(planned, inputs=inputs)
