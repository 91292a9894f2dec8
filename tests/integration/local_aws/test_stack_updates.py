"""Tenant stacks behave like CloudFormation's: nested stacks updated in place, cleanup last, rollback on failure.

Plain boto3 only (CloudFormation, Service Catalog, DynamoDB, Lambda, IAM), against the in-process mock and the
server. The documented behaviour each test holds the local AWS to:
- unchanged resources keep their physical ids through an update, nested stacks included ("Update behaviors of
  stack resources": no interruption for resources that did not change);
- a failed update rolls back to the previous template with the previous resources, the stacks end
  UPDATE_ROLLBACK_COMPLETE and the failing resource's event carries the reason;
- a custom-named resource that needs replacing fails the update with CloudFormation's message;
- Service Catalog: a failed update leaves the provisioned product TAINTED on its previous artifact, and a retry
  after the cause is gone succeeds.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Dict, List, Tuple

import pytest

from catalog_fixtures import ASSUME, CODE_KEY, function, make_bucket, put_template, root_template, service_template, zip_of
from local_aws.catalog_access import grant_launch_path

pytestmark = pytest.mark.integration


class Tenant:
    """A root stack with one nested service stack, the way a tenant's provisioned product is built."""

    def __init__(self, aws: Any, region: str = "us-east-1") -> None:
        self.aws, self.region = aws, region
        self.s3, self.cfn = aws.client("s3", region), aws.client("cloudformation", region)
        self.ddb, self.awslambda = aws.client("dynamodb", region), aws.client("lambda", region)
        self.bucket = aws.unique("templates")
        make_bucket(self.s3, self.bucket, region)
        self.s3.put_object(Bucket=self.bucket, Key=CODE_KEY, Body=zip_of("app.py", "def handler(event, context):\n    return event\n"))
        self.tenant_id = aws.unique("t")
        self.versions = 0

    def publish(self, service: Dict[str, Any]) -> str:
        """A root template whose nested stack points at ``service`` (a new key per version, as published)."""
        self.versions += 1
        url = put_template(self.s3, self.bucket, f"orders/v{self.versions}.json", service, self.region)
        return json.dumps(root_template(url, self.bucket))

    def create(self, service: Dict[str, Any]) -> str:
        """A new tenant stack built from ``service``, with one item in its table; its name."""
        name = self.aws.unique("tenant")
        self.cfn.create_stack(StackName=name, TemplateBody=self.publish(service), Parameters=self.parameters())
        self.ddb.put_item(TableName=f"orders-{self.tenant_id}", Item={"pk": {"S": "order-1"}})
        return name

    def parameters(self) -> List[Dict[str, Any]]:
        return [{"ParameterKey": "TenantId", "ParameterValue": self.tenant_id}]

    def nested(self, stack_name: str) -> Dict[str, Any]:
        resource = self.cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId="OrdersStack")["StackResourceDetail"]
        return self.cfn.describe_stacks(StackName=resource["PhysicalResourceId"])["Stacks"][0]

    def physical_ids(self, stack_name: str) -> Dict[str, str]:
        nested = self.nested(stack_name)
        resources = self.cfn.describe_stack_resources(StackName=nested["StackId"])["StackResources"]
        return {"OrdersStack": nested["StackId"], **{r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}}

    def handler(self) -> str:
        return self.awslambda.get_function(FunctionName=f"orders-{self.tenant_id}")["Configuration"]["Handler"]

    def items(self) -> List[Dict[str, Any]]:
        return self.ddb.scan(TableName=f"orders-{self.tenant_id}")["Items"]


def status(cfn: Any, name: str) -> str:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def test_an_update_that_changes_one_function_keeps_every_other_physical_id(aws):
    tenant = Tenant(aws)
    name = tenant.create(service_template())
    before = tenant.physical_ids(name)

    tenant.cfn.update_stack(StackName=name, TemplateBody=tenant.publish(service_template("app.v2")), Parameters=tenant.parameters())

    assert status(tenant.cfn, name) == "UPDATE_COMPLETE"
    assert tenant.nested(name)["StackStatus"] == "UPDATE_COMPLETE"
    assert tenant.physical_ids(name) == before  # the nested stack, its role, function and table: the same ones
    assert tenant.handler() == "app.v2"
    assert tenant.items() == [{"pk": {"S": "order-1"}}]


