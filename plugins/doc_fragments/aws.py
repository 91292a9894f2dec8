# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every AWS-talking module of this collection adds to amazon.aws's common ones.
    DOCUMENTATION = r"""
options:
  max_attempts:
    description:
      - How many times botocore tries each AWS call, in its C(adaptive) retry mode (client-side rate
        limiting that slows down when AWS throttles).
      - Around that, throttling and transient errors (including C(ThrottlingException) and C(SlowDown))
        are retried with jittered exponential backoff.
    type: int
    default: 3
notes:
  - Credentials, region and endpoint come from the standard options of amazon.aws or the standard
    environment (C(AWS_PROFILE), C(AWS_REGION), C(AWS_ENDPOINT_URL), ...). Set them once for a play with
    C(module_defaults) and the action group C(group/multiregion.serverless.aws).
"""
