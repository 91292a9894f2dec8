# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing local files under content-addressed keys into one artifact bucket.

Every key is content-addressed, so an object that exists with the same sha256 is skipped and an object
that exists with *other* content is an error: a published object is never overwritten (the versions
that point at it must stay fetchable). Every call passes ``ExpectedBucketOwner``, so a bucket of another
account is never written (AWS answers 403). Uploads run in a thread pool; boto3 clients are thread-safe.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import aws_error_message, error_code
from ansible_collections.multiregion.serverless.plugins.module_utils.sls_template import sha256_file

SHA256_METADATA = "sha256"  # x-amz-meta-sha256
NOT_FOUND_CODES = ("404", "NoSuchKey", "NotFound")


class SyncError(Exception):
    """Publishing cannot go on; the message names the bucket and key."""


def regional_url(bucket: str, region: str, key: str) -> str:
    """The regional virtual-hosted URL CloudFormation and Service Catalog accept as a TemplateURL."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def objects_from_packages(packages: Iterable[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The template and every ZIP of ``sls_package`` results, as ``{key, path, sha256}``."""
    objects: List[Dict[str, str]] = []
    for package in packages:
        if not package.get("template_path"):
            continue  # check mode: nothing was packaged
        objects.append({"key": package["template_key"], "path": package["template_path"], "sha256": package["template_sha256"]})
        objects.extend({"key": item["s3_key"], "path": item["path"], "sha256": item["sha256"]} for item in package.get("artifacts", []))
    return objects


def dedupe_objects(objects: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One entry per key, sha256 filled in; the same key with two contents is an error.

    ``path`` may be None for an object that exists only in memory (a product rendered in check mode).
    """
    by_key: Dict[str, Dict[str, str]] = {}
    for item in objects:
        entry = {"key": item["key"], "path": item["path"], "sha256": item.get("sha256") or sha256_file(item["path"])}
        previous = by_key.get(entry["key"])
        if previous and previous["sha256"] != entry["sha256"]:
            raise SyncError(f"two different files are to be published under {entry['key']} ({previous['path']}, {entry['path']})")
        by_key[entry["key"]] = entry
    return [by_key[key] for key in sorted(by_key)]


def _md5_file(path: str) -> str:
    digest = hashlib.md5()  # noqa: S324 - compared with an S3 ETag, not used for security
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _content_type(key: str) -> str:
    if key.endswith(".json"):
        return "application/json"
    if key.endswith(".zip"):
        return "application/zip"
    return "application/octet-stream"


def existing_matches(head: Dict[str, Any], item: Dict[str, str]) -> bool:
    """Whether the object ``head`` describes holds ``item``'s content (our sha256 metadata, else a plain ETag)."""
    recorded = (head.get("Metadata") or {}).get(SHA256_METADATA)
    if recorded:
        return recorded == item["sha256"]
    etag = (head.get("ETag") or "").strip('"')
    return bool(item.get("path")) and "-" not in etag and etag == _md5_file(item["path"])


def publish_object(client: Any, bucket: str, owner: str, item: Dict[str, str], region: Optional[str], check_mode: bool,
                   encryption: Dict[str, str], retrying: bool = True) -> str:
    """``uploaded`` / ``skipped`` / ``would_upload`` for one object; raises SyncError on conflict or AWS error.

    ``retrying``: ``client`` is an ``aws_client`` wrapper whose calls take ``aws_retry=True``.
    """
    retry = {"aws_retry": True} if retrying else {}
    try:
        head = client.head_object(Bucket=bucket, Key=item["key"], ExpectedBucketOwner=owner, **retry)
    except Exception as exc:  # botocore ClientError / BotoCoreError
        if error_code(exc) in ("403", "AccessDenied"):
            raise SyncError(
                aws_error_message(exc, "HeadObject", region, f"s3://{bucket}/{item['key']}")
                + f" (is bucket {bucket} owned by account {owner}? nothing was uploaded)"
            ) from None
        if error_code(exc) not in NOT_FOUND_CODES:
            raise SyncError(aws_error_message(exc, "HeadObject", region, f"s3://{bucket}/{item['key']}")) from None
        head = None
    if head is not None:
        if existing_matches(head, item):
            return "skipped"
        raise SyncError(f"s3://{bucket}/{item['key']} already exists with other content; published objects are never overwritten")
    if check_mode:
        return "would_upload"
    try:
        with open(item["path"], "rb") as handle:
            # Bytes, not the open file: a retried PutObject would re-send a file object already read to its
            # end, and publish an empty object under a key that is never overwritten.
            body = handle.read()
    except OSError as exc:
        raise SyncError(f"cannot read {item['path']}: {exc}") from None
    try:
        client.put_object(Bucket=bucket, Key=item["key"], Body=body, ExpectedBucketOwner=owner,
                          Metadata={SHA256_METADATA: item["sha256"]}, ContentType=_content_type(item["key"]),
                          **retry, **encryption)
    except Exception as exc:  # botocore ClientError / BotoCoreError
        raise SyncError(aws_error_message(exc, "PutObject", region, f"s3://{bucket}/{item['key']}")) from None
    return "uploaded"


def encryption_arguments(server_side_encryption: str, kms_key_id: Optional[str]) -> Dict[str, str]:
    arguments = {"ServerSideEncryption": server_side_encryption}
    if server_side_encryption == "aws:kms" and kms_key_id:
        arguments["SSEKMSKeyId"] = kms_key_id
    return arguments


def sync_objects(client: Any, bucket: str, owner: str, objects: List[Dict[str, str]], region: Optional[str] = None,
                 check_mode: bool = False, concurrency: int = 8, server_side_encryption: str = "AES256",
                 kms_key_id: Optional[str] = None, retrying: bool = True) -> Dict[str, Any]:
    """Publish ``objects`` (``dedupe_objects`` output) into ``bucket``; every object is tried, failures are listed."""
    encryption = encryption_arguments(server_side_encryption, kms_key_id)
    statuses: Dict[str, str] = {}
    failures: List[Dict[str, str]] = []
    if objects:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(objects)))) as pool:
            futures = {pool.submit(publish_object, client, bucket, owner, item, region, check_mode, encryption, retrying): item for item in objects}
            for future in concurrent.futures.as_completed(futures):
                key = futures[future]["key"]
                try:
                    statuses[key] = future.result()
                except SyncError as exc:
                    failures.append({"key": key, "msg": str(exc)})
    return {
        "bucket": bucket,
        "uploaded": sorted(key for key, status in statuses.items() if status in ("uploaded", "would_upload")),
        "skipped": sorted(key for key, status in statuses.items() if status == "skipped"),
        "failures": sorted(failures, key=lambda failure: failure["key"]),
    }
