# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS SAM services as a ``Packager``: ``sam build`` (no container), then the collection's own publishing.

``sam build`` leaves ``.aws-sam/build/template.yaml`` and a folder per function or layer. ``collect`` does what
``sam package`` would, but with this collection's keys: every folder becomes a ZIP in ``normalize_zip``'s normal
form under a content-addressed key of the stage's regional bucket, a nested application's template is
published the same way (recursively), and the template is expanded offline by the pinned aws-sam-translator
(``sam_template.translate``), so what is published is plain CloudFormation any CloudFormation can build, the
same bytes on every machine and run.

A build does not depend on the region (only the publishing does): ``region_independent`` lets the runner build
once per stage and source content and publish it per region.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils import sam_template as sam
from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl
from ansible_collections.multiregion.serverless.plugins.module_utils.common import canonical_json, sha256_file, write_fresh_file
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.output import write_published_template
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import Packager, PackagingError, resolve_binary, unversioned_binary
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.sources import SAM_CONFIG_NAMES, find_config

BUILT_TEMPLATE = "template.yaml"
SAM_ENVIRONMENT = {"SAM_CLI_TELEMETRY": "0"}


def sam_cli_version(binary: str) -> str:
    """``aws-sam-cli@<version>`` of the ``sam`` script at ``binary``, read from its environment's metadata (no start-up)."""
    try:
        with open(os.path.realpath(binary), "rb") as handle:
            shebang = handle.readline().decode("utf-8", "replace")
    except OSError:
        shebang = ""
    if shebang.startswith("#!"):
        environment = os.path.dirname(os.path.dirname(shebang[2:].strip().split()[0]))
        found = sorted(glob.glob(os.path.join(environment, "lib", "python*", "site-packages", "aws_sam_cli-*.dist-info")))
        if found:
            return "aws-sam-cli@" + os.path.basename(found[-1])[len("aws_sam_cli-"):-len(".dist-info")]
    return unversioned_binary(binary)


@functools.lru_cache(maxsize=None)
def _source_facts(config: str, mtime: float, path: str) -> Tuple[Tuple[str, ...], Tuple["sam.LocalArtifact", ...]]:
    """What the service's own template says before the build: the functions this machine cannot build, and its
    local artifacts (code folders). Read once per file version and PATH (the runtime check runs interpreters);
    SamTemplateError for a template this collection cannot build or publish."""
    template = sam.load_template(config)
    return tuple(sam.unbuildable_functions(template, path=path)), tuple(sam.local_artifacts(template))


def _read_source(config: str, name: str) -> Tuple[Tuple[str, ...], Tuple["sam.LocalArtifact", ...]]:
    try:
        return _source_facts(config, os.path.getmtime(config), os.environ.get("PATH", ""))
    except sam.SamTemplateError as exc:
        raise PackagingError(str(exc), name) from None


def _files_under(path: str) -> List[str]:
    if os.path.isfile(path):
        return [path]
    return sorted(os.path.join(folder, name) for folder, _dirs, names in os.walk(path) for name in names)


