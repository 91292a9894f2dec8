# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our modules, run in the controller's process when the host is this machine.

Every region host of a deploy is ``ansible_connection: local``. Run as a module, each task starts a Python process,
unpacks the AnsiballZ zip, compiles ansible's and our module_utils from it and imports boto3 again: about 45 % of a
no-change deploy's CPU (py-spy, all processes). For a local connection the action plugin of each module instead
calls the module's own ``run(module)`` in the worker process Ansible already forked for the task, with a stand-in
for the module; boto3 and our code are imported once, by the controller, when it loads the action.

What stays the same as the module: the options are validated with the module's argument spec, amazon.aws's
connection options (with their environment fallbacks) and the collection's shared ones, with the same constraints
and the same one-line errors; check and diff modes; warnings; values of ``no_log`` options masked in the result;
the result passes through the JSON encoder and decoder a module's result passes through, so it has the same types.

The module runs as a module, exactly as without this plugin, whenever the in-process run could differ from it:
a connection that is not local, ``become``, ``async``, a task environment (``environment:`` sets the module
process's environment), a Python interpreter that is not the controller's own, or amazon.aws's
``debug_botocore_endpoint_logs``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, List, NoReturn, Optional

from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator, ValidationResult
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.display import Display

from ansible_collections.amazon.aws.plugins.module_utils.botocore import check_sdk_version_supported, gather_sdk_versions, get_aws_region
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleBotocoreError
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import (
    MODULE_CONSTRAINTS,
    ServiceRunner,
    module_argument_spec,
    shared_option_error,
)

display = Display()

RESULT_PROFILE = "legacy"  # the profile of a module's arguments and result


class ModuleExit(Exception):
    """The stand-in's ``exit_json`` / ``fail_json``: the module's result, ending the run as ``sys.exit`` would."""

    def __init__(self, result: Dict[str, Any]) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result


class InProcessModule(ServiceRunner):
    """What our modules' ``run(module)`` uses of an ``AnsibleModule`` / ``AwsModule``, in the controller's process."""

    def __init__(self, name: str, params: Dict[str, Any], check_mode: bool, diff: bool, log: Callable[[str], None]) -> None:
        self._name = name
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self._log = log
        self.warnings: List[str] = []

    @property
    def region(self) -> Optional[str]:
        return get_aws_region(self)

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def log(self, msg: str, log_args: Any = None) -> None:  # pylint: disable=unused-argument
        self._log(msg)

    def exit_json(self, **result: Any) -> NoReturn:
        if self.warnings:
            result.setdefault("warnings", list(dict.fromkeys(self.warnings)))
        raise ModuleExit(result)

    def fail_json(self, msg: str, **result: Any) -> NoReturn:
        self.exit_json(**dict(result, failed=True, msg=msg))

    def fail_json_aws(self, exception: BaseException, msg: Optional[str] = None, **result: Any) -> NoReturn:
        """amazon.aws's failure for an error that is not an AWS API error (e.g. no credentials)."""
        self.fail_json(msg=f"{msg}: {exception}" if msg else str(exception), **dict(result, **self._gather_versions()))

    def _gather_versions(self) -> Dict[str, Any]:
        return gather_sdk_versions()


def run_in_process(run_module: Callable[[Any], NoReturn], module: InProcessModule) -> Dict[str, Any]:
    """The result ``run_module`` exits or fails with."""
    try:
        run_module(module)
    except ModuleExit as done:
        return done.result
    raise RuntimeError(f"{module._name} returned without exit_json or fail_json")  # pylint: disable=protected-access


def validate_options(module_spec: Dict[str, Any], args: Dict[str, Any], talks_to_aws: bool) -> ValidationResult:
    """``args`` checked as the module checks them: its argument spec and constraints, for an AWS module with
    amazon.aws's connection options (and their environment fallbacks) and the collection's shared ones."""
    spec = dict(module_spec["argument_spec"])
    if talks_to_aws:
        spec = dict(aws_argument_spec(), **module_argument_spec(spec))
    constraints = {name: module_spec[name] for name in MODULE_CONSTRAINTS if name in module_spec}
    return ArgumentSpecValidator(spec, **constraints).validate(dict(args))


def invalid_options_message(validation: ValidationResult, module_name: str) -> Optional[str]:
    """The message ``AnsibleModule`` fails with for the first validation error (``None``: the options are valid)."""
    try:
        first = validation.errors[0]
    except IndexError:  # the error list has no truth value of its own
        return None
    if isinstance(first, UnsupportedError):
        return f"Unsupported parameters for ({module_name}) module: {validation.errors.msg}"
    return validation.errors.msg


def through_json(value: Any, direction: Direction) -> Any:
    """``value`` as it reaches the other side of a module's JSON channel in ``direction`` (plain types, no tags)."""
    encoded = json.dumps(value, cls=get_module_encoder(RESULT_PROFILE, direction))
    return json.loads(encoded, cls=get_module_decoder(RESULT_PROFILE, direction))


def module_result(
    run_module: Callable[[Any], NoReturn],
    module_spec: Dict[str, Any],
    args: Dict[str, Any],
    *,
    talks_to_aws: bool,
    name: str,
    check_mode: bool,
    diff: bool,
    log: Callable[[str], None] = lambda line: None,
) -> Dict[str, Any]:
    """What the module ``name`` (``MODULE_SPEC`` and ``run``) returns for ``args``, run in this process.

    The checks ``AnsibleModule`` and ``create_aws_module`` make come first and fail the same way; the result
    has the module's ``invocation``, ``no_log`` values masked, and crosses a module's JSON channel.
    """
    validation = validate_options(module_spec, args, talks_to_aws)
    params = through_json(validation.validated_parameters, Direction.CONTROLLER_TO_MODULE)
    module = InProcessModule(name, params, check_mode, diff, log)

    def checked_run(module: InProcessModule) -> NoReturn:
        error = invalid_options_message(validation, name)
        if error is None and talks_to_aws:
            try:  # what AnsibleAWSModule checks first: boto3 and botocore present, and new enough (else a warning)
                check_sdk_version_supported(warn=module.warn)
            except AnsibleBotocoreError as exc:
                module.fail_json(msg=str(exc))
            require_region = module_spec.get("require_region", False)
            error = shared_option_error(module.params, module.region if require_region else None, require_region)
        if error:
            module.fail_json(msg=error)
        run_module(module)

    result = run_in_process(checked_run, module)
    masked = remove_values(dict(result, invocation={"module_args": params}), validation._no_log_values)  # pylint: disable=protected-access
    return through_json(masked, Direction.MODULE_TO_CONTROLLER)


def runs_in_process(
    *, transport: str, become: bool, async_val: int, environment: Dict[str, Any], interpreter: Optional[str], debug_endpoint_logs: bool
) -> bool:
    """Whether a task of one of our modules can run in the controller's process with the module's outcome: on
    this machine, as this user, now, with the controller's environment and Python, with no amazon.aws endpoint
    log (which the module gathers from its own process)."""
    if transport != "local" or become or async_val or environment or debug_endpoint_logs:
        return False
    if interpreter is None or interpreter.startswith("auto"):  # not set, or discovered on this machine
        return True
    return os.path.realpath(interpreter) == os.path.realpath(sys.executable)


class InProcessAction(NormalAction):
    """The action of one of our modules: in-process for a local connection, the module itself otherwise."""

    module_spec: Dict[str, Any] = {}
    run_module: Callable[[Any], NoReturn]
    talks_to_aws = True

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        if not self._runs_in_process(task_vars):
            return super().run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)  # pylint: disable=bad-super-call
        host = task_vars.get("inventory_hostname")
        result.update(
            module_result(
                type(self).run_module,
                self.module_spec,
                self._task.args,
                talks_to_aws=self.talks_to_aws,
                name=self._task.action,
                check_mode=bool(self._task.check_mode),
                diff=bool(self._task.diff),
                log=lambda line: display.vvv(line, host=host),  # a module's log() goes to syslog: shown at -vvv
            )
        )
        return result

    def _runs_in_process(self, task_vars: Dict[str, Any]) -> bool:
        environment: Dict[str, Any] = {}
        self._compute_environment_string(environment)
        interpreter = task_vars.get("ansible_python_interpreter")
        return runs_in_process(
            transport=self._connection.transport,
            become=bool(self._play_context.become),
            async_val=int(self._task.async_val or 0),
            environment=environment,
            interpreter=None if interpreter is None else str(self._templar.template(interpreter)),
            debug_endpoint_logs=bool(self._task.args.get("debug_botocore_endpoint_logs")),
        )


def in_process_action(module_spec: Dict[str, Any], run_module: Callable[[Any], NoReturn], talks_to_aws: bool = True) -> type:
    """The ``ActionModule`` class of a module with ``MODULE_SPEC`` and ``run(module)``."""
    return type("ActionModule", (InProcessAction,), {"module_spec": module_spec, "run_module": staticmethod(run_module), "talks_to_aws": talks_to_aws})
