# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Portfolios and launch paths: what makes a product provisionable by a principal on AWS.

On AWS a principal provisions or updates a product only through a *launch path*: a portfolio that holds the product
and that the principal is associated with. With several paths the request must name one (``PathId``).

* ``PortfolioSpec`` - a stage's portfolio (``project.yml`` ``stages.<stage>.portfolio``): its name, the principals to
  associate (the deploying principal when none is named) and an optional launch-constraint role.
* ``PortfolioSync`` - the catalog phase's step after versioning: the portfolio exists (created when allowed), its
  principals are associated, the stage's products are in it and under its launch constraint. Reads first; writes
  only what is missing; in check mode writes nothing and lists what it would do.
* ``choose_launch_path`` / ``launch_path_id`` - the path a rollout or a validation uses: the only one, else the
  stage's portfolio's; a one-line ``LaunchPathError`` when the principal has none or the choice is ambiguous.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import STAGE_TAG_KEY

_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]+)/[^/]+$")
LAUNCH_PATH_PAGE_SIZE = 20  # the most ListLaunchPaths returns
_TOKEN_NAMESPACE = uuid.UUID("0f4c7a52-3d1e-4b8e-9a61-2c5d9e7b1a30")


class LaunchPathError(ValueError):
    """No launch path, or no way to pick one; the message is one line that says what to change."""


@dataclass(frozen=True)
class PortfolioSpec:
    name: str
    principals: Tuple[str, ...] = ()
    launch_role: Optional[str] = None
    provider: str = "multiregion.serverless"

    @classmethod
    def from_param(cls, value: Optional[Mapping[str, Any]]) -> Optional["PortfolioSpec"]:
        if not value or not value.get("name"):
            return None
        return cls(name=str(value["name"]), principals=tuple(value.get("principals") or ()), launch_role=value.get("launch_role") or None)


def iam_principal(caller_arn: str) -> str:
    """The IAM ARN a portfolio is associated with for ``caller_arn`` (STS GetCallerIdentity): an assumed role's
    session ARN becomes its role's ARN; a user's ARN is itself."""
    assumed = _ASSUMED_ROLE.match(caller_arn)
    if assumed:
        return f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}"
    return caller_arn


