# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Versioning one product or every product of a region: the service behind ``catalog_artifact_version``.

``version_products(apis, params, ...)`` turns the module's options into ``CatalogRequest``s (one per entry of
``products``, each entry's own options over the shared ones) and runs them with ``CatalogVersioner``:

* one product (``product``): its result, or a failure naming the product;
* several (``products``): every entry checked and every product found (and its owner checked) before any is
  touched, then every product read and decided (``CatalogVersioner.prepare``): one over its version quota refuses
  the whole call before any write; then each product in turn, a failing one not stopping the others; one result
  per entry, and a failure naming every product that failed;
* with ``portfolio``, then the stage's products in the stage's portfolio (``portfolio.PortfolioSync``).

All products of a call share one ``AwsApis`` (one client per service) and one product listing.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog import CatalogError
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog_versioner import CatalogRequest, CatalogVersioner, VersionQuotaError
from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import TemplateError
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import latest_id_parameter
from ansible_collections.multiregion.serverless.plugins.module_utils.portfolio import LaunchPathError, PortfolioSpec, PortfolioSync

# The options of one entry of ``products`` (each as the module option of the same name).
PER_PRODUCT_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    product=dict(type="str", required=True),
    template_url=dict(type="str", required=True),
    template_fingerprint=dict(type="str"),
    ssm_parameter=dict(type="str"),
    version_counter_parameter=dict(type="str"),
    product_owner=dict(type="str"),
    product_description=dict(type="str"),
    product_distributor=dict(type="str"),
    product_support_email=dict(type="str"),
)
# With products, these come from each entry (local template files are for a single product only).
PER_PRODUCT_ONLY = tuple(PER_PRODUCT_OPTIONS) + ("template_path", "template_bucket", "template_key_prefix")


def catalog_request(params: Mapping[str, Any], entry: Mapping[str, Any], region: str, check_mode: bool, diff: bool) -> CatalogRequest:
    """The request of one product: ``entry`` (a product's own options) over the module's shared options."""
    merged = dict(params, **{key: value for key, value in entry.items() if value is not None})
    ssm_parameter = merged["ssm_parameter"] or (latest_id_parameter(merged["ssm_prefix"], merged["product"]) if merged["ssm_prefix"] else "")
    return CatalogRequest(
        product=merged["product"],
        ssm_parameter=ssm_parameter,
        region=region,
        template_path=merged["template_path"],
        template_url=merged["template_url"],
        template_fingerprint=merged["template_fingerprint"],
        template_bucket=merged["template_bucket"],
        template_key_prefix=merged["template_key_prefix"],
        expected_bucket_owner=merged["expected_bucket_owner"],
        version_scheme=merged["version_scheme"],
        version_counter_parameter=merged["version_counter_parameter"],
        description=merged["description"],
        guidance=merged["guidance"],
        create_missing_product=merged["create_missing_product"],
        product_owner=merged["product_owner"],
        product_description=merged["product_description"],
        product_distributor=merged["product_distributor"],
        product_support_email=merged["product_support_email"],
        product_tags=merged["product_tags"] or {},
        local_copies=params.get("template_local_copies") or {},
        stage=merged["stage"],
        keep_active_versions=merged["keep_active_versions"],
        version_limit=merged["version_limit"],
        prune_versions=merged["prune_versions"],
        check_mode=check_mode,
        diff=diff,
        diff_limit=merged["diff_max_chars"],
    )


def version_products(
    apis: AwsApis, params: Mapping[str, Any], check_mode: bool = False, diff: bool = False, warn: Callable[[str], None] = lambda message: None
) -> Dict[str, Any]:
    """The module result of ``params`` (``product`` or ``products``); ServiceFailure or AwsApiError on failure."""
    region = apis.region or ""

    def versioner(entry: Mapping[str, Any], directory: Optional[Any] = None) -> CatalogVersioner:
        return CatalogVersioner(catalog_request(params, entry, region, check_mode, diff), apis, warn, directory)

    if params["products"] is not None:
        outcome = version_many(params["products"], versioner, region, diff)
        results = outcome["products"]
    else:
        outcome = version_one(params, versioner, region)
        results = [outcome]
    spec = PortfolioSpec.from_param(params.get("portfolio"))
    if spec:
        outcome["portfolio"] = sync_portfolio(apis, spec, params, results, check_mode)
        outcome["changed"] = outcome["changed"] or outcome["portfolio"]["changed"]
    return outcome


