# -*- coding: utf-8 -*-
# Copyright: multiregion.serverless contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering a Service Catalog product's CloudFormation template from ``products/<name>.yml``.

The product template holds the product's ``parameters`` and one ``AWS::CloudFormation::Stack`` per nested
stack, whose ``TemplateURL`` is the regional URL of that stack's published template. Those URLs end in
content hashes, so the rendered template (canonical JSON) is byte-identical while no nested template
changes and changes as soon as one does. Pure (dicts in, dict/bytes out) but for ``render_products``, which
loads the definitions, writes the rendered files and fingerprints each tree from the local files.

A definition also says how a tenant is told apart and how its test tenant is made (the validate phase,
``validation.test_tenant_parameters``): ``tenant_parameter`` (default ``TenantId``), read by ``tenant_parameter``, and
``test_tenant: {parameters, expected_outputs}``, read by ``test_tenant``. ``load_product`` checks both.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None  # type: ignore

from ansible_collections.multiregion.serverless.plugins.module_utils.cfn_template import local_fingerprint
from ansible_collections.multiregion.serverless.plugins.module_utils.common import canonical_json, did_you_mean, sha256_bytes, write_fresh_file
from ansible_collections.multiregion.serverless.plugins.module_utils.naming import product_template_key

NESTED_KINDS = ("service", "init")
LOGICAL_ID_SUFFIX = {"service": "ServiceStack", "init": "InitStack"}
# The product parameter that tells tenants apart, unless the definition names another (``tenant_parameter``).
DEFAULT_TENANT_PARAMETER = "TenantId"
# The keys of a definition's ``test_tenant``.
TEST_TENANT_KEYS = ("parameters", "expected_outputs")
# A test tenant parameter value as YAML may write it: CloudFormation takes strings, numbers are written out.
PARAMETER_VALUE_TYPES = (str, int, float)


class ProductError(ValueError):
    """A product definition cannot be rendered or used; the message names the product (or its file) and what to fix."""


