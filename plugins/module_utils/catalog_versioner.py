# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One product version step against AWS: read, decide (catalog.py, cfn_template.py), then write only on a change.

Order of work, so that a refused input writes nothing:

1. names and scheme checked (no call); 2. the new template read and parsed, its bucket and every nested
template's bucket checked against the stage's account (HeadBucket + ExpectedBucketOwner); 3. the product
found (or its creation planned); 4. the current version's fingerprint read from its description (or its
template fetched when it has none); 5. only on a change, the version quota: over ``version_limit``, the
product is refused, or with ``prune_versions`` the oldest versions no tenant is on are chosen for deletion
(steps 1-5 only read: ``prepare``); 6. the chosen versions deleted, the high-water mark reserved in SSM, then the
artifact created; 7. the latest-id parameter made to hold the current id; 8. optional lifecycle.

Every AWS call goes through the access layer (``aws_api.AwsApis``: Service Catalog, SSM, S3), so a failure is an
``AwsApiError`` that names its operation, region and resource; not-found and access-denied answers are told apart
by their error codes (the layer's tables), never by message text. ``catalog_service.py`` runs one or many requests
for the module.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple, Union

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import is_ansible_aws_error_code
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_api import AwsApis, S3Api, ServiceCatalogApi, SsmApi
from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import AwsApiError
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog import (
    CatalogError,
    NextVersion,
    VersionScheme,
    artifact_summary,
    check_ssm_parameter_name,
    choose_active,
    content_addressed_key,
    description_with_fingerprint,
    fingerprint_from_description,
    highest_issued_value,
    next_version,
    parse_highest_issued,
    plan_lifecycle,
    plan_version_quota,
    quota_refusal,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import highest_version_parameter
from ansible_collections.multiregion.serverless.plugins.module_utils.stage_ownership import (
    OwnershipError,
    ProductDirectory,
    stage_tags,
)
from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import (
    TemplateError,
    bounded_text,
    fingerprint_tree,
    local_copy,
    parse_s3_url,
    parse_template,
    pretty_json,
    regional_s3_url,
    template_changes,
)

FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")
DEFAULT_DIFF_LIMIT = 64 * 1024
DEFAULT_VERSION_LIMIT = 100  # Service Catalog's default quota of provisioning artifacts per product
# What an S3 read of a template may answer that is the caller's fault, not an outage (S3's table of codes).
S3_REFUSALS = S3Api.DENIED_CODES + S3Api.MISSING_CODES


@dataclass
class CatalogRequest:
    product: str
    ssm_parameter: str
    region: str
    template_path: Optional[str] = None
    template_url: Optional[str] = None
    template_fingerprint: Optional[str] = None
    template_bucket: Optional[str] = None
    template_key_prefix: Optional[str] = None
    expected_bucket_owner: Optional[str] = None
    version_scheme: str = "V<n>"
    version_counter_parameter: Optional[str] = None
    description: Optional[str] = None
    guidance: str = "DEFAULT"
    create_missing_product: bool = False
    product_owner: Optional[str] = None
    product_description: Optional[str] = None
    product_distributor: Optional[str] = None
    product_support_email: Optional[str] = None
    product_tags: Dict[str, str] = field(default_factory=dict)
    # The stage that owns the product: it is found only when tagged so, and created with that tag (stage_ownership.py).
    stage: Optional[str] = None
    keep_active_versions: Optional[int] = None
    # The product's version quota (AWS: 100 by default, raisable) and whether to delete old unused versions to fit.
    version_limit: int = DEFAULT_VERSION_LIMIT
    prune_versions: bool = False
    check_mode: bool = False
    diff: bool = False
    diff_limit: int = DEFAULT_DIFF_LIMIT
    # {S3 URL: local file} of templates the package phase publishes (content-addressed keys: the same bytes), read
    # instead of S3; a check run needs them for the templates it would upload.
    local_copies: Dict[str, str] = field(default_factory=dict)


@dataclass
class NewTemplate:
    document: Optional[Dict[str, Any]]  # None when the fingerprint was given instead of read
    url: str
    source: str
    fingerprint: str
    nested: List[Dict[str, Any]]
    upload: Optional[Tuple[str, str, bytes]] = None  # bucket, key, body for a local file not yet published


class VersionQuotaError(CatalogError):
    """A new version would exceed the product's version quota (and pruning is off or cannot make room)."""


@dataclass
class Prepared:
    """What ``CatalogVersioner.prepare`` read and decided: the writes of ``run`` follow from it alone."""

    template: NewTemplate
    product: Optional[Dict[str, Any]]  # None: it is to be created
    artifacts: List[Dict[str, Any]] = field(default_factory=list)
    active: Optional[Mapping[str, Any]] = None
    previous_fingerprint: Optional[str] = None
    before_document: Optional[Dict[str, Any]] = None  # the current version's template, when it was read
    upcoming: Optional[NextVersion] = None  # the version to create (None: the template did not change)
    prune: List[Dict[str, Optional[str]]] = field(default_factory=list)  # versions to delete first, oldest first


class CatalogVersioner:
    """Runs one request through ``apis`` (shared by every product of a module call, as is ``directory``)."""

    def __init__(self, request: CatalogRequest, apis: AwsApis, warn: Callable[[str], None], directory: Optional[ProductDirectory] = None) -> None:
        self.request = request
        self.apis = apis
        self.warn = warn
        # One listing of the region's products serves every product of a module call.
        self.directory = directory or ProductDirectory(apis.servicecatalog)
        self._found: Optional[Tuple[Optional[Dict[str, Any]]]] = None
        self.scheme = VersionScheme(request.version_scheme)
        self.ssm_parameter = check_ssm_parameter_name(request.ssm_parameter, "ssm_parameter")
        self.counter_parameter = check_ssm_parameter_name(
            request.version_counter_parameter or highest_version_parameter(self.ssm_parameter), "version_counter_parameter"
        )
        if self.counter_parameter == self.ssm_parameter:
            raise CatalogError("version_counter_parameter must differ from ssm_parameter")
        if bool(request.template_path) == bool(request.template_url):
            raise CatalogError("give exactly one of template_path and template_url")
        if request.template_path and not request.template_bucket:
            raise CatalogError("template_path needs template_bucket: Service Catalog reads templates from S3 only")
        if request.version_limit < 1:
            raise CatalogError(f"version_limit must be 1 or more, got {request.version_limit}")
        if request.keep_active_versions is not None and request.keep_active_versions < 1:
            raise CatalogError(f"keep_active_versions must be 1 or more, got {request.keep_active_versions}")
        if request.template_url:
            parse_s3_url(request.template_url)  # a TemplateError (one line) before any call
        if request.template_fingerprint is not None:
            if not request.template_url:
                raise CatalogError("template_fingerprint is only taken with template_url")
            if not FINGERPRINT.match(request.template_fingerprint):
                raise CatalogError(f"template_fingerprint must look like sha256:<64 hex digits>, got {request.template_fingerprint!r}")
        # One token per run: botocore's retries of the same create reuse it.
        self._token = uuid.uuid4().hex
        self._checked_buckets: Dict[str, bool] = {}
        self._in_use: Dict[str, Set[str]] = {}
        self._prepared: Optional[Union["Prepared", Exception]] = None

    # ------------------------------------------------------------------------------------------- access

    @property
    def catalog(self) -> ServiceCatalogApi:
        return self.apis.servicecatalog

    @property
    def ssm(self) -> SsmApi:
        return self.apis.ssm

    @property
    def s3(self) -> S3Api:
        return self.apis.s3

    # ------------------------------------------------------------------------------------------- reading

    def check_bucket_owner(self, bucket: str, what: str) -> None:
        """HeadBucket with ExpectedBucketOwner, once per bucket: a foreign bucket fails before any write."""
        owner = self.request.expected_bucket_owner
        if not owner or self._checked_buckets.get(bucket):
            return
        try:
            self.s3.head_bucket(bucket, owner)
        except is_ansible_aws_error_code(S3_REFUSALS) as exc:
            if exc.code in S3Api.DENIED_CODES:
                raise CatalogError(f"{what} is in bucket {bucket}, which is not owned by the stage's account {owner}; nothing was written") from None
            raise CatalogError(f"{what} is in bucket {bucket}, which does not exist in {self.request.region}; nothing was written") from None
        self._checked_buckets[bucket] = True

    def read_s3_text(self, url: str, what: str, owned: bool = True) -> str:
        location = parse_s3_url(url)
        if owned:
            self.check_bucket_owner(location.bucket, what)
        body = local_copy(self.request.local_copies, url)
        if body is not None:
            return self._text(body, what, url)
        owner = self.request.expected_bucket_owner if owned else None
        try:
            body = self.s3.get_bytes(location.bucket, location.key, owner, resource=url)
        except is_ansible_aws_error_code(S3_REFUSALS) as exc:
            if exc.code in S3Api.MISSING_CODES:
                raise CatalogError(f"{what} {url} does not exist (s3://{location.bucket}/{location.key}); nothing was written") from None
            if not owned:
                raise
            raise CatalogError(f"{what} {url} is not readable as the stage's account {owner}: {exc.code}; nothing was written") from None
        return self._text(body, what, url)

    @staticmethod
    def _text(body: bytes, what: str, url: str) -> str:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise CatalogError(f"{what} {url} is not UTF-8 text, so not a CloudFormation template") from None

    def _fetch_nested(self, owned: bool) -> Callable[[str], Dict[str, Any]]:
        def fetch(url: str) -> Dict[str, Any]:
            return parse_template(self.read_s3_text(url, "nested template", owned), f"nested template {url}")

        return fetch

    def load_new_template(self) -> NewTemplate:
        request = self.request
        upload = None
        if request.template_path:
            source = request.template_path
            try:
                with open(request.template_path, "rb") as handle:
                    body = handle.read()
            except OSError as exc:
                raise CatalogError(f"template_path {request.template_path}: {exc.strerror}") from None
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise CatalogError(f"{source} is not UTF-8 text, so not a CloudFormation template") from None
            document = parse_template(text, source)
            extension = os.path.splitext(source)[1].lower() if os.path.splitext(source)[1].lower() in (".json", ".yml", ".yaml", ".template") else ".json"
            prefix = request.template_key_prefix if request.template_key_prefix is not None else f"products/{request.product}"
            key = content_addressed_key(prefix, hashlib.sha256(body).hexdigest(), extension)
            bucket = request.template_bucket or ""
            self.check_bucket_owner(bucket, f"template_bucket for {source}")
            url = regional_s3_url(bucket, key, request.region)
            upload = (bucket, key, body)
        else:
            url = request.template_url or ""
            source = url
            location = parse_s3_url(url)
            if location.region and location.region != request.region:
                self.warn(f"template_url {url} is in {location.region}, not {request.region}: a product's template should use its own region's bucket")
            if request.template_fingerprint and not request.diff:
                # The publisher fingerprinted the tree from the files it uploaded: nothing to read back.
                self.check_bucket_owner(location.bucket, "template_url")
                return NewTemplate(document=None, url=url, source=source, fingerprint=request.template_fingerprint, nested=[])
            document = parse_template(self.read_s3_text(url, "template_url"), url)
        fingerprint, nested = fingerprint_tree(document, self._fetch_nested(owned=True), source)
        if request.template_fingerprint and request.template_fingerprint != fingerprint:
            self.warn(f"template_fingerprint {request.template_fingerprint} is not the fingerprint of {url} ({fingerprint}); using the latter")
        return NewTemplate(
            document=document,
            url=url,
            source=source,
            fingerprint=fingerprint,
            nested=[{"logical_id": item.logical_id, "url": item.url, "fingerprint": item.fingerprint, "depth": item.depth} for item in nested],
            upload=upload,
        )

    def find_product(self) -> Optional[Dict[str, Any]]:
        """The product's summary (None when it does not exist), looked up once; refuses a product the stage does not own."""
        if self._found is None:
            try:
                answer = self.directory.describe(self.request.product, self.request.stage)
            except OwnershipError as exc:
                raise CatalogError(str(exc)) from None
            self._found = (answer["ProductViewDetail"]["ProductViewSummary"] if answer else None,)
        return self._found[0]

    def list_artifacts(self, product_id: str) -> List[Dict[str, Any]]:
        # ListProvisioningArtifacts has no paging input: one call returns every version of the product.
        answer = self.catalog.call("ListProvisioningArtifacts", f"product {product_id}", ProductId=product_id)
        return list(answer.get("ProvisioningArtifactDetails") or [])

    def artifact_template(self, product_id: str, artifact: Dict[str, Any]) -> Optional[Tuple[Dict[str, Any], str]]:
        """The template of an existing version and its fingerprint; None (with a warning) when unreadable."""
        answer = self.catalog.call(
            "DescribeProvisioningArtifact",
            f"version {artifact.get('Name')} ({artifact.get('Id')})",
            ProductId=product_id,
            ProvisioningArtifactId=artifact["Id"],
        )
        url = (answer.get("Info") or {}).get("TemplateUrl")
        try:
            if not url:
                raise CatalogError("it has no TemplateUrl")
            # The current version's template is only read, wherever it lives (it may predate this collection).
            document = parse_template(self.read_s3_text(url, "current template", owned=False), url)
            fingerprint, _nested = fingerprint_tree(document, self._fetch_nested(owned=False), url)
        except (CatalogError, TemplateError) as exc:
            self.warn(f"cannot read the template of version {artifact.get('Name')} ({artifact.get('Id')}): {exc}; treating the template as changed")
            return None
        return document, fingerprint

    def artifacts_in_use(self, product_id: str) -> Set[str]:
        """Artifact ids that provisioned products of ``product_id`` use (all users of the account)."""
        rows = self.catalog.search_provisioned_products(product_id, f"product {product_id}")
        return {row["ProvisioningArtifactId"] for row in rows if row.get("ProductId", product_id) == product_id and row.get("ProvisioningArtifactId")}

    def in_use(self, product_id: str) -> Set[str]:
        """``artifacts_in_use``, searched once per run (the quota check and the lifecycle share it)."""
        if product_id not in self._in_use:
            self._in_use[product_id] = self.artifacts_in_use(product_id)
        return self._in_use[product_id]

    # ------------------------------------------------------------------------------------------- writing

    def delete_artifact(self, product_id: str, artifact: Dict[str, Optional[str]]) -> None:
        """Delete a version to make room under the quota (only one ``plan_version_quota`` chose)."""
        self.catalog.call(
            "DeleteProvisioningArtifact", f"version {artifact['name']} ({artifact['id']}) of product {product_id}",
            ProductId=product_id, ProvisioningArtifactId=artifact["id"],
        )

    def publish(self, template: NewTemplate) -> None:
        """Upload a local template to its content-addressed key, unless an earlier run already did."""
        if not template.upload:
            return
        bucket, key, body = template.upload
        owner = self.request.expected_bucket_owner
        if self.s3.head_object(bucket, key, owner) is not None:
            return
        self.s3.put_object(bucket, key, body, owner, ContentType="application/json" if key.endswith(".json") else "text/yaml")

    def _artifact_parameters(self, name: str, template: NewTemplate) -> Dict[str, Any]:
        return {
            "Name": name,
            "Description": description_with_fingerprint(self.request.description, template.fingerprint),
            "Info": {"LoadTemplateFromURL": template.url},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        }

    def create_product(self, template: NewTemplate, name: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        request = self.request
        kwargs: Dict[str, Any] = {
            "Name": request.product,
            "Owner": request.product_owner,
            "ProductType": "CLOUD_FORMATION_TEMPLATE",
            "ProvisioningArtifactParameters": self._artifact_parameters(name, template),
            "IdempotencyToken": self._token,
        }
        tags = stage_tags(request.stage, request.product_tags)
        if tags:
            kwargs["Tags"] = tags
        for option, api_name in (("product_description", "Description"), ("product_distributor", "Distributor"), ("product_support_email", "SupportEmail")):
            if getattr(request, option):
                kwargs[api_name] = getattr(request, option)
        answer = self.catalog.call("CreateProduct", f"product {request.product}", **kwargs)
        self.directory.forget()
        return answer["ProductViewDetail"]["ProductViewSummary"], answer["ProvisioningArtifactDetail"]

    def create_artifact(self, product_id: str, template: NewTemplate, name: str) -> Dict[str, Any]:
        answer = self.catalog.call(
            "CreateProvisioningArtifact", f"version {name} of product {product_id}",
            ProductId=product_id, Parameters=self._artifact_parameters(name, template), IdempotencyToken=self._token,
        )
        return answer["ProvisioningArtifactDetail"]

    def set_guidance(self, product_id: str, artifact: Dict[str, Any], active: Optional[bool], guidance: str) -> None:
        kwargs: Dict[str, Any] = {"ProductId": product_id, "ProvisioningArtifactId": artifact["id"], "Guidance": guidance}
        if active is not None:
            kwargs["Active"] = active
        self.catalog.call("UpdateProvisioningArtifact", f"version {artifact['name']} ({artifact['id']})", **kwargs)

    # ------------------------------------------------------------------------------------------- the run

    def prepare(self) -> "Prepared":
        """Every read and decision before the first write, once (a refusal is kept and raised again by ``run``).

        The module runs this for every product of a call before writing any, so a product over its version quota
        refuses the whole call before anything is written (``catalog_service.version_many``).
        """
        if self._prepared is None:
            try:
                self._prepared = self._prepare()
            except (CatalogError, TemplateError, AwsApiError) as exc:
                self._prepared = exc
        if isinstance(self._prepared, Exception):
            raise self._prepared
        return self._prepared

    def _prepare(self) -> "Prepared":
        request = self.request
        template = self.load_new_template()
        prepared = Prepared(template=template, product=self.find_product())
        if prepared.product is None:
            if not request.create_missing_product:
                raise CatalogError(
                    f"product '{request.product}' does not exist in {request.region}; create it, or let the deploy create it with "
                    "-e create_missing_products=true (module option: create_missing_product)"
                )
            if not request.product_owner:
                raise CatalogError(f"product '{request.product}' does not exist in {request.region} and creating it needs product_owner")
            return prepared
        product_id = prepared.product["ProductId"]
        artifacts = prepared.artifacts = self.list_artifacts(product_id)
        active = prepared.active = choose_active(artifacts, self.scheme)
        previous_fingerprint = fingerprint_from_description(active.get("Description")) if active else None
        if active and (previous_fingerprint is None or request.diff):
            fetched = self.artifact_template(product_id, active)
            if fetched:
                prepared.before_document = fetched[0]
                previous_fingerprint = previous_fingerprint or fetched[1]
        prepared.previous_fingerprint = previous_fingerprint
        if active is not None and previous_fingerprint == template.fingerprint:
            return prepared
        counter = self.ssm.get_parameter(self.counter_parameter)
        highest_issued = parse_highest_issued(counter["Value"] if counter else None, product_id)
        prepared.upcoming = next_version([artifact.get("Name") for artifact in artifacts], self.scheme, highest_issued)
        if len(artifacts) + 1 > request.version_limit:  # only then is the quota worth a search of the tenants
            current = self.ssm.get_parameter(self.ssm_parameter)
            keep = {artifact_summary(active)["id"], current.get("Value") if current else None}
            quota = plan_version_quota(artifacts, self.in_use(product_id), keep, request.version_limit)
            if not request.prune_versions or not quota.enough:
                raise VersionQuotaError(quota_refusal(request.product, quota, request.prune_versions))
            prepared.prune = quota.prune
        return prepared

    def run(self) -> Dict[str, Any]:
        request = self.request
        check = request.check_mode
        prepared = self.prepare()
        template = prepared.template
        result: Dict[str, Any] = {
            "changed": False,
            "product_name": request.product,
            "product_id": None,
            "product_created": False,
            "previous_artifact_id": None,
            "previous_artifact_name": None,
            "previous_fingerprint": None,
            "artifact_id": None,
            "artifact_name": None,
            "version_created": False,
            "fingerprint": template.fingerprint,
            "template_url": template.url,
            "nested_templates": template.nested,
            "ignored_artifact_names": [],
            "ssm_parameter": self.ssm_parameter,
            "ssm_parameter_version": None,
            "ssm_parameter_changed": False,
            "version_counter_parameter": self.counter_parameter,
            "version_limit": request.version_limit,
            "pruned_artifacts": [],
            "deprecated_artifacts": [],
            "kept_in_use_artifacts": [],
        }

        product = prepared.product
        artifacts = list(prepared.artifacts)
        if product is None:
            name = self.scheme.name(1)
            result.update(changed=True, product_created=True, version_created=True, artifact_name=name)
            if not check:
                self.publish(template)
                product, created = self.create_product(template, name)
                result.update(product_id=product["ProductId"], artifact_id=created["Id"])
                self.ssm.put_parameter(self.counter_parameter, highest_issued_value(product["ProductId"], 1))
        else:
            product_id = product["ProductId"]
            result["product_id"] = product_id
            previous = artifact_summary(prepared.active)
            result.update(previous_artifact_id=previous["id"], previous_artifact_name=previous["name"], previous_fingerprint=prepared.previous_fingerprint)
            upcoming = prepared.upcoming
            if upcoming is not None:
                result["ignored_artifact_names"] = upcoming.ignored_names
                if upcoming.ignored_names:
                    self.warn(
                        f"product {request.product}: ignored {len(upcoming.ignored_names)} version name(s) that do not follow "
                        f"'{self.scheme.pattern}' when numbering: {', '.join(upcoming.ignored_names)}"
                    )
                result.update(changed=True, version_created=True, artifact_name=upcoming.name, pruned_artifacts=prepared.prune)
                pruned_ids = {item["id"] for item in prepared.prune}
                artifacts = [artifact for artifact in artifacts if artifact.get("Id") not in pruned_ids]
                if not check:
                    self.publish(template)
                    # Room first (the quota refuses a create over it), then the number, then the version.
                    for item in prepared.prune:
                        self.delete_artifact(product_id, item)
                    # Reserve the number first: a create that fails after this leaves a gap, never a reused number.
                    self.ssm.put_parameter(self.counter_parameter, highest_issued_value(product_id, upcoming.number))
                    created = self.create_artifact(product_id, template, upcoming.name)
                    artifacts.append(created)
                    result["artifact_id"] = created["Id"]
                else:
                    # So that check mode plans the same retirements as the apply that follows it.
                    artifacts.append({"Id": None, "Name": upcoming.name, "Active": True, "Guidance": "DEFAULT"})
            else:
                result.update(artifact_id=previous["id"], artifact_name=previous["name"])

        if result["version_created"] and request.guidance != "DEFAULT" and not check:
            self.set_guidance(result["product_id"], {"id": result["artifact_id"], "name": result["artifact_name"]}, None, request.guidance)

        self._sync_latest_id(result)

        if request.keep_active_versions and result["product_id"] and not result["product_created"]:
            self._retire_old_versions(result, artifacts)

        if request.diff:
            result["diff"] = {
                "before_header": result["previous_artifact_name"] or "(no version)",
                "after_header": result["artifact_name"] or "(new version)",
                "before": bounded_text(pretty_json(prepared.before_document) if prepared.before_document is not None else "", request.diff_limit),
                "after": bounded_text(pretty_json(template.document), request.diff_limit),
            }
            notes = []
            if prepared.before_document is not None and template.document is not None and result["version_created"]:
                # The resource-level difference, nested stacks opened: the JSON diff above shows only their URLs.
                changes = template_changes(prepared.before_document, template.document, self._fetch_nested(owned=False))
                notes.append(f"{request.product} {result['diff']['before_header']} -> {result['diff']['after_header']}:"
                             + "".join(f"\n    {line}" for line in changes))
            if prepared.prune:
                listed = ", ".join(f"{item['name']} ({item['id']})" for item in prepared.prune)
                notes.append(f"{request.product}: delete {listed} to stay within {request.version_limit} versions (prune_versions)")
            if notes:
                result["diff"]["prepared"] = "\n".join(notes)
        return result

    def _sync_latest_id(self, result: Dict[str, Any]) -> None:
        """Make the latest-id parameter hold the current version's id (a repair counts as a change)."""
        current = self.ssm.get_parameter(self.ssm_parameter)
        result["ssm_parameter_version"] = int(current["Version"]) if current else None
        desired = result["artifact_id"]
        if desired is None:  # check mode: the version does not exist yet, so the parameter would change
            result["ssm_parameter_changed"] = True
            return
        if current and current.get("Value") == desired and current.get("Type") == "String":
            return
        result["changed"] = True
        result["ssm_parameter_changed"] = True
        if not result["version_created"] and current:
            self.warn(f"{self.ssm_parameter} held {current.get('Value')!r}, not the current version {result['artifact_name']} ({desired}); repaired")
        if not self.request.check_mode:
            result["ssm_parameter_version"] = self.ssm.put_parameter(self.ssm_parameter, desired)

    def _retire_old_versions(self, result: Dict[str, Any], artifacts: List[Dict[str, Any]]) -> None:
        in_use = set(self.in_use(result["product_id"]))
        if result["artifact_id"]:
            in_use.add(result["artifact_id"])  # the version SSM names is never retired, whatever K says
        plan = plan_lifecycle(artifacts, self.scheme, self.request.keep_active_versions or 1, in_use)
        result["kept_in_use_artifacts"] = plan.kept_in_use
        result["deprecated_artifacts"] = plan.deprecate
        if plan.deprecate:
            result["changed"] = True
        if self.request.check_mode:
            return
        for artifact in plan.deprecate:
            self.set_guidance(result["product_id"], artifact, False, "DEPRECATED")
