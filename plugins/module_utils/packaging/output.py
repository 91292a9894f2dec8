# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a Serverless output folder (``cloudformation-template-update-stack.json`` and ZIPs) into what is published.

The reader of ``ServerlessPackager`` and ``ComposePackager`` (``Packager.collect``); the normalisation itself
is ``sls_template``'s (docs/package-phase.md, "Deterministic output").
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Dict, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl
from ansible_collections.multiregion.serverless.plugins.module_utils.common import canonical_json, sha256_bytes, sha256_file, write_fresh_file

TEMPLATE_FILE = "template.json"


def write_published_template(out_dir: str, template: Dict[str, Any]) -> Tuple[str, str]:
    """``<out_dir>/template.json`` in the one byte form templates are published (and hashed) in: ``(path, sha256)``."""
    body = canonical_json(template)
    template_path = os.path.join(out_dir, TEMPLATE_FILE)
    write_fresh_file(template_path, body)
    return template_path, sha256_bytes(body)


def collect_output(name: str, kind: str, stage: str, output_dir: str, out_dir: str, machine_paths: Sequence[str] = ()) -> Dict[str, Any]:
    """Turn a packager's output folder into the normalised template and ZIPs of ``out_dir``.

    Every ZIP the template names is rewritten into ``out_dir`` by ``normalize_zip`` and the template by
    ``normalize_template`` (content-addressed keys, versions, layer hashes and the REST API deployment from
    content; values of the run or of ``machine_paths`` refused), so the same sources give the same bytes on
    any machine, path, umask, day and cache state. The result stays valid while the working copy is rebuilt
    for the next packaging. A TemplateError leaves no ``out_dir`` behind.
    """
    template = tpl.read_template(os.path.join(output_dir, tpl.UPDATE_TEMPLATE_FILE))
    prefix = tpl.artifact_prefix(template) or naming.artifact_prefix(tpl.state_service_name(output_dir) or name, stage)
    if os.path.lexists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    try:
        zip_sha256 = {}
        for zip_name in sorted({parts["name"] for parts in tpl.timestamped_artifact_keys(template).values()}):
            source = os.path.join(output_dir, zip_name)
            if os.path.isfile(source):  # a missing one is reported by normalize_template, with its key
                tpl.normalize_zip(source, os.path.join(out_dir, zip_name))
                zip_sha256[zip_name] = sha256_file(os.path.join(out_dir, zip_name))
        rewritten, keys_by_zip = tpl.normalize_template(template, zip_sha256, time.time(), machine_paths)
    except tpl.TemplateError:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    template_path, template_sha256 = write_published_template(out_dir, rewritten)
    artifacts = []
    for zip_name, key in sorted(keys_by_zip.items()):
        path = os.path.join(out_dir, zip_name)
        artifacts.append({"name": zip_name, "path": path, "sha256": zip_sha256[zip_name], "size": os.path.getsize(path), "s3_key": key})
    if kind == "init":
        template_key = naming.init_template_key(name, stage, template_sha256)
    else:
        template_key = naming.service_template_key(prefix, template_sha256)
    buckets = tpl.artifact_buckets(rewritten)
    return {
        "template_path": template_path,
        "template_sha256": template_sha256,
        "template_key": template_key,
        "artifacts": artifacts,
        "artifact_bucket": buckets[0] if len(buckets) == 1 else None,
        "function_logical_ids": tpl.function_logical_ids(rewritten),
        "parameters": tpl.parameter_names(rewritten),
    }
