"""Service Catalog provisioned product plans, held to AWS's rules (docs/local-aws.md "Provisioned product plans").

Plain boto3 against the ``aws`` fixture (in-process moto and the server), as a user of AWS would call it:
- CreateProvisionedProductPlan: PlanType CLOUDFORMATION, CloudFormation products only, one plan per provisioned
  product, only from AVAILABLE or TAINTED, a name that is not provisioned yet plans a new provisioned product
  (API reference of CreateProvisionedProductPlan and ProvisionedProductDetail.Status);
- DescribeProvisionedProductPlan: CloudFormation's change set in Service Catalog's shape; ``Replacement`` from the
  resource types' registry schemas (create-only TRUE, conditionally create-only CONDITIONAL, else FALSE); a plan
  without changes ends CREATE_FAILED with CloudFormation's reason; nested stacks show as one MODIFY resource;
- DeleteProvisionedProductPlan: the plan is gone (ResourceNotFoundException afterwards).
"""
from __future__ import annotations

import copy
import time
from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError
from catalog_fixtures import CODE_KEY, LIGHT_TEMPLATE, make_product, put_template, root_template, service_template, zip_of
from local_aws.catalog_access import grant_launch_path

pytestmark = pytest.mark.integration

NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
PREVIOUS = [{"Key": "TenantId", "UsePreviousValue": True}, {"Key": "CodeBucket", "UsePreviousValue": True}]


def error_of(excinfo: pytest.ExceptionInfo) -> tuple:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


