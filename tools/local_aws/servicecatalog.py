"""Service Catalog beyond moto's portfolios: products with provisioning artifacts, provisioned products
backed by real moto CloudFormation stacks, and records that complete lazily.

The backend methods take the request's parameters and return the response in the API's own shapes
(botocore's servicecatalog model), so the response class is a thin dispatcher and moto's model-driven
serializer renders them. State is per account and region in ``servicecatalog_backends`` (a moto
``BackendDict``), so moto's reset clears it.

Records: a ProvisionProduct / UpdateProvisionedProduct / TerminateProvisionedProduct starts a record that
stays IN_PROGRESS for the ``record_duration_s`` fault setting in force at the request. Nothing runs in the
background: whenever a read touches the provisioned product or the record (Describe*, Search*, Scan*, or the
next write) and the due time has passed, the record completes there and then, and the CloudFormation stack is
created, updated or deleted at that moment. 1,000 in-flight records therefore cost nothing until read.

Plans (CreateProvisionedProductPlan and friends): the change set is worked out when the plan is created
(``change_sets.py``: the provisioned product's current template and parameters against the artifact's) and shown
once the plan's due time passes, the same way. Nested stacks show as single ``AWS::CloudFormation::Stack``
resources, as in a change set made without ``IncludeNestedStacks`` (docs/local-aws.md "Provisioned product plans").
"""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import random
import re
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from moto.core.base_backend import BackendDict
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.servicecatalog.models import ServiceCatalogBackend
from moto.servicecatalog.responses import ServiceCatalogResponse

from local_aws.change_sets import ChangeSetFailed, StackState, change_set
from local_aws.faults import FAULTS
from local_aws.stack_updates import StackOperationFailed
from local_aws.templates import TemplateNotFound, fetch_template, parse_template

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_TAGS = 50  # tags per Service Catalog resource
IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"
PROVISION, UPDATE, TERMINATE = "PROVISION_PRODUCT", "UPDATE_PROVISIONED_PRODUCT", "TERMINATE_PROVISIONED_PRODUCT"
PLAN_IN_PROGRESS = "PLAN_IN_PROGRESS"  # a provisioned product that exists only in a plan to provision it
PLAN_CREATING, PLAN_CREATED, PLAN_FAILED = "CREATE_IN_PROGRESS", "CREATE_SUCCESS", "CREATE_FAILED"
PLANNABLE = ("AVAILABLE", "TAINTED")  # CreateProvisionedProductPlan: "the product status must be AVAILABLE or TAINTED"
CLOUDFORMATION_PRODUCT = "CLOUD_FORMATION_TEMPLATE"
Owned = TypeVar("Owned", "ProvisionedProduct", "ProvisionedProductPlan")


class ResourceNotFoundException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


class InvalidParametersException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParametersException", message)


class ResourceInUseException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ResourceInUseException", message)


class DuplicateResourceException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("DuplicateResourceException", message)


class LimitExceededException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


class ValidationException(JsonRESTError):
    """What AWS's request validation answers for a missing required member or an out-of-range number,
    before the operation runs (the same for every AWS JSON service)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


class InvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidStateException", message)


def new_id(prefix: str) -> str:
    """AWS-style ids: ``prod-``, ``pa-``, ``pp-``, ``rec-`` plus 13 lower-case letters and digits."""
    return prefix + "".join(random.choices(string.ascii_lowercase + string.digits, k=13))


def template_parameters(template: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    params = template.get("Parameters") or {}
    return {name: spec or {} for name, spec in params.items()}


def _default_of(spec: Dict[str, Any]) -> Optional[str]:
    default = spec.get("Default")
    if default is None:
        return None
    if isinstance(default, list):
        return ",".join(str(item) for item in default)
    return str(default)


def resolve_parameters(
    declared: Dict[str, Dict[str, Any]],
    given: List[Dict[str, Any]],
    previous: Optional[Dict[str, str]] = None,
) -> Dict[str, str]:
    """The stack parameters a provisioning or update would use.

    ``given`` is ProvisioningParameters (``Key``/``Value``, and on update ``UsePreviousValue``). A declared
    parameter that is not given takes its template Default, as CloudFormation does; with no default it is
    missing and the request fails. ``UsePreviousValue`` takes the provisioned product's current value.
    """
    resolved: Dict[str, str] = {}
    by_key = {}
    for item in given or []:
        key = item.get("Key")
        if key not in declared:
            if item.get("UsePreviousValue"):
                raise InvalidParametersException(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key "
                    "that the provisioning artifact's template does not declare"
                )
            raise InvalidParametersException(f"Parameter {key} is not defined in the provisioning artifact's template")
        by_key[key] = item
    for key, spec in declared.items():
        item = by_key.get(key)
        if item is not None and item.get("UsePreviousValue"):
            if previous is None or key not in previous:
                raise InvalidParametersException(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key "
                    "the provisioned product does not have"
                )
            value: Optional[str] = previous[key]
        elif item is not None and item.get("Value") is not None:
            value = str(item["Value"])
        else:
            value = _default_of(spec)
        if value is None:
            raise InvalidParametersException(f"Parameter {key} is required and has no value")
        allowed = spec.get("AllowedValues")
        if allowed and value not in [str(option) for option in allowed]:
            raise InvalidParametersException(f"Parameter {key} must be one of {allowed}, got {value!r}")
        resolved[key] = value
    return resolved


def page(items: List[Any], token: Optional[str], size: Optional[int]) -> Tuple[List[Any], Optional[str]]:
    """One page of ``items``: PageToken is the offset, as opaque to clients as AWS's."""
    size = DEFAULT_PAGE_SIZE if not size else int(size)
    if size < 0 or size > MAX_PAGE_SIZE:
        raise InvalidParametersException(f"PageSize must be between 0 and {MAX_PAGE_SIZE}")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise InvalidParametersException(f"Invalid PageToken {token}") from None
    chunk = items[start : start + size]
    following = start + size
    return chunk, (str(following) if following < len(items) else None)


@dataclass
class Artifact:
    id: str
    product_id: str
    name: str
    description: str
    template_url: str
    template_body: str
    template: Dict[str, Any]
    type: str = "CLOUD_FORMATION_TEMPLATE"
    active: bool = True
    guidance: str = "DEFAULT"
    created_time: Any = field(default_factory=utcnow)

    def detail(self) -> Dict[str, Any]:
        return {
            "Id": self.id,
            "Name": self.name,
            "Description": self.description,
            "Type": self.type,
            "CreatedTime": self.created_time,
            "Active": self.active,
            "Guidance": self.guidance,
        }

    def summary(self) -> Dict[str, Any]:
        return {"Id": self.id, "Name": self.name, "Description": self.description, "CreatedTime": self.created_time}

    def parameters_view(self) -> List[Dict[str, Any]]:
        view = []
        for key, spec in template_parameters(self.template).items():
            item: Dict[str, Any] = {
                "ParameterKey": key,
                "ParameterType": spec.get("Type", "String"),
                "IsNoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
                "Description": spec.get("Description", ""),
                "ParameterConstraints": {"AllowedValues": [str(v) for v in spec.get("AllowedValues", [])]},
            }
            default = _default_of(spec)
            if default is not None:
                item["DefaultValue"] = default
            view.append(item)
        return view


@dataclass
class CatalogProduct:
    id: str
    view_id: str
    arn: str
    name: str
    owner: str
    description: str
    distributor: str
    support_description: str
    support_email: str
    support_url: str
    product_type: str
    tags: List[Dict[str, str]]
    artifacts: Dict[str, Artifact] = field(default_factory=dict)
    created_time: Any = field(default_factory=utcnow)

    def summary(self) -> Dict[str, Any]:
        return {
            "Id": self.view_id,
            "ProductId": self.id,
            "Name": self.name,
            "Owner": self.owner,
            "ShortDescription": self.description,
            "Type": self.product_type,
            "Distributor": self.distributor,
            "HasDefaultPath": False,
            "SupportEmail": self.support_email,
            "SupportDescription": self.support_description,
            "SupportUrl": self.support_url,
        }

    def view_detail(self) -> Dict[str, Any]:
        return {
            "ProductViewSummary": self.summary(),
            "Status": "AVAILABLE",
            "ProductARN": self.arn,
            "CreatedTime": self.created_time,
        }


