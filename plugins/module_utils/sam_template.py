# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS SAM templates: reading them, what their functions need to build, and turning a built one into CloudFormation.

* ``load_template`` - a SAM template (YAML with CloudFormation's short forms, or JSON) as plain data, the short
  forms (``!Ref X``) in their long form (``{"Ref": "X"}``), as the SAM translator wants them (``cfn_template``'s reader).
* ``functions`` / ``unbuildable_functions`` - each function's runtime, and the ones this machine cannot build
  without a container (``sam build`` would fail after minutes with a page of output; this says it in one line).
* ``local_artifacts`` / ``with_artifacts`` - the properties of a built template that name a folder or file of
  the build (``CodeUri: NightlyUsageFunction``), and the template with each replaced by its S3 location.
* ``unknown_policy_names`` / ``translate`` - the offline ``AWS::Serverless-2016-10-31`` transform by the pinned
  aws-sam-translator, managed policy names from the collection's table (``sam_policies``), never from IAM.

Pure but for reading files; nothing here talks to AWS.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import TemplateError, check_template, load_document
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import regional_s3_url
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.sam_policies import MANAGED_POLICY_PATHS, managed_policy_arn

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
SAM_TYPE_PREFIX = "AWS::Serverless::"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")

# Where a resource type of a built template names a local folder or file: (property, "zip") for code and layer
# content, (property, "template") for a nested application's template. Local definition files are not published
# (UNPUBLISHED_LOCAL_PROPERTIES): such a template is refused (``local_artifacts``).
ARTIFACT_PROPERTIES: Dict[str, Tuple[str, str]] = {
    "AWS::Serverless::Function": ("CodeUri", "zip"),
    "AWS::Serverless::LayerVersion": ("ContentUri", "zip"),
    "AWS::Lambda::Function": ("Code", "zip"),
    "AWS::Lambda::LayerVersion": ("Content", "zip"),
    "AWS::Serverless::Application": ("Location", "template"),
}
# Properties that may name a local file sam build leaves local; the collection does not publish those.
UNPUBLISHED_LOCAL_PROPERTIES = {
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::GraphQLApi": "SchemaUri",
}

# What building a runtime without a container needs on PATH (aws-lambda-builders' workflows): each entry is a
# list of alternatives, all entries must be met. Python needs the interpreter of exactly that version.
RUNTIME_TOOLS: Dict[str, List[List[str]]] = {
    "nodejs": [["node"], ["npm"]],
    "java": [["java"], ["gradle", "mvn"]],
    "ruby": [["ruby"], ["bundle", "bundler"]],
    "go": [["go"]],
    "dotnet": [["dotnet"]],
}


class SamTemplateError(Exception):
    """A SAM template this collection cannot build or publish; ``str()`` is one line."""


# ---------------------------------------------------------------------------------------------- reading


def load_template(path: str) -> Dict[str, Any]:
    """The SAM template at ``path`` (JSON or YAML, short forms in their long form: ``cfn_template``'s reader).

    SamTemplateError, in one line, when it cannot be read or is no CloudFormation template.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        return check_template(load_document(text, path), path)
    except OSError as exc:
        raise SamTemplateError(f"cannot read {path}: {exc.strerror}") from None
    except TemplateError as exc:
        raise SamTemplateError(str(exc)) from None


def _transforms(template: Mapping[str, Any]) -> List[Any]:
    transform = template.get("Transform")
    return transform if isinstance(transform, list) else [transform] if transform else []


def is_sam_template(template: Mapping[str, Any]) -> bool:
    return SAM_TRANSFORM in _transforms(template)


# ---------------------------------------------------------------------------------------------- what builds need


@dataclass(frozen=True)
class Function:
    logical_id: str
    runtime: Optional[str]
    package_type: str
    build_method: Optional[str]


def _resources(template: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {name: resource for name, resource in (template.get("Resources") or {}).items() if isinstance(resource, dict)}


def _function_globals(template: Mapping[str, Any]) -> Dict[str, Any]:
    """``Globals.Function``: what every AWS::Serverless::Function has unless it says otherwise."""
    section = template.get("Globals")
    defaults = section.get("Function") if isinstance(section, dict) else None
    return defaults if isinstance(defaults, dict) else {}


def functions(template: Mapping[str, Any]) -> List[Function]:
    """The template's functions with what their build depends on (``Globals.Function`` filled in)."""
    defaults = _function_globals(template)
    found = []
    for logical_id, resource in sorted(_resources(template).items()):
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        properties = resource.get("Properties") or {}
        sam = resource["Type"] == FUNCTION_TYPES[0]
        runtime = properties.get("Runtime", defaults.get("Runtime") if sam else None)
        package_type = properties.get("PackageType", defaults.get("PackageType") if sam else None) or "Zip"
        build_method = ((resource.get("Metadata") or {}).get("BuildMethod")) if isinstance(resource.get("Metadata"), dict) else None
        found.append(Function(logical_id, runtime if isinstance(runtime, str) else None, str(package_type), build_method))
    return found


def _works(command: List[str]) -> bool:
    try:
        return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def runtime_problem(runtime: Optional[str], build_method: Optional[str], path: Optional[str] = None,
                    works: Callable[[List[str]], bool] = _works) -> Optional[str]:
    """Why this machine cannot build ``runtime`` without a container (``None`` when it can)."""
    if runtime is None:
        return "it names no Runtime (neither on the function nor in Globals.Function)"
    if runtime.startswith("python"):
        interpreter = runtime  # python3.11 -> the python3.11 executable, as sam build looks for it
        if shutil.which(interpreter, path=path) and works([interpreter, "--version"]):
            return None
        return f"sam build needs {interpreter} on PATH (without a container it builds with that exact interpreter)"
    if runtime.startswith("provided"):
        if build_method == "makefile":
            return None if shutil.which("make", path=path) else "sam build needs make on PATH for BuildMethod makefile"
        tools = RUNTIME_TOOLS.get(build_method.rstrip("0123456789.x") if build_method else "", None)
        if tools is None:
            return f"a {runtime} function needs a Metadata.BuildMethod this collection can build (makefile, go1.x, ...)"
    else:
        family = next((prefix for prefix in RUNTIME_TOOLS if runtime.startswith(prefix)), None)
        if family is None:
            return "this collection does not know how to build that runtime"
        tools = RUNTIME_TOOLS[family]
    missing = [" or ".join(alternatives) for alternatives in tools if not any(shutil.which(tool, path=path) for tool in alternatives)]
    return f"sam build needs {' and '.join(missing)} on PATH" if missing else None


def unbuildable_functions(template: Mapping[str, Any], path: Optional[str] = None,
                          works: Callable[[List[str]], bool] = _works) -> List[str]:
    """One phrase per function this machine cannot build: ``function F (python3.12): sam build needs ...``."""
    problems = []
    for function in functions(template):
        if function.package_type != "Zip":
            problems.append(f"function {function.logical_id} is PackageType {function.package_type}: container images are not built "
                            "here (sam build without a container builds ZIP functions)")
            continue
        problem = runtime_problem(function.runtime, function.build_method, path, works)
        if problem:
            problems.append(f"function {function.logical_id} ({function.runtime or 'no runtime'}): {problem}")
    return problems


# ---------------------------------------------------------------------------------------------- local artifacts


@dataclass(frozen=True)
class LocalArtifact:
    logical_id: str
    prop: str
    kind: str  # "zip" or "template"
    path: str  # relative to the template's folder


def _local_path(value: Any) -> Optional[str]:
    """The local path a property holds (a plain relative string), or None for S3 locations, intrinsics and inline code."""
    if not isinstance(value, str) or not value or value.startswith(("s3://", "https://", "http://", "/")):
        return None
    return value


def local_artifacts(template: Mapping[str, Any]) -> List[LocalArtifact]:
    """Every property of a built template naming a local folder or file; SamTemplateError for those not published here."""
    found = []
    for logical_id, resource in sorted(_resources(template).items()):
        kind_of = resource.get("Type")
        properties = resource.get("Properties") or {}
        if kind_of in UNPUBLISHED_LOCAL_PROPERTIES and _local_path(properties.get(UNPUBLISHED_LOCAL_PROPERTIES[kind_of])):
            prop = UNPUBLISHED_LOCAL_PROPERTIES[kind_of]
            raise SamTemplateError(f"{logical_id}.{prop} names the local file {properties[prop]}, which this collection does not publish: "
                                   f"inline it (DefinitionBody / Definition) or give an s3:// location")
        if kind_of not in ARTIFACT_PROPERTIES:
            continue
        prop, kind = ARTIFACT_PROPERTIES[kind_of]
        path = _local_path(properties.get(prop))
        if path is not None:
            found.append(LocalArtifact(logical_id, prop, kind, path))
    return found


def with_artifacts(template: Mapping[str, Any], locations: Mapping[str, Tuple[str, str]], region: str) -> Dict[str, Any]:
    """The template with each local artifact at its S3 location ``{logical id: (bucket, key)}``.

    ``CodeUri``/``ContentUri`` become ``{Bucket, Key}``, ``Code``/``Content`` ``{S3Bucket, S3Key}`` and a nested
    application's ``Location`` the regional URL of its template. ``Globals.Function.CodeUri`` goes (every function
    now has its own) and ``Metadata.SamResourceId``, which only sam build reads, too.
    """
    rewritten = copy.deepcopy(dict(template))
    for artifact in local_artifacts(rewritten):
        bucket, key = locations[artifact.logical_id]
        resource = rewritten["Resources"][artifact.logical_id]
        if artifact.kind == "template":
            value: Any = regional_s3_url(bucket, key, region)
        elif artifact.prop in ("CodeUri", "ContentUri"):
            value = {"Bucket": bucket, "Key": key}
        else:
            value = {"S3Bucket": bucket, "S3Key": key}
        resource["Properties"][artifact.prop] = value
    for resource in _resources(rewritten).values():
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict):
            metadata.pop("SamResourceId", None)
            if not metadata:
                resource.pop("Metadata")
    _function_globals(rewritten).pop("CodeUri", None)
    return rewritten


# ---------------------------------------------------------------------------------------------- the transform


def unknown_policy_names(template: Mapping[str, Any]) -> List[str]:
    """``F: Name`` for each plain policy name of a function that is neither an ARN nor in the managed policy table."""
    defaults = _function_globals(template)
    unknown = []
    for logical_id, resource in sorted(_resources(template).items()):
        if resource.get("Type") not in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            continue
        policies = (resource.get("Properties") or {}).get("Policies", defaults.get("Policies") if resource["Type"] == FUNCTION_TYPES[0] else None)
        for policy in policies if isinstance(policies, list) else [policies]:
            if isinstance(policy, str) and not policy.startswith("arn:") and policy not in MANAGED_POLICY_PATHS:
                unknown.append(f"{logical_id}: {policy}")
    return unknown


def translator_version() -> str:
    """The installed aws-sam-translator's version (part of a SAM packaging's cache key), without importing it."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return version("aws-sam-translator")
    except PackageNotFoundError:
        return "missing"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# The translator keeps the region of its ARNs in a class attribute: one translation at a time per process.
_TRANSLATOR_LOCK = threading.Lock()


def translate(template: Mapping[str, Any], region: str) -> Dict[str, Any]:
    """The CloudFormation of the SAM template ``template`` for ``region``, by the pinned aws-sam-translator, offline.

    Managed policy names come from ``MANAGED_POLICY_PATHS`` (a name outside it is refused first); the boto3
    session only names the region (no credentials, no call). Raises SamTemplateError with the translator's message.
    """
    unknown = unknown_policy_names(template)
    if unknown:
        raise SamTemplateError(f"unknown managed policy name(s) {', '.join(unknown)}: use an AWS managed policy name "
                               f"(aws-sam-translator's table), a policy ARN or a SAM policy template")
    try:
        import boto3
        from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
        from samtranslator.model.exceptions import InvalidDocumentException, InvalidResourceException, InvalidTemplateException
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator
    except ImportError as exc:
        raise SamTemplateError(f"the SAM transform needs aws-sam-translator on the controller's Python ({exc})") from None
    partition = partition_of(region)
    policy_map = {name: managed_policy_arn(name, partition) for name in MANAGED_POLICY_PATHS}
    with _TRANSLATOR_LOCK:
        try:
            # Metrics published to nowhere: the translator warns on stderr about metrics never published otherwise.
            metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
            translator = Translator(policy_map, Parser(), boto_session=boto3.session.Session(region_name=region), metrics=metrics)
            translated = translator.translate(copy.deepcopy(dict(template)), parameter_values={})
            metrics.publish()
        except (InvalidDocumentException, InvalidResourceException, InvalidTemplateException) as exc:
            causes = getattr(exc, "causes", None) or [exc]
            raise SamTemplateError("the SAM transform refused the template: " + "; ".join(str(getattr(c, "message", c)) for c in causes)) from None
    left = sorted(name for name, resource in _resources(translated).items() if str(resource.get("Type", "")).startswith(SAM_TYPE_PREFIX))
    if left or is_sam_template(translated):
        raise SamTemplateError(f"the SAM transform left {', '.join(left) or 'the Transform'} behind")
    return translated


def artifact_folder(build_dir: str, artifact: LocalArtifact) -> str:
    """The absolute path of a built artifact (relative to the built template's folder)."""
    return os.path.normpath(os.path.join(build_dir, artifact.path))