def test_a_failed_update_rolls_back_with_the_data_and_a_retry_finishes_it(aws):
    tenant = Tenant(aws)
    name = tenant.create(service_template())
    before = tenant.physical_ids(name)
    v2 = service_template("app.v2")
    v2["Resources"]["ReportsFunction"] = function("reports.handler")
    v2_body = tenant.publish(v2)

    aws.handle.set_faults(fail_stack_resources=["ReportsFunction"])
    tenant.cfn.update_stack(StackName=name, TemplateBody=v2_body, Parameters=tenant.parameters())  # accepted, fails later

    root = tenant.cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert root["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert tenant.nested(name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert tenant.physical_ids(name) == before  # ReportsFunction created nowhere, everything else as it was
    assert tenant.handler() == "app.handler"  # the in-place change to OrdersFunction undone
    assert tenant.items() == [{"pk": {"S": "order-1"}}]
    events = tenant.cfn.describe_stack_events(StackName=tenant.nested(name)["StackId"])["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"].endswith("_FAILED")]
    assert [(e["LogicalResourceId"], e["ResourceStatus"]) for e in failed] == [("ReportsFunction", "CREATE_FAILED")]
    assert "fail_stack_resources" in failed[0]["ResourceStatusReason"]
    assert {s["StackName"] for s in tenant.cfn.describe_stacks()["Stacks"]} >= {name}  # every stack still describes
    assert [f["FunctionName"] for f in tenant.awslambda.list_functions()["Functions"] if "ReportsFunction" in f["FunctionName"]] == []

    aws.handle.set_faults(fail_stack_resources=[])
    tenant.cfn.update_stack(StackName=name, TemplateBody=v2_body, Parameters=tenant.parameters())
    assert status(tenant.cfn, name) == "UPDATE_COMPLETE"
    after = tenant.physical_ids(name)
    assert {k: after[k] for k in before} == before and "ReportsFunction" in after
    assert tenant.handler() == "app.v2"
    assert tenant.items() == [{"pk": {"S": "order-1"}}]


def test_resources_leave_only_after_the_update_succeeded_and_retained_ones_stay(aws):
    tenant = Tenant(aws)
    name = aws.unique("tenant")
    tenant.cfn.create_stack(StackName=name, TemplateBody=tenant.publish(service_template()), Parameters=tenant.parameters())
    without_table = service_template()
    del without_table["Resources"]["OrdersTable"]
    del without_table["Outputs"]["TableName"]
    without_table["Resources"]["Audit"] = {"Type": "AWS::SQS::Queue"}
    body = tenant.publish(without_table)
    root = json.loads(body)
    del root["Outputs"]

    aws.handle.set_faults(fail_stack_resources=["Audit"])
    tenant.cfn.update_stack(StackName=name, TemplateBody=json.dumps(root), Parameters=tenant.parameters())
    assert status(tenant.cfn, name) == "UPDATE_ROLLBACK_COMPLETE"
    assert "OrdersTable" in tenant.physical_ids(name)

    aws.handle.set_faults(fail_stack_resources=[])
    tenant.cfn.update_stack(StackName=name, TemplateBody=json.dumps(root), Parameters=tenant.parameters())
    assert status(tenant.cfn, name) == "UPDATE_COMPLETE"
    assert "OrdersTable" not in tenant.physical_ids(name)
    assert tenant.ddb.describe_table(TableName=f"orders-{tenant.tenant_id}")["Table"]["TableStatus"] == "ACTIVE"  # DeletionPolicy: Retain


def test_a_custom_named_resource_that_needs_replacing_fails_the_update(aws):
    cfn, iam = aws.client("cloudformation"), aws.client("iam")
    role_name = aws.unique("fixed-role")
    template = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": role_name, "Path": "/a/", "AssumeRolePolicyDocument": ASSUME}}}}
    name = aws.unique("named")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    changed = copy.deepcopy(template)
    changed["Resources"]["Role"]["Properties"]["Path"] = "/b/"  # Path is create-only: Update requires: Replacement

    cfn.update_stack(StackName=name, TemplateBody=json.dumps(changed))

    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reason = [e for e in cfn.describe_stack_events(StackName=name)["StackEvents"] if e["ResourceStatus"] == "UPDATE_FAILED"][0]["ResourceStatusReason"]
    assert reason == (f"CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename {role_name} "
                      "and update the stack again.")
    assert iam.get_role(RoleName=role_name)["Role"]["Path"] == "/a/"

    renamed = copy.deepcopy(changed)
    renamed["Resources"]["Role"]["Properties"]["RoleName"] = role_name + "-2"  # renamed: replaced, the old one goes at cleanup
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(renamed))
    assert status(cfn, name) == "UPDATE_COMPLETE"
    assert iam.get_role(RoleName=role_name + "-2")["Role"]["Path"] == "/b/"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=role_name)


