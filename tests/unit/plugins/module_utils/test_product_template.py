"""Product template rendering: nested stack URLs, exclusions, order, determinism."""
from __future__ import annotations

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils import product_template as pt

PRODUCT = {
    "name": "platform-core",
    "description": "Core tenant stack",
    "parameters": {"TenantId": {"Type": "String"}, "TenantTier": {"Type": "String", "Default": "standard"}},
    "nested_stacks": [{"init": "network-baseline"}, {"service": "authorizer"}, {"service": "orders"}, {"service": "e2e-fixtures"}],
}


def nested(overrides=None):
    base = {
        ("init", "network-baseline"): {"url": "https://b.s3.eu-west-1.amazonaws.com/init/network-baseline/dev/aa.json", "parameters": ["TenantId"]},
        ("service", "authorizer"): {"url": "https://b.s3.eu-west-1.amazonaws.com/serverless/authorizer/dev/templates/bb.json",
                                    "parameters": ["TenantId", "Other"]},
        ("service", "orders"): {"url": "https://b.s3.eu-west-1.amazonaws.com/serverless/orders/dev/templates/cc.json", "parameters": []},
        ("service", "e2e-fixtures"): {"url": "https://b.s3.eu-west-1.amazonaws.com/serverless/e2e-fixtures/dev/templates/dd.json", "parameters": []},
    }
    base.update(overrides or {})
    return base


def test_renders_one_stack_per_nested_entry_with_its_url_in_order():
    template = pt.render_product_template(PRODUCT, nested())
    assert list(template["Resources"]) == ["NetworkBaselineInitStack", "AuthorizerServiceStack", "OrdersServiceStack", "E2eFixturesServiceStack"]
    orders = template["Resources"]["OrdersServiceStack"]
    assert orders["Type"] == "AWS::CloudFormation::Stack"
    assert orders["Properties"]["TemplateURL"].endswith("/serverless/orders/dev/templates/cc.json")
    assert orders["DependsOn"] == "AuthorizerServiceStack"
    assert "DependsOn" not in template["Resources"]["NetworkBaselineInitStack"]
    assert template["Parameters"] == PRODUCT["parameters"]
    assert template["Description"] == "Core tenant stack"


def test_passes_only_the_product_parameters_a_nested_template_declares():
    resources = pt.render_product_template(PRODUCT, nested())["Resources"]
    assert resources["AuthorizerServiceStack"]["Properties"]["Parameters"] == {"TenantId": {"Ref": "TenantId"}}
    assert "Parameters" not in resources["OrdersServiceStack"]["Properties"]


def test_excluded_services_are_left_out_and_the_chain_skips_them():
    template = pt.render_product_template(PRODUCT, nested(), excluded=["orders", "e2e-fixtures"])
    assert list(template["Resources"]) == ["NetworkBaselineInitStack", "AuthorizerServiceStack"]


def test_a_nested_stack_without_published_template_is_an_error():
    missing = nested()
    del missing[("service", "orders")]
    with pytest.raises(pt.ProductError, match="orders"):
        pt.render_product_template(PRODUCT, missing)


def test_bytes_are_stable_and_change_with_any_nested_template():
    _t1, body1, sha1, key1 = pt.render_to_bytes(PRODUCT, nested(), "dev")
    _t2, body2, sha2, key2 = pt.render_to_bytes(dict(PRODUCT), nested(), "dev")
    assert body1 == body2 and sha1 == sha2 and key1 == key2 == f"products/platform-core/dev/{sha1}.json"
    changed = nested({("service", "orders"): {"url": "https://b.s3.eu-west-1.amazonaws.com/serverless/orders/dev/templates/ee.json"}})
    assert pt.render_to_bytes(PRODUCT, changed, "dev")[2] != sha1


@pytest.mark.parametrize("entries", [[], [{"service": "a", "init": "b"}], [{"lambda": "x"}], [{"service": "a"}, {"service": "a"}]])
def test_bad_nested_stack_lists_are_refused(entries):
    with pytest.raises(pt.ProductError):
        pt.nested_stack_refs({"name": "p", "nested_stacks": entries})


def test_logical_ids():
    assert pt.logical_id("service", "orders") == "OrdersServiceStack"
    assert pt.logical_id("init", "shared-observability") == "SharedObservabilityInitStack"


def test_nested_from_packages_uses_the_template_key_and_kind():
    packages = [{"name": "orders", "kind": "service", "template_key": "k1", "template_path": "/b/k1.json", "parameters": ["TenantId"]},
                {"name": "net", "kind": "init", "template_key": "k2"},
                {"name": "pending", "kind": "service", "status": "would_package"}]
    found = pt.nested_from_packages(packages, lambda key: f"https://x/{key}")
    assert found == {("service", "orders"): {"url": "https://x/k1", "parameters": ["TenantId"], "path": "/b/k1.json"},
                     ("init", "net"): {"url": "https://x/k2", "parameters": [], "path": None}}


def test_example_products_load(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("description: d\nnested_stacks:\n  - service: orders\n")
    assert pt.load_product(str(path))["name"] == "p"
    path.write_text("nested_stacks: [\n")
    with pytest.raises(pt.ProductError, match="not valid YAML"):
        pt.load_product(str(path))
