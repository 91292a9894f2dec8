# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading what ``sls package`` wrote and making it depend on the sources only.

Serverless 3 and osls write values of the run and of the machine into their output
(``docs/package-phase.md``, "Deterministic output"). Each is replaced by one derived from content:

* ``normalize_zip`` - ZIP entries sorted by name, fixed dates, modes 0644/0755 (the exec bit kept), no
  extra fields, one compression: the packagers' ZIP libraries (archiver, yazl) and the source files'
  modes no longer show in the bytes.
* ``make_content_addressed`` - the ``<epoch ms>-<ISO time>`` folder of every artifact key becomes the first
  16 hex digits of the ZIP's sha256 (``docs/project-layout.md``).
* ``rehash_layers`` / ``rehash_lambda_versions`` - the layer hash (``<Layer>LambdaLayerHash`` output, and
  the logical ids of retained layers) and the Lambda version logical ids and ``CodeSha256``, which the
  packagers derive from the ZIP bytes, recomputed from the normalised ZIPs.
* ``rehash_api_deployments`` - ``ApiGatewayDeployment<epoch ms>`` becomes ``ApiGatewayDeployment<hash of the
  REST API's definition>``: the same API keeps its id, a changed API gets a new one, so CloudFormation
  still deploys it (a Deployment is only created when its logical id changes).
* ``run_specific_values`` - what is left that looks like the run's time or the build machine's paths, so
  that ``normalize_template`` refuses it instead of publishing a template that differs on every run.

