#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sls_package
short_description: Package Serverless Framework and AWS SAM services (and serverless-compose init stacks) for one stage and region
version_added: 0.1.0
description:
  - Runs C(sls package --stage STAGE --region REGION) (serverless 3.x or its fork osls) for a list of services
    in one task, several at a time, and returns per service the content-addressed template, every ZIP with
    its sha256 and the S3 key the template names it under, the Lambda functions' logical ids and the time taken.
  - Every packaging runs in its own working copy under O(build_root) (one per stage, region and service); the
    service's files are hard-linked, C(node_modules) and the rest of the project are symlinked, and
    C(.serverless/) starts empty. Regions packaged side by side never share a folder, and the user's source
    tree is never written.
  - The output depends on the sources only, so the same source, stage and region give byte-identical
    templates and ZIPs, and the same keys, on any machine, path, umask and day, with or without the cache.
    Every ZIP is rewritten (entries sorted, fixed dates, modes 0644 or 0755 for files with an exec bit, no
    extra fields); the timestamp in every artifact key becomes the first 16 hex digits of the ZIP's sha256;
    Lambda version logical ids and C(CodeSha256), layer hashes and retained layer ids are derived from the
    rewritten ZIPs; C(ApiGatewayDeployment<epoch ms>) becomes C(ApiGatewayDeployment<hash of the REST API's
    definition>), so only a changed API gets a new deployment. Renamed ids are renamed wherever referenced.
  - AWS SAM services (a C(template.yaml), see O(packager)) are built with C(sam build) without a container, once per
    stage for all regions (telemetry off). A function whose runtime this machine cannot build (no C(python3.12),
    no C(node)...) or that is a container image fails the service before any build, in one line naming it. The
    published template is plain CloudFormation (no C(AWS::Serverless-2016-10-31) left), because the pinned aws-sam-translator
    expands it offline with the collection's managed policy table (an unknown policy name fails the service).
  - A template that still holds the time of the packaging run (for example C(${sls:instanceId})) or an
    absolute path of O(project_dir) or O(build_root) fails the service, naming where.
  - A content cache skips a service whose inputs (its files, the files its config reads with C(${file(...)}),
    O(extra_inputs), stage, region, packager binary and version) are unchanged since its last successful
    packaging; its cached result is returned.
  - The module reports C(changed=false) whatever it packaged, in check mode too, because it writes only the local
    build folder, never AWS. The upload task that follows reports the objects a new package makes it write.
  - O(max_parallel_packagings) caps the packagings running at once across every process that shares
    O(slots_dir), i.e. across all region hosts of a run.
  - With O(init_dir), the init stacks of its C(serverless-compose.yml) are packaged too, in one
    C(serverless-compose package) run whose compose file is generated with the region set on every stack.
author:
  - multiregion.serverless maintainers (@multiregion-serverless)