def test_a_failed_create_rolls_back_and_deletes_what_it_made(aws):
    tenant = Tenant(aws)
    name = aws.unique("tenant")
    aws.handle.set_faults(fail_stack_resources=["OrdersTable"])
    tenant.cfn.create_stack(StackName=name, TemplateBody=tenant.publish(service_template()), Parameters=tenant.parameters())

    assert status(tenant.cfn, name) == "ROLLBACK_COMPLETE"
    assert tenant.cfn.describe_stack_resources(StackName=name)["StackResources"] == []
    with pytest.raises(tenant.awslambda.exceptions.ResourceNotFoundException):
        tenant.handler()
    nested = [s for s in tenant.cfn.list_stacks()["StackSummaries"] if s["StackName"].startswith(f"{name}-OrdersStack")]
    assert [s["StackStatus"] for s in nested] == ["DELETE_COMPLETE"]


def test_a_rollback_keeps_a_new_resource_marked_retain(aws):
    """DeletionPolicy Retain holds in a rollback too, for resources the failed operation itself created (only
    RetainExceptOnCreate lets the rollback delete them): the table stays, the function goes."""
    tenant = Tenant(aws)
    template = service_template()
    template["Resources"]["Audit"] = {"Type": "AWS::SQS::Queue", "DependsOn": "OrdersTable"}
    aws.handle.set_faults(fail_stack_resources=["Audit"])
    name = aws.unique("tenant")
    tenant.cfn.create_stack(StackName=name, TemplateBody=tenant.publish(template), Parameters=tenant.parameters())

    assert status(tenant.cfn, name) == "ROLLBACK_COMPLETE"
    assert tenant.ddb.describe_table(TableName=f"orders-{tenant.tenant_id}")["Table"]["TableStatus"] == "ACTIVE"
    with pytest.raises(tenant.awslambda.exceptions.ResourceNotFoundException):
        tenant.handler()


