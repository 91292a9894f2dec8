# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading what ``sls package`` wrote and making it content-addressed.

Serverless names every artifact ``<deploymentPrefix>/<service>/<stage>/<epoch ms>-<ISO time>/<file>.zip``
in the template, so two packagings of the same source differ. ``make_content_addressed`` replaces the
timestamp folder with the first 16 hex digits of the ZIP's sha256 (``docs/project-layout.md``): an unchanged
service gives the same keys and a byte-identical template, a changed one new keys.

Everything here is pure (dicts, bytes and file reads); nothing talks to AWS or runs the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

UPDATE_TEMPLATE_FILE = "cloudformation-template-update-stack.json"
STATE_FILE = "serverless-state.json"

# `<epoch ms>-<ISO 8601 with ms>` as serverless 3.x and osls write it (lib/plugins/aws/package/lib/generateArtifactDirectoryName.js).
TIMESTAMP_FOLDER = r"\d{10,14}-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
TIMESTAMPED_KEY = re.compile(rf"^(?P<prefix>.+)/(?P<stamp>{TIMESTAMP_FOLDER})/(?P<name>[^/]+)$")

CONTENT_HASH_LENGTH = 16
FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


class TemplateError(ValueError):
    """The packaged output is not what the packager should have written; the message says what is wrong."""


def sha256_file(path: str, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_template(path: str) -> Dict[str, Any]:
    """The CloudFormation template at ``path`` as a dict, or a TemplateError naming the file."""
    if not os.path.isfile(path):
        raise TemplateError(f"packaged template not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            template = json.load(handle)
    except ValueError as exc:
        raise TemplateError(f"packaged template is not valid JSON ({exc}): {path}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"packaged template has no Resources mapping: {path}")
    return template


def canonical_json(document: Any) -> bytes:
    """The one byte form every template is written and hashed in (sorted keys, 2-space indent, final newline)."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _walk_strings(node: Any, path: Tuple[Any, ...] = ()) -> Iterator[Tuple[Tuple[Any, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_strings(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_strings(value, path + (index,))
    elif isinstance(node, str):
        yield path, node


def timestamped_artifact_keys(template: Dict[str, Any]) -> Dict[str, Dict[str, str]]:
    """Every timestamped artifact key the template names (Lambda code, layers, custom resources...).

    Returns ``{key: {"prefix": ..., "name": ...}}``; the file is ``<.serverless>/<name>``.
    """
    found: Dict[str, Dict[str, str]] = {}
    for _path, value in _walk_strings(template.get("Resources", {})):
        match = TIMESTAMPED_KEY.match(value)
        if match and match.group("name").endswith(".zip"):
            found[value] = {"prefix": match.group("prefix"), "name": match.group("name")}
    return found


def content_addressed_key(prefix: str, zip_sha256: str, zip_name: str) -> str:
    """``<prefix>/<first 16 hex of the ZIP's sha256>/<zip name>``."""
    return f"{prefix}/{zip_sha256[:CONTENT_HASH_LENGTH]}/{zip_name}"


def service_template_key(prefix: str, template_sha256: str) -> str:
    """``serverless/<service>/<stage>/templates/<template sha256>.json``."""
    return f"{prefix}/templates/{template_sha256}.json"


def init_template_key(stack: str, stage: str, template_sha256: str) -> str:
    """``init/<stack>/<stage>/<template sha256>.json``."""
    return f"init/{stack}/{stage}/{template_sha256}.json"


def _replace_strings(node: Any, replacements: Dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _replace_strings(value, replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_strings(value, replacements) for value in node]
    if isinstance(node, str):
        return replacements.get(node, node)
    return node


def make_content_addressed(template: Dict[str, Any], zip_sha256_by_name: Dict[str, str]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The template with every timestamped artifact key replaced by its content-addressed key.

    ``zip_sha256_by_name`` maps the ZIP file names of the packager's output folder to their sha256.
    Returns the new template and ``{zip name: new key}``. A key whose ZIP is missing is an error: the
    template would point at an object nobody uploads.
    """
    replacements: Dict[str, str] = {}
    keys_by_zip: Dict[str, str] = {}
    for key, parts in sorted(timestamped_artifact_keys(template).items()):
        name = parts["name"]
        if name not in zip_sha256_by_name:
            raise TemplateError(f"the template names S3 key {key} but the packaged output has no {name}")
        new_key = content_addressed_key(parts["prefix"], zip_sha256_by_name[name], name)
        previous = keys_by_zip.get(name)
        if previous is not None and previous != new_key:
            raise TemplateError(f"{name} is named under two different prefixes ({previous}, {new_key})")
        replacements[key] = new_key
        keys_by_zip[name] = new_key
    return _replace_strings(template, replacements), keys_by_zip


def artifact_prefix(template: Dict[str, Any]) -> Optional[str]:
    """The ``<deploymentPrefix>/<service>/<stage>`` the packager used, None when the template names no artifact."""
    prefixes = sorted({parts["prefix"] for parts in timestamped_artifact_keys(template).values()})
    if len(prefixes) > 1:
        raise TemplateError(f"the template names artifacts under several prefixes: {', '.join(prefixes)}")
    return prefixes[0] if prefixes else None


def function_logical_ids(template: Dict[str, Any]) -> List[str]:
    """Logical ids of the template's Lambda functions, sorted."""
    return sorted(
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict) and resource.get("Type") in FUNCTION_TYPES
    )


def artifact_buckets(template: Dict[str, Any]) -> List[str]:
    """The literal S3 buckets the template's Lambda code points at (the regional artifact bucket)."""
    buckets = set()
    for resource in template.get("Resources", {}).values():
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties") or {}
        location = properties.get("Code") or properties.get("Content") or {}
        bucket = location.get("S3Bucket") if isinstance(location, dict) else None
        if isinstance(bucket, str):
            buckets.add(bucket)
    return sorted(buckets)


def parameter_names(template: Dict[str, Any]) -> List[str]:
    return sorted((template.get("Parameters") or {}).keys())


def state_service_name(output_dir: str) -> Optional[str]:
    """The ``service:`` name serverless recorded in ``serverless-state.json``, None when unreadable."""
    path = os.path.join(output_dir, STATE_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    service = state.get("service", {}) if isinstance(state, dict) else {}
    name = service.get("service") if isinstance(service, dict) else None
    return name if isinstance(name, str) else None
