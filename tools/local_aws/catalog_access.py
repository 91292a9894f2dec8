"""Client side: give the caller a launch path to a product, as an administrator does on AWS before anyone can
provision it (a portfolio holding the product, with the caller's principal associated).

Used by the tests' and benchmarks' seeding, which provision tenants directly with boto3; plain boto3 only, so
it works against AWS as well as against the local AWS.
"""
from __future__ import annotations

from typing import Any, Optional

import boto3

LAUNCH_PORTFOLIO_PROVIDER = "local-aws-seed"


def caller_arn(catalog: Any) -> str:
    """The ARN STS GetCallerIdentity answers for ``catalog``'s credentials (at its endpoint, if a local one)."""
    credentials = catalog._request_signer._credentials.get_frozen_credentials()
    endpoint = catalog.meta.endpoint_url
    sts = boto3.session.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        region_name=catalog.meta.region_name,
    ).client("sts", endpoint_url=None if "amazonaws.com" in endpoint else endpoint)
    return sts.get_caller_identity()["Arn"]


def grant_launch_path(catalog: Any, product_id: str, principal_arn: Optional[str] = None, portfolio_name: Optional[str] = None) -> str:
    """Put ``product_id`` into a portfolio and associate ``principal_arn`` (default: the caller of ``catalog``)
    with it; returns the launch path through that portfolio (the ``PathId`` to provision with: once the product is in
    a second portfolio of the caller, AWS requires one). Idempotent: the same product gets the same portfolio
    (``portfolio_name``, default ``<product id>-launch``) on every call."""
    name = portfolio_name or f"{product_id}-launch"
    portfolio = catalog.create_portfolio(DisplayName=name, ProviderName=LAUNCH_PORTFOLIO_PROVIDER, IdempotencyToken=f"launch-{name}")
    portfolio_id = portfolio["PortfolioDetail"]["Id"]
    catalog.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio_id)
    catalog.associate_principal_with_portfolio(
        PortfolioId=portfolio_id, PrincipalARN=principal_arn or caller_arn(catalog), PrincipalType="IAM"
    )
    paths = catalog.list_launch_paths(ProductId=product_id)["LaunchPathSummaries"]
    return next(path["Id"] for path in paths if path["Name"] == name)