class SamPackager(Packager):
    """``sam build`` in the working copy, the ZIPs and template published to ``bucket`` of ``region`` by ``collect``."""

    name = "sam"
    output_folder = os.path.join(".aws-sam", "build")
    config_names = SAM_CONFIG_NAMES
    region_independent = True

    def __init__(self, binary: str, bucket: Optional[str], region: str) -> None:
        self.binary = resolve_binary(binary, "sam")
        self.version = sam_cli_version(self.binary)
        self.bucket = bucket
        self.region = region

    def check_config(self, name: str, source_dir: str, stage: str) -> str:
        config = find_config(source_dir, SAM_CONFIG_NAMES)
        if config is None:
            raise PackagingError(f"no template.yaml in {source_dir}", name)
        if not self.bucket:
            raise PackagingError("a SAM service needs the stage's artifact bucket (the artifact_bucket option)", name)
        problems, _artifacts = _read_source(config, name)
        if problems:
            raise PackagingError(f"cannot be built on this machine: {'; '.join(problems)}", name)
        return config

    def inputs(self, config: str) -> List[str]:
        """Code folders outside the service's folder (``CodeUri: ../shared/lib``): their files are part of the cache key."""
        folder = os.path.dirname(os.path.abspath(config))
        outside: List[str] = []
        for artifact in _read_source(config, os.path.basename(folder))[1]:
            path = os.path.normpath(os.path.join(folder, artifact.path))
            if os.path.relpath(path, folder).startswith(os.pardir):
                outside += _files_under(path)
        return outside

    def cache_context(self) -> Dict[str, str]:
        return dict(super().cache_context(), translator=sam.translator_version())

    def environment(self, env: Dict[str, str], build_root: str) -> Dict[str, str]:
        return dict(env, **SAM_ENVIRONMENT)

    def command(self, stage: str, region: str) -> List[str]:
        # No container, no prompt; --region only names the region sam would read settings for (the build is the same).
        return [self.binary, "build", "--region", region, "--no-use-container"]

    def collect(self, name: str, kind: str, stage: str, output_dir: str, out_dir: str, machine_paths: Sequence[str] = ()) -> Dict[str, Any]:
        """Publish the built template of ``output_dir`` for this packager's bucket and region into ``out_dir``."""
        if os.path.lexists(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(out_dir)
        prefix = naming.sam_artifact_prefix(name, stage)
        artifacts: List[Dict[str, Any]] = []
        try:
            published = self._publish(os.path.join(output_dir, BUILT_TEMPLATE), prefix, out_dir, artifacts, ())
            found = tpl.run_specific_values(published, time.time(), machine_paths)
            if found:
                raise tpl.TemplateError(f"the published template would hold values of this run or machine: {'; '.join(found[:5])}")
        except sam.SamTemplateError as exc:
            shutil.rmtree(out_dir, ignore_errors=True)
            raise tpl.TemplateError(str(exc)) from None
        except tpl.TemplateError:
            shutil.rmtree(out_dir, ignore_errors=True)
            raise
        template_path, template_sha256 = write_published_template(out_dir, published)
        return {
            "template_path": template_path,
            "template_sha256": template_sha256,
            "template_key": naming.service_template_key(prefix, template_sha256),
            "artifacts": sorted(artifacts, key=lambda item: item["s3_key"]),
            "artifact_bucket": self.bucket,
            "function_logical_ids": tpl.function_logical_ids(published),
            "parameters": tpl.parameter_names(published),
        }

    def _publish(self, built_template: str, prefix: str, out_dir: str, artifacts: List[Dict[str, Any]], nesting: Tuple[str, ...]) -> Dict[str, Any]:
        """The CloudFormation of one built (possibly nested) template; its ZIPs and nested templates added to ``artifacts``."""
        built = sam.load_template(built_template)
        folder = os.path.dirname(built_template)
        locations: Dict[str, Tuple[str, str]] = {}
        for artifact in sam.local_artifacts(built):
            file_stem = "-".join(nesting + (artifact.logical_id,))
            source = sam.artifact_folder(folder, artifact)
            if artifact.kind == "template":
                nested = self._publish(self._nested_template(source, artifact), prefix, out_dir, artifacts, nesting + (artifact.logical_id,))
                file_name = f"{file_stem}.json"
                write_fresh_file(os.path.join(out_dir, file_name), canonical_json(nested))
            else:
                file_name = f"{file_stem}.zip"
                self._zip(source, os.path.join(out_dir, file_name), artifact)
            path = os.path.join(out_dir, file_name)
            digest = sha256_file(path)
            key = naming.artifact_key(prefix, digest, file_name)
            artifacts.append({"name": file_name, "path": path, "sha256": digest, "size": os.path.getsize(path), "s3_key": key})
            locations[artifact.logical_id] = (self.bucket, key)
        with_locations = sam.with_artifacts(built, locations, self.region)
        return sam.translate(with_locations, self.region) if sam.is_sam_template(built) else with_locations

    @staticmethod
    def _nested_template(source: str, artifact: "sam.LocalArtifact") -> str:
        if os.path.isdir(source):
            source = find_config(source, SAM_CONFIG_NAMES) or os.path.join(source, BUILT_TEMPLATE)
        if not os.path.isfile(source):
            raise sam.SamTemplateError(f"{artifact.logical_id}.Location: the built template {artifact.path} is missing")
        return source

    @staticmethod
    def _zip(source: str, destination: str, artifact: "sam.LocalArtifact") -> None:
        if os.path.isdir(source):
            tpl.zip_directory(source, destination)
        elif os.path.isfile(source) and source.endswith((".zip", ".jar")):
            tpl.normalize_zip(source, destination)
        else:
            raise sam.SamTemplateError(f"{artifact.logical_id}.{artifact.prop}: sam build left no {artifact.path}")
