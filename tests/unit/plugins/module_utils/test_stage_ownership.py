"""Which product a stage owns: names, the ownership tag, and the lookup that refuses anything else.

The lookup runs against the in-process local AWS (``aws_mock``) through the access layer over plain boto3, so the
products it has to tell apart are real Service Catalog products made the way a person or another stage would make them.
"""
from __future__ import annotations

import json

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import ServiceCatalogApi
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import (
    STAGE_TAG_KEY,
    OwnershipError,
    ProductDirectory,
    catalog_product_name,
    owner_stage,
    stage_tags,
)

REGION = "eu-west-1"
TEMPLATE_URL = f"https://owner-templates.s3.{REGION}.amazonaws.com/t.json"


def test_names_are_scoped_by_stage_unless_overridden():
    assert catalog_product_name("platform-core", "dev") == "platform-core-dev"
    assert catalog_product_name("platform-core", "prod", {"platform-core": "platform-core"}) == "platform-core"
    assert catalog_product_name("tenant-analytics", "prod", {"platform-core": "core"}) == "tenant-analytics-prod"


def test_the_stage_tag_wins_over_a_product_tag_of_the_same_key():
    tags = stage_tags("qa", {STAGE_TAG_KEY: "dev", "team": "platform"})
    assert tags == [{"Key": STAGE_TAG_KEY, "Value": "qa"}, {"Key": "team", "Value": "platform"}]
    assert owner_stage(tags) == "qa"
    assert owner_stage([{"Key": "team", "Value": "x"}]) is None
    assert stage_tags(None) == []


@pytest.fixture
def catalog(aws_mock):
    s3 = aws_mock.client("s3", REGION)
    s3.create_bucket(Bucket="owner-templates", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="owner-templates", Key="t.json", Body=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}).encode())
    return aws_mock.client("servicecatalog", REGION)


def make_product(client, name, tags=()):
    answer = client.create_product(
        Name=name, Owner="someone", ProductType="CLOUD_FORMATION_TEMPLATE", Tags=list(tags), IdempotencyToken=f"{name}-{len(tags)}-{id(tags)}",
        ProvisioningArtifactParameters={"Name": "V1", "Info": {"LoadTemplateFromURL": TEMPLATE_URL}, "Type": "CLOUD_FORMATION_TEMPLATE"},
    )
    return answer["ProductViewDetail"]["ProductViewSummary"]["ProductId"]


def directory(client, calls=None):
    """The lookup over the Service Catalog access layer; ``calls`` records each operation that reaches the wire."""
    if calls is not None:
        client.meta.events.register("before-call.servicecatalog.*", lambda model, **_kw: calls.append(model.name))
    return ProductDirectory(ServiceCatalogApi(client, REGION))


def test_a_stage_finds_only_its_own_product(catalog):
    dev = make_product(catalog, "platform-core-dev", [{"Key": STAGE_TAG_KEY, "Value": "dev"}])
    make_product(catalog, "platform-core-qa", [{"Key": STAGE_TAG_KEY, "Value": "qa"}])
    # Another product whose name contains the wanted one: the search matches words, the lookup exact names.
    make_product(catalog, "platform-core-dev-old", [{"Key": STAGE_TAG_KEY, "Value": "dev"}])
    found = directory(catalog).describe("platform-core-dev", "dev")
    assert found["ProductViewDetail"]["ProductViewSummary"]["ProductId"] == dev
    assert directory(catalog).describe("platform-core-prod", "prod") is None


def test_another_stages_product_is_refused_with_the_adopt_command(catalog):
    qa = make_product(catalog, "platform-core", [{"Key": STAGE_TAG_KEY, "Value": "qa"}])
    with pytest.raises(OwnershipError) as refused:
        directory(catalog).describe("platform-core", "dev")
    message = str(refused.value)
    assert "\n" not in message
    assert f"({qa}) in {REGION} is owned by stage 'qa', not 'dev'" in message
    assert f"aws servicecatalog update-product --id {qa} --add-tags Key={STAGE_TAG_KEY},Value=dev --region {REGION}" in message
    # By id as well: an id is no way around the owner.
    with pytest.raises(OwnershipError):
        directory(catalog).describe(qa, "dev")


def test_a_product_of_no_stage_is_refused_until_adopted_with_the_command_given(catalog):
    legacy = make_product(catalog, "platform-core")
    with pytest.raises(OwnershipError, match="belongs to no stage") as refused:
        directory(catalog).describe("platform-core", "prod")
    command = str(refused.value).split("adopt it explicitly: ", 1)[1]
    assert command.startswith("aws servicecatalog update-product")
    # What the command does, said through boto3: the product then belongs to prod.
    catalog.update_product(Id=legacy, AddTags=[{"Key": STAGE_TAG_KEY, "Value": "prod"}])
    assert directory(catalog).describe("platform-core", "prod")["ProductViewDetail"]["ProductViewSummary"]["ProductId"] == legacy
    # Without a stage (the module used on its own) nothing is checked.
    assert directory(catalog).describe("platform-core", None) is not None


def test_a_name_that_matches_two_products_is_refused(catalog):
    first = make_product(catalog, "shared", [{"Key": STAGE_TAG_KEY, "Value": "dev"}])
    second = make_product(catalog, "shared", [{"Key": STAGE_TAG_KEY, "Value": "dev"}])
    with pytest.raises(OwnershipError) as refused:
        directory(catalog).describe("shared", "dev")
    message = str(refused.value)
    assert f"2 Service Catalog products in {REGION} are named 'shared' ({', '.join(sorted([first, second]))})" in message
    assert "update-product --id" in message and "--name shared-retired" in message


def test_the_listing_is_read_once_per_directory_and_follows_pages(catalog):
    for index in range(25):  # more than one page of 20, the most SearchProductsAsAdmin returns
        make_product(catalog, f"p{index:03d}", [{"Key": STAGE_TAG_KEY, "Value": "dev"}])
    calls = []
    products = directory(catalog, calls)
    assert products.describe("p024", "dev") is not None
    assert products.describe("p000", "dev") is not None
    assert calls == ["SearchProductsAsAdmin", "SearchProductsAsAdmin", "DescribeProductAsAdmin", "DescribeProductAsAdmin"]


def test_an_id_that_names_no_product_finds_none_like_an_unknown_name(catalog):
    calls = []
    assert directory(catalog, calls).describe("prod-doesnotexist1", "dev") is None
    assert calls == ["DescribeProductAsAdmin"]  # an id needs no listing
