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
    C(<ssm_prefix>/products/<product>/latest-artifact-id); I(target_version) names another one (an id or a name
    such as C(V12)), for example the previous version to roll a region back.
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
  stage:
    description:
      - The stage that owns the product(s). A product that does not carry the tag C(multiregion:stage=<stage>) is
        refused before any change, with the command that adopts it explicitly (docs/project-layout.md). The deploy
        roles always set it. Without it, ownership is not checked.
    type: str
  ssm_prefix:
    description:
      - The stage's SSM prefix; each product's target is read from C(<ssm_prefix>/products/<product>/latest-artifact-id).
      - Required unless I(ssm_parameter) or I(target_version) is given.
    type: str
  ssm_parameter:
    description: The SSM parameter holding the target artifact id, instead of the one built from I(ssm_prefix). One product only.
    type: str
  target_version:
    description:
      - Roll out this version instead of the one in SSM, by id (C(pa-...)) or by name (C(V12)). Rolls back when it is
        an older version. With several products, a name is looked up in each; an id only fits one product.
    type: str
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
  poll_delay:
    description:
      - Seconds before the first poll of a record until some record has finished (then the typical duration is used),
        and the shortest interval between polls.
    type: float
    default: 5
  poll_max_delay:
    description: The longest interval between two polls of one record (the backoff grows by 1.5 up to it).
    type: float
    default: 60
  record_timeout:
    description: Seconds after which a record still in progress is given up on; the tenant is reported failed (the update itself goes on in AWS).
    type: float
    default: 3600
  progress_file:
    description:
      - A file to append one line per started and finished tenant to (C(tail -f) it to follow a long rollout);
        the module cannot stream to the Ansible console. The same lines go to the module log.
    type: path
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - multiregion.serverless.aws
attributes:
  check_mode:
    support: full
    description:
      - Reads only. Returns the plan per tenant (C(would_update) from version to version) and, in I(version_changes),
        what a stack update from each current version to the target changes (from the two templates, read once
        per version pair).
  diff_mode:
    support: full
    description: Returns the tenants' versions before and after as C(diff).
notes:
  - Uses SearchProvisionedProducts with C(AccessLevelFilter=Account), so the caller needs the Service Catalog
    administrator permissions to see every tenant of the account, not only those it launched.
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
      description: C(updated), C(already_current), C(failed), C(skipped), C(not_started), or in check mode C(would_update).
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
  sample: {updated: 298, already_current: 0, failed: 2, skipped: 0, not_started: 0, would_update: 0, total: 300}
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
version_changes:
  description:
    - In check or diff mode, per product and current version, what updating a stack to the target changes
      (parameters, resources and outputs added, removed or modified). C(error) says why it could not be computed.
  returned: check mode or diff mode
  type: list
  elements: dict
  sample: [{product: platform-core, from_artifact: pa-old, to_artifact: pa-new, tenants: 300, changes: ["Resources.Orders: modified (Properties.TemplateURL)"]}]
