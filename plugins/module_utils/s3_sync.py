# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing local files under content-addressed keys into one artifact bucket: the service behind
``s3_artifact_sync``.

Every key is content-addressed, so an object that exists with the same sha256 is skipped and an object
that exists with *other* content is an error: a published object is never overwritten (the versions
that point at it must stay fetchable). Every call passes ``ExpectedBucketOwner``, so a bucket of another
account is never written (AWS answers 403). Uploads run in a thread pool; boto3 clients are thread-safe.

``publish(apis, request)`` publishes the packages' templates and ZIPs and the extra files, then renders the
product templates (``product_template.render_products``) and publishes them last, once every object they
point at is there. ``sync_objects`` publishes one batch through the S3 access layer (``aws_api.S3Api``).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import is_ansible_aws_error_code
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, S3Api
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import REGION_REQUIRED, AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.common import ACCOUNT_PATTERN, sha256_file
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import regional_s3_url
from ansible_collections.multiregion.serverless.plugins.module_utils.product_template import ProductError, nested_from_packages, render_products

SHA256_METADATA = "sha256"  # x-amz-meta-sha256
# At most this many failures are quoted in the failure message (all are returned in ``failures``).
SHOWN_FAILURES = 5


class SyncError(Exception):
    """Publishing cannot go on for a reason that is not an AWS error (a conflict); the message names the key."""


def regional_url(bucket: str, region: str, key: str) -> str:
    """The regional virtual-hosted URL CloudFormation and Service Catalog accept as a TemplateURL."""
    return regional_s3_url(bucket, key, region)


def objects_from_packages(packages: Iterable[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The template and every ZIP of ``sls_package`` results, as ``{key, path, sha256}``."""
    objects: List[Dict[str, str]] = []
    for package in packages:
        if not package.get("template_path"):
            continue  # check mode: nothing was packaged
        objects.append({"key": package["template_key"], "path": package["template_path"], "sha256": package["template_sha256"]})
        objects.extend({"key": item["s3_key"], "path": item["path"], "sha256": item["sha256"]} for item in package.get("artifacts", []))
    return objects


def dedupe_objects(objects: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
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


def existing_matches(head: Mapping[str, Any], item: Mapping[str, str]) -> bool:
    """Whether the object ``head`` describes holds ``item``'s content (our sha256 metadata, else a plain ETag)."""
    recorded = (head.get("Metadata") or {}).get(SHA256_METADATA)
    if recorded:
        return recorded == item["sha256"]
    etag = (head.get("ETag") or "").strip('"')
    return bool(item.get("path")) and "-" not in etag and etag == _md5_file(item["path"])


def publish_object(s3: S3Api, bucket: str, owner: str, item: Mapping[str, str], check_mode: bool, encryption: Mapping[str, str]) -> str:
    """``uploaded`` / ``skipped`` / ``would_upload`` for one object; SyncError on a conflict, AwsApiError on an AWS error."""
    try:
        head = s3.head_object(bucket, item["key"], owner)
    except is_ansible_aws_error_code(S3Api.DENIED_CODES) as exc:
        raise exc.with_note(f"is bucket {bucket} owned by account {owner}? nothing was uploaded") from None
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
    s3.put_object(bucket, item["key"], body, owner, Metadata={SHA256_METADATA: item["sha256"]}, ContentType=_content_type(item["key"]), **encryption)
    return "uploaded"


def encryption_arguments(server_side_encryption: str, kms_key_id: Optional[str]) -> Dict[str, str]:
    arguments = {"ServerSideEncryption": server_side_encryption}
    if server_side_encryption == "aws:kms" and kms_key_id:
        arguments["SSEKMSKeyId"] = kms_key_id
    return arguments


def sync_objects(s3: S3Api, bucket: str, owner: str, objects: List[Dict[str, str]], check_mode: bool = False, concurrency: int = 8,
                 server_side_encryption: str = "AES256", kms_key_id: Optional[str] = None) -> Dict[str, Any]:
    """Publish ``objects`` (``dedupe_objects`` output) into ``bucket``; every object is tried, failures are listed."""
    encryption = encryption_arguments(server_side_encryption, kms_key_id)
    statuses: Dict[str, str] = {}
    failures: List[Dict[str, str]] = []
    if objects:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(objects)))) as pool:
            futures = {pool.submit(publish_object, s3, bucket, owner, item, check_mode, encryption): item for item in objects}
            for future in concurrent.futures.as_completed(futures):
                key = futures[future]["key"]
                try:
                    statuses[key] = future.result()
                except (SyncError, AwsApiError) as exc:
                    failures.append({"key": key, "msg": str(exc)})
    return {
        "bucket": bucket,
        "uploaded": sorted(key for key, status in statuses.items() if status in ("uploaded", "would_upload")),
        "skipped": sorted(key for key, status in statuses.items() if status == "skipped"),
        "failures": sorted(failures, key=lambda failure: failure["key"]),
    }


