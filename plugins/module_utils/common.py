# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers every part of the collection shares: JSON forms, hashing, file writes, name patterns.

A leaf: it imports nothing of the collection, so anything may import it and nothing needs to import back.

* ``canonical_json`` - the byte form every published template, cache entry and ledger is written (and the
  packaged templates hashed) in: sorted keys, 2-space indent, final newline.
* ``compact_json`` - the normal form template fingerprints are taken of: sorted keys, no whitespace.
  Both are stable; they differ on purpose (one is read by people, one only hashed) and must not be mixed:
  changing either changes every key or fingerprint made with it.
* ``sha256_bytes`` / ``sha256_text`` / ``sha256_file`` - hex sha256 digests.
* ``write_fresh_file`` - an atomic write as a new inode (never through a hard link).
* ``*_PATTERN`` - what a stage, region, account, bucket, SSM prefix, Service Catalog product name and provisioned
  product (tenant) name may be.
* ``InputError`` - a run input refused before anything is written (the input check's and the plan's errors);
  ``refusal`` words one, ``did_you_mean`` gives an unknown name's hint.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from typing import Any, Sequence, Type


class InputError(ValueError):
    """A run input is wrong; the message is one line naming the key, the value and what is expected."""


def did_you_mean(name: str, known: Sequence[str], cutoff: float = 0.6) -> str:
    """``did you mean <closest>? `` when one of ``known`` is close to ``name`` (difflib ratio >= ``cutoff``), else ``""``:
    the hint of every refusal of an unknown name (a project.yml key, a service, a -e variable, a tag)."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=cutoff)
    return f"did you mean {close[0]}? " if close else ""


def refusal(key: str, value: Any, expected: str, error: Type[InputError] = InputError) -> InputError:
    """``key=value: expected ...`` as an ``error``; strings are shown quoted, the rest as JSON writes them (null, true, [1])."""
    if isinstance(value, str):
        shown = repr(value)
    else:
        try:
            shown = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            shown = repr(value)
    return error(f"{key}={shown}: expected {expected}")


# A stage name: it is part of bucket names, SSM paths, S3 keys and Service Catalog names.
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Commercial, GovCloud, China and ISO partitions: <area>-<direction>-<n> (e.g. us-east-1, ap-southeast-2,
# us-gov-west-1, cn-north-1). A name of that shape that AWS does not have is still caught against the
# stage's own list.
REGION_PATTERN = re.compile(
    r"^(?:[a-z]{2}(?:-gov|-iso[a-z]?)?)-(?:north|south|east|west|central|northeast|northwest|southeast|southwest|mid|midwest)-\d{1,2}$"
)
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
# What a portfolio is associated with (an IAM user, role or group) and what a launch constraint builds stacks as.
PRINCIPAL_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(user|role|group)/[\w+=,.@/-]+$")
ROLE_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SSM_PREFIX_PATTERN = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")
# What a Service Catalog product name may be here: it is also a level of the stage's SSM parameter names
# (<ssm_prefix>/products/<name>/latest-artifact-id), and SSM allows only these characters.
CATALOG_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# A provisioned product (tenant) name, as Service Catalog allows it.
PROVISIONED_PRODUCT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_CHUNK = 1 << 20


def canonical_json(document: Any) -> bytes:
    """The one byte form templates, cache entries and ledgers are written (and hashed) in."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def compact_json(document: Any) -> str:
    """The normal form fingerprints are taken of: sorted keys, no whitespace, UTF-8 characters kept."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str, chunk_size: int = _CHUNK) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_fresh_file(path: str, data: bytes) -> None:
    """Write ``path`` atomically as a new inode: a hard-linked copy of a user's file is never written through."""
    if os.path.lexists(path):
        os.unlink(path)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
