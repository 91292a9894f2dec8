# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFormation templates as data: parse (JSON, or YAML with the short tags), normalize, fingerprint.

* ``parse_template`` reads JSON or YAML; YAML short tags (``!Ref``, ``!Sub``, ``!GetAtt``...) become the
  long JSON forms, and YAML timestamps stay strings (``AWSTemplateFormatVersion: 2010-09-09``), so a YAML
  template and its JSON twin are the same document.
* ``canonical_json`` is the normalized form: sorted keys, no whitespace. Key order and layout never count.
* ``template_fingerprint`` hashes a template with every nested stack's ``TemplateURL`` replaced by the
  fingerprint of the template it points at: a change in any nested template changes the product's
  fingerprint, and a template re-published under another key with the same content does not.
* ``parse_s3_url`` resolves the S3 URL forms CloudFormation accepts to ``(bucket, key)``.
* ``template_changes`` lists what a stack update from one template to another changes, nested stacks opened.
* ``local_copy`` reads the local file of a template a check run would publish at a URL (``local_copies``).

Pure: no AWS calls here. The module fetches, this file decides.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import unquote, urlparse

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

FINGERPRINT_PREFIX = "sha256:"
NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"
# What a nested stack's TemplateURL is replaced by in the canonical form of its parent.
NESTED_FINGERPRINT_KEY = "NestedTemplateFingerprint"
# Templates nest; CloudFormation itself allows deep trees, ours are two levels. A bound stops cycles.
MAX_NESTING_DEPTH = 8


class TemplateError(ValueError):
    """A template that is not a CloudFormation template, or a URL that is not an S3 object."""


class S3Location(NamedTuple):
    bucket: str
    key: str
    region: Optional[str]


# ---------------------------------------------------------------------------------------------- parsing

if HAS_YAML:

    class CloudFormationLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader that knows the CloudFormation short tags and leaves timestamps as strings."""

    # CloudFormation reads `2010-09-09` as a string; YAML 1.1 would make it a date.
    CloudFormationLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def _construct_short_tag(loader: "CloudFormationLoader", tag_suffix: str, node: Any) -> Dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix in ("Ref", "Condition"):
            return {tag_suffix: value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            # `!GetAtt Resource.Attr.Sub` is `["Resource", "Attr.Sub"]` (split at the first dot only).
            resource, _dot, attribute = value.partition(".")
            value = [resource, attribute] if attribute else [resource]
        return {f"Fn::{tag_suffix}": value}

    CloudFormationLoader.add_multi_constructor("!", _construct_short_tag)


def _reject_duplicate_json_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise TemplateError(f"duplicate key '{key}'")
        result[key] = value
    return result


def load_document(text: str, source: str) -> Any:
    """JSON first (the common case and the strict one), then YAML with the CloudFormation loader."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text, object_pairs_hook=_reject_duplicate_json_keys)
        except TemplateError as exc:
            raise TemplateError(f"{source} is not valid JSON: {exc}") from None
        except ValueError as exc:
            raise TemplateError(f"{source} is not valid JSON: {exc}") from None
    if not HAS_YAML:  # pragma: no cover
        raise TemplateError(f"{source} is not JSON and PyYAML is not installed to read YAML")
    try:
        return yaml.load(text, Loader=CloudFormationLoader)  # nosec B506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        first_line = " ".join(str(exc).split())
        raise TemplateError(f"{source} is neither valid JSON nor valid YAML: {first_line}") from None


def check_template(document: Any, source: str) -> Dict[str, Any]:
    """``document`` when it has the shape CloudFormation requires: a mapping with a non-empty Resources mapping."""
    if not isinstance(document, dict):
        raise TemplateError(f"{source} is not a CloudFormation template: the document is a {type(document).__name__}, not a mapping")
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{source} is not a CloudFormation template: it has no Resources mapping")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"{source} is not a CloudFormation template: resource '{logical_id}' has no Type")
    return document


def parse_template(text: str, source: str) -> Dict[str, Any]:
    """The template in ``text`` (JSON or YAML) as plain data; one-line TemplateError naming ``source`` otherwise."""
    if not text.strip():
        raise TemplateError(f"{source} is empty")
    return check_template(load_document(text, source), source)


# ------------------------------------------------------------------------------------ normal form, hash


