# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The account that must own every bucket a module reads or writes (plugins/module_utils/aws_api.py: S3Api).
    DOCUMENTATION = r"""
options:
  expected_bucket_owner:
    description:
      - The account id that must own every bucket this module reads from or writes to (the stage's account).
      - Sent as C(ExpectedBucketOwner) on every S3 call, so a bucket of another account is neither read nor written
        (AWS answers 403); a module that writes checks it before anything is written.
    type: str
"""
