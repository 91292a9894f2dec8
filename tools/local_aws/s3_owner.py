"""S3 bucket ownership: moto records which account created a bucket but ignores ``ExpectedBucketOwner``.

AWS answers 403 AccessDenied when ``x-amz-expected-bucket-owner`` (or, for the copy source,
``x-amz-source-expected-bucket-owner``) names another account than the bucket's owner. A bucket owned by
another account is created with that account's credentials: STS AssumeRole into
``arn:aws:iam::<account>:role/<any>`` returns keys that moto maps to ``<account>`` (see docs/local-aws.md).
"""
from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import unquote

EXPECTED_OWNER_HEADERS = ("x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner")


def bucket_owner(bucket: Optional[str]) -> Optional[str]:
    """The account id that owns ``bucket`` in moto, None when no such bucket exists (moto answers NoSuchBucket)."""
    if not bucket:
        return None
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    return owner[1] if owner else None


def copy_source_bucket(headers: Mapping[str, str]) -> Optional[str]:
    source = unquote(headers.get("x-amz-copy-source", "")).lstrip("/")
    return source.split("/", 1)[0] or None if source else None


def bucket_owner_mismatch(headers: Mapping[str, str], bucket: Optional[str], path: str = "", host: str = "") -> bool:
    """True when an expected-owner header names another account than the owner of the bucket it is about."""
    checks = (
        (headers.get("x-amz-expected-bucket-owner"), bucket),
        (headers.get("x-amz-source-expected-bucket-owner"), copy_source_bucket(headers)),
    )
    for expected, about in checks:
        if expected is None:
            continue
        owner = bucket_owner(about)
        if owner is not None and owner != expected:
            return True
    return False