def canonical_json(document: Any) -> str:
    """The normalized form: sorted keys, no whitespace, UTF-8 characters kept."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pretty_json(document: Any) -> str:
    """Readable and stable (sorted keys), for diffs."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def nested_stacks(template: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """``(logical id, TemplateURL)`` of every nested stack whose URL is a literal string, in logical-id order.

    A TemplateURL built with an intrinsic function (``Fn::Sub``...) cannot be fetched before deployment; it
    stays in the canonical form as written.
    """
    found = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        if not isinstance(resource, dict) or resource.get("Type") != NESTED_STACK_TYPE:
            continue
        url = (resource.get("Properties") or {}).get("TemplateURL")
        if isinstance(url, str):
            found.append((logical_id, url))
    return found


def with_nested_fingerprints(template: Dict[str, Any], fingerprints_by_url: Mapping[str, str]) -> Dict[str, Any]:
    """A copy of ``template`` whose nested TemplateURLs are replaced by the fingerprints of their templates."""
    resources = dict(template.get("Resources") or {})
    for logical_id, url in nested_stacks(template):
        if url not in fingerprints_by_url:
            raise KeyError(f"no fingerprint for nested template {url} (resource {logical_id})")
        resource = dict(resources[logical_id])
        properties = dict(resource.get("Properties") or {})
        properties["TemplateURL"] = {NESTED_FINGERPRINT_KEY: fingerprints_by_url[url]}
        resource["Properties"] = properties
        resources[logical_id] = resource
    result = dict(template)
    result["Resources"] = resources
    return result


def template_fingerprint(template: Dict[str, Any], fingerprints_by_url: Optional[Mapping[str, str]] = None) -> str:
    """``sha256:<hex>`` of the canonical form, nested TemplateURLs replaced by their templates' fingerprints."""
    document = with_nested_fingerprints(template, fingerprints_by_url or {})
    return FINGERPRINT_PREFIX + sha256_hex(canonical_json(document))


class NestedTemplate(NamedTuple):
    logical_id: str
    url: str
    fingerprint: str
    depth: int


def fingerprint_tree(
    template: Dict[str, Any],
    fetch_template: Callable[[str], Dict[str, Any]],
    source: str,
    _depth: int = 0,
    _seen: Optional[Dict[str, str]] = None,
) -> Tuple[str, List[NestedTemplate]]:
    """The fingerprint of ``template`` and of every template below it, fetched with ``fetch_template(url)``.

    Each URL is fetched once per call even when several stacks share it. Cycles and trees deeper than
    MAX_NESTING_DEPTH fail with a TemplateError naming the chain's start.
    """
    seen = {} if _seen is None else _seen
    if _depth > MAX_NESTING_DEPTH:
        raise TemplateError(f"{source}: nested stacks deeper than {MAX_NESTING_DEPTH} levels (or a cycle of TemplateURLs)")
    found: List[NestedTemplate] = []
    fingerprints: Dict[str, str] = {}
    for logical_id, url in nested_stacks(template):
        if url not in seen:
            child = fetch_template(url)
            child_fingerprint, below = fingerprint_tree(child, fetch_template, source, _depth + 1, seen)
            seen[url] = child_fingerprint
            found.extend(below)
        fingerprints[url] = seen[url]
        found.append(NestedTemplate(logical_id, url, seen[url], _depth + 1))
    return template_fingerprint(template, fingerprints), found


def local_fingerprint(template: Dict[str, Any], files_by_url: Mapping[str, str], source: str) -> Optional[Tuple[str, List[NestedTemplate]]]:
    """``fingerprint_tree`` of a template whose nested templates are local files (``files_by_url``: URL -> path).

    The publisher knows the bytes behind every URL it just published, so it can fingerprint a product
    without reading S3; the catalog compares that with the active version's. None when a nested URL is not
    one of the files (the catalog then fetches the tree itself).
    """

    class _NotLocal(Exception):
        pass

    def read_local(url: str) -> Dict[str, Any]:
        path = files_by_url.get(url)
        if not path:
            raise _NotLocal(url)
        with open(path, "r", encoding="utf-8") as handle:
            return parse_template(handle.read(), path)

    try:
        return fingerprint_tree(template, read_local, source)
    except _NotLocal:
        return None


# ------------------------------------------------------------------------------------------------- S3 URLs