options:
  project_dir:
    description:
      - The project (monorepo) folder. Working copies mirror it, so services may read files of the project
        outside their own folder.
    type: path
    required: true
  services_dir:
    description:
      - The folder whose sub-folders holding a C(serverless.yml) or a SAM C(template.yaml) are the services.
      - Defaults to C(<project_dir>/services).
    type: path
  services:
    description:
      - The services to package. Defaults to every service of O(services_dir) minus the exclusions.
      - Naming a service that does not exist, or is excluded, fails.
    type: list
    elements: str
  always_excluded_services:
    description: Services never packaged. Names without a service folder are reported in RV(unknown_exclusions).
    type: list
    elements: str
    default: []
  excluded_services:
    description: Services the stage excludes. Names without a service folder are reported in RV(unknown_exclusions).
    type: list
    elements: str
    default: []
  serial_services:
    description:
      - Services packaged one at a time, outside the parallel batch, each under a machine-wide lock named after
        it, so no two regions package them at once (the Lambda authorizer).
    type: list
    elements: str
    default: []
  serial_order:
    description: Whether O(serial_services) are packaged before (C(first)) or after (C(last)) the others.
    type: str
    choices: [first, last]
    default: first
  init_dir:
    description: A folder holding C(serverless-compose.yml) whose stacks are packaged too (see RV(init_stacks)).
    type: path
  stage:
    description: The stage (C(--stage)).
    type: str
    required: true
  known_stages:
    description: When given, O(stage) must be one of them (the stages of C(project.yml)).
    type: list
    elements: str
  region:
    description: The region (C(--region)); every region is packaged separately so templates stay region-correct.
    type: str
    required: true
  packager:
    description:
      - Which packager packages the services.
      - C(auto) decides per service folder, which may mix both in one monorepo, from its files
        C(serverless.yml) (or .yaml, .json, .js, .ts) means C(serverless) (serverless 3.x or osls), else
        C(template.yaml) (or .yml) means C(sam) (AWS SAM); O(service_packagers) decides for a folder that holds both.
      - C(serverless) or C(sam) packages only the folders with that packager's config, all with it.
      - A SAM service is built with C(sam build) (no container) once per stage for every region, then published by
        the collection itself, each ZIP and nested template under a content-addressed key of O(artifact_bucket),
        and its template expanded to plain CloudFormation offline by the pinned aws-sam-translator.
    type: str
    choices: [auto, sam, serverless]
    default: auto
  service_packagers:
    description:
      - The packager of single services, by service name (C(project.yml)'s C(service_packagers)), over O(packager).
    type: dict
    default: {}
  sam_binary:
    description:
      - The AWS SAM CLI (C(sam)) that builds SAM services; C(make setup) links the pinned one into C(.venv/bin).
      - Needed only when the services include a SAM service (its version is part of their cache key).
    type: path
    default: sam
  artifact_bucket:
    description:
      - The stage's artifact bucket in O(region). SAM services' ZIPs and nested templates are published to it, so
        their templates name it; required when a SAM service is packaged. Serverless services name their bucket in
        their own config (C(provider.deploymentBucket)).
    type: str
  sls_binary:
    description: The Serverless CLI, e.g. C(node_modules/serverless/bin/serverless.js) or C(node_modules/osls/bin/serverless.js).
    type: path
    default: serverless
  compose_binary:
    description: The serverless-compose CLI, used with O(init_dir).
    type: path
    default: serverless-compose
  compose_sls_binary:
    description:
      - The Serverless CLI that serverless-compose runs for the init stacks; defaults to O(sls_binary).
      - serverless-compose 1.x accepts only serverless 3 (it checks for its C(Framework Core)), so when O(sls_binary)
        is osls, point this at serverless 3 (the package role does).
    type: path
  build_root:
    description:
      - Working copies, packaged output and cache entries go below it.
      - Defaults to C(<project_dir>/.deploy-build), which gets a C(.gitignore) of C(*) so git ignores it.
    type: path
  concurrency:
    description: Packagings this task runs at once (threads).
    type: int
    default: 8
  max_parallel_packagings:
    description: Packagings running at once across every process sharing O(slots_dir) (all region hosts).
    type: int
    default: 8
  slots_dir:
    description: The folder of the machine-wide packaging slots and locks. Defaults to C(<build_root>/slots).
    type: path
  extra_inputs:
    description: More files whose change must re-package every service (e.g. a shared library outside the services).
    type: list
    elements: path
    default: []
  environment:
    description: Extra environment variables for the packager CLI.
    type: dict
    default: {}
  timeout:
    description: Seconds one packaging may take before it is stopped and the module fails.
    type: int
    default: 900
  progress_file:
    description: A file that gets one line per finished packaging. Defaults to C(<build_root>/<stage>/<region>/progress.log).
    type: path
attributes:
  check_mode:
    support: full
    description: >-
      Packages exactly as without check mode: packaging writes only the local build folder (the content cache), not
      the managed system, and the upload, catalog and rollout checks that follow need the packaged templates to
      tell what the run would do. The run that follows a check run finds the packages in the cache.
  diff_mode:
    support: none
    description: Nothing is compared; the returned keys and statuses say what changed.
notes:
  - The module does not talk to AWS; services must resolve their deployment bucket from C(${opt:stage}) and
    C(${opt:region}) so packaging needs no network.
  - A failed packaging fails the module with the service, the region and the last lines of the CLI's output;
    packagings already running finish (and are cached), no new one starts.
"""

EXAMPLES = r"""
- name: Package every service of the stage for this region
  multiregion.serverless.sls_package:
    project_dir: "{{ project_dir }}"
    stage: dev
    region: "{{ aws_region }}"
    always_excluded_services: [legacy-reports]
    serial_services: [authorizer]
    serial_order: first
    init_dir: "{{ project_dir }}/init"
    sls_binary: "{{ playbook_dir }}/../node_modules/serverless/bin/serverless.js"
    compose_binary: "{{ playbook_dir }}/../node_modules/.bin/serverless-compose"
  register: packaged

- name: Package two services with osls, at most 4 at a time on this machine
  multiregion.serverless.sls_package:
    project_dir: /srv/monorepo
    services: [orders, payments]
    stage: qa
    region: eu-west-1
    sls_binary: /srv/tools/node_modules/osls/bin/serverless.js
    max_parallel_packagings: 4

- name: Package a monorepo of Serverless and AWS SAM services (a folder with a template.yaml is SAM)
  multiregion.serverless.sls_package:
    project_dir: /srv/monorepo
    stage: prod
    region: eu-west-1
    # SAM services publish their ZIPs and nested templates here, so their templates name it.
    artifact_bucket: mrs-artifacts-prod-eu-west-1
    sam_binary: /srv/tools/.venv-sam/bin/sam
    # A folder holding both a serverless.yml and a template.yaml is Serverless unless named here.
    service_packagers:
      reports: sam
"""

RETURN = r"""
services:
  description: One entry per service, in packaging order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The service (folder) name.
      type: str
      sample: orders
    kind:
      description: C(service), or C(init) for an init stack.
      type: str
      sample: service
    status:
      description: C(packaged) or C(cached) (inputs unchanged, nothing run), in check mode too.
      type: str
      sample: packaged
    changed:
      description: Whether this service was packaged by this call (not taken from the cache).
      type: bool
      sample: true
    template_path:
      description: The content-addressed template.
      type: str
      sample: /srv/build/dev/eu-west-1/services/orders/out/template.json
    template_sha256:
      description: sha256 of the template file.
      type: str
      sample: 2f9d6d2735bbc4b481a884bdc826fa7a197349288dbf27762685b9393a42e82e
    template_key:
      description: The S3 key the template is published under.
      type: str
      sample: serverless/orders/dev/templates/2f9d6d2735bbc4b481a884bdc826fa7a197349288dbf27762685b9393a42e82e.json
    artifacts:
      description: Every ZIP the template names.
      type: list
      elements: dict
      sample:
        - name: orders.zip
          path: /srv/build/dev/eu-west-1/services/orders/out/orders.zip
          sha256: aeceaf86ac9ba764c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4
          size: 1734
          s3_key: serverless/orders/dev/aeceaf86ac9ba764/orders.zip
    artifact_bucket:
      description: The bucket the template's Lambda code points at (null when none or several).
      type: str
      sample: mrs-artifacts-dev-eu-west-1
    function_logical_ids:
      description: CloudFormation logical ids of the Lambda functions.
      type: list
      elements: str
      sample: [CreateOrderLambdaFunction, GetOrderLambdaFunction]
    parameters:
      description: Names of the template's CloudFormation parameters.
      type: list
      elements: str
      sample: [TenantId]
    packaging_seconds:
      description: Time the packager ran (0 when cached).
      type: float
      sample: 4.2
    waited_seconds:
      description: Time spent waiting for a machine-wide packaging slot.
      type: float
      sample: 0.0
    input_digest:
      description: The content cache key.
      type: str
      sample: 5b0c3f9e1d2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c
    framework:
      description: The packager package and version.
      type: str
      sample: serverless@3.40.0
init_stacks:
  description: The init stacks of O(init_dir), same shape as RV(services) with C(kind=init).
  returned: always
  type: list
  elements: dict
  sample: []
packaged:
  description: Names of the services and init stacks packaged (or, in check mode, to be packaged) by this task.
  returned: always
  type: list
  elements: str
  sample: [orders]
cached:
  description: Names whose cached packaging was reused.
  returned: always
  type: list
  elements: str
  sample: [authorizer, payments]
excluded:
  description: Existing services the exclusion lists removed.
  returned: always
  type: list
  elements: str
  sample: [legacy-reports]
unknown_exclusions:
  description: Names in the exclusion lists that are no service (probably typos).
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: One line for people.
  returned: always
  type: str
  sample: "eu-west-1: 1 of 6 services packaged, 5 unchanged"
work_dir:
  description: The folder this stage and region build in (working copies, output, cache, progress), C(<build_root>/<stage>/<region>).
  returned: success
  type: str
  sample: /srv/build/dev/eu-west-1
failures:
  description: On failure, one entry per failed service with C(service), C(region), C(msg) and C(output_tail).
  returned: failure
  type: list
  elements: dict
  sample: [{service: orders, region: eu-west-1, msg: "service orders in eu-west-1: ...", output_tail: ["Error: ..."]}]
"""

from typing import Any, Dict, NoReturn

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.service import AUTO, PACKAGERS, PackagingFailed, package_target

ARGUMENT_SPEC = dict(
    project_dir=dict(type="path", required=True),
    services_dir=dict(type="path"),
    services=dict(type="list", elements="str"),
    always_excluded_services=dict(type="list", elements="str", default=[]),
    excluded_services=dict(type="list", elements="str", default=[]),
    serial_services=dict(type="list", elements="str", default=[]),
    serial_order=dict(type="str", choices=["first", "last"], default="first"),
    init_dir=dict(type="path"),
    stage=dict(type="str", required=True),
    known_stages=dict(type="list", elements="str"),
    region=dict(type="str", required=True),
    packager=dict(type="str", choices=sorted([AUTO, *PACKAGERS]), default=AUTO),
    service_packagers=dict(type="dict", default={}),
    sam_binary=dict(type="path", default="sam"),
    artifact_bucket=dict(type="str"),
    sls_binary=dict(type="path", default="serverless"),
    compose_binary=dict(type="path", default="serverless-compose"),
    compose_sls_binary=dict(type="path"),
    build_root=dict(type="path"),
    concurrency=dict(type="int", default=8),
    max_parallel_packagings=dict(type="int", default=8),
    slots_dir=dict(type="path"),
    extra_inputs=dict(type="list", elements="path", default=[]),
    environment=dict(type="dict", default={}),
    timeout=dict(type="int", default=900),
    progress_file=dict(type="path"),
)


MODULE_SPEC: Dict[str, Any] = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)


def run(module: Any) -> NoReturn:
    try:
        module.exit_json(**package_target(module.params, module.log, module.warn))
    except PackagingFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)


def main() -> None:
    run(AnsibleModule(**MODULE_SPEC))


if __name__ == "__main__":
    main()