class Catalog:
    """A product whose tenants are a service's stack (a role, a function, a retained table named per tenant)."""

    def __init__(self, aws: Any, template: Dict[str, Any]) -> None:
        self.aws = aws
        self.sc, self.product_id, self.v1, self.bucket = make_product(aws, template)
        self.s3 = aws.client("s3")
        self.s3.put_object(Bucket=self.bucket, Key=CODE_KEY, Body=zip_of("app.py", "def handler(event, context):\n    return event\n"))
        self.versions = 1

    def version(self, template: Dict[str, Any]) -> str:
        self.versions += 1
        url = put_template(self.s3, self.bucket, f"products/tenant/v{self.versions}.json", template)
        parameters = {"Name": f"v{self.versions}", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"}
        return self.sc.create_provisioning_artifact(ProductId=self.product_id, Parameters=parameters)["ProvisioningArtifactDetail"]["Id"]

    def provision(self, tenant: str, parameters: Any = None) -> Dict[str, Any]:
        given = [{"Key": "TenantId", "Value": tenant}, {"Key": "CodeBucket", "Value": self.bucket}] if parameters is None else parameters
        record = self.sc.provision_product(ProductId=self.product_id, ProvisioningArtifactId=self.v1, ProvisionedProductName=tenant,
                                           ProvisioningParameters=given)
        return self.sc.describe_record(Id=record["RecordDetail"]["RecordId"])["RecordDetail"]

    def plan(self, tenant: str, artifact_id: str, parameters: Any = None, **extra: Any) -> Dict[str, Any]:
        return self.sc.create_provisioned_product_plan(
            PlanName=f"plan-{tenant}", PlanType="CLOUDFORMATION", ProductId=self.product_id, ProvisionedProductName=tenant,
            ProvisioningArtifactId=artifact_id, ProvisioningParameters=PREVIOUS if parameters is None else parameters, **extra)

    def changes(self, plan_id: str) -> Dict[str, Dict[str, Any]]:
        answer = self.sc.describe_provisioned_product_plan(PlanId=plan_id)
        assert answer["ProvisionedProductPlanDetails"]["Status"] == "CREATE_SUCCESS", answer["ProvisionedProductPlanDetails"]
        return {change["LogicalResourceId"]: change for change in answer["ResourceChanges"]}


def targets(change: Dict[str, Any]) -> List[tuple]:
    return [(d["Target"].get("Name"), d["Target"]["RequiresRecreation"], d["Evaluation"], d.get("CausingEntity")) for d in change["Details"]]


@pytest.fixture
def catalog(aws) -> Catalog:
    return Catalog(aws, service_template())


def with_table(key: str = "pk", name: str = "orders-${TenantId}", handler: str = "app.handler") -> Dict[str, Any]:
    """The service template with the table's key attribute and name, and the function's handler, chosen; the
    function gets the table's name through ``Ref``."""
    template = copy.deepcopy(service_template(handler))
    table = template["Resources"]["OrdersTable"]["Properties"]
    table["TableName"] = {"Fn::Sub": name}
    table["AttributeDefinitions"] = [{"AttributeName": key, "AttributeType": "S"}]
    table["KeySchema"] = [{"AttributeName": key, "KeyType": "HASH"}]
    template["Resources"]["OrdersFunction"]["Properties"]["Environment"] = {"Variables": {"TABLE": {"Ref": "OrdersTable"}}}
    return template


def test_a_create_only_change_is_a_replacement_and_a_key_schema_change_a_conditional_one(aws):
    catalog = Catalog(aws, with_table())
    tenant = aws.unique("t")
    assert catalog.provision(tenant)["Status"] == "SUCCEEDED"

    renamed = catalog.changes(catalog.plan(tenant, catalog.version(with_table(name="orders-v2-${TenantId}")))["PlanId"])
    table, function = renamed["OrdersTable"], renamed["OrdersFunction"]
    assert (table["Action"], table["Replacement"], table["PhysicalResourceId"]) == ("MODIFY", "TRUE", f"orders-{tenant}")
    assert targets(table) == [("TableName", "ALWAYS", "STATIC", None)]
    assert table["Scope"] == ["PROPERTIES"] and table["Details"][0]["Target"]["Attribute"] == "PROPERTIES"
    # The function refers to the replaced table: its value changes only when the update runs.
    assert (function["Action"], function["Replacement"]) == ("MODIFY", "FALSE")
    assert targets(function) == [("Environment", "NEVER", "DYNAMIC", "OrdersTable")]
    assert set(renamed) == {"OrdersTable", "OrdersFunction"}
    catalog.sc.delete_provisioned_product_plan(PlanId=catalog.sc.list_provisioned_product_plans()["ProvisionedProductPlans"][0]["PlanId"])

    rekeyed = catalog.changes(catalog.plan(tenant, catalog.version(with_table(key="id")))["PlanId"])
    # KeySchema is conditionally create-only in the registry schema: replaced when the table cannot be updated.
    assert rekeyed["OrdersTable"]["Replacement"] == "CONDITIONAL"
    assert targets(rekeyed["OrdersTable"]) == [("AttributeDefinitions", "NEVER", "STATIC", None), ("KeySchema", "CONDITIONALLY", "STATIC", None)]
    assert targets(rekeyed["OrdersFunction"]) == [("Environment", "NEVER", "DYNAMIC", "OrdersTable")]


def test_a_parameter_change_reaches_the_properties_that_use_it(catalog, aws):
    tenant = aws.unique("t")
    catalog.provision(tenant)
    other = aws.unique("t")
    moved = [{"Key": "TenantId", "Value": other}, {"Key": "CodeBucket", "UsePreviousValue": True}]
    changes = catalog.changes(catalog.plan(tenant, catalog.v1, moved)["PlanId"])
    assert (changes["OrdersTable"]["Replacement"], targets(changes["OrdersTable"])) == ("TRUE", [("TableName", "ALWAYS", "STATIC", "TenantId")])
    assert (changes["OrdersFunction"]["Replacement"], targets(changes["OrdersFunction"])) == ("TRUE", [("FunctionName", "ALWAYS", "STATIC", "TenantId")])
    assert "Role" not in changes


def test_a_handler_change_is_a_modify_without_replacement(catalog, aws):
    tenant = aws.unique("t")
    catalog.provision(tenant)
    function_name = aws.client("lambda").get_function(FunctionName=f"orders-{tenant}")["Configuration"]["FunctionName"]
    aws.handle.set_faults(record_duration_s=0.4)  # the change set takes a while, as on AWS
    created = catalog.plan(tenant, catalog.version(service_template("app.other_handler")))
    aws.handle.clear_faults()
    pp_id = catalog.sc.describe_provisioned_product(Name=tenant)["ProvisionedProductDetail"]["Id"]
    assert (created["ProvisionProductId"], created["ProvisionedProductName"], created["PlanName"]) == (pp_id, tenant, f"plan-{tenant}")
    early = catalog.sc.describe_provisioned_product_plan(PlanId=created["PlanId"])
    assert (early["ProvisionedProductPlanDetails"]["Status"], early["ResourceChanges"]) == ("CREATE_IN_PROGRESS", [])
    time.sleep(0.5)
    changes = catalog.changes(created["PlanId"])
    assert list(changes) == ["OrdersFunction"]
    change = changes["OrdersFunction"]
    assert (change["Action"], change["Replacement"], change["ResourceType"], change["PhysicalResourceId"]) == (
        "MODIFY", "FALSE", "AWS::Lambda::Function", function_name)
    assert targets(change) == [("Handler", "NEVER", "STATIC", None)]
    details = catalog.sc.describe_provisioned_product_plan(PlanId=created["PlanId"])["ProvisionedProductPlanDetails"]
    assert (details["PlanType"], details["ProvisionProductName"], details["ProvisioningParameters"]) == ("CLOUDFORMATION", tenant, PREVIOUS)
    # A plan writes nothing: the function still has its handler, the product its version.
    assert aws.client("lambda").get_function(FunctionName=f"orders-{tenant}")["Configuration"]["Handler"] == "app.handler"
    assert catalog.sc.describe_provisioned_product(Name=tenant)["ProvisionedProductDetail"]["ProvisioningArtifactId"] == catalog.v1


def test_a_plan_without_changes_fails_with_cloudformations_reason(catalog, aws):
    tenant = aws.unique("t")
    catalog.provision(tenant)
    plan_id = catalog.plan(tenant, catalog.v1)["PlanId"]
    answer = catalog.sc.describe_provisioned_product_plan(PlanId=plan_id)
    details = answer["ProvisionedProductPlanDetails"]
    assert (details["Status"], details["StatusMessage"], answer["ResourceChanges"]) == ("CREATE_FAILED", NO_CHANGES, [])


def test_one_plan_per_provisioned_product(catalog, aws):
    tenant, other = aws.unique("t"), aws.unique("t")
    catalog.provision(tenant)
    catalog.provision(other)
    v2 = catalog.version(service_template("app.v2"))
    first = catalog.plan(tenant, v2)["PlanId"]
    with pytest.raises(ClientError) as second:
        catalog.plan(tenant, v2)
    code, status, message = error_of(second)
    assert (code, status) == ("InvalidStateException", 400) and first in message
    catalog.plan(other, v2)  # another provisioned product has its own
    pp_id = catalog.sc.describe_provisioned_product(Name=tenant)["ProvisionedProductDetail"]["Id"]
    listed = catalog.sc.list_provisioned_product_plans(ProvisionProductId=pp_id)["ProvisionedProductPlans"]
    assert [(p["PlanId"], p["ProvisionProductName"], p["PlanType"]) for p in listed] == [(first, tenant, "CLOUDFORMATION")]
    assert len(catalog.sc.list_provisioned_product_plans()["ProvisionedProductPlans"]) == 2
    catalog.sc.delete_provisioned_product_plan(PlanId=first)
    catalog.plan(tenant, v2)  # once deleted, a new one may be made


def test_plans_need_an_available_or_tainted_provisioned_product(catalog, aws):
    v2 = catalog.version(service_template("app.v2"))
    broken = aws.unique("t")
    aws.handle.set_faults(fail_provisioned_products=[broken])
    assert catalog.provision(broken)["Status"] == "FAILED"
    aws.handle.clear_faults()
    assert catalog.sc.describe_provisioned_product(Name=broken)["ProvisionedProductDetail"]["Status"] == "ERROR"
    with pytest.raises(ClientError) as in_error:
        catalog.plan(broken, v2)
    assert error_of(in_error)[:2] == ("InvalidStateException", 400) and "ERROR" in error_of(in_error)[2]

    busy = aws.unique("t")
    catalog.provision(busy)
    aws.handle.set_faults(record_duration_s=60)
    catalog.sc.update_provisioned_product(ProvisionedProductName=busy, ProvisioningArtifactId=v2, ProvisioningParameters=PREVIOUS)
    aws.handle.clear_faults()
    with pytest.raises(ClientError) as under_change:
        catalog.plan(busy, v2)
    assert error_of(under_change)[:2] == ("InvalidStateException", 400) and "UNDER_CHANGE" in error_of(under_change)[2]

    tainted = aws.unique("t")
    catalog.provision(tainted)
    aws.handle.set_faults(fail_provisioned_products=[tainted])
    update = catalog.sc.update_provisioned_product(ProvisionedProductName=tainted, ProvisioningArtifactId=v2, ProvisioningParameters=PREVIOUS)
    assert catalog.sc.describe_record(Id=update["RecordDetail"]["RecordId"])["RecordDetail"]["Status"] == "FAILED"
    aws.handle.clear_faults()
    assert catalog.sc.describe_provisioned_product(Name=tainted)["ProvisionedProductDetail"]["Status"] == "TAINTED"
    assert set(catalog.changes(catalog.plan(tainted, v2)["PlanId"])) == {"OrdersFunction"}


def test_only_cloudformation_plans_of_cloudformation_products(catalog, aws):
    tenant = aws.unique("t")
    catalog.provision(tenant)
    with pytest.raises(ClientError) as plan_type:
        catalog.sc.create_provisioned_product_plan(PlanName="p", PlanType="TERRAFORM", ProductId=catalog.product_id, ProvisionedProductName=tenant,
                                                   ProvisioningArtifactId=catalog.v1, ProvisioningParameters=PREVIOUS)
    assert error_of(plan_type) == ("ValidationException", 400, "1 validation error detected: Value 'TERRAFORM' at 'planType' failed to satisfy "
                                   "constraint: Member must satisfy enum value set: [CLOUDFORMATION]")
    s3 = aws.client("s3")
    url = put_template(s3, catalog.bucket, "terraform/main.json", LIGHT_TEMPLATE)
    external = catalog.sc.create_product(Name=aws.unique("tf"), Owner="platform-team", ProductType="EXTERNAL", ProvisioningArtifactParameters={
        "Name": "v1", "Info": {"LoadTemplateFromURL": url}, "Type": "EXTERNAL"})
    product_id = external["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    grant_launch_path(catalog.sc, product_id)
    with pytest.raises(ClientError) as not_cloudformation:
        catalog.sc.create_provisioned_product_plan(PlanName="p", PlanType="CLOUDFORMATION", ProductId=product_id, ProvisionedProductName=aws.unique("t"),
                                                   ProvisioningArtifactId=external["ProvisioningArtifactDetail"]["Id"])
    assert error_of(not_cloudformation)[:2] == ("InvalidParametersException", 400)


def test_a_plan_is_made_through_a_launch_path_of_the_caller(catalog, aws):
    tenant = aws.unique("t")
    catalog.provision(tenant)
    grant_launch_path(catalog.sc, catalog.product_id, portfolio_name=f"{catalog.product_id}-second")
    v2 = catalog.version(service_template("app.v2"))
    with pytest.raises(ClientError) as several:
        catalog.plan(tenant, v2)
    assert error_of(several) == ("InvalidParametersException", 400, "More than one launch path ids exist. Please specify the launch path id")
    with pytest.raises(ClientError) as unknown:
        catalog.plan(tenant, v2, PathId="lpv3-doesnotexist1")
    assert error_of(unknown)[:2] == ("ResourceNotFoundException", 400)
    path_id = catalog.sc.list_launch_paths(ProductId=catalog.product_id)["LaunchPathSummaries"][0]["Id"]
    plan_id = catalog.plan(tenant, v2, PathId=path_id)["PlanId"]
    assert catalog.sc.describe_provisioned_product_plan(PlanId=plan_id)["ProvisionedProductPlanDetails"]["PathId"] == path_id


def test_a_deleted_plan_is_not_found(catalog, aws):
    tenant = aws.unique("t")
    catalog.provision(tenant)
    plan_id = catalog.plan(tenant, catalog.version(service_template("app.v2")))["PlanId"]
    catalog.sc.delete_provisioned_product_plan(PlanId=plan_id, IgnoreErrors=True)
    for call in (lambda: catalog.sc.describe_provisioned_product_plan(PlanId=plan_id), lambda: catalog.sc.delete_provisioned_product_plan(PlanId=plan_id)):
        with pytest.raises(ClientError) as gone:
            call()
        assert error_of(gone)[:2] == ("ResourceNotFoundException", 400)
    assert catalog.sc.list_provisioned_product_plans()["ProvisionedProductPlans"] == []
    assert catalog.sc.describe_provisioned_product(Name=tenant)["ProvisionedProductDetail"]["Status"] == "AVAILABLE"


def test_a_plan_for_a_name_not_provisioned_yet_plans_a_new_provisioned_product(catalog, aws):
    tenant = aws.unique("t")
    parameters = [{"Key": "TenantId", "Value": tenant}, {"Key": "CodeBucket", "Value": catalog.bucket}]
    created = catalog.plan(tenant, catalog.v1, parameters)
    changes = catalog.changes(created["PlanId"])
    assert {(c["Action"], c["ResourceType"]) for c in changes.values()} == {
        ("ADD", "AWS::IAM::Role"), ("ADD", "AWS::Lambda::Function"), ("ADD", "AWS::DynamoDB::Table")}
    detail = catalog.sc.describe_provisioned_product(Id=created["ProvisionProductId"])["ProvisionedProductDetail"]
    assert (detail["Name"], detail["Status"]) == (tenant, "PLAN_IN_PROGRESS")
    with pytest.raises(ClientError) as taken:
        catalog.provision(tenant)
    assert error_of(taken)[:2] == ("DuplicateResourceException", 400)
    catalog.sc.delete_provisioned_product_plan(PlanId=created["PlanId"])
    with pytest.raises(ClientError) as gone:
        catalog.sc.describe_provisioned_product(Name=tenant)
    assert error_of(gone)[:2] == ("ResourceNotFoundException", 400)
    assert catalog.provision(tenant)["Status"] == "SUCCEEDED"


def test_a_nested_stack_is_one_modify_resource_of_the_plan(aws):
    catalog = Catalog(aws, LIGHT_TEMPLATE)
    sc, s3, bucket = catalog.sc, catalog.s3, catalog.bucket
    catalog.v1 = catalog.version(root_template(put_template(s3, bucket, "orders/v1.json", service_template()), bucket))
    tenant = aws.unique("t")
    assert catalog.provision(tenant, [{"Key": "TenantId", "Value": tenant}])["Status"] == "SUCCEEDED"
    previous = [{"Key": "TenantId", "UsePreviousValue": True}]

    # The same version: the nested stack is still MODIFY (its template might have changed), so the plan has changes.
    same = catalog.changes(catalog.plan(tenant, catalog.v1, previous)["PlanId"])
    assert list(same) == ["OrdersStack"]
    assert (same["OrdersStack"]["Replacement"], targets(same["OrdersStack"])) == ("FALSE", [(None, "NEVER", "DYNAMIC", None)])
    sc.delete_provisioned_product_plan(PlanId=sc.list_provisioned_product_plans()["ProvisionedProductPlans"][0]["PlanId"])

    # A version whose nested template changes a table's name: only the nested stack shows, not the table inside.
    renamed = copy.deepcopy(service_template())
    renamed["Resources"]["OrdersTable"]["Properties"]["TableName"] = {"Fn::Sub": "orders-v2-${TenantId}"}
    v2 = catalog.version(root_template(put_template(s3, bucket, "orders/v2.json", renamed), bucket))
    changes = catalog.changes(catalog.plan(tenant, v2, previous)["PlanId"])
    stack = changes["OrdersStack"]
    assert list(changes) == ["OrdersStack"] and stack["ResourceType"] == "AWS::CloudFormation::Stack"
    assert (stack["Action"], stack["Replacement"], targets(stack)) == ("MODIFY", "FALSE", [("TemplateURL", "NEVER", "STATIC", None)])
    assert stack["PhysicalResourceId"].startswith("arn:aws:cloudformation:")
