"""Where AWS is strict, the local AWS is too: portfolios and launch paths, launch constraints, idempotency tokens,
UsePreviousValue, quotas, access levels and page sizes (docs/local-aws.md "How strict it is").

Plain boto3 against the ``aws`` fixture (in-process moto and the server); where boto3 would fill a member in
(idempotency tokens), the member is removed from the signed request, so the service sees what a raw HTTP client sends.
"""
from __future__ import annotations

import json
import urllib.error
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from catalog_fixtures import LIGHT_TEMPLATE, make_product, put_template
from local_aws.catalog_access import caller_arn, grant_launch_path
from local_aws.faults import FaultError

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::{account}:role/{name}"
PREVIOUS = [{"Key": "TenantId", "UsePreviousValue": True}]


def error_of(excinfo: pytest.ExceptionInfo) -> tuple:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def portfolio(sc, name: str) -> str:
    return sc.create_portfolio(DisplayName=name, ProviderName="platform-team")["PortfolioDetail"]["Id"]


def without_member(sc, operation: str, member: str) -> None:
    """Drop ``member`` from ``operation``'s JSON body after boto3 filled it in, before signing: a raw HTTP request."""

    def drop(request, **_kwargs) -> None:
        body = json.loads(request.data)
        body.pop(member, None)
        request.data = json.dumps(body).encode()

    sc.meta.events.register(f"before-sign.servicecatalog.{operation}", drop)


def provision(sc, product_id: str, artifact_id: str, name: str, **extra) -> dict:
    record = sc.provision_product(
        ProductId=product_id, ProvisioningArtifactId=artifact_id, ProvisionedProductName=name,
        ProvisioningParameters=[{"Key": "TenantId", "Value": name}], **extra,
    )["RecordDetail"]
    return sc.describe_record(Id=record["RecordId"])["RecordDetail"]


def test_products_of_the_extension_go_into_moto_portfolios(aws):
    sc, product_id, _v1, _bucket = make_product(aws, LIGHT_TEMPLATE, launch_path=False)
    other_product = make_product(aws, LIGHT_TEMPLATE, launch_path=False)[1]
    portfolio_id = portfolio(sc, "platform")
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio_id)
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio_id)  # again: no change, as on AWS
    assert [p["Id"] for p in sc.list_portfolios_for_product(ProductId=product_id)["PortfolioDetails"]] == [portfolio_id]
    assert sc.list_portfolios_for_product(ProductId=other_product)["PortfolioDetails"] == []
    in_portfolio = sc.search_products_as_admin(PortfolioId=portfolio_id)["ProductViewDetails"]
    assert [p["ProductViewSummary"]["ProductId"] for p in in_portfolio] == [product_id]
    # moto's own portfolio APIs keep answering
    assert sc.describe_portfolio(Id=portfolio_id)["PortfolioDetail"]["DisplayName"] == "platform"
    assert portfolio_id in [p["Id"] for p in sc.list_portfolios()["PortfolioDetails"]]
    sc.associate_principal_with_portfolio(PortfolioId=portfolio_id, PrincipalARN=caller_arn(sc), PrincipalType="IAM")
    assert sc.list_principals_for_portfolio(PortfolioId=portfolio_id)["Principals"] == [{"PrincipalARN": caller_arn(sc), "PrincipalType": "IAM"}]

    with pytest.raises(ClientError) as unknown_portfolio:
        sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId="port-doesnotexist1")
    assert error_of(unknown_portfolio)[:2] == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as unknown_product:
        sc.associate_product_with_portfolio(ProductId="prod-doesnotexist1", PortfolioId=portfolio_id)
    assert error_of(unknown_product)[:2] == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as bad_type:
        sc.associate_principal_with_portfolio(PortfolioId=portfolio_id, PrincipalARN=caller_arn(sc), PrincipalType="USER")
    assert error_of(bad_type)[:2] == ("InvalidParametersException", 400)
    for delete in (lambda: sc.delete_portfolio(Id=portfolio_id), lambda: sc.delete_product(Id=product_id)):
        with pytest.raises(ClientError) as in_use:
            delete()
        assert error_of(in_use)[:2] == ("ResourceInUseException", 400)

    sc.disassociate_product_from_portfolio(ProductId=product_id, PortfolioId=portfolio_id)
    sc.disassociate_principal_from_portfolio(PortfolioId=portfolio_id, PrincipalARN=caller_arn(sc))
    assert sc.list_portfolios_for_product(ProductId=product_id)["PortfolioDetails"] == []
    with pytest.raises(ClientError) as not_associated:
        sc.disassociate_product_from_portfolio(ProductId=product_id, PortfolioId=portfolio_id)
    assert error_of(not_associated)[:2] == ("ResourceNotFoundException", 400)
    sc.delete_portfolio(Id=portfolio_id)
    assert portfolio_id not in [p["Id"] for p in sc.list_portfolios()["PortfolioDetails"]]


