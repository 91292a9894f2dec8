"""The SAM packager without the SAM CLI: what ``sam build`` leaves, written by hand, published and transformed.

The real ``sam build`` runs in tests/integration/test_sam_services.py; here the output folder is laid out as
sam build 1.170 lays it out (functions and layers in folders named after their logical ids, a nested
application's template in its own folder), so every branch of ``collect`` and the template helpers is reachable.
"""
from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import sam_template as sam
from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sam_policies
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.packager import PackagingError
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.sam import SamPackager
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging import sources
from ansible_collections.multiregion.serverless.plugins.module_utils.packaging.service import PACKAGERS, PackagingFailed, packager_names

BUCKET = "mrs-artifacts-dev-eu-west-1"
REGION = "eu-west-1"

# What sam build writes for a service shaped like the public SAM examples: Globals, short-form intrinsics, a
# Python function with a schedule, a layer, a nested application holding a Node function.
BUILT_ROOT = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  TenantId: {Type: String, Default: shared}
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Timeout: 30
Resources:
  ReportFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ReportFunction
      Handler: app.handler
      Layers: [!Ref CommonLayer]
      Policies:
        - AWSXrayWriteOnlyAccess
        - DynamoDBReadPolicy: {TableName: !Ref Table}
      Events:
        Nightly: {Type: Schedule, Properties: {Schedule: rate(1 day)}}
    Metadata: {SamResourceId: ReportFunction}
  Table:
    Type: AWS::Serverless::SimpleTable
  CommonLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: CommonLayer
      CompatibleRuntimes: [python3.11]
    Metadata: {BuildMethod: python3.11, SamResourceId: CommonLayer}
  Stream:
    Type: AWS::Serverless::Application
    Properties:
      Location: Stream/template.yaml
      Parameters: {TenantId: !Ref TenantId}
Outputs:
  Report: {Value: !GetAtt ReportFunction.Arn}
"""
BUILT_NESTED = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  TenantId: {Type: String}
Resources:
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: Recorder
      Handler: index.handler
      Runtime: nodejs20.x
      Environment: {Variables: {TENANT_ID: !Ref TenantId}}
"""


def built_output(root: Path, mode: int = 0o644) -> Path:
    """A ``.aws-sam/build`` folder as sam build leaves it for the template above."""
    build = root / ".aws-sam" / "build"
    files = {
        "template.yaml": BUILT_ROOT,
        "ReportFunction/app.py": "def handler(event, context):\n    return 1\n",
        "CommonLayer/python/common.py": "SHARED = True\n",
        "Stream/template.yaml": BUILT_NESTED,
        "Stream/Recorder/index.js": "exports.handler = async () => 1;\n",
    }
    for name, text in files.items():
        path = build / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    return build


@pytest.fixture(name="packager")
def fixture_packager(tmp_path: Path) -> SamPackager:
    binary = tmp_path / "bin" / "sam"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return SamPackager(str(binary), BUCKET, REGION)


def resources_of(template: Dict) -> Dict[str, str]:
    return {name: resource["Type"] for name, resource in template["Resources"].items()}


