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
  - The work is done by C(plugins/module_utils/s3_sync.py) (C(publish)); the rendering by
    C(plugins/module_utils/product_template.py) (C(render_products)).
author:
  - multiregion.serverless maintainers (@multiregion-serverless)
options:
  bucket:
    description: The artifact bucket of the region.
    type: str
    required: true
  expected_bucket_owner:
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
extends_documentation_fragment: [amazon.aws.common.modules, amazon.aws.region.modules, amazon.aws.boto3,
  multiregion.serverless.aws, multiregion.serverless.bucket_owner]
attributes:
  check_mode:
    support: full
    description: >-
      Heads the objects and reports what would be uploaded; product templates are still rendered to
      O(products_output_dir) (a local file, not the managed system), so the catalog's check can read them.
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
local_copies:
  description:
    - The local file holding each template this call publishes (or in check mode would), by its S3 URL; keys are
      content-addressed, so the file has the bytes at the URL.
    - For the O(multiregion.serverless.catalog_artifact_version#module:template_local_copies) option.
  returned: always
  type: dict
  sample:
    "https://mrs-artifacts-dev-eu-west-1.s3.eu-west-1.amazonaws.com/serverless/orders/dev/templates/2f9d.json": /srv/build/orders/out/template.json
products:
  description: The rendered product templates, by product name.
  returned: always
  type: dict
  contains:
    path:
      description: The rendered template on disk (written in check mode too).
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

from typing import Any, Dict, NoReturn

from ansible_collections.multiregion.serverless.plugins.module_utils.arg_specs import from_params
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceRunner, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.s3_sync import PublishRequest, publish

ARGUMENT_SPEC = dict(
    bucket=dict(type="str", required=True),
    expected_bucket_owner=dict(type="str", required=True),
    packages=dict(type="list", elements="dict", default=[]),
    files=dict(
        type="list", elements="dict", default=[], options=dict(path=dict(type="path", required=True), key=dict(type="str", required=True, no_log=False))
    ),
    products=dict(type="list", elements="path", default=[]),
    products_output_dir=dict(type="path"),
    stage=dict(type="str"),
    excluded_services=dict(type="list", elements="str", default=[]),
    server_side_encryption=dict(type="str", choices=["AES256", "aws:kms"], default="AES256"),
    kms_key_id=dict(type="str"),
    concurrency=dict(type="int", default=8),
)


MODULE_SPEC: Dict[str, Any] = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)


def run(module: ServiceRunner) -> NoReturn:
    module.run_service(publish, AwsApis.of_module(module), from_params(PublishRequest, module.params, check_mode=module.check_mode))


def main() -> None:
    run(create_aws_module(**MODULE_SPEC))


if __name__ == "__main__":
    main()