def sync_portfolio(apis: AwsApis, spec: PortfolioSpec, params: Mapping[str, Any], results: List[Mapping[str, Any]], check_mode: bool) -> Dict[str, Any]:
    """After the versions: the stage's products in its portfolio (portfolio.PortfolioSync); ServiceFailure in one line."""
    product_ids = {str(result["product_name"]): result.get("product_id") for result in results}
    create = bool(params["create_missing_product"])
    try:
        return PortfolioSync(apis, spec, params["stage"], create, check_mode).sync(product_ids)
    except LaunchPathError as exc:
        raise ServiceFailure(str(exc), changed=any(result.get("changed") for result in results), products=results) from None


def version_one(params: Mapping[str, Any], versioner: Callable[..., CatalogVersioner], region: str) -> Dict[str, Any]:
    if not (params["ssm_parameter"] or params["ssm_prefix"]):
        raise ServiceFailure("one of the following is required: ssm_parameter, ssm_prefix (with product)")
    if not (params["template_url"] or params["template_path"]):
        raise ServiceFailure("one of the following is required: template_url, template_path (with product)")
    result = dict(changed=False, product_name=params["product"], ssm_parameter=params["ssm_parameter"])
    try:
        return versioner({}).run()
    except VersionQuotaError as exc:
        raise ServiceFailure(f"{params['product']} in {region}: {exc}; nothing was written", **result) from None
    except (CatalogError, TemplateError) as exc:
        raise ServiceFailure(f"{params['product']} in {region}: {exc}", **result) from None
    except AwsApiError as exc:
        exc.kwargs.update(result)
        raise


def refused_by_quota(entries: List[Mapping[str, Any]], versioners: List[CatalogVersioner], region: str) -> List[str]:
    """Every product's reads and decisions before any write (``CatalogVersioner.prepare``): the refusals of those over
    their version quota, one line each. Any other failure is the product's own and is reported by its run."""
    refusals: List[str] = []
    for entry, each in zip(entries, versioners):
        try:
            each.prepare()
        except VersionQuotaError as exc:
            refusals.append(f"{entry['product']} in {region}: {exc}")
        except (CatalogError, TemplateError, AwsApiError):
            continue
    return refusals


def version_many(entries: List[Mapping[str, Any]], versioner: Callable[..., CatalogVersioner], region: str, diff: bool) -> Dict[str, Any]:
    versioners: List[CatalogVersioner] = []
    directory = None
    entry: Mapping[str, Any] = {}
    try:  # every entry is checked, and every product found and its owner checked, before any product is touched
        for entry in entries:
            versioners.append(versioner(entry, directory))
            directory = versioners[-1].directory
        for entry, checked in zip(entries, versioners):
            checked.find_product()
    except (CatalogError, TemplateError) as exc:
        raise ServiceFailure(f"{entry['product']} in {region}: {exc}; nothing was written", changed=False, products=[]) from None
    except AwsApiError as exc:
        exc.kwargs.update(changed=False, products=[])
        raise
    refusals = refused_by_quota(entries, versioners, region)
    if refusals:
        raise ServiceFailure(f"{len(refusals)} of {len(entries)} product(s) refused, nothing was written: " + "; ".join(refusals), changed=False, products=[])
    results: List[Dict[str, Any]] = []
    failures: List[str] = []
    for entry, each in zip(entries, versioners):
        message = None
        try:
            results.append(each.run())
        except (CatalogError, TemplateError) as exc:
            message = f"{entry['product']} in {region}: {exc}"
        except AwsApiError as exc:
            message = f"{entry['product']}: {exc}"
        if message:
            failures.append(message)
            results.append(dict(product_name=entry["product"], changed=False, failed=True, msg=message))
    outcome: Dict[str, Any] = dict(changed=any(result.get("changed") for result in results), products=results)
    if diff:  # each side's header names its product
        outcome["diff"] = [
            dict(
                result["diff"],
                before_header=f"{result['product_name']} {result['diff']['before_header']}",
                after_header=f"{result['product_name']} {result['diff']['after_header']}",
            )
            for result in results
            if "diff" in result
        ]
    if failures:
        raise ServiceFailure(f"{len(failures)} of {len(entries)} product(s) failed: " + "; ".join(failures), **outcome)
    return outcome
