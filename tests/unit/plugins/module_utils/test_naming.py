"""One definition of every name and shared helper: SSM names, S3 keys, run ids, paths, JSON forms."""
from __future__ import annotations

import datetime
import os

from ansible_collections.multiregion.serverless.plugins.module_utils import naming
from ansible_collections.multiregion.serverless.plugins.module_utils.common import (
    REGION_PATTERN,
    STAGE_PATTERN,
    canonical_json,
    compact_json,
    sha256_bytes,
    sha256_file,
    sha256_text,
    write_fresh_file,
)

MOMENT = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)


def test_run_id_and_timestamp():
    assert naming.new_run_id(MOMENT, 0x1A2B3C) == "20261123T120000Z-1a2b3c" == naming.RUN_ID_EXAMPLE
    assert naming.RUN_ID_PATTERN.match(naming.new_run_id())
    assert naming.timestamp(MOMENT) == "2026-11-23T12:00:00Z"
    assert not naming.RUN_ID_PATTERN.match("../../etc/passwd")


def test_ssm_names():
    assert naming.lock_parameter_name("/multiregion/dev/") == "/multiregion/dev/deploy-lock"
    latest = naming.latest_id_parameter("/multiregion/dev/", "platform-core-dev")
    assert latest == "/multiregion/dev/products/platform-core-dev/latest-artifact-id"
    assert naming.highest_version_parameter(latest) == "/multiregion/dev/products/platform-core-dev/highest-version-number"
    assert naming.catalog_product_name("platform-core", "dev") == "platform-core-dev"
    assert naming.catalog_product_name("platform-core", "prod", {"platform-core": "core"}) == "core"


def test_s3_keys_and_urls():
    sha = "ae" * 32
    assert naming.artifact_key("serverless/orders/dev", sha, "orders.zip") == f"serverless/orders/dev/{sha[:16]}/orders.zip"
    assert naming.service_template_key(naming.artifact_prefix("orders", "dev"), sha) == f"serverless/orders/dev/templates/{sha}.json"
    assert naming.init_template_key("net", "dev", sha) == f"init/net/dev/{sha}.json"
    assert naming.product_template_key("platform-core", "dev", sha) == f"products/platform-core/dev/{sha}.json"
    assert naming.run_object_prefix("dev", "20261123T120000Z-1a2b3c") == "runs/dev/20261123T120000Z-1a2b3c/"
    assert naming.regional_s3_url("b", "k/x.json", "eu-west-1") == "https://b.s3.eu-west-1.amazonaws.com/k/x.json"
    assert naming.artifact_bucket("mrs-artifacts-dev-{region}", "eu-west-1") == "mrs-artifacts-dev-eu-west-1"


def test_local_paths(tmp_path):
    project = str(tmp_path / "project")
    assert naming.default_runs_dir(project) == os.path.join(project, ".deploy-runs")
    assert naming.ledger_path("/r", "x") == "/r/x/ledger.json" and naming.report_path("/r", "x") == "/r/x/report.md"
    assert naming.default_build_root(project) == os.path.join(project, ".deploy-build")
    assert naming.target_build_dir("/b", "dev", "eu-west-1") == "/b/dev/eu-west-1"
    assert naming.product_definition_path("/p/products", "platform-core") == "/p/products/platform-core.yml"


def test_patterns():
    assert STAGE_PATTERN.match("dev") and not STAGE_PATTERN.match("dev/../prod")
    assert all(REGION_PATTERN.match(region) for region in ("us-east-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"))
    assert not REGION_PATTERN.match("mars-north-1") and not REGION_PATTERN.match("eu-west")


def test_json_forms_and_hashes(tmp_path):
    document = {"b": [1, "é"], "a": None}
    assert canonical_json(document) == '{\n  "a": null,\n  "b": [\n    1,\n    "é"\n  ]\n}\n'.encode("utf-8")
    assert compact_json(document) == '{"a":null,"b":[1,"é"]}'
    assert sha256_text(compact_json(document)) == sha256_bytes(compact_json(document).encode("utf-8"))
    path = tmp_path / "f"
    original = tmp_path / "original"
    original.write_bytes(b"user's file")
    os.link(original, path)
    write_fresh_file(str(path), b"new")
    assert path.read_bytes() == b"new" and original.read_bytes() == b"user's file"  # never written through the link
    assert sha256_file(str(path)) == sha256_bytes(b"new")
