"""Service Catalog through plain boto3, under mock_aws and against tools/local-aws (the ``aws`` fixture)."""
from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from catalog_fixtures import LIGHT_TEMPLATE, TENANT_TEMPLATE, make_bucket, make_product, put_template

pytestmark = pytest.mark.integration


def error_of(excinfo: pytest.ExceptionInfo) -> tuple:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def settle(sc, record_id: str) -> dict:
    return sc.describe_record(Id=record_id)


def test_products_and_provisioning_artifacts(aws):
    sc, product_id, first_id, bucket = make_product(aws)
    s3 = aws.client("s3")
    v2_url = f"https://s3.us-east-1.amazonaws.com/{bucket}/products/tenant/v2.json"
    put_template(s3, bucket, "products/tenant/v2.json", TENANT_TEMPLATE)

    created = [
        sc.create_provisioning_artifact(
            ProductId=product_id,
            Parameters={"Name": "v2", "Description": f"try {n}", "Info": {"LoadTemplateFromURL": v2_url}, "Type": "CLOUD_FORMATION_TEMPLATE"},
        )["ProvisioningArtifactDetail"]["Id"]
        for n in (1, 2)
    ]
    listed = sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
    assert [a["Id"] for a in listed] == [first_id, *created]
    assert [a["Name"] for a in listed] == ["v1", "v2", "v2"]  # names may repeat, as on AWS

    described = sc.describe_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=created[0], IncludeProvisioningArtifactParameters=True)
    assert described["Info"]["TemplateUrl"] == v2_url
    detail = described["ProvisioningArtifactDetail"]
    assert (detail["Active"], detail["Guidance"], detail["Description"]) == (True, "DEFAULT", "try 1")
    assert detail["CreatedTime"]
    assert {p["ParameterKey"]: p.get("DefaultValue") for p in described["ProvisioningArtifactParameters"]} == {"TenantId": None, "TenantTier": "standard"}

    updated = sc.update_provisioning_artifact(
        ProductId=product_id, ProvisioningArtifactId=first_id, Active=False, Guidance="DEPRECATED", Name="v1-old", Description="retired"
    )["ProvisioningArtifactDetail"]
    assert (updated["Active"], updated["Guidance"], updated["Name"], updated["Description"]) == (False, "DEPRECATED", "v1-old", "retired")
    assert [a["Id"] for a in sc.describe_product(Id=product_id)["ProvisioningArtifacts"]] == created
    admin = sc.describe_product_as_admin(Id=product_id)
    assert len(admin["ProvisioningArtifactSummaries"]) == 3

    with pytest.raises(ClientError) as missing:
        sc.create_provisioning_artifact(
            ProductId=product_id, Parameters={"Name": "v3", "Info": {"LoadTemplateFromURL": v2_url + ".missing"}, "Type": "CLOUD_FORMATION_TEMPLATE"}
        )
    assert error_of(missing) == ("InvalidParametersException", 400)
    with pytest.raises(ClientError) as unknown:
        sc.describe_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId="pa-doesnotexist1")
    assert error_of(unknown) == ("ResourceNotFoundException", 400)

    sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=created[1])
    sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=first_id)
    with pytest.raises(ClientError) as last:
        sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=created[0])
    assert error_of(last) == ("InvalidParametersException", 400)


def test_search_products_as_admin_filters_and_pages(aws):
    names = []
    for product_number in range(3):
        sc, product_id = make_product(aws, LIGHT_TEMPLATE)[:2]
        names.append(sc.describe_product_as_admin(Id=product_id)["ProductViewDetail"]["ProductViewSummary"]["Name"])
    found = sc.search_products_as_admin(Filters={"FullTextSearch": [names[1]]})["ProductViewDetails"]
    assert [p["ProductViewSummary"]["Name"] for p in found] == [names[1]]
    pages = sc.get_paginator("search_products_as_admin").paginate(PaginationConfig={"PageSize": 1})
    seen = [p["ProductViewSummary"]["Name"] for page in pages for p in page["ProductViewDetails"]]
    assert set(names) <= set(seen) and len(seen) == len(set(seen))


