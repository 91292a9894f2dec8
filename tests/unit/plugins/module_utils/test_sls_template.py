"""Reading packaged templates, deriving content-addressed keys and normalising everything a packaging run varies.

Runs on the real `sls package` output captured from serverless 3.x and osls in
tests/unit/fixtures/sls_output/ (every cloudformation-template-update-stack.json found there) and
tests/unit/fixtures/sls_output_bookshelf/ (a REST API with versioned functions and layers), and on
templates and ZIPs of the same shape written inline for the edge cases.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import zipfile
from pathlib import Path

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils import sls_template as tpl
from ansible_collections.multiregion.serverless.plugins.module_utils.common import canonical_json, sha256_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CAPTURED_ROOT = FIXTURES / "sls_output"
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
    zips = {entry.name: sha256_file(str(entry)) for entry in output_dir.glob("*.zip")}
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
    assert canonical_json(rewritten) == canonical_json(tpl.make_content_addressed(copy.deepcopy(template), zips)[0])
    assert tpl.function_logical_ids(rewritten) == functions
    # The whole normalisation accepts what the example services write, at the time they were packaged.
    normalized, normalized_keys = tpl.normalize_template(template, zips, packaged_at(template), ["/work/project", "/work/build"])
    assert normalized_keys == keys_by_zip and not tpl.timestamped_deployments(normalized)
    assert tpl.function_logical_ids(normalized) == functions


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
    assert canonical_json(tpl.make_content_addressed(INLINE, SHAS)[0]) == canonical_json(tpl.make_content_addressed(later, SHAS)[0])


def test_a_changed_zip_changes_its_key_and_the_template():
    changed = dict(SHAS, **{"demo.zip": "d" * 64})
    before = canonical_json(tpl.make_content_addressed(INLINE, SHAS)[0])
    after = canonical_json(tpl.make_content_addressed(INLINE, changed)[0])
    assert before != after
    assert tpl.make_content_addressed(INLINE, changed)[1]["world.zip"] == tpl.make_content_addressed(INLINE, SHAS)[1]["world.zip"]


def test_a_key_without_its_zip_is_an_error():
    with pytest.raises(tpl.TemplateError, match="deps.zip"):
        tpl.make_content_addressed(INLINE, {"demo.zip": "a" * 64, "world.zip": "b" * 64})


def test_template_facts():
    assert tpl.function_logical_ids(INLINE) == ["HelloLambdaFunction", "WorldLambdaFunction"]
    assert tpl.artifact_prefix(INLINE) == "serverless/demo/dev"
    assert tpl.artifact_buckets(INLINE) == ["mrs-artifacts-dev-eu-west-1"]
    assert naming.service_template_key("serverless/demo/dev", "e" * 64) == f"serverless/demo/dev/templates/{'e' * 64}.json"
    assert naming.init_template_key("net", "dev", "f" * 64) == f"init/net/dev/{'f' * 64}.json"


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


# ------------------------------------------------------------------------------------------- deterministic output
#
# Real output of a REST API service (tests/unit/fixtures/sls_output_bookshelf: five methods behind a TOKEN
# authorizer, CORS OPTIONS/MOCK methods, versioned functions, a layer, a retained layer) from serverless 3
# and osls, and ZIPs built here with what varies between machines (entry order, dates, modes, extra fields).

BOOKSHELF_ROOT = FIXTURES / "sls_output_bookshelf"
BOOKSHELF = {packager: BOOKSHELF_ROOT / packager / "bookshelf-eu-west-1" for packager in ("serverless3", "osls")}
NOW = 1796203663.0  # about when the fixtures were packaged: their stamps are within RUN_WINDOW of it
EXEC_SCRIPT = b"#!/bin/sh\necho cover\n"


def packaged_at(template: dict) -> float:
    """The packaging time a captured template records in its artifact keys (epoch seconds)."""
    stamp = next(iter(tpl.timestamped_artifact_keys(template))).split("/")[-2]
    return int(stamp.split("-")[0]) / 1000.0


def normalized_zips(output_dir: Path, destination: Path) -> dict:
    """``{zip name: sha256}`` of the normalised ZIPs of a packager's output folder, written to ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    shas = {}
    for source in sorted(output_dir.glob("*.zip")):
        tpl.normalize_zip(str(source), str(destination / source.name))
        shas[source.name] = sha256_file(str(destination / source.name))
    return shas