def test_collect_publishes_plain_cloudformation_with_content_addressed_keys(packager: SamPackager, tmp_path: Path) -> None:
    result = packager.collect("reports", "service", "dev", str(built_output(tmp_path / "a")), str(tmp_path / "out"))
    template = json.loads(Path(result["template_path"]).read_text())
    assert "Transform" not in template and not [t for t in resources_of(template).values() if t.startswith("AWS::Serverless::")]
    function = template["Resources"]["ReportFunction"]["Properties"]
    keys = {artifact["name"]: artifact["s3_key"] for artifact in result["artifacts"]}
    assert function["Code"] == {"S3Bucket": BUCKET, "S3Key": keys["ReportFunction.zip"]}
    assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in template["Resources"]["ReportFunctionRole"]["Properties"]["ManagedPolicyArns"]
    layer = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion")
    assert layer["Properties"]["Content"] == {"S3Bucket": BUCKET, "S3Key": keys["CommonLayer.zip"]}
    stack = template["Resources"]["Stream"]
    assert stack["Type"] == "AWS::CloudFormation::Stack"
    assert stack["Properties"]["TemplateURL"] == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{keys['Stream.json']}"
    nested = json.loads(Path(next(a["path"] for a in result["artifacts"] if a["name"] == "Stream.json")).read_text())
    assert nested["Resources"]["Recorder"]["Properties"]["Code"] == {"S3Bucket": BUCKET, "S3Key": keys["Stream-Recorder.zip"]}
    for artifact in result["artifacts"]:
        assert artifact["s3_key"] == f"sam/reports/dev/{artifact['sha256'][:16]}/{artifact['name']}"
    assert result["template_key"] == f"sam/reports/dev/templates/{result['template_sha256']}.json"
    assert result["artifact_bucket"] == BUCKET and result["parameters"] == ["TenantId"]
    assert "SamResourceId" not in json.dumps(template)
    with zipfile.ZipFile(next(a["path"] for a in result["artifacts"] if a["name"] == "CommonLayer.zip")) as archive:
        assert archive.namelist() == ["python/common.py"]


def test_the_same_build_gives_the_same_bytes_at_another_path_and_umask(packager: SamPackager, tmp_path: Path) -> None:
    first = packager.collect("reports", "service", "dev", str(built_output(tmp_path / "one")), str(tmp_path / "out1"))
    second = packager.collect("reports", "service", "dev", str(built_output(tmp_path / "elsewhere" / "two", 0o664)), str(tmp_path / "out2"))
    assert first["template_sha256"] == second["template_sha256"]
    assert [(a["name"], a["sha256"]) for a in first["artifacts"]] == [(a["name"], a["sha256"]) for a in second["artifacts"]]


def test_a_handler_change_changes_one_zip_and_the_template(packager: SamPackager, tmp_path: Path) -> None:
    before = packager.collect("reports", "service", "dev", str(built_output(tmp_path / "one")), str(tmp_path / "out1"))
    build = built_output(tmp_path / "two")
    (build / "ReportFunction" / "app.py").write_text("def handler(event, context):\n    return 2\n")
    after = packager.collect("reports", "service", "dev", str(build), str(tmp_path / "out2"))
    assert [a["name"] for a in before["artifacts"]] == [a["name"] for a in after["artifacts"]]
    differing = {a["name"] for a, b in zip(before["artifacts"], after["artifacts"]) if a["sha256"] != b["sha256"]}
    assert differing == {"ReportFunction.zip"} and before["template_sha256"] != after["template_sha256"]


def test_the_region_names_the_partition_of_managed_policies(tmp_path: Path, packager: SamPackager) -> None:
    china = SamPackager(packager.binary, "mrs-artifacts-dev-cn-north-1", "cn-north-1")
    result = china.collect("reports", "service", "dev", str(built_output(tmp_path)), str(tmp_path / "out"))
    arns = json.loads(Path(result["template_path"]).read_text())["Resources"]["ReportFunctionRole"]["Properties"]["ManagedPolicyArns"]
    assert all(arn.startswith("arn:aws-cn:iam::aws:policy/") for arn in arns), arns


def test_unknown_policy_name_is_refused_in_one_line_and_leaves_no_output(packager: SamPackager, tmp_path: Path) -> None:
    build = built_output(tmp_path)
    (build / "template.yaml").write_text(BUILT_ROOT.replace("- AWSXrayWriteOnlyAccess", "- AWSXrayWriteOnlyAcess"))
    with pytest.raises(tpl.TemplateError) as caught:
        packager.collect("reports", "service", "dev", str(build), str(tmp_path / "out"))
    assert "ReportFunction: AWSXrayWriteOnlyAcess" in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_machine_path_in_the_template_is_refused(packager: SamPackager, tmp_path: Path) -> None:
    build = built_output(tmp_path)
    (build / "template.yaml").write_text(BUILT_ROOT.replace("Timeout: 30", f"Timeout: 30\n    Environment: {{Variables: {{HOME_DIR: {tmp_path}/x}}}}"))
    with pytest.raises(tpl.TemplateError, match="a path of the build machine"):
        packager.collect("reports", "service", "dev", str(build), str(tmp_path / "out"), [str(tmp_path)])