_AWS_DOMAINS = r"amazonaws\.com(?:\.cn)?"
# https://<bucket>.s3.<region>.amazonaws.com/<key>, https://<bucket>.s3-<region>.amazonaws.com/<key>,
# https://<bucket>.s3.amazonaws.com/<key>, https://<bucket>.s3.dualstack.<region>.amazonaws.com/<key>
_VIRTUAL_HOSTED = re.compile(rf"^(?P<bucket>[a-z0-9][a-z0-9.\-]*?)\.s3(?:[.\-](?:dualstack\.)?(?P<region>[a-z0-9\-]+))?\.{_AWS_DOMAINS}$")
# https://s3.<region>.amazonaws.com/<bucket>/<key>, https://s3-<region>.amazonaws.com/..., https://s3.amazonaws.com/...
_PATH_STYLE = re.compile(rf"^s3(?:[.\-](?:dualstack\.)?(?P<region>[a-z0-9\-]+))?\.{_AWS_DOMAINS}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def parse_s3_url(url: str) -> S3Location:
    """The bucket, key and (when the URL names it) region of an S3 object URL; TemplateError otherwise."""
    parsed = urlparse(url.strip())
    host = (parsed.hostname or "").lower()
    if parsed.scheme == "s3":
        bucket, key, region = host, parsed.path.lstrip("/"), None
    elif parsed.scheme in ("https", "http"):
        virtual = _VIRTUAL_HOSTED.match(host)
        path_style = _PATH_STYLE.match(host)
        if path_style:
            bucket, _slash, key = parsed.path.lstrip("/").partition("/")
            region = path_style.group("region")
        elif virtual:
            bucket, key, region = virtual.group("bucket"), parsed.path.lstrip("/"), virtual.group("region")
        else:
            raise TemplateError(f"{url} is not an S3 object URL (expected https://<bucket>.s3.<region>.amazonaws.com/<key>)")
    else:
        raise TemplateError(f"{url} is not an S3 object URL (expected https://<bucket>.s3.<region>.amazonaws.com/<key>)")
    key = unquote(key)
    # s3-external-1 is an old name of us-east-1; s3-accelerate names no region.
    region = {"external-1": "us-east-1", "accelerate": None}.get(region or "", region)
    if not _BUCKET_NAME.match(bucket or "") or not key or key.endswith("/"):
        raise TemplateError(f"{url} does not name an S3 object (bucket '{bucket}', key '{key}')")
    return S3Location(bucket, key, region)


def local_copy(local_copies: Mapping[str, str], url: str) -> Optional[bytes]:
    """The bytes of ``url``'s local copy, None when there is none.

    ``local_copies`` maps the S3 URL of each template the package phase publishes (content-addressed keys: the
    same bytes) to its local file; in check mode nothing is uploaded, so these files are the only copy.
    """
    path = local_copies.get(url)
    if not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def regional_s3_url(bucket: str, key: str, region: str) -> str:
    """The URL form the package phase writes and Service Catalog loads templates from."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


# ------------------------------------------------------------------------------------------------- diff


def template_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], fetch: Optional[Callable[[str], Mapping[str, Any]]] = None, path: str = "", depth: int = 0
) -> List[str]:
    """What a stack update from template ``old`` to ``new`` changes, one line per parameter/resource/output.

    With ``fetch(url)`` (the parsed template at a URL; it may raise), a nested stack whose template changed is
    opened: its lines are prefixed with the nested stack's logical id (``Resources.Orders/OrdersTable: modified
    (Properties.KeySchema)``), as the replacement guard names paths, instead of one line for the stack.
    """
    changes: List[str] = []
    for section in ("Parameters", "Resources", "Outputs"):
        before = old.get(section) or {}
        after = new.get(section) or {}
        for name in sorted(set(before) | set(after)):
            label = f"{section}.{path}{name}"
            if name not in after:
                changes.append(f"{label}: removed")
            elif name not in before:
                kind = after[name].get("Type", "") if section == "Resources" and isinstance(after[name], dict) else ""
                changes.append(f"{label}: added" + (f" ({kind})" if kind else ""))
            elif before[name] != after[name]:
                nested = _nested_changes(before[name], after[name], fetch, f"{path}{name}", depth) if section == "Resources" else None
                changes.extend(nested if nested is not None else [f"{label}: modified" + _changed_keys(before[name], after[name])])
    return changes


def _nested_changes(
    before: Any, after: Any, fetch: Optional[Callable[[str], Mapping[str, Any]]], path: str, depth: int
) -> Optional[List[str]]:
    """The lines of a nested stack whose TemplateURL changed, read through ``fetch``; None to report it as one line."""
    stacks = all(isinstance(item, dict) and item.get("Type") == NESTED_STACK_TYPE for item in (before, after))
    if fetch is None or depth >= MAX_NESTING_DEPTH or not stacks:
        return None
    urls = [(item.get("Properties") or {}).get("TemplateURL") for item in (before, after)]
    if not all(isinstance(url, str) for url in urls) or urls[0] == urls[1]:
        return None
    try:
        inner = template_changes(fetch(urls[0]), fetch(urls[1]), fetch, f"{path}/", depth + 1)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # any reason the nested templates cannot be read
        return [f"Resources.{path}: modified (Properties.TemplateURL; nested templates not readable: {exc})"]
    others = [key for key in _changed_key_list(before, after) if key != "Properties.TemplateURL"]
    return inner + ([f"Resources.{path}: modified ({', '.join(others)})"] if others else [])


def _changed_key_list(before: Any, after: Any) -> List[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    keys = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if keys == ["Properties"] and isinstance(before.get("Properties"), dict) and isinstance(after.get("Properties"), dict):
        props_before, props_after = before["Properties"], after["Properties"]
        keys = [f"Properties.{key}" for key in sorted(set(props_before) | set(props_after)) if props_before.get(key) != props_after.get(key)]
    return keys


def _changed_keys(before: Any, after: Any) -> str:
    keys = _changed_key_list(before, after)
    return f" ({', '.join(keys)})" if keys else ""


def bounded_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with a marker saying how much was left out."""
    if len(text) <= limit:
        return text
    marker = f"\n... [diff truncated: {len(text) - limit} more characters]\n"
    return text[: max(limit - len(marker), 0)] + marker