def load_product(path: str) -> Dict[str, Any]:
    """``products/<name>.yml`` as a checked dict (``name`` defaults to the file name)."""
    try:
        with open(path, encoding="utf-8") as handle:
            product = yaml.safe_load(handle)
    except OSError:
        raise ProductError(f"product definition not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ProductError(f"product definition is not valid YAML: {path}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(product, dict):
        raise ProductError(f"product definition must be a mapping: {path}")
    product.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    nested_stack_refs(product)  # validates
    if not isinstance(product.get("parameters") or {}, dict):
        raise ProductError(f"product {product['name']}: parameters must be a mapping")
    check_tenant_settings(product, path)
    return product


def check_tenant_settings(product: Dict[str, Any], source: str) -> None:
    """Refuse, in one line naming ``source``, a ``tenant_parameter`` or ``test_tenant`` the product cannot use."""
    declared = sorted(product.get("parameters") or {})
    tenant = product.get("tenant_parameter", DEFAULT_TENANT_PARAMETER)
    if not isinstance(tenant, str) or not tenant:
        raise ProductError(f"{source}: tenant_parameter must be the name of one of its parameters, got {tenant!r}")
    if declared and tenant not in declared:
        what = (f"tenant_parameter {tenant!r} is not one of its parameters" if "tenant_parameter" in product
                else f"it has no parameter {tenant} (the default tenant_parameter)")
        raise ProductError(f"{source}: {what}; {did_you_mean(tenant, declared)}"
                           f"set tenant_parameter to the parameter that tells tenants apart (parameters: {', '.join(declared)})")
    settings = product.get("test_tenant")
    if settings is None:
        return
    if not isinstance(settings, dict):
        raise ProductError(f"{source}: test_tenant must be a mapping ({', '.join(TEST_TENANT_KEYS)}), got {type(settings).__name__}")
    for key in settings:
        if key not in TEST_TENANT_KEYS:
            raise ProductError(f"{source}: test_tenant has an unknown key {key!r}: {did_you_mean(str(key), TEST_TENANT_KEYS)}"
                               f"(known: {', '.join(TEST_TENANT_KEYS)})")
    values = settings.get("parameters") or {}
    if not isinstance(values, dict):
        raise ProductError(f"{source}: test_tenant.parameters must be a mapping of parameter names to values, got {type(values).__name__}")
    for name, value in values.items():
        if name not in declared:
            raise ProductError(f"{source}: test_tenant.parameters names {name!r}, which is not one of its parameters; "
                               f"{did_you_mean(str(name), declared)}(parameters: {', '.join(declared) or 'none'})")
        if isinstance(value, bool) or not isinstance(value, PARAMETER_VALUE_TYPES):
            raise ProductError(f"{source}: test_tenant.parameters.{name} must be a string or a number (quote it), got {value!r}")
    outputs = settings.get("expected_outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(key, str) and key for key in outputs):
        raise ProductError(f"{source}: test_tenant.expected_outputs must be a list of output keys, got {outputs!r}")


def tenant_parameter(product: Dict[str, Any]) -> str:
    """The product parameter that tells its tenants apart: ``tenant_parameter``, else ``TenantId``."""
    return str(product.get("tenant_parameter") or DEFAULT_TENANT_PARAMETER)


def test_tenant(product: Dict[str, Any]) -> Dict[str, Any]:
    """The definition's ``test_tenant`` with both keys: ``{"parameters": {name: str value}, "expected_outputs": [keys]}``."""
    settings = product.get("test_tenant") or {}
    return {
        "parameters": {str(name): str(value) for name, value in (settings.get("parameters") or {}).items()},
        "expected_outputs": [str(key) for key in settings.get("expected_outputs") or []],
    }


test_tenant.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when a test module imports it


def nested_stack_refs(product: Dict[str, Any]) -> List[Tuple[str, str]]:
    """``[(kind, name), ...]`` in the order the product lists them; kind is ``service`` or ``init``."""
    refs: List[Tuple[str, str]] = []
    entries = product.get("nested_stacks")
    if not isinstance(entries, list) or not entries:
        raise ProductError(f"product {product.get('name')}: nested_stacks must be a non-empty list")
    for entry in entries:
        kinds = [kind for kind in NESTED_KINDS if isinstance(entry, dict) and kind in entry]
        if len(kinds) != 1 or len(entry) != 1 or not isinstance(entry[kinds[0]], str):
            raise ProductError(f"product {product.get('name')}: each nested_stacks entry is {{service: NAME}} or {{init: NAME}}, got {entry!r}")
        refs.append((kinds[0], entry[kinds[0]]))
    duplicates = sorted({f"{kind}:{name}" for kind, name in refs if refs.count((kind, name)) > 1})
    if duplicates:
        raise ProductError(f"product {product.get('name')}: nested_stacks lists {', '.join(duplicates)} twice")
    return refs


def logical_id(kind: str, name: str) -> str:
    """``orders`` -> ``OrdersServiceStack``, ``network-baseline`` (init) -> ``NetworkBaselineInitStack``."""
    words = [word for word in re.split(r"[^A-Za-z0-9]+", name) if word]
    return "".join(word[:1].upper() + word[1:] for word in words) + LOGICAL_ID_SUFFIX[kind]


def render_product_template(product: Dict[str, Any], nested: Dict[Tuple[str, str], Dict[str, Any]],
                            excluded: Sequence[str] = ()) -> Dict[str, Any]:
    """The product's CloudFormation template.

    ``nested`` maps ``(kind, name)`` to ``{"url": TemplateURL, "parameters": [names the nested template declares]}``.
    Services in ``excluded`` are left out; any other nested stack without a published template is an error.
    Product parameters are passed to each nested stack that declares a parameter of the same name, and each
    nested stack ``DependsOn`` the one listed before it, so CloudFormation creates them in the listed order.
    """
    parameters = dict(product.get("parameters") or {})
    resources: Dict[str, Any] = {}
    previous = None
    for kind, name in nested_stack_refs(product):
        if kind == "service" and name in excluded:
            continue
        published = nested.get((kind, name))
        if published is None:
            raise ProductError(f"product {product['name']}: {kind} '{name}' has no published template in this region (not packaged?)")
        properties: Dict[str, Any] = {"TemplateURL": published["url"]}
        passed = {parameter: {"Ref": parameter} for parameter in sorted(published.get("parameters") or []) if parameter in parameters}
        if passed:
            properties["Parameters"] = passed
        resource: Dict[str, Any] = {"Type": "AWS::CloudFormation::Stack", "Properties": properties}
        if previous:
            resource["DependsOn"] = previous
        previous = logical_id(kind, name)
        resources[previous] = resource
    if not resources:
        raise ProductError(f"product {product['name']}: every nested stack is excluded for this stage")
    template: Dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    if product.get("description"):
        template["Description"] = str(product["description"])
    if parameters:
        template["Parameters"] = parameters
    return template


def render_to_bytes(product: Dict[str, Any], nested: Dict[Tuple[str, str], Dict[str, Any]], stage: str,
                    excluded: Sequence[str] = ()) -> Tuple[Dict[str, Any], bytes, str, str]:
    """``(template, canonical bytes, sha256, S3 key)`` of the rendered product template."""
    template = render_product_template(product, nested, excluded)
    body = canonical_json(template)
    digest = sha256_bytes(body)
    return template, body, digest, product_template_key(product["name"], stage, digest)


def nested_from_packages(packages: Sequence[Dict[str, Any]], url_of: Callable[[str], str]) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """``(kind, name) -> {url, parameters, path}`` from ``sls_package`` results; ``url_of(key)`` builds the regional URL."""
    nested: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for package in packages:
        if package.get("template_key"):
            nested[(package.get("kind", "service"), package["name"])] = {
                "url": url_of(package["template_key"]),
                "parameters": package.get("parameters") or [],
                "path": package.get("template_path"),  # the local copy of what is published at url
            }
    return nested


def render_products(
    paths: Sequence[str],
    nested: Dict[Tuple[str, str], Dict[str, Any]],
    url_of: Callable[[str], str],
    stage: str,
    excluded: Sequence[str] = (),
    output_dir: Optional[str] = None,
) -> Tuple[Dict[str, Dict[str, Any]], List[Dict[str, Any]]]:
    """``({name: {...}}, objects)``: each product definition at ``paths`` rendered, and the objects to publish
    after the nested templates.

    ``nested`` is ``nested_from_packages`` of the packages being published. Each rendered template is written to
    ``<output_dir>/<product>/<sha256>.json``; without ``output_dir`` it is rendered in memory only and its
    object has no ``path``.
    """
    files_by_url = {value["url"]: value["path"] for value in nested.values() if value["path"]}
    rendered: Dict[str, Dict[str, Any]] = {}
    objects: List[Dict[str, Any]] = []
    for definition in paths:
        product = load_product(definition)
        template, body, digest, key = render_to_bytes(product, nested, stage, excluded)
        entry: Dict[str, Any] = {
            "key": key,
            "url": url_of(key),
            "sha256": digest,
            "nested_template_urls": {logical: resource["Properties"]["TemplateURL"] for logical, resource in template["Resources"].items()},
            "fingerprint": None,
        }
        tree = local_fingerprint(template, files_by_url, key)
        if tree:
            entry["fingerprint"] = tree[0]
        path = None
        if output_dir is not None:
            path = entry["path"] = os.path.join(output_dir, product["name"], f"{digest}.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_fresh_file(path, body)
        objects.append({"key": key, "path": path, "sha256": digest})
        rendered[product["name"]] = entry
    return rendered, objects
