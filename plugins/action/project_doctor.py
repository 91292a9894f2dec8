# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project_doctor action: the doctor runs in-process on the controller, where the packaged templates are.

It reads local files only, so starting a module for it would only add the module's start-up to every deploy; the
module stays usable on its own (and documents the options).
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.plugins.action import ActionBase

from ansible_collections.multiregion.serverless.plugins.module_utils.doctor import DOCTOR_ARGUMENT_SPEC, doctor_result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=DOCTOR_ARGUMENT_SPEC)
        return dict(result, **doctor_result(args))
