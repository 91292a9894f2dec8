# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Service Catalog product a stage owns, so that one stage never touches another stage's product.

Two things together (docs/project-layout.md, "Stages own their products"):

* **Names**: a product definition ``products/<product>.yml`` is the Service Catalog product
  ``<product>-<stage>`` in each stage, unless ``stages.<stage>.product_names`` in ``project.yml`` names it
  explicitly. ``deploy_plan`` refuses two stages that would share a name in one account and region.
* **A tag**: every product the collection creates carries ``multiregion:stage=<stage>``, and a product found
  by name is used only when it carries its stage's tag. A product without it (made by hand, or before this
  rule) or with another stage's tag is refused with the one command that adopts it explicitly; a name that
  matches two products is refused too. Nothing is renamed or re-tagged silently.

``ProductDirectory`` is the one product lookup (by exact name or ``prod-`` id) of the catalog, validate and
rollout phases. It goes through the Service Catalog access layer (``aws_api.ServiceCatalogApi``): the region's
products are listed once per module call with botocore's ``SearchProductsAsAdmin`` paginator.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

STAGE_TAG_KEY = "multiregion:stage"
# What a Service Catalog product name may be here: it is also a level of the stage's SSM parameter names
# (<ssm_prefix>/products/<name>/latest-artifact-id), and SSM allows only these characters.
CATALOG_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
PRODUCT_ID_PATTERN = re.compile(r"^prod-[a-z0-9]{6,}$")
ADMIN_SEARCH_PAGE_SIZE = 20  # the largest SearchProductsAsAdmin accepts (botocore's model; AWS refuses more)


class OwnershipError(ValueError):
    """A product the stage does not own, or a name that does not find exactly one product; one line."""


def catalog_product_name(product: str, stage: str, overrides: Optional[Mapping[str, str]] = None) -> str:
    """The Service Catalog name of the product definition ``product`` in ``stage``: the override, else ``<product>-<stage>``."""
    return (overrides or {}).get(product) or f"{product}-{stage}"


def stage_tags(stage: Optional[str], extra: Optional[Mapping[str, Any]] = None) -> List[Dict[str, str]]:
    """The tags of a product the collection creates: ``extra`` plus the stage's ownership tag (which wins)."""
    tags = {str(key): str(value) for key, value in (extra or {}).items()}
    if stage:
        tags[STAGE_TAG_KEY] = stage
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def owner_stage(tags: Optional[Sequence[Mapping[str, Any]]]) -> Optional[str]:
    """The stage a product's tags name as its owner, None when they name none."""
    for tag in tags or []:
        if tag.get("Key") == STAGE_TAG_KEY:
            return str(tag.get("Value"))
    return None


def adopt_command(product_id: str, stage: str, region: str) -> str:
    return f"aws servicecatalog update-product --id {product_id} --add-tags Key={STAGE_TAG_KEY},Value={stage} --region {region}"


def check_owner(answer: Mapping[str, Any], stage: Optional[str], region: str) -> None:
    """Refuse a DescribeProductAsAdmin ``answer`` whose product ``stage`` does not own (no check without a stage)."""
    if not stage:
        return
    summary = answer["ProductViewDetail"]["ProductViewSummary"]
    name, product_id = summary.get("Name"), summary["ProductId"]
    owner = owner_stage(answer.get("Tags"))
    if owner == stage:
        return
    if owner is None:
        raise OwnershipError(
            f"Service Catalog product '{name}' ({product_id}) in {region} belongs to no stage (no {STAGE_TAG_KEY} tag); "
            f"if stage '{stage}' is to manage it, adopt it explicitly: {adopt_command(product_id, stage, region)}"
        )
    raise OwnershipError(
        f"Service Catalog product '{name}' ({product_id}) in {region} is owned by stage '{owner}', not '{stage}'; a stage never "
        f"touches another stage's product: give stage '{stage}' its own name (stages.{stage}.product_names in project.yml), or move "
        f"the product explicitly: {adopt_command(product_id, stage, region)}"
    )


def matching_products(rows: Sequence[Mapping[str, Any]], name: str) -> List[Mapping[str, Any]]:
    """The ProductViewSummary of every SearchProductsAsAdmin row named exactly ``name`` (the search itself matches words)."""
    summaries = [row.get("ProductViewSummary") or {} for row in rows]
    return [summary for summary in summaries if summary.get("Name") == name]


class ProductDirectory:
    """Finds products of one region by exact name or id, listing the region's products once per module call.

    ``api`` is an ``aws_api.ServiceCatalogApi`` (its ``paginate`` and ``call``).
    """

    def __init__(self, api: Any) -> None:
        self.api = api
        self.region = api.region or ""
        self._rows: Optional[List[Mapping[str, Any]]] = None

    def _all_rows(self) -> List[Mapping[str, Any]]:
        if self._rows is None:
            listing = self.api.paginate(
                "SearchProductsAsAdmin", f"products of {self.region}", SortBy="Title", PaginationConfig={"PageSize": ADMIN_SEARCH_PAGE_SIZE}
            )
            self._rows = list(listing.get("ProductViewDetails") or [])
        return self._rows

    def forget(self) -> None:
        """Drop the listing (after this call created a product)."""
        self._rows = None

    def describe(self, wanted: str, stage: Optional[str]) -> Optional[Mapping[str, Any]]:
        """DescribeProductAsAdmin of the product named (or with the id) ``wanted`` that ``stage`` owns; None when none exists.

        Raises OwnershipError when the name matches several products or the product is not the stage's.
        """
        if PRODUCT_ID_PATTERN.match(wanted):
            product_id = wanted
        else:
            found = matching_products(self._all_rows(), wanted)
            if not found:
                return None
            if len(found) > 1:
                ids = sorted(str(summary.get("ProductId")) for summary in found)
                raise OwnershipError(
                    f"{len(found)} Service Catalog products in {self.region} are named '{wanted}' ({', '.join(ids)}), so the name does "
                    f"not say which one is meant; rename every one but the one to keep, e.g. aws servicecatalog update-product "
                    f"--id {ids[-1]} --name {wanted}-retired --region {self.region}"
                )
            product_id = str(found[0]["ProductId"])
        answer = self.api.call("DescribeProductAsAdmin", f"product {wanted}", missing_ok=True, Id=product_id)
        if answer is None:
            return None
        check_owner(answer, stage, self.region)
        return answer