def test_provision_update_terminate_with_real_stacks(aws):
    sc, product_id, v1, bucket = make_product(aws)
    cfn = aws.client("cloudformation")
    name = aws.unique("tenant-a")
    with pytest.raises(ClientError) as missing_param:
        sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=name, ProvisioningParameters=[])
    assert error_of(missing_param) == ("InvalidParametersException", 400)

    record = sc.provision_product(
        ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=name,
        ProvisioningParameters=[{"Key": "TenantId", "Value": "a"}, {"Key": "TenantTier", "Value": "premium"}],
    )["RecordDetail"]
    assert record["RecordType"] == "PROVISION_PRODUCT"
    done = settle(sc, record["RecordId"])
    assert done["RecordDetail"]["Status"] == "SUCCEEDED"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in done["RecordOutputs"]}
    assert outputs["QueueName"] == "tenant-a-premium"
    stack = cfn.describe_stacks(StackName=outputs["CloudformationStackARN"])["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"TenantId": "a", "TenantTier": "premium"}

    pp = sc.describe_provisioned_product(Name=name)["ProvisionedProductDetail"]
    assert (pp["Status"], pp["LastRecordId"], pp["LastSuccessfulProvisioningRecordId"]) == ("AVAILABLE", record["RecordId"], record["RecordId"])

    v2_template = {**TENANT_TEMPLATE, "Outputs": {"Version": {"Value": "2"}, **TENANT_TEMPLATE["Outputs"]}}
    url = put_template(aws.client("s3"), bucket, "products/tenant/v2.json", v2_template)
    v2 = sc.create_provisioning_artifact(
        ProductId=product_id, Parameters={"Name": "v2", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"}
    )["ProvisioningArtifactDetail"]["Id"]
    update = sc.update_provisioned_product(
        ProvisionedProductId=pp["Id"], ProductId=product_id, ProvisioningArtifactId=v2,
        ProvisioningParameters=[{"Key": "TenantId", "UsePreviousValue": True}, {"Key": "TenantTier", "UsePreviousValue": True}],
    )["RecordDetail"]
    assert settle(sc, update["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    pp = sc.describe_provisioned_product(Id=pp["Id"])["ProvisionedProductDetail"]
    assert (pp["ProvisioningArtifactId"], pp["LastSuccessfulProvisioningRecordId"]) == (v2, update["RecordId"])
    stack = cfn.describe_stacks(StackName=outputs["CloudformationStackARN"])["Stacks"][0]
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Version"] == "2"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["TenantTier"] == "premium"

    with pytest.raises(ClientError) as in_use:
        sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=v2)
    assert error_of(in_use) == ("ResourceInUseException", 400)

    terminate = sc.terminate_provisioned_product(ProvisionedProductId=pp["Id"])["RecordDetail"]
    assert settle(sc, terminate["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as gone:
        sc.describe_provisioned_product(Id=pp["Id"])
    assert error_of(gone) == ("ResourceNotFoundException", 400)
    statuses = [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackId"] == outputs["CloudformationStackARN"]]
    assert statuses == ["DELETE_COMPLETE"]
    sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=v1)


def test_records_stay_in_progress_for_record_duration(aws):
    sc, product_id, v1 = make_product(aws, LIGHT_TEMPLATE)[:3]
    name = aws.unique("slow")
    aws.handle.set_faults(record_duration_s=1.0)
    record = sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=name)["RecordDetail"]
    assert settle(sc, record["RecordId"])["RecordDetail"]["Status"] == "IN_PROGRESS"
    assert sc.describe_provisioned_product(Name=name)["ProvisionedProductDetail"]["Status"] == "UNDER_CHANGE"
    with pytest.raises(ClientError) as busy:
        sc.update_provisioned_product(ProvisionedProductName=name, ProductId=product_id, ProvisioningArtifactId=v1)
    assert error_of(busy) == ("ResourceInUseException", 400)
    time.sleep(1.1)
    assert settle(sc, record["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    assert sc.describe_provisioned_product(Name=name)["ProvisionedProductDetail"]["Status"] == "AVAILABLE"


def test_injected_failures_end_error_and_tainted(aws):
    sc, product_id, v1 = make_product(aws, LIGHT_TEMPLATE)[:3]
    doomed, tainted = aws.unique("doomed"), aws.unique("tainted")
    aws.handle.set_faults(fail_provisioned_products=[doomed])
    record = sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=doomed)["RecordDetail"]
    failed = settle(sc, record["RecordId"])["RecordDetail"]
    assert failed["Status"] == "FAILED" and failed["RecordErrors"][0]["Description"]
    pp = sc.describe_provisioned_product(Name=doomed)["ProvisionedProductDetail"]
    assert pp["Status"] == "ERROR" and "LastSuccessfulProvisioningRecordId" not in pp and pp["StatusMessage"]

    first = sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=tainted)["RecordDetail"]
    assert settle(sc, first["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    aws.handle.set_faults(fail_provisioned_products=[tainted])
    update = sc.update_provisioned_product(ProvisionedProductName=tainted, ProductId=product_id, ProvisioningArtifactId=v1)["RecordDetail"]
    assert settle(sc, update["RecordId"])["RecordDetail"]["Status"] == "FAILED"
    pp = sc.describe_provisioned_product(Name=tainted)["ProvisionedProductDetail"]
    assert (pp["Status"], pp["LastRecordId"], pp["LastSuccessfulProvisioningRecordId"]) == ("TAINTED", update["RecordId"], first["RecordId"])


def test_nested_stacks_resolve_every_template_url_form(aws):
    s3 = aws.client("s3", "eu-west-1")
    bucket = aws.unique("nested")
    make_bucket(s3, bucket, "eu-west-1")
    child = {"Parameters": {"Label": {"Type": "String"}}, "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
             "Outputs": {"Label": {"Value": {"Ref": "Label"}}}}
    put_template(s3, bucket, "init/child.json", child, "eu-west-1")
    forms = {
        "Regional": f"https://{bucket}.s3.eu-west-1.amazonaws.com/init/child.json",
        "Global": f"https://{bucket}.s3.amazonaws.com/init/child.json",
        "PathStyle": f"https://s3.eu-west-1.amazonaws.com/{bucket}/init/child.json",
        "Endpoint": f"http://127.0.0.1:4566/{bucket}/init/child.json",
    }
    parent = {
        "Resources": {name: {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url, "Parameters": {"Label": name}}}
                      for name, url in forms.items()},
        "Outputs": {f"{name}Label": {"Value": {"Fn::GetAtt": [name, "Outputs.Label"]}} for name in forms},
    }
    sc, product_id, v1 = make_product(aws, parent, region="eu-west-1")[:3]
    record = sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=aws.unique("nested"))["RecordDetail"]
    done = settle(sc, record["RecordId"])
    assert done["RecordDetail"]["Status"] == "SUCCEEDED", done["RecordDetail"]["RecordErrors"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in done["RecordOutputs"]}
    assert {f"{name}Label": name for name in forms}.items() <= outputs.items()
    cfn = aws.client("cloudformation", "eu-west-1")
    resources = cfn.describe_stack_resources(StackName=outputs["CloudformationStackARN"])["StackResources"]
    nested_ids = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::CloudFormation::Stack"]
    assert len(nested_ids) == len(forms)


def test_search_and_scan_page_through_1000_provisioned_products(aws):
    sc, product_id, v1 = make_product(aws, LIGHT_TEMPLATE, region="ap-southeast-2")[:3]
    names = {f"tenant-{n:04d}" for n in range(1000)}
    for name in sorted(names):
        sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=name)
    # botocore has no paginator for SearchProvisionedProducts: follow NextPageToken by hand.
    searched, token = [], None
    while True:
        page = sc.search_provisioned_products(
            Filters={"SearchQuery": [f"productId:{product_id}"]}, PageSize=100, **({"PageToken": token} if token else {})
        )
        searched += page["ProvisionedProducts"]
        token = page.get("NextPageToken")
        if not token:
            break
    assert {p["Name"] for p in searched} == names
    assert {p["Status"] for p in searched} == {"AVAILABLE"}
    scanned = sc.get_paginator("scan_provisioned_products").paginate(PageSize=20).build_full_result()["ProvisionedProducts"]
    assert {p["Name"] for p in scanned} >= names and len(scanned) == len({p["Id"] for p in scanned})
    one_page = sc.search_provisioned_products(Filters={"SearchQuery": [f"productId:{product_id}"]}, PageSize=7, SortBy="name")
    assert [p["Name"] for p in one_page["ProvisionedProducts"]] == sorted(names)[:7]
    assert one_page["TotalResultsCount"] == 1000 and one_page["NextPageToken"]


def test_update_product_tags_and_fields(aws):
    """UpdateProduct as the adopt command of docs/project-layout.md uses it: RemoveTags, then AddTags (a key's new value wins)."""
    sc, product_id, _first_id, _bucket = make_product(aws)
    sc.update_product(Id=product_id, AddTags=[{"Key": "multiregion:stage", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    assert sorted((t["Key"], t["Value"]) for t in sc.describe_product_as_admin(Id=product_id)["Tags"]) == [("multiregion:stage", "dev"), ("team", "a")]
    answer = sc.update_product(Id=product_id, AddTags=[{"Key": "multiregion:stage", "Value": "qa"}], RemoveTags=["team"], Name="renamed")
    assert answer["ProductViewDetail"]["ProductViewSummary"]["Name"] == "renamed"
    assert sc.describe_product_as_admin(Id=product_id)["Tags"] == [{"Key": "multiregion:stage", "Value": "qa"}]
    with pytest.raises(ClientError) as unknown:
        sc.update_product(Id="prod-doesnotexist1", Name="x")
    assert error_of(unknown) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as too_many:
        sc.update_product(Id=product_id, AddTags=[{"Key": f"k{n}", "Value": "v"} for n in range(51)])
    assert error_of(too_many)[0] in ("InvalidParametersException", "LimitExceededException")
