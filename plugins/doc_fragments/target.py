# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The version a rollout or a validation goes to (plugins/module_utils/arg_specs.py: TARGET_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  target_version:
    description:
      - Use this version instead of the one in SSM, by id (C(pa-...)) or by name (C(V12)); a name that repeats means
        its newest version. An older version rolls back.
      - With several products, a name is looked up in each; an id only fits one product.
      - One of I(ssm_prefix), I(ssm_parameter) and I(target_version) is required; I(ssm_parameter) and
        I(target_version) are mutually exclusive.
    type: str
"""
