"""catalog_artifact_version in-process against the local AWS (moto + our Service Catalog extension, ``aws_mock``).

Each behaviour of the issue is run through the module's ``main()`` and checked through boto3.
"""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.multiregion.serverless.plugins.modules import catalog_artifact_version
from local_aws.catalog_access import grant_launch_path

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = f"mrs-artifacts-dev-{REGION}"
SSM_NAME = "/multiregion/dev/products/platform-core/latest-artifact-id"
COUNTER_NAME = "/multiregion/dev/products/platform-core/highest-version-number"
WRITES = {"CreateProduct", "CreateProvisioningArtifact", "UpdateProvisioningArtifact", "DeleteProvisioningArtifact", "PutParameter", "PutObject",
          "DeleteParameter"}


def service_template(handler):
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": handler, "Runtime": "nodejs20.x"}}},
    }


class Project:
    """Publishes templates the way the package phase does, and reads the end state back."""

    def __init__(self, aws):
        self.aws = aws
        self.s3 = aws.client("s3", REGION)
        self.sc = aws.client("servicecatalog", REGION)
        self.ssm = aws.client("ssm", REGION)
        self.s3.create_bucket(Bucket=BUCKET)

    def put(self, key, document, bucket=BUCKET, client=None, indent=None):
        body = document if isinstance(document, str) else json.dumps(document, indent=indent)
        (client or self.s3).put_object(Bucket=bucket, Key=key, Body=body.encode())
        return f"https://{bucket}.s3.{REGION}.amazonaws.com/{key}"

    def product_template(self, handlers, prefix="serverless"):
        resources = {}
        for service, handler in sorted(handlers.items()):
            url = self.put(f"{prefix}/{service}/dev/templates/{handler}.json", service_template(handler))
            resources[f"{service.capitalize()}Stack"] = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}
        return {"Parameters": {"TenantId": {"Type": "String"}}, "Resources": resources}

    def publish_product(self, handlers, key=None, prefix="serverless"):
        document = self.product_template(handlers, prefix)
        return self.put(key or f"products/platform-core/dev/{'-'.join(sorted(handlers.values()))}.json", document)

    def versions(self, product="platform-core"):
        product_id = self.product_id(product)
        return sorted(self.sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"], key=lambda a: a["CreatedTime"])

    def product_id(self, name="platform-core"):
        return self.sc.describe_product_as_admin(Name=name)["ProductViewDetail"]["ProductViewSummary"]["ProductId"]

    def ssm_value(self, name=SSM_NAME):
        return self.ssm.get_parameter(Name=name)["Parameter"]

    def writes(self):
        return {op: count for service in self.aws.calls().values() for op, count in service.items() if op in WRITES}


@pytest.fixture
def project(aws_mock):
    return Project(aws_mock)


def run(capsys, check=False, diff=False, **args):
    base = {"product": "platform-core", "ssm_parameter": SSM_NAME, "expected_bucket_owner": ACCOUNT, "region": REGION}
    base.update(args)
    base = {key: value for key, value in base.items() if value is not None}  # None: leave the option out
    base.update(_ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(base), pytest.raises(SystemExit):
        catalog_artifact_version.main()
    result = json.loads(capsys.readouterr().out)
    # ansible-core 2.19 modules send warnings as structured events; the controller shows their "msg".
    result["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
    return result


def seed_product(project, names, url):
    """A product made by hand: its first version, then one per name; returns the product id."""
    created = project.sc.create_product(
        Name="platform-core", Owner="platform-team", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="seed",
        ProvisioningArtifactParameters={"Name": names[0], "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
    )
    product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    for index, name in enumerate(names[1:]):
        project.sc.create_provisioning_artifact(
            ProductId=product_id, IdempotencyToken=f"seed-{index}",
            Parameters={"Name": name, "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
        )
    return product_id


def test_a_new_product_gets_v1_check_apply_idempotent(project, capsys):
    url = project.publish_product({"orders": "a", "payments": "b"})
    args = dict(template_url=url, create_missing_product=True, product_owner="platform-team")

    project.aws.reset_calls()
    checked = run(capsys, check=True, **args)
    assert checked["changed"] and checked["product_created"] and checked["artifact_name"] == "V1"
    assert project.writes() == {}
    with pytest.raises(project.sc.exceptions.ResourceNotFoundException):
        project.product_id()

    applied = run(capsys, **args)
    assert applied["changed"] and applied["artifact_name"] == "V1" and applied["product_id"] == project.product_id()
    versions = project.versions()
    assert [v["Name"] for v in versions] == ["V1"]
    assert versions[0]["Description"].endswith(f"[fingerprint:{applied['fingerprint']}]")
    assert project.ssm_value()["Value"] == applied["artifact_id"] == versions[0]["Id"]
    assert project.ssm_value()["Type"] == "String"
    assert [item["logical_id"] for item in applied["nested_templates"]] == ["OrdersStack", "PaymentsStack"]

    project.aws.reset_calls()
    again_checked = run(capsys, check=True, **args)
    again = run(capsys, **args)
    for result in (again_checked, again):
        assert not result["changed"] and not result["version_created"]
        assert (result["artifact_id"], result["artifact_name"]) == (applied["artifact_id"], "V1")
        assert result["ssm_parameter_version"] == applied["ssm_parameter_version"]
    assert project.writes() == {}
    # No download of the current template: the fingerprint in its description is enough.
    assert project.aws.calls()["servicecatalog"].get("DescribeProvisioningArtifact") is None


def test_next_version_after_seeded_v1_to_v12_with_gaps_and_foreign_names(project, capsys):
    old = project.publish_product({"orders": "a"})
    product_id = seed_product(project, ["V1", "V2", "V5", "Initial import", "V12", "V9", "hotfix-2024"], old)
    new = project.publish_product({"orders": "b"})
    project.aws.reset_calls()

    checked = run(capsys, check=True, template_url=new)
    assert checked["changed"] and checked["artifact_name"] == "V13" and checked["artifact_id"] is None
    assert checked["previous_artifact_name"] == "V12"
    assert checked["ignored_artifact_names"] == ["Initial import", "hotfix-2024"]
    assert any("ignored 2 version name(s)" in warning for warning in checked.get("warnings", []))
    assert project.writes() == {}

    applied = run(capsys, template_url=new)
    assert applied["artifact_name"] == "V13" and applied["previous_artifact_name"] == "V12"
    assert project.ssm_value()["Value"] == applied["artifact_id"]
    assert json.loads(project.ssm_value(COUNTER_NAME)["Value"]) == {"product_id": product_id, "highest_version": 13}

    # V13 deleted: its number is still never issued again.
    project.sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=applied["artifact_id"])
    newer = project.publish_product({"orders": "c"})
    after_delete = run(capsys, template_url=newer)
    assert after_delete["artifact_name"] == "V14"
    assert [v["Name"] for v in project.versions()][-1] == "V14"


def test_hand_made_version_without_fingerprint_is_compared_by_content(project, capsys):
    url = project.publish_product({"orders": "a"})
    seed_product(project, ["V1"], url)
    # Same document, re-published under another key with other whitespace and key order.
    same = project.put("products/platform-core/dev/reformatted.json", json.dumps(project.product_template({"orders": "a"}), indent=3, sort_keys=True))
    project.aws.reset_calls()
    result = run(capsys, template_url=same)
    assert not result["version_created"]
    assert result["previous_fingerprint"] == result["fingerprint"]
    assert result["changed"] and result["ssm_parameter_changed"]  # the parameter did not exist yet: a repair
    assert project.aws.calls()["servicecatalog"]["DescribeProvisioningArtifact"] == 1


def test_a_nested_template_change_makes_one_version_and_a_moved_identical_one_none(project, capsys):
    first = run(capsys, template_url=project.publish_product({"orders": "a", "payments": "b"}), create_missing_product=True, product_owner="o")
    moved = run(capsys, template_url=project.publish_product({"orders": "a", "payments": "b"}, key="products/platform-core/dev/moved.json", prefix="moved"))
    assert not moved["changed"] and moved["artifact_id"] == first["artifact_id"]

    changed = run(capsys, template_url=project.publish_product({"orders": "a", "payments": "b2"}))
    assert changed["changed"] and changed["artifact_name"] == "V2"
    assert changed["previous_artifact_id"] == first["artifact_id"]
    assert project.ssm_value()["Value"] == changed["artifact_id"]
    assert [v["Name"] for v in project.versions()] == ["V1", "V2"]


def test_a_fingerprint_from_the_publisher_spares_reading_the_tree(project, capsys):
    url = project.publish_product({"orders": "a", "payments": "b"})
    created = run(capsys, template_url=url, create_missing_product=True, product_owner="o")
    project.aws.reset_calls()
    same = run(capsys, template_url=url, template_fingerprint=created["fingerprint"])
    assert not same["changed"] and same["artifact_id"] == created["artifact_id"] and same["nested_templates"] == []
    assert project.aws.calls()["s3"] == {"HeadBucket": 1}  # the owner check only, no GetObject

    changed_url = project.publish_product({"orders": "a", "payments": "b2"})
    reading = run(capsys, check=True, template_url=changed_url)
    given = run(capsys, template_url=changed_url, template_fingerprint=reading["fingerprint"])
    assert given["version_created"] and given["artifact_name"] == "V2"
    assert project.versions()[-1]["Description"].endswith(f"[fingerprint:{reading['fingerprint']}]")
    # Diff mode reads the tree to show it, and says when the given fingerprint is not the tree's.
    diffed = run(capsys, check=True, diff=True, template_url=changed_url, template_fingerprint=created["fingerprint"])
    assert not diffed["changed"] and diffed["fingerprint"] == reading["fingerprint"]
    assert any("is not the fingerprint of" in warning for warning in diffed["warnings"])


def test_several_products_in_one_call_check_apply_idempotent(project, capsys):
    core = project.publish_product({"orders": "a"})
    other = project.put("products/reporting/dev/r1.json", project.product_template({"reports": "r"}))
    entries = [
        {"product": "platform-core", "template_url": core, "ssm_parameter": SSM_NAME, "product_owner": "o"},
        {"product": "reporting", "template_url": other, "ssm_parameter": "/multiregion/dev/products/reporting/latest-artifact-id",
         "product_owner": "reports-team"},
    ]
    base = {"product": None, "ssm_parameter": None, "products": entries, "create_missing_product": True}
    project.aws.reset_calls()
    checked = run(capsys, check=True, **base)
    assert checked["changed"] and [r["artifact_name"] for r in checked["products"]] == ["V1", "V1"]
    assert project.writes() == {}

    applied = run(capsys, **base)
    assert [r["product_name"] for r in applied["products"]] == ["platform-core", "reporting"]
    assert project.ssm_value("/multiregion/dev/products/reporting/latest-artifact-id")["Value"] == applied["products"][1]["artifact_id"]
    assert project.sc.describe_product_as_admin(Name="reporting")["ProductViewDetail"]["ProductViewSummary"]["Owner"] == "reports-team"

    project.aws.reset_calls()
    again = run(capsys, **base)
    assert not again["changed"] and not any(r["changed"] for r in again["products"])
    assert project.writes() == {}


def test_several_products_are_all_checked_before_any_is_written(project, capsys):
    entries = [
        {"product": "platform-core", "template_url": project.publish_product({"orders": "a"}), "ssm_parameter": SSM_NAME, "product_owner": "o"},
        {"product": "reporting", "template_url": "https://example.com/t.json", "ssm_parameter": "/multiregion/dev/reporting"},
    ]
    project.aws.reset_calls()
    result = run(capsys, product=None, ssm_parameter=None, products=entries, create_missing_product=True)
    assert result["failed"] and result["msg"].startswith("reporting in us-east-1: ") and "nothing was written" in result["msg"]
    assert project.writes() == {}


def test_one_failing_product_does_not_stop_the_others(project, capsys):
    entries = [
        {"product": "unknown-product", "template_url": project.publish_product({"orders": "a"}), "ssm_parameter": "/multiregion/dev/unknown"},
        {"product": "platform-core", "template_url": project.publish_product({"orders": "b"}), "ssm_parameter": SSM_NAME, "product_owner": "o"},
    ]
    project.aws.reset_calls()
    result = run(capsys, product=None, ssm_parameter=None, products=entries, create_missing_product=False)
    # platform-core does not exist either and may not be created: both fail, nothing is written.
    assert result["failed"] and result["msg"].startswith("2 of 2 product(s) failed: unknown-product in us-east-1: product 'unknown-product' does not exist")
    assert "; platform-core in us-east-1: product 'platform-core' does not exist" in result["msg"] and "\n" not in result["msg"]
    assert [r["failed"] for r in result["products"]] == [True, True] and project.writes() == {}
    project.sc.create_product(Name="platform-core", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="t",
                              ProvisioningArtifactParameters={"Name": "V1", "Info": {"LoadTemplateFromURL": entries[0]["template_url"]},
                                                              "Type": "CLOUD_FORMATION_TEMPLATE"})
    result = run(capsys, product=None, ssm_parameter=None, products=entries)
    assert result["failed"] and result["msg"].startswith("1 of 2 product(s) failed: unknown-product")
    assert result["products"][1]["version_created"] and result["products"][1]["artifact_name"] == "V2"
    assert [v["Name"] for v in project.versions()] == ["V1", "V2"]


def test_ssm_drift_is_repaired_without_a_new_version(project, capsys):
    url = project.publish_product({"orders": "a"})
    created = run(capsys, template_url=url, create_missing_product=True, product_owner="o")
    project.ssm.put_parameter(Name=SSM_NAME, Value="pa-somethingelse", Type="String", Overwrite=True)

    checked = run(capsys, check=True, template_url=url)
    assert checked["changed"] and checked["ssm_parameter_changed"] and not checked["version_created"]
    assert project.ssm_value()["Value"] == "pa-somethingelse"

    repaired = run(capsys, template_url=url)
    assert repaired["changed"] and not repaired["version_created"]
    assert any("repaired" in warning for warning in repaired["warnings"])
    assert project.ssm_value()["Value"] == created["artifact_id"]
    assert [v["Name"] for v in project.versions()] == ["V1"]
    assert not run(capsys, template_url=url)["changed"]


def test_diff_mode_shows_the_template_change_bounded(project, capsys):
    run(capsys, template_url=project.publish_product({"orders": "a"}), create_missing_product=True, product_owner="o")
    new = project.publish_product({"orders": "a", "payments": "b"})
    result = run(capsys, check=True, diff=True, template_url=new, diff_max_chars=400)
    diff = result["diff"]
    assert (diff["before_header"], diff["after_header"]) == ("V1", "V2")
    assert "OrdersStack" in diff["before"] and "PaymentsStack" not in diff["before"]
    assert "PaymentsStack" in diff["after"]
    # The resources, nested stacks opened: a changed handler is named, not only the nested template's new URL.
    handler = run(capsys, check=True, diff=True, template_url=project.publish_product({"orders": "c"}))["diff"]["prepared"]
    assert handler == "platform-core V1 -> V2:\n    Resources.OrdersStack/Fn: modified (Properties.Handler)"
    assert diff["prepared"] == "platform-core V1 -> V2:\n    Resources.PaymentsStack: added (AWS::CloudFormation::Stack)"
    small = run(capsys, check=True, diff=True, template_url=new, diff_max_chars=120)["diff"]
    assert len(small["after"]) <= 120 and "diff truncated" in small["after"]
    assert "diff" not in run(capsys, check=True, template_url=new)


def test_check_mode_reads_templates_not_yet_published_from_their_local_copies(project, capsys, tmp_path):
    """A whole deploy's check run: the package phase would upload the new product template and a new nested one, so
    neither is in S3 yet; the catalog reads them from the local copies it is given and names the version it would make."""
    run(capsys, template_url=project.publish_product({"orders": "a"}), create_missing_product=True, product_owner="o")
    nested_url = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/serverless/payments/dev/templates/b.json"
    nested_path = tmp_path / "payments.json"
    nested_path.write_text(json.dumps(service_template("b")))
    document = project.product_template({"orders": "a"})
    document["Resources"]["PaymentsStack"] = {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": nested_url}}
    product_url = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/products/platform-core/dev/new.json"
    product_path = tmp_path / "product.json"
    product_path.write_text(json.dumps(document))
    before = project.writes()
    copies = {product_url: str(product_path), nested_url: str(nested_path)}
    result = run(capsys, check=True, diff=True, template_url=product_url, template_local_copies=copies)
    assert result["changed"] and result["version_created"] and result["artifact_name"] == "V2", result
    assert "PaymentsStack" in result["diff"]["after"] and project.writes() == before
    # Without them the same check fails in one line, as before: the template is not in S3.
    missing = run(capsys, check=True, diff=True, template_url=product_url)
    assert missing["failed"] and "does not exist" in missing["msg"]


def test_yaml_template_from_a_local_file_is_uploaded_once(project, capsys, tmp_path):
    nested = project.put("serverless/orders/dev/templates/x.json", service_template("a"))
    path = tmp_path / "core.yml"
    path.write_text(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Parameters: {TenantId: {Type: String}}\n"
        "Resources:\n"
        "  OrdersStack:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        f"    Properties: {{TemplateURL: '{nested}', Parameters: {{Tenant: !Ref TenantId}}}}\n"
    )
    args = dict(template_path=str(path), template_bucket=BUCKET, template_key_prefix="products/platform-core/dev",
                create_missing_product=True, product_owner="o")
    project.aws.reset_calls()
    assert run(capsys, check=True, **args)["changed"]
    assert project.writes() == {}
    first = run(capsys, **args)
    assert first["template_url"].startswith(f"https://{BUCKET}.s3.{REGION}.amazonaws.com/products/platform-core/dev/")
    assert first["template_url"].endswith(".yml")
    assert not run(capsys, **args)["changed"]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("unknown product", "product 'platform-core' does not exist in us-east-1"),
        ("not cloudformation", "is not a CloudFormation template"),
        ("not yaml", "neither valid JSON nor valid YAML"),
        ("foreign bucket", "not owned by the stage's account 123456789012"),
        ("foreign nested bucket", "not owned by the stage's account 123456789012"),
        ("bad ssm name", "ssm_parameter 'products/platform-core' is not a path"),
        ("not an s3 url", "is not an S3 object URL"),
        ("bad fingerprint", "template_fingerprint must look like sha256:<64 hex digits>"),
    ],
)
def test_errors_are_one_line_and_write_nothing(project, capsys, case, expected):
    args = dict(template_url=project.publish_product({"orders": "a"}))
    if case != "unknown product":
        args.update(create_missing_product=True, product_owner="o")
    if case == "not cloudformation":
        args["template_url"] = project.put("products/x.json", {"AWSTemplateFormatVersion": "2010-09-09", "Outputs": {}})
    elif case == "not yaml":
        args["template_url"] = project.put("products/x.yml", "Resources: [unclosed\n")
    elif case in ("foreign bucket", "foreign nested bucket"):
        other = project.aws.session_for_account("210987654321", REGION).client("s3")
        other.create_bucket(Bucket="someone-elses-bucket")
        nested = project.put("t.json", service_template("a"), bucket="someone-elses-bucket", client=other)
        document = {"Resources": {"S": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": nested}}}}
        in_foreign = case == "foreign bucket"
        args["template_url"] = project.put("p.json", document, bucket="someone-elses-bucket" if in_foreign else BUCKET, client=other if in_foreign else None)
    elif case == "bad ssm name":
        args["ssm_parameter"] = "products/platform-core"
    elif case == "not an s3 url":
        args["template_url"] = "https://example.com/template.json"
    elif case == "bad fingerprint":
        args["template_fingerprint"] = "md5:abc"
    project.aws.reset_calls()
    result = run(capsys, **args)
    assert result["failed"]
    assert expected in result["msg"] and "\n" not in result["msg"]
    assert project.writes() == {}


def test_lifecycle_retires_old_versions_but_not_one_in_use(project, capsys):
    url = project.publish_product({"orders": "v1"})
    product_id = seed_product(project, ["V1", "V2", "V3", "V4"], url)
    in_use = [v for v in project.versions() if v["Name"] == "V2"][0]["Id"]
    grant_launch_path(project.sc, product_id)
    project.sc.provision_product(
        ProductId=product_id, ProvisioningArtifactId=in_use, ProvisionedProductName="tenant-a",
        ProvisioningParameters=[{"Key": "TenantId", "Value": "a"}], ProvisionToken="t-a",
    )
    args = dict(template_url=project.publish_product({"orders": "v5"}), keep_active_versions=2)
    checked = run(capsys, check=True, **args)
    assert [a["name"] for a in checked["deprecated_artifacts"]] == ["V3", "V1"]
    assert [a["name"] for a in checked["kept_in_use_artifacts"]] == ["V2"]
    applied = run(capsys, **args)
    assert applied["artifact_name"] == "V5"
    assert [a["name"] for a in applied["deprecated_artifacts"]] == ["V3", "V1"]
    state = {v["Name"]: (v["Active"], v["Guidance"]) for v in project.versions()}
    assert state == {"V1": (False, "DEPRECATED"), "V2": (True, "DEFAULT"), "V3": (False, "DEPRECATED"), "V4": (True, "DEFAULT"), "V5": (True, "DEFAULT")}
    again = run(capsys, **args)
    assert not again["changed"] and again["deprecated_artifacts"] == []


# ------------------------------------------------------------------------------------------ version quota


def quota_product(project, names=("V1", "V2", "V3")):
    """A product at its versions, the latest-id parameter on the newest; returns name -> id."""
    seed_product(project, list(names), project.publish_product({"orders": "old"}))
    ids = {v["Name"]: v["Id"] for v in project.versions()}
    project.ssm.put_parameter(Name=SSM_NAME, Value=ids[names[-1]], Type="String", Overwrite=True)
    return ids


def test_a_version_over_the_limit_is_refused_in_one_line_before_any_write(project, capsys):
    ids = quota_product(project)
    new = project.publish_product({"orders": "new"})
    project.aws.reset_calls()
    for check in (True, False):
        result = run(capsys, check=check, template_url=new, version_limit=3)
        assert result["failed"] and not result["changed"]
        assert result["msg"] == (
            f"platform-core in us-east-1: product platform-core has 3 of 3 versions: delete one (V1 {ids['V1']}, V2 {ids['V2']}) "
            "or set prune_versions=true (role: catalog_prune_versions); nothing was written"
        )
    assert project.writes() == {}
    assert [v["Name"] for v in project.versions()] == ["V1", "V2", "V3"]
    # Under the limit (the default 100 here) the same template makes V4; an unchanged one never counts.
    assert run(capsys, template_url=new)["artifact_name"] == "V4"
    assert not run(capsys, template_url=new, version_limit=4)["changed"]


def test_prune_versions_deletes_the_oldest_unused_then_creates_check_apply_idempotent(project, capsys):
    ids = quota_product(project)
    args = dict(template_url=project.publish_product({"orders": "new"}), version_limit=3, prune_versions=True)
    project.aws.reset_calls()
    checked = run(capsys, check=True, diff=True, **args)
    assert checked["changed"] and checked["artifact_name"] == "V4" and checked["artifact_id"] is None
    assert checked["pruned_artifacts"] == [{"id": ids["V1"], "name": "V1"}] and checked["version_limit"] == 3
    assert checked["diff"]["prepared"].endswith(f"\nplatform-core: delete V1 ({ids['V1']}) to stay within 3 versions (prune_versions)")
    assert project.writes() == {}

    applied = run(capsys, **args)
    assert applied["changed"] and applied["version_created"] and applied["artifact_name"] == "V4"
    assert applied["pruned_artifacts"] == [{"id": ids["V1"], "name": "V1"}]
    assert [v["Name"] for v in project.versions()] == ["V2", "V3", "V4"]
    assert project.ssm_value()["Value"] == applied["artifact_id"]
    assert project.writes() == {"DeleteProvisioningArtifact": 1, "CreateProvisioningArtifact": 1, "PutParameter": 2}

    project.aws.reset_calls()
    again = run(capsys, **args)
    assert not again["changed"] and again["pruned_artifacts"] == [] and project.writes() == {}


def test_pruning_never_deletes_a_version_a_tenant_is_on_or_the_one_ssm_names(project, capsys):
    ids = quota_product(project, ("V1", "V2", "V3", "V4"))
    grant_launch_path(project.sc, project.product_id())
    project.sc.provision_product(
        ProductId=project.product_id(), ProvisioningArtifactId=ids["V1"], ProvisionedProductName="tenant-a",
        ProvisioningParameters=[{"Key": "TenantId", "Value": "a"}], ProvisionToken="t-a",
    )
    project.ssm.put_parameter(Name=SSM_NAME, Value=ids["V2"], Type="String", Overwrite=True)  # SSM held back at V2
    args = dict(template_url=project.publish_product({"orders": "new"}), version_limit=4, prune_versions=True)
    applied = run(capsys, **args)
    assert applied["pruned_artifacts"] == [{"id": ids["V3"], "name": "V3"}]  # V1: a tenant is on it; V2: SSM; V4: newest
    assert [v["Name"] for v in project.versions()] == ["V1", "V2", "V4", "V5"]

    # SSM held back at V2 again; with a limit of 3, two must go and only V4 can (V1: tenant, V2: SSM, V5: newest).
    project.ssm.put_parameter(Name=SSM_NAME, Value=ids["V2"], Type="String", Overwrite=True)
    newer = project.publish_product({"orders": "newer"})
    project.aws.reset_calls()
    refused = run(capsys, template_url=newer, version_limit=3, prune_versions=True)
    assert refused["failed"] and "\n" not in refused["msg"]
    assert refused["msg"] == (
        f"platform-core in us-east-1: product platform-core has 4 of 3 versions: 2 must go but only 1 can (V4 {ids['V4']}); "
        "move tenants to a newer version or raise the quota and version_limit (role: catalog_version_limit); nothing was written"
    )
    assert project.writes() == {} and [v["Name"] for v in project.versions()] == ["V1", "V2", "V4", "V5"]


def test_one_product_over_its_limit_refuses_the_whole_call(project, capsys):
    quota_product(project)
    other_ssm = "/multiregion/dev/products/reporting/latest-artifact-id"
    first = project.put("products/reporting/dev/r1.json", project.product_template({"reports": "r"}))
    run(capsys, product="reporting", ssm_parameter=other_ssm, template_url=first, create_missing_product=True, product_owner="o")
    entries = [
        {"product": "reporting", "template_url": project.put("products/reporting/dev/r2.json", project.product_template({"reports": "r2"})),
         "ssm_parameter": other_ssm},
        {"product": "platform-core", "template_url": project.publish_product({"orders": "new"}), "ssm_parameter": SSM_NAME},
    ]
    project.aws.reset_calls()
    result = run(capsys, product=None, ssm_parameter=None, products=entries, version_limit=3)
    assert result["failed"] and result["products"] == [] and "\n" not in result["msg"]
    assert result["msg"].startswith("1 of 2 product(s) refused, nothing was written: platform-core in us-east-1: product platform-core has 3 of 3 versions")
    assert project.writes() == {}
    applied = run(capsys, product=None, ssm_parameter=None, products=entries, version_limit=3, prune_versions=True)
    assert [(r["artifact_name"], [a["name"] for a in r["pruned_artifacts"]]) for r in applied["products"]] == [("V2", []), ("V4", ["V1"])]
