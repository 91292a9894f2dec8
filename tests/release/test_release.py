"""The release, checked the way Galaxy, the Ansible docs site and ansible-builder read it (issue 19).

* The tarball built from a clone that has every folder a working checkout collects (the demo's build output,
  test caches, bytecode, node_modules, a venv) holds the collection and nothing else.
* antsibull-changelog and antsibull-docs find nothing to fix.
* The execution environment renders with this collection in it, installed from that tarball, and the packager
  CLIs where the package role looks for them.
* The AWX surveys ask only for the playbook's inputs, with answers the playbook accepts as AWX sends them (strings).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest
import yaml

from ansible_collections.multiregion.serverless.plugins.module_utils.common import InputError
from ansible_collections.multiregion.serverless.plugins.module_utils.run_inputs import PLAYBOOK_INPUTS, RunVariables, check_run, role_input_specs, to_bool

# The playbook's boolean inputs (converted by run_inputs.to_bool): "false" from a survey must read as False.
BOOLEAN_INPUTS = {item.name for item in PLAYBOOK_INPUTS if item.convert is to_bool}

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
ENV = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}

# What the tarball holds at its top level: the collection, its docs and changelog, the EE dependency files
# meta/execution-environment.yml names, and the two files ansible-galaxy writes.
SHIPPED = {"FILES.json", "MANIFEST.json", "README.md", "bindep.txt", "changelogs", "docs", "meta", "playbooks", "plugins", "requirements-ee.txt", "roles"}
# What a working checkout collects that must never ship (created in the clone before the build).
LEFT_BEHIND = [
    "build/release/old.tar.gz",
    "build/demo/.deploy-build/cache.json",
    ".hypothesis/examples/x",
    ".pytest_cache/v/cache/lastfailed",
    ".cache/test-results/unit.xml",
    ".venv/bin/python",
    "node_modules/serverless/package.json",
    ".collections/ansible_collections/multiregion/README",
    "plugins/modules/__pycache__/deploy_lock.cpython-311.pyc",
    "plugins/module_utils/__pycache__/common.cpython-311.pyc",
    "examples/.deploy-build/x",
    "examples/.deploy-runs/20261203T000000Z-aaaaaa/ledger.json",
    "runs/x.json",
    "artifacts/x",
    "tests/output/junit/x.xml",
    ".ansible/collections/x",
]


def run(command: List[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = dict(ENV, **env)
    if environment["ANSIBLE_CONFIG"] == "":  # no ansible.cfg at all (ansible refuses /dev/null as one)
        del environment["ANSIBLE_CONFIG"]
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} -> {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def worn_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository at another path, with everything a used checkout has lying around."""
    clone = tmp_path_factory.mktemp("release") / "checkout"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], REPO_ROOT)
    for path in LEFT_BEHIND:
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_text("left behind\n")
    return clone


@pytest.fixture(scope="module")
def released(worn_clone: Path) -> Dict[str, Path]:
    """``scripts/release.sh ee`` in the clone: the tarball and the rendered build context."""
    tarball, context = run(["bash", "scripts/release.sh", "ee"], worn_clone).stdout.split()
    return {"tarball": worn_clone / tarball, "context": worn_clone / context}


def tracked_files() -> Set[str]:
    return set(subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split())


def test_the_tarball_holds_the_collection_and_nothing_else(released: Dict[str, Path]) -> None:
    with tarfile.open(released["tarball"]) as tarball:
        names = [member.name for member in tarball.getmembers() if member.isfile()]
    assert {name.split("/", 1)[0] for name in names} == SHIPPED
    not_in_git = sorted(name for name in names if name not in tracked_files() and name not in ("FILES.json", "MANIFEST.json"))
    assert not_in_git == []  # no bytecode, cache, build output or anything else a checkout collects
    for needed in ("meta/runtime.yml", "meta/execution-environment.yml", "playbooks/deploy.yml", "plugins/action/deploy_lock.py",
                   "plugins/plugin_utils/in_process.py", "roles/package/defaults/main.yml", "changelogs/changelog.yaml", "docs/deploy.md"):
        assert needed in names
    assert not [name for name in names if name.startswith(("tests/", "tools/", "examples/", "awx/", "benchmarks/", "changelogs/fragments/"))]


def test_the_tarball_installs_and_its_modules_are_found(released: Dict[str, Path], tmp_path: Path) -> None:
    """As AWX's execution environment gets it: installed into an empty collections path (amazon.aws is there already)."""
    # Not this checkout's ansible.cfg, whose collections path already holds the collection (nothing to install).
    run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(tmp_path), str(released["tarball"])], tmp_path, ANSIBLE_CONFIG="")
    env_dir = tmp_path / "ansible_collections" / "multiregion" / "serverless"
    assert (env_dir / "MANIFEST.json").is_file() and not (env_dir / "node_modules").exists()
    listed = run(["ansible-doc", "--list", "multiregion.serverless", "--json"], tmp_path, ANSIBLE_CONFIG="", ANSIBLE_COLLECTIONS_PATH=str(tmp_path))
    modules = json.loads(listed.stdout)
    assert "multiregion.serverless.provisioned_product_update" in modules and "multiregion.serverless.sls_package" in modules


