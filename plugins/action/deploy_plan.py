# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy_plan action: the module's checks plus what only the controller knows about the run.

A module sees its arguments only. A bad input can also hide in what lives on the controller: the names given with
``-e`` (command line or ``@file``, AWX's way), the tags, the hosts ``--limit`` left, and the values of every variable
of ours the run sets. With ``check_run_inputs`` (the deploy playbook's first task) this action gathers them and runs
the one check (``run_inputs.check_run``), so the first play refuses a bad input before the stage lock is taken and
nothing is written anywhere; without it (a role used on its own, the bootstrap) it plans only. Either way it runs
in-process on the controller, one module start less. The deploy_plan module stays usable on its own.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import load_extra_vars

from ansible_collections.multiregion.serverless.plugins.module_utils.common import InputError
from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_plan import ALL_REGIONS, DEPLOY_PLAN_ARGUMENT_SPEC, plan_run
from ansible_collections.multiregion.serverless.plugins.module_utils.run_inputs import PLAYBOOK_INPUTS, RunVariables, check_run, role_input_specs

display = Display()

# The collection's roles, beside plugins/.
ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _run_values(self, names: Mapping[str, Any], task_vars: Mapping[str, Any]) -> Dict[str, Any]:
        """The values the run gives our variables, templated. One whose template fails (a role default reading a
        variable that is not set) is left to the check of the variable it reads."""
        values: Dict[str, Any] = {}
        for name in names:
            if name in task_vars:
                try:
                    values[name] = self._templar.template(task_vars[name])
                except AnsibleError:
                    continue
        return values

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=DEPLOY_PLAN_ARGUMENT_SPEC)
        # An explicit regions: null is an input to refuse; an absent one means every region of the stage.
        args["regions"] = self._task.args["regions"] if "regions" in self._task.args else ALL_REGIONS
        try:
            if args.pop("check_run_inputs"):
                checked = self._check_run(args, task_vars)
            else:
                checked = plan_run(**args)
        except InputError as exc:
            return dict(result, failed=True, msg=str(exc))
        for note in checked["notes"]:
            display.display(f"deploy plan: {note}")
        return dict(result, changed=False, **checked)

    def _check_run(self, args: Dict[str, Any], task_vars: Mapping[str, Any]) -> Dict[str, Any]:
        specs = role_input_specs(ROLES_DIR)
        given = RunVariables(
            values=self._run_values([item.name for item in PLAYBOOK_INPUTS] + sorted(specs), task_vars),
            extra_var_names=sorted(load_extra_vars(self._loader)),
            run_tags=sorted(context.CLIARGS.get("tags") or ("all",)),
            skip_tags=sorted(context.CLIARGS.get("skip_tags") or ()),
        )
        # The deploy playbook's first play runs on the region hosts, so its hosts are the regions --limit left.
        return check_run(given, specs, **dict(args, play_hosts=task_vars.get("ansible_play_hosts_all")))
