"""Launch paths and portfolios: the pure choices (which path, which principal) and the portfolio step against the
local AWS (portfolio, principals, products and launch constraints made once; a second run writes nothing)."""
from __future__ import annotations

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.portfolio import (
    LaunchPathError,
    PortfolioSpec,
    choose_launch_path,
    iam_principal,
)

PATHS = [{"Id": "lpv3-aaaa", "Name": "multiregion-dev"}, {"Id": "lpv3-bbbb", "Name": "shared-platform"}]


def test_the_only_path_is_taken_whatever_the_portfolio():
    assert choose_launch_path(PATHS[:1], "platform-core-dev", "us-east-1", "another") == "lpv3-aaaa"


def test_with_several_paths_the_stages_portfolio_picks_one():
    assert choose_launch_path(PATHS, "platform-core-dev", "us-east-1", "shared-platform") == "lpv3-bbbb"


@pytest.mark.parametrize("paths, portfolio, message", [
    ([], "multiregion-dev", "product platform-core-dev has no launch path in us-east-1 for the deploying principal: associate that principal "
                            "with a portfolio holding the product (the stage's portfolio multiregion-dev)"),
    (PATHS, None, "product platform-core-dev has 2 launch paths in us-east-1 (multiregion-dev (lpv3-aaaa), shared-platform (lpv3-bbbb)): "
                  "set the stage's portfolio in project.yml to pick one"),
    (PATHS, "unknown", "none or several are the stage's portfolio unknown"),
    (PATHS + [{"Id": "lpv3-cccc", "Name": "shared-platform"}], "shared-platform", "has 3 launch paths"),
])
def test_no_path_or_no_way_to_choose_is_one_line(paths, portfolio, message):
    with pytest.raises(LaunchPathError) as refused:
        choose_launch_path(paths, "platform-core-dev", "us-east-1", portfolio)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_an_assumed_role_is_associated_as_its_role():
    assert iam_principal("arn:aws:sts::123456789012:assumed-role/Deployer/awx-job-42") == "arn:aws:iam::123456789012:role/Deployer"
    assert iam_principal("arn:aws-us-gov:sts::123456789012:assumed-role/Deployer/s") == "arn:aws-us-gov:iam::123456789012:role/Deployer"
    assert iam_principal("arn:aws:iam::123456789012:user/alice") == "arn:aws:iam::123456789012:user/alice"


def test_the_spec_comes_from_the_module_option():
    assert PortfolioSpec.from_param(None) is None
    assert PortfolioSpec.from_param({"name": "multiregion-dev", "principals": [], "launch_role": None}) == PortfolioSpec("multiregion-dev")


# ---- the portfolio step and the launch path against the local AWS (in-process)

from catalog_seed import REGION, client, seed_product  # noqa: E402  (the seeding helpers of this folder)

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis  # noqa: E402
from ansible_collections.multiregion.serverless.plugins.module_utils.portfolio import PortfolioSync, launch_path_id  # noqa: E402

LAUNCH_ROLE = "arn:aws:iam::123456789012:role/TenantStackLaunch"


def writes(aws_mock) -> dict:
    return {f"{service}:{operation}": count for service, operations in aws_mock.calls().items() for operation, count in operations.items()
            if count and not operation.startswith(("Describe", "Get", "List", "Search", "Scan"))}


def test_a_new_stage_portfolio_is_made_once_and_gives_the_deployer_its_launch_path(aws_mock):
    seeded = seed_product(aws_mock, "core-portfolio")
    apis = AwsApis(lambda service: client(aws_mock, service), REGION)
    spec = PortfolioSpec("multiregion-dev", launch_role=LAUNCH_ROLE)

    with pytest.raises(LaunchPathError, match="portfolio multiregion-dev does not exist in eu-west-1: create it, or run with create_missing_products=true"):
        PortfolioSync(apis, spec, "dev", create=False, check_mode=False).sync({seeded.product: seeded.product_id})
    aws_mock.reset_calls()
    planned = PortfolioSync(apis, spec, "dev", create=True, check_mode=True).sync({seeded.product: seeded.product_id})
    assert planned["changed"] and writes(aws_mock) == {}  # check mode: said, not done
    assert planned["changes"][0] == "create portfolio multiregion-dev"

    made = PortfolioSync(apis, spec, "dev", create=True, check_mode=False).sync({seeded.product: seeded.product_id})
    assert made["changes"] == planned["changes"]  # check mode predicted exactly what the run did
    assert writes(aws_mock) == {"servicecatalog:CreatePortfolio": 1, "servicecatalog:AssociatePrincipalWithPortfolio": 1,
                                "servicecatalog:AssociateProductWithPortfolio": 1, "servicecatalog:CreateConstraint": 1}
    catalog = apis.servicecatalog
    assert launch_path_id(catalog, seeded.product_id, seeded.product, "multiregion-dev")  # the deployer now has a path
    constraints = client(aws_mock, "servicecatalog").list_constraints_for_portfolio(PortfolioId=made["id"])["ConstraintDetails"]
    assert [(c["Type"], c["ProductId"]) for c in constraints] == [("LAUNCH", seeded.product_id)]

    aws_mock.reset_calls()
    again = PortfolioSync(apis, spec, "dev", create=True, check_mode=False).sync({seeded.product: seeded.product_id})
    assert again == {"name": "multiregion-dev", "id": made["id"], "changed": False, "changes": []}
    assert writes(aws_mock) == {}