def test_a_local_definition_file_is_refused_naming_the_property(packager: SamPackager, tmp_path: Path) -> None:
    build = built_output(tmp_path)
    api = "  Api:\n    Type: AWS::Serverless::Api\n    Properties: {StageName: v1, DefinitionUri: api.yaml}\n"
    (build / "template.yaml").write_text(BUILT_ROOT.replace("Outputs:", api + "Outputs:"))
    with pytest.raises(tpl.TemplateError, match=r"Api.DefinitionUri names the local file api.yaml"):
        packager.collect("reports", "service", "dev", str(build), str(tmp_path / "out"))


# ---- before any build: the config check


def sam_service(folder: Path, template: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(template)
    return folder


def test_check_config_refuses_a_runtime_the_machine_cannot_build_in_one_line(packager: SamPackager, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    folder = sam_service(tmp_path / "svc", BUILT_NESTED.replace("CodeUri: Recorder", "CodeUri: src/"))
    with pytest.raises(PackagingError) as caught:
        packager.check_config("svc", str(folder), "dev")
    assert str(caught.value) == "service svc: cannot be built on this machine: function Recorder (nodejs20.x): sam build needs node and npm on PATH"


def test_check_config_refuses_container_images(packager: SamPackager, tmp_path: Path) -> None:
    template = BUILT_NESTED.replace("      Runtime: nodejs20.x\n", "      PackageType: Image\n")
    folder = sam_service(tmp_path / "svc", template)
    with pytest.raises(PackagingError, match="function Recorder is PackageType Image: container images are not built here"):
        packager.check_config("svc", str(folder), "dev")


def test_check_config_needs_the_artifact_bucket(tmp_path: Path, packager: SamPackager) -> None:
    folder = sam_service(tmp_path / "svc", BUILT_NESTED)
    with pytest.raises(PackagingError, match="needs the stage's artifact bucket"):
        SamPackager(packager.binary, None, REGION).check_config("svc", str(folder), "dev")


def test_a_local_definition_file_in_the_source_is_refused_before_the_build(packager: SamPackager, tmp_path: Path) -> None:
    api = "  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties: {DefinitionUri: openapi.yaml}\n"
    folder = sam_service(tmp_path / "svc", BUILT_NESTED.replace("CodeUri: Recorder", "CodeUri: src/") + api)
    with pytest.raises(PackagingError) as caught:
        packager.check_config("svc", str(folder), "dev")
    assert str(caught.value).startswith("service svc: Api.DefinitionUri names the local file openapi.yaml") and "\n" not in str(caught.value)


def test_invalid_yaml_names_the_line(tmp_path: Path, packager: SamPackager) -> None:
    folder = sam_service(tmp_path / "svc", "Resources:\n  A: [\n")
    with pytest.raises(PackagingError, match=r"is neither valid JSON nor valid YAML: .*line \d+"):
        packager.check_config("svc", str(folder), "dev")


@pytest.mark.parametrize("runtime, build_method, tools, expected", [
    ("python3.11", None, ["python3.11"], None),
    ("python3.12", None, ["python3.11"], "sam build needs python3.12 on PATH"),
    ("nodejs20.x", None, ["node", "npm"], None),
    ("nodejs22.x", None, ["node"], "sam build needs npm on PATH"),
    ("java21", None, ["java", "mvn"], None),
    ("java21", None, ["java"], "sam build needs gradle or mvn on PATH"),
    ("provided.al2023", "makefile", ["make"], None),
    ("provided.al2023", "go1.x", [], "sam build needs go on PATH"),
    ("provided.al2023", None, ["make"], "needs a Metadata.BuildMethod"),
    ("cobol1.x", None, [], "does not know how to build that runtime"),
    (None, None, [], "names no Runtime"),
])
def test_runtime_problem_names_what_is_missing(tmp_path: Path, runtime, build_method, tools: List[str], expected) -> None:
    for tool in tools:
        path = tmp_path / tool
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    problem = sam.runtime_problem(runtime, build_method, path=str(tmp_path), works=lambda command: True)
    assert (problem is None) if expected is None else (expected in problem), problem


def test_inputs_are_code_folders_outside_the_service(packager: SamPackager, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "lib"
    shared.mkdir(parents=True)
    (shared / "util.py").write_text("X = 1\n")
    folder = sam_service(tmp_path / "services" / "svc", BUILT_NESTED.replace("CodeUri: Recorder", "CodeUri: ../../shared/lib"))
    assert packager.inputs(str(folder / "template.yaml")) == [str(shared / "util.py")]


# ---- which packager a folder gets


def test_packager_names_per_folder_and_by_project_yml(tmp_path: Path) -> None:
    sam_service(tmp_path / "sam-only", BUILT_NESTED)
    both = sam_service(tmp_path / "both", BUILT_NESTED)
    (both / "serverless.yml").write_text("service: both\n")
    (tmp_path / "sls").mkdir()
    (tmp_path / "sls" / "serverless.yml").write_text("service: sls\n")
    assert packager_names(str(tmp_path), ["both", "sam-only", "sls"], "auto", {}) == {"both": "serverless", "sam-only": "sam", "sls": "serverless"}
    assert packager_names(str(tmp_path), ["both"], "auto", {"both": "sam"}) == {"both": "sam"}
    with pytest.raises(PackagingFailed, match="service sls is to be packaged by sam, but .* has none of template.yaml, template.yml"):
        packager_names(str(tmp_path), ["sls"], "auto", {"sls": "sam"})
    with pytest.raises(PackagingFailed, match="unknown packager"):
        packager_names(str(tmp_path), ["sls"], "auto", {"sls": "cdk"})


def test_project_yml_accepts_exactly_the_packagers_the_module_has_in_the_order_folders_are_tried() -> None:
    # deploy_plan checks service_packagers against sources.PACKAGER_NAMES without importing the packagers.
    assert tuple(PACKAGERS) == sources.PACKAGER_NAMES


# ---- the managed policy table


def test_the_policy_table_is_the_pinned_translators() -> None:
    from importlib.metadata import version

    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map

    assert sam_policies.TRANSLATOR_VERSION == version("aws-sam-translator"), "run scripts/sam-managed-policies.py after moving the pin"
    bundled = get_bundled_managed_policy_map("aws")
    assert {name: sam_policies.managed_policy_arn(name, "aws") for name in sam_policies.MANAGED_POLICY_PATHS} == bundled


def test_short_forms_load_in_their_long_form(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("AWSTemplateFormatVersion: 2010-09-09\nResources:\n  A:\n    Type: X\n    Properties:\n"
                    "      B: !GetAtt Table.Arn\n      C: !Sub '${AWS::Region}-x'\n      D: !Ref P\n      E: !If [Cond, !Ref A, !Ref B]\n")
    loaded = sam.load_template(str(path))
    assert loaded["AWSTemplateFormatVersion"] == "2010-09-09"
    assert loaded["Resources"]["A"]["Properties"] == {"B": {"Fn::GetAtt": ["Table", "Arn"]}, "C": {"Fn::Sub": "${AWS::Region}-x"},
                                                      "D": {"Ref": "P"}, "E": {"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "B"}]}}
