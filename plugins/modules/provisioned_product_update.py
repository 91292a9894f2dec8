#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: provisioned_product_update
short_description: Roll Service Catalog products out to all their provisioned products (tenants) in one region
version_added: 0.1.0
description:
  - One call handles every provisioned product of one or more products in the region (never a loop per tenant).
    It lists them (SearchProvisionedProducts, all pages), and updates each one that is not on the target version
    with UpdateProvisionedProduct, passing every existing parameter as C(UsePreviousValue=true), then follows each
    record with DescribeRecord until it ends.
  - The target is by default the artifact id the catalog phase stored in SSM at
    C(<ssm_prefix>/products/<product>/latest-artifact-id) (or in I(ssm_parameter), for one product only);
    I(target_version) names another one (an id or a name such as C(V12)), for example the previous version to roll a
    region back.
  - At most I(max_concurrent) updates are in flight, as a sliding window; records are polled in rounds, the first
    time after the duration the finished records of this run took, then with backoff up to I(poll_max_delay).
  - Tenants that are C(UNDER_CHANGE), C(TAINTED), C(ERROR) or C(PLAN_IN_PROGRESS) are not touched and are reported
    with the reason. The one exception is a C(TAINTED) tenant whose last record is a failed update to the target
    version itself, which an earlier attempt of this rollout left behind; it is updated again, so a re-run after a
    partial failure finishes exactly what is left. Tenants already on the target are C(already_current).
  - A failed update never stops the others while the failures stay within I(failure_tolerance). Beyond it,
    I(mode=stop) starts no new update (those in flight finish, the rest are C(not_started)) and I(mode=continue)
    only reports it. The module fails at the end, after every started update has finished, when any tenant failed,
    and returns the full per-tenant list either way.
  - Parameter keys come from the target version (DescribeProvisioningArtifact, one call per version, not per
    tenant). A key the tenant's current version does not have is left out so it takes its default; when it has no
    default the tenant fails before any call, naming the parameter.
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  products:
    description: Names (or C(prod-...) ids) of the Service Catalog products whose tenants to update.
    type: list
    elements: str
    required: true
  max_concurrent:
    description: At most this many updates in flight at any time (a sliding window, not batches).
    type: int
    default: 8
  failure_tolerance:
    description:
      - How many failed tenants are accepted, as a count (C(3)) or a percentage of the tenants to update (C(10%),
        rounded down), before I(mode) applies. C(0) reacts to the first failure.
    type: str
    default: "10%"
  mode:
    description:
      - C(stop) starts no new update once more tenants failed than I(failure_tolerance) allows (in-flight ones
        finish; the others are reported C(not_started)).
      - C(continue) updates every tenant anyway and reports that the tolerance was exceeded.
    type: str
    choices: [stop, continue]
    default: stop
  order:
    description:
      - Tenants to update first, as a list of selectors tried in order; each is a glob on the tenant name
        (C(canary-*)) or C(tag:Key=Value) (the value may be a glob). Tenants matching the first selector form the
        first group, and so on; the rest form the last group. Within a group tenants go by name.
      - A group starts only when the previous one has finished, so with I(mode=stop) a failed canary group stops
        the rollout before the other tenants are touched.
    type: list
    elements: str
    default: []
  progress_file:
    description:
      - A file to append one line per started and finished tenant to (C(tail -f) it to follow a long rollout);
        the module cannot stream to the Ansible console. The same lines go to the module log.
    type: path
  replacement_guard:
    description:
      - Before any update, compare each tenant's current template with the target's (down into nested stacks,
        once per group of tenants with the same change) and refuse every tenant whose update would replace or
        delete a stateful resource (a DynamoDB table, S3 bucket, SQS queue, log group, RDS instance, ... and the
        properties whose change means "Update requires - Replacement"), naming tenant, resource, property and why.
      - A refused tenant is reported C(refused); the others go on; refusals do not count toward
        I(failure_tolerance), and the module fails at the end. A tenant whose templates cannot be read is refused
        too. The table is C(plugins/module_utils/replacement_guard.py).
      - C(false) turns the guard off (for example to roll out although an old version's template is gone).
    type: bool
    default: true
  replacement_plans:
    description:
      - Also ask Service Catalog, in a real run (never in check mode, a plan is a write) and after the template
        comparison of I(replacement_guard) let the tenant through - one provisioned product plan per tenant
        (CreateProvisionedProductPlan, the update as the rollout would make it, UsePreviousValue), read until made
        (DescribeProvisionedProductPlan), then deleted (DeleteProvisionedProductPlan) - and refuse a tenant whose
        plan replaces (C(Replacement) C(TRUE) or C(CONDITIONAL)) or removes a stateful resource, or whose plan fails
        for another reason than "didn't contain changes".
      - A plan is CloudFormation's change set of the product template only - a nested stack shows as one modified
        stack - so the template comparison stays the one that sees into nested stacks; a plan adds the view of the
        real stack (parameter values, the deployed template) for the product template's own resources.
      - Costs four or more calls per tenant, one tenant after the other, before the first update.
    type: bool
    default: false
  allow_replacement:
    description:
      - Replacements and deletions the guard lets through, each C(product/Path) (every tenant of the product) or
        C(tenant:product/Path) (one tenant), where C(Path) is the resource's logical id, prefixed by the nested
        stacks' logical ids (C(Orders/OrdersTable)). A list, or one comma-separated string.
      - Each refusal names the item that would allow it.
    type: raw
  pending_versions:
    description:
      - In check mode only, the versions the catalog step of the same run would create (they do not exist yet),
        each C(product) (name), C(version) (name) and C(template_url). A product without that version rolls out
        to it; a product that does not exist yet has no tenants. Ignored outside check mode, where the catalog
        step has written the target to SSM.
    type: list
    elements: dict
    default: []
  template_local_copies:
    description:
      - "Local files of templates a check run would publish, as C({S3 URL: path}) (the package phase's
        C(local_copies)): read instead of S3, where they are not yet."
    type: dict
    default: {}
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3,
  multiregion.serverless.aws, multiregion.serverless.stage, multiregion.serverless.portfolio, multiregion.serverless.target, multiregion.serverless.poll]