def test_launch_paths_need_the_product_and_the_callers_principal_in_a_portfolio(aws):
    sc, product_id, v1, _bucket = make_product(aws, launch_path=False)
    me = caller_arn(sc)
    assert me == aws.client("sts").get_caller_identity()["Arn"]

    def no_path(call) -> None:
        with pytest.raises(ClientError) as refused:
            call()
        assert error_of(refused) == ("ResourceNotFoundException", 400, f"No launch paths found for resource: {product_id}")

    no_path(lambda: sc.list_launch_paths(ProductId=product_id))
    no_path(lambda: provision(sc, product_id, v1, aws.unique("t")))
    no_path(lambda: sc.describe_provisioning_parameters(ProductId=product_id, ProvisioningArtifactId=v1))
    first = portfolio(sc, "first")
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=first)
    no_path(lambda: sc.list_launch_paths(ProductId=product_id))  # the product alone is not enough
    sc.associate_principal_with_portfolio(PortfolioId=first, PrincipalARN=ROLE.format(account=aws.account_id, name="someone-else"), PrincipalType="IAM")
    no_path(lambda: provision(sc, product_id, v1, aws.unique("t")))  # nor another principal
    sc.associate_principal_with_portfolio(PortfolioId=first, PrincipalARN=me, PrincipalType="IAM")

    paths = sc.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"]
    assert [(p["Name"], p["ConstraintSummaries"]) for p in paths] == [("first", [])]
    first_path = paths[0]["Id"]
    assert first_path.startswith("lpv3-") and sc.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"][0]["Id"] == first_path
    assert sc.describe_product(Id=product_id)["LaunchPaths"] == [{"Id": first_path, "Name": "first"}]
    tenant = aws.unique("t")
    record = provision(sc, product_id, v1, tenant)  # one path: the default
    assert (record["Status"], record["PathId"]) == ("SUCCEEDED", first_path)

    # A second portfolio, reached through a pattern of the caller's ARN: two paths, the caller must choose.
    second = portfolio(sc, "second")
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=second)
    sc.associate_principal_with_portfolio(PortfolioId=second, PrincipalARN=me.rsplit("/", 1)[0] + "/*", PrincipalType="IAM_PATTERN")
    paths = {p["Name"]: p["Id"] for p in sc.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"]}
    assert set(paths) == {"first", "second"} and paths["first"] == first_path
    several = ("InvalidParametersException", 400, "More than one launch path ids exist. Please specify the launch path id")
    for call in (
        lambda: provision(sc, product_id, v1, aws.unique("t")),
        lambda: sc.update_provisioned_product(ProvisionedProductName=tenant, ProvisioningArtifactId=v1, ProvisioningParameters=PREVIOUS),
        lambda: sc.describe_provisioning_parameters(ProductId=product_id, ProvisioningArtifactId=v1),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert error_of(refused) == several
    with pytest.raises(ClientError) as unknown_path:
        provision(sc, product_id, v1, aws.unique("t"), PathId="lpv3-doesnotexist1")
    assert error_of(unknown_path)[:2] == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as both:
        provision(sc, product_id, v1, aws.unique("t"), PathId=first_path, PathName="first")
    assert error_of(both)[:2] == ("InvalidParametersException", 400)
    assert provision(sc, product_id, v1, aws.unique("t"), PathName="second")["PathId"] == paths["second"]
    updated = sc.update_provisioned_product(ProvisionedProductName=tenant, ProvisioningArtifactId=v1, PathId=paths["second"],
                                            ProvisioningParameters=PREVIOUS)["RecordDetail"]
    assert sc.describe_record(Id=updated["RecordId"])["RecordDetail"]["PathId"] == paths["second"]
    assert sc.describe_provisioning_parameters(ProductId=product_id, ProvisioningArtifactId=v1, PathName="first")["ProvisioningArtifactParameters"]


def test_launch_constraint_role_creates_and_updates_the_stack(aws):
    sc, product_id, v1, _bucket = make_product(aws)
    portfolio_id = sc.list_portfolios_for_product(ProductId=product_id)["PortfolioDetails"][0]["Id"]
    launch_role = ROLE.format(account=aws.account_id, name="sc-launch")
    created = sc.create_constraint(PortfolioId=portfolio_id, ProductId=product_id, Type="LAUNCH", Parameters=json.dumps({"RoleArn": launch_role}))
    constraint_id = created["ConstraintDetail"]["ConstraintId"]
    answered = (created["ConstraintDetail"]["Type"], created["Status"], json.loads(created["ConstraintParameters"]))
    assert answered == ("LAUNCH", "AVAILABLE", {"RoleArn": launch_role})
    assert sc.describe_constraint(Id=constraint_id)["ConstraintDetail"]["ProductId"] == product_id
    assert [c["ConstraintId"] for c in sc.list_constraints_for_portfolio(PortfolioId=portfolio_id)["ConstraintDetails"]] == [constraint_id]
    assert sc.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"][0]["ConstraintSummaries"] == [{"Type": "LAUNCH", "Description": ""}]
    assert [c["Type"] for c in sc.describe_provisioning_parameters(ProductId=product_id, ProvisioningArtifactId=v1)["ConstraintSummaries"]] == ["LAUNCH"]
    for parameters, code in ((json.dumps({"RoleArn": launch_role}), "DuplicateResourceException"), ("not json", "InvalidParametersException"),
                             (json.dumps({"Nothing": 1}), "InvalidParametersException")):
        with pytest.raises(ClientError) as refused:
            sc.create_constraint(PortfolioId=portfolio_id, ProductId=product_id, Type="LAUNCH", Parameters=parameters)
        assert error_of(refused)[:2] == (code, 400)

    tenant = aws.unique("t")
    record = provision(sc, product_id, v1, tenant)
    assert record["Status"] == "SUCCEEDED"
    cfn = aws.client("cloudformation")
    stack_id = sc.describe_record(Id=record["RecordId"])["RecordOutputs"][0]["OutputValue"]
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["RoleARN"] == launch_role

    sc.delete_constraint(Id=constraint_id)
    with pytest.raises(ClientError) as gone:
        sc.describe_constraint(Id=constraint_id)
    assert error_of(gone)[:2] == ("ResourceNotFoundException", 400)
    new_role = ROLE.format(account=aws.account_id, name="sc-launch-2")
    sc.create_constraint(PortfolioId=portfolio_id, ProductId=product_id, Type="LAUNCH", Parameters=json.dumps({"RoleArn": new_role}))
    update = sc.update_provisioned_product(ProvisionedProductName=tenant, ProvisioningArtifactId=v1,
                                           ProvisioningParameters=[{"Key": "TenantId", "UsePreviousValue": True}])["RecordDetail"]
    assert sc.describe_record(Id=update["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["RoleARN"] == new_role


TOKENS = [
    ("ProvisionProduct", "ProvisionToken", "provisionToken"),
    ("UpdateProvisionedProduct", "UpdateToken", "updateToken"),
    ("TerminateProvisionedProduct", "TerminateToken", "terminateToken"),
    ("CreateProduct", "IdempotencyToken", "idempotencyToken"),
    ("CreateProvisioningArtifact", "IdempotencyToken", "idempotencyToken"),
    ("CreatePortfolio", "IdempotencyToken", "idempotencyToken"),
    ("CreateConstraint", "IdempotencyToken", "idempotencyToken"),
    ("CreateProvisionedProductPlan", "IdempotencyToken", "idempotencyToken"),
]


@pytest.mark.parametrize("operation,member,wire_name", TOKENS, ids=[t[0] for t in TOKENS])
def test_a_request_without_its_idempotency_token_is_refused(aws, operation, member, wire_name):
    sc, product_id, v1, bucket = make_product(aws)
    tenant = aws.unique("t")
    assert provision(sc, product_id, v1, tenant)["Status"] == "SUCCEEDED"
    portfolio_id = sc.list_portfolios_for_product(ProductId=product_id)["PortfolioDetails"][0]["Id"]
    url = f"https://{bucket}.s3.us-east-1.amazonaws.com/products/tenant/v1.json"
    artifact = {"Name": "v2", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"}
    calls = {
        "ProvisionProduct": lambda c: c.provision_product(
            ProductId=product_id, ProvisioningArtifactId=v1, ProvisionedProductName=aws.unique("t"),
            ProvisioningParameters=[{"Key": "TenantId", "Value": "x"}]),
        "UpdateProvisionedProduct": lambda c: c.update_provisioned_product(
            ProvisionedProductName=tenant, ProvisioningArtifactId=v1, ProvisioningParameters=PREVIOUS),
        "TerminateProvisionedProduct": lambda c: c.terminate_provisioned_product(ProvisionedProductName=tenant),
        "CreateProduct": lambda c: c.create_product(Name=aws.unique("p"), Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE",
                                                    ProvisioningArtifactParameters=artifact),
        "CreateProvisioningArtifact": lambda c: c.create_provisioning_artifact(ProductId=product_id, Parameters=artifact),
        "CreatePortfolio": lambda c: c.create_portfolio(DisplayName="p", ProviderName="o"),
        "CreateConstraint": lambda c: c.create_constraint(PortfolioId=portfolio_id, ProductId=product_id, Type="NOTIFICATION",
                                                          Parameters=json.dumps({"NotificationArns": []})),
        "CreateProvisionedProductPlan": lambda c: c.create_provisioned_product_plan(
            PlanName="premium", PlanType="CLOUDFORMATION", ProductId=product_id, ProvisionedProductName=tenant, ProvisioningArtifactId=v1,
            ProvisioningParameters=PREVIOUS + [{"Key": "TenantTier", "Value": "premium"}]),
    }
    raw = aws.client("servicecatalog")
    without_member(raw, operation, member)
    with pytest.raises(ClientError) as refused:
        calls[operation](raw)
    assert error_of(refused) == (
        "ValidationException", 400, f"1 validation error detected: Value null at '{wire_name}' failed to satisfy constraint: Member must not be null"
    )
    # With the token (boto3's own), the same call succeeds; the same token again answers the same.
    token = uuid.uuid4().hex
    first = calls[operation](with_token(sc, member, token))
    again = calls[operation](with_token(sc, member, token))
    first.pop("ResponseMetadata"), again.pop("ResponseMetadata")
    assert first == again


def with_token(sc, member: str, token: str):
    """``sc`` with ``member`` set to ``token`` on every call (the calls above do not pass it)."""

    class WithToken:
        def __getattr__(self, name):
            method = getattr(sc, name)
            return lambda **kwargs: method(**{member: token, **kwargs})

    return WithToken()


V2_TEMPLATE = {  # TenantTier is gone, Size is new
    "Parameters": {"TenantId": {"Type": "String"}, "Size": {"Type": "String", "Default": "small"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


def test_use_previous_value_needs_a_previous_value_the_target_version_still_declares(aws):
    sc, product_id, v1, bucket = make_product(aws)
    url = put_template(aws.client("s3"), bucket, "products/tenant/v2.json", V2_TEMPLATE)
    parameters = {"Name": "v2", "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"}
    v2 = sc.create_provisioning_artifact(ProductId=product_id, Parameters=parameters)["ProvisioningArtifactDetail"]["Id"]
    tenant = aws.unique("t")
    provision(sc, product_id, v1, tenant)
    for key, message in (("TenantTier", "that the provisioning artifact's template does not declare"), ("Size", "the provisioned product does not have")):
        with pytest.raises(ClientError) as refused:
            sc.update_provisioned_product(ProvisionedProductName=tenant, ProvisioningArtifactId=v2,
                                          ProvisioningParameters=[{"Key": "TenantId", "UsePreviousValue": True}, {"Key": key, "UsePreviousValue": True}])
        code, status, text = error_of(refused)
        assert (code, status) == ("InvalidParametersException", 400)
        assert text == f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key {message}"
    detail = sc.describe_provisioned_product(Name=tenant)["ProvisionedProductDetail"]
    assert (detail["Status"], detail["ProvisioningArtifactId"]) == ("AVAILABLE", v1)
    update = sc.update_provisioned_product(ProvisionedProductName=tenant, ProvisioningArtifactId=v2,
                                           ProvisioningParameters=[{"Key": "TenantId", "UsePreviousValue": True}])["RecordDetail"]
    assert sc.describe_record(Id=update["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"


def test_quotas_on_artifacts_per_product_and_products_per_portfolio(aws):
    sc, product_id, _v1, bucket = make_product(aws, LIGHT_TEMPLATE)
    url = put_template(aws.client("s3"), bucket, "light.json", LIGHT_TEMPLATE)
    artifact = {"Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"}
    ids = [sc.create_provisioning_artifact(ProductId=product_id, Parameters={"Name": f"v{n}", **artifact})["ProvisioningArtifactDetail"]["Id"]
           for n in range(2, 101)]
    with pytest.raises(ClientError) as over:  # the 101st, at AWS's default quota of 100
        sc.create_provisioning_artifact(ProductId=product_id, Parameters={"Name": "v101", **artifact})
    assert error_of(over)[:2] == ("LimitExceededException", 400)
    assert len(sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]) == 100

    aws.handle.set_faults(max_provisioning_artifacts=2, max_products_per_portfolio=2)
    small = make_product(aws, LIGHT_TEMPLATE, launch_path=False)
    small[0].create_provisioning_artifact(ProductId=small[1], Parameters={"Name": "v2", **artifact})
    with pytest.raises(ClientError) as lowered:
        small[0].create_provisioning_artifact(ProductId=small[1], Parameters={"Name": "v3", **artifact})
    assert error_of(lowered)[:2] == ("LimitExceededException", 400)
    for bad in ({"max_provisioning_artifacts": 0}, {"max_products_per_portfolio": "many"}):
        with pytest.raises((FaultError, urllib.error.HTTPError)):
            aws.handle.set_faults(**bad)

    portfolio_id = portfolio(sc, "full")
    for product in (product_id, small[1]):
        sc.associate_product_with_portfolio(ProductId=product, PortfolioId=portfolio_id)
    third = make_product(aws, LIGHT_TEMPLATE, launch_path=False)[1]
    with pytest.raises(ClientError) as full:
        sc.associate_product_with_portfolio(ProductId=third, PortfolioId=portfolio_id)
    assert error_of(full)[:2] == ("LimitExceededException", 400)

    for artifact_id in ids:
        sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=artifact_id)
    last = sc.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
    with pytest.raises(ClientError) as keep_one:
        sc.delete_provisioning_artifact(ProductId=product_id, ProvisioningArtifactId=last[0]["Id"])
    assert error_of(keep_one)[:2] == ("InvalidParametersException", 400)


def test_search_and_scan_page_sizes_and_access_levels(aws):
    sc, product_id, v1, _bucket = make_product(aws)
    mine = aws.unique("mine")
    provision(sc, product_id, v1, mine)
    # Another principal of the same account: an IAM user with keys of its own.
    iam = aws.client("iam")
    user = aws.unique("other")
    iam.create_user(UserName=user)
    keys = iam.create_access_key(UserName=user)["AccessKey"]
    other = boto3.session.Session(aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"], region_name="us-east-1")
    other_sc = other.client("servicecatalog", endpoint_url=aws.handle.endpoint_url)
    assert caller_arn(other_sc) != caller_arn(sc)
    grant_launch_path(other_sc, product_id)
    theirs = aws.unique("theirs")
    provision(other_sc, product_id, v1, theirs)

    def names(answer: dict) -> set:
        return {p["Name"] for p in answer["ProvisionedProducts"]} & {mine, theirs}

    account = {"Key": "Account", "Value": "self"}
    assert names(sc.scan_provisioned_products()) == {mine}  # default access level User
    assert names(other_sc.scan_provisioned_products()) == {theirs}
    assert names(sc.scan_provisioned_products(AccessLevelFilter=account)) == {mine, theirs}
    assert names(sc.search_provisioned_products()) == {mine, theirs}  # default access level Account
    assert names(sc.search_provisioned_products(AccessLevelFilter={"Key": "User", "Value": "self"})) == {mine}
    rows = {p["Name"]: p for p in sc.search_provisioned_products()["ProvisionedProducts"]}
    assert rows[mine]["UserArnSession"] == caller_arn(sc) and rows[theirs]["UserArnSession"] == caller_arn(other_sc)
    with pytest.raises(ClientError) as bad_level:
        sc.scan_provisioned_products(AccessLevelFilter={"Key": "Everyone", "Value": "self"})
    assert error_of(bad_level)[:2] == ("InvalidParametersException", 400)

    assert names(sc.search_provisioned_products(PageSize=100)) == {mine, theirs}
    assert names(sc.scan_provisioned_products(PageSize=20)) == {mine}
    for call, limit in ((lambda: sc.search_provisioned_products(PageSize=101), 100), (lambda: sc.scan_provisioned_products(PageSize=21), 20)):
        with pytest.raises(ClientError) as too_big:
            call()
        size = limit + 1
        message = (f"1 validation error detected: Value '{size}' at 'pageSize' failed to satisfy constraint: "
                   f"Member must have value less than or equal to {limit}")
        assert error_of(too_big) == ("ValidationException", 400, message)
