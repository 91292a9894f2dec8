# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The stage's Service Catalog portfolio (plugins/module_utils/arg_specs.py: PORTFOLIO_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  portfolio:
    description:
      - The stage's portfolio (C(project.yml) C(stages.<stage>.portfolio)). On AWS a principal provisions and updates a
        product only through a launch path, a portfolio holding the product that the principal is associated with.
      - M(multiregion.serverless.catalog_artifact_version) keeps the products in it (the portfolio is created with
        O(multiregion.serverless.catalog_artifact_version#module:create_missing_product)), associates the principals and
        puts the products under the launch constraint.
      - The rollout and the validation pass the launch path (C(PathId)) of every update and provisioning - the only one
        the deploying principal has, or with several the one through this portfolio - and refuse in one line when the
        principal has none.
    type: dict
    suboptions:
      name:
        description: The portfolio's display name.
        type: str
        required: true
      principals:
        description: IAM ARNs (users, roles, groups) to associate; empty means the deploying principal (an assumed role's role).
        type: list
        elements: str
        default: []
      launch_role:
        description: The IAM role CloudFormation builds the tenants' stacks with (a LAUNCH constraint on each product).
        type: str
"""