# ---- through Service Catalog ---------------------------------------------------------------------------------------
def tenant_product(aws: Any, tenant: Tenant) -> Tuple[Any, str, List[str]]:
    """A product whose versions are the root templates of ``tenant`` v1 (app.handler), v2 (app.v2), v3 (v2 plus a
    ReportsFunction)."""
    sc = aws.client("servicecatalog")
    v3 = service_template("app.v2")
    v3["Resources"]["ReportsFunction"] = function("reports.handler")
    urls = []
    for service in (service_template(), service_template("app.v2"), v3):
        body = tenant.publish(service)
        urls.append(put_template(tenant.s3, tenant.bucket, f"root/v{tenant.versions}.json", json.loads(body)))
    created = sc.create_product(Name=aws.unique("orders"), Owner="platform", ProductType="CLOUD_FORMATION_TEMPLATE",
                                ProvisioningArtifactParameters={"Name": "v1", "Info": {"LoadTemplateFromURL": urls[0]}, "Type": "CLOUD_FORMATION_TEMPLATE"})
    product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    artifacts = [created["ProvisioningArtifactDetail"]["Id"]]
    for number, url in enumerate(urls[1:], start=2):
        artifacts.append(sc.create_provisioning_artifact(ProductId=product_id, IdempotencyToken=aws.unique("tok"), Parameters={
            "Name": f"v{number}", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"})["ProvisioningArtifactDetail"]["Id"])
    grant_launch_path(sc, product_id)
    return sc, product_id, artifacts


def settle(sc: Any, record_id: str) -> Dict[str, Any]:
    return sc.describe_record(Id=record_id)["RecordDetail"]


def test_a_tenant_update_that_fails_leaves_it_tainted_on_its_version_with_its_data(aws):
    tenant = Tenant(aws)
    sc, product_id, (v1, v2, v3) = tenant_product(aws, tenant)
    pp_name = aws.unique("tenant-pp")
    record = sc.provision_product(ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=pp_name, ProvisionToken=aws.unique("tok"),
                                  ProvisioningParameters=[{"Key": "TenantId", "Value": tenant.tenant_id}])["RecordDetail"]
    assert settle(sc, record["RecordId"])["Status"] == "SUCCEEDED"
    stack_name = sc.describe_provisioned_product(Name=pp_name)["ProvisionedProductDetail"]["Arn"]
    stack_arn = [o["OutputValue"] for o in sc.describe_record(Id=record["RecordId"])["RecordOutputs"] if o["OutputKey"] == "CloudformationStackARN"][0]
    tenant.ddb.put_item(TableName=f"orders-{tenant.tenant_id}", Item={"pk": {"S": "order-1"}})
    before = tenant.physical_ids(stack_arn)

    def update(artifact: str) -> Dict[str, Any]:
        detail = sc.update_provisioned_product(ProvisionedProductName=pp_name, ProductId=product_id, ProvisioningArtifactId=artifact,
                                               UpdateToken=aws.unique("tok"),
                                               ProvisioningParameters=[{"Key": "TenantId", "UsePreviousValue": True}])["RecordDetail"]
        return settle(sc, detail["RecordId"])

    assert update(v2)["Status"] == "SUCCEEDED"
    assert tenant.physical_ids(stack_arn) == before and tenant.handler() == "app.v2"

    aws.handle.set_faults(fail_stack_resources=["ReportsFunction"])
    failed = update(v3)
    assert failed["Status"] == "FAILED"
    assert "ReportsFunction" in failed["RecordErrors"][0]["Description"] and "fail_stack_resources" in failed["RecordErrors"][0]["Description"]
    detail = sc.describe_provisioned_product(Name=pp_name)["ProvisionedProductDetail"]
    assert (detail["Status"], detail["ProvisioningArtifactId"]) == ("TAINTED", v2)
    assert status(tenant.cfn, stack_arn) == "UPDATE_ROLLBACK_COMPLETE"
    assert tenant.physical_ids(stack_arn) == before and tenant.items() == [{"pk": {"S": "order-1"}}]

    aws.handle.set_faults(fail_stack_resources=[])
    assert update(v3)["Status"] == "SUCCEEDED"
    detail = sc.describe_provisioned_product(Name=pp_name)["ProvisionedProductDetail"]
    assert (detail["Status"], detail["ProvisioningArtifactId"]) == ("AVAILABLE", v3)
    after = tenant.physical_ids(stack_arn)
    assert {k: after[k] for k in before} == before and tenant.items() == [{"pk": {"S": "order-1"}}]
    assert stack_name


# ---- parameter constraints -----------------------------------------------------------------------------------------
CONSTRAINED = {
    "Parameters": {
        "TenantId": {"Type": "String", "AllowedPattern": "^[a-z0-9][a-z0-9-]{2,15}$"},
        "Tier": {"Type": "String", "Default": "standard", "AllowedValues": ["standard", "premium"]},
        "Size": {"Type": "Number", "Default": "2", "MinValue": "1", "MaxValue": "8"},
        "Code": {"Type": "String", "Default": "abc", "MaxLength": "4", "ConstraintDescription": "at most four characters"},
    },
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
}


@pytest.mark.parametrize("key,value,message", [
    ("TenantId", "platform-core-dev-eu-west-1-1", "Parameter 'TenantId' must match pattern ^[a-z0-9][a-z0-9-]{2,15}$"),
    ("TenantId", "Acme", "Parameter 'TenantId' must match pattern ^[a-z0-9][a-z0-9-]{2,15}$"),
    ("Tier", "gold", "Parameter 'Tier' must be one of AllowedValues"),
    ("Size", "9", "Parameter 'Size' must be a number not greater than 8"),
    ("Code", "abcde", "Parameter Code failed to satisfy constraint: at most four characters"),
], ids=["too-long", "upper-case", "not-allowed", "too-big", "described"])
def test_a_parameter_outside_its_constraints_is_refused_at_create(aws, key, value, message):
    cfn = aws.client("cloudformation")
    parameters = {"TenantId": "acme", key: value}
    name = aws.unique("constrained")
    with pytest.raises(cfn.exceptions.ClientError) as refused:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(CONSTRAINED),
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == ("ValidationError", message)
    assert name not in {s["StackName"] for s in cfn.list_stacks()["StackSummaries"]}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(CONSTRAINED), Parameters=[{"ParameterKey": "TenantId", "ParameterValue": "acme"}])
    assert status(cfn, name) == "CREATE_COMPLETE"


def test_a_nested_stack_parameter_outside_its_constraints_fails_the_resource(aws):
    """A tenant whose id the service template forbids: the nested stack fails and the tenant rolls back."""
    tenant = Tenant(aws)
    service = service_template()
    service["Parameters"]["TenantId"]["AllowedPattern"] = "^[a-z0-9][a-z0-9-]{2,15}$"
    tenant.tenant_id = "tenant-analytics-dev-us-east-1-1"
    name = aws.unique("tenant")
    tenant.cfn.create_stack(StackName=name, TemplateBody=tenant.publish(service), Parameters=tenant.parameters())

    assert status(tenant.cfn, name) == "ROLLBACK_COMPLETE"
    [event] = [e for e in tenant.cfn.describe_stack_events(StackName=name)["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    assert event["LogicalResourceId"] == "OrdersStack"
    assert event["ResourceStatusReason"] == "ValidationError: Parameter 'TenantId' must match pattern ^[a-z0-9][a-z0-9-]{2,15}$"