def normalized(output_dir: Path, tmp_path: Path, edit=None, zip_shas=None):
    """The normalised template of a captured output (``edit`` changes the raw template first) and its ZIP shas."""
    template = tpl.read_template(str(output_dir / tpl.UPDATE_TEMPLATE_FILE))
    if edit:
        edit(template)
    shas = zip_shas or normalized_zips(output_dir, tmp_path / output_dir.parent.name)
    return tpl.normalize_template(template, shas, packaged_at(template))[0], shas


def build_zip(path: Path, entries, date_time=(2026, 11, 23, 12, 8, 14), system=3, extra=b"", comment=b"", compression=zipfile.ZIP_DEFLATED):
    """A ZIP of ``[(name, data, mode)]`` in the given order, with the given dates, host system, extra field and comment."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.comment = comment
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = system
            info.external_attr = (mode << 16) | (0x10 if name.endswith("/") else 0)
            info.extra = extra
            info.compress_type = compression
            archive.writestr(info, data)
    return path


def entries_of(path: Path):
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, info.date_time, info.external_attr >> 16, info.extra, archive.read(info)) for info in archive.infolist()]


def test_zip_normalisation_is_byte_identical_across_order_dates_modes_and_extra_fields(tmp_path):
    # umask 0022 vs 0002, two days, another order, an extended-timestamp extra field (0x5455) and a comment.
    one = build_zip(tmp_path / "one.zip", [("src/books.js", b"books", 0o100644), ("bin/render-cover", EXEC_SCRIPT, 0o100755),
                                           ("src/", b"", 0o40755)])
    other = build_zip(tmp_path / "other.zip", [("src/", b"", 0o40775), ("bin/render-cover", EXEC_SCRIPT, 0o100775),
                                               ("src/books.js", b"books", 0o100664)],
                      date_time=(2026, 11, 25, 23, 59, 58), extra=b"UT\x05\x00\x03\x00\x00\x00\x00", comment=b"built on runner-7",
                      compression=zipfile.ZIP_STORED)
    for source in (one, other):
        tpl.normalize_zip(str(source), str(tmp_path / f"{source.stem}-normalized.zip"))
    assert (tmp_path / "one-normalized.zip").read_bytes() == (tmp_path / "other-normalized.zip").read_bytes()
    assert entries_of(tmp_path / "one-normalized.zip") == [
        ("bin/render-cover", tpl.ZIP_DATE_TIME, 0o100755, b"", EXEC_SCRIPT),
        ("src/", tpl.ZIP_DATE_TIME, 0o40755, b"", b""),
        ("src/books.js", tpl.ZIP_DATE_TIME, 0o100644, b"", b"books"),
    ]
    with zipfile.ZipFile(tmp_path / "one-normalized.zip") as archive:
        assert archive.comment == b"" and archive.testzip() is None
    # Normalising twice changes nothing.
    tpl.normalize_zip(str(tmp_path / "one-normalized.zip"), str(tmp_path / "again.zip"))
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "one-normalized.zip").read_bytes()


def test_zip_normalisation_keeps_what_matters(tmp_path):
    base = [("handler.js", b"x", 0o100644), ("run", EXEC_SCRIPT, 0o100755)]
    variants = {
        "base": base,
        "exec bit lost": [("handler.js", b"x", 0o100644), ("run", EXEC_SCRIPT, 0o100644)],
        "content": [("handler.js", b"y", 0o100644), ("run", EXEC_SCRIPT, 0o100755)],
        "name": [("handler.mjs", b"x", 0o100644), ("run", EXEC_SCRIPT, 0o100755)],
    }
    results = {}
    for label, entries in variants.items():
        tpl.normalize_zip(str(build_zip(tmp_path / "in.zip", entries)), str(tmp_path / "out.zip"))
        results[label] = (tmp_path / "out.zip").read_bytes()
    assert len(set(results.values())) == len(results)
    # A ZIP without Unix modes (made on Windows) gives plain files.
    tpl.normalize_zip(str(build_zip(tmp_path / "win.zip", base, system=0)), str(tmp_path / "out.zip"))
    assert [mode for _name, _date, mode, _extra, _data in entries_of(tmp_path / "out.zip")] == [0o100644, 0o100644]


def test_zip_normalisation_refuses_what_it_cannot_make_deterministic(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(tpl.TemplateError, match="not a ZIP"):
        tpl.normalize_zip(str(tmp_path / "bad.zip"), str(tmp_path / "out.zip"))
    with pytest.warns(UserWarning):  # zipfile itself warns about the duplicate
        build_zip(tmp_path / "twice.zip", [("a.js", b"1", 0o100644), ("a.js", b"2", 0o100644)])
    with pytest.raises(tpl.TemplateError, match="several entries named a.js"):
        tpl.normalize_zip(str(tmp_path / "twice.zip"), str(tmp_path / "out.zip"))


def test_both_packagers_zips_normalise_to_the_same_bytes(tmp_path):
    """archiver (serverless 3) and yazl (osls) write different ZIPs of the same files; normalised they are one."""
    raw = {packager: {path.name: path.read_bytes() for path in folder.glob("*.zip")} for packager, folder in BOOKSHELF.items()}
    assert raw["serverless3"]["bookshelf.zip"] != raw["osls"]["bookshelf.zip"]
    shas = {packager: normalized_zips(folder, tmp_path / packager) for packager, folder in BOOKSHELF.items()}
    assert shas["serverless3"] == shas["osls"] and set(shas["osls"]) == {"bookshelf.zip", "formatting.zip", "fonts.zip"}
    modes = {name: mode for name, _date, mode, _extra, _data in entries_of(tmp_path / "osls" / "bookshelf.zip")}
    assert modes["bin/render-cover"] == 0o100755 and modes["src/books.js"] == 0o100644


def test_renaming_a_logical_id_follows_every_reference():
    old, new = "ApiGatewayDeployment1796203663939", "ApiGatewayDeploymentabc"
    template = {
        "Resources": {
            old: {"Type": tpl.DEPLOYMENT_TYPE, "Properties": {"RestApiId": {"Ref": "ApiGatewayRestApi"}}},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"DeploymentId": {"Ref": old}, "Description": {"Fn::Sub": f"from ${{{old}}}"}}},
            "Plan": {"Type": "AWS::ApiGateway::UsagePlan", "DependsOn": old, "Properties": {}},
            "Key": {"Type": "AWS::ApiGateway::ApiKey", "DependsOn": [old, "Plan"], "Properties": {}},
            "Custom": {"Type": "Custom::Thing", "Properties": {"Deployment": old, "Attr": {"Fn::GetAtt": [old, "DeploymentId"]},
                                                               "Dotted": {"Fn::GetAtt": f"{old}.DeploymentId"},
                                                               "Sub": {"Fn::Sub": [f"${{{old}.DeploymentId}}-${{X}}", {"X": "y"}]},
                                                               "Longer": f"{old}Extra", "Prefixed": f"Extra{old}"}},
        },
        "Outputs": {"Deployment": {"Value": {"Ref": old}}, f"{old}Id": {"Value": "unchanged key"}},
    }
    renamed = tpl.rename_logical_ids(template, {old: new})
    text = json.dumps(renamed)
    assert old not in text.replace(f"{old}Extra", "").replace(f"Extra{old}", "").replace(f"{old}Id", "")
    resources = renamed["Resources"]
    assert new in resources and resources["Stage"]["Properties"]["DeploymentId"] == {"Ref": new}
    assert resources["Stage"]["Properties"]["Description"] == {"Fn::Sub": f"from ${{{new}}}"}
    assert resources["Plan"]["DependsOn"] == new and resources["Key"]["DependsOn"] == [new, "Plan"]
    custom = resources["Custom"]["Properties"]
    assert custom["Deployment"] == new and custom["Attr"] == {"Fn::GetAtt": [new, "DeploymentId"]}
    assert custom["Dotted"] == {"Fn::GetAtt": f"{new}.DeploymentId"}
    assert custom["Sub"] == {"Fn::Sub": [f"${{{new}.DeploymentId}}-${{X}}", {"X": "y"}]}
    # Only whole ids: a longer id that merely contains the old one is another resource.
    assert custom["Longer"] == f"{old}Extra" and custom["Prefixed"] == f"Extra{old}"
    assert renamed["Outputs"]["Deployment"] == {"Value": {"Ref": new}} and f"{old}Id" in renamed["Outputs"]
    assert old in template["Resources"]  # the input is not modified


def test_both_packagers_give_the_same_normalised_template(tmp_path):
    results = {packager: canonical_json(normalized(folder, tmp_path)[0]) for packager, folder in BOOKSHELF.items()}
    assert results["serverless3"] == results["osls"]
    raw = {packager: (folder / tpl.UPDATE_TEMPLATE_FILE).read_bytes() for packager, folder in BOOKSHELF.items()}
    for packager in BOOKSHELF:
        assert re.search(rb"ApiGatewayDeployment\d{13}", raw[packager])
        assert not re.search(rb"ApiGatewayDeployment\d{13}|\d{13}-\d{4}-\d{2}-\d{2}T", results[packager])


def test_other_runs_of_the_same_source_give_the_same_template(tmp_path):
    """Another start time and another day: new stamps in the keys and the deployment id, nothing else."""
    first, shas = normalized(BOOKSHELF["serverless3"], tmp_path)
    raw = (BOOKSHELF["serverless3"] / tpl.UPDATE_TEMPLATE_FILE).read_text()
    stamp = re.search(r"/(\d{13}-[^/]+Z)/", raw).group(1)
    deployment = re.search(r"ApiGatewayDeployment(\d{13})", raw).group(1)
    later = raw.replace(stamp, "1796290064000-2026-12-03T09:27:44.000Z").replace(deployment, "1796290063313")
    template = json.loads(later)
    second = tpl.normalize_template(template, shas, 1796290064.0)[0]
    assert canonical_json(first) == canonical_json(second)


def deployment_id(template: dict) -> str:
    (found,) = [logical_id for logical_id, resource in template["Resources"].items() if resource["Type"] == tpl.DEPLOYMENT_TYPE]
    return found


def add_route(template: dict) -> None:
    """What `http: {path: books/{bookId}/reviews, method: get}` adds: a resource, a method, a DependsOn entry."""
    resources = template["Resources"]
    resources["ApiGatewayResourceBooksBookidVarReviews"] = {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"ParentId": {"Ref": "ApiGatewayResourceBooksBookidVar"}, "PathPart": "reviews", "RestApiId": {"Ref": "ApiGatewayRestApi"}}}
    method = copy.deepcopy(resources["ApiGatewayMethodBooksBookidVarGet"])
    method["Properties"]["ResourceId"] = {"Ref": "ApiGatewayResourceBooksBookidVarReviews"}
    resources["ApiGatewayMethodBooksBookidVarReviewsGet"] = method
    resources[deployment_id(template)]["DependsOn"].append("ApiGatewayMethodBooksBookidVarReviewsGet")


def test_the_deployment_id_follows_the_rest_api_definition_only(tmp_path):
    base, shas = normalized(BOOKSHELF["serverless3"], tmp_path)
    unchanged = deployment_id(base)
    assert re.fullmatch(r"ApiGatewayDeployment[0-9a-f]{32}", unchanged)

    def method(name, change):
        def edit(template):
            change(template["Resources"][name]["Properties"])
        return edit

    def cors_origin(properties):
        parameters = properties["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        parameters["method.response.header.Access-Control-Allow-Origin"] = "'https://books.example.com'"

    def authorizer_source(template):
        template["Resources"]["AuthorizeApiGatewayAuthorizer"]["Properties"]["IdentitySource"] = "method.request.header.X-Token"

    changes = {
        "added route": add_route,
        "changed CORS (OPTIONS/MOCK)": method("ApiGatewayMethodBooksOptions", cors_origin),
        "no authorizer": method("ApiGatewayMethodBooksPost", lambda p: p.update(AuthorizationType="NONE", AuthorizerId=None)),
        "changed authorizer": authorizer_source,
        "POST becomes PUT": method("ApiGatewayMethodBooksPost", lambda p: p.update(HttpMethod="PUT")),
    }
    ids = {label: deployment_id(normalized(BOOKSHELF["serverless3"], tmp_path, edit, shas)[0]) for label, edit in changes.items()}
    assert unchanged not in ids.values() and len(set(ids.values())) == len(ids), ids
    # Code and function settings are no part of the API: the deployment keeps its id (the versions do not).
    other_code = dict(shas, **{"bookshelf.zip": "f" * 64})
    memory = normalized(BOOKSHELF["serverless3"], tmp_path, lambda t: t["Resources"]["AddBookLambdaFunction"]["Properties"].update(MemorySize=512), shas)[0]
    assert deployment_id(normalized(BOOKSHELF["serverless3"], tmp_path, zip_shas=other_code)[0]) == unchanged
    assert deployment_id(memory) == unchanged


def test_the_new_deployment_id_replaces_every_reference(tmp_path):
    def referenced(template):
        old = deployment_id(template)
        template["Resources"]["ApiStage"] = {"Type": "AWS::ApiGateway::Stage", "Properties": {
            "DeploymentId": {"Ref": old}, "RestApiId": {"Ref": "ApiGatewayRestApi"}, "StageName": "live"}}
        template["Resources"]["ApiGatewayUsagePlan"] = {"Type": "AWS::ApiGateway::UsagePlan", "DependsOn": old, "Properties": {}}
        template["Outputs"]["DeploymentId"] = {"Value": {"Fn::Sub": "${%s}" % old}}

    result = normalized(BOOKSHELF["osls"], tmp_path, referenced)[0]
    new = deployment_id(result)
    assert result["Resources"]["ApiStage"]["Properties"]["DeploymentId"] == {"Ref": new}
    assert result["Resources"]["ApiGatewayUsagePlan"]["DependsOn"] == new
    assert result["Outputs"]["DeploymentId"] == {"Value": {"Fn::Sub": "${%s}" % new}}


def test_several_timestamped_deployments_are_refused(tmp_path):
    def second(template):
        old = deployment_id(template)
        template["Resources"]["ApiGatewayDeployment1796203663940"] = copy.deepcopy(template["Resources"][old])

    with pytest.raises(tpl.TemplateError, match="several timestamped REST API deployments"):
        normalized(BOOKSHELF["serverless3"], tmp_path, second)


def versions(template: dict) -> dict:
    """``{function logical id: (version logical id, CodeSha256)}``."""
    return {resource["Properties"]["FunctionName"]["Ref"]: (logical_id, resource["Properties"]["CodeSha256"])
            for logical_id, resource in template["Resources"].items() if resource["Type"] == tpl.VERSION_TYPE}


def test_lambda_versions_follow_the_normalised_zip_and_the_configuration(tmp_path):
    base, shas = normalized(BOOKSHELF["serverless3"], tmp_path)
    before = versions(base)
    assert len(before) == 6
    code_sha = base64.b64encode(bytes.fromhex(shas["bookshelf.zip"])).decode()
    assert {sha for _id, sha in before.values()} == {code_sha}  # what Lambda computes for the uploaded ZIP
    for function, (version, _sha) in before.items():
        assert re.fullmatch(function.replace("LambdaFunction", "LambdaVersion") + "[0-9a-f]{32}", version)
        assert base["Outputs"][f"{function}QualifiedArn"]["Value"] == {"Ref": version}

    new_code = versions(normalized(BOOKSHELF["serverless3"], tmp_path, zip_shas=dict(shas, **{"bookshelf.zip": "e" * 64}))[0])
    assert all(new_code[function][0] != before[function][0] for function in before)
    new_layer = versions(normalized(BOOKSHELF["serverless3"], tmp_path, zip_shas=dict(shas, **{"formatting.zip": "e" * 64}))[0])
    assert {function for function in before if new_layer[function] != before[function]} == {"ListBooksLambdaFunction", "GetBookLambdaFunction"}

    def set_property(name, value):
        return lambda template: template["Resources"]["AddBookLambdaFunction"]["Properties"].update({name: value})

    memory = versions(normalized(BOOKSHELF["serverless3"], tmp_path, set_property("MemorySize", 512), shas)[0])
    assert {function for function in before if memory[function] != before[function]} == {"AddBookLambdaFunction"}
    tags = versions(normalized(BOOKSHELF["serverless3"], tmp_path, set_property("Tags", [{"Key": "team", "Value": "books"}]), shas)[0])
    assert tags == before  # Tags belong to the function, not to a version (as in Serverless)


def test_layer_hashes_and_retained_layer_ids_follow_the_normalised_zip(tmp_path):
    base, shas = normalized(BOOKSHELF["osls"], tmp_path)
    outputs, resources = base["Outputs"], base["Resources"]
    fonts_hash = outputs["FontsLambdaLayerHash"]["Value"]
    assert re.fullmatch(r"[0-9a-f]{32}", fonts_hash) and re.fullmatch(r"[0-9a-f]{32}", outputs["FormattingLambdaLayerHash"]["Value"])
    retained = sorted(logical_id for logical_id in resources if logical_id.endswith(fonts_hash))
    assert retained == [f"Fonts111122223333LambdaLayerPermission{fonts_hash}", f"FontsLambdaLayer{fonts_hash}"]
    assert resources[retained[0]]["Properties"]["LayerVersionArn"] == {"Ref": retained[1]}
    assert outputs["FontsLambdaLayerQualifiedArn"]["Value"] == {"Ref": retained[1]}
    assert outputs["FontsLambdaLayerS3Key"]["Value"] == resources[retained[1]]["Properties"]["Content"]["S3Key"]

    changed = normalized(BOOKSHELF["osls"], tmp_path, zip_shas=dict(shas, **{"fonts.zip": "e" * 64}))[0]
    assert changed["Outputs"]["FontsLambdaLayerHash"]["Value"] != fonts_hash
    assert f"FontsLambdaLayer{changed['Outputs']['FontsLambdaLayerHash']['Value']}" in changed["Resources"]
    assert changed["Outputs"]["FormattingLambdaLayerHash"] == outputs["FormattingLambdaLayerHash"]
    assert versions(changed) == versions(base)  # no function uses the fonts layer


@pytest.mark.parametrize("label, value, expected", [
    ("instance id", "1796203663939", "1796203663939 (the time of the packaging run)"),
    ("epoch seconds", 1796203600, "1796203600 (the time of the packaging run)"),
    ("ISO time", "built 2026-12-02T09:27:43Z", "2026-12-02T09:27:43 (the time of the packaging run)"),
    ("build root", "/srv/ci/build/dev/eu-west-1/services/bookshelf/src/x.yml", "/srv/ci/build (a path of the build machine)"),
])
def test_values_of_the_run_or_the_machine_are_refused(tmp_path, label, value, expected):
    def leak(template):
        template["Resources"]["AddBookLambdaFunction"]["Properties"]["Environment"]["Variables"]["LEAK"] = value

    template = tpl.read_template(str(BOOKSHELF["serverless3"] / tpl.UPDATE_TEMPLATE_FILE))
    leak(template)
    found = tpl.run_specific_values(template, NOW, ["/srv/ci/build", "/srv/ci/project/"])
    assert f"Resources.AddBookLambdaFunction.Properties.Environment.Variables.LEAK: {expected}" in found, label
    shas = normalized_zips(BOOKSHELF["serverless3"], tmp_path / "zips")
    with pytest.raises(tpl.TemplateError, match="Variables.LEAK"):
        tpl.normalize_template(template, shas, packaged_at(template), ["/srv/ci/build"])


def test_values_that_only_look_like_times_or_paths_are_kept():
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "Environment": {"Variables": {"ACCOUNT": "123456789012", "SINCE": "2012-10-17T00:00:00Z", "EPOCH": 1000000000,
                                      "ROUTE": "/srv/ci/builds", "URL": "https://example.com/srv/ci/build",
                                      # a content hash that happens to hold the digits of a time
                                      "KEY": "serverless/bookshelf/dev/ab1796203600cdef/bookshelf.zip"}}}}}}
    assert tpl.run_specific_values(template, NOW, ["/srv/ci/build"]) == []