Every renamed logical id is renamed everywhere it appears (``rename_logical_ids``). Everything here is pure
(dicts, bytes and file reads/writes); nothing talks to AWS or runs the CLI.
"""

from __future__ import annotations

import base64
import collections
import datetime
import json
import os
import re
import shutil
import stat
import zipfile
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.common import canonical_json, sha256_bytes
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import artifact_key

UPDATE_TEMPLATE_FILE = "cloudformation-template-update-stack.json"
STATE_FILE = "serverless-state.json"

# `<epoch ms>-<ISO 8601 with ms>` as serverless 3.x and osls write it (lib/plugins/aws/package/lib/generateArtifactDirectoryName.js).
TIMESTAMP_FOLDER = r"\d{10,14}-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
TIMESTAMPED_KEY = re.compile(rf"^(?P<prefix>.+)/(?P<stamp>{TIMESTAMP_FOLDER})/(?P<name>[^/]+)$")

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
LAYER_TYPE = "AWS::Lambda::LayerVersion"
VERSION_TYPE = "AWS::Lambda::Version"
DEPLOYMENT_TYPE = "AWS::ApiGateway::Deployment"
REST_API_TYPE_PREFIX = "AWS::ApiGateway::"

# Hex digits of sha256 in the logical ids and hashes derived here (128 bits: no two contents ever share one).
LOGICAL_ID_HASH_LENGTH = 32
# `ApiGatewayDeployment<serverless.instanceId>`, the instance id being `Date.now()` of the CLI's start
# (lib/serverless.js, lib/plugins/aws/package/compile/events/api-gateway/lib/deployment.js).
DEPLOYMENT_ID = re.compile(r"^(?P<base>ApiGatewayDeployment)(?P<stamp>\d{13})$")
# `<Function>LambdaVersion<base64 sha256 of the ZIP, the layers and the configuration, non-alphanumerics dropped>`
# (lib/plugins/aws/package/compile/functions.js, naming.getLambdaVersionLogicalId).
VERSION_ID = re.compile(r"^(?P<base>[A-Za-z0-9]+LambdaVersion)(?P<hash>[A-Za-z0-9]+)$")
# The output `<Layer>LambdaLayerHash` holds sha1(layer resource + ZIP bytes); a retained layer (and its
# permissions) also carry it at the end of their logical ids (lib/plugins/aws/package/compile/layers.js).
LAYER_HASH_OUTPUT = re.compile(r"^(?P<layer>[A-Za-z0-9]+LambdaLayer)Hash$")
# Function properties Serverless leaves out of the version hash: they belong to the function, not to a version.
UNVERSIONED_PROPERTIES = ("Code", "ReservedConcurrentExecutions", "Tags")

# DOS dates have no time zone and start in 1980; the packagers' `new Date(0)` is clamped to this date as well.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_UNIX_SYSTEM = 3  # "version made by" host: the Unix mode is in the high 16 bits of the external attributes
ZIP_FILE_MODE = 0o644
ZIP_EXEC_MODE = 0o755
ZIP_MSDOS_DIRECTORY = 0x10
ZIP_CHUNK = 1 << 20

# What still looks like the packaging run after the normalisation: epoch seconds or milliseconds and ISO
# 8601 times within RUN_WINDOW (seconds before, after) of the packaging. Before: a CI job's build time set
# when its pipeline started, slot waits, long packagings; after: clock skew between the CLI and Python.
EPOCH_NUMBER = re.compile(r"(?<![0-9])([0-9]{13}|[0-9]{10})(?![0-9])")
ISO_TIME = re.compile(r"(?<![0-9])([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})")
RUN_WINDOW = (86400.0, 3600.0)
# Hashes (ours in keys and ids, or any other) may hold a run of digits that reads as a time: not one.
HEX_HASH = re.compile(r"[0-9A-Fa-f]{16,}")


class TemplateError(ValueError):
    """The packaged output is not what the packager should have written; the message says what is wrong."""


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


def _map_strings(node: Any, change: Callable[[str], str], keys: bool = False) -> Any:
    """A copy of ``node`` with ``change`` applied to every string value (and to every mapping key with ``keys``)."""
    if isinstance(node, dict):
        return {(change(key) if keys and isinstance(key, str) else key): _map_strings(value, change, keys) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_strings(value, change, keys) for value in node]
    if isinstance(node, str):
        return change(node)
    return node


def _replace_strings(node: Any, replacements: Dict[str, str]) -> Any:
    return _map_strings(node, lambda text: replacements.get(text, text))


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
        new_key = artifact_key(parts["prefix"], zip_sha256_by_name[name], name)
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


# ---------------------------------------------------------------------------------------------- ZIPs


def _normalized_attributes(info: zipfile.ZipInfo) -> int:
    """External attributes of a normalised entry: directories 0755, symlinks kept, files 0644 or 0755 with an exec bit.

    Serverless already writes 0644/0755 from the source file's owner exec bit, but other packagers and
    plugins copy the whole mode (group write under umask 0002...), and a ZIP made on Windows has none.
    """
    mode = info.external_attr >> 16 if info.create_system == ZIP_UNIX_SYSTEM else 0
    if info.is_dir():
        return (stat.S_IFDIR | ZIP_EXEC_MODE) << 16 | ZIP_MSDOS_DIRECTORY
    if stat.S_ISLNK(mode):
        return (stat.S_IFLNK | 0o777) << 16
    return (stat.S_IFREG | (ZIP_EXEC_MODE if mode & 0o111 else ZIP_FILE_MODE)) << 16


def normalize_zip(source: str, destination: str) -> None:
    """Rewrite the ZIP ``source`` as ``destination`` whose bytes follow from its entries' names, contents and exec bits only.

    Entries sorted by their UTF-8 names, all dated ``ZIP_DATE_TIME``, modes from ``_normalized_attributes``,
    made on "Unix", no extra fields (no extended timestamps or uid/gid), no comments, files deflated at
    zlib's default level, directories and symlinks stored. The packagers' ZIP libraries differ (archiver in
    serverless 3, yazl in osls), so both give the same bytes here. Entries are streamed: a 250 MB package
    is not read into memory.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
            duplicates = sorted(name for name, count in collections.Counter(entry.filename for entry in entries).items() if count > 1)
            if duplicates:
                raise TemplateError(f"{source} holds several entries named {', '.join(duplicates)}")
            with zipfile.ZipFile(destination, "w") as normalized:
                for entry in sorted(entries, key=lambda item: item.filename.encode("utf-8")):
                    info = zipfile.ZipInfo(entry.filename, date_time=ZIP_DATE_TIME)
                    info.create_system = ZIP_UNIX_SYSTEM
                    info.external_attr = _normalized_attributes(entry)
                    stored = entry.is_dir() or stat.S_ISLNK(info.external_attr >> 16)
                    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                    info.file_size = entry.file_size  # decides up front whether ZIP64 fields are written
                    with archive.open(entry) as reader, normalized.open(info, "w") as writer:
                        shutil.copyfileobj(reader, writer, ZIP_CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise TemplateError(f"{source} is not a ZIP this collection can rewrite ({exc})") from None


def zip_directory(directory: str, destination: str) -> None:
    """Write the files under ``directory`` as the ZIP ``destination`` in ``normalize_zip``'s normal form.

    For packagers that leave a folder rather than a ZIP (``sam build``): entries sorted by their UTF-8 names,
    files only (symlinks followed, as Lambda would), dated ``ZIP_DATE_TIME``, 0644 or 0755 from the owner's
    exec bit, deflated. An empty folder is refused: Lambda refuses an empty ZIP.
    """
    files = []
    for folder, subfolders, names in os.walk(directory, followlinks=True):
        subfolders.sort()
        files += [os.path.join(folder, name) for name in names]
    if not files:
        raise TemplateError(f"{directory} is empty: nothing to put into a ZIP")
    with zipfile.ZipFile(destination, "w") as archive:
        for path in sorted(files, key=lambda item: os.path.relpath(item, directory).replace(os.sep, "/").encode("utf-8")):
            info = zipfile.ZipInfo(os.path.relpath(path, directory).replace(os.sep, "/"), date_time=ZIP_DATE_TIME)
            info.create_system = ZIP_UNIX_SYSTEM
            info.external_attr = (stat.S_IFREG | (ZIP_EXEC_MODE if os.stat(path).st_mode & stat.S_IXUSR else ZIP_FILE_MODE)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = os.path.getsize(path)
            with open(path, "rb") as reader, archive.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, ZIP_CHUNK)


# ---------------------------------------------------------------------------------------------- logical ids


def content_hash(document: Any, length: int = LOGICAL_ID_HASH_LENGTH) -> str:
    """The first ``length`` hex digits of the sha256 of ``document``'s canonical JSON."""
    return sha256_bytes(canonical_json(document))[:length]


def rename_logical_ids(node: Any, renames: Mapping[str, str]) -> Any:
    """A copy of ``node`` with every logical id of ``renames`` renamed wherever it appears as a whole token.

    A token is whole when no letter or digit touches it (logical ids are alphanumeric). So without knowing
    every place CloudFormation or a plugin may name an id, this covers the Resources and Outputs keys,
    ``Ref``, both ``Fn::GetAtt`` forms (``[Id, Attr]`` and ``"Id.Attr"``), ``DependsOn`` (string or list),
    ``${Id}`` and ``${Id.Attr}`` in ``Fn::Sub`` strings, and properties naming an id as a plain string
    (a Stage's ``DeploymentId`` written by a plugin, a ``UsagePlan``'s ``DependsOn``).
    """
    changed = {old: new for old, new in renames.items() if old != new}
    if not changed:
        return node
    alternatives = "|".join(re.escape(old) for old in sorted(changed, key=len, reverse=True))
    pattern = re.compile(f"(?<![A-Za-z0-9])({alternatives})(?![A-Za-z0-9])")
    return _map_strings(node, lambda text: pattern.sub(lambda match: changed[match.group(1)], text), keys=True)


def _rename_resources(template: Dict[str, Any], renames: Mapping[str, str]) -> Dict[str, Any]:
    """``rename_logical_ids`` on the whole template, refusing a rename onto an id the template already has."""
    changed = {old: new for old, new in renames.items() if old != new}
    targets = collections.Counter(changed.values())
    clashes = sorted(new for new, count in targets.items() if count > 1 or (new in template["Resources"] and new not in changed))
    if clashes:
        raise TemplateError(f"renaming logical ids would clash with {', '.join(clashes)}")
    return rename_logical_ids(template, changed)


def _of_type(resource: Any, resource_type: str) -> bool:
    return isinstance(resource, dict) and resource.get("Type") == resource_type


def _ref(value: Any) -> Optional[str]:
    """The logical id of a ``{"Ref": id}``, else None."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Ref"), str):
        return value["Ref"]
    return None


def _artifact_sha256(resource: Any, sha256_by_key: Mapping[str, str]) -> Optional[str]:
    """The sha256 of the ZIP of this packaging that a function's ``Code`` or a layer's ``Content`` points at."""
    properties = resource.get("Properties") if isinstance(resource, dict) else None
    location = (properties.get("Code") or properties.get("Content")) if isinstance(properties, dict) else None
    key = location.get("S3Key") if isinstance(location, dict) else None
    return sha256_by_key.get(key) if isinstance(key, str) else None


def timestamped_deployments(template: Dict[str, Any]) -> Dict[str, str]:
    """``{ApiGatewayDeployment<epoch ms>: "ApiGatewayDeployment"}`` for the REST API deployments the packager named after its start time."""
    return {
        logical_id: match.group("base")
        for logical_id, resource in template["Resources"].items()
        for match in [DEPLOYMENT_ID.match(logical_id)]
        if match and _of_type(resource, DEPLOYMENT_TYPE)
    }


def _hashed_versions(template: Dict[str, Any]) -> Dict[str, str]:
    """``{<Function>LambdaVersion<hash>: "<Function>LambdaVersion"}`` for the template's versions named by Serverless."""
    return {
        logical_id: match.group("base")
        for logical_id, resource in template["Resources"].items()
        for match in [VERSION_ID.match(logical_id)]
        if match and _of_type(resource, VERSION_TYPE)
    }


# ---------------------------------------------------------------------------------------------- values derived from the ZIPs


def rehash_layers(template: Dict[str, Any], sha256_by_key: Mapping[str, str]) -> Dict[str, Any]:
    """Every ``<Layer>LambdaLayerHash`` output recomputed from the layer resource and its normalised ZIP.

    A retained layer (``retain: true``) and its ``LambdaLayerPermission``s end their logical ids in that
    hash: they are renamed with it, so a changed layer still gets a new retained version. Layers whose
    ZIP is not part of this packaging are left alone.
    """
    resources = template["Resources"]
    outputs = dict(template.get("Outputs") or {})
    renames: Dict[str, str] = {}
    for output_id in sorted(outputs):
        match = LAYER_HASH_OUTPUT.match(output_id)
        output = outputs[output_id]
        old = output.get("Value") if isinstance(output, dict) else None
        if not match or not isinstance(old, str) or not old:
            continue
        base = match.group("layer")
        layer_id = base if base in resources else base + old
        layer = resources.get(layer_id)
        zip_sha256 = _artifact_sha256(layer, sha256_by_key) if _of_type(layer, LAYER_TYPE) else None
        if zip_sha256 is None:
            continue
        new = content_hash({"layer": layer, "zip_sha256": zip_sha256})
        outputs[output_id] = dict(output, Value=new)
        if layer_id != base:
            renames.update({logical_id: logical_id[:-len(old)] + new for logical_id in resources if logical_id.endswith(old)})
    return _rename_resources(dict(template, Outputs=outputs) if "Outputs" in template else template, renames)


def rehash_lambda_versions(template: Dict[str, Any], sha256_by_key: Mapping[str, str]) -> Dict[str, Any]:
    """Every ``AWS::Lambda::Version`` of a function packaged here: ``CodeSha256`` and logical id from the normalised ZIP.

    ``CodeSha256`` must be the base64 sha256 of the code Lambda gets (CloudFormation refuses to publish
    otherwise), i.e. of the normalised ZIP that is uploaded. The id ``<Function>LambdaVersion<hash>`` hashes,
    like Serverless, the ZIP, the function's layers and its configuration (minus ``UNVERSIONED_PROPERTIES``),
    so new code or configuration still publishes a new version (a Version cannot be updated in place).
    Ids renamed by this step or the next (versions, the API deployment) are hashed as their stable base.
    """
    resources = template["Resources"]
    pending = dict(timestamped_deployments(template), **_hashed_versions(template))
    updated = dict(resources)
    renames: Dict[str, str] = {}
    for version_id, version in sorted(resources.items()):
        if not _of_type(version, VERSION_TYPE):
            continue
        properties = version.get("Properties") or {}
        function = resources.get(_ref(properties.get("FunctionName")) or "")
        zip_sha256 = _artifact_sha256(function, sha256_by_key)
        if zip_sha256 is None:
            continue  # inline or image code: nothing of this packaging's ZIPs in it
        if "CodeSha256" in properties:
            properties = dict(properties, CodeSha256=base64.b64encode(bytes.fromhex(zip_sha256)).decode("ascii"))
        updated[version_id] = dict(version, Properties=properties)
        match = VERSION_ID.match(version_id)
        if match:
            configuration = {key: value for key, value in (function.get("Properties") or {}).items() if key not in UNVERSIONED_PROPERTIES}
            layers = {
                layer_id: {"layer": resources[layer_id], "zip_sha256": _artifact_sha256(resources[layer_id], sha256_by_key)}
                for layer_id in (_ref(layer) for layer in configuration.get("Layers") or [])
                if layer_id and _of_type(resources.get(layer_id), LAYER_TYPE)
            }
            material = {"zip_sha256": zip_sha256, "function": configuration, "layers": layers, "version": updated[version_id]}
            renames[version_id] = match.group("base") + content_hash(rename_logical_ids(material, pending))
    return _rename_resources(dict(template, Resources=updated), renames)


# ---------------------------------------------------------------------------------------------- the REST API deployment


def rest_api_definition(template: Dict[str, Any]) -> Dict[str, Any]:
    """The ``AWS::ApiGateway::*`` resources (the deployment included), timestamped deployment ids replaced by their base."""
    api = {
        logical_id: resource for logical_id, resource in template["Resources"].items()
        if isinstance(resource, dict) and str(resource.get("Type", "")).startswith(REST_API_TYPE_PREFIX)
    }
    return rename_logical_ids(api, timestamped_deployments(template))


def rehash_api_deployments(template: Dict[str, Any]) -> Dict[str, Any]:
    """``ApiGatewayDeployment<epoch ms>`` renamed ``ApiGatewayDeployment<hash of the REST API definition>``, everywhere.

    CloudFormation creates a new Deployment (a snapshot of the API that the stage serves) only when the
    logical id changes: with the start time in it every packaging made one, with the hash of the resources,
    methods, integrations, authorizers, models, validators, gateway responses... (and of the deployment
    itself) an unchanged API keeps its id and any change to it gets a new one. Run after the other steps, so
    the hash sees final ids (an integration pointing at a Lambda version or alias, a retained layer).
    """
    deployments = timestamped_deployments(template)
    if len(deployments) > 1:
        raise TemplateError(f"the template has several timestamped REST API deployments: {', '.join(sorted(deployments))}")
    renames = {old: base + content_hash(rest_api_definition(template)) for old, base in deployments.items()}
    return _rename_resources(template, renames)


# ---------------------------------------------------------------------------------------------- what remains


def _walk_text(node: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """``(path, text)`` for every mapping key, string and integer in ``node``; paths like ``Resources.Fn.Properties.Layers[0]``."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, str(key)
            yield from _walk_text(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_text(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node
    elif isinstance(node, int) and not isinstance(node, bool):
        yield path, str(node)


def _near(seconds: float, reference_time: float) -> bool:
    before, after = RUN_WINDOW
    return reference_time - before <= seconds <= reference_time + after


def _iso_seconds(text: str) -> Optional[float]:
    try:
        return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def run_specific_values(template: Dict[str, Any], reference_time: float, machine_paths: Sequence[str] = ()) -> List[str]:
    """Where the template still holds the time of the packaging run or a path of the build machine: ``<path>: <value> (<why>)``.

    ``reference_time`` is when the packaging ran (epoch seconds). Times are epoch seconds or milliseconds
    and ISO 8601 date-times (read as UTC, so local times within the window count too) within
    ``RUN_WINDOW`` of it: what ``${sls:instanceId}``, a build date or a timestamped key leave behind.
    ``machine_paths`` are absolute paths of this machine (project, build root) that must not be published.
    """
    paths = sorted({path.rstrip("/") for path in machine_paths if path and path.startswith("/") and path.rstrip("/")}, key=len, reverse=True)
    path_pattern = re.compile(f"(?<![A-Za-z0-9._-])({'|'.join(map(re.escape, paths))})(?![A-Za-z0-9._-])") if paths else None
    findings: List[str] = []
    for where, text in _walk_text(template):
        hashes = [match.span() for match in HEX_HASH.finditer(text) if not match.group().isdigit()]
        for match in EPOCH_NUMBER.finditer(text):
            digits = match.group(1)
            in_hash = any(start <= match.start() and match.end() <= end for start, end in hashes)
            if not in_hash and _near(int(digits) / (1000.0 if len(digits) == 13 else 1.0), reference_time):
                findings.append(f"{where}: {digits} (the time of the packaging run)")
        for match in ISO_TIME.finditer(text):
            seconds = _iso_seconds(match.group(1))
            if seconds is not None and _near(seconds, reference_time):
                findings.append(f"{where}: {match.group(1)} (the time of the packaging run)")
        if path_pattern:
            findings.extend(f"{where}: {match.group(1)} (a path of the build machine)" for match in path_pattern.finditer(text))
    return findings


# ---------------------------------------------------------------------------------------------- the whole normalisation


def normalize_template(template: Dict[str, Any], zip_sha256_by_name: Dict[str, str], reference_time: float,
                       machine_paths: Sequence[str] = ()) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The template with every run- or machine-specific value replaced by one derived from content.

    ``zip_sha256_by_name`` are the sha256 of the *normalised* ZIPs (``normalize_zip``). In order: artifact
    keys, layer hashes, Lambda versions (they hash their layers), the REST API deployment (it hashes
    everything else of the API, whose integrations may name versions). Whatever still looks like the run's
    time or the machine's paths (``run_specific_values``) is refused: such a template would differ on every
    packaging and every machine, creating a product version and a rollout each time.
    Returns the template and ``{zip name: S3 key}``.
    """
    rewritten, keys_by_zip = make_content_addressed(template, zip_sha256_by_name)
    sha256_by_key = {key: zip_sha256_by_name[name] for name, key in keys_by_zip.items()}
    rewritten = rehash_api_deployments(rehash_lambda_versions(rehash_layers(rewritten, sha256_by_key), sha256_by_key))
    findings = run_specific_values(rewritten, reference_time, machine_paths)
    if findings:
        shown = "; ".join(findings[:5]) + (f"; and {len(findings) - 5} more" if len(findings) > 5 else "")
        raise TemplateError(
            f"the packaged template holds values of this packaging run or build machine, so it would differ on every run: {shown}. "
            "Take them out of the service's configuration (e.g. ${sls:instanceId}, build dates, absolute paths)")
    return rewritten, keys_by_zip
