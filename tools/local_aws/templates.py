"""Template URLs (``Info.LoadTemplateFromURL``, nested-stack ``TemplateURL``) resolved against moto's own S3.

Accepted forms: ``https://<bucket>.s3.<region>.amazonaws.com/<key>``, ``https://<bucket>.s3.amazonaws.com/<key>``,
``https://s3.<region>.amazonaws.com/<bucket>/<key>``, ``https://s3.amazonaws.com/<bucket>/<key>`` and any other
host in path style (``http://127.0.0.1:<port>/<bucket>/<key>``, the local endpoint).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Tuple
from urllib.parse import unquote, urlparse

_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")


class TemplateNotFound(LookupError):
    """The URL is not an S3 object URL, or the object does not exist."""


def parse_s3_url(url: str) -> Tuple[str, str]:
    """(bucket, key) of an S3 object URL in any of the accepted forms."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise TemplateNotFound(f"not an S3 URL: {url}")
    host = parsed.hostname
    path = unquote(parsed.path)
    virtual = _VIRTUAL_HOST.match(host)
    if virtual:
        bucket, key = virtual.group("bucket"), path.lstrip("/")
    else:
        bucket, separator, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        raise TemplateNotFound(f"URL names no bucket and key: {url}")
    return bucket, key


def read_s3_object(bucket: str, key: str) -> bytes:
    """The object's bytes from moto's S3, whichever account owns the bucket."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        raise TemplateNotFound(f"bucket {bucket} does not exist")
    partition, account_id = owner
    try:
        obj = s3_backends[account_id][partition].get_object(bucket, key)
    except Exception as exc:  # noqa: BLE001 - moto raises several S3 client errors here
        raise TemplateNotFound(f"s3://{bucket}/{key} does not exist") from exc
    if obj is None:
        raise TemplateNotFound(f"s3://{bucket}/{key} does not exist")
    return obj.value


def fetch_template(url: str) -> str:
    bucket, key = parse_s3_url(url)
    return read_s3_object(bucket, key).decode("utf-8")


def parse_template(body: str) -> Dict[str, Any]:
    """A CloudFormation template as a dict, from JSON or YAML (short-form intrinsics included)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        import yaml
        from moto.cloudformation.utils import yaml_tag_constructor

        yaml.add_multi_constructor("", yaml_tag_constructor, Loader=yaml.SafeLoader)
        parsed = yaml.safe_load(body)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict) or not parsed["Resources"]:
        raise ValueError("a template needs a non-empty Resources section")
    return parsed


def moto_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
    """Drop-in for moto.cloudformation.utils.get_stack_from_s3_url that knows all URL forms and accounts."""
    return fetch_template(template_url)