# ------------------------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class PublishRequest:
    """The options of ``s3_artifact_sync`` (its documentation says what each does)."""

    bucket: str
    expected_bucket_owner: str
    packages: Sequence[Dict[str, Any]] = field(default_factory=list)
    files: Sequence[Dict[str, Any]] = field(default_factory=list)
    products: Sequence[str] = field(default_factory=list)
    products_output_dir: Optional[str] = None
    stage: Optional[str] = None
    excluded_services: Sequence[str] = field(default_factory=list)
    server_side_encryption: str = "AES256"
    kms_key_id: Optional[str] = None
    concurrency: int = 8
    check_mode: bool = False


def check_request(request: PublishRequest, region: Optional[str]) -> None:
    """The options checked before any call; ServiceFailure with the reason otherwise."""
    if not ACCOUNT_PATTERN.match(request.expected_bucket_owner):
        raise ServiceFailure(f"expected_bucket_owner must be a 12-digit account id, got {request.expected_bucket_owner!r}")
    if request.products and not (request.stage and request.products_output_dir):
        raise ServiceFailure("products needs stage and products_output_dir")
    if request.concurrency < 1:
        raise ServiceFailure(f"concurrency must be 1 or more, got {request.concurrency}")
    if not region:
        raise ServiceFailure(REGION_REQUIRED)


def local_copies(nested: Mapping[Any, Mapping[str, Any]], products: Mapping[str, Mapping[str, Any]]) -> Dict[str, str]:
    """``{url: local file}`` of every template this call publishes (or would): the keys are content-addressed, so
    the file holds the bytes at the URL, and a reader (the catalog's check and diff) need not wait for S3."""
    copies = {value["url"]: value["path"] for value in nested.values() if value.get("path")}
    copies.update({value["url"]: value["path"] for value in products.values() if value.get("path")})
    return copies


def publish(apis: AwsApis, request: PublishRequest) -> Dict[str, Any]:
    """Publish the request's objects and product templates into its bucket; the module result."""
    region = apis.region or ""
    check_request(request, region)
    bucket, s3 = request.bucket, apis.s3

    def url_of(key: str) -> str:
        return regional_s3_url(bucket, key, region)

    result: Dict[str, Any] = dict(changed=False, bucket=bucket, uploaded=[], skipped=[], products={}, template_urls={}, local_copies={})
    try:
        nested_objects = dedupe_objects(objects_from_packages(request.packages) + list(request.files))
        nested = nested_from_packages(request.packages, url_of)
        result["template_urls"] = {f"{kind}/{name}": value["url"] for (kind, name), value in nested.items()}
        # Rendered to the build folder in check mode too (a local file, not the managed system): the catalog's
        # check reads what this run would publish from there.
        rendered, product_objects = render_products(request.products, nested, url_of, request.stage or "", request.excluded_services,
                                                    request.products_output_dir)
        result["products"] = rendered
        result["local_copies"] = local_copies(nested, rendered)
        # Products go last: a product template is only published once every object it points at is.
        for batch in (nested_objects, dedupe_objects(product_objects)):
            outcome = sync_objects(s3, bucket, request.expected_bucket_owner, batch, request.check_mode, request.concurrency,
                                   request.server_side_encryption, request.kms_key_id)
            result["uploaded"] += outcome["uploaded"]
            result["skipped"] += outcome["skipped"]
            if outcome["failures"]:
                result["changed"] = bool(result["uploaded"])
                shown = "; ".join(failure["msg"] for failure in outcome["failures"][:SHOWN_FAILURES])
                raise ServiceFailure(f"publishing to {bucket} failed for {len(outcome['failures'])} object(s): {shown}",
                                     failures=outcome["failures"], **result)
    except (SyncError, ProductError) as exc:
        raise ServiceFailure(str(exc), **result) from None
    result["changed"] = bool(result["uploaded"])
    verb = "would be uploaded" if request.check_mode else "uploaded"
    result["summary"] = f"{bucket}: {len(result['uploaded'])} {verb}, {len(result['skipped'])} already there"
    return result
