# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The stage that owns a product and where its latest version id lives in SSM
    # (plugins/module_utils/arg_specs.py: STAGE_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  stage:
    description:
      - The stage that owns the product(s). A product found by name or id is used only when it carries the tag
        C(multiregion:stage=<stage>); one without the tag or with another stage's, and a name that matches two
        products, are refused before any change, with the command that adopts the product explicitly
        (docs/project-layout.md). A product this collection creates gets the tag.
      - The deploy roles always set it. Without it, ownership is not checked and created products get no stage tag.
    type: str
  ssm_prefix:
    description:
      - The stage's SSM prefix. A product's latest version id is kept in
        C(<ssm_prefix>/products/<product>/latest-artifact-id) unless I(ssm_parameter) names another parameter.
    type: str
  ssm_parameter:
    description:
      - The SSM parameter that holds the id of the product's latest version (the catalog phase writes it; the
        rollout and the validation read their target from it), instead of the one named after I(ssm_prefix).
      - A path of at most 1011 characters and 15 levels, from C(a-z A-Z 0-9 _ . - /), not under C(/aws) or C(/ssm),
        for example C(/multiregion/dev/products/platform-core/latest-artifact-id).
    type: str
"""