def test_the_execution_environment_carries_the_collection_and_the_packagers(released: Dict[str, Path]) -> None:
    context = released["context"]
    containerfile = (context / "Containerfile").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {"name": "collections/multiregion-serverless.tar.gz", "type": "file"} in galaxy["collections"]
    assert (context / "_build" / "collections" / "multiregion-serverless.tar.gz").read_bytes() == released["tarball"].read_bytes()
    assert "COPY _build /build" in containerfile and "ansible-galaxy collection install" in containerfile
    # The role's default reads the variable the image sets, and the image's node_modules is package.json's.
    role_defaults = yaml.safe_load((REPO_ROOT / "roles" / "package" / "defaults" / "main.yml").read_text())
    assert "lookup('ansible.builtin.env', 'MULTIREGION_SERVERLESS_NODE_MODULES')" in role_defaults["package_node_modules"]
    assert "ENV MULTIREGION_SERVERLESS_NODE_MODULES=/opt/multiregion-serverless-node/node_modules" in containerfile
    assert (context / "_build" / "node" / "package-lock.json").read_bytes() == (REPO_ROOT / "package-lock.json").read_bytes()
    # The SAM CLI: requirements-sam.txt's pin in its own environment, named where the role's default looks.
    assert "lookup('ansible.builtin.env', 'MULTIREGION_SERVERLESS_SAM_CLI')" in role_defaults["package_sam_binary"]
    assert "MULTIREGION_SERVERLESS_SAM_CLI=/opt/multiregion-serverless-sam/venv/bin/sam" in containerfile
    assert (context / "_build" / "sam" / "requirements-sam.txt").read_bytes() == (REPO_ROOT / "requirements-sam.txt").read_bytes()
    # The collection's own Python and system dependencies reach the image through its meta/execution-environment.yml.
    meta = yaml.safe_load((REPO_ROOT / "meta" / "execution-environment.yml").read_text())
    with tarfile.open(released["tarball"]) as tarball:
        shipped = set(tarball.getnames())
    assert {meta["dependencies"]["python"], meta["dependencies"]["system"]} <= shipped


def test_the_changelog_lints_clean() -> None:
    done = run(["antsibull-changelog", "lint"], REPO_ROOT)
    assert done.stdout.strip() == "" and done.stderr.strip() == ""


def test_the_collection_docs_lint_clean(tmp_path: Path) -> None:
    """Plugin and role docs as the Ansible docs site renders them, every reference checked (amazon.aws's doc
    fragments included). The linter sees a collections path with this collection and amazon.aws only: the
    ``ansible`` package's hundred other collections would only make it slow."""
    found = importlib.util.find_spec("ansible_collections.amazon.aws")
    assert found is not None and found.submodule_search_locations
    collections = tmp_path / "ansible_collections"
    for name, source in {"amazon/aws": Path(list(found.submodule_search_locations)[0]), "multiregion/serverless": REPO_ROOT}.items():
        (collections / name).parent.mkdir(parents=True, exist_ok=True)
        (collections / name).symlink_to(source)
    lint = ["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--validate-collection-refs", "all"]
    only_these = {"ANSIBLE_COLLECTIONS_PATH": str(tmp_path), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false"}
    done = run(lint + [str(collections / "multiregion" / "serverless")], tmp_path, **only_these)
    assert done.stdout.strip() == ""


# ---- AWX surveys

SURVEYS = {"deploy.json": ("all",), "rollout.json": ("rollout",)}  # each survey's job template and its tags
INVENTORY_REGIONS = list(yaml.safe_load((REPO_ROOT / "inventories" / "local" / "hosts.yml").read_text())["regions"]["hosts"])


def answer_sets(spec: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The survey's defaults, then each choice of each question with the others at their defaults; all strings,
    as AWX sends them."""
    defaults = {question["variable"]: str(question.get("default", "")) for question in spec}
    sets = [defaults]
    for question in spec:
        for choice in question.get("choices") or []:
            sets.append(dict(defaults, **{question["variable"]: str(choice)}))
    return sets


@pytest.mark.parametrize("survey", sorted(SURVEYS))
def test_every_survey_answer_passes_the_playbooks_input_check(survey: str) -> None:
    """Each answer set goes through the deploy playbook's own first check (run_inputs.check_run, what the
    deploy_plan action runs) against the example project: names, types, stage and regions."""
    spec = json.loads((REPO_ROOT / "awx" / "surveys" / survey).read_text())["spec"]
    ours = {item.name for item in PLAYBOOK_INPUTS} | set(role_input_specs(str(REPO_ROOT / "roles")))
    assert {question["variable"] for question in spec} <= ours
    for answers in answer_sets(spec):
        checked = check_run(
            RunVariables(values=answers, extra_var_names=sorted(answers), run_tags=SURVEYS[survey]),
            role_input_specs(str(REPO_ROOT / "roles")),
            project_dir=str(REPO_ROOT / "examples"),
            stage=answers["stage"],
            regions=answers.get("regions", ""),
            inventory_regions=INVENTORY_REGIONS,
            resume=answers.get("resume") or None,
        )
        for name, value in answers.items():
            if name in BOOLEAN_INPUTS:
                assert checked["inputs"][name] is to_bool(value, name)  # "false" is False, not a true string


def test_a_survey_answer_the_playbook_refuses_is_caught_here() -> None:
    """The check above can fail: a survey offering 'maybe' for a boolean is refused in one line."""
    with pytest.raises(InputError, match="update_product"):
        check_run(RunVariables(values={"stage": "dev", "update_product": "maybe"}, extra_var_names=["stage", "update_product"]),
                  role_input_specs(str(REPO_ROOT / "roles")), project_dir=str(REPO_ROOT / "examples"), stage="dev", inventory_regions=INVENTORY_REGIONS)
