#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_lock
short_description: Take, release or break the stage-wide deploy lock kept in SSM Parameter Store
version_added: 0.1.0
description:
  - Two deploys of the same stage must not run at once. The lock is one SSM parameter,
    C(<ssm_prefix>/deploy-lock), created with C(Overwrite=false) so that of two runs exactly one wins.
  - The run that finds the lock taken fails at once with one line naming the holder, its run id and start time.
  - C(state=absent) releases the lock only when it names this run. A stale lock (its run died) is broken only
    when asked with I(break_lock=true), never silently.
author:
  - multiregion.serverless maintainers (!UNKNOWN)
options:
  ssm_prefix:
    description: The stage's SSM prefix; the lock is C(<ssm_prefix>/deploy-lock).
    type: str
    required: true
  stage:
    description: The stage, for messages.
    type: str
    required: true
  run_id:
    description: The id of this run.
    type: str
    required: true
  holder:
    description: Who runs the deploy (for example C(user@host) or an AWX job), shown to a run that finds the lock taken.
    type: str
    default: unknown
  started:
    description: When this run started (ISO 8601).
    type: str
    default: unknown
  state:
    description: C(present) takes the lock, C(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  break_lock:
    description: With C(state=present), replace a lock held by another run. Use only when that run is dead.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - multiregion.serverless.aws
attributes:
  check_mode:
    support: full
    description: Reads the lock and reports what it would do; writes nothing.
  diff_mode:
    support: none
    description: The lock holds run metadata only; nothing to diff.
"""

EXAMPLES = r"""
- name: Take the stage lock
  multiregion.serverless.deploy_lock:
    ssm_prefix: /multiregion/prod
    stage: prod
    run_id: "{{ deploy_run_id }}"
    holder: "{{ lookup('ansible.builtin.env', 'USER') }}@{{ ansible_hostname | default('localhost') }}"

- name: Release it (only if this run holds it)
  multiregion.serverless.deploy_lock:
    ssm_prefix: /multiregion/prod
    stage: prod
    run_id: "{{ deploy_run_id }}"
    state: absent
"""

RETURN = r"""
parameter:
  description: The SSM parameter of the lock.
  returned: always
  type: str
  sample: /multiregion/prod/deploy-lock
owner:
  description: Who held the lock before this call (empty when it was free).
  returned: always
  type: dict
  sample: {run_id: 20261123T120000Z-1a2b3c, holder: ci@runner, started: "2026-11-23T12:00:00Z"}
broken:
  description: Whether a lock held by another run was broken.
  returned: always
  type: bool
  sample: false
"""

from typing import Any, Dict, NoReturn

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceRunner, aws_client, create_aws_module
from ansible_collections.multiregion.serverless.plugins.module_utils.deploy_lock import run_lock

ARGUMENT_SPEC = dict(
    ssm_prefix=dict(type="str", required=True),
    stage=dict(type="str", required=True),
    run_id=dict(type="str", required=True),
    holder=dict(type="str", default="unknown"),
    started=dict(type="str", default="unknown"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    break_lock=dict(type="bool", default=False),
)


MODULE_SPEC: Dict[str, Any] = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)


def run(module: ServiceRunner) -> NoReturn:
    module.run_service(run_lock, aws_client(module, "ssm"), module.params, module.check_mode, module.region)


def main() -> None:
    run(create_aws_module(**MODULE_SPEC))


if __name__ == "__main__":
    main()
