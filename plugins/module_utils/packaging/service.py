# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service behind the ``sls_package`` module: check the options, package one deploy target, shape the result.

``package_target(params, log, warn)`` returns the module's result or raises ``PackagingFailed``
holding the message and the partial result; the module only builds itself and exits or fails.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible_collections.multiregion.serverless.plugins.module_utils import doctor, naming
from ansible_collections.multiregion.serverless.plugins.module_utils.common import REGION_PATTERN, STAGE_PATTERN
from ansible_collections.multiregion.serverless.plugins.module_utils.concurrency import SlotPool
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.compose import ComposePackager
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import PackagingError
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.runner import PackagingContext, package_init_stacks, package_services
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.sam import SamPackager
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.serverless import ServerlessPackager
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.sources import SERVICE_CONFIG_NAMES, discover_services, find_config

# The service packagers by name, in the order a folder's config files are tried: a folder with a Serverless config
# is a Serverless service even when it also holds a template.yaml (``service_packagers`` says otherwise).
PACKAGERS = {packager.name: packager for packager in (ServerlessPackager, SamPackager)}
AUTO = "auto"
CLI_ENVIRONMENT = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "SLS_DISABLE_AUTO_UPDATE": "1"}
LOG_PREFIX = "sls_package: "


class PackagingFailed(Exception):
    """The module fails with ``msg`` and ``result`` (the keys known so far)."""

    def __init__(self, msg: str, result: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(msg)
        self.result = result or {}


def _checked(params: Mapping[str, Any]) -> None:
    stage, region = params["stage"], params["region"]
    if not STAGE_PATTERN.match(stage):
        raise PackagingFailed(f"stage must be a plain name such as dev or prod, got {stage!r}")
    if params["known_stages"] is not None and stage not in params["known_stages"]:
        raise PackagingFailed(f"unknown stage '{stage}' (known stages: {', '.join(params['known_stages'])})")
    if not REGION_PATTERN.match(region):
        raise PackagingFailed(f"region must be an AWS region name such as eu-west-1, got {region!r}")
    for option in ("concurrency", "max_parallel_packagings", "timeout"):
        if params[option] < 1:
            raise PackagingFailed(f"{option} must be 1 or more, got {params[option]}")


def select_services(params: Mapping[str, Any], services_dir: str, config_names: Any, warn: Callable[[str], None]) -> Dict[str, List[str]]:
    """The services to package: discovered, minus the exclusion lists, narrowed to ``services``."""
    discovery = discover_services(services_dir, params["always_excluded_services"], params["excluded_services"], config_names)
    if params["services"] is not None:
        wanted = params["services"]
        not_deployable = [name for name in wanted if name not in discovery["services"]]
        if not_deployable:
            raise PackagingFailed(f"not deployable service(s) in {services_dir}: {', '.join(not_deployable)} "
                                  f"(deployable: {', '.join(discovery['services'])}; excluded: {', '.join(discovery['excluded']) or 'none'})")
        discovery["services"] = [name for name in discovery["services"] if name in wanted]
    for name in discovery["unknown_exclusions"]:
        warn(f"excluded service '{name}' does not exist in {services_dir}")
    return discovery


def packager_names(services_dir: str, services: Sequence[str], packager: str, overrides: Mapping[str, str]) -> Dict[str, str]:
    """``{service: packager name}``: ``overrides`` (project.yml's ``service_packagers``), else ``packager`` unless it is
    ``auto``, else the first packager whose config file the folder holds. A named packager whose config is missing is refused."""
    unknown = sorted(f"{name}: {value}" for name, value in overrides.items() if value not in PACKAGERS)
    if unknown:
        raise PackagingFailed(f"service_packagers names unknown packager(s) ({', '.join(unknown)}; known: {', '.join(PACKAGERS)})")
    chosen: Dict[str, str] = {}
    for name in services:
        folder = os.path.join(services_dir, name)
        wanted = overrides.get(name) or (packager if packager != AUTO else None)
        if wanted is None:
            wanted = next(packager_name for packager_name, kind in PACKAGERS.items() if find_config(folder, kind.config_names))
        elif not find_config(folder, PACKAGERS[wanted].config_names):
            raise PackagingFailed(f"service {name} is to be packaged by {wanted}, but {folder} has none of "
                                  f"{', '.join(PACKAGERS[wanted].config_names)}")
        chosen[name] = wanted
    return chosen


def make_packagers(params: Mapping[str, Any], chosen: Mapping[str, str]) -> Dict[str, Any]:
    """One packager instance per packager the services need (the SAM CLI is only looked for when there is a SAM service)."""
    made: Dict[str, Any] = {}
    for packager_name in sorted(set(chosen.values())):
        if packager_name == "sam":
            made[packager_name] = SamPackager(params["sam_binary"], params["artifact_bucket"], params["region"])
        else:
            made[packager_name] = PACKAGERS[packager_name](params["sls_binary"])
    return {name: made[packager_name] for name, packager_name in chosen.items()}


def refuse_unbuildable(packagers: Mapping[str, Any], folders: Mapping[str, str], stage: str) -> None:
    """Before any packaging: every service whose config check fails (a SAM runtime this machine cannot build...), all at once."""
    problems = []
    for name, folder in sorted(folders.items()):
        try:
            packagers[name].check_config(name, folder, stage)
        except PackagingError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise PackagingFailed(f"{problems[0]}; nothing was packaged")
    if problems:
        raise PackagingFailed(f"{len(problems)} services cannot be packaged; nothing was packaged:\n" + "\n".join(f"- {line}" for line in problems))


def refuse_framework_versions(packager: Any, folders: Mapping[str, str], project_dir: str) -> None:
    """Before any packaging: every service whose ``frameworkVersion`` the packager would refuse, all at once."""
    units = [("service", name, find_config(folder, packager.config_names)) for name, folder in sorted(folders.items())]
    findings = doctor.framework_findings_of(units, packager.version, project_dir)
    if findings:
        lines = "\n".join(f"- {finding.line()}" for finding in findings)
        raise PackagingFailed(f"project doctor: {len(findings)} service(s) ask for a frameworkVersion {packager.version} refuses; "
                              f"nothing was packaged:\n{lines}")


def ignore_build_folder(build_root: str) -> None:
    """Create the default build folder with a ``.gitignore`` of ``*``, so its output never shows in ``git status``."""
    os.makedirs(build_root, exist_ok=True)
    marker = os.path.join(build_root, ".gitignore")
    if not os.path.exists(marker):
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write(naming.BUILD_FOLDER_GITIGNORE)


def _progress_log(path: str, log: Callable[[str], None]) -> Callable[[str], None]:
    """One line per finished packaging to the module's log and to ``path``."""
    lock = threading.Lock()

    def write(message: str) -> None:
        log(LOG_PREFIX + message)
        with lock:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(message + "\n")

    return write


def summary(region: str, result: Dict[str, Any]) -> str:
    services, stacks = result["services"], result["init_stacks"]
    return (f"{region}: {len([s for s in services if s['changed']])} of {len(services)} services packaged"
            f", {len([s for s in stacks if s['changed']])} of {len(stacks)} init stacks packaged"
            f", {len(result['cached'])} unchanged")


def package_target(params: Mapping[str, Any], log: Callable[[str], None], warn: Callable[[str], None]) -> Dict[str, Any]:
    """Package the services (and init stacks) of one stage and region; the ``sls_package`` result.

    The same in check mode: packaging writes only the local build folder, never the managed system (AWS), so
    a check run packages for real and the upload, catalog and rollout checks that follow see what the run would
    publish. For the same reason ``changed`` is always false; the tasks that write AWS report the changes.
    """
    _checked(params)
    stage, region = params["stage"], params["region"]
    project_dir = os.path.abspath(params["project_dir"])
    if not os.path.isdir(project_dir):
        raise PackagingFailed(f"project_dir is not a directory: {project_dir}")
    services_dir = params["services_dir"] or os.path.join(project_dir, "services")
    build_root = os.path.abspath(params["build_root"] or naming.default_build_root(project_dir))
    if not params["build_root"]:
        ignore_build_folder(build_root)
    work_dir = naming.target_build_dir(build_root, stage, region)
    slots_dir = params["slots_dir"] or naming.default_slots_dir(build_root)
    progress = _progress_log(params["progress_file"] or os.path.join(work_dir, "progress.log"), log)
    env = dict(os.environ, **CLI_ENVIRONMENT)
    env.update({key: str(value) for key, value in params["environment"].items()})
    result: Dict[str, Any] = dict(changed=False, services=[], init_stacks=[], packaged=[], cached=[], excluded=[], unknown_exclusions=[])
    try:
        config_names = SERVICE_CONFIG_NAMES if params["packager"] == AUTO else PACKAGERS[params["packager"]].config_names
        discovery = select_services(params, services_dir, config_names, warn)
        result.update(excluded=discovery["excluded"], unknown_exclusions=discovery["unknown_exclusions"])
        packagers = make_packagers(params, packager_names(services_dir, discovery["services"], params["packager"], params["service_packagers"]))
        serverless_services = {name: os.path.join(services_dir, name) for name in discovery["services"] if packagers[name].name == "serverless"}
        if serverless_services:
            refuse_framework_versions(packagers[next(iter(serverless_services))], serverless_services, project_dir)
        # Checked up front for every region of the stage alike, so no region packages anything another would refuse.
        refuse_unbuildable(packagers, {name: os.path.join(services_dir, name) for name in discovery["services"] if packagers[name].name == "sam"}, stage)
        ctx = PackagingContext(
            stage=stage, region=region, project_dir=project_dir, build_root=build_root,
            slots=SlotPool(slots_dir, params["max_parallel_packagings"]), locks_dir=slots_dir, env=env,
            timeout=params["timeout"], log=progress,
            extra_skip=[build_root], extra_inputs=params["extra_inputs"],
        )
        sources = {name: os.path.join(services_dir, name) for name in discovery["services"]}
        outcome = package_services(sources, packagers, ctx, params["concurrency"], params["serial_services"], params["serial_order"])
        result["services"] = outcome["results"]
        if outcome["failures"]:
            # The message carries each failure with the last lines of the CLI's output: it is what people read.
            details = "\n\n".join(failure["msg"] for failure in outcome["failures"])
            raise PackagingFailed(f"packaging failed in {region}: {details}", dict(result, failures=outcome["failures"]))
        if params["init_dir"]:
            compose = ComposePackager(params["compose_binary"], params["compose_sls_binary"] or params["sls_binary"])
            result["init_stacks"] = package_init_stacks(params["init_dir"], compose, ctx)
    except PackagingError as exc:
        raise PackagingFailed(str(exc), result) from None
    everything = result["services"] + result["init_stacks"]
    result["packaged"] = [item["name"] for item in everything if item["status"] == "packaged"]
    result["cached"] = [item["name"] for item in everything if item["status"] == "cached"]
    result["summary"] = summary(region, result)
    result["work_dir"] = work_dir
    return result