@dataclass
class Record:
    id: str
    record_type: str
    provisioned_product_id: str
    provisioned_product_name: str
    product_id: str
    artifact_id: str
    path_id: str
    parameters: Dict[str, str]
    due: float
    fail_reason: Optional[str]
    tags: List[Dict[str, str]]
    status: str = IN_PROGRESS
    role_arn: Optional[str] = None  # the launch constraint's role the stack is created/updated with
    errors: List[Dict[str, str]] = field(default_factory=list)
    outputs: List[Dict[str, str]] = field(default_factory=list)
    created_time: Any = field(default_factory=utcnow)
    updated_time: Any = field(default_factory=utcnow)

    def detail(self) -> Dict[str, Any]:
        return {
            "RecordId": self.id,
            "ProvisionedProductName": self.provisioned_product_name,
            "Status": self.status,
            "CreatedTime": self.created_time,
            "UpdatedTime": self.updated_time,
            "ProvisionedProductType": "CFN_STACK",
            "RecordType": self.record_type,
            "ProvisionedProductId": self.provisioned_product_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.artifact_id,
            "PathId": self.path_id,
            "RecordErrors": self.errors,
            "RecordTags": self.tags,
        }


@dataclass
class ProvisionedProduct:
    id: str
    name: str
    arn: str
    product_id: str
    artifact_id: str
    path_id: str
    idempotency_token: str
    tags: List[Dict[str, str]]
    stack_name: str
    user_arn: str = ""  # the principal that provisioned it (ScanProvisionedProducts' default access level User)
    parameters: Dict[str, str] = field(default_factory=dict)
    status: str = "UNDER_CHANGE"
    status_message: str = ""
    last_record_id: str = ""
    last_provisioning_record_id: str = ""
    last_successful_record_id: str = ""
    stack_id: str = ""
    created_time: Any = field(default_factory=utcnow)

    def detail(self) -> Dict[str, Any]:
        detail = {
            "Name": self.name,
            "Arn": self.arn,
            "Type": "CFN_STACK",
            "Id": self.id,
            "Status": self.status,
            "StatusMessage": self.status_message,
            "CreatedTime": self.created_time,
            "IdempotencyToken": self.idempotency_token,
            "LastRecordId": self.last_record_id,
            "LastProvisioningRecordId": self.last_provisioning_record_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.artifact_id,
        }
        if self.last_successful_record_id:
            detail["LastSuccessfulProvisioningRecordId"] = self.last_successful_record_id
        return detail


@dataclass
class ProvisionedProductPlan:
    """A plan: the CloudFormation change set of provisioning or updating a provisioned product, worked out when the
    plan is created and shown once its due time (``record_duration_s``) has passed, as records complete."""

    id: str
    name: str
    provisioned_product_id: str
    provisioned_product_name: str
    product_id: str
    artifact_id: str
    path_id: str
    provisioning_parameters: List[Dict[str, Any]]  # as given, UsePreviousValue included
    notification_arns: List[str]
    tags: List[Dict[str, str]]
    user_arn: str
    due: float
    outcome: str  # the status once due: CREATE_SUCCESS or CREATE_FAILED
    outcome_message: str
    resource_changes: List[Dict[str, Any]]
    provisions: bool  # a plan to provision a new product (its provisioned product is PLAN_IN_PROGRESS)
    status: str = PLAN_CREATING
    created_time: Any = field(default_factory=utcnow)
    updated_time: Any = field(default_factory=utcnow)

    def settle(self) -> None:
        if self.status == PLAN_CREATING and time.monotonic() >= self.due:
            self.status = self.outcome
            self.updated_time = utcnow()

    def summary(self) -> Dict[str, Any]:
        return {"PlanName": self.name, "PlanId": self.id, "ProvisionProductId": self.provisioned_product_id,
                "ProvisionProductName": self.provisioned_product_name, "PlanType": "CLOUDFORMATION", "ProvisioningArtifactId": self.artifact_id}

    def details(self) -> Dict[str, Any]:
        return self.summary() | {
            "CreatedTime": self.created_time, "UpdatedTime": self.updated_time, "PathId": self.path_id, "ProductId": self.product_id,
            "Status": self.status, "StatusMessage": self.outcome_message if self.status != PLAN_CREATING else "",
            "NotificationArns": self.notification_arns, "ProvisioningParameters": self.provisioning_parameters, "Tags": self.tags,
        }

    def changes(self) -> List[Dict[str, Any]]:
        """ResourceChanges: none until the change set is made, none when it failed."""
        return self.resource_changes if self.status == PLAN_CREATED else []


@dataclass
class Constraint:
    id: str
    type: str
    portfolio_id: str
    product_id: str
    description: str
    parameters: str
    owner: str

    def detail(self) -> Dict[str, Any]:
        return {"ConstraintId": self.id, "Type": self.type, "Description": self.description, "Owner": self.owner,
                "ProductId": self.product_id, "PortfolioId": self.portfolio_id}

    def summary(self) -> Dict[str, Any]:
        return {"Type": self.type, "Description": self.description}


CONSTRAINT_TYPES = ("LAUNCH", "NOTIFICATION", "RESOURCE_UPDATE", "STACKSET", "TEMPLATE")
PRINCIPAL_TYPES = ("IAM", "IAM_PATTERN")


def launch_path_id(portfolio_id: str, product_id: str) -> str:
    """Stable per (portfolio, product), shaped like AWS's ``lpv3-`` plus 13 lower-case letters and digits."""
    digest = hashlib.sha256(f"{portfolio_id}/{product_id}".encode()).digest()
    return "lpv3-" + base64.b32encode(digest).decode().lower()[:13]