"""

import os
import resource
import time

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import (
    BotoCoreError,
    ClientError,
    aws_client,
    aws_error_message,
    create_aws_module,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import TemplateError, parse_s3_url, parse_template
from ansible_collections.multiregion.serverless.plugins.module_utils.records import ApiCallFailed, CatalogCalls, PollPolicy, parameter_reader
from ansible_collections.multiregion.serverless.plugins.module_utils.rollout import (
    FAILED,
    WOULD_UPDATE,
    CatalogRolloutApi,
    FailureTolerance,
    ParameterSpec,
    RolloutError,
    RolloutRunner,
    Tenant,
    artifacts_to_describe,
    order_groups,
    plan_rollout,
    resolve_target,
    summarize,
    tainted_tenants,
    template_changes,
)


class Progress:
    """Progress lines to the optional file (flushed, for tail -f) and the module log."""

    def __init__(self, module, path):
        self.module = module
        self.handle = None
        if path:
            # The folder may not exist yet (a fresh progress dir per run).
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.handle = open(path, "a", encoding="utf-8")  # pylint: disable=consider-using-with

    def __call__(self, line):
        text = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {self.module.region}: {line}"
        if self.handle:
            self.handle.write(text + "\n")
            self.handle.flush()
        self.module.log(text)

    def close(self):
        if self.handle:
            self.handle.close()


def describe_versions(calls, wanted):
    """Parameters (by artifact id) and template URLs of the versions the plan needs; a missing version is left out."""
    parameters, template_urls = {}, {}
    for product_id, artifact_id in wanted:
        try:
            answer = calls.call(
                "DescribeProvisioningArtifact",
                f"version {artifact_id} of {product_id}",
                ProductId=product_id,
                ProvisioningArtifactId=artifact_id,
                Verbose=True,
                IncludeProvisioningArtifactParameters=True,
            )
        except ApiCallFailed as exc:
            if "ResourceNotFound" not in str(exc):
                raise
            continue  # a deleted version: its tenants keep the target's keys
        parameters[artifact_id] = [ParameterSpec.from_api(item) for item in answer.get("ProvisioningArtifactParameters") or []]
        template_urls[artifact_id] = (answer.get("Info") or {}).get("TemplateUrl", "")
    return parameters, template_urls


def read_template(module, s3, url, cache):
    if url not in cache:
        try:
            location = parse_s3_url(url)
            body = s3.get_object(Bucket=location.bucket, Key=location.key, aws_retry=True)["Body"].read().decode("utf-8")
            cache[url] = parse_template(body, url)
        except TemplateError as exc:
            cache[url] = exc
        except (BotoCoreError, ClientError) as exc:
            cache[url] = ApiCallFailed(aws_error_message(exc, "GetObject", module.region, url))
    return cache[url]


def version_changes(module, plan, template_urls):
    """What each (current version -> target) update changes, from the two templates (read once per version)."""
    s3 = aws_client(module, "s3")
    counts = {}
    for update in plan.updates:
        key = (update.target.product, update.tenant.artifact_id, update.target.artifact_id)
        counts[key] = counts.get(key, 0) + 1
    cache, changes = {}, []
    for (product, from_artifact, to_artifact), tenants in sorted(counts.items()):
        entry = dict(product=product, from_artifact=from_artifact, to_artifact=to_artifact, tenants=tenants, changes=[])
        old = read_template(module, s3, template_urls.get(from_artifact, ""), cache) if from_artifact in template_urls else None
        new = read_template(module, s3, template_urls.get(to_artifact, ""), cache)
        problem = next((item for item in (old, new) if isinstance(item, Exception)), None)
        if old is None:
            entry["error"] = f"version {from_artifact} no longer exists"
        elif problem is not None:
            entry["error"] = f"templates not readable: {problem}"
        else:
            entry["changes"] = template_changes(old, new)
        changes.append(entry)
    return changes


def main() -> None:
    module = create_aws_module(
        argument_spec=dict(
            products=dict(type="list", elements="str", required=True),
            ssm_prefix=dict(type="str"),
            stage=dict(type="str"),
            ssm_parameter=dict(type="str"),
            target_version=dict(type="str"),
            max_concurrent=dict(type="int", default=8),
            failure_tolerance=dict(type="str", default="10%"),
            mode=dict(type="str", choices=["stop", "continue"], default="stop"),
            order=dict(type="list", elements="str", default=[]),
            poll_delay=dict(type="float", default=5.0),
            poll_max_delay=dict(type="float", default=60.0),
            record_timeout=dict(type="float", default=3600.0),
            progress_file=dict(type="path"),
        ),
        supports_check_mode=True,
        mutually_exclusive=[("ssm_parameter", "target_version")],
        required_one_of=[("ssm_prefix", "ssm_parameter", "target_version")],
    )
    params = module.params
    if not params["products"]:
        module.fail_json(msg="products must name at least one product")
    if params["ssm_parameter"] and len(params["products"]) > 1:
        module.fail_json(msg="ssm_parameter holds the target of one product; with several products use ssm_prefix")
    try:
        tolerance = FailureTolerance.parse(params["failure_tolerance"])
        order_groups([], params["order"])  # refuses a malformed selector before any call
        policy = PollPolicy(params["poll_delay"], params["poll_max_delay"], params["record_timeout"])
        progress = Progress(module, params["progress_file"])
        calls = CatalogCalls(aws_client(module, "servicecatalog"), module.region)
        runner = RolloutRunner(CatalogRolloutApi(calls), params["max_concurrent"], tolerance, params["mode"], policy, progress=progress)
    except (RolloutError, ValueError, OSError) as exc:
        module.fail_json(msg=str(exc))

    started = time.monotonic()
    try:
        read_parameter = parameter_reader(aws_client(module, "ssm"), module.region)
        targets = {}
        for wanted in params["products"]:
            target = resolve_target(calls, read_parameter, wanted, params["target_version"], params["ssm_parameter"], params["ssm_prefix"], params["stage"])
            targets[target.product_id] = target
        tenants = []
        for target in targets.values():
            rows = calls.search_provisioned_products(target.product_id, target.product)
            tenants.extend(Tenant.from_search_row(row, target.product) for row in rows)
        parameters, template_urls = describe_versions(calls, artifacts_to_describe(tenants, targets))
        last_records = {tenant.id: calls.describe_record(tenant.last_record_id) for tenant in tainted_tenants(tenants)}
        plan = plan_rollout(tenants, targets, parameters, last_records, params["order"])
    except (ApiCallFailed, RolloutError) as exc:
        module.fail_json(msg=str(exc))

    result = dict(
        changed=bool(plan.updates),
        targets=[dict(product=t.product, product_id=t.product_id, artifact_id=t.artifact_id, version=t.version, source=t.source) for t in targets.values()],
    )
    progress(f"{len(tenants)} tenants, {len(plan.updates)} to update, " + ", ".join(f"{t.product} -> {t.version} ({t.artifact_id})" for t in targets.values()))
    if module.check_mode or module._diff:
        result["version_changes"] = version_changes(module, plan, template_urls)
    if module.check_mode:
        results = plan.settled + [update.result(WOULD_UPDATE) for update in plan.updates]
        outcome = None
    else:
        outcome = runner.run(plan.updates)
        results = plan.settled + outcome.results
    progress.close()

    results.sort(key=lambda r: (r.product, r.name))
    summary = summarize(results)
    failed = [r for r in results if r.status == FAILED]
    allowed = tolerance.allowed(len(plan.updates))
    result.update(
        tenants=[r.as_dict() for r in results],
        summary=summary,
        tolerance=dict(
            failure_tolerance=str(tolerance),
            allowed=allowed,
            failed=len(failed),
            exceeded=bool(outcome and outcome.tolerance_exceeded),
            stopped=bool(outcome and outcome.stopped),
            mode=params["mode"],
        ),
        stats=dict(
            polls=outcome.polls if outcome else 0,
            peak_in_flight=outcome.peak_in_flight if outcome else 0,
            seconds=round(time.monotonic() - started, 3),
            # kilobytes on Linux: the module's own peak memory, whatever the number of tenants
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        ),
    )
    if module._diff:
        moving = [r for r in results if r.status in ("updated", WOULD_UPDATE)]
        result["diff"] = dict(
            before={r.name: r.from_version or r.from_artifact for r in moving},
            after={r.name: r.to_version or r.to_artifact for r in moving},
        )
    if module.check_mode:
        module.exit_json(**result)
    # changed: an update was started (AWS was written), whatever its outcome.
    result["changed"] = any(r.record_id for r in results)
    if failed:
        shown = "; ".join(f"{r.product}/{r.name}: {r.error}" for r in failed[:5]) + ("; ..." if len(failed) > 5 else "")
        stopped = f", {summary['not_started']} not started (failure tolerance {tolerance} exceeded)" if summary["not_started"] else ""
        module.fail_json(msg=f"{len(failed)} of {summary['total']} tenants failed in {module.region}{stopped}: {shown}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
