# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one AWS access layer: Service Catalog, SSM and S3, each behind one ``call`` path.

* ``ServiceApi.call(operation, resource, **kwargs)`` is the only way a call reaches AWS. It runs under the
  service's ``AWSErrorHandler`` (amazon.aws's ``errors.py``): a botocore error becomes an ``AwsApiError``
  naming the operation, region and resource; with ``missing_ok=True`` the service's not-found codes (matched
  by ``is_boto3_error_code``, never by message text) return None instead. Retries are botocore's, on the
  client (``aws_client.py``): nothing here retries.
* Each service has one table of codes, on its API class: ``MISSING_CODES`` (not found) and ``DENIED_CODES``
  (access denied, or a bucket of another account); its ``ERRORS`` handler is made from them. Callers match an
  ``AwsApiError`` against them with ``is_ansible_aws_error_code``.
* Lists go through botocore's paginators (``ServiceApi.paginate``, ``build_full_result``) where botocore has
  one (``SearchProductsAsAdmin``, ...), and through the one PageToken loop ``ServiceApi.token_pages`` for the
  Service Catalog operations it has none for (``SearchProvisionedProducts``, ``DescribeRecord``'s outputs).
* ``AwsApis`` holds a module call's APIs (Service Catalog, SSM, S3, STS) and makes each client once, on first use.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError, botocore_client
from ansible_collections.multiregion.serverless.plugins.module_utils.records import RecordState

SEARCH_PAGE_SIZE = 100  # the largest SearchProvisionedProducts accepts (SearchProductsAsAdmin: 20, stage_ownership.py)
RECORD_PAGE_SIZE = 20  # the largest DescribeRecord accepts
ACCOUNT_WIDE = {"Key": "Account", "Value": "self"}  # every provisioned product of the account, not only the caller's


class ServiceErrors(AWSErrorHandler):
    """amazon.aws's error handler raising ``AwsApiError``; each service's subclass holds its table of codes."""

    _CUSTOM_EXCEPTION = AwsApiError
    MISSING_CODES: Tuple[str, ...] = ()
    DENIED_CODES: Tuple[str, ...] = ()

    @classmethod
    def _is_missing(cls) -> Type[Exception]:
        return is_boto3_error_code(list(cls.MISSING_CODES))


class ServiceApi:
    """One service's calls in one region, through a plain boto3 client (with the retry policy)."""

    SERVICE = ""
    MISSING_CODES: Tuple[str, ...] = ()
    DENIED_CODES: Tuple[str, ...] = ()
    ERRORS: Type[ServiceErrors] = ServiceErrors

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A service's ``ERRORS``: the error handler with the service's table of codes."""
        super().__init_subclass__(**kwargs)
        table = {"MISSING_CODES": cls.MISSING_CODES, "DENIED_CODES": cls.DENIED_CODES}
        cls.ERRORS = type(f"{cls.__name__}Errors", (ServiceErrors,), table)

    def __init__(self, client: Any, region: Optional[str]) -> None:
        self.client = client
        self.region = region

    def call(self, operation: str, resource: str, missing_ok: bool = False, **kwargs: Any) -> Any:
        """``operation`` (``DescribeRecord``) with ``kwargs``; AwsApiError on failure, None when missing and ``missing_ok``."""
        return self._handled(getattr(self.client, snake_case(operation)), operation, resource, missing_ok, **kwargs)

    def paginate(self, operation: str, resource: str, **kwargs: Any) -> Dict[str, Any]:
        """Every page of ``operation`` merged by its botocore paginator (``PaginationConfig`` sets the page size)."""

        def all_pages(**request: Any) -> Dict[str, Any]:
            return self.client.get_paginator(snake_case(operation)).paginate(**request).build_full_result()

        return self._handled(all_pages, operation, resource, False, **kwargs)

    def token_pages(self, operation: str, resource: str, result_key: str, missing_ok: bool = False, **kwargs: Any) -> Tuple[Dict[str, Any], List[Any]]:
        """The first answer and every item under ``result_key`` over all pages, for operations without a botocore
        paginator that page with ``PageToken``/``NextPageToken`` (each page is one ``call``). With ``missing_ok``, an
        answer of the service's not-found codes is ``({}, [])``."""
        first = answer = self.call(operation, resource, missing_ok=missing_ok, **kwargs)
        if first is None:
            return {}, []
        items = list(answer.get(result_key) or [])
        while answer.get("NextPageToken"):
            answer = self.call(operation, resource, **dict(kwargs, PageToken=answer["NextPageToken"]))
            items.extend(answer.get(result_key) or [])
        return first, items

    def _handled(self, function: Callable[..., Any], operation: str, resource: str, missing_ok: bool, **kwargs: Any) -> Any:
        handler = self.ERRORS.list_error_handler(operation) if missing_ok else self.ERRORS.common_error_handler(operation)
        try:
            return handler(function)(**kwargs)
        except AwsApiError as exc:
            raise exc.at(operation, self.region, resource) from exc.exception


# ---------------------------------------------------------------------------------------- Service Catalog


class ServiceCatalogApi(ServiceApi):
    SERVICE = "servicecatalog"
    MISSING_CODES = ("ResourceNotFoundException",)  # a product, version, record or provisioned product
    DENIED_CODES = ("AccessDeniedException",)

    def search_provisioned_products(self, product_id: str, resource: str) -> List[Dict[str, Any]]:
        """Every provisioned product of ``product_id`` in the account, by name."""
        _first, rows = self.token_pages(
            "SearchProvisionedProducts",
            resource,
            "ProvisionedProducts",
            AccessLevelFilter=ACCOUNT_WIDE,
            Filters={"SearchQuery": [f"productId:{product_id}"]},
            SortBy="name",
            PageSize=SEARCH_PAGE_SIZE,
        )
        return rows

    def describe_record(self, record_id: str) -> RecordState:
        """The record with all its outputs (one call unless it has more than a page of outputs)."""
        first, outputs = self.token_pages("DescribeRecord", f"record {record_id}", "RecordOutputs", Id=record_id, PageSize=RECORD_PAGE_SIZE)
        return RecordState.from_response({"RecordDetail": first.get("RecordDetail") or {}, "RecordOutputs": outputs})

    def record_of(self, operation: str, resource: str, **kwargs: Any) -> str:
        """The record id a provisioning operation (Provision/Update/TerminateProvisionedProduct) answers with."""
        return str(self.call(operation, resource, **kwargs)["RecordDetail"]["RecordId"])


# --------------------------------------------------------------------------------------------------- SSM


class SsmApi(ServiceApi):
    """Parameter Store: the catalog's latest-id and high-water-mark parameters, the rollout's target."""

    SERVICE = "ssm"
    MISSING_CODES = ("ParameterNotFound",)
    DENIED_CODES = ("AccessDeniedException",)

    def get_parameter(self, name: str, resource: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The parameter (``Value``, ``Type``, ``Version``...), None when it does not exist."""
        answer = self.call("GetParameter", resource or f"parameter {name}", missing_ok=True, Name=name)
        return answer["Parameter"] if answer else None

    def read_value(self, name: str) -> str:
        """The value of a parameter that must exist; AwsApiError (naming the parameter) when it cannot be read."""
        return str(self.call("GetParameter", name, Name=name)["Parameter"]["Value"])

    def put_parameter(self, name: str, value: str) -> int:
        """Write a String parameter (Standard tier, overwritten); its new version."""
        answer = self.call("PutParameter", f"parameter {name}", Name=name, Value=value, Type="String", Tier="Standard", Overwrite=True)
        return int(answer.get("Version") or 0)


# ---------------------------------------------------------------------------------------------------- S3


class S3Api(ServiceApi):
    """The artifact buckets: every call of a bucket the stage owns carries ExpectedBucketOwner."""

    SERVICE = "s3"
    # A HEAD request has no body, so its error code is only the HTTP status. An ExpectedBucketOwner that names
    # another account is answered 403, like a missing permission.
    MISSING_CODES = ("404", "NoSuchKey", "NotFound", "NoSuchBucket")
    DENIED_CODES = ("403", "AccessDenied", "Forbidden")

    @staticmethod
    def owner_args(owner: Optional[str]) -> Dict[str, str]:
        return {"ExpectedBucketOwner": owner} if owner else {}

    def head_bucket(self, bucket: str, owner: Optional[str]) -> None:
        self.call("HeadBucket", f"bucket {bucket}", Bucket=bucket, **self.owner_args(owner))

    def head_object(self, bucket: str, key: str, owner: Optional[str]) -> Optional[Dict[str, Any]]:
        """The object's metadata, None when there is no object under ``key``."""
        return self.call("HeadObject", f"s3://{bucket}/{key}", missing_ok=True, Bucket=bucket, Key=key, **self.owner_args(owner))

    def get_bytes(self, bucket: str, key: str, owner: Optional[str], resource: Optional[str] = None) -> bytes:
        answer = self.call("GetObject", resource or f"s3://{bucket}/{key}", Bucket=bucket, Key=key, **self.owner_args(owner))
        return answer["Body"].read()

    def put_object(self, bucket: str, key: str, body: bytes, owner: Optional[str], **extra: Any) -> None:
        self.call("PutObject", f"s3://{bucket}/{key}", Bucket=bucket, Key=key, Body=body, **self.owner_args(owner), **extra)


# ------------------------------------------------------------------------------------------------- STS


class StsApi(ServiceApi):
    """Who is calling (GetCallerIdentity): the principal a stage's portfolio is associated with by default."""

    SERVICE = "sts"
    DENIED_CODES = ("AccessDenied",)


# ------------------------------------------------------------------------------------------------- access


class AwsApis:
    """The APIs of one module call; ``make_client(service)`` is called once per service, on first use."""

    def __init__(self, make_client: Callable[[str], Any], region: Optional[str]) -> None:
        self._make_client = make_client
        self.region = region
        self._apis: Dict[str, ServiceApi] = {}

    @classmethod
    def of_module(cls, module: Any) -> "AwsApis":
        """From an ``AnsibleAWSModule``: its credentials, region, endpoint and ``max_attempts``."""
        return cls(lambda service: botocore_client(module, service), module.region)

    def _api(self, kind: Type[ServiceApi]) -> Any:
        if kind.SERVICE not in self._apis:
            self._apis[kind.SERVICE] = kind(self._make_client(kind.SERVICE), self.region)
        return self._apis[kind.SERVICE]

    @property
    def servicecatalog(self) -> ServiceCatalogApi:
        return self._api(ServiceCatalogApi)

    @property
    def ssm(self) -> SsmApi:
        return self._api(SsmApi)

    @property
    def s3(self) -> S3Api:
        return self._api(S3Api)

    @property
    def sts(self) -> StsApi:
        return self._api(StsApi)


def snake_case(operation: str) -> str:
    """``DescribeProductAsAdmin`` -> ``describe_product_as_admin`` (boto3's method names)."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in operation).lstrip("_")
