#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: catalog_artifact_version
short_description: Create a Service Catalog product version only when its template changed, and keep its id in SSM
version_added: 0.1.0
description:
  - Compares a product's new CloudFormation template with the product's current version as normalized documents
    (key order, whitespace and JSON/YAML form do not count). The comparison covers every nested stack template the
    product template references through C(TemplateURL), so a change in any service changes the product.
  - The comparison uses a fingerprint, C(sha256) of the canonical JSON with each nested C(TemplateURL) replaced by
    the fingerprint of the template it points at. It is stored at the end of the version's description as
    C([fingerprint:sha256:<hex>]), so later runs compare without downloading; a version without one (made by hand)
    is compared by fetching its template.
  - Only on a change, creates a version named by I(version_scheme) with the next number, one more than the highest
    number among ALL the product's versions (active or not) and the high-water mark kept in
    I(version_counter_parameter), so a number is never issued twice even after its version was deleted. Names that do
    not follow the scheme are ignored for numbering, with a warning.
  - Then writes the new version's id to the SSM parameter I(ssm_parameter) (String, Standard tier, overwritten).
    Without a change it writes nothing, but still repairs I(ssm_parameter) when it does not hold the current
    version's id (reported as a change).
  - The current version is the highest-numbered active version the scheme names (or, when none does, the most
    recently created active one).
  - With I(keep_active_versions), versions older than the newest K are marked inactive and C(DEPRECATED), except
    those a provisioned product still uses.
  - With I(stage), the product belongs to that stage. A product found by name is used only when it carries the tag
    C(multiregion:stage=<stage>), and a created product gets that tag. A product without the tag or with another
    stage's, and a name that matches two products, are refused with the command that adopts the product explicitly.
  - Refused before anything is written, with one line each, an unknown product (unless I(create_missing_product)),
    a template that is not valid JSON/YAML CloudFormation, a template or nested template in a bucket not owned by
    I(expected_bucket_owner) (checked with C(HeadBucket) first; without I(expected_bucket_owner), bucket ownership is
    not checked), an SSM parameter name that is not a valid path, and a new version over I(version_limit) (unless
    I(prune_versions) can make room).
  - With I(product), one of I(ssm_parameter) and I(ssm_prefix) is required.
  - The work is done by C(plugins/module_utils/catalog_service.py) (C(version_products)).
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  product:
    description:
      - The product's name, or its id (C(prod-...)).
      - Give either I(product) (with I(ssm_parameter) or I(ssm_prefix), and one of I(template_url) and I(template_path))
        or I(products).
      - A name must match exactly one product of the region.
    type: str
  products:
    description:
      - Several products in one call (the catalog role versions every product of a region this way), so one module
        start-up instead of one per product. Each entry takes the per-product options below; every other option
        applies to all of them.
      - Every entry is checked before anything is written. Then each product is versioned in turn; a product that
        fails does not stop the others, and the module fails afterwards naming every product that failed.
    type: list
    elements: dict
    suboptions:
      product:
        description: The product's name or id, as I(product).
        type: str
        required: true
      template_url:
        description: Where its new template is published (required in an entry), as I(template_url).
        type: str
        required: true
      template_fingerprint:
        description: The fingerprint of that template tree, as I(template_fingerprint).
        type: str
      ssm_parameter:
        description: Its latest-id parameter; defaults to the one named after I(ssm_prefix).
        type: str
      version_counter_parameter:
        description: Its high-water mark, as I(version_counter_parameter).
        type: str
      product_owner:
        description: The owner of the product if it is created, as I(product_owner).
        type: str
      product_description:
        description: As I(product_description), for a created product.
        type: str
      product_distributor:
        description: Its distributor when created.
        type: str
      product_support_email:
        description: Where its users get support (a created product's I(product_support_email)).
        type: str
  template_url:
    description:
      - The S3 URL of the new product template, as the package phase publishes it
        (C(https://<bucket>.s3.<region>.amazonaws.com/<key>); the other S3 URL forms are accepted).
      - Mutually exclusive with I(template_path).
    type: str
  template_fingerprint:
    description:
      - The fingerprint of the template at I(template_url) and its nested templates, as
        M(multiregion.serverless.s3_artifact_sync) returns it for the product templates it publishes
        (C(sha256:<64 hex>)).
      - When given, the module compares it with the active version's fingerprint without reading the template tree
        from S3 (the tree is still read in diff mode, to show it). Give it only for a template whose objects are never
        overwritten, as the package phase publishes them; a wrong value creates a version with that fingerprint, or
        misses a change.
      - Only with I(template_url).
    type: str
  template_path:
    description:
      - A local file holding the new product template (JSON or YAML with CloudFormation short tags).
      - Service Catalog reads templates from S3 only, so on a change the file is uploaded to I(template_bucket) under
        C(<template_key_prefix>/<sha256 of the file>.<extension>) (never overwritten).
      - Mutually exclusive with I(template_url).
    type: path
  template_bucket:
    description: The bucket a I(template_path) is uploaded to (the region's artifact bucket). Required with I(template_path).
    type: str
  template_key_prefix:
    description: The key prefix for an uploaded I(template_path). Defaults to C(products/<product>).
    type: str
  version_counter_parameter:
    description:
      - The SSM parameter that remembers the highest version number ever issued for the product (a JSON value naming
        the product id). Defaults to C(highest-version-number) beside I(ssm_parameter).
    type: str
  version_scheme:
    description: How versions are named; C(<n>) stands for the number and must appear once.
    type: str
    default: V<n>
  description:
    description: The new version's description (the fingerprint marker is appended).
    type: str
  guidance:
    description: The guidance of a new version.
    type: str
    choices: [DEFAULT, DEPRECATED]
    default: DEFAULT
  create_missing_product:
    description:
      - Create the product, with its first version C(V1) (in the scheme), when it does not exist. Otherwise an unknown
        product is an error.
    type: bool
    default: false
  product_owner:
    description: The owner of a product created by I(create_missing_product) (required to create one).
    type: str
  product_description:
    description: The description of a created product.
    type: str
  product_distributor:
    description: The distributor of a created product.
    type: str
  product_support_email:
    description: The support e-mail of a created product.
    type: str
  product_tags:
    description: Tags of a created product.
    type: dict
    default: {}
  keep_active_versions:
    description:
      - When set, versions (named by the scheme) older than the newest I(keep_active_versions) are marked inactive
        (C(Active=false)) and C(DEPRECATED). A version that a provisioned product uses is never touched.
    type: int
  version_limit:
    description:
      - The most versions (provisioning artifacts, active or not) a product may have; Service Catalog's quota is 100
        per product by default and can be raised, so set this to the account's quota.
      - A new version that would exceed it is refused before anything is written, in one line naming the product, the
        limit and the oldest versions that could go (those no provisioned product uses, other than the newest, the
        current one and the one I(ssm_parameter) names). With I(products), one refused product refuses the whole call.
    type: int
    default: 100
  prune_versions:
    description:
      - Instead of refusing a version over I(version_limit), delete just enough of the oldest versions that could go
        (C(DeleteProvisioningArtifact)), then create it. Never the newest version, the current one, the one
        I(ssm_parameter) names, or one a provisioned product uses.
      - When that cannot make room, the version is refused as without this option.
      - Check mode lists the versions it would delete in C(pruned_artifacts) and deletes nothing.
    type: bool
    default: false
  diff_max_chars:
    description: In diff mode, each side of the template diff is cut to this many characters, with a marker.
    type: int
    default: 65536
  template_local_copies:
    description:
      - Local files holding the templates at the given S3 URLs, read instead of S3 (the product template and its
        nested templates). The package phase publishes under content-addressed keys, so a file it names holds
        exactly the bytes at its URL; its C(local_copies) result is meant for this option.
      - In check mode of a whole deploy the templates this run would upload are not in S3 yet; with their local
        copies the check compares and diffs them like the real run will.
    type: dict
    default: {}
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3,
  multiregion.serverless.aws, multiregion.serverless.stage, multiregion.serverless.portfolio, multiregion.serverless.bucket_owner]
attributes:
  check_mode:
    support: full
    description: Reads everything and reports the version it would create, the versions it would prune and the SSM write it would make; writes nothing.
  diff_mode:
    support: full
    description:
      - Shows the current version's template and the new one as pretty JSON, each side bounded by I(diff_max_chars).
      - With I(prune_versions), the versions deleted (or that would be) to make room are named in the diff.
notes:
  - The fingerprint ignores where a nested template lives, only what it holds; a nested template re-published
    under another key with the same content makes no new version.
"""

EXAMPLES = r"""
- name: Version the product from the template the package phase published
  multiregion.serverless.catalog_artifact_version:
    product: platform-core
    template_url: https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/products/platform-core/dev/3f2a...json
    expected_bucket_owner: "123456789012"
    ssm_parameter: /multiregion/dev/products/platform-core/latest-artifact-id
  register: catalog_version

- name: Version every product of the region in one call, with the fingerprints the package phase computed
  multiregion.serverless.catalog_artifact_version:
    products:
      - product: platform-core
        template_url: https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/products/platform-core/dev/3f2a...json
        template_fingerprint: sha256:0c1f3e5d9a7b2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6
        ssm_parameter: /multiregion/dev/products/platform-core/latest-artifact-id
      - product: reporting
        template_url: https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/products/reporting/dev/9b1c...json
        ssm_parameter: /multiregion/dev/products/reporting/latest-artifact-id
        product_owner: platform-team
    create_missing_product: true
    expected_bucket_owner: "123456789012"
  register: catalog_versions

- name: First deploy of a new product from a local file, keeping the five newest versions active
  multiregion.serverless.catalog_artifact_version:
    product: reporting
    template_path: build/reporting.yml
    template_bucket: mrs-artifacts-dev-us-east-1
    expected_bucket_owner: "123456789012"
    ssm_parameter: /multiregion/dev/products/reporting/latest-artifact-id
    create_missing_product: true
    product_owner: platform-team
    keep_active_versions: 5

- name: Version a product whose quota was raised to 200, deleting its oldest unused versions when it is full
  multiregion.serverless.catalog_artifact_version:
    product: platform-core
    template_url: https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/products/platform-core/dev/3f2a...json
    expected_bucket_owner: "123456789012"
    ssm_parameter: /multiregion/dev/products/platform-core/latest-artifact-id
    version_limit: 200
    prune_versions: true
"""

RETURN = r"""
portfolio:
  description: With O(portfolio), the stage's portfolio after the versions - its id (null in check mode when it would be created)
    and what was (in check mode would be) changed - created, principals associated, products added, launch constraints.
  returned: when O(portfolio) is set
  type: dict
  sample: {name: platform-dev, id: port-abc123, changed: true, changes: ["add product platform-core-dev"]}
product_id:
  description: The product's id (null in check mode when the product would be created).
  returned: with I(product)
  type: str
  sample: prod-abcdefghijklm
product_name:
  description: The product as given in I(product).
  returned: with I(product)
  type: str
  sample: platform-core
product_created:
  description: Whether the product was (or in check mode would be) created.
  returned: with I(product)
  type: bool
  sample: false
previous_artifact_id:
  description: The id of the version that was current before this call (null for a new product or one with no active version).
  returned: with I(product)
  type: str
  sample: pa-2b3c4d5e6f7g8
previous_artifact_name:
  description: The name of that version.
  returned: with I(product)
  type: str
  sample: V12
previous_fingerprint:
  description: That version's fingerprint (from its description, or computed from its template).
  returned: with I(product)
  type: str
  sample: sha256:1f0e...
artifact_id:
  description: The id of the current version after this call (the new one when created; null in check mode for a new one).
  returned: with I(product)
  type: str
  sample: pa-3c4d5e6f7g8h9
artifact_name:
  description: The name of the current version after this call (the one that would be created, in check mode).
  returned: with I(product)
  type: str
  sample: V13
version_created:
  description: Whether a version was (or in check mode would be) created.
  returned: with I(product)
  type: bool
  sample: true
fingerprint:
  description: The fingerprint of the new template.
  returned: with I(product)
  type: str
  sample: sha256:9a8b...
template_url:
  description: The URL the version's template is loaded from.
  returned: with I(product)
  type: str
  sample: https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/products/platform-core/dev/3f2a.json
nested_templates:
  description:
    - Every nested template the product template references, depth first.
    - Empty when I(template_fingerprint) spared reading the tree.
  returned: with I(product)
  type: list
  elements: dict
  sample: [{logical_id: OrdersStack, url: "https://b.s3.eu-west-1.amazonaws.com/serverless/orders/dev/templates/ab.json", fingerprint: "sha256:...", depth: 1}]
ignored_artifact_names:
  description: Version names that do not follow I(version_scheme) and were ignored for numbering (filled when a version is created).
  returned: with I(product)
  type: list
  elements: str
  sample: [hotfix-2024]
ssm_parameter:
  description: The SSM parameter holding the latest version's id.
  returned: with I(product)
  type: str
  sample: /multiregion/dev/products/platform-core/latest-artifact-id
ssm_parameter_version:
  description: The parameter's version after this call (null when it does not exist yet, in check mode).
  returned: with I(product)
  type: int
  sample: 4
ssm_parameter_changed:
  description: Whether the parameter was (or would be) written, for a new version or a repair.
  returned: with I(product)
  type: bool
  sample: true
version_counter_parameter:
  description: The SSM parameter holding the highest version number issued.
  returned: with I(product)
  type: str
  sample: /multiregion/dev/products/platform-core/highest-version-number
version_limit:
  description: The most versions the product may have (I(version_limit)).
  returned: with I(product)
  type: int
  sample: 100
pruned_artifacts:
  description:
    - Versions deleted (in check mode, that would be deleted) by I(prune_versions) to make room for the new one, oldest
      first; empty when nothing had to go.
  returned: with I(product)
  type: list
  elements: dict
  sample: [{id: pa-0a1b2c3d4e5f6, name: V1}]
deprecated_artifacts:
  description: Versions marked (or that would be marked) inactive and DEPRECATED by I(keep_active_versions).
  returned: with I(product)
  type: list
  elements: dict
  sample: [{id: pa-1a2b3c4d5e6f7, name: V7}]
kept_in_use_artifacts:
  description: Versions older than the newest I(keep_active_versions) left alone because provisioned products use them.
  returned: with I(product)
  type: list
  elements: dict
  sample: [{id: pa-0a1b2c3d4e5f6, name: V5}]
diff:
  description:
    - In diff mode, the current and the new template as pretty JSON (each side bounded).
    - With I(products), a list of them, one per product, the product's name leading each header.
  returned: when diff mode is on
  type: raw
  sample: {before_header: V12, after_header: V13, before: "{...}", after: "{...}"}
products:
  description:
    - With I(products), one result per entry, in order, each holding the keys above (C(product_name), C(artifact_id),
      C(version_created), C(changed), ...); an entry that failed holds C(failed) and C(msg) instead.
  returned: with I(products)
  type: list
  elements: dict
  sample: [{product_name: platform-core, artifact_name: V13, version_created: true, changed: true}]
"""

from typing import Any, Dict, NoReturn

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import PORTFOLIO_ARG_SPEC, STAGE_ARG_SPEC, merged
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceRunner, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog_service import PER_PRODUCT_ONLY, PER_PRODUCT_OPTIONS, version_products

ARGUMENT_SPEC = merged(
    STAGE_ARG_SPEC,
    PORTFOLIO_ARG_SPEC,
    product=dict(type="str"),
    products=dict(type="list", elements="dict", options=PER_PRODUCT_OPTIONS),
    template_url=dict(type="str"),
    template_path=dict(type="path"),
    template_fingerprint=dict(type="str"),
    template_bucket=dict(type="str"),
    template_key_prefix=dict(type="str", no_log=False),
    expected_bucket_owner=dict(type="str"),
    version_counter_parameter=dict(type="str"),
    version_scheme=dict(type="str", default="V<n>"),
    description=dict(type="str"),
    guidance=dict(type="str", choices=["DEFAULT", "DEPRECATED"], default="DEFAULT"),
    create_missing_product=dict(type="bool", default=False),
    product_owner=dict(type="str"),
    product_description=dict(type="str"),
    product_distributor=dict(type="str"),
    product_support_email=dict(type="str"),
    product_tags=dict(type="dict", default={}),
    keep_active_versions=dict(type="int"),
    version_limit=dict(type="int", default=100),
    prune_versions=dict(type="bool", default=False),
    diff_max_chars=dict(type="int", default=65536),
    template_local_copies=dict(type="dict", default={}),
)


MODULE_SPEC: Dict[str, Any] = dict(
    argument_spec=ARGUMENT_SPEC,
    require_region=True,
    mutually_exclusive=[("template_url", "template_path")] + [("products", option) for option in PER_PRODUCT_ONLY],
    required_one_of=[("product", "products")],
    required_by={"template_path": "template_bucket", "template_fingerprint": "template_url"},
    supports_check_mode=True,
)


def run(module: ServiceRunner) -> NoReturn:
    module.run_service(version_products, AwsApis.of_module(module), module.params, module.check_mode, module._diff, module.warn)


def main() -> None:
    run(create_aws_module(**MODULE_SPEC))


if __name__ == "__main__":
    main()