attributes:
  check_mode:
    support: full
    description:
      - Reads only. Returns the plan per tenant (C(would_update) from version to version, or C(refused)) and, in
        I(version_changes), what a stack update from each current version to the target changes (from the two
        templates, down into nested stacks, read once per version pair). With I(pending_versions), the versions
        this run's catalog step would create are the targets. Fails as the run would (a refused tenant).
  diff_mode:
    support: full
    description:
      - Returns as C(diff) the moving tenants grouped by change (product, from and to version, count, first names),
        each group with its template changes and the replacement guard's findings.
notes:
  - Uses SearchProvisionedProducts with C(AccessLevelFilter=Account), so the caller needs the Service Catalog
    administrator permissions to see every tenant of the account, not only those it launched.
  - A tenant whose record outlives I(record_timeout) is reported failed; its update goes on in AWS.
  - The work is done by C(plugins/module_utils/rollout_service.py) (C(roll_out)).
"""

EXAMPLES = r"""
- name: Update every tenant of the products to the versions the catalog phase stored in SSM
  multiregion.serverless.provisioned_product_update:
    products: [platform-core, analytics]
    ssm_prefix: /multiregion/prod
    max_concurrent: 8
    failure_tolerance: "5%"
    mode: stop
    order: ["canary-*", "tag:ring=early"]
    progress_file: /tmp/rollout-us-east-1.log
  register: rollout

- name: Roll one region back to the previous version
  multiregion.serverless.provisioned_product_update:
    region: eu-west-1
    products: [platform-core]
    target_version: V12

- name: See what would change, without touching a tenant
  multiregion.serverless.provisioned_product_update:
    products: [platform-core]
    ssm_prefix: /multiregion/prod
  check_mode: true
  diff: true

- name: Let the orders table of one tenant be replaced (its key schema changed on purpose)
  multiregion.serverless.provisioned_product_update:
    products: [platform-core]
    ssm_prefix: /multiregion/prod
    allow_replacement: "acme:platform-core/Orders/OrdersTable"
