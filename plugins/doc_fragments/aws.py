# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every AWS-talking module of this collection adds to amazon.aws's common ones
    # (plugins/module_utils/aws_client.py: SHARED_ARGUMENT_SPEC and the retry policy).
    DOCUMENTATION = r"""
options:
  max_attempts:
    description:
      - How many times each AWS call is tried at most, counting the first try. This is the collection's one retry
        policy, botocore's C(adaptive) retry mode; nothing retries around it.
      - botocore retries throttling errors (C(Throttling), C(ThrottlingException), C(TooManyRequestsException),
        C(SlowDown), ...), transient server errors (HTTP 500, 502, 503, 504) and connection errors, with
        exponential backoff and jitter (at most 20 seconds between tries), and slows the client down while AWS
        throttles (client-side rate limiting).
      - Creates and updates are retried safely, because they carry idempotency tokens.
    type: int
    default: 10
notes:
  - Credentials, region and endpoint come from the standard options of amazon.aws or the standard
    environment (C(AWS_PROFILE), C(AWS_REGION), C(AWS_ENDPOINT_URL), ...). Set them once for a play with
    C(module_defaults) and the action group C(group/multiregion.serverless.aws).
  - "A failed AWS call fails the module with one line, C(<Operation> failed in <region> for <resource>: <Code>: <message>),
    and returns the AWS C(error) and C(response_metadata)."
"""
