#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_artifact_sync
short_description: Publish packaged templates, Lambda ZIPs and rendered product templates into a regional artifact bucket
version_added: 0.1.0
description:
  - Uploads every object under exactly the key it is to be found at (the template's C(S3Key) for ZIPs, the
    content-addressed template keys of C(docs/project-layout.md)), in a thread pool, in one task per region.
  - An object that already exists with the same sha256 (recorded as C(x-amz-meta-sha256), else compared with a
    single-part ETag) is skipped; one that exists with other content fails the module, because published
    objects are never overwritten.
  - Every S3 call passes C(ExpectedBucketOwner), so a bucket owned by another account is never written, and
    every upload asks for server-side encryption.
  - With O(products), each product definition is rendered into a CloudFormation template whose nested stacks
    point at the regional URLs of the templates published by the same task, written to O(products_output_dir)
    and published under C(products/<product>/<stage>/<sha256>.json), after the objects it points at.
author:
  - multiregion.serverless maintainers (@multiregion-serverless)
options:
  bucket:
    description: The artifact bucket of the region.
    type: str
    required: true
  expected_bucket_owner:
    description: The account id that must own O(bucket) (the stage's account).
    type: str
    required: true
  packages:
    description:
      - Results of M(multiregion.serverless.sls_package) (its RV(multiregion.serverless.sls_package#module:services) and
        RV(multiregion.serverless.sls_package#module:init_stacks)); their templates and ZIPs are published.
    type: list
    elements: dict
    default: []
  files:
    description: More files to publish.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Local file.
        type: path
        required: true
      key:
        description: S3 key.
        type: str
        required: true
  products:
    description: Product definition files (C(products/<name>.yml)) to render from O(packages) and publish.
    type: list
    elements: path
    default: []
  products_output_dir:
    description: Where rendered product templates are written. Required with O(products).
    type: path
  stage:
    description: The stage; part of the product template keys. Required with O(products).
    type: str
  excluded_services:
    description: Services left out of the product templates (the stage's and the always-excluded ones).
    type: list
    elements: str
    default: []
  server_side_encryption:
    description: Server-side encryption of the uploads.
    type: str
    choices: [AES256, aws:kms]
    default: AES256
  kms_key_id:
    description: KMS key for O(server_side_encryption=aws:kms); the bucket's default key when omitted.
    type: str
  concurrency:
    description: Uploads running at once.
    type: int
    default: 8
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - multiregion.serverless.aws
attributes:
  check_mode:
    support: full
    description: Heads the objects and reports what would be uploaded; renders product templates in memory only.
  diff_mode:
    support: none
    description: Nothing is compared; the returned keys and statuses say what changed.
"""

EXAMPLES = r"""
- name: Publish what sls_package produced, and the products made of it
  multiregion.serverless.s3_artifact_sync:
    bucket: mrs-artifacts-dev-eu-west-1
    expected_bucket_owner: "123456789012"
    packages: "{{ packaged.services + packaged.init_stacks }}"
    products: "{{ query('ansible.builtin.fileglob', project_dir ~ '/products/*.yml') }}"
    products_output_dir: "{{ project_dir }}/../build/dev/eu-west-1/products"
    stage: dev
    excluded_services: [legacy-reports]
  register: published

- name: Publish one file
  multiregion.serverless.s3_artifact_sync:
    region: us-east-1
    bucket: mrs-artifacts-dev-us-east-1
    expected_bucket_owner: "123456789012"
    files:
      - path: /tmp/extra.json
        key: extra/extra.json
"""

RETURN = r"""
bucket:
  description: The bucket written to.
  returned: always
  type: str
  sample: mrs-artifacts-dev-eu-west-1
uploaded:
  description: Keys uploaded (in check mode, keys that would be uploaded).
  returned: always
  type: list
  elements: str
  sample: [serverless/orders/dev/aeceaf86ac9ba764/orders.zip]
skipped:
  description: Keys already present with the same content.
  returned: always
  type: list
  elements: str
  sample: [serverless/payments/dev/templates/06df47835bdebbbfef0dd9aa9af57ceb950106d4100998ebcac508e9fd004bfc.json]
template_urls:
  description: Regional URL of every published service and init stack template, by C(<kind>/<name>).
  returned: always
  type: dict
  sample: {service/orders: "https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/serverless/orders/dev/templates/2f9d.json"}
products:
  description: The rendered product templates, by product name.
  returned: always
  type: dict
  contains:
    path:
      description: The rendered template on disk (absent in check mode).
      type: str
      sample: /srv/build/dev/eu-west-1/products/platform-core/5e1c.json
    key:
      description: Its S3 key.
      type: str
      sample: products/platform-core/dev/5e1c0a6ba2b9f1e0d3c4b5a6978877665544332211ffeeddccbbaa0099887766.json
    url:
      description: Its regional URL (the Service Catalog LoadTemplateFromURL).
      type: str
      sample: https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/products/platform-core/dev/5e1c.json
    sha256:
      description: sha256 of the template.
      type: str
      sample: 5e1c0a6ba2b9f1e0d3c4b5a6978877665544332211ffeeddccbbaa0099887766
    nested_template_urls:
      description: TemplateURL of each nested stack, by logical id.
      type: dict
      sample: {OrdersServiceStack: "https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/serverless/orders/dev/templates/2f9d.json"}
    fingerprint:
      description:
        - The recursive fingerprint of the template and every nested template, computed from the local files
          just published (the one M(multiregion.serverless.catalog_artifact_version) compares versions by).
          Pass it as its O(multiregion.serverless.catalog_artifact_version#module:template_fingerprint) so the
          catalog need not read the tree back from S3.
        - Null when a nested template is not one of the published files.
      type: str
      sample: sha256:0c1f3e5d9a7b2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6
  sample: {}
summary:
  description: One line for people.
  returned: always
  type: str
  sample: "mrs-artifacts-dev-eu-west-1: 4 uploaded, 18 already there"
failures:
  description: On failure, the objects that could not be published, each with C(key) and C(msg).
  returned: failure
  type: list
  elements: dict
  sample: [{key: serverless/orders/dev/templates/2f9d.json, msg: "PutObject failed in eu-west-1 ..."}]
"""

import os
import re

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import aws_client, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils import cfn_template
from ansible_collections.multiregion.serverless.plugins.module_utils import product_template as products_mod
from ansible_collections.multiregion.serverless.plugins.module_utils import s3_sync
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import write_fresh_file

ACCOUNT_PATTERN = re.compile(r"^\d{12}$")


def render_products(module, nested, url_of):
    """``{name: {...}}`` of the rendered products and the objects to publish after the nested templates.

    ``nested``: ``product_template.nested_from_packages`` of the packages being published.
    """
    params = module.params
    files_by_url = {value["url"]: value["path"] for value in nested.values() if value["path"]}
    rendered, objects = {}, []
    for path in params["products"]:
        product = products_mod.load_product(path)
        template, body, digest, key = products_mod.render_to_bytes(product, nested, params["stage"], params["excluded_services"])
        entry = {
            "key": key, "url": url_of(key), "sha256": digest,
            "nested_template_urls": {logical: resource["Properties"]["TemplateURL"] for logical, resource in template["Resources"].items()},
            "fingerprint": None,
        }
        tree = cfn_template.local_fingerprint(template, files_by_url, key)
        if tree:
            entry["fingerprint"] = tree[0]
        path = None
        if not module.check_mode:  # check mode heads the key but writes nothing
            path = entry["path"] = os.path.join(params["products_output_dir"], product["name"], f"{digest}.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_fresh_file(path, body)
        objects.append({"key": key, "path": path, "sha256": digest})
        rendered[product["name"]] = entry
    return rendered, objects


def main() -> None:
    module = create_aws_module(
        argument_spec=dict(
            bucket=dict(type="str", required=True),
            expected_bucket_owner=dict(type="str", required=True),
            packages=dict(type="list", elements="dict", default=[]),
            files=dict(type="list", elements="dict", default=[],
                       options=dict(path=dict(type="path", required=True), key=dict(type="str", required=True, no_log=False))),
            products=dict(type="list", elements="path", default=[]),
            products_output_dir=dict(type="path"),
            stage=dict(type="str"),
            excluded_services=dict(type="list", elements="str", default=[]),
            server_side_encryption=dict(type="str", choices=["AES256", "aws:kms"], default="AES256"),
            kms_key_id=dict(type="str"),
            concurrency=dict(type="int", default=8),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not ACCOUNT_PATTERN.match(params["expected_bucket_owner"]):
        module.fail_json(msg=f"expected_bucket_owner must be a 12-digit account id, got {params['expected_bucket_owner']!r}")
    if params["products"] and not (params["stage"] and params["products_output_dir"]):
        module.fail_json(msg="products needs stage and products_output_dir")
    if params["concurrency"] < 1:
        module.fail_json(msg=f"concurrency must be 1 or more, got {params['concurrency']}")
    region, bucket = module.region, params["bucket"]
    if not region:
        module.fail_json(msg="region is required (set it with module_defaults for group/multiregion.serverless.aws)")

    def url_of(key: str) -> str:
        return s3_sync.regional_url(bucket, region, key)

    client = aws_client(module, "s3")
    sync_options = dict(region=region, check_mode=module.check_mode, concurrency=params["concurrency"],
                        server_side_encryption=params["server_side_encryption"], kms_key_id=params["kms_key_id"])
    result = dict(changed=False, bucket=bucket, uploaded=[], skipped=[], products={}, template_urls={})
    try:
        nested_objects = s3_sync.dedupe_objects(s3_sync.objects_from_packages(params["packages"]) + params["files"])
        nested = products_mod.nested_from_packages(params["packages"], url_of)
        result["template_urls"] = {f"{kind}/{name}": value["url"] for (kind, name), value in nested.items()}
        rendered, product_objects = render_products(module, nested, url_of)
        result["products"] = rendered
        # Products go last: a product template is only published once every object it points at is.
        for batch in (nested_objects, s3_sync.dedupe_objects(product_objects)):
            outcome = s3_sync.sync_objects(client, bucket, params["expected_bucket_owner"], batch, **sync_options)
            result["uploaded"] += outcome["uploaded"]
            result["skipped"] += outcome["skipped"]
            if outcome["failures"]:
                result["changed"] = bool(result["uploaded"])
                module.fail_json(msg=f"publishing to {bucket} failed for {len(outcome['failures'])} object(s): "
                                     + "; ".join(failure["msg"] for failure in outcome["failures"][:5]),
                                 failures=outcome["failures"], **result)
    except (s3_sync.SyncError, products_mod.ProductError) as exc:
        module.fail_json(msg=str(exc), **result)
    result["changed"] = bool(result["uploaded"])
    verb = "would be uploaded" if module.check_mode else "uploaded"
    result["summary"] = f"{bucket}: {len(result['uploaded'])} {verb}, {len(result['skipped'])} already there"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
