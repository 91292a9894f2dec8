# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``input_bool``: a role's boolean variable as a boolean, converted by the deploy input check's own function.

A value given with ``-e`` wins over anything a play sets, so a role cannot replace ``-e package_init_stacks=false``
(a string, and truthy) with the converted value; it reads it through this filter instead. The deploy playbook's first
play has already refused anything but true/false/yes/no/1/0 (``run_inputs.to_bool``); a role used on its own refuses
it here, in the same one line. Documented in ``input_bool.yml``.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.multiregion.serverless.plugins.module_utils.common import InputError
from ansible_collections.multiregion.serverless.plugins.module_utils.run_inputs import to_bool


def input_bool(value: Any, name: str) -> bool:
    try:
        return to_bool(value, name)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"input_bool": input_bool}