"""

RETURN = r"""
tenants:
  description: Every provisioned product of the products, with what happened to it.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Provisioned product name., returned: always, type: str, sample: acme-prod}
    id: {description: Provisioned product id., returned: always, type: str, sample: pp-abcdefgh12345}
    product: {description: Product name., returned: always, type: str, sample: platform-core}
    from_artifact: {description: Version id before the rollout., returned: always, type: str, sample: pa-old1234567890}
    from_version: {description: Version name before the rollout (when Service Catalog gives it)., returned: always, type: str, sample: V12}
    to_artifact: {description: Target version id., returned: always, type: str, sample: pa-new1234567890}
    to_version: {description: Target version name., returned: always, type: str, sample: V13}
    record_id: {description: The update's record id (empty when no update started)., returned: always, type: str, sample: rec-abcdefgh12345}
    stack_arn:
      description: "The tenant's CloudFormation stack, from the record's outputs (after an update)."
      returned: always
      type: str
      sample: "arn:aws:cloudformation:us-east-1:123456789012:stack/SC-123456789012-pp-abc/1"
    status:
      description:
        - C(updated), C(already_current), C(failed), C(skipped), C(not_started), C(refused) (by the replacement guard;
          I(error) says why), or in check mode C(would_update).
      returned: always
      type: str
      sample: updated
    duration: {description: Seconds from the update call to the poll that saw the record end., returned: always, type: float, sample: 74.2}
    error:
      description: "Why the update failed (the record's errors or the call's)."
      returned: always
      type: str
      sample: "ProvisioningFailed: stack rolled back"
    reason: {description: "Why a tenant was skipped, retried or not started.", returned: always, type: str, sample: "status UNDER_CHANGE"}
  sample: []
summary:
  description: How many tenants ended in each status, and C(total).
  returned: always
  type: dict
  sample: {updated: 297, already_current: 0, failed: 2, skipped: 0, not_started: 0, would_update: 0, refused: 1, total: 300}
targets:
  description: The target version per product and where it came from.
  returned: always
  type: list
  elements: dict
  sample:
    - {product: platform-core, product_id: prod-abc, artifact_id: pa-new, version: V13,
       source: "ssm:/multiregion/prod/products/platform-core/latest-artifact-id"}
tolerance:
  description: The failure tolerance applied (C(allowed) failures), whether it was C(exceeded), and whether the rollout C(stopped) starting updates.
  returned: always
  type: dict
  sample: {failure_tolerance: "10%", allowed: 30, failed: 2, exceeded: false, stopped: false, mode: stop}
stats:
  description:
    - The work of this call, for sizing. C(polls) are DescribeRecord calls while following records, C(peak_in_flight)
      the largest window used, C(peak_rss_mb) the module's peak memory (Linux).
  returned: always
  type: dict
  sample: {polls: 420, peak_in_flight: 8, seconds: 3120.5, peak_rss_mb: 61.2}
refusals:
  description: One line per refused tenant and resource, ending with the I(allow_replacement) item that would allow it.
  returned: when I(replacement_guard) is on
  type: list
  elements: str
  sample: ["tenant acme: platform-core/Orders/OrdersTable (AWS::DynamoDB::Table, KeySchema) would be replaced: ...;
            to allow it: allow_replacement=acme:platform-core/Orders/OrdersTable"]
replacement_notices:
  description: Replacements and deletions that go ahead, retained (C(DeletionPolicy) Retain) or allowed, one line each.
  returned: when I(replacement_guard) is on
  type: list
  elements: str
  sample: []
version_changes:
  description:
    - Per product, current version and target, the tenants with that change (C(tenants),
      the first C(tenant_names), how many C(refused)), what updating their stacks changes (parameters, resources
      and outputs added, removed or modified, nested stacks opened as C(Stack/Resource)), and the replacement
      guard's findings (C(replacements)). C(error) says why the changes could not be computed.
  returned: always
  type: list
  elements: dict
  sample:
    - {product: platform-core, from_artifact: pa-old, from_version: V12, to_artifact: pa-new, to_version: V13, tenants: 300, refused: 0,
       tenant_names: [acme, globex], changes: ["Resources.Orders/Handler: modified (Properties.Handler)"], replacements: []}
"""

from typing import Any, Dict, NoReturn

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import (
    ROLLOUT_POLL,
    PORTFOLIO_ARG_SPEC,
    STAGE_ARG_SPEC,
    TARGET_ARG_SPEC,
    TARGET_CONSTRAINTS,
    merged,
    poll_arg_spec,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceRunner, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout_service import RolloutRequest, roll_out

ARGUMENT_SPEC = merged(
    STAGE_ARG_SPEC,
    PORTFOLIO_ARG_SPEC,
    TARGET_ARG_SPEC,
    poll_arg_spec(ROLLOUT_POLL),
    products=dict(type="list", elements="str", required=True),
    max_concurrent=dict(type="int", default=8),
    failure_tolerance=dict(type="str", default="10%"),
    mode=dict(type="str", choices=["stop", "continue"], default="stop"),
    order=dict(type="list", elements="str", default=[]),
    progress_file=dict(type="path"),
    replacement_guard=dict(type="bool", default=True),
    replacement_plans=dict(type="bool", default=False),
    allow_replacement=dict(type="raw"),
    pending_versions=dict(type="list", elements="dict", default=[]),
    template_local_copies=dict(type="dict", default={}),
)


MODULE_SPEC: Dict[str, Any] = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **TARGET_CONSTRAINTS)


def run(module: ServiceRunner) -> NoReturn:
    request = RolloutRequest.from_params(module.params, module.check_mode, module._diff)
    module.run_service(roll_out, AwsApis.of_module(module), request, module.log)


def main() -> None:
    run(create_aws_module(**MODULE_SPEC))


if __name__ == "__main__":
    main()
