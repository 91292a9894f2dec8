"""A moto upgrade is noticed: the installed moto and the pin of requirements.txt are the release the patches were
written against (local_aws.moto_version), and every module that leans on moto is on the list to review."""
from __future__ import annotations

import re
from pathlib import Path

import moto

from local_aws import apigateway_methods
from local_aws.moto_version import MOTO_DEPENDENT_MODULES, MOTO_VERSION

REPO_ROOT = Path(__file__).resolve().parents[4]
LOCAL_AWS = REPO_ROOT / "tools" / "local_aws"


def review_list() -> str:
    return "\n".join(f"  tools/local_aws/{name}: {what}" for name, what in MOTO_DEPENDENT_MODULES.items())


def moto_pin() -> str:
    pins = re.findall(r"^moto\[server\]==(\S+)\s*$", (REPO_ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)
    assert len(pins) == 1, "requirements.txt should pin moto exactly once, as moto[server]==X.Y.Z"
    return pins[0]


def test_the_installed_moto_is_the_one_the_patches_were_written_for():
    assert moto.__version__ == MOTO_VERSION, (
        f"moto {moto.__version__} is installed, the local AWS was written against moto {MOTO_VERSION}. Review what each of "
        f"these relies on, then set MOTO_VERSION in tools/local_aws/moto_version.py:\n{review_list()}"
    )


def test_requirements_pin_the_same_moto():
    assert moto_pin() == MOTO_VERSION, (
        f"requirements.txt pins moto[server]=={moto_pin()}, the local AWS was written against moto {MOTO_VERSION}. Review what "
        f"each of these relies on, then set MOTO_VERSION in tools/local_aws/moto_version.py:\n{review_list()}"
    )


def test_every_module_that_imports_moto_is_on_the_review_list():
    importing = {path.name for path in LOCAL_AWS.glob("*.py") if re.search(r"^\s*(from|import) moto\b", path.read_text(), re.MULTILINE)}
    missing = sorted(importing - set(MOTO_DEPENDENT_MODULES))
    assert not missing, f"add these to MOTO_DEPENDENT_MODULES in tools/local_aws/moto_version.py (what of moto they rely on): {missing}"
    gone = sorted(name for name in MOTO_DEPENDENT_MODULES if not (LOCAL_AWS / name).is_file())
    assert not gone, f"MOTO_DEPENDENT_MODULES lists modules that do not exist: {gone}"


def test_the_replaced_apigateway_method_matches_the_installed_moto():
    """A moto upgrade that changes Method.create_from_cloudformation_json switches our replacement off; review it."""
    from moto.apigateway.models import Method

    assert set(apigateway_methods.MOTO_SOURCES) == {"Method.create_from_cloudformation_json"}
    function = Method.create_from_cloudformation_json
    assert apigateway_methods.replaceable("Method.create_from_cloudformation_json", getattr(function, "__wrapped__", function))
