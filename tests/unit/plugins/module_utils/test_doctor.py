"""The project doctor: each finding a user would hit on AWS, found in packaged templates, and nothing on good ones."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import doctor
from ansible_collections.multiregion.serverless.plugins.module_utils.doctor import (
    Tenancy,
    Unit,
    framework_version_findings,
    parameter_max_length,
    run_doctor,
    satisfies,
)

BUCKET = "retail-artifacts-dev-eu-west-1"
TENANT = {"Type": "String", "AllowedPattern": "^[a-z0-9][a-z0-9-]{2,11}$"}
TENANCY = Tenancy(("storefront",), "TenantId", 12)


def template(resources=None, outputs=None, parameters=None):
    document = {"Parameters": {"TenantId": TENANT, **(parameters or {})}, "Resources": resources or {}}
    if outputs:
        document["Outputs"] = outputs
    return document


def function(name=None, bucket=BUCKET):
    properties = {"Code": {"S3Bucket": bucket, "S3Key": "serverless/x/dev/abc/x.zip"}, "Role": {"Fn::GetAtt": ["Role", "Arn"]}}
    if name is not None:
        properties["FunctionName"] = name
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def unit(tmp_path: Path, document, tenancy=TENANCY, region="eu-west-1", name="catalog-api") -> Unit:
    path = tmp_path / f"{name}-{region}.json"
    path.write_text(json.dumps(document))
    return Unit(name=name, kind="service", file=f"services/{name}/serverless.yml", template_path=str(path), stage="dev", region=region,
                bucket=BUCKET.replace("eu-west-1", region), tenancy=tenancy)


def checks(findings):
    return sorted((finding.check, finding.resource) for finding in findings)


# ---- tenant-safe names


def test_names_that_hold_the_tenant_parameter_or_are_generated_pass(tmp_path):
    document = template({
        "Fn": function({"Fn::Join": ["-", ["retail-catalog", "dev", "list", {"Ref": "TenantId"}]]}),
        "Generated": function(),  # no FunctionName: CloudFormation makes one per stack
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "retail-${TenantId}-products"}}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": ["orders-${Who}", {"Who": {"Ref": "TenantId"}}]}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-jobs"}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Join": ["-", ["retail", {"Ref": "AWS::Region"}, {"Ref": "TenantId"}]]}}},
    }, outputs={"Api": {"Value": "x", "Export": {"Name": {"Fn::Sub": "retail-${TenantId}-api"}}}})
    assert doctor.check_unit(unit(tmp_path, document)) == []


def test_fixed_names_are_each_reported_with_the_fix_and_the_init_stack_advice(tmp_path):
    document = template({
        "Fn": function("retail-catalog-dev-list"),
        "Table": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {"TableName": {"Fn::Sub": "products-${AWS::Region}"}}},
        "Log": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/retail-catalog-dev-list"}},
    }, outputs={"Api": {"Value": "x", "Export": {"Name": "retail-catalog-dev-api"}}})
    findings = doctor.check_unit(unit(tmp_path, document))
    assert checks(findings) == [
        ("shared-name", "Fn (AWS::Lambda::Function) FunctionName"),
        ("shared-name", "Log (AWS::Logs::LogGroup) LogGroupName"),
        ("shared-name", "Outputs.Api (Export) Export.Name"),
        ("shared-name", "Table (AWS::DynamoDB::Table) TableName"),
    ]
    table = next(finding for finding in findings if finding.resource.startswith("Table"))
    assert "'products-eu-west-1' is the same for every tenant" in table.message
    assert "{Ref: TenantId}" in table.message and "move it to an init stack" in table.message
    assert table.line().startswith("services/catalog-api/serverless.yml: service catalog-api (product storefront): ")


def test_iam_names_are_account_wide_and_must_hold_the_region_too(tmp_path):
    document = template({"Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "retail-${TenantId}"}}}})
    [finding] = doctor.check_unit(unit(tmp_path, document))
    assert finding.check == "shared-name" and "account-wide (IAM)" in finding.message and "{Ref: AWS::Region}" in finding.message


def test_a_stack_no_product_nests_is_not_judged_for_tenants(tmp_path):
    document = template({"Fn": function("retail-catalog-dev-list")})
    assert doctor.check_unit(unit(tmp_path, document, tenancy=None)) == []


def test_a_name_built_with_a_function_the_doctor_cannot_follow_is_not_judged(tmp_path):
    document = template({"Fn": function({"Fn::If": ["IsProd", "a", "b"]}), "Other": function({"Fn::ImportValue": "x"})})
    assert doctor.check_unit(unit(tmp_path, document)) == []


# ---- AWS's name limits, with the tenant parameter at its longest


def test_a_role_name_over_64_characters_is_reported_with_its_longest_length(tmp_path):
    name = {"Fn::Join": ["-", ["retail-catalog-service-with-a-long-name", "dev", {"Ref": "AWS::Region"}, {"Ref": "TenantId"}]]}
    document = template({"Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": name}}})
    [finding] = doctor.check_unit(unit(tmp_path, document, region="ap-southeast-2"))
    # 39 + 1 + 3 + 1 + 14 (ap-southeast-2) + 1 + 12 (TenantId's MaxLength) = 71
    assert finding.check == "name-too-long" and finding.excess == 7
    assert "can be 71 characters with TenantId at its longest (12); AWS allows 64" in finding.message


def test_limits_use_the_longest_region_and_are_listed_once_for_every_region(tmp_path):
    name = {"Fn::Join": ["-", ["x" * 45, {"Ref": "AWS::Region"}, {"Ref": "TenantId"}]]}
    units = [unit(tmp_path, template({"Fn": function(name, bucket=f"retail-artifacts-dev-{region}")}), region=region)
             for region in ("us-east-1", "ap-southeast-2", "eu-west-1")]
    result = doctor.examine(units, {}, {}, doctor.tenant_parameter)
    [finding] = result["findings"]
    assert finding["regions"] == ["us-east-1", "ap-southeast-2", "eu-west-1"]
    assert "can be 73 characters" in finding["message"]  # ap-southeast-2 is the longest region (us-east-1: 68)
    assert result["summary"] == "project doctor: 1 problem(s) in 3 packaged template(s)"


@pytest.mark.parametrize("declaration, longest", [
    ({"MaxLength": 12}, 12),
    ({"MaxLength": "20", "AllowedPattern": "^[a-z]{3,8}$"}, 8),
    ({"AllowedPattern": "^[a-z0-9][a-z0-9-]{2,15}$"}, 16),
    ({"AllowedValues": ["standard", "premium"]}, 8),
    ({"AllowedPattern": "^[a-z]+$"}, None),
    ({"Type": "String"}, None),
    ({"AllowedPattern": "(unclosed"}, None),
])
def test_a_parameters_longest_value(declaration, longest):
    assert parameter_max_length(declaration) == longest


# ---- Lambda code in the stage's bucket


def test_code_in_the_bucket_the_stack_would_create_is_one_finding_per_service(tmp_path):
    own = {"Ref": "ServerlessDeploymentBucket"}
    document = template({"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"},
                         "A": function(bucket=own), "B": function(bucket=own), "Inline": {"Type": "AWS::Lambda::Function",
                                                                                          "Properties": {"Code": {"ZipFile": "x"}}}})
    [finding] = doctor.check_unit(unit(tmp_path, document, tenancy=None))
    assert finding.check == "code-bucket" and finding.resource == "A, B"
    assert "ServerlessDeploymentBucket, a bucket this stack would create empty" in finding.message
    assert finding.message.endswith("set provider.deploymentBucket.name: retail-artifacts-${sls:stage}-${aws:region}")


def test_code_in_another_regions_bucket_is_reported(tmp_path):
    document = template({"A": function(bucket="retail-artifacts-dev-us-east-1")})
    [finding] = doctor.check_unit(unit(tmp_path, document, tenancy=None))
    assert "is in retail-artifacts-dev-us-east-1, not in the stage's artifact bucket retail-artifacts-dev-eu-west-1" in finding.message


# ---- CloudFormation's template limits


def test_templates_over_500_resources_or_1_mb_are_reported(tmp_path):
    many = template({f"Queue{index}": {"Type": "AWS::SQS::Queue", "Properties": {}} for index in range(501)})
    big = template({"Fn": function(), "Pad": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": "x" * (doctor.TEMPLATE_URL_BYTES + 1)}}})
    assert checks(doctor.check_unit(unit(tmp_path, many, tenancy=None, name="many"))) == [("template-resources", "template")]
    assert checks(doctor.check_unit(unit(tmp_path, big, tenancy=None, name="big"))) == [("template-size", "template")]


# ---- products and their tenant parameter


def test_names_built_from_an_unbounded_tenant_parameter_are_one_finding_per_service(tmp_path):
    document = template({"A": function({"Fn::Sub": "a-${TenantId}"}), "B": function({"Fn::Sub": "b-${TenantId}"})})
    [finding] = doctor.check_unit(unit(tmp_path, document, tenancy=Tenancy(("storefront",), "TenantId", None)))
    assert finding.check == "name-unbounded" and "the names of A, B are built from TenantId, which nothing bounds" in finding.message
    assert "set MaxLength on TenantId" in finding.message


def test_products_without_their_tenant_parameter_are_reported():
    products = {
        "good": {"parameters": {"TenantId": {"Type": "String", "MaxLength": 12}}, "nested_stacks": [{"service": "a"}]},
        "unbounded": {"parameters": {"TenantId": {"Type": "String"}}, "nested_stacks": [{"service": "a"}]},
        "renamed": {"tenant_parameter": "CustomerId", "parameters": {"TenantId": {"MaxLength": 5}}, "nested_stacks": [{"service": "b"}]},
    }
    findings = doctor.tenant_parameter_findings(products, doctor.tenant_parameter, {})
    assert [(finding.unit, finding.resource) for finding in findings] == [("renamed", "CustomerId")]
    assert "has no parameter CustomerId" in findings[0].message
    tenancies = doctor.product_tenancies(products, doctor.tenant_parameter)
    assert tenancies[("service", "a")] == Tenancy(("good", "unbounded"), "TenantId", 12)
    assert tenancies[("service", "b")].parameter == "CustomerId"


# ---- frameworkVersion, judged as the packagers judge it (node-semver satisfies)


@pytest.mark.parametrize("version, wanted, verdict", [
    ("3.40.0", ">=3 <5", True), ("4.3.1", ">=3 <5", True), ("4.3.1", "3", False), ("3.40.0", "3", True),
    ("3.40.0", "^3.38.0", True), ("3.40.0", "~3.2", False), ("3.40.0", "3.x", True), ("4.3.1", "2 || 3", False),
    ("4.3.1", "3 || 4", True), ("3.40.0", "3.0 - 3.9", False), ("3.40.0", "3.0 - 3.40", True), ("3.40.0", "> 3", False),
    ("3.40.0", ">= 3.1", True), ("3.40.0", "*", True), ("3.40.0", "not a range", None),
])
def test_framework_version_ranges(version, wanted, verdict):
    assert satisfies(version, wanted) is verdict


def test_a_packager_not_known_to_judge_framework_version_is_not_second_guessed():
    assert framework_version_findings([("service", "orders", "services/orders/serverless.yml", ">=3 <5")], "fake-sls@1.0.0") == []


def test_a_framework_version_osls_refuses_names_service_file_and_fix():
    findings = framework_version_findings([("service", "catalog-api", "services/catalog-api/serverless.yml", "3"),
                                           ("service", "orders", "services/orders/serverless.yml", ">=3 <5"),
                                           ("service", "plain", "services/plain/serverless.yml", None)], "osls@4.3.1")
    [finding] = findings
    assert finding.line() == ("services/catalog-api/serverless.yml: service catalog-api: frameworkVersion '3' does not admit osls 4.3.1, so osls "
                              "refuses to package it: widen it (e.g. \">=3 <5\" admits serverless 3 and osls 4) or package with the other "
                              "packager (package_sls_binary)")


# ---- the module's service, on files


def test_run_doctor_reads_products_and_every_regions_packages(tmp_path):
    products = tmp_path / "products"
    products.mkdir()
    (products / "storefront.yml").write_text(
        "parameters:\n  TenantId: {Type: String, MaxLength: 12}\nnested_stacks:\n  - service: catalog-api\n")
    (tmp_path / "services" / "catalog-api").mkdir(parents=True)
    (tmp_path / "services" / "catalog-api" / "serverless.yml").write_text("service: retail-catalog\n")
    targets = []
    for region in ("us-east-1", "eu-west-1"):
        path = tmp_path / f"{region}.json"
        path.write_text(json.dumps(template({"Fn": function("fixed", bucket=f"retail-artifacts-dev-{region}")})))
        targets.append({"region": region, "bucket": f"retail-artifacts-dev-{region}",
                        "packages": [{"name": "catalog-api", "kind": "service", "template_path": str(path)},
                                     {"name": "pending", "kind": "service", "status": "would_package"}]})
    result = run_doctor({"project_dir": str(tmp_path), "stage": "dev", "product_definitions": {"storefront": str(products / "storefront.yml")},
                         "targets": targets})
    assert result["failed"] and result["checked"] == 2 and result["not_checked"] == ["pending"]
    assert result["lines"] == [
        "services/catalog-api/serverless.yml: service catalog-api (product storefront): Fn (AWS::Lambda::Function) FunctionName 'fixed' is the "
        "same for every tenant, so the second tenant of a region fails on a name collision: put {Ref: TenantId} in it or leave the name out "
        "(CloudFormation then generates one); if every tenant should share it, move it to an init stack (deployed once per region, nested in "
        "no per-tenant product) [us-east-1, eu-west-1]"
    ]
    assert result["msg"].startswith("project doctor: 1 problem(s) in 2 packaged template(s); not checked (no packaged template yet): pending; "
                                    "nothing was uploaded:\n- services/catalog-api/serverless.yml: ")
    assert not run_doctor({"project_dir": str(tmp_path), "stage": "dev", "targets": targets, "fail_on_findings": False})["failed"]


def test_the_task_result_on_findings_and_on_an_unreadable_product(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template({"Fn": function("fixed")})))
    targets = [{"region": "eu-west-1", "bucket": BUCKET, "packages": [{"name": "catalog-api", "kind": "service", "template_path": str(path)}]}]
    (tmp_path / "p.yml").write_text("parameters: {TenantId: {MaxLength: 12}}\nnested_stacks: [{service: catalog-api}]\n")
    failed = doctor.doctor_result({"project_dir": str(tmp_path), "stage": "dev", "product_definitions": {"p": str(tmp_path / "p.yml")},
                                   "targets": targets})
    # The message lists each finding; nothing repeats them as data on the console.
    assert failed["failed"] and set(failed) == {"failed", "changed", "msg", "summary", "checked", "not_checked"}
    assert failed["msg"].count("FunctionName 'fixed'") == 1
    unreadable = doctor.doctor_result({"project_dir": str(tmp_path), "stage": "dev", "product_definitions": {"p": str(tmp_path / "gone.yml")},
                                       "targets": targets})
    assert unreadable["failed"] and unreadable["msg"].startswith("project doctor could not read the packaged project: product definition not found")
    passed = doctor.doctor_result({"project_dir": str(tmp_path), "stage": "dev", "targets": targets})
    assert not passed.get("failed") and passed["changed"] is False and passed["summary"] == "project doctor: no problem in 1 packaged template(s)"
