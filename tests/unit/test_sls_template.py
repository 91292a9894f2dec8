"""Reading packaged templates and deriving content-addressed keys.

Runs on the real `sls package` output captured from serverless 3.x and osls in
tests/unit/fixtures/sls_output/ (every cloudformation-template-update-stack.json found there), and on a
template of the same shape written inline for the edge cases.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl

CAPTURED_ROOT = Path(__file__).parent / "fixtures" / "sls_output"
CAPTURED = sorted(CAPTURED_ROOT.glob("**/" + tpl.UPDATE_TEMPLATE_FILE)) if CAPTURED_ROOT.is_dir() else []

STAMP = "1795435694826-2026-11-23T12:08:14.826Z"
# The shape serverless 3.40 writes (excerpt of a real `sls package --stage dev --region eu-west-1`).
INLINE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "HelloLambdaFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": {"S3Bucket": "mrs-artifacts-dev-eu-west-1", "S3Key": f"serverless/demo/dev/{STAMP}/demo.zip"}}},
        "WorldLambdaFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": {"S3Bucket": "mrs-artifacts-dev-eu-west-1", "S3Key": f"serverless/demo/dev/{STAMP}/world.zip"}}},
        "DepsLambdaLayer": {"Type": "AWS::Lambda::LayerVersion", "Properties": {
            "Content": {"S3Bucket": "mrs-artifacts-dev-eu-west-1", "S3Key": f"serverless/demo/dev/{STAMP}/deps.zip"}}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "demo"}},
    },
    "Outputs": {"ServerlessDeploymentBucketName": {"Value": "mrs-artifacts-dev-eu-west-1"}},
}
SHAS = {"demo.zip": "a" * 64, "world.zip": "b" * 64, "deps.zip": "c" * 64}


def test_captured_output_from_both_packagers_is_present():
    """The captured fixtures must cover serverless 3.x and osls (paths or folder names say which)."""
    names = " ".join(str(path.relative_to(CAPTURED_ROOT)).lower() for path in CAPTURED)
    assert CAPTURED, f"no captured sls package output under {CAPTURED_ROOT}"
    assert "osls" in names and ("serverless" in names or "sls3" in names or "v3" in names), names


@pytest.mark.parametrize("path", CAPTURED, ids=lambda path: str(path.relative_to(CAPTURED_ROOT).parent))
def test_captured_templates_become_content_addressed(path):
    template = tpl.read_template(str(path))
    output_dir = path.parent
    keys = tpl.timestamped_artifact_keys(template)
    zips = {entry.name: tpl.sha256_file(str(entry)) for entry in output_dir.glob("*.zip")}
    functions = tpl.function_logical_ids(template)
    # Every function's code is a timestamped key whose ZIP is in the output folder.
    for logical_id in functions:
        code = template["Resources"][logical_id]["Properties"]["Code"]
        if "S3Key" in code:
            assert code["S3Key"] in keys
            assert keys[code["S3Key"]]["name"] in zips
    rewritten, keys_by_zip = tpl.make_content_addressed(template, zips)
    assert not tpl.timestamped_artifact_keys(rewritten)
    for name, key in keys_by_zip.items():
        assert key.endswith(f"/{zips[name][:16]}/{name}")
        assert key.startswith(tpl.artifact_prefix(template) + "/")
    # Deterministic: the same output gives the same bytes; only the timestamp differed.
    assert tpl.canonical_json(rewritten) == tpl.canonical_json(tpl.make_content_addressed(copy.deepcopy(template), zips)[0])
    assert tpl.function_logical_ids(rewritten) == functions


def test_keys_are_derived_from_the_zip_sha256():
    rewritten, keys = tpl.make_content_addressed(INLINE, SHAS)
    assert keys == {
        "demo.zip": f"serverless/demo/dev/{'a' * 16}/demo.zip",
        "world.zip": f"serverless/demo/dev/{'b' * 16}/world.zip",
        "deps.zip": f"serverless/demo/dev/{'c' * 16}/deps.zip",
    }
    assert rewritten["Resources"]["DepsLambdaLayer"]["Properties"]["Content"]["S3Key"] == keys["deps.zip"]
    assert rewritten["Resources"]["Table"] == INLINE["Resources"]["Table"]
    assert INLINE["Resources"]["HelloLambdaFunction"]["Properties"]["Code"]["S3Key"].count(STAMP) == 1  # input untouched


def test_two_packagings_differing_only_in_timestamp_give_identical_bytes():
    later = json.loads(json.dumps(INLINE).replace(STAMP, "1795439999999-2026-11-23T13:19:59.999Z"))
    assert tpl.canonical_json(tpl.make_content_addressed(INLINE, SHAS)[0]) == tpl.canonical_json(tpl.make_content_addressed(later, SHAS)[0])


def test_a_changed_zip_changes_its_key_and_the_template():
    changed = dict(SHAS, **{"demo.zip": "d" * 64})
    before = tpl.canonical_json(tpl.make_content_addressed(INLINE, SHAS)[0])
    after = tpl.canonical_json(tpl.make_content_addressed(INLINE, changed)[0])
    assert before != after
    assert tpl.make_content_addressed(INLINE, changed)[1]["world.zip"] == tpl.make_content_addressed(INLINE, SHAS)[1]["world.zip"]


def test_a_key_without_its_zip_is_an_error():
    with pytest.raises(tpl.TemplateError, match="deps.zip"):
        tpl.make_content_addressed(INLINE, {"demo.zip": "a" * 64, "world.zip": "b" * 64})


def test_template_facts():
    assert tpl.function_logical_ids(INLINE) == ["HelloLambdaFunction", "WorldLambdaFunction"]
    assert tpl.artifact_prefix(INLINE) == "serverless/demo/dev"
    assert tpl.artifact_buckets(INLINE) == ["mrs-artifacts-dev-eu-west-1"]
    assert tpl.service_template_key("serverless/demo/dev", "e" * 64) == f"serverless/demo/dev/templates/{'e' * 64}.json"
    assert tpl.init_template_key("net", "dev", "f" * 64) == f"init/net/dev/{'f' * 64}.json"


def test_read_template_reports_bad_files(tmp_path):
    with pytest.raises(tpl.TemplateError, match="not found"):
        tpl.read_template(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(tpl.TemplateError, match="not valid JSON"):
        tpl.read_template(str(bad))
    bad.write_text("{}")
    with pytest.raises(tpl.TemplateError, match="no Resources"):
        tpl.read_template(str(bad))
