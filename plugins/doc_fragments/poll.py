# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How Service Catalog records are followed (plugins/module_utils/arg_specs.py: poll_arg_spec,
    # plugins/module_utils/records.py: PollPolicy). The defaults are the rollout's; a module with other
    # defaults states only those (C(default)) under its own options.
    DOCUMENTATION = r"""
options:
  poll_delay:
    description:
      - Seconds before the first poll of a record (DescribeRecord) until some record of this call has finished
        (then the typical duration is used), and the shortest interval between polls.
    type: float
    default: 5
  poll_max_delay:
    description: The longest interval between two polls of one record (the backoff grows by 1.5 up to it).
    type: float
    default: 60
  record_timeout:
    description:
      - Seconds after which a record still in progress is given up on (the work itself goes on in AWS) and
        reported as failed.
    type: float
    default: 3600
"""