def token(*parts: str) -> str:
    """A stable idempotency token for one write (a retried run sends the same one)."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, "\x1f".join(parts)))


def choose_launch_path(paths: Sequence[Mapping[str, Any]], product: str, region: str, portfolio: Optional[str] = None) -> str:
    """The ``PathId`` to provision or update ``product`` with: the only path, else the one through ``portfolio``."""
    if not paths:
        where = f" (the stage's portfolio {portfolio})" if portfolio else ""
        raise LaunchPathError(
            f"product {product} has no launch path in {region} for the deploying principal: associate that principal with a portfolio "
            f"holding the product{where}; nothing was changed"
        )
    if len(paths) == 1:
        return str(paths[0]["Id"])
    through = [path for path in paths if portfolio and path.get("Name") == portfolio]
    if len(through) == 1:
        return str(through[0]["Id"])
    names = ", ".join(f"{path.get('Name')} ({path.get('Id')})" for path in paths)
    hint = f"none or several are the stage's portfolio {portfolio}" if portfolio else "set the stage's portfolio in project.yml to pick one"
    raise LaunchPathError(f"product {product} has {len(paths)} launch paths in {region} ({names}): {hint}; nothing was changed")


def launch_path_id(catalog: Any, product_id: str, product: str, portfolio: Optional[str] = None) -> str:
    """ListLaunchPaths of ``product_id`` (``catalog`` an ``aws_api.ServiceCatalogApi``), then ``choose_launch_path``."""
    # AWS answers ResourceNotFoundException ("No launch paths found for resource") when the caller has none.
    _first, paths = catalog.token_pages("ListLaunchPaths", f"launch paths of product {product}", "LaunchPathSummaries", missing_ok=True,
                                        ProductId=product_id, PageSize=LAUNCH_PATH_PAGE_SIZE)
    return choose_launch_path(paths, product, catalog.region or "", portfolio)


class PortfolioSync:
    """One region's portfolio step; ``apis`` is an ``aws_api.AwsApis`` (Service Catalog and STS)."""

    def __init__(self, apis: Any, spec: PortfolioSpec, stage: Optional[str], create: bool, check_mode: bool) -> None:
        self.apis = apis
        self.catalog = apis.servicecatalog
        self.spec = spec
        self.stage = stage
        self.create = create
        self.check_mode = check_mode
        self.changes: List[str] = []

    def _write(self, change: str, operation: str, **kwargs: Any) -> Any:
        self.changes.append(change)
        if self.check_mode:
            return None
        return self.catalog.call(operation, f"portfolio {self.spec.name}", **kwargs)

    def find(self) -> Optional[str]:
        listing = self.catalog.paginate("ListPortfolios", f"portfolios of {self.catalog.region}")
        found = [item for item in listing.get("PortfolioDetails") or [] if item.get("DisplayName") == self.spec.name]
        if len(found) > 1:
            ids = ", ".join(str(item.get("Id")) for item in found)
            raise LaunchPathError(f"portfolio name {self.spec.name} matches {len(found)} portfolios in {self.catalog.region} ({ids}): rename all but one")
        return str(found[0]["Id"]) if found else None

    def ensure_portfolio(self) -> Optional[str]:
        portfolio_id = self.find()
        if portfolio_id:
            return portfolio_id
        if not self.create:
            raise LaunchPathError(
                f"portfolio {self.spec.name} does not exist in {self.catalog.region}: create it, or run with create_missing_products=true "
                "to let the catalog phase create it; nothing was changed"
            )
        tags = [{"Key": STAGE_TAG_KEY, "Value": self.stage}] if self.stage else []
        answer = self._write(f"create portfolio {self.spec.name}", "CreatePortfolio", DisplayName=self.spec.name, ProviderName=self.spec.provider,
                             Tags=tags, IdempotencyToken=token("portfolio", self.catalog.region or "", self.spec.name))
        return str(answer["PortfolioDetail"]["Id"]) if answer else None

    def principals(self) -> Tuple[str, ...]:
        if self.spec.principals:
            return self.spec.principals
        caller = self.apis.sts.call("GetCallerIdentity", "the deploying principal")
        return (iam_principal(str(caller["Arn"])),)

    def sync(self, product_ids: Mapping[str, Optional[str]]) -> Dict[str, Any]:
        """Portfolio, principals, products, launch constraints; ``product_ids`` maps product names to ids (None: not created yet)."""
        portfolio_id = self.ensure_portfolio()
        associated = set()
        in_portfolio = set()
        constrained = set()
        if portfolio_id:
            listing = self.catalog.paginate("ListPrincipalsForPortfolio", f"portfolio {self.spec.name}", PortfolioId=portfolio_id)
            associated = {item.get("PrincipalARN") for item in listing.get("Principals") or []}
            products = self.catalog.paginate("SearchProductsAsAdmin", f"portfolio {self.spec.name}", PortfolioId=portfolio_id)
            in_portfolio = {(row.get("ProductViewSummary") or {}).get("ProductId") for row in products.get("ProductViewDetails") or []}
            if self.spec.launch_role:
                constraints = self.catalog.paginate("ListConstraintsForPortfolio", f"portfolio {self.spec.name}", PortfolioId=portfolio_id)
                constrained = {item.get("ProductId") for item in constraints.get("ConstraintDetails") or [] if item.get("Type") == "LAUNCH"}
        for principal in self.principals():
            if principal not in associated:
                self._write(f"associate {principal}", "AssociatePrincipalWithPortfolio", PortfolioId=portfolio_id, PrincipalARN=principal,
                            PrincipalType="IAM")
        for name, product_id in sorted(product_ids.items()):
            if product_id is None or product_id not in in_portfolio:
                self._write(f"add product {name}", "AssociateProductWithPortfolio", ProductId=product_id, PortfolioId=portfolio_id)
            if self.spec.launch_role and (product_id is None or product_id not in constrained):
                self._write(f"launch constraint on {name}: {self.spec.launch_role}", "CreateConstraint", PortfolioId=portfolio_id, ProductId=product_id,
                            Type="LAUNCH", Parameters=json.dumps({"RoleArn": self.spec.launch_role}),
                            IdempotencyToken=token("constraint", self.catalog.region or "", str(portfolio_id), str(product_id)))
        return {"name": self.spec.name, "id": portfolio_id, "changed": bool(self.changes), "changes": self.changes}