def principal_candidates(caller_arn: str) -> List[str]:
    """The ARNs a portfolio principal may name to match the caller: the caller itself and, for an assumed-role
    session (``arn:aws:sts::<account>:assumed-role/<role>/<session>``), the role."""
    candidates = [caller_arn]
    match = re.match(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+$", caller_arn)
    if match:
        candidates.append(f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}")
    return candidates


def principal_matches(principal: Dict[str, str], caller_arn: str) -> bool:
    candidates = principal_candidates(caller_arn)
    if principal["PrincipalType"] == "IAM_PATTERN":
        return any(fnmatch.fnmatchcase(candidate, principal["PrincipalARN"]) for candidate in candidates)
    return principal["PrincipalARN"] in candidates


STACK_BUILD_LOCK = threading.Lock()


class ExtendedServiceCatalogBackend(ServiceCatalogBackend):
    """moto's portfolio support plus products, artifacts, provisioned products and records."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.catalog_products: Dict[str, CatalogProduct] = {}
        self.provisioned: Dict[str, ProvisionedProduct] = {}
        self.provisioned_by_name: Dict[str, str] = {}
        self.records: Dict[str, Record] = {}
        self.tokens: Dict[str, Any] = {}
        # Portfolios are moto's (self.portfolios); their associations and constraints are ours.
        self.portfolio_products: Dict[str, List[str]] = {}
        self.portfolio_principals: Dict[str, List[Dict[str, str]]] = {}
        self.constraints: Dict[str, Constraint] = {}
        self.plans: Dict[str, ProvisionedProductPlan] = {}

    # moto derives the urls module from the backend's module name; ours are moto's servicecatalog urls,
    # whose handler install() points at ExtendedServiceCatalogResponse.
    @property
    def _url_module(self) -> Any:  # type: ignore[override]
        from moto.servicecatalog import urls

        return urls

    # ---- products -------------------------------------------------------------------------------------
    def _arn(self, kind: str, resource_id: str) -> str:
        return f"arn:{self.partition}:catalog:{self.region_name}:{self.account_id}:{kind}/{resource_id}"

    def _product(self, product_id: Optional[str] = None, name: Optional[str] = None) -> CatalogProduct:
        if product_id:
            product = self.catalog_products.get(product_id)
            if product is None:
                raise ResourceNotFoundException(f"Product {product_id} not found.")
            return product
        if name:
            for product in self.catalog_products.values():
                if product.name == name:
                    return product
            raise ResourceNotFoundException(f"Product {name} not found.")
        raise InvalidParametersException("Either product Id or product Name is required.")

    def _new_artifact(self, product_id: str, parameters: Dict[str, Any]) -> Artifact:
        info = parameters.get("Info") or {}
        url = info.get("LoadTemplateFromURL")
        if not url:
            raise InvalidParametersException("Info.LoadTemplateFromURL is required.")
        try:
            body = fetch_template(url)
        except TemplateNotFound as exc:
            raise InvalidParametersException(f"Unable to read the template at {url}: {exc}") from exc
        template: Dict[str, Any] = {}
        if not parameters.get("DisableTemplateValidation"):
            try:
                template = parse_template(body)
            except ValueError as exc:
                raise InvalidParametersException(f"Template at {url} is not a valid CloudFormation template: {exc}") from exc
        else:
            try:
                template = parse_template(body)
            except ValueError:
                template = {"Resources": {}}
        return Artifact(
            id=new_id("pa-"),
            product_id=product_id,
            name=parameters.get("Name") or "",
            description=parameters.get("Description") or "",
            template_url=url,
            template_body=body,
            template=template,
            type=parameters.get("Type") or "CLOUD_FORMATION_TEMPLATE",
        )

    def _idempotent(self, operation: str, token: Optional[str], make: Callable[[], Any]) -> Any:
        if not token:
            return make()
        key = (operation, token)
        if key not in self.tokens:
            self.tokens[key] = make()
        return self.tokens[key]

    def create_catalog_product(self, params: Dict[str, Any]) -> Dict[str, Any]:
        for required in ("Name", "Owner", "ProductType", "ProvisioningArtifactParameters"):
            if not params.get(required):
                raise InvalidParametersException(f"{required} is required.")

        def make() -> Dict[str, Any]:
            product_id = new_id("prod-")
            product = CatalogProduct(
                id=product_id,
                view_id=new_id("prodview-"),
                arn=self._arn("product", product_id),
                name=params["Name"],
                owner=params["Owner"],
                description=params.get("Description") or "",
                distributor=params.get("Distributor") or "",
                support_description=params.get("SupportDescription") or "",
                support_email=params.get("SupportEmail") or "",
                support_url=params.get("SupportUrl") or "",
                product_type=params["ProductType"],
                tags=params.get("Tags") or [],
            )
            artifact = self._new_artifact(product_id, params["ProvisioningArtifactParameters"])
            product.artifacts[artifact.id] = artifact
            self.catalog_products[product_id] = product
            return {
                "ProductViewDetail": product.view_detail(),
                "ProvisioningArtifactDetail": artifact.detail(),
                "Tags": product.tags,
            }

        with self.lock:
            return self._idempotent("CreateProduct", params.get("IdempotencyToken"), make)

    def describe_catalog_product(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("Id"), params.get("Name"))
            paths = self._launch_paths(product.id, caller)
            return {
                "ProductViewSummary": product.summary() | {"HasDefaultPath": len(paths) == 1},
                "ProvisioningArtifacts": [a.summary() | {"Guidance": a.guidance} for a in product.artifacts.values() if a.active],
                "Budgets": [],
                "LaunchPaths": [{"Id": p["Id"], "Name": p["Name"]} for p in paths],
            }

    def describe_product_as_admin(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("Id"), params.get("Name"))
            return {
                "ProductViewDetail": product.view_detail(),
                "ProvisioningArtifactSummaries": [a.summary() for a in product.artifacts.values()],
                "Tags": product.tags,
                "TagOptions": [],
                "Budgets": [],
            }

    def search_products_as_admin(self, params: Dict[str, Any]) -> Dict[str, Any]:
        filters = params.get("Filters") or {}
        with self.lock:
            products = list(self.catalog_products.values())
            if params.get("PortfolioId"):
                in_portfolio = self.portfolio_products.get(self._portfolio(params["PortfolioId"]).id, [])
                products = [p for p in products if p.id in in_portfolio]
        for text in filters.get("FullTextSearch", []):
            products = [p for p in products if text.lower() in f"{p.name} {p.description} {p.owner}".lower()]
        for owner in filters.get("Owner", []):
            products = [p for p in products if p.owner == owner]
        for product_type in filters.get("ProductType", []):
            products = [p for p in products if p.product_type == product_type]
        sort_by = params.get("SortBy") or "CreationDate"
        keys: Dict[str, Callable[[CatalogProduct], Any]] = {
            "Title": lambda p: p.name,
            "VersionCount": lambda p: len(p.artifacts),
            "CreationDate": lambda p: p.created_time,
        }
        products.sort(key=keys.get(sort_by, keys["CreationDate"]), reverse=params.get("SortOrder") == "DESCENDING")
        chunk, token = page(products, params.get("PageToken"), params.get("PageSize"))
        return {"ProductViewDetails": [p.view_detail() for p in chunk], "NextPageToken": token}

    def update_catalog_product(self, params: Dict[str, Any]) -> Dict[str, Any]:
        """UpdateProduct: the product's fields, and its tags (RemoveTags first, then AddTags, a key's new value wins)."""
        if not params.get("Id"):
            raise InvalidParametersException("Id is required.")
        with self.lock:
            product = self._product(params["Id"])
            for api_name, attribute in (("Name", "name"), ("Owner", "owner"), ("Description", "description"), ("Distributor", "distributor"),
                                        ("SupportDescription", "support_description"), ("SupportEmail", "support_email"), ("SupportUrl", "support_url")):
                if params.get(api_name) is not None:
                    setattr(product, attribute, params[api_name])
            removed = set(params.get("RemoveTags") or [])
            tags = {tag["Key"]: tag["Value"] for tag in product.tags if tag["Key"] not in removed}
            for tag in params.get("AddTags") or []:
                tags[tag["Key"]] = tag["Value"]
            if len(tags) > MAX_TAGS:
                raise InvalidParametersException(f"A product can have at most {MAX_TAGS} tags.")
            product.tags = [{"Key": key, "Value": value} for key, value in tags.items()]
            return {"ProductViewDetail": product.view_detail(), "Tags": product.tags}

    def delete_catalog_product(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("Id"))
            if any(pp.product_id == product.id for pp in self.provisioned.values()):
                raise ResourceInUseException(f"Product {product.id} has provisioned products.")
            if any(product.id in ids for ids in self.portfolio_products.values()):
                raise ResourceInUseException(f"Product {product.id} is associated with a portfolio; disassociate it first.")
            del self.catalog_products[product.id]
        return {}

    # ---- portfolios: product and principal associations, constraints, launch paths ----------------------
    def _portfolio(self, portfolio_id: Optional[str]) -> Any:
        portfolio = self.portfolios.get(portfolio_id or "")
        if portfolio is None:
            raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")
        return portfolio

    def delete_portfolio(self, accept_language: Optional[str], id: str) -> None:  # noqa: A002 - moto's signature
        with self.lock:
            if self.portfolio_products.get(id) or self.portfolio_principals.get(id) or any(c.portfolio_id == id for c in self.constraints.values()):
                raise ResourceInUseException(f"Portfolio {id} has associated products, principals or constraints.")
            self.portfolio_products.pop(id, None)
            self.portfolio_principals.pop(id, None)
            super().delete_portfolio(accept_language, id)

    def associate_product_with_portfolio(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            portfolio = self._portfolio(params.get("PortfolioId"))
            product = self._product(params.get("ProductId"))
            products = self.portfolio_products.setdefault(portfolio.id, [])
            if product.id in products:
                return {}
            limit = FAULTS.settings.max_products_per_portfolio
            if len(products) >= limit:
                raise LimitExceededException(f"Portfolio {portfolio.id} already has the maximum of {limit} products.")
            products.append(product.id)
        return {}

    def disassociate_product_from_portfolio(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            portfolio = self._portfolio(params.get("PortfolioId"))
            product = self._product(params.get("ProductId"))
            products = self.portfolio_products.get(portfolio.id, [])
            if product.id not in products:
                raise ResourceNotFoundException(f"Product {product.id} is not associated with portfolio {portfolio.id}.")
            if any(c.portfolio_id == portfolio.id and c.product_id == product.id for c in self.constraints.values()):
                raise ResourceInUseException(f"Product {product.id} has constraints in portfolio {portfolio.id}; delete them first.")
            products.remove(product.id)
        return {}

    def list_portfolios_for_product(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"))
            details = [self.portfolios[pid].to_dict() for pid, ids in self.portfolio_products.items() if product.id in ids and pid in self.portfolios]
        chunk, token = page(details, params.get("PageToken"), params.get("PageSize"))
        return {"PortfolioDetails": chunk, "NextPageToken": token}

    def associate_principal_with_portfolio(self, params: Dict[str, Any]) -> Dict[str, Any]:
        principal_type = params.get("PrincipalType")
        if principal_type not in PRINCIPAL_TYPES:
            raise InvalidParametersException(f"PrincipalType must be one of {', '.join(PRINCIPAL_TYPES)}.")
        arn = params.get("PrincipalARN") or ""
        if not arn.startswith("arn:"):
            raise InvalidParametersException(f"PrincipalARN {arn!r} is not an ARN.")
        with self.lock:
            portfolio = self._portfolio(params.get("PortfolioId"))
            principals = self.portfolio_principals.setdefault(portfolio.id, [])
            if not any(p["PrincipalARN"] == arn for p in principals):
                principals.append({"PrincipalARN": arn, "PrincipalType": principal_type})
        return {}

    def disassociate_principal_from_portfolio(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            portfolio = self._portfolio(params.get("PortfolioId"))
            principals = self.portfolio_principals.get(portfolio.id, [])
            kept = [p for p in principals if p["PrincipalARN"] != params.get("PrincipalARN")]
            if len(kept) == len(principals):
                raise ResourceNotFoundException(f"Principal {params.get('PrincipalARN')} is not associated with portfolio {portfolio.id}.")
            self.portfolio_principals[portfolio.id] = kept
        return {}

    def list_principals_for_portfolio(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            portfolio = self._portfolio(params.get("PortfolioId"))
            principals = [dict(p) for p in self.portfolio_principals.get(portfolio.id, [])]
        chunk, token = page(principals, params.get("PageToken"), params.get("PageSize"))
        return {"Principals": chunk, "NextPageToken": token}

    def create_constraint(self, params: Dict[str, Any]) -> Dict[str, Any]:
        def make() -> Dict[str, Any]:
            portfolio = self._portfolio(params.get("PortfolioId"))
            product = self._product(params.get("ProductId"))
            if product.id not in self.portfolio_products.get(portfolio.id, []):
                raise ResourceNotFoundException(f"Product {product.id} is not associated with portfolio {portfolio.id}.")
            constraint_type = params.get("Type")
            if constraint_type not in CONSTRAINT_TYPES:
                raise InvalidParametersException(f"Constraint type must be one of {', '.join(CONSTRAINT_TYPES)}.")
            try:
                parsed = json.loads(params.get("Parameters") or "")
            except ValueError:
                raise InvalidParametersException("Parameters must be a JSON object.") from None
            if not isinstance(parsed, dict):
                raise InvalidParametersException("Parameters must be a JSON object.")
            if constraint_type == "LAUNCH":
                if ("RoleArn" in parsed) == ("LocalRoleName" in parsed):
                    raise InvalidParametersException("A LAUNCH constraint takes exactly one of RoleArn or LocalRoleName.")
                if any(c.type == "LAUNCH" and c.portfolio_id == portfolio.id and c.product_id == product.id for c in self.constraints.values()):
                    raise DuplicateResourceException(f"Product {product.id} already has a LAUNCH constraint in portfolio {portfolio.id}.")
            constraint = Constraint(
                id=new_id("cons-"), type=constraint_type, portfolio_id=portfolio.id, product_id=product.id,
                description=params.get("Description") or "", parameters=params["Parameters"], owner=self.account_id,
            )
            self.constraints[constraint.id] = constraint
            return self._constraint_answer(constraint)

        with self.lock:
            return self._idempotent("CreateConstraint", params.get("IdempotencyToken"), make)

    @staticmethod
    def _constraint_answer(constraint: Constraint) -> Dict[str, Any]:
        return {"ConstraintDetail": constraint.detail(), "ConstraintParameters": constraint.parameters, "Status": "AVAILABLE"}

    def _constraint(self, constraint_id: Optional[str]) -> Constraint:
        constraint = self.constraints.get(constraint_id or "")
        if constraint is None:
            raise ResourceNotFoundException(f"Constraint {constraint_id} not found.")
        return constraint

    def describe_constraint(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            return self._constraint_answer(self._constraint(params.get("Id")))

    def delete_constraint(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            del self.constraints[self._constraint(params.get("Id")).id]
        return {}

    def list_constraints_for_portfolio(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            portfolio = self._portfolio(params.get("PortfolioId"))
            details = [c.detail() for c in self.constraints.values()
                       if c.portfolio_id == portfolio.id and (not params.get("ProductId") or c.product_id == params["ProductId"])]
        chunk, token = page(details, params.get("PageToken"), params.get("PageSize"))
        return {"ConstraintDetails": chunk, "NextPageToken": token}

    def _launch_paths(self, product_id: str, caller: str) -> List[Dict[str, Any]]:
        """One path per portfolio holding the product with a principal matching the caller."""
        paths = []
        for portfolio_id, product_ids in self.portfolio_products.items():
            portfolio = self.portfolios.get(portfolio_id)
            if portfolio is None or product_id not in product_ids:
                continue
            if not any(principal_matches(p, caller) for p in self.portfolio_principals.get(portfolio_id, [])):
                continue
            constraints = [c for c in self.constraints.values() if c.portfolio_id == portfolio_id and c.product_id == product_id]
            paths.append({"Id": launch_path_id(portfolio_id, product_id), "Name": portfolio.display_name,
                          "PortfolioId": portfolio_id, "Constraints": constraints})
        return paths

    def _resolve_path(self, product: CatalogProduct, caller: str, path_id: Optional[str], path_name: Optional[str]) -> Dict[str, Any]:
        """The launch path a provisioning, update or parameter lookup uses (AWS's rules for PathId/PathName)."""
        if path_id and path_name:
            raise InvalidParametersException("Provide either PathId or PathName, not both.")
        paths = self._launch_paths(product.id, caller)
        if not paths:
            raise ResourceNotFoundException(f"No launch paths found for resource: {product.id}")
        if path_id or path_name:
            for path in paths:
                if (path_id and path["Id"] == path_id) or (path_name and path["Name"] == path_name):
                    return path
            raise ResourceNotFoundException(f"Launch path {path_id or path_name} not found for resource: {product.id}")
        if len(paths) > 1:
            raise InvalidParametersException("More than one launch path ids exist. Please specify the launch path id")
        return paths[0]

    def _launch_role(self, path: Dict[str, Any]) -> Optional[str]:
        for constraint in path["Constraints"]:
            if constraint.type == "LAUNCH":
                parsed = json.loads(constraint.parameters)
                if parsed.get("RoleArn"):
                    return str(parsed["RoleArn"])
                return f"arn:{self.partition}:iam::{self.account_id}:role/{parsed['LocalRoleName']}"
        return None

    def list_launch_paths(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"))
            paths = self._launch_paths(product.id, caller)
            if not paths:
                raise ResourceNotFoundException(f"No launch paths found for resource: {product.id}")
            summaries = [
                {"Id": p["Id"], "Name": p["Name"], "Tags": [], "ConstraintSummaries": [c.summary() for c in p["Constraints"] if c.type == "LAUNCH"]}
                for p in paths
            ]
        chunk, token = page(summaries, params.get("PageToken"), params.get("PageSize"))
        return {"LaunchPathSummaries": chunk, "NextPageToken": token}

    # ---- provisioning artifacts -----------------------------------------------------------------------
    def _artifact(self, product: CatalogProduct, artifact_id: Optional[str], name: Optional[str] = None) -> Artifact:
        if artifact_id:
            artifact = product.artifacts.get(artifact_id)
            if artifact is None:
                raise ResourceNotFoundException(f"Provisioning artifact {artifact_id} not found for product {product.id}.")
            return artifact
        if name:
            # Names may repeat; AWS resolves a name to the newest artifact carrying it.
            matches = [a for a in product.artifacts.values() if a.name == name]
            if matches:
                return matches[-1]
            raise ResourceNotFoundException(f"Provisioning artifact {name} not found for product {product.id}.")
        raise InvalidParametersException("Either ProvisioningArtifactId or ProvisioningArtifactName is required.")

    @staticmethod
    def _artifact_answer(artifact: Artifact) -> Dict[str, Any]:
        return {"ProvisioningArtifactDetail": artifact.detail(), "Info": {"TemplateUrl": artifact.template_url}, "Status": "AVAILABLE"}

    def create_provisioning_artifact(self, params: Dict[str, Any]) -> Dict[str, Any]:
        def make() -> Dict[str, Any]:
            product = self._product(params.get("ProductId"))
            limit = FAULTS.settings.max_provisioning_artifacts
            if len(product.artifacts) >= limit:
                raise LimitExceededException(f"Product {product.id} already has the maximum of {limit} provisioning artifacts.")
            artifact = self._new_artifact(product.id, params.get("Parameters") or {})
            product.artifacts[artifact.id] = artifact
            return self._artifact_answer(artifact)

        with self.lock:
            return self._idempotent("CreateProvisioningArtifact", params.get("IdempotencyToken"), make)

    def list_provisioning_artifacts(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"))
            return {"ProvisioningArtifactDetails": [a.detail() for a in product.artifacts.values()]}

    def describe_provisioning_artifact(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"), params.get("ProductName"))
            artifact = self._artifact(product, params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName"))
            answer = self._artifact_answer(artifact)
            if params.get("Verbose"):
                answer["Info"]["CloudFormationTemplate"] = artifact.template_body
            if params.get("IncludeProvisioningArtifactParameters"):
                answer["ProvisioningArtifactParameters"] = artifact.parameters_view()
            return answer

    def describe_provisioning_parameters(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"), params.get("ProductName"))
            path = self._resolve_path(product, caller, params.get("PathId"), params.get("PathName"))
            artifact = self._artifact(product, params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName"))
            return {"ProvisioningArtifactParameters": artifact.parameters_view(),
                    "ConstraintSummaries": [c.summary() for c in path["Constraints"]], "TagOptions": []}

    def update_provisioning_artifact(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"))
            artifact = self._artifact(product, params.get("ProvisioningArtifactId"))
            if params.get("Name") is not None:
                artifact.name = params["Name"]
            if params.get("Description") is not None:
                artifact.description = params["Description"]
            if params.get("Active") is not None:
                artifact.active = bool(params["Active"])
            if params.get("Guidance") is not None:
                if params["Guidance"] not in ("DEFAULT", "DEPRECATED"):
                    raise InvalidParametersException("Guidance must be DEFAULT or DEPRECATED.")
                artifact.guidance = params["Guidance"]
            return self._artifact_answer(artifact)

    def delete_provisioning_artifact(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            product = self._product(params.get("ProductId"))
            artifact = self._artifact(product, params.get("ProvisioningArtifactId"))
            for pp in list(self.provisioned.values()):
                self._settle(pp)
            if any(pp.artifact_id == artifact.id for pp in self.provisioned.values()):
                raise ResourceInUseException(f"Provisioning artifact {artifact.id} is used by a provisioned product.")
            if len(product.artifacts) == 1:
                raise InvalidParametersException("A product must keep at least one provisioning artifact.")
            del product.artifacts[artifact.id]
        return {}

    # ---- provisioned products and records -------------------------------------------------------------
    def _pp(self, pp_id: Optional[str], name: Optional[str]) -> ProvisionedProduct:
        if pp_id:
            pp = self.provisioned.get(pp_id)
        elif name:
            pp = self.provisioned.get(self.provisioned_by_name.get(name, ""))
        else:
            raise InvalidParametersException("Either ProvisionedProductId or ProvisionedProductName is required.")
        if pp is None:
            raise ResourceNotFoundException(f"Provisioned product {pp_id or name} not found.")
        self._settle(pp)
        if pp.id not in self.provisioned:  # its termination just completed
            raise ResourceNotFoundException(f"Provisioned product {pp_id or name} not found.")
        return pp

    def _start_record(self, pp: ProvisionedProduct, record_type: str, artifact_id: str, parameters: Dict[str, str], tags: List[Dict[str, str]],
                      role_arn: Optional[str] = None) -> Record:
        settings = FAULTS.settings
        reason = None
        if pp.name in settings.fail_provisioned_products:
            reason = f"Injected failure for provisioned product {pp.name} (fail_provisioned_products)"
        record = Record(
            id=new_id("rec-"),
            record_type=record_type,
            provisioned_product_id=pp.id,
            provisioned_product_name=pp.name,
            product_id=pp.product_id,
            artifact_id=artifact_id,
            path_id=pp.path_id,
            parameters=parameters,
            due=time.monotonic() + settings.record_duration_s,
            fail_reason=reason,
            tags=tags,
            role_arn=role_arn,
        )
        self.records[record.id] = record
        pp.status = "UNDER_CHANGE"
        pp.status_message = ""
        pp.last_record_id = record.id
        if record_type != TERMINATE:
            pp.last_provisioning_record_id = record.id
        return record

    def _settle(self, pp: ProvisionedProduct) -> None:
        """Complete the product's in-flight record once its due time has passed (lazy, no threads)."""
        record = self.records.get(pp.last_record_id)
        if record is None or record.status != IN_PROGRESS or time.monotonic() < record.due:
            return
        error = record.fail_reason
        if error is None:
            try:
                self._apply_stack(pp, record)
            except StackOperationFailed as exc:
                error = f"CloudFormation stack {pp.stack_name} {exc}"
            except Exception as exc:  # noqa: BLE001 - any moto CloudFormation failure fails the record, as on AWS
                error = f"CloudFormation stack {pp.stack_name} failed: {type(exc).__name__}: {exc}"
        record.updated_time = utcnow()
        if error is None:
            record.status = SUCCEEDED
            if record.record_type == TERMINATE:
                del self.provisioned[pp.id]
                self.provisioned_by_name.pop(pp.name, None)
                return
            pp.status = "AVAILABLE"
            pp.artifact_id = record.artifact_id
            pp.parameters = dict(record.parameters)
            pp.last_successful_record_id = record.id
            return
        record.status = FAILED
        record.errors = [{"Code": "ProvisioningFailed", "Description": error}]
        pp.status_message = error
        # A failed first provisioning leaves ERROR; a failed update or termination leaves the previous
        # stack running but out of step: TAINTED.
        pp.status = "ERROR" if record.record_type == PROVISION else "TAINTED"

    def _cloudformation(self) -> Any:
        from moto.cloudformation.models import cloudformation_backends

        return cloudformation_backends[self.account_id][self.region_name]

    def _apply_stack(self, pp: ProvisionedProduct, record: Record) -> None:
        # The per-region lock is not enough: moto's CloudFormation writes into backends shared by every
        # region (IAM is global), and records of several regions complete on parallel server threads.
        with STACK_BUILD_LOCK:
            self._build_stack(pp, record)

    def _build_stack(self, pp: ProvisionedProduct, record: Record) -> None:
        cfn = self._cloudformation()
        if record.record_type == TERMINATE:
            if pp.stack_id:
                cfn.delete_stack(pp.stack_id)
            return
        product = self.catalog_products[pp.product_id]
        artifact = product.artifacts[record.artifact_id]
        if record.record_type == PROVISION:
            stack = cfn.create_stack(name=pp.stack_name, template=artifact.template_body, parameters=dict(record.parameters),
                                     tags={t["Key"]: t["Value"] for t in pp.tags}, role_arn=record.role_arn)
            pp.stack_id = stack.stack_id
        else:
            stack = cfn.update_stack(
                name=pp.stack_id or pp.stack_name,
                template=artifact.template_body,
                role_arn=record.role_arn,
                parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in record.parameters.items()],
                tags=None,
            )
        if "FAILED" in stack.status or "ROLLBACK" in stack.status:
            raise StackOperationFailed(f"{stack.status}: {getattr(stack, 'local_aws_status_reason', None) or 'no reason recorded'}")
        record.outputs = [{"OutputKey": "CloudformationStackARN", "OutputValue": stack.stack_id, "Description": "The ARN of the launched CloudFormation stack"}]
        for output in stack.outputs or []:
            record.outputs.append(
                {"OutputKey": output["OutputKey"], "OutputValue": str(output["OutputValue"]), "Description": output.get("Description") or ""}
            )

    def _named(self, name: str) -> Optional[ProvisionedProduct]:
        """The provisioned product holding ``name`` now (a termination that just finished frees it)."""
        existing = self.provisioned.get(self.provisioned_by_name.get(name, ""))
        if existing is not None:
            self._settle(existing)
        return self.provisioned.get(self.provisioned_by_name.get(name, ""))

    def _new_provisioned(self, name: str, product_id: str, artifact_id: str, path_id: str, token: Optional[str], tags: List[Dict[str, str]],
                         caller: str) -> ProvisionedProduct:
        pp_id = new_id("pp-")
        pp = ProvisionedProduct(
            id=pp_id,
            name=name,
            arn=f"arn:{self.partition}:servicecatalog:{self.region_name}:{self.account_id}:stack/{name}/{pp_id}",
            product_id=product_id,
            artifact_id=artifact_id,
            path_id=path_id,
            idempotency_token=token or new_id("token-"),
            tags=tags,
            stack_name=f"SC-{self.account_id}-{pp_id}",
            user_arn=caller,
        )
        self.provisioned[pp.id] = pp
        self.provisioned_by_name[name] = pp.id
        return pp

    def provision_product(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        name = params.get("ProvisionedProductName")
        if not name:
            raise InvalidParametersException("ProvisionedProductName is required.")

        def make() -> Dict[str, Any]:
            product = self._product(params.get("ProductId"), params.get("ProductName"))
            path = self._resolve_path(product, caller, params.get("PathId"), params.get("PathName"))
            artifact = self._artifact(product, params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName"))
            if not artifact.active:
                raise InvalidParametersException(f"Provisioning artifact {artifact.id} is not active.")
            if self._named(name) is not None:
                raise DuplicateResourceException(f"A provisioned product with the name {name} already exists.")
            parameters = resolve_parameters(template_parameters(artifact.template), params.get("ProvisioningParameters") or [])
            pp = self._new_provisioned(name, product.id, artifact.id, path["Id"], params.get("ProvisionToken"), params.get("Tags") or [], caller)
            record = self._start_record(pp, PROVISION, artifact.id, parameters, pp.tags, role_arn=self._launch_role(path))
            return {"RecordDetail": record.detail()}

        with self.lock:
            return self._idempotent("ProvisionProduct", params.get("ProvisionToken"), make)

    def update_provisioned_product(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        def make() -> Dict[str, Any]:
            pp = self._pp(params.get("ProvisionedProductId"), params.get("ProvisionedProductName"))
            self._refuse_while_changing(pp)
            if params.get("ProductId") or params.get("ProductName"):
                product = self._product(params.get("ProductId"), params.get("ProductName"))
                if product.id != pp.product_id:
                    raise InvalidParametersException("A provisioned product cannot change to another product.")
            product = self.catalog_products[pp.product_id]
            path = self._resolve_path(product, caller, params.get("PathId"), params.get("PathName"))
            if params.get("ProvisioningArtifactId") or params.get("ProvisioningArtifactName"):
                artifact = self._artifact(product, params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName"))
            else:
                artifact = product.artifacts[pp.artifact_id]
            if not artifact.active:
                raise InvalidParametersException(f"Provisioning artifact {artifact.id} is not active.")
            parameters = resolve_parameters(
                template_parameters(artifact.template), params.get("ProvisioningParameters") or [], previous=pp.parameters
            )
            pp.path_id = path["Id"]
            record = self._start_record(pp, UPDATE, artifact.id, parameters, pp.tags, role_arn=self._launch_role(path))
            return {"RecordDetail": record.detail()}

        with self.lock:
            return self._idempotent("UpdateProvisionedProduct", params.get("UpdateToken"), make)

    @staticmethod
    def _refuse_while_changing(pp: ProvisionedProduct) -> None:
        """UNDER_CHANGE and PLAN_IN_PROGRESS are transitive states: AWS says to wait for AVAILABLE before any operation."""
        if pp.status == "UNDER_CHANGE":
            raise ResourceInUseException(f"Provisioned product {pp.name} is UNDER_CHANGE; wait for record {pp.last_record_id}.")
        if pp.status == PLAN_IN_PROGRESS:
            raise ResourceInUseException(f"Provisioned product {pp.name} is PLAN_IN_PROGRESS: it exists only in a plan; execute or delete the plan first.")

    def terminate_provisioned_product(self, params: Dict[str, Any]) -> Dict[str, Any]:
        def make() -> Dict[str, Any]:
            pp = self._pp(params.get("ProvisionedProductId"), params.get("ProvisionedProductName"))
            self._refuse_while_changing(pp)
            record = self._start_record(pp, TERMINATE, pp.artifact_id, pp.parameters, pp.tags)
            if params.get("IgnoreErrors"):
                record.fail_reason = None
            return {"RecordDetail": record.detail()}

        with self.lock:
            return self._idempotent("TerminateProvisionedProduct", params.get("TerminateToken"), make)

    def describe_provisioned_product(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            pp = self._pp(params.get("Id"), params.get("Name"))
            return {"ProvisionedProductDetail": pp.detail(), "CloudWatchDashboards": []}

    def describe_record(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            record = self.records.get(params.get("Id") or "")
            if record is None:
                raise ResourceNotFoundException(f"Record {params.get('Id')} not found.")
            pp = self.provisioned.get(record.provisioned_product_id)
            if pp is not None:
                self._settle(pp)
            outputs, token = page(record.outputs, params.get("PageToken"), params.get("PageSize"))
            return {"RecordDetail": record.detail(), "RecordOutputs": outputs, "NextPageToken": token}

    def _settled_products(self) -> List[ProvisionedProduct]:
        for pp in list(self.provisioned.values()):
            self._settle(pp)
        return list(self.provisioned.values())

    def _attributes(self, pp: ProvisionedProduct) -> Dict[str, Any]:
        product = self.catalog_products.get(pp.product_id)
        artifact = product.artifacts.get(pp.artifact_id) if product else None
        return pp.detail() | {
            "Tags": pp.tags,
            "PhysicalId": pp.stack_id,
            "ProductName": product.name if product else "",
            "ProvisioningArtifactName": artifact.name if artifact else "",
            "UserArn": principal_candidates(pp.user_arn)[-1] if pp.user_arn else "",
            "UserArnSession": pp.user_arn,
        }

    @staticmethod
    def _visible(products: List[Owned], params: Dict[str, Any], caller: str, default: str) -> List[Owned]:
        """AccessLevelFilter: Account (everything in the account), Role (made by the caller's role), User (by the caller);
        for provisioned products and plans alike (both record ``user_arn``)."""
        level = params.get("AccessLevelFilter") or {"Key": default, "Value": "self"}
        key, value = level.get("Key"), level.get("Value")
        if key not in ("Account", "Role", "User"):
            raise InvalidParametersException(f"AccessLevelFilter Key must be Account, Role or User, got {key}.")
        if value != "self":
            raise InvalidParametersException(f"AccessLevelFilter Value must be self, got {value}.")
        if key == "Account":
            return products
        if key == "User":
            return [pp for pp in products if pp.user_arn == caller]
        role = principal_candidates(caller)[-1]
        return [pp for pp in products if pp.user_arn and principal_candidates(pp.user_arn)[-1] == role]

    def search_provisioned_products(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        with self.lock:
            rows = [self._attributes(pp) for pp in self._visible(self._settled_products(), params, caller, "Account")]
        fields = {
            "id": "Id", "arn": "Arn", "name": "Name", "productid": "ProductId", "productname": "ProductName",
            "provisioningartifactid": "ProvisioningArtifactId", "provisioningartifactname": "ProvisioningArtifactName",
            "status": "Status", "type": "Type", "lastrecordid": "LastRecordId",
        }
        for query in (params.get("Filters") or {}).get("SearchQuery", []):
            key, sep, value = query.partition(":")
            if sep and key.lower() in fields:
                rows = [r for r in rows if str(r.get(fields[key.lower()], "")) == value]
            else:
                rows = [r for r in rows if query.lower() in r["Name"].lower()]
        sort_by = params.get("SortBy")
        if sort_by:
            sort_key = {"name": "Name", "arn": "Arn", "id": "Id", "lastrecordid": "LastRecordId"}.get(sort_by.lower())
            if sort_key is None:
                raise InvalidParametersException(f"Cannot sort by {sort_by}.")
            rows.sort(key=lambda r: r[sort_key], reverse=params.get("SortOrder") == "DESCENDING")
        chunk, token = page(rows, params.get("PageToken"), params.get("PageSize"))
        return {"ProvisionedProducts": chunk, "TotalResultsCount": len(rows), "NextPageToken": token}

    def scan_provisioned_products(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        with self.lock:
            details = [pp.detail() for pp in self._visible(self._settled_products(), params, caller, "User")]
        chunk, token = page(details, params.get("PageToken"), params.get("PageSize"))
        return {"ProvisionedProducts": chunk, "NextPageToken": token}

    # ---- provisioned product plans ------------------------------------------------------------------------
    def _plan(self, plan_id: Optional[str]) -> ProvisionedProductPlan:
        plan = self.plans.get(plan_id or "")
        if plan is None:
            raise ResourceNotFoundException(f"Plan {plan_id} not found.")
        plan.settle()
        return plan

    def _plan_target(self, name: str, product: CatalogProduct) -> Optional[ProvisionedProduct]:
        """The provisioned product an update plan is for, checked against AWS's rules; None: a plan to provision
        a new product of that name."""
        pp = self._named(name)
        if pp is None:
            return None
        existing = next((plan for plan in self.plans.values() if plan.provisioned_product_id == pp.id), None)
        if existing is not None:
            raise InvalidStateException(f"Provisioned product {name} already has plan {existing.id}; there can be one plan per provisioned product.")
        if pp.status not in PLANNABLE:
            raise InvalidStateException(f"Provisioned product {name} is {pp.status}; a plan needs it AVAILABLE or TAINTED.")
        if pp.product_id != product.id:
            raise InvalidParametersException("A provisioned product cannot change to another product.")
        return pp

    def _physical_ids(self, pp: ProvisionedProduct) -> Dict[str, str]:
        """The stack's resources' physical ids, read without making moto's lazy resource map create any. A nested
        stack's is its stack id (an ARN, as on AWS; moto's resource answers its name)."""
        stack = self._cloudformation().stacks.get(pp.stack_id) if pp.stack_id else None
        if stack is None:
            return {}
        parsed = stack.resource_map._parsed_resources
        resources = {logical_id: parsed.get(logical_id) for logical_id in (stack.template_dict.get("Resources") or {})}
        return {logical_id: str(getattr(resource, "stack_id", None) or resource.physical_resource_id) for logical_id, resource in resources.items()
                if getattr(resource, "physical_resource_id", None)}

    def _current_state(self, pp: Optional[ProvisionedProduct]) -> StackState:
        if pp is None:
            return StackState({"Resources": {}}, {})
        artifact = self.catalog_products[pp.product_id].artifacts[pp.artifact_id]
        return StackState(artifact.template, dict(pp.parameters), self._physical_ids(pp))

    def _change_set(self, pp: Optional[ProvisionedProduct], target: StackState) -> Tuple[List[Dict[str, Any]], str, str]:
        """(ResourceChanges, plan status once due, status message): CloudFormation's change set from the provisioned
        product's current template and parameters (none for a plan to provision) to ``target``."""
        try:
            return change_set(self._current_state(pp), target), PLAN_CREATED, ""
        except ChangeSetFailed as exc:
            return [], PLAN_FAILED, str(exc)

    def create_provisioned_product_plan(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        def make() -> Dict[str, Any]:
            product = self._product(params.get("ProductId"))
            if product.product_type != CLOUDFORMATION_PRODUCT:
                raise InvalidParametersException(f"Product {product.id} is a {product.product_type} product; plans are for {CLOUDFORMATION_PRODUCT} products.")
            path = self._resolve_path(product, caller, params.get("PathId"), None)
            artifact = self._artifact(product, params.get("ProvisioningArtifactId"))
            if not artifact.active:
                raise InvalidParametersException(f"Provisioning artifact {artifact.id} is not active.")
            name = params["ProvisionedProductName"]
            pp = self._plan_target(name, product)
            parameters = resolve_parameters(template_parameters(artifact.template), params.get("ProvisioningParameters") or [],
                                            previous=pp.parameters if pp is not None else None)
            changes, outcome, message = self._change_set(pp, StackState(artifact.template, parameters))
            provisions = pp is None
            if pp is None:
                pp = self._new_provisioned(name, product.id, artifact.id, path["Id"], None, params.get("Tags") or [], caller)
                pp.status = PLAN_IN_PROGRESS
            plan = ProvisionedProductPlan(
                id=new_id("plan-"), name=params["PlanName"], provisioned_product_id=pp.id, provisioned_product_name=name, product_id=product.id,
                artifact_id=artifact.id, path_id=path["Id"], provisioning_parameters=params.get("ProvisioningParameters") or [],
                notification_arns=params.get("NotificationArns") or [], tags=params.get("Tags") or [], user_arn=caller,
                due=time.monotonic() + FAULTS.settings.record_duration_s, outcome=outcome, outcome_message=message,
                resource_changes=changes, provisions=provisions)
            self.plans[plan.id] = plan
            return {"PlanName": plan.name, "PlanId": plan.id, "ProvisionProductId": pp.id, "ProvisionedProductName": name,
                    "ProvisioningArtifactId": artifact.id}

        with self.lock:
            return self._idempotent("CreateProvisionedProductPlan", params.get("IdempotencyToken"), make)

    def describe_provisioned_product_plan(self, params: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            plan = self._plan(params.get("PlanId"))
            chunk, token = page(plan.changes(), params.get("PageToken"), params.get("PageSize"))
            return {"ProvisionedProductPlanDetails": plan.details(), "ResourceChanges": chunk, "NextPageToken": token}

    def delete_provisioned_product_plan(self, params: Dict[str, Any]) -> Dict[str, Any]:
        """The plan goes; a plan to provision takes its PLAN_IN_PROGRESS provisioned product with it (``IgnoreErrors``
        is accepted: deleting a plan has no resources to fail on)."""
        with self.lock:
            plan = self._plan(params.get("PlanId"))
            del self.plans[plan.id]
            pp = self.provisioned.get(plan.provisioned_product_id)
            if plan.provisions and pp is not None and pp.status == PLAN_IN_PROGRESS:
                del self.provisioned[pp.id]
                self.provisioned_by_name.pop(pp.name, None)
        return {}

    def list_provisioned_product_plans(self, params: Dict[str, Any], caller: str) -> Dict[str, Any]:
        with self.lock:
            plans = list(self.plans.values())
            if params.get("ProvisionProductId"):
                pp = self._pp(params["ProvisionProductId"], None)
                plans = [plan for plan in plans if plan.provisioned_product_id == pp.id]
            summaries = [plan.summary() for plan in self._visible(plans, params, caller, "User")]
        chunk, token = page(summaries, params.get("PageToken"), params.get("PageSize"))
        return {"ProvisionedProductPlans": chunk, "NextPageToken": token}


servicecatalog_backends = BackendDict(ExtendedServiceCatalogBackend, "servicecatalog")


def _handler(backend_method: str, with_caller: bool = False) -> Callable[["ExtendedServiceCatalogResponse"], ActionResult]:
    def handle(self: "ExtendedServiceCatalogResponse") -> ActionResult:
        params = self._json_params()
        method = getattr(self.servicecatalog_backend, backend_method)
        result = method(params, caller=self.caller_arn()) if with_caller else method(params)
        return ActionResult(result) if result else EmptyResult()

    handle.__name__ = backend_method
    return handle


_SERVICE_MODEL: Any = None


def _service_model() -> Any:
    global _SERVICE_MODEL
    if _SERVICE_MODEL is None:
        import botocore.session

        _SERVICE_MODEL = botocore.session.get_session().get_service_model("servicecatalog")
    return _SERVICE_MODEL


# Operations whose numeric ranges (PageSize) are enforced.
RANGE_CHECKED_OPERATIONS = frozenset({
    "SearchProvisionedProducts", "ScanProvisionedProducts", "DescribeRecord", "ListLaunchPaths", "ListPrincipalsForPortfolio",
    "ListConstraintsForPortfolio", "ListPortfoliosForProduct", "SearchProductsAsAdmin", "ListPortfolios",
    "DescribeProvisionedProductPlan", "ListProvisionedProductPlans",
})
# Operations whose enum members (PlanType) are enforced.
ENUM_CHECKED_OPERATIONS = frozenset({"CreateProvisionedProductPlan"})


def _wire_name(name: str) -> str:
    return f"{name[0].lower()}{name[1:]}"


def _range_errors(name: str, member: Any, value: Any) -> List[str]:
    if member.type_name not in ("integer", "long") or value is None or isinstance(value, bool) or not isinstance(value, int):
        return []
    where = f"Value '{value}' at '{_wire_name(name)}' failed to satisfy constraint"
    errors = []
    if "max" in member.metadata and value > member.metadata["max"]:
        errors.append(f"{where}: Member must have value less than or equal to {member.metadata['max']}")
    if "min" in member.metadata and value < member.metadata["min"]:
        errors.append(f"{where}: Member must have value greater than or equal to {member.metadata['min']}")
    return errors


def _enum_errors(name: str, member: Any, value: Any) -> List[str]:
    allowed = getattr(member, "enum", None)
    if not allowed or value is None or value in allowed:
        return []
    return [f"Value '{value}' at '{_wire_name(name)}' failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"]


def validation_errors(operation: str, params: Dict[str, Any]) -> List[str]:
    """AWS's request validation of the top-level members, as botocore's model declares them: a required member
    that is null, in RANGE_CHECKED_OPERATIONS a number outside its min/max (PageSize), in ENUM_CHECKED_OPERATIONS a
    value outside its enum. The messages are AWS's (``1 validation error detected: Value null at 'provisionToken'
    failed to satisfy constraint: Member must not be null``)."""
    try:
        shape = _service_model().operation_model(operation).input_shape
    except Exception:  # noqa: BLE001 - an operation botocore does not know is moto's business
        return []
    if shape is None:
        return []
    errors = [f"Value null at '{_wire_name(name)}' failed to satisfy constraint: Member must not be null"
              for name in shape.required_members if params.get(name) is None]
    for name, member in shape.members.items():
        if operation in RANGE_CHECKED_OPERATIONS:
            errors.extend(_range_errors(name, member, params.get(name)))
        if operation in ENUM_CHECKED_OPERATIONS:
            errors.extend(_enum_errors(name, member, params.get(name)))
    return errors


class ExtendedServiceCatalogResponse(ServiceCatalogResponse):
    """moto dispatches ``AWS242ServiceCatalogService.<Action>`` to the snake_case method of that name."""

    @property
    def servicecatalog_backend(self) -> ExtendedServiceCatalogBackend:  # type: ignore[override]
        return servicecatalog_backends[self.current_account][self.region]

    def _json_params(self) -> Dict[str, Any]:
        return json.loads(self.body) if self.body else {}

    def caller_arn(self) -> str:
        """The principal of the request's access key, computed as moto's STS GetCallerIdentity does."""
        from moto.sts.models import sts_backends

        return sts_backends[self.current_account][self.partition].get_caller_identity(self.get_access_key(), self.region)[1]

    def call_action(self) -> Any:
        """AWS validates the request against the API's model before the operation: moto's handlers and ours alike."""
        try:
            params = self._json_params()
        except ValueError:
            params = None
        errors = validation_errors(self._get_action(), params) if isinstance(params, dict) else []
        if errors:
            count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
            error = ValidationException(count + "; ".join(errors))
            headers: Dict[str, Any] = dict(error.get_headers() or [])
            headers["status"] = error.code
            status, headers, body = self._transform_response(self.response_headers, (error.description, headers))
            headers, body = self._enrich_response(headers, body)
            return status, headers, body
        return super().call_action()

    create_product = _handler("create_catalog_product")
    describe_product = _handler("describe_catalog_product", with_caller=True)
    delete_product = _handler("delete_catalog_product")
    update_product = _handler("update_catalog_product")
    describe_product_as_admin = _handler("describe_product_as_admin")
    search_products_as_admin = _handler("search_products_as_admin")
    create_provisioning_artifact = _handler("create_provisioning_artifact")
    list_provisioning_artifacts = _handler("list_provisioning_artifacts")
    describe_provisioning_artifact = _handler("describe_provisioning_artifact")
    describe_provisioning_parameters = _handler("describe_provisioning_parameters", with_caller=True)
    update_provisioning_artifact = _handler("update_provisioning_artifact")
    delete_provisioning_artifact = _handler("delete_provisioning_artifact")
    provision_product = _handler("provision_product", with_caller=True)
    update_provisioned_product = _handler("update_provisioned_product", with_caller=True)
    terminate_provisioned_product = _handler("terminate_provisioned_product")
    describe_provisioned_product = _handler("describe_provisioned_product")
    describe_record = _handler("describe_record")
    search_provisioned_products = _handler("search_provisioned_products", with_caller=True)
    scan_provisioned_products = _handler("scan_provisioned_products", with_caller=True)
    associate_product_with_portfolio = _handler("associate_product_with_portfolio")
    disassociate_product_from_portfolio = _handler("disassociate_product_from_portfolio")
    list_portfolios_for_product = _handler("list_portfolios_for_product")
    associate_principal_with_portfolio = _handler("associate_principal_with_portfolio")
    disassociate_principal_from_portfolio = _handler("disassociate_principal_from_portfolio")
    list_principals_for_portfolio = _handler("list_principals_for_portfolio")
    create_constraint = _handler("create_constraint")
    describe_constraint = _handler("describe_constraint")
    delete_constraint = _handler("delete_constraint")
    list_constraints_for_portfolio = _handler("list_constraints_for_portfolio")
    list_launch_paths = _handler("list_launch_paths", with_caller=True)
    create_provisioned_product_plan = _handler("create_provisioned_product_plan", with_caller=True)
    describe_provisioned_product_plan = _handler("describe_provisioned_product_plan")
    delete_provisioned_product_plan = _handler("delete_provisioned_product_plan")
    list_provisioned_product_plans = _handler("list_provisioned_product_plans", with_caller=True)
