"""The catalog service (``catalog_service.version_products``) at the version quota, against the in-process local AWS
(``aws_mock``): a product seeded with V1 and V2 (catalog_seed.py), a tenant on V1, and a limit of a few versions."""
from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from ansible_collections.multiregion.serverless.plugins.module_utils.aws_client import ServiceFailure
from ansible_collections.multiregion.serverless.plugins.module_utils.catalog_service import version_products
from ansible_collections.multiregion.serverless.plugins.modules.catalog_artifact_version import ARGUMENT_SPEC

from catalog_seed import BUCKET, REGION, Seeded, ServiceClients, client, provision, seed_product, tenant_states, tenant_template

WRITES = {"CreateProduct", "CreateProvisioningArtifact", "UpdateProvisioningArtifact", "DeleteProvisioningArtifact", "PutParameter", "PutObject"}


def writes(aws_mock: Any) -> Dict[str, int]:
    return {op: count for service in aws_mock.calls().values() for op, count in service.items() if op in WRITES}


def publish(aws_mock: Any, version: int) -> str:
    """A template that differs from every earlier one (its queue gets a delay of ``version`` seconds)."""
    document = tenant_template(2)
    document["Resources"]["Queue"]["Properties"]["DelaySeconds"] = version
    key = f"core/v{version}.json"
    client(aws_mock, "s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())
    return f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}"


def version(aws_mock: Any, seeded: Seeded, url: str, check: bool = False, **options: Any) -> Dict[str, Any]:
    params = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    params.update(product=seeded.product, stage="dev", ssm_parameter=seeded.parameter, template_url=url, **options)
    return version_products(ServiceClients(aws_mock).apis, params, check_mode=check)


def names(aws_mock: Any, seeded: Seeded) -> Dict[str, str]:
    listed = client(aws_mock, "servicecatalog").list_provisioning_artifacts(ProductId=seeded.product_id)["ProvisioningArtifactDetails"]
    return {artifact["Name"]: artifact["Id"] for artifact in sorted(listed, key=lambda artifact: artifact["CreatedTime"])}


def latest(aws_mock: Any, seeded: Seeded) -> str:
    return client(aws_mock, "ssm").get_parameter(Name=seeded.parameter)["Parameter"]["Value"]


@pytest.fixture(name="seeded")
def fixture_seeded(aws_mock: Any) -> Seeded:
    seeded = seed_product(aws_mock)
    provision(aws_mock, seeded, "t-a", "V1")
    return seeded


def test_a_version_a_tenant_is_on_is_never_pruned(aws_mock: Any, seeded: Seeded) -> None:
    v3 = publish(aws_mock, 3)
    aws_mock.reset_calls()
    # V1: a tenant is on it; V2: the newest, the current one and the one SSM names. Nothing can go.
    for check in (True, False):
        with pytest.raises(ServiceFailure) as refused:
            version(aws_mock, seeded, v3, check=check, version_limit=2, prune_versions=True)
        assert str(refused.value).startswith("core in eu-west-1: product core has 2 of 2 versions: no version can go")
        assert str(refused.value).endswith("; nothing was written") and "\n" not in str(refused.value)
    assert writes(aws_mock) == {}
    assert list(names(aws_mock, seeded)) == ["V1", "V2"]

    # Room for one more: V3 without pruning.
    made = version(aws_mock, seeded, v3, version_limit=3, prune_versions=True)
    assert (made["artifact_name"], made["pruned_artifacts"]) == ("V3", [])

    # Full again: V2 is the one that can go (V1 has a tenant, V3 is the newest and current).
    v4 = publish(aws_mock, 4)
    aws_mock.reset_calls()
    checked = version(aws_mock, seeded, v4, check=True, version_limit=3, prune_versions=True)
    assert checked["changed"] and checked["pruned_artifacts"] == [{"id": seeded.versions["V2"], "name": "V2"}]
    assert writes(aws_mock) == {} and list(names(aws_mock, seeded)) == ["V1", "V2", "V3"]

    applied = version(aws_mock, seeded, v4, version_limit=3, prune_versions=True)
    assert applied["pruned_artifacts"] == [{"id": seeded.versions["V2"], "name": "V2"}] and applied["artifact_name"] == "V4"
    assert list(names(aws_mock, seeded)) == ["V1", "V3", "V4"]
    assert latest(aws_mock, seeded) == applied["artifact_id"] == names(aws_mock, seeded)["V4"]
    assert tenant_states(aws_mock, seeded.product_id)["t-a"]["artifact"] == seeded.versions["V1"]


def test_refused_without_pruning_names_the_versions_that_could_go(aws_mock: Any, seeded: Seeded) -> None:
    made = version(aws_mock, seeded, publish(aws_mock, 3))
    v4 = publish(aws_mock, 4)
    aws_mock.reset_calls()
    with pytest.raises(ServiceFailure) as refused:
        version(aws_mock, seeded, v4, version_limit=3)
    assert str(refused.value) == (
        f"core in eu-west-1: product core has 3 of 3 versions: delete one (V2 {seeded.versions['V2']}) or set prune_versions=true "
        "(role: catalog_prune_versions); nothing was written"
    )
    assert writes(aws_mock) == {}
    assert latest(aws_mock, seeded) == made["artifact_id"]
