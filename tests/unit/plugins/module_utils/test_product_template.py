"""Product template rendering: nested stack URLs, exclusions, order, determinism."""
from __future__ import annotations

from pathlib import Path

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


# ---- tenant_parameter and test_tenant: what the validate phase reads, checked when the definition loads.

DEFINITION = """\
nested_stacks: [{service: orders}]
parameters:
  TenantId: {Type: String, AllowedPattern: "^[a-z0-9][a-z0-9-]{2,15}$"}
  Tier: {Type: String, Default: standard}
  Region: {Type: String}
"""


def load(tmp_path, extra: str = "", parameters: bool = True):
    path = tmp_path / "core.yml"
    path.write_text((DEFINITION if parameters else "nested_stacks: [{service: orders}]\n") + extra)
    return str(path), pt.load_product(str(path))


def test_tenant_parameter_defaults_to_tenant_id_and_test_tenant_to_nothing(tmp_path):
    _path, product = load(tmp_path)
    assert pt.tenant_parameter(product) == "TenantId"
    assert pt.test_tenant(product) == {"parameters": {}, "expected_outputs": []}


def test_declared_tenant_parameter_and_test_tenant_are_read(tmp_path):
    _path, product = load(tmp_path, "tenant_parameter: Region\ntest_tenant:\n  parameters: {Tier: 2, Region: eu}\n  expected_outputs: [ApiUrl]\n")
    assert pt.tenant_parameter(product) == "Region"
    assert pt.test_tenant(product) == {"parameters": {"Tier": "2", "Region": "eu"}, "expected_outputs": ["ApiUrl"]}


def test_a_product_without_parameters_takes_any_tenant_parameter(tmp_path):
    _path, product = load(tmp_path, "tenant_parameter: CustomerId\n", parameters=False)
    assert pt.tenant_parameter(product) == "CustomerId"


@pytest.mark.parametrize("extra, expected", [
    ("tenant_parameter: TenantID\n", "tenant_parameter 'TenantID' is not one of its parameters; did you mean TenantId? "
                                     "set tenant_parameter to the parameter that tells tenants apart (parameters: Region, TenantId, Tier)"),
    ("tenant_parameter: [TenantId]\n", "tenant_parameter must be the name of one of its parameters, got ['TenantId']"),
    ("test_tenant: [TenantId]\n", "test_tenant must be a mapping (parameters, expected_outputs), got list"),
    ("test_tenant: {parameter: {TenantId: abc}}\n", "test_tenant has an unknown key 'parameter': did you mean parameters? "
                                                    "(known: parameters, expected_outputs)"),
    ("test_tenant: {parameters: [TenantId]}\n", "test_tenant.parameters must be a mapping of parameter names to values, got list"),
    ("test_tenant: {parameters: {Teir: gold}}\n", "test_tenant.parameters names 'Teir', which is not one of its parameters; did you mean Tier? "
                                                  "(parameters: Region, TenantId, Tier)"),
    ("test_tenant: {parameters: {Tier: yes}}\n", "test_tenant.parameters.Tier must be a string or a number (quote it), got True"),
    ("test_tenant: {parameters: {Tier: {a: 1}}}\n", "test_tenant.parameters.Tier must be a string or a number (quote it), got {'a': 1}"),
    ("test_tenant: {expected_outputs: ApiUrl}\n", "test_tenant.expected_outputs must be a list of output keys, got 'ApiUrl'"),
])
def test_bad_tenant_settings_are_refused_in_one_line_naming_the_file(tmp_path, extra, expected):
    with pytest.raises(pt.ProductError) as refused:
        load(tmp_path, extra)
    assert str(refused.value) == f"{tmp_path / 'core.yml'}: {expected}"


def test_a_product_whose_parameters_lack_the_default_tenant_parameter_must_name_its_own(tmp_path):
    path = tmp_path / "core.yml"
    path.write_text("nested_stacks: [{service: orders}]\nparameters: {CustomerId: {Type: String}}\n")
    with pytest.raises(pt.ProductError) as refused:
        pt.load_product(str(path))
    assert str(refused.value) == (f"{path}: it has no parameter TenantId (the default tenant_parameter); "
                                  "set tenant_parameter to the parameter that tells tenants apart (parameters: CustomerId)")
    path.write_text("nested_stacks: [{service: orders}]\nparameters: {CustomerId: {Type: String}}\ntenant_parameter: CustomerId\n")
    assert pt.tenant_parameter(pt.load_product(str(path))) == "CustomerId"


def test_the_example_products_load_with_the_default_tenant_parameter():
    for path in sorted((Path(__file__).resolve().parents[4] / "examples" / "products").glob("*.yml")):
        assert pt.tenant_parameter(pt.load_product(str(path))) == "TenantId", path.name
